// Parsing and validation of BGPPeer, LBNodeAgent and node Leases, and label
// selector matching (resources.hpp). Spec JSON is untrusted input: every
// read is type-checked, the first problem becomes the error naming its field,
// and nothing throws (STYLE.md §3).
#include "agent/resources.hpp"

#include <algorithm>
#include <charconv>
#include <regex>

namespace herald::agent {

using json = nlohmann::json;

namespace {

// Collects the first error with its JSON path ("spec.peerASN: ...").
class spec_reader {
 public:
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(const std::string& path, const std::string& what) {
    if (ok()) error_ = path + ": " + what;
  }

  // The member, or nullptr when absent or null.
  static const json* find(const json& j, const char* key) {
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  }

  void only(const json& j, std::initializer_list<std::string_view> known, const std::string& path) {
    for (auto& [k, v] : j.items())
      if (std::find(known.begin(), known.end(), k) == known.end()) fail(path + k, "unknown field");
  }

  std::optional<std::string> string(const json& j, const char* key, const std::string& path) {
    const json* v = find(j, key);
    if (!v) return std::nullopt;
    if (!v->is_string()) return fail(path + key, "must be a string"), std::nullopt;
    return v->get<std::string>();
  }

  std::optional<bool> boolean(const json& j, const char* key, const std::string& path) {
    const json* v = find(j, key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) return fail(path + key, "must be true or false"), std::nullopt;
    return v->get<bool>();
  }

  template <class T>
  std::optional<T> integer(const json& j, const char* key, const std::string& path, std::int64_t lo, std::int64_t hi) {
    const json* v = find(j, key);
    if (!v) return std::nullopt;
    bool in_range = v->is_number_integer() &&
                    (v->is_number_unsigned() ? v->get<std::uint64_t>() <= static_cast<std::uint64_t>(hi)
                                             : v->get<std::int64_t>() >= lo && v->get<std::int64_t>() <= hi) &&
                    (!v->is_number_unsigned() || static_cast<std::int64_t>(v->get<std::uint64_t>()) >= lo);
    if (!in_range)
      return fail(path + key, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi)),
             std::nullopt;
    return static_cast<T>(v->get<std::int64_t>());
  }

  std::optional<bgp::wire::ip_address> address(const json& j, const char* key, const std::string& path) {
    auto s = string(j, key, path);
    if (!s) return std::nullopt;
    auto a = bgp::wire::ip_address::parse(*s);
    if (!a) fail(path + key, "\"" + *s + "\" is not an IPv4 or IPv6 address");
    return a;
  }

  // A duration string, in [lo, hi].
  std::optional<std::chrono::milliseconds> duration(const json& j, const char* key, const std::string& path,
                                                    std::chrono::milliseconds lo, std::chrono::milliseconds hi) {
    auto s = string(j, key, path);
    if (!s) return std::nullopt;
    auto d = parse_duration(*s);
    if (!d) return fail(path + key, "\"" + *s + "\" is not a duration such as \"90s\" or \"1m30s\""), std::nullopt;
    if (*d < lo || *d > hi)
      return fail(path + key, "\"" + *s + "\" must be from " + std::to_string(lo.count() / 1000) + "s to " +
                                  std::to_string(hi.count() / 1000) + "s"),
             std::nullopt;
    return d;
  }

  // An object member (nullptr when absent); a non-object is an error.
  const json* object(const json& j, const char* key, const std::string& path) {
    const json* v = find(j, key);
    if (v && !v->is_object()) return fail(path + key, "must be an object"), nullptr;
    return v;
  }

  std::optional<label_selector> selector(const json& j, const char* key, const std::string& path) {
    const json* v = find(j, key);
    if (!v) return label_selector{};
    auto s = parse_label_selector(*v, path + key);
    if (!s) return fail_whole(s.error()), std::nullopt;
    return *s;
  }

  void fail_whole(const std::string& message) {
    if (ok()) error_ = message;
  }

