// BFD over real UDP sockets on loopback (RFC 5881): two services in one
// io_context bring a session Up, run the Poll to fast timers, and when one
// side stops sending the other goes Down within the detection time. Also:
// datagrams with TTL below 255 and malformed ones are dropped and counted.
// Listeners bind port 0 (a free port), so no root is needed and runs in
// parallel do not collide.
#include <catch2/catch.hpp>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/unicast.hpp>
#include <chrono>

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
