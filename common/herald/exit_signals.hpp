// After a daemon's clean shutdown (io.run() has returned), a further SIGTERM
// or SIGINT must not change how the process ends. Senders do repeat it: the
// kubelet after its grace period, a test harness whose stop() signals again
// after an earlier send(). Once the asio::signal_set goes, the default action
// would turn "exit 0" into "killed by signal 15" during teardown (destructors,
// ASan's leak check), which reads as a crash.
#pragma once

#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <pthread.h>

namespace herald {

// Call right after io.run() returns. Blocks the signals in this thread first
// (so none is delivered while the handlers change), then removes the set's
// registrations (Asio restores the default action when the last one goes) and
// ignores the signals process-wide.
inline void ignore_exit_signals_from_now(boost::asio::signal_set& set) {
  sigset_t exit_signals;
  sigemptyset(&exit_signals);
  sigaddset(&exit_signals, SIGTERM);
  sigaddset(&exit_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &exit_signals, nullptr);
  boost::system::error_code ignored;
  set.clear(ignored);
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
}

}  // namespace herald
