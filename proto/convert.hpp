// Pure conversion between Herald's views (view.hpp) and GoBGP's protobuf
// messages (gobgp.proto, attribute.proto, capability.proto): values in,
// messages out, no speaker and no gRPC. Every sub-message the `gobgp` CLI
// dereferences is always set (shared/reference/gobgp-cli-api.md §5, §7.1),
// times are absolute timestamps, and each path carries at most one attribute
// per type, all of kinds the CLI decodes (else it hides them all, §7.2).
#pragma once

#include <google/protobuf/any.pb.h>

#include <array>
#include <string>

#include "attribute.pb.h"
#include "capability.pb.h"
#include "gobgp.pb.h"
#include "proto/view.hpp"

namespace herald::proto {

apipb::Family to_family(wire::family f);
// The family a request names; nullopt for anything but IPv4 / IPv6 unicast.
std::optional<wire::family> from_family(const apipb::Family& f);

apipb::Global to_global(const global_view& g);

apipb::Peer to_peer(const peer_view& p);

// The path attributes, each as an Any of the attribute.proto message GoBGP
// uses for it; attributes the CLI cannot decode become UnknownAttribute.
// `nlri` goes into MP_REACH_NLRI, where the CLI expects the path's prefix.
std::vector<google::protobuf::Any> to_pattrs(const wire::path_attributes& a, const wire::ip_prefix* nlri = nullptr);
std::vector<google::protobuf::Any> to_capabilities(const wire::open_message& o);

// The attributes a route of the speaker's own is listed with in the global
// RIB: next hop 0.0.0.0 / :: unless the route names one, no AS_PATH, as
// gobgpd lists locally originated paths.
wire::path_attributes originated_attributes(const bgp::route_attrs& r, wire::afi f);

// One Destination per route of the table, in the table's order.
std::vector<apipb::Destination> to_destinations(const table_view& t);

// A stable 16-byte id for an operator route (Path.uuid, AddPathResponse.uuid).
std::string operator_route_uuid(const wire::ip_prefix& p);

// An AddPath / DeletePath path as the CLI builds it (`gobgp global rib add
// PREFIX [nexthop X] [med N] [local-pref N] [community ..] [large-community
// ..] [rt ..]`): the prefix and the attributes to announce it with. Origin is
// accepted and ignored (Herald originates with IGP); a non-empty AS_PATH and
// kinds Herald cannot announce are refused with a message saying so.
struct operator_route {
  wire::ip_prefix prefix;
  bgp::route_attrs attrs;
};
Result<operator_route, std::string> from_path(const apipb::Path& p);
// Only the prefix of such a path (DeletePath removes by prefix, whatever the attributes say).
Result<wire::ip_prefix, std::string> path_prefix(const apipb::Path& p);

}  // namespace herald::proto
