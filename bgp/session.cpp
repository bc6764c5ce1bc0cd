// BGP session I/O around the pure FSM (see session.hpp).
#include "bgp/session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "bgp/socket_options.hpp"
#include "bgp/wire/describe.hpp"
#include "bgp/wire/pack.hpp"

namespace herald::bgp {

using namespace wire;
using namespace std::chrono_literals;
using A = fsm_action;

namespace {

constexpr auto coalesce_window = 10ms;  // changes this close together go out in one batch
constexpr auto max_backoff = 60s;

ip_address from_asio(const asio::ip::address& a) {
  if (a.is_v4()) return ip_address::v4(a.to_v4().to_uint());
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return ip_address::v4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_uint());
  std::array<std::uint8_t, 16> b{};
  auto bytes = v6.to_bytes();
  std::copy(bytes.begin(), bytes.end(), b.begin());
  return ip_address::v6(b);
}

asio::ip::address to_asio(const ip_address& a) {
  if (a.is_v4()) return asio::ip::address_v4(a.v4_host_order());
  asio::ip::address_v6::bytes_type b;
  std::copy(a.octets.begin(), a.octets.end(), b.begin());
  return asio::ip::address_v6(b);
}

std::size_t type_index(message_type t) { return static_cast<std::size_t>(t); }

}  // namespace

session::session(asio::any_io_executor ex, peer_config cfg, std::shared_ptr<speaker_shared> shared)
    : ex_(ex),
      cfg_(std::move(cfg)),
      shared_(std::move(shared)),
      fsm_(cfg_.hold_time, cfg_.keepalive, cfg_.passive),
      connect_retry_timer_(ex),
      hold_timer_(ex),
      keepalive_timer_(ex),
      restart_timer_(ex),
      flush_timer_(ex),
      stale_timer_(ex),
      send_hold_timer_(ex),
      rng_(std::random_device{}()) {}

void session::start() {
  stopped_ = false;
  failures_ = 0;
  attach_bfd();
  if (bgp_allowed()) handle(fsm_event::start);
  else spdlog::info("peer {}: waiting for BFD Up before starting BGP", cfg_.name());
}

void session::stop(std::optional<notification_message> n) {
  stopped_ = true;
  restart_timer_.cancel();
  fsm_input in;
  in.notification = std::move(n);
  handle(fsm_event::stop, in);
  drop_pending_inbound();
  detach_bfd();
}

void session::drop_pending_inbound() {
  // Stopped: an inbound connection waiting for a collision's outcome must
  // not start the session again when its OPEN is read.
  if (pending_) {
    boost::system::error_code ec;
    pending_->close(ec);
    pending_.reset();
  }
  pending_open_.reset();
}

void session::abandon() {
  stopped_ = true;
  restart_timer_.cancel();
  connect_retry_timer_.cancel();
  detach_bfd();
  spdlog::info("peer {}: closing without NOTIFICATION for a restart (graceful restart keeps our routes at the peer)",
               cfg_.name());
  close_connection();
  drop_pending_inbound();
}

void session::attach_bfd() {
  if (!cfg_.bfd || bfd_svc_) return;
  const bool multihop = cfg_.bfd_multihop();
  auto svc = multihop ? shared_->bfd_multihop : shared_->bfd;
  if (!svc) {
    spdlog::error("peer {}: BFD is configured but the {} BFD port is not open: BGP runs without BFD", cfg_.name(),
                  multihop ? "multihop" : "single-hop");
    return;
  }
  auto local = cfg_.source_address ? to_asio(*cfg_.source_address)
               : cfg_.address.is_v4() ? asio::ip::address(asio::ip::address_v4::any())
                                      : asio::ip::address(asio::ip::address_v6::any());
  std::uint16_t port = cfg_.bfd->port ? cfg_.bfd->port : multihop ? bfd::multi_hop_port : bfd::single_hop_port;
  std::weak_ptr<session> weak = shared_from_this();
  auto disc = svc->add_session(
      local, to_asio(cfg_.address), to_session_config(*cfg_.bfd),
      [weak](std::uint32_t, const bfd::state_change& c) {
        if (auto self = weak.lock()) self->on_bfd(c);
      },
      port);
  if (!disc) {
    spdlog::error("peer {}: cannot start BFD: {}: BGP runs without BFD", cfg_.name(), disc.error().message());
    return;
  }
  bfd_svc_ = std::move(svc);
  bfd_disc_ = *disc;
  bfd_gate_ = {};
}

void session::detach_bfd() {
  if (!bfd_svc_) return;
  auto svc = std::move(bfd_svc_);
  bfd_svc_.reset();
  // AdminDown first: the peer then knows this is no path failure (RFC 5882 §3.2).
  svc->set_admin_down(bfd_disc_, true);
  svc->remove_session(bfd_disc_);
  bfd_disc_ = 0;
}

const bfd::session* session::bfd_session() const { return bfd_svc_ ? bfd_svc_->find(bfd_disc_) : nullptr; }

void session::on_bfd(const bfd::state_change& c) {
  const auto* b = bfd_session();
  if (!b) return;  // detaching
  const auto verdict = bfd_gate_.on_change(c.to, b->remote_state());
  if (verdict == bfd_verdict::tear_down) {
    spdlog::warn("peer {}: BFD {} -> {} ({}): closing the BGP session until BFD is Up again", cfg_.name(),
                 bfd::to_string(c.from), bfd::to_string(c.to), bfd::to_string(c.reason));
    restart_timer_.cancel();
    handle(fsm_event::bfd_down);
  } else if (verdict == bfd_verdict::release) {
    spdlog::info("peer {}: BFD {}: BGP may start", cfg_.name(), bfd::to_string(c.to));
    if (!stopped_ && fsm_.state() == session_state::idle) {
      restart_timer_.cancel();
      failures_ = 0;
      handle(fsm_event::start);
    }
  }
  changed();
}

