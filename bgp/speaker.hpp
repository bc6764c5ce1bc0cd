// The speaker: one session per peer, the listener for passive accepts, and
// the desired route table every session exports from. Its API is desired
// state: announce / withdraw / set_routes, and initial_routes_complete() to
// say when End-of-RIB may go out (RFC 4724 §4.1). Graceful shutdown (RFC
// 8326) on request. Runs on one io_context thread (DESIGN.md "Threading").
#pragma once

#include <boost/asio.hpp>
#include <functional>
#include <map>
#include <memory>
#include <unordered_set>
#include <vector>

#include "bgp/config.hpp"
#include "bgp/session.hpp"

namespace herald::bgp {

class speaker {
 public:
  speaker(asio::any_io_executor ex, speaker_config cfg);
  ~speaker();

  // Opens the listener (if configured) and starts every session. Returns an
  // error if the listener cannot bind; the sessions start all the same
  // (without a listener, passive ones cannot come up).
  boost::system::error_code start();
  // Whether the listener is open (false also when none is configured).
  bool listening() const { return acceptor_ && acceptor_->is_open(); }
  // New configuration: peers added, removed or changed are started, stopped
  // (Cease / Peer De-configured) or restarted (Cease / Other Configuration
  // Change); routes are replaced as by set_routes(). A change of the send
  // hold time alone, or (on an Established session) of passive and the
  // connect retry time, keeps the session.
  void reconfigure(speaker_config cfg);

  void announce(const wire::ip_prefix& p, const route_attrs& a);
  // Adds or replaces these routes and leaves the rest of the table: one
  // batch, so one UPDATE per family and peer where the attributes agree.
  void add_routes(const route_list& routes);
  void withdraw(const wire::ip_prefix& p);
  // Replaces the whole route table; only the difference goes out.
  void set_routes(const route_list& routes);
  // Every route the owner will announce after a (re)start is in: End-of-RIB may follow.
  void initial_routes_complete();

  // Graceful shutdown when cfg.drain is set: re-announce with
  // GRACEFUL_SHUTDOWN, wait, withdraw all, then Cease / Administrative
  // Shutdown with `reason` (RFC 9003). Without drain: Cease at once.
  // `done` runs when every session is closed.
  void shutdown(std::string reason, std::function<void()> done);
  // For a restart (the next speaker comes within the peers' graceful-restart
  // time): BFD goes AdminDown (RFC 5882 §3.2: no path failure) and every
  // connection closes without a NOTIFICATION, so a peer that negotiated
  // graceful restart keeps our routes as stale (RFC 4724 §4.2) until the next
  // speaker's End-of-RIB: no route leaves the peer. Sessions stay down.
  void close_for_restart();

  std::vector<peer_status> status() const;
  // The session of a configured peer, for inspection (nullptr if none).
  std::shared_ptr<const session> peer(const wire::ip_address& a) const { return find(a); }
  std::size_t route_count() const { return shared_->routes.size(); }
  // Called (on the io thread) whenever a peer's state or counters change.
  void on_change(std::function<void()> f) { shared_->on_change = std::move(f); }
  // What a BFD listener dropped before any session saw it (malformed, per
  // RFC 5880 §6.8.6 reason; TTL not 255; no session); nullopt if not open.
  std::optional<bfd::listener_counters> bfd_counters(bool multihop) const;

  // For the gRPC API (proto/), on the io thread like everything else.
  const speaker_config& config() const { return cfg_; }
  const route_table& routes() const { return shared_->routes; }
  const std::vector<std::shared_ptr<session>>& sessions() const { return sessions_; }
  // Operator routes (gobgp global rib add / del): announced like the owner's
  // routes, and kept across set_routes() and reconfigure(). One for a prefix
  // the owner also announces hides the owner's until it is removed.
  void add_operator_route(const wire::ip_prefix& p, const route_attrs& a);
  bool remove_operator_route(const wire::ip_prefix& p);
  // Routes added through the gRPC API (few): prefix → attributes.
  using operator_route_table = std::unordered_map<wire::ip_prefix, attrs_ref, prefix_hash>;
  const operator_route_table& operator_routes() const { return operator_routes_; }
  // Records when each route last changed (route_since); off by default,
  // since it costs a map entry per route.
  void keep_route_times() { keep_route_times_ = true; }
  std::optional<std::chrono::system_clock::time_point> route_since(const wire::ip_prefix& p) const;

 private:
  asio::awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor);
  void set_table_entry(const wire::ip_prefix& p, attrs_ref a, std::vector<wire::ip_prefix>* changed);
  void write_table_entry(const wire::ip_prefix& p, attrs_ref a, std::vector<wire::ip_prefix>* changed);
  void notify(const std::vector<wire::ip_prefix>& changed);
  bool any_established() const;
  attrs_ref intern(const attrs_ref& a);
  // Installs p's TCP MD5 key on the listener, appends its session to
  // sessions and starts it.
  void start_session(const peer_config& p, std::vector<std::shared_ptr<session>>& sessions);
  void warn_if_passive_without_listener(const peer_config& p) const;
  std::shared_ptr<session> find(const wire::ip_address& a) const;

  asio::any_io_executor ex_;
  speaker_config cfg_;
  std::shared_ptr<speaker_shared> shared_;
  std::vector<std::shared_ptr<session>> sessions_;
  std::shared_ptr<tcp::acceptor> acceptor_;
  // Connections held for the first configuration (cfg.early_connection_hold).
  struct held_connection {
    tcp::socket socket;
    wire::ip_address from;
  };
  static constexpr std::size_t max_held_connections = 64;
  bool configured_ = false;  // reconfigure() has run
  std::vector<held_connection> held_;
  asio::steady_timer held_timer_;
  bool hold_for_configuration(tcp::socket& socket, const wire::ip_address& from);
  // Hands each held connection to its session, or refuses it (`why`).
  void release_held(const char* why);
  // One shared object per distinct attribute set, found by value in constant
  // time: a table of routes that each carry their own MED or weight must not
  // make every insertion scan all the sets before it.
  struct attrs_value_hash {
    std::size_t operator()(const attrs_ref& a) const noexcept;
  };
  struct attrs_value_equal {
    bool operator()(const attrs_ref& a, const attrs_ref& b) const noexcept { return a == b || *a == *b; }
  };
  std::unordered_set<attrs_ref, attrs_value_hash, attrs_value_equal> interned_;
  std::size_t writes_since_sweep_ = 0;  // route table writes since unused sets were last dropped
  asio::steady_timer drain_timer_;
  operator_route_table operator_routes_;
  std::unordered_map<wire::ip_prefix, attrs_ref, prefix_hash> hidden_;  // owner routes an operator route hides (null: none)
  bool keep_route_times_ = false;
  std::unordered_map<wire::ip_prefix, std::chrono::system_clock::time_point, prefix_hash> route_times_;
};

}  // namespace herald::bgp