 private:
  std::string error_;
};

template <class T>
Result<T, std::string> error_result(std::string why) {
  return Result<T, std::string>(boost::system::in_place_error, std::move(why));
}

}  // namespace

bool label_selector::matches(const kube::string_map& labels) const {
  for (auto& [k, v] : match_labels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  for (auto& r : match_expressions) {
    auto it = labels.find(r.key);
    bool has = it != labels.end();
    bool in = has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    switch (r.operation) {
      case selector_requirement::op::in:
        if (!in) return false;
        break;
      case selector_requirement::op::not_in:
        if (in) return false;
        break;
      case selector_requirement::op::exists:
        if (!has) return false;
        break;
      case selector_requirement::op::does_not_exist:
        if (has) return false;
        break;
    }
  }
  return true;
}

Result<label_selector, std::string> parse_label_selector(const json& j, const std::string& path) {
  if (!j.is_object()) return path + ": must be an object {matchLabels, matchExpressions}";
  spec_reader r;
  const std::string p = path + ".";
  r.only(j, {"matchLabels", "matchExpressions"}, p);
  label_selector s;
  if (const json* labels = r.object(j, "matchLabels", p)) {
    for (auto& [k, v] : labels->items()) {
      if (!v.is_string()) r.fail(p + "matchLabels." + k, "must be a string");
      else s.match_labels[k] = v.get<std::string>();
    }
  }
  if (const json* exprs = spec_reader::find(j, "matchExpressions")) {
    if (!exprs->is_array()) r.fail(p + "matchExpressions", "must be a list of {key, operator, values}");
    for (std::size_t i = 0; r.ok() && exprs->is_array() && i < exprs->size(); ++i) {
      const json& e = (*exprs)[i];
      std::string ep = p + "matchExpressions[" + std::to_string(i) + "]";
      if (!e.is_object()) {
        r.fail(ep, "must be an object {key, operator, values}");
        break;
      }
      selector_requirement req;
      auto key = r.string(e, "key", ep + ".");
      auto op = r.string(e, "operator", ep + ".");
      if (r.ok() && (!key || key->empty())) r.fail(ep + ".key", "is required");
      if (r.ok() && !op) r.fail(ep + ".operator", "is required");
      if (!r.ok()) break;
      req.key = *key;
      if (*op == "In") req.operation = selector_requirement::op::in;
      else if (*op == "NotIn") req.operation = selector_requirement::op::not_in;
      else if (*op == "Exists") req.operation = selector_requirement::op::exists;
      else if (*op == "DoesNotExist") req.operation = selector_requirement::op::does_not_exist;
      else r.fail(ep + ".operator", "\"" + *op + "\" is not In, NotIn, Exists or DoesNotExist");
      if (const json* values = spec_reader::find(e, "values")) {
        if (!values->is_array()) r.fail(ep + ".values", "must be a list of strings");
        for (std::size_t k = 0; r.ok() && values->is_array() && k < values->size(); ++k) {
          if (!(*values)[k].is_string()) r.fail(ep + ".values[" + std::to_string(k) + "]", "must be a string");
          else req.values.push_back((*values)[k].get<std::string>());
        }
      }
      bool set_op = req.operation == selector_requirement::op::in || req.operation == selector_requirement::op::not_in;
      if (r.ok() && set_op && req.values.empty()) r.fail(ep + ".values", "must not be empty for " + *op);
      if (r.ok() && !set_op && !req.values.empty()) r.fail(ep + ".values", "must be empty for " + *op);
      s.match_expressions.push_back(std::move(req));
    }
  }
  if (!r.ok()) return r.error();
  return s;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  // Go's time.ParseDuration subset: integer counts with units h, m, s, ms;
  // "0" alone is zero. No fractions, no sign.
  if (text == "0") return std::chrono::milliseconds{0};
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  while (!text.empty()) {
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end == text.data() || n < 0 || n > 1'000'000'000) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    std::int64_t unit = 0;
    if (text.substr(0, 2) == "ms") unit = 1, text.remove_prefix(2);
    else if (text.substr(0, 1) == "h") unit = 3'600'000, text.remove_prefix(1);
    else if (text.substr(0, 1) == "m") unit = 60'000, text.remove_prefix(1);
    else if (text.substr(0, 1) == "s") unit = 1000, text.remove_prefix(1);
    else return std::nullopt;
    total += n * unit;
    if (total > 100'000'000'000'000LL) return std::nullopt;
  }
  return std::chrono::milliseconds{total};
}

Result<bgp_peer, std::string> parse_bgp_peer(const kube::custom_resource& object, std::string_view herald_namespace) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  const json& spec = object.spec;
  if (object.meta.ns != herald_namespace)
    return error_result<bgp_peer>("metadata.namespace: BGPPeers are only read from Herald's namespace \"" +
                                  std::string(herald_namespace) + "\"; create it there");
  if (!spec.is_object()) return error_result<bgp_peer>("spec: must be an object");
  spec_reader r;
  const std::string p = "spec.";
  r.only(spec, {"peerAddress", "peerASN", "myASN", "peerPort", "holdTime", "keepaliveTime", "sendHoldTime",
                "connectRetryTime", "password", "ebgpMultihop", "ttlSecurity", "sourceAddress", "passive", "routerID",
                "nodeSelector", "families", "gracefulRestart", "bfd"},
         p);
  for (const char* required : {"peerAddress", "peerASN", "myASN"})
    if (!spec_reader::find(spec, required)) r.fail(p + required, "is required");
  bgp_peer peer;
  peer.ns = object.meta.ns;
  peer.name = object.meta.name;
  auto& c = peer.config;
  if (auto a = r.address(spec, "peerAddress", p)) c.address = *a;
  c.asn = r.integer<std::uint32_t>(spec, "peerASN", p, 1, 4294967295LL).value_or(0);
  c.local_asn = r.integer<std::uint32_t>(spec, "myASN", p, 1, 4294967295LL).value_or(0);
  c.port = r.integer<std::uint16_t>(spec, "peerPort", p, 1, 65535).value_or(179);
  // A hold timer: whole seconds, zero (none) or at least three seconds.
  auto hold_timer = [&](const char* field, const char* rfc) -> std::optional<std::uint16_t> {
    auto d = r.duration(spec, field, p, milliseconds{0}, seconds{65535});
    if (!d) return std::nullopt;
    if (d->count() % 1000 != 0) r.fail(p + field, "must be whole seconds");
    else if (*d != milliseconds{0} && *d < seconds{3})
      r.fail(p + field, std::string("must be 0s or at least 3s (") + rfc + ")");
    return static_cast<std::uint16_t>(d->count() / 1000);
  };
  if (auto hold = hold_timer("holdTime", "RFC 4271 §4.2")) c.hold_time = *hold;  // whole seconds on the wire
  c.keepalive = static_cast<std::uint16_t>(c.hold_time / 3);
  if (auto ka = r.duration(spec, "keepaliveTime", p, milliseconds{0}, seconds{65535})) {
    if (ka->count() % 1000 != 0) r.fail(p + "keepaliveTime", "must be whole seconds");
    else if (c.hold_time != 0 && ka->count() / 1000 > c.hold_time)
      r.fail(p + "keepaliveTime", "must not exceed holdTime");
    c.keepalive = static_cast<std::uint16_t>(ka->count() / 1000);
  }
  // A session whose writes make no progress for this long is closed (0s:
  // never); the speaker's default, 8 minutes, when absent.
  if (auto send_hold = hold_timer("sendHoldTime", "RFC 9687")) c.send_hold_time = *send_hold;
  if (auto retry = r.duration(spec, "connectRetryTime", p, seconds{1}, seconds{3600}))
    c.connect_retry = static_cast<std::uint32_t>(retry->count() / 1000);
  else c.connect_retry = 30;  // the CRD's default
  if (const json* pw = r.object(spec, "password", p)) {
    const json* ref = spec_reader::find(*pw, "secretRef");
    if (!ref || !ref->is_object()) r.fail(p + "password.secretRef", "is required: {name, key}");
    else {
      secret_ref sr;
      sr.name = r.string(*ref, "name", p + "password.secretRef.").value_or("");
      sr.key = r.string(*ref, "key", p + "password.secretRef.").value_or("password");
      if (r.ok() && sr.name.empty()) r.fail(p + "password.secretRef.name", "is required");
      peer.password = sr;
    }
  }
  auto multihop = r.integer<std::uint8_t>(spec, "ebgpMultihop", p, 1, 255);
  c.ttl_security = r.boolean(spec, "ttlSecurity", p).value_or(false);
  if (multihop && c.ttl_security) r.fail(p + "ebgpMultihop", "and ttlSecurity are mutually exclusive");
  c.ebgp_multihop = multihop.value_or(1);
  c.source_address = r.address(spec, "sourceAddress", p);
  if (r.ok() && c.source_address && c.source_address->family != c.address.family)
    r.fail(p + "sourceAddress", "must be of the same family as peerAddress");
  c.passive = r.boolean(spec, "passive", p).value_or(false);
  if (auto id = r.address(spec, "routerID", p)) {
    if (!id->is_v4() || id->v4_host_order() == 0) r.fail(p + "routerID", "must be a non-zero IPv4 dotted quad");
    else peer.router_id = id->v4_host_order();
  }
  if (auto sel = r.selector(spec, "nodeSelector", p)) peer.node_selector = std::move(*sel);
  if (const json* fams = spec_reader::find(spec, "families")) {
    if (!fams->is_array()) r.fail(p + "families", "must be a list of ipv4-unicast / ipv6-unicast");
    for (std::size_t i = 0; r.ok() && fams->is_array() && i < fams->size(); ++i) {
      const json& f = (*fams)[i];
      std::string fp = p + "families[" + std::to_string(i) + "]";
      auto fam = f.is_string() && f.get<std::string>() == "ipv4-unicast"   ? std::optional(bgp::wire::ipv4_unicast)
                 : f.is_string() && f.get<std::string>() == "ipv6-unicast" ? std::optional(bgp::wire::ipv6_unicast)
                                                                           : std::nullopt;
      if (!fam) r.fail(fp, "must be ipv4-unicast or ipv6-unicast");
      else if (std::find(c.families.begin(), c.families.end(), *fam) != c.families.end()) r.fail(fp, "is listed twice");
      else c.families.push_back(*fam);
    }
    if (r.ok() && c.families.empty()) r.fail(p + "families", "must not be empty (leave it out for both)");
  }
  if (c.families.empty()) c.families = {bgp::wire::ipv4_unicast, bgp::wire::ipv6_unicast};
  if (const json* gr = r.object(spec, "gracefulRestart", p)) {
    const std::string gp = p + "gracefulRestart.";
    r.only(*gr, {"enabled", "restartTime"}, gp);
    peer.graceful_restart = r.boolean(*gr, "enabled", gp).value_or(true);
    // RFC 4724 §3: the Restart Time field has 12 bits.
    if (auto rt = r.duration(*gr, "restartTime", gp, seconds{1}, seconds{4095}))
      peer.restart_time = static_cast<std::uint16_t>(rt->count() / 1000);
  }
  if (const json* bfd = r.object(spec, "bfd", p)) {
    const std::string bp = p + "bfd.";
    r.only(*bfd, {"minTx", "minRx", "multiplier"}, bp);
    bgp::peer_bfd b;
    b.min_tx_ms = r.integer<std::uint32_t>(*bfd, "minTx", bp, 10, 60000).value_or(b.min_tx_ms);
    b.min_rx_ms = r.integer<std::uint32_t>(*bfd, "minRx", bp, 10, 60000).value_or(b.min_rx_ms);
    b.multiplier = r.integer<std::uint8_t>(*bfd, "multiplier", bp, 1, 255).value_or(b.multiplier);
    c.bfd = b;
  }
  if (!r.ok()) return error_result<bgp_peer>(r.error());
  return peer;
}

