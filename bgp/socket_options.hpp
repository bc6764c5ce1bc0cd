// Socket options for BGP transport: TCP MD5 signatures (RFC 2385), TTL for
// eBGP single-hop and multihop, and the Generalized TTL Security Mechanism
// (RFC 5082: send 255, drop anything that arrives with fewer hops left).
// Thin wrappers over setsockopt; errors come back as error_code.
#pragma once

#include <string_view>
#include <system_error>

#include "bgp/wire/types.hpp"

namespace herald::bgp {

// Installs (or, with an empty key, removes) the MD5 key for `peer` on `fd`.
// `fd_family` is the socket's family: an IPv4 peer on an IPv6 socket is keyed
// by its v4-mapped address, as the kernel sees it.
std::error_code set_tcp_md5(int fd, wire::afi fd_family, const wire::ip_address& peer, std::string_view key);
// Outgoing TTL / hop limit.
std::error_code set_ttl(int fd, wire::afi fd_family, int ttl);
// Minimum TTL / hop limit accepted on receive (IP_MINTTL / IPV6_MINHOPCOUNT).
std::error_code set_min_ttl(int fd, wire::afi fd_family, int min_ttl);

}  // namespace herald::bgp
