// Structural-schema handling for custom resources (kube-api.md §7): pruning of
// unknown fields and the OpenAPI v3 validation subset the emulator enforces
// (defaults, type, required, enum, minimum / maximum, minLength / maxLength, minItems /
// maxItems, x-kubernetes-int-or-string, x-kubernetes-preserve-unknown-fields,
// nullable). Pure.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace herald::emulator {

// Removes fields the schema does not declare; returns their paths
// ("spec.foo"), which fieldValidation=Strict turns into a 400.
std::vector<std::string> prune_unknown_fields(nlohmann::json& object, const nlohmann::json& schema);

// Sets the schema's `default` values on absent fields of objects that are
// present (kube-apiserver defaults custom resources on every write).
void apply_schema_defaults(nlohmann::json& object, const nlohmann::json& schema);

struct schema_violation {
  std::string field;    // "spec.peerASN"
  std::string reason;   // "FieldValueInvalid", "FieldValueRequired", …
  std::string message;  // as kube-apiserver words it
};

std::vector<schema_violation> validate_against_schema(const nlohmann::json& object, const nlohmann::json& schema);

}  // namespace herald::emulator
