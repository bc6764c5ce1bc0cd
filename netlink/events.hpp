// The netlink event stream: a multicast subscription to link and address
// changes (RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR;
// rtnetlink(7)) read through a non-blocking socket wrapped in an Asio
// posix::stream_descriptor, so drift (an operator deletes an address, the
// link goes down and up) reaches the reconciler within milliseconds instead
// of on a timer (DESIGN.md "Threading": no extra thread).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>
#include <variant>

#include "netlink/rtnl.hpp"

namespace herald::netlink {

struct link_event {
  link_info link;
  bool removed = false;  // RTM_DELLINK
};
struct address_event {
  address_info address;
  bool removed = false;  // RTM_DELADDR
};
// The kernel dropped notifications (ENOBUFS on the socket): whatever the
// listener believes may be stale and must be re-read from the kernel.
struct resync_event {};

using event = std::variant<link_event, address_event, resync_event>;

class event_stream : public std::enable_shared_from_this<event_stream> {
 public:
  using handler = std::function<void(const event&)>;

  // Subscribes in the calling thread's network namespace. Events are
  // delivered on `ex`, in the kernel's order.
  static nl_result<std::shared_ptr<event_stream>> open(boost::asio::any_io_executor ex);
  ~event_stream();

  // Starts reading; `h` is called for each event until stop().
  void start(handler h);
  // Cancels the pending wait; no handler runs after this returns.
  void stop();

  event_stream(nl_sock* sock, boost::asio::posix::stream_descriptor fd);  // use open()

 private:
  void do_wait();
  void on_wait(const boost::system::error_code& ec);
  void dispatch(const nlmsghdr* h);

  nl_sock* sock_;
  boost::asio::posix::stream_descriptor fd_;  // a dup of sock_'s descriptor
  handler handler_;
  std::vector<char> rx_;
  bool stopped_ = false;
};

}  // namespace herald::netlink
