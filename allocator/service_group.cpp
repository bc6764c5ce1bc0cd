// ServiceGroup spec parsing and validation (PureLB v2 compatible spec, plus
// BGP attributes RFC 1997 communities, RFC 8092 large communities).
#include "allocator/service_group.hpp"

#include <algorithm>
#include <charconv>

namespace herald::allocator {

using json = nlohmann::json;

namespace {

bool parse_uint(std::string_view s, std::uint64_t max, std::uint64_t& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size() && out <= max;
}

// "a:b" (16 bits each, RFC 1997) or a well-known community name.
bool valid_community(const std::string& c) {
  static const std::array<std::string_view, 6> well_known = {"no-export", "no-advertise", "no-export-subconfed",
                                                             "no-peer",   "blackhole",    "graceful-shutdown"};
  if (std::find(well_known.begin(), well_known.end(), c) != well_known.end()) return true;
  auto colon = c.find(':');
  if (colon == std::string::npos) return false;
  std::uint64_t a = 0, b = 0;
  return parse_uint(std::string_view(c).substr(0, colon), 0xffff, a) &&
         parse_uint(std::string_view(c).substr(colon + 1), 0xffff, b);
}

// "a:b:c", 32 bits each (RFC 8092).
bool valid_large_community(const std::string& c) {
  std::string_view s = c;
  for (int part = 0; part < 3; ++part) {
    auto colon = s.find(':');
    if ((part < 2) != (colon != std::string_view::npos)) return false;
    std::uint64_t v = 0;
    if (!parse_uint(s.substr(0, colon), 0xffffffffu, v)) return false;
    if (part < 2) s.remove_prefix(colon + 1);
  }
  return true;
}

// Collects the first error with its JSON path.
class spec_reader {
 public:
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(const std::string& path, const std::string& what) {
    if (ok()) error_ = path + ": " + what;
  }

  std::optional<pool_spec> pool(const json& j, const std::string& path, ip_family family) {
    if (!j.is_object()) {
      fail(path, "must be an object {pool, subnet, aggregation}");
      return std::nullopt;
    }
    auto text = string(j, "pool", path, true);
    auto subnet_text = string(j, "subnet", path, true);
    auto aggregation_text = string(j, "aggregation", path, false);
    if (!ok()) return std::nullopt;
    auto range = parse_pool(*text);
    if (!range) return fail(path + ".pool", range.error()), std::nullopt;
    auto subnet = parse_cidr(*subnet_text);
    if (!subnet) return fail(path + ".subnet", subnet.error()), std::nullopt;
    if (range->family() != family)
      return fail(path + ".pool", in_quotes(*text) + " is not " + std::string(family_name(family))), std::nullopt;
    if (subnet->base.family != family)
      return fail(path + ".subnet", in_quotes(*subnet_text) + " is not " + std::string(family_name(family))),
             std::nullopt;
    if (!subnet->range().contains(*range))
      return fail(path + ".pool", in_quotes(*text) + " is not inside its subnet " + subnet->to_string()), std::nullopt;
    unsigned aggregation = subnet->length;
    std::string agg = aggregation_text.value_or("default");
    if (agg != "default") {
      std::uint64_t n = 0;
      if (agg.size() < 2 || agg[0] != '/' || !parse_uint(std::string_view(agg).substr(1), 128, n))
        return fail(path + ".aggregation", in_quotes(agg) + " must be \"default\" or /N"), std::nullopt;
      if (n < subnet->length || n > max_length(family))
        return fail(path + ".aggregation", "/" + std::to_string(n) + " must be between the subnet's /" +
                                               std::to_string(subnet->length) + " and /" +
                                               std::to_string(max_length(family))),
               std::nullopt;
      aggregation = static_cast<unsigned>(n);
    }
    return pool_spec{*range, *subnet, aggregation, *text};
  }

  std::optional<std::string> string(const json& j, const char* key, const std::string& path, bool required) {
    auto it = j.find(key);
    if (it == j.end()) {
      if (required) fail(path + "." + key, "is required");
      return std::nullopt;
    }
    if (!it->is_string()) return fail(path + "." + key, "must be a string"), std::nullopt;
    return it->get<std::string>();
  }

  std::vector<std::string> strings(const json& j, const char* key, const std::string& path) {
    std::vector<std::string> out;
    auto it = j.find(key);
    if (it == j.end()) return out;
    if (!it->is_array()) return fail(path + key, "must be a list of strings"), out;
    for (std::size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) return fail(path + key + "[" + std::to_string(i) + "]", "must be a string"), out;
      out.push_back((*it)[i].get<std::string>());
    }
    return out;
  }

  bool boolean(const json& j, const char* key, const std::string& path) {
    auto it = j.find(key);
    if (it == j.end()) return false;
    if (!it->is_boolean()) return fail(path + key, "must be true or false"), false;
    return it->get<bool>();
  }

