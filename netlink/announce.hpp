// Announcing a local address that moved to this node: gratuitous ARP for IPv4
// (RFC 5227 §3 ARP Announcement: a request with sender and target protocol
// address both set to the address) and unsolicited neighbour advertisements
// for IPv6 (RFC 4861 §7.2.6: to all-nodes ff02::1, Override set, Solicited
// clear, with the Target Link-Layer Address option).
//
// Frames go out through an AF_PACKET socket (ARP) and a raw ICMPv6 socket
// (the kernel fills in the checksum, RFC 3542 §3.1); both need CAP_NET_RAW.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "netlink/rtnl.hpp"

namespace herald::netlink {

struct announce_options {
  unsigned count = 3;                                 // frames per announcement
  std::chrono::milliseconds interval{1000};           // between frames
};

// Sends one frame now: gratuitous ARP for IPv4, unsolicited NA for IPv6. The
// address must be configured on the link (errc::address_not_available
// otherwise: announcing an address we do not hold would steal it) and the
// link must have an Ethernet address.
nl_result<void> announce_once(rtnl& nl, const link_info& link, const ip_address& address);
// The same, refusing the other family with errc::invalid_argument.
nl_result<void> send_gratuitous_arp(rtnl& nl, const link_info& link, const ip_address& address);
nl_result<void> send_unsolicited_na(rtnl& nl, const link_info& link, const ip_address& address);

// Sends `count` frames, `interval` apart, on the executor; `done` gets the
// first failure or success after the last frame. Holds itself alive while
// running.
class announcer : public std::enable_shared_from_this<announcer> {
 public:
  using done_handler = std::function<void(const nl_result<void>&)>;
  announcer(boost::asio::any_io_executor ex, rtnl& nl, link_info link, ip_address address, announce_options options);
  void start(done_handler done);
  void cancel();

 private:
  void send_next();

  rtnl& nl_;
  link_info link_;
  ip_address address_;
  announce_options options_;
  boost::asio::steady_timer timer_;
  unsigned sent_ = 0;
  done_handler done_;
};

}  // namespace herald::netlink
