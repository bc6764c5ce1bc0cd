// The speaker (see speaker.hpp).
#include "bgp/speaker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_set>

#include "bgp/socket_options.hpp"

namespace herald::bgp {

using namespace wire;
using namespace std::chrono_literals;

namespace {
// Whether a and b differ in nothing but what a session can take in place:
// the send hold time (local, RFC 9687: session::set_send_hold_time) and how
// the next connection is made (passive, connect retry; only an Established
// session keeps its connection through that change).
bool only_live_settings_differ(const peer_config& a, const peer_config& b) {
  auto same = a;
  same.send_hold_time = b.send_hold_time;
  same.passive = b.passive;
  same.connect_retry = b.connect_retry;
  return same == b;
}

ip_address endpoint_address(const tcp::endpoint& e) {
  auto a = e.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  if (a.is_v4()) return ip_address::v4(a.to_v4().to_uint());
  std::array<std::uint8_t, 16> b{};
  auto bytes = a.to_v6().to_bytes();
  std::copy(bytes.begin(), bytes.end(), b.begin());
  return ip_address::v6(b);
}

// Opens the BFD listeners the configured peers need (RFC 5881 single hop,
// RFC 5883 multihop), once; they stay open for the speaker's life. A port
// that cannot be bound (in use, no root for 3784) is logged, and its peers
// run BGP without BFD (session::attach_bfd).
void open_bfd(const asio::any_io_executor& ex, const speaker_config& cfg, speaker_shared& shared) {
  for (bool multihop : {false, true}) {
    auto& svc = multihop ? shared.bfd_multihop : shared.bfd;
    if (svc) continue;
    bool v4 = false, v6 = false;
    for (auto& p : cfg.peers)
      if (p.bfd && p.bfd_multihop() == multihop) (p.address.is_v4() ? v4 : v6) = true;
    if (!v4 && !v6) continue;
    bfd::service::options o;
    o.multihop = multihop;
    o.listen_port = multihop ? cfg.bfd_multihop_port : cfg.bfd_port;
    // Both families when possible, so that a peer added later finds its listener.
    auto candidate = std::make_shared<bfd::service>(ex, o);
    if (!candidate->open()) {
      o.ipv4 = v4;
      o.ipv6 = v6;
      candidate = std::make_shared<bfd::service>(ex, o);
      if (auto r = candidate->open(); !r) {
        spdlog::error("speaker: cannot open the {} BFD port {}: {}", multihop ? "multihop" : "single-hop",
                      o.listen_port, r.error().message());
        continue;
      }
    }
    svc = std::move(candidate);
  }
}

void fill_defaults(speaker_config& cfg) {
  for (auto& p : cfg.peers) {
    if (p.local_asn == 0) p.local_asn = cfg.local_asn;
    if (p.families.empty()) {
      p.families.push_back({p.address.family, safi::unicast});
      // The other family too when the peer can be given a next hop for it.
      if (p.address.is_v4() && p.next_hop_v6) p.families.push_back(ipv6_unicast);
      if (!p.address.is_v4()) p.families.insert(p.families.begin(), ipv4_unicast);
    }
  }
}
}  // namespace

speaker::speaker(asio::any_io_executor ex, speaker_config cfg)
    : ex_(ex), cfg_(std::move(cfg)), shared_(std::make_shared<speaker_shared>()), held_timer_(ex), drain_timer_(ex) {
  fill_defaults(cfg_);
  shared_->router_id = cfg_.router_id;
  shared_->local_asn = cfg_.local_asn;
  shared_->hostname = cfg_.hostname;
  shared_->graceful_restart = cfg_.graceful_restart;
  shared_->restart_time = cfg_.restart_time;
}

speaker::~speaker() {
  for (auto& s : sessions_) s->stop();
  for (auto& svc : {shared_->bfd, shared_->bfd_multihop})
    if (svc) svc->close();
  if (acceptor_) {
    boost::system::error_code ec;
    acceptor_->close(ec);
  }
}

boost::system::error_code speaker::start() {
  boost::system::error_code ec;
  if (cfg_.listen_address) {
    auto& la = *cfg_.listen_address;
    asio::ip::address addr;
    if (la.is_v4()) addr = asio::ip::address_v4(la.v4_host_order());
    else {
      asio::ip::address_v6::bytes_type b;
      std::copy(la.octets.begin(), la.octets.end(), b.begin());
      addr = asio::ip::address_v6(b);
    }
    acceptor_ = std::make_shared<tcp::acceptor>(ex_);
    tcp::endpoint ep(addr, cfg_.listen_port);
    acceptor_->open(ep.protocol(), ec);
    if (!ec) acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && addr.is_v6()) acceptor_->set_option(asio::ip::v6_only(false), ec);
    // The kernel answers a SYN (SYN-ACK, or RST) with the listener's TTL,
    // before any session can set its own: 255, so that a GTSM router
    // (RFC 5082) connecting to us does not drop our half of the handshake.
    // An accepted connection then takes its session's hop limits.
    if (!ec) set_ttl(acceptor_->native_handle(), la.is_v4() ? wire::afi::ipv4 : wire::afi::ipv6, 255);
    if (!ec) acceptor_->bind(ep, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      // The sessions still start: connecting out needs no listener, and
      // the caller decides whether to run on without it.
      spdlog::error("speaker: cannot listen on [{}]:{}: {}", la.to_string(), cfg_.listen_port, ec.message());
      acceptor_.reset();
    } else {
      spdlog::info("speaker: listening on [{}]:{}", la.to_string(), cfg_.listen_port);
      asio::co_spawn(ex_, accept_loop(acceptor_), asio::detached);
    }
  }
  // The table holds the routes from here on; the configuration keeps none.
  auto routes = std::move(cfg_.routes);
  cfg_.routes.clear();
  set_routes(routes);
  open_bfd(ex_, cfg_, *shared_);
  for (auto& p : cfg_.peers) start_session(p, sessions_);
  return ec;
}

