// rtnl's transport: the socket, pipelined request/ACK exchanges and dumps
// (netlink(7), RFC 3549 §2.3.2), and the parsers for address and link
// messages, which are untrusted input (STYLE.md §3: no throw, no assert).
//
// libnl-3 builds the messages and owns the socket; the ACK and dump loops
// read the socket directly because they match replies to requests by
// sequence number, which lets many requests share one sendmsg(2): the kernel
// processes each message of a datagram in turn and ACKs every one
// (netlink_rcv_skb()), so 10,000 addresses cost tens of system calls, not
// 20,000 as with one request per round trip.
#include "netlink/rtnl.hpp"

#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <map>

namespace herald::netlink {

namespace {
// Requests per sendmsg(2). Each ACK costs about 1 KiB of receive-buffer
// accounting (skb truesize), so 256 in flight fit well inside the 4 MiB
// buffer set in open() and no ACK is ever dropped with ENOBUFS.
constexpr std::size_t window = 256;
constexpr int rcvbuf_bytes = 4 << 20;
constexpr std::size_t rx_bytes = 64 << 10;

void set_opt(int fd, int level, int opt, int value) {
  // Best effort: an older kernel without CAP_ACK / EXT_ACK / strict checks
  // still works, with longer ACKs, plainer errors and client-side filtering.
  (void)::setsockopt(fd, level, opt, &value, sizeof value);
}
}  // namespace

void msg_deleter::operator()(nl_msg* m) const { nlmsg_free(m); }

nl_result<std::unique_ptr<rtnl>> rtnl::open(rtnl_options options) {
  nl_sock* sock = nl_socket_alloc();
  if (sock == nullptr) return make_error(errc::protocol_error, "netlink: cannot allocate a socket");
  if (int err = nl_connect(sock, NETLINK_ROUTE); err < 0) {
    nl_socket_free(sock);
    return make_error(errc::protocol_error, fmt::format("netlink: cannot open an rtnetlink socket: {}", nl_geterror(err)));
  }
  int fd = nl_socket_get_fd(sock);
  set_opt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);        // ACKs carry only the request's header
  set_opt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);        // ... and the kernel's reason text
  set_opt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1); // dumps filtered by ifindex in the kernel
  set_opt(fd, SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf_bytes);
  set_opt(fd, SOL_SOCKET, SO_SNDBUF, 1 << 20);
  // The kernel ACKs during our sendmsg(), so a reply is always queued by the
  // time we read; the timeout only guards against a lost one.
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return std::unique_ptr<rtnl>(new rtnl(sock, options));
}

rtnl::rtnl(nl_sock* sock, rtnl_options options) : sock_(sock), options_(options), rx_(rx_bytes) {}

rtnl::~rtnl() { nl_socket_free(sock_); }

netlink_error rtnl::kernel_error(const ack& a, std::string what) const {
  auto code = errc_from_errno(a.error);
  std::string text = std::strerror(a.error);
  if (!a.ext_ack.empty()) text += " (" + a.ext_ack + ")";
  return make_error(code, fmt::format("{}: {}", what, text));
}

namespace {
// Reads one datagram into `rx`; 0 on EOF, negative errno on failure.
ssize_t receive(int fd, std::vector<char>& rx) {
  for (;;) {
    ssize_t n = ::recv(fd, rx.data(), rx.size(), MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (static_cast<std::size_t>(n) > rx.size()) return -EMSGSIZE;  // cannot happen: the kernel fits its skb
    return n;
  }
}

// The extended-ACK message text of an NLMSG_ERROR (NETLINK_EXT_ACK).
std::string ext_ack_text(const nlmsghdr* h) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  const auto* e = static_cast<const nlmsgerr*>(nlmsg_data(h));
  // With NETLINK_CAP_ACK (or on success) only the request's header is echoed.
  std::size_t echoed = (h->nlmsg_flags & NLM_F_CAPPED) || e->error == 0 ? NLMSG_HDRLEN : e->msg.nlmsg_len;
  std::size_t off = NLMSG_HDRLEN + sizeof(nlmsgerr) - NLMSG_HDRLEN + NLMSG_ALIGN(echoed);
  if (off >= h->nlmsg_len) return {};
  const auto* base = reinterpret_cast<const char*>(h) + off;
  nlattr* tb[NLMSGERR_ATTR_MAX + 1] = {};
  if (nla_parse(tb, NLMSGERR_ATTR_MAX, reinterpret_cast<nlattr*>(const_cast<char*>(base)),
                static_cast<int>(h->nlmsg_len - off), nullptr) < 0)
    return {};
  if (tb[NLMSGERR_ATTR_MSG] == nullptr) return {};
  const char* s = static_cast<const char*>(nla_data(tb[NLMSGERR_ATTR_MSG]));
  return std::string(s, strnlen(s, static_cast<std::size_t>(nla_len(tb[NLMSGERR_ATTR_MSG]))));
}
}  // namespace

