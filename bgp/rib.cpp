// Adj-RIB-Out diffing and route export (see rib.hpp).
#include "bgp/rib.hpp"

#include <algorithm>
#include <cstring>
#include <map>

namespace herald::bgp {

using namespace wire;

std::size_t prefix_hash::operator()(const ip_prefix& p) const noexcept {
  // Over the significant bytes: /32 or /128 keys differ in their last octets.
  fnv1a f;
  f.h ^= p.length ^ (static_cast<std::uint64_t>(p.addr.family) << 8);
  for (std::size_t i = 0; i < p.addr.size(); ++i) f.mix(p.addr.octets[i]);
  return static_cast<std::size_t>(f.h);
}

namespace {
bool same(const attrs_ref& a, const attrs_ref& b) { return a == b || (a && b && *a == *b); }
}  // namespace

void adj_rib_out::grouper::add(const ip_prefix& p, const attrs_ref& a) {
  auto fam = p.addr.is_v4() ? 0 : 1;
  auto [it, fresh] = index.try_emplace(a.get(), std::array<std::size_t, 2>{SIZE_MAX, SIZE_MAX});
  auto& slot = it->second[static_cast<std::size_t>(fam)];
  if (slot == SIZE_MAX) {
    slot = out.announce.size();
    out.announce.push_back({a, {}});
  }
  out.announce[slot].second.push_back(p);
}

void adj_rib_out::step(const ip_prefix& p, const attrs_ref& want, grouper& g) {
  const attrs_ref* have = advertised_.find(p);
  if (!want) {
    if (have) {
      g.out.withdraw.push_back(p);
      advertised_.erase(p);
    }
    return;
  }
  if (have && same(*have, want)) return;
  advertised_.set(p, want);
  g.add(p, want);
}

rib_changes adj_rib_out::everything() const {
  grouper g;
  for (auto [p, a] : advertised_) g.add(p, a);
  return g.finish();
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
