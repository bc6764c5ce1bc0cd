// libFuzzer target for the standalone speaker's JSON configuration
// (bgp/config_json.hpp, docs/standalone.md). Properties beyond "no crash, no
// throw": a configuration that parses has a router ID and a local ASN, no
// peer twice, hold times of 0 or at least 3, and no prefix twice.
// Inputs whose `routes[].count` add up to more than 65,536 routes are skipped:
// a 16-million-route block is valid (benchmarks use it) and would only turn
// into libFuzzer timeouts and out-of-memory reports, not findings.
#include <algorithm>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "bgp/config_json.hpp"

using namespace herald::bgp;

namespace {

bool huge_route_blocks(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return false;
  const auto routes = j.find("routes");
  if (routes == j.end() || !routes->is_array()) return false;
  double total = 0;
  for (const auto& r : *routes) {
    if (!r.is_object()) continue;
    const auto count = r.find("count");
    total += count != r.end() && count->is_number() ? count->get<double>() : 1;
  }
  return total > 65536;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (huge_route_blocks(text)) return 0;
  auto c = parse_speaker_config(text, "fuzz.json");
  if (!c) {
    if (c.error().rfind("fuzz.json", 0) != 0) std::abort();  // every message names the file
    return 0;
  }
  if (c->router_id == 0 || c->local_asn == 0) std::abort();
  for (std::size_t i = 0; i < c->peers.size(); ++i) {
    const auto& p = c->peers[i];
    if (p.hold_time == 1 || p.hold_time == 2) std::abort();
    for (std::size_t k = 0; k < i; ++k)
      if (c->peers[k].address == p.address) std::abort();
  }
  auto routes = c->routes;
  std::sort(routes.begin(), routes.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t k = 1; k < routes.size(); ++k)
    if (routes[k].first == routes[k - 1].first) std::abort();
  return 0;
}
