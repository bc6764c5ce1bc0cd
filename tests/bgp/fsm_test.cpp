// FSM transitions (RFC 4271 §8.2.2). The FSM has no clock: timer expiries are
// events, so these tests are the "fake clock" — each expiry is delivered
// exactly when the test says, without waiting.
#include <catch2/catch.hpp>

#include "bgp/fsm.hpp"

using namespace herald::bgp;
using namespace herald::bgp::wire;
using A = fsm_action;
using S = session_state;
using E = fsm_event;

namespace {
fsm to_established(std::uint16_t hold = 90, std::uint16_t peer_hold = 90) {
  fsm f(hold, 30, false);
  f.handle(E::start);
  f.handle(E::tcp_connected);
  fsm_input in;
  in.peer_hold_time = peer_hold;
  f.handle(E::open_received, in);
  f.handle(E::keepalive_received);
  REQUIRE(f.state() == S::established);
  return f;
}
fsm to_open_sent() {
  fsm f(90, 30, false);
  f.handle(E::start);
  f.handle(E::tcp_connected);
  REQUIRE(f.state() == S::open_sent);
  return f;
}
const notification_message* sent(const fsm_transition& t) {
  auto a = t.find(A::send_notification);
  return a && a->notification ? &*a->notification : nullptr;
}
}  // namespace

TEST_CASE("active peer: idle -> connect -> opensent -> openconfirm -> established") {
  fsm f(90, 30, false);
  auto t = f.handle(E::start);
  CHECK(t.to == S::connect);
  CHECK(t.has(A::connect));
  CHECK(t.has(A::start_connect_retry));
  t = f.handle(E::tcp_connected);
  CHECK(t.to == S::open_sent);
  CHECK(t.has(A::send_open));
  CHECK(t.find(A::arm_hold)->seconds == fsm::open_hold_seconds);
  fsm_input in;
  in.peer_hold_time = 30;
  t = f.handle(E::open_received, in);
  CHECK(t.to == S::open_confirm);
  CHECK(t.has(A::send_keepalive));
  CHECK(f.negotiated_hold_time() == 30);  // min(90, 30)
  CHECK(t.find(A::arm_keepalive)->seconds == 10);
  CHECK(t.find(A::arm_hold)->seconds == 30);
  t = f.handle(E::keepalive_received);
  CHECK(t.to == S::established);
  CHECK(t.has(A::established));
}

TEST_CASE("passive peer waits in active and never connects") {
  fsm f(90, 30, true);
  auto t = f.handle(E::start);
  CHECK(t.to == S::active);
  CHECK_FALSE(t.has(A::connect));
  t = f.handle(E::connect_retry_expired);
  CHECK(t.to == S::active);
  CHECK_FALSE(t.has(A::connect));
  CHECK(f.handle(E::tcp_connected).to == S::open_sent);
}

TEST_CASE("connect failure waits in active, retry timer connects again") {
  fsm f(90, 30, false);
  f.handle(E::start);
  auto t = f.handle(E::tcp_failed);
  CHECK(t.to == S::active);
  CHECK(t.reason == fsm_reason::connect_failed);
  t = f.handle(E::connect_retry_expired);
  CHECK(t.to == S::connect);
  CHECK(t.has(A::connect));
}

TEST_CASE("hold timer expiry in every connected state sends Hold Timer Expired") {
  for (int stage = 0; stage < 3; ++stage) {
    fsm f(90, 30, false);
    f.handle(E::start);
    f.handle(E::tcp_connected);
    if (stage >= 1) {
      fsm_input in;
      in.peer_hold_time = 90;
      f.handle(E::open_received, in);
    }
    if (stage >= 2) f.handle(E::keepalive_received);
    auto t = f.handle(E::hold_timer_expired);
    CHECK(t.to == S::idle);
    CHECK(t.reason == fsm_reason::hold_timer_expired);
    REQUIRE(sent(t));
    CHECK(sent(t)->code == notification_code::hold_timer_expired);
    CHECK(t.has(A::close));
    CHECK(t.has(A::down));
  }
}

