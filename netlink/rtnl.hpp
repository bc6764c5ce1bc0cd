// The command side of Herald's netlink layer: one rtnetlink socket (libnl-3,
// libnl-route-3; rtnetlink(7), RFC 3549) that ensures the kube-lb0 link,
// adds, removes and lists interface addresses, and answers the lookups the
// agent needs (default-route interface, links by regex, subnets on a link).
//
// Threading (DESIGN.md "Threading"): an rtnl object belongs to one thread,
// the netlink strand. Every call is a short blocking request/ACK exchange with
// the kernel (which answers synchronously), so it is fine on that thread.
// Nothing here throws: every failure is a netlink_error naming the interface
// and address.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "netlink/error.hpp"
#include "netlink/types.hpp"

struct nl_sock;
struct nl_msg;
struct nlmsghdr;

namespace herald::netlink {

struct rtnl_options {
  std::uint8_t owner_protocol = default_owner_protocol;  // IFA_PROTO stamped on Herald's addresses
};

enum class add_outcome {
  added,    // the kernel did not have it
  present,  // Herald's own address was already there; its lifetimes were renewed
};

struct msg_deleter {
  void operator()(nl_msg* m) const;
};
using msg_ptr = std::unique_ptr<nl_msg, msg_deleter>;

class rtnl {
 public:
  // Opens and binds the socket in the calling thread's network namespace.
  static nl_result<std::unique_ptr<rtnl>> open(rtnl_options options = {});
  ~rtnl();
  rtnl(const rtnl&) = delete;
  rtnl& operator=(const rtnl&) = delete;

  std::uint8_t owner_protocol() const { return options_.owner_protocol; }
  bool owns(const address_info& a) const { return a.protocol == options_.owner_protocol; }

  // --- links ---------------------------------------------------------------
  // The link of that name. errc::no_such_device if there is none.
  nl_result<link_info> find_link(std::string_view name);
  // Ensures a link of that name exists and is administratively up. An
  // existing link is adopted whatever its type; a missing one is created as a
  // `dummy`. Fails with errc::link_type_unsupported, naming the kernel module
  // `dummy` and the workaround, where the kernel has no dummy link type.
  nl_result<link_info> ensure_link(std::string_view name);
  // Links whose whole name matches the ECMAScript regex, in ifindex order.
  nl_result<std::vector<link_info>> links_matching(std::string_view regex);
  // The interface of the main table's default route with the lowest metric.
  // errc::no_such_device if the family has no default route.
  nl_result<link_info> default_route_interface(family f);

  // --- addresses -----------------------------------------------------------
  // Every address on the link (both families), as the kernel reports it.
  nl_result<std::vector<address_info>> list_addresses(const link_info& link);
  // The subnets of the addresses on the link (host bits cleared, de-duplicated).
  nl_result<std::vector<subnet>> subnets(const link_info& link);
  // Adds the address, stamped as Herald's. Idempotent: if Herald's own
  // address is already there its lifetimes are renewed and the result is
  // add_outcome::present. An operator's address in the way (same address,
  // another owner) is errc::exists and is left alone.
  nl_result<add_outcome> add_address(const link_info& link, const address_spec& spec);
  // Removes Herald's address `a/len`. Absent is success (false); an address
  // Herald does not own is errc::not_owned and stays.
  nl_result<bool> remove_address(const link_info& link, const ip_address& a, std::uint8_t prefix_len);

  // --- building blocks for the reconciler and benchmarks --------------------
  // RTM_NEWADDR (create, or replace for renewal) / RTM_DELADDR for one address.
  msg_ptr address_request(int type, bool replace, const link_info& link, const address_spec& spec) const;
  // Sends each request with NLM_F_ACK, many per sendmsg(2), and returns the
  // errno of each ACK (0 = success) in order. A socket failure fails all.
  struct ack {
    int error = 0;          // positive errno, 0 on success
    std::string ext_ack;    // the kernel's extended-ACK text (NLMSGERR_ATTR_MSG), if any
  };
  nl_result<std::vector<ack>> transact(std::span<msg_ptr> requests);

 private:
  rtnl(nl_sock* sock, rtnl_options options);
  // Sends a dump request and calls `each` for every reply message.
  template <class F>
  nl_result<void> dump(nl_msg* request, F&& each);
  nl_result<void> dump_impl(nl_msg* request, void (*each)(const nlmsghdr*, void*), void* ctx);
  nl_result<std::vector<link_info>> list_links();
  netlink_error kernel_error(const ack& a, std::string what) const;

  nl_sock* sock_;
  rtnl_options options_;
  std::uint32_t seq_ = 1;
  std::vector<char> rx_;
  // The adopted link last warned about for having multicast on: the
  // reconciler ensures the link on every pass, the warning is once per link.
  int multicast_warned_ = 0;
};

// Parses an RTM_NEWADDR / RTM_DELADDR message; nullopt if malformed or not
// IPv4/IPv6 (untrusted input: nothing throws).
std::optional<address_info> parse_address(const nlmsghdr* h);
// Parses an RTM_NEWLINK / RTM_DELLINK message.
std::optional<link_info> parse_link(const nlmsghdr* h);

template <class F>
nl_result<void> rtnl::dump(nl_msg* request, F&& each) {
  return dump_impl(
      request, [](const nlmsghdr* h, void* ctx) { (*static_cast<std::remove_reference_t<F>*>(ctx))(h); }, &each);
}

}  // namespace herald::netlink
