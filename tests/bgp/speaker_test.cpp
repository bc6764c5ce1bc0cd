// Two speakers in one process, over real TCP on loopback (127.0.0.1 and
// 127.0.0.2, no root needed): sessions come up, routes and attributes
// arrive, changes are diffed (add_routes adds beside the table, and after a
// quiet spell goes out within the call), withdrawals go out, the hold timer fires on a
// silent peer, graceful shutdown sends 65535:0 then withdraws, a bad
// configuration (wrong AS) is refused with the right NOTIFICATION, and the
// max-prefix limit closes the session, and BFD gates a session (held until
// Up, torn down with Cease / BFD Down, back on Up), a passive peer
// without a listener is warned about, a listener that cannot bind
// leaves the sessions running, GTSM holds on an accepted connection, and
// a connection that comes before the first configuration is held for it
// (or refused), and a router's connection while our own attempt is in
// flight is resolved by BGP Identifier (RFC 4271 §6.8). No fixed sleeps: the
// io_context runs until a condition holds or a deadline passes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <boost/asio.hpp>
#include <chrono>
#include <functional>
#include <random>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sstream>

#include "bgp/bfd/io.hpp"
#include "bgp/speaker.hpp"

using namespace herald::bgp;
using namespace herald::bgp::wire;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

ip_address addr(const char* s) { return *ip_address::parse(s); }
ip_prefix pfx(const char* s) { return *ip_prefix::parse(s); }

// A port that is free now on both addresses (best effort; the test binds it at once).
std::uint16_t free_port() {
  static std::mt19937 rng(std::random_device{}());
  for (int i = 0; i < 50; ++i) {
    auto port = static_cast<std::uint16_t>(20000 + rng() % 30000);
    asio::io_context io;
    asio::ip::tcp::acceptor a(io);
    boost::system::error_code ec;
    a.open(asio::ip::tcp::v4(), ec);
    a.bind({asio::ip::make_address("127.0.0.1"), port}, ec);
    if (!ec) return port;
  }
  FAIL("no free port");
  return 0;
}

// A UDP port that is free now on 127.0.0.1 (best effort, as free_port()).
std::uint16_t free_udp_port() {
  asio::io_context io;
  asio::ip::udp::socket s(io, {asio::ip::make_address("127.0.0.1"), 0});
  return s.local_endpoint().port();
}

template <class Pred>
bool run_until(asio::io_context& io, Pred pred, std::chrono::milliseconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.run_for(10ms);
    io.restart();
  }
  return true;
}

// Routes spdlog's default logger into a string while it lives.
class log_capture {
 public:
  log_capture() : previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(
        std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)));
  }
  ~log_capture() { spdlog::set_default_logger(previous_); }
  log_capture(const log_capture&) = delete;
  log_capture& operator=(const log_capture&) = delete;
  // What was logged since the last take().
  std::string take() {
    spdlog::default_logger()->flush();
    auto text = out_.str();
    out_.str("");
    return text;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

struct pair_of_speakers {
  asio::io_context io;
  std::uint16_t port = free_port();
  speaker_config a_cfg, b_cfg;

  pair_of_speakers(std::uint16_t hold = 90) {
    // A listens on 127.0.0.1 and is passive; B connects from 127.0.0.2.
    a_cfg.router_id = 0x7F000001;
    a_cfg.local_asn = 65000;
    a_cfg.listen_address = addr("127.0.0.1");
    a_cfg.listen_port = port;
    peer_config pa;
    pa.address = addr("127.0.0.2");
    pa.asn = 65001;
    pa.passive = true;
    pa.hold_time = hold;
    pa.keepalive = static_cast<std::uint16_t>(hold / 3);
    a_cfg.peers = {pa};
    b_cfg.router_id = 0x7F000002;
    b_cfg.local_asn = 65001;
    b_cfg.hostname = "node-b";
    peer_config pb;
    pb.address = addr("127.0.0.1");
    pb.asn = 65000;
    pb.port = port;
    pb.source_address = addr("127.0.0.2");
    pb.connect_retry = 1;
    pb.hold_time = hold;
    pb.keepalive = static_cast<std::uint16_t>(hold / 3);
    pb.next_hop_v6 = addr("2001:db8::2");
    pb.families = {ipv4_unicast, ipv6_unicast};
    b_cfg.peers = {pb};
    a_cfg.peers[0].families = {ipv4_unicast, ipv6_unicast};
  }
};

session_state state_of(const speaker& s, const char* peer) { return s.peer(addr(peer))->state(); }
const session::rib_in_table& received(const speaker& s, const char* peer) { return s.peer(addr(peer))->rib_in(); }

// A speaker with no peer (B's identity): its route table alone.
speaker_config no_peer_config() {
  speaker_config cfg;
  cfg.router_id = 0x7F000002;
  cfg.local_asn = 65001;
  return cfg;
}

route_attrs service_attrs() {
  route_attrs r;
  r.communities = {0xFDE90064};
  r.large_communities = {{65001, 1, 2}};
  r.ext_communities = {make_link_bandwidth({65001, 125000.0f, false})};
  r.med = 50;
  return r;
}

void write_all(asio::ip::tcp::socket& conn, bytes b) {
  auto out = std::make_shared<bytes>(std::move(b));
  asio::async_write(conn, asio::buffer(*out), [out](boost::system::error_code, std::size_t) {});
}

// The OPEN a scripted peer sends as A (AS 65000, 127.0.0.1 unless another
// BGP Identifier is given) would: `hold` seconds, `families`.
bytes open_as_a(std::uint16_t hold, const std::vector<family>& families, std::uint32_t bgp_id = 0x7F000001) {
  open_message o;
  o.my_as = 65000;
  o.hold_time = hold;
  o.bgp_id = bgp_id;
  for (auto f : families) o.capabilities.push_back(cap::multiprotocol{f});
  o.capabilities.push_back(cap::four_octet_as{65000});
  bytes out;
  encode_open(o, out);
  return out;
}

// A scripted peer's side of the handshake, as A would answer B: its OPEN
// and one KEEPALIVE.
void greet_as_a(asio::ip::tcp::socket& conn, std::uint16_t hold, std::vector<family> families) {
  auto out = open_as_a(hold, families);
  encode_keepalive(out);
  write_all(conn, std::move(out));
}

// A scripted router's connection from 127.0.0.1 to a node's listener on
// 127.0.0.2:node_port.
asio::ip::tcp::socket connect_from_router(asio::io_context& io, std::uint16_t node_port) {
  asio::ip::tcp::socket s(io);
  s.open(asio::ip::tcp::v4());
  s.bind({asio::ip::make_address("127.0.0.1"), 0});
  s.connect({asio::ip::make_address("127.0.0.2"), node_port});
  return s;
}

// One connection of a scripted router: reads all the speaker sends (its
// writes never block) and names the messages, in order ("open",
// "keepalive", "notification 6/7", ...).
struct scripted_connection {
  explicit scripted_connection(asio::ip::tcp::socket s) : sock(std::move(s)) { read_more(); }
  scripted_connection(const scripted_connection&) = delete;
  scripted_connection& operator=(const scripted_connection&) = delete;

  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    std::span<const std::byte> rest(got);
    while (rest.size() >= header_size) {
      auto f = frame(rest);
      if (f.kind != frame_result::message) break;
      switch (f.type) {
        case message_type::open: out.push_back("open"); break;
        case message_type::keepalive: out.push_back("keepalive"); break;
        case message_type::notification:
          out.push_back("notification " + std::to_string(std::to_integer<int>(rest[19])) + "/" +
                        std::to_string(std::to_integer<int>(rest[20])));
          break;
        default: out.push_back("other"); break;
      }
      rest = rest.subspan(f.length);
    }
    return out;
  }

  asio::ip::tcp::socket sock;
  bytes got;
  bool closed = false;

 private:
  void read_more() {
    sock.async_read_some(asio::buffer(chunk_), [this](boost::system::error_code ec, std::size_t n) {
      if (ec) {
        closed = true;
        return;
      }
      got.insert(got.end(), chunk_.begin(), chunk_.begin() + static_cast<std::ptrdiff_t>(n));
      read_more();
    });
  }
  std::array<std::byte, 4096> chunk_{};
};

}  // namespace

