// The allocation core (pure: values in, values out; no I/O, no clock). It
// owns the allocation table (address → group, sharing key, holders), the
// ServiceGroups' pools with their occupancy, and the last view of every
// Service, and decides for each Service which addresses it holds. The rules
// (address choice order, sharing, dual stack, rebuild, duplicates, pool
// edits) are in docs/allocator.md.
//
// How a controller drives it (one thread, informer callbacks in order):
//   1. On start and on winning leadership: rebuild(all groups, all Services)
//      BEFORE anything else; it adopts the addresses already in Services'
//      status, then allocates what is missing.
//   2. Service added/updated: apply_service(view); deleted: delete_service.
//      ServiceGroup added/updated: apply_group; deleted: delete_group.
//   3. For every returned service_decision with `write`, patch the Service
//      (annotations_patch, status_patch); record every event. Then patch
//      each ServiceGroup's status (group_statuses) where it changed.
// Decisions hold only the change: a Service needing no patch and no event
// is left out of the lists (rebuild lists every Service Herald manages).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "allocator/address.hpp"
#include "allocator/service.hpp"
#include "allocator/service_group.hpp"

namespace herald::allocator {

struct allocator_config {
  // Services with this spec.loadBalancerClass are ours.
  std::string load_balancer_class = "herald.dev/lb";
  // Services with no loadBalancerClass are ours too (on by default).
  bool allocate_unset_class = true;
  // Value of the herald.dev/allocated-by annotation.
  std::string allocated_by = "herald";
};

struct condition {
  std::string type;    // Ready, Invalid, Warning
  std::string status;  // "True" / "False"
  std::string reason;
  std::string message;
  friend bool operator==(const condition&, const condition&) = default;
};

struct family_usage {
  bool present = false;      // the group has pools of this family
  std::string size;          // exact decimal address count over all its pools
  double size_value = 0;     // the same, for metrics
  std::uint64_t in_use = 0;  // distinct addresses held from this group
  friend bool operator==(const family_usage&, const family_usage&) = default;
};

struct group_status {
  std::string name;
  bool exists = true;                    // false: deleted while addresses are still held
  std::optional<pool_type> type;         // of a valid group
  std::array<family_usage, 2> families;  // index ip_family
  std::vector<condition> conditions;
  friend bool operator==(const group_status&, const group_status&) = default;
};

// The ServiceGroup status subresource body: {"status": {...}} (merge patch).
nlohmann::json group_status_patch(const group_status& s);

struct allocation_counters {
  std::uint64_t assigned = 0;  // a fresh address handed out
  std::uint64_t shared = 0;    // joined an address under a sharing key
  std::uint64_t failed = 0;    // AllocationFailed events
  std::uint64_t released = 0;  // AddressReleased events
};

struct group_changes {
  std::vector<service_decision> services;
  std::vector<event> group_events;
};

class allocator {
 public:
  explicit allocator(allocator_config config = {});

  // Replaces all state from a full listing. Existing status addresses are
  // adopted first (oldest Service first: creationTimestamp, then uid), then
  // missing addresses are allocated. Lists a decision for every managed
  // Service, and for unmanaged ones that still carry Herald's annotations.
  group_changes rebuild(std::vector<service_group_input> groups, const std::vector<service_view>& services);

  // A Service was added or changed. The first decision is this Service's;
  // any others are Services that were waiting for an address and got one
  // because this change freed it.
  // Taken by value: the core keeps the view (move it in).
  std::vector<service_decision> apply_service(service_view view);
  // A Service was deleted: its addresses are released (events only), then
  // waiting Services are retried as above.
  std::vector<service_decision> delete_service(const std::string& ns, const std::string& name);

  // A ServiceGroup was added, changed or deleted: every group is validated
  // again (overlaps: the older group wins) and every Service re-examined.
  group_changes apply_group(const service_group_input& group);
  group_changes delete_group(const std::string& name);

  // Status of every group, and of deleted groups that still have addresses.
  std::vector<group_status> group_statuses() const;
  const allocation_counters& counters() const { return counters_; }

  // Addresses a Service holds now (tests, inspection).
  std::vector<ip_address> addresses_of(const std::string& ns, const std::string& name) const;

 private:
  struct pool_state {
    pool_spec spec;
    std::map<u128, u128> used;  // merged intervals [start, end] of addresses in use
    u128 used_count = 0;
    u128 cursor = 0;  // next address value to try (next fit)
    bool full() const { return used_count != 0 && used_count - 1 == spec.pool.size_minus_one(); }
    // Saturates for ::/0, whose 2^128 addresses do not fit.
    u128 free_count() const {
      if (full()) return 0;
      u128 free_minus_one = spec.pool.size_minus_one() - used_count;
      return free_minus_one == ~u128{0} ? free_minus_one : free_minus_one + 1;
    }
  };
  struct group_state {
    service_group_input input;
    std::optional<group_spec> spec;  // nullopt: invalid
    std::string invalid_message;
    std::array<std::vector<pool_state>, 2> pools;
    std::string reported_invalid;  // message of the last Warning event sent
  };
  struct address_entry {
    std::string group;
    std::string sharing_key;
    pool_type type = pool_type::remote;
    std::vector<std::string> holders;  // Service keys, in joining order
  };
  struct service_state {
    service_view view;
    std::vector<ip_address> held;
    std::string failure;             // last AllocationFailed message
    std::set<std::string> warnings;  // ConfigurationWarnings already sent
  };
  struct pass;  // one reconcile of one Service (allocator.cpp)

  void recompute_groups(std::vector<event>& events);
  pool_state* pool_containing(const ip_address& a);
  const group_state* valid_group(const std::string& name) const;
  void mark_used(const ip_address& a);
  void mark_free(const ip_address& a);
  static std::optional<u128> next_free(const pool_state& p);
  static void place_cursor(pool_state& p);

  bool is_ours(const service_view& v) const;
  void adopt(service_state& st, service_decision& d);
  void reconcile(service_state& st, service_decision& d);
  void release(service_state& st, const ip_address& a, service_decision& d, const std::string& why);
  void take(service_state& st, const ip_address& a, const std::string& group, const std::string& key, pool_type type);
  std::optional<std::string> port_conflict(const service_view& v, const ip_address& a) const;
  void finish(service_state& st, service_decision& d) const;
  std::vector<service_decision> retry_waiting(const std::string& except);
  std::vector<service_state*> services_by_age();
  group_changes reexamine_all(std::vector<event> group_events);

  allocator_config config_;
  std::map<std::string, group_state> groups_;
  std::unordered_map<ip_address, address_entry> table_;
  std::unordered_map<std::string, service_state> services_;
  // group + '\n' + sharing key → addresses under that key (ordered: deterministic joins)
  std::map<std::string, std::set<ip_address>> shared_;
  std::set<std::string> waiting_;  // Services whose last pass failed
  allocation_counters counters_;
};

}  // namespace herald::allocator
