// BFD over real UDP sockets on loopback (RFC 5881): two services in one
// io_context bring a session Up, run the Poll to fast timers, and when one
// side stops sending the other goes Down within the detection time. Also:
// datagrams with TTL below 255 and malformed ones (each §6.8.6 reason, and
// random bytes) are dropped and counted.
// Listeners bind port 0 (a free port), so no root is needed and runs in
// parallel do not collide.
#include <catch2/catch.hpp>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/unicast.hpp>
#include <chrono>
#include <random>

#include "bgp/bfd/io.hpp"
#include "result_catch.hpp"

using namespace herald::bfd;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {
// Runs the io_context until `done` holds or the deadline passes (no fixed sleeps).
template <class F>
bool run_until(asio::io_context& io, std::chrono::milliseconds limit, F done) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.restart();
    io.run_for(5ms);
  }
  return true;
}

// A listener on 127.0.0.1, free port, no IPv6.
service::options loopback_v4_options() {
  service::options o;
  o.listen_port = 0;
  o.ipv6 = false;
  o.listen_v4 = asio::ip::make_address_v4("127.0.0.1");
  return o;
}

struct pair_fixture {
  asio::io_context io;
  std::shared_ptr<service> a, b;
  std::uint32_t da = 0, db = 0;
  std::vector<state_change> a_changes;
  std::chrono::steady_clock::time_point a_down_at{};

  explicit pair_fixture(const asio::ip::address& addr, session_config cfg) {
    service::options o;
    o.listen_port = 0;
    o.ipv4 = addr.is_v4();
    o.ipv6 = addr.is_v6();
    if (addr.is_v4()) o.listen_v4 = addr.to_v4();
    else o.listen_v6 = addr.to_v6();
    a = std::make_shared<service>(io, o);
    b = std::make_shared<service>(io, o);
    REQUIRE(a->open());
    REQUIRE(b->open());
    auto ra = a->add_session(addr, addr, cfg, [this](std::uint32_t, const state_change& c) {
      a_changes.push_back(c);
      if (c.to == bfd_state::down) a_down_at = std::chrono::steady_clock::now();
    }, b->listen_port(addr.is_v6()));
    REQUIRE(ra);
    da = *ra;
    auto rb = b->add_session(addr, addr, cfg, nullptr, a->listen_port(addr.is_v6()));
    REQUIRE(rb);
    db = *rb;
  }
  ~pair_fixture() {
    a->close();
    b->close();
  }
};

void up_then_freeze(const asio::ip::address& addr) {
  session_config cfg{.desired_min_tx_us = 50'000, .required_min_rx_us = 50'000, .detect_mult = 3};
  pair_fixture f(addr, cfg);
  REQUIRE(run_until(f.io, 5s, [&] {
    return f.a->find(f.da)->state() == bfd_state::up && f.b->find(f.db)->state() == bfd_state::up &&
           !f.a->find(f.da)->poll_in_progress() && !f.b->find(f.db)->poll_in_progress();
  }));
  CHECK(f.a->find(f.da)->tx_interval() == 50ms);
  CHECK(f.a->find(f.da)->detection_time() == 150ms);
  CHECK(f.a->find(f.da)->remote_discriminator() == f.db);
  CHECK(f.a->counters().bad_ttl == 0);
  CHECK(f.a->counters().malformed.total() == 0);
  // Let the session settle at the fast rate for a few intervals.
  const auto settle = std::chrono::steady_clock::now() + 200ms;
  REQUIRE(run_until(f.io, 1s, [&] { return std::chrono::steady_clock::now() >= settle; }));
  REQUIRE(f.a->find(f.da)->state() == bfd_state::up);

  // Freeze b: its session vanishes without a word.
  const auto frozen = std::chrono::steady_clock::now();
  f.b->remove_session(f.db);
  REQUIRE(run_until(f.io, 2s, [&] { return f.a->find(f.da)->state() == bfd_state::down; }));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(f.a_down_at - frozen);
  REQUIRE_FALSE(f.a_changes.empty());
  CHECK(f.a_changes.back().reason == diag::control_detection_time_expired);
  // Detection time 150 ms from b's last packet, which left up to one
  // interval before the freeze; allow scheduling slack on a loaded machine.
  CHECK(took >= 90ms);
  CHECK(took <= 300ms);
  UNSCOPED_INFO("down after " << took.count() << " ms");
}
}  // namespace

TEST_CASE("bfd io: IPv4 loopback session comes Up and detects a frozen peer") {
  up_then_freeze(asio::ip::make_address("127.0.0.1"));
}

TEST_CASE("bfd io: IPv6 loopback session comes Up and detects a frozen peer") {
  up_then_freeze(asio::ip::make_address("::1"));
}

TEST_CASE("bfd io: AdminDown on one side takes the other Down with diag 3, and back Up") {
  session_config cfg{.desired_min_tx_us = 50'000, .required_min_rx_us = 50'000, .detect_mult = 3};
  pair_fixture f(asio::ip::make_address("127.0.0.1"), cfg);
  REQUIRE(run_until(f.io, 5s, [&] { return f.a->find(f.da)->state() == bfd_state::up; }));
  f.b->set_admin_down(f.db, true);
  REQUIRE(run_until(f.io, 2s, [&] { return f.a->find(f.da)->state() == bfd_state::down; }));
  CHECK(f.a->find(f.da)->local_diag() == diag::neighbor_signaled_session_down);
  CHECK(f.b->find(f.db)->state() == bfd_state::admin_down);
  f.b->set_admin_down(f.db, false);
  REQUIRE(run_until(f.io, 5s, [&] {
    return f.a->find(f.da)->state() == bfd_state::up && f.b->find(f.db)->state() == bfd_state::up;
  }));
}