TEST_CASE("two speakers: establish, announce, change, withdraw, graceful shutdown") {
  pair_of_speakers p;
  p.b_cfg.drain = 1s;
  speaker a(p.io.get_executor(), p.a_cfg);
  speaker b(p.io.get_executor(), p.b_cfg);
  REQUIRE_FALSE(a.start());
  REQUIRE_FALSE(b.start());
  b.announce(pfx("198.51.100.10/32"), service_attrs());
  b.announce(pfx("2001:db8:1::10/128"), service_attrs());
  b.initial_routes_complete();
  REQUIRE(run_until(p.io, [&] { return state_of(a, "127.0.0.2") == session_state::established; }));
  REQUIRE(run_until(p.io, [&] { return received(a, "127.0.0.2").size() == 2; }));

  auto& v4 = *received(a, "127.0.0.2").at(pfx("198.51.100.10/32"));
  CHECK(v4.next_hop == addr("127.0.0.2"));  // next hop self
  CHECK(v4.flat_as_path() == std::vector<std::uint32_t>{65001});
  CHECK(v4.med == 50u);
  CHECK(v4.communities == std::vector<std::uint32_t>{0xFDE90064});
  CHECK(v4.large_communities.size() == 1);
  REQUIRE(v4.ext_communities.size() == 1);
  CHECK(as_link_bandwidth(v4.ext_communities[0])->bytes_per_second == 125000.0f);
  auto& v6 = *received(a, "127.0.0.2").at(pfx("2001:db8:1::10/128"));
  REQUIRE(v6.reach);
  CHECK(v6.reach->next_hops.at(0) == addr("2001:db8::2"));  // configured IPv6 next hop over IPv4 transport

  auto st = a.status().at(0);
  CHECK(st.remote_hostname == "node-b");
  CHECK(st.hold_time == 90);
  auto bst = b.status().at(0);
  CHECK(bst.advertised_v4 == 1);
  CHECK(bst.advertised_v6 == 1);

  SECTION("a change of attributes is re-announced; a withdraw removes") {
    auto r = service_attrs();
    r.med = 70;
    b.announce(pfx("198.51.100.10/32"), r);
    REQUIRE(run_until(p.io, [&] { return received(a, "127.0.0.2").at(pfx("198.51.100.10/32"))->med == 70u; }));
    auto updates_before = b.status().at(0).messages_out[2];
    b.announce(pfx("198.51.100.10/32"), r);  // same again: nothing to send
    p.io.run_for(50ms);
    p.io.restart();
    CHECK(b.status().at(0).messages_out[2] == updates_before);
    b.withdraw(pfx("2001:db8:1::10/128"));
    REQUIRE(run_until(p.io, [&] { return received(a, "127.0.0.2").size() == 1; }));
  }
  SECTION("add_routes: added beside the table in one batch, out within the call after a quiet spell") {
    p.io.run_for(20ms);  // longer than the coalescing window since the last change went out
    p.io.restart();
    auto updates_before = b.status().at(0).messages_out[2];
    route_list more = {{pfx("198.51.100.11/32"), std::make_shared<const route_attrs>(service_attrs())},
                       {pfx("198.51.100.12/32"), std::make_shared<const route_attrs>(service_attrs())}};
    b.add_routes(more);
    // Sent before the call returned, not after a trip through the timer
    // queue: one UPDATE for both (same attributes).
    CHECK(b.status().at(0).messages_out[2] == updates_before + 1);
    // Within the window, the next change waits for it and goes out then.
    b.add_routes({{pfx("198.51.100.13/32"), std::make_shared<const route_attrs>(service_attrs())}});
    CHECK(b.status().at(0).messages_out[2] == updates_before + 1);
    CHECK(b.route_count() == 5);  // the table keeps what was there
    REQUIRE(run_until(p.io, [&] { return received(a, "127.0.0.2").size() == 5; }));
    CHECK(b.status().at(0).messages_out[2] == updates_before + 2);
  }
  SECTION("graceful shutdown: GRACEFUL_SHUTDOWN first, then the withdraw and Cease") {
    bool done = false;
    b.shutdown("maintenance", [&] { done = true; });
    REQUIRE(run_until(p.io, [&] {
      auto& rib = received(a, "127.0.0.2");
      auto it = rib.find(pfx("198.51.100.10/32"));
      return it != rib.end() && it->second->communities.size() == 2;
    }));
    CHECK(received(a, "127.0.0.2").at(pfx("198.51.100.10/32"))->communities.back() == community::graceful_shutdown);
    REQUIRE(run_until(p.io, [&] { return done; }));
    REQUIRE(run_until(p.io, [&] { return state_of(a, "127.0.0.2") != session_state::established; }));
    CHECK(a.status().at(0).last_error_received == "Cease / Administrative Shutdown \"maintenance\"");
  }
}