void session::handle(fsm_event e, const fsm_input& in) {
  auto t = fsm_.handle(e, in);
  if (t.from != t.to)
    spdlog::info("peer {}: {} -> {} on {} ({})", cfg_.name(), to_string(t.from), to_string(t.to), to_string(e),
                 to_string(t.reason));
  note_unanswered_connect(e, t);
  apply(t);
  if (t.from != t.to) changed();
}

void session::note_unanswered_connect(fsm_event e, const fsm_transition& t) {
  // Connect -> Connect on the retry timer is no transition, so nothing above
  // logs it; yet it is all an operator sees of a peer that drops our SYNs: a
  // filter, a dead address without ICMP, or a TCP MD5 password mismatch (the
  // router's kernel drops badly signed segments silently, RFC 2385 §2).
  // Logged on the 1st, 2nd, 4th, 8th, ... attempt in a row.
  if (e != fsm_event::connect_retry_expired || t.from != session_state::connect || t.to != session_state::connect) {
    if (t.to != session_state::connect) unanswered_connects_ = 0;
    return;
  }
  ++unanswered_connects_;
  if ((unanswered_connects_ & (unanswered_connects_ - 1)) == 0)
    spdlog::warn("peer {}: no answer to {} TCP connection attempt(s) in a row (unreachable, filtered, or a TCP MD5 "
                 "password mismatch); retrying",
                 cfg_.name(), unanswered_connects_);
}

void session::apply(const fsm_transition& t) {
  for (auto& a : t.actions) {
    switch (a.kind) {
      case A::connect:
        asio::co_spawn(ex_, [self = shared_from_this(), g = ++gen_]() { return self->do_connect(g); }, asio::detached);
        break;
      case A::close: close_connection(); break;
      case A::send_open: {
        open_message o;
        // RFC 6793 §4.1: a 4-octet AS goes in the capability, AS_TRANS in My AS.
        o.my_as = cfg_.local_asn > 0xffff ? as_trans : static_cast<std::uint16_t>(cfg_.local_asn);
        o.hold_time = cfg_.hold_time;
        o.bgp_id = shared_->router_id;
        std::vector<family> fams = cfg_.families;
        for (auto f : fams) o.capabilities.push_back(cap::multiprotocol{f});
        o.capabilities.push_back(cap::route_refresh{});
        o.capabilities.push_back(cap::enhanced_route_refresh{});
        o.capabilities.push_back(cap::four_octet_as{cfg_.local_asn});
        if (shared_->graceful_restart) {
          // RFC 4724 §3: R says we restarted (a new process always has); F says
          // forwarding survived, true for a node whose addresses stay on kube-lb0.
          cap::graceful_restart gr{true, false, shared_->restart_time, {}};
          for (auto f : fams) gr.families.push_back({f, true});
          o.capabilities.push_back(gr);
        }
        o.capabilities.push_back(cap::extended_next_hop{{{ipv4_unicast, afi::ipv6}}});
        if (!shared_->hostname.empty()) o.capabilities.push_back(cap::fqdn{shared_->hostname, ""});
        sent_open_ = o;
        bytes b;
        encode_open(o, b);
        send(std::move(b), message_type::open);
        break;
      }
      case A::send_keepalive: {
        bytes b;
        encode_keepalive(b);
        send(std::move(b), message_type::keepalive);
        break;
      }
      case A::send_notification:
        if (a.notification) send_notification_now(*a.notification);
        break;
      case A::start_connect_retry: {
        auto d = backoff();
        connect_retry_timer_.expires_after(d);
        connect_retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
          if (ec) return;
          // No answer to our attempt, but the peer's own connection waits
          // with its OPEN: take that rather than try again.
          if (self->pending_ && self->pending_open_ && self->fsm_.state() == session_state::connect)
            self->take_pending_inbound();
          else self->handle(fsm_event::connect_retry_expired);
        });
        break;
      }
      case A::stop_connect_retry: connect_retry_timer_.cancel(); break;
      case A::arm_hold:
        if (a.seconds == 0) hold_timer_.cancel();
        else arm(hold_timer_, std::chrono::seconds(a.seconds), fsm_event::hold_timer_expired);
        break;
      case A::arm_keepalive:
        if (a.seconds == 0) keepalive_timer_.cancel();
        else arm(keepalive_timer_, std::chrono::seconds(a.seconds), fsm_event::keepalive_timer_expired);
        break;
      case A::established:
        failures_ = 0;
        established_since_ = std::chrono::system_clock::now();
        last_up_ = established_since_;
        full_sync_ = true;
        sync_slot_ = 0;
        sync_layout_ = shared_->routes.layout_generation();
        eor_sent_ = false;
        spdlog::info("peer {}: established, hold time {} s, families {}", cfg_.name(), fsm_.negotiated_hold_time(),
                     [&] {
                       std::string s;
                       for (auto f : families_) s += (s.empty() ? "" : ",") + wire::to_string(f);
                       return s;
                     }());
        schedule_flush(0ms);
        break;
      case A::process_update:
      case A::process_route_refresh: break;  // done by on_message with the decoded message
      case A::down: {
        ++flaps_;
        established_since_.reset();
        last_down_ = std::chrono::system_clock::now();
        rib_out_.clear();
        dirty_.clear();
        keep_stale_routes(t.reason);
        rib_in_.clear();
        rib_in_since_.clear();
        peer_open_.reset();
        if (stopped_) break;
        ++failures_;
        if (!bgp_allowed()) break;  // on_bfd() starts the session again on BFD Up
        if (cfg_.passive) {
          handle(fsm_event::start);
          break;
        }
        restart_timer_.expires_after(backoff());
        restart_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
          if (!ec && !self->stopped_ && self->bgp_allowed()) self->handle(fsm_event::start);
        });
        break;
      }
    }
  }
}

