// Herald views to GoBGP messages and back (see convert.hpp).
#include "proto/convert.hpp"

#include <algorithm>
#include <unordered_map>

namespace herald::proto {

using namespace bgp::wire;
namespace pb = google::protobuf;

namespace {

template <class M>
pb::Any pack(const M& m) {
  pb::Any a;
  a.PackFrom(m);  // type.googleapis.com/apipb.<Message>, as gobgpd sends
  return a;
}

void set_time(pb::Timestamp* t, time_point tp) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
  t->set_seconds(ns / 1'000'000'000);
  t->set_nanos(static_cast<std::int32_t>(ns % 1'000'000'000));
}

apipb::PeerState::SessionState to_session_state(bgp::session_state s) {
  using S = apipb::PeerState;
  switch (s) {
    case bgp::session_state::idle: return S::IDLE;
    case bgp::session_state::connect: return S::CONNECT;
    case bgp::session_state::active: return S::ACTIVE;
    case bgp::session_state::open_sent: return S::OPENSENT;
    case bgp::session_state::open_confirm: return S::OPENCONFIRM;
    case bgp::session_state::established: return S::ESTABLISHED;
  }
  return S::UNKNOWN;
}

// Counters by message type, as peer_status keeps them ([0] total, then by type code).
void set_messages(apipb::Message* m, const std::array<std::uint64_t, 6>& c) {
  m->set_total(c[0]);
  m->set_open(c[static_cast<std::size_t>(message_type::open)]);
  m->set_update(c[static_cast<std::size_t>(message_type::update)]);
  m->set_notification(c[static_cast<std::size_t>(message_type::notification)]);
  m->set_keepalive(c[static_cast<std::size_t>(message_type::keepalive)]);
  m->set_refresh(c[static_cast<std::size_t>(message_type::route_refresh)]);
}

void set_segments(const as_path& path, google::protobuf::RepeatedPtrField<apipb::AsSegment>* out) {
  for (auto& seg : path) {
    auto* s = out->Add();
    s->set_type(static_cast<apipb::AsSegment::Type>(seg.type));
    for (auto asn : seg.asns) s->add_numbers(asn);
  }
}

std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
void put_be(std::uint8_t* p, std::uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v & 0xff);
}

// The transitive flag and sub-type every AS- or address-specific kind carries.
template <class M>
M specific(const extended_community& ec) {
  M m;
  m.set_is_transitive(ec.transitive());  // RFC 4360 §2: bit 0x40 clear means transitive
  m.set_sub_type(ec.subtype());
  return m;
}

pb::Any to_extended(const extended_community& ec) {
  const auto* r = ec.raw.data();
  if (auto lb = as_link_bandwidth(ec)) {
    apipb::LinkBandwidthExtended m;
    m.set_asn(lb->asn);
    m.set_bandwidth(lb->bytes_per_second);
    return pack(m);
  }
  switch (ec.type() & 0x3f) {  // RFC 4360 §3-§5, RFC 5668
    case 0x00: {
      auto m = specific<apipb::TwoOctetAsSpecificExtended>(ec);
      m.set_asn(be16(r + 2));
      m.set_local_admin(be32(r + 4));
      return pack(m);
    }
    case 0x01: {
      auto m = specific<apipb::IPv4AddressSpecificExtended>(ec);
      m.set_address(ip_address::v4(be32(r + 2)).to_string());
      m.set_local_admin(be16(r + 6));
      return pack(m);
    }
    case 0x02: {
      auto m = specific<apipb::FourOctetAsSpecificExtended>(ec);
      m.set_asn(be32(r + 2));
      m.set_local_admin(be16(r + 6));
      return pack(m);
    }
    default: {
      apipb::UnknownExtended m;
      m.set_type(ec.type());
      m.set_value(std::string(reinterpret_cast<const char*>(r + 1), 7));
      return pack(m);
    }
  }
}

apipb::IPAddressPrefix to_nlri(const ip_prefix& p) {
  apipb::IPAddressPrefix n;
  n.set_prefix_len(p.length);
  n.set_prefix(p.addr.to_string());
  return n;
}

// Capability codes the CLI prints with a GoBGP type of its own and therefore
// must not get as UnknownCapability: what to send for one Herald's codec
// keeps raw (an empty Any: nothing, the capability is left out).
std::optional<pb::Any> known_unknown(const cap::unknown& u) {
  switch (u.code) {
    case 4: return pack(apipb::CarryingLabelInfoCapability{});  // RFC 3107
    case 128: return pack(apipb::RouteRefreshCiscoCapability{});
    case 71: {  // RFC 9494: AFI (2), SAFI (1), flags (1), stale time (3) per family
      if (u.value.size() % 7) return pb::Any{};
      apipb::LongLivedGracefulRestartCapability m;
      for (std::size_t i = 0; i < u.value.size(); i += 7) {
        auto b = [&](std::size_t k) { return std::to_integer<std::uint32_t>(u.value[i + k]); };
        auto* t = m.add_tuples();
        t->mutable_family()->set_afi(static_cast<apipb::Family::Afi>(b(0) << 8 | b(1)));
        t->mutable_family()->set_safi(static_cast<apipb::Family::Safi>(b(2)));
        t->set_flags(b(3));
        t->set_time(b(4) << 16 | b(5) << 8 | b(6));
      }
      return pack(m);
    }
    // Kinds Herald decodes itself: raw here means malformed; leave it out.
    case 1: case 2: case 5: case 64: case 65: case 69: case 70: case 73: return pb::Any{};
    default: return std::nullopt;
  }
}

}  // namespace

apipb::Family to_family(family f) {
  apipb::Family out;
  out.set_afi(f.a == afi::ipv4 ? apipb::Family::AFI_IP : apipb::Family::AFI_IP6);
  out.set_safi(apipb::Family::SAFI_UNICAST);
  return out;
}

std::optional<family> from_family(const apipb::Family& f) {
  if (f.safi() != apipb::Family::SAFI_UNICAST) return std::nullopt;
  if (f.afi() == apipb::Family::AFI_IP) return ipv4_unicast;
  if (f.afi() == apipb::Family::AFI_IP6) return ipv6_unicast;
  return std::nullopt;
}

apipb::Global to_global(const global_view& g) {
  apipb::Global out;
  out.set_asn(g.asn);
  out.set_router_id(ip_address::v4(g.router_id).to_string());
  if (!g.listen_addresses.empty()) {
    out.set_listen_port(g.listen_port);
    for (auto& a : g.listen_addresses) out.add_listen_addresses(a);
  }
  return out;
}

std::vector<pb::Any> to_capabilities(const open_message& o) {
  std::vector<pb::Any> out;
  for (auto& c : o.capabilities) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, cap::multiprotocol>) {
            apipb::MultiProtocolCapability m;
            *m.mutable_family() = to_family(v.f);
            out.push_back(pack(m));
          } else if constexpr (std::is_same_v<T, cap::route_refresh>) {
            out.push_back(pack(apipb::RouteRefreshCapability{}));
          } else if constexpr (std::is_same_v<T, cap::enhanced_route_refresh>) {
            out.push_back(pack(apipb::EnhancedRouteRefreshCapability{}));
          } else if constexpr (std::is_same_v<T, cap::four_octet_as>) {
            apipb::FourOctetASNCapability m;
            m.set_asn(v.asn);
            out.push_back(pack(m));
          } else if constexpr (std::is_same_v<T, cap::graceful_restart>) {
            // GoBGP keeps the top four bits of the Restart Flags (RFC 4724 §3, RFC 8538).
            apipb::GracefulRestartCapability m;
            m.set_flags((v.restart_state ? 0x8u : 0u) | (v.notification ? 0x4u : 0u));
            m.set_time(v.restart_time);
            for (auto& e : v.families) {
              auto* t = m.add_tuples();
              *t->mutable_family() = to_family(e.f);
              t->set_flags(e.forwarding_preserved ? 0x80u : 0u);
            }
            out.push_back(pack(m));
          } else if constexpr (std::is_same_v<T, cap::extended_next_hop>) {
            apipb::ExtendedNexthopCapability m;
            for (auto& e : v.entries) {
              auto* t = m.add_tuples();
              *t->mutable_nlri_family() = to_family(e.nlri);
              *t->mutable_nexthop_family() = to_family({e.next_hop, safi::unicast});
            }
            out.push_back(pack(m));
          } else if constexpr (std::is_same_v<T, cap::add_path>) {
            apipb::AddPathCapability m;
            for (auto& e : v.entries) {
              auto* t = m.add_tuples();
              *t->mutable_family() = to_family(e.f);
              t->set_mode(static_cast<apipb::AddPathCapabilityTuple::Mode>(e.send_receive & 3));
            }
            out.push_back(pack(m));
          } else if constexpr (std::is_same_v<T, cap::fqdn>) {
            apipb::FqdnCapability m;
            m.set_host_name(v.hostname);
            m.set_domain_name(v.domain);
            out.push_back(pack(m));
          } else if constexpr (std::is_same_v<T, cap::extended_message>) {
            // RFC 8654 code 6: GoBGP 3.10 has no message for it.
            apipb::UnknownCapability m;
            m.set_code(6);
            out.push_back(pack(m));
          } else if (auto known = known_unknown(v)) {
            if (!known->type_url().empty()) out.push_back(*known);
          } else {
            apipb::UnknownCapability m;
            m.set_code(v.code);
            m.set_value(std::string(reinterpret_cast<const char*>(v.value.data()), v.value.size()));
            out.push_back(pack(m));
          }
        },
        c);
  }
  return out;
}