// RFC 9687's send hold time is local: a BGPPeer's sendHoldTime edited on
// a live session must not flap it; any negotiated setting still restarts.
TEST_CASE("reconfigure: a new send hold time keeps the session, a new hold time restarts it") {
  pair_of_speakers p;
  speaker a(p.io.get_executor(), p.a_cfg), b(p.io.get_executor(), p.b_cfg);
  REQUIRE_FALSE(a.start());
  REQUIRE_FALSE(b.start());
  REQUIRE(run_until(p.io, [&] { return state_of(b, "127.0.0.1") == session_state::established; }));
  auto cfg = p.b_cfg;
  cfg.peers[0].send_hold_time = 60;
  b.reconfigure(cfg);
  p.io.run_for(300ms);
  p.io.restart();
  CHECK(state_of(b, "127.0.0.1") == session_state::established);
  CHECK(b.status().at(0).flaps == 0);
  CHECK(b.peer(addr("127.0.0.1"))->config().send_hold_time == 60);

  cfg.peers[0].hold_time = 30;
  cfg.peers[0].keepalive = 10;
  b.reconfigure(cfg);
  REQUIRE(run_until(p.io, [&] { return state_of(a, "127.0.0.2") == session_state::established &&
                                       a.status().at(0).hold_time == 30; }));
  CHECK(a.status().at(0).last_error_received.find("Configuration Change") != std::string::npos);
}

// Passive and the connect retry time only shape the next connection: a
// BGPPeer flipped between active and passive must not withdraw the node's
// routes, and the flip must hold when the session next goes down.
TEST_CASE("reconfigure: passive and connect retry keep an Established session and apply to the next one") {
  pair_of_speakers p;
  speaker a(p.io.get_executor(), p.a_cfg), b(p.io.get_executor(), p.b_cfg);
  REQUIRE_FALSE(a.start());
  REQUIRE_FALSE(b.start());
  REQUIRE(run_until(p.io, [&] { return state_of(b, "127.0.0.1") == session_state::established; }));
  auto a_cfg = p.a_cfg;  // A: passive -> active
  a_cfg.peers[0].passive = false;
  a_cfg.peers[0].connect_retry = 9;
  a.reconfigure(a_cfg);
  auto b_cfg = p.b_cfg;  // B: active -> passive
  b_cfg.peers[0].passive = true;
  b_cfg.peers[0].connect_retry = 2;
  {
    log_capture log;
    b.reconfigure(b_cfg);
    // B has no listener: kept up now, it could not come back after a drop.
    CHECK(log.take().find("127.0.0.1 AS65000: passive, but this speaker has no BGP listener") != std::string::npos);
  }
  p.io.run_for(300ms);
  p.io.restart();
  CHECK(state_of(a, "127.0.0.2") == session_state::established);
  CHECK(state_of(b, "127.0.0.1") == session_state::established);
  CHECK(a.status().at(0).flaps == 0);
  CHECK(b.status().at(0).flaps == 0);
  CHECK_FALSE(a.peer(addr("127.0.0.2"))->config().passive);
  CHECK(b.peer(addr("127.0.0.1"))->config().passive);
  CHECK(b.peer(addr("127.0.0.1"))->config().connect_retry == 2);

  // A restarts the session (a new hold time is negotiated: a restart). B,
  // passive now, waits for a connection; A connects to port 179 on B, where
  // nothing listens: the session stays down. Had B kept connecting, it
  // would be back within its 2 s retry through A's listener.
  a_cfg.peers[0].hold_time = 30;
  a_cfg.peers[0].keepalive = 10;
  a.reconfigure(a_cfg);
  REQUIRE(run_until(p.io, [&] { return state_of(b, "127.0.0.1") == session_state::active; }));
  p.io.run_for(3s);
  p.io.restart();
  CHECK(state_of(b, "127.0.0.1") == session_state::active);
  CHECK(b.status().at(0).flaps == 1);
}

