// Framing and the small messages: the 19-byte header (RFC 4271 §4.1) with a
// streaming framer, KEEPALIVE (§4.4), NOTIFICATION (§4.5) with the shutdown
// communication (RFC 9003), ROUTE-REFRESH (RFC 2918) with the BoRR / EoRR
// subtypes (RFC 7313); and decode_message(), which dispatches on type.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>

#include "bgp/wire/error.hpp"
#include "bgp/wire/open.hpp"
#include "bgp/wire/types.hpp"
#include "bgp/wire/update.hpp"
#include "herald/result.hpp"

namespace herald::bgp::wire {

// The framer's verdict on the front of a receive buffer (Beast's need_more).
struct frame_result {
  enum kind_t { need_more, message, error } kind = need_more;
  message_type type = message_type::keepalive;
  std::size_t length = 0;  // whole message, header included, when kind == message
  std::optional<decode_error> err;
};
// Looks at the start of `buffer`. `max_length` is 4096, or 65535 after an
// extended-message negotiation (RFC 8654). Checks the marker, the length
// (at least 19, at most max_length, and the per-type minimum of §6.1) and the
// type. Never reads past the buffer.
frame_result frame(std::span<const std::byte> buffer, std::size_t max_length = max_message_size);

struct keepalive_message {
  friend bool operator==(const keepalive_message&, const keepalive_message&) = default;
};

struct notification_message {
  notification_code code = notification_code::cease;
  std::uint8_t subcode = 0;
  bytes data;

  // RFC 9003: Cease / administrative shutdown or reset may carry a UTF-8
  // message of up to 255 octets after a length octet.
  static notification_message shutdown(cease_subcode sub, std::string_view communication);
  std::optional<std::string> shutdown_communication() const;
  // RFC 4486 §4: Cease / Maximum Number of Prefixes Reached may carry the
  // address family whose prefixes went over the limit, and the limit.
  struct prefix_limit {
    family fam;
    std::uint32_t limit = 0;
  };
  static notification_message maximum_prefixes(family f, std::uint32_t limit);
  std::optional<prefix_limit> maximum_prefixes_data() const;
  std::string to_string() const;
  friend bool operator==(const notification_message&, const notification_message&) = default;
};

struct route_refresh_message {
  enum subtype_t : std::uint8_t { normal = 0, begin = 1, end = 2 };  // RFC 7313 §3.2
  family f = ipv4_unicast;
  subtype_t subtype = normal;
  friend bool operator==(const route_refresh_message&, const route_refresh_message&) = default;
};

using message = std::variant<open_message, update_message, notification_message, keepalive_message,
                             route_refresh_message>;

// A decoded message; for UPDATEs also what RFC 7606 says to do.
struct decoded_message {
  message msg;
  error_action action = error_action::none;
  std::vector<decode_error> errors;
};

// Decodes one whole message (header included) as returned by frame().
Result<decoded_message, decode_error> decode_message(std::span<const std::byte> msg,
                                                     const update_context& ctx = {});

void encode_keepalive(bytes& out);
void encode_notification(const notification_message& m, bytes& out);
void encode_route_refresh(const route_refresh_message& m, bytes& out);
// Appends any message (UPDATEs must fit; see pack_updates()).
void encode_message(const message& m, const update_context& ctx, bytes& out);

// Writes the 19-byte header at out[at] for a message that ends at out.end().
void patch_header(bytes& out, std::size_t at, message_type t);
// Appends a header with a zero length; patch_header() fills it in.
std::size_t begin_message(bytes& out);

}  // namespace herald::bgp::wire
