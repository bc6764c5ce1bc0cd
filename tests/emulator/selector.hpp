// Label and field selectors as kube-apiserver parses them
// (k8s.io/apimachinery/pkg/labels and pkg/fields): `a=b,c!=d,e in (f,g),
// h notin (i),j,!k` for labels; `metadata.name=x,metadata.namespace!=y` for
// fields. Pure: strings in, a matcher out.
#pragma once

#include "herald/result.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace herald::emulator {

struct label_requirement {
  enum class op { equals, not_equals, in, not_in, exists, not_exists };
  std::string key;
  op operation = op::exists;
  std::vector<std::string> values;
};

struct label_selector {
  std::vector<label_requirement> requirements;  // AND; empty matches everything
  bool matches(const nlohmann::json& labels) const;
};

struct field_requirement {
  std::string field;  // "metadata.name", "spec.type", …
  bool negated = false;
  std::string value;
};

struct field_selector {
  std::vector<field_requirement> requirements;
  bool matches(const nlohmann::json& object) const;
};

// Both return a message (for a 400 BadRequest) on malformed input.
herald::Result<label_selector, std::string> parse_label_selector(const std::string& text);
herald::Result<field_selector, std::string> parse_field_selector(const std::string& text);

// The value of a dotted field path in an object, as a field selector sees it
// ("" when absent; booleans as "true"/"false").
std::string field_value(const nlohmann::json& object, const std::string& path);

}  // namespace herald::emulator
