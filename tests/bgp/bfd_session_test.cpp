// BFD session state machine (RFC 5880 §6.2, §6.8) with a fake clock: every
// call gets an explicit `now`, and the jitter RNG is a fixed value, so each
// test knows exactly when packets go out and when detection expires.
#include <catch2/catch.hpp>

#include "bgp/bfd/session.hpp"
#include "result_catch.hpp"

using namespace herald::bfd;
using namespace std::chrono_literals;
using S = bfd_state;

namespace {
constexpr std::uint32_t ours = 0x11;
constexpr std::uint32_t theirs = 0x22;
const time_point t0{};

session make(session_config cfg = {}, double jitter = 1.0 - 1e-9) {
  // Just below 1: intervals come out at (almost) 100%.
  return session(ours, cfg, [jitter] { return jitter; });
}

control_packet from_peer(S st, std::uint32_t your = ours, std::uint32_t tx = 300'000,
                         std::uint32_t rx = 300'000, std::uint8_t mult = 3) {
  control_packet p;
  p.state = st;
  p.my_discriminator = theirs;
  p.your_discriminator = your;
  p.desired_min_tx_us = tx;
  p.required_min_rx_us = rx;
  p.detect_mult = mult;
  return p;
}

// Three-way handshake to Up at t0; then answers our Poll so timers are fast.
session up_session(session_config cfg = {}) {
  auto s = make(cfg);
  s.start(t0);
  s.on_packet(from_peer(S::down, 0), t0);
  REQUIRE(s.state() == S::init);
  s.on_packet(from_peer(S::up), t0);
  REQUIRE(s.state() == S::up);
  REQUIRE(s.poll_in_progress());
  auto fin = from_peer(S::up);
  fin.final = true;
  s.on_packet(fin, t0);
  REQUIRE_FALSE(s.poll_in_progress());
  return s;
}
}  // namespace

