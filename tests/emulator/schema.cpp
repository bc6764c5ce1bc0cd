// Pruning and validation of custom resources against their CRD schema (see schema.hpp).
#include "schema.hpp"

namespace herald::emulator {

using nlohmann::json;

namespace {

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

void prune(json& value, const json& schema, const std::string& path, std::vector<std::string>& pruned) {
  if (!schema.is_object()) return;
  const bool preserve = schema.value("x-kubernetes-preserve-unknown-fields", false);
  if (value.is_object()) {
    const bool has_props = schema.contains("properties") && schema["properties"].is_object();
    const json* additional = schema.contains("additionalProperties") && schema["additionalProperties"].is_object()
                                 ? &schema["additionalProperties"]
                                 : nullptr;
    for (auto it = value.begin(); it != value.end();) {
      const std::string child = join(path, it.key());
      if (has_props && schema["properties"].contains(it.key())) {
        prune(*it, schema["properties"][it.key()], child, pruned);
      } else if (additional) {
        prune(*it, *additional, child, pruned);
      } else if (!preserve && !(schema.value("additionalProperties", false) == true)) {
        pruned.push_back(child);
        it = value.erase(it);
        continue;
      }
      ++it;
    }
  } else if (value.is_array() && schema.contains("items")) {
    for (std::size_t i = 0; i < value.size(); ++i)
      prune(value[i], schema["items"], path + "[" + std::to_string(i) + "]", pruned);
  }
}

std::string type_of(const json& v) {
  if (v.is_object()) return "object";
  if (v.is_array()) return "array";
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
  if (v.is_number()) return "number";
  return "null";
}

void validate(const json& value, const json& schema, const std::string& path, std::vector<schema_violation>& out) {
  if (!schema.is_object()) return;
  if (value.is_null()) {
    if (!schema.value("nullable", false) && schema.contains("type"))
      out.push_back({path, "FieldValueTypeInvalid", path + ": Invalid value: \"null\": " + path +
                                                         " in body must be of type " +
                                                         schema["type"].get<std::string>() + ": \"null\""});
    return;
  }
  if (schema.value("x-kubernetes-int-or-string", false)) {
    if (!value.is_string() && !value.is_number_integer() && !value.is_number_unsigned())
      out.push_back({path, "FieldValueTypeInvalid", path + ": Invalid value: \"" + type_of(value) + "\": " + path +
                                                         " in body must be of type integer-or-string"});
    return;
  }
  if (schema.contains("type") && schema["type"].is_string()) {
    const std::string want = schema["type"].get<std::string>();
    const std::string got = type_of(value);
    const bool ok = want == got || (want == "number" && got == "integer");
    if (!ok) {
      out.push_back({path, "FieldValueTypeInvalid", path + ": Invalid value: \"" + got + "\": " + path +
                                                         " in body must be of type " + want + ": \"" + got + "\""});
      return;
    }
  }
  if (schema.contains("enum") && schema["enum"].is_array()) {
    bool found = false;
    for (const auto& e : schema["enum"]) found = found || e == value;
    if (!found) {
      std::string allowed;
      for (const auto& e : schema["enum"]) allowed += (allowed.empty() ? "" : ", ") + e.dump();
      out.push_back({path, "FieldValueNotSupported",
                     path + ": Unsupported value: " + value.dump() + ": supported values: " + allowed});
    }
  }
  if (value.is_number()) {
    const double v = value.get<double>();
    if (schema.contains("minimum") && v < schema["minimum"].get<double>())
      out.push_back({path, "FieldValueInvalid", path + ": Invalid value: " + value.dump() + ": " + path +
                                                     " in body should be greater than or equal to " +
                                                     schema["minimum"].dump()});
    if (schema.contains("maximum") && v > schema["maximum"].get<double>())
      out.push_back({path, "FieldValueInvalid", path + ": Invalid value: " + value.dump() + ": " + path +
                                                     " in body should be less than or equal to " +
                                                     schema["maximum"].dump()});
  }
  if (value.is_string()) {
    const auto n = value.get<std::string>().size();
    if (schema.contains("maxLength") && n > schema["maxLength"].get<std::size_t>())
      out.push_back({path, "FieldValueTooLong", path + ": Too long: may not be longer than " + schema["maxLength"].dump()});
    if (schema.contains("minLength") && n < schema["minLength"].get<std::size_t>())
      out.push_back({path, "FieldValueInvalid", path + ": Invalid value: " + value.dump() + ": " + path +
                                                     " in body should be at least " + schema["minLength"].dump() +
                                                     " chars long"});
  }
  if (value.is_array()) {
    if (schema.contains("maxItems") && value.size() > schema["maxItems"].get<std::size_t>())
      out.push_back({path, "FieldValueTooMany", path + ": Too many: " + std::to_string(value.size()) +
                                                     ": must have at most " + schema["maxItems"].dump() + " items"});
    if (schema.contains("minItems") && value.size() < schema["minItems"].get<std::size_t>())
      out.push_back({path, "FieldValueInvalid", path + ": Invalid value: " + std::to_string(value.size()) + ": " +
                                                     path + " in body should have at least " +
                                                     schema["minItems"].dump() + " items"});
    if (schema.contains("items"))
      for (std::size_t i = 0; i < value.size(); ++i)
        validate(value[i], schema["items"], path + "[" + std::to_string(i) + "]", out);
  }
  if (value.is_object()) {
    if (schema.contains("required") && schema["required"].is_array())
      for (const auto& r : schema["required"])
        if (r.is_string() && !value.contains(r.get<std::string>())) {
          const std::string f = join(path, r.get<std::string>());
          out.push_back({f, "FieldValueRequired", f + ": Required value"});
        }
    if (schema.contains("properties") && schema["properties"].is_object())
      for (auto it = value.begin(); it != value.end(); ++it)
        if (schema["properties"].contains(it.key()))
          validate(*it, schema["properties"][it.key()], join(path, it.key()), out);
    if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object())
      for (auto it = value.begin(); it != value.end(); ++it)
        validate(*it, schema["additionalProperties"], join(path, it.key()), out);
  }
}

void defaults(json& value, const json& schema) {
  if (!schema.is_object()) return;
  if (value.is_object() && schema.contains("properties") && schema["properties"].is_object()) {
    for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it) {
      if (!value.contains(it.key()) && it->is_object() && it->contains("default")) value[it.key()] = (*it)["default"];
      if (value.contains(it.key())) defaults(value[it.key()], *it);
    }
  } else if (value.is_array() && schema.contains("items")) {
    for (auto& e : value) defaults(e, schema["items"]);
  }
}

}  // namespace

