// The three PATCH formats kube-apiserver accepts (kube-api.md §2):
// JSON merge patch (RFC 7386: null deletes a key, arrays are replaced),
// JSON patch (RFC 6902) and Kubernetes' strategic merge patch
// (k8s.io/apimachinery/pkg/util/strategicpatch) for built-in types: lists
// merged by a merge key (`port` for Service ports), primitive lists merged as
// sets, and the directives `$patch: replace|delete|merge`, `$retainKeys`,
// `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`. Pure.
#pragma once

#include "herald/result.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace herald::emulator {

// How a list at a dotted path ("spec.ports") merges under strategic merge.
struct list_strategy {
  enum class mode { replace, merge_key, merge_primitive };
  mode how = mode::replace;
  std::string merge_key;
};
using strategy_lookup = std::function<list_strategy(const std::string& path)>;

// The strategy table of the built-in kind `kind` (Service, Node, …); lists not
// named there are atomic (replaced), as for types without patch tags.
strategy_lookup builtin_strategy(const std::string& kind);

nlohmann::json merge_patch(nlohmann::json target, const nlohmann::json& patch);

// A patch that cannot apply; the message goes into a 422 answer.
struct patch_error {
  std::string message;
  std::string to_string() const { return message; }
};
herald::Result<nlohmann::json, patch_error> json_patch(const nlohmann::json& target,
                                                       const nlohmann::json& patch);
herald::Result<nlohmann::json, patch_error> strategic_merge(const nlohmann::json& original,
                                                            const nlohmann::json& patch,
                                                            const strategy_lookup& lookup);

}  // namespace herald::emulator
