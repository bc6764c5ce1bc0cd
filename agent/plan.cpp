// The node agent's planner (plan.hpp, docs/agent.md): objects in, plan out.
// Pure: no clock (cluster_state.now is given), no I/O. Every loop runs over
// inputs sorted by name, so the plan and its diagnostics are the same on
// every node and on every run with the same input.
#include "agent/plan.hpp"

#include <algorithm>
#include <set>
#include <tuple>

namespace herald::agent {

namespace {

using allocator::ip_family;

std::size_t index_of(ip_family f) { return static_cast<std::size_t>(f); }

// FNV-1a over the bytes, then the splitmix64 finaliser: the same value on
// every platform and every run (std::hash promises neither).
std::uint64_t stable_hash(std::string_view a, std::string_view b) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto feed = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
  };
  feed(a);
  h ^= 0xff;  // separator no text contains: ("ab","c") and ("a","bc") differ
  h *= 0x100000001b3ull;
  feed(b);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

const kube::string_map& no_labels() {
  static const kube::string_map empty;
  return empty;
}

// "no-export" (ServiceGroup spelling) → the wire codec's "NO_EXPORT".
std::optional<std::uint32_t> parse_community(std::string text) {
  for (auto& c : text) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return bgp::wire::community::parse(text);
}

bool truthy(const kube::string_map& annotations, const char* key) {
  auto it = annotations.find(key);
  return it != annotations.end() && (it->second == "true" || it->second == "True" || it->second == "1");
}

// The allocator's address as the kernel's and the speaker's types, from its
// value: a round trip through text (inet_ntop, then two parses) was a fifth
// of a 10,000-Service plan.
std::array<std::uint8_t, 16> v6_octets(const allocator::ip_address& a) {
  std::array<std::uint8_t, 16> b{};
  auto v = a.value;
  for (auto i = b.size(); i-- > 0; v >>= 8) b[i] = static_cast<std::uint8_t>(v);
  return b;
}
netlink::ip_address kernel_address(const allocator::ip_address& a) {
  if (a.family == ip_family::v4) return boost::asio::ip::address_v4(static_cast<std::uint32_t>(a.value));
  return boost::asio::ip::address_v6(v6_octets(a));
}
bgp::wire::ip_address wire_address(const allocator::ip_address& a) {
  if (a.family == ip_family::v4) return bgp::wire::ip_address::v4(static_cast<std::uint32_t>(a.value));
  return bgp::wire::ip_address::v6(v6_octets(a));
}

using endpoint_map = std::map<std::string, std::array<std::size_t, 2>, std::less<>>;

// Ready, non-terminating endpoints of a Service per node and family (index 0
// IPv4, 1 IPv6), from its EndpointSlices. Unset `ready` means ready (the
// EndpointSlice API's rule for consumers); terminating never counts, nor an
// endpoint the scheduler has not placed on a node.
using slice_list = std::vector<const kube::endpoint_slice*>;

endpoint_map endpoint_counts(const slice_list& slices) {
  endpoint_map out;
  for (auto* sp : slices) {
    auto& slice = *sp;
    std::size_t fam = slice.address_type == "IPv4" ? 0 : slice.address_type == "IPv6" ? 1 : 2;
    if (fam == 2) continue;  // FQDN slices carry no addresses to weigh
    for (auto& e : slice.endpoints) {
      if (!e.conditions.ready.value_or(true) || e.conditions.terminating.value_or(false)) continue;
      if (e.node_name.empty()) continue;
      ++out[e.node_name][fam];
    }
  }
  return out;
}

// One remote prefix this node announces, gathered over the Services in it.
struct route_entry {
  std::string group;                  // whose attributes it carries
  const allocator::group_spec* spec;  // null: the group is unavailable, defaults
  ip_family family;
  std::size_t endpoints = 0;  // ready local endpoints, summed over its Services (weighted ECMP)
  bool weighted = false;
};

}  // namespace

// The planner's working state: the node-wide part (prepare), then the
// Services. plan_node runs it once over everything; service_planner keeps
// the node-wide part and plans one Service at a time against it.
class planner {
  using address_index = std::map<netlink::ip_address, std::size_t>;

 public:
  planner(const cluster_state& s, std::string_view node, const node_facts& f) : state_(s), node_(node), facts_(f) {}

