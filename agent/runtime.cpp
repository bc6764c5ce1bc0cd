// The node agent's runtime: informers → debounced plan → apply, the node
// Lease, annotations and Events (see runtime.hpp).
#include "agent/runtime.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <ctime>
#include <tuple>

#include "kube/election.hpp"
#include "kube/writes.hpp"

namespace herald::agent {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

const kube::resource servicegroups{"herald.dev", "v1", "servicegroups", true};
const kube::resource bgppeers{"herald.dev", "v1", "bgppeers", true};
const kube::resource lbnodeagents{"herald.dev", "v1", "lbnodeagents", true};

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::string api_version_of(const std::string& kind) {
  if (kind == "Service" || kind == "Node" || kind == "Secret") return "v1";
  return "herald.dev/v1";
}

}  // namespace

std::shared_ptr<node_agent> node_agent::create(asio::any_io_executor ex, std::shared_ptr<kube::client> c,
                                               agent_options o, netlink::rtnl& nl, bgp::speaker& sp) {
  return std::shared_ptr<node_agent>(new node_agent(std::move(ex), std::move(c), std::move(o), nl, sp));
}

node_agent::node_agent(asio::any_io_executor ex, std::shared_ptr<kube::client> c, agent_options o, netlink::rtnl& nl,
                       bgp::speaker& sp)
    : ex_(ex),
      client_(std::move(c)),
      opt_(std::move(o)),
      nl_(nl),
      sp_(sp),
      plan_timer_(ex),
      expiry_timer_(ex),
      lease_timer_(ex) {
  applier_options ao;
  if (opt_.bgp_listen) ao.bgp_listen = bgp::wire::ip_address::parse(*opt_.bgp_listen);
  ao.bgp_port = opt_.bgp_port;
  ao.drain = opt_.drain;
  applier_ = std::make_unique<applier>(ex_, nl_, sp_, ao);
  recorder_ = std::make_unique<kube::event_recorder>(client_, "herald-agent", opt_.node_name);
}

node_agent::~node_agent() = default;

template <class T>
std::shared_ptr<kube::informer<T>> node_agent::watch(const kube::resource& r, bool own_namespace, change_kind kind,
                                                     std::function<bool(const T&, const T&)> update_matters,
                                                     std::function<bool(const T* before, const T& after)> fast_path,
                                                     std::function<void(const T* before, const T* after)> observe,
                                                     std::function<bool(const T&)> can_change_plan) {
  std::weak_ptr<node_agent> weak = weak_from_this();
  // A change between states of which neither can change a plan is counted
  // and goes no further: on a busy cluster most Service and EndpointSlice
  // changes are not Herald's, and each would cost every node a full plan.
  auto plannable = [weak, can_change_plan, resource = std::string(r.plural)](const T* before, const T* after) {
    if (!can_change_plan || (before && can_change_plan(*before)) || (after && can_change_plan(*after))) return true;
    if (auto self = weak.lock()) ++self->changes_not_planned_[resource];
    return false;
  };
  auto poke = [weak, kind] {
    if (auto self = weak.lock()) self->changed(kind);
  };
  auto poke_fast = [weak, kind, fast_path](const T* before, const T& after) {
    auto self = weak.lock();
    if (!self) return;
    bool early = false;
    try {
      early = fast_path && fast_path(before, after);
    } catch (...) {
      // The full plan below still runs for this change: it is the authority.
      spdlog::error("agent: the fast path for {} failed: {}; the full plan handles it", after.meta.key(),
                    kube::exception_text(std::current_exception()));
    }
    self->changed(early ? change_kind::applied_early : kind);
  };
  // observe sees every change, before anything else looks at it.
  kube::informer_handlers<T> h;
  h.on_add = [poke_fast, observe, plannable](const T& object) {
    if (observe) observe(nullptr, &object);
    if (plannable(nullptr, &object)) poke_fast(nullptr, object);
  };
  h.on_update = [poke_fast, update_matters, observe, plannable](const T& before, const T& after) {
    if (observe) observe(&before, &after);
    if ((!update_matters || update_matters(before, after)) && plannable(&before, &after)) poke_fast(&before, after);
  };
  h.on_delete = [poke, observe, plannable](const T& object) {
    if (observe) observe(&object, nullptr);
    if (plannable(&object, nullptr)) poke();
  };
  kube::informer_options io;
  if (own_namespace) io.ns = opt_.ns;
  auto inf = kube::informer<T>::create(client_, r, io, std::move(h));
  inf->on_list_done = poke;  // the first list of the last informer to sync starts planning
  informers_.emplace_back(r.plural, inf);
  return inf;
}

