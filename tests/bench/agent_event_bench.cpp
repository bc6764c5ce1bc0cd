// The agent's fast-path decision per Service status event (not a test):
// the watch line parsed (nlohmann), the Service view read from it, the
// informer cache and the Service address index updated, the one-Service
// plan (service_planner) and additions_only() with its lookup for another
// Service in the prefix, as agent/runtime.cpp apply_service_early runs them
// (the same functions), for a Service like benchmark 1b's among others with
// addresses (50 by default, as in 1b; the third argument sets how many: a
// large cluster's node holds them all on kube-lb0, which the fast path also
// checks), three nodes, one peer. With `local` as the fourth argument the
// Service is externalTrafficPolicy Local, with a ready endpoint on this node,
// and every other Service has an EndpointSlice in the same namespace: the
// Service's own slices are then read from the slice cache by the slice
// index as the fast path reads them (step "slices").
// Netlink and the speaker are not included (they need the kernel and a peer).
//
// Two figures, medians in µs per event:
// - hot: events back to back, caches warm;
// - after idle: a 50 ms sleep before each event, as benchmark 1b spaces its
//   Services: the CPU idles in between and the code runs cold (on the VMs
//   this was measured on, several times slower).
// Run: ./build-bench/tests/bench-agent-event [events] [idle_events] [other_services] [cluster|local]
#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/applier.hpp"
#include "agent/ingress_index.hpp"
#include "agent/plan.hpp"
#include "agent/slice_index.hpp"
#include "kube/cache.hpp"

using namespace herald;
using namespace herald::agent;

namespace {

// A watch event as the API-server emulator sends it for 1b's status write.
constexpr const char* watch_line =
    R"({"type":"MODIFIED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"node-part-7",)"
    R"("namespace":"default","uid":"5b0c4a0e-4b64-4c2e-9a53-3d1f4f1a2b7c","resourceVersion":"1234",)"
    R"("creationTimestamp":"2026-12-01T00:27:29Z","annotations":{"herald.dev/allocated-by":"herald",)"
    R"("herald.dev/allocated-from":"default","herald.dev/pool-type":"remote"}},"spec":{"type":"LoadBalancer",)"
    R"("externalTrafficPolicy":"Cluster","ports":[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP",)"
    R"("nodePort":31234}],"selector":{"app":"node-part-7"},"clusterIP":"10.96.0.17","clusterIPs":["10.96.0.17"],)"
    R"("ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","sessionAffinity":"None"},)"
    R"("status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.107","ipMode":"VIP"}]}}}})";

double now_us() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

cluster_state make_cluster() {
  cluster_state s;
  s.now = std::chrono::steady_clock::now();
  for (int n = 0; n < 3; ++n) {
    kube::node node;
    node.meta.name = "node-" + std::to_string(n);
    s.nodes.push_back(node);
    node_lease l;
    l.node = node.meta.name;
    l.expires = s.now + std::chrono::hours(1);
    s.leases.push_back(l);
  }
  kube::custom_resource g;
  g.spec = nlohmann::json::parse(
      R"({"remote": {"v4pool": {"pool": "203.0.113.0/24", "subnet": "203.0.113.0/24", "aggregation": "/32"}}})");
  s.groups["default"] = group_entry_from(g);
  kube::custom_resource r;
  r.meta.ns = "herald-system";
  r.meta.name = "router";
  r.spec = {{"peerAddress", "198.51.100.1"}, {"peerASN", 65000}, {"myASN", 65001}};
  s.peers.push_back(*parse_bgp_peer(r, "herald-system"));
  return s;
}

// One ready endpoint of Service default/`service` on `node`.
kube::endpoint_slice slice_of(const std::string& service, const std::string& node) {
  kube::endpoint_slice sl;
  sl.meta.ns = "default";
  sl.meta.name = service + "-x7k2p";
  sl.meta.labels[std::string(kube::service_name_label)] = service;
  sl.address_type = "IPv4";
  sl.endpoints.push_back({{"10.244.0.7"}, {true, true, false}, node, ""});
  sl.ports.push_back({"http", "TCP", 8080});
  return sl;
}

enum step { parse, view, cache, slices, plan, check, steps };
constexpr std::array<const char*, steps> step_names{"parse", "view", "cache", "slices", "plan", "check"};

