// Rendering of herald-agent's metrics (see metrics.hpp).
#include "agent/metrics.hpp"

#include <algorithm>

namespace herald::agent {

namespace {

// Label values for the drop reasons (bfd/packet.hpp's to_string is prose, for logs).
std::string_view reason_label(bfd::decode_error e) {
  using enum bfd::decode_error;
  switch (e) {
    case too_short: return "too_short";
    case bad_version: return "bad_version";
    case bad_length: return "bad_length";
    case zero_multiplier: return "zero_multiplier";
    case multipoint: return "multipoint";
    case zero_my_discriminator: return "zero_my_discriminator";
    case zero_your_discriminator: return "zero_your_discriminator";
    case auth_mismatch: return "auth_mismatch";
    case bad_auth_length: return "bad_auth_length";
    case count_: break;
  }
  return "unknown";
}

// The listeners that are open, by their label: single_hop, multihop.
std::vector<std::pair<const char*, const bfd::listener_counters*>> open_bfd_listeners(const agent_figures& f) {
  std::vector<std::pair<const char*, const bfd::listener_counters*>> out;
  if (f.bfd_single_hop) out.emplace_back("single_hop", &*f.bfd_single_hop);
  if (f.bfd_multihop) out.emplace_back("multihop", &*f.bfd_multihop);
  return out;
}

void write_bfd(prometheus::text_writer& w, const agent_figures& f) {
  if (std::any_of(f.peers.begin(), f.peers.end(), [](auto& p) { return p.bfd.has_value(); })) {
    w.family("herald_agent_bfd_session_up", "gauge",
             "1 while the BFD session with the peer is Up (peers with bfd only; 0 also when the BFD port could "
             "not be opened).");
    for (const auto& p : f.peers)
      if (p.bfd)
        w.sample("herald_agent_bfd_session_up", {{"peer", p.address}},
                 p.bfd->available && p.bfd->state == bfd::bfd_state::up ? 1.0 : 0.0);
    w.family("herald_agent_bfd_session_down_total", "counter",
             "Times the BFD session with the peer left Up (on a failure its BGP session is closed with it; "
             "not on AdminDown).");
    for (const auto& p : f.peers)
      if (p.bfd) w.sample("herald_agent_bfd_session_down_total", {{"peer", p.address}}, p.bfd->counters.went_down);
  }
  auto listeners = open_bfd_listeners(f);
  if (listeners.empty()) return;
  w.family("herald_agent_bfd_packets_received_total", "counter", "BFD control packets the listener read.");
  for (auto [listener, c] : listeners)
    w.sample("herald_agent_bfd_packets_received_total", {{"listener", listener}}, c->received);
  w.family("herald_agent_bfd_packets_dropped_total", "counter",
           "BFD control packets the listener dropped before a session saw them: TTL not 255 (RFC 5881 §5), no "
           "session for them, or malformed (RFC 5880 §6.8.6), per reason.");
  for (auto [listener, c] : listeners) {
    w.sample("herald_agent_bfd_packets_dropped_total", {{"listener", listener}, {"reason", "bad_ttl"}}, c->bad_ttl);
    w.sample("herald_agent_bfd_packets_dropped_total", {{"listener", listener}, {"reason", "no_session"}},
             c->no_session);
    for (std::size_t i = 0; i < bfd::decode_error_count; ++i)
      w.sample("herald_agent_bfd_packets_dropped_total",
               {{"listener", listener}, {"reason", reason_label(static_cast<bfd::decode_error>(i))}},
               c->malformed.by_reason[i]);
  }
}

}  // namespace

prometheus::histogram make_reconcile_histogram() { return prometheus::histogram::exponential(0.0005, 2, 14); }

std::string render_agent_metrics(const agent_figures& f) {
  prometheus::text_writer w;
  w.family("herald_agent_bgp_session_up", "gauge", "1 while the BGP session with the peer is Established.");
  for (const auto& p : f.peers) {
    auto asn = std::to_string(p.asn);
    w.sample("herald_agent_bgp_session_up", {{"peer", p.address}, {"peer_asn", asn}},
             p.state == bgp::session_state::established ? 1.0 : 0.0);
  }
  if (f.bgp_listener_up)
    w.gauge("herald_agent_bgp_listener_up",
            "1 while the BGP listener (--bgp-listen) accepts connections; 0: it could not bind.",
            *f.bgp_listener_up ? 1.0 : 0.0);
  w.family("herald_agent_bgp_prefixes_announced", "gauge", "Prefixes advertised to the peer, per family.");
  for (const auto& p : f.peers) {
    w.sample("herald_agent_bgp_prefixes_announced", {{"peer", p.address}, {"family", "ipv4-unicast"}},
             static_cast<double>(p.advertised_v4));
    w.sample("herald_agent_bgp_prefixes_announced", {{"peer", p.address}, {"family", "ipv6-unicast"}},
             static_cast<double>(p.advertised_v6));
  }
  w.family("herald_agent_bgp_updates_sent_total", "counter", "UPDATE messages sent to the peer.");
  for (const auto& p : f.peers)
    w.sample("herald_agent_bgp_updates_sent_total", {{"peer", p.address}}, std::uint64_t{p.messages_out[2]});
  w.family("herald_agent_bgp_session_flaps_total", "counter", "Times the session left Established.");
  for (const auto& p : f.peers) w.sample("herald_agent_bgp_session_flaps_total", {{"peer", p.address}}, p.flaps);
  write_bfd(w, f);
  w.gauge("herald_agent_routes", "Routes in the speaker's table (announced to matching peers).",
          static_cast<double>(f.routes_in_table));
  w.gauge("herald_agent_routes_held", "Planned routes not announced because no address they cover is on the dummy link.",
          static_cast<double>(f.routes_held));
  w.family("herald_agent_addresses", "gauge", "Addresses Herald wants on the node, per link kind.");
  w.sample("herald_agent_addresses", {{"link", "dummy"}}, static_cast<double>(f.dummy_addresses));
  w.sample("herald_agent_addresses", {{"link", "local"}}, static_cast<double>(f.local_addresses));
  w.counter("herald_agent_netlink_operations_total", "Addresses added, removed or renewed.", f.netlink.netlink_operations);
  w.counter("herald_agent_netlink_errors_total", "Netlink failures (link or address refused by the kernel).",
            f.netlink.netlink_errors);
  w.counter("herald_agent_garp_announcements_total", "Gratuitous ARP / unsolicited NA announcements started.",
            f.netlink.garp_sent);
  w.counter("herald_agent_garp_errors_total", "Gratuitous ARP / unsolicited NA failures.", f.netlink.garp_errors);
  w.counter("herald_agent_plans_total", "Plans computed and applied.", f.plans);
  w.counter("herald_agent_fast_path_applies_total",
            "Service addresses added and announced before the full plan (the fast path).", f.fast_path_applies);
  if (f.reconcile_seconds) {
    w.family("herald_agent_reconcile_duration_seconds", "histogram",
             "From the first change seen (before the debounce) to the plan applied to netlink and the speaker.");
    f.reconcile_seconds->write(w, "herald_agent_reconcile_duration_seconds");
  }
  w.family("herald_agent_kube_informer_synced", "gauge", "1 once the informer's first list completed.");
  for (const auto& i : f.informers) w.sample("herald_agent_kube_informer_synced", {{"resource", i.resource}}, i.synced ? 1.0 : 0.0);
  w.family("herald_agent_kube_errors_total", "counter",
           "Kubernetes API failures: lists and watches per informer, and writes (resource=\"writes\").");
  for (const auto& i : f.informers) w.sample("herald_agent_kube_errors_total", {{"resource", i.resource}}, i.errors);
  w.sample("herald_agent_kube_errors_total", {{"resource", "writes"}}, f.kube_write_errors);
  w.family("herald_agent_kube_handler_errors_total", "counter",
           "Informer handlers that threw and list/watch loops restarted after an exception (logged as errors).");
  for (const auto& i : f.informers)
    w.sample("herald_agent_kube_handler_errors_total", {{"resource", i.resource}}, i.handler_errors);
  w.family("herald_agent_kube_watch_events_total", "counter", "Watch events received per informer.");
  for (const auto& i : f.informers) w.sample("herald_agent_kube_watch_events_total", {{"resource", i.resource}}, i.events);
  w.family("herald_agent_kube_changes_not_planned_total", "counter",
           "Changes that could change no plan, so planned nothing: Services not Herald's or without an address, "
           "Service updates of only the announcing annotations, and the EndpointSlices of any Service but a "
           "planned one with externalTrafficPolicy Local.");
  for (const auto& i : f.informers)
    w.sample("herald_agent_kube_changes_not_planned_total", {{"resource", i.resource}}, i.not_planned);
  w.family("herald_agent_annotation_writes_total", "counter", "herald.dev/announcing-* annotation patches, by result.");
  w.sample("herald_agent_annotation_writes_total", {{"result", "written"}}, f.annotation_writes);
  w.sample("herald_agent_annotation_writes_total", {{"result", "conflict"}}, f.annotation_conflicts);
  w.counter("herald_agent_bgppeer_status_writes_total", "BGPPeer status patches this agent wrote.",
            f.peer_status_writes);
  w.counter("herald_agent_lease_renewals_total", "Successful renewals of this node's Lease.", f.lease_renewals);
  w.counter("herald_agent_kube_connections_opened_total",
            "Connections opened to the API server (watches and keep-alive connections for writes).",
            f.kube_connections_opened);
  w.counter("herald_agent_events_dropped_total", "Events the per-object rate limit dropped.", f.events_dropped);
  w.gauge("herald_agent_ready", "1 once every informer synced and the first plan was applied.", f.ready ? 1.0 : 0.0);
  return w.take();
}

}  // namespace herald::agent
