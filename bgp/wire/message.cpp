// Framing (RFC 4271 §4.1, §6.1; RFC 8654), KEEPALIVE, NOTIFICATION (with
// RFC 9003's shutdown communication), ROUTE-REFRESH (RFC 2918, RFC 7313),
// and the dispatch from a framed message to its decoder.
#include "bgp/wire/message.hpp"

#include <algorithm>
#include <cstring>

#include "bgp/wire/cursor.hpp"

namespace herald::bgp::wire {

namespace {

decode_error header_error(header_subcode s, std::string detail, bytes data = {}) {
  return make_error(notification_code::message_header_error, s, error_action::session_reset, std::move(detail),
                    std::move(data));
}

bytes u16_bytes(std::size_t v) {
  return {std::byte(static_cast<std::uint8_t>(v >> 8)), std::byte(static_cast<std::uint8_t>(v))};
}

// RFC 4271 §6.1 (and RFC 2918 §3 for ROUTE-REFRESH): the smallest legal
// length of each type, and for KEEPALIVE also the largest.
std::size_t min_length(message_type t) {
  switch (t) {
    case message_type::open: return 29;
    case message_type::update: return 23;
    case message_type::notification: return 21;
    case message_type::keepalive: return 19;
    case message_type::route_refresh: return 23;
  }
  return header_size;
}

}  // namespace

frame_result frame(std::span<const std::byte> buffer, std::size_t max_length) {
  frame_result r;
  if (buffer.size() < header_size) return r;
  cursor c(buffer);
  auto marker = c.take(marker_size);
  if (!std::all_of(marker.begin(), marker.end(), [](std::byte b) { return b == std::byte{0xff}; })) {
    r.kind = frame_result::error;
    r.err = header_error(header_subcode::connection_not_synchronized, "marker is not all ones");
    return r;
  }
  std::size_t length = c.u16();
  auto type = c.u8();
  auto bad_length = [&](std::string why) {
    r.kind = frame_result::error;
    // §6.1: the data is the erroneous Length field.
    r.err = header_error(header_subcode::bad_message_length, "length " + std::to_string(length) + why,
                         u16_bytes(length));
    return r;
  };
  if (length < header_size || length > max_length)
    return bad_length(" outside 19.." + std::to_string(max_length));
  if (type < 1 || type > 5) {
    r.kind = frame_result::error;
    r.err = header_error(header_subcode::bad_message_type, "message type " + std::to_string(type),
                         bytes{std::byte{type}});
    return r;
  }
  auto t = static_cast<message_type>(type);
  if (length < min_length(t) || (t == message_type::keepalive && length != header_size))
    return bad_length(" is wrong for message type " + std::to_string(type));
  r.type = t;
  r.length = length;
  r.kind = buffer.size() >= length ? frame_result::message : frame_result::need_more;
  return r;
}

std::size_t begin_message(bytes& out) {
  auto start = out.size();
  out.resize(start + header_size);
  std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(start), marker_size, std::byte{0xff});
  return start;
}

void patch_header(bytes& out, std::size_t at, message_type t) {
  writer w(out);
  w.patch16(at + marker_size, out.size() - at);
  out[at + marker_size + 2] = std::byte{static_cast<std::uint8_t>(t)};
}

void encode_keepalive(bytes& out) { patch_header(out, begin_message(out), message_type::keepalive); }

void encode_notification(const notification_message& m, bytes& out) {
  auto start = begin_message(out);
  writer w(out);
  w.u8(static_cast<std::uint8_t>(m.code));
  w.u8(m.subcode);
  // Data is cut so the message stays within 4096 octets (RFC 4271 §4.1).
  w.raw(std::span(m.data).first(std::min(m.data.size(), max_message_size - 21)));
  patch_header(out, start, message_type::notification);
}

void encode_route_refresh(const route_refresh_message& m, bytes& out) {
  auto start = begin_message(out);
  writer w(out);
  w.u16(static_cast<std::uint16_t>(m.f.a));
  w.u8(m.subtype);
  w.u8(static_cast<std::uint8_t>(m.f.s));
  patch_header(out, start, message_type::route_refresh);
}

notification_message notification_message::shutdown(cease_subcode sub, std::string_view communication) {
  notification_message n;
  n.code = notification_code::cease;
  n.subcode = static_cast<std::uint8_t>(sub);
  // RFC 9003 §2: at most 255 octets; cut at a UTF-8 character boundary.
  auto len = std::min<std::size_t>(communication.size(), 255);
  while (len > 0 && len < communication.size() &&
         (static_cast<unsigned char>(communication[len]) & 0xc0) == 0x80)
    --len;
  n.data.resize(1 + len);
  n.data[0] = std::byte(static_cast<std::uint8_t>(len));
  if (len != 0) std::memcpy(n.data.data() + 1, communication.data(), len);
  return n;
}

