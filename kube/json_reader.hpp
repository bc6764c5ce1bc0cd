// A non-throwing reader for API-server JSON: typed field access that records
// the first problem as "path: what" instead of throwing (STYLE.md §3).
// Absent and null fields leave the output at its default. Internal to kube/.
// A field's path ("spec.externalTrafficPolicy") is joined only for an
// error: every watch event reads a few dozen fields, on the agent's path
// from a Service's new address to its UPDATE.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace herald::kube::detail {

class json_reader {
 public:
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(const std::string& path, const char* what) {
    if (error_.empty()) error_ = path + ": " + what;
  }
  // fail(join(path, key), what), joined only if this is the first error.
  void fail(const std::string& path, const char* key, const char* what) {
    if (error_.empty()) fail(join(path, key), what);
  }

  // The member `key` of `parent` if it is present and not null; records an
  // error when `parent` is not an object.
  const nlohmann::json* member(const nlohmann::json& parent, const char* key, const std::string& path) {
    if (!ok()) return nullptr;
    if (!parent.is_object()) {
      fail(path, "not an object");
      return nullptr;
    }
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return nullptr;
    return &*it;
  }

  // A member that must be an object (absent → nullptr, no error).
  // Either failure names path.key.
  const nlohmann::json* object(const nlohmann::json& parent, const char* key, const std::string& path) {
    if (ok() && !parent.is_object()) {
      fail(path, key, "not an object");
      return nullptr;
    }
    const auto* m = member(parent, key, path);  // parent is an object (or an error is recorded) here
    if (m && !m->is_object()) {
      fail(path, key, "not an object");
      return nullptr;
    }
    return m;
  }

  template <class T>
  void get(const nlohmann::json& parent, const char* key, T& out, const std::string& path) {
    const auto* m = member(parent, key, path);
    if (m) convert(*m, out, path, key);
  }

  // Calls f(element, "path.key[i]") for each element of an array member.
  template <class F>
  void each(const nlohmann::json& parent, const char* key, const std::string& path, F&& f) {
    const auto* m = member(parent, key, path);
    if (!m) return;
    if (!m->is_array()) {
      fail(path, key, "not an array");
      return;
    }
    const std::string where = join(path, key);
    std::size_t i = 0;
    for (const auto& element : *m) {
      if (!ok()) return;
      f(element, where + "[" + std::to_string(i++) + "]");
    }
  }

  static std::string join(const std::string& path, const char* key) {
    return path.empty() ? std::string(key) : path + "." + key;
  }

 private:
  // The member `key` of an object at `path`, converted; errors name path.key.
  void convert(const nlohmann::json& v, std::string& out, const std::string& path, const char* key) {
    if (v.is_string()) out = v.get_ref<const std::string&>();
    else fail(path, key, "not a string");
  }
  void convert(const nlohmann::json& v, bool& out, const std::string& path, const char* key) {
    if (v.is_boolean()) out = v.get<bool>();
    else fail(path, key, "not a boolean");
  }
  void convert(const nlohmann::json& v, std::int64_t& out, const std::string& path, const char* key) {
    if (v.is_number_integer()) out = v.get<std::int64_t>();
    else fail(path, key, "not an integer");
  }
  void convert(const nlohmann::json& v, int& out, const std::string& path, const char* key) {
    if (!v.is_number_integer()) return fail(path, key, "not an integer");
    const auto wide = v.get<std::int64_t>();
    if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max())
      return fail(path, key, "integer out of range");
    out = static_cast<int>(wide);
  }
  template <class T>
  void convert(const nlohmann::json& v, std::optional<T>& out, const std::string& path, const char* key) {
    T value{};
    convert(v, value, path, key);
    if (ok()) out = std::move(value);
  }
  void convert(const nlohmann::json& v, std::vector<std::string>& out, const std::string& path, const char* key) {
    if (!v.is_array()) return fail(path, key, "not an array");
    for (const auto& e : v) {
      if (!e.is_string()) return fail(path, key, "not an array of strings");
      out.push_back(e.get<std::string>());
    }
  }
  void convert(const nlohmann::json& v, std::map<std::string, std::string, std::less<>>& out, const std::string& path,
               const char* key) {
    if (!v.is_object()) return fail(path, key, "not an object");
    for (const auto& [k, e] : v.items()) {
      if (!e.is_string()) return fail(join(path, key) + "." + k, "not a string");
      out.emplace(k, e.get<std::string>());
    }
  }

  std::string error_;
};

}  // namespace herald::kube::detail