TEST_CASE("hold time 0 negotiates no keepalives and no hold timer") {
  auto f = to_established(0, 90);
  CHECK(f.negotiated_hold_time() == 0);
  CHECK(f.keepalive_interval() == 0);
  fsm g(90, 30, false);
  g.handle(E::start);
  g.handle(E::tcp_connected);
  fsm_input in;
  in.peer_hold_time = 0;
  auto t = g.handle(E::open_received, in);
  CHECK(t.find(A::arm_hold)->seconds == 0);
  CHECK(t.find(A::arm_keepalive)->seconds == 0);
}

TEST_CASE("established: keepalives, updates and route refresh re-arm the hold timer") {
  auto f = to_established(9, 9);
  auto t = f.handle(E::keepalive_timer_expired);
  CHECK(t.to == S::established);
  CHECK(t.has(A::send_keepalive));
  CHECK(t.find(A::arm_keepalive)->seconds == 3);
  t = f.handle(E::update_received);
  CHECK(t.has(A::process_update));
  CHECK(t.find(A::arm_hold)->seconds == 9);
  t = f.handle(E::route_refresh_received);
  CHECK(t.has(A::process_route_refresh));
  CHECK(f.handle(E::keepalive_received).find(A::arm_hold)->seconds == 9);
}

TEST_CASE("unexpected messages get an FSM error with the RFC 6608 subcode") {
  SECTION("UPDATE in OpenSent") {
    fsm f(90, 30, false);
    f.handle(E::start);
    f.handle(E::tcp_connected);
    auto t = f.handle(E::update_received);
    CHECK(t.to == S::idle);
    REQUIRE(sent(t));
    CHECK(sent(t)->code == notification_code::fsm_error);
    CHECK(sent(t)->subcode == static_cast<std::uint8_t>(fsm_subcode::unexpected_in_open_sent));
  }
  SECTION("UPDATE in OpenConfirm") {
    fsm f(90, 30, false);
    f.handle(E::start);
    f.handle(E::tcp_connected);
    f.handle(E::open_received, {90, {}});
    auto t = f.handle(E::update_received);
    CHECK(sent(t)->subcode == static_cast<std::uint8_t>(fsm_subcode::unexpected_in_open_confirm));
  }
  SECTION("OPEN in Established") {
    auto f = to_established();
    auto t = f.handle(E::open_received, {90, {}});
    CHECK(t.to == S::idle);
    CHECK(sent(t)->subcode == static_cast<std::uint8_t>(fsm_subcode::unexpected_in_established));
  }
}

TEST_CASE("a bad OPEN is answered with the decoder's NOTIFICATION") {
  fsm f(90, 30, false);
  f.handle(E::start);
  f.handle(E::tcp_connected);
  open_message o;
  o.my_as = 65002;
  o.hold_time = 2;
  o.bgp_id = 1;
  auto e = check_open(o, {65002u, 2, 65001});
  REQUIRE(e);
  fsm_input in;
  in.notification = notification_message{e->code, e->subcode, e->data};
  auto t = f.handle(E::message_error, in);
  CHECK(t.to == S::idle);
  CHECK(t.reason == fsm_reason::message_error);
  CHECK(sent(t)->code == notification_code::open_message_error);
  CHECK(sent(t)->subcode == static_cast<std::uint8_t>(open_subcode::unacceptable_hold_time));
}

TEST_CASE("stop sends Cease, or the given NOTIFICATION, and goes idle") {
  auto f = to_established();
  fsm_input in;
  in.notification = notification_message::shutdown(cease_subcode::administrative_shutdown, "maintenance");
  auto t = f.handle(E::stop, in);
  CHECK(t.to == S::idle);
  CHECK(t.reason == fsm_reason::admin_stop);
  CHECK(sent(t)->shutdown_communication() == "maintenance");
  fsm g(90, 30, false);
  g.handle(E::start);
  t = g.handle(E::stop);
  CHECK(t.to == S::idle);
  CHECK_FALSE(sent(t));  // no connection yet, nothing to send
}