void apply_schema_defaults(json& object, const json& schema) { defaults(object, schema); }

std::vector<std::string> prune_unknown_fields(json& object, const json& schema) {
  std::vector<std::string> pruned;
  if (!object.is_object() || !schema.is_object()) return pruned;
  // apiVersion, kind and metadata are never pruned by the schema.
  json kept = json::object();
  for (const char* k : {"apiVersion", "kind", "metadata"})
    if (object.contains(k)) kept[k] = object[k];
  prune(object, schema, "", pruned);
  for (auto it = kept.begin(); it != kept.end(); ++it) object[it.key()] = it.value();
  std::erase_if(pruned, [](const std::string& p) {
    return p == "apiVersion" || p == "kind" || p == "metadata" || p.rfind("metadata.", 0) == 0;
  });
  return pruned;
}

std::vector<schema_violation> validate_against_schema(const json& object, const json& schema) {
  std::vector<schema_violation> out;
  if (!schema.is_object()) return out;
  json body = object;
  body.erase("metadata");
  body.erase("apiVersion");
  body.erase("kind");
  json s = schema;
  if (s.contains("properties")) {
    s["properties"].erase("metadata");
    s["properties"].erase("apiVersion");
    s["properties"].erase("kind");
  }
  validate(body, s, "", out);
  return out;
}

}  // namespace herald::emulator