void speaker::warn_if_passive_without_listener(const peer_config& p) const {
  // A passive session only ever starts from an accepted connection.
  if (p.passive && !listening())
    spdlog::warn("peer {}: passive, but this speaker has no BGP listener: the session cannot be established "
                 "(give the agent --bgp-listen, herald-speaker \"listen\")",
                 p.name());
}

void speaker::start_session(const peer_config& p, std::vector<std::shared_ptr<session>>& sessions) {
  if (acceptor_ && !p.password.empty()) {
    auto fam = acceptor_->local_endpoint().address().is_v4() ? afi::ipv4 : afi::ipv6;
    if (auto e = set_tcp_md5(acceptor_->native_handle(), fam, p.address, p.password))
      spdlog::error("peer {}: TCP MD5 key on the listener: {}", p.name(), e.message());
  }
  warn_if_passive_without_listener(p);
  auto s = std::make_shared<session>(ex_, p, shared_);
  sessions.push_back(s);
  s->start();
}

asio::awaitable<void> speaker::accept_loop(std::shared_ptr<tcp::acceptor> acceptor) {
  for (;;) {
    auto [ec, sock] = co_await acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
    if (ec) {
      spdlog::warn("speaker: accept: {}", ec.message());
      continue;
    }
    boost::system::error_code rec;
    auto remote = sock.remote_endpoint(rec);
    if (rec) continue;
    auto from = endpoint_address(remote);
    if (auto s = find(from)) {
      s->accept(std::move(sock));
    } else if (!hold_for_configuration(sock, from)) {
      spdlog::info("speaker: refused a connection from {}: not a configured peer", from.to_string());
      sock.close(rec);
    }
  }
}

bool speaker::hold_for_configuration(tcp::socket& socket, const ip_address& from) {
  if (configured_ || cfg_.early_connection_hold.count() == 0 || held_.size() >= max_held_connections) return false;
  spdlog::info("speaker: holding a connection from {} for the first configuration (up to {} s)", from.to_string(),
               cfg_.early_connection_hold.count());
  held_.push_back({std::move(socket), from});
  if (held_.size() == 1) {
    held_timer_.expires_after(cfg_.early_connection_hold);
    held_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) release_held("no configuration came in time");
    });
  }
  return true;
}

