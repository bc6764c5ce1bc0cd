// Immutable pictures of the speaker that the gRPC API serves from (DESIGN.md
// "Threading": gRPC threads never touch speaker state). They are taken on the
// io_context thread (snapshot.hpp) and converted to GoBGP's messages on a
// gRPC thread (convert.hpp). Plain values plus shared, immutable attribute
// objects; no gRPC or protobuf types here. Also the prefix lookups of
// ListPath (exact, longest match, longer, shorter), pure over any map.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bgp/config.hpp"
#include "bgp/rib.hpp"
#include "bgp/session.hpp"
#include "bgp/wire/open.hpp"
#include "bgp/wire/update.hpp"
#include "herald/result.hpp"

namespace herald::proto {

namespace wire = bgp::wire;
using time_point = std::chrono::system_clock::time_point;

struct global_view {
  std::uint32_t asn = 0;
  std::uint32_t router_id = 0;  // host order
  std::uint16_t listen_port = 0;
  std::vector<std::string> listen_addresses;  // empty: no listener
};

struct peer_view {
  bgp::peer_config config;
  bgp::peer_status status;
  bool admin_down = false;  // stopped by the operator (shutdown / disable)
  std::optional<wire::open_message> local_open, remote_open;
  std::optional<wire::ip_address> local_address;
  std::map<wire::family, std::size_t> received;  // Adj-RIB-In, per negotiated or configured family
};

enum class table_kind { global, adj_in, adj_out };

// One route of a table. Global and Adj-RIB-Out routes carry the speaker's
// route_attrs (`local`); Adj-RIB-In routes what the peer sent (`received`).
struct route_view {
  wire::ip_prefix prefix;
  bgp::attrs_ref local;
  std::shared_ptr<const wire::path_attributes> received;
  std::optional<time_point> since;
  bool operator_added = false;
};

struct table_view {
  table_kind kind = table_kind::global;
  wire::family family = wire::ipv4_unicast;
  std::uint32_t local_asn = 0;
  // The peer, for adj-in / adj-out: its address, AS and BGP identifier, and
  // the context Herald exports with (next hop self, own AS prepended).
  std::string peer_address;
  std::uint32_t peer_asn = 0, peer_router_id = 0;
  bgp::export_context export_ctx;
  std::vector<route_view> routes;  // sorted by prefix
};

// A ListPath lookup (GoBGP's TableLookupPrefix, gobgpd's semantics).
struct prefix_query {
  enum class kind {
    exact,    // that prefix only
    longest,  // a bare address: the longest prefix that contains it
    longer,   // the prefix and every more-specific one
    shorter,  // the prefix and every less-specific one
  };
  kind how = kind::exact;
  wire::ip_prefix prefix;
};

// `text` as the user typed it ("192.0.2.0/24" or a bare address) with the
// lookup type (0 exact, 1 longer, 2 shorter); the error says what is wrong.
Result<prefix_query, std::string> parse_prefix_query(std::string_view text, int type, wire::family f);

// Whether `inner` lies within `outer` (same family, at least as long, same leading bits).
bool contains(const wire::ip_prefix& outer, const wire::ip_prefix& inner);

// The prefixes of `table` (a map keyed by ip_prefix) in family `f` that any
// of `queries` selects (all of them when there is none), sorted.
template <class Map>
std::vector<wire::ip_prefix> select_prefixes(const Map& table, wire::family f, const std::vector<prefix_query>& queries) {
  std::vector<wire::ip_prefix> out;
  auto scan = [&](auto&& pred) {
    for (const auto& [p, v] : table)
      if (p.addr.family == f.a && pred(p)) out.push_back(p);
  };
  if (queries.empty()) scan([](const wire::ip_prefix&) { return true; });
  for (auto& q : queries) {
    switch (q.how) {
      case prefix_query::kind::exact:
        if (table.count(q.prefix)) out.push_back(q.prefix);
        break;
      case prefix_query::kind::longest:
        for (int len = q.prefix.length; len >= 0; --len) {
          wire::ip_prefix cand = q.prefix;
          cand.length = static_cast<std::uint8_t>(len);
          for (int bit = len; bit < (cand.addr.is_v4() ? 32 : 128); ++bit)
            cand.addr.octets[static_cast<std::size_t>(bit / 8)] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
          if (table.count(cand)) {
            out.push_back(cand);
            break;
          }
        }
        break;
      case prefix_query::kind::longer: scan([&](const wire::ip_prefix& p) { return contains(q.prefix, p); }); break;
      case prefix_query::kind::shorter: scan([&](const wire::ip_prefix& p) { return contains(p, q.prefix); }); break;
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace herald::proto
