// Applies what the planner decided for this node to the node itself: the
// addresses on the dummy link (kube-lb0) and on the local interface through
// netlink reconcilers (only Herald's own addresses are touched), gratuitous
// ARP / unsolicited NA for local addresses that arrive (RFC 5227 §3, RFC
// 4861 §7.2.6), and the BGP speaker's peers and routes (RFC 4271).
//
// Order matters for traffic: addresses first, routes second. A route is
// announced only while an address it covers is on the dummy link, so a
// router never sends traffic for an address the node would drop; after the
// first complete apply the speaker is told the initial route set is
// complete, so End-of-RIB (RFC 4724 §4.1) goes out then and not before.
//
// Input is desired_node_state, a plain value the agent builds from the
// planner's node_plan (runtime.cpp), so this part is tested without it.
// Threading: one io thread; the rtnl and the speaker belong to it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bgp/config.hpp"
#include "bgp/speaker.hpp"
#include "netlink/announce.hpp"
#include "netlink/events.hpp"
#include "netlink/reconciler.hpp"
#include "netlink/rtnl.hpp"

namespace herald::agent {

struct link_addresses {
  std::string link;  // empty: no such link wanted (no addresses of this kind)
  std::vector<netlink::address_spec> addresses;
};

struct desired_node_state {
  link_addresses dummy;  // remote addresses: announced by BGP
  link_addresses local;  // local addresses: announced by GARP / NA
  netlink::announce_options garp;
  bool garp_enabled = true;
  // Router ID, AS, graceful restart, peers and routes. The listener, ports
  // and drain are the agent's (applier_options) and overwritten here.
  bgp::speaker_config speaker;
};

struct applier_options {
  std::optional<bgp::wire::ip_address> bgp_listen;
  std::uint16_t bgp_port = 179;
  std::chrono::seconds drain{10};
};

struct apply_report {
  bool addresses_ok = true;  // both links reconciled (individual refusals aside)
  std::optional<netlink::change_report> dummy, local;
  std::vector<std::string> errors;         // link-level failures, for logs and Events
  std::size_t routes_announced = 0;
  std::vector<bgp::wire::ip_prefix> routes_held;  // no covering address on the dummy link
  bool speaker_reconfigured = false;
  bool initial_complete_sent = false;  // this apply sent initial_routes_complete()
};

struct applier_counters {
  std::uint64_t netlink_operations = 0;  // addresses added, removed or renewed
  std::uint64_t netlink_errors = 0;      // link failures and per-address refusals
  std::uint64_t garp_sent = 0;           // announcements started (count frames each)
  std::uint64_t garp_errors = 0;
  std::uint64_t applies = 0;
};

class applier {
 public:
  // `nl` and `sp` must outlive the applier; `sp` is started by the caller.
  applier(boost::asio::any_io_executor ex, netlink::rtnl& nl, bgp::speaker& sp, applier_options o);
  ~applier();

  // Addresses first, then the speaker. Never throws; problems are in the report.
  apply_report apply(desired_node_state desired);
  // The agent's fast path: adds `addresses` to the dummy link (without
  // reading it again) and then announces the routes they back, leaving
  // everything else as the last apply() left it. Only for what that apply
  // did not have (the agent checks with dummy_wants() and the speaker's
  // table); the next apply() replaces both as usual. Needs a previous
  // apply() with a dummy link: else nothing is done and the report says so.
  apply_report add(std::vector<netlink::address_spec> addresses, bgp::route_list routes);
  // Whether Herald wants `a` on the dummy link (false before the first
  // apply): a binary search of the reconciler's sorted desired addresses.
  bool dummy_wants(const netlink::ip_address& a) const;
  // Forward every netlink event: drift on either link is repaired at once.
  void on_netlink_event(const netlink::event& e);
  // Stops timers and announcers; the addresses stay (a restarted agent adopts them).
  void stop();
  // Removes Herald's local addresses (graceful shutdown: another node takes
  // them over at once, when this node's Lease is gone).
  void release_local();

  // The speaker configuration the last apply gave (with the agent's listener
  // and drain filled in); nullopt before the first apply.
  const std::optional<bgp::speaker_config>& applied_speaker() const { return applied_; }
  bool initial_complete() const { return initial_complete_; }
  const applier_counters& counters() const { return counters_; }

 private:
  struct link_state {
    std::string name;
    std::shared_ptr<netlink::reconciler> rec;
  };
  std::optional<netlink::change_report> reconcile_link(link_state& st, const link_addresses& want,
                                                       const char* what, apply_report& report);
  void count(const netlink::change_report& r);
  void log_change(const std::string& link, const netlink::change_report& r, apply_report& report);
  void announce_new(const netlink::change_report& r, const desired_node_state& d);
  std::vector<bgp::wire::ip_prefix> backed_filter(bgp::route_list& routes);

  boost::asio::any_io_executor ex_;
  netlink::rtnl& nl_;
  bgp::speaker& sp_;
  applier_options opt_;
  link_state dummy_, local_;
  std::optional<bgp::speaker_config> applied_;
  bool initial_complete_ = false;
  std::vector<std::shared_ptr<netlink::announcer>> announcers_;
  std::vector<netlink::ip_address> local_wanted_;  // the last apply's local addresses: new ones are announced
  std::vector<bgp::wire::ip_prefix> last_held_;  // logged when the set changes, not on every plan
  applier_counters counters_;
};

// An interface address as the BGP codec spells it.
bgp::wire::ip_address to_wire(const netlink::ip_address& a);

// Whether two configurations differ in anything but their routes (which
// set_routes() changes without touching sessions).
bool sessions_differ(const bgp::speaker_config& a, const bgp::speaker_config& b);

}  // namespace herald::agent