void speaker::release_held(const char* why) {
  held_timer_.cancel();
  for (auto& h : std::exchange(held_, {})) {
    boost::system::error_code ec;
    auto s = find(h.from);
    // Accepted before any key was on the listener, the connection carries
    // no TCP MD5 signature: a peer with a password must not get it.
    if (s && s->config().password.empty()) {
      spdlog::info("peer {}: taking the connection held since before the first configuration", s->config().name());
      s->accept(std::move(h.socket));
    } else {
      spdlog::info("speaker: refused a connection from {}: {}", h.from.to_string(),
                   s ? "held before the first configuration, so not signed with the peer's TCP MD5 password"
                     : why);
      h.socket.close(ec);
    }
  }
}

std::shared_ptr<session> speaker::find(const ip_address& a) const {
  for (auto& s : sessions_)
    if (s->config().address == a) return s;
  return nullptr;
}

void speaker::reconfigure(speaker_config cfg) {
  fill_defaults(cfg);
  // Peers: stop the removed and the changed, start the new and the changed.
  std::vector<std::shared_ptr<session>> keep;
  for (auto& s : sessions_) {
    auto it = std::find_if(cfg.peers.begin(), cfg.peers.end(), [&](auto& p) { return p.address == s->config().address; });
    if (it == cfg.peers.end()) {
      spdlog::info("peer {}: removed from the configuration", s->config().name());
      s->stop(notification_message{notification_code::cease, static_cast<std::uint8_t>(cease_subcode::peer_deconfigured), {}});
    } else if (*it == s->config()) {
      keep.push_back(s);
    } else if (const bool connection_same =
                   it->passive == s->config().passive && it->connect_retry == s->config().connect_retry;
               only_live_settings_differ(*it, s->config()) &&
               (connection_same || s->state() == session_state::established)) {
      // Restarting would withdraw every route the peer has from us.
      if (it->send_hold_time != s->config().send_hold_time) {
        spdlog::info("peer {}: send hold time now {} s (0: off); a write already waiting has that long from now",
                     s->config().name(), it->send_hold_time);
        s->set_send_hold_time(it->send_hold_time);
      }
      if (!connection_same) {
        spdlog::info("peer {}: now {}, connect retry {} s; the Established session stays up", s->config().name(),
                     it->passive ? "passive" : "active", it->connect_retry);
        s->set_connection_settings(it->passive, it->connect_retry);
        warn_if_passive_without_listener(*it);  // it would not come back after a drop
      }
      keep.push_back(s);
    } else {
      spdlog::info("peer {}: configuration changed, restarting the session", s->config().name());
      s->stop(notification_message{notification_code::cease,
                                   static_cast<std::uint8_t>(cease_subcode::other_configuration_change), {}});
    }
  }
  bool global_change = cfg.router_id != cfg_.router_id || cfg.local_asn != cfg_.local_asn ||
                       cfg.hostname != cfg_.hostname || cfg.graceful_restart != cfg_.graceful_restart ||
                       cfg.restart_time != cfg_.restart_time;
  if (global_change) {
    // Only worth a line when there is a session to restart: the first
    // configuration of a speaker (every agent's start) changes them all.
    if (!keep.empty())
      spdlog::info("speaker: router id, AS, hostname or graceful restart changed: restarting every session");
    for (auto& s : keep) s->stop(notification_message{notification_code::cease,
                                                      static_cast<std::uint8_t>(cease_subcode::other_configuration_change), {}});
    keep.clear();
    shared_->router_id = cfg.router_id;
    shared_->local_asn = cfg.local_asn;
    shared_->hostname = cfg.hostname;
    shared_->graceful_restart = cfg.graceful_restart;
    shared_->restart_time = cfg.restart_time;
  }
  auto routes = std::move(cfg.routes);
  cfg.routes.clear();
  auto peers = cfg.peers;
  auto old_listen = std::make_pair(cfg_.listen_address, cfg_.listen_port);
  cfg_ = std::move(cfg);
  if (old_listen != std::make_pair(cfg_.listen_address, cfg_.listen_port))
    spdlog::warn("speaker: a changed listen address applies after a restart");
  open_bfd(ex_, cfg_, *shared_);
  for (auto& p : peers) {
    if (std::find_if(keep.begin(), keep.end(), [&](auto& s) { return s->config().address == p.address; }) != keep.end())
      continue;
    start_session(p, keep);
  }
  sessions_ = std::move(keep);
  set_routes(routes);
  configured_ = true;
  if (!held_.empty()) release_held("not a configured peer");
}