void session::arm(asio::steady_timer& t, std::chrono::milliseconds d, fsm_event e) {
  t.expires_after(d);
  t.async_wait([self = shared_from_this(), e, g = gen_](boost::system::error_code ec) {
    if (!ec && g == self->gen_) self->handle(e);
  });
}

std::chrono::milliseconds session::backoff() {
  // Exponential from connect_retry, capped at a minute, with ±25% jitter so
  // that many nodes restarted together do not reconnect in lockstep.
  auto base = std::chrono::milliseconds(std::chrono::seconds(std::max<std::uint32_t>(1, cfg_.connect_retry)));
  auto d = base * (1u << std::min(failures_, 6u));
  d = std::min<std::chrono::milliseconds>(d, max_backoff);
  std::uniform_real_distribution<double> jitter(0.75, 1.25);
  return std::chrono::milliseconds(static_cast<long>(static_cast<double>(d.count()) * jitter(rng_)));
}

asio::awaitable<void> session::do_connect(std::uint64_t gen) {
  auto self = shared_from_this();
  auto peer = to_asio(cfg_.address);
  tcp::socket sock(ex_);
  boost::system::error_code ec;
  auto fam = cfg_.address.is_v4() ? tcp::v4() : tcp::v6();
  sock.open(fam, ec);
  auto fd_family = cfg_.address.family;
  if (!ec) {
    if (!cfg_.password.empty())
      if (auto e = set_tcp_md5(sock.native_handle(), fd_family, cfg_.address, cfg_.password))
        spdlog::error("peer {}: TCP MD5 key: {}", cfg_.name(), e.message());
    set_hop_limits(sock.native_handle(), fd_family);
    if (cfg_.source_address) sock.bind(tcp::endpoint(to_asio(*cfg_.source_address), 0), ec);
  }
  if (!ec) {
    auto [cec] = co_await sock.async_connect(tcp::endpoint(peer, cfg_.port), asio::as_tuple(asio::use_awaitable));
    ec = cec;
  }
  if (gen != gen_ || stopped_) co_return;  // superseded while connecting
  if (ec) {
    spdlog::debug("peer {}: connect: {}", cfg_.name(), ec.message());
    handle(fsm_event::tcp_failed);
    if (pending_ && pending_open_ && fsm_.state() == session_state::active) take_pending_inbound();
    co_return;
  }
  if (pending_ && pending_open_) {
    // The peer's connection came while we connected and its OPEN is read:
    // both connections are up, so decide now, before we send anything (§6.8).
    if (keep_inbound_on_collision(shared_->router_id, pending_open_->bgp_id)) {
      refuse(sock, "collision resolved in favour of the peer's connection (higher BGP Identifier)", cfg_.name());
      take_pending_inbound();
      co_return;
    }
    refuse(*pending_, "collision resolved in favour of our connection (higher BGP Identifier)", cfg_.name());
    pending_.reset();
    pending_open_.reset();
  }
  adopt(std::move(sock));
}

void session::refuse(tcp::socket& s, const std::string& why, const std::string& peer, cease_subcode sub) {
  bytes b;
  encode_notification({notification_code::cease, static_cast<std::uint8_t>(sub), {}}, b);
  boost::system::error_code ec;
  s.non_blocking(true, ec);
  asio::write(s, asio::buffer(b), ec);
  s.close(ec);
  spdlog::info("peer {}: closed a connection: {}", peer, why);
}

void session::set_hop_limits(int fd, wire::afi fd_family) const {
  int ttl = cfg_.ttl_security ? 255 : (cfg_.ebgp() ? cfg_.ebgp_multihop : 64);
  set_ttl(fd, fd_family, ttl);
  if (cfg_.ttl_security) set_min_ttl(fd, fd_family, 256 - std::max<int>(1, cfg_.ebgp_multihop));
}

