// BFD over UDP on Boost.Asio (RFC 5881 single hop). See io.hpp.
#include "bgp/bfd/io.hpp"

#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/ip/v6_only.hpp>
#include <cstring>

namespace herald::bfd {

namespace asio = boost::asio;
using asio::ip::udp;

struct service::peer {
  peer(const asio::any_io_executor& ex, std::uint32_t disc, session_config cfg, session::uniform_rng rng)
      : sock(ex), timer(ex), fsm(disc, cfg, std::move(rng)) {}
  udp::socket sock;
  asio::steady_timer timer;
  session fsm;
  udp::endpoint remote;
  asio::ip::address local;
  state_callback on_change;
  bool closed = false;
};

service::service(asio::any_io_executor ex, options opt)
    : ex_(std::move(ex)), opt_(opt), rx4_(ex_), rx6_(ex_), rng_(std::random_device{}()) {}

namespace {
// RFC 5881 §5: ask the kernel for the received TTL / Hop Limit.
boost::system::error_code enable_ttl_report(udp::socket& s, bool v6) {
  int on = 1;
  const int rc = v6 ? ::setsockopt(s.native_handle(), IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on)
                    : ::setsockopt(s.native_handle(), IPPROTO_IP, IP_RECVTTL, &on, sizeof on);
  return rc == 0 ? boost::system::error_code{} : boost::system::error_code(errno, boost::system::system_category());
}

// RFC 5881 §5: send with TTL / Hop Limit 255 so that a receiver can tell the
// packet was not forwarded.
boost::system::error_code set_send_ttl(udp::socket& s, bool v6) {
  int ttl = required_ttl;
  const int rc = v6 ? ::setsockopt(s.native_handle(), IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl)
                    : ::setsockopt(s.native_handle(), IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
  return rc == 0 ? boost::system::error_code{} : boost::system::error_code(errno, boost::system::system_category());
}

Result<void> open_listener(udp::socket& s, const asio::ip::address& addr, std::uint16_t port) {
  boost::system::error_code ec;
  const bool v6 = addr.is_v6();
  s.open(v6 ? udp::v6() : udp::v4(), ec);
  if (!ec && v6) s.set_option(asio::ip::v6_only(true), ec);
  // No SO_REUSEADDR: on UDP it would let a second BFD daemon on this host
  // share the port and silently take its packets; fail loudly instead.
  if (!ec) ec = enable_ttl_report(s, v6);
  if (!ec) s.bind(udp::endpoint(addr, port), ec);
  if (!ec) s.non_blocking(true, ec);
  if (ec) {
    s.close();
    return ec;
  }
  return {};
}
}  // namespace

Result<void> service::open() {
  if (opt_.ipv4) {
    if (auto r = open_listener(rx4_, opt_.listen_v4, opt_.listen_port); !r) {
      spdlog::error("bfd listener {}:{}: {}", opt_.listen_v4.to_string(), opt_.listen_port, r.error().message());
      return r;
    }
    do_wait(rx4_);
  }
  if (opt_.ipv6) {
    if (auto r = open_listener(rx6_, opt_.listen_v6, opt_.listen_port); !r) {
      spdlog::error("bfd listener [{}]:{}: {}", opt_.listen_v6.to_string(), opt_.listen_port, r.error().message());
      return r;
    }
    do_wait(rx6_);
  }
  return {};
}

std::uint16_t service::listen_port(bool v6) const {
  boost::system::error_code ec;
  auto ep = (v6 ? rx6_ : rx4_).local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void service::do_wait(udp::socket& sock) {
  sock.async_wait(udp::socket::wait_read, [self = shared_from_this(), &sock](boost::system::error_code ec) {
    if (ec) {
      if (ec != asio::error::operation_aborted) spdlog::error("bfd listener: wait failed: {}", ec.message());
      return;
    }
    self->on_readable(sock);
    if (sock.is_open()) self->do_wait(sock);
  });
}

void service::on_readable(udp::socket& sock) {
  // Drain the socket: recvmsg() because Asio has no access to control messages.
  for (;;) {
    std::array<std::byte, 512> buf;
    sockaddr_storage from{};
    alignas(cmsghdr) std::array<char, 256> control{};
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t n = ::recvmsg(sock.native_handle(), &msg, MSG_DONTWAIT);
    if (n < 0) return;  // EAGAIN: drained; other errors are retried on the next wake-up
    ++counters_.received;
    int ttl = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT))
        std::memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
    }
    asio::ip::address src;
    if (from.ss_family == AF_INET) {
      sockaddr_in sin;
      std::memcpy(&sin, &from, sizeof sin);
      src = asio::ip::address_v4(ntohl(sin.sin_addr.s_addr));
    } else if (from.ss_family == AF_INET6) {
      sockaddr_in6 sin6;
      std::memcpy(&sin6, &from, sizeof sin6);
      asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &sin6.sin6_addr, b.size());
      src = asio::ip::address_v6(b, sin6.sin6_scope_id);
    }
    handle_datagram(std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n)), src, ttl);
  }
}