void node_agent::start() {
  std::weak_ptr<node_agent> weak = weak_from_this();
  // Only a Service whose addresses changed may take the fast path: the
  // agents' own annotation writes come back as updates of every announced
  // Service, and planning each again would be wasted.
  const std::string allocated_by = cluster_state{}.allocated_by;
  // An update that changed only the announcing annotations (an agent's own
  // write, coming back to every agent) is settled against the last plan
  // instead of planning again: the planner does not read them.
  auto service_update_matters = [weak](const kube::service& before, const kube::service& after) {
    auto self = weak.lock();
    return !self || !only_announcing_changed(before, after) || !self->announcing_update_settled(after);
  };
  services_ = watch<kube::service>(kube::resources::services, false, change_kind::services, service_update_matters,
                                   [weak](const kube::service* before, const kube::service& after) {
                                     auto self = weak.lock();
                                     if (!self || (before && before->ingress == after.ingress)) return false;
                                     return self->apply_service_early(after);
                                   },
                                   [weak](const kube::service* before, const kube::service* after) {
                                     if (auto self = weak.lock()) self->service_addresses_.update(before, after);
                                   },
                                   [allocated_by](const kube::service& s) {
                                     return service_can_change_plan(s, allocated_by);
                                   });
  // The planner reads a Service's slices only under externalTrafficPolicy
  // Local (endpoints per node), and only for a Service it plans.
  slices_ = watch<kube::endpoint_slice>(kube::resources::endpoint_slices, false, change_kind::services, {}, {},
                                        [weak](const kube::endpoint_slice* before, const kube::endpoint_slice* after) {
                                          if (auto self = weak.lock()) self->service_slices_.update(before, after);
                                        },
                                        [weak, allocated_by](const kube::endpoint_slice& slice) {
                                          auto self = weak.lock();
                                          if (!self) return false;
                                          auto service = self->services_->cache().get(slice.meta.ns, slice.service_name());
                                          return service && service->external_traffic_policy == "Local" &&
                                                 service_can_change_plan(*service, allocated_by);
                                        });
  nodes_ = watch<kube::node>(kube::resources::nodes, false);
  // The planner reads a ServiceGroup's and an LBNodeAgent's spec only, and
  // the allocator rewrites a group's status (its address counts) after
  // allocations: such an update neither replans nor holds the fast path
  // back. A BGPPeer's status is the agents' own and still replans, so a
  // status someone else wrote is corrected.
  auto spec_changed = [](const kube::custom_resource& before, const kube::custom_resource& after) {
    return before.spec != after.spec;
  };
  groups_ = watch<kube::custom_resource>(servicegroups, true, change_kind::cluster, spec_changed);
  // Every namespace: a BGPPeer outside Herald's is refused by name (status,
  // Event, log) rather than silently never seen (parse_bgp_peer).
  peers_ = watch<kube::custom_resource>(bgppeers, false);
  node_agents_ = watch<kube::custom_resource>(lbnodeagents, true, change_kind::cluster, spec_changed);
  secrets_ = watch<kube::secret>(kube::resources::secrets, true);
  leases_ = watch<kube::lease>(kube::resources::leases, true, change_kind::cluster, [weak](const kube::lease& before, const kube::lease& after) {
    auto self = weak.lock();
    return !self || self->lease_update_matters(before, after);
  });
  for (auto& [name, inf] : informers_) inf->start();

  auto ev = netlink::event_stream::open(ex_);
  if (!ev) {
    spdlog::warn("agent: no netlink event stream ({}); drift is repaired only on the next plan", ev.error().message);
  } else {
    events_ = *ev;
    events_->start([weak](const netlink::event& e) {
      auto self = weak.lock();
      if (!self || self->stopped_) return;
      self->applier_->on_netlink_event(e);
      // The node's own addresses and links feed node_facts (local subnets,
      // router ID): replan when they change; Herald's own changes do not.
      if (auto* a = std::get_if<netlink::address_event>(&e)) {
        if (!self->nl_.owns(a->address)) self->changed();
      } else if (std::holds_alternative<netlink::link_event>(e)) {
        self->changed();
      }
    });
  }
  asio::co_spawn(ex_, renew_lease_loop(), asio::detached);
  spdlog::info("agent: node {}, namespace {}: watching; nothing is planned until every informer has synced",
               opt_.node_name, opt_.ns);
}