apipb::Peer to_peer(const peer_view& p) {
  apipb::Peer out;
  const auto& cfg = p.config;
  const auto& st = p.status;
  auto type = cfg.ebgp() ? apipb::EXTERNAL : apipb::INTERNAL;
  auto address = cfg.address.to_string();

  auto* conf = out.mutable_conf();
  conf->set_neighbor_address(address);
  conf->set_peer_asn(cfg.asn);
  conf->set_local_asn(cfg.local_asn);
  conf->set_type(type);
  conf->set_admin_down(p.admin_down);
  conf->set_description(cfg.description);

  auto* mh = out.mutable_ebgp_multihop();
  mh->set_enabled(cfg.ebgp() && cfg.ebgp_multihop > 1);
  if (cfg.ebgp_multihop > 1) mh->set_multihop_ttl(cfg.ebgp_multihop);
  out.mutable_route_reflector();
  out.mutable_route_server();

  auto* state = out.mutable_state();
  state->set_neighbor_address(address);
  state->set_peer_asn(cfg.asn);
  state->set_local_asn(cfg.local_asn);
  state->set_type(type);
  state->mutable_queues();
  set_messages(state->mutable_messages()->mutable_received(), st.messages_in);
  set_messages(state->mutable_messages()->mutable_sent(), st.messages_out);
  state->set_session_state(to_session_state(st.state));
  state->set_admin_state(p.admin_down ? apipb::PeerState::DOWN : apipb::PeerState::UP);
  state->set_flops(static_cast<std::uint32_t>(st.flaps));
  if (st.remote_id) state->set_router_id(ip_address::v4(st.remote_id).to_string());
  if (p.remote_open)
    for (auto& c : to_capabilities(*p.remote_open)) *state->add_remote_cap() = c;
  if (p.local_open)
    for (auto& c : to_capabilities(*p.local_open)) *state->add_local_cap() = c;

  auto* timers = out.mutable_timers();
  auto* tc = timers->mutable_config();
  tc->set_connect_retry(cfg.connect_retry);
  tc->set_hold_time(cfg.hold_time);
  tc->set_keepalive_interval(cfg.keepalive);
  auto* ts = timers->mutable_state();
  ts->set_connect_retry(cfg.connect_retry);
  ts->set_hold_time(cfg.hold_time);
  ts->set_negotiated_hold_time(st.hold_time);
  ts->set_keepalive_interval(st.keepalive);
  // The CLI shows "never" without uptime, else the time since uptime when
  // Established and since downtime otherwise.
  if (st.established_since) set_time(ts->mutable_uptime(), *st.established_since);
  else if (st.last_up) set_time(ts->mutable_uptime(), *st.last_up);
  if (st.last_down) set_time(ts->mutable_downtime(), *st.last_down);

  auto* tr = out.mutable_transport();
  tr->set_local_address(p.local_address ? p.local_address->to_string() : (cfg.address.is_v4() ? "0.0.0.0" : "::"));
  tr->set_passive_mode(cfg.passive);
  tr->set_remote_address(address);
  tr->set_remote_port(cfg.port);

  auto* gr = out.mutable_graceful_restart();
  if (p.local_open)
    if (auto g = p.local_open->find<cap::graceful_restart>()) {
      gr->set_enabled(true);
      gr->set_restart_time(g->restart_time);
    }
  if (p.remote_open)
    if (auto g = p.remote_open->find<cap::graceful_restart>()) gr->set_peer_restart_time(g->restart_time);

  auto* ttl = out.mutable_ttl_security();
  ttl->set_enabled(cfg.ttl_security);
  if (cfg.ttl_security) ttl->set_ttl_min(256u - std::max<unsigned>(1, cfg.ebgp_multihop));

  for (auto f : cfg.families) {
    auto* as = out.add_afi_safis();
    as->mutable_config()->set_enabled(true);
    *as->mutable_config()->mutable_family() = to_family(f);
    auto* s = as->mutable_state();
    *s->mutable_family() = to_family(f);
    s->set_enabled(true);
    auto rit = p.received.find(f);
    std::uint64_t received = rit == p.received.end() ? 0 : rit->second;
    s->set_received(received);
    s->set_accepted(received);  // no import policy: everything received is kept
    s->set_advertised(f.a == afi::ipv4 ? st.advertised_v4 : st.advertised_v6);
    auto* lim = as->mutable_prefix_limits();
    *lim->mutable_family() = to_family(f);
    lim->set_max_prefixes(cfg.max_prefixes);
  }
  return out;
}

