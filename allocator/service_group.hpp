// The ServiceGroup custom resource (herald.dev/v1): spec parsing and
// validation. The spec is PureLB v2's ServiceGroup spec (exactly one of
// `local` / `remote`, each with v4pool, v6pool, v4pools[], v6pools[] of
// {pool, subnet, aggregation}, multiPool, balancePools) plus, on remote
// groups, the BGP attributes of its routes (communities RFC 1997, large
// communities RFC 8092, LOCAL_PREF, MED, weightedECMP) and an optional
// namespaces[] list.
// Parsing never throws: a bad spec is an error message naming the field.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "allocator/address.hpp"
#include "herald/result.hpp"

namespace herald::allocator {

enum class pool_type : std::uint8_t { local, remote };
// "local" / "remote": the value of the herald.dev/pool-type annotation.
std::string_view pool_type_name(pool_type t);

struct pool_spec {
  address_range pool;        // the addresses handed out
  cidr subnet;               // the network they belong to; pool lies inside it
  unsigned aggregation = 0;  // prefix length put on interfaces and announced
  std::string text;          // the pool as written, for messages

  friend bool operator==(const pool_spec&, const pool_spec&) = default;
};

struct group_spec {
  pool_type type = pool_type::remote;
  // Pools per family (index ip_family): v4pool first, then v4pools[] in order.
  std::array<std::vector<pool_spec>, 2> pools;
  bool multi_pool = false;                     // one address from every pool of a family
  bool balance_pools = false;                  // draw from the pool with most free addresses
  std::vector<std::string> communities;        // "65000:100" or a well-known name
  std::vector<std::string> large_communities;  // "65000:1:2"
  std::optional<std::uint32_t> local_pref;
  std::optional<std::uint32_t> med;
  bool weighted_ecmp = false;  // link-bandwidth community per node, by ready endpoints (docs/agent.md)
  std::vector<std::string> namespaces;  // empty: every namespace may draw

  bool has_family(ip_family f) const { return !pools[static_cast<std::size_t>(f)].empty(); }
  const std::vector<pool_spec>& pools_of(ip_family f) const { return pools[static_cast<std::size_t>(f)]; }
  bool allows_namespace(const std::string& ns) const;
};

// Validates and parses `spec` (the object under .spec). Errors name the field:
// "remote.v4pools[1].pool: \"192.0.2.9/24\" has host bits set (...)". Checks
// each pool is inside its subnet, aggregation is `default` or /N with subnet
// length <= N <= 32/128, pools of one group do not overlap, and at least one
// pool exists. Overlap with other groups is the allocator's check.
Result<group_spec, std::string> parse_group_spec(const nlohmann::json& spec);

// A ServiceGroup as the allocator receives it (from an informer).
struct service_group_input {
  std::string name;
  std::string creation_timestamp;  // RFC 3339 "2026-11-30T08:00:00Z": orders overlapping groups
  nlohmann::json spec;             // raw .spec, parsed by the allocator
};

// Reads name, creationTimestamp and spec from a whole ServiceGroup object.
Result<service_group_input, std::string> service_group_from_json(const nlohmann::json& object);

}  // namespace herald::allocator
