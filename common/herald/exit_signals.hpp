// The shutdown signals (SIGTERM, SIGINT) around a daemon's asio::signal_set,
// for herald-agent, herald-allocator and herald-speaker alike:
//   hold_exit_signals()              first line of main
//   release_exit_signals()           right after the signal_set exists
//   ignore_exit_signals_from_now(s)  right after io.run() returns
// Before the set exists, a signal would kill the process by its default
// action: a pod deleted while the daemon starts would skip the graceful
// shutdown. After io.run() returns, senders do repeat it (the kubelet after
// its grace period, a supervisor or test harness signalling again); with the
// set gone the default action would turn "exit 0" into "killed by signal 15"
// during teardown (destructors, ASan's leak check), which reads as a crash.
#pragma once

#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <pthread.h>

namespace herald {

inline sigset_t exit_signal_set() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGINT);
  return s;
}

// Keeps SIGTERM / SIGINT pending in this thread, and in every thread started
// meanwhile (they inherit the mask: gRPC's), so the main thread takes them.
inline void hold_exit_signals() {
  const sigset_t s = exit_signal_set();
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
}

// Call once the asio::signal_set is registered: a pending signal goes to it now.
inline void release_exit_signals() {
  const sigset_t s = exit_signal_set();
  pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
}

// Call right after io.run() returns. Blocks the signals in this thread first
// (so none is delivered while the handlers change), then removes the set's
// registrations (Asio restores the default action when the last one goes) and
// ignores the signals process-wide.
inline void ignore_exit_signals_from_now(boost::asio::signal_set& set) {
  hold_exit_signals();
  boost::system::error_code ignored;
  set.clear(ignored);
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
}

}  // namespace herald
