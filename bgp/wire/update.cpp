// UPDATE decoding and encoding. Attributes are table-driven (STYLE.md §5;
// BIRD's bgp_attr_table): each row names the attribute, its expected flags,
// its decoder and its RFC 7606 action. Checks run in the RFC 7606 order:
// framing (§4), duplicates (§3.g), flags (§3.c), value (§7), missing
// mandatory attributes (§3.d).
#include "bgp/wire/update.hpp"

#include <algorithm>
#include <bitset>

#include "bgp/wire/cursor.hpp"
#include "bgp/wire/message.hpp"

namespace herald::bgp::wire {

namespace {

decode_error update_error(update_subcode s, error_action a, std::string detail, bytes data = {}) {
  return make_error(notification_code::update_message_error, s, a, std::move(detail), std::move(data));
}

// Reads prefixes in NLRI form until the span ends (RFC 4271 §4.3, RFC 4760 §5).
// On error returns false and sets detail.
bool decode_prefixes(std::span<const std::byte> data, afi a, std::vector<ip_prefix>& out, std::string& detail) {
  const unsigned max_bits = a == afi::ipv4 ? 32 : 128;
  const std::size_t n = data.size();
  std::size_t i = 0;
  while (i < n) {
    unsigned len = std::to_integer<unsigned>(data[i]);
    if (len > max_bits) {
      detail = "prefix length " + std::to_string(len) + " exceeds " + std::to_string(max_bits);
      return false;
    }
    std::size_t octets = (len + 7) / 8;
    if (i + 1 + octets > n) {
      detail = "prefix of length " + std::to_string(len) + " truncated";
      return false;
    }
    ip_prefix& p = out.emplace_back();
    p.addr.family = a;
    p.length = static_cast<std::uint8_t>(len);
    std::memcpy(p.addr.octets.data(), data.data() + i + 1, octets);
    // Bits past the length are ignored (RFC 4271 §4.3), so they are cleared.
    if (len % 8 != 0) p.addr.octets[octets - 1] &= static_cast<std::uint8_t>(0xff00 >> (len % 8));
    i += 1 + octets;
  }
  return true;
}

// An AS_PATH or AS4_PATH; asn_size is 2 or 4 octets (RFC 6793).
bool decode_as_path(std::span<const std::byte> v, std::size_t asn_size, as_path& out, std::string& detail) {
  cursor c(v);
  while (!c.empty()) {
    auto type = c.u8();
    auto count = c.u8();
    if (c.failed()) {
      detail = "segment header truncated";
      return false;
    }
    if (type < 1 || type > 4) {
      detail = "segment type " + std::to_string(type);
      return false;
    }
    if (count == 0) {
      detail = "empty segment";  // RFC 7606 §7.2
      return false;
    }
    if (c.remaining() < count * asn_size) {
      detail = "segment of " + std::to_string(count) + " ASes overruns the attribute";
      return false;
    }
    as_segment s;
    s.type = static_cast<as_segment::kind>(type);
    s.asns.reserve(count);
    for (unsigned i = 0; i < count; ++i) s.asns.push_back(asn_size == 4 ? c.u32() : c.u16());
    out.push_back(std::move(s));
  }
  return true;
}

bool valid_ipv4_next_hop(std::uint32_t a) {
  // RFC 4271 §6.3: the NEXT_HOP must be a valid host address.
  return a != 0 && a != 0xffffffff && (a >> 28) != 0xe /* multicast */ && (a >> 28) != 0xf /* class E */;
}

struct attr_decode_state {
  const update_context& ctx;
  path_attributes& attrs;
};
// Returns nullopt on success, else the error (with the row's action filled in by the caller).
using attr_decoder = std::optional<decode_error> (*)(std::uint8_t flags, std::span<const std::byte> v,
                                                     attr_decode_state& st);

struct attr_row {
  attr_code code;
  const char* name;
  std::uint8_t flags;  // optional and transitive bits as the RFC requires
  error_action action;  // RFC 7606 action for a malformed value
  attr_decoder decode;
};

std::optional<decode_error> length_error(const char* name, std::size_t len) {
  return update_error(update_subcode::attribute_length_error, error_action::none,
                      std::string(name) + " length " + std::to_string(len));
}

std::optional<decode_error> dec_origin(std::uint8_t, std::span<const std::byte> v, attr_decode_state& st) {
  if (v.size() != 1) return length_error("ORIGIN", v.size());
  auto o = std::to_integer<std::uint8_t>(v[0]);
  if (o > 2) return update_error(update_subcode::invalid_origin_attribute, error_action::none, "ORIGIN " + std::to_string(o));
  st.attrs.origin = static_cast<origin_type>(o);
  return std::nullopt;
}

std::optional<decode_error> dec_as_path(std::uint8_t, std::span<const std::byte> v, attr_decode_state& st) {
  as_path p;
  std::string detail;
  if (!decode_as_path(v, st.ctx.four_octet_as ? 4 : 2, p, detail))
    return update_error(update_subcode::malformed_as_path, error_action::none, "AS_PATH: " + detail);
  st.attrs.path = std::move(p);
  return std::nullopt;
}

std::optional<decode_error> dec_as4_path(std::uint8_t, std::span<const std::byte> v, attr_decode_state& st) {
  as_path p;
  std::string detail;
  if (!decode_as_path(v, 4, p, detail))
    return update_error(update_subcode::malformed_as_path, error_action::none, "AS4_PATH: " + detail);
  st.attrs.as4_path = std::move(p);
  return std::nullopt;
}

std::optional<decode_error> dec_next_hop(std::uint8_t, std::span<const std::byte> v, attr_decode_state& st) {
  if (v.size() != 4) return length_error("NEXT_HOP", v.size());
  cursor c(v);
  auto a = c.u32();
  if (!valid_ipv4_next_hop(a))
    return update_error(update_subcode::invalid_next_hop_attribute, error_action::none,
                        "NEXT_HOP " + ip_address::v4(a).to_string(), bytes(v.begin(), v.end()));
  st.attrs.next_hop = ip_address::v4(a);
  return std::nullopt;
}

std::optional<decode_error> dec_med(std::uint8_t, std::span<const std::byte> v, attr_decode_state& st) {
  if (v.size() != 4) return length_error("MULTI_EXIT_DISC", v.size());
  st.attrs.med = cursor(v).u32();
  return std::nullopt;
}

std::optional<decode_error> dec_local_pref(std::uint8_t, std::span<const std::byte> v, attr_decode_state& st) {
  if (v.size() != 4) return length_error("LOCAL_PREF", v.size());
  // RFC 4271 §5.1.5 / RFC 7606 §7.5: from an external peer it is ignored.
  if (!st.ctx.ebgp) st.attrs.local_pref = cursor(v).u32();
  return std::nullopt;
}

std::optional<decode_error> dec_atomic(std::uint8_t, std::span<const std::byte> v, attr_decode_state& st) {
  if (!v.empty()) return length_error("ATOMIC_AGGREGATE", v.size());
  st.attrs.atomic_aggregate = true;
  return std::nullopt;
}

std::optional<decode_error> dec_aggregator(std::uint8_t, std::span<const std::byte> v, attr_decode_state& st) {
  std::size_t asn_size = st.ctx.four_octet_as ? 4 : 2;
  if (v.size() != asn_size + 4) return length_error("AGGREGATOR", v.size());
  cursor c(v);
  aggregator a;
  a.asn = asn_size == 4 ? c.u32() : c.u16();
  a.address = c.u32();
  st.attrs.aggr = a;
  return std::nullopt;
}

std::optional<decode_error> dec_as4_aggregator(std::uint8_t, std::span<const std::byte> v, attr_decode_state& st) {
  if (v.size() != 8) return length_error("AS4_AGGREGATOR", v.size());
  cursor c(v);
  aggregator a;
  a.asn = c.u32();
  a.address = c.u32();
  st.attrs.as4_aggr = a;
  return std::nullopt;
}

std::optional<decode_error> dec_communities(std::uint8_t, std::span<const std::byte> v, attr_decode_state& st) {
  if (v.empty() || v.size() % 4 != 0) return length_error("COMMUNITIES", v.size());
  cursor c(v);
  st.attrs.communities.reserve(v.size() / 4);
  while (!c.empty()) st.attrs.communities.push_back(c.u32());
  return std::nullopt;
}

std::optional<decode_error> dec_ext_communities(std::uint8_t, std::span<const std::byte> v, attr_decode_state& st) {
  if (v.empty() || v.size() % 8 != 0) return length_error("EXTENDED_COMMUNITIES", v.size());
  cursor c(v);
  while (!c.empty()) {
    extended_community ec;
    c.copy_to(ec.raw.data(), 8);
    st.attrs.ext_communities.push_back(ec);
  }
  return std::nullopt;
}

std::optional<decode_error> dec_large_communities(std::uint8_t, std::span<const std::byte> v, attr_decode_state& st) {
  if (v.empty() || v.size() % 12 != 0) return length_error("LARGE_COMMUNITY", v.size());
  cursor c(v);
  while (!c.empty()) {
    large_community l;
    l.global_admin = c.u32();
    l.local1 = c.u32();
    l.local2 = c.u32();
    st.attrs.large_communities.push_back(l);
  }
  return std::nullopt;
}

std::optional<decode_error> mp_error(std::string detail) {
  // RFC 4760 §7 and RFC 7606 §7.11: a malformed MP attribute resets the session.
  return update_error(update_subcode::optional_attribute_error, error_action::none, std::move(detail));
}

bool supported(family f) { return f == ipv4_unicast || f == ipv6_unicast; }

std::optional<decode_error> dec_mp_reach(std::uint8_t, std::span<const std::byte> v, attr_decode_state& st) {
  cursor c(v);
  mp_reach r;
  r.f.a = static_cast<afi>(c.u16());
  r.f.s = static_cast<safi>(c.u8());
  auto nh_len = c.u8();
  auto nh = c.take(nh_len);
  c.u8();  // reserved (RFC 4760 §3: ignored on receipt)
  if (c.failed()) return mp_error("MP_REACH_NLRI truncated before its NLRI (length " + std::to_string(v.size()) + ")");
  if (!supported(r.f)) return mp_error("MP_REACH_NLRI for unsupported family " + to_string(r.f));
  // Next hop: IPv4 (4), IPv6 global (16) or global + link-local (32); IPv4
  // NLRI may carry an IPv6 next hop (RFC 8950).
  cursor n(nh);
  if (nh_len == 4 && r.f.a == afi::ipv4) {
    r.next_hops.push_back(ip_address::v4(n.u32()));
  } else if (nh_len == 16 || nh_len == 32) {
    for (std::size_t i = 0; i < nh_len / 16u; ++i) {
      std::array<std::uint8_t, 16> b{};
      n.copy_to(b.data(), 16);
      r.next_hops.push_back(ip_address::v6(b));
    }
  } else {
    return mp_error("MP_REACH_NLRI next hop length " + std::to_string(nh_len) + " for " + to_string(r.f));
  }
  std::string detail;
  r.nlri.reserve(c.remaining() / (r.f.a == afi::ipv4 ? 5 : 17));
  if (!decode_prefixes(c.rest(), r.f.a, r.nlri, detail)) return mp_error("MP_REACH_NLRI: " + detail);
  st.attrs.reach = std::move(r);
  return std::nullopt;
}

std::optional<decode_error> dec_mp_unreach(std::uint8_t, std::span<const std::byte> v, attr_decode_state& st) {
  cursor c(v);
  mp_unreach u;
  u.f.a = static_cast<afi>(c.u16());
  u.f.s = static_cast<safi>(c.u8());
  if (c.failed()) return mp_error("MP_UNREACH_NLRI length " + std::to_string(v.size()));
  if (!supported(u.f)) return mp_error("MP_UNREACH_NLRI for unsupported family " + to_string(u.f));
  std::string detail;
  if (!decode_prefixes(c.rest(), u.f.a, u.withdrawn, detail)) return mp_error("MP_UNREACH_NLRI: " + detail);
  st.attrs.unreach = std::move(u);
  return std::nullopt;
}

constexpr std::uint8_t wk = attr_flag::transitive;                           // well-known
constexpr std::uint8_t opt_t = attr_flag::optional | attr_flag::transitive;  // optional transitive
constexpr std::uint8_t opt_nt = attr_flag::optional;                         // optional non-transitive

using enum error_action;
constexpr attr_row attr_table[] = {
    {attr_code::origin, "ORIGIN", wk, treat_as_withdraw, dec_origin},                          // RFC 7606 §7.1
    {attr_code::as_path, "AS_PATH", wk, treat_as_withdraw, dec_as_path},                       // §7.2
    {attr_code::next_hop, "NEXT_HOP", wk, treat_as_withdraw, dec_next_hop},                    // §7.3
    {attr_code::multi_exit_disc, "MULTI_EXIT_DISC", opt_nt, treat_as_withdraw, dec_med},       // §7.4
    {attr_code::local_pref, "LOCAL_PREF", wk, treat_as_withdraw, dec_local_pref},              // §7.5
    {attr_code::atomic_aggregate, "ATOMIC_AGGREGATE", wk, attribute_discard, dec_atomic},      // §7.6
    {attr_code::aggregator, "AGGREGATOR", opt_t, attribute_discard, dec_aggregator},           // §7.7
    {attr_code::communities, "COMMUNITIES", opt_t, treat_as_withdraw, dec_communities},        // §7.8
    {attr_code::mp_reach_nlri, "MP_REACH_NLRI", opt_nt, session_reset, dec_mp_reach},          // §7.11
    {attr_code::mp_unreach_nlri, "MP_UNREACH_NLRI", opt_nt, session_reset, dec_mp_unreach},    // §7.11
    {attr_code::extended_communities, "EXTENDED_COMMUNITIES", opt_t, treat_as_withdraw, dec_ext_communities},  // §7.14
    {attr_code::as4_path, "AS4_PATH", opt_t, attribute_discard, dec_as4_path},                 // RFC 6793 §6
    {attr_code::as4_aggregator, "AS4_AGGREGATOR", opt_t, attribute_discard, dec_as4_aggregator},  // RFC 6793 §6
    {attr_code::large_communities, "LARGE_COMMUNITY", opt_t, treat_as_withdraw, dec_large_communities},  // RFC 8092 §6
};

const attr_row* find_row(std::uint8_t code) {
  for (auto& r : attr_table)
    if (static_cast<std::uint8_t>(r.code) == code) return &r;
  return nullptr;
}

// The attribute as it appeared: the data of an Attribute Flags / Length Error (RFC 4271 §6.3).
bytes attribute_bytes(std::uint8_t flags, std::uint8_t code, std::span<const std::byte> v) {
  bytes b;
  writer w(b);
  w.u8(flags);
  w.u8(code);
  if (flags & attr_flag::extended_length) w.u16(static_cast<std::uint16_t>(v.size()));
  else w.u8(static_cast<std::uint8_t>(v.size()));
  w.raw(v);
  return b;
}

std::string hex_byte(std::uint8_t b) {
  static constexpr char digits[] = "0123456789abcdef";
  return std::string("0x") + digits[b >> 4] + digits[b & 15];
}

void note(decoded_update& d, decode_error e) {
  d.action = stronger(d.action, e.action);
  d.errors.push_back(std::move(e));
}

}  // namespace

std::vector<std::uint32_t> path_attributes::flat_as_path() const {
  std::vector<std::uint32_t> flat;
  if (path)
    for (auto& s : *path) flat.insert(flat.end(), s.asns.begin(), s.asns.end());
  if (!as4_path) return flat;
  std::vector<std::uint32_t> flat4;
  for (auto& s : *as4_path) flat4.insert(flat4.end(), s.asns.begin(), s.asns.end());
  // RFC 6793 §4.2.3: AS4_PATH longer than AS_PATH is ignored; otherwise the
  // leading ASes of AS_PATH are kept and the rest come from AS4_PATH.
  if (flat4.size() > flat.size()) return flat;
  flat.resize(flat.size() - flat4.size());
  flat.insert(flat.end(), flat4.begin(), flat4.end());
  return flat;
}

std::optional<family> update_message::end_of_rib() const {
  if (!withdrawn.empty() || !nlri.empty()) return std::nullopt;
  path_attributes only_unreach;
  only_unreach.unreach = attrs.unreach;
  if (attrs == path_attributes{}) return ipv4_unicast;
  if (attrs.unreach && attrs.unreach->withdrawn.empty() && attrs == only_unreach) return attrs.unreach->f;
  return std::nullopt;
}

Result<decoded_update, decode_error> decode_update(std::span<const std::byte> body, const update_context& ctx) {
  decoded_update d;
  update_message& m = d.msg;
  cursor c(body);

  // RFC 7606 §4 / RFC 4271 §6.3: the two length fields must fit the message.
  auto withdrawn_len = c.u16();
  auto withdrawn = c.take(withdrawn_len);
  if (c.failed())
    return update_error(update_subcode::malformed_attribute_list, session_reset,
                        "Withdrawn Routes Length " + std::to_string(withdrawn_len) + " overruns the message");
  auto attrs_len = c.u16();
  auto attrs = c.take(attrs_len);
  if (c.failed())
    return update_error(update_subcode::malformed_attribute_list, session_reset,
                        "Total Path Attribute Length " + std::to_string(attrs_len) + " overruns the message");
  auto nlri = c.rest();

  std::string detail;
  m.withdrawn.reserve(withdrawn.size() / 5);
  if (!decode_prefixes(withdrawn, afi::ipv4, m.withdrawn, detail))
    return update_error(update_subcode::invalid_network_field, session_reset, "withdrawn routes: " + detail);

  attr_decode_state st{ctx, m.attrs};
  std::bitset<256> seen;
  cursor a(attrs);
  while (!a.empty()) {
    // RFC 7606 §4: an attribute header or value that runs past the Total
    // Path Attribute Length is treat-as-withdraw; the length still finds the NLRI.
    auto flags = a.u8();
    auto code = a.u8();
    std::size_t len = (flags & attr_flag::extended_length) ? a.u16() : a.u8();
    auto value = a.take(len);
    if (a.failed()) {
      note(d, update_error(update_subcode::attribute_length_error, treat_as_withdraw,
                           "attribute " + std::to_string(code) + " overruns the path attributes"));
      break;
    }
    auto row = find_row(code);
    // RFC 7606 §3.g: a repeated MP attribute resets; other repeats are discarded.
    if (seen.test(code)) {
      bool mp = code == static_cast<std::uint8_t>(attr_code::mp_reach_nlri) ||
                code == static_cast<std::uint8_t>(attr_code::mp_unreach_nlri);
      auto e = update_error(update_subcode::malformed_attribute_list, mp ? session_reset : attribute_discard,
                            std::string("duplicate ") + (row ? row->name : "attribute " + std::to_string(code)));
      if (mp) return e;
      note(d, std::move(e));
      continue;
    }
    seen.set(code);
    // RFC 7606 §7.5: a LOCAL_PREF from an external peer is discarded whatever
    // its flags or length; only an internal peer's malformed one is treat-as-withdraw.
    if (code == static_cast<std::uint8_t>(attr_code::local_pref) && ctx.ebgp) continue;
    if (!row) {
      if (!(flags & attr_flag::optional))
        // RFC 4271 §6.3: an unrecognized well-known attribute.
        return update_error(update_subcode::unrecognized_well_known_attribute, session_reset,
                            "unrecognized well-known attribute " + std::to_string(code),
                            attribute_bytes(flags, code, value));
      // RFC 4271 §5: optional transitive attributes pass on with Partial set;
      // optional non-transitive ones are quietly dropped.
      if (flags & attr_flag::transitive)
        // Only the three meaningful flags are kept: Extended Length is a
        // property of the encoding, and the low four bits are unused.
        m.attrs.unknown.push_back(raw_attribute{
            static_cast<std::uint8_t>((flags & (attr_flag::optional | attr_flag::transitive)) | attr_flag::partial),
            code, bytes(value.begin(), value.end())});
      continue;
    }
    // RFC 7606 §3.c: flags that conflict with the type get the attribute's own action.
    if ((flags & (attr_flag::optional | attr_flag::transitive)) != row->flags) {
      auto e = update_error(update_subcode::attribute_flags_error, row->action,
                            std::string(row->name) + " flags " + hex_byte(flags),
                            attribute_bytes(flags, code, value));
      if (e.action == session_reset) return e;
      note(d, std::move(e));
      continue;
    }
    if (auto e = row->decode(flags, value, st)) {
      e->action = row->action;
      if (e->subcode == static_cast<std::uint8_t>(update_subcode::attribute_length_error))
        e->data = attribute_bytes(flags, code, value);
      if (e->action == session_reset) return std::move(*e);
      note(d, std::move(*e));
    }
  }

  m.nlri.reserve(nlri.size() / 5);
  if (!decode_prefixes(nlri, afi::ipv4, m.nlri, detail))
    // RFC 7606 §5.3: a syntactically wrong NLRI field cannot be withdrawn by
    // treat-as-withdraw, as the prefixes themselves are unknown.
    return update_error(update_subcode::invalid_network_field, session_reset, "NLRI: " + detail);

  // RFC 7606 §3.d: missing mandatory attributes are treat-as-withdraw, but
  // only matter when the UPDATE announces something.
  bool announces = !m.nlri.empty() || (m.attrs.reach && !m.attrs.reach->nlri.empty());
  if (announces && d.action < treat_as_withdraw) {
    auto missing = [&](attr_code code, const char* name) {
      note(d, update_error(update_subcode::missing_well_known_attribute, treat_as_withdraw,
                           std::string("missing ") + name, bytes{std::byte{static_cast<std::uint8_t>(code)}}));
    };
    if (!m.attrs.origin) missing(attr_code::origin, "ORIGIN");
    else if (!m.attrs.path) missing(attr_code::as_path, "AS_PATH");
    else if (!m.nlri.empty() && !m.attrs.next_hop) missing(attr_code::next_hop, "NEXT_HOP");
  }
  return d;
}

namespace {

void attr_header(writer& w, std::uint8_t flags, attr_code code, std::size_t len) {
  if (len > 255) flags |= attr_flag::extended_length;
  w.u8(flags);
  w.u8(static_cast<std::uint8_t>(code));
  if (flags & attr_flag::extended_length) w.u16(static_cast<std::uint16_t>(len));
  else w.u8(static_cast<std::uint8_t>(len));
}

void encode_path(writer& w, attr_code code, std::uint8_t flags, const as_path& p, bool four) {
  std::size_t len = 0;
  for (auto& s : p) len += 2 + s.asns.size() * (four ? 4 : 2);
  attr_header(w, flags, code, len);
  for (auto& s : p) {
    w.u8(s.type);
    w.u8(static_cast<std::uint8_t>(s.asns.size()));
    for (auto asn : s.asns) {
      if (four) w.u32(asn);
      else w.u16(asn > 0xffff ? as_trans : static_cast<std::uint16_t>(asn));
    }
  }
}

bool needs_four(const as_path& p) {
  for (auto& s : p)
    for (auto asn : s.asns)
      if (asn > 0xffff) return true;
  return false;
}

void encode_u32_attr(writer& w, std::uint8_t flags, attr_code code, std::uint32_t v) {
  attr_header(w, flags, code, 4);
  w.u32(v);
}

}  // namespace

void encode_prefix(const ip_prefix& p, bytes& out) {
  std::size_t octets = (p.length + 7u) / 8u;
  out.push_back(std::byte{p.length});
  auto b = reinterpret_cast<const std::byte*>(p.addr.octets.data());
  out.insert(out.end(), b, b + octets);
}

// Writes every attribute except MP_REACH_NLRI's NLRI, in type-code order.
// If `reach_nlri` is set, MP_REACH_NLRI is written with those prefixes.
void encode_attributes(const path_attributes& a, const update_context& ctx, bytes& out) {
  writer w(out);
  if (a.origin) {
    attr_header(w, wk, attr_code::origin, 1);
    w.u8(static_cast<std::uint8_t>(*a.origin));
  }
  if (a.path) encode_path(w, attr_code::as_path, wk, *a.path, ctx.four_octet_as);
  if (a.next_hop && a.next_hop->is_v4()) {
    attr_header(w, wk, attr_code::next_hop, 4);
    w.raw(a.next_hop->octets.data(), 4);
  }
  if (a.med) encode_u32_attr(w, opt_nt, attr_code::multi_exit_disc, *a.med);
  if (a.local_pref) encode_u32_attr(w, wk, attr_code::local_pref, *a.local_pref);
  if (a.atomic_aggregate) attr_header(w, wk, attr_code::atomic_aggregate, 0);
  if (a.aggr) {
    bool four = ctx.four_octet_as;
    attr_header(w, opt_t, attr_code::aggregator, four ? 8 : 6);
    if (four) w.u32(a.aggr->asn);
    else w.u16(a.aggr->asn > 0xffff ? as_trans : static_cast<std::uint16_t>(a.aggr->asn));
    w.u32(a.aggr->address);
  }
  if (!a.communities.empty()) {
    attr_header(w, opt_t, attr_code::communities, a.communities.size() * 4);
    for (auto c : a.communities) w.u32(c);
  }
  if (a.reach) {
    auto& r = *a.reach;
    std::size_t nh = 0;
    for (auto& h : r.next_hops) nh += h.size();
    std::size_t nlri = 0;
    for (auto& p : r.nlri) nlri += 1 + (p.length + 7u) / 8u;
    attr_header(w, opt_nt | attr_flag::extended_length, attr_code::mp_reach_nlri, 5 + nh + nlri);
    w.u16(static_cast<std::uint16_t>(r.f.a));
    w.u8(static_cast<std::uint8_t>(r.f.s));
    w.u8(static_cast<std::uint8_t>(nh));
    for (auto& h : r.next_hops) w.raw(h.octets.data(), h.size());
    w.u8(0);
    for (auto& p : r.nlri) encode_prefix(p, out);
  }
  if (a.unreach) {
    auto& u = *a.unreach;
    std::size_t nlri = 0;
    for (auto& p : u.withdrawn) nlri += 1 + (p.length + 7u) / 8u;
    attr_header(w, opt_nt | attr_flag::extended_length, attr_code::mp_unreach_nlri, 3 + nlri);
    w.u16(static_cast<std::uint16_t>(u.f.a));
    w.u8(static_cast<std::uint8_t>(u.f.s));
    for (auto& p : u.withdrawn) encode_prefix(p, out);
  }
  if (!a.ext_communities.empty()) {
    attr_header(w, opt_t, attr_code::extended_communities, a.ext_communities.size() * 8);
    for (auto& e : a.ext_communities) w.raw(e.raw.data(), 8);
  }
  // RFC 6793 §4.2.2: AS4_PATH only towards an old (2-octet) speaker, and only
  // when the path holds an AS that needs 4 octets.
  if (!ctx.four_octet_as) {
    if (a.as4_path) encode_path(w, attr_code::as4_path, opt_t, *a.as4_path, true);
    else if (a.path && needs_four(*a.path)) encode_path(w, attr_code::as4_path, opt_t, *a.path, true);
    if (a.as4_aggr) {
      attr_header(w, opt_t, attr_code::as4_aggregator, 8);
      w.u32(a.as4_aggr->asn);
      w.u32(a.as4_aggr->address);
    } else if (a.aggr && a.aggr->asn > 0xffff) {
      attr_header(w, opt_t, attr_code::as4_aggregator, 8);
      w.u32(a.aggr->asn);
      w.u32(a.aggr->address);
    }
  }
  if (!a.large_communities.empty()) {
    attr_header(w, opt_t, attr_code::large_communities, a.large_communities.size() * 12);
    for (auto& l : a.large_communities) {
      w.u32(l.global_admin);
      w.u32(l.local1);
      w.u32(l.local2);
    }
  }
  for (auto& u : a.unknown) {
    // Re-sent with Partial set: we passed it on without understanding it (RFC 4271 §5).
    std::uint8_t flags = u.flags & ~attr_flag::extended_length;
    if (flags & attr_flag::transitive) flags |= attr_flag::partial;
    w.u8(static_cast<std::uint8_t>(flags | (u.value.size() > 255 ? attr_flag::extended_length : 0)));
    w.u8(u.code);
    if (u.value.size() > 255) w.u16(static_cast<std::uint16_t>(u.value.size()));
    else w.u8(static_cast<std::uint8_t>(u.value.size()));
    w.raw(u.value);
  }
}

bool encode_update(const update_message& m, const update_context& ctx, bytes& out) {
  auto start = begin_message(out);
  writer w(out);
  auto wd_at = w.placeholder16();
  for (auto& p : m.withdrawn) encode_prefix(p, out);
  w.patch16(wd_at, out.size() - wd_at - 2);
  auto attrs_at = w.placeholder16();
  encode_attributes(m.attrs, ctx, out);
  w.patch16(attrs_at, out.size() - attrs_at - 2);
  for (auto& p : m.nlri) encode_prefix(p, out);
  if (out.size() - start > ctx.max_message) {
    out.resize(start);
    return false;
  }
  patch_header(out, start, message_type::update);
  return true;
}

void encode_end_of_rib(family f, bytes& out) {
  update_message m;
  if (f != ipv4_unicast) m.attrs.unreach = mp_unreach{f, {}};
  encode_update(m, update_context{}, out);
}

}  // namespace herald::bgp::wire