void session::accept(tcp::socket socket) {
  // The listener is every peer's: its TTL (255, for the handshake) and
  // its lack of a minimum are no session's. Set this session's, so that an
  // eBGP peer gets TTL 1 (or its multihop) and a GTSM one (RFC 5082) only
  // our packets, and theirs must come from their hop.
  {
    boost::system::error_code ec;
    auto local = socket.local_endpoint(ec);
    if (!ec) set_hop_limits(socket.native_handle(), local.address().is_v4() ? afi::ipv4 : afi::ipv6);
  }
  auto st = fsm_.state();
  if (!stopped_ && st != session_state::established && !bgp_allowed()) {
    // Held until BFD is Up; the Cease subcode tells the peer why (RFC 9384).
    refuse(socket, "BFD is not Up", cfg_.name(), cease_subcode::bfd_down);
    return;
  }
  if (stopped_ || st == session_state::established) {
    // RFC 4271 §6.8: a collision with an Established session keeps the established one.
    refuse(socket, stopped_ ? "the session is administratively down" : "collision with the established session",
           cfg_.name());
    return;
  }
  if (st == session_state::open_confirm && peer_open_) {
    // The peer's BGP Identifier is known: decide now.
    if (keep_inbound_on_collision(shared_->router_id, peer_open_->bgp_id)) {
      send_notification_now({notification_code::cease,
                             static_cast<std::uint8_t>(cease_subcode::connection_collision_resolution), {}});
      close_connection();
      fsm_.connection_replaced();
      adopt(std::move(socket));
    } else {
      refuse(socket, "collision resolved in favour of our connection (higher BGP Identifier)", cfg_.name());
    }
    return;
  }
  if (st == session_state::idle) {
    restart_timer_.cancel();
    handle(fsm_event::start);  // Connect (our attempt goes out) or, for a passive peer, Active
    st = fsm_.state();
  }
  if (st == session_state::open_sent || st == session_state::connect) {
    // OpenSent: the peer's BGP Identifier is not known yet. Connect: our
    // own attempt is in flight and may already be up at the peer's end (its
    // kernel completes the handshake before we hear of it), and the peer
    // may count it in a collision as soon as an OPEN comes on this one (FRR
    // does, keeping the connection the higher BGP Identifier opened):
    // dropping it for this one would lose both. Either way: read the OPEN
    // the peer sends on this connection and decide by BGP Identifier once
    // both are known.
    if (pending_) {
      refuse(*pending_, "replaced by a newer inbound connection", cfg_.name());
    }
    pending_.emplace(std::move(socket));
    pending_open_.reset();
    asio::co_spawn(ex_, [self = shared_from_this(), g = ++pending_gen_]() { return self->read_collision_open(g); },
                   asio::detached);
    return;
  }
  // Active (no attempt in flight): the inbound connection is the session's.
  ++gen_;
  if (socket_) {
    boost::system::error_code ec;
    socket_->close(ec);
    socket_.reset();
  }
  adopt(std::move(socket));
}

asio::awaitable<void> session::read_collision_open(std::uint64_t pending_gen) {
  auto self = shared_from_this();
  // The peer's OPEN arrives right after its connect; a deadline keeps a
  // silent peer from holding the slot (STYLE.md §4: every wait has one).
  asio::steady_timer deadline(ex_, 10s);
  deadline.async_wait([self, pending_gen](boost::system::error_code ec) {
    if (!ec && self->pending_ && self->pending_gen_ == pending_gen) {
      boost::system::error_code e;
      self->pending_->close(e);
    }
  });
  bytes buf;
  std::vector<std::byte> chunk(4096);
  for (;;) {
    if (!pending_ || pending_gen_ != pending_gen) co_return;
    auto [ec, n] = co_await pending_->async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
    if (!pending_ || pending_gen_ != pending_gen) co_return;
    if (ec) {
      pending_.reset();
      co_return;
    }
    buf.insert(buf.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    auto f = frame(buf);
    if (f.kind == frame_result::need_more) continue;
    deadline.cancel();
    std::optional<open_message> open;
    if (f.kind == frame_result::message && f.type == message_type::open)
      if (auto d = decode_message(std::span(buf).first(f.length)))
        if (auto o = std::get_if<open_message>(&d->msg)) open = *o;
    if (!open) {
      refuse(*pending_, "no valid OPEN on the colliding connection", cfg_.name());
      pending_.reset();
      co_return;
    }
    resolve_collision(*open);
    co_return;
  }
}

void session::resolve_collision(const open_message& remote_open) {
  auto st = fsm_.state();
  if (st == session_state::connect) {
    // Our attempt is still in flight: do_connect decides when it connects
    // or fails, the connect retry timer if it does neither.
    pending_open_ = remote_open;
    return;
  }
  auto inbound = std::move(*pending_);
  pending_.reset();
  pending_open_.reset();
  if (st != session_state::open_sent && st != session_state::open_confirm) {
    // Our connection went away meanwhile: the inbound one simply takes over.
    if (st == session_state::established) {
      refuse(inbound, "collision with the established session", cfg_.name());
      return;
    }
    if (st == session_state::idle) handle(fsm_event::start);
    ++gen_;
    adopt(std::move(inbound), remote_open);
    return;
  }
  if (keep_inbound_on_collision(shared_->router_id, remote_open.bgp_id)) {
    spdlog::info("peer {}: collision: keeping the peer's connection (its BGP Identifier {} is higher)", cfg_.name(),
                 ip_address::v4(remote_open.bgp_id).to_string());
    send_notification_now({notification_code::cease,
                           static_cast<std::uint8_t>(cease_subcode::connection_collision_resolution), {}});
    close_connection();
    fsm_.connection_replaced();
    adopt(std::move(inbound), remote_open);
  } else {
    refuse(inbound, "collision resolved in favour of our connection (higher BGP Identifier)", cfg_.name());
  }
}

void session::take_pending_inbound() {
  auto open = std::move(*pending_open_);
  pending_open_.reset();
  auto inbound = std::move(*pending_);
  pending_.reset();
  ++gen_;  // our attempt, if still in flight, is superseded
  adopt(std::move(inbound), std::move(open));
}

void session::adopt(tcp::socket socket, std::optional<open_message> open) {
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  auto local = socket.local_endpoint(ec);
  local_address_ = ec ? std::nullopt : std::optional<ip_address>(from_asio(local.address()));
  socket_.emplace(std::move(socket));
  rbuf_.clear();
  out_.clear();
  queued_bytes_ = 0;
  sync_waiting_ = false;
  writing_ = false;
  auto g = ++gen_;
  handle(fsm_event::tcp_connected);
  // An OPEN already read on this connection (collision resolution) counts as received now.
  if (open && g == gen_) on_open(*open);
  asio::co_spawn(ex_, [self = shared_from_this(), g]() { return self->read_loop(g); }, asio::detached);
}

asio::awaitable<void> session::read_loop(std::uint64_t gen) {
  auto self = shared_from_this();
  std::vector<std::byte> chunk(64 * 1024);
  while (gen == gen_ && socket_) {
    auto [ec, n] = co_await socket_->async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
    if (gen != gen_) co_return;
    if (ec) {
      if (ec != asio::error::operation_aborted)
        spdlog::info("peer {}: connection closed: {}", cfg_.name(), ec.message());
      handle(fsm_event::tcp_failed);
      co_return;
    }
    rbuf_.insert(rbuf_.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    std::size_t off = 0;
    while (gen == gen_) {
      auto f = frame(std::span(rbuf_).subspan(off), ext_message_ ? max_extended_message_size : max_message_size);
      if (f.kind == frame_result::need_more) break;
      if (f.kind == frame_result::error) {
        reject(*f.err);
        co_return;
      }
      on_message(std::span(rbuf_).subspan(off, f.length));
      off += f.length;
    }
    if (gen != gen_) co_return;
    rbuf_.erase(rbuf_.begin(), rbuf_.begin() + static_cast<std::ptrdiff_t>(off));
  }
}

void session::reject(decode_error e) {
  spdlog::warn("peer {}: {}", cfg_.name(), e.to_string());
  notification_message n{e.code, e.subcode, std::move(e.data)};
  last_error_ = last_error_sent_ = n.to_string();
  fsm_input in;
  in.notification = std::move(n);
  handle(fsm_event::message_error, in);
}

void session::on_message(std::span<const std::byte> bytes) {
  auto t = static_cast<message_type>(std::to_integer<std::uint8_t>(bytes[18]));
  ++in_[0];
  ++in_[type_index(t)];
  auto d = decode_message(bytes, update_ctx());
  if (!d) {
    reject(d.error());
    return;
  }
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, open_message>) on_open(m);
        else if constexpr (std::is_same_v<T, keepalive_message>) handle(fsm_event::keepalive_received);
        else if constexpr (std::is_same_v<T, update_message>) on_update(m, *d);
        else if constexpr (std::is_same_v<T, route_refresh_message>) on_route_refresh(m);
        else {
          last_error_ = last_error_received_ = m.to_string();
          spdlog::warn("peer {}: NOTIFICATION received: {}", cfg_.name(), m.to_string());
          handle(fsm_event::notification_received);
        }
      },
      d->msg);
  changed();
}

