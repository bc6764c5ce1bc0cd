// Interface addresses over rtnetlink (rtnetlink(7) RTM_NEWADDR / RTM_DELADDR
// / RTM_GETADDR). The messages are built with libnl-3's message API rather
// than libnl-route's rtnl_addr, because libnl 3.7 knows neither IFA_PROTO
// (Linux 5.18), which marks an address as Herald's, nor how to report it.
//
// Ownership: every address Herald adds carries IFA_PROTO = owner_protocol.
// A restarted agent reads the mark back from the kernel, so it needs no state
// file, and it never removes an address without it (an operator's).
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cassert>

#include "netlink/rtnl.hpp"

namespace herald::netlink {

namespace {
std::vector<std::uint8_t> address_bytes(const ip_address& a) {
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return {b.begin(), b.end()};
  }
  auto b = a.to_v6().to_bytes();
  return {b.begin(), b.end()};
}

// IPv4 keys an address by (address, prefix length); IPv6 by address alone
// (ipv6_add_addr() refuses the same address with another length: EEXIST).
bool same_slot(const address_info& have, const ip_address& a, std::uint8_t len) {
  return have.address == a && (a.is_v6() || have.prefix_len == len);
}
}  // namespace

msg_ptr rtnl::address_request(int type, bool replace, const link_info& link, const address_spec& spec) const {
  int flags = NLM_F_REQUEST | NLM_F_ACK;
  if (type == RTM_NEWADDR) flags |= NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL);
  msg_ptr m(nlmsg_alloc_simple(type, flags));
  std::uint32_t ifa_flags = 0;
  if (spec.noprefixroute) ifa_flags |= IFA_F_NOPREFIXROUTE;
  if (spec.nodad) ifa_flags |= IFA_F_NODAD;
  ifaddrmsg ifa{};
  ifa.ifa_family = spec.address.is_v4() ? AF_INET : AF_INET6;
  ifa.ifa_prefixlen = spec.prefix_len;
  ifa.ifa_flags = static_cast<std::uint8_t>(ifa_flags & 0xFF);
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = static_cast<std::uint32_t>(link.index);
  // Only allocation can fail below, on a message of a few dozen bytes that
  // nlmsg_alloc_simple() sized at a page: an invariant, not an input error.
  [[maybe_unused]] int err = nlmsg_append(m.get(), &ifa, sizeof ifa, NLMSG_ALIGNTO);
  auto bytes = address_bytes(spec.address);
  int len = static_cast<int>(bytes.size());
  err |= nla_put(m.get(), IFA_LOCAL, len, bytes.data());
  err |= nla_put(m.get(), IFA_ADDRESS, len, bytes.data());
  if (type == RTM_NEWADDR) {
    err |= nla_put_u32(m.get(), IFA_FLAGS, ifa_flags);
    if (spec.finite()) {
      ifa_cacheinfo ci{};
      ci.ifa_prefered = spec.preferred_lifetime;
      ci.ifa_valid = spec.valid_lifetime;
      err |= nla_put(m.get(), IFA_CACHEINFO, sizeof ci, &ci);
    }
    err |= nla_put_u8(m.get(), IFA_PROTO, options_.owner_protocol);
  }
  assert(err == 0);
  return m;
}

nl_result<std::vector<address_info>> rtnl::list_addresses(const link_info& link) {
  msg_ptr req(nlmsg_alloc_simple(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP));
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_UNSPEC;
  ifa.ifa_index = static_cast<std::uint32_t>(link.index);  // filtered by the kernel (strict checks)
  nlmsg_append(req.get(), &ifa, sizeof ifa, NLMSG_ALIGNTO);
  std::vector<address_info> out;
  auto r = dump(req.get(), [&](const nlmsghdr* h) {
    auto a = parse_address(h);
    if (a && a->ifindex == link.index) out.push_back(std::move(*a));  // ... and here, for older kernels
  });
  if (!r) return netlink_error{r.error().code, fmt::format("link {}: cannot list addresses: {}", link.name,
                                                           r.error().message)};
  return out;
}

nl_result<std::vector<subnet>> rtnl::subnets(const link_info& link) {
  auto addrs = list_addresses(link);
  if (!addrs) return addrs.error();
  std::vector<subnet> out;
  for (const auto& a : *addrs) {
    subnet s{network_of(a.address, a.prefix_len), a.prefix_len};
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return out;
}

nl_result<add_outcome> rtnl::add_address(const link_info& link, const address_spec& spec) {
  if (auto v = validate(spec, link.name); !v) return v.error();
  auto what = fmt::format("address {} on {}", spec.to_string(), link.name);
  msg_ptr req[1] = {address_request(RTM_NEWADDR, false, link, spec)};
  auto acks = transact(req);
  if (!acks) return acks.error();
  const ack& a = (*acks)[0];
  if (a.error == 0) {
    spdlog::info("netlink: {}: added", what);
    return add_outcome::added;
  }
  if (a.error != EEXIST) return kernel_error(a, fmt::format("{}: cannot add", what));
  // Already there: Herald's own is renewed (idempotent add); anyone else's stays.
  auto have = list_addresses(link);
  if (!have) return have.error();
  auto it = std::find_if(have->begin(), have->end(),
                         [&](const address_info& x) { return same_slot(x, spec.address, spec.prefix_len); });
  if (it == have->end()) return make_error(errc::exists, fmt::format("{}: the kernel reports it exists", what));
  if (!owns(*it))
    return make_error(errc::exists, fmt::format("{}: exists as {} and is not Herald's (address protocol {}); "
                                                "left alone",
                                                what, it->to_string(), it->protocol));
  if (it->prefix_len != spec.prefix_len)
    return make_error(errc::exists, fmt::format("{}: Herald's {} is in the way; remove it first", what,
                                                it->to_string()));
  req[0] = address_request(RTM_NEWADDR, true, link, spec);
  acks = transact(req);
  if (!acks) return acks.error();
  if ((*acks)[0].error != 0) return kernel_error((*acks)[0], fmt::format("{}: cannot renew", what));
  spdlog::debug("netlink: {}: already present, renewed", what);
  return add_outcome::present;
}

nl_result<bool> rtnl::remove_address(const link_info& link, const ip_address& address, std::uint8_t prefix_len) {
  auto what = fmt::format("address {} on {}", to_cidr(address, prefix_len), link.name);
  if (prefix_len > max_prefix_len(family_of(address)))
    return make_error(errc::invalid_argument, fmt::format("{}: prefix length {} is too long for an {} address", what,
                                                          prefix_len, to_string(family_of(address))));
  auto have = list_addresses(link);
  if (!have) return have.error();
  auto it = std::find_if(have->begin(), have->end(), [&](const address_info& x) {
    return x.address == address && x.prefix_len == prefix_len;
  });
  if (it == have->end()) return false;
  if (!owns(*it))
    return make_error(errc::not_owned, fmt::format("{}: not Herald's (address protocol {}); refusing to remove it",
                                                   what, it->protocol));
  address_spec spec{address, prefix_len};
  msg_ptr req[1] = {address_request(RTM_DELADDR, false, link, spec)};
  auto acks = transact(req);
  if (!acks) return acks.error();
  if ((*acks)[0].error == EADDRNOTAVAIL) return false;  // removed meanwhile
  if ((*acks)[0].error != 0) return kernel_error((*acks)[0], fmt::format("{}: cannot remove", what));
  spdlog::info("netlink: {}: removed", what);
  return true;
}

}  // namespace herald::netlink
