// The node agent's runtime: the informers (Services, EndpointSlices, Nodes
// cluster-wide; ServiceGroups, BGPPeers, LBNodeAgents, Secrets and Leases in
// Herald's namespace), this node's Lease, and the loop that turns any change
// into a plan (agent/plan.hpp, pure) and applies it (applier.hpp): netlink,
// the speaker, the herald.dev/announcing-* annotations and Events.
//
// Rules (docs/agent.md "Running the agent"):
// - nothing is planned or applied before every informer has synced: a
//   restarted agent leaves the addresses it finds and announces nothing
//   until it knows the whole cluster; then End-of-RIB follows the first plan;
// - changes are debounced (plans at least 10 ms apart, or the last plan's
//   duration if longer) so a burst makes one plan; a Service's new remote address goes ahead of that
//   plan by the fast path (apply_service_early), which only adds what the
//   full plan would add for it;
// - annotations are written only by the Service's writer node, only when
//   they differ from what the informer shows, with a resourceVersion
//   precondition: a steady cluster sees no writes but the node Leases; an
//   update of nothing else comes back to every agent and plans nothing (the
//   writer checks it against the last plan: announcing_update_settled);
//   one write per object at a time (annotations, BGPPeer status): when it
//   is answered, the latest plan's value is written if it is another;
// - while this node's Lease cannot be renewed (API server unreachable) the
//   planner's clock is frozen at the last renewal, so other nodes' Leases do
//   not seem to expire and nothing moves: the node keeps announcing what it had.
//
// Threading: one io_context thread owns everything here (DESIGN.md).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/applier.hpp"
#include "agent/ingress_index.hpp"
#include "agent/slice_index.hpp"
#include "agent/metrics.hpp"
#include "agent/options.hpp"
#include "agent/plan.hpp"
#include "agent/serial_writes.hpp"
#include "kube/client.hpp"
#include "kube/events.hpp"
#include "kube/http_server.hpp"
#include "kube/informer.hpp"
#include "kube/writes.hpp"

namespace herald::agent {

// Fast-path applies between two full plans. Each is one Service's netlink
// batch and UPDATE; a burst (the allocator handing out thousands of
// addresses) is the full plan's job: one batch, one UPDATE per attribute set.
inline constexpr unsigned max_fast_paths_per_plan = 8;

inline constexpr std::chrono::seconds node_lease_duration{40};
inline constexpr std::chrono::seconds node_lease_renew{10};

class node_agent : public std::enable_shared_from_this<node_agent> {
 public:
  // `nl` and `sp` belong to the caller (main) and outlive the agent; `sp` is started.
  static std::shared_ptr<node_agent> create(boost::asio::any_io_executor ex, std::shared_ptr<kube::client> c,
                                            agent_options o, netlink::rtnl& nl, bgp::speaker& sp);
  ~node_agent();

  // Starts the informers, the Lease and the netlink event stream.
  void start();
  // Stops watching and planning; the addresses and the speaker are left as
  // they are (the caller shuts the speaker down gracefully).
  void stop();
  // Graceful shutdown (SIGTERM): releases this node's local addresses,
  // stop(), then deletes its node Lease so the other agents elect new
  // winners at once instead of after the Lease expires; `done` runs when the
  // API server has answered (or failed). Addresses on the dummy link stay.
  void shutdown(std::function<void()> done);

  kube::probe_result readiness() const;
  std::string metrics() const;
  bool ready() const { return ready_; }

 private:
  node_agent(boost::asio::any_io_executor ex, std::shared_ptr<kube::client> c, agent_options o, netlink::rtnl& nl,
             bgp::speaker& sp);
  // What a change touched, for the fast path: Services and EndpointSlices
  // it reads afresh from the caches; anything else (Nodes, Leases, Herald's
  // objects, the node's own addresses) makes the last full plan's picture
  // stale until the next full plan.
  enum class change_kind { cluster, services, applied_early };
  template <class T>
  std::shared_ptr<kube::informer<T>> watch(const kube::resource& r, bool own_namespace,
                                           change_kind kind = change_kind::cluster,
                                           std::function<bool(const T&, const T&)> update_matters = {},
                                           std::function<bool(const T* before, const T& after)> fast_path = {},
                                           std::function<void(const T* before, const T* after)> observe = {},
                                           std::function<bool(const T&)> can_change_plan = {});
  // False for a renewal of a Lease this agent already counts as live: the
  // renewal is noted (the Lease's expiry moves) and no plan runs for it.
  bool lease_update_matters(const kube::lease& before, const kube::lease& after);
  bool all_synced() const;
  // Schedules the full plan. After change_kind::applied_early (the fast
  // path applied what was urgent) it waits out the debounce window even
  // after a quiet spell, instead of competing for the CPU at once.
  void changed(change_kind kind = change_kind::cluster);
  // The fast path (plan.hpp additions_only): a Service's new remote address
  // is added and announced at once, planned against the last full plan's
  // picture of everything but Services and EndpointSlices; only while that
  // picture is current (no other kind of change since). True if it applied.
  bool apply_service_early(const kube::service& s);
  void schedule(std::chrono::milliseconds delay);
  void run_plan();
  cluster_state build_state();
  node_facts gather_facts(const node_agent_settings& settings);
  // `complete`: the plan is the node's whole plan, so what it lacks is
  // withdrawn; else (the fast path) it only adds.
  void log_decisions(const node_plan& plan, bool complete = true);
  void write_annotations(const node_plan& plan);
  // Patches a Service's announcing annotations when this node is its writer
  // and they differ from `a` (and no patch of it is in flight).
  void write_announcing(const service_announcing& a);
  // An update of s that changed only its announcing annotations: true if the
  // last plan settles it (the writer re-checks s against that plan's
  // announcing nodes, the others do nothing); false if it needs a plan (none
  // applied yet, one pending, or s not in the last plan).
  bool announcing_update_settled(const kube::service& s);
  // The last plan's entry for a Service, or null.
  const service_announcing* last_announcing_of(const std::string& ns, const std::string& name) const;
  void keep_announcing(std::vector<service_announcing> announcing);  // the plan's, for the above
  void report_diagnostics(const node_plan& plan);
  void arm_lease_expiry(const cluster_state& state);
  void wait_for_lease_expiry(std::chrono::steady_clock::time_point when);
  void lease_expiry_due();  // check_lease_expiry: replan, or wait for the next
  boost::asio::awaitable<void> renew_lease_loop();
  boost::asio::awaitable<bool> renew_lease_once();
  boost::asio::awaitable<void> delete_lease();
  void write_peer_statuses(const node_plan& plan);
  void write_peer_status(const peer_status& st);
  // Writes `status` for the plan entry `planned`; then, if a plan while it was
  // in flight wanted another status for that BGPPeer, writes that.
  boost::asio::awaitable<void> patch_peer_status(peer_status planned, nlohmann::json status);
  // Writes `changes` for the plan entry `planned`; then, if a plan while it was
  // in flight wanted other nodes for that Service, writes those.
  boost::asio::awaitable<void> patch_announcing(service_announcing planned, kube::annotation_changes changes,
                                                std::string rv);