// A peer that stopped reading (RFC 9687): the operator lowers the send hold
// time while B's write to it is stuck; the stuck write must be judged by the
// new time, not by the 8 minutes it started with.
TEST_CASE("a lowered send hold time applies to the write already stuck on a deaf peer") {
  pair_of_speakers p;
  asio::ip::tcp::acceptor deaf(p.io);
  const asio::ip::tcp::endpoint at{asio::ip::make_address("127.0.0.1"), p.port};
  deaf.open(at.protocol());
  deaf.set_option(asio::socket_base::reuse_address(true));
  deaf.set_option(asio::socket_base::receive_buffer_size(4096));  // inherited: a small window
  deaf.bind(at);
  deaf.listen();
  std::optional<asio::ip::tcp::socket> conn;
  deaf.async_accept([&](boost::system::error_code ec, asio::ip::tcp::socket s) {
    if (ec) return;
    conn.emplace(std::move(s));
    greet_as_a(*conn, 90, {ipv4_unicast, ipv6_unicast});  // and never reads
  });
  speaker b(p.io.get_executor(), p.b_cfg);
  REQUIRE_FALSE(b.start());
  REQUIRE(run_until(p.io, [&] { return state_of(b, "127.0.0.1") == session_state::established; }));
  REQUIRE(b.peer(addr("127.0.0.1"))->config().send_hold_time == 480);
  // 60,000 IPv6 routes, each its own UPDATE (a MED each) of ~120 octets:
  // ~7 MB, more than the deaf side's small window and B's socket buffer
  // (tcp_wmem's 4 MB at most) take, so B's write stays pending.
  route_list many;
  for (int i = 0; i < 60000; ++i) {
    auto a = service_attrs();
    a.med = static_cast<std::uint32_t>(i);
    const auto prefix = "2001:db8:" + std::to_string(1 + i / 1000) + "::" + std::to_string(i % 1000) + "/128";
    many.emplace_back(pfx(prefix.c_str()), std::make_shared<const route_attrs>(std::move(a)));
  }
  b.set_routes(many);
  b.initial_routes_complete();
  p.io.run_for(1s);  // the write is stuck by now
  p.io.restart();
  REQUIRE(state_of(b, "127.0.0.1") == session_state::established);
  auto cfg = p.b_cfg;
  cfg.peers[0].send_hold_time = 3;
  b.reconfigure(cfg);
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(run_until(p.io, [&] { return state_of(b, "127.0.0.1") != session_state::established; }, 8s));
  CHECK(std::chrono::steady_clock::now() - t0 >= 2500ms);  // the new time, counted from the change
  CHECK(b.status().at(0).last_error_sent == "Send Hold Timer Expired");
  CHECK(b.status().at(0).flaps == 1);
}

// Routes share one object per distinct attribute set, found by value: equal
// sets from separate objects become one, different ones stay apart, and a
// set no route uses any more is let go.
TEST_CASE("the speaker keeps one attribute object per distinct set") {
  asio::io_context io;
  speaker s(io.get_executor(), no_peer_config());
  auto with_med = [](std::uint32_t med) {
    auto a = service_attrs();
    a.med = med;
    return std::make_shared<const route_attrs>(std::move(a));
  };
  auto v4 = [](int i) { return pfx(("198.51.100." + std::to_string(i) + "/32").c_str()); };
  auto v6 = [](int i) { return pfx(("2001:db8:1::" + std::to_string(i) + "/128").c_str()); };
  constexpr int sets = 200;
  route_list first, second;
  for (int i = 0; i < sets; ++i) {
    first.emplace_back(v4(i), with_med(static_cast<std::uint32_t>(i)));
    second.emplace_back(v6(i), with_med(static_cast<std::uint32_t>(i)));  // equal values, other objects
  }
  REQUIRE(!first.empty());
  s.add_routes(first);
  s.add_routes(second);
  for (int i = 0; i < sets; ++i) {
    const auto* a = s.routes().find(v4(i));
    const auto* b = s.routes().find(v6(i));
    REQUIRE((a && b));
    CHECK(a->get() == b->get());
    CHECK((*a)->med == static_cast<std::uint32_t>(i));
    if (i > 0) CHECK(a->get() != s.routes().find(v4(i - 1))->get());
  }
  const std::weak_ptr<const route_attrs> kept = first.front().second;
  first.clear();
  second.clear();
  s.withdraw(v6(0));
  CHECK_FALSE(kept.expired());  // v4(0) still uses it
  s.set_routes({});
  CHECK(kept.expired());  // no route uses it: the speaker let it go
}

TEST_CASE("attribute sets no route uses are let go as routes come and go one call at a time") {
  // The sweep of unused sets is amortised over the writes (a scan per call
  // made adding routes one at a time, each with its own MED, quadratic); the
  // sets left unused must still never outnumber those in use, and none may
  // stay once no route is left.
  asio::io_context io;
  speaker s(io.get_executor(), no_peer_config());
  auto v6 = [](int i) { return pfx(("2001:db8:2::" + std::to_string(i) + "/128").c_str()); };
  constexpr int routes = 1000;
  std::vector<std::weak_ptr<const route_attrs>> sets;
  for (int i = 0; i < routes; ++i) {
    auto a = service_attrs();
    a.med = static_cast<std::uint32_t>(i);
    s.add_operator_route(v6(i), a);
    sets.push_back(*s.routes().find(v6(i)));
  }
  REQUIRE(sets.size() == routes);
  auto alive = [&] { return std::count_if(sets.begin(), sets.end(), [](auto& w) { return !w.expired(); }); };
  CHECK(alive() == routes);
  for (int i = 0; i < routes; ++i) {
    s.remove_operator_route(v6(i));
    const auto in_use = routes - 1 - i;
    INFO("after removing " << i + 1 << " routes");
    REQUIRE(alive() - in_use <= in_use);  // unused ≤ used
  }
  CHECK(alive() == 0);
}

TEST_CASE("a peer with the wrong AS is refused with Bad Peer AS") {
  pair_of_speakers p;
  p.a_cfg.peers[0].asn = 65099;  // B is really 65001
  speaker a(p.io.get_executor(), p.a_cfg);
  speaker b(p.io.get_executor(), p.b_cfg);
  REQUIRE_FALSE(a.start());
  REQUIRE_FALSE(b.start());
  REQUIRE(run_until(p.io, [&] { return !b.status().at(0).last_error_received.empty(); }));
  CHECK(b.status().at(0).last_error_received == "OPEN Message Error / Bad Peer AS");
  CHECK(a.status().at(0).last_error_sent == "OPEN Message Error / Bad Peer AS");
  CHECK(state_of(a, "127.0.0.2") != session_state::established);
}

