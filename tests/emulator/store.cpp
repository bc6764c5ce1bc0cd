// The emulator's object store (see store.hpp). Messages and codes follow
// kube-apiserver (k8s.io/apiserver/pkg/registry/generic/registry/store.go,
// k8s.io/apimachinery/pkg/api/errors).
#include "store.hpp"

#include "patch.hpp"
#include "schema.hpp"

#include <boost/beast/core/detail/base64.hpp>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace herald::emulator {

void throw_exception_from_error(const api_error& e, const boost::source_location&) {
  throw std::runtime_error("api_error " + std::to_string(e.code) + ": " + e.message);
}

json status_body(const api_error& e) {
  json s = {{"kind", "Status"},
            {"apiVersion", "v1"},
            {"metadata", json::object()},
            {"status", "Failure"},
            {"message", e.message},
            {"reason", e.reason},
            {"code", e.code}};
  if (!e.details.is_null()) s["details"] = e.details;
  return s;
}

namespace {

json details_for(const std::string& plural_group, const std::string& name) {
  json d = json::object();
  if (!name.empty()) d["name"] = name;
  const auto dot = plural_group.find('.');
  if (dot != std::string::npos) d["group"] = plural_group.substr(dot + 1);
  d["kind"] = plural_group.substr(0, dot);
  return d;
}

api_error conflict(const resource_type& t, const std::string& name) {
  return {409, "Conflict",
          "Operation cannot be fulfilled on " + t.group_resource() + " \"" + name +
              "\": the object has been modified; please apply your changes to the latest version and try again",
          details_for(t.group_resource(), name)};
}

// Kind as kube-apiserver qualifies it in Invalid messages: "Service", "BGPPeer.herald.dev".
std::string qualified_kind(const resource_type& t) { return t.group.empty() ? t.kind : t.kind + "." + t.group; }

api_error invalid_fields(const resource_type& t, const std::string& name, const std::vector<schema_violation>& v) {
  std::string msg;
  json causes = json::array();
  for (const auto& c : v) {
    msg += (msg.empty() ? "" : ", ") + c.message;
    causes.push_back({{"reason", c.reason}, {"message", c.message}, {"field", c.field}});
  }
  if (v.size() > 1) msg = "[" + msg + "]";
  json d = {{"name", name}, {"kind", t.kind}, {"causes", causes}};
  if (!t.group.empty()) d["group"] = t.group;
  return {422, "Invalid", qualified_kind(t) + " \"" + name + "\" is invalid: " + msg, d};
}

std::string rv_string(std::uint64_t rv) { return std::to_string(rv); }

std::optional<std::uint64_t> parse_rv(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

std::string meta_string(const json& obj, const char* field) {
  if (obj.is_object() && obj.contains("metadata") && obj["metadata"].is_object() &&
      obj["metadata"].contains(field) && obj["metadata"][field].is_string())
    return obj["metadata"][field].get<std::string>();
  return {};
}

json without(json obj, std::initializer_list<const char*> keys) {
  for (const char* k : keys) obj.erase(k);
  return obj;
}

std::string encode_continue(std::uint64_t rv, const std::string& start) {
  const std::string raw = json{{"v", "meta.k8s.io/v1"}, {"rv", rv}, {"start", start}}.dump();
  std::string out(boost::beast::detail::base64::encoded_size(raw.size()), '\0');
  out.resize(boost::beast::detail::base64::encode(out.data(), raw.data(), raw.size()));
  return out;
}

std::optional<std::pair<std::uint64_t, std::string>> decode_continue(const std::string& token) {
  std::string raw(boost::beast::detail::base64::decoded_size(token.size()), '\0');
  const auto [written, read] = boost::beast::detail::base64::decode(raw.data(), token.data(), token.size());
  (void)read;
  raw.resize(written);
  const json j = json::parse(raw, nullptr, false);
  if (!j.is_object() || !j.contains("rv") || !j["rv"].is_number_unsigned() || !j.contains("start") ||
      !j["start"].is_string())
    return std::nullopt;
  return std::make_pair(j["rv"].get<std::uint64_t>(), j["start"].get<std::string>());
}

bool is_crd_type(const resource_type& t) {
  return t.group == "apiextensions.k8s.io" && t.plural == "customresourcedefinitions";
}

}  // namespace

api_error not_found(const std::string& plural_group, const std::string& name) {
  return {404, "NotFound", plural_group + " \"" + name + "\" not found", details_for(plural_group, name)};
}

api_error bad_request(const std::string& message) { return {400, "BadRequest", message, json()}; }

api_error invalid(const std::string& kind, const std::string& name, const std::string& message) {
  return {422, "Invalid", kind + " \"" + name + "\" is invalid: " + message, json{{"name", name}, {"kind", kind}}};
}

const char* to_string(event_type t) {
  switch (t) {
    case event_type::added: return "ADDED";
    case event_type::modified: return "MODIFIED";
    case event_type::deleted: return "DELETED";
  }
  return "ERROR";
}

store::store(clock_fn now) : now_(std::move(now)) {
  if (!now_) now_ = [] { return std::string("2026-01-01T00:00:00Z"); };
  for (auto& t : builtin_types()) add_type(std::move(t));
  const resource_type* ns_type = find_type("", "v1", "namespaces");
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"})
    (void)create(*ns_type, "", json{{"metadata", {{"name", ns}}}});
}

const resource_type* store::add_type(resource_type t) {
  for (auto& existing : types_) {
    if (existing.group == t.group && existing.version == t.version && existing.plural == t.plural) {
      existing = std::move(t);  // a CRD update replaces the schema in place
      return &existing;
    }
  }
  types_.push_back(std::move(t));
  return &types_.back();
}

const resource_type* store::find_type(const std::string& group, const std::string& version,
                                      const std::string& plural) const {
  for (const auto& t : types_)
    if (t.group == group && t.version == version && t.plural == plural) return &t;
  return nullptr;
}

const resource_type* store::find_kind(const std::string& api_version, const std::string& kind) const {
  for (const auto& t : types_)
    if (t.api_version() == api_version && t.kind == kind) return &t;
  return nullptr;
}

std::vector<const resource_type*> store::types() const {
  std::vector<const resource_type*> out;
  for (const auto& t : types_) out.push_back(&t);
  return out;
}

std::size_t store::object_count() const {
  std::size_t n = 0;
  for (const auto& [t, b] : buckets_) n += b.objects.size();
  return n;
}

const store::bucket* store::find_bucket(const resource_type& t) const {
  const auto it = buckets_.find(&t);
  return it == buckets_.end() ? nullptr : &it->second;
}

std::string store::key_of(const resource_type& t, const std::string& ns, const std::string& name) {
  return t.namespaced ? ns + "/" + name : name;
}

std::string store::next_uid() {
  ++uid_counter_;
  char buf[40];
  std::snprintf(buf, sizeof buf, "6865726c-6400-4000-8000-%012llx", static_cast<unsigned long long>(uid_counter_));
  return buf;
}

std::string store::generate_suffix() {
  // kube-apiserver appends 5 characters from this alphabet (no vowels).
  static constexpr char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::uint64_t x = ++name_counter_ * 0x9E3779B97F4A7C15ULL;
  std::string out;
  for (int i = 0; i < 5; ++i) {
    out += alphabet[x % 27];
    x /= 27;
  }
  return out;
}

void store::compact(std::uint64_t rv) {
  while (!history_.empty() && history_.front().rv <= rv) history_.pop_front();
  compacted_ = std::max(compacted_, std::min(rv, rv_));
}

void store::record(change c) {
  history_.push_back(c);
  while (history_.size() > history_limit_) {
    compacted_ = history_.front().rv;
    history_.pop_front();
  }
  if (on_commit_) on_commit_(c);
}

bool store::matches(const json& obj, const label_selector& labels, const field_selector& fields) {
  if (labels.requirements.empty() && fields.requirements.empty()) return true;
  static const json no_labels = json::object();
  const json* labels_json = &no_labels;
  if (obj.contains("metadata") && obj["metadata"].is_object() && obj["metadata"].contains("labels"))
    labels_json = &obj["metadata"]["labels"];
  return labels.matches(*labels_json) && fields.matches(obj);
}

api_result<json> store::get(const resource_type& t, const std::string& ns, const std::string& name) const {
  const bucket* b = find_bucket(t);
  const auto key = key_of(t, ns, name);
  if (!b || !b->objects.contains(key)) return not_found(t.group_resource(), name);
  return ok(b->objects.at(key));
}

api_result<std::map<std::string, const json*>> store::overlay_at(const resource_type& t, std::uint64_t rv) const {
  if (rv < compacted_)
    return api_error{410, "Expired", "The resourceVersion for the provided list is too old.", json()};
  // Walking back from the newest change, the oldest change after `rv` wins:
  // its previous state is the state at `rv` (null pointer: absent then).
  std::map<std::string, const json*> overlay;
  for (auto it = history_.rbegin(); it != history_.rend() && it->rv > rv; ++it) {
    if (it->type_info != &t) continue;
    overlay[it->key] = it->type == event_type::added ? nullptr : &it->previous;
  }
  return overlay;
}

api_result<json> store::list(const resource_type& t, const std::string& ns, const list_options& opt) const {
  std::uint64_t list_rv = rv_;
  std::string start_after;
  bool from_snapshot = false;
  std::int64_t limit = opt.limit;
  if (!opt.continue_token.empty()) {
    if (opt.resource_version && !opt.resource_version->empty())
      return bad_request("specifying resource version is not allowed when using continue");
    const auto token = decode_continue(opt.continue_token);
    if (!token) return bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
    if (token->first < compacted_)
      return api_error{410, "Expired",
                       "The provided continue parameter is too old to display a consistent list result. You can "
                       "start a new list without the continue parameter, or use the continue token in this "
                       "response to retrieve the remainder of the results. Continuing with the provided token "
                       "results in an inconsistent list - objects that were created, modified, or deleted "
                       "between the time the first chunk was returned and now may show up in the list.",
                       json()};
    list_rv = token->first;
    start_after = token->second;
    from_snapshot = true;
  } else if (opt.resource_version && !opt.resource_version->empty()) {
    const auto rv = parse_rv(*opt.resource_version);
    if (!rv) return bad_request("invalid resource version \"" + *opt.resource_version + "\"");
    if (*rv == 0) {
      // Served from the watch cache, which ignores limit (k8s ≤ 1.32 cacher).
      limit = 0;
    } else if (*rv > rv_) {
      return api_error{504, "Timeout", "Too large resource version: " + *opt.resource_version + ", current: " + rv_string(rv_),
                       json{{"causes", json::array({{{"reason", "ResourceVersionTooLarge"},
                                                     {"message", "Too large resource version"}}})},
                            {"retryAfterSeconds", 1}}};
    } else if (opt.resource_version_match == "Exact") {
      list_rv = *rv;
      from_snapshot = true;
    }
  }
  // Current objects, seen through the overlay of changes made since list_rv
  // when reading a snapshot (continue pages, Exact).
  std::map<std::string, const json*> overlay;
  if (from_snapshot) {
    auto o = overlay_at(t, list_rv);
    if (!o) return o.error();
    overlay = std::move(*o);
  }
  static const std::map<std::string, json> empty;
  const bucket* b = find_bucket(t);
  const std::map<std::string, json>& current = b ? b->objects : empty;
  auto cur = start_after.empty() ? current.begin() : current.upper_bound(start_after);
  auto ov = start_after.empty() ? overlay.begin() : overlay.upper_bound(start_after);
  const bool selective = !opt.labels.requirements.empty() || !opt.fields.requirements.empty();
  json items = json::array();
  std::string last_key;
  std::int64_t remaining = 0;
  bool more = false;
  const std::string prefix = ns.empty() ? "" : ns + "/";
  while (cur != current.end() || ov != overlay.end()) {
    const std::string* key;
    const json* obj;
    if (ov == overlay.end() || (cur != current.end() && cur->first < ov->first)) {
      key = &cur->first;
      obj = &cur->second;
      ++cur;
    } else {
      if (cur != current.end() && cur->first == ov->first) ++cur;
      key = &ov->first;
      obj = ov->second;
      ++ov;
    }
    if (!obj) continue;
    if (!prefix.empty() && key->rfind(prefix, 0) != 0) continue;
    if (more && !selective) {
      ++remaining;  // remainingItemCount: counting needs no matching
      continue;
    }
    if (!matches(*obj, opt.labels, opt.fields)) continue;
    if (limit > 0 && static_cast<std::int64_t>(items.size()) >= limit) {
      more = true;
      ++remaining;
      if (selective) break;
      continue;
    }
    json item = *obj;
    if (!t.custom) {
      // Typed lists of built-in kinds carry no per-item kind/apiVersion.
      item.erase("kind");
      item.erase("apiVersion");
    }
    items.push_back(std::move(item));
    last_key = *key;
  }
  json meta = {{"resourceVersion", rv_string(list_rv)}};
  if (more) {
    meta["continue"] = encode_continue(list_rv, last_key);
    if (opt.labels.requirements.empty() && opt.fields.requirements.empty()) meta["remainingItemCount"] = remaining;
  }
  return ok(json{{"kind", t.list_kind}, {"apiVersion", t.api_version()}, {"metadata", meta}, {"items", items}});
}

api_result<watch_start> store::start_watch(const resource_type& t, const std::string& ns,
                                           const std::optional<std::string>& rv, const label_selector& labels,
                                           const field_selector& fields) const {
  watch_start out;
  out.from_rv = rv_;
  const std::string prefix = ns.empty() ? "" : ns + "/";
  if (!rv || rv->empty() || *rv == "0") {
    if (const bucket* b = find_bucket(t)) {
      for (const auto& [key, obj] : b->objects) {
        if (!prefix.empty() && key.rfind(prefix, 0) != 0) continue;
        if (!matches(obj, labels, fields)) continue;
        out.initial.push_back(change{rv_, event_type::added, &t, key, obj, json()});
      }
    }
    return out;
  }
  const auto n = parse_rv(*rv);
  if (!n) return bad_request("invalid resource version \"" + *rv + "\"");
  if (*n < compacted_)
    return api_error{410, "Expired",
                     "too old resource version: " + *rv + " (" + rv_string(compacted_ + 1) + ")", json()};
  for (const auto& c : history_) {
    if (c.rv <= *n || c.type_info != &t) continue;
    if (!prefix.empty() && c.key.rfind(prefix, 0) != 0) continue;
    out.initial.push_back(c);
  }
  return out;
}

// ---- writes ----

namespace {

// The Service registry's defaulting and allocation (pkg/apis/core/v1/defaults.go,
// pkg/registry/core/service/storage): type, sessionAffinity, port protocol and
// targetPort, clusterIP(s), IP families, traffic policies, node ports, and
// `ipMode: VIP` on load-balancer ingress with an IP.
void default_service(json& svc, const json* old, service_allocator& alloc) {
  json& spec = svc["spec"];
  if (!spec.is_object()) spec = json::object();
  const json old_spec = old && old->contains("spec") ? (*old)["spec"] : json::object();
  if (!spec.contains("type")) spec["type"] = "ClusterIP";
  const std::string type = spec["type"].is_string() ? spec["type"].get<std::string>() : "ClusterIP";
  if (!spec.contains("sessionAffinity")) spec["sessionAffinity"] = "None";
  if (type != "ExternalName") {
    // An update that omits allocated values keeps them (patchAllocatedValues).
    if ((!spec.contains("clusterIP") || spec["clusterIP"] == "") && old_spec.contains("clusterIP")) {
      spec["clusterIP"] = old_spec["clusterIP"];
      if (old_spec.contains("clusterIPs")) spec["clusterIPs"] = old_spec["clusterIPs"];
    }
    if (!spec.contains("clusterIP") || spec["clusterIP"] == "") {
      const std::uint32_t n = alloc.next_ip++;
      spec["clusterIP"] = "10.96." + std::to_string((n >> 8) & 0xff) + "." + std::to_string(n & 0xff);
    }
    if (!spec.contains("clusterIPs")) spec["clusterIPs"] = json::array({spec["clusterIP"]});
    if (!spec.contains("ipFamilies")) spec["ipFamilies"] = json::array({"IPv4"});
    if (!spec.contains("ipFamilyPolicy")) spec["ipFamilyPolicy"] = "SingleStack";
    if (!spec.contains("internalTrafficPolicy")) spec["internalTrafficPolicy"] = "Cluster";
  }
  const bool node_ports = type == "NodePort" || type == "LoadBalancer";
  if (node_ports && !spec.contains("externalTrafficPolicy")) spec["externalTrafficPolicy"] = "Cluster";
  if (type == "LoadBalancer" && !spec.contains("allocateLoadBalancerNodePorts"))
    spec["allocateLoadBalancerNodePorts"] = true;
  if (spec.contains("ports") && spec["ports"].is_array()) {
    for (auto& p : spec["ports"]) {
      if (!p.is_object()) continue;
      if (!p.contains("protocol")) p["protocol"] = "TCP";
      if (!p.contains("targetPort") && p.contains("port")) p["targetPort"] = p["port"];
      const bool want_node_port = node_ports && (type != "LoadBalancer" || spec.value("allocateLoadBalancerNodePorts", true));
      if (want_node_port && !p.contains("nodePort")) {
        if (old_spec.contains("ports") && old_spec["ports"].is_array())
          for (const auto& op : old_spec["ports"])
            if (op.is_object() && op.value("port", json()) == p.value("port", json()) && op.contains("nodePort"))
              p["nodePort"] = op["nodePort"];
        if (!p.contains("nodePort")) p["nodePort"] = alloc.next_node_port++;
      }
    }
  }
  if (!svc.contains("status") || !svc["status"].is_object()) svc["status"] = {{"loadBalancer", json::object()}};
  json& lb = svc["status"]["loadBalancer"];
  if (lb.is_object() && lb.contains("ingress") && lb["ingress"].is_array())
    for (auto& ing : lb["ingress"])
      if (ing.is_object() && ing.contains("ip") && !ing.contains("ipMode")) ing["ipMode"] = "VIP";
}

std::optional<api_error> validate_service(const json& svc, const json* old, const std::string& name) {
  const json& spec = svc["spec"];
  if (spec.contains("ports") && spec["ports"].is_array()) {
    for (std::size_t i = 0; i < spec["ports"].size(); ++i) {
      const json& p = spec["ports"][i];
      const std::string f = "spec.ports[" + std::to_string(i) + "].port";
      if (!p.is_object() || !p.contains("port")) return invalid("Service", name, f + ": Required value");
      if (!p["port"].is_number_integer() || p["port"].get<std::int64_t>() < 1 || p["port"].get<std::int64_t>() > 65535)
        return invalid("Service", name, f + ": Invalid value: " + p["port"].dump() +
                                            ": must be between 1 and 65535, inclusive");
    }
  }
  if (old) {
    const json old_class = (*old)["spec"].value("loadBalancerClass", json());
    const json new_class = spec.value("loadBalancerClass", json());
    if (!old_class.is_null() && old_class != new_class)
      return invalid("Service", name, "spec.loadBalancerClass: Invalid value: " + new_class.dump() +
                                          ": may not change once set");
    if (old_class.is_null() && !new_class.is_null() && (*old)["spec"].value("type", "") == "LoadBalancer")
      return invalid("Service", name, "spec.loadBalancerClass: Invalid value: " + new_class.dump() +
                                          ": may not change once set");
  }
  return std::nullopt;
}

}  // namespace

api_result<json> store::commit_write(const resource_type& t, const std::string& key, json next, const json* old) {
  ++rv_;
  next["metadata"]["resourceVersion"] = rv_string(rv_);
  json previous = old ? *old : json();
  bucket_for(t).objects[key] = next;
  record(change{rv_, old ? event_type::modified : event_type::added, &t, key, next, std::move(previous)});
  if (is_crd_type(t)) {
    if (auto served = types_from_crd(next))
      for (auto& st : *served) add_type(std::move(st));
  }
  return ok(std::move(next));
}

std::optional<api_error> store::prune_default_validate(const resource_type& t, const std::string& name, json& obj,
                                                      bool strict_fields) const {
  if (!t.custom || !t.schema.is_object()) return std::nullopt;
  const auto pruned = prune_unknown_fields(obj, t.schema);
  if (strict_fields && !pruned.empty()) {
    std::string msg;
    for (const auto& p : pruned) msg += (msg.empty() ? "" : ", ") + std::string("unknown field \"") + p + "\"";
    return bad_request(t.kind + " in version \"" + t.version + "\" cannot be handled as a " + t.kind +
                       ": strict decoding error: " + msg);
  }
  apply_schema_defaults(obj, t.schema);
  const auto violations = validate_against_schema(obj, t.schema);
  if (!violations.empty()) return invalid_fields(t, name, violations);
  return std::nullopt;
}

namespace {

// Typed decoding on the real server refuses a non-object where an object
// belongs (metadata, spec, status).
std::optional<api_error> shape_error(const resource_type& t, const json& body) {
  if (!body.is_object()) return bad_request("the body of the request was in an unknown format");
  for (const char* f : {"metadata", "spec", "status"})
    if (body.contains(f) && !body[f].is_object() && !body[f].is_null())
      return bad_request(t.kind + " in version \"" + t.version + "\" cannot be handled as a " + t.kind +
                         ": json: cannot unmarshal " + std::string(body[f].type_name()) + " into Go struct field " +
                         t.kind + "." + f);
  return std::nullopt;
}

}  // namespace

api_result<json> store::create(const resource_type& t, const std::string& ns, json body, bool strict_fields) {
  if (auto e = shape_error(t, body)) return *e;
  if (body.contains("apiVersion") && body["apiVersion"] != t.api_version())
    return bad_request("the API version in the data (" + body["apiVersion"].dump() +
                       ") does not match the expected API version (" + t.api_version() + ")");
  if (body.contains("kind") && body["kind"] != t.kind)
    return bad_request("the kind in the data (" + body["kind"].dump() + ") does not match the expected kind (" + t.kind + ")");
  body["apiVersion"] = t.api_version();
  body["kind"] = t.kind;
  if (!body.contains("metadata") || !body["metadata"].is_object()) body["metadata"] = json::object();
  json& meta = body["metadata"];
  std::string name = meta_string(body, "name");
  if (name.empty()) {
    const std::string gen = meta_string(body, "generateName");
    if (gen.empty())
      return invalid(qualified_kind(t), "", "metadata.name: Required value: name or generateName is required");
    name = gen + generate_suffix();
    meta["name"] = name;
  }
  if (t.namespaced) {
    const std::string body_ns = meta_string(body, "namespace");
    if (!body_ns.empty() && body_ns != ns)
      return bad_request("the namespace of the provided object does not match the namespace sent on the request");
    if (ns.empty()) return bad_request("a namespace is required for " + t.group_resource());
    meta["namespace"] = ns;
    const resource_type* ns_type = find_type("", "v1", "namespaces");
    if (ns_type && !get(*ns_type, "", ns)) return not_found("namespaces", ns);
  } else {
    meta.erase("namespace");
  }
  const std::string key = key_of(t, ns, name);
  if (bucket_for(t).objects.contains(key)) {
    return api_error{409, "AlreadyExists", t.group_resource() + " \"" + name + "\" already exists",
                     details_for(t.group_resource(), name)};
  }
  for (const char* f : {"resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "uid",
                        "creationTimestamp", "selfLink"})
    meta.erase(f);
  meta["uid"] = next_uid();
  meta["creationTimestamp"] = now_();
  if (t.tracks_generation) meta["generation"] = 1;
  if (t.reset_status_on_create) body.erase("status");
  if (auto e = prune_default_validate(t, name, body, strict_fields)) return *e;
  if (t.group.empty() && t.kind == "Service") {
    default_service(body, nullptr, service_alloc_);
    if (auto e = validate_service(body, nullptr, name)) return *e;
  }
  if (t.group.empty() && t.kind == "Namespace") body["status"] = {{"phase", "Active"}};
  if (t.group == "events.k8s.io") {
    // events.k8s.io/v1 validation (kube-api.md §4).
    std::vector<schema_violation> v;
    for (const char* f : {"eventTime", "reportingController", "reportingInstance", "action", "reason", "type"})
      if (!body.contains(f) || body[f].is_null() || body[f] == "")
        v.push_back({f, "FieldValueRequired", std::string(f) + ": Required value"});
    if (body.contains("note") && body["note"].is_string() && body["note"].get<std::string>().size() > 1024)
      v.push_back({"note", "FieldValueTooLong", "note: Too long: may not be longer than 1024"});
    if (!v.empty()) return invalid_fields(t, name, v);
  }
  if (is_crd_type(t)) {
    auto served = types_from_crd(body);
    if (!served) return served.error();
    body["status"] = {{"acceptedNames", body["spec"]["names"]},
                      {"conditions", json::array({{{"type", "NamesAccepted"}, {"status", "True"}, {"reason", "NoConflicts"}},
                                                  {{"type", "Established"}, {"status", "True"}, {"reason", "InitialNamesAccepted"}}})},
                      {"storedVersions", json::array()}};
    for (const auto& v : body["spec"]["versions"])
      if (v.value("storage", false)) body["status"]["storedVersions"].push_back(v["name"]);
  }
  return commit_write(t, key, std::move(body), nullptr);
}

api_result<json> store::finish_update(const resource_type& t, const std::string& ns, const std::string& name,
                                      const json& old, json next, const std::string& subresource,
                                      bool strict_fields) {
  if (auto e = shape_error(t, next)) return *e;
  if (!next.contains("metadata") || !next["metadata"].is_object()) next["metadata"] = json::object();
  const std::string new_name = meta_string(next, "name");
  if (!new_name.empty() && new_name != name)
    return bad_request("the name of the object (" + new_name + ") does not match the name on the URL (" + name + ")");
  if (t.namespaced) {
    const std::string new_ns = meta_string(next, "namespace");
    if (!new_ns.empty() && new_ns != ns)
      return bad_request("the namespace of the provided object does not match the namespace sent on the request");
  }
  if (next.contains("apiVersion") && next["apiVersion"] != t.api_version())
    return bad_request("the API version in the data (" + next["apiVersion"].dump() +
                       ") does not match the expected API version (" + t.api_version() + ")");
  next["apiVersion"] = t.api_version();
  next["kind"] = t.kind;
  if (subresource == "status") {
    // A status write keeps everything but .status (kube-api.md §2).
    json merged = old;
    if (next.contains("status")) {
      merged["status"] = next["status"];
    } else {
      merged.erase("status");
    }
    next = std::move(merged);
  } else if (t.status_subresource) {
    if (old.contains("status")) {
      next["status"] = old["status"];
    } else {
      next.erase("status");
    }
  }
  json& meta = next["metadata"];
  const json& old_meta = old["metadata"];
  meta["name"] = name;
  if (t.namespaced) meta["namespace"] = ns;
  for (const char* f : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"}) {
    if (old_meta.contains(f)) {
      meta[f] = old_meta[f];
    } else {
      meta.erase(f);
    }
  }
  meta["resourceVersion"] = old_meta["resourceVersion"];
  if (auto e = prune_default_validate(t, name, next, strict_fields)) return *e;
  if (t.group.empty() && t.kind == "Service") {
    default_service(next, &old, service_alloc_);
    if (auto e = validate_service(next, &old, name)) return *e;
  }
  // Pruning re-creates "metadata": take the reference again.
  json& final_meta = next["metadata"];
  if (t.tracks_generation &&
      without(next, {"metadata", "status"}) != without(old, {"metadata", "status"}))
    final_meta["generation"] = old_meta.value("generation", 0) + 1;
  if (next == old) return ok(old);  // a no-op write commits nothing and sends no event
  const std::string key = key_of(t, ns, name);
  const bool finalized = final_meta.contains("deletionTimestamp") &&
                         (!final_meta.contains("finalizers") || final_meta["finalizers"].empty());
  auto written = commit_write(t, key, std::move(next), &old);
  if (finalized && written) {
    // The last finalizer went away from an object being deleted: delete it now.
    return remove(t, ns, name, json());
  }
  return written;
}

api_result<json> store::replace(const resource_type& t, const std::string& ns, const std::string& name, json body,
                                const std::string& subresource, bool strict_fields) {
  if (!subresource.empty() && !(subresource == "status" && t.status_subresource))
    return not_found(t.group_resource(), name);
  auto current = get(t, ns, name);
  if (!current) return current.error();
  if (!body.is_object()) return bad_request("the body of the request was in an unknown format");
  const std::string rv = meta_string(body, "resourceVersion");
  if (rv.empty() && t.custom)
    return invalid(qualified_kind(t), name, "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update");
  if (!rv.empty() && rv != meta_string(*current, "resourceVersion")) return conflict(t, name);
  return finish_update(t, ns, name, *current, std::move(body), subresource, strict_fields);
}

api_result<json> store::patch(const resource_type& t, const std::string& ns, const std::string& name, patch_kind kind,
                              const json& patch_body, const std::string& subresource, bool* created,
                              bool strict_fields) {
  if (created) *created = false;
  if (!subresource.empty() && !(subresource == "status" && t.status_subresource))
    return not_found(t.group_resource(), name);
  if (kind == patch_kind::strategic && t.custom)
    return api_error{415, "UnsupportedMediaType",
                     "the body of the request was in an unknown format - accepted media types include: "
                     "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                     json()};
  auto current = get(t, ns, name);
  if (!current) {
    if (kind != patch_kind::apply || !subresource.empty()) return current.error();
    // Server-side apply creates a missing object.
    json body = patch_body;
    if (!body.is_object()) return bad_request("the body of the request was in an unknown format");
    if (!body.contains("metadata") || !body["metadata"].is_object()) body["metadata"] = json::object();
    body["metadata"]["name"] = name;
    auto made = create(t, ns, std::move(body), strict_fields);
    if (made && created) *created = true;
    return made;
  }
  json next;
  switch (kind) {
    case patch_kind::merge:
    case patch_kind::apply:
      // Server-side apply is approximated by a merge of the applied
      // configuration (no managed fields): docs/emulator.md says so.
      if (!patch_body.is_object()) return bad_request("the body of the request was in an unknown format");
      next = merge_patch(*current, patch_body);
      break;
    case patch_kind::json_patch: {
      auto r = json_patch(*current, patch_body);
      if (!r) return invalid(qualified_kind(t), name, r.error().message);
      next = std::move(*r);
      break;
    }
    case patch_kind::strategic: {
      auto r = strategic_merge(*current, patch_body, builtin_strategy(t.kind));
      if (!r) return invalid(qualified_kind(t), name, r.error().message);
      next = std::move(*r);
      break;
    }
  }
  // A resourceVersion in the patched object is a precondition (kube-api.md §2).
  const std::string rv = meta_string(next, "resourceVersion");
  if (!rv.empty() && rv != meta_string(*current, "resourceVersion")) return conflict(t, name);
  return finish_update(t, ns, name, *current, std::move(next), subresource, strict_fields);
}

api_result<json> store::remove(const resource_type& t, const std::string& ns, const std::string& name,
                               const json& delete_options) {
  auto current = get(t, ns, name);
  if (!current) return current.error();
  if (delete_options.is_object() && delete_options.contains("preconditions") &&
      delete_options["preconditions"].is_object()) {
    const json& pre = delete_options["preconditions"];
    const std::string uid = meta_string(*current, "uid");
    const std::string rv = meta_string(*current, "resourceVersion");
    if (pre.contains("uid") && pre["uid"].is_string() && pre["uid"] != uid)
      return api_error{409, "Conflict", "Precondition failed: UID in precondition: " + pre["uid"].get<std::string>() +
                                            ", UID in object meta: " + uid, details_for(t.group_resource(), name)};
    if (pre.contains("resourceVersion") && pre["resourceVersion"].is_string() && pre["resourceVersion"] != rv)
      return api_error{409, "Conflict",
                       "Precondition failed: ResourceVersion in precondition: " +
                           pre["resourceVersion"].get<std::string>() + ", ResourceVersion in object meta: " + rv,
                       details_for(t.group_resource(), name)};
  }
  const std::string key = key_of(t, ns, name);
  const json& meta = (*current)["metadata"];
  if (meta.contains("finalizers") && meta["finalizers"].is_array() && !meta["finalizers"].empty()) {
    if (meta.contains("deletionTimestamp")) return ok(*current);
    json next = *current;
    next["metadata"]["deletionTimestamp"] = now_();
    next["metadata"]["deletionGracePeriodSeconds"] = 0;
    if (t.tracks_generation) next["metadata"]["generation"] = meta.value("generation", 0) + 1;
    const json old = *current;
    return commit_write(t, key, std::move(next), &old);
  }
  ++rv_;
  json last = *current;
  last["metadata"]["resourceVersion"] = rv_string(rv_);
  bucket_for(t).objects.erase(key);
  record(change{rv_, event_type::deleted, &t, key, last, *current});
  return ok(std::move(last));
}

}  // namespace herald::emulator
