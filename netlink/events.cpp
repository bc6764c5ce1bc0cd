// Reads rtnetlink notifications (rtnetlink(7)) off the subscribed socket and
// turns them into link / address / resync events. Messages are untrusted:
// anything malformed is skipped, never asserted on (STYLE.md §3).
#include "netlink/events.hpp"

#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace herald::netlink {

std::optional<link_info> parse_link(const nlmsghdr* h) {
  if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) return std::nullopt;
  if (!nlmsg_valid_hdr(h, sizeof(ifinfomsg))) return std::nullopt;
  const auto* ifi = static_cast<const ifinfomsg*>(nlmsg_data(h));
  nlattr* tb[IFLA_MAX + 1] = {};
  if (nlmsg_parse(const_cast<nlmsghdr*>(h), sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0) return std::nullopt;
  link_info l;
  l.index = ifi->ifi_index;
  l.up = (ifi->ifi_flags & IFF_UP) != 0;
  l.multicast = (ifi->ifi_flags & IFF_MULTICAST) != 0;
  if (tb[IFLA_IFNAME] != nullptr) {
    const char* s = static_cast<const char*>(nla_data(tb[IFLA_IFNAME]));
    l.name.assign(s, strnlen(s, static_cast<std::size_t>(nla_len(tb[IFLA_IFNAME]))));
  }
  if (tb[IFLA_ADDRESS] != nullptr) {
    const auto* b = static_cast<const std::uint8_t*>(nla_data(tb[IFLA_ADDRESS]));
    l.hwaddr.assign(b, b + nla_len(tb[IFLA_ADDRESS]));
  }
  return l;
}

nl_result<std::shared_ptr<event_stream>> event_stream::open(boost::asio::any_io_executor ex) {
  nl_sock* sock = nl_socket_alloc();
  if (sock == nullptr) return make_error(errc::protocol_error, "netlink events: cannot allocate a socket");
  nl_socket_disable_seq_check(sock);  // notifications carry no request's sequence number
  int err = nl_connect(sock, NETLINK_ROUTE);
  if (err == 0) err = nl_socket_add_memberships(sock, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, 0);
  if (err == 0) err = nl_socket_set_nonblocking(sock);
  if (err < 0) {
    nl_socket_free(sock);
    return make_error(errc::protocol_error, fmt::format("netlink events: cannot subscribe: {}", nl_geterror(err)));
  }
  // Room for a burst (a link going down drops every IPv6 address at once);
  // an overflow is still handled, as a resync_event.
  int bytes = 4 << 20;
  (void)::setsockopt(nl_socket_get_fd(sock), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes);
  int fd = ::dup(nl_socket_get_fd(sock));
  if (fd < 0) {
    nl_socket_free(sock);
    return make_error(errc::protocol_error, fmt::format("netlink events: dup failed: {}", std::strerror(errno)));
  }
  return std::make_shared<event_stream>(sock, boost::asio::posix::stream_descriptor(ex, fd));
}

event_stream::event_stream(nl_sock* sock, boost::asio::posix::stream_descriptor fd)
    : sock_(sock), fd_(std::move(fd)), rx_(64 << 10) {}

event_stream::~event_stream() {
  boost::system::error_code ignored;
  fd_.close(ignored);
  nl_socket_free(sock_);
}

void event_stream::start(handler h) {
  handler_ = std::move(h);
  stopped_ = false;
  do_wait();
}

void event_stream::stop() {
  stopped_ = true;
  boost::system::error_code ignored;
  fd_.cancel(ignored);
}

void event_stream::do_wait() {
  fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                 [self = shared_from_this()](const boost::system::error_code& ec) { self->on_wait(ec); });
}

void event_stream::on_wait(const boost::system::error_code& ec) {
  if (stopped_ || ec == boost::asio::error::operation_aborted) return;
  if (ec) {
    spdlog::error("netlink events: wait failed: {}; events stop", ec.message());
    return;
  }
  for (;;) {
    ssize_t n = ::recv(fd_.native_handle(), rx_.data(), rx_.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == ENOBUFS) {
      spdlog::warn("netlink events: the kernel dropped notifications (receive buffer full); resyncing");
      handler_(resync_event{});
      if (stopped_) return;
      continue;
    }
    if (n <= 0) {
      spdlog::error("netlink events: recv failed: {}; events stop", n == 0 ? "closed" : std::strerror(errno));
      return;
    }
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(rx_.data()); nlmsg_ok(h, len); h = nlmsg_next(h, &len)) {
      dispatch(h);
      if (stopped_) return;
    }
  }
  do_wait();
}

void event_stream::dispatch(const nlmsghdr* h) {
  switch (h->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      if (auto l = parse_link(h)) handler_(link_event{std::move(*l), h->nlmsg_type == RTM_DELLINK});
      break;
    case RTM_NEWADDR:
    case RTM_DELADDR:
      if (auto a = parse_address(h)) handler_(address_event{std::move(*a), h->nlmsg_type == RTM_DELADDR});
      break;
    default: break;
  }
}

}  // namespace herald::netlink
