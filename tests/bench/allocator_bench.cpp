// Allocator benchmark (not a test): 50,000 Services allocated one by one
// through the allocation core from an IPv4 /16, 50,000 from an IPv6 /112,
// and a restart rebuild from 50,000 Services that already hold addresses.
// Prints time per allocation and rebuild time, best of several runs (other
// load on the machine only slows a run). Goals (issue 6): < 5 µs per
// allocation, rebuild < 1 s.
// Run: ./build-bench/tests/bench-allocator [services] [runs]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "allocator/allocator.hpp"

using namespace herald::allocator;
using clock_type = std::chrono::steady_clock;

namespace {

std::vector<service_view> make_services(std::size_t n, bool v6) {
  std::vector<service_view> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto& v = out[i];
    v.ns = "bench";
    v.name = "svc-" + std::to_string(i);
    v.uid = "uid-" + std::to_string(i);
    char ts[32];
    std::snprintf(ts, sizeof ts, "2026-01-01T%02zu:%02zu:%02zuZ", i / 3600 % 24, i / 60 % 60, i % 60);
    v.creation_timestamp = ts;
    v.type = "LoadBalancer";
    v.ports = {{"TCP", 80}, {"TCP", 443}};
    v.ip_families = {v6 ? "IPv6" : "IPv4"};
  }
  return out;
}

service_group_input bench_group(bool v6) {
  auto spec = v6 ? R"({"remote": {"v6pool": {"subnet": "2001:db8::/64", "pool": "2001:db8::/112"}}})"
                 : R"({"remote": {"v4pool": {"subnet": "10.0.0.0/16", "pool": "10.0.0.0/16"}}})";
  return {"default", "2026-01-01T00:00:00Z", nlohmann::json::parse(spec)};
}

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// CPU time of this thread: on a shared machine the wall clock also counts
// the time other processes held the core.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct timing {
  double wall = 1e9;
  double cpu = 1e9;
  void keep_best(const timing& t) {
    wall = std::min(wall, t.wall);
    cpu = std::min(cpu, t.cpu);
  }
};

// Allocates every Service; returns the time, and the written views for a rebuild.
timing allocate_all(bool v6, const std::vector<service_view>& services, std::vector<service_view>* written) {
  allocator a;
  a.apply_group(bench_group(v6));
  std::size_t served = 0;
  // The controller moves each view it built from JSON into the core; the
  // copies are made before the clock starts.
  std::vector<service_view> views = services;
  auto start = clock_type::now();
  double cpu_start = cpu_seconds();
  for (auto& v : views) served += a.apply_service(std::move(v)).front().ingress_ips.size();
  timing t{seconds_since(start), cpu_seconds() - cpu_start};
  if (served != services.size()) {
    std::fprintf(stderr, "bench: only %zu of %zu Services got an address\n", served, services.size());
    std::exit(1);
  }
  if (written) {
    *written = services;
    for (auto& v : *written) {
      auto ips = a.addresses_of(v.ns, v.name);
      v.ingress_ips = {ips.at(0).to_string()};
      v.annotations = {{"herald.dev/allocated-by", "herald"},
                       {"herald.dev/allocated-from", "default"},
                       {"herald.dev/pool-type", "remote"}};
    }
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 50000;
  int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  for (bool v6 : {false, true}) {
    auto services = make_services(n, v6);
    timing best;
    std::vector<service_view> written;
    for (int r = 0; r < runs; ++r) best.keep_best(allocate_all(v6, services, r == 0 ? &written : nullptr));
    std::printf("%zu Services from %s: %.2f us per allocation (%.1f ms; CPU %.2f us, %.1f ms)\n", n,
                v6 ? "an IPv6 /112" : "an IPv4 /16", best.wall * 1e6 / static_cast<double>(n), best.wall * 1e3,
                best.cpu * 1e6 / static_cast<double>(n), best.cpu * 1e3);

    timing rebuild;
    std::size_t unchanged = 0;
    for (int r = 0; r < runs; ++r) {
      allocator a;
      auto start = clock_type::now();
      double cpu_start = cpu_seconds();
      auto out = a.rebuild({bench_group(v6)}, written);
      rebuild.keep_best({seconds_since(start), cpu_seconds() - cpu_start});
      unchanged = static_cast<std::size_t>(
          std::count_if(out.services.begin(), out.services.end(), [](const service_decision& d) { return !d.write; }));
    }
    std::printf("rebuild from %zu %s allocations: %.1f ms (CPU %.1f ms; %zu of %zu Services unchanged)\n",
                written.size(), v6 ? "IPv6" : "IPv4", rebuild.wall * 1e3, rebuild.cpu * 1e3, unchanged, written.size());
  }
  return 0;
}
