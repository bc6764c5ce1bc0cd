// herald-agent's /metrics (Prometheus text format 0.0.4, docs/agent.md
// "Metrics"): BGP sessions per peer, prefixes announced, UPDATEs sent,
// BFD sessions and what the BFD listeners dropped, netlink operations and
// errors, reconcile latency, Kubernetes client errors per informer. Pure:
// figures in, text out (herald/prometheus.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/applier.hpp"
#include "bgp/bfd/io.hpp"
#include "bgp/session.hpp"
#include "herald/prometheus.hpp"

namespace herald::agent {

struct informer_figures {
  std::string resource;  // "services", "bgppeers", ...
  bool synced = false;
  std::uint64_t errors = 0;  // failed lists and watches
  std::uint64_t events = 0;
  std::uint64_t relists = 0;
  std::uint64_t handler_errors = 0;  // handlers that threw, loop restarts (kube/informer.hpp)
  std::uint64_t not_planned = 0;     // changes that could change no plan (service_can_change_plan)
};

struct agent_figures {
  std::vector<bgp::peer_status> peers;
  std::optional<bool> bgp_listener_up;  // none: no --bgp-listen
  // What each BFD listener dropped before a session saw it; none: not open
  // (no peer with bfd of that kind, or the port could not be bound).
  std::optional<bfd::listener_counters> bfd_single_hop, bfd_multihop;
  std::size_t routes_in_table = 0;
  std::size_t routes_held = 0;  // planned but no address on the dummy link
  std::size_t dummy_addresses = 0, local_addresses = 0;
  applier_counters netlink;
  std::vector<informer_figures> informers;
  std::uint64_t kube_write_errors = 0;  // annotation patches, Lease renewals, Events
  std::uint64_t annotation_writes = 0;
  std::uint64_t annotation_conflicts = 0;
  std::uint64_t peer_status_writes = 0;  // BGPPeer /status patches
  std::uint64_t lease_renewals = 0;
  std::uint64_t events_dropped = 0;
  std::uint64_t kube_connections_opened = 0;  // to the API server, watches included
  std::uint64_t plans = 0;
  std::uint64_t fast_path_applies = 0;  // a Service's new address applied before the full plan
  const prometheus::histogram* reconcile_seconds = nullptr;
  bool ready = false;
};

// Upper bounds of the reconcile latency histogram, seconds: 0.5 ms to ~4 s.
prometheus::histogram make_reconcile_histogram();

std::string render_agent_metrics(const agent_figures& f);

}  // namespace herald::agent