std::vector<pb::Any> to_pattrs(const path_attributes& a, const ip_prefix* nlri) {
  std::vector<pb::Any> out;
  if (a.origin) {
    apipb::OriginAttribute m;
    m.set_origin(static_cast<std::uint32_t>(*a.origin));
    out.push_back(pack(m));
  }
  if (a.path) {
    apipb::AsPathAttribute m;
    set_segments(*a.path, m.mutable_segments());
    out.push_back(pack(m));
  }
  if (a.next_hop) {
    apipb::NextHopAttribute m;
    m.set_next_hop(a.next_hop->to_string());
    out.push_back(pack(m));
  }
  if (a.med) {
    apipb::MultiExitDiscAttribute m;
    m.set_med(*a.med);
    out.push_back(pack(m));
  }
  if (a.local_pref) {
    apipb::LocalPrefAttribute m;
    m.set_local_pref(*a.local_pref);
    out.push_back(pack(m));
  }
  if (a.atomic_aggregate) out.push_back(pack(apipb::AtomicAggregateAttribute{}));
  if (a.aggr) {
    apipb::AggregatorAttribute m;
    m.set_asn(a.aggr->asn);
    m.set_address(ip_address::v4(a.aggr->address).to_string());
    out.push_back(pack(m));
  }
  if (!a.communities.empty()) {
    apipb::CommunitiesAttribute m;
    for (auto c : a.communities) m.add_communities(c);
    out.push_back(pack(m));
  }
  if (a.reach) {
    apipb::MpReachNLRIAttribute m;
    *m.mutable_family() = to_family(a.reach->f);
    for (auto& nh : a.reach->next_hops) m.add_next_hops(nh.to_string());
    if (nlri) m.add_nlris()->PackFrom(to_nlri(*nlri));
    out.push_back(pack(m));
  }
  if (!a.ext_communities.empty()) {
    apipb::ExtendedCommunitiesAttribute m;
    for (auto& ec : a.ext_communities) *m.add_communities() = to_extended(ec);
    out.push_back(pack(m));
  }
  if (a.as4_path) {
    apipb::As4PathAttribute m;
    set_segments(*a.as4_path, m.mutable_segments());
    out.push_back(pack(m));
  }
  if (a.as4_aggr) {
    apipb::As4AggregatorAttribute m;
    m.set_asn(a.as4_aggr->asn);
    m.set_address(ip_address::v4(a.as4_aggr->address).to_string());
    out.push_back(pack(m));
  }
  if (!a.large_communities.empty()) {
    apipb::LargeCommunitiesAttribute m;
    for (auto& lc : a.large_communities) {
      auto* c = m.add_communities();
      c->set_global_admin(lc.global_admin);
      c->set_local_data1(lc.local1);
      c->set_local_data2(lc.local2);
    }
    out.push_back(pack(m));
  }
  for (auto& u : a.unknown) {
    apipb::UnknownAttribute m;
    m.set_flags(u.flags);
    m.set_type(u.code);
    m.set_value(std::string(reinterpret_cast<const char*>(u.value.data()), u.value.size()));
    out.push_back(pack(m));
  }
  return out;
}