  node_plan run() {
    prepare();
    index_slices(state_.endpoint_slices);
    std::vector<const kube::service*> services;
    for (auto& s : state_.services) services.push_back(&s);
    std::sort(services.begin(), services.end(),
              [](auto* a, auto* b) { return std::tie(a->meta.ns, a->meta.name) < std::tie(b->meta.ns, b->meta.name); });
    for (auto* s : services) plan_service(*s);
    finish();
    return std::move(plan_);
  }

  // Everything that does not depend on Services or EndpointSlices: the
  // settings, nodes and Leases, the peers (with their passwords, diagnostics
  // and statuses), the router ID.
  void prepare() {
    plan_.settings = settings_for_node(state_, node_);
    plan_.dummy_link = plan_.settings.dummy_interface;
    plan_.local_link = facts_.local_interface;
    index_nodes();
    report_invalid_objects();
    choose_peers();
    plan_peer_statuses();
    prepared_diagnostics_ = plan_.diagnostics.size();
  }

  // After prepare(): the plan with only `s` and its EndpointSlices; what a
  // previous call planned is forgotten. Valid until the next call.
  const node_plan& plan_one(const kube::service& s, const std::vector<kube::endpoint_slice>& slices) {
    plan_.dummy_addresses.clear();
    plan_.local_addresses.clear();
    dummy_index_.clear();
    local_index_.clear();
    plan_.announcing.clear();
    plan_.speaker.routes.clear();
    plan_.diagnostics.erase(plan_.diagnostics.begin() + static_cast<std::ptrdiff_t>(prepared_diagnostics_),
                            plan_.diagnostics.end());
    routes_.clear();
    route_peers_.clear();
    slices_.clear();
    index_slices(slices);
    plan_service(s);
    finish();
    return plan_;
  }

 private:
  void finish() {
    emit_routes();
    auto by_address = [](const planned_address& a, const planned_address& b) { return a.spec.address < b.spec.address; };
    std::sort(plan_.dummy_addresses.begin(), plan_.dummy_addresses.end(), by_address);
    std::sort(plan_.local_addresses.begin(), plan_.local_addresses.end(), by_address);
  }

  // ---- nodes ----
  void index_nodes() {
    for (auto& n : state_.nodes) nodes_[n.meta.name] = &n;
    for (auto& l : state_.leases)
      if (l.expires > state_.now) live_.insert(l.node);
    for (auto& l : state_.leases) leases_[l.node] = &l;
    live_list_.assign(live_.begin(), live_.end());
  }
  // EndpointSlices by owning Service, once: not a scan of all slices per Service.
  void index_slices(const auto& slices) {
    for (auto& sl : slices) slices_[sl.meta.ns + "/" + sl.service_name()].push_back(&sl);
  }
  const kube::string_map& labels_of(const std::string& node) const {
    auto it = nodes_.find(node);
    return it == nodes_.end() ? no_labels() : it->second->meta.labels;
  }
  // Exclusion is the well-known label only: cordoning (unschedulable) is for
  // pod scheduling and keeps the node's kube-proxy serving (docs/agent.md).
  bool excluded(const std::string& node) const { return labels_of(node).count(exclude_label) != 0; }

  // ---- diagnostics ----
  void report(std::string kind, std::string ns, std::string name, allocator::event_type type, std::string reason,
              std::string message, bool cluster_wide) {
    diagnostic d;
    if (kind == "BGPPeer" && cluster_wide && type == allocator::event_type::warning)
      peer_problems_.try_emplace(ns + "/" + name, reason, message);  // the first reason is the status
    d.event = {kind, ns, name, type, std::move(reason), std::move(message)};
    if (cluster_wide) {
      // The object's rendezvous winner over the live nodes records the Event;
      // with no live node (Leases not written yet) every agent does.
      auto writer = rendezvous_winner(kind + "/" + ns + "/" + name, live_list_);
      d.emit_event = !writer || *writer == node_;
    }
    plan_.diagnostics.push_back(std::move(d));
  }
  void warn_service(const kube::service& s, std::string reason, std::string message, bool cluster_wide = true) {
    report("Service", s.meta.ns, s.meta.name, allocator::event_type::warning, std::move(reason), std::move(message),
           cluster_wide);
  }

