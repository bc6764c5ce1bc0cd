// Planner benchmark (not a test): one plan_node() over a cluster of N
// Services (dual stack, Local policy, each with an EndpointSlice per family
// spread over the nodes), M nodes with Leases, two BGPPeers, and a local
// group with N/10 more Services to elect. The agent re-plans on every
// informer event, so this is the floor of its reconcile latency. Prints the
// best of several runs in CPU time (other load on a shared machine only slows
// a run) and wall time.
// Run: ./build-bench/tests/bench-agent-plan [services] [nodes] [runs]
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "agent/plan.hpp"

using namespace herald;
using namespace herald::agent;
using clock_type = std::chrono::steady_clock;

namespace {

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

kube::service service(std::string name, std::vector<std::string> ips, const char* group, const char* type) {
  kube::service s;
  s.meta.ns = "bench";
  s.meta.name = std::move(name);
  s.type = "LoadBalancer";
  s.external_traffic_policy = type[0] == 'r' ? "Local" : "Cluster";
  s.meta.annotations[allocator::annotation::allocated_by] = "herald";
  s.meta.annotations[allocator::annotation::allocated_from] = group;
  s.meta.annotations[allocator::annotation::pool_type] = type;
  for (auto& ip : ips) s.ingress.push_back({ip, "", "VIP", {}});
  return s;
}

cluster_state make_cluster(std::size_t services, std::size_t nodes) {
  cluster_state s;
  s.now = clock_type::time_point{} + std::chrono::hours(1);
  for (std::size_t n = 0; n < nodes; ++n) {
    kube::node node;
    node.meta.name = "node-" + std::to_string(n);
    node.meta.labels["kubernetes.io/hostname"] = node.meta.name;
    s.nodes.push_back(node);
    node_lease l;
    l.node = node.meta.name;
    l.subnets.push_back({boost::asio::ip::make_address("10.0.0.0"), 16});
    l.expires = s.now + std::chrono::seconds(10);
    s.leases.push_back(l);
  }
  auto group = [](const char* spec) {
    kube::custom_resource r;
    r.spec = nlohmann::json::parse(spec);
    return group_entry_from(r);
  };
  s.groups["remote"] = group(R"({"remote": {"v4pool": {"pool": "198.18.0.0/15", "subnet": "198.18.0.0/15",
      "aggregation": "/32"}, "v6pool": {"pool": "2001:db8::/64", "subnet": "2001:db8::/64", "aggregation": "/128"},
      "communities": ["65000:1"], "weightedECMP": true}})");
  s.groups["lan"] = group(R"({"local": {"v4pool": {"pool": "10.0.200.0/24", "subnet": "10.0.0.0/16"}}})");
  for (const char* addr : {"192.0.2.1", "2001:db8:ff::1"}) {
    kube::custom_resource r;
    r.meta.ns = "herald-system";
    r.meta.name = std::string("tor-") + addr;
    r.spec = {{"peerAddress", addr}, {"peerASN", 65000}, {"myASN", 65001}};
    s.peers.push_back(*parse_bgp_peer(r, "herald-system"));
  }
  for (std::size_t i = 0; i < services; ++i) {
    auto name = "svc-" + std::to_string(i);
    char v4[32], v6[64];
    std::snprintf(v4, sizeof v4, "198.18.%zu.%zu", i / 250, i % 250 + 1);
    std::snprintf(v6, sizeof v6, "2001:db8::%zx", i + 1);
    s.services.push_back(service(name, {v4, v6}, "remote", "remote"));
    for (const char* fam : {"IPv4", "IPv6"}) {
      kube::endpoint_slice sl;
      sl.meta.ns = "bench";
      sl.meta.name = name + "-" + fam;
      sl.meta.labels[std::string(kube::service_name_label)] = name;
      sl.address_type = fam;
      for (std::size_t k = 0; k < 3; ++k) {
        kube::endpoint e;
        e.addresses.push_back("x");
        e.node_name = "node-" + std::to_string((i + k * 7) % nodes);
        sl.endpoints.push_back(e);
      }
      s.endpoint_slices.push_back(sl);
    }
  }
  for (std::size_t i = 0; i < services / 10 && i < 250; ++i)
    s.services.push_back(service("local-" + std::to_string(i), {"10.0.200." + std::to_string(i + 1)}, "lan", "local"));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t services = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000;
  std::size_t nodes = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 100;
  int runs = argc > 3 ? std::atoi(argv[3]) : 7;
  auto state = make_cluster(services, nodes);
  node_facts facts;
  facts.local_interface = "eth0";
  facts.local_subnets.push_back({boost::asio::ip::make_address("10.0.0.0"), 16});
  double best_cpu = 1e9, best_wall = 1e9;
  std::size_t routes = 0, dummy = 0, local = 0;
  for (int r = 0; r < runs; ++r) {
    auto w0 = clock_type::now();
    double c0 = cpu_seconds();
    auto plan = plan_node(state, "node-0", facts);
    best_cpu = std::min(best_cpu, cpu_seconds() - c0);
    best_wall = std::min(best_wall, std::chrono::duration<double>(clock_type::now() - w0).count());
    routes = plan.speaker.routes.size();
    dummy = plan.dummy_addresses.size();
    local = plan.local_addresses.size();
  }
  std::printf("plan_node: %zu Services (+%zu local), %zu nodes: %.2f ms CPU, %.2f ms wall (best of %d); "
              "node-0 announces %zu routes, holds %zu dummy and %zu local addresses\n",
              services, std::min<std::size_t>(services / 10, 250), nodes, best_cpu * 1e3, best_wall * 1e3, runs,
              routes, dummy, local);
  return routes == 0 ? 1 : 0;
}