nl_result<std::vector<rtnl::ack>> rtnl::transact(std::span<msg_ptr> requests) {
  std::vector<ack> acks(requests.size());
  int fd = nl_socket_get_fd(sock_);
  std::vector<char> tx;
  for (std::size_t start = 0; start < requests.size(); start += window) {
    std::size_t end = std::min(requests.size(), start + window);
    std::uint32_t base = seq_;
    tx.clear();
    for (std::size_t i = start; i < end; ++i) {
      nlmsghdr* h = nlmsg_hdr(requests[i].get());
      h->nlmsg_seq = seq_++;
      h->nlmsg_pid = 0;
      h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
      const auto* p = reinterpret_cast<const char*>(h);
      tx.insert(tx.end(), p, p + NLMSG_ALIGN(h->nlmsg_len));
    }
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t sent = ::sendto(fd, tx.data(), tx.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (sent < 0)
      return make_error(errc::protocol_error, fmt::format("netlink: sendto failed: {}", std::strerror(errno)));
    std::size_t pending = end - start;
    while (pending > 0) {
      ssize_t n = receive(fd, rx_);
      if (n <= 0)
        return make_error(errc::protocol_error, fmt::format("netlink: {} ACKs missing: {}", pending,
                                                            n == 0 ? "socket closed" : std::strerror(static_cast<int>(-n))));
      int len = static_cast<int>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(rx_.data()); nlmsg_ok(h, len); h = nlmsg_next(h, &len)) {
        if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq < base || h->nlmsg_seq >= base + (end - start)) continue;
        if (h->nlmsg_len < NLMSG_HDRLEN + sizeof(nlmsgerr))
          return make_error(errc::protocol_error, "netlink: truncated ACK from the kernel");
        auto& a = acks[start + (h->nlmsg_seq - base)];
        a.error = -static_cast<const nlmsgerr*>(nlmsg_data(h))->error;
        if (a.error != 0) a.ext_ack = ext_ack_text(h);
        --pending;
      }
    }
  }
  return acks;
}

nl_result<void> rtnl::dump_impl(nl_msg* request, void (*each)(const nlmsghdr*, void*), void* ctx) {
  int fd = nl_socket_get_fd(sock_);
  nlmsghdr* req = nlmsg_hdr(request);
  req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
  req->nlmsg_seq = seq_++;
  req->nlmsg_pid = 0;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, req, req->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return make_error(errc::protocol_error, fmt::format("netlink: dump request failed: {}", std::strerror(errno)));
  for (;;) {
    ssize_t n = receive(fd, rx_);
    if (n <= 0)
      return make_error(errc::protocol_error, fmt::format("netlink: dump reply missing: {}",
                                                          n == 0 ? "socket closed" : std::strerror(static_cast<int>(-n))));
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(rx_.data()); nlmsg_ok(h, len); h = nlmsg_next(h, &len)) {
      if (h->nlmsg_seq != req->nlmsg_seq) continue;  // a stale reply to an earlier request
      if (h->nlmsg_type == NLMSG_DONE) return {};
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_HDRLEN + sizeof(nlmsgerr))
          return make_error(errc::protocol_error, "netlink: truncated error in a dump");
        ack a{-static_cast<const nlmsgerr*>(nlmsg_data(h))->error, ext_ack_text(h)};
        if (a.error == 0) return {};
        return kernel_error(a, "netlink: dump failed");
      }
      each(h, ctx);
    }
  }
}

std::optional<address_info> parse_address(const nlmsghdr* h) {
  if (h->nlmsg_type != RTM_NEWADDR && h->nlmsg_type != RTM_DELADDR) return std::nullopt;
  if (!nlmsg_valid_hdr(h, sizeof(ifaddrmsg))) return std::nullopt;
  const auto* ifa = static_cast<const ifaddrmsg*>(nlmsg_data(h));
  nlattr* tb[IFA_MAX + 1] = {};
  if (nlmsg_parse(const_cast<nlmsghdr*>(h), sizeof(ifaddrmsg), tb, IFA_MAX, nullptr) < 0) return std::nullopt;
  address_info a;
  a.ifindex = static_cast<int>(ifa->ifa_index);
  a.prefix_len = ifa->ifa_prefixlen;
  a.flags = ifa->ifa_flags;
  // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point
  // links and equal to IFA_LOCAL elsewhere (IPv6 sends only IFA_ADDRESS).
  nlattr* addr = tb[IFA_LOCAL] != nullptr ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
  if (addr == nullptr) return std::nullopt;
  if (ifa->ifa_family == AF_INET && nla_len(addr) == 4) {
    boost::asio::ip::address_v4::bytes_type b;
    std::memcpy(b.data(), nla_data(addr), 4);
    a.address = boost::asio::ip::address_v4(b);
    if (a.prefix_len > 32) return std::nullopt;
  } else if (ifa->ifa_family == AF_INET6 && nla_len(addr) == 16) {
    boost::asio::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), nla_data(addr), 16);
    a.address = boost::asio::ip::address_v6(b);
    if (a.prefix_len > 128) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (tb[IFA_FLAGS] != nullptr && nla_len(tb[IFA_FLAGS]) >= 4) a.flags = nla_get_u32(tb[IFA_FLAGS]);
  if (tb[IFA_PROTO] != nullptr && nla_len(tb[IFA_PROTO]) >= 1) a.protocol = nla_get_u8(tb[IFA_PROTO]);
  if (tb[IFA_LABEL] != nullptr) {
    const char* s = static_cast<const char*>(nla_data(tb[IFA_LABEL]));
    a.label.assign(s, strnlen(s, static_cast<std::size_t>(nla_len(tb[IFA_LABEL]))));
  }
  if (tb[IFA_CACHEINFO] != nullptr && nla_len(tb[IFA_CACHEINFO]) >= static_cast<int>(sizeof(ifa_cacheinfo))) {
    ifa_cacheinfo ci;
    std::memcpy(&ci, nla_data(tb[IFA_CACHEINFO]), sizeof ci);
    a.valid_lifetime = ci.ifa_valid;
    a.preferred_lifetime = ci.ifa_prefered;
  }
  return a;
}

}  // namespace herald::netlink
