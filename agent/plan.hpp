// The node agent's planner (pure: objects in, plan out; docs/agent.md).
// Given everything the agent's informers hold (cluster_state) and what only
// the node itself knows (node_facts), it decides which Service addresses
// belong on this node's dummy link (remote, announced by BGP, RFC 4271) or
// on its local interface (local, elected, announced by gratuitous ARP /
// unsolicited NA), the speaker's peers and routes with their attributes
// (communities RFC 1997, large communities RFC 8092, LOCAL_PREF / MED
// RFC 4271, link bandwidth draft-ietf-idr-link-bandwidth), which nodes
// announce each Service (for the herald.dev/announcing-* annotations), and
// the diagnostics to report. No clock, no I/O: every agent given the same
// cluster_state computes the same cluster-wide answers.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/iterator/indirect_iterator.hpp>

#include "agent/resources.hpp"
#include "allocator/service.hpp"
#include "allocator/service_group.hpp"
#include "bgp/config.hpp"
#include "kube/views.hpp"
#include "netlink/types.hpp"

namespace herald::agent {

// Annotations and labels the agent reads or writes (docs/agent.md).
namespace annotation {
inline constexpr const char* announcing_v4 = "herald.dev/announcing-IPv4";  // comma-separated node names
inline constexpr const char* announcing_v6 = "herald.dev/announcing-IPv6";
inline constexpr const char* allow_local = "herald.dev/allow-local";  // "true": Local policy on a local address
}  // namespace annotation
// The Kubernetes well-known label that takes a node out of external load
// balancers (the service controller honours it too). Cordoning does not.
inline constexpr const char* exclude_label = "node.kubernetes.io/exclude-from-external-load-balancers";

// A ServiceGroup as the planner sees it: parsed (allocator::parse_group_spec)
// or the reason it is invalid.
struct group_entry {
  std::optional<allocator::group_spec> spec;
  std::string error;  // set when spec is empty
};
// Parses a ServiceGroup object's spec into an entry (never throws).
group_entry group_entry_from(const kube::custom_resource& object);

// A custom resource that failed validation, kept so the planner can report it.
struct invalid_object {
  std::string kind;  // "BGPPeer", "LBNodeAgent"
  std::string ns;
  std::string name;
  std::string error;
};

// Objects the planner reads, shared with whoever else holds them: the agent
// passes its informer caches' pointers, not copies (copying 10,000 Services
// and their EndpointSlices for each plan was a quarter of its CPU). Reads as
// a sequence of const T; tests build it from values.
template <class T>
class shared_objects {
 public:
  using pointer = std::shared_ptr<const T>;
  using const_iterator = boost::indirect_iterator<typename std::vector<pointer>::const_iterator>;

  shared_objects() = default;
  shared_objects(std::initializer_list<T> values) {
    for (const auto& v : values) push_back(v);
  }
  void push_back(pointer p) { items_.push_back(std::move(p)); }
  void push_back(T value) { items_.push_back(std::make_shared<const T>(std::move(value))); }
  void reserve(std::size_t n) { items_.reserve(n); }
  void clear() { items_.clear(); }
  void erase(const_iterator at) { items_.erase(at.base()); }
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const_iterator begin() const { return const_iterator(items_.begin()); }
  const_iterator end() const { return const_iterator(items_.end()); }
  const T& operator[](std::size_t i) const { return *items_[i]; }
  // Object i to change: copied first, so that no other holder sees it change.
  T& edit(std::size_t i) {
    auto copy = std::make_shared<T>(*items_[i]);
    T& object = *copy;
    items_[i] = std::move(copy);
    return object;
  }

