// Merge, JSON and strategic merge patches (see patch.hpp).
#include "patch.hpp"

#include <algorithm>
#include <map>
#include <optional>

namespace herald::emulator {

using nlohmann::json;

namespace {

// json converts implicitly to almost anything, so a Result holding it is
// built explicitly.
herald::Result<json, patch_error> ok(json v) {
  return herald::Result<json, patch_error>(boost::system::in_place_value, std::move(v));
}

}  // namespace

strategy_lookup builtin_strategy(const std::string& kind) {
  // Patch tags of the Go types (k8s.io/api): `patchStrategy:"merge"` plus
  // `patchMergeKey`. Everything else is atomic.
  static const std::map<std::string, std::map<std::string, list_strategy>> table = {
      {"*",
       {{"metadata.finalizers", {list_strategy::mode::merge_primitive, ""}},
        {"metadata.ownerReferences", {list_strategy::mode::merge_key, "uid"}}}},
      {"Service",
       {{"spec.ports", {list_strategy::mode::merge_key, "port"}},
        {"status.conditions", {list_strategy::mode::merge_key, "type"}}}},
      {"Node",
       {{"status.addresses", {list_strategy::mode::merge_key, "type"}},
        {"status.conditions", {list_strategy::mode::merge_key, "type"}}}},
  };
  return [kind](const std::string& path) -> list_strategy {
    for (const auto* k : {&kind, static_cast<const std::string*>(nullptr)}) {
      const auto it = table.find(k ? *k : std::string("*"));
      if (it == table.end()) continue;
      const auto f = it->second.find(path);
      if (f != it->second.end()) return f->second;
    }
    return {};
  };
}

json merge_patch(json target, const json& patch) {
  target.merge_patch(patch);
  return target;
}

herald::Result<json, patch_error> json_patch(const json& target, const json& patch) {
  if (!patch.is_array()) return patch_error{"json patch must be an array of operations"};
  try {
    return ok(target.patch(patch));
  } catch (const json::exception& e) {
    return patch_error{e.what()};
  }
}

namespace {

constexpr std::string_view set_order_prefix = "$setElementOrder/";
constexpr std::string_view delete_primitive_prefix = "$deleteFromPrimitiveList/";

json strip_directives(json v) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end();) {
      if (!it.key().empty() && it.key()[0] == '$') {
        it = v.erase(it);
      } else {
        *it = strip_directives(*it);
        ++it;
      }
    }
  } else if (v.is_array()) {
    json out = json::array();
    for (auto& e : v) {
      if (e.is_object() && e.contains("$patch")) continue;
      out.push_back(strip_directives(e));
    }
    return out;
  }
  return v;
}

herald::Result<std::optional<json>, patch_error> merge_value(const json& original, const json& patch,
                                                             const std::string& path,
                                                             const strategy_lookup& lookup);

void reorder(json& list, const json& order, const std::string& key) {
  if (!list.is_array() || !order.is_array()) return;
  auto rank = [&](const json& e) -> std::size_t {
    for (std::size_t i = 0; i < order.size(); ++i) {
      const json& o = order[i];
      if (key.empty() ? o == e : (o.is_object() && e.is_object() && o.contains(key) && e.contains(key) && o[key] == e[key]))
        return i;
    }
    return order.size();
  };
  std::stable_sort(list.begin(), list.end(), [&](const json& a, const json& b) { return rank(a) < rank(b); });
}