path_attributes originated_attributes(const bgp::route_attrs& r, afi f) {
  // The export rules with an iBGP context give the attributes without our
  // AS; the next hop is the route's own or "self", shown as 0.0.0.0 / ::.
  bgp::export_context ctx;
  ctx.ebgp = false;
  ctx.next_hop_v4 = ip_address::v4(0u);
  ctx.next_hop_v6 = ip_address::v6({});
  auto a = bgp::export_attributes(r, f, ctx);
  if (!a) return {};
  a->path.reset();
  a->local_pref = r.local_pref;
  return *a;
}

std::vector<apipb::Destination> to_destinations(const table_view& t) {
  std::vector<apipb::Destination> out;
  out.reserve(t.routes.size());
  // Routes share attribute objects: convert each distinct one once.
  std::unordered_map<const void*, std::optional<path_attributes>> exported;
  auto attributes_of = [&](const route_view& r) -> const path_attributes* {
    if (r.received) return r.received.get();
    if (!r.local) return nullptr;
    auto [it, fresh] = exported.try_emplace(r.local.get());
    if (fresh) {
      if (t.kind == table_kind::adj_out) it->second = bgp::export_attributes(*r.local, t.family.a, t.export_ctx);
      else it->second = originated_attributes(*r.local, t.family.a);
    }
    return it->second ? &*it->second : nullptr;
  };
  for (auto& r : t.routes) {
    apipb::Destination d;
    d.set_prefix(r.prefix.to_string());
    auto* path = d.add_paths();
    path->mutable_nlri()->PackFrom(to_nlri(r.prefix));
    *path->mutable_family() = to_family(t.family);
    if (auto* a = attributes_of(r))
      for (auto& any : to_pattrs(*a, &r.prefix)) *path->add_pattrs() = std::move(any);
    set_time(path->mutable_age(), r.since.value_or(time_point{}));
    path->set_best(t.kind == table_kind::global);
    if (t.kind == table_kind::adj_in) {
      path->set_neighbor_ip(t.peer_address);
      path->set_source_asn(t.peer_asn);
      if (t.peer_router_id) path->set_source_id(ip_address::v4(t.peer_router_id).to_string());
      path->set_is_from_external(t.peer_asn != t.local_asn);
    }
    if (r.operator_added) path->set_uuid(operator_route_uuid(r.prefix));
    out.push_back(std::move(d));
  }
  return out;
}