void node_agent::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& [name, inf] : informers_) inf->stop();
  if (events_) events_->stop();
  plan_timer_.cancel();
  expiry_timer_.cancel();
  lease_timer_.cancel();
  applier_->stop();
}

void node_agent::shutdown(std::function<void()> done) {
  if (stopped_) {
    if (done) done();
    return;
  }
  applier_->release_local();
  stop();
  asio::co_spawn(ex_, delete_lease(), [self = shared_from_this(), done = std::move(done)](std::exception_ptr) {
    if (done) done();
  });
}

asio::awaitable<void> node_agent::delete_lease() {
  auto self = shared_from_this();
  auto name = node_lease_name(opt_.node_name);
  kube::request_options req;
  req.method = kube::http::verb::delete_;
  req.target = kube::resources::leases.path(opt_.ns, name);
  auto r = co_await client_->request_json(req);
  if (r || r.error().not_found()) {
    spdlog::info("agent: Lease {} deleted: the other nodes take over this node's local addresses", name);
  } else {
    ++figures_.kube_write_errors;
    spdlog::warn("agent: cannot delete Lease {}: {}; it expires in {} s", name, r.error().message,
                 node_lease_duration.count());
  }
}

bool node_agent::all_synced() const {
  return std::all_of(informers_.begin(), informers_.end(), [](const auto& i) { return i.second->synced(); });
}

bool node_agent::lease_update_matters(const kube::lease& before, const kube::lease& after) {
  // Every node renews its Lease every 10 s; with 10,000 Services a plan costs
  // ~100 ms, so replanning on each renewal kept the agents busy at rest. A
  // renewal changes a plan only when the Lease had expired by this agent's
  // clock (the node comes back); otherwise note when it was seen, which is
  // all the next plan reads from it (build_state), and plan nothing. The
  // expiry timer armed by the last plan fires at the old expiry, finds the
  // renewal noted here and waits for the new expiry (lease_expiry_due).
  if (!parse_node_lease(before) && !parse_node_lease(after)) return false;  // the allocator's election Lease
  if (before.holder_identity != after.holder_identity ||
      before.lease_duration_seconds != after.lease_duration_seconds || before.meta.annotations != after.meta.annotations)
    return true;
  auto it = lease_seen_.find(after.meta.name);
  if (it == lease_seen_.end() || it->second.renew_time != before.renew_time) return true;  // no plan saw it yet
  auto now = std::chrono::steady_clock::now();
  if (it->second.at + std::chrono::seconds(before.lease_duration_seconds) <= now) return true;  // expired: live again
  it->second.renew_time = after.renew_time;
  it->second.at = now;
  return false;
}

void node_agent::changed(change_kind kind) {
  if (stopped_) return;
  if (kind == change_kind::cluster) last_state_stale_ = true;
  auto now = std::chrono::steady_clock::now();
  if (!change_seen_) change_seen_ = now;
  // The window is never shorter than the last plan took: where plans are
  // slow (10,000 Services: ~80 ms) a stream of events then costs at most
  // half the thread (plan_delay: leading edge, then the window's end).
  auto window = std::max(opt_.debounce, last_plan_took_);
  schedule(plan_delay(last_plan_done_, window, kind == change_kind::applied_early, now));
}

bool node_agent::apply_service_early(const kube::service& s) {
  // Only against a current picture: no change but to Services and
  // EndpointSlices since the last full plan, whose result is applied.
  // Changes to other Services pending meanwhile are no obstacle:
  // additions_only() reads their addresses from the cache and refuses a
  // prefix any of them shares.
  if (stopped_ || !ready_ || !fast_planner_ || last_state_stale_ || s.ingress.empty()) return false;
  if (fast_paths_since_plan_ >= max_fast_paths_per_plan) return false;
  std::vector<kube::endpoint_slice> slices;
  if (s.external_traffic_policy == "Local")  // endpoints count only under Local
    slices = service_slices_.slices_of(s, slices_->cache());
  const auto& single = fast_planner_->plan(s, slices);

  auto announced = [&](const bgp::wire::ip_prefix& p) { return sp_.routes().find(p) != nullptr; };
  auto shared = [&](const bgp::wire::ip_prefix& p) { return service_addresses_.other_service_in(p, s); };
  auto on_dummy_link = [&](const netlink::ip_address& a) { return applier_->dummy_wants(a); };
  auto add = additions_only(single, on_dummy_link, announced, shared);
  if (!add) return false;
  std::vector<netlink::address_spec> specs;
  for (const auto& a : add->addresses) specs.push_back(a.spec);
  auto report = applier_->add(std::move(specs), std::move(add->routes));
  for (const auto& e : report.errors) spdlog::warn("agent: {}", e);
  ++figures_.fast_path_applies;
  ++fast_paths_since_plan_;
  log_decisions(single, false);
  return true;
}