std::optional<std::string> notification_message::shutdown_communication() const {
  if (code != notification_code::cease ||
      (subcode != static_cast<std::uint8_t>(cease_subcode::administrative_shutdown) &&
       subcode != static_cast<std::uint8_t>(cease_subcode::administrative_reset)) ||
      data.empty())
    return std::nullopt;
  std::size_t len = std::to_integer<std::size_t>(data[0]);
  // RFC 9003 §2: a length past the data makes the communication unusable.
  if (len + 1 > data.size()) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(data.data() + 1), len);
}

notification_message notification_message::maximum_prefixes(family f, std::uint32_t limit) {
  bytes data;
  writer w(data);
  w.u16(static_cast<std::uint16_t>(f.a));
  w.u8(static_cast<std::uint8_t>(f.s));
  w.u32(limit);
  return {notification_code::cease, static_cast<std::uint8_t>(cease_subcode::maximum_prefixes_reached), std::move(data)};
}

std::optional<notification_message::prefix_limit> notification_message::maximum_prefixes_data() const {
  if (code != notification_code::cease ||
      subcode != static_cast<std::uint8_t>(cease_subcode::maximum_prefixes_reached) || data.size() != 7)
    return std::nullopt;
  cursor c(data);
  prefix_limit out;
  out.fam.a = static_cast<afi>(c.u16());
  out.fam.s = static_cast<safi>(c.u8());
  out.limit = c.u32();
  return out;
}

std::string notification_message::to_string() const {
  auto s = notification_name(code, subcode);
  if (auto comm = shutdown_communication()) s += " \"" + *comm + "\"";
  if (auto lim = maximum_prefixes_data())
    s += " (" + herald::bgp::wire::to_string(lim->fam) + ", limit " + std::to_string(lim->limit) + ")";
  return s;
}

Result<decoded_message, decode_error> decode_message(std::span<const std::byte> msg, const update_context& ctx) {
  auto f = frame(msg, ctx.max_message);
  if (f.kind == frame_result::error) return *f.err;
  if (f.kind == frame_result::need_more || f.length != msg.size())
    return header_error(header_subcode::bad_message_length,
                        "message of " + std::to_string(msg.size()) + " octets, header says " + std::to_string(f.length),
                        u16_bytes(f.length));
  auto body = msg.subspan(header_size);
  switch (f.type) {
    case message_type::open: {
      auto o = decode_open(body);
      if (!o) return o.error();
      return decoded_message{std::move(*o), error_action::none, {}};
    }
    case message_type::update: {
      auto u = decode_update(body, ctx);
      if (!u) return u.error();
      return decoded_message{std::move(u->msg), u->action, std::move(u->errors)};
    }
    case message_type::notification: {
      cursor c(body);
      notification_message n;
      n.code = static_cast<notification_code>(c.u8());
      n.subcode = c.u8();
      auto rest = c.rest();
      n.data.assign(rest.begin(), rest.end());
      return decoded_message{std::move(n), error_action::none, {}};
    }
    case message_type::keepalive:
      return decoded_message{keepalive_message{}, error_action::none, {}};
    case message_type::route_refresh: {
      if (body.size() != 4)
        // RFC 7313 §5: any other length is a ROUTE-REFRESH Message Error.
        return make_error(notification_code::route_refresh_message_error, route_refresh_subcode::invalid_message_length,
                          error_action::session_reset, "ROUTE-REFRESH of " + std::to_string(msg.size()) + " octets",
                          bytes(msg.begin(), msg.end()));
      cursor c(body);
      route_refresh_message r;
      r.f.a = static_cast<afi>(c.u16());
      r.subtype = static_cast<route_refresh_message::subtype_t>(c.u8());
      r.f.s = static_cast<safi>(c.u8());
      return decoded_message{r, error_action::none, {}};
    }
  }
  return header_error(header_subcode::bad_message_type, "unreachable");
}

void encode_message(const message& m, const update_context& ctx, bytes& out) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, open_message>) encode_open(v, out);
        else if constexpr (std::is_same_v<T, update_message>) encode_update(v, ctx, out);
        else if constexpr (std::is_same_v<T, notification_message>) encode_notification(v, out);
        else if constexpr (std::is_same_v<T, keepalive_message>) encode_keepalive(out);
        else encode_route_refresh(v, out);
      },
      m);
}

}  // namespace herald::bgp::wire