TEST_CASE("the hold timer closes a session whose peer went silent") {
  // A scripted peer: answers B's OPEN with its own (hold time 3) and one
  // KEEPALIVE, then reads and says nothing more, as a frozen router would.
  pair_of_speakers p(3);
  asio::ip::tcp::acceptor silent(p.io, {asio::ip::make_address("127.0.0.1"), p.port});
  std::optional<asio::ip::tcp::socket> conn;
  silent.async_accept([&](boost::system::error_code ec, asio::ip::tcp::socket s) {
    if (ec) return;
    conn.emplace(std::move(s));
    greet_as_a(*conn, 3, {ipv4_unicast});
  });
  // Keep reading so B's writes never block; collect what B sends.
  auto got = std::make_shared<bytes>();
  auto chunk = std::make_shared<std::array<std::byte, 4096>>();
  std::function<void()> read_more = [&] {
    if (!conn) return;
    conn->async_read_some(asio::buffer(*chunk), [&, got, chunk](boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      got->insert(got->end(), chunk->begin(), chunk->begin() + static_cast<std::ptrdiff_t>(n));
      read_more();
    });
  };
  speaker b(p.io.get_executor(), p.b_cfg);
  REQUIRE_FALSE(b.start());
  REQUIRE(run_until(p.io, [&] { return conn.has_value(); }));
  read_more();
  REQUIRE(run_until(p.io, [&] { return state_of(b, "127.0.0.1") == session_state::established; }));
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(run_until(p.io, [&] { return state_of(b, "127.0.0.1") != session_state::established; }, 6s));
  auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= 2s);  // not before the (negotiated) 3 s hold time, minus the handshake
  CHECK(b.status().at(0).last_error_sent == "Hold Timer Expired");
  // The NOTIFICATION reached the wire: its header says type 3, code 4. The
  // reader may get it a moment after B changed state (a loaded machine).
  auto seen = [&] {
    std::span<const std::byte> rest(*got);
    while (rest.size() >= header_size) {
      auto f = frame(rest);
      if (f.kind != frame_result::message) break;
      if (f.type == message_type::notification && std::to_integer<int>(rest[19]) == 4) return true;
      rest = rest.subspan(f.length);
    }
    return false;
  };
  CHECK(run_until(p.io, seen, 2s));
}

namespace {

// B announces `routes` to A, whose limit is 5 prefixes; what B hears back.
std::string error_from_max_prefix_of_5(const route_list& routes) {
  pair_of_speakers p;
  p.a_cfg.peers[0].max_prefixes = 5;
  p.a_cfg.peers[0].families = {ipv4_unicast, ipv6_unicast};
  speaker a(p.io.get_executor(), p.a_cfg);
  speaker b(p.io.get_executor(), p.b_cfg);
  REQUIRE_FALSE(a.start());
  REQUIRE_FALSE(b.start());
  b.set_routes(routes);
  b.initial_routes_complete();
  REQUIRE(run_until(p.io, [&] { return !b.status().at(0).last_error_received.empty(); }));
  return b.status().at(0).last_error_received;
}

}  // namespace

TEST_CASE("the max-prefix limit closes the session with Cease / Maximum Number of Prefixes Reached") {
  route_list many;
  auto shared = std::make_shared<const route_attrs>();
  for (int i = 0; i < 10; ++i)
    many.emplace_back(ip_prefix{ip_address::v4(0xC6336400u + static_cast<std::uint32_t>(i)), 32}, shared);
  CHECK(error_from_max_prefix_of_5(many) == "Cease / Maximum Number of Prefixes Reached (ipv4-unicast, limit 5)");
}

TEST_CASE("IPv6 prefixes over the max-prefix limit are named in the Cease's data (RFC 4486 §4)") {
  // The limit counts both families: 3 IPv4 and 3 IPv6 routes cross a limit
  // of 5 in the IPv6 UPDATE, and the NOTIFICATION names IPv6.
  route_list both;
  auto shared = std::make_shared<const route_attrs>();
  for (int i = 0; i < 3; ++i) {
    both.emplace_back(ip_prefix{ip_address::v4(0xC6336400u + static_cast<std::uint32_t>(i)), 32}, shared);
    both.emplace_back(*ip_prefix::parse("2001:db8::" + std::to_string(i + 1) + "/128"), shared);
  }
  CHECK(error_from_max_prefix_of_5(both) == "Cease / Maximum Number of Prefixes Reached (ipv6-unicast, limit 5)");
}

TEST_CASE("IPv4 routes over an IPv6 session carry an IPv6 next hop (RFC 8950)") {
  // Both ends on ::1: each speaker knows the other as ::1.
  asio::io_context io;
  auto port = free_port();
  speaker_config a_cfg, b_cfg;
  a_cfg.router_id = 0x7F000001;
  a_cfg.local_asn = 65000;
  a_cfg.listen_address = addr("::1");
  a_cfg.listen_port = port;
  peer_config pa;
  pa.address = addr("::1");
  pa.asn = 65001;
  pa.passive = true;
  pa.families = {ipv4_unicast, ipv6_unicast};
  a_cfg.peers = {pa};
  b_cfg.router_id = 0x7F000002;
  b_cfg.local_asn = 65001;
  peer_config pb;
  pb.address = addr("::1");
  pb.asn = 65000;
  pb.port = port;
  pb.families = {ipv4_unicast, ipv6_unicast};
  b_cfg.peers = {pb};
  speaker a(io.get_executor(), a_cfg);
  speaker b(io.get_executor(), b_cfg);
  boost::system::error_code ec = a.start();
  REQUIRE_FALSE(ec);
  REQUIRE_FALSE(b.start());
  b.announce(pfx("198.51.100.20/32"), route_attrs{});
  b.announce(pfx("2001:db8:2::20/128"), route_attrs{});
  REQUIRE(run_until(io, [&] { return received(a, "::1").size() == 2; }));
  auto& v4 = *received(a, "::1").at(pfx("198.51.100.20/32"));
  REQUIRE(v4.reach);
  CHECK(v4.reach->f == ipv4_unicast);
  CHECK(v4.reach->next_hops.at(0) == addr("::1"));  // next hop self, in IPv6
  CHECK_FALSE(v4.next_hop);
  CHECK(a.status().at(0).capabilities.size() >= 2);
}