void node_agent::schedule(std::chrono::milliseconds delay) {
  if (stopped_ || plan_pending_) return;
  plan_pending_ = true;
  plan_timer_.expires_after(delay);
  plan_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!self || ec) return;
    self->plan_pending_ = false;
    self->run_plan();
  });
}

cluster_state node_agent::build_state() {
  cluster_state s;
  s.herald_namespace = opt_.ns;
  auto now = std::chrono::steady_clock::now();
  // API unreachable: freeze the clock at the last renewal, so that other
  // nodes' Leases do not seem to expire only because this node cannot see them.
  s.now = (!api_reachable_ && last_renewal_) ? *last_renewal_ : now;
  s.services.reserve(services_->cache().size());
  for (const auto& [key, o] : services_->cache().objects()) s.services.push_back(o);
  s.endpoint_slices.reserve(slices_->cache().size());
  for (const auto& [key, o] : slices_->cache().objects()) s.endpoint_slices.push_back(o);
  for (const auto& o : nodes_->cache().list()) s.nodes.push_back(*o);
  for (const auto& o : groups_->cache().list()) s.groups[o->meta.name] = group_entry_from(*o);
  for (const auto& o : peers_->cache().list()) {
    auto p = parse_bgp_peer(*o, opt_.ns);
    if (p) s.peers.push_back(std::move(*p));
    else s.invalid.push_back({"BGPPeer", o->meta.ns, o->meta.name, p.error()});
  }
  for (const auto& o : node_agents_->cache().list()) {
    auto a = parse_lb_node_agent(*o);
    if (a) s.node_agents.push_back(std::move(*a));
    else s.invalid.push_back({"LBNodeAgent", o->meta.ns, o->meta.name, a.error()});
  }
  for (const auto& o : secrets_->cache().list()) s.secrets.push_back(*o);
  std::map<std::string, lease_seen> seen;
  for (const auto& o : leases_->cache().list()) {
    auto l = parse_node_lease(*o);
    if (!l) continue;  // not a node Lease (the allocator's election Lease lives here too)
    auto it = lease_seen_.find(o->meta.name);
    auto at = (it != lease_seen_.end() && it->second.renew_time == o->renew_time) ? it->second.at : now;
    const std::chrono::seconds duration(o->lease_duration_seconds);
    l->expires = at + duration;
    seen[o->meta.name] = {o->renew_time, at, duration, l->expires > s.now};
    s.leases.push_back(std::move(*l));
  }
  lease_seen_ = std::move(seen);
  return s;
}

node_facts node_agent::gather_facts(const node_agent_settings& settings) {
  node_facts f;
  netlink::nl_result<netlink::link_info> link = netlink::netlink_error{};
  if (settings.local_interface == "default") {
    link = nl_.default_route_interface(netlink::family::ipv4);
    if (!link) link = nl_.default_route_interface(netlink::family::ipv6);
  } else {
    auto links = nl_.links_matching(settings.local_interface);
    if (links && !links->empty()) link = links->front();
  }
  if (!link) {
    spdlog::debug("agent: no local interface for '{}'", settings.local_interface);
    return f;
  }
  f.local_interface = link->name;
  auto addrs = nl_.list_addresses(*link);
  if (!addrs) return f;
  for (const auto& a : *addrs) {
    if (nl_.owns(a)) continue;  // service addresses are not the node's
    if (a.address.is_v6() && a.address.to_v6().is_link_local()) continue;
    f.addresses.push_back(a.address);
    netlink::subnet sn{netlink::network_of(a.address, a.prefix_len), a.prefix_len};
    if (std::find(f.local_subnets.begin(), f.local_subnets.end(), sn) == f.local_subnets.end())
      f.local_subnets.push_back(sn);
  }
  return f;
}

