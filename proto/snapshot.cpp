// Views of the running speaker, taken on its io_context thread (see snapshot.hpp).
#include "proto/snapshot.hpp"

namespace herald::proto {

global_view take_global(const bgp::speaker& sp) {
  const auto& cfg = sp.config();
  global_view g;
  g.asn = cfg.local_asn;
  g.router_id = cfg.router_id;
  g.listen_port = cfg.listen_port;
  if (cfg.listen_address) g.listen_addresses.push_back(cfg.listen_address->to_string());
  return g;
}

std::vector<std::shared_ptr<bgp::session>> find_sessions(const bgp::speaker& sp, std::string_view address, bool all_ok) {
  std::vector<std::shared_ptr<bgp::session>> out;
  bool every = address.empty() || (all_ok && address == "all");
  auto wanted = wire::ip_address::parse(address);
  for (auto& s : sp.sessions())
    if (every || (wanted && s->config().address == *wanted)) out.push_back(s);
  return out;
}

std::vector<peer_view> take_peers(const bgp::speaker& sp, std::string_view address) {
  std::vector<peer_view> out;
  for (auto& s : find_sessions(sp, address, false)) {
    peer_view v;
    v.config = s->config();
    v.status = s->status();
    v.admin_down = s->stopped();
    v.local_open = s->local_open();
    v.remote_open = s->remote_open();
    v.local_address = s->local_address();
    for (auto f : v.config.families) v.received[f] = 0;
    for (auto& [p, a] : s->rib_in()) ++v.received[{p.addr.family, wire::safi::unicast}];
    out.push_back(std::move(v));
  }
  return out;
}

namespace {

Result<std::shared_ptr<bgp::session>, std::string> one_session(const bgp::speaker& sp, std::string_view peer) {
  auto found = find_sessions(sp, peer, false);
  if (peer.empty() || found.empty()) return "not found neighbor " + std::string(peer);
  return found.front();
}

}  // namespace

Result<table_view, std::string> take_table(const bgp::speaker& sp, table_kind kind, std::string_view peer,
                                           wire::family f, const std::vector<prefix_query>& queries) {
  table_view t;
  t.kind = kind;
  t.family = f;
  t.local_asn = sp.config().local_asn;
  if (kind == table_kind::global) {
    const auto& table = sp.routes();
    const auto& added = sp.operator_routes();
    for (auto& p : select_prefixes(table, f, queries))
      t.routes.push_back({p, table.at(p), nullptr, sp.route_since(p), added.count(p) > 0});
    return t;
  }
  auto s = one_session(sp, peer);
  if (!s) return s.error();
  const auto& session = **s;
  t.peer_address = session.config().address.to_string();
  t.peer_asn = session.config().asn;
  if (auto& o = session.remote_open()) t.peer_router_id = o->bgp_id;
  if (kind == table_kind::adj_out) {
    t.export_ctx = session.exported_with();
    const auto& table = session.rib_out().advertised();
    for (auto& p : select_prefixes(table, f, queries))
      t.routes.push_back({p, table.at(p), nullptr, sp.route_since(p), false});
  } else {
    const auto& table = session.rib_in();
    const auto& since = session.rib_in_since();
    for (auto& p : select_prefixes(table, f, queries)) {
      auto when = since.find(p);
      t.routes.push_back({p, nullptr, table.at(p), when == since.end() ? std::nullopt : std::optional(when->second), false});
    }
  }
  return t;
}

Result<table_counts, std::string> count_table(const bgp::speaker& sp, table_kind kind, std::string_view peer,
                                              wire::family f) {
  auto count = [&](const auto& table) {
    table_counts c;
    for (const auto& [p, a] : table)
      if (p.addr.family == f.a) ++c.destinations;
    c.paths = c.destinations;  // one path per prefix in every Herald table
    return c;
  };
  if (kind == table_kind::global) return count(sp.routes());
  auto s = one_session(sp, peer);
  if (!s) return s.error();
  return kind == table_kind::adj_out ? count((*s)->rib_out().advertised()) : count((*s)->rib_in());
}

}  // namespace herald::proto