void session::on_open(const open_message& o) {
  if (fsm_.state() != session_state::open_sent) {
    handle(fsm_event::open_received);  // the FSM answers with an FSM error
    return;
  }
  open_expectations expect{cfg_.asn, shared_->router_id, cfg_.local_asn};
  if (auto e = check_open(o, expect)) {
    reject(*e);
    return;
  }
  peer_open_ = o;
  four_octet_ = o.find<cap::four_octet_as>() != nullptr;
  ext_message_ = false;  // we do not offer RFC 8654 yet
  enhanced_rr_ = o.find<cap::enhanced_route_refresh>() != nullptr;
  ext_nh_v4_ = false;
  if (auto enh = o.find<cap::extended_next_hop>())
    for (auto& e : enh->entries)
      if (e.nlri == ipv4_unicast && e.next_hop == afi::ipv6) ext_nh_v4_ = true;
  // RFC 4760 §8: a peer without the multiprotocol capability speaks IPv4 unicast only.
  families_.clear();
  bool peer_mp = o.find<cap::multiprotocol>() != nullptr;
  for (auto f : cfg_.families)
    if (peer_mp ? o.has_family(f) : f == ipv4_unicast) families_.push_back(f);
  fsm_input in;
  in.peer_hold_time = o.hold_time;
  handle(fsm_event::open_received, in);
}

void session::on_update(const update_message& u, const decoded_message& d) {
  handle(fsm_event::update_received);
  if (fsm_.state() != session_state::established) return;
  auto now = std::chrono::steady_clock::now();
  if (!d.errors.empty() && now - last_update_error_log_ > 10s) {
    // Rate-limited: a peer can send a million bad UPDATEs.
    last_update_error_log_ = now;
    spdlog::warn("peer {}: UPDATE error, {}: {}", cfg_.name(), to_string(d.action), d.errors.front().to_string());
  }
  std::vector<ip_prefix> announced = u.nlri;
  if (u.attrs.reach) announced.insert(announced.end(), u.attrs.reach->nlri.begin(), u.attrs.reach->nlri.end());
  if (auto eor = u.end_of_rib()) {
    end_of_rib_received(*eor);
    return;
  }
  for (auto& p : announced) stale_rib_in_.erase(p);
  auto forget = [this](const ip_prefix& p) {
    rib_in_.erase(p);
    rib_in_since_.erase(p);
  };
  for (auto& p : u.withdrawn) forget(p);
  if (u.attrs.unreach)
    for (auto& p : u.attrs.unreach->withdrawn) forget(p);
  if (d.action == error_action::treat_as_withdraw) {
    // RFC 7606 §2: the routes in an UPDATE with a malformed attribute are withdrawn.
    for (auto& p : announced) forget(p);
    return;
  }
  if (!announced.empty()) {
    auto attrs = std::make_shared<const path_attributes>([&] {
      auto a = u.attrs;
      if (a.reach) a.reach->nlri.clear();
      return a;
    }());
    auto received_at = std::chrono::system_clock::now();
    for (auto& p : announced) {
      rib_in_[p] = attrs;
      rib_in_since_[p] = received_at;
    }
  }
  if (rib_in_.size() > cfg_.max_prefixes) {
    spdlog::warn("peer {}: {} prefixes received, over the limit of {}", cfg_.name(), rib_in_.size(), cfg_.max_prefixes);
    // RFC 4486 §4: the family of the prefixes that went over the limit (the
    // limit counts every family together), and the limit.
    const family over = announced.empty() || announced.back().addr.is_v4() ? ipv4_unicast : ipv6_unicast;
    auto n = notification_message::maximum_prefixes(over, cfg_.max_prefixes);
    last_error_ = last_error_sent_ = n.to_string();
    fsm_input in;
    in.notification = n;
    handle(fsm_event::message_error, in);
  }
}

