// Adj-RIB-Out bookkeeping and export, pure (no I/O): the speaker keeps one
// desired route table; each session keeps what it advertised and, when
// prefixes change, diffs the two and sends only the difference (STYLE.md §4:
// BGP output is desired state; MetalLB sendUpdates, BIRD bgp_fire_tx).
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bgp/config.hpp"
#include "bgp/route_map.hpp"
#include "bgp/wire/update.hpp"

namespace herald::bgp {

// FNV-1a, 64 bits: cheap, and good for keys made of small integers and
// octets (prefixes, attribute sets).
struct fnv1a {
  std::uint64_t h = 1469598103934665603ull;
  void mix(std::uint64_t v) { h = (h ^ v) * 1099511628211ull; }
};

struct prefix_hash {
  std::size_t operator()(const wire::ip_prefix& p) const noexcept;
};

using route_table = route_map;
using prefix_set = std::unordered_set<wire::ip_prefix, prefix_hash>;

// One batch of changes for a session: groups of prefixes of one family that
// share attributes (to pack together), and prefixes to withdraw.
struct rib_changes {
  std::vector<std::pair<attrs_ref, std::vector<wire::ip_prefix>>> announce;  // each group: one family
  std::vector<wire::ip_prefix> withdraw;
  bool empty() const { return announce.empty() && withdraw.empty(); }
};

class adj_rib_out {
 public:
  // For each prefix in `dirty`, compares what `desired` says it should be
  // (nullptr: not at all) with what was advertised, records the new state and
  // returns the difference. Attribute sets compare by identity first, then value.
  // `dirty` is any range of prefixes; `desired(prefix)` returns attrs_ref.
  template <class Prefixes, class Desired>
  rib_changes update(const Prefixes& dirty, Desired&& desired) {
    grouper g;
    for (const wire::ip_prefix& p : dirty) step(p, desired(p), g);
    return g.finish();
  }
  // Same, over (prefix, candidate attributes) pairs such as the route table
  // itself; `filter(prefix, attrs)` returns what to advertise (or nullptr).
  template <class Pairs, class Filter>
  rib_changes update_from(const Pairs& entries, Filter&& filter) {
    grouper g;
    for (const auto& [p, a] : entries) step(p, filter(p, a), g);
    return g.finish();
  }
  // Same, over the table's slots [from, to) only: a full sync in steps, so
  // a million routes never sit in memory twice as pending changes.
  template <class Filter>
  rib_changes update_from_slots(const route_map& table, std::size_t from, std::size_t to, Filter&& filter) {
    grouper g;
    table.for_each_in_slots(from, to, [&](const wire::ip_prefix& p, const attrs_ref& a) { step(p, filter(p, a), g); });
    return g.finish();
  }
  // Everything advertised, grouped by attributes (route refresh, re-sends).
  rib_changes everything() const;
  void clear() { advertised_.clear(); }
  void reserve(std::size_t n) { advertised_.reserve(n); }
  std::size_t size() const { return advertised_.size(); }
  std::size_t count(wire::afi a) const { return advertised_.count(a); }
  const route_table& advertised() const { return advertised_; }

 private:
  // Collects announcements per (attributes, family) without intermediate copies.
  struct grouper {
    rib_changes out;
    std::unordered_map<const route_attrs*, std::array<std::size_t, 2>> index;
    void add(const wire::ip_prefix& p, const attrs_ref& a);
    rib_changes finish() { return std::move(out); }
  };
  void step(const wire::ip_prefix& p, const attrs_ref& want, grouper& g);
  route_table advertised_;
};

// Which attributes a route gets towards one peer (RFC 4271 §5.1).
struct export_context {
  std::uint32_t local_asn = 0;
  bool ebgp = true;
  std::optional<wire::ip_address> next_hop_v4, next_hop_v6;  // resolved: config or session address
  bool graceful_shutdown = false;  // RFC 8326: add GRACEFUL_SHUTDOWN, LOCAL_PREF 0 on iBGP
  bool extended_next_hop = false;  // RFC 8950 negotiated for IPv4 unicast
};

// The path attributes of `r` for a prefix of family `f` towards a peer, with
// the next hop in NEXT_HOP (IPv4 with IPv4 next hop) or in an MP_REACH_NLRI
// template (everything else); nullopt when no usable next hop exists for f.
std::optional<wire::path_attributes> export_attributes(const route_attrs& r, wire::afi f, const export_context& ctx);

}  // namespace herald::bgp
