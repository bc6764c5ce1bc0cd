// ServiceGroup spec parsing: PureLB v2 compatible shapes, BGP attributes on
// remote groups, and errors that name the field and the problem.
#include <catch2/catch.hpp>
#include <fstream>

#include "allocator/service_group.hpp"
#include "result_catch.hpp"

using namespace herald::allocator;
using json = nlohmann::json;

namespace {
std::string spec_error(const char* text) {
  auto r = parse_group_spec(json::parse(text));
  REQUIRE_FALSE(r);
  return r.error();
}
}  // namespace

TEST_CASE("a PureLB v2 local spec parses") {
  auto r = parse_group_spec(json::parse(R"({"local": {
      "v4pools": [{"subnet": "192.0.2.0/24", "pool": "192.0.2.240-192.0.2.250", "aggregation": "default"}],
      "v6pool": {"subnet": "2001:db8:1::/64", "pool": "2001:db8:1::100-2001:db8:1::1ff", "aggregation": "/128"}}})"));
  REQUIRE(r);
  CHECK(r->type == pool_type::local);
  REQUIRE(r->pools_of(ip_family::v4).size() == 1);
  CHECK(r->pools_of(ip_family::v4)[0].aggregation == 24);
  CHECK(r->pools_of(ip_family::v4)[0].pool.size() == 11);
  REQUIRE(r->pools_of(ip_family::v6).size() == 1);
  CHECK(r->pools_of(ip_family::v6)[0].aggregation == 128);
  CHECK_FALSE(r->multi_pool);
  CHECK(r->allows_namespace("anything"));
}

TEST_CASE("a remote spec with BGP attributes, multiPool, balancePools and namespaces") {
  auto r = parse_group_spec(json::parse(R"({"namespaces": ["web", "db"], "remote": {
      "v4pool": {"subnet": "198.51.100.0/24", "pool": "198.51.100.0/26", "aggregation": "/32"},
      "v4pools": [{"subnet": "203.0.113.0/24", "pool": "203.0.113.0/28"}],
      "multiPool": true, "balancePools": true,
      "communities": ["65000:100", "no-export"], "largeCommunities": ["4200000000:1:2"],
      "localPref": 200, "med": 10}})"));
  REQUIRE(r);
  CHECK(r->type == pool_type::remote);
  CHECK(r->pools_of(ip_family::v4).size() == 2);
  CHECK(r->pools_of(ip_family::v4)[1].aggregation == 24);  // "default" when absent
  CHECK(r->multi_pool);
  CHECK(r->balance_pools);
  CHECK(r->communities == std::vector<std::string>{"65000:100", "no-export"});
  CHECK(r->large_communities == std::vector<std::string>{"4200000000:1:2"});
  CHECK(r->local_pref == 200u);
  CHECK(r->med == 10u);
  CHECK(r->allows_namespace("db"));
  CHECK_FALSE(r->allows_namespace("other"));
  CHECK_FALSE(r->has_family(ip_family::v6));
}