void session::on_route_refresh(const route_refresh_message& r) {
  handle(fsm_event::route_refresh_received);
  if (fsm_.state() != session_state::established || r.subtype != route_refresh_message::normal) return;
  if (!negotiated(r.f)) return;
  spdlog::info("peer {}: route refresh for {}", cfg_.name(), wire::to_string(r.f));
  // RFC 7313 §4: with enhanced route refresh the re-send is framed by BoRR / EoRR.
  if (enhanced_rr_) {
    bytes b;
    encode_route_refresh({r.f, route_refresh_message::begin}, b);
    send(std::move(b), message_type::route_refresh);
  }
  auto all = rib_out_.everything();
  rib_changes only;
  for (auto& [attrs, ps] : all.announce) {
    std::vector<ip_prefix> mine;
    for (auto& p : ps)
      if (p.addr.family == r.f.a) mine.push_back(p);
    if (!mine.empty()) only.announce.push_back({attrs, std::move(mine)});
  }
  send_changes(only);
  if (enhanced_rr_) {
    bytes b;
    encode_route_refresh({r.f, route_refresh_message::end}, b);
    send(std::move(b), message_type::route_refresh);
  }
}

void session::keep_stale_routes(fsm_reason why) {
  // RFC 4724 §4.2 (we are the helper): when the TCP session of a peer that
  // advertised graceful restart ends without a NOTIFICATION, its routes are
  // kept, marked stale, until it sends End-of-RIB or its restart time ends.
  auto gr = peer_open_ ? peer_open_->find<cap::graceful_restart>() : nullptr;
  if (!gr || (why != fsm_reason::connection_closed && why != fsm_reason::hold_timer_expired) || rib_in_.empty()) {
    stale_rib_in_.clear();
    return;
  }
  for (auto& [p, a] : rib_in_) stale_rib_in_[p] = a;
  spdlog::info("peer {}: graceful restart: keeping {} routes as stale for up to {} s", cfg_.name(), stale_rib_in_.size(),
               gr->restart_time);
  stale_timer_.expires_after(std::chrono::seconds(gr->restart_time));
  stale_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->stale_rib_in_.empty()) return;
    spdlog::info("peer {}: restart time over: dropping {} stale routes", self->cfg_.name(), self->stale_rib_in_.size());
    self->stale_rib_in_.clear();
    self->changed();
  });
}

void session::end_of_rib_received(family f) {
  spdlog::info("peer {}: End-of-RIB for {}", cfg_.name(), wire::to_string(f));
  std::erase_if(stale_rib_in_, [&](auto& e) { return e.first.addr.family == f.a; });
  if (stale_rib_in_.empty()) stale_timer_.cancel();
}

void session::close_connection() {
  ++gen_;
  hold_timer_.cancel();
  send_hold_timer_.cancel();
  keepalive_timer_.cancel();
  flush_timer_.cancel();
  flush_scheduled_ = false;
  if (socket_) {
    boost::system::error_code ec;
    socket_->shutdown(tcp::socket::shutdown_both, ec);
    socket_->close(ec);
    socket_.reset();
  }
  out_.clear();
  queued_bytes_ = 0;
  sync_waiting_ = false;
  writing_ = false;
}

void session::send_notification_now(const notification_message& n) {
  // Best effort and never blocking: the connection closes right after, and a
  // peer that does not read must not hold us (its send buffer is full).
  if (!socket_) return;
  bytes b;
  encode_notification(n, b);
  boost::system::error_code ec;
  socket_->non_blocking(true, ec);
  if (!writing_) asio::write(*socket_, asio::buffer(b), ec);
  ++out_count_[0];
  ++out_count_[type_index(message_type::notification)];
  last_error_ = last_error_sent_ = n.to_string();
  spdlog::info("peer {}: sent NOTIFICATION {}", cfg_.name(), n.to_string());
}

void session::send(bytes&& b, message_type t, std::size_t count) {
  if (!socket_ || b.empty()) return;
  out_count_[0] += count;
  out_count_[type_index(t)] += count;
  queued_bytes_ += b.size();
  out_.push_back(std::move(b));
  if (!writing_) do_write();
}

void session::set_connection_settings(bool passive, std::uint32_t connect_retry) {
  cfg_.passive = passive;
  cfg_.connect_retry = connect_retry;
  fsm_.set_passive(passive);
}

