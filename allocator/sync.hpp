// What the allocator controller writes, worked out from the core's decisions
// and the objects in the informer caches (pure: values in, values out; no
// I/O, no clock). The controller (controller.hpp) only sends what these
// functions say: a Service or ServiceGroup that already looks as decided gets
// no write, which is what keeps a steady cluster free of writes.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "allocator/allocator.hpp"
#include "allocator/service.hpp"
#include "allocator/service_group.hpp"
#include "kube/views.hpp"
#include "kube/writes.hpp"

namespace herald::allocator {

// The core's view of a Service from the informer's typed object. Ports
// outside 1..65535 (which the API server refuses) are left out.
service_view view_of(const kube::service& s);

// The core's input for a ServiceGroup from the informer's object.
service_group_input group_input_of(const kube::custom_resource& g);

// The group's spec or creationTimestamp changed (the core must see it); a
// change of status or metadata only (our own status writes) does not count.
bool group_input_changed(const kube::custom_resource& before, const kube::custom_resource& after);

// The state a Service should have: the whole status.loadBalancer.ingress (by
// ip, each with ipMode VIP) and Herald's annotations (nullopt: removed).
struct service_target {
  std::vector<std::string> ingress_ips;
  std::map<std::string, std::optional<std::string>> annotations;
  friend bool operator==(const service_target&, const service_target&) = default;
};
service_target target_of(const service_decision& d);

// The patches that bring `current` to `target`: only the annotations that
// differ, and the ingress list when its ips differ. When addresses are added
// the annotations go first (a reader never sees an address without its pool
// type); when the last address goes the status goes first.
struct service_writes {
  kube::annotation_changes annotations;              // empty: no annotation patch
  std::optional<std::vector<std::string>> ingress;   // nullopt: no status patch
  bool status_first = false;
  bool empty() const { return annotations.empty() && !ingress; }
};
service_writes writes_needed(const service_target& target, const kube::service& current);

// The ServiceGroup status to merge-patch, or nullopt when `current` (the
// stored .status) already says the same. Fields the core no longer reports
// are set to null (removed). Each condition keeps the lastTransitionTime of
// the stored condition of its type when its status did not change, else
// gets `now` (RFC 3339); lastTransitionTime is ignored in the comparison.
std::optional<nlohmann::json> group_status_update(const group_status& s, const nlohmann::json& current,
                                                  const std::string& now);

}  // namespace herald::allocator
