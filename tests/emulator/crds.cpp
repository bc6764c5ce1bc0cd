// Startup loading of CRDs and objects from YAML (see crds.hpp).
#include "crds.hpp"

#include "yaml_json.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace herald::emulator {

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void create_object(store& s, const json& obj, const std::string& origin) {
  auto made = create_any(s, obj);
  if (!made) throw std::runtime_error(origin + ": " + made.error().message);
}

}  // namespace

api_result<json> create_any(store& s, const json& obj) {
  if (!obj.is_object()) return bad_request("not an object");
  const std::string api_version = obj.value("apiVersion", "");
  const std::string kind = obj.value("kind", "");
  const resource_type* t = s.find_kind(api_version, kind);
  if (!t) return bad_request("no served type for " + api_version + " " + kind);
  std::string ns;
  if (t->namespaced) {
    ns = obj.contains("metadata") && obj["metadata"].is_object() ? obj["metadata"].value("namespace", "default")
                                                                  : "default";
    const resource_type* nt = s.find_type("", "v1", "namespaces");
    if (nt && !s.get(*nt, "", ns)) (void)s.create(*nt, "", json{{"metadata", {{"name", ns}}}});
  }
  return s.create(*t, ns, obj);
}

std::size_t load_crd_directory(store& s, const std::string& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file() && (e.path().extension() == ".yaml" || e.path().extension() == ".yml"))
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::size_t n = 0;
  for (const auto& f : files) {
    for (const auto& doc : yaml_documents_to_json(read_file(f))) {
      if (doc.value("kind", "") != "CustomResourceDefinition") continue;
      create_object(s, doc, f.string());
      ++n;
    }
  }
  if (n == 0) throw std::runtime_error("no CustomResourceDefinition in " + dir);
  return n;
}

std::size_t load_objects(store& s, const std::string& file) {
  std::size_t n = 0;
  for (const auto& doc : yaml_documents_to_json(read_file(file))) {
    create_object(s, doc, file);
    ++n;
  }
  return n;
}

}  // namespace herald::emulator
