// One BGP session per configured peer, on Boost.Asio: the socket, the timers
// and the Adj-RIBs around the pure fsm (fsm.hpp). RFC 4271 (sessions), RFC
// 6793 (4-octet AS), RFC 4760 (families), RFC 2918 / 7313 (route refresh),
// RFC 4724 (graceful restart), RFC 8950 (extended next hop), RFC 8654
// (extended messages), RFC 4486 (max prefixes), RFC 9003 (shutdown text).
//
// Threading: every member runs on the io_context thread that owns the
// speaker (DESIGN.md); asynchronous handlers hold shared_from_this(). Each
// TCP connection gets a generation number; completions from an older
// connection are ignored, so closing is just "bump and close".
//
// BFD (docs/bfd.md): a peer with `bfd` set gets a BFD session in the
// speaker's bfd::service when the session starts; a bfd_gate turns its state
// changes into Cease / BFD Down (RFC 9384) and holds the session (no
// connect, no passive accept) until BFD is Up again.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "bgp/bfd/io.hpp"
#include "bgp/bfd_gate.hpp"
#include "bgp/config.hpp"
#include "bgp/fsm.hpp"
#include "bgp/rib.hpp"
#include "bgp/wire/message.hpp"

namespace herald::bgp {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// State the speaker shares with its sessions (same thread; no locks).
struct speaker_shared {
  std::uint32_t router_id = 0;
  std::uint32_t local_asn = 0;
  std::string hostname;
  bool graceful_restart = true;
  std::uint16_t restart_time = 120;
  bool initial_routes_complete = false;  // End-of-RIB only after this (RFC 4724 §4.1)
  bool graceful_shutdown = false;        // RFC 8326
  route_table routes;
  std::function<void()> on_change;  // status changed (throttled by the owner)
  // BFD (RFC 5881 single hop, RFC 5883 multihop), opened by the speaker when
  // a peer needs it; null when no peer does or the port could not be bound.
  std::shared_ptr<bfd::service> bfd, bfd_multihop;
};

// A peer's BFD session as logs, metrics and the gRPC API show it.
struct bfd_status {
  bool multihop = false;
  bool available = false;  // false: the BFD port could not be opened; BGP runs without BFD
  bool bgp_held = false;   // BGP waits for BFD Up
  bfd::bfd_state state = bfd::bfd_state::down, remote_state = bfd::bfd_state::down;
  bfd::diag local_diag = bfd::diag::none;
  std::uint32_t local_discriminator = 0, remote_discriminator = 0;
  std::chrono::microseconds tx_interval{0}, detection_time{0};  // negotiated
  bfd::session_counters counters;
};

// A read-only picture of a session for metrics, logs and the gRPC API.
struct peer_status {
  std::string address;
  std::uint32_t asn = 0;
  session_state state = session_state::idle;
  std::optional<std::chrono::system_clock::time_point> established_since;
  std::uint16_t hold_time = 0, keepalive = 0;  // negotiated
  std::uint32_t remote_id = 0;
  std::string remote_hostname;
  std::vector<std::string> capabilities;  // negotiated, by name
  std::array<std::uint64_t, 6> messages_in{}, messages_out{};  // by message type; [0] total
  std::size_t advertised_v4 = 0, advertised_v6 = 0, received = 0, stale = 0;
  std::string last_error_sent, last_error_received;
  std::string last_error;  // the more recent of the two
  std::uint64_t flaps = 0;
  std::optional<bfd_status> bfd;  // set when the peer has `bfd` configured
  // For the gRPC API: when the session last became Established (kept after
  // it goes down) and when it last went down.
  std::optional<std::chrono::system_clock::time_point> last_up, last_down;
};

class session : public std::enable_shared_from_this<session> {
 public:
  session(asio::any_io_executor ex, peer_config cfg, std::shared_ptr<speaker_shared> shared);

