// libFuzzer target for the allocator's reading of API objects: a Service
// (service_view_from_json), a ServiceGroup (service_group_from_json) and its
// spec (parse_group_spec, given both the object's .spec and the whole input).
// Properties beyond "no crash, no throw": a parsed group has at least one
// pool, every pool lies inside its subnet, and aggregation is a valid length
// no shorter than the subnet (what parse_group_spec promises).
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "allocator/service.hpp"
#include "allocator/service_group.hpp"

using namespace herald::allocator;

namespace {

void check_group_spec(const nlohmann::json& spec) {
  auto g = parse_group_spec(spec);
  if (!g) return;
  if (!g->has_family(ip_family::v4) && !g->has_family(ip_family::v6)) std::abort();
  for (auto f : {ip_family::v4, ip_family::v6}) {
    for (const auto& p : g->pools_of(f)) {
      if (p.pool.family() != f || p.subnet.base.family != f) std::abort();
      if (!p.subnet.range().contains(p.pool)) std::abort();
      if (p.aggregation < p.subnet.length || p.aggregation > max_length(f)) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto object = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return 0;
  if (auto s = service_view_from_json(object)) (void)s->key();
  if (auto g = service_group_from_json(object)) check_group_spec(g->spec);
  check_group_spec(object);
  return 0;
}
