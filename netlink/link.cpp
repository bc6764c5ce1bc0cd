// Links and routes through libnl-route-3: find and ensure the kube-lb0 link
// (rtnetlink(7) RTM_NEWLINK / RTM_GETLINK), list links for the agent's
// local-interface regex, and find the default-route interface (RTM_GETROUTE,
// the main table's 0/0 unicast route with the lowest metric).
#include <net/if.h>
#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <spdlog/spdlog.h>

#include <regex>
#include <utility>

#include "netlink/rtnl.hpp"

namespace herald::netlink {

namespace {
struct link_deleter {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
using link_ptr = std::unique_ptr<rtnl_link, link_deleter>;
struct cache_deleter {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using cache_ptr = std::unique_ptr<nl_cache, cache_deleter>;

link_info to_link_info(rtnl_link* l) {
  link_info info;
  info.index = rtnl_link_get_ifindex(l);
  if (const char* n = rtnl_link_get_name(l)) info.name = n;
  if (const char* t = rtnl_link_get_type(l)) info.kind = t;
  info.up = (rtnl_link_get_flags(l) & IFF_UP) != 0;
  info.multicast = (rtnl_link_get_flags(l) & IFF_MULTICAST) != 0;
  if (nl_addr* a = rtnl_link_get_addr(l)) {
    const auto* b = static_cast<const std::uint8_t*>(nl_addr_get_binary_addr(a));
    info.hwaddr.assign(b, b + nl_addr_get_len(a));
  }
  return info;
}

// libnl reports kernel errnos translated to its own NLE_* codes.
errc errc_from_nle(int nle) {
  switch (nle < 0 ? -nle : nle) {
    case NLE_NODEV:
    case NLE_OBJ_NOTFOUND: return errc::no_such_device;
    case NLE_PERM: return errc::permission_denied;
    case NLE_EXIST: return errc::exists;
    case NLE_OPNOTSUPP: return errc::link_type_unsupported;
    case NLE_INVAL:
    case NLE_RANGE: return errc::invalid_argument;
    default: return errc::kernel_error;
  }
}
}  // namespace

nl_result<link_info> rtnl::find_link(std::string_view name) {
  if (auto v = validate_link_name(name); !v) return v.error();
  std::string n(name);
  rtnl_link* raw = nullptr;
  if (int err = rtnl_link_get_kernel(sock_, 0, n.c_str(), &raw); err < 0) {
    auto code = errc_from_nle(err);
    if (code == errc::no_such_device) return make_error(code, fmt::format("link {}: no such device", n));
    return make_error(code, fmt::format("link {}: lookup failed: {}", n, nl_geterror(err)));
  }
  link_ptr l(raw);
  return to_link_info(l.get());
}

nl_result<link_info> rtnl::ensure_link(std::string_view name) {
  auto found = find_link(name);
  if (!found && !found.error().is(errc::no_such_device)) return found.error();
  if (!found) {
    // Create it as a dummy link, already up (IFF_UP in the request).
    link_ptr l(rtnl_link_alloc());
    rtnl_link_set_name(l.get(), std::string(name).c_str());
    if (int err = rtnl_link_set_type(l.get(), "dummy"); err < 0)
      return make_error(errc::protocol_error, fmt::format("link {}: libnl cannot build a dummy link: {}", name,
                                                          nl_geterror(err)));
    rtnl_link_set_flags(l.get(), IFF_UP);
    nl_msg* raw = nullptr;
    if (int err = rtnl_link_build_add_request(l.get(), NLM_F_CREATE | NLM_F_EXCL, &raw); err < 0)
      return make_error(errc::protocol_error, fmt::format("link {}: cannot build the request: {}", name,
                                                          nl_geterror(err)));
    msg_ptr req[1] = {msg_ptr(raw)};
    auto acks = transact(req);
    if (!acks) return acks.error();
    const ack& a = (*acks)[0];
    if (a.error == EOPNOTSUPP || a.error == ENOENT) {
      // The kernel could not find (or load) the rtnl_link_ops for "dummy".
      return make_error(errc::link_type_unsupported,
                        fmt::format("link {}: cannot create it: the kernel has no `dummy` link type (module `dummy` "
                                    "missing or not loadable: {}{}). Load it (modprobe dummy) or pre-create the "
                                    "link yourself with any type, e.g. `ip link add {} type bridge && ip link set "
                                    "{} arp off multicast off` (as a dummy is); Herald adopts an existing link of "
                                    "that name",
                                    name, std::strerror(a.error), a.ext_ack.empty() ? "" : ", " + a.ext_ack, name,
                                    name));
    }
    if (a.error != 0 && a.error != EEXIST) return kernel_error(a, fmt::format("link {}: cannot create it", name));
    found = find_link(name);  // EEXIST: created meanwhile by someone else; adopt it
    if (!found) return found.error();
    spdlog::info("netlink: link {}: {} as dummy (ifindex {})", name, a.error == 0 ? "created" : "adopted",
                 found->index);
  } else {
    spdlog::debug("netlink: link {}: adopted existing {} link (ifindex {})", name,
                  found->kind.empty() ? "device" : found->kind, found->index);
    // Measured (BENCHMARKS.md, scale): 10,000 IPv6 Services converged in
    // 166 s on such a bridge, 23 s with multicast off. Herald does not change
    // flags on a link it did not create; it says what to do.
    if (!found->multicast)
      multicast_warned_ = 0;  // fixed: warn again should it come back
    else if (std::exchange(multicast_warned_, found->index) != found->index)
      spdlog::warn("netlink: link {}: the adopted {} link has multicast on, so each IPv6 address on it also joins "
                   "its solicited-node group (kernel MLD work per address, which a dummy never does); "
                   "`ip link set {} arp off multicast off` makes it behave as a dummy",
                   name, found->kind.empty() ? "device" : found->kind, name);
  }
  if (found->up) return found;
  // Set it up: RTM_NEWLINK on the ifindex with IFF_UP in ifi_change.
  link_ptr orig(rtnl_link_alloc());
  rtnl_link_set_ifindex(orig.get(), found->index);
  rtnl_link_set_name(orig.get(), found->name.c_str());
  link_ptr change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  nl_msg* raw = nullptr;
  if (int err = rtnl_link_build_change_request(orig.get(), change.get(), 0, &raw); err < 0)
    return make_error(errc::protocol_error, fmt::format("link {}: cannot build the request: {}", name,
                                                        nl_geterror(err)));
  msg_ptr req[1] = {msg_ptr(raw)};
  auto acks = transact(req);
  if (!acks) return acks.error();
  if ((*acks)[0].error != 0) return kernel_error((*acks)[0], fmt::format("link {}: cannot set it up", name));
  spdlog::info("netlink: link {}: set up", name);
  found->up = true;
  return found;
}

nl_result<std::vector<link_info>> rtnl::list_links() {
  nl_cache* raw = nullptr;
  if (int err = rtnl_link_alloc_cache(sock_, AF_UNSPEC, &raw); err < 0)
    return make_error(errc_from_nle(err), fmt::format("netlink: cannot list links: {}", nl_geterror(err)));
  cache_ptr cache(raw);
  std::vector<link_info> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o))
    out.push_back(to_link_info(reinterpret_cast<rtnl_link*>(o)));
  std::sort(out.begin(), out.end(), [](const link_info& a, const link_info& b) { return a.index < b.index; });
  return out;
}

nl_result<std::vector<link_info>> rtnl::links_matching(std::string_view pattern) {
  std::regex re;
  try {
    re = std::regex(pattern.begin(), pattern.end(), std::regex::ECMAScript);
  } catch (const std::regex_error& e) {  // configuration input: report, never propagate
    return make_error(errc::invalid_argument, fmt::format("interface regex '{}' is invalid: {}", pattern, e.what()));
  }
  auto links = list_links();
  if (!links) return links.error();
  std::vector<link_info> out;
  for (auto& l : *links)
    if (std::regex_match(l.name, re)) out.push_back(std::move(l));
  return out;
}

nl_result<link_info> rtnl::default_route_interface(family f) {
  nl_cache* raw = nullptr;
  int af = f == family::ipv4 ? AF_INET : AF_INET6;
  if (int err = rtnl_route_alloc_cache(sock_, af, 0, &raw); err < 0)
    return make_error(errc_from_nle(err), fmt::format("netlink: cannot list {} routes: {}", to_string(f),
                                                      nl_geterror(err)));
  cache_ptr cache(raw);
  int best_index = 0;
  std::uint32_t best_metric = 0;
  for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    nl_addr* dst = rtnl_route_get_dst(r);
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_type(r) != RTN_UNICAST || dst == nullptr ||
        nl_addr_get_prefixlen(dst) != 0 || rtnl_route_get_nnexthops(r) < 1)
      continue;
    // A multipath default route counts with its first next hop's interface.
    int index = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(r, 0));
    std::uint32_t metric = rtnl_route_get_priority(r);
    if (index > 0 && (best_index == 0 || metric < best_metric)) {
      best_index = index;
      best_metric = metric;
    }
  }
  if (best_index == 0)
    return make_error(errc::no_such_device, fmt::format("netlink: no {} default route in the main table", to_string(f)));
  rtnl_link* l = nullptr;
  if (int err = rtnl_link_get_kernel(sock_, best_index, nullptr, &l); err < 0)
    return make_error(errc_from_nle(err), fmt::format("netlink: default route's interface {} vanished: {}",
                                                      best_index, nl_geterror(err)));
  link_ptr owned(l);
  spdlog::debug("netlink: {} default route via {} (metric {})", to_string(f), rtnl_link_get_name(l), best_metric);
  return to_link_info(l);
}

}  // namespace herald::netlink