  boost::asio::any_io_executor ex_;
  std::shared_ptr<kube::client> client_;
  agent_options opt_;
  netlink::rtnl& nl_;
  bgp::speaker& sp_;
  std::unique_ptr<applier> applier_;
  std::shared_ptr<netlink::event_stream> events_;

  std::shared_ptr<kube::informer<kube::service>> services_;
  ingress_index service_addresses_;  // kept from services_' every change, for the fast path
  slice_index service_slices_;      // kept from slices_' every change, for the fast path
  // By resource: watch()'s can_change_plan, and announcing_update_settled.
  std::map<std::string, std::uint64_t> changes_not_planned_;
  std::shared_ptr<kube::informer<kube::endpoint_slice>> slices_;
  std::shared_ptr<kube::informer<kube::node>> nodes_;
  std::shared_ptr<kube::informer<kube::custom_resource>> groups_, peers_, node_agents_;
  std::shared_ptr<kube::informer<kube::secret>> secrets_;
  std::shared_ptr<kube::informer<kube::lease>> leases_;
  std::vector<std::pair<std::string, std::shared_ptr<kube::informer_base>>> informers_;

  boost::asio::steady_timer plan_timer_, expiry_timer_, lease_timer_;
  bool plan_pending_ = false;
  std::optional<std::chrono::steady_clock::time_point> change_seen_;  // first change of the pending batch
  std::chrono::milliseconds last_plan_took_{0};                       // floor of the next debounce
  std::optional<std::chrono::steady_clock::time_point> last_plan_done_;  // a change after a quiet spell plans at once
  bool stopped_ = false;
  bool ready_ = false;
  // The fast path's planner over the last full plan's input (Services and
  // EndpointSlices left out); none while that plan's addresses failed.
  std::unique_ptr<service_planner> fast_planner_;
  bool last_state_stale_ = false;  // a change_kind::cluster change since it was taken
  unsigned fast_paths_since_plan_ = 0;

  // Other nodes' Leases: when this agent saw each renewTime change (kube/election.hpp's rule).
  struct lease_seen {
    std::string renew_time;
    std::chrono::steady_clock::time_point at;  // when this agent saw that renewal
    std::chrono::seconds duration{0};
    bool live_at_plan = false;  // the last plan counted the node live
  };
  std::map<std::string, lease_seen> lease_seen_;
  std::optional<std::chrono::steady_clock::time_point> last_renewal_;  // of this node's Lease
  bool api_reachable_ = true;
  std::vector<netlink::subnet> subnets_;  // on the local interface, for the Lease annotation
  std::optional<std::vector<netlink::subnet>> subnets_written_;  // in the Lease, as last written

  serial_writes<service_announcing> announcing_writes_;  // Services' annotations being patched
  std::vector<service_announcing> last_announcing_;  // the last plan's, by (namespace, name)
  serial_writes<peer_status> peer_status_writes_;    // BGPPeers' status being patched
  std::set<std::string> reported_;              // diagnostics already sent as Events
  // The addresses the last plans held, for decision logs: (address, prefix
  // length) → its Services and the number of the log_decisions call that
  // last saw it. Keyed by value, not text: each plan walks it (20,000
  // entries at scale).
  struct logged_address {
    std::vector<std::string> services;
    std::uint64_t mark = 0;
  };
  std::map<std::pair<netlink::ip_address, std::uint8_t>, logged_address> last_addresses_;
  std::uint64_t decisions_logged_ = 0;
  std::unique_ptr<kube::event_recorder> recorder_;

  prometheus::histogram reconcile_seconds_ = make_reconcile_histogram();
  agent_figures figures_;
  std::chrono::steady_clock::time_point last_held_log_{};
};

}  // namespace herald::agent