TEST_CASE("BFD holds the session until Up, BFD Down sends Cease / BFD Down, BFD Up brings it back") {
  // B is the node with BFD towards A (the router); the router's BFD is a bare
  // bfd::service on 127.0.0.1 that the test starts and silently removes.
  pair_of_speakers p;
  const auto router_bfd_port = free_udp_port();
  const auto node_bfd_port = free_udp_port();
  p.b_cfg.bfd_port = node_bfd_port;
  p.b_cfg.peers[0].bfd = peer_bfd{.min_tx_ms = 50, .min_rx_ms = 50, .multiplier = 3, .port = router_bfd_port};
  speaker a(p.io.get_executor(), p.a_cfg);
  speaker b(p.io.get_executor(), p.b_cfg);
  REQUIRE_FALSE(a.start());
  REQUIRE_FALSE(b.start());
  auto node_state = [&] { return state_of(b, "127.0.0.1"); };
  auto both_established = [&] {
    return node_state() == session_state::established && state_of(a, "127.0.0.2") == session_state::established;
  };
  auto router_bfd = [&] {
    herald::bfd::service::options o;
    o.listen_v4 = asio::ip::make_address_v4("127.0.0.1");
    o.listen_port = router_bfd_port;
    o.ipv6 = false;
    auto svc = std::make_shared<herald::bfd::service>(p.io, o);
    REQUIRE(svc->open());
    REQUIRE(svc->add_session(asio::ip::make_address("127.0.0.1"), asio::ip::make_address("127.0.0.2"),
                             {.desired_min_tx_us = 50'000, .required_min_rx_us = 50'000, .detect_mult = 3}, nullptr,
                             node_bfd_port));
    return svc;
  };

  // No BFD on the other side: B does not even try to connect (connect retry is 1 s).
  CHECK_FALSE(run_until(p.io, [&] { return node_state() != session_state::idle; }, 1500ms));
  auto st = b.status().at(0);
  REQUIRE(st.bfd);
  CHECK(st.bfd->available);
  CHECK(st.bfd->bgp_held);
  CHECK(st.bfd->state == herald::bfd::bfd_state::down);
  CHECK(st.bfd->counters.packets_sent >= 1);

  auto router = router_bfd();
  REQUIRE(run_until(p.io, both_established));
  st = b.status().at(0);
  CHECK(st.bfd->state == herald::bfd::bfd_state::up);
  CHECK_FALSE(st.bfd->bgp_held);
  REQUIRE(run_until(p.io, [&] { return b.status().at(0).bfd->detection_time == 150ms; }, 5s));  // after the Poll
  CHECK(b.status().at(0).bfd->tx_interval == 50ms);

  // The router's BFD vanishes without a word: detection time (150 ms) later
  // B closes the session with Cease / BFD Down.
  router->close();
  router.reset();
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(run_until(p.io, [&] { return node_state() != session_state::established; }, 3s));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= 100ms);  // not before the detection time (jitter makes the last packet up to 25% early)
  CHECK(took < 600ms);   // generous: sanitizer builds on a loaded machine
  REQUIRE(run_until(p.io, [&] { return a.status().at(0).last_error_received.find("BFD Down") != std::string::npos; }, 3s));
  CHECK(b.status().at(0).last_error_sent == a.status().at(0).last_error_received);
  CHECK(b.status().at(0).bfd->counters.detection_expiries == 1);
  // Held while BFD is Down: no reconnect although connect retry is 1 s.
  CHECK_FALSE(run_until(p.io, [&] { return node_state() != session_state::idle; }, 2500ms));
  CHECK(b.status().at(0).bfd->bgp_held);

  router = router_bfd();
  REQUIRE(run_until(p.io, both_established));
  CHECK(b.status().at(0).bfd->counters.went_up == 2);

  // A malformed datagram to B's BFD port is dropped and counted, and changes nothing.
  REQUIRE(b.bfd_counters(false));
  CHECK_FALSE(b.bfd_counters(true));  // no multihop peer, no multihop listener
  asio::ip::udp::socket junk(p.io, asio::ip::udp::v4());
  junk.set_option(asio::ip::unicast::hops(255));
  const std::array<std::byte, 24> zeros{};  // version 0
  junk.send_to(asio::buffer(zeros), {asio::ip::make_address("127.0.0.2"), node_bfd_port});
  REQUIRE(run_until(p.io, [&] { return b.bfd_counters(false)->malformed.of(herald::bfd::decode_error::bad_version) == 1; }, 3s));
  CHECK(node_state() == session_state::established);
}

TEST_CASE("BFD added by reconfigure: a multihop eBGP peer gets an RFC 5883 session and comes Up") {
  pair_of_speakers p;
  const auto router_bfd_port = free_udp_port();
  const auto node_mh_port = free_udp_port();
  speaker b(p.io.get_executor(), p.b_cfg);
  REQUIRE_FALSE(b.start());
  CHECK_FALSE(b.status().at(0).bfd);
  CHECK_FALSE(b.bfd_counters(false));
  CHECK_FALSE(b.bfd_counters(true));

  herald::bfd::service::options o;
  o.listen_v4 = asio::ip::make_address_v4("127.0.0.1");
  o.listen_port = router_bfd_port;
  o.ipv6 = false;
  o.multihop = true;
  auto router = std::make_shared<herald::bfd::service>(p.io, o);
  REQUIRE(router->open());
  REQUIRE(router->add_session(asio::ip::make_address("127.0.0.1"), asio::ip::make_address("127.0.0.2"), {}, nullptr,
                              node_mh_port));

  auto cfg = p.b_cfg;
  cfg.bfd_multihop_port = node_mh_port;
  cfg.peers[0].ebgp_multihop = 2;
  cfg.peers[0].bfd = peer_bfd{.port = router_bfd_port};
  b.reconfigure(cfg);
  REQUIRE(b.bfd_counters(true));
  CHECK_FALSE(b.bfd_counters(false));
  REQUIRE(run_until(p.io, [&] { return b.status().at(0).bfd && b.status().at(0).bfd->state == herald::bfd::bfd_state::up; }, 5s));
  CHECK(b.status().at(0).bfd->multihop);
  router->close();
}