TEST_CASE("bfd session: start sends Down at the slow rate with your discriminator 0") {
  auto s = make();
  auto out = s.start(t0);
  REQUIRE(out.send.size() == 1);
  CHECK(out.send[0].state == S::down);
  CHECK(out.send[0].my_discriminator == ours);
  CHECK(out.send[0].your_discriminator == 0);
  CHECK(out.send[0].desired_min_tx_us == slow_tx_us);  // §6.8.3: 1 s until Up
  CHECK(out.send[0].required_min_rx_us == 300'000);
  CHECK(out.send[0].detect_mult == 3);
  // RemoteMinRx starts at 1 µs, so the interval is our 1 s.
  CHECK(s.next_deadline() > t0 + 999ms);
  CHECK(s.next_deadline() <= t0 + 1s);
  CHECK(s.on_timer(t0 + 500ms).send.empty());
  CHECK(s.on_timer(t0 + 1s).send.size() == 1);
}

TEST_CASE("bfd session: Down -(Down)-> Init -(Up)-> Up, then a Poll to the fast rate") {
  auto s = make();
  s.start(t0);
  auto out = s.on_packet(from_peer(S::down, 0), t0 + 10ms);
  REQUIRE(out.changes.size() == 1);
  CHECK(out.changes[0].from == S::down);
  CHECK(out.changes[0].to == S::init);
  REQUIRE(out.send.size() == 1);  // the new state goes out at once
  CHECK(out.send[0].state == S::init);
  CHECK(out.send[0].your_discriminator == theirs);
  CHECK_FALSE(out.send[0].poll);

  out = s.on_packet(from_peer(S::up), t0 + 20ms);
  REQUIRE(out.changes.size() == 1);
  CHECK(out.changes[0].to == S::up);
  CHECK(out.changes[0].reason == diag::none);
  REQUIRE(out.send.size() == 1);
  CHECK(out.send[0].state == S::up);
  CHECK(out.send[0].poll);  // DesiredMinTx drops from 1 s to 300 ms
  CHECK(out.send[0].desired_min_tx_us == 300'000);
  // Decreasing the transmit interval takes effect at once.
  CHECK(s.tx_interval() == 300ms);
  CHECK(s.counters().went_up == 1);

  auto fin = from_peer(S::up);
  fin.final = true;
  s.on_packet(fin, t0 + 30ms);
  CHECK_FALSE(s.poll_in_progress());
  CHECK(s.counters().polls_completed == 1);
  auto next = s.on_timer(t0 + 20ms + 300ms);
  REQUIRE(next.send.size() == 1);
  CHECK_FALSE(next.send[0].poll);
}

TEST_CASE("bfd session: Down -(Init)-> Up directly") {
  auto s = make();
  s.start(t0);
  auto out = s.on_packet(from_peer(S::init), t0);
  REQUIRE(out.changes.size() == 1);
  CHECK(out.changes[0].to == S::up);
}

TEST_CASE("bfd session: Down ignores Up; Init -(Init)-> Up") {
  auto s = make();
  s.start(t0);
  CHECK(s.on_packet(from_peer(S::up), t0).changes.empty());
  CHECK(s.state() == S::down);
  s.on_packet(from_peer(S::down, 0), t0);
  REQUIRE(s.state() == S::init);
  CHECK(s.on_packet(from_peer(S::down, 0), t0).changes.empty());  // stays Init
  s.on_packet(from_peer(S::init), t0);
  CHECK(s.state() == S::up);
}

TEST_CASE("bfd session: Up -(Down)-> Down with diag 3") {
  auto s = up_session();
  auto out = s.on_packet(from_peer(S::down, 0), t0 + 100ms);
  REQUIRE(out.changes.size() == 1);
  CHECK(out.changes[0].to == S::down);
  CHECK(out.changes[0].reason == diag::neighbor_signaled_session_down);
  REQUIRE(out.send.size() == 1);
  CHECK(out.send[0].diagnostic == diag::neighbor_signaled_session_down);
  CHECK(out.send[0].desired_min_tx_us == slow_tx_us);  // back to the slow rate
  CHECK(s.counters().went_down == 1);
}

TEST_CASE("bfd session: peer AdminDown takes Init and Up to Down with diag 3, Down stays") {
  auto s = up_session();
  s.on_packet(from_peer(S::admin_down, 0), t0);
  CHECK(s.state() == S::down);
  CHECK(s.local_diag() == diag::neighbor_signaled_session_down);
  CHECK(s.on_packet(from_peer(S::admin_down, 0), t0).changes.empty());

  auto i = make();
  i.start(t0);
  i.on_packet(from_peer(S::down, 0), t0);
  REQUIRE(i.state() == S::init);
  i.on_packet(from_peer(S::admin_down, 0), t0);
  CHECK(i.state() == S::down);
}

TEST_CASE("bfd session: local AdminDown sends diag 7 and discards packets until re-enabled") {
  auto s = up_session();
  auto out = s.set_admin_down(true, t0 + 1ms);
  REQUIRE(out.changes.size() == 1);
  CHECK(out.changes[0].to == S::admin_down);
  REQUIRE(out.send.size() == 1);
  CHECK(out.send[0].state == S::admin_down);
  CHECK(out.send[0].diagnostic == diag::administratively_down);
  CHECK(s.on_packet(from_peer(S::up), t0 + 2ms).changes.empty());
  CHECK(s.counters().packets_discarded == 1);
  // No detection timeout in AdminDown.
  CHECK(s.on_timer(t0 + 10s).changes.empty());
  out = s.set_admin_down(false, t0 + 11s);
  REQUIRE(out.changes.size() == 1);
  CHECK(out.changes[0].to == S::down);
  s.on_packet(from_peer(S::init), t0 + 11s);
  CHECK(s.state() == S::up);
}

TEST_CASE("bfd session: detection time expiry takes Up to Down with diag 1") {
  auto s = up_session();  // both sides 300 ms x 3
  CHECK(s.detection_time() == 900ms);
  s.on_packet(from_peer(S::up), t0 + 100ms);
  CHECK(s.on_timer(t0 + 100ms + 899ms).changes.empty());
  CHECK(s.state() == S::up);
  CHECK(s.next_deadline() <= t0 + 100ms + 900ms);
  auto out = s.on_timer(t0 + 100ms + 900ms);
  REQUIRE(out.changes.size() == 1);
  CHECK(out.changes[0].to == S::down);
  CHECK(out.changes[0].reason == diag::control_detection_time_expired);
  CHECK(s.remote_discriminator() == 0);  // §6.8.1
  REQUIRE_FALSE(out.send.empty());
  CHECK(out.send.back().your_discriminator == 0);
  CHECK(s.counters().detection_expiries == 1);
}

TEST_CASE("bfd session: Init also times out; Down does not") {
  auto s = make();
  s.start(t0);
  s.on_packet(from_peer(S::down, 0, 1'000'000), t0);
  REQUIRE(s.state() == S::init);
  CHECK(s.detection_time() == 3s);
  auto out = s.on_timer(t0 + 3s);
  REQUIRE(out.changes.size() == 1);
  CHECK(out.changes[0].reason == diag::control_detection_time_expired);
  CHECK(s.on_timer(t0 + 60s).changes.empty());
  CHECK(s.state() == S::down);
}

TEST_CASE("bfd session: negotiated intervals use the larger of each pair") {
  session_config cfg{.desired_min_tx_us = 100'000, .required_min_rx_us = 200'000, .detect_mult = 3};
  auto s = up_session(cfg);
  // Their Required Min RX 300 ms beats our 100 ms Desired Min TX.
  CHECK(s.tx_interval() == 300ms);
  // Their mult 5 × max(our 200 ms rx, their 50 ms tx).
  s.on_packet(from_peer(S::up, ours, 50'000, 50'000, 5), t0);
  CHECK(s.tx_interval() == 100ms);
  CHECK(s.detection_time() == 1s);
}

TEST_CASE("bfd session: a Poll from the peer is answered at once with Final and no Poll") {
  auto s = up_session();
  auto p = from_peer(S::up, ours, 100'000, 100'000);
  p.poll = true;
  auto out = s.on_packet(p, t0 + 5ms);
  REQUIRE(out.send.size() == 1);
  CHECK(out.send[0].final);
  CHECK_FALSE(out.send[0].poll);
  CHECK(s.tx_interval() == 300ms);  // our 300 ms still beats their 100 ms
}

TEST_CASE("bfd session: set_config runs a Poll; a slower tx waits for the Final") {
  auto s = up_session();
  auto out = s.set_config({.desired_min_tx_us = 1'000'000, .required_min_rx_us = 100'000, .detect_mult = 3},
                          t0 + 1ms);
  REQUIRE(out.send.size() == 1);
  CHECK(out.send[0].poll);
  CHECK(out.send[0].desired_min_tx_us == 1'000'000);
  CHECK(out.send[0].required_min_rx_us == 100'000);
  // §6.8.3: the old tx interval and the old rx (for detection) hold until Final.
  CHECK(s.tx_interval() == 300ms);
  CHECK(s.detection_time() == 900ms);
  // Periodic packets keep the P bit while the sequence runs.
  auto again = s.on_timer(t0 + 1ms + 300ms);
  REQUIRE(again.send.size() == 1);
  CHECK(again.send[0].poll);
  auto fin = from_peer(S::up);
  fin.final = true;
  s.on_packet(fin, t0 + 310ms);
  CHECK_FALSE(s.poll_in_progress());
  CHECK(s.tx_interval() == 1s);
  CHECK(s.detection_time() == 900ms);  // their 300 ms tx now dominates our 100 ms rx
}

TEST_CASE("bfd session: jitter keeps intervals in 75-100%, 75-90% with detect mult 1") {
  for (double u : {0.0, 0.5, 0.999999}) {
    auto s = make({}, u);
    s.start(t0);
    auto d = s.next_deadline() - t0;
    CHECK(d >= 750ms);
    CHECK(d <= 1s);
    CHECK(d == std::chrono::duration_cast<microseconds>(750ms + 250ms * u));
    auto one = make({.desired_min_tx_us = 300'000, .required_min_rx_us = 300'000, .detect_mult = 1}, u);
    one.start(t0);
    auto d1 = one.next_deadline() - t0;
    CHECK(d1 >= 750ms);
    CHECK(d1 <= 900ms);
  }
}

TEST_CASE("bfd session: Required Min RX 0 from the peer stops periodic packets") {
  auto s = up_session();
  s.on_packet(from_peer(S::up, ours, 300'000, 0), t0);
  CHECK(s.on_timer(t0 + 5s).send.empty() == false);  // detection fires, announces Down once
  CHECK(s.state() == S::down);
  auto later = s.on_timer(t0 + 60s);
  CHECK(later.send.empty());
}

TEST_CASE("bfd session: bad packets never reach the state machine") {
  // decode() rejects them; the session only ever sees decoded packets. This
  // walks the rejections a peer could use to disturb an Up session.
  auto s = up_session();
  std::vector<std::byte> b;
  auto p = from_peer(S::down, 0);
  p.detect_mult = 0;
  encode(p, b);
  auto d = decode(b);
  REQUIRE_FALSE(d);
  CHECK(d.error() == decode_error::zero_multiplier);
  CHECK(s.state() == S::up);
}