struct samples {
  std::array<std::vector<double>, steps> by_step;
  std::vector<double> total;
  double median(std::vector<double> v) const {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  }
  void print(const char* what) const {
    std::printf("agent event (%s, %zu events): median %.1f µs:", what, total.size(), median(total));
    for (int i = 0; i < steps; ++i) std::printf(" %s %.1f", step_names[i], median(by_step[i]));
    std::printf("\n");
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int hot_events = argc > 1 ? std::atoi(argv[1]) : 5000;
  const int idle_events = argc > 2 ? std::atoi(argv[2]) : 60;
  const int other_services = argc > 3 ? std::atoi(argv[3]) : 50;
  const std::string_view policy = argc > 4 ? argv[4] : "cluster";
  if (policy != "cluster" && policy != "local") {
    std::fprintf(stderr, "bench-agent-event: the fourth argument is cluster or local, not \"%s\"\n", argv[4]);
    return 2;
  }
  const bool local_policy = policy == "local";
  std::printf("agent event benchmark: %d other Services with addresses, externalTrafficPolicy %s\n",
              other_services, local_policy ? "Local" : "Cluster");
  std::string event_line = watch_line;
  if (local_policy) event_line.replace(event_line.find("\"Cluster\""), 9, "\"Local\"");
  auto state = make_cluster();
  node_facts facts;
  kube::object_cache<kube::service> cache;
  kube::object_cache<kube::endpoint_slice> slice_cache;
  slice_index slices_by_service;  // kept from the slice cache's changes, as the agent keeps it
  auto add_slice = [&](const kube::endpoint_slice& sl) {
    if (auto c = slice_cache.apply(kube::event_type::added, std::make_shared<const kube::endpoint_slice>(sl)))
      slices_by_service.update(c->old_object.get(), c->object.get());
  };
  ingress_index index;  // kept from the cache's changes, as the agent's informer handlers keep it
  // The others' addresses: 203.0.113.1-50 as in 1b (the event's own is
  // .107), then IPv6 ones; each also on this node's kube-lb0 (desired,
  // sorted and searched as the agent's reconciler keeps it: dummy_wants()).
  std::vector<netlink::ip_address> desired;
  for (int i = 0; i < other_services; ++i) {
    kube::service o;
    o.meta.ns = "default";
    o.meta.name = "other-" + std::to_string(i);
    char v6[40];
    std::snprintf(v6, sizeof v6, "2001:db8:e::%x:%x", i >> 16, i & 0xffff);
    const bool v4 = i < 50;
    o.ingress.push_back({v4 ? "203.0.113." + std::to_string(i + 1) : std::string(v6), "", "VIP", {}});
    desired.push_back(netlink::address_spec::parse(o.ingress.back().ip + (v4 ? "/32" : "/128"))->address);
    cache.apply(kube::event_type::added, std::make_shared<const kube::service>(o));
    index.update(nullptr, &o);
    if (local_policy) add_slice(slice_of(o.meta.name, "node-1"));
  }
  if (local_policy) add_slice(slice_of("node-part-7", "node-0"));
  std::sort(desired.begin(), desired.end());
  auto on_dummy_link = [&](const netlink::ip_address& a) {
    return std::binary_search(desired.begin(), desired.end(), a);
  };
  service_planner planner(state, "node-0", facts);
  std::size_t applied = 0;
  auto run = [&](int events, std::chrono::milliseconds idle) {
    samples out;
    for (int i = 0; i < events; ++i) {
      if (idle.count() > 0) std::this_thread::sleep_for(idle);
      const double t0 = now_us();
      const auto line = nlohmann::json::parse(event_line, nullptr, false);
      const double t1 = now_us();
      auto parsed = kube::service::parse(line["object"]);
      if (!parsed) return out;
      const double t2 = now_us();
      auto object = std::make_shared<const kube::service>(std::move(*parsed));
      if (auto c = cache.apply(kube::event_type::modified, object)) index.update(c->old_object.get(), c->object.get());
      const double t3 = now_us();
      std::vector<kube::endpoint_slice> own_slices;  // as runtime.cpp apply_service_early reads them
      if (object->external_traffic_policy == "Local") own_slices = slices_by_service.slices_of(*object, slice_cache);
      const double t4 = now_us();
      const auto& single = planner.plan(*object, own_slices);
      const double t5 = now_us();
      auto shared = [&](const bgp::wire::ip_prefix& p) { return index.other_service_in(p, *object); };
      auto add = additions_only(single, on_dummy_link, [](const bgp::wire::ip_prefix&) { return false; }, shared);
      const double t6 = now_us();
      if (add) ++applied;
      const std::array<double, steps + 1> t{t0, t1, t2, t3, t4, t5, t6};
      for (int s = 0; s < steps; ++s) out.by_step[s].push_back(t[s + 1] - t[s]);
      out.total.push_back(t6 - t0);
    }
    return out;
  };
  run(100, {}).print("warm-up");
  run(hot_events, {}).print("hot");
  run(idle_events, std::chrono::milliseconds(50)).print("after 50 ms idle");
  // Every event must have taken the fast path, or the figures measure a refusal.
  const auto expected = static_cast<std::size_t>(100 + hot_events + idle_events);
  if (applied != expected) {
    std::printf("error: %zu of %zu events would take the fast path\n", applied, expected);
    return 1;
  }
  return 0;
}