  std::optional<std::uint32_t> uint32(const json& j, const char* key, const std::string& path) {
    auto it = j.find(key);
    if (it == j.end()) return std::nullopt;
    if (!it->is_number_integer() || it->get<long long>() < 0 || it->get<long long>() > 0xffffffffLL)
      return fail(path + key, "must be an integer from 0 to 4294967295"), std::nullopt;
    return static_cast<std::uint32_t>(it->get<long long>());
  }

 private:
  std::string error_;
};

}  // namespace

std::string_view pool_type_name(pool_type t) {
  return t == pool_type::local ? "local" : "remote";
}

bool group_spec::allows_namespace(const std::string& ns) const {
  return namespaces.empty() || std::find(namespaces.begin(), namespaces.end(), ns) != namespaces.end();
}

Result<group_spec, std::string> parse_group_spec(const json& spec) {
  if (!spec.is_object()) return std::string("spec: must be an object");
  bool has_local = spec.contains("local"), has_remote = spec.contains("remote");
  if (has_local == has_remote) return std::string("spec: exactly one of local and remote is required");
  group_spec g;
  g.type = has_local ? pool_type::local : pool_type::remote;
  std::string path = has_local ? "local" : "remote";
  const json& body = spec[path];
  if (!body.is_object()) return path + ": must be an object";
  spec_reader r;
  for (auto family : {ip_family::v4, ip_family::v6}) {
    std::string single = family == ip_family::v4 ? "v4pool" : "v6pool";
    std::string list = single + "s";
    auto& pools = g.pools[static_cast<std::size_t>(family)];
    if (auto it = body.find(single); it != body.end())
      if (auto p = r.pool(*it, path + "." + single, family)) pools.push_back(std::move(*p));
    if (auto it = body.find(list); it != body.end()) {
      if (!it->is_array()) r.fail(path + "." + list, "must be a list of {pool, subnet, aggregation}");
      for (std::size_t i = 0; r.ok() && it->is_array() && i < it->size(); ++i)
        if (auto p = r.pool((*it)[i], path + "." + list + "[" + std::to_string(i) + "]", family))
          pools.push_back(std::move(*p));
    }
  }
  g.multi_pool = r.boolean(body, "multiPool", path + ".");
  g.balance_pools = r.boolean(body, "balancePools", path + ".");
  for (const char* bgp_key : {"communities", "largeCommunities", "localPref", "med", "weightedECMP"}) {
    if (has_local && body.contains(bgp_key))
      r.fail(path + "." + bgp_key,
             "BGP attributes are only allowed on remote groups (local addresses are not announced by BGP)");
  }
  g.communities = r.strings(body, "communities", path + ".");
  for (std::size_t i = 0; r.ok() && i < g.communities.size(); ++i)
    if (!valid_community(g.communities[i]))
      r.fail(path + ".communities[" + std::to_string(i) + "]",
             in_quotes(g.communities[i]) + " is not ASN:value (16 bits each) or a well-known name");
  g.large_communities = r.strings(body, "largeCommunities", path + ".");
  for (std::size_t i = 0; r.ok() && i < g.large_communities.size(); ++i)
    if (!valid_large_community(g.large_communities[i]))
      r.fail(path + ".largeCommunities[" + std::to_string(i) + "]",
             in_quotes(g.large_communities[i]) + " is not global:local1:local2 (32 bits each)");
  g.local_pref = r.uint32(body, "localPref", path + ".");
  g.med = r.uint32(body, "med", path + ".");
  g.weighted_ecmp = r.boolean(body, "weightedECMP", path + ".");
  g.namespaces = r.strings(spec, "namespaces", "spec.");
  if (!r.ok()) return r.error();
  if (!g.has_family(ip_family::v4) && !g.has_family(ip_family::v6))
    return path + ": no pool (give v4pool, v6pool, v4pools or v6pools)";
  for (auto& pools : g.pools)
    for (std::size_t i = 0; i < pools.size(); ++i)
      for (std::size_t j = i + 1; j < pools.size(); ++j)
        if (pools[i].pool.overlaps(pools[j].pool))
          return path + ": pools \"" + pools[i].text + "\" and \"" + pools[j].text + "\" overlap";
  return g;
}

Result<service_group_input, std::string> service_group_from_json(const json& object) {
  auto fail = [](std::string why) {
    return Result<service_group_input, std::string>(boost::system::in_place_error, std::move(why));
  };
  if (!object.is_object()) return fail("ServiceGroup: not an object");
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object() || !meta->contains("name") || !(*meta)["name"].is_string())
    return fail("ServiceGroup: metadata.name is missing");
  service_group_input in;
  in.name = (*meta)["name"].get<std::string>();
  if (auto ts = meta->find("creationTimestamp"); ts != meta->end() && ts->is_string())
    in.creation_timestamp = ts->get<std::string>();
  if (auto spec = object.find("spec"); spec != object.end()) in.spec = *spec;
  return in;
}

}  // namespace herald::allocator