void node_agent::run_plan() {
  if (stopped_) return;
  if (!all_synced()) {
    change_seen_.reset();
    return;  // the last informer's list completion schedules the first plan
  }
  const auto started = std::chrono::steady_clock::now();
  auto t0 = change_seen_.value_or(started);
  change_seen_.reset();
  last_state_stale_ = false;  // this plan reads every input afresh
  fast_paths_since_plan_ = 0;
  auto state = build_state();
  auto settings = settings_for_node(state, opt_.node_name);
  auto facts = gather_facts(settings);
  if (facts.local_subnets != subnets_) {
    subnets_ = facts.local_subnets;
    lease_timer_.cancel();  // renew now with the new subnets (if a renewal is in flight, the loop goes again)
  }
  auto plan = plan_node(state, opt_.node_name, facts);
  ++figures_.plans;

  desired_node_state d;
  d.dummy.link = plan.dummy_link;
  for (const auto& a : plan.dummy_addresses) d.dummy.addresses.push_back(a.spec);
  d.local.link = plan.local_addresses.empty() ? std::string() : plan.local_link;
  for (const auto& a : plan.local_addresses) d.local.addresses.push_back(a.spec);
  d.garp_enabled = plan.settings.garp.enabled;
  d.garp.count = static_cast<unsigned>(std::max(1, plan.settings.garp.count));
  d.garp.interval = plan.settings.garp.interval;
  d.speaker = plan.speaker;
  auto report = applier_->apply(std::move(d));
  last_plan_done_ = std::chrono::steady_clock::now();
  last_plan_took_ = std::chrono::duration_cast<std::chrono::milliseconds>(*last_plan_done_ - started);
  for (const auto& e : report.errors) spdlog::warn("agent: {}", e);

  figures_.routes_held = report.routes_held.size();
  figures_.dummy_addresses = plan.dummy_addresses.size();
  figures_.local_addresses = plan.local_addresses.size();
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  reconcile_seconds_.observe(elapsed);
  log_decisions(plan);
  if (report.initial_complete_sent)
    spdlog::info("agent: first plan applied ({} routes, {} held): initial route set complete, End-of-RIB may go out",
                 report.routes_announced, report.routes_held.size());
  if (!ready_) {
    ready_ = true;
    spdlog::info("agent: ready");
  }
  write_annotations(plan);
  write_peer_statuses(plan);
  report_diagnostics(plan);
  arm_lease_expiry(state);
  keep_announcing(std::move(plan.announcing));
  fast_planner_.reset();  // the fast path adds to an applied picture only
  if (report.addresses_ok) {
    state.services = {};
    state.endpoint_slices = {};
    fast_planner_ = std::make_unique<service_planner>(std::move(state), opt_.node_name, std::move(facts));
  }
}

void node_agent::log_decisions(const node_plan& plan, bool complete) {
  // One line per address that starts or stops being served here, naming the
  // Services and the peers it goes to (routes go to the peers whose families
  // match; route_attrs.peers narrows that to selected peers). The log of the
  // last plans is updated in place, each entry marked with this call's
  // number, so a plan that changes nothing copies nothing.
  const auto mark = ++decisions_logged_;
  auto peers_for = [&](const netlink::address_spec& spec) {
    // The address's own route: its prefix at the address's length. The
    // plan's routes are in prefix order (node_plan), so a binary search.
    bgp::wire::ip_prefix prefix{to_wire(spec.address), spec.prefix_len};
    prefix.addr = prefix.first();
    const auto& routes = plan.speaker.routes;
    auto r = std::lower_bound(routes.begin(), routes.end(), prefix,
                              [](const auto& route, const bgp::wire::ip_prefix& p) { return route.first < p; });
    std::vector<std::string> names;
    if (r != routes.end() && r->first == prefix)
      for (const auto& peer : plan.speaker.peers)
        if (r->second->for_peer(peer.address)) names.push_back(peer.name());
    return names.empty() ? std::string("no peer") : join(names);
  };
  for (const auto* list : {&plan.dummy_addresses, &plan.local_addresses})
    for (const auto& a : *list) {
      auto [it, fresh] = last_addresses_.try_emplace({a.spec.address, a.spec.prefix_len});
      it->second.mark = mark;
      if (!fresh && it->second.services == a.services) continue;
      it->second.services = a.services;
      auto cidr = a.spec.to_string();
      if (list == &plan.local_addresses)
        spdlog::info("agent: serving {} for {} on {} (local: gratuitous ARP / NA)", cidr, join(a.services),
                     plan.local_link);
      else
        spdlog::info("agent: announcing {} for {} from {} to {}", cidr, join(a.services), plan.dummy_link,
                     peers_for(a.spec));
    }
  if (!complete) return;  // a fast-path plan adds; the next full plan says what went
  for (auto it = last_addresses_.begin(); it != last_addresses_.end();) {
    if (it->second.mark == mark) {
      ++it;
      continue;
    }
    spdlog::info("agent: withdrawing {} (was for {}): no longer planned on this node",
                 netlink::to_cidr(it->first.first, it->first.second), join(it->second.services));
    it = last_addresses_.erase(it);
  }
}

