// Prometheus text exposition (format 0.0.4) of the allocator's figures: pool
// size and addresses in use per ServiceGroup and family, allocations by
// result. Pure: statuses and counters in, text out; the HTTP endpoint that
// serves it belongs to the controller.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "allocator/allocator.hpp"

namespace herald::allocator {

// Metric families (all gauges/counters carry HELP and TYPE lines):
//   herald_allocator_pool_addresses{group,family}         gauge
//   herald_allocator_pool_addresses_in_use{group,family}  gauge
//   herald_allocator_allocations_total{result}            counter: assigned, shared, failed
//   herald_allocator_releases_total                       counter
std::string render_metrics(const std::vector<group_status>& groups, const allocation_counters& counters);

// The controller's own figures (controller.hpp).
struct controller_figures {
  bool leader = false;
  bool services_synced = false;
  bool groups_synced = false;
  std::uint64_t rebuilds = 0;
  // Writes that succeeded, by kind.
  std::uint64_t annotation_patches = 0;
  std::uint64_t status_patches = 0;
  std::uint64_t group_status_patches = 0;
  std::uint64_t events = 0;
  std::uint64_t events_dropped = 0;  // by the per-object rate limit
  // Kubernetes client errors by operation; conflicts (409) are counted apart.
  std::uint64_t list_errors = 0;
  std::uint64_t watch_errors = 0;
  std::uint64_t write_errors = 0;
  std::uint64_t event_errors = 0;
  std::uint64_t handler_errors = 0;  // informer handlers that threw, loop restarts (kube/informer.hpp)
  std::uint64_t conflicts = 0;
  std::uint64_t kube_connections_opened = 0;  // to the API server, watches included (kube::client)
};

// Metric families:
//   herald_allocator_leader                                   gauge 0/1
//   herald_allocator_informer_synced{resource}                gauge 0/1: services, servicegroups
//   herald_allocator_rebuilds_total                           counter
//   herald_allocator_writes_total{kind}                       counter: annotations, status, group_status, event
//   herald_allocator_events_dropped_total                     counter
//   herald_allocator_kube_errors_total{operation}             counter: list, watch, write, event, handler
//   herald_allocator_write_conflicts_total                    counter
//   herald_allocator_kube_connections_opened_total            counter
std::string render_controller_metrics(const controller_figures& f);

}  // namespace herald::allocator
