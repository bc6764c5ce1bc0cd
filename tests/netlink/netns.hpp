// Test support for the netlink suite: network namespaces the test creates
// (prefix hnl-, random suffix) and removes even when an assertion fails
// (RAII), a guard that moves the calling thread into one (setns(2) affects
// only the calling thread, and netlink sockets stay bound to the namespace
// they were opened in), shell helpers, and polling with a deadline.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "netlink/error.hpp"

// Catch2 prints a failed call's error message rather than trying to print the value.
namespace Catch {
template <class T>
struct StringMaker<herald::netlink::nl_result<T>> {
  static std::string convert(const herald::netlink::nl_result<T>& r) {
    return r ? std::string("ok") : "error: " + r.error().message;
  }
};
}  // namespace Catch

namespace herald::netlink::test {

// Runs `cmd` with /bin/sh; returns its exit status and puts stdout (and
// stderr) into `out`.
int sh(const std::string& cmd, std::string* out = nullptr);

class netns {
 public:
  // Creates hnl-<tag>-<random> with loopback up.
  explicit netns(const std::string& tag);
  ~netns();
  netns(const netns&) = delete;
  netns& operator=(const netns&) = delete;

  const std::string& name() const { return name_; }
  // Runs a shell command inside the namespace; returns stdout+stderr, and
  // fails the test (REQUIRE) if it exits non-zero.
  std::string run(const std::string& cmd) const;
  // The same, returning the status instead of failing.
  int try_run(const std::string& cmd, std::string* out = nullptr) const;

 private:
  std::string name_;
};

// Moves the calling thread into `ns` until destroyed.
class enter {
 public:
  explicit enter(const netns& ns);
  ~enter();
  enter(const enter&) = delete;
  enter& operator=(const enter&) = delete;

 private:
  int saved_;
};

// Polls `done` until it holds or `limit` passes; true if it held.
bool poll_until(std::chrono::milliseconds limit, const std::function<bool()>& done);

}  // namespace herald::netlink::test
