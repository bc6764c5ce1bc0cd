// The API-server emulator's object store: a pure, single-threaded model of
// kube-apiserver + etcd semantics (kube-api.md §1, §2, "what the emulator must
// implement" 1–7). One global resourceVersion counter, a bounded history of
// committed changes (the watch cache), compaction, list paging over a snapshot,
// watch start from a resourceVersion, optimistic concurrency, the /status
// split, merge / JSON / strategic-merge patches and Service defaulting. No
// sockets and no clock: the HTTP layer (server.hpp) calls it and fans commits
// out to open watches; the clock is injected so tests are deterministic.
#pragma once

#include "herald/result.hpp"
#include "selector.hpp"

#include <nlohmann/json.hpp>

#include <boost/assert/source_location.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace herald::emulator {

using json = nlohmann::json;

// An API error as the server returns it: an HTTP code and a metav1.Status body.
struct api_error {
  int code = 500;
  std::string reason;   // "NotFound", "Conflict", "Expired", …
  std::string message;
  json details;         // optional metav1.StatusDetails
  std::string to_string() const { return std::to_string(code) + " " + reason + ": " + message; }
};

// boost::system::result calls this if value() is used on an error; our code
// always checks first, so reaching it is a bug.
[[noreturn]] void throw_exception_from_error(const api_error& e, const boost::source_location& loc);

template <class T>
using api_result = herald::Result<T, api_error>;

// json converts implicitly to almost anything (api_error included), so a
// successful api_result<json> is built explicitly.
inline api_result<json> ok(json v) { return api_result<json>(boost::system::in_place_value, std::move(v)); }

// metav1.Status JSON for an error (what every non-2xx answer carries).
json status_body(const api_error& e);

api_error not_found(const std::string& plural_group, const std::string& name);
api_error bad_request(const std::string& message);
api_error invalid(const std::string& kind, const std::string& name, const std::string& message);

// One served resource (built-in or from a CRD).
struct resource_type {
  std::string group;  // "" for the core group
  std::string version;
  std::string plural;
  std::string singular;
  std::string kind;
  std::string list_kind;
  bool namespaced = true;
  bool status_subresource = false;
  bool custom = false;              // CRD-defined: no strategic merge, PUT needs an RV
  bool tracks_generation = false;   // metadata.generation bumps on spec changes
  bool reset_status_on_create = false;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::vector<std::string> field_selectors;  // beyond metadata.name / metadata.namespace
  json schema;                      // openAPIV3Schema (custom types; null = no pruning)
  json printer_columns = json::array();

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // "services" or "bgppeers.herald.dev": the identity used in messages and keys.
  std::string group_resource() const { return group.empty() ? plural : plural + "." + group; }
};

enum class event_type { added, modified, deleted };
const char* to_string(event_type t);

// One committed change, as kept in the history (watch cache).
struct change {
  std::uint64_t rv = 0;
  event_type type = event_type::added;
  const resource_type* type_info = nullptr;
  std::string key;      // "namespace/name" or "name"
  json object;          // the state after the change (the last state for a delete)
  json previous;        // the state before (null for an add)
};

struct list_options {
  std::optional<std::string> resource_version;  // unset = consistent read
  std::string resource_version_match;           // "", "NotOlderThan", "Exact"
  std::int64_t limit = 0;
  std::string continue_token;
  label_selector labels;
  field_selector fields;
};

// What a watch request starts with: the events to send first (synthetic ADDED
// for RV unset / "0", or history replay for RV "N") and the RV after which
// live changes follow.
struct watch_start {
  std::vector<change> initial;
  std::uint64_t from_rv = 0;
};

enum class patch_kind { merge, json_patch, strategic, apply };

// Addresses and ports the Service registry hands out (clusterIP from
// 10.96.0.0/12 as kubeadm's default, nodePort from 30000).
struct service_allocator {
  std::uint32_t next_ip = 10;
  std::uint32_t next_node_port = 30000;
};

class store {
public:
  using clock_fn = std::function<std::string()>;  // RFC 3339 "now"
  using commit_fn = std::function<void(const change&)>;

  explicit store(clock_fn now = {});

