// The allocation core: see allocator.hpp for how it is driven and
// docs/allocator.md for the rules it implements.
#include "allocator/allocator.hpp"

#include <algorithm>
#include <tuple>

namespace herald::allocator {

namespace {

std::string shared_index_key(const std::string& group, const std::string& sharing_key) {
  return group + '\n' + sharing_key;
}

std::size_t fam(ip_family f) {
  return static_cast<std::size_t>(f);
}

bool contains(const std::vector<ip_address>& v, const ip_address& a) {
  return std::find(v.begin(), v.end(), a) != v.end();
}

service_decision decision_for(const std::string& ns, const std::string& name) {
  service_decision d;
  d.ns = ns;
  d.name = name;
  return d;
}

event service_event(const service_view& v, event_type type, const char* reason, std::string message) {
  return event{"Service", v.ns, v.name, type, reason, std::move(message)};
}

}  // namespace

// Everything one reconcile of one Service works out before touching the table.
struct allocator::pass {
  std::string group_name;
  group_state* group = nullptr;  // the group when it exists and is valid
  bool group_exists = false;
  std::string sharing_key;
  std::array<std::optional<ip_address>, 2> requested;
  bool families_known = false;
  std::vector<ip_family> wanted;
  std::string failure;
  std::vector<std::string> warnings;

