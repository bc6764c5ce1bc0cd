// Names for NOTIFICATION codes and subcodes (IANA "BGP Error (Notification)
// Codes" and subcode registries), and the error_category that prints them.
#include "bgp/wire/error.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace herald::bgp::wire {

const char* to_string(error_action a) {
  switch (a) {
    case error_action::none: return "none";
    case error_action::attribute_discard: return "attribute-discard";
    case error_action::treat_as_withdraw: return "treat-as-withdraw";
    case error_action::session_reset: return "session-reset";
  }
  return "?";
}

namespace {
const char* code_name(notification_code c) {
  switch (c) {
    case notification_code::message_header_error: return "Message Header Error";
    case notification_code::open_message_error: return "OPEN Message Error";
    case notification_code::update_message_error: return "UPDATE Message Error";
    case notification_code::hold_timer_expired: return "Hold Timer Expired";
    case notification_code::fsm_error: return "Finite State Machine Error";
    case notification_code::cease: return "Cease";
    case notification_code::route_refresh_message_error: return "ROUTE-REFRESH Message Error";
    case notification_code::send_hold_timer_expired: return "Send Hold Timer Expired";
  }
  return nullptr;
}

const char* subcode_name(notification_code c, std::uint8_t s) {
  switch (c) {
    case notification_code::message_header_error:
      switch (s) {
        case 1: return "Connection Not Synchronized";
        case 2: return "Bad Message Length";
        case 3: return "Bad Message Type";
      }
      break;
    case notification_code::open_message_error:
      switch (s) {
        case 0: return "Unspecific";
        case 1: return "Unsupported Version Number";
        case 2: return "Bad Peer AS";
        case 3: return "Bad BGP Identifier";
        case 4: return "Unsupported Optional Parameter";
        case 6: return "Unacceptable Hold Time";
        case 7: return "Unsupported Capability";
        case 11: return "Role Mismatch";
      }
      break;
    case notification_code::update_message_error:
      switch (s) {
        case 1: return "Malformed Attribute List";
        case 2: return "Unrecognized Well-known Attribute";
        case 3: return "Missing Well-known Attribute";
        case 4: return "Attribute Flags Error";
        case 5: return "Attribute Length Error";
        case 6: return "Invalid ORIGIN Attribute";
        case 8: return "Invalid NEXT_HOP Attribute";
        case 9: return "Optional Attribute Error";
        case 10: return "Invalid Network Field";
        case 11: return "Malformed AS_PATH";
      }
      break;
    case notification_code::fsm_error:
      switch (s) {
        case 0: return "Unspecified";
        case 1: return "Unexpected Message in OpenSent";
        case 2: return "Unexpected Message in OpenConfirm";
        case 3: return "Unexpected Message in Established";
      }
      break;
    case notification_code::cease:
      switch (s) {
        case 1: return "Maximum Number of Prefixes Reached";
        case 2: return "Administrative Shutdown";
        case 3: return "Peer De-configured";
        case 4: return "Administrative Reset";
        case 5: return "Connection Rejected";
        case 6: return "Other Configuration Change";
        case 7: return "Connection Collision Resolution";
        case 8: return "Out of Resources";
        case 9: return "Hard Reset";
        case 10: return "BFD Down";
      }
      break;
    case notification_code::route_refresh_message_error:
      if (s == 1) return "Invalid Message Length";
      break;
    case notification_code::hold_timer_expired:
    case notification_code::send_hold_timer_expired:
      break;
  }
  return nullptr;
}

class notification_category_impl : public std::error_category {
 public:
  const char* name() const noexcept override { return "bgp-notification"; }
  std::string message(int v) const override {
    return notification_name(static_cast<notification_code>(v >> 8), static_cast<std::uint8_t>(v & 0xff));
  }
};
}  // namespace

std::string notification_name(notification_code code, std::uint8_t subcode) {
  auto c = code_name(code);
  std::string s = c ? c : "code " + std::to_string(static_cast<int>(code));
  if (auto n = subcode_name(code, subcode)) return s + " / " + n;
  if (subcode != 0 || code == notification_code::open_message_error) s += " / subcode " + std::to_string(subcode);
  return s;
}

const std::error_category& notification_category() {
  static const notification_category_impl cat;
  return cat;
}

std::string decode_error::to_string() const {
  return notification_name(code, subcode) + " (" + wire::to_string(action) + "): " + detail;
}

void throw_exception_from_error(const decode_error& e, const boost::source_location& loc) {
  spdlog::critical("bug: value() of a failed decode at {}:{}: {}", loc.file_name(), loc.line(), e.to_string());
  std::abort();
}

}  // namespace herald::bgp::wire