void node_agent::write_annotations(const node_plan& plan) {
  announcing_writes_.plan_starts();
  for (const auto& a : plan.announcing) write_announcing(a);
}

void node_agent::keep_announcing(std::vector<service_announcing> announcing) {
  // Moved, not copied (a map built per plan cost each agent ~1 s of CPU over
  // benchmark 5's convergence at 10,000 Services); the plan lists them by
  // (namespace, name), the order last_announcing_of searches.
  last_announcing_ = std::move(announcing);
}

const service_announcing* node_agent::last_announcing_of(const std::string& ns, const std::string& name) const {
  auto it = std::lower_bound(last_announcing_.begin(), last_announcing_.end(), std::tie(ns, name),
                             [](const service_announcing& a, const auto& key) { return std::tie(a.ns, a.name) < key; });
  return it == last_announcing_.end() || it->ns != ns || it->name != name ? nullptr : &*it;
}

bool node_agent::announcing_update_settled(const kube::service& s) {
  // A pending plan writes the annotations itself; without an applied plan,
  // or for a Service the last plan did not hold, plan as for any change.
  if (stopped_ || !ready_ || plan_pending_) return false;
  const auto* last = last_announcing_of(s.meta.ns, s.meta.name);
  if (!last) return false;
  ++changes_not_planned_[kube::resources::services.plural];
  write_announcing(*last);
  return true;
}

void node_agent::write_announcing(const service_announcing& a) {
  if (a.writer != opt_.node_name) return;
  // Kept before the diff below: a plan that wants back what the informer
  // still holds must be written after a write of other nodes.
  if (announcing_writes_.defer(a.ns, a.name, a)) return;
  auto svc = services_->cache().get(a.ns, a.name);
  if (!svc) return;
  // Called for every Service this node writes on every plan: nothing is
  // copied unless a value differs.
  kube::annotation_changes changes;
  auto want = [&](const char* ann, const std::vector<std::string>& nodes) {
    auto it = svc->meta.annotations.find(ann);
    const bool present = it != svc->meta.annotations.end();
    if (nodes.empty()) {
      if (present) changes[ann] = std::nullopt;
      return;
    }
    auto value = join(nodes);
    if (!present || it->second != value) changes[ann] = std::move(value);
  };
  want(annotation::announcing_v4, a.v4_nodes);
  want(annotation::announcing_v6, a.v6_nodes);
  if (changes.empty()) return;
  announcing_writes_.start(a.ns, a.name);
  asio::co_spawn(ex_, patch_announcing(a, std::move(changes), svc->meta.resource_version), asio::detached);
}

asio::awaitable<void> node_agent::patch_announcing(service_announcing planned, kube::annotation_changes changes,
                                                   std::string rv) {
  auto self = shared_from_this();
  const std::string& ns = planned.ns;
  const std::string& name = planned.name;
  std::optional<std::string> precondition = rv;
  auto r = co_await kube::patch_annotations(*client_, kube::resources::services, ns, name, changes, precondition);
  auto wanted_since = announcing_writes_.finish(ns, name, planned);
  if (stopped_) co_return;
  if (r) {
    ++figures_.annotation_writes;
    std::string text;
    for (const auto& [k, v] : changes) text += " " + k + "=" + v.value_or("(removed)");
    spdlog::info("agent: Service {}/{}:{}", ns, name, text);
    // Issue 8: the nodes that answer for a Service (the ECMP set, or a local
    // address's elected node) are an Event on change; only the plan's single
    // writer gets here, so there is one Event per change.
    kube::object_reference ref{"Service", "v1", ns, name, "", ""};
    std::string message = "announcing nodes:" + text;
    recorder_->post(std::move(ref), "Normal", "AnnouncingNodesChanged", message);
    // The common case (no plan in between, or the same nodes) writes nothing.
    if (wanted_since) write_announcing(*wanted_since);
  } else if (r.error().conflict()) {
    // Someone wrote in between; the informer brings the new version and a new plan.
    ++figures_.annotation_conflicts;
    spdlog::debug("agent: Service {}/{}: annotation patch conflicted; replanning", ns, name);
    changed();
  } else if (!r.error().not_found()) {
    ++figures_.kube_write_errors;
    spdlog::warn("agent: Service {}/{}: cannot write announcing annotations: {}; retrying", ns, name,
                 r.error().message);
    schedule(5s);
  }
}