TEST_CASE("notification received or connection lost goes idle without sending") {
  auto f = to_established();
  auto t = f.handle(E::notification_received);
  CHECK(t.to == S::idle);
  CHECK_FALSE(sent(t));
  CHECK(t.has(A::down));
  auto g = to_established();
  t = g.handle(E::tcp_failed);
  CHECK(t.reason == fsm_reason::connection_closed);
  CHECK(t.has(A::down));
}

TEST_CASE("idle ignores everything but start") {
  fsm f(90, 30, false);
  for (auto e : {E::stop, E::hold_timer_expired, E::keepalive_received, E::update_received, E::tcp_connected}) {
    auto t = f.handle(e);
    CHECK(t.to == S::idle);
    CHECK(t.actions.empty());
  }
}

TEST_CASE("collision (RFC 4271 §6.8): the higher BGP Identifier's connection survives") {
  // Ours lower: keep the connection the peer opened.
  CHECK(keep_inbound_on_collision(0xC0000201, 0xC0000202));
  // Ours higher: keep ours, refuse the peer's.
  CHECK_FALSE(keep_inbound_on_collision(0xC0000203, 0xC0000202));
  // The losing connection is closed; the FSM restarts on the winner.
  fsm f(90, 30, false);
  f.handle(E::start);
  f.handle(E::tcp_connected);
  f.handle(E::open_received, {90, {}});
  auto t = f.connection_replaced();
  CHECK(t.to == S::active);
  CHECK(t.reason == fsm_reason::collision);
  CHECK(t.actions.empty());
  CHECK(f.negotiated_hold_time() == 0);
  CHECK(f.handle(E::tcp_connected).to == S::open_sent);
}

TEST_CASE("BFD Down: Cease subcode 10 from every connected state (RFC 9384), quiet stop before") {
  auto is_bfd_cease = [](const fsm_transition& t) {
    auto n = sent(t);
    return n && n->code == notification_code::cease &&
           n->subcode == static_cast<std::uint8_t>(cease_subcode::bfd_down);
  };
  SECTION("established") {
    auto f = to_established();
    auto t = f.handle(E::bfd_down);
    CHECK(t.to == S::idle);
    CHECK(t.reason == fsm_reason::bfd_down);
    CHECK(is_bfd_cease(t));
    CHECK(t.has(A::close));
    CHECK(t.has(A::down));  // the session schedules (and gates) the restart
  }
  SECTION("opensent and openconfirm") {
    auto f = to_open_sent();
    auto t = f.handle(E::bfd_down);
    CHECK(t.to == S::idle);
    CHECK(is_bfd_cease(t));
    f = to_open_sent();
    fsm_input in;
    in.peer_hold_time = 90;
    f.handle(E::open_received, in);
    REQUIRE(f.state() == S::open_confirm);
    t = f.handle(E::bfd_down);
    CHECK(t.to == S::idle);
    CHECK(is_bfd_cease(t));
  }
  SECTION("connect and active: no connection to notify, the attempt stops") {
    for (bool passive : {false, true}) {
      fsm f(90, 30, passive);
      f.handle(E::start);
      REQUIRE(f.state() == (passive ? S::active : S::connect));
      auto t = f.handle(E::bfd_down);
      CHECK(t.to == S::idle);
      CHECK(t.reason == fsm_reason::bfd_down);
      CHECK(sent(t) == nullptr);
      CHECK(t.has(A::close));
      CHECK(t.has(A::stop_connect_retry));
      CHECK_FALSE(t.has(A::connect));
    }
  }
  SECTION("idle: nothing") {
    fsm f(90, 30, false);
    auto t = f.handle(E::bfd_down);
    CHECK(t.to == S::idle);
    CHECK(t.actions.empty());
  }
}

TEST_CASE("Send hold timer expired: NOTIFICATION 8 and close (RFC 9687)") {
  auto f = to_established();
  auto t = f.handle(E::send_hold_timer_expired);
  CHECK(t.to == S::idle);
  CHECK(t.reason == fsm_reason::send_hold_timer_expired);
  auto n = sent(t);
  REQUIRE(n);
  CHECK(n->code == notification_code::send_hold_timer_expired);
  CHECK(n->to_string() == "Send Hold Timer Expired");
  CHECK(t.has(A::close));
  CHECK(t.has(A::down));
}