std::string operator_route_uuid(const ip_prefix& p) {
  // Two FNV-1a hashes of the prefix, laid out as an RFC 9562 version 8 UUID.
  auto fnv = [&](std::uint64_t h) {
    for (std::size_t i = 0; i < p.addr.size(); ++i) h = (h ^ p.addr.octets[i]) * 0x100000001b3ull;
    return (h ^ p.length) * 0x100000001b3ull;
  };
  std::array<std::uint8_t, 16> b{};
  put_be(b.data(), fnv(0xcbf29ce484222325ull), 8);
  put_be(b.data() + 8, fnv(0x84222325cbf29ce4ull), 8);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x80);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

Result<ip_prefix, std::string> path_prefix(const apipb::Path& p) {
  apipb::IPAddressPrefix nlri;
  if (!p.has_nlri() || !p.nlri().UnpackTo(&nlri))
    return std::string("Herald accepts only IPv4 / IPv6 unicast prefixes (nlri must be an IPAddressPrefix)");
  auto fam = from_family(p.family());
  if (!fam) return std::string("Herald supports only the ipv4-unicast and ipv6-unicast families");
  auto prefix = ip_prefix::parse(nlri.prefix() + "/" + std::to_string(nlri.prefix_len()));
  if (!prefix) return "invalid prefix " + nlri.prefix() + "/" + std::to_string(nlri.prefix_len());
  if (prefix->addr.family != fam->a) return "prefix " + prefix->to_string() + " is not of the requested family";
  return *prefix;
}

