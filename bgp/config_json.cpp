// JSON → speaker_config, with errors naming file, field and problem.
#include "bgp/config_json.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <algorithm>
#include <tuple>

#include "bgp/rib.hpp"

namespace herald::bgp {

using json = nlohmann::json;
using namespace wire;

namespace {

// Collects the first error with its JSON path; every reader checks `ok()`.
class reader {
 public:
  explicit reader(std::string file) : file_(std::move(file)) {}
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(const std::string& path, const std::string& what) {
    if (ok()) error_ = file_ + ": " + path + ": " + what;
  }

  template <class T>
  std::optional<T> integer(const json& j, const std::string& key, const std::string& path, T min, T max) {
    if (!j.contains(key)) return std::nullopt;
    auto& v = j[key];
    if (!v.is_number_integer() || v.get<long long>() < static_cast<long long>(min) ||
        v.get<long long>() > static_cast<long long>(max)) {
      fail(path + key, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
      return std::nullopt;
    }
    return static_cast<T>(v.get<long long>());
  }
  std::optional<std::string> string(const json& j, const std::string& key, const std::string& path) {
    if (!j.contains(key)) return std::nullopt;
    if (!j[key].is_string()) {
      fail(path + key, "must be a string");
      return std::nullopt;
    }
    return j[key].get<std::string>();
  }
  std::optional<bool> boolean(const json& j, const std::string& key, const std::string& path) {
    if (!j.contains(key)) return std::nullopt;
    if (!j[key].is_boolean()) {
      fail(path + key, "must be true or false");
      return std::nullopt;
    }
    return j[key].get<bool>();
  }
  std::optional<ip_address> address(const json& j, const std::string& key, const std::string& path) {
    auto s = string(j, key, path);
    if (!s) return std::nullopt;
    auto a = ip_address::parse(*s);
    if (!a) fail(path + key, "\"" + *s + "\" is not an IPv4 or IPv6 address");
    return a;
  }
  std::vector<std::string> strings(const json& j, const std::string& key, const std::string& path) {
    std::vector<std::string> out;
    if (!j.contains(key)) return out;
    if (!j[key].is_array()) {
      fail(path + key, "must be a list of strings");
      return out;
    }
    for (std::size_t i = 0; i < j[key].size(); ++i) {
      if (!j[key][i].is_string()) {
        fail(path + key + "[" + std::to_string(i) + "]", "must be a string");
        return out;
      }
      out.push_back(j[key][i].get<std::string>());
    }
    return out;
  }
  void require(const json& j, const std::string& key, const std::string& path) {
    if (!j.contains(key)) fail(path + key, "is required");
  }
  void only(const json& j, std::initializer_list<std::string_view> known, const std::string& path) {
    for (auto& [k, v] : j.items())
      if (std::find(known.begin(), known.end(), k) == known.end()) fail(path + k, "unknown field");
  }

 private:
  std::string file_;
  std::string error_;
};

std::optional<extended_community> parse_ext_community(const std::string& s) {
  // link-bandwidth[-transitive]:ASN:BYTES_PER_SECOND
  auto c1 = s.find(':');
  if (c1 == std::string::npos) return std::nullopt;
  auto kind = s.substr(0, c1);
  if (kind != "link-bandwidth" && kind != "link-bandwidth-transitive") return std::nullopt;
  auto c2 = s.find(':', c1 + 1);
  if (c2 == std::string::npos) return std::nullopt;
  try {
    std::size_t used = 0;
    auto asn = std::stoul(s.substr(c1 + 1, c2 - c1 - 1), &used);
    if (used != c2 - c1 - 1 || asn > 0xffff) return std::nullopt;
    auto rest = s.substr(c2 + 1);
    auto bw = std::stof(rest, &used);
    if (used != rest.size() || bw < 0) return std::nullopt;
    return make_link_bandwidth({static_cast<std::uint16_t>(asn), bw, kind == "link-bandwidth-transitive"});
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

Result<speaker_config, std::string> parse_speaker_config(std::string_view text, std::string_view file_name) {
  reader r{std::string(file_name)};
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return std::string(file_name) + ": not valid JSON";
  if (!j.is_object()) return std::string(file_name) + ": the top level must be an object";
  speaker_config c;
  r.only(j, {"router_id", "local_asn", "listen", "hostname", "graceful_restart", "graceful_shutdown", "peers", "routes"}, "");
  r.require(j, "router_id", "");
  r.require(j, "local_asn", "");
  if (auto id = r.address(j, "router_id", "")) {
    if (!id->is_v4() || id->v4_host_order() == 0) r.fail("router_id", "must be a non-zero IPv4 address");
    else c.router_id = id->v4_host_order();
  }
  c.local_asn = r.integer<std::uint32_t>(j, "local_asn", "", 1, 4294967295u).value_or(0);
  if (auto h = r.string(j, "hostname", "")) c.hostname = *h;
  if (j.contains("listen")) {
    auto& l = j["listen"];
    if (!l.is_object()) r.fail("listen", "must be an object with address and port");
    else {
      r.only(l, {"address", "port"}, "listen.");
      c.listen_address = r.address(l, "address", "listen.");
      if (!l.contains("address")) c.listen_address = ip_address::parse("::");
      c.listen_port = r.integer<std::uint16_t>(l, "port", "listen.", 0, 65535).value_or(179);
    }
  }
  if (j.contains("graceful_restart")) {
    auto& g = j["graceful_restart"];
    r.only(g, {"enabled", "restart_time"}, "graceful_restart.");
    c.graceful_restart = r.boolean(g, "enabled", "graceful_restart.").value_or(true);
    c.restart_time = r.integer<std::uint16_t>(g, "restart_time", "graceful_restart.", 1, 4095).value_or(120);
  }
  if (j.contains("graceful_shutdown")) {
    auto& g = j["graceful_shutdown"];
    r.only(g, {"drain_seconds"}, "graceful_shutdown.");
    c.drain = std::chrono::seconds(r.integer<std::uint32_t>(g, "drain_seconds", "graceful_shutdown.", 0, 3600).value_or(0));
  }
  r.require(j, "peers", "");
  if (j.contains("peers") && !j["peers"].is_array()) r.fail("peers", "must be a list");
  else if (j.contains("peers")) {
    for (std::size_t i = 0; i < j["peers"].size() && r.ok(); ++i) {
      auto& pj = j["peers"][i];
      std::string path = "peers[" + std::to_string(i) + "].";
      if (!pj.is_object()) {
        r.fail(path.substr(0, path.size() - 1), "must be an object");
        break;
      }
      r.only(pj, {"address", "asn", "port", "local_asn", "hold_time", "keepalive", "send_hold_time", "connect_retry",
                  "password", "passive",
                  "source_address", "ebgp_multihop", "ttl_security", "families", "next_hop_v4", "next_hop_v6",
                  "max_prefixes", "bfd", "description"},
             path);
      r.require(pj, "address", path);
      r.require(pj, "asn", path);
      peer_config p;
      if (auto a = r.address(pj, "address", path)) p.address = *a;
      p.asn = r.integer<std::uint32_t>(pj, "asn", path, 1, 4294967295u).value_or(0);
      p.port = r.integer<std::uint16_t>(pj, "port", path, 1, 65535).value_or(179);
      p.local_asn = r.integer<std::uint32_t>(pj, "local_asn", path, 1, 4294967295u).value_or(c.local_asn);
      p.hold_time = r.integer<std::uint16_t>(pj, "hold_time", path, 0, 65535).value_or(90);
      if (p.hold_time == 1 || p.hold_time == 2) r.fail(path + "hold_time", "must be 0 or at least 3 (RFC 4271 §4.2)");
      p.keepalive = r.integer<std::uint16_t>(pj, "keepalive", path, 0, 65535).value_or(static_cast<std::uint16_t>(p.hold_time / 3));
      p.send_hold_time = r.integer<std::uint16_t>(pj, "send_hold_time", path, 0, 65535).value_or(480);
      if (p.send_hold_time != 0 && p.send_hold_time < 3) r.fail(path + "send_hold_time", "must be 0 (off) or at least 3");
      p.connect_retry = r.integer<std::uint32_t>(pj, "connect_retry", path, 1, 3600).value_or(5);
      p.password = r.string(pj, "password", path).value_or("");
      if (p.password.size() > 80) r.fail(path + "password", "is longer than the 80 octets TCP MD5 allows");
      p.passive = r.boolean(pj, "passive", path).value_or(false);
      p.description = r.string(pj, "description", path).value_or("");
      p.source_address = r.address(pj, "source_address", path);
      p.ebgp_multihop = r.integer<std::uint8_t>(pj, "ebgp_multihop", path, 1, 255).value_or(1);
      p.ttl_security = r.boolean(pj, "ttl_security", path).value_or(false);
      for (auto& f : r.strings(pj, "families", path)) {
        if (f == "ipv4-unicast") p.families.push_back(ipv4_unicast);
        else if (f == "ipv6-unicast") p.families.push_back(ipv6_unicast);
        else r.fail(path + "families", "\"" + f + "\" is not ipv4-unicast or ipv6-unicast");
      }
      p.next_hop_v4 = r.address(pj, "next_hop_v4", path);
      if (p.next_hop_v4 && !p.next_hop_v4->is_v4()) r.fail(path + "next_hop_v4", "must be an IPv4 address");
      p.next_hop_v6 = r.address(pj, "next_hop_v6", path);
      if (p.next_hop_v6 && p.next_hop_v6->is_v4()) r.fail(path + "next_hop_v6", "must be an IPv6 address");
      p.max_prefixes = r.integer<std::uint32_t>(pj, "max_prefixes", path, 1, 100000000).value_or(10000);
      if (pj.contains("bfd")) {
        // "bfd": {} turns BFD on with 300 ms x 3; intervals in milliseconds.
        auto& bj = pj["bfd"];
        auto bpath = path + "bfd.";
        if (!bj.is_object()) r.fail(path + "bfd", "must be an object: {\"min_tx\": MS, \"min_rx\": MS, \"multiplier\": N}");
        else {
          r.only(bj, {"min_tx", "min_rx", "multiplier"}, bpath);
          peer_bfd b;
          b.min_tx_ms = r.integer<std::uint32_t>(bj, "min_tx", bpath, 10, 60000).value_or(b.min_tx_ms);
          b.min_rx_ms = r.integer<std::uint32_t>(bj, "min_rx", bpath, 10, 60000).value_or(b.min_rx_ms);
          b.multiplier = r.integer<std::uint8_t>(bj, "multiplier", bpath, 1, 255).value_or(b.multiplier);
          p.bfd = b;
        }
      }
      for (auto& other : c.peers)
        if (other.address == p.address) r.fail(path + "address", p.address.to_string() + " is configured twice");
      c.peers.push_back(std::move(p));
    }
  }
  std::vector<std::uint32_t> source;  // per route, the index of its entry in "routes"
  if (j.contains("routes") && !j["routes"].is_array()) r.fail("routes", "must be a list");
  else if (j.contains("routes")) {
    for (std::size_t i = 0; i < j["routes"].size() && r.ok(); ++i) {
      auto& rj = j["routes"][i];
      std::string path = "routes[" + std::to_string(i) + "].";
      if (!rj.is_object()) {
        r.fail(path.substr(0, path.size() - 1), "must be an object");
        break;
      }
      r.only(rj, {"prefix", "count", "communities", "large_communities", "extended_communities", "local_pref", "med",
                  "as_path_prepend", "next_hop", "peers"},
             path);
      r.require(rj, "prefix", path);
      auto ps = r.string(rj, "prefix", path);
      std::optional<ip_prefix> prefix;
      if (ps) {
        prefix = ip_prefix::parse(*ps);
        if (!prefix) r.fail(path + "prefix", "\"" + *ps + "\" is not a prefix (address/length with no host bits set)");
      }
      route_attrs a;
      for (auto& s : r.strings(rj, "communities", path)) {
        if (auto cm = community::parse(s)) a.communities.push_back(*cm);
        else r.fail(path + "communities", "\"" + s + "\" is not ASN:VALUE (0-65535 each) or a well-known name");
      }
      for (auto& s : r.strings(rj, "large_communities", path)) {
        if (auto l = large_community::parse(s)) a.large_communities.push_back(*l);
        else r.fail(path + "large_communities", "\"" + s + "\" is not GLOBAL:LOCAL1:LOCAL2");
      }
      for (auto& s : r.strings(rj, "extended_communities", path)) {
        if (auto e = parse_ext_community(s)) a.ext_communities.push_back(*e);
        else r.fail(path + "extended_communities", "\"" + s + "\" is not link-bandwidth[-transitive]:ASN:BYTES_PER_SECOND");
      }
      a.local_pref = r.integer<std::uint32_t>(rj, "local_pref", path, 0, 4294967295u);
      a.med = r.integer<std::uint32_t>(rj, "med", path, 0, 4294967295u);
      a.as_path_prepend = r.integer<std::uint8_t>(rj, "as_path_prepend", path, 0, 32).value_or(0);
      a.next_hop = r.address(rj, "next_hop", path);
      for (auto& s : r.strings(rj, "peers", path)) {
        if (auto pa = ip_address::parse(s)) a.peers.push_back(*pa);
        else r.fail(path + "peers", "\"" + s + "\" is not an address");
      }
      // "count": N consecutive prefixes of the same length from `prefix` on
      // (benchmarks and anycast blocks without a million-line file).
      auto count = r.integer<std::uint32_t>(rj, "count", path, 1, 16777216).value_or(1);
      auto shared = std::make_shared<const route_attrs>(std::move(a));
      for (std::uint32_t n = 0; prefix && n < count && r.ok(); ++n) {
        c.routes.emplace_back(*prefix, shared);
        source.push_back(static_cast<std::uint32_t>(i));
        if (n + 1 == count) break;
        // Next prefix: add one at the prefix's last significant bit, with carry.
        int bit = prefix->length - 1;
        bool carry = true;
        while (carry && bit >= 0) {
          auto& octet = prefix->addr.octets[static_cast<std::size_t>(bit / 8)];
          std::uint8_t mask = static_cast<std::uint8_t>(0x80 >> (bit % 8));
          carry = (octet & mask) != 0;
          octet ^= mask;
          --bit;
        }
        if (carry || prefix->length == 0) r.fail(path + "count", "runs past the end of the address space");
      }
    }
  }
  if (r.ok()) {
    // No prefix twice. Sorting indices costs 4 octets a route where a hash
    // set of prefixes would cost ten times that (a million-route block).
    std::vector<std::uint32_t> order(c.routes.size());
    for (std::uint32_t k = 0; k < order.size(); ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
      return std::tie(c.routes[a].first, a) < std::tie(c.routes[b].first, b);
    });
    for (std::size_t k = 1; k < order.size(); ++k) {
      auto& p = c.routes[order[k]].first;
      if (p == c.routes[order[k - 1]].first) {
        r.fail("routes[" + std::to_string(source[order[k]]) + "].prefix", p.to_string() + " is listed twice");
        break;
      }
    }
  }
  if (!r.ok()) return r.error();
  return c;
}

Result<speaker_config, std::string> load_speaker_config(const std::string& path) {
  std::ifstream f(path);
  if (!f) return path + ": cannot read: " + std::strerror(errno);
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_speaker_config(ss.str(), path);
}

}  // namespace herald::bgp
