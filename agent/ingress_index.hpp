// Which Services hold which load-balancer addresses (status.loadBalancer
// ingress), kept from the Service informer's changes. The fast path
// (runtime.cpp apply_service_early, plan.hpp additions_only) must refuse a
// prefix another Service has an address in (a shared address, an
// aggregate): this answers that with a range lookup instead of a scan of
// every Service that parses each address, which at 10,000 Services cost
// more than the rest of the fast path together (BENCHMARKS.md "Stop 26",
// bench-agent-event). Pure: Service views in, answers out.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bgp/wire/types.hpp"
#include "kube/views.hpp"

namespace herald::agent {

class ingress_index {
 public:
  // One informer change: `before` is the Service's previous state (null when
  // it was added), `after` its new state (null when it was deleted).
  // Ingress entries that are not IP addresses (a hostname) are not indexed.
  // A Service's addresses are let go by its namespace/name, whatever
  // `before` carries (a delete event's last state need not be the cached one).
  void update(const kube::service* before, const kube::service* after);
  // Whether a Service other than `self` (by namespace/name) has an ingress
  // address inside p.
  bool other_service_in(const bgp::wire::ip_prefix& p, const kube::service& self) const;
  // Distinct (address, Service) pairs held.
  std::size_t size() const { return entries_.size(); }

 private:
  std::set<std::pair<bgp::wire::ip_address, std::string>> entries_;  // (address, "ns/name")
  std::map<std::string, std::vector<bgp::wire::ip_address>, std::less<>> addresses_of_;  // "ns/name" → indexed
};

}  // namespace herald::agent