herald::Result<json, patch_error> merge_list(const json& original, const json& patch, const std::string& path,
                                             const list_strategy& s, const strategy_lookup& lookup) {
  json base = original.is_array() ? original : json::array();
  if (s.how == list_strategy::mode::replace) return ok(strip_directives(patch));
  if (s.how == list_strategy::mode::merge_primitive) {
    for (const auto& e : patch)
      if (std::find(base.begin(), base.end(), e) == base.end()) base.push_back(e);
    return ok(base);
  }
  for (const auto& e : patch) {
    if (e.is_object() && e.value("$patch", "") == "replace") return ok(strip_directives(patch));
  }
  for (const auto& e : patch) {
    if (!e.is_object() || !e.contains(s.merge_key))
      return patch_error{"map: " + e.dump() + " does not contain declared merge key: " + s.merge_key};
    auto same = [&](const json& o) { return o.is_object() && o.contains(s.merge_key) && o[s.merge_key] == e[s.merge_key]; };
    const auto it = std::find_if(base.begin(), base.end(), same);
    if (e.value("$patch", "") == "delete") {
      if (it != base.end()) base.erase(it);
      continue;
    }
    if (it == base.end()) {
      base.push_back(strip_directives(e));
    } else {
      auto merged = merge_value(*it, e, path, lookup);
      if (!merged) return merged.error();
      if (merged->has_value()) *it = **merged;
    }
  }
  return ok(base);
}

// Returns nullopt when the patch deletes the value ($patch: delete).
herald::Result<std::optional<json>, patch_error> merge_value(const json& original, const json& patch,
                                                             const std::string& path,
                                                             const strategy_lookup& lookup) {
  if (!patch.is_object()) return std::optional<json>(patch);
  const std::string directive = patch.value("$patch", "");
  if (directive == "delete") return std::optional<json>();
  if (directive == "replace") return std::optional<json>(strip_directives(patch));
  json result = original.is_object() ? original : json::object();
  std::map<std::string, json> orders;
  std::map<std::string, json> primitive_deletes;
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& k = it.key();
    const std::string child = path.empty() ? k : path + "." + k;
    if (k.rfind(set_order_prefix, 0) == 0) {
      orders[k.substr(set_order_prefix.size())] = it.value();
    } else if (k.rfind(delete_primitive_prefix, 0) == 0) {
      primitive_deletes[k.substr(delete_primitive_prefix.size())] = it.value();
    } else if (k == "$patch" || k == "$retainKeys") {
      continue;
    } else if (it.value().is_null()) {
      result.erase(k);
    } else if (it.value().is_object()) {
      const json orig = result.contains(k) ? result[k] : json();
      auto merged = merge_value(orig, it.value(), child, lookup);
      if (!merged) return merged.error();
      if (merged->has_value()) {
        result[k] = **merged;
      } else {
        result.erase(k);
      }
    } else if (it.value().is_array()) {
      const json orig = result.contains(k) ? result[k] : json();
      auto merged = merge_list(orig, it.value(), child, lookup(child), lookup);
      if (!merged) return merged.error();
      result[k] = *merged;
    } else {
      result[k] = it.value();
    }
  }
  for (const auto& [list, values] : primitive_deletes) {
    if (!result.contains(list) || !result[list].is_array()) continue;
    json kept = json::array();
    for (const auto& e : result[list])
      if (std::find(values.begin(), values.end(), e) == values.end()) kept.push_back(e);
    result[list] = kept;
  }
  for (const auto& [list, order] : orders) {
    if (!result.contains(list)) continue;
    const std::string child = path.empty() ? list : path + "." + list;
    reorder(result[list], order, lookup(child).merge_key);
  }
  if (patch.contains("$retainKeys") && patch["$retainKeys"].is_array()) {
    const json& keep = patch["$retainKeys"];
    for (auto it = result.begin(); it != result.end();) {
      if (std::find(keep.begin(), keep.end(), json(it.key())) == keep.end()) {
        it = result.erase(it);
      } else {
        ++it;
      }
    }
  }
  return std::optional<json>(std::move(result));
}

}  // namespace

herald::Result<json, patch_error> strategic_merge(const json& original, const json& patch,
                                                  const strategy_lookup& lookup) {
  if (!patch.is_object()) return patch_error{"strategic merge patch must be a JSON object"};
  auto merged = merge_value(original, patch, "", lookup);
  if (!merged) return merged.error();
  if (!merged->has_value()) return patch_error{"a strategic merge patch cannot delete the whole object"};
  return ok(**merged);
}

}  // namespace herald::emulator
