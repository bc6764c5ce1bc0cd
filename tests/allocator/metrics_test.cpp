// The allocator's Prometheus text: exact lines for a small state, label
// escaping, and `promtool check metrics` on the output when promtool is
// installed (Debian's prometheus package; the test says so when it is not).
#include <catch2/catch.hpp>

#include <string>

#include "allocator/metrics.hpp"
#include "allocator/promtool.hpp"

using namespace herald::allocator;
using json = nlohmann::json;

namespace {
std::string metrics_text() {
  allocator a;
  a.apply_group({"default", "2026-01-01T00:00:00Z", json::parse(R"({"remote": {
      "v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28"},
      "v6pool": {"subnet": "2001:db8::/64", "pool": "2001:db8::/64"}}})")});
  a.apply_group({"we\"ird\\name", "2026-01-02T00:00:00Z", json::parse(R"({"local": {
      "v4pool": {"subnet": "198.51.100.0/24", "pool": "198.51.100.0/30"}}})")});
  service_view v;
  v.ns = "default";
  v.name = "web";
  v.uid = "u";
  v.type = "LoadBalancer";
  v.ip_families = {"IPv4", "IPv6"};
  v.ip_family_policy = "PreferDualStack";
  a.apply_service(v);
  return render_metrics(a.group_statuses(), a.counters());
}
}  // namespace

TEST_CASE("metrics text: pool size and in use per group and family, allocations by result") {
  auto text = metrics_text();
  CHECK(text.find("# TYPE herald_allocator_pool_addresses gauge\n") != std::string::npos);
  CHECK(text.find("herald_allocator_pool_addresses{group=\"default\",family=\"ipv4\"} 16\n") != std::string::npos);
  CHECK(text.find("herald_allocator_pool_addresses{group=\"default\",family=\"ipv6\"} 1.8446744073709552e+19\n") !=
        std::string::npos);
  CHECK(text.find("herald_allocator_pool_addresses_in_use{group=\"default\",family=\"ipv4\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("herald_allocator_pool_addresses_in_use{group=\"default\",family=\"ipv6\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("herald_allocator_pool_addresses{group=\"we\\\"ird\\\\name\",family=\"ipv4\"} 4\n") !=
        std::string::npos);
  CHECK(text.find("name\\\",family=\"ipv6\"") == std::string::npos);  // no IPv6 pool there
  CHECK(text.find("herald_allocator_allocations_total{result=\"assigned\"} 2\n") != std::string::npos);
  CHECK(text.find("herald_allocator_allocations_total{result=\"failed\"} 0\n") != std::string::npos);
  CHECK(text.find("herald_allocator_releases_total 0\n") != std::string::npos);
}

TEST_CASE("promtool check metrics accepts the text") {
  herald::test::promtool_check(metrics_text());
}