void session::set_send_hold_time(std::uint16_t seconds) {
  cfg_.send_hold_time = seconds;
  if (!writing_) return;  // the next write arms the timer with it
  // A peer that stopped reading must not keep the old, longer time: the
  // operator lowering it may be reacting to that very peer.
  if (seconds == 0)
    send_hold_timer_.cancel();
  else
    arm(send_hold_timer_, std::chrono::seconds(seconds), fsm_event::send_hold_timer_expired);
}

void session::do_write() {
  if (out_.empty() || !socket_) {
    writing_ = false;
    send_hold_timer_.cancel();
    return;
  }
  writing_ = true;
  // RFC 9687: each write that completes is progress; a write that makes
  // none for SendHoldTime means the peer stopped reading.
  if (cfg_.send_hold_time != 0)
    arm(send_hold_timer_, std::chrono::seconds(cfg_.send_hold_time), fsm_event::send_hold_timer_expired);
  asio::async_write(*socket_, asio::buffer(out_.front()),
                    [self = shared_from_this(), g = gen_](boost::system::error_code ec, std::size_t) {
                      if (g != self->gen_) return;
                      if (ec) {
                        spdlog::info("peer {}: write: {}", self->cfg_.name(), ec.message());
                        self->handle(fsm_event::tcp_failed);
                        return;
                      }
                      self->queued_bytes_ -= self->out_.front().size();
                      self->out_.pop_front();
                      self->do_write();
                      if (self->sync_waiting_ && self->queued_bytes_ < write_queue_low) {
                        self->sync_waiting_ = false;
                        self->flush();
                      }
                    });
}

void session::routes_changed(const std::vector<ip_prefix>& prefixes) {
  if (fsm_.state() != session_state::established) return;  // the full sync at Established covers it
  dirty_.insert(prefixes.begin(), prefixes.end());
  // Leading edge: after a quiet window the change goes out at once, inside
  // the caller's call (speaker calls notify once per set_routes / add_routes,
  // so that is one batch), not after a trip through the timer queue behind
  // whatever else is ready; changes that follow within the window wait for
  // its end (10 ms after the last send, not 10 ms after themselves) and go
  // out together.
  auto now = std::chrono::steady_clock::now();
  bool quiet = !last_change_flush_ || now - *last_change_flush_ >= coalesce_window;
  if (!quiet) schedule_flush(std::chrono::ceil<std::chrono::milliseconds>(*last_change_flush_ + coalesce_window - now));
  else if (!flush_scheduled_) flush();
  // else a flush is on its way already and takes this change with it
}

void session::resend_all() {
  if (fsm_.state() != session_state::established) return;
  send_changes(rib_out_.everything());
}

void session::schedule_flush(std::chrono::milliseconds delay) {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  flush_timer_.expires_after(delay);
  flush_timer_.async_wait([self = shared_from_this(), g = gen_](boost::system::error_code ec) {
    if (ec || g != self->gen_) return;
    self->flush_scheduled_ = false;
    self->flush();
  });
}

bool session::negotiated(family f) const { return std::find(families_.begin(), families_.end(), f) != families_.end(); }

attrs_ref session::desired(const ip_prefix& p) const {
  const attrs_ref* a = shared_->routes.find(p);
  if (!a || !(*a)->for_peer(cfg_.address)) return nullptr;
  if (!negotiated({p.addr.family, safi::unicast})) return nullptr;
  if (!exportable(**a, p.addr.family)) return nullptr;
  return *a;
}

bool session::exportable(const route_attrs& a, afi f) const {
  // export_attributes() allocates; ask it once per attribute set and family.
  auto [it, fresh] = exportable_.try_emplace(&a, 0);
  std::uint8_t bit = f == afi::ipv4 ? 1 : 2, known = f == afi::ipv4 ? 4 : 8;
  if (!(it->second & known)) {
    it->second |= known;
    if (export_attributes(a, f, export_ctx())) it->second |= bit;
  }
  return it->second & bit;
}

export_context session::export_ctx() const {
  export_context c;
  c.local_asn = cfg_.local_asn;
  c.ebgp = cfg_.ebgp();
  c.graceful_shutdown = shared_->graceful_shutdown;
  c.extended_next_hop = ext_nh_v4_;
  c.next_hop_v4 = cfg_.next_hop_v4;
  c.next_hop_v6 = cfg_.next_hop_v6;
  // Next hop self: the session's own address for its family.
  if (local_address_ && local_address_->is_v4() && !c.next_hop_v4) c.next_hop_v4 = local_address_;
  if (local_address_ && !local_address_->is_v4() && !c.next_hop_v6) c.next_hop_v6 = local_address_;
  return c;
}

update_context session::update_ctx() const {
  update_context c;
  c.four_octet_as = four_octet_;
  c.ebgp = cfg_.ebgp();
  c.max_message = ext_message_ ? max_extended_message_size : max_message_size;
  return c;
}

void session::flush() {
  if (fsm_.state() != session_state::established) return;
  exportable_.clear();
  auto want = [this](const ip_prefix& p) { return desired(p); };
  if (full_sync_ && !continue_full_sync()) return;  // resumes when the socket has taken most of it
  if (!dirty_.empty()) {
    last_change_flush_ = std::chrono::steady_clock::now();
    auto changes = rib_out_.update(dirty_, want);
    dirty_.clear();
    send_changes(changes);
  }
  maybe_send_end_of_rib();
  changed();
}

