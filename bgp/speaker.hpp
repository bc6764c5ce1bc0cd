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
#include <vector>

#include "bgp/config.hpp"
#include "bgp/session.hpp"

namespace herald::bgp {

class speaker {
 public:
  speaker(asio::any_io_executor ex, speaker_config cfg);
  ~speaker();

  // Opens the listener (if configured) and starts every session. Returns an
  // error if the listener cannot bind.
  boost::system::error_code start();
  // New configuration: peers added, removed or changed are started, stopped
  // (Cease / Peer De-configured) or restarted (Cease / Other Configuration
  // Change); routes are replaced as by set_routes().
  void reconfigure(speaker_config cfg);

  void announce(const wire::ip_prefix& p, const route_attrs& a);
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

  std::vector<peer_status> status() const;
  // The session of a configured peer, for inspection (nullptr if none).
  std::shared_ptr<const session> peer(const wire::ip_address& a) const { return find(a); }
  std::size_t route_count() const { return shared_->routes.size(); }
  // Called (on the io thread) whenever a peer's state or counters change.
  void on_change(std::function<void()> f) { shared_->on_change = std::move(f); }
  // What a BFD listener dropped before any session saw it (malformed, per
  // RFC 5880 §6.8.6 reason; TTL not 255; no session); nullopt if not open.
  std::optional<bfd::listener_counters> bfd_counters(bool multihop) const;

 private:
  asio::awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor);
  void set_table_entry(const wire::ip_prefix& p, attrs_ref a, std::vector<wire::ip_prefix>& changed);
  void notify(const std::vector<wire::ip_prefix>& changed);
  bool any_established() const;
  attrs_ref intern(const attrs_ref& a);
  void install_md5(const peer_config& p);
  std::shared_ptr<session> find(const wire::ip_address& a) const;

  asio::any_io_executor ex_;
  speaker_config cfg_;
  std::shared_ptr<speaker_shared> shared_;
  std::vector<std::shared_ptr<session>> sessions_;
  std::shared_ptr<tcp::acceptor> acceptor_;
  std::vector<attrs_ref> interned_;  // one shared object per distinct attribute set
  asio::steady_timer drain_timer_;
};

}  // namespace herald::bgp