 private:
  std::vector<pointer> items_;
};

// Everything the planner reads. The agent fills it from its informer caches;
// BGPPeers and LBNodeAgents parsed with parse_bgp_peer / parse_lb_node_agent
// (the failures go to `invalid`), ServiceGroups with group_entry_from, node
// Leases with parse_node_lease plus their expiry on the agent's clock.
struct cluster_state {
  std::string herald_namespace = "herald-system";
  std::string allocated_by = "herald";  // allocator's herald.dev/allocated-by value
  shared_objects<kube::service> services;
  shared_objects<kube::endpoint_slice> endpoint_slices;
  std::vector<kube::node> nodes;
  std::map<std::string, group_entry, std::less<>> groups;  // by ServiceGroup name
  std::vector<bgp_peer> peers;
  std::vector<node_agent_settings> node_agents;
  std::vector<invalid_object> invalid;
  std::vector<kube::secret> secrets;  // only Herald's namespace is read
  std::vector<node_lease> leases;
  std::chrono::steady_clock::time_point now{};
};

// Whether the planner takes Service s as Herald's: a LoadBalancer Service
// the allocator (its herald.dev/allocated-by value `allocated_by`) handed
// addresses to, not being deleted. Any other Service is not planned.
bool herald_service(const kube::service& s, std::string_view allocated_by);
// Whether this state of s can put anything in a node's plan: Herald's, and
// with an address, or with announcing annotations to take away. A change
// between two states of which neither can (a ClusterIP Service, a Service
// not yet allocated, its slices) changes no node's plan, so the agent does
// not plan for it; such a Service's plan entry has no nodes and makes no
// write (plan_test checks it against plan_node).
bool service_can_change_plan(const kube::service& s, std::string_view allocated_by);
// Whether an update of a Service changed nothing the view holds but its
// announcing annotations (and its resourceVersion): an agent's own
// annotation write coming back to every agent, or a change to a field
// Herald does not read. The planner does not read those annotations, so
// such an update changes no node's plan (plan_test checks it against
// plan_node); only the Service's writer compares them with the last plan.
bool only_announcing_changed(const kube::service& before, const kube::service& after);

// What only this node knows.
struct node_facts {
  std::string local_interface;                // resolved from node_agent_settings.local_interface
  std::vector<netlink::subnet> local_subnets;  // on that interface
  std::vector<netlink::ip_address> addresses;  // the node's own addresses, for the router ID
};

// The LBNodeAgent settings for a node: the matching one with a non-empty
// selector beats a catch-all; among equals, the first by namespace/name.
// Built-in defaults when none matches. The agent resolves the local
// interface from these before it can fill node_facts.
node_agent_settings settings_for_node(const cluster_state& state, std::string_view node_name);

// Which nodes announce one Service's addresses, cluster-wide, for the
// herald.dev/announcing-IPv4 / -IPv6 annotations (sorted node names).
// Exactly one agent writes them: `writer`, the rendezvous-hash winner of the
// Service's namespace/name over the live nodes (valid Lease), so the write
// moves only when that node goes away.
struct service_announcing {
  std::string ns;
  std::string name;
  std::vector<std::string> v4_nodes;
  std::vector<std::string> v6_nodes;
  std::string writer;  // node name; empty when no node is live
  friend bool operator==(const service_announcing&, const service_announcing&) = default;
};

// Something to report about `event.kind ns/name`. Every agent logs it; only
// one records the Event (`emit_event`): for a cluster-wide fact (an invalid
// BGPPeer, a missing group) the rendezvous winner of the object over the live
// nodes, so three agents do not triple every Event; for a fact about this
// node (its subnets, its Secret lookup) this node.
struct diagnostic {
  allocator::event event;
  bool emit_event = true;
};

// A BGPPeer's status (docs/agent.md "BGPPeer status"): condition Accepted,
// True, or False with the reason every node ignores it (InvalidBGPPeer,
// DuplicatePeer, PasswordUnavailable) and the same message as the Event.
// Reasons that concern one node only (ConflictingSettings) stay in its logs.
struct peer_status {
  std::string ns;
  std::string name;
  bool accepted = true;
  std::string reason;  // "Accepted" when accepted
  std::string message;
  friend bool operator==(const peer_status&, const peer_status&) = default;
};

// One address on a link and which Service(s) it serves (for logs).
struct planned_address {
  netlink::address_spec spec;
  std::vector<std::string> services;  // "ns/name"
};

struct node_plan {
  node_agent_settings settings;
  std::string dummy_link;                      // settings.dummy_interface
  std::vector<planned_address> dummy_addresses;  // remote addresses this node announces
  std::string local_link;                      // node_facts.local_interface
  std::vector<planned_address> local_addresses;  // local addresses this node won
  // router_id, local_asn, graceful restart, peers (with passwords) and
  // routes (in prefix order); listen address, ports and drain are left to
  // the agent.
  bgp::speaker_config speaker;
  std::vector<service_announcing> announcing;  // every Herald Service, cluster-wide, by (namespace, name)
  std::vector<diagnostic> diagnostics;
  // The BGPPeers whose status this node writes: the rendezvous winner of
  // each over the live nodes (as for Events), so one agent writes each; none
  // while no node is live, since a status can wait for the Leases.
  std::vector<peer_status> peer_statuses;
};

// Plans `node_name`. Never fails: objects it cannot use are skipped and named
// in diagnostics (invalid BGPPeer, missing Secret, unknown or invalid group,
// Local policy refused on a local address, ...).
node_plan plan_node(const cluster_state& state, std::string_view node_name, const node_facts& facts);

// plan_node for one Service at a time, for the fast path: the node-wide part
// (settings, nodes and Leases, peers and their passwords, router ID, the
// diagnostics and statuses about them) is planned once, at construction,
// from a cluster_state whose Services and EndpointSlices are not read; each
// plan(s, slices) then equals plan_node over that state with only s and
// slices in it, and costs only that Service's part: the node-wide part was
// a third of the one-Service plan on the agent's event path (BENCHMARKS.md,
// bench-agent-event). It keeps the state and facts it was given; the plan
// returned is valid until the next call.
class planner;
class service_planner {
 public:
  service_planner(cluster_state state, std::string_view node_name, node_facts facts);
  ~service_planner();
  service_planner(const service_planner&) = delete;
  service_planner& operator=(const service_planner&) = delete;
  const node_plan& plan(const kube::service& s, const std::vector<kube::endpoint_slice>& slices);

