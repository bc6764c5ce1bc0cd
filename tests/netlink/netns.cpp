// Namespace and shell helpers for the netlink suite (see netns.hpp), and the
// suite's environment check: it needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for
// namespaces), iproute2 and tshark. Without them it exits 77 (meson's skip)
// saying why, or 1 under CI=true, where a skipped suite is a failure.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include "netns.hpp"

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

namespace herald::netlink::test {

int sh(const std::string& cmd, std::string* out) {
  std::string full = cmd + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  std::string text;
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) text.append(buf, n);
  int status = ::pclose(p);
  if (out != nullptr) *out = std::move(text);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

netns::netns(const std::string& tag) {
  std::random_device rd;
  char suffix[9];
  std::snprintf(suffix, sizeof suffix, "%08x", rd());
  name_ = "hnl-" + tag + "-" + suffix;
  std::string out;
  int rc = sh("ip netns add " + name_, &out);
  INFO("ip netns add " << name_ << ": " << out);
  REQUIRE(rc == 0);
  run("ip link set lo up");
}

netns::~netns() { sh("ip netns del " + name_); }

int netns::try_run(const std::string& cmd, std::string* out) const {
  return sh("ip netns exec " + name_ + " sh -c '" + cmd + "'", out);
}

std::string netns::run(const std::string& cmd) const {
  std::string out;
  int rc = try_run(cmd, &out);
  INFO("in " << name_ << ": " << cmd << " -> " << rc << ": " << out);
  REQUIRE(rc == 0);
  return out;
}

enter::enter(const netns& ns) {
  saved_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  REQUIRE(saved_ >= 0);
  int target = ::open(("/run/netns/" + ns.name()).c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(target >= 0);
  int rc = ::setns(target, CLONE_NEWNET);
  ::close(target);
  REQUIRE(rc == 0);
}

enter::~enter() {
  if (::setns(saved_, CLONE_NEWNET) != 0) std::abort();  // the rest of the run would touch the wrong namespace
  ::close(saved_);
}

bool poll_until(std::chrono::milliseconds limit, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

namespace {
struct environment_check : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testRunStarting(Catch::TestRunInfo const&) override {
    std::string why;
    if (::geteuid() != 0) why = "needs root (network namespaces, CAP_NET_ADMIN)";
    else if (sh("command -v ip") != 0) why = "needs iproute2 (`ip`) to build the test namespaces";
    else if (sh("command -v tshark") != 0) why = "needs tshark to capture GARP / NA frames";
    if (why.empty()) return;
    const char* ci = std::getenv("CI");
    bool strict = ci != nullptr && std::string(ci) == "true";
    std::fprintf(stderr, "netlink suite %s: %s\n", strict ? "FAILED (CI=true)" : "skipped", why.c_str());
    std::_Exit(strict ? 1 : 77);
  }
};
}  // namespace
CATCH_REGISTER_LISTENER(environment_check)

}  // namespace herald::netlink::test
