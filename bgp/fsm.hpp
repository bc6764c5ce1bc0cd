// The BGP finite state machine of RFC 4271 §8, as a pure class: given the
// current state and an event it returns the next state and the actions the
// session must carry out (STYLE.md §5). No sockets, no timers, no clock: the
// session turns timer expiries and socket results into events, so the tests
// drive every transition without waiting.
//
// Connect and Active are kept apart as in the RFC: Connect means an outbound
// connection attempt is in flight, Active means we wait for the retry timer
// or for the peer to connect to us (passive peers live there). Idle after an
// error is left by an automatic start that the session schedules with
// exponential backoff (RFC 4271 §8.1.1 "DampPeerOscillations" in spirit).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "bgp/wire/message.hpp"

namespace herald::bgp {

enum class session_state : std::uint8_t { idle, connect, active, open_sent, open_confirm, established };
std::string_view to_string(session_state s);

enum class fsm_event : std::uint8_t {
  start,                    // ManualStart / AutomaticStart (Events 1, 3, 4, 5)
  stop,                     // ManualStop (Event 2); carries the NOTIFICATION to send
  connect_retry_expired,    // Event 9
  hold_timer_expired,       // Event 10
  keepalive_timer_expired,  // Event 11
  tcp_connected,            // Events 16 / 17: outbound connected or inbound accepted
  tcp_failed,               // Event 18: connect failed, or the connection closed
  open_received,            // Event 19: an OPEN that passed check_open()
  message_error,            // Events 21, 22, 28: a header, OPEN or UPDATE error to report
  notification_received,    // Events 24, 25
  keepalive_received,       // Event 26
  update_received,          // Event 27 (well-formed, or with a survivable RFC 7606 error)
  route_refresh_received,   // RFC 2918
  bfd_down,                 // RFC 5882 §4.3: the peer's BFD session went Down (Cease subcode 10, RFC 9384)
  send_hold_timer_expired,  // RFC 9687 Event 29: nothing could be sent for SendHoldTime
};
std::string_view to_string(fsm_event e);

// Why a session left a state; logged with every transition (GoBGP's fsmStateReasonType).
enum class fsm_reason : std::uint8_t {
  none,
  admin_start,
  admin_stop,
  connect_failed,
  connection_closed,
  hold_timer_expired,
  notification_received,
  message_error,
  unexpected_message,
  open_accepted,
  keepalive_received,
  max_prefixes,
  bfd_down,
  collision,
  send_hold_timer_expired,
};
std::string_view to_string(fsm_reason r);

struct fsm_action {
  enum kind_t : std::uint8_t {
    connect,              // start an outbound TCP connection
    close,                // close the connection
    send_open,
    send_keepalive,
    send_notification,    // `notification` holds it
    start_connect_retry,  // arm the connect-retry timer (session applies backoff)
    stop_connect_retry,
    arm_hold,             // (re)arm the hold timer for `seconds`; 0 disarms
    arm_keepalive,        // (re)arm the keepalive timer for `seconds`; 0 disarms
    established,          // the session is up: send the Adj-RIB-Out
    process_update,
    process_route_refresh,
    down,                 // the session went down: schedule an automatic start
  };
  fsm_action(kind_t k, std::uint32_t s = 0, std::optional<wire::notification_message> n = std::nullopt)
      : kind(k), seconds(s), notification(std::move(n)) {}
  kind_t kind;
  std::uint32_t seconds = 0;
  std::optional<wire::notification_message> notification;
  friend bool operator==(const fsm_action&, const fsm_action&) = default;
};

struct fsm_transition {
  session_state from, to;
  fsm_reason reason = fsm_reason::none;
  std::vector<fsm_action> actions;
  bool has(fsm_action::kind_t k) const;
  const fsm_action* find(fsm_action::kind_t k) const;
};

// Data that comes with an event.
struct fsm_input {
  std::uint16_t peer_hold_time = 0;  // open_received: the peer's Hold Time
  std::optional<wire::notification_message> notification;  // stop, message_error
};

// RFC 4271 §6.8, comparing BGP Identifiers as host-order integers: true
// when the connection the peer opened (inbound) should be kept.
bool keep_inbound_on_collision(std::uint32_t local_id, std::uint32_t remote_id);

class fsm {
 public:
  // hold_time: our configured Hold Time (0, or >= 3). keepalive: configured
  // keepalive interval, used when smaller than a third of the negotiated hold
  // time. passive: never connect out.
  fsm(std::uint16_t hold_time, std::uint16_t keepalive, bool passive);

  session_state state() const { return state_; }
  // Negotiated after OPEN: min(ours, peer's); 0 means no keepalives and no hold timer.
  std::uint16_t negotiated_hold_time() const { return negotiated_hold_; }
  std::uint16_t keepalive_interval() const;

  fsm_transition handle(fsm_event e, const fsm_input& in = {});

  // Whether the next start waits for the peer (PassiveTcpEstablishment,
  // RFC 4271 §8.1.1); a session already past Active is not affected.
  void set_passive(bool passive) { passive_ = passive; }

  // RFC 4271 §6.8: the connection in OpenSent / OpenConfirm lost a collision
  // and is closed by the caller; the FSM goes back to Active without actions,
  // ready for tcp_connected on the connection that won.
  fsm_transition connection_replaced();

  // RFC 4271 §8.2.2: the hold timer while waiting for the OPEN is "large"; 4 minutes suggested.
  static constexpr std::uint32_t open_hold_seconds = 240;

 private:
  fsm_transition go(session_state to, fsm_reason why, std::vector<fsm_action> actions);
  fsm_transition error_to_idle(fsm_reason why, std::optional<wire::notification_message> n);
  fsm_transition unexpected(fsm_event e);

  session_state state_ = session_state::idle;
  std::uint16_t hold_time_;
  std::uint16_t keepalive_;
  bool passive_;
  std::uint16_t negotiated_hold_ = 0;
};

}  // namespace herald::bgp