  void report_invalid_objects() {
    for (auto& bad : state_.invalid)
      report(bad.kind, bad.ns, bad.name, allocator::event_type::warning, "Invalid" + bad.kind,
             bad.kind + " " + (bad.ns.empty() ? bad.name : bad.ns + "/" + bad.name) + " is ignored: " + bad.error,
             true);
  }

  // ---- peers ----
  // A BGPPeer usable by `node`: its selector matches and its password, if
  // any, is available. The same answer on every node (Secrets are cluster state).
  std::optional<std::string> password_of(const bgp_peer& p) const {
    if (!p.password) return std::string{};
    for (auto& s : state_.secrets) {
      if (s.meta.ns != state_.herald_namespace || s.meta.name != p.password->name) continue;
      auto it = s.data.find(p.password->key);
      if (it == s.data.end()) return std::nullopt;
      return it->second;
    }
    return std::nullopt;
  }

  void choose_peers() {
    std::vector<const bgp_peer*> peers;
    for (auto& p : state_.peers) peers.push_back(&p);
    std::sort(peers.begin(), peers.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
    std::set<bgp::wire::ip_address> seen;
    for (auto* p : peers) {
      // Duplicates are judged on the specs alone, so which BGPPeer owns an
      // address does not flip when a Secret comes and goes.
      if (!seen.insert(p->config.address).second) {
        report("BGPPeer", p->ns, p->name, allocator::event_type::warning, "DuplicatePeer",
               "BGPPeer " + p->key() + " is ignored: another BGPPeer (first by namespace/name) has address " +
                   p->config.address.to_string(),
               true);
        continue;
      }
      auto password = password_of(*p);
      if (!password) {
        report("BGPPeer", p->ns, p->name, allocator::event_type::warning, "PasswordUnavailable",
               "BGPPeer " + p->key() + " is ignored: key \"" + p->password->key + "\" of Secret " +
                   state_.herald_namespace + "/" + p->password->name + " is missing",
               true);
        continue;
      }
      if (password->size() > 80) {
        report("BGPPeer", p->ns, p->name, allocator::event_type::warning, "InvalidBGPPeer",
               "BGPPeer " + p->key() + " is ignored: its password is longer than the 80 octets TCP MD5 allows", true);
        continue;
      }
      usable_peers_.push_back(p);
      if (!p->node_selector.matches(labels_of(node_))) continue;
      bgp::peer_config c = p->config;
      c.password = *password;
      c.description = "BGPPeer " + p->key();
      // The other family's routes over this session need a next hop of that
      // family (the speaker sends none without one): the node's own address
      // of that family, else the family is not negotiated at all.
      for (auto fam : {ip_family::v4, ip_family::v6}) {
        if (!speaks(c, fam) || transport_family(c) == fam) continue;
        auto own = own_address(fam);
        if (!own) {
          std::erase(c.families, wire_family(fam));
          continue;
        }
        (fam == ip_family::v4 ? c.next_hop_v4 : c.next_hop_v6) = own;
      }
      plan_.speaker.peers.push_back(std::move(c));
      my_peers_.push_back(p);
    }
    auto& sp = plan_.speaker;
    if (!my_peers_.empty()) {
      // Speaker-wide settings come from the first peer by namespace/name.
      const bgp_peer& first = *my_peers_.front();
      sp.local_asn = first.config.local_asn;
      sp.graceful_restart = first.graceful_restart;
      sp.restart_time = first.restart_time;
      for (auto* p : my_peers_)
        if (p->graceful_restart != first.graceful_restart || p->restart_time != first.restart_time)
          report("BGPPeer", p->ns, p->name, allocator::event_type::warning, "ConflictingSettings",
                 "BGPPeer " + p->key() + ": gracefulRestart differs from BGPPeer " + first.key() +
                     ", whose setting node " + node_ + " uses for all its sessions",
                 false);
    }
    sp.router_id = router_id();
    sp.hostname = node_;
  }

  void plan_peer_statuses() {
    std::vector<std::pair<std::string, std::string>> all;  // every BGPPeer object, valid or not
    for (auto& p : state_.peers) all.emplace_back(p.ns, p.name);
    for (auto& bad : state_.invalid)
      if (bad.kind == "BGPPeer") all.emplace_back(bad.ns, bad.name);
    std::sort(all.begin(), all.end());
    for (auto& [ns, name] : all) {
      auto writer = rendezvous_winner("BGPPeer/" + ns + "/" + name, live_list_);
      if (!writer || *writer != node_) continue;
      peer_status st{ns, name, true, "Accepted", "nodes whose labels match its nodeSelector peer with it"};
      if (auto it = peer_problems_.find(ns + "/" + name); it != peer_problems_.end()) {
        st.accepted = false;
        st.reason = it->second.first;
        st.message = it->second.second;
      }
      plan_.peer_statuses.push_back(std::move(st));
    }
  }

  // BGP identifier: a BGPPeer's routerID, else the node's InternalIP (IPv4),
  // else an IPv4 address of the node, else a stable hash of its name (RFC
  // 6286 allows any non-zero value, as IPv6-only nodes need).
  std::uint32_t router_id() const {
    for (auto* p : my_peers_)
      if (p->router_id) return *p->router_id;
    if (auto it = nodes_.find(node_); it != nodes_.end())
      for (auto& a : it->second->addresses)
        if (a.type == "InternalIP")
          if (auto ip = bgp::wire::ip_address::parse(a.address); ip && ip->is_v4() && ip->v4_host_order() != 0)
            return ip->v4_host_order();
    for (auto& a : facts_.addresses)
      if (a.is_v4() && a.to_v4().to_uint() != 0) return a.to_v4().to_uint();
    auto h = static_cast<std::uint32_t>(stable_hash("router-id", node_));
    return h == 0 ? 1 : h;
  }

  // Whether `node` has a usable peer of family f (cluster-wide view).
  // Live, not excluded nodes with a peer of family f: who announces a
  // Cluster-policy address. Memoised per family.
  const std::vector<std::string>& cluster_announcers(ip_family f) {
    auto& out = cluster_announcers_[index_of(f)];
    if (!out) {
      out.emplace();
      for (auto& n : live_list_)
        if (!excluded(n) && node_peers_family(n, f)) out->push_back(n);
    }
    return *out;
  }

  // Memoised: asked for every live node and every remote address.
  bool node_peers_family(const std::string& node, ip_family f) {
    auto [it, fresh] = peers_family_.try_emplace(node);
    if (fresh) {
      if (node == node_) {  // this node's sessions as configured above
        for (auto& c : plan_.speaker.peers)
          for (auto fam : {ip_family::v4, ip_family::v6})
            if (speaks(c, fam)) it->second[index_of(fam)] = true;
      } else {
        // Another node: a family other than the session's needs an address
        // of that family on the node, judged from its Node status.
        for (auto* p : usable_peers_)
          if (p->node_selector.matches(labels_of(node)))
            for (auto fam : {ip_family::v4, ip_family::v6})
              if (speaks(p->config, fam) && (transport_family(p->config) == fam || node_has_family(node, fam)))
                it->second[index_of(fam)] = true;
      }
    }
    return it->second[index_of(f)];
  }
  static bgp::wire::family wire_family(ip_family f) {
    return f == ip_family::v4 ? bgp::wire::ipv4_unicast : bgp::wire::ipv6_unicast;
  }
  static bool speaks(const bgp::peer_config& c, ip_family f) {
    return std::find(c.families.begin(), c.families.end(), wire_family(f)) != c.families.end();
  }
  static ip_family transport_family(const bgp::peer_config& c) {
    return c.address.is_v4() ? ip_family::v4 : ip_family::v6;
  }
  // This node's first address of family f (node_facts: its local interface).
  std::optional<bgp::wire::ip_address> own_address(ip_family f) const {
    for (auto& a : facts_.addresses)
      if (a.is_v4() == (f == ip_family::v4))
        if (auto w = bgp::wire::ip_address::parse(a.to_string())) return w;
    return std::nullopt;
  }
  bool node_has_family(const std::string& node, ip_family f) const {
    auto it = nodes_.find(node);
    if (it == nodes_.end()) return false;
    for (auto& a : it->second->addresses)
      if (a.type == "InternalIP" || a.type == "ExternalIP")
        if (auto ip = bgp::wire::ip_address::parse(a.address); ip && ip->is_v4() == (f == ip_family::v4)) return true;
    return false;
  }

  // ---- services ----
  void plan_service(const kube::service& s) {
    if (!herald_service(s, state_.allocated_by)) return;
    std::string group_name;
    if (auto it = s.meta.annotations.find(allocator::annotation::allocated_from); it != s.meta.annotations.end())
      group_name = it->second;
    const allocator::group_spec* spec = nullptr;
    if (auto it = state_.groups.find(group_name); it != state_.groups.end() && it->second.spec)
      spec = &*it->second.spec;
    else if (!s.ingress.empty()) {
      // Keep serving what the allocator handed out (nothing lost); say why the
      // group's attributes are missing. A Service without addresses has
      // nothing to keep and no warning: it must plan as if absent
      // (service_can_change_plan).
      std::string why = it == state_.groups.end() ? "does not exist" : "is invalid: " + it->second.error;
      warn_service(s, "GroupUnavailable",
                   "ServiceGroup \"" + group_name + "\" " + why +
                       "; its addresses stay announced with default attributes");
    }
    allocator::pool_type type = spec ? spec->type : allocator::pool_type::remote;
    if (!spec)
      if (auto it = s.meta.annotations.find(allocator::annotation::pool_type);
          it != s.meta.annotations.end() && it->second == "local")
        type = allocator::pool_type::local;

    service_announcing ann;
    ann.ns = s.meta.ns;
    ann.name = s.meta.name;
    ann.writer = rendezvous_winner(s.meta.ns + "/" + s.meta.name, live_list_).value_or("");
    const bool local_policy = s.external_traffic_policy == "Local";
    auto slices = slices_.find(s.meta.ns + "/" + s.meta.name);
    auto endpoints = slices == slices_.end() ? endpoint_map{} : endpoint_counts(slices->second);

    std::set<allocator::ip_address> done;  // an address listed twice counts once
    for (auto& ingress : s.ingress) {
      auto addr = allocator::ip_address::parse(ingress.ip);
      if (!addr) continue;  // a hostname, or not Herald's
      if (!done.insert(*addr).second) continue;
      auto& nodes = addr->family == ip_family::v4 ? ann.v4_nodes : ann.v6_nodes;
      if (type == allocator::pool_type::remote) plan_remote(s, *addr, spec, group_name, local_policy, endpoints, nodes);
      else plan_local(s, *addr, local_policy, endpoints, nodes);
    }
    plan_.announcing.push_back(std::move(ann));
  }

  void plan_remote(const kube::service& s, const allocator::ip_address& addr, const allocator::group_spec* spec,
                   const std::string& group_name, bool local_policy,
                   const endpoint_map& endpoints, std::vector<std::string>& nodes) {
    const ip_family fam = addr.family;
    unsigned aggregation = allocator::max_length(fam);
    if (spec)
      for (auto& pool : spec->pools_of(fam))
        if (pool.pool.contains(addr)) aggregation = pool.aggregation;
    if (local_policy && aggregation != allocator::max_length(fam))
      warn_service(s, "AggregatedLocalPolicy",
                   "externalTrafficPolicy Local with an aggregated pool (/" + std::to_string(aggregation) +
                       "): a node announces the aggregate while any Service in it has endpoints there");
    auto count_on = [&](const std::string& node) {
      auto it = endpoints.find(node);
      return it == endpoints.end() ? std::size_t{0} : it->second[index_of(fam)];
    };
    auto serves = [&](const std::string& node) { return !excluded(node) && (!local_policy || count_on(node) > 0); };
    if (!local_policy) nodes = cluster_announcers(fam);
    else  // only nodes with endpoints can serve: walk those, not every live node
      for (auto& [n, counts] : endpoints)
        if (counts[index_of(fam)] > 0 && live_.count(n) && !excluded(n) && node_peers_family(n, fam)) nodes.push_back(n);
    if (!serves(node_)) return;

    std::vector<bgp::wire::ip_address> peers;
    for (auto& c : plan_.speaker.peers)
      if (speaks(c, fam)) peers.push_back(c.address);
    // No peer for this family: announcing to "all peers" (an empty list)
    // would be wrong, and the address would attract nothing.
    if (peers.empty()) return;

    add_address(plan_.dummy_addresses, dummy_index_, kernel_address(addr), static_cast<std::uint8_t>(aggregation), s,
                false);

    bgp::wire::ip_prefix prefix{wire_address(addr), static_cast<std::uint8_t>(aggregation)};
    prefix.addr = prefix.first();  // the aggregate's network
    auto [it, fresh] = routes_.try_emplace(prefix, route_entry{group_name, spec, fam});
    if (!fresh && it->second.group != group_name) {
      warn_service(s, "AggregateConflict",
                   "prefix " + prefix.to_string() + " is announced with the attributes of ServiceGroup \"" +
                       it->second.group + "\", not \"" + group_name + "\"");
      return;
    }
    // Weighted ECMP weighs by endpoints only under Local: with Cluster,
    // kube-proxy spreads every node's share over all endpoints anyway.
    if (spec && spec->weighted_ecmp && local_policy) {
      it->second.weighted = true;
      it->second.endpoints += count_on(node_);
    }
    route_peers_[prefix] = std::move(peers);
  }

  void plan_local(const kube::service& s, const allocator::ip_address& addr, bool local_policy,
                  const endpoint_map& endpoints,
                  std::vector<std::string>& nodes) {
    const ip_family fam = addr.family;
    if (local_policy && !truthy(s.meta.annotations, annotation::allow_local)) {
      warn_service(s, "LocalPolicyRefused",
                   "externalTrafficPolicy Local on local address " + addr.to_string() +
                       " is refused: traffic would enter through a node without endpoints; annotate " +
                       annotation::allow_local + "=true to elect among nodes with ready endpoints");
      return;
    }
    auto text = addr.to_string();
    boost::system::error_code ec;
    auto nl_addr = boost::asio::ip::make_address(text, ec);
    if (ec) return;
    std::vector<std::string> candidates;
    for (auto& n : live_list_) {
      if (excluded(n)) continue;
      auto lease = leases_.find(n);
      bool on_subnet = lease != leases_.end() && std::any_of(lease->second->subnets.begin(), lease->second->subnets.end(),
                                                             [&](auto& sn) { return sn.contains(nl_addr); });
      if (!on_subnet) continue;
      if (local_policy) {
        auto it = endpoints.find(n);
        if (it == endpoints.end() || it->second[index_of(fam)] == 0) continue;
      }
      candidates.push_back(n);
    }
    auto winner = rendezvous_winner(text, candidates);
    if (!winner) {
      warn_service(s, "NoCandidateNode",
                   "no live node has a subnet containing " + text + (local_policy ? " and a ready endpoint" : ""));
      return;
    }
    nodes.push_back(*winner);
    if (*winner != node_) return;
    auto sn = std::find_if(facts_.local_subnets.begin(), facts_.local_subnets.end(),
                           [&](auto& x) { return x.contains(nl_addr); });
    if (sn == facts_.local_subnets.end()) {
      // The Lease said otherwise (it lags the interface): do not guess a length.
      warn_service(s, "SubnetMismatch",
                   "node " + node_ + " won " + text + " but interface " + facts_.local_interface +
                       " has no subnet containing it; the Lease will catch up",
                   false);
      return;
    }
    add_address(plan_.local_addresses, local_index_, nl_addr, sn->prefix_len, s, true);
  }

  void add_address(std::vector<planned_address>& list, address_index& index, const netlink::ip_address& a,
                   std::uint8_t len, const kube::service& s, bool local) {
    auto key = s.meta.ns + "/" + s.meta.name;
    auto [at, fresh] = index.try_emplace(a, list.size());
    if (!fresh) {  // a shared address: one entry, both Services
      list[at->second].services.push_back(std::move(key));
      return;
    }
    planned_address p;
    p.spec.address = a;
    p.spec.prefix_len = len;
    p.spec.noprefixroute = plan_.settings.noprefixroute;
    p.spec.nodad = a.is_v6();  // the address is ours by election or is virtual: no DAD delay
    const auto& st = plan_.settings;
    if (local) {
      // Finite, renewed while this node wins (the agent re-applies the plan),
      // and deprecated (preferred 0) so the node never sources traffic from it.
      p.spec.valid_lifetime = st.valid_lifetime ? st.valid_lifetime : default_local_valid_lifetime;
      p.spec.preferred_lifetime = 0;
    } else {
      p.spec.valid_lifetime = st.valid_lifetime ? st.valid_lifetime : netlink::infinite_lifetime;
      p.spec.preferred_lifetime = st.preferred_lifetime ? st.preferred_lifetime : p.spec.valid_lifetime;
    }
    p.services.push_back(std::move(key));
    list.push_back(std::move(p));
  }

  // ---- routes ----
  void emit_routes() {
    // One attribute object per distinct attribute set (route_list shares
    // them), built once per set. The key refers into routes_ and
    // route_peers_, which outlive the map.
    using attrs_key = std::tuple<const std::string&, const std::vector<bgp::wire::ip_address>&, bool, std::size_t>;
    std::map<attrs_key, bgp::attrs_ref> shared;
    for (auto& [prefix, entry] : routes_) {
      const auto& peers = route_peers_[prefix];
      auto [it, fresh] =
          shared.try_emplace(attrs_key{entry.group, peers, entry.weighted, entry.weighted ? entry.endpoints : 0});
      if (fresh) it->second = route_attrs_of(entry, peers);
      plan_.speaker.routes.emplace_back(prefix, it->second);
    }
  }
  bgp::attrs_ref route_attrs_of(const route_entry& entry, const std::vector<bgp::wire::ip_address>& peers) const {
    bgp::route_attrs a;
    if (entry.spec) {
      for (auto& c : entry.spec->communities)
        if (auto v = parse_community(c)) a.communities.push_back(*v);
      for (auto& c : entry.spec->large_communities)
        if (auto v = bgp::wire::large_community::parse(c)) a.large_communities.push_back(*v);
      a.local_pref = entry.spec->local_pref;
      a.med = entry.spec->med;
    }
    if (entry.weighted) {
      // 2-octet AS field: AS_TRANS for 4-octet ASNs (RFC 6793 §9).
      auto asn = plan_.speaker.local_asn <= 0xffff ? static_cast<std::uint16_t>(plan_.speaker.local_asn)
                                                   : bgp::wire::as_trans;
      a.ext_communities.push_back(bgp::wire::make_link_bandwidth(
          {asn, static_cast<float>(entry.endpoints) * bandwidth_per_endpoint, true}));
    }
    a.peers = peers;
    return std::make_shared<const bgp::route_attrs>(std::move(a));
  }

  const cluster_state& state_;
  std::string node_;
  const node_facts& facts_;
  node_plan plan_;
  std::map<std::string, const kube::node*> nodes_;
  std::map<std::string, const node_lease*> leases_;
  std::set<std::string> live_;
  std::vector<std::string> live_list_;  // sorted
  std::vector<const bgp_peer*> usable_peers_;  // valid, password available, first of its address
  std::vector<const bgp_peer*> my_peers_;      // of those, the ones selecting this node
  std::map<std::string, std::pair<std::string, std::string>> peer_problems_;  // ns/name → reason, message
  std::map<std::string, slice_list, std::less<>> slices_;  // by "ns/service"
  std::map<std::string, std::array<bool, 2>, std::less<>> peers_family_;
  std::array<std::optional<std::vector<std::string>>, 2> cluster_announcers_;
  std::map<bgp::wire::ip_prefix, route_entry> routes_;
  std::map<bgp::wire::ip_prefix, std::vector<bgp::wire::ip_address>> route_peers_;
  // Where each address sits in plan_.dummy_addresses / local_addresses, so a
  // shared address finds its entry without a scan of the list (the scan made
  // a 10,000-Service plan quadratic: half its time).
  address_index dummy_index_, local_index_;
  std::size_t prepared_diagnostics_ = 0;  // the node-wide ones, which plan_one keeps
};

bool herald_service(const kube::service& s, std::string_view allocated_by) {
  if (s.type != "LoadBalancer" || s.meta.deleting) return false;
  auto by = s.meta.annotations.find(allocator::annotation::allocated_by);
  return by != s.meta.annotations.end() && by->second == allocated_by;
}

bool service_can_change_plan(const kube::service& s, std::string_view allocated_by) {
  return herald_service(s, allocated_by) &&
         (!s.ingress.empty() || s.meta.annotations.contains(annotation::announcing_v4) ||
          s.meta.annotations.contains(annotation::announcing_v6));
}

bool only_announcing_changed(const kube::service& before, const kube::service& after) {
  kube::service same = after;
  same.meta.resource_version = before.meta.resource_version;
  for (const char* key : {annotation::announcing_v4, annotation::announcing_v6}) {
    same.meta.annotations.erase(key);
    if (auto it = before.meta.annotations.find(key); it != before.meta.annotations.end())
      same.meta.annotations.insert(*it);
  }
  return same == before;
}

group_entry group_entry_from(const kube::custom_resource& object) {
  group_entry e;
  auto spec = allocator::parse_group_spec(object.spec);
  if (spec) e.spec = std::move(*spec);
  else e.error = spec.error();
  return e;
}

node_agent_settings settings_for_node(const cluster_state& state, std::string_view node_name) {
  const kube::string_map* labels = &no_labels();
  for (auto& n : state.nodes)
    if (n.meta.name == node_name) labels = &n.meta.labels;
  const node_agent_settings* best = nullptr;
  for (auto& s : state.node_agents) {
    if (!s.node_selector.matches(*labels)) continue;
    // A specific selector beats a catch-all; among equals the first by name.
    auto rank = [](const node_agent_settings& x) { return x.node_selector.empty() ? 1 : 0; };
    if (!best || std::make_pair(rank(s), s.name) < std::make_pair(rank(*best), best->name)) best = &s;
  }
  return best ? *best : node_agent_settings{};
}

node_plan plan_node(const cluster_state& state, std::string_view node_name, const node_facts& facts) {
  return planner(state, node_name, facts).run();
}

service_planner::service_planner(cluster_state state, std::string_view node_name, node_facts facts)
    : state_(std::move(state)), facts_(std::move(facts)), impl_(std::make_unique<planner>(state_, node_name, facts_)) {
  impl_->prepare();
}
service_planner::~service_planner() = default;

const node_plan& service_planner::plan(const kube::service& s, const std::vector<kube::endpoint_slice>& slices) {
  return impl_->plan_one(s, slices);
}

std::optional<service_additions> additions_only(
    const node_plan& single, const std::function<bool(const netlink::ip_address&)>& on_dummy_link,
    const std::function<bool(const bgp::wire::ip_prefix&)>& announced,
    const std::function<bool(const bgp::wire::ip_prefix&)>& other_service_in) {
  // Local addresses are elected over the node Leases: the full plan's.
  if (!single.local_addresses.empty() || single.dummy_addresses.empty()) return std::nullopt;
  for (const auto& a : single.dummy_addresses)
    if (on_dummy_link(a.spec.address)) return std::nullopt;
  for (const auto& [prefix, attrs] : single.speaker.routes)
    if (announced(prefix) || other_service_in(prefix)) return std::nullopt;
  return service_additions{single.dummy_addresses, single.speaker.routes};
}

std::optional<std::string> rendezvous_winner(std::string_view key, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  std::uint64_t best_hash = 0;
  for (auto& c : candidates) {
    auto h = stable_hash(key, c);
    if (!best || h > best_hash || (h == best_hash && c < *best)) best = &c, best_hash = h;
  }
  if (!best) return std::nullopt;
  return *best;
}

std::array<std::size_t, 2> ready_local_endpoints(const cluster_state& state, std::string_view ns,
                                                 std::string_view name, std::string_view node) {
  slice_list slices;
  for (auto& sl : state.endpoint_slices)
    if (sl.meta.ns == ns && sl.service_name() == name) slices.push_back(&sl);
  auto counts = endpoint_counts(slices);
  auto it = counts.find(node);
  return it == counts.end() ? std::array<std::size_t, 2>{0, 0} : it->second;
}

std::chrono::milliseconds plan_delay(std::optional<std::chrono::steady_clock::time_point> last_plan_done,
                                     std::chrono::milliseconds window, bool applied_early,
                                     std::chrono::steady_clock::time_point now) {
  if (applied_early) return window;
  if (!last_plan_done) return std::chrono::milliseconds(0);
  auto since = std::chrono::duration_cast<std::chrono::milliseconds>(now - *last_plan_done);
  return since >= window ? std::chrono::milliseconds(0) : window - since;
}

lease_expiry_check check_lease_expiry(const std::vector<std::chrono::steady_clock::time_point>& live_expiries,
                                      std::chrono::steady_clock::time_point now) {
  lease_expiry_check out;
  for (auto expires : live_expiries) {
    if (expires <= now) return {true, std::nullopt};
    if (!out.next || expires < *out.next) out.next = expires;
  }
  return out;
}

}  // namespace herald::agent
