// A non-throwing reader for API-server JSON: typed field access that records
// the first problem as "path: what" instead of throwing (STYLE.md §3).
// Absent and null fields leave the output at its default. Internal to kube/.
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
  const nlohmann::json* object(const nlohmann::json& parent, const char* key, const std::string& path) {
    const auto* m = member(parent, key, join(path, key));
    if (m && !m->is_object()) {
      fail(join(path, key), "not an object");
      return nullptr;
    }
    return m;
  }

  template <class T>
  void get(const nlohmann::json& parent, const char* key, T& out, const std::string& path) {
    const std::string where = join(path, key);
    const auto* m = member(parent, key, path);
    if (m) convert(*m, out, where);
  }

  // Calls f(element, "path.key[i]") for each element of an array member.
  template <class F>
  void each(const nlohmann::json& parent, const char* key, const std::string& path, F&& f) {
    const std::string where = join(path, key);
    const auto* m = member(parent, key, path);
    if (!m) return;
    if (!m->is_array()) {
      fail(where, "not an array");
      return;
    }
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
  void convert(const nlohmann::json& v, std::string& out, const std::string& where) {
    if (v.is_string()) out = v.get_ref<const std::string&>();
    else fail(where, "not a string");
  }
  void convert(const nlohmann::json& v, bool& out, const std::string& where) {
    if (v.is_boolean()) out = v.get<bool>();
    else fail(where, "not a boolean");
  }
  void convert(const nlohmann::json& v, std::int64_t& out, const std::string& where) {
    if (v.is_number_integer()) out = v.get<std::int64_t>();
    else fail(where, "not an integer");
  }
  void convert(const nlohmann::json& v, int& out, const std::string& where) {
    if (!v.is_number_integer()) return fail(where, "not an integer");
    const auto wide = v.get<std::int64_t>();
    if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max())
      return fail(where, "integer out of range");
    out = static_cast<int>(wide);
  }
  template <class T>
  void convert(const nlohmann::json& v, std::optional<T>& out, const std::string& where) {
    T value{};
    convert(v, value, where);
    if (ok()) out = std::move(value);
  }
  void convert(const nlohmann::json& v, std::vector<std::string>& out, const std::string& where) {
    if (!v.is_array()) return fail(where, "not an array");
    for (const auto& e : v) {
      if (!e.is_string()) return fail(where, "not an array of strings");
      out.push_back(e.get<std::string>());
    }
  }
  void convert(const nlohmann::json& v, std::map<std::string, std::string, std::less<>>& out, const std::string& where) {
    if (!v.is_object()) return fail(where, "not an object");
    for (const auto& [k, e] : v.items()) {
      if (!e.is_string()) return fail(where + "." + k, "not a string");
      out.emplace(k, e.get<std::string>());
    }
  }

  std::string error_;
};

}  // namespace herald::kube::detail
