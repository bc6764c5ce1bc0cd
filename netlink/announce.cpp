// Gratuitous ARP (RFC 826 packet format, RFC 5227 §3 announcement) and
// unsolicited neighbour advertisements (RFC 4861 §4.4, §7.2.6).
#include "netlink/announce.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace herald::netlink {

namespace {
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

netlink_error sys_error(int err, const std::string& what) {
  return make_error(errc_from_errno(err), fmt::format("{}: {}", what, std::strerror(err)));
}

// The checks both kinds share: an Ethernet link holding the address.
nl_result<void> check(rtnl& nl, const link_info& link, const ip_address& address, const std::string& what) {
  if (link.hwaddr.size() != 6)
    return make_error(errc::invalid_argument, fmt::format("{}: the link has no Ethernet address", what));
  auto have = nl.list_addresses(link);
  if (!have) return have.error();
  if (std::none_of(have->begin(), have->end(), [&](const address_info& a) { return a.address == address; }))
    return make_error(errc::address_not_available,
                      fmt::format("{}: the address is not configured on the link; not announcing it", what));
  return {};
}
}  // namespace

nl_result<void> send_gratuitous_arp(rtnl& nl, const link_info& link, const ip_address& address) {
  auto what = fmt::format("gratuitous ARP for {} on {}", address.to_string(), link.name);
  if (!address.is_v4())
    return make_error(errc::invalid_argument,
                      fmt::format("{}: ARP is IPv4 only; IPv6 addresses are announced by neighbour advertisement", what));
  if (auto c = check(nl, link, address, what); !c) return c;
  fd_guard s{::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP))};
  if (s.fd < 0) return sys_error(errno, what + ": cannot open a packet socket");
  // RFC 826 layout for Ethernet/IPv4; an ARP Announcement (RFC 5227 §3) is a
  // request whose sender and target protocol addresses are both the address
  // and whose target hardware address is zero.
  std::array<std::uint8_t, 28> arp{};
  arp[0] = 0; arp[1] = 1;        // hardware type: Ethernet
  arp[2] = 0x08; arp[3] = 0x00;  // protocol type: IPv4
  arp[4] = 6; arp[5] = 4;        // address lengths
  arp[6] = 0; arp[7] = 1;        // operation: request
  auto ip = address.to_v4().to_bytes();
  std::copy(link.hwaddr.begin(), link.hwaddr.end(), arp.begin() + 8);  // sender hardware address
  std::copy(ip.begin(), ip.end(), arp.begin() + 14);                   // sender protocol address
  std::copy(ip.begin(), ip.end(), arp.begin() + 24);                   // target protocol address
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = link.index;
  to.sll_halen = 6;
  std::fill_n(to.sll_addr, 6, 0xFF);
  if (::sendto(s.fd, arp.data(), arp.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
    return sys_error(errno, what + ": send failed");
  spdlog::debug("netlink: {}: sent", what);
  return {};
}

nl_result<void> send_unsolicited_na(rtnl& nl, const link_info& link, const ip_address& address) {
  auto what = fmt::format("unsolicited neighbour advertisement for {} on {}", address.to_string(), link.name);
  if (!address.is_v6())
    return make_error(errc::invalid_argument,
                      fmt::format("{}: neighbour advertisements are IPv6 only; IPv4 addresses use gratuitous ARP", what));
  if (auto c = check(nl, link, address, what); !c) return c;
  fd_guard s{::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6)};
  if (s.fd < 0) return sys_error(errno, what + ": cannot open a raw ICMPv6 socket");
  int hops = 255;  // RFC 4861 §7.1.2: receivers drop NAs with a hop limit below 255
  ::setsockopt(s.fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
  ::setsockopt(s.fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops);
  unsigned ifindex = static_cast<unsigned>(link.index);
  ::setsockopt(s.fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex);
  // RFC 4861 §4.4: type 136, Override flag, target, Target Link-Layer Address option.
  std::array<std::uint8_t, 32> na{};
  na[0] = ND_NEIGHBOR_ADVERT;
  na[4] = 0x20;  // R=0 S=0 O=1
  auto target = address.to_v6().to_bytes();
  std::copy(target.begin(), target.end(), na.begin() + 8);
  na[24] = ND_OPT_TARGET_LINKADDR;
  na[25] = 1;  // length in units of 8 octets
  std::copy(link.hwaddr.begin(), link.hwaddr.end(), na.begin() + 26);
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
  to.sin6_scope_id = ifindex;
  // Source address = the announced address, on this interface (IPV6_PKTINFO).
  in6_pktinfo info{};
  std::memcpy(&info.ipi6_addr, target.data(), 16);
  info.ipi6_ifindex = ifindex;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  iovec iov{na.data(), na.size()};
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = sizeof to;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof info);
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
  if (::sendmsg(s.fd, &msg, 0) < 0) return sys_error(errno, what + ": send failed");
  spdlog::debug("netlink: {}: sent", what);
  return {};
}

nl_result<void> announce_once(rtnl& nl, const link_info& link, const ip_address& address) {
  return address.is_v4() ? send_gratuitous_arp(nl, link, address) : send_unsolicited_na(nl, link, address);
}

announcer::announcer(boost::asio::any_io_executor ex, rtnl& nl, link_info link, ip_address address,
                     announce_options options)
    : nl_(nl), link_(std::move(link)), address_(address), options_(options), timer_(ex) {}

void announcer::start(done_handler done) {
  done_ = std::move(done);
  sent_ = 0;
  send_next();
}

void announcer::cancel() { timer_.cancel(); }

void announcer::send_next() {
  auto r = announce_once(nl_, link_, address_);
  ++sent_;
  if (!r || sent_ >= options_.count) {
    if (!r) spdlog::warn("netlink: announcing {} on {}: {}", address_.to_string(), link_.name, r.error().message);
    if (done_) done_(r);
    return;
  }
  timer_.expires_after(options_.interval);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled
    self->send_next();
  });
}

}  // namespace herald::netlink
