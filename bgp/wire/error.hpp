// BGP error vocabulary: NOTIFICATION codes and subcodes (RFC 4271 §4.5 and
// §6, RFC 4486, RFC 7313, RFC 8203/9003, RFC 9384) and the RFC 7606 error
// actions. A decoder reports {code, subcode, data, action}; the session
// decides what to do with it (STYLE.md §3).
#pragma once

#include <boost/assert/source_location.hpp>
#include <cstdint>
#include <string>
#include <system_error>

#include "bgp/wire/types.hpp"

namespace herald::bgp::wire {

enum class notification_code : std::uint8_t {
  message_header_error = 1,
  open_message_error = 2,
  update_message_error = 3,
  hold_timer_expired = 4,
  fsm_error = 5,
  cease = 6,
  route_refresh_message_error = 7,  // RFC 7313
  send_hold_timer_expired = 8,      // RFC 9687
};

enum class header_subcode : std::uint8_t {
  connection_not_synchronized = 1,
  bad_message_length = 2,
  bad_message_type = 3,
};

enum class open_subcode : std::uint8_t {
  unspecific = 0,
  unsupported_version_number = 1,
  bad_peer_as = 2,
  bad_bgp_identifier = 3,
  unsupported_optional_parameter = 4,
  unacceptable_hold_time = 6,
  unsupported_capability = 7,  // RFC 5492
  role_mismatch = 11,          // RFC 9234
};

enum class update_subcode : std::uint8_t {
  malformed_attribute_list = 1,
  unrecognized_well_known_attribute = 2,
  missing_well_known_attribute = 3,
  attribute_flags_error = 4,
  attribute_length_error = 5,
  invalid_origin_attribute = 6,
  invalid_next_hop_attribute = 8,
  optional_attribute_error = 9,
  invalid_network_field = 10,
  malformed_as_path = 11,
};

enum class fsm_subcode : std::uint8_t {  // RFC 6608
  unspecified = 0,
  unexpected_in_open_sent = 1,
  unexpected_in_open_confirm = 2,
  unexpected_in_established = 3,
};

enum class cease_subcode : std::uint8_t {  // RFC 4486, RFC 9384
  maximum_prefixes_reached = 1,
  administrative_shutdown = 2,
  peer_deconfigured = 3,
  administrative_reset = 4,
  connection_rejected = 5,
  other_configuration_change = 6,
  connection_collision_resolution = 7,
  out_of_resources = 8,
  hard_reset = 9,
  bfd_down = 10,
};

enum class route_refresh_subcode : std::uint8_t { invalid_message_length = 1 };

// RFC 7606 §2, ordered by severity: the most severe seen wins.
enum class error_action : std::uint8_t {
  none = 0,
  attribute_discard = 1,
  treat_as_withdraw = 2,
  session_reset = 3,
};
const char* to_string(error_action a);
inline error_action stronger(error_action a, error_action b) { return a > b ? a : b; }

// One decode error: what to put in a NOTIFICATION (code, subcode, data) and
// what RFC 7606 says to do with it. `detail` is for logs only.
struct decode_error {
  notification_code code = notification_code::message_header_error;
  std::uint8_t subcode = 0;
  bytes data;
  error_action action = error_action::session_reset;
  std::string detail;

  std::string to_string() const;
};

template <class Sub>
decode_error make_error(notification_code code, Sub sub, error_action action, std::string detail,
                        bytes data = {}) {
  return decode_error{code, static_cast<std::uint8_t>(sub), std::move(data), action, std::move(detail)};
}

// Names for logs: "UPDATE Message Error / Malformed AS_PATH".
std::string notification_name(notification_code code, std::uint8_t subcode);

// Makes NOTIFICATION codes printable through std::error_code; the value is
// code << 8 | subcode.
const std::error_category& notification_category();
inline std::error_code make_error_code(notification_code code, std::uint8_t subcode) {
  return {static_cast<int>(code) << 8 | subcode, notification_category()};
}

// Lets Result<T, decode_error>::value() report a misuse (reading the value of
// an error) as the bug it is: log and abort (STYLE.md §3).
[[noreturn]] void throw_exception_from_error(const decode_error& e, const boost::source_location& loc);

}  // namespace herald::bgp::wire