  void fail(std::string why) {
    if (failure.empty()) failure = std::move(why);
  }
  bool wants(ip_family f) const { return std::find(wanted.begin(), wanted.end(), f) != wanted.end(); }
};

allocator::allocator(allocator_config config) : config_(std::move(config)) {}

// ---- pools -----------------------------------------------------------------

allocator::pool_state* allocator::pool_containing(const ip_address& a) {
  for (auto& [name, g] : groups_)
    for (auto& p : g.pools[fam(a.family)])
      if (p.spec.pool.contains(a)) return &p;
  return nullptr;
}

const allocator::group_state* allocator::valid_group(const std::string& name) const {
  auto it = groups_.find(name);
  return it != groups_.end() && it->second.spec ? &it->second : nullptr;
}

// The interval map keeps runs of used addresses merged, so "next free at or
// after x" is one lookup however long the run ahead of the cursor is.
void allocator::mark_used(const ip_address& a) {
  pool_state* p = pool_containing(a);
  if (p == nullptr) return;
  u128 v = a.value;
  auto next = p->used.upper_bound(v);
  if (next != p->used.begin()) {
    auto prev = std::prev(next);
    if (prev->second >= v) return;  // already used
    if (prev->second + 1 == v) {
      prev->second = v;
      if (next != p->used.end() && next->first == v + 1) {
        prev->second = next->second;
        p->used.erase(next);
      }
      ++p->used_count;
      return;
    }
  }
  if (next != p->used.end() && v != max_value(a.family) && next->first == v + 1) {
    u128 end = next->second;
    p->used.erase(next);
    p->used.emplace(v, end);
  } else {
    p->used.emplace(v, v);
  }
  ++p->used_count;
}

void allocator::mark_free(const ip_address& a) {
  pool_state* p = pool_containing(a);
  if (p == nullptr) return;
  u128 v = a.value;
  auto it = p->used.upper_bound(v);
  if (it == p->used.begin()) return;
  --it;
  auto [start, end] = *it;
  if (end < v) return;  // not used
  p->used.erase(it);
  if (start < v) p->used.emplace(start, v - 1);
  if (v < end) p->used.emplace(v + 1, end);
  --p->used_count;
}

// Next fit: the first free address at or after the cursor, wrapping once.
std::optional<u128> allocator::next_free(const pool_state& p) {
  if (p.full()) return std::nullopt;
  auto first_free_from = [&](u128 v) -> std::optional<u128> {
    auto next = p.used.upper_bound(v);
    if (next != p.used.begin()) {
      auto prev = std::prev(next);
      if (prev->second >= v) {
        if (prev->second >= p.spec.pool.last.value) return std::nullopt;
        v = prev->second + 1;  // merged runs: the address after a run is free
      }
    }
    return v;
  };
  if (auto v = first_free_from(p.cursor)) return v;
  return first_free_from(p.spec.pool.first.value);
}

void allocator::recompute_groups(std::vector<event>& events) {
  std::map<std::tuple<std::string, u128, u128>, u128> cursors;
  for (auto& [name, g] : groups_)
    for (auto& pools : g.pools)
      for (auto& p : pools) cursors[{name, p.spec.pool.first.value, p.spec.pool.last.value}] = p.cursor;

  std::vector<group_state*> order;
  for (auto& [name, g] : groups_) order.push_back(&g);
  std::sort(order.begin(), order.end(), [](const group_state* a, const group_state* b) {
    return std::tie(a->input.creation_timestamp, a->input.name) < std::tie(b->input.creation_timestamp, b->input.name);
  });
  std::vector<const group_state*> accepted;
  for (group_state* g : order) {
    g->pools = {};
    g->spec.reset();
    auto spec = parse_group_spec(g->input.spec);
    if (!spec) {
      g->invalid_message = spec.error();
    } else {
      g->invalid_message.clear();
      for (auto& pools : spec->pools)
        for (auto& mine : pools)
          for (const group_state* other : accepted)
            for (auto& theirs : other->spec->pools_of(mine.pool.family()))
              if (g->invalid_message.empty() && mine.pool.overlaps(theirs.pool))
                g->invalid_message = "pool \"" + mine.text + "\" overlaps pool \"" + theirs.text +
                                     "\" of ServiceGroup " + other->input.name + " (the older group keeps it)";
    }
    if (g->invalid_message.empty()) {
      g->spec = std::move(*spec);
      for (auto f : {ip_family::v4, ip_family::v6})
        for (auto& ps : g->spec->pools_of(f)) g->pools[fam(f)].push_back(pool_state{ps, {}, 0, ps.pool.first.value});
      accepted.push_back(g);
      g->reported_invalid.clear();
    } else if (g->reported_invalid != g->invalid_message) {
      events.push_back(event{"ServiceGroup", "", g->input.name, event_type::warning, "ConfigurationWarning",
                             "invalid ServiceGroup: " + g->invalid_message});
      g->reported_invalid = g->invalid_message;
    }
  }
  for (auto& [a, entry] : table_) mark_used(a);
  // Cursors survive edits of other pools; a new or changed pool starts after
  // its highest address in use.
  for (auto& [name, g] : groups_)
    for (auto& pools : g.pools)
      for (auto& p : pools) {
        auto old = cursors.find({name, p.spec.pool.first.value, p.spec.pool.last.value});
        if (old != cursors.end())
          p.cursor = old->second;
        else
          place_cursor(p);
      }
}

// After the highest address in use (or at the start): a restart does not go
// back to hand out the addresses just released before it first.
void allocator::place_cursor(pool_state& p) {
  p.cursor = p.spec.pool.first.value;
  if (!p.used.empty() && p.used.rbegin()->second < p.spec.pool.last.value) p.cursor = p.used.rbegin()->second + 1;
}

// ---- the table -------------------------------------------------------------

bool allocator::is_ours(const service_view& v) const {
  if (v.type != "LoadBalancer") return false;
  if (!v.load_balancer_class) return config_.allocate_unset_class;
  return *v.load_balancer_class == config_.load_balancer_class;
}

void allocator::take(service_state& st, const ip_address& a, const std::string& group, const std::string& key,
                     pool_type type) {
  table_[a] = address_entry{group, key, type, {st.view.key()}};
  mark_used(a);
  if (!key.empty()) shared_[shared_index_key(group, key)].insert(a);
  st.held.push_back(a);
}

void allocator::release(service_state& st, const ip_address& a, service_decision& d, const std::string& why) {
  auto it = table_.find(a);
  if (it != table_.end()) {
    auto& holders = it->second.holders;
    holders.erase(std::remove(holders.begin(), holders.end(), st.view.key()), holders.end());
    if (holders.empty()) {
      if (!it->second.sharing_key.empty()) {
        auto s = shared_.find(shared_index_key(it->second.group, it->second.sharing_key));
        if (s != shared_.end()) {
          s->second.erase(a);
          if (s->second.empty()) shared_.erase(s);
        }
      }
      mark_free(a);
      table_.erase(it);
    }
  }
  st.held.erase(std::remove(st.held.begin(), st.held.end(), a), st.held.end());
  d.events.push_back(
      service_event(st.view, event_type::normal, "AddressReleased", "released " + a.to_string() + ": " + why));
  ++counters_.released;
}

std::optional<std::string> allocator::port_conflict(const service_view& v, const ip_address& a) const {
  auto it = table_.find(a);
  if (it == table_.end()) return std::nullopt;
  for (auto& holder : it->second.holders) {
    if (holder == v.key()) continue;
    auto h = services_.find(holder);
    if (h == services_.end()) continue;
    for (auto& mine : v.ports)
      for (auto& theirs : h->second.view.ports)
        if (mine == theirs)
          return "port " + mine.protocol + "/" + std::to_string(mine.port) + " on " + a.to_string() +
                 " is used by Service " + holder + " (sharing key \"" + it->second.sharing_key + "\")";
  }
  return std::nullopt;
}

// Takes the addresses already in the Service's status into the table. An
// address another Service holds without sharing it stays with that one (the
// older, during rebuild) and both get a warning; this one is re-allocated.
void allocator::adopt(service_state& st, service_decision& d) {
  const service_view& v = st.view;
  std::string group =
      v.annotation_or(annotation::allocated_from, v.annotation_or(annotation::service_group, "default"));
  std::string key = v.annotation_or(annotation::allow_shared_ip, "");
  pool_type type = pool_type::remote;
  if (auto* g = valid_group(group)) type = g->spec->type;
  auto written_type = v.annotation_or(annotation::pool_type, "");
  if (written_type == "local") type = pool_type::local;
  if (written_type == "remote") type = pool_type::remote;
  for (auto& text : v.ingress_ips) {
    auto a = ip_address::parse(text);
    if (!a || contains(st.held, *a)) continue;
    auto it = table_.find(*a);
    if (it == table_.end()) {
      take(st, *a, group, key, type);
      continue;
    }
    auto& entry = it->second;
    if (!key.empty() && entry.sharing_key == key && entry.group == group && !port_conflict(v, *a)) {
      entry.holders.push_back(v.key());
      st.held.push_back(*a);
      continue;
    }
    const std::string& holder = entry.holders.front();
    auto hs = services_.find(holder);
    d.events.push_back(service_event(v, event_type::warning, "ConfigurationWarning",
                                     a->to_string() + " is also in the status of Service " + holder +
                                         ", which does not share it and keeps it; this Service gets another address"));
    if (hs != services_.end())
      d.events.push_back(service_event(hs->second.view, event_type::warning, "ConfigurationWarning",
                                       a->to_string() + " is also in the status of Service " + v.key() +
                                           ", which does not share it; this Service keeps it"));
  }
}

// ---- one Service -----------------------------------------------------------

void allocator::reconcile(service_state& st, service_decision& d) {
  const service_view& v = st.view;
  pass p;
  p.group_name = v.annotation_or(annotation::service_group, "default");
  if (auto it = groups_.find(p.group_name); it != groups_.end()) {
    p.group_exists = true;
    if (it->second.spec) p.group = &it->second;
  }
  p.sharing_key = v.annotation_or(annotation::allow_shared_ip, "");

  // Requested addresses: the annotation, else the deprecated spec field.
  std::string requested = v.annotation_or(annotation::addresses, "");
  const char* requested_from = annotation::addresses;
  if (requested.empty() && !v.load_balancer_ip.empty()) {
    requested = v.load_balancer_ip;
    requested_from = "spec.loadBalancerIP";
    p.warnings.push_back(
        "spec.loadBalancerIP is deprecated (Kubernetes 1.24); use the herald.dev/addresses annotation");
  }
  for (std::size_t start = 0; !requested.empty() && start <= requested.size();) {
    auto comma = requested.find(',', start);
    auto item = requested.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? requested.size() + 1 : comma + 1;
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    auto a = ip_address::parse(item);
    if (!a) {
      p.fail(std::string(requested_from) + ": \"" + item + "\" is not an IP address");
    } else if (p.requested[fam(a->family)]) {
      p.fail(std::string(requested_from) + " gives two " + std::string(family_name(a->family)) +
             " addresses; give at most one per family");
    } else {
      p.requested[fam(a->family)] = a;
    }
  }

  // Families: spec.ipFamilies (in order) under spec.ipFamilyPolicy.
  std::string policy = v.ip_family_policy.empty() ? "SingleStack" : v.ip_family_policy;
  std::vector<ip_family> listed;
  for (auto& f : v.ip_families) {
    if (f == "IPv4")
      listed.push_back(ip_family::v4);
    else if (f == "IPv6")
      listed.push_back(ip_family::v6);
    else
      p.fail("spec.ipFamilies: unknown family \"" + f + "\"");
  }
  if (policy != "SingleStack" && policy != "PreferDualStack" && policy != "RequireDualStack")
    p.fail("spec.ipFamilyPolicy: unknown policy \"" + policy + "\"");
  if (p.group && p.failure.empty()) {
    const group_spec& g = *p.group->spec;
    auto missing = [&](ip_family f) {
      return "ServiceGroup " + p.group_name + " has no " + std::string(family_name(f)) + " pool";
    };
    if (listed.empty()) {
      if (policy == "SingleStack")
        listed = {g.has_family(ip_family::v4) ? ip_family::v4 : ip_family::v6};
      else
        listed = {ip_family::v4, ip_family::v6};
    }
    if (policy == "SingleStack") {
      if (!g.has_family(listed[0]))
        p.fail("ipFamilyPolicy SingleStack wants " + std::string(family_name(listed[0])) + " but " +
               missing(listed[0]));
      p.wanted = {listed[0]};
    } else if (policy == "PreferDualStack") {
      for (auto f : listed)
        if (g.has_family(f)) p.wanted.push_back(f);
      if (p.wanted.empty()) p.fail(missing(listed[0]));
    } else {
      for (auto f : {ip_family::v4, ip_family::v6})
        if (!g.has_family(f)) p.fail("ipFamilyPolicy RequireDualStack needs IPv4 and IPv6 but " + missing(f));
      p.wanted = listed.size() == 2 ? listed : std::vector<ip_family>{ip_family::v4, ip_family::v6};
    }
    p.families_known = p.failure.empty();
    for (auto f : {ip_family::v4, ip_family::v6})
      if (p.families_known && p.requested[fam(f)] && !p.wants(f))
        p.fail(std::string(requested_from) + ": " + p.requested[fam(f)]->to_string() + " is " +
               std::string(family_name(f)) + " but the Service gets no " + std::string(family_name(f)) + " address");
  }

  // Keep what still fits; release what an explicit change rules out. A
  // failed change never takes a working address away.
  std::array<int, 2> kept_per_family{};
  for (auto a : std::vector<ip_address>(st.held)) {
    auto& entry = table_.at(a);
    std::string why;
    auto f = a.family;
    bool in_pool_of_group = false;
    if (p.group)
      for (auto& pool : p.group->pools[fam(f)]) in_pool_of_group = in_pool_of_group || pool.spec.pool.contains(a);
    if (entry.group != p.group_name) {
      why = "the Service now draws from ServiceGroup " + p.group_name;
    } else if (p.families_known && !p.wants(f)) {
      why = "the Service no longer has the " + std::string(family_name(f)) + " family";
    } else if (p.requested[fam(f)] && *p.requested[fam(f)] != a) {
      why = "the Service asks for " + p.requested[fam(f)]->to_string();
    } else if (entry.sharing_key != p.sharing_key && entry.holders.size() > 1) {
      why = "the Service's sharing key changed";
    } else if (entry.holders.size() > 1 && port_conflict(v, a)) {
      why = *port_conflict(v, a);
    } else if (kept_per_family[fam(f)] > 0 &&
               !(p.group && p.group->spec->multi_pool && !p.requested[fam(f)] && in_pool_of_group)) {
      why = "one address per family (multiPool is off)";
    }
    if (!why.empty()) {
      release(st, a, d, why);
      continue;
    }
    ++kept_per_family[fam(f)];
    if (entry.sharing_key != p.sharing_key) {  // sole holder: the key follows the Service
      if (!entry.sharing_key.empty()) shared_[shared_index_key(entry.group, entry.sharing_key)].erase(a);
      entry.sharing_key = p.sharing_key;
      if (!p.sharing_key.empty()) shared_[shared_index_key(entry.group, p.sharing_key)].insert(a);
    }
    if (!p.group_exists)
      p.warnings.push_back("ServiceGroup " + p.group_name + " does not exist; " + a.to_string() +
                           " stays with this Service until it is released");
    else if (!p.group)
      p.warnings.push_back("ServiceGroup " + p.group_name + " is invalid; " + a.to_string() +
                           " stays with this Service until it is released");
    else if (!in_pool_of_group)
      p.warnings.push_back(a.to_string() + " is outside the pools of ServiceGroup " + p.group_name +
                           " (pool edited); it stays with this Service until it is released");
  }

  if (!p.group_exists) {
    if (st.held.empty()) p.fail("ServiceGroup " + p.group_name + " does not exist");
  } else if (!p.group) {
    if (st.held.empty())
      p.fail("ServiceGroup " + p.group_name + " is invalid: " + groups_.at(p.group_name).invalid_message);
  } else if (p.failure.empty() && !p.group->spec->allows_namespace(v.ns)) {
    bool complete =
        std::all_of(p.wanted.begin(), p.wanted.end(), [&](ip_family f) { return kept_per_family[fam(f)] > 0; });
    if (!complete) p.fail("namespace " + v.ns + " may not use ServiceGroup " + p.group_name + " (spec.namespaces)");
  }

  // Allocate what is missing.
  if (p.group && p.failure.empty() && p.group->spec->allows_namespace(v.ns)) {
    const std::size_t events_before = d.events.size();
    const allocation_counters counters_before = counters_;
    std::vector<ip_address> fresh;
    const group_spec& g = *p.group->spec;
    auto assigned = [&](const ip_address& a, std::string how) {
      fresh.push_back(a);
      d.events.push_back(
          service_event(v, event_type::normal, "AddressAssigned",
                        how + " from ServiceGroup " + p.group_name + " (" + std::string(pool_type_name(g.type)) + ")"));
    };
    auto join = [&](const ip_address& a) {
      auto& entry = table_.at(a);
      std::string with = entry.holders.front();
      entry.holders.push_back(v.key());
      st.held.push_back(a);
      ++counters_.shared;
      assigned(a, "sharing " + a.to_string() + " with Service " + with + " (key \"" + p.sharing_key + "\")");
    };
    // A fresh address from the given pools (all of a family, or one).
    auto allocate_from = [&](std::vector<pool_state*> pools, ip_family f) {
      if (!p.sharing_key.empty()) {
        std::optional<std::string> conflict;
        auto s = shared_.find(shared_index_key(p.group_name, p.sharing_key));
        if (s != shared_.end())
          for (auto& a : s->second) {
            bool in_pools =
                std::any_of(pools.begin(), pools.end(), [&](pool_state* ps) { return ps->spec.pool.contains(a); });
            if (a.family != f || !in_pools) continue;
            if (auto c = port_conflict(v, a)) {
              if (!conflict) conflict = c;
              continue;
            }
            join(a);
            return;
          }
        if (conflict) return p.fail(*conflict);
      }
      if (g.balance_pools)
        std::stable_sort(pools.begin(), pools.end(),
                         [](pool_state* a, pool_state* b) { return a->free_count() > b->free_count(); });
      for (pool_state* ps : pools) {
        auto value = next_free(*ps);
        if (!value) continue;
        ip_address a{f, *value};
        ps->cursor = *value == ps->spec.pool.last.value ? ps->spec.pool.first.value : *value + 1;
        take(st, a, p.group_name, p.sharing_key, g.type);
        ++counters_.assigned;
        assigned(a, "assigned " + a.to_string());
        return;
      }
      p.fail("no free " + std::string(family_name(f)) + " address in ServiceGroup " + p.group_name +
             (g.multi_pool ? " pool " + pools.front()->spec.text : ""));
    };
    for (auto f : p.wanted) {
      auto& pools = p.group->pools[fam(f)];
      auto held_in = [&](const pool_state& ps) {
        return std::any_of(st.held.begin(), st.held.end(),
                           [&](const ip_address& a) { return ps.spec.pool.contains(a); });
      };
      if (auto want = p.requested[fam(f)]) {
        if (contains(st.held, *want)) continue;
        bool in_pool =
            std::any_of(pools.begin(), pools.end(), [&](const pool_state& ps) { return ps.spec.pool.contains(*want); });
        auto it = table_.find(*want);
        if (!in_pool) {
          p.fail(std::string(requested_from) + ": " + want->to_string() + " is not in any " +
                 std::string(family_name(f)) + " pool of ServiceGroup " + p.group_name);
        } else if (it == table_.end()) {
          take(st, *want, p.group_name, p.sharing_key, g.type);
          ++counters_.assigned;
          assigned(*want, "assigned requested " + want->to_string());
        } else if (!p.sharing_key.empty() && it->second.sharing_key == p.sharing_key &&
                   it->second.group == p.group_name) {
          if (auto c = port_conflict(v, *want))
            p.fail(*c);
          else
            join(*want);
        } else {
          p.fail(want->to_string() + " is in use by Service " + it->second.holders.front() +
                 (it->second.sharing_key.empty() ? std::string(" (not shared)")
                                                 : " (sharing key \"" + it->second.sharing_key + "\")"));
        }
      } else if (g.multi_pool) {
        for (auto& ps : pools)
          if (!held_in(ps)) allocate_from({&ps}, f);
      } else if (kept_per_family[fam(f)] == 0) {
        std::vector<pool_state*> all;
        for (auto& ps : pools) all.push_back(&ps);
        allocate_from(all, f);
      }
    }
    // RequireDualStack is all or nothing: undo this pass's new addresses.
    if (!p.failure.empty() && policy == "RequireDualStack" && !fresh.empty()) {
      for (auto& a : fresh) release(st, a, d, "rolled back");
      d.events.resize(events_before);
      counters_ = counters_before;
    }
  }

  if (!p.failure.empty()) {
    if (p.failure != st.failure) {
      d.events.push_back(service_event(v, event_type::warning, "AllocationFailed", p.failure));
      ++counters_.failed;
    }
    waiting_.insert(v.key());
  } else if (!waiting_.empty()) {
    waiting_.erase(v.key());
  }
  st.failure = p.failure;
  std::set<std::string> warnings(p.warnings.begin(), p.warnings.end());
  for (auto& w : warnings)
    if (!st.warnings.contains(w)) d.events.push_back(service_event(v, event_type::warning, "ConfigurationWarning", w));
  st.warnings = std::move(warnings);
  finish(st, d);
}

// The desired status and annotations, and whether they differ from the view.
void allocator::finish(service_state& st, service_decision& d) const {
  const service_view& v = st.view;
  auto rank = [&](ip_family f) {
    std::string_view name = family_name(f);
    auto it = std::find(v.ip_families.begin(), v.ip_families.end(), name);
    return it == v.ip_families.end() ? 2 + static_cast<int>(f) : static_cast<int>(it - v.ip_families.begin());
  };
  std::vector<ip_address> held = st.held;
  std::sort(held.begin(), held.end(), [&](const ip_address& a, const ip_address& b) {
    return std::make_tuple(rank(a.family), a) < std::make_tuple(rank(b.family), b);
  });
  d.managed = true;
  d.ingress_ips.clear();
  for (auto& a : held) d.ingress_ips.push_back(a.to_string());
  d.annotations.clear();
  if (held.empty()) {
    for (auto* name : {annotation::allocated_by, annotation::allocated_from, annotation::pool_type})
      d.annotations[name] = std::nullopt;
  } else {
    auto& entry = table_.at(held.front());
    d.annotations[annotation::allocated_by] = config_.allocated_by;
    d.annotations[annotation::allocated_from] = entry.group;
    d.annotations[annotation::pool_type] = std::string(pool_type_name(entry.type));
  }
  d.write = d.ingress_ips != v.ingress_ips;
  for (auto& [name, value] : d.annotations) {
    auto it = v.annotations.find(name);
    if (value ? (it == v.annotations.end() || it->second != *value) : it != v.annotations.end()) d.write = true;
  }
}

// ---- entry points ----------------------------------------------------------

std::vector<allocator::service_state*> allocator::services_by_age() {
  std::vector<service_state*> out;
  out.reserve(services_.size());
  for (auto& [key, st] : services_) out.push_back(&st);
  std::sort(out.begin(), out.end(), [](const service_state* a, const service_state* b) {
    return std::tie(a->view.creation_timestamp, a->view.uid, a->view.ns, a->view.name) <
           std::tie(b->view.creation_timestamp, b->view.uid, b->view.ns, b->view.name);
  });
  return out;
}

std::vector<service_decision> allocator::retry_waiting(const std::string& except) {
  std::vector<service_state*> waiting;
  for (auto& key : waiting_)
    if (key != except) waiting.push_back(&services_.at(key));
  std::sort(waiting.begin(), waiting.end(), [](const service_state* a, const service_state* b) {
    return std::tie(a->view.creation_timestamp, a->view.uid) < std::tie(b->view.creation_timestamp, b->view.uid);
  });
  std::vector<service_decision> out;
  for (auto* st : waiting) {
    service_decision d = decision_for(st->view.ns, st->view.name);
    reconcile(*st, d);
    if (d.write || !d.events.empty()) out.push_back(std::move(d));
  }
  return out;
}

group_changes allocator::rebuild(std::vector<service_group_input> groups, const std::vector<service_view>& services) {
  groups_.clear();
  table_.clear();
  services_.clear();
  shared_.clear();
  waiting_.clear();
  group_changes out;
  for (auto& g : groups) {
    std::string name = g.name;
    groups_[name].input = std::move(g);
  }
  recompute_groups(out.group_events);

  std::vector<const service_view*> order;
  order.reserve(services.size());
  for (auto& v : services) order.push_back(&v);
  std::sort(order.begin(), order.end(), [](const service_view* a, const service_view* b) {
    return std::tie(a->creation_timestamp, a->uid, a->ns, a->name) <
           std::tie(b->creation_timestamp, b->uid, b->ns, b->name);
  });
  services_.reserve(services.size());
  table_.reserve(services.size());
  out.services.reserve(services.size());
  std::unordered_map<std::string, std::size_t> index;
  index.reserve(services.size());
  for (auto* v : order) {
    out.services.push_back(decision_for(v->ns, v->name));
    index[v->key()] = out.services.size() - 1;
    if (!is_ours(*v)) continue;
    auto& st = services_[v->key()];
    st.view = *v;
    adopt(st, out.services.back());
  }
  for (auto& [name, g] : groups_)
    for (auto& pools : g.pools)
      for (auto& p : pools) place_cursor(p);
  for (auto* v : order) {
    auto& d = out.services[index.at(v->key())];
    if (is_ours(*v)) {
      reconcile(services_.at(v->key()), d);
    } else if (v->annotation_or(annotation::allocated_by, "") == config_.allocated_by) {
      for (auto* name : {annotation::allocated_by, annotation::allocated_from, annotation::pool_type})
        if (v->annotations.contains(name)) d.annotations[name] = std::nullopt;
      d.ingress_ips = v->ingress_ips;
      d.write = true;
    }
  }
  std::erase_if(out.services, [](const service_decision& d) { return !d.managed && !d.write && d.events.empty(); });
  return out;
}

std::vector<service_decision> allocator::apply_service(service_view view) {
  const std::string key = view.key();
  service_decision d = decision_for(view.ns, view.name);
  auto it = services_.find(key);
  const auto released_before = counters_.released;
  if (!is_ours(view)) {
    bool ours_before = view.annotation_or(annotation::allocated_by, "") == config_.allocated_by;
    d.ingress_ips = view.ingress_ips;
    if (it != services_.end()) {
      auto& st = it->second;
      for (auto a : std::vector<ip_address>(st.held)) {
        release(st, a, d, "the Service is no longer a LoadBalancer of class " + config_.load_balancer_class);
        std::erase(d.ingress_ips, a.to_string());
        ours_before = true;
      }
      services_.erase(it);
      waiting_.erase(key);
    }
    if (ours_before) {
      for (auto* name : {annotation::allocated_by, annotation::allocated_from, annotation::pool_type})
        if (view.annotations.contains(name)) d.annotations[name] = std::nullopt;
      d.write = !d.annotations.empty() || d.ingress_ips != view.ingress_ips;
    }
    std::vector<service_decision> out;  // not {std::move(d)}: an initializer_list copies
    out.push_back(std::move(d));
    if (counters_.released != released_before) std::ranges::move(retry_waiting(key), std::back_inserter(out));
    return out;
  }
  bool fresh = it == services_.end();
  if (fresh) it = services_.try_emplace(key).first;
  auto& st = it->second;
  if (!fresh && st.view.uid != view.uid) {
    for (auto a : std::vector<ip_address>(st.held)) release(st, a, d, "the Service was deleted and created again");
    st = service_state{};
    fresh = true;
  }
  st.view = std::move(view);
  if (fresh) adopt(st, d);
  reconcile(st, d);
  std::vector<service_decision> out;  // not {std::move(d)}: an initializer_list copies
  out.push_back(std::move(d));
  if (counters_.released != released_before) std::ranges::move(retry_waiting(key), std::back_inserter(out));
  return out;
}

std::vector<service_decision> allocator::delete_service(const std::string& ns, const std::string& name) {
  auto it = services_.find(ns + "/" + name);
  if (it == services_.end()) return {};
  service_decision d = decision_for(ns, name);
  auto& st = it->second;
  for (auto a : std::vector<ip_address>(st.held)) release(st, a, d, "the Service was deleted");
  services_.erase(it);
  waiting_.erase(ns + "/" + name);
  std::vector<service_decision> out;  // not {std::move(d)}: an initializer_list copies
  out.push_back(std::move(d));
  std::ranges::move(retry_waiting(""), std::back_inserter(out));
  return out;
}

group_changes allocator::reexamine_all(std::vector<event> group_events) {
  group_changes out{{}, std::move(group_events)};
  for (auto* st : services_by_age()) {
    service_decision d = decision_for(st->view.ns, st->view.name);
    reconcile(*st, d);
    if (d.write || !d.events.empty()) out.services.push_back(std::move(d));
  }
  return out;
}

group_changes allocator::apply_group(const service_group_input& group) {
  std::vector<event> events;
  groups_[group.name].input = group;
  recompute_groups(events);
  return reexamine_all(std::move(events));
}

group_changes allocator::delete_group(const std::string& name) {
  std::vector<event> events;
  groups_.erase(name);
  recompute_groups(events);
  return reexamine_all(std::move(events));
}

std::vector<ip_address> allocator::addresses_of(const std::string& ns, const std::string& name) const {
  auto it = services_.find(ns + "/" + name);
  if (it == services_.end()) return {};
  auto out = it->second.held;
  std::sort(out.begin(), out.end());
  return out;
}

// ---- status ----------------------------------------------------------------

std::vector<group_status> allocator::group_statuses() const {
  std::map<std::string, group_status> out;
  for (auto& [name, g] : groups_) {
    auto& s = out[name];
    s.name = name;
    for (auto f : {ip_family::v4, ip_family::v6}) {
      auto& u = s.families[fam(f)];
      u128 total = 0;
      bool saturated = false;
      for (auto& p : g.pools[fam(f)]) {
        u.present = true;
        u.size_value += p.spec.pool.size_double();
        u128 n = p.spec.pool.size();
        saturated = saturated || p.spec.pool.size_minus_one() == ~u128{0} || total + n < total;
        total += n;
      }
      if (u.present)
        u.size = saturated
                     ? (g.pools[fam(f)].size() == 1 ? g.pools[fam(f)][0].spec.pool.size_string() : to_decimal(~u128{0}))
                     : to_decimal(total);
    }
    if (g.spec) {
      s.type = g.spec->type;
      s.conditions.push_back({"Ready", "True", "PoolsValid", "addresses are allocated from this group"});
    } else {
      s.conditions.push_back({"Ready", "False", "Invalid", "the spec is invalid; no new addresses are allocated"});
      s.conditions.push_back({"Invalid", "True", "InvalidSpec", g.invalid_message});
    }
  }
  std::map<std::string, std::vector<ip_address>> outside;
  for (auto& [a, entry] : table_) {
    auto& s = out[entry.group];
    if (s.name.empty()) {
      s.name = entry.group;
      s.exists = false;
    }
    ++s.families[fam(a.family)].in_use;
    auto* g = valid_group(entry.group);
    if (g == nullptr) continue;
    auto& pools = g->pools[fam(a.family)];
    if (std::none_of(pools.begin(), pools.end(), [&](const pool_state& p) { return p.spec.pool.contains(a); }))
      outside[entry.group].push_back(a);
  }
  for (auto& [name, s] : out) {
    if (!s.exists) {
      s.conditions.push_back({"Ready", "False", "Deleted",
                              "the ServiceGroup was deleted; its addresses stay with their Services until released"});
      continue;
    }
    auto it = outside.find(name);
    if (it == outside.end()) continue;
    std::sort(it->second.begin(), it->second.end());
    std::string list;
    for (std::size_t i = 0; i < it->second.size() && i < 5; ++i) list += (i ? ", " : "") + it->second[i].to_string();
    if (it->second.size() > 5) list += ", ...";
    s.conditions.push_back({"Warning", "True", "AddressesOutsidePools",
                            std::to_string(it->second.size()) +
                                " address(es) outside the pools stay with their Services until released: " + list});
  }
  std::vector<group_status> list;
  for (auto& [name, s] : out) list.push_back(std::move(s));
  return list;
}

nlohmann::json group_status_patch(const group_status& s) {
  nlohmann::json status = nlohmann::json::object();
  if (s.type) status["poolType"] = std::string(pool_type_name(*s.type));
  for (auto f : {ip_family::v4, ip_family::v6}) {
    auto& u = s.families[fam(f)];
    std::string prefix = f == ip_family::v4 ? "v4" : "v6";
    if (u.present) status[prefix + "Size"] = u.size;
    if (u.present || u.in_use) status[prefix + "InUse"] = u.in_use;
  }
  status["conditions"] = nlohmann::json::array();
  for (auto& c : s.conditions)
    status["conditions"].push_back(
        {{"type", c.type}, {"status", c.status}, {"reason", c.reason}, {"message", c.message}});
  return {{"status", status}};
}

}  // namespace herald::allocator