 private:
  cluster_state state_;  // read by impl_, so declared before it
  node_facts facts_;
  std::unique_ptr<planner> impl_;
};

// The agent's fast path (docs/agent.md "The fast path"): a Service's new
// address goes to the router without waiting for a full plan. `single` is
// plan_node over the last full plan's cluster_state with only that Service
// (and its EndpointSlices) in it, as service_planner plans it. What it plans
// may be applied at once when it only adds: no local address, no dummy
// address Herald already wants on the link (`on_dummy_link`), no prefix
// already announced, and no other Service with an address in those
// prefixes (each a lookup the caller answers, not a scan here). The
// Service's decision then depends on no other Service, so the full plan that
// follows decides the same for it. nullopt otherwise: the full plan does it
// all.
struct service_additions {
  std::vector<planned_address> addresses;
  bgp::route_list routes;
};
std::optional<service_additions> additions_only(
    const node_plan& single, const std::function<bool(const netlink::ip_address&)>& on_dummy_link,
    const std::function<bool(const bgp::wire::ip_prefix&)>& announced,
    const std::function<bool(const bgp::wire::ip_prefix&)>& other_service_in);

// ---- building blocks, exposed for tests ----

// Rendezvous (highest random weight) hashing: the candidate with the highest
// hash of (key, candidate). Deterministic across processes and platforms;
// removing a candidate moves only the keys it held. nullopt if none.
std::optional<std::string> rendezvous_winner(std::string_view key, const std::vector<std::string>& candidates);

// The agent replans when a node Lease its last plan counted live expires (a
// dead node's local addresses move). Renewals since that plan moved those
// expiries on without a plan (only the time they were seen is noted), so the
// timer the plan armed at the earliest expiry it knew checks them first:
// `replan` if one of them has passed, else `next`, the earliest now, to wait
// for. Replanning at every such timer instead made each agent plan its whole
// cluster every 30-40 s at rest (10,000 Services: ~170 ms of CPU each time).
struct lease_expiry_check {
  bool replan = false;
  std::optional<std::chrono::steady_clock::time_point> next;
};
lease_expiry_check check_lease_expiry(const std::vector<std::chrono::steady_clock::time_point>& live_expiries,
                                      std::chrono::steady_clock::time_point now);

// How long the agent waits before the full plan for a change seen at `now`
// (docs/agent.md "What it does"). Plans are at least `window` apart (10 ms,
// or the last plan's duration if longer, so slow plans take at most half the
// thread): after a quiet spell that long, at once (leading edge: one
// Service's change is not delayed); within it, when it ends, so the changes
// meanwhile make one plan and none waits a whole window after itself (a
// deletion 3 ms after the previous one's plan waited 10 ms, not 7:
// BENCHMARKS.md "Stop 29"). After the fast path applied what was urgent
// (`applied_early`), the whole window, so the plan does not compete with a
// burst for the CPU. No plan yet (`last_plan_done` empty): at once.
std::chrono::milliseconds plan_delay(std::optional<std::chrono::steady_clock::time_point> last_plan_done,
                                     std::chrono::milliseconds window, bool applied_early,
                                     std::chrono::steady_clock::time_point now);

// Ready, non-terminating endpoints of Service ns/name on `node`, per family
// (index 0 IPv4, 1 IPv6), from its EndpointSlices.
std::array<std::size_t, 2> ready_local_endpoints(const cluster_state& state, std::string_view ns,
                                                 std::string_view name, std::string_view node);

// Valid lifetime of a won local address when the LBNodeAgent sets none: the
// agent renews it at half its lifetime, so a node whose agent dies (or loses
// the election without noticing) stops holding the address on its own. 20 s:
// it lapses within 20 s of the agent's death, before the other agents see the
// node Lease expire (40 s after its last renewal, at least 30 s after the
// death) and take the address over, so two nodes never answer for it.
inline constexpr std::uint32_t default_local_valid_lifetime = 20;

// Bytes per second the link-bandwidth community carries per ready endpoint
// (1 Mbit/s: FRR reads the value in Mbit/s, so smaller units round to 0).
inline constexpr float bandwidth_per_endpoint = 125'000.0f;

}  // namespace herald::agent
