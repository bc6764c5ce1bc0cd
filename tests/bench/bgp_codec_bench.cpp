// Codec benchmark (not a test): encode and decode rates for 1,000,000 IPv4
// /32 and 1,000,000 IPv6 /128 prefixes sharing one attribute set. Prints
// UPDATEs and prefixes per second and bytes on the wire per prefix; the
// best of several runs counts (other load on the machine only slows a run).
// Run: meson compile -C build-bench && ./build-bench/tests/bench-bgp-codec
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "bgp/wire/message.hpp"
#include "bgp/wire/pack.hpp"

using namespace herald::bgp::wire;
using clock_type = std::chrono::steady_clock;

namespace {

std::vector<ip_prefix> make_prefixes(bool v6, std::size_t n) {
  std::vector<ip_prefix> out;
  out.reserve(n);
  auto base = *ip_address::parse(v6 ? "2001:db8::" : "10.0.0.0");
  for (std::uint32_t i = 0; i < n; ++i) {
    ip_prefix p{base, static_cast<std::uint8_t>(v6 ? 128 : 32)};
    if (v6) {
      p.addr.octets[12] = static_cast<std::uint8_t>(i >> 24);
      p.addr.octets[13] = static_cast<std::uint8_t>(i >> 16);
      p.addr.octets[14] = static_cast<std::uint8_t>(i >> 8);
      p.addr.octets[15] = static_cast<std::uint8_t>(i);
    } else {
      p.addr = ip_address::v4(0x0A000000u + i);
    }
    out.push_back(p);
  }
  return out;
}

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

void run(bool v6, std::size_t n, int rounds) {
  auto prefixes = make_prefixes(v6, n);
  path_attributes a;
  a.origin = origin_type::igp;
  a.path = as_path{{as_segment::as_sequence, {65001}}};
  a.communities = {0xFDE90064};
  if (v6) a.reach = mp_reach{ipv6_unicast, {*ip_address::parse("2001:db8::1")}, {}};
  else a.next_hop = ip_address::parse("192.0.2.1");
  update_context ctx;

  double best_enc = 1e18, best_dec = 1e18;
  bytes wire;
  std::size_t messages = 0, decoded = 0;
  for (int r = 0; r < rounds; ++r) {
    wire.clear();
    wire.reserve(n * (v6 ? 18 : 6));
    auto t0 = clock_type::now();
    messages = pack_announce(a, prefixes, ctx, wire);
    best_enc = std::min(best_enc, ms_since(t0));

    auto t1 = clock_type::now();
    decoded = 0;
    std::span<const std::byte> rest(wire);
    while (!rest.empty()) {
      auto f = frame(rest, ctx.max_message);
      if (f.kind != frame_result::message) std::abort();
      auto d = decode_message(rest.first(f.length), ctx);
      if (!d) std::abort();
      auto& u = std::get<update_message>(d->msg);
      decoded += u.nlri.size() + (u.attrs.reach ? u.attrs.reach->nlri.size() : 0);
      rest = rest.subspan(f.length);
    }
    best_dec = std::min(best_dec, ms_since(t1));
  }
  if (decoded != n) {
    std::fprintf(stderr, "decoded %zu of %zu prefixes\n", decoded, n);
    std::exit(1);
  }
  const char* fam = v6 ? "IPv6 /128" : "IPv4 /32 ";
  std::printf("%s x %zu: %zu UPDATEs, %.2f bytes/prefix\n", fam, n, messages, double(wire.size()) / double(n));
  std::printf("  encode %8.1f ms  %12.0f prefixes/s  %10.0f UPDATEs/s\n", best_enc, double(n) / best_enc * 1e3,
              double(messages) / best_enc * 1e3);
  std::printf("  decode %8.1f ms  %12.0f prefixes/s  %10.0f UPDATEs/s\n", best_dec, double(n) / best_dec * 1e3,
              double(messages) / best_dec * 1e3);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1'000'000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  std::printf("bgp codec benchmark: %zu prefixes, one attribute set, 4096-octet UPDATEs, best of %d\n", n, rounds);
  run(false, n, rounds);
  run(true, n, rounds);
}