void node_agent::write_peer_statuses(const node_plan& plan) {
  peer_status_writes_.plan_starts();
  for (const auto& st : plan.peer_statuses) write_peer_status(st);
}

void node_agent::write_peer_status(const peer_status& st) {
  // Only what differs from the stored status is written (a steady cluster
  // writes nothing); the informer brings our write back before the next diff.
  if (peer_status_writes_.defer(st.ns, st.name, st)) return;
  auto peer = peers_->cache().get(st.ns, st.name);
  if (!peer) return;
  nlohmann::json condition = {{"type", "Accepted"},
                              {"status", st.accepted ? "True" : "False"},
                              {"reason", st.reason},
                              {"message", st.message}};
  nlohmann::json desired = {{"conditions", nlohmann::json::array({condition})}};
  auto body = kube::status_update(std::move(desired), peer->status, {},
                                  kube::format_time(std::chrono::system_clock::now()));
  if (!body) return;
  peer_status_writes_.start(st.ns, st.name);
  asio::co_spawn(ex_, patch_peer_status(st, std::move(*body)), asio::detached);
}

asio::awaitable<void> node_agent::patch_peer_status(peer_status planned, nlohmann::json status) {
  auto self = shared_from_this();
  const std::string& ns = planned.ns;
  const std::string& name = planned.name;
  const std::optional<std::string> no_precondition;  // one writer per BGPPeer: the plan's rendezvous winner
  auto r = co_await kube::patch_custom_status(*client_, bgppeers, ns, name, status, no_precondition);
  auto wanted_since = peer_status_writes_.finish(ns, name, planned);
  if (stopped_) co_return;
  if (r) {
    ++figures_.peer_status_writes;
    spdlog::info("agent: BGPPeer {}/{}: status Accepted={} ({})", ns, name,
                 status["conditions"][0]["status"].get<std::string>(),
                 status["conditions"][0]["reason"].get<std::string>());
    if (wanted_since) write_peer_status(*wanted_since);  // as for the annotations
  } else if (!r.error().not_found()) {
    ++figures_.kube_write_errors;
    spdlog::warn("agent: BGPPeer {}/{}: cannot write its status: {}; retrying", ns, name, r.error().message);
    schedule(5s);
  }
}

void node_agent::report_diagnostics(const node_plan& plan) {
  // Logged once when it appears (not on every plan), and sent as an Event
  // when the planner says this node is the one to report it.
  std::set<std::string> now;
  for (const auto& diag : plan.diagnostics) {
    const auto& d = diag.event;
    bool warning = d.type == allocator::event_type::warning;
    auto key = d.kind + "/" + d.ns + "/" + d.name + "/" + d.reason + "/" + d.message;
    now.insert(key);
    if (reported_.count(key)) continue;
    if (warning) spdlog::warn("agent: {} {}/{}: {}: {}", d.kind, d.ns, d.name, d.reason, d.message);
    else spdlog::info("agent: {} {}/{}: {}: {}", d.kind, d.ns, d.name, d.reason, d.message);
    if (!diag.emit_event) continue;
    kube::object_reference ref{d.kind, api_version_of(d.kind), d.ns, d.name, "", ""};
    recorder_->post(std::move(ref), warning ? "Warning" : "Normal", d.reason, d.message);
  }
  reported_ = std::move(now);
}

void node_agent::arm_lease_expiry(const cluster_state& state) {
  // Replan when the next live Lease expires, so a dead node's local
  // addresses move; not while this node cannot reach the API server.
  std::optional<std::chrono::steady_clock::time_point> next;
  for (const auto& l : state.leases)
    if (l.expires > state.now && (!next || l.expires < *next)) next = l.expires;
  expiry_timer_.cancel();
  if (!next || !api_reachable_) return;
  wait_for_lease_expiry(*next);
}

void node_agent::wait_for_lease_expiry(std::chrono::steady_clock::time_point when) {
  expiry_timer_.cancel();
  expiry_timer_.expires_at(when + 10ms);
  expiry_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (auto self = weak.lock(); self && !ec) self->lease_expiry_due();
  });
}

void node_agent::lease_expiry_due() {
  if (stopped_ || !api_reachable_) return;
  std::vector<std::chrono::steady_clock::time_point> expiries;
  for (const auto& [name, seen] : lease_seen_)
    if (seen.live_at_plan) expiries.push_back(seen.at + seen.duration);
  auto check = check_lease_expiry(expiries, std::chrono::steady_clock::now());
  if (check.replan) changed();
  else if (check.next) wait_for_lease_expiry(*check.next);
}