std::size_t speaker::attrs_value_hash::operator()(const attrs_ref& a) const noexcept {
  // Over every field operator== compares, so equal sets hash equal.
  fnv1a f;
  auto mix = [&f](std::uint64_t v) { f.mix(v); };
  auto mix_address = [&](const ip_address& x) {
    mix(static_cast<std::uint64_t>(x.family));
    for (auto o : x.octets) mix(o);
  };
  for (auto c : a->communities) mix(c);
  mix(0x100);  // separates the lists, so moving a value between them changes the hash
  for (auto& c : a->large_communities) {
    mix(c.global_admin);
    mix(c.local1);
    mix(c.local2);
  }
  mix(0x101);
  for (auto& c : a->ext_communities)
    for (auto o : c.raw) mix(o);
  mix(a->local_pref ? 0x200000000ull | *a->local_pref : 0);
  mix(a->med ? 0x200000000ull | *a->med : 0);
  mix(a->as_path_prepend);
  if (a->next_hop) mix_address(*a->next_hop);
  mix(0x102);
  for (auto& p : a->peers) mix_address(p);
  return static_cast<std::size_t>(f.h);
}

attrs_ref speaker::intern(const attrs_ref& a) {
  return *interned_.insert(a).first;  // the set already held, or a
}

void speaker::set_table_entry(const ip_prefix& p, attrs_ref a, std::vector<ip_prefix>* changed) {
  // The owner's change to a prefix an operator route holds waits until that route is removed.
  if (auto h = hidden_.find(p); h != hidden_.end()) {
    ++writes_since_sweep_;
    h->second = std::move(a);
    return;
  }
  write_table_entry(p, std::move(a), changed);
}

void speaker::write_table_entry(const ip_prefix& p, attrs_ref a, std::vector<ip_prefix>* changed) {
  ++writes_since_sweep_;
  auto& table = shared_->routes;
  const attrs_ref* have = table.find(p);
  if (!a) {
    if (!have) return;
    table.erase(p);
  } else {
    if (have && *have == a) return;
    table.set(p, std::move(a));
  }
  if (changed) changed->push_back(p);
  if (keep_route_times_) {
    if (table.contains(p)) route_times_[p] = std::chrono::system_clock::now();
    else route_times_.erase(p);
  }
}

bool speaker::any_established() const {
  return std::any_of(sessions_.begin(), sessions_.end(),
                     [](auto& s) { return s->state() == session_state::established; });
}

void speaker::add_operator_route(const ip_prefix& p, const route_attrs& a) {
  std::vector<ip_prefix> changed;
  // Only sessions past their full sync need to hear of single changes.
  auto* sink = any_established() ? &changed : nullptr;
  if (!hidden_.count(p)) {
    const attrs_ref* have = shared_->routes.find(p);
    hidden_[p] = have ? *have : nullptr;
  }
  auto ref = intern(std::make_shared<const route_attrs>(a));
  operator_routes_[p] = ref;
  write_table_entry(p, ref, sink);
  notify(changed);
}

bool speaker::remove_operator_route(const ip_prefix& p) {
  auto h = hidden_.find(p);
  if (h == hidden_.end()) return false;
  auto owner = std::move(h->second);
  hidden_.erase(h);
  operator_routes_.erase(p);
  std::vector<ip_prefix> changed;
  // Only sessions past their full sync need to hear of single changes.
  auto* sink = any_established() ? &changed : nullptr;
  write_table_entry(p, std::move(owner), sink);
  notify(changed);
  return true;
}

std::optional<std::chrono::system_clock::time_point> speaker::route_since(const ip_prefix& p) const {
  auto it = route_times_.find(p);
  if (it == route_times_.end()) return std::nullopt;
  return it->second;
}