TEST_CASE("invalid specs get a message naming the field") {
  CHECK(spec_error(R"({})") == "spec: exactly one of local and remote is required");
  CHECK(spec_error(R"({"local": {}, "remote": {}})") == "spec: exactly one of local and remote is required");
  CHECK(spec_error(R"({"remote": {}})") == "remote: no pool (give v4pool, v6pool, v4pools or v6pools)");
  CHECK(spec_error(R"({"remote": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.9/24"}}})") ==
        "remote.v4pool.pool: \"192.0.2.9/24\" has host bits set (did you mean 192.0.2.0/24?)");
  CHECK(spec_error(R"({"remote": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "198.51.100.0/28"}}})") ==
        "remote.v4pool.pool: \"198.51.100.0/28\" is not inside its subnet 192.0.2.0/24");
  CHECK(spec_error(R"({"remote": {"v4pools": [{"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28"},
                                               {"subnet": "192.0.2.0/24", "pool": "192.0.2.20-192.0.2.10"}]}})") ==
        "remote.v4pools[1].pool: range \"192.0.2.20-192.0.2.10\" is backwards (its start is after its end)");
  CHECK(spec_error(R"({"remote": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28"},
                                  "v4pools": [{"subnet": "192.0.2.0/24", "pool": "192.0.2.8-192.0.2.20"}]}})") ==
        "remote: pools \"192.0.2.0/28\" and \"192.0.2.8-192.0.2.20\" overlap");
  CHECK(spec_error(R"({"remote": {"v6pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28"}}})") ==
        "remote.v6pool.pool: \"192.0.2.0/28\" is not IPv6");
  CHECK(spec_error(R"({"remote": {"v4pool": {"pool": "192.0.2.0/28"}}})") == "remote.v4pool.subnet: is required");
  CHECK(spec_error(
            R"({"remote": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28", "aggregation": "/16"}}})") ==
        "remote.v4pool.aggregation: /16 must be between the subnet's /24 and /32");
  CHECK(spec_error(
            R"({"remote": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28", "aggregation": "24"}}})") ==
        "remote.v4pool.aggregation: \"24\" must be \"default\" or /N");
  CHECK(spec_error(R"({"local": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28"}, "localPref": 5}})")
            .starts_with("local.localPref: BGP attributes are only allowed on remote groups"));
  CHECK(
      spec_error(
          R"({"remote": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28"}, "communities": ["65536:1"]}})") ==
      "remote.communities[0]: \"65536:1\" is not ASN:value (16 bits each) or a well-known name");
  CHECK(
      spec_error(
          R"({"remote": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28"}, "largeCommunities": ["1:2"]}})") ==
      "remote.largeCommunities[0]: \"1:2\" is not global:local1:local2 (32 bits each)");
  CHECK(spec_error(R"({"remote": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28"}, "med": -1}})") ==
        "remote.med: must be an integer from 0 to 4294967295");
  CHECK(
      spec_error(R"({"remote": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28"}, "multiPool": "yes"}})") ==
      "remote.multiPool: must be true or false");
  CHECK(spec_error(R"({"remote": {"v4pools": {"subnet": "192.0.2.0/24"}}})") ==
        "remote.v4pools: must be a list of {pool, subnet, aggregation}");
  CHECK(spec_error(
            R"({"remote": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28"}}, "namespaces": "web"})") ==
        "spec.namespaces: must be a list of strings");
  CHECK(spec_error(R"([1])") == "spec: must be an object");
}

TEST_CASE("a ServiceGroup object gives name, creationTimestamp and spec") {
  auto r = service_group_from_json(json::parse(R"({"apiVersion": "herald.dev/v1", "kind": "ServiceGroup",
      "metadata": {"name": "default", "creationTimestamp": "2026-11-30T08:00:00Z"},
      "spec": {"remote": {"v4pool": {"subnet": "192.0.2.0/24", "pool": "192.0.2.0/28"}}}})"));
  REQUIRE(r);
  CHECK(r->name == "default");
  CHECK(r->creation_timestamp == "2026-11-30T08:00:00Z");
  CHECK(r->spec.contains("remote"));
  auto bad = service_group_from_json(json::parse(R"({"metadata": {}})"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error() == "ServiceGroup: metadata.name is missing");
}

TEST_CASE("the example ServiceGroups (also checked against the CRD schema) parse") {
  std::ifstream in(std::string(HERALD_TEST_DATA) + "/allocator/servicegroups.json");
  REQUIRE(in);
  auto examples = json::parse(in);
  REQUIRE(examples.size() >= 3);
  for (auto& object : examples) {
    auto g = service_group_from_json(object);
    REQUIRE(g);
    INFO(g->name);
    auto spec = parse_group_spec(g->spec);
    CHECK(spec);
  }
}