Result<node_agent_settings, std::string> parse_lb_node_agent(const kube::custom_resource& object) {
  const json& spec = object.spec;
  if (!spec.is_object()) return error_result<node_agent_settings>("spec: must be an object");
  spec_reader r;
  const std::string p = "spec.";
  r.only(spec, {"localInterface", "dummyInterface", "garp", "validLifetime", "preferredLifetime", "noPrefixRoute",
                "nodeSelector"},
         p);
  node_agent_settings s;
  s.name = object.meta.key();
  s.local_interface = r.string(spec, "localInterface", p).value_or("default");
  if (r.ok() && s.local_interface.empty()) r.fail(p + "localInterface", "must be \"default\" or a regular expression");
  if (r.ok() && s.local_interface != "default") {
    // std::regex reports a bad pattern only by exception; contain it here.
    try {
      std::regex check(s.local_interface);
    } catch (const std::regex_error& e) {
      r.fail(p + "localInterface", "\"" + s.local_interface + "\" is not a regular expression: " + e.what());
    }
  }
  s.dummy_interface = r.string(spec, "dummyInterface", p).value_or("kube-lb0");
  if (r.ok())
    if (auto valid = netlink::validate_link_name(s.dummy_interface); !valid)
      r.fail(p + "dummyInterface", "\"" + s.dummy_interface + "\" is not a valid link name");
  if (const json* garp = r.object(spec, "garp", p)) {
    const std::string gp = p + "garp.";
    r.only(*garp, {"enabled", "count", "interval"}, gp);
    s.garp.enabled = r.boolean(*garp, "enabled", gp).value_or(true);
    s.garp.count = r.integer<int>(*garp, "count", gp, 1, 10).value_or(3);
    s.garp.interval =
        r.duration(*garp, "interval", gp, std::chrono::milliseconds{10}, std::chrono::seconds{60})
            .value_or(std::chrono::milliseconds{1000});
  }
  s.valid_lifetime = r.integer<std::uint32_t>(spec, "validLifetime", p, 0, 0xFFFFFFFELL).value_or(0);
  s.preferred_lifetime = r.integer<std::uint32_t>(spec, "preferredLifetime", p, 0, 0xFFFFFFFELL).value_or(0);
  if (r.ok() && s.valid_lifetime != 0 && s.preferred_lifetime > s.valid_lifetime)
    r.fail(p + "preferredLifetime", "must not exceed validLifetime");
  s.noprefixroute = r.boolean(spec, "noPrefixRoute", p).value_or(true);
  if (auto sel = r.selector(spec, "nodeSelector", p)) s.node_selector = std::move(*sel);
  if (!r.ok()) return error_result<node_agent_settings>(r.error());
  return s;
}