void speaker::notify(const std::vector<ip_prefix>& changed) {
  // Interned attribute sets no route uses any more are dropped (also when no
  // session is Established, so `changed` stayed empty). Each write can leave
  // at most one set unused, so the sweep waits until the writes since the
  // last one number half the sets: routes added one call at a time (gRPC
  // AddPath), each with its own MED, then cost O(1) each instead of a scan of
  // every set, and the sets left unused never outnumber those in use.
  if (2 * writes_since_sweep_ >= interned_.size()) {
    std::erase_if(interned_, [](const attrs_ref& r) { return r.use_count() == 1; });
    writes_since_sweep_ = 0;
  }
  if (changed.empty()) return;
  for (auto& s : sessions_) s->routes_changed(changed);
}

void speaker::announce(const ip_prefix& p, const route_attrs& a) {
  add_routes({{p, std::make_shared<const route_attrs>(a)}});
}

void speaker::add_routes(const route_list& routes) {
  std::vector<ip_prefix> changed;
  // Only sessions past their full sync need to hear of single changes.
  auto* sink = any_established() ? &changed : nullptr;
  for (auto& [p, a] : routes) set_table_entry(p, intern(a), sink);
  notify(changed);
}

void speaker::withdraw(const ip_prefix& p) {
  std::vector<ip_prefix> changed;
  // Only sessions past their full sync need to hear of single changes.
  auto* sink = any_established() ? &changed : nullptr;
  set_table_entry(p, nullptr, sink);
  notify(changed);
}

void speaker::set_routes(const route_list& routes) {
  std::vector<ip_prefix> changed;
  // Only sessions past their full sync need to hear of single changes.
  auto* sink = any_established() ? &changed : nullptr;
  if (!shared_->routes.empty()) {
    prefix_set keep;
    keep.reserve(routes.size());
    for (auto& [p, a] : routes) keep.insert(p);
    std::vector<ip_prefix> gone;
    for (auto [p, a] : shared_->routes)
      if (!keep.count(p)) gone.push_back(p);
    for (auto& p : gone) set_table_entry(p, nullptr, sink);
  } else {
    shared_->routes.reserve(routes.size());
  }
  for (auto& [p, a] : routes) set_table_entry(p, intern(a), sink);
  notify(changed);
}

void speaker::initial_routes_complete() {
  shared_->initial_routes_complete = true;
  for (auto& s : sessions_) s->maybe_send_end_of_rib();
}

void speaker::shutdown(std::string reason, std::function<void()> done) {
  auto finish = [this, reason, done = std::move(done)] {
    for (auto& s : sessions_)
      s->stop(notification_message::shutdown(cease_subcode::administrative_shutdown, reason));
    if (acceptor_) {
      boost::system::error_code ec;
      acceptor_->close(ec);
    }
    held_.clear();
    if (done) done();
  };
  if (!cfg_.drain || cfg_.drain->count() == 0) {
    finish();
    return;
  }
  spdlog::info("speaker: graceful shutdown: announcing GRACEFUL_SHUTDOWN, draining for {} s", cfg_.drain->count());
  shared_->graceful_shutdown = true;
  for (auto& s : sessions_) s->resend_all();
  drain_timer_.expires_after(*cfg_.drain);
  drain_timer_.async_wait([this, finish](boost::system::error_code ec) {
    if (ec) return;
    spdlog::info("speaker: drain period over: withdrawing {} routes", shared_->routes.size());
    operator_routes_.clear();
    hidden_.clear();
    set_routes({});
    // Give the withdrawals a moment to leave before the NOTIFICATION closes the sessions.
    drain_timer_.expires_after(200ms);
    drain_timer_.async_wait([finish](boost::system::error_code ec2) {
      if (!ec2) finish();
    });
  });
}

void speaker::close_for_restart() {
  drain_timer_.cancel();
  for (auto& s : sessions_) s->abandon();
  if (acceptor_) {
    boost::system::error_code ec;
    acceptor_->close(ec);
  }
  held_.clear();  // closed without a word, as every session here
}

std::optional<bfd::listener_counters> speaker::bfd_counters(bool multihop) const {
  const auto& svc = multihop ? shared_->bfd_multihop : shared_->bfd;
  if (!svc) return std::nullopt;
  return svc->counters();
}

std::vector<peer_status> speaker::status() const {
  std::vector<peer_status> out;
  for (auto& s : sessions_) out.push_back(s->status());
  return out;
}

}  // namespace herald::bgp
