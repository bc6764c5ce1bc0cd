// The RFC 4271 §8.2.2 transitions (see fsm.hpp for the model).
#include "bgp/fsm.hpp"

#include <algorithm>

namespace herald::bgp {

using namespace wire;
using A = fsm_action;

std::string_view to_string(session_state s) {
  switch (s) {
    case session_state::idle: return "idle";
    case session_state::connect: return "connect";
    case session_state::active: return "active";
    case session_state::open_sent: return "opensent";
    case session_state::open_confirm: return "openconfirm";
    case session_state::established: return "established";
  }
  return "?";
}

std::string_view to_string(fsm_event e) {
  switch (e) {
    case fsm_event::start: return "start";
    case fsm_event::stop: return "stop";
    case fsm_event::connect_retry_expired: return "connect-retry-expired";
    case fsm_event::hold_timer_expired: return "hold-timer-expired";
    case fsm_event::keepalive_timer_expired: return "keepalive-timer-expired";
    case fsm_event::tcp_connected: return "tcp-connected";
    case fsm_event::tcp_failed: return "tcp-failed";
    case fsm_event::open_received: return "open-received";
    case fsm_event::message_error: return "message-error";
    case fsm_event::notification_received: return "notification-received";
    case fsm_event::keepalive_received: return "keepalive-received";
    case fsm_event::update_received: return "update-received";
    case fsm_event::route_refresh_received: return "route-refresh-received";
    case fsm_event::bfd_down: return "bfd-down";
    case fsm_event::send_hold_timer_expired: return "send-hold-timer-expired";
  }
  return "?";
}

std::string_view to_string(fsm_reason r) {
  switch (r) {
    case fsm_reason::none: return "none";
    case fsm_reason::admin_start: return "admin-start";
    case fsm_reason::admin_stop: return "admin-stop";
    case fsm_reason::connect_failed: return "connect-failed";
    case fsm_reason::connection_closed: return "connection-closed";
    case fsm_reason::hold_timer_expired: return "hold-timer-expired";
    case fsm_reason::notification_received: return "notification-received";
    case fsm_reason::message_error: return "message-error";
    case fsm_reason::unexpected_message: return "unexpected-message";
    case fsm_reason::open_accepted: return "open-accepted";
    case fsm_reason::keepalive_received: return "keepalive-received";
    case fsm_reason::max_prefixes: return "max-prefixes";
    case fsm_reason::bfd_down: return "bfd-down";
    case fsm_reason::send_hold_timer_expired: return "send-hold-timer-expired";
    case fsm_reason::collision: return "collision";
  }
  return "?";
}

bool fsm_transition::has(fsm_action::kind_t k) const { return find(k) != nullptr; }

const fsm_action* fsm_transition::find(fsm_action::kind_t k) const {
  for (auto& a : actions)
    if (a.kind == k) return &a;
  return nullptr;
}

fsm::fsm(std::uint16_t hold_time, std::uint16_t keepalive, bool passive)
    : hold_time_(hold_time), keepalive_(keepalive), passive_(passive) {}

std::uint16_t fsm::keepalive_interval() const {
  if (negotiated_hold_ == 0) return 0;
  // RFC 4271 §10: a third of the hold time, or the configured interval if shorter.
  std::uint16_t third = std::max<std::uint16_t>(1, static_cast<std::uint16_t>(negotiated_hold_ / 3));
  return keepalive_ != 0 ? std::min(keepalive_, third) : third;
}

fsm_transition fsm::go(session_state to, fsm_reason why, std::vector<fsm_action> actions) {
  fsm_transition t{state_, to, why, std::move(actions)};
  state_ = to;
  return t;
}

fsm_transition fsm::error_to_idle(fsm_reason why, std::optional<notification_message> n) {
  std::vector<fsm_action> acts;
  if (n) acts.push_back({A::send_notification, 0, std::move(n)});
  acts.push_back({A::close});
  acts.push_back({A::stop_connect_retry});
  acts.push_back({A::arm_hold, 0});
  acts.push_back({A::arm_keepalive, 0});
  acts.push_back({A::down});
  negotiated_hold_ = 0;
  return go(session_state::idle, why, std::move(acts));
}

fsm_transition fsm::unexpected(fsm_event) {
  // RFC 6608: which state received the unexpected message picks the subcode.
  fsm_subcode sub = fsm_subcode::unspecified;
  if (state_ == session_state::open_sent) sub = fsm_subcode::unexpected_in_open_sent;
  if (state_ == session_state::open_confirm) sub = fsm_subcode::unexpected_in_open_confirm;
  if (state_ == session_state::established) sub = fsm_subcode::unexpected_in_established;
  return error_to_idle(fsm_reason::unexpected_message,
                       notification_message{notification_code::fsm_error, static_cast<std::uint8_t>(sub), {}});
}

fsm_transition fsm::connection_replaced() {
  negotiated_hold_ = 0;
  return go(session_state::active, fsm_reason::collision, {});
}

bool keep_inbound_on_collision(std::uint32_t local_id, std::uint32_t remote_id) {
  // RFC 4271 §6.8: the connection opened by the speaker with the higher BGP
  // Identifier survives. If ours is lower, keep the one the peer opened.
  return local_id < remote_id;
}

fsm_transition fsm::handle(fsm_event e, const fsm_input& in) {
  const bool connected = state_ == session_state::open_sent || state_ == session_state::open_confirm ||
                         state_ == session_state::established;
  // Events that mean the same in every connected state.
  if (connected) {
    switch (e) {
      case fsm_event::stop:
        return error_to_idle(fsm_reason::admin_stop,
                             in.notification ? in.notification
                                             : notification_message{notification_code::cease,
                                                                    static_cast<std::uint8_t>(cease_subcode::administrative_shutdown),
                                                                    {}});
      case fsm_event::hold_timer_expired:
        return error_to_idle(fsm_reason::hold_timer_expired,
                             notification_message{notification_code::hold_timer_expired, 0, {}});
      case fsm_event::send_hold_timer_expired:
        // RFC 9687 §4: close; the NOTIFICATION is attempted (the session
        // sends it only if the socket takes it without blocking).
        return error_to_idle(fsm_reason::send_hold_timer_expired,
                             notification_message{notification_code::send_hold_timer_expired, 0, {}});
      case fsm_event::tcp_failed: return error_to_idle(fsm_reason::connection_closed, std::nullopt);
      case fsm_event::notification_received: return error_to_idle(fsm_reason::notification_received, std::nullopt);
      case fsm_event::message_error: return error_to_idle(fsm_reason::message_error, in.notification);
      case fsm_event::bfd_down:
        return error_to_idle(fsm_reason::bfd_down,
                             notification_message{notification_code::cease,
                                                  static_cast<std::uint8_t>(cease_subcode::bfd_down), {}});
      default: break;
    }
  }

  switch (state_) {
    case session_state::idle:
      if (e == fsm_event::start) {
        if (passive_) return go(session_state::active, fsm_reason::admin_start, {});
        return go(session_state::connect, fsm_reason::admin_start, {{A::start_connect_retry}, {A::connect}});
      }
      // RFC 4271 §8.2.2 Idle: every other event is ignored (an inbound connection is refused by the caller).
      return go(session_state::idle, fsm_reason::none, {});

    case session_state::connect:
    case session_state::active:
      switch (e) {
        case fsm_event::stop:
          return go(session_state::idle, fsm_reason::admin_stop, {{A::close}, {A::stop_connect_retry}});
        case fsm_event::bfd_down:
          // No BGP connection yet: stop trying; the session starts again on BFD Up.
          return go(session_state::idle, fsm_reason::bfd_down, {{A::close}, {A::stop_connect_retry}});
        case fsm_event::connect_retry_expired:
          if (passive_) return go(session_state::active, fsm_reason::none, {});
          return go(session_state::connect, fsm_reason::connect_failed, {{A::close}, {A::start_connect_retry}, {A::connect}});
        case fsm_event::tcp_connected:
          return go(session_state::open_sent, fsm_reason::none,
                    {{A::stop_connect_retry}, {A::send_open}, {A::arm_hold, open_hold_seconds}});
        case fsm_event::tcp_failed:
          // Wait in Active for the retry timer or an inbound connection.
          return go(session_state::active, fsm_reason::connect_failed, {{A::close}});
        case fsm_event::start: return go(state_, fsm_reason::none, {});
        default: return error_to_idle(fsm_reason::unexpected_message, std::nullopt);
      }

    case session_state::open_sent:
      if (e == fsm_event::open_received) {
        negotiated_hold_ = std::min(hold_time_, in.peer_hold_time);
        return go(session_state::open_confirm, fsm_reason::open_accepted,
                  {{A::send_keepalive}, {A::arm_keepalive, keepalive_interval()}, {A::arm_hold, negotiated_hold_}});
      }
      if (e == fsm_event::start || e == fsm_event::connect_retry_expired) return go(state_, fsm_reason::none, {});
      return unexpected(e);

    case session_state::open_confirm:
      if (e == fsm_event::keepalive_received)
        return go(session_state::established, fsm_reason::keepalive_received,
                  {{A::arm_hold, negotiated_hold_}, {A::established}});
      if (e == fsm_event::keepalive_timer_expired)
        return go(state_, fsm_reason::none, {{A::send_keepalive}, {A::arm_keepalive, keepalive_interval()}});
      if (e == fsm_event::start || e == fsm_event::connect_retry_expired) return go(state_, fsm_reason::none, {});
      return unexpected(e);

    case session_state::established:
      switch (e) {
        case fsm_event::keepalive_timer_expired:
          return go(state_, fsm_reason::none, {{A::send_keepalive}, {A::arm_keepalive, keepalive_interval()}});
        case fsm_event::keepalive_received: return go(state_, fsm_reason::none, {{A::arm_hold, negotiated_hold_}});
        case fsm_event::update_received:
          return go(state_, fsm_reason::none, {{A::arm_hold, negotiated_hold_}, {A::process_update}});
        case fsm_event::route_refresh_received:
          return go(state_, fsm_reason::none, {{A::arm_hold, negotiated_hold_}, {A::process_route_refresh}});
        case fsm_event::start:
        case fsm_event::connect_retry_expired: return go(state_, fsm_reason::none, {});
        default: return unexpected(e);
      }
  }
  return go(state_, fsm_reason::none, {});
}

}  // namespace herald::bgp
