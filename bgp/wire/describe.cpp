// Text forms of decoded BGP messages (see describe.hpp).
#include "bgp/wire/describe.hpp"

#include <sstream>

namespace herald::bgp::wire {

namespace {

void list_prefixes(std::ostringstream& os, const char* label, const std::vector<ip_prefix>& ps) {
  if (ps.empty()) return;
  os << "\n  " << label << " (" << ps.size() << "):";
  std::size_t shown = 0;
  for (auto& p : ps) {
    if (++shown > 8) {
      os << " ...";
      break;
    }
    os << ' ' << p.to_string();
  }
}

const char* origin_name(origin_type o) {
  switch (o) {
    case origin_type::igp: return "IGP";
    case origin_type::egp: return "EGP";
    case origin_type::incomplete: return "INCOMPLETE";
  }
  return "?";
}

std::string describe_capability(const capability& c) {
  std::ostringstream os;
  std::visit(
      [&](const auto& v) {
        using C = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<C, cap::multiprotocol>) os << "multiprotocol " << to_string(v.f);
        else if constexpr (std::is_same_v<C, cap::route_refresh>) os << "route-refresh";
        else if constexpr (std::is_same_v<C, cap::enhanced_route_refresh>) os << "enhanced-route-refresh";
        else if constexpr (std::is_same_v<C, cap::extended_message>) os << "extended-message";
        else if constexpr (std::is_same_v<C, cap::four_octet_as>) os << "4-octet-as " << v.asn;
        else if constexpr (std::is_same_v<C, cap::graceful_restart>) {
          os << "graceful-restart time=" << v.restart_time << (v.restart_state ? " R" : "") << (v.notification ? " N" : "");
          for (auto& e : v.families) os << ' ' << to_string(e.f) << (e.forwarding_preserved ? "(F)" : "");
        } else if constexpr (std::is_same_v<C, cap::extended_next_hop>) {
          os << "extended-nexthop";
          for (auto& e : v.entries) os << ' ' << to_string(e.nlri) << "/afi" << static_cast<int>(e.next_hop);
        } else if constexpr (std::is_same_v<C, cap::add_path>) {
          os << "add-path";
          for (auto& e : v.entries) os << ' ' << to_string(e.f) << ":" << int(e.send_receive);
        } else if constexpr (std::is_same_v<C, cap::fqdn>) {
          os << "fqdn " << v.hostname << (v.domain.empty() ? "" : "." + v.domain);
        } else {
          os << "unknown(" << int(v.code) << ", " << v.value.size() << " octets)";
        }
      },
      c);
  return os.str();
}

}  // namespace

std::string describe(const open_message& m) {
  std::ostringstream os;
  os << "OPEN version " << int(m.version) << ", AS " << m.asn() << ", hold time " << m.hold_time << " s, BGP ID "
     << ip_address::v4(m.bgp_id).to_string();
  for (auto& c : m.capabilities) os << "\n  capability " << describe_capability(c);
  return os.str();
}

std::string describe(const update_message& m) {
  std::ostringstream os;
  if (auto f = m.end_of_rib()) return "UPDATE End-of-RIB " + to_string(*f);
  os << "UPDATE";
  auto& a = m.attrs;
  if (a.origin) os << "\n  origin " << origin_name(*a.origin);
  if (a.path) {
    os << "\n  as-path";
    for (auto asn : a.flat_as_path()) os << ' ' << asn;
  }
  if (a.next_hop) os << "\n  next-hop " << a.next_hop->to_string();
  if (a.med) os << "\n  med " << *a.med;
  if (a.local_pref) os << "\n  local-pref " << *a.local_pref;
  if (a.atomic_aggregate) os << "\n  atomic-aggregate";
  if (a.aggr) os << "\n  aggregator " << a.aggr->asn << ' ' << ip_address::v4(a.aggr->address).to_string();
  if (!a.communities.empty()) {
    os << "\n  communities";
    for (auto c : a.communities) os << ' ' << community::to_string(c);
  }
  if (!a.large_communities.empty()) {
    os << "\n  large-communities";
    for (auto& l : a.large_communities) os << ' ' << l.to_string();
  }
  for (auto& e : a.ext_communities) {
    if (auto lb = as_link_bandwidth(e))
      os << "\n  link-bandwidth " << lb->asn << ':' << lb->bytes_per_second << " B/s"
         << (lb->transitive ? " (transitive)" : "");
    else
      os << "\n  extended-community type " << int(e.type()) << " subtype " << int(e.subtype());
  }
  for (auto& u : a.unknown) os << "\n  unknown attribute " << int(u.code) << " (" << u.value.size() << " octets)";
  list_prefixes(os, "withdrawn", m.withdrawn);
  if (a.reach) {
    os << "\n  mp-reach " << to_string(a.reach->f) << " next-hop";
    for (auto& h : a.reach->next_hops) os << ' ' << h.to_string();
    list_prefixes(os, "mp-nlri", a.reach->nlri);
  }
  if (a.unreach) {
    os << "\n  mp-unreach " << to_string(a.unreach->f);
    list_prefixes(os, "mp-withdrawn", a.unreach->withdrawn);
  }
  list_prefixes(os, "nlri", m.nlri);
  return os.str();
}

std::string describe(const message& m) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, open_message>) return describe(v);
        else if constexpr (std::is_same_v<T, update_message>) return describe(v);
        else if constexpr (std::is_same_v<T, notification_message>) return "NOTIFICATION " + v.to_string();
        else if constexpr (std::is_same_v<T, keepalive_message>) return "KEEPALIVE";
        else {
          static const char* sub[] = {"", " BoRR", " EoRR"};
          return "ROUTE-REFRESH " + to_string(v.f) + (v.subtype <= 2 ? sub[v.subtype] : "");
        }
      },
      m);
}

}  // namespace herald::bgp::wire