Result<operator_route, std::string> from_path(const apipb::Path& p) {
  auto prefix = path_prefix(p);
  if (!prefix) return prefix.error();
  operator_route out{*prefix, {}};
  auto& r = out.attrs;
  // "0.0.0.0" / "::" (the CLI's default) means next hop self, as for service routes.
  auto set_next_hop = [&](const std::string& text) -> std::optional<std::string> {
    auto a = ip_address::parse(text);
    if (!a) return "invalid next hop " + text;
    if (*a != ip_address::v4(0u) && *a != ip_address::v6({})) r.next_hop = a;
    return std::nullopt;
  };
  for (auto& any : p.pattrs()) {
    apipb::OriginAttribute origin;
    apipb::AsPathAttribute path;
    apipb::NextHopAttribute nh;
    apipb::MpReachNLRIAttribute reach;
    apipb::MultiExitDiscAttribute med;
    apipb::LocalPrefAttribute lp;
    apipb::CommunitiesAttribute comm;
    apipb::LargeCommunitiesAttribute large;
    apipb::ExtendedCommunitiesAttribute ext;
    if (any.UnpackTo(&origin)) continue;  // Herald originates with IGP
    if (any.Is<apipb::AsPathAttribute>() && any.UnpackTo(&path)) {
      for (auto& seg : path.segments())
        if (seg.numbers_size() > 0) return std::string("Herald does not announce an AS_PATH of the operator's choice");
    } else if (any.Is<apipb::NextHopAttribute>() && any.UnpackTo(&nh)) {
      if (auto e = set_next_hop(nh.next_hop())) return *e;
    } else if (any.Is<apipb::MpReachNLRIAttribute>() && any.UnpackTo(&reach)) {
      if (reach.next_hops_size() > 0)
        if (auto e = set_next_hop(reach.next_hops(0))) return *e;
    } else if (any.Is<apipb::MultiExitDiscAttribute>() && any.UnpackTo(&med)) {
      r.med = med.med();
    } else if (any.Is<apipb::LocalPrefAttribute>() && any.UnpackTo(&lp)) {
      r.local_pref = lp.local_pref();
    } else if (any.Is<apipb::CommunitiesAttribute>() && any.UnpackTo(&comm)) {
      r.communities.assign(comm.communities().begin(), comm.communities().end());
    } else if (any.Is<apipb::LargeCommunitiesAttribute>() && any.UnpackTo(&large)) {
      for (auto& c : large.communities())
        r.large_communities.push_back({c.global_admin(), c.local_data1(), c.local_data2()});
    } else if (any.Is<apipb::ExtendedCommunitiesAttribute>() && any.UnpackTo(&ext)) {
      for (auto& c : ext.communities()) {
        extended_community ec;
        auto* raw = ec.raw.data();
        apipb::TwoOctetAsSpecificExtended two;
        apipb::IPv4AddressSpecificExtended v4;
        apipb::FourOctetAsSpecificExtended four;
        if (c.Is<apipb::TwoOctetAsSpecificExtended>() && c.UnpackTo(&two)) {
          raw[0] = two.is_transitive() ? 0x00 : 0x40;
          raw[1] = static_cast<std::uint8_t>(two.sub_type());
          put_be(raw + 2, two.asn(), 2);
          put_be(raw + 4, two.local_admin(), 4);
        } else if (c.Is<apipb::IPv4AddressSpecificExtended>() && c.UnpackTo(&v4)) {
          auto a = ip_address::parse(v4.address());
          if (!a || !a->is_v4()) return "invalid address in extended community: " + v4.address();
          raw[0] = v4.is_transitive() ? 0x01 : 0x41;
          raw[1] = static_cast<std::uint8_t>(v4.sub_type());
          put_be(raw + 2, a->v4_host_order(), 4);
          put_be(raw + 6, v4.local_admin(), 2);
        } else if (c.Is<apipb::FourOctetAsSpecificExtended>() && c.UnpackTo(&four)) {
          raw[0] = four.is_transitive() ? 0x02 : 0x42;
          raw[1] = static_cast<std::uint8_t>(four.sub_type());
          put_be(raw + 2, four.asn(), 4);
          put_be(raw + 6, four.local_admin(), 2);
        } else {
          return "Herald does not announce extended communities of type " + c.type_url();
        }
        r.ext_communities.push_back(ec);
      }
    } else {
      return "Herald does not announce the attribute " + any.type_url() + " on added routes";
    }
  }
  return out;
}

}  // namespace herald::proto
