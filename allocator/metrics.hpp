// Prometheus text exposition (format 0.0.4) of the allocator's figures: pool
// size and addresses in use per ServiceGroup and family, allocations by
// result. Pure: statuses and counters in, text out; the HTTP endpoint that
// serves it belongs to the controller.
#pragma once

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

}  // namespace herald::allocator
