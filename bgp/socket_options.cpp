// setsockopt wrappers for BGP transport security (see socket_options.hpp).
#include "bgp/socket_options.hpp"

#include <arpa/inet.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#ifndef IPV6_MINHOPCOUNT
#define IPV6_MINHOPCOUNT 73  // linux/in6.h; glibc's headers lag
#endif

namespace herald::bgp {

namespace {
std::error_code last_error(int rc) { return rc == 0 ? std::error_code{} : std::error_code(errno, std::system_category()); }
}  // namespace

std::error_code set_tcp_md5(int fd, wire::afi fd_family, const wire::ip_address& peer, std::string_view key) {
  if (key.size() > TCP_MD5SIG_MAXKEYLEN) return std::make_error_code(std::errc::invalid_argument);
  struct tcp_md5sig sig {};
  if (fd_family == wire::afi::ipv4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&sig.tcpm_addr);
    sin->sin_family = AF_INET;
    std::memcpy(&sin->sin_addr, peer.octets.data(), 4);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&sig.tcpm_addr);
    sin6->sin6_family = AF_INET6;
    if (peer.is_v4()) {
      // ::ffff:a.b.c.d
      sin6->sin6_addr.s6_addr[10] = 0xff;
      sin6->sin6_addr.s6_addr[11] = 0xff;
      std::memcpy(&sin6->sin6_addr.s6_addr[12], peer.octets.data(), 4);
    } else {
      std::memcpy(&sin6->sin6_addr, peer.octets.data(), 16);
    }
  }
  sig.tcpm_keylen = static_cast<std::uint16_t>(key.size());
  std::memcpy(sig.tcpm_key, key.data(), key.size());
  return last_error(setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig));
}

std::error_code set_ttl(int fd, wire::afi fd_family, int ttl) {
  if (fd_family == wire::afi::ipv4) return last_error(setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl));
  auto ec = last_error(setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl));
  // A dual-stack socket talking to an IPv4 peer uses the IPv4 TTL too.
  setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
  return ec;
}

std::error_code set_min_ttl(int fd, wire::afi fd_family, int min_ttl) {
  if (fd_family == wire::afi::ipv4) return last_error(setsockopt(fd, IPPROTO_IP, IP_MINTTL, &min_ttl, sizeof min_ttl));
  auto ec = last_error(setsockopt(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, &min_ttl, sizeof min_ttl));
  setsockopt(fd, IPPROTO_IP, IP_MINTTL, &min_ttl, sizeof min_ttl);
  return ec;
}

}  // namespace herald::bgp