TEST_CASE("a passive peer held by BFD refuses inbound connections with Cease / BFD Down") {
  asio::io_context io;
  const auto port = free_port();
  speaker_config cfg;
  cfg.router_id = 0x7F000002;
  cfg.local_asn = 65001;
  cfg.listen_address = addr("127.0.0.2");
  cfg.listen_port = port;
  cfg.bfd_port = free_udp_port();
  peer_config peer;
  peer.address = addr("127.0.0.1");
  peer.asn = 65000;
  peer.passive = true;
  peer.bfd = peer_bfd{.port = free_udp_port()};  // nobody answers there: BFD stays Down
  cfg.peers = {peer};
  speaker node(io.get_executor(), cfg);
  REQUIRE_FALSE(node.start());

  scripted_connection router(connect_from_router(io, port));
  REQUIRE(run_until(io, [&] { return router.closed; }, 5s));
  CHECK(router.got.size() == header_size + 2);
  CHECK(router.messages() == std::vector<std::string>{"notification 6/10"});  // Cease / BFD Down
  CHECK(state_of(node, "127.0.0.1") == session_state::idle);
}

namespace {
// A node (127.0.0.2, AS65001) with one eBGP peer, 127.0.0.1 AS65000; a
// listener on 127.0.0.2:listen_port unless it is 0.
speaker_config node_towards_router(std::uint16_t listen_port) {
  speaker_config cfg;
  cfg.router_id = 0x7F000002;
  cfg.local_asn = 65001;
  if (listen_port) {
    cfg.listen_address = addr("127.0.0.2");
    cfg.listen_port = listen_port;
  }
  peer_config p;
  p.address = addr("127.0.0.1");
  p.asn = 65000;
  cfg.peers = {p};
  return cfg;
}
}  // namespace

TEST_CASE("a passive peer on a speaker without a listener is named in a warning") {
  // Such a session waits for a connection nothing accepts: the operator
  // must hear why it never comes up (the agent's --bgp-listen).
  log_capture log;
  asio::io_context io;
  for (bool listening : {false, true}) {
    auto cfg = node_towards_router(listening ? free_port() : 0);
    cfg.peers[0].passive = true;
    cfg.peers[0].description = "BGPPeer herald-system/router";
    speaker s(io.get_executor(), cfg);
    REQUIRE_FALSE(s.start());
    CHECK((log.take().find("peer BGPPeer herald-system/router (127.0.0.1 AS65000): passive, but this speaker has no "
                           "BGP listener") != std::string::npos) == !listening);
    io.run_for(50ms);
    io.restart();
  }
}

TEST_CASE("a listener that cannot bind is an error, and the sessions start all the same") {
  // Another BGP daemon on the node holding the port: connecting out must
  // still work (the agent runs on without the listener).
  asio::io_context io;
  const auto port = free_port();
  // Listening without SO_REUSEADDR, as another daemon would.
  asio::ip::tcp::acceptor squatter(io, {asio::ip::make_address("127.0.0.2"), port}, false);
  speaker s(io.get_executor(), node_towards_router(port));
  CHECK(s.start() == boost::system::errc::address_in_use);
  CHECK_FALSE(s.listening());
  REQUIRE(s.peer(addr("127.0.0.1")));
  CHECK(s.peer(addr("127.0.0.1"))->state() != session_state::idle);  // started: connecting out

  speaker t(io.get_executor(), node_towards_router(free_port()));
  CHECK_FALSE(t.start());
  CHECK(t.listening());
}

TEST_CASE("GTSM (RFC 5082) on an accepted connection: TTL 255 out, and the peer's packets must come with 255") {
  // On loopback a packet arrives with the TTL it was sent with. A is
  // passive: every packet it sends on the session (the SYN-ACK from the
  // listener, then its OPEN and KEEPALIVEs) must leave with 255, or B's
  // minimum drops it; and once accepted, A must drop what B sends with
  // less (B's KEEPALIVE, sent after A's OPEN, can never race the setting).
  pair_of_speakers p;
  p.a_cfg.peers[0].ttl_security = true;
  SECTION("both sides with GTSM: Established") {
    p.b_cfg.peers[0].ttl_security = true;
    speaker a(p.io.get_executor(), p.a_cfg), b(p.io.get_executor(), p.b_cfg);
    REQUIRE_FALSE(a.start());
    REQUIRE_FALSE(b.start());
    REQUIRE(run_until(p.io, [&] { return state_of(a, "127.0.0.2") == session_state::established; }, 5s));
    CHECK(state_of(b, "127.0.0.1") == session_state::established);
  }
  SECTION("the connecting side without GTSM (eBGP, TTL 1): A never takes its KEEPALIVE") {
    speaker a(p.io.get_executor(), p.a_cfg), b(p.io.get_executor(), p.b_cfg);
    REQUIRE_FALSE(a.start());
    REQUIRE_FALSE(b.start());
    // B's connection is accepted (the listener has no minimum: it serves
    // peers without GTSM too) and B sees A's OPEN, so B gets that far.
    // (B's OPEN may reach A before the minimum is set, and then A's
    // KEEPALIVE brings B up: only A's side is certain.)
    REQUIRE(run_until(p.io, [&] {
      auto st = state_of(b, "127.0.0.1");
      return st == session_state::open_confirm || st == session_state::established;
    }, 5s));
    CHECK_FALSE(run_until(p.io, [&] { return state_of(a, "127.0.0.2") == session_state::established; }, 2s));
  }
}

