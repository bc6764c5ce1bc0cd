// The BFD → BGP gate (RFC 5882 §3.2 and §4.3, RFC 9384) and the conversion
// of a peer's millisecond settings: pure, every state change by hand.
#include <catch2/catch.hpp>

#include "bgp/bfd_gate.hpp"

using namespace herald::bgp;
using herald::bfd::bfd_state;
using V = bfd_verdict;

TEST_CASE("bfd gate: closed until the first Up, then Up -> Down tears BGP down and holds it") {
  bfd_gate g;
  CHECK_FALSE(g.open());
  // The handshake on the way up changes nothing for BGP.
  CHECK(g.on_change(bfd_state::init, bfd_state::down) == V::none);
  CHECK_FALSE(g.open());
  CHECK(g.on_change(bfd_state::up, bfd_state::init) == V::release);
  CHECK(g.open());
  CHECK(g.on_change(bfd_state::up, bfd_state::up) == V::none);  // a repeat is no news
  // Detection time expired (the peer's last state was Up).
  CHECK(g.on_change(bfd_state::down, bfd_state::up) == V::tear_down);
  CHECK_FALSE(g.open());
  // Still down, or on the way back: BGP stays held.
  CHECK(g.on_change(bfd_state::down, bfd_state::down) == V::none);
  CHECK(g.on_change(bfd_state::init, bfd_state::down) == V::none);
  CHECK_FALSE(g.open());
  CHECK(g.on_change(bfd_state::up, bfd_state::up) == V::release);
  CHECK(g.open());
}

TEST_CASE("bfd gate: the peer signalling Down (diag 3) is a failure like a timeout") {
  bfd_gate g;
  REQUIRE(g.on_change(bfd_state::up, bfd_state::up) == V::release);
  CHECK(g.on_change(bfd_state::down, bfd_state::down) == V::tear_down);
}

TEST_CASE("bfd gate: the peer's AdminDown is no failure (RFC 5882 §3.2)") {
  SECTION("while Up: BGP stays") {
    bfd_gate g;
    REQUIRE(g.on_change(bfd_state::up, bfd_state::up) == V::release);
    CHECK(g.on_change(bfd_state::down, bfd_state::admin_down) == V::none);
    CHECK(g.open());
    // The peer enables BFD again: back Up through Init without touching BGP.
    CHECK(g.on_change(bfd_state::init, bfd_state::down) == V::none);
    CHECK(g.on_change(bfd_state::up, bfd_state::init) == V::none);
    CHECK(g.open());
  }
  SECTION("before the first Up: BGP is not kept waiting") {
    bfd_gate g;
    CHECK(g.on_change(bfd_state::down, bfd_state::admin_down) == V::release);
    CHECK(g.open());
  }
}

TEST_CASE("bfd gate: our own AdminDown (session removed) releases, never tears down") {
  bfd_gate g;
  CHECK(g.on_change(bfd_state::admin_down, bfd_state::down) == V::release);
  CHECK(g.open());
  CHECK(g.on_change(bfd_state::admin_down, bfd_state::up) == V::none);
  CHECK(g.open());
}

TEST_CASE("bfd gate: milliseconds become the state machine's microseconds") {
  auto c = to_session_config(peer_bfd{});
  CHECK(c.desired_min_tx_us == 300'000);
  CHECK(c.required_min_rx_us == 300'000);
  CHECK(c.detect_mult == 3);
  c = to_session_config(peer_bfd{.min_tx_ms = 100, .min_rx_ms = 50, .multiplier = 5});
  CHECK(c.desired_min_tx_us == 100'000);
  CHECK(c.required_min_rx_us == 50'000);
  CHECK(c.detect_mult == 5);
  // Out of range values are clamped, not wrapped: 0 would mean "send nothing".
  c = to_session_config(peer_bfd{.min_tx_ms = 0, .min_rx_ms = 10'000'000, .multiplier = 0});
  CHECK(c.desired_min_tx_us == 1000);
  CHECK(c.required_min_rx_us == 4'294'967'000u);
  CHECK(c.detect_mult == 1);
}
