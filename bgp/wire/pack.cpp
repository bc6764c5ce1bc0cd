// Packs prefixes that share one attribute set into as few UPDATEs as the
// size limit allows. The attribute block is encoded once; each message then
// takes prefixes until the next one would not fit. MP_REACH_NLRI and
// MP_UNREACH_NLRI go last in their message so the prefixes can be appended
// with the attribute's length patched afterwards (RFC 4271 §5 lets the
// sender order attributes; receivers accept any order).
#include "bgp/wire/pack.hpp"

#include <cassert>
#include <cstring>

#include "bgp/wire/cursor.hpp"
#include "bgp/wire/message.hpp"

namespace herald::bgp::wire {

namespace {

std::size_t nlri_size(const ip_prefix& p) { return 1 + (p.length + 7u) / 8u; }

// Appends prefixes from `next` while they fit below `limit` bytes since `start`.
std::size_t append_prefixes(std::span<const ip_prefix> prefixes, std::size_t next, bytes& out, std::size_t start,
                            std::size_t limit) {
  while (next < prefixes.size()) {
    auto& p = prefixes[next];
    auto n = nlri_size(p);
    if (out.size() - start + n > limit) break;
    auto at = out.size();
    out.resize(at + n);
    out[at] = std::byte{p.length};
    std::memcpy(out.data() + at + 1, p.addr.octets.data(), n - 1);
    ++next;
  }
  return next;
}

void u16_at(bytes& out, std::size_t at, std::size_t v) { writer(out).patch16(at, v); }

}  // namespace

std::size_t pack_announce(const path_attributes& attrs, std::span<const ip_prefix> prefixes,
                          const update_context& ctx, bytes& out) {
  if (prefixes.empty()) return 0;
  const bool classic = prefixes.front().addr.is_v4() && attrs.next_hop && attrs.next_hop->is_v4() &&
                       !(attrs.reach && !attrs.reach->next_hops.empty() && !attrs.reach->next_hops.front().is_v4());
  path_attributes base = attrs;
  base.reach.reset();
  base.unreach.reset();
  if (!classic) base.next_hop.reset();  // the next hop travels in MP_REACH_NLRI
  bytes block;
  encode_attributes(base, ctx, block);

  family f{prefixes.front().addr.family, safi::unicast};
  std::vector<ip_address> next_hops;
  if (attrs.reach) next_hops = attrs.reach->next_hops;
  else if (attrs.next_hop) next_hops.push_back(*attrs.next_hop);
  std::size_t nh_size = 0;
  for (auto& h : next_hops) nh_size += h.size();

  std::size_t count = 0, next = 0;
  while (next < prefixes.size()) {
    auto start = begin_message(out);
    writer w(out);
    w.u16(0);  // no withdrawn routes
    auto attrs_at = w.placeholder16();
    w.raw(block);
    std::size_t reach_len_at = 0;
    if (!classic) {
      w.u8(attr_flag::optional | attr_flag::extended_length);
      w.u8(static_cast<std::uint8_t>(attr_code::mp_reach_nlri));
      reach_len_at = w.placeholder16();
      w.u16(static_cast<std::uint16_t>(f.a));
      w.u8(static_cast<std::uint8_t>(f.s));
      w.u8(static_cast<std::uint8_t>(nh_size));
      for (auto& h : next_hops) w.raw(h.octets.data(), h.size());
      w.u8(0);
    }
    auto before = next;
    next = append_prefixes(prefixes, next, out, start, ctx.max_message);
    // The attribute block alone is too large: a configuration error upstream.
    assert(next > before && "attribute block leaves no room for a prefix");
    if (next == before) {
      out.resize(start);
      break;
    }
    if (classic) {
      u16_at(out, attrs_at, block.size());
    } else {
      u16_at(out, reach_len_at, out.size() - reach_len_at - 2);
      u16_at(out, attrs_at, out.size() - attrs_at - 2);
    }
    patch_header(out, start, message_type::update);
    ++count;
  }
  return count;
}

std::size_t pack_withdraw(family f, std::span<const ip_prefix> prefixes, const update_context& ctx, bytes& out) {
  std::size_t count = 0, next = 0;
  const bool classic = f == ipv4_unicast;
  while (next < prefixes.size()) {
    auto start = begin_message(out);
    writer w(out);
    if (classic) {
      auto wd_at = w.placeholder16();
      // Leave room for the 2-octet Total Path Attribute Length.
      next = append_prefixes(prefixes, next, out, start, ctx.max_message - 2);
      u16_at(out, wd_at, out.size() - wd_at - 2);
      w.u16(0);
    } else {
      w.u16(0);
      auto attrs_at = w.placeholder16();
      w.u8(attr_flag::optional | attr_flag::extended_length);
      w.u8(static_cast<std::uint8_t>(attr_code::mp_unreach_nlri));
      auto len_at = w.placeholder16();
      w.u16(static_cast<std::uint16_t>(f.a));
      w.u8(static_cast<std::uint8_t>(f.s));
      next = append_prefixes(prefixes, next, out, start, ctx.max_message);
      u16_at(out, len_at, out.size() - len_at - 2);
      u16_at(out, attrs_at, out.size() - attrs_at - 2);
    }
    patch_header(out, start, message_type::update);
    ++count;
  }
  return count;
}

}  // namespace herald::bgp::wire