  void start();
  // Sends Cease (the given notification, or administrative shutdown) and stays down.
  void stop(std::optional<wire::notification_message> n = std::nullopt);
  // BFD AdminDown, then the connection closed without a NOTIFICATION (as a
  // restarting speaker does: the peer keeps our routes as stale); stays down.
  void abandon();
  // An inbound connection from this peer's address (the speaker's listener).
  void accept(tcp::socket socket);
  // Prefixes whose desired state changed; sent after a short coalescing window.
  void routes_changed(const std::vector<wire::ip_prefix>& prefixes);
  // Everything advertised again with the current export (graceful shutdown).
  void resend_all();
  // Sends End-of-RIB if the initial sync is done (after initial_routes_complete).
  void maybe_send_end_of_rib();

  const peer_config& config() const { return cfg_; }
  // The send hold time is local (RFC 9687: nothing is negotiated), so it
  // changes without a restart; a write already pending is measured against
  // the new time from now (0 stops the timer).
  void set_send_hold_time(std::uint16_t seconds);
  // Passive and the connect retry time only matter for the next connection:
  // an Established session takes them without a restart (the speaker
  // restarts sessions that are not Established instead).
  void set_connection_settings(bool passive, std::uint32_t connect_retry);
  session_state state() const { return fsm_.state(); }
  peer_status status() const;
  const adj_rib_out& rib_out() const { return rib_out_; }
  using rib_in_table = std::unordered_map<wire::ip_prefix, std::shared_ptr<const wire::path_attributes>, prefix_hash>;
  // Received routes (never installed anywhere; for inspection).
  const rib_in_table& rib_in() const { return rib_in_; }
  bool stopped() const { return stopped_; }
  // The peer's BFD session (nullptr without BFD, or while stopped).
  const bfd::session* bfd_session() const;
  // For the gRPC API (proto/): the OPENs of the current or last session, the
  // export context adj-out paths are built with, the local TCP address, when
  // each received prefix arrived, and soft reset in (ROUTE-REFRESH, RFC 2918).
  const std::optional<wire::open_message>& remote_open() const { return peer_open_; }
  const std::optional<wire::open_message>& local_open() const { return sent_open_; }
  export_context exported_with() const { return export_ctx(); }
  const std::optional<wire::ip_address>& local_address() const { return local_address_; }
  using rib_in_times = std::unordered_map<wire::ip_prefix, std::chrono::system_clock::time_point, prefix_hash>;
  const rib_in_times& rib_in_since() const { return rib_in_since_; }
  // Asks the peer to send its routes again; false if it cannot (not Established, no capability).
  bool request_refresh();

 private:
  void apply(const fsm_transition& t);
  void handle(fsm_event e, const fsm_input& in = {});
  void note_unanswered_connect(fsm_event e, const fsm_transition& t);
  asio::awaitable<void> do_connect(std::uint64_t gen);
  // The TTL sent and the minimum TTL accepted (eBGP hop limit, RFC 5082
  // GTSM) on a connection of this session, opened or accepted.
  void set_hop_limits(int fd, wire::afi fd_family) const;
  asio::awaitable<void> read_loop(std::uint64_t gen);
  void adopt(tcp::socket socket, std::optional<wire::open_message> open = std::nullopt);
  asio::awaitable<void> read_collision_open(std::uint64_t pending_gen);
  void resolve_collision(const wire::open_message& remote_open);
  // Our attempt failed or timed out with an inbound connection's OPEN
  // waiting: that connection takes over.
  void take_pending_inbound();
  void drop_pending_inbound();
  // Sends Cease with `sub` (best effort) and closes an inbound connection.
  static void refuse(tcp::socket& s, const std::string& why, const std::string& peer,
                     wire::cease_subcode sub = wire::cease_subcode::connection_collision_resolution);
  void on_message(std::span<const std::byte> bytes);
  void on_open(const wire::open_message& o);
  void on_update(const wire::update_message& u, const wire::decoded_message& d);
  void on_route_refresh(const wire::route_refresh_message& r);
  void reject(wire::decode_error e);
  void close_connection();
  void keep_stale_routes(fsm_reason why);
  void end_of_rib_received(wire::family f);
  void send(wire::bytes&& b, wire::message_type t, std::size_t count = 1);
  void do_write();
  void send_notification_now(const wire::notification_message& n);
  void arm(asio::steady_timer& t, std::chrono::milliseconds d, fsm_event e);
  void schedule_flush(std::chrono::milliseconds delay);
  void flush();
  // One more part of the initial full sync; false while it waits for the write queue.
  bool continue_full_sync();
  void send_changes(const rib_changes& c);
  attrs_ref desired(const wire::ip_prefix& p) const;
  export_context export_ctx() const;
  wire::update_context update_ctx() const;
  std::chrono::milliseconds backoff();
  bool negotiated(wire::family f) const;
  bool exportable(const route_attrs& a, wire::afi f) const;
  void changed();
  void attach_bfd();
  void detach_bfd();
  void on_bfd(const bfd::state_change& c);
  bool bgp_allowed() const { return !bfd_svc_ || bfd_gate_.open(); }

