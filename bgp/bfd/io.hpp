// BFD over UDP (RFC 5881 single hop) on Boost.Asio: one listener per address
// family on port 3784 and, per session, a sending socket bound to the local
// address and a source port in 49152–65535 (§4), with TTL / Hop Limit 255
// (§5). Received packets must arrive with TTL / Hop Limit 255, read from
// IP_RECVTTL / IPV6_RECVHOPLIMIT control messages; others are dropped and
// counted. The pure `session` does the protocol; this class owns sockets and
// one steady_timer per session armed at session::next_deadline(). Everything
// runs on the io_context's single thread (DESIGN.md); no locks.
//
// Multi-hop (RFC 5883) is a service of its own, options::multihop: port
// 4784, TTL / Hop Limit 255 still sent but not required on receive (§5
// leaves the check to configuration; a forwarded packet arrives with less).
//
// Not implemented: authentication, and demultiplexing by interface (Your
// Discriminator 0 is matched on the source address alone, enough for one
// session per peer address).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>

#include "bgp/bfd/session.hpp"
#include "herald/result.hpp"

namespace herald::bfd {

inline constexpr std::uint16_t single_hop_port = 3784;      // RFC 5881 §4
inline constexpr std::uint16_t multi_hop_port = 4784;       // RFC 5883 §5
inline constexpr std::uint16_t source_port_min = 49152;     // RFC 5881 §4
inline constexpr int required_ttl = 255;                    // RFC 5881 §5

// Drops the listener saw before a packet reached a session.
struct listener_counters {
  drop_counters malformed;          // decode() rejections, per reason
  std::uint64_t bad_ttl = 0;        // TTL / Hop Limit not 255, or missing
  std::uint64_t no_session = 0;     // no session for the discriminator or source address
  std::uint64_t received = 0;       // datagrams read
};

class service : public std::enable_shared_from_this<service> {
 public:
  using state_callback = std::function<void(std::uint32_t local_discriminator, const state_change&)>;

  struct options {
    boost::asio::ip::address_v4 listen_v4 = boost::asio::ip::address_v4::any();
    boost::asio::ip::address_v6 listen_v6 = boost::asio::ip::address_v6::any();
    std::uint16_t listen_port = single_hop_port;  // 0 picks a free port (tests)
    bool ipv4 = true;
    bool ipv6 = true;
    bool multihop = false;  // RFC 5883: any received TTL accepted (set listen_port to 4784)
  };

  service(boost::asio::any_io_executor ex, options opt);
  service(boost::asio::io_context& io, options opt) : service(io.get_executor(), opt) {}

  // Binds the listeners and starts reading. Fails if a requested family
  // cannot be bound (port in use, no permission for 3784 without root).
  Result<void> open();

  // The port a listener is bound to (after open()).
  std::uint16_t listen_port(bool v6) const;

  // Starts a session from `local` to `remote`:`peer_port` and returns its
  // local discriminator. Fails if no source port can be bound or the TTL
  // cannot be set. `on_change` is called on the io_context thread.
  Result<std::uint32_t> add_session(const boost::asio::ip::address& local, const boost::asio::ip::address& remote,
                                    session_config cfg, state_callback on_change,
                                    std::uint16_t peer_port = single_hop_port);

  // Stops a session at once, without telling the peer (it will time out).
  void remove_session(std::uint32_t local_discriminator);
  void set_admin_down(std::uint32_t local_discriminator, bool down);

  // nullptr if there is no such session.
  const session* find(std::uint32_t local_discriminator) const;
  const listener_counters& counters() const { return counters_; }

  // Closes every socket and cancels every timer.
  void close();

 private:
  struct peer;
  void do_wait(boost::asio::ip::udp::socket& sock);
  void on_readable(boost::asio::ip::udp::socket& sock);
  void handle_datagram(std::span<const std::byte> data, const boost::asio::ip::address& from, int ttl);
  void apply(peer& p, session_output out);
  void arm(const std::shared_ptr<peer>& p);

  boost::asio::any_io_executor ex_;
  options opt_;
  boost::asio::ip::udp::socket rx4_;
  boost::asio::ip::udp::socket rx6_;
  std::map<std::uint32_t, std::shared_ptr<peer>> peers_;
  std::mt19937 rng_;
  listener_counters counters_;
};

}  // namespace herald::bfd
