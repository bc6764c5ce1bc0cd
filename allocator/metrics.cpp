// Prometheus text format 0.0.4 rendering for the allocator's metrics.
#include "allocator/metrics.hpp"

#include "herald/prometheus.hpp"

namespace herald::allocator {

using prometheus::escape_label;
using prometheus::format_value;

namespace {

void header(std::string& out, const char* name, const char* type, const char* help) {
  prometheus::text_writer w;
  w.family(name, type, help);
  out += w.text();
}

}  // namespace

std::string render_metrics(const std::vector<group_status>& groups, const allocation_counters& counters) {
  std::string out;
  const char* family_labels[] = {"ipv4", "ipv6"};
  struct gauge {
    const char* name;
    const char* help;
    bool in_use;
  };
  for (auto g :
       {gauge{"herald_allocator_pool_addresses", "Addresses in the pools of a ServiceGroup, per family.", false},
        gauge{"herald_allocator_pool_addresses_in_use", "Addresses of a ServiceGroup held by Services, per family.",
              true}}) {
    header(out, g.name, "gauge", g.help);
    for (auto& s : groups)
      for (std::size_t f = 0; f < 2; ++f) {
        auto& u = s.families[f];
        if (!u.present && u.in_use == 0) continue;
        out += g.name;
        out += "{group=\"" + escape_label(s.name) + "\",family=\"" + family_labels[f] + "\"} ";
        out += g.in_use ? std::to_string(u.in_use) : format_value(u.size_value);
        out += '\n';
      }
  }
  header(out, "herald_allocator_allocations_total", "counter", "Address allocations by result.");
  out += "herald_allocator_allocations_total{result=\"assigned\"} " + std::to_string(counters.assigned) + "\n";
  out += "herald_allocator_allocations_total{result=\"shared\"} " + std::to_string(counters.shared) + "\n";
  out += "herald_allocator_allocations_total{result=\"failed\"} " + std::to_string(counters.failed) + "\n";
  header(out, "herald_allocator_releases_total", "counter", "Addresses released by Services.");
  out += "herald_allocator_releases_total " + std::to_string(counters.released) + "\n";
  return out;
}

}  // namespace herald::allocator
