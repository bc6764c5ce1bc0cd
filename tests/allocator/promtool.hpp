// `promtool check metrics` on a Prometheus text, for the allocator's metric
// tests. promtool is Debian's prometheus package (scripts/setup.sh installs
// it); without it the check is skipped with a warning, and fails under CI=true.
#pragma once

#include <catch2/catch.hpp>

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace herald::test {

inline void promtool_check(const std::string& text) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    // CI must never pass without the check.
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") FAIL("promtool is not installed (apt install prometheus) and CI=true");
    WARN("promtool is not installed (apt install prometheus); skipping the format check");
    return;
  }
  char path[] = "/tmp/herald-metrics-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream out(path);
    out << text;
  }
  std::string cmd = std::string("promtool check metrics < ") + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string output;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) output += buf;
  int rc = pclose(p);
  std::remove(path);
  INFO(output);
  CHECK(rc == 0);
  CHECK(output.empty());  // lint problems are printed even with exit code 0
}

}  // namespace herald::test