std::string node_lease_name(std::string_view node) { return std::string(node_lease_prefix) + std::string(node); }

Result<node_lease, std::string> parse_node_lease(const kube::lease& lease) {
  const std::string& name = lease.meta.name;
  if (name.size() <= node_lease_prefix.size() || name.compare(0, node_lease_prefix.size(), node_lease_prefix) != 0)
    return error_result<node_lease>("metadata.name: \"" + name + "\" is not " + std::string(node_lease_prefix) + "<node>");
  node_lease out;
  out.node = name.substr(node_lease_prefix.size());
  auto it = lease.meta.annotations.find(subnets_annotation);
  if (it == lease.meta.annotations.end()) return out;
  std::string_view rest = it->second;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    auto spec = netlink::address_spec::parse(item);
    std::string where = std::string("metadata.annotations[") + subnets_annotation + "]";
    if (!spec) return error_result<node_lease>(where + ": \"" + std::string(item) + "\" is not a CIDR");
    netlink::subnet sn{netlink::network_of(spec->address, spec->prefix_len), spec->prefix_len};
    out.subnets.push_back(sn);
  }
  return out;
}

std::string format_subnets(const std::vector<netlink::subnet>& subnets) {
  std::string out;
  for (auto& s : subnets) out += (out.empty() ? "" : ",") + s.to_string();
  return out;
}

}  // namespace herald::agent