TEST_CASE("a connection that comes before the first configuration is held for it, or refused") {
  // herald-agent's peers come with its first plan; a router that connects
  // earlier (a restarted agent) must get its session from that connection,
  // not be refused and back off. B retries only every 30 s here: within the
  // test only the held connection can bring the session up.
  log_capture log;
  pair_of_speakers p;
  p.b_cfg.peers[0].connect_retry = 30;
  auto unconfigured = p.a_cfg;
  unconfigured.peers.clear();
  unconfigured.early_connection_hold = 5s;
  std::string text;  // logged so far
  auto logged = [&](const char* needle, std::chrono::milliseconds limit = 10s) {
    return run_until(p.io, [&] { return (text += log.take()).find(needle) != std::string::npos; }, limit);
  };

  SECTION("the first configuration takes it") {
    speaker a(p.io.get_executor(), unconfigured), b(p.io.get_executor(), p.b_cfg);
    REQUIRE_FALSE(a.start());
    REQUIRE_FALSE(b.start());
    REQUIRE(logged("holding a connection from 127.0.0.2"));
    CHECK(state_of(b, "127.0.0.1") == session_state::open_sent);  // connected, waiting for A's OPEN
    a.reconfigure(p.a_cfg);
    CHECK(log.take().find("taking the connection held since before the first configuration") != std::string::npos);
    REQUIRE(run_until(p.io, [&] { return state_of(b, "127.0.0.1") == session_state::established; }, 3s));
    CHECK(state_of(a, "127.0.0.2") == session_state::established);
    CHECK(b.status().at(0).flaps == 0);
  }
  SECTION("no configuration within the hold time: refused") {
    unconfigured.early_connection_hold = 1s;
    speaker a(p.io.get_executor(), unconfigured), b(p.io.get_executor(), p.b_cfg);
    REQUIRE_FALSE(a.start());
    REQUIRE_FALSE(b.start());
    REQUIRE(logged("refused a connection from 127.0.0.2: no configuration came in time", 4s));
    REQUIRE(run_until(p.io, [&] { return state_of(b, "127.0.0.1") != session_state::open_sent; }, 3s));
    CHECK(state_of(b, "127.0.0.1") != session_state::established);
  }
  SECTION("the configuration has no such peer, or gives it a TCP MD5 password: refused") {
    for (bool with_password : {false, true}) {
      speaker a(p.io.get_executor(), unconfigured), b(p.io.get_executor(), p.b_cfg);
      REQUIRE_FALSE(a.start());
      REQUIRE_FALSE(b.start());
      text.clear();
      REQUIRE(logged("holding a connection"));
      auto cfg = p.a_cfg;
      if (with_password) cfg.peers[0].password = "secret";  // B's connection was not signed
      else cfg.peers[0].address = addr("127.0.0.3");
      a.reconfigure(cfg);
      text = log.take();
      INFO(text);
      CHECK(text.find(with_password ? "held before the first configuration, so not signed with the peer's TCP MD5"
                                    : "refused a connection from 127.0.0.2: not a configured peer") !=
            std::string::npos);
      REQUIRE(run_until(p.io, [&] { return state_of(b, "127.0.0.1") != session_state::open_sent; }, 3s));
      CHECK(state_of(b, "127.0.0.1") != session_state::established);
    }
  }
  SECTION("without early_connection_hold (herald-speaker's peers come with its start): refused at once") {
    unconfigured.early_connection_hold = 0s;
    speaker a(p.io.get_executor(), unconfigured), b(p.io.get_executor(), p.b_cfg);
    REQUIRE_FALSE(a.start());
    REQUIRE_FALSE(b.start());
    REQUIRE(logged("refused a connection from 127.0.0.2: not a configured peer"));
    CHECK(text.find("holding") == std::string::npos);
  }
}

TEST_CASE("a router's connection while our own attempt is in flight: the higher BGP Identifier's survives") {
  // A restarted agent: the router connects first (held until the first
  // configuration), then the session starts and connects out. Both
  // connections are up at the router, and FRR, as soon as an OPEN comes on
  // one, keeps the one the higher BGP Identifier opened (RFC 4271 §6.8):
  // the speaker must decide the same, not drop its own attempt for the
  // router's connection (both were lost, and the session came up seconds
  // later). The node is 127.0.0.2 (BGP Identifier 0x7F000002); the router
  // below or above it.
  for (std::uint32_t router_id : {0x7F000001u, 0x7F0000FEu}) {
    INFO("router BGP Identifier " << std::hex << router_id);
    const bool ours_survives = router_id < 0x7F000002u;
    log_capture log;
    asio::io_context io;
    asio::ip::tcp::acceptor router(io, {asio::ip::make_address("127.0.0.1"), 0});
    const auto node_port = free_port();
    auto cfg = node_towards_router(node_port);
    cfg.peers[0].port = router.local_endpoint().port();
    cfg.peers[0].connect_retry = 30;  // no second attempt within the test
    auto unconfigured = cfg;
    unconfigured.peers.clear();
    unconfigured.early_connection_hold = 5s;
    speaker node(io.get_executor(), unconfigured);
    REQUIRE_FALSE(node.start());

    scripted_connection theirs(connect_from_router(io, node_port));
    write_all(theirs.sock, open_as_a(90, {ipv4_unicast}, router_id));
    std::string text;
    REQUIRE(run_until(io, [&] { return (text += log.take()).find("holding a connection") != std::string::npos; }));

    std::unique_ptr<scripted_connection> ours;
    router.async_accept([&](boost::system::error_code ec, asio::ip::tcp::socket a) {
      if (!ec) ours = std::make_unique<scripted_connection>(std::move(a));
    });
    node.reconfigure(cfg);
    REQUIRE(run_until(io, [&] { return ours != nullptr; }));
    auto& survivor = ours_survives ? *ours : theirs;
    auto& loser = ours_survives ? theirs : *ours;
    REQUIRE(run_until(io, [&] { return loser.closed; }, 5s));
    // Decided before the speaker sends an OPEN on either: Cease / Connection
    // Collision Resolution alone.
    CHECK(loser.messages() == std::vector<std::string>{"notification 6/7"});
    REQUIRE(run_until(io, [&] { return !survivor.messages().empty(); }));
    CHECK(survivor.messages().front() == "open");
    if (ours_survives) write_all(survivor.sock, open_as_a(90, {ipv4_unicast}, router_id));  // theirs carries one
    bytes keepalive;
    encode_keepalive(keepalive);
    write_all(survivor.sock, std::move(keepalive));
    REQUIRE(run_until(io, [&] { return state_of(node, "127.0.0.1") == session_state::established; }));
    CHECK_FALSE(survivor.closed);
    CHECK(node.status().at(0).flaps == 0);
  }
}
