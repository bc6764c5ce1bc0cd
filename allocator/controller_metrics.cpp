// Prometheus text of the controller's own figures (metrics.hpp): leadership,
// informer sync, rebuilds, writes, Kubernetes client errors.
#include "allocator/metrics.hpp"
#include "herald/prometheus.hpp"

namespace herald::allocator {

std::string render_controller_metrics(const controller_figures& f) {
  prometheus::text_writer w;
  w.gauge("herald_allocator_leader", "1 while this replica holds the Lease and writes.", f.leader ? 1 : 0);
  w.family("herald_allocator_informer_synced", "gauge", "1 once the informer has listed its resource.");
  w.sample("herald_allocator_informer_synced", {{"resource", "services"}}, std::uint64_t{f.services_synced});
  w.sample("herald_allocator_informer_synced", {{"resource", "servicegroups"}}, std::uint64_t{f.groups_synced});
  w.counter("herald_allocator_rebuilds_total", "Rebuilds of the allocation table from the caches.", f.rebuilds);
  w.family("herald_allocator_writes_total", "counter", "Successful writes to the API server, by kind.");
  w.sample("herald_allocator_writes_total", {{"kind", "annotations"}}, f.annotation_patches);
  w.sample("herald_allocator_writes_total", {{"kind", "status"}}, f.status_patches);
  w.sample("herald_allocator_writes_total", {{"kind", "group_status"}}, f.group_status_patches);
  w.sample("herald_allocator_writes_total", {{"kind", "event"}}, f.events);
  w.counter("herald_allocator_events_dropped_total", "Events dropped by the per-object rate limit.",
            f.events_dropped);
  w.family("herald_allocator_kube_errors_total", "counter",
           "Failed requests to the API server by operation (409 conflicts excluded).");
  w.sample("herald_allocator_kube_errors_total", {{"operation", "list"}}, f.list_errors);
  w.sample("herald_allocator_kube_errors_total", {{"operation", "watch"}}, f.watch_errors);
  w.sample("herald_allocator_kube_errors_total", {{"operation", "write"}}, f.write_errors);
  w.sample("herald_allocator_kube_errors_total", {{"operation", "event"}}, f.event_errors);
  w.sample("herald_allocator_kube_errors_total", {{"operation", "handler"}}, f.handler_errors);
  w.counter("herald_allocator_write_conflicts_total",
            "Writes refused with 409 (stale resourceVersion); the next informer event retries them.", f.conflicts);
  w.counter("herald_allocator_kube_connections_opened_total",
            "Connections opened to the API server (watches and keep-alive connections for writes).",
            f.kube_connections_opened);
  return w.take();
}

}  // namespace herald::allocator
