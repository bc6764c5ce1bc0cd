// Speaker configuration values: peers, routes and their attributes. Plain
// values, filled from the standalone JSON file (speaker_config_json.cpp) or,
// later, from BGPPeer and ServiceGroup objects by the agent.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bgp/wire/types.hpp"

namespace herald::bgp {

// BFD for one peer (RFC 5880, 5881; RFC 5883 for multihop eBGP peers):
// set, the BGP session runs only while BFD is Up (docs/bfd.md).
struct peer_bfd {
  std::uint32_t min_tx_ms = 300;  // our Desired Min TX Interval
  std::uint32_t min_rx_ms = 300;  // our Required Min RX Interval
  std::uint8_t multiplier = 3;    // our Detect Mult, at least 1
  std::uint16_t port = 0;         // the peer's UDP port; 0: 3784, or 4784 for multihop (tests change it)
  friend bool operator==(const peer_bfd&, const peer_bfd&) = default;
};

struct peer_config {
  wire::ip_address address;
  std::uint32_t asn = 0;
  std::uint32_t local_asn = 0;
  std::uint16_t port = 179;
  std::uint16_t hold_time = 90;   // 0, or at least 3 (RFC 4271 §4.2)
  std::uint16_t keepalive = 30;   // at most hold_time / 3 is used
  // RFC 9687: a session that could send nothing for this long (the peer
  // stopped reading, though it may still send KEEPALIVEs) is closed.
  // 8 minutes is the RFC's suggestion; 0 turns the timer off.
  std::uint16_t send_hold_time = 480;
  std::uint32_t connect_retry = 5;  // seconds, first retry; backoff doubles up to 60 s
  std::string password;           // TCP MD5 (RFC 2385); empty for none
  bool passive = false;
  std::optional<wire::ip_address> source_address;
  std::uint8_t ebgp_multihop = 1;  // TTL sent on eBGP sessions
  bool ttl_security = false;       // RFC 5082: send 255, require 256 - ebgp_multihop
  std::vector<wire::family> families;  // empty: the peer address's family
  std::optional<wire::ip_address> next_hop_v4, next_hop_v6;  // default: next hop self
  std::uint32_t max_prefixes = 10000;  // received, per peer (RFC 4486 Cease subcode 1)
  std::optional<peer_bfd> bfd;         // none: no BFD, the hold timer alone detects failures
  // Who configured the peer, for logs and `gobgp neighbor` (GoBGP's and
  // BIRD's description): the agent sets "BGPPeer <namespace>/<name>".
  std::string description;
  bool ebgp() const { return asn != local_asn; }
  // RFC 5883 multi-hop BFD: eBGP peers configured more than one hop away.
  bool bfd_multihop() const { return ebgp() && ebgp_multihop > 1; }
  std::string name() const;  // "192.0.2.1 AS65000", or "BGPPeer ns/name (192.0.2.1 AS65000)", for logs
  friend bool operator==(const peer_config&, const peer_config&) = default;
};

// What a route carries besides its prefix; shared by many prefixes.
struct route_attrs {
  std::vector<std::uint32_t> communities;
  std::vector<wire::large_community> large_communities;
  std::vector<wire::extended_community> ext_communities;
  std::optional<std::uint32_t> local_pref;  // iBGP only
  std::optional<std::uint32_t> med;
  std::uint8_t as_path_prepend = 0;         // extra copies of our AS, eBGP only
  std::optional<wire::ip_address> next_hop;  // explicit next hop; default next hop self
  std::vector<wire::ip_address> peers;      // only these peers; empty means all
  bool for_peer(const wire::ip_address& peer) const;
  friend bool operator==(const route_attrs&, const route_attrs&) = default;
};

// Routes share their attribute objects: a million prefixes from one pool
// carry one route_attrs, not a million copies.
using attrs_ref = std::shared_ptr<const route_attrs>;
using route_list = std::vector<std::pair<wire::ip_prefix, attrs_ref>>;

struct speaker_config {
  std::uint32_t router_id = 0;  // host order
  std::uint32_t local_asn = 0;
  std::optional<wire::ip_address> listen_address;  // passive accept; none = no listener
  std::uint16_t listen_port = 179;
  std::string hostname;
  bool graceful_restart = true;
  std::uint16_t restart_time = 120;
  std::optional<std::chrono::seconds> drain;  // graceful shutdown (RFC 8326) on stop
  // A speaker whose peers come later (herald-agent: with its first plan)
  // holds a connection accepted before the first reconfigure() from an
  // address no session has, this long, for that configuration to claim;
  // refused, the router tries again only after its connect retry time (120 s
  // by default in BIRD, FRR and GoBGP): for a passive peer, the session's
  // only way up. 0: refused at once.
  std::chrono::seconds early_connection_hold{0};
  // Local BFD ports (single hop 3784, multihop 4784); 0 picks a free one (tests without root).
  std::uint16_t bfd_port = 3784, bfd_multihop_port = 4784;
  std::vector<peer_config> peers;
  route_list routes;  // in file order, no prefix twice
};

}  // namespace herald::bgp