TEST_CASE("bfd io: a second listener on the same port fails instead of sharing it") {
  asio::io_context io;
  service::options o = loopback_v4_options();
  auto first = std::make_shared<service>(io, o);
  REQUIRE(first->open());
  o.listen_port = first->listen_port(false);
  auto second = std::make_shared<service>(io, o);
  auto r = second->open();
  REQUIRE_FALSE(r);
  CHECK(r.error() == asio::error::address_in_use);
  first->close();
}

TEST_CASE("bfd io: TTL below 255 and malformed datagrams are dropped and counted") {
  asio::io_context io;
  service::options o = loopback_v4_options();
  auto s = std::make_shared<service>(io, o);
  REQUIRE(s->open());
  const asio::ip::udp::endpoint to(o.listen_v4, s->listen_port(false));

  control_packet p;
  p.my_discriminator = 7;
  std::vector<std::byte> good;
  encode(p, good);

  asio::ip::udp::socket tx(io, asio::ip::udp::v4());
  tx.set_option(asio::ip::unicast::hops(64));
  tx.send_to(asio::buffer(good), to);
  REQUIRE(run_until(io, 2s, [&] { return s->counters().received == 1; }));
  CHECK(s->counters().bad_ttl == 1);

  tx.set_option(asio::ip::unicast::hops(255));
  auto bad = good;
  bad[0] = std::byte{0x43};  // version 2
  tx.send_to(asio::buffer(bad), to);
  tx.send_to(asio::buffer(good), to);  // well-formed, but no session has source 127.0.0.1
  REQUIRE(run_until(io, 2s, [&] { return s->counters().received == 3; }));
  CHECK(s->counters().malformed.of(decode_error::bad_version) == 1);
  CHECK(s->counters().no_session == 1);
  s->close();
}

TEST_CASE("bfd io: every §6.8.6 rejection on the wire is counted by reason; random datagrams never crash") {
  asio::io_context io;
  service::options o = loopback_v4_options();
  auto s = std::make_shared<service>(io, o);
  REQUIRE(s->open());
  const asio::ip::udp::endpoint to(o.listen_v4, s->listen_port(false));
  asio::ip::udp::socket tx(io, asio::ip::udp::v4());
  tx.set_option(asio::ip::unicast::hops(255));

  control_packet p;
  p.my_discriminator = 7;
  std::vector<std::byte> good;
  encode(p, good);
  struct bad_case {
    const char* what;
    std::vector<std::byte> bytes;
    decode_error reason;
  };
  auto with = [&](std::size_t at, std::byte value) {
    auto b = good;
    b[at] = value;
    return b;
  };
  auto unauthenticated = with(1, good[1] | std::byte{0x04});  // A bit: authentication we do not run
  unauthenticated[3] = std::byte{28};
  for (int x : {2, 4, 0, 0}) unauthenticated.push_back(static_cast<std::byte>(x));
  const std::vector<bad_case> cases = {
      {"too short", std::vector<std::byte>(good.begin(), good.begin() + 10), decode_error::too_short},
      {"version 2", with(0, std::byte{0x40}), decode_error::bad_version},
      {"Length 23", with(3, std::byte{23}), decode_error::bad_length},
      {"Length beyond the datagram", with(3, std::byte{40}), decode_error::bad_length},
      {"Detect Mult 0", with(2, std::byte{0}), decode_error::zero_multiplier},
      {"Multipoint", with(1, good[1] | std::byte{0x01}), decode_error::multipoint},
      {"My Discriminator 0", with(7, std::byte{0}), decode_error::zero_my_discriminator},
      {"Up with Your Discriminator 0", with(1, std::byte{0xC0}), decode_error::zero_your_discriminator},
      {"A bit without authentication configured", unauthenticated, decode_error::auth_mismatch},
  };
  REQUIRE(cases.size() == 9);
  std::uint64_t sent = 0;
  for (const auto& c : cases) {
    INFO(c.what);
    const auto before = s->counters().malformed.of(c.reason);
    tx.send_to(asio::buffer(c.bytes), to);
    ++sent;
    REQUIRE(run_until(io, 2s, [&] { return s->counters().received == sent; }));
    CHECK(s->counters().malformed.of(c.reason) == before + 1);
  }
  CHECK(s->counters().malformed.total() == cases.size());
  CHECK(s->counters().no_session == 0);  // each stopped at the decoder

  // Random bytes of random sizes (up to 600: more than the 512-byte buffer).
  std::mt19937 rng(1234);
  for (int batch = 0; batch < 10; ++batch) {
    // In batches, so that the socket's receive buffer never overflows.
    for (int i = 0; i < 20; ++i) {
      std::vector<std::byte> junk(rng() % 600);
      for (auto& b : junk) b = static_cast<std::byte>(rng());
      tx.send_to(asio::buffer(junk), to);
      ++sent;
    }
    REQUIRE(run_until(io, 5s, [&] { return s->counters().received == sent; }));
  }
  // Every one dropped somewhere (decoder or demultiplexer), none accepted.
  CHECK(s->counters().malformed.total() + s->counters().no_session == sent);
  s->close();
}