void service::handle_datagram(std::span<const std::byte> data, const asio::ip::address& from, int ttl) {
  if (!opt_.multihop && ttl != required_ttl) {
    // RFC 5881 §5: a packet that was forwarded (or forged off-link) is dropped.
    ++counters_.bad_ttl;
    spdlog::debug("bfd from {}: dropped, TTL {} is not 255", from.to_string(), ttl);
    return;
  }
  auto d = decode(data);
  if (!d) {
    counters_.malformed.count(d.error());
    spdlog::debug("bfd from {}: dropped: {}", from.to_string(), to_string(d.error()));
    return;
  }
  std::shared_ptr<peer> target;
  if (d->your_discriminator != 0) {
    auto it = peers_.find(d->your_discriminator);
    if (it != peers_.end() && it->second->remote.address() == from) target = it->second;
  } else {
    for (auto& [disc, p] : peers_)
      if (p->remote.address() == from) target = p;
  }
  if (!target) {
    ++counters_.no_session;
    spdlog::debug("bfd from {}: no session for discriminator {}", from.to_string(), d->your_discriminator);
    return;
  }
  apply(*target, target->fsm.on_packet(*d, clock_type::now()));
  arm(target);
}

void service::apply(peer& p, session_output out) {
  for (const auto& pkt : out.send) {
    std::vector<std::byte> bytes;
    encode(pkt, bytes);
    boost::system::error_code ec;
    p.sock.send_to(asio::buffer(bytes), p.remote, 0, ec);
    // A send error (no route yet, interface down) is not fatal: the peer's
    // detection timer decides the session's fate.
    if (ec) spdlog::debug("bfd {} -> {}: send failed: {}", p.local.to_string(), p.remote.address().to_string(), ec.message());
  }
  for (const auto& c : out.changes) {
    spdlog::info("bfd {} -> {} (discriminator {}/{}): {} -> {}, diag: {}", p.local.to_string(),
                 p.remote.address().to_string(), p.fsm.local_discriminator(), p.fsm.remote_discriminator(),
                 to_string(c.from), to_string(c.to), to_string(c.reason));
    if (p.on_change) p.on_change(p.fsm.local_discriminator(), c);
  }
}

void service::arm(const std::shared_ptr<peer>& p) {
  if (p->closed) return;
  const auto deadline = p->fsm.next_deadline();
  if (deadline == time_point::max()) {
    p->timer.cancel();
    return;
  }
  p->timer.expires_at(deadline);
  p->timer.async_wait([self = shared_from_this(), p](boost::system::error_code ec) {
    if (ec || p->closed) return;
    self->apply(*p, p->fsm.on_timer(clock_type::now()));
    self->arm(p);
  });
}

Result<std::uint32_t> service::add_session(const asio::ip::address& local, const asio::ip::address& remote,
                                           session_config cfg, state_callback on_change, std::uint16_t peer_port) {
  std::uint32_t disc = 0;
  while (disc == 0 || peers_.contains(disc)) disc = static_cast<std::uint32_t>(rng_());
  auto p = std::make_shared<peer>(ex_, disc, cfg, [this] { return std::uniform_real_distribution<double>(0, 1)(rng_); });
  p->remote = udp::endpoint(remote, peer_port);
  p->local = local;
  p->on_change = std::move(on_change);
  boost::system::error_code ec;
  p->sock.open(remote.is_v6() ? udp::v6() : udp::v4(), ec);
  if (!ec) ec = set_send_ttl(p->sock, remote.is_v6());
  if (ec) return ec;
  // RFC 5881 §4: a source port in 49152–65535, the same for the session's life.
  std::uniform_int_distribution<int> port(source_port_min, 65535);
  ec = asio::error::address_in_use;
  for (int attempt = 0; attempt < 64 && ec; ++attempt) {
    ec.clear();
    p->sock.bind(udp::endpoint(local, static_cast<std::uint16_t>(port(rng_))), ec);
  }
  if (ec) {
    spdlog::error("bfd {} -> {}: cannot bind a source port: {}", local.to_string(), remote.to_string(), ec.message());
    return ec;
  }
  peers_.emplace(disc, p);
  spdlog::info("bfd {} -> {}: session {} started (tx {} us, rx {} us, x{})", local.to_string(), remote.to_string(),
               disc, cfg.desired_min_tx_us, cfg.required_min_rx_us, cfg.detect_mult);
  apply(*p, p->fsm.start(clock_type::now()));
  arm(p);
  return disc;
}

void service::remove_session(std::uint32_t local_discriminator) {
  auto it = peers_.find(local_discriminator);
  if (it == peers_.end()) return;
  auto& p = *it->second;
  p.closed = true;
  p.timer.cancel();
  boost::system::error_code ec;
  p.sock.close(ec);
  spdlog::info("bfd {} -> {}: session {} removed", p.local.to_string(), p.remote.address().to_string(),
               local_discriminator);
  peers_.erase(it);
}

void service::set_admin_down(std::uint32_t local_discriminator, bool down) {
  auto it = peers_.find(local_discriminator);
  if (it == peers_.end()) return;
  apply(*it->second, it->second->fsm.set_admin_down(down, clock_type::now()));
  arm(it->second);
}

const session* service::find(std::uint32_t local_discriminator) const {
  auto it = peers_.find(local_discriminator);
  return it == peers_.end() ? nullptr : &it->second->fsm;
}

void service::close() {
  boost::system::error_code ec;
  rx4_.close(ec);
  rx6_.close(ec);
  while (!peers_.empty()) remove_session(peers_.begin()->first);
}

}  // namespace herald::bfd
