// Adj-RIB-Out diffing and route export (see rib.hpp).
#include "bgp/rib.hpp"

#include <algorithm>
#include <cstring>
#include <map>

namespace herald::bgp {

using namespace wire;

std::size_t prefix_hash::operator()(const ip_prefix& p) const noexcept {
  // FNV-1a over the significant bytes: cheap, and /32 or /128 keys differ in their last octets.
  std::uint64_t h = 1469598103934665603ull ^ p.length ^ (static_cast<std::uint64_t>(p.addr.family) << 8);
  for (std::size_t i = 0; i < p.addr.size(); ++i) h = (h ^ p.addr.octets[i]) * 1099511628211ull;
  return static_cast<std::size_t>(h);
}

namespace {
bool same(const attrs_ref& a, const attrs_ref& b) { return a == b || (a && b && *a == *b); }

rib_changes group(std::vector<std::pair<ip_prefix, attrs_ref>>& items, std::vector<ip_prefix> withdraw) {
  rib_changes c;
  std::map<const route_attrs*, std::size_t> index;
  for (auto& [p, a] : items) {
    auto [it, fresh] = index.try_emplace(a.get(), c.announce.size());
    if (fresh) c.announce.push_back({a, {}});
    c.announce[it->second].second.push_back(p);
  }
  c.withdraw = std::move(withdraw);
  return c;
}
}  // namespace

rib_changes adj_rib_out::update(const prefix_set& dirty, const std::function<attrs_ref(const ip_prefix&)>& desired) {
  std::vector<std::pair<ip_prefix, attrs_ref>> announce;
  std::vector<ip_prefix> withdraw;
  for (auto& p : dirty) {
    auto want = desired(p);
    auto it = advertised_.find(p);
    if (!want) {
      if (it != advertised_.end()) {
        withdraw.push_back(p);
        advertised_.erase(it);
      }
      continue;
    }
    if (it != advertised_.end() && same(it->second, want)) continue;
    advertised_[p] = want;
    announce.emplace_back(p, want);
  }
  return group(announce, std::move(withdraw));
}

rib_changes adj_rib_out::everything() const {
  std::vector<std::pair<ip_prefix, attrs_ref>> all(advertised_.begin(), advertised_.end());
  return group(all, {});
}

std::size_t adj_rib_out::count(afi a) const {
  return static_cast<std::size_t>(
      std::count_if(advertised_.begin(), advertised_.end(), [a](auto& e) { return e.first.addr.family == a; }));
}

std::optional<path_attributes> export_attributes(const route_attrs& r, afi f, const export_context& ctx) {
  path_attributes a;
  a.origin = origin_type::igp;
  a.path = as_path{};
  if (ctx.ebgp) {
    // RFC 4271 §5.1.2: prepend our AS towards external peers.
    as_segment seg{as_segment::as_sequence, std::vector<std::uint32_t>(1u + r.as_path_prepend, ctx.local_asn)};
    a.path->push_back(std::move(seg));
  }
  a.med = r.med;
  if (!ctx.ebgp) a.local_pref = ctx.graceful_shutdown ? 0u : r.local_pref.value_or(100u);
  a.communities = r.communities;
  if (ctx.graceful_shutdown &&
      std::find(a.communities.begin(), a.communities.end(), community::graceful_shutdown) == a.communities.end())
    a.communities.push_back(community::graceful_shutdown);
  a.large_communities = r.large_communities;
  a.ext_communities = r.ext_communities;

  std::optional<ip_address> nh;
  if (r.next_hop && r.next_hop->family == f) nh = r.next_hop;
  else if (f == afi::ipv4) nh = ctx.next_hop_v4;
  else nh = ctx.next_hop_v6;
  if (f == afi::ipv4 && !nh && ctx.extended_next_hop) nh = r.next_hop ? r.next_hop : ctx.next_hop_v6;  // RFC 8950
  if (!nh) return std::nullopt;
  if (f == afi::ipv4 && nh->is_v4()) a.next_hop = nh;
  else a.reach = mp_reach{{f, safi::unicast}, {*nh}, {}};
  return a;
}

}  // namespace herald::bgp
