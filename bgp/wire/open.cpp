// OPEN decoding, checking and encoding. RFC 4271 §4.2 and §6.2, RFC 5492,
// RFC 9072, and the capability RFCs named in open.hpp.
#include "bgp/wire/open.hpp"

#include <algorithm>
#include <type_traits>

#include "bgp/wire/cursor.hpp"
#include "bgp/wire/message.hpp"

namespace herald::bgp::wire {

namespace {

constexpr std::uint8_t param_capabilities = 2;  // RFC 5492 §4
constexpr std::uint8_t param_extended = 255;    // RFC 9072 §2

decode_error open_error(open_subcode s, std::string detail, bytes data = {}) {
  return make_error(notification_code::open_message_error, s, error_action::session_reset, std::move(detail),
                    std::move(data));
}

family read_family_16_8(cursor& c) {
  auto a = static_cast<afi>(c.u16());
  auto s = static_cast<safi>(c.u8());
  return {a, s};
}

// Decodes one capability value. A known capability whose value has the wrong
// shape is kept raw as cap::unknown rather than failing the OPEN: a peer
// that mis-encodes an optional feature should still get a session.
capability decode_capability(std::uint8_t code, std::span<const std::byte> v) {
  cursor c(v);
  auto raw = [&] { return cap::unknown{code, bytes(v.begin(), v.end())}; };
  switch (static_cast<capability_code>(code)) {
    case capability_code::multiprotocol: {
      if (v.size() != 4) return raw();
      auto a = static_cast<afi>(c.u16());
      c.u8();  // reserved
      return cap::multiprotocol{{a, static_cast<safi>(c.u8())}};
    }
    case capability_code::route_refresh:
      return v.empty() ? capability{cap::route_refresh{}} : capability{raw()};
    case capability_code::enhanced_route_refresh:
      return v.empty() ? capability{cap::enhanced_route_refresh{}} : capability{raw()};
    case capability_code::extended_message:
      return v.empty() ? capability{cap::extended_message{}} : capability{raw()};
    case capability_code::four_octet_as:
      if (v.size() != 4) return raw();
      return cap::four_octet_as{c.u32()};
    case capability_code::graceful_restart: {
      if (v.size() < 2 || (v.size() - 2) % 4 != 0) return raw();
      cap::graceful_restart gr;
      auto flags_time = c.u16();
      gr.restart_state = flags_time & 0x8000;
      gr.notification = flags_time & 0x4000;
      gr.restart_time = flags_time & 0x0fff;
      while (!c.empty()) {
        auto f = read_family_16_8(c);
        gr.families.push_back({f, (c.u8() & 0x80) != 0});
      }
      return gr;
    }
    case capability_code::extended_next_hop: {
      if (v.size() % 6 != 0) return raw();
      cap::extended_next_hop enh;
      while (!c.empty()) {
        auto a = static_cast<afi>(c.u16());
        auto s = static_cast<safi>(c.u16());
        enh.entries.push_back({{a, s}, static_cast<afi>(c.u16())});
      }
      return enh;
    }
    case capability_code::add_path: {
      if (v.size() % 4 != 0) return raw();
      cap::add_path ap;
      while (!c.empty()) {
        auto f = read_family_16_8(c);
        ap.entries.push_back({f, c.u8()});
      }
      return ap;
    }
    case capability_code::fqdn: {
      cap::fqdn h;
      auto hl = c.u8();
      auto hs = c.take(hl);
      auto dl = c.u8();
      auto ds = c.take(dl);
      if (c.failed() || !c.empty()) return raw();
      h.hostname.assign(reinterpret_cast<const char*>(hs.data()), hs.size());
      h.domain.assign(reinterpret_cast<const char*>(ds.data()), ds.size());
      return h;
    }
  }
  return raw();
}

Result<void, decode_error> decode_capabilities(std::span<const std::byte> v, open_message& m) {
  cursor c(v);
  while (!c.empty()) {
    auto code = c.u8();
    auto len = c.u8();
    auto value = c.take(len);
    if (c.failed()) return open_error(open_subcode::unspecific, "capability runs past its optional parameter");
    m.capabilities.push_back(decode_capability(code, value));
  }
  return {};
}

void encode_capability(const capability& cap, writer& w) {
  auto code_of = [](const auto& c) -> std::uint8_t {
    using C = std::decay_t<decltype(c)>;
    if constexpr (std::is_same_v<C, cap::multiprotocol>) return 1;
    else if constexpr (std::is_same_v<C, cap::route_refresh>) return 2;
    else if constexpr (std::is_same_v<C, cap::extended_next_hop>) return 5;
    else if constexpr (std::is_same_v<C, cap::extended_message>) return 6;
    else if constexpr (std::is_same_v<C, cap::graceful_restart>) return 64;
    else if constexpr (std::is_same_v<C, cap::four_octet_as>) return 65;
    else if constexpr (std::is_same_v<C, cap::add_path>) return 69;
    else if constexpr (std::is_same_v<C, cap::enhanced_route_refresh>) return 70;
    else if constexpr (std::is_same_v<C, cap::fqdn>) return 73;
    else return c.code;
  };
  std::visit(
      [&](const auto& c) {
        using C = std::decay_t<decltype(c)>;
        w.u8(code_of(c));
        auto len_at = w.placeholder8();
        auto start = w.size();
        if constexpr (std::is_same_v<C, cap::multiprotocol>) {
          w.u16(static_cast<std::uint16_t>(c.f.a));
          w.u8(0);
          w.u8(static_cast<std::uint8_t>(c.f.s));
        } else if constexpr (std::is_same_v<C, cap::four_octet_as>) {
          w.u32(c.asn);
        } else if constexpr (std::is_same_v<C, cap::graceful_restart>) {
          w.u16(static_cast<std::uint16_t>((c.restart_state ? 0x8000 : 0) | (c.notification ? 0x4000 : 0) |
                                           (c.restart_time & 0x0fff)));
          for (auto& e : c.families) {
            w.u16(static_cast<std::uint16_t>(e.f.a));
            w.u8(static_cast<std::uint8_t>(e.f.s));
            w.u8(e.forwarding_preserved ? 0x80 : 0);
          }
        } else if constexpr (std::is_same_v<C, cap::extended_next_hop>) {
          for (auto& e : c.entries) {
            w.u16(static_cast<std::uint16_t>(e.nlri.a));
            w.u16(static_cast<std::uint16_t>(e.nlri.s));
            w.u16(static_cast<std::uint16_t>(e.next_hop));
          }
        } else if constexpr (std::is_same_v<C, cap::add_path>) {
          for (auto& e : c.entries) {
            w.u16(static_cast<std::uint16_t>(e.f.a));
            w.u8(static_cast<std::uint8_t>(e.f.s));
            w.u8(e.send_receive);
          }
        } else if constexpr (std::is_same_v<C, cap::fqdn>) {
          // The whole value must fit the 1-octet capability length.
          auto h = c.hostname.substr(0, 253);
          auto d = c.domain.substr(0, 253 - h.size());
          w.u8(static_cast<std::uint8_t>(h.size()));
          w.raw(reinterpret_cast<const std::uint8_t*>(h.data()), h.size());
          w.u8(static_cast<std::uint8_t>(d.size()));
          w.raw(reinterpret_cast<const std::uint8_t*>(d.data()), d.size());
        } else if constexpr (std::is_same_v<C, cap::unknown>) {
          w.raw(std::span(c.value).first(std::min<std::size_t>(c.value.size(), 255)));
        }
        w.patch8(len_at, w.size() - start);
      },
      cap);
}

}  // namespace

std::uint32_t open_message::asn() const {
  if (auto c = find<cap::four_octet_as>()) return c->asn;
  return my_as;
}

bool open_message::has_family(family f) const {
  for (auto& c : capabilities)
    if (auto mp = std::get_if<cap::multiprotocol>(&c); mp && mp->f == f) return true;
  return false;
}

Result<open_message, decode_error> decode_open(std::span<const std::byte> body) {
  cursor c(body);
  open_message m;
  m.version = c.u8();
  m.my_as = c.u16();
  m.hold_time = c.u16();
  m.bgp_id = c.u32();
  std::size_t params_len = c.u8();
  if (c.failed())
    return make_error(notification_code::message_header_error, header_subcode::bad_message_length,
                      error_action::session_reset, "OPEN shorter than 29 octets");
  // RFC 9072 §2: a length of 255 followed by type 255 means 2-octet lengths follow.
  bool extended = false;
  if (params_len == 255 && c.remaining() >= 3) {
    cursor peek(body.subspan(c.position()));
    if (peek.u8() == param_extended) {
      c.u8();
      params_len = c.u16();
      extended = true;
    }
  }
  auto params = c.take(params_len);
  if (c.failed() || !c.empty())
    return open_error(open_subcode::unspecific, "optional parameters length " + std::to_string(params_len) +
                                                    " disagrees with the message length");
  cursor p(params);
  while (!p.empty()) {
    auto type = p.u8();
    std::size_t len = extended ? p.u16() : p.u8();
    auto value = p.take(len);
    if (p.failed()) return open_error(open_subcode::unspecific, "optional parameter runs past the OPEN");
    if (type == param_capabilities) {
      if (auto r = decode_capabilities(value, m); !r) return r.error();
    } else {
      m.other_parameters.emplace_back(type, bytes(value.begin(), value.end()));
    }
  }
  return m;
}

std::optional<decode_error> check_open(const open_message& m, const open_expectations& e) {
  if (m.version != 4)
    // §6.2: the data is the largest version we support.
    return open_error(open_subcode::unsupported_version_number, "version " + std::to_string(m.version),
                      bytes{std::byte{0}, std::byte{4}});
  if (!m.other_parameters.empty())
    return open_error(open_subcode::unsupported_optional_parameter,
                      "optional parameter type " + std::to_string(m.other_parameters.front().first));
  auto asn = m.asn();
  if (asn == 0 || (e.peer_as && asn != *e.peer_as))
    return open_error(open_subcode::bad_peer_as, "peer AS " + std::to_string(asn) + ", expected " +
                                                     (e.peer_as ? std::to_string(*e.peer_as) : "non-zero"));
  // RFC 6793 §4.2.1: a 2-octet field that is neither the AS nor AS_TRANS lies.
  if (m.find<cap::four_octet_as>() && m.my_as != as_trans && m.my_as != asn)
    return open_error(open_subcode::bad_peer_as, "My AS " + std::to_string(m.my_as) +
                                                     " disagrees with the 4-octet AS " + std::to_string(asn));
  if (m.hold_time == 1 || m.hold_time == 2)
    return open_error(open_subcode::unacceptable_hold_time, "hold time " + std::to_string(m.hold_time) +
                                                                " s (must be 0 or at least 3)");
  // RFC 6286 §2.2: non-zero; unique within an AS (so equal to ours only over eBGP).
  if (m.bgp_id == 0 || (asn == e.local_as && m.bgp_id == e.local_bgp_id))
    return open_error(open_subcode::bad_bgp_identifier,
                      "BGP identifier " + ip_address::v4(m.bgp_id).to_string() +
                          (m.bgp_id == 0 ? " is zero" : " is our own"));
  return std::nullopt;
}

void encode_open(const open_message& m, bytes& out) {
  auto start = begin_message(out);
  writer w(out);
  w.u8(m.version);
  w.u16(m.my_as);
  w.u16(m.hold_time);
  w.u32(m.bgp_id);
  bytes caps;
  writer cw(caps);
  for (auto& c : m.capabilities) encode_capability(c, cw);
  std::size_t params_size = (caps.empty() ? 0 : 2 + caps.size());
  for (auto& [t, v] : m.other_parameters) params_size += 2 + v.size();
  bool extended = caps.size() > 255 || params_size > 255;
  if (extended) {
    // RFC 9072 §2
    w.u8(255);
    w.u8(param_extended);
    auto len_at = w.placeholder16();
    auto s = w.size();
    if (!caps.empty()) {
      w.u8(param_capabilities);
      w.u16(static_cast<std::uint16_t>(caps.size()));
      w.raw(caps);
    }
    for (auto& [t, v] : m.other_parameters) {
      w.u8(t);
      w.u16(static_cast<std::uint16_t>(v.size()));
      w.raw(v);
    }
    w.patch16(len_at, w.size() - s);
  } else {
    auto len_at = w.placeholder8();
    auto s = w.size();
    if (!caps.empty()) {
      w.u8(param_capabilities);
      w.u8(static_cast<std::uint8_t>(caps.size()));
      w.raw(caps);
    }
    for (auto& [t, v] : m.other_parameters) {
      w.u8(t);
      w.u8(static_cast<std::uint8_t>(v.size()));
      w.raw(v);
    }
    w.patch8(len_at, w.size() - s);
  }
  patch_header(out, start, message_type::open);
}

}  // namespace herald::bgp::wire