  // Types. Registration keeps pointers stable (resource_type lives in a list).
  const resource_type* add_type(resource_type t);
  const resource_type* find_type(const std::string& group, const std::string& version,
                                 const std::string& plural) const;
  const resource_type* find_kind(const std::string& api_version, const std::string& kind) const;
  std::vector<const resource_type*> types() const;

  // Called after every commit, in order (the HTTP layer's watch fan-out).
  void on_commit(commit_fn fn) { on_commit_ = std::move(fn); }

  std::uint64_t current_rv() const { return rv_; }
  std::uint64_t compacted_rv() const { return compacted_; }

  // Drops history up to `rv` (inclusive): watches and continue tokens from
  // before it get 410 Expired. compact_all() compacts up to the current RV.
  void compact(std::uint64_t rv);
  void compact_all() { compact(rv_); }
  // The watch cache's window: history beyond this many changes is compacted.
  void set_history_limit(std::size_t n) { history_limit_ = n; }

  api_result<json> get(const resource_type& t, const std::string& ns, const std::string& name) const;
  api_result<json> list(const resource_type& t, const std::string& ns, const list_options& opt) const;
  api_result<watch_start> start_watch(const resource_type& t, const std::string& ns,
                                      const std::optional<std::string>& rv,
                                      const label_selector& labels, const field_selector& fields) const;

  // strict_fields: fieldValidation=Strict, unknown fields of a custom
  // resource are a 400 instead of being pruned silently.
  api_result<json> create(const resource_type& t, const std::string& ns, json body, bool strict_fields = false);
  // PUT; subresource is "" or "status".
  api_result<json> replace(const resource_type& t, const std::string& ns, const std::string& name,
                           json body, const std::string& subresource, bool strict_fields = false);
  // PATCH; `created` is set when an apply patch created the object (201).
  api_result<json> patch(const resource_type& t, const std::string& ns, const std::string& name,
                         patch_kind kind, const json& patch_body, const std::string& subresource,
                         bool* created = nullptr, bool strict_fields = false);
  // DELETE with optional DeleteOptions preconditions {uid, resourceVersion}.
  api_result<json> remove(const resource_type& t, const std::string& ns, const std::string& name,
                          const json& delete_options);

  // Whether an object (or change) passes a watch/list filter; used by the
  // HTTP layer for live events too.
  static bool matches(const json& obj, const label_selector& labels, const field_selector& fields);

  std::size_t object_count() const;

private:
  struct bucket {
    std::map<std::string, json> objects;  // key order = etcd key order
  };

  bucket& bucket_for(const resource_type& t) { return buckets_[&t]; }
  const bucket* find_bucket(const resource_type& t) const;
  static std::string key_of(const resource_type& t, const std::string& ns, const std::string& name);
  api_result<json> commit_write(const resource_type& t, const std::string& key, json next,
                                const json* old);
  void record(change c);
  api_result<std::map<std::string, const json*>> overlay_at(const resource_type& t, std::uint64_t rv) const;
  api_result<json> finish_update(const resource_type& t, const std::string& ns, const std::string& name,
                                 const json& old, json next, const std::string& subresource,
                                 bool strict_fields);
  std::optional<api_error> prune_default_validate(const resource_type& t, const std::string& name, json& obj,
                                                  bool strict_fields) const;
  std::string next_uid();
  std::string generate_suffix();

  clock_fn now_;
  commit_fn on_commit_;
  std::deque<resource_type> types_;
  std::map<const resource_type*, bucket> buckets_;
  std::deque<change> history_;
  std::uint64_t rv_ = 1;
  std::uint64_t compacted_ = 0;
  std::size_t history_limit_ = 200000;
  std::uint64_t uid_counter_ = 0;
  std::uint64_t name_counter_ = 0;
  service_allocator service_alloc_;
};

// The built-in resources the emulator serves (core Services, Endpoints-less
// discovery.k8s.io EndpointSlices, Nodes, Secrets, ConfigMaps, Namespaces,
// Events in core/v1 and events.k8s.io/v1, coordination.k8s.io Leases, and
// apiextensions CustomResourceDefinitions).
std::vector<resource_type> builtin_types();

// Builds the served type for each version of a CRD object (JSON form).
api_result<std::vector<resource_type>> types_from_crd(const json& crd);

}  // namespace herald::emulator