bool session::continue_full_sync() {
  // The whole table, a step of slots at a time, each step packed and queued
  // before the next: memory stays bounded by the step and the write queue,
  // and the first UPDATE leaves at once. A table that grew meanwhile moved
  // its slots: walk again from the start (the diff sends nothing twice).
  // Changes to slots already walked arrive through routes_changed().
  constexpr std::size_t step_slots = 16384;
  const route_map& table = shared_->routes;
  auto from_table = [this](const ip_prefix& p, const attrs_ref& a) -> attrs_ref {
    if (!a->for_peer(cfg_.address) || !negotiated({p.addr.family, safi::unicast}) || !exportable(*a, p.addr.family))
      return nullptr;
    return a;
  };
  if (rib_out_.size() == 0 && sync_slot_ == 0) rib_out_.reserve(table.size());
  while (true) {
    if (sync_layout_ != table.layout_generation()) {
      sync_layout_ = table.layout_generation();
      sync_slot_ = 0;
    }
    if (sync_slot_ >= table.slot_count()) break;
    if (queued_bytes_ > write_queue_high) {
      sync_waiting_ = true;
      return false;
    }
    std::size_t to = sync_slot_ + step_slots;
    send_changes(rib_out_.update_from_slots(table, sync_slot_, to, from_table));
    sync_slot_ = to;
  }
  full_sync_ = false;
  sync_slot_ = 0;
  // Anything advertised that the table no longer has.
  for (auto [p, a] : rib_out_.advertised())
    if (!table.contains(p)) dirty_.insert(p);
  return true;
}

void session::maybe_send_end_of_rib() {
  // RFC 4724 §4.1: End-of-RIB only once every route is out, so a restarted
  // node does not make routers drop it early.
  if (eor_sent_ || !shared_->initial_routes_complete || fsm_.state() != session_state::established || full_sync_)
    return;
  if (flush_scheduled_) return;  // the initial routes are still waiting for the flush
  eor_sent_ = true;
  for (auto f : families_) {
    bytes b;
    encode_end_of_rib(f, b);
    send(std::move(b), message_type::update);
  }
}

void session::send_changes(const rib_changes& c) {
  auto ectx = export_ctx();
  auto uctx = update_ctx();
  bytes out;
  std::size_t messages = 0;
  for (auto& [attrs, prefixes] : c.announce) {
    if (prefixes.empty()) continue;
    auto pa = export_attributes(*attrs, prefixes.front().addr.family, ectx);
    if (pa) messages += pack_announce(*pa, prefixes, uctx, out);
  }
  for (auto fam : {ipv4_unicast, ipv6_unicast}) {
    std::vector<ip_prefix> of;
    for (auto& p : c.withdraw)
      if (p.addr.family == fam.a) of.push_back(p);
    if (!of.empty()) messages += pack_withdraw(fam, of, uctx, out);
  }
  if (messages) {
    spdlog::debug("peer {}: sending {} UPDATEs ({} octets)", cfg_.name(), messages, out.size());
    send(std::move(out), message_type::update, messages);
  }
}

void session::changed() {
  if (shared_->on_change) shared_->on_change();
}

peer_status session::status() const {
  peer_status s;
  s.address = cfg_.address.to_string();
  s.asn = cfg_.asn;
  s.state = fsm_.state();
  s.established_since = established_since_;
  s.hold_time = fsm_.negotiated_hold_time();
  s.keepalive = fsm_.keepalive_interval();
  if (peer_open_) {
    s.remote_id = peer_open_->bgp_id;
    if (auto h = peer_open_->find<cap::fqdn>()) s.remote_hostname = h->hostname;
    for (auto f : families_) s.capabilities.push_back("multiprotocol " + wire::to_string(f));
    if (four_octet_) s.capabilities.push_back("4-octet-as");
    if (enhanced_rr_) s.capabilities.push_back("enhanced-route-refresh");
    if (peer_open_->find<cap::route_refresh>()) s.capabilities.push_back("route-refresh");
    if (peer_open_->find<cap::graceful_restart>() && shared_->graceful_restart) s.capabilities.push_back("graceful-restart");
    if (ext_nh_v4_) s.capabilities.push_back("extended-nexthop");
  }
  s.messages_in = in_;
  s.messages_out = out_count_;
  s.advertised_v4 = rib_out_.count(afi::ipv4);
  s.advertised_v6 = rib_out_.count(afi::ipv6);
  s.received = rib_in_.size() + stale_rib_in_.size();
  s.stale = stale_rib_in_.size();
  s.last_error_sent = last_error_sent_;
  s.last_error_received = last_error_received_;
  s.last_error = last_error_;
  s.flaps = flaps_;
  if (cfg_.bfd) {
    bfd_status b;
    b.multihop = cfg_.bfd_multihop();
    b.available = bfd_svc_ != nullptr;
    b.bgp_held = !bgp_allowed();
    if (const auto* f = bfd_session()) {
      b.state = f->state();
      b.remote_state = f->remote_state();
      b.local_diag = f->local_diag();
      b.local_discriminator = f->local_discriminator();
      b.remote_discriminator = f->remote_discriminator();
      b.tx_interval = f->tx_interval();
      b.detection_time = f->detection_time();
      b.counters = f->counters();
    }
    s.bfd = b;
  }
  s.last_up = last_up_;
  s.last_down = last_down_;
  return s;
}

bool session::request_refresh() {
  if (fsm_.state() != session_state::established || !peer_open_ || !peer_open_->find<cap::route_refresh>()) return false;
  for (auto f : families_) {
    bytes b;
    encode_route_refresh({f, route_refresh_message::normal}, b);
    send(std::move(b), message_type::route_refresh);
  }
  spdlog::info("peer {}: route refresh requested (soft reset in)", cfg_.name());
  return true;
}

}  // namespace herald::bgp
