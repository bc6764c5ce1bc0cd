// The address reconciler: given the set of addresses Herald wants on one link,
// it reads what the kernel has, applies the minimal difference (removals
// first, then additions, in one pipelined batch) and reports what changed.
// It touches only Herald's own addresses (IFA_PROTO mark); an operator's
// address stays even when it collides with a desired one. Fed from the
// event_stream it repairs drift (an address deleted behind its back, the
// link cycled) at once, and it renews finite lifetimes before they expire.
//
// Threading: lives on the netlink strand with its rtnl (DESIGN.md); the
// posted repairs and the renewal timer hold a shared_ptr to it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "netlink/events.hpp"
#include "netlink/rtnl.hpp"

namespace herald::netlink {

struct change_report {
  std::vector<address_spec> added;
  std::vector<address_spec> renewed;        // Herald's, lifetimes refreshed
  std::vector<address_info> removed;        // Herald's, no longer desired
  std::vector<address_info> foreign_kept;   // desired, but held by someone else: left alone
  std::vector<netlink_error> failures;      // per-address kernel refusals

  bool changed() const { return !added.empty() || !renewed.empty() || !removed.empty(); }
  std::string summary() const;  // "+2 -1 ~0 kept 1 failed 0"
};

class reconciler : public std::enable_shared_from_this<reconciler> {
 public:
  // `nl` must outlive the reconciler. `link_name` is ensured (created as a
  // dummy, or adopted) on every pass.
  reconciler(boost::asio::any_io_executor ex, rtnl& nl, std::string link_name);

  // Replaces the desired set. Every entry is validated first and duplicates
  // must agree: one bad entry fails the call with errc::invalid_argument and
  // nothing is applied. Then applies the difference.
  nl_result<change_report> set_desired(std::vector<address_spec> desired);
  // Adds to the desired set without reading the link again: one pipelined
  // batch of additions, for the agent's fast path (a Service's new address
  // on its way to the router). Falls back to an ordinary pass (set_desired
  // with the union) when there is no current view of the link (no pass yet,
  // the last one failed, a repair is pending), or an address is desired
  // already, on the link already, or listed twice. A refusal (an operator's
  // address there, a view gone stale) is settled by a full pass at once.
  // Unlike a pass, it logs nothing: the caller does, once its route is out.
  nl_result<change_report> add_desired(std::vector<address_spec> more);
  // Re-applies the current desired set (after drift, or to renew lifetimes).
  // Fails only when the link or the address list cannot be read; individual
  // refusals are in change_report::failures.
  nl_result<change_report> reconcile();

  // Feed every event_stream event here. A change to this link, or the loss
  // of a desired address, schedules one reconcile (coalesced) on the executor.
  void on_event(const event& e);
  // Called with the outcome of each reconcile run by on_event or the renewal timer.
  void on_repair(std::function<void(const nl_result<change_report>&)> cb) { on_repair_ = std::move(cb); }
  // Stops the renewal timer (call before dropping the last reference).
  void stop();

  const std::vector<address_spec>& desired() const { return desired_; }
  // Whether `a` is desired: a binary search (desired() is sorted by address).
  bool is_desired(const ip_address& a) const;
  // Every address on the link (any owner), as the last reconcile() read it
  // with its own changes applied; empty after a failed one. What a caller
  // checks right after set_desired() without another dump of the link.
  const std::vector<ip_address>& on_link() const { return on_link_; }

 private:
  void schedule();
  void arm_renewal();

  boost::asio::any_io_executor ex_;
  rtnl& nl_;
  std::string link_name_;
  int ifindex_ = 0;
  std::optional<link_info> link_;  // as the last successful pass found it; none after a failed one
  std::vector<ip_address> on_link_;
  std::vector<address_spec> desired_;
  bool scheduled_ = false;
  boost::asio::steady_timer renew_timer_;
  std::function<void(const nl_result<change_report>&)> on_repair_;
};

}  // namespace herald::netlink