  asio::any_io_executor ex_;
  peer_config cfg_;
  std::shared_ptr<speaker_shared> shared_;
  fsm fsm_;
  bool stopped_ = true;

  std::optional<tcp::socket> socket_;
  std::optional<tcp::socket> pending_;  // an inbound connection during Connect / OpenSent / OpenConfirm (§6.8)
  std::uint64_t pending_gen_ = 0;
  // The OPEN read on pending_ while our own attempt (Connect) was still in
  // flight: the collision is decided when that attempt connects or fails.
  std::optional<wire::open_message> pending_open_;
  std::uint64_t gen_ = 0;
  std::optional<wire::ip_address> local_address_;
  wire::bytes rbuf_;
  std::deque<wire::bytes> out_;
  std::size_t queued_bytes_ = 0;  // in out_
  bool writing_ = false;
  // The full sync pauses above the high mark and resumes below the low one.
  static constexpr std::size_t write_queue_high = 8 << 20, write_queue_low = 4 << 20;

  asio::steady_timer connect_retry_timer_, hold_timer_, keepalive_timer_, restart_timer_, flush_timer_, stale_timer_;
  // RFC 9687: armed while a write is pending, re-armed whenever one completes.
  asio::steady_timer send_hold_timer_;
  bool flush_scheduled_ = false;
  std::optional<std::chrono::steady_clock::time_point> last_change_flush_;  // for the leading-edge flush
  unsigned failures_ = 0;  // consecutive, for backoff
  unsigned unanswered_connects_ = 0;  // connect attempts in a row that timed out, for the log
  std::mt19937 rng_;

  std::optional<wire::open_message> peer_open_;
  bool four_octet_ = false, ext_nh_v4_ = false, ext_message_ = false, enhanced_rr_ = false;
  std::vector<wire::family> families_;

  adj_rib_out rib_out_;
  prefix_set dirty_;
  // Per flush: whether an attribute set has a next hop for each family.
  mutable std::unordered_map<const route_attrs*, std::uint8_t> exportable_;
  bool full_sync_ = false;
  bool sync_waiting_ = false;  // the full sync waits for the write queue to drain
  std::size_t sync_slot_ = 0;  // where the full sync goes on
  std::uint64_t sync_layout_ = 0;  // the table's layout generation the walk started in
  bool eor_sent_ = false;
  std::unordered_map<wire::ip_prefix, std::shared_ptr<const wire::path_attributes>, prefix_hash> rib_in_;
  // A restarting peer's routes, kept until its End-of-RIB (RFC 4724 §4.2).
  std::unordered_map<wire::ip_prefix, std::shared_ptr<const wire::path_attributes>, prefix_hash> stale_rib_in_;
  std::chrono::steady_clock::time_point last_update_error_log_{};

  std::optional<std::chrono::system_clock::time_point> established_since_;
  std::array<std::uint64_t, 6> in_{}, out_count_{};
  std::string last_error_sent_, last_error_received_, last_error_;
  std::uint64_t flaps_ = 0;

  std::shared_ptr<bfd::service> bfd_svc_;  // set while a BFD session is attached
  std::uint32_t bfd_disc_ = 0;
  bfd_gate bfd_gate_;
  std::optional<wire::open_message> sent_open_;
  rib_in_times rib_in_since_;
  std::optional<std::chrono::system_clock::time_point> last_up_, last_down_;
};

}  // namespace herald::bgp
