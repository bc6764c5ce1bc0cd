// Speaker route table benchmark (not a test): N IPv6 /128 routes added to a
// speaker one call at a time, then removed one call at a time, the way the
// gRPC API's AddPath / DeletePath (`gobgp global rib add`) reach it; once with
// every route carrying its own MED (N distinct attribute sets to intern and
// let go), once with one shared set. No peer is configured: this is the table
// and the interning alone, the work every call pays before any UPDATE.
// Prints microseconds per call, best of several runs.
// Run: ./build-bench/tests/bench-speaker-table [routes] [runs]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "bgp/speaker.hpp"

using namespace herald::bgp;
using clock_type = std::chrono::steady_clock;

namespace {

wire::ip_prefix route_prefix(std::uint32_t i) {
  wire::ip_prefix p{*wire::ip_address::parse("2001:db8:5::"), 128};
  p.addr.octets[12] = static_cast<std::uint8_t>(i >> 24);
  p.addr.octets[13] = static_cast<std::uint8_t>(i >> 16);
  p.addr.octets[14] = static_cast<std::uint8_t>(i >> 8);
  p.addr.octets[15] = static_cast<std::uint8_t>(i);
  return p;
}

double us_per_call(clock_type::time_point t, std::size_t calls) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t).count() / double(calls);
}

void run(std::size_t n, int runs, bool own_med) {
  double best_add = 1e18, best_remove = 1e18;
  for (int r = 0; r < runs; ++r) {
    boost::asio::io_context io;
    speaker_config cfg;
    cfg.router_id = 0xC0000201;
    cfg.local_asn = 65001;
    speaker s(io.get_executor(), cfg);
    route_attrs a;
    a.communities = {0xFDE90064};
    auto t0 = clock_type::now();
    for (std::uint32_t i = 0; i < n; ++i) {
      if (own_med) a.med = i;
      s.add_operator_route(route_prefix(i), a);
    }
    best_add = std::min(best_add, us_per_call(t0, n));
    if (s.route_count() != n) {
      std::fprintf(stderr, "the table holds %zu of %zu routes\n", s.route_count(), n);
      std::exit(1);
    }
    auto t1 = clock_type::now();
    for (std::uint32_t i = 0; i < n; ++i) s.remove_operator_route(route_prefix(i));
    best_remove = std::min(best_remove, us_per_call(t1, n));
    if (s.route_count() != 0) {
      std::fprintf(stderr, "%zu routes left after removing all\n", s.route_count());
      std::exit(1);
    }
  }
  std::printf("  %-28s add %8.2f us/call   remove %8.2f us/call\n",
              own_med ? "each route its own MED:" : "one shared attribute set:", best_add, best_remove);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20'000;
  int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  std::printf("speaker table benchmark: %zu IPv6 routes added then removed one call at a time, no peer, best of %d\n",
              n, runs);
  run(n, runs, true);
  run(n, runs, false);
}