asio::awaitable<bool> node_agent::renew_lease_once() {
  auto self = shared_from_this();
  auto name = node_lease_name(opt_.node_name);
  nlohmann::json spec = {{"holderIdentity", opt_.node_name},
                         {"leaseDurationSeconds", node_lease_duration.count()},
                         {"renewTime", kube::format_micro_time(std::chrono::system_clock::now())}};
  // The subnets this request writes: the plan may find new ones while it is
  // in flight, and only what was sent counts as written.
  const auto subnets = subnets_;
  const bool write_subnets = subnets_written_ != subnets;
  nlohmann::json meta = {{"annotations", {{subnets_annotation, format_subnets(subnets)}}}};
  nlohmann::json patch = {{"spec", spec}};
  if (write_subnets) patch["metadata"] = meta;
  kube::request_options req;
  req.method = kube::http::verb::patch;
  req.target = kube::resources::leases.path(opt_.ns, name);
  req.body = patch.dump();
  req.content_type = "application/merge-patch+json";
  req.ahead = true;
  auto r = co_await client_->request_json(req);
  if (!r && r.error().not_found() && !stopped_) {  // not after shutdown deleted it
    nlohmann::json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                            {"kind", "Lease"},
                            {"metadata", {{"name", name}, {"namespace", opt_.ns}}},
                            {"spec", spec}};
    lease["metadata"]["annotations"] = meta["annotations"];
    kube::request_options create;
    create.method = kube::http::verb::post;
    create.target = kube::resources::leases.path(opt_.ns);
    create.body = lease.dump();
    create.content_type = "application/json";
    create.ahead = true;
    r = co_await client_->request_json(create);
  }
  if (!r) {
    ++figures_.kube_write_errors;
    co_return false;
  }
  if (write_subnets) subnets_written_ = subnets;
  co_return true;
}

asio::awaitable<void> node_agent::renew_lease_loop() {
  auto self = shared_from_this();
  while (!stopped_) {
    bool ok = co_await renew_lease_once();
    if (stopped_) break;
    auto now = std::chrono::steady_clock::now();
    if (ok) {
      ++figures_.lease_renewals;
      last_renewal_ = now;
      if (!api_reachable_) {
        spdlog::info("agent: API server reachable again: Lease {} renewed", node_lease_name(opt_.node_name));
        api_reachable_ = true;
        changed();
      }
    } else if (api_reachable_ && (!last_renewal_ || now - *last_renewal_ > node_lease_renew + 5s)) {
      api_reachable_ = false;
      spdlog::warn("agent: cannot renew Lease {}: API server unreachable? Keeping the current plan and announcements",
                   node_lease_name(opt_.node_name));
    }
    // Subnets found while the renewal was in flight go out at once.
    bool subnets_pending = ok && subnets_written_ != subnets_;
    if (subnets_pending) continue;
    lease_timer_.expires_after(ok ? node_lease_renew : 2s);
    boost::system::error_code ec;
    co_await lease_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

kube::probe_result node_agent::readiness() const {
  if (stopped_) return {false, "shutting down"};
  if (ready_) return {true, ""};
  std::string waiting;
  for (const auto& [name, inf] : informers_)
    if (!inf->synced()) waiting += (waiting.empty() ? "" : ",") + name;
  return {false, waiting.empty() ? std::string("first plan not applied yet") : "informers not synced: " + waiting};
}

std::string node_agent::metrics() const {
  agent_figures f = figures_;
  f.peers = sp_.status();
  if (opt_.bgp_listen) f.bgp_listener_up = sp_.listening();
  f.bfd_single_hop = sp_.bfd_counters(false);
  f.bfd_multihop = sp_.bfd_counters(true);
  f.routes_in_table = sp_.route_count();
  f.netlink = applier_->counters();
  f.events_dropped = recorder_->dropped();
  f.kube_connections_opened = client_->connections_opened();
  f.reconcile_seconds = &reconcile_seconds_;
  f.ready = ready_;
  for (const auto& [name, inf] : informers_) {
    const auto& s = inf->stats();
    auto skipped = changes_not_planned_.find(name);
    f.informers.push_back({name, inf->synced(), s.list_errors + s.watch_errors, s.events, s.gone, s.handler_errors,
                           skipped == changes_not_planned_.end() ? 0 : skipped->second});
  }
  return render_agent_metrics(f);
}

}  // namespace herald::agent
