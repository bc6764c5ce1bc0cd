// The emulator's HTTP layer (see server.hpp): request routing, list / get /
// write verbs over the store, chunked watch streams with bookmarks and 410
// ERROR events, discovery and OpenAPI v3, authentication, the admin API and
// fault injection. Coroutines follow HELPERS.md's GCC 12 rule: no temporaries
// with non-trivial destructors inside a co_await expression.
#include "server.hpp"

#include "crds.hpp"
#include "discovery.hpp"
#include "table.hpp"
#include "tls.hpp"
#include "yaml_json.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <list>
#include <map>
#include <random>
#include <variant>

namespace herald::emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

// ---- small pure helpers ----

std::string percent_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

struct target {
  std::string path;
  std::map<std::string, std::string> query;
  std::vector<std::string> segments;

  bool has(const std::string& k) const { return query.contains(k); }
  std::string get(const std::string& k) const {
    const auto it = query.find(k);
    return it == query.end() ? std::string() : it->second;
  }
  bool flag(const std::string& k) const {
    const auto v = get(k);
    return v == "1" || v == "true";
  }
};

target parse_target(const std::string& raw) {
  target t;
  const auto q = raw.find('?');
  t.path = percent_decode(raw.substr(0, q));
  if (q != std::string::npos) {
    std::string qs = raw.substr(q + 1);
    std::size_t start = 0;
    while (start <= qs.size()) {
      const auto amp = qs.find('&', start);
      const std::string part = qs.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      if (!part.empty()) {
        const auto eq = part.find('=');
        t.query[percent_decode(part.substr(0, eq))] =
            eq == std::string::npos ? std::string() : percent_decode(part.substr(eq + 1));
      }
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  std::size_t s = 0;
  while (s < t.path.size()) {
    const auto slash = t.path.find('/', s);
    const std::string seg = t.path.substr(s, slash == std::string::npos ? std::string::npos : slash - s);
    if (!seg.empty()) t.segments.push_back(seg);
    if (slash == std::string::npos) break;
    s = slash + 1;
  }
  return t;
}

std::string random_hex(std::size_t bytes) {
  static std::random_device rd;
  std::string out;
  static constexpr char digits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes; ++i) {
    const auto b = rd() & 0xff;
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

void write_file_atomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << content;
  }
  std::filesystem::rename(tmp, path);
}

api_error path_not_found() {
  return {404, "NotFound", "the server could not find the requested resource", json::object()};
}

std::string event_line(const char* type, const json& object) {
  // Spelled out rather than dumping {"type": ..., "object": ...}: that would
  // copy the whole object first.
  return std::string("{\"type\":") + json(type).dump() + ",\"object\":" + object.dump() + "}\n";
}

// A resource request after routing.
struct resource_route {
  const resource_type* type = nullptr;
  std::string ns;
  std::string name;
  std::string subresource;
};

// What the request log records of one request beyond its HTTP line: the
// authenticated user and the resource it addressed (type null: not an API
// resource, e.g. discovery).
struct request_record {
  std::string verb;
  std::string user;
  resource_route route;
};

// The verb a request maps to, for fault rules and logs.
std::string verb_of(http::verb method, const resource_route& r, bool watch) {
  switch (method) {
    case http::verb::get: return watch ? "watch" : (r.name.empty() ? "list" : "get");
    case http::verb::post: return "create";
    case http::verb::put: return "update";
    case http::verb::patch: return "patch";
    case http::verb::delete_: return "delete";
    default: return "other";
  }
}

struct reply {
  http::status code = http::status::ok;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

reply json_reply(http::status code, const json& body) { return {code, body.dump(), "application/json", {}}; }
reply error_reply(const api_error& e) {
  return json_reply(static_cast<http::status>(e.code), status_body(e));
}

struct watch_request {
  const resource_type* type = nullptr;
  std::string ns;
  std::optional<std::string> rv;
  label_selector labels;
  field_selector fields;
  bool bookmarks = false;
  bool send_initial_events = false;
  std::optional<long> timeout_seconds;
  bool table = false;  // Accept: …;as=Table: event objects are one-row Tables
  std::string include_object;
};

bool wants_table(const http::request<http::string_body>& req) {
  const std::string accept(req[http::field::accept]);
  const auto first = accept.substr(0, accept.find(','));
  return first.find("as=Table") != std::string::npos && first.find("g=meta.k8s.io") != std::string::npos &&
         first.find("v=v1") != std::string::npos && first.find("v=v1beta1") == std::string::npos;
}

struct fault_rule {
  int code = 500;
  int remaining = 1;
  int retry_after = 1;
  std::string path;  // substring of the request path ("" = any)
  std::string verb;  // "list", "watch", "get", "create", "update", "patch", "delete" ("" = any)
};

}  // namespace

// One open watch: the queue of lines the stream coroutine writes.
struct watcher {
  explicit watcher(asio::any_io_executor ex) : wake(ex) {}
  watch_request req;
  std::deque<std::string> lines;
  asio::steady_timer wake;
  bool expired = false;  // an ERROR 410 was queued: finish after it
  bool dropped = false;  // close the connection without a last chunk
};

struct server::impl : std::enable_shared_from_this<impl> {
  impl(asio::io_context& io_, store& s, server_options o)
      : io(io_), objects(s), opt(std::move(o)), acceptor(io_), tls_ctx(ssl::context::tls_server) {}

  asio::io_context& io;
  store& objects;
  server_options opt;
  tcp::acceptor acceptor;
  ssl::context tls_ctx;
  std::string token;
  std::list<std::weak_ptr<watcher>> watchers;
  std::map<std::uint64_t, std::function<void()>> connections;  // id → closer
  std::uint64_t next_conn = 0;
  std::vector<fault_rule> faults;
  int expire_next_watches = 0;
  int close_next_watches = 0;
  std::chrono::milliseconds delay{0};
  std::deque<json> request_log;
  std::mt19937 rng{std::random_device{}()};

  std::string scheme() const { return opt.tls ? "https" : "http"; }
  std::string host() const {
    return opt.address.find(':') != std::string::npos ? "[" + opt.address + "]" : opt.address;
  }
  std::string url() const { return scheme() + "://" + host() + ":" + std::to_string(acceptor.local_endpoint().port()); }
  std::string file(const std::string& name) const { return (std::filesystem::path(opt.state_dir) / name).string(); }

  // ---- lifecycle ----

  void start() {
    const auto addr = asio::ip::make_address(opt.address);
    tcp::endpoint ep(addr, opt.port);
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
    if (!opt.state_dir.empty()) std::filesystem::create_directories(opt.state_dir);
    if (opt.tls) setup_tls();
    if (opt.require_token) rotate_token();
    write_state_files();
    objects.on_commit([self = weak_from_this()](const change& c) {
      if (auto s = self.lock()) s->fan_out(c);
    });
    asio::co_spawn(io, accept_loop(shared_from_this()), asio::detached);
  }

  void setup_tls() {
    const test_pki pki = generate_test_pki(opt.tls_names);
    tls_ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    tls_ctx.use_certificate_chain(asio::buffer(pki.server_cert));
    tls_ctx.use_private_key(asio::buffer(pki.server_key), ssl::context::pem);
    tls_ctx.add_certificate_authority(asio::buffer(pki.ca_cert));
    // Ask for a client certificate but do not require one (tokens work too).
    tls_ctx.set_verify_mode(ssl::verify_peer);
    tls_ctx.set_verify_callback([](bool, ssl::verify_context&) { return true; });
    if (!opt.state_dir.empty()) {
      write_file_atomically(file("ca.crt"), pki.ca_cert);
      write_file_atomically(file("client.crt"), pki.client_cert);
      write_file_atomically(file("client.key"), pki.client_key);
    }
    ca_pem = pki.ca_cert;
  }
  std::string ca_pem;

  std::string kubeconfig(const std::string& user_yaml) const {
    std::string cluster = "    server: " + url() + "\n";
    if (opt.tls) cluster += "    certificate-authority: " + file("ca.crt") + "\n";
    return "apiVersion: v1\nkind: Config\nclusters:\n- name: herald-emulator\n  cluster:\n" + cluster +
           "users:\n- name: herald-emulator\n  user:" + user_yaml +
           "contexts:\n- name: herald-emulator\n  context:\n    cluster: herald-emulator\n"
           "    user: herald-emulator\n    namespace: default\ncurrent-context: herald-emulator\n";
  }

  void write_state_files() {
    if (opt.state_dir.empty()) return;
    const std::string user = opt.require_token ? "\n    tokenFile: " + file("token") + "\n" : " {}\n";
    write_file_atomically(file("kubeconfig"), kubeconfig(user));
    if (opt.tls)
      write_file_atomically(file("kubeconfig-client-cert"),
                            kubeconfig("\n    client-certificate: " + file("client.crt") +
                                       "\n    client-key: " + file("client.key") + "\n"));
    write_file_atomically(file("url"), url() + "\n");
  }

  std::string rotate_token() {
    token = random_hex(24);
    if (!opt.state_dir.empty()) write_file_atomically(file("token"), token);
    spdlog::info("emulator: bearer token rotated");
    return token;
  }

  void stop() {
    beast::error_code ec;
    acceptor.close(ec);
    drop_connections(0);
  }

  // ---- fault switches ----

  void drop_connections(std::uint64_t except) {
    for (auto& w : live_watchers()) {
      w->dropped = true;
      w->wake.cancel();
    }
    auto conns = connections;
    for (auto& [id, closer] : conns)
      if (id != except) closer();
  }

  std::vector<std::shared_ptr<watcher>> live_watchers() {
    std::vector<std::shared_ptr<watcher>> out;
    for (auto it = watchers.begin(); it != watchers.end();) {
      if (auto w = it->lock()) {
        out.push_back(std::move(w));
        ++it;
      } else {
        it = watchers.erase(it);
      }
    }
    return out;
  }

  static json expired_status(const std::string& message) {
    return status_body(api_error{410, "Expired", message, json()});
  }

  void expire_watches() {
    for (auto& w : live_watchers()) {
      if (w->expired) continue;
      w->lines.push_back(event_line("ERROR", expired_status("too old resource version: " + w->req.rv.value_or("0") +
                                                            " (" + std::to_string(objects.current_rv()) + ")")));
      w->expired = true;
      w->wake.cancel();
    }
  }

  json bookmark(const resource_type& t, bool initial_end) const {
    json meta = {{"resourceVersion", std::to_string(objects.current_rv())}};
    if (initial_end) meta["annotations"] = {{"k8s.io/initial-events-end", "true"}};
    return {{"kind", t.kind}, {"apiVersion", t.api_version()}, {"metadata", meta}};
  }

  void send_bookmarks() {
    for (auto& w : live_watchers()) {
      if (!w->req.bookmarks || w->expired) continue;
      w->lines.push_back(event_line("BOOKMARK", bookmark(*w->req.type, false)));
      w->wake.cancel();
    }
  }

  // The event a watcher sees for a change, after its namespace and
  // selectors: an object leaving the selection is DELETED, entering ADDED.
  static std::optional<std::pair<const char*, const json*>> filter_change(const change& c, const watch_request& r) {
    if (c.type_info != r.type) return std::nullopt;
    if (!r.ns.empty() && c.key.rfind(r.ns + "/", 0) != 0) return std::nullopt;
    const bool now_in = store::matches(c.object, r.labels, r.fields);
    const bool was_in = !c.previous.is_null() && store::matches(c.previous, r.labels, r.fields);
    switch (c.type) {
      case event_type::added:
        if (now_in) return std::make_pair("ADDED", &c.object);
        return std::nullopt;
      case event_type::modified:
        if (now_in && was_in) return std::make_pair("MODIFIED", &c.object);
        if (now_in) return std::make_pair("ADDED", &c.object);
        if (was_in) return std::make_pair("DELETED", &c.object);
        return std::nullopt;
      case event_type::deleted:
        if (was_in) return std::make_pair("DELETED", &c.object);
        return std::nullopt;
    }
    return std::nullopt;
  }

  static std::string watch_line(const watch_request& r, const char* type, const json& obj) {
    if (!r.table) return event_line(type, obj);
    return event_line(type, to_table(*r.type, obj, r.include_object, std::chrono::system_clock::now()));
  }

  void fan_out(const change& c) {
    // Plain watchers seeing the same event get the same line, serialised
    // once (kube-apiserver caches an event's encoding for its watchers too):
    // else the last watcher waits for every other one's copy and dump.
    std::map<std::pair<const char*, const json*>, std::string> encoded;
    for (auto& w : live_watchers()) {
      if (w->expired || w->dropped) continue;
      if (auto ev = filter_change(c, w->req)) {
        if (w->req.table) {
          w->lines.push_back(watch_line(w->req, ev->first, *ev->second));
        } else {
          auto [it, fresh] = encoded.try_emplace(*ev);
          if (fresh) it->second = event_line(ev->first, *ev->second);
          w->lines.push_back(it->second);
        }
        w->wake.cancel();
      }
    }
  }

  // ---- request dispatch (plain functions, no coroutines) ----

  // read: when the request had been read in full (CLOCK_MONOTONIC, as
  // Python's time.monotonic(), so a benchmark can place it among its own
  // times); dispatched: when its answer (or watch) was ready, before any
  // injected delay.
  void log_request(const http::request<http::string_body>& req, int code, const request_record& rec,
                   clock_type::time_point read, clock_type::time_point dispatched) {
    using namespace std::chrono;
    json entry = {{"method", std::string(req.method_string())},
                  {"target", std::string(req.target())},
                  {"verb", rec.verb},
                  {"code", code},
                  {"userAgent", std::string(req[http::field::user_agent])},
                  {"user", rec.user},
                  {"monotonicNs", duration_cast<nanoseconds>(read.time_since_epoch()).count()},
                  {"dispatchNs", duration_cast<nanoseconds>(dispatched - read).count()}};
    // What an authorizer sees (RBAC's attributes), for API requests only.
    if (rec.route.type) {
      entry["apiGroup"] = rec.route.type->group;
      entry["resource"] = rec.route.type->plural;
      entry["subresource"] = rec.route.subresource;
      entry["namespace"] = rec.route.ns;
      entry["name"] = rec.route.name;
    }
    request_log.push_back(std::move(entry));
    while (request_log.size() > 5000) request_log.pop_front();
  }

  std::optional<reply> apply_faults(const std::string& path, const std::string& verb) {
    for (auto it = faults.begin(); it != faults.end(); ++it) {
      if (!it->path.empty() && path.find(it->path) == std::string::npos) continue;
      if (!it->verb.empty() && it->verb != verb) continue;
      const fault_rule rule = *it;
      if (--it->remaining <= 0) faults.erase(it);
      api_error e{rule.code, rule.code == 429 ? "TooManyRequests" : "InternalError",
                  rule.code == 429 ? "Too many requests, please try again later."
                                   : "Internal error occurred: injected by the emulator",
                  json()};
      if (rule.code == 429) e.details = {{"retryAfterSeconds", rule.retry_after}};
      reply r = error_reply(e);
      if (rule.code == 429) r.headers.emplace_back("Retry-After", std::to_string(rule.retry_after));
      return r;
    }
    return std::nullopt;
  }

  // The user a request authenticates as: "" when no authentication is
  // required (and none is offered), the user of a --token-file token, "admin"
  // for the rotating token, the client certificate's CN; nullopt: 401.
  std::optional<std::string> authenticate(const http::request<http::string_body>& req, bool client_cert_ok) const {
    const std::string auth(req[http::field::authorization]);
    if (auth.starts_with("Bearer ")) {
      const std::string presented = auth.substr(7);
      if (auto it = opt.token_users.find(presented); it != opt.token_users.end()) return it->second;
      if (opt.require_token && presented == token) return std::string("admin");
    }
    if (client_cert_ok) return std::string("herald-test");
    if (!opt.require_token) return std::string();
    return std::nullopt;
  }

  // Routes /api/v1/… and /apis/G/V/… to a resource, or nullopt.
  std::optional<resource_route> route(const std::vector<std::string>& seg, std::string& group, std::string& version,
                                      std::size_t& rest) const {
    if (seg.size() >= 2 && seg[0] == "api") {
      group = "";
      version = seg[1];
      rest = 2;
    } else if (seg.size() >= 3 && seg[0] == "apis") {
      group = seg[1];
      version = seg[2];
      rest = 3;
    } else {
      return std::nullopt;
    }
    const std::vector<std::string> r(seg.begin() + static_cast<long>(rest), seg.end());
    if (r.empty()) return std::nullopt;
    resource_route out;
    std::size_t i = 0;
    if (r.size() >= 3 && r[0] == "namespaces") {
      const resource_type* nt = objects.find_type(group, version, r[2]);
      if (nt && nt->namespaced) {
        out.ns = r[1];
        i = 2;
      }
    }
    out.type = objects.find_type(group, version, r[i]);
    if (!out.type) return std::nullopt;
    if (out.type->namespaced && out.ns.empty() && r.size() > i + 1) return std::nullopt;  // named without namespace
    if (r.size() > i + 1) out.name = r[i + 1];
    if (r.size() > i + 2) out.subresource = r[i + 2];
    if (r.size() > i + 3) return std::nullopt;
    return out;
  }

  std::variant<reply, watch_request> dispatch(const http::request<http::string_body>& req, std::uint64_t conn,
                                              bool client_cert_ok, request_record& rec) {
    const target t = parse_target(std::string(req.target()));
    const auto& seg = t.segments;
    std::string& verb = rec.verb;
    verb = "other";
    if (!seg.empty() && seg[0] == "_emulator") return admin(req, t, conn);
    if (t.path == "/version" || t.path == "/healthz" || t.path == "/livez" || t.path == "/readyz") {
      if (t.path == "/version") return json_reply(http::status::ok, version_info(opt.version_minor));
      return reply{http::status::ok, "ok", "text/plain", {}};
    }
    auto user = authenticate(req, client_cert_ok);
    if (!user) return error_reply(api_error{401, "Unauthorized", "Unauthorized", json()});
    rec.user = std::move(*user);
    std::string group, version;
    std::size_t rest = 0;
    auto r = route(seg, group, version, rest);
    const bool watch = t.flag("watch");
    if (r) {
      verb = verb_of(req.method(), *r, watch);
      rec.route = *r;
    }
    if (auto f = apply_faults(t.path, verb)) return *f;
    if (!r) return discovery(req, t);
    return resource(req, t, *r, watch);
  }

  // Objects of unexpected shape (a string where an object belongs) make
  // nlohmann::json throw deep in defaulting or printing; the real server
  // answers such requests with an error and so does this one.
  std::variant<reply, watch_request> safe_dispatch(const http::request<http::string_body>& req, std::uint64_t conn,
                                                   bool client_cert_ok, request_record& rec) {
    try {
      return dispatch(req, conn, client_cert_ok, rec);
    } catch (const json::exception& e) {
      return error_reply(bad_request(std::string("the request could not be handled: ") + e.what()));
    } catch (const std::exception& e) {
      return error_reply(api_error{500, "InternalError", std::string("Internal error occurred: ") + e.what(), json()});
    }
  }

  reply discovery(const http::request<http::string_body>& req, const target& t) {
    if (req.method() != http::verb::get) return error_reply(path_not_found());
    const auto& seg = t.segments;
    const std::string address = opt.address + ":" + std::to_string(acceptor.local_endpoint().port());
    if (t.path == "/api" || t.path == "/api/") return json_reply(http::status::ok, api_versions(address));
    if (t.path == "/apis" || t.path == "/apis/") return json_reply(http::status::ok, api_group_list(objects));
    if (seg.size() == 2 && seg[0] == "api") {
      json l = api_resource_list(objects, "", seg[1]);
      if (!l.is_null()) return json_reply(http::status::ok, l);
    }
    if (seg.size() == 2 && seg[0] == "apis") {
      json g = api_group(objects, seg[1]);
      if (!g.is_null()) return json_reply(http::status::ok, g);
    }
    if (seg.size() == 3 && seg[0] == "apis") {
      json l = api_resource_list(objects, seg[1], seg[2]);
      if (!l.is_null()) return json_reply(http::status::ok, l);
    }
    if (t.path == "/openapi/v3") return json_reply(http::status::ok, openapi_v3_index(objects));
    if (seg.size() == 4 && seg[0] == "openapi" && seg[1] == "v3" && seg[2] == "api")
      return json_reply(http::status::ok, openapi_v3_document(objects, "", seg[3], opt.version_minor));
    if (seg.size() == 5 && seg[0] == "openapi" && seg[1] == "v3" && seg[2] == "apis")
      return json_reply(http::status::ok, openapi_v3_document(objects, seg[3], seg[4], opt.version_minor));
    return error_reply(path_not_found());
  }

  api_result<std::pair<label_selector, field_selector>> selectors(const target& t, const resource_type& type,
                                                                  const std::string& name) const {
    auto labels = parse_label_selector(t.get("labelSelector"));
    if (!labels) return bad_request("unable to parse requirement: " + labels.error());
    auto fields = parse_field_selector(t.get("fieldSelector"));
    if (!fields) return bad_request(fields.error());
    for (const auto& f : fields->requirements) {
      const bool known = f.field == "metadata.name" || f.field == "metadata.namespace" ||
                         std::find(type.field_selectors.begin(), type.field_selectors.end(), f.field) !=
                             type.field_selectors.end();
      if (!known) return bad_request("field label not supported: " + f.field);
    }
    if (!name.empty()) fields->requirements.push_back({"metadata.name", false, name});
    return std::make_pair(std::move(*labels), std::move(*fields));
  }

  static api_result<json> parse_body(const http::request<http::string_body>& req, bool yaml_allowed) {
    const std::string ctype(req[http::field::content_type]);
    if (yaml_allowed && ctype.find("yaml") != std::string::npos && !req.body().empty() && req.body()[0] != '{') {
      try {
        auto docs = yaml_documents_to_json(req.body());
        if (docs.size() == 1) return ok(docs[0]);
      } catch (const std::exception& e) {
        return bad_request(std::string("error decoding YAML: ") + e.what());
      }
      return bad_request("the body of the request was in an unknown format");
    }
    json body = json::parse(req.body(), nullptr, false);
    if (body.is_discarded()) return bad_request("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml");
    return ok(std::move(body));
  }

  std::variant<reply, watch_request> resource(const http::request<http::string_body>& req, const target& t,
                                              const resource_route& r, bool watch) {
    const resource_type& type = *r.type;
    if (!r.subresource.empty() && !(r.subresource == "status" && type.status_subresource))
      return error_reply(path_not_found());
    const bool strict = t.get("fieldValidation") == "Strict";
    if (t.has("dryRun") && req.method() != http::verb::get)
      return error_reply(bad_request("dryRun is not supported by the emulator (docs/emulator.md)"));
    switch (req.method()) {
      case http::verb::get: {
        if (watch) {
          auto sel = selectors(t, type, r.name);
          if (!sel) return error_reply(sel.error());
          watch_request w;
          w.type = r.type;
          w.ns = r.ns;
          if (t.has("resourceVersion")) w.rv = t.get("resourceVersion");
          w.labels = std::move(sel->first);
          w.fields = std::move(sel->second);
          w.bookmarks = t.flag("allowWatchBookmarks");
          w.send_initial_events = t.flag("sendInitialEvents");
          w.table = wants_table(req);
          w.include_object = t.get("includeObject");
          if (t.has("timeoutSeconds")) {
            try {
              w.timeout_seconds = std::stol(t.get("timeoutSeconds"));
            } catch (const std::exception&) {
              return error_reply(bad_request("invalid timeoutSeconds"));
            }
          }
          return w;
        }
        if (!r.name.empty()) {
          auto got = objects.get(type, r.ns, r.name);
          if (!got) return error_reply(got.error());
          if (wants_table(req))
            return json_reply(http::status::ok, to_table(type, *got, t.get("includeObject"), std::chrono::system_clock::now()));
          return json_reply(http::status::ok, *got);
        }
        auto sel = selectors(t, type, "");
        if (!sel) return error_reply(sel.error());
        list_options lo;
        if (t.has("resourceVersion")) lo.resource_version = t.get("resourceVersion");
        lo.resource_version_match = t.get("resourceVersionMatch");
        lo.continue_token = t.get("continue");
        lo.labels = std::move(sel->first);
        lo.fields = std::move(sel->second);
        if (t.has("limit")) {
          try {
            lo.limit = std::stoll(t.get("limit"));
          } catch (const std::exception&) {
            return error_reply(bad_request("invalid limit"));
          }
        }
        auto listed = objects.list(type, r.ns, lo);
        if (!listed) return error_reply(listed.error());
        if (wants_table(req))
          return json_reply(http::status::ok, to_table(type, *listed, t.get("includeObject"), std::chrono::system_clock::now()));
        return json_reply(http::status::ok, *listed);
      }
      case http::verb::post: {
        if (!r.name.empty()) return error_reply(api_error{405, "MethodNotAllowed", "the server does not allow this method on the requested resource", json()});
        auto body = parse_body(req, false);
        if (!body) return error_reply(body.error());
        auto made = objects.create(type, r.ns, std::move(*body), strict);
        return made ? json_reply(http::status::created, *made) : error_reply(made.error());
      }
      case http::verb::put: {
        if (r.name.empty()) return error_reply(api_error{405, "MethodNotAllowed", "the server does not allow this method on the requested resource", json()});
        auto body = parse_body(req, false);
        if (!body) return error_reply(body.error());
        auto put = objects.replace(type, r.ns, r.name, std::move(*body), r.subresource, strict);
        return put ? json_reply(http::status::ok, *put) : error_reply(put.error());
      }
      case http::verb::patch: {
        if (r.name.empty()) return error_reply(api_error{405, "MethodNotAllowed", "the server does not allow this method on the requested resource", json()});
        const std::string ctype(req[http::field::content_type]);
        patch_kind kind;
        if (ctype.rfind("application/merge-patch+json", 0) == 0) {
          kind = patch_kind::merge;
        } else if (ctype.rfind("application/json-patch+json", 0) == 0) {
          kind = patch_kind::json_patch;
        } else if (ctype.rfind("application/strategic-merge-patch+json", 0) == 0) {
          kind = patch_kind::strategic;
        } else if (ctype.rfind("application/apply-patch+yaml", 0) == 0) {
          kind = patch_kind::apply;
          if (!t.has("fieldManager"))
            return error_reply(invalid(type.kind, r.name, "metadata.managedFields.fieldManager: Required value: is required for apply patch"));
        } else {
          return error_reply(api_error{415, "UnsupportedMediaType",
                                       "the body of the request was in an unknown format - accepted media types include: "
                                       "application/json-patch+json, application/merge-patch+json, "
                                       "application/apply-patch+yaml" +
                                           std::string(type.custom ? "" : ", application/strategic-merge-patch+json"),
                                       json()});
        }
        auto body = parse_body(req, kind == patch_kind::apply);
        if (!body) return error_reply(body.error());
        bool created = false;
        auto patched = objects.patch(type, r.ns, r.name, kind, *body, r.subresource, &created, strict);
        if (!patched) return error_reply(patched.error());
        return json_reply(created ? http::status::created : http::status::ok, *patched);
      }
      case http::verb::delete_: {
        if (r.name.empty()) return error_reply(api_error{405, "MethodNotAllowed", "the server does not allow this method on the requested resource", json()});
        json options = req.body().empty() ? json() : json::parse(req.body(), nullptr, false);
        auto gone = objects.remove(type, r.ns, r.name, options);
        return gone ? json_reply(http::status::ok, *gone) : error_reply(gone.error());
      }
      default:
        return error_reply(api_error{405, "MethodNotAllowed", "the server does not allow this method on the requested resource", json()});
    }
  }

  reply admin(const http::request<http::string_body>& req, const target& t, std::uint64_t conn) {
    const std::string what = t.segments.size() > 1 ? t.segments[1] : "";
    const bool post = req.method() == http::verb::post;
    auto count = [&] { return t.has("count") ? std::stoi(t.get("count")) : 1; };
    try {
      if (what == "state") {
        return json_reply(http::status::ok, {{"resourceVersion", std::to_string(objects.current_rv())},
                                             {"compactedResourceVersion", std::to_string(objects.compacted_rv())},
                                             {"objects", objects.object_count()},
                                             {"watches", live_watchers().size()},
                                             {"connections", connections.size()},
                                             {"url", url()},
                                             {"token", token},
                                             {"faults", faults.size()}});
      }
      if (what == "requests") {
        json log = json::array();
        for (const auto& e : request_log) log.push_back(e);
        if (post && t.flag("clear")) request_log.clear();
        return json_reply(http::status::ok, log);
      }
      if (!post) return error_reply(api_error{405, "MethodNotAllowed", "admin actions are POST", json()});
      if (what == "drop") {
        // Close after this reply is on its way: post so the answer is written first.
        asio::post(io, [self = shared_from_this(), conn] { self->drop_connections(conn); });
      } else if (what == "expire-watches") {
        expire_watches();
      } else if (what == "expire-next-watches") {
        expire_next_watches += count();
      } else if (what == "close-next-watches") {
        close_next_watches += count();
      } else if (what == "fail") {
        fault_rule f;
        f.code = t.has("code") ? std::stoi(t.get("code")) : 500;
        f.remaining = count();
        f.retry_after = t.has("retryAfter") ? std::stoi(t.get("retryAfter")) : 1;
        f.path = t.get("path");
        f.verb = t.get("verb");
        faults.push_back(f);
      } else if (what == "compact") {
        if (t.has("rv")) {
          objects.compact(std::stoull(t.get("rv")));
        } else {
          objects.compact_all();
        }
      } else if (what == "delay") {
        delay = std::chrono::milliseconds(t.has("ms") ? std::stol(t.get("ms")) : 0);
      } else if (what == "bookmark") {
        send_bookmarks();
      } else if (what == "bookmark-interval") {
        opt.bookmark_interval = std::chrono::milliseconds(std::stol(t.get("ms")));
      } else if (what == "rotate-token") {
        return json_reply(http::status::ok, {{"token", rotate_token()}});
      } else if (what == "objects") {
        return bulk_create(req);
      } else if (what == "touch") {
        return touch(t);
      } else if (what == "reset-faults") {
        faults.clear();
        expire_next_watches = 0;
        close_next_watches = 0;
        delay = std::chrono::milliseconds(0);
      } else {
        return error_reply(path_not_found());
      }
    } catch (const std::exception& e) {
      return error_reply(bad_request(std::string("bad admin parameter: ") + e.what()));
    }
    return json_reply(http::status::ok, {{"ok", true}, {"resourceVersion", std::to_string(objects.current_rv())}});
  }

  // POST /_emulator/objects: one object, an array or a List, created in order.
  reply bulk_create(const http::request<http::string_body>& req) {
    json body = json::parse(req.body(), nullptr, false);
    if (body.is_discarded()) return error_reply(bad_request("body is not JSON"));
    json items = body.is_array() ? body : (body.is_object() && body.contains("items") ? body["items"] : json::array({body}));
    std::size_t created = 0;
    for (const auto& item : items) {
      auto made = create_any(objects, item);
      if (!made) return error_reply(made.error());
      ++created;
    }
    return json_reply(http::status::ok, {{"created", created}, {"resourceVersion", std::to_string(objects.current_rv())}});
  }

  // POST /_emulator/touch: `count` merge patches of one annotation, round
  // robin over the existing objects of a kind: a cheap source of MODIFIED
  // events for benchmarks.
  reply touch(const target& t) {
    const resource_type* type = objects.find_kind(t.has("apiVersion") ? t.get("apiVersion") : "v1",
                                                  t.has("kind") ? t.get("kind") : "Service");
    if (!type) return error_reply(bad_request("unknown apiVersion/kind"));
    list_options lo;
    lo.resource_version = "0";
    auto listed = objects.list(*type, t.get("namespace"), lo);
    if (!listed) return error_reply(listed.error());
    const json& items = (*listed)["items"];
    const long count = t.has("count") ? std::stol(t.get("count")) : 1;
    if (items.empty()) return error_reply(bad_request("no objects to touch"));
    for (long i = 0; i < count; ++i) {
      const json& meta = items[static_cast<std::size_t>(i) % items.size()]["metadata"];
      ++touch_counter;
      json p = {{"metadata", {{"annotations", {{"emulator.herald.dev/touch", std::to_string(touch_counter)}}}}}};
      auto r = objects.patch(*type, meta.value("namespace", ""), meta["name"].get<std::string>(), patch_kind::merge, p, "");
      if (!r) return error_reply(r.error());
    }
    return json_reply(http::status::ok, {{"touched", count}, {"resourceVersion", std::to_string(objects.current_rv())}});
  }
  std::uint64_t touch_counter = 0;

  // ---- coroutines ----

  static asio::awaitable<void> accept_loop(std::shared_ptr<impl> self) {
    for (;;) {
      auto [ec, sock] = co_await self->acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) co_return;
        spdlog::warn("emulator: accept: {}", ec.message());
        continue;
      }
      sock.set_option(tcp::no_delay(true));
      if (self->opt.tls) {
        asio::co_spawn(self->io, serve_tls(self, std::move(sock)), asio::detached);
      } else {
        asio::co_spawn(self->io, serve_plain(self, std::move(sock)), asio::detached);
      }
    }
  }

  static asio::awaitable<void> serve_plain(std::shared_ptr<impl> self, tcp::socket sock) {
    beast::tcp_stream stream(std::move(sock));
    co_await self->serve(stream, false);
  }

  static asio::awaitable<void> serve_tls(std::shared_ptr<impl> self, tcp::socket sock) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(sock)), self->tls_ctx);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    beast::get_lowest_layer(stream).expires_never();
    bool cert_ok = false;
    if (X509* peer = SSL_get1_peer_certificate(stream.native_handle())) {
      cert_ok = SSL_get_verify_result(stream.native_handle()) == X509_V_OK;
      X509_free(peer);
    }
    co_await self->serve(stream, cert_ok);
  }

  // Keeps the connection in the registry while the coroutine runs. Weak:
  // at shutdown the io_context may destroy frames after the server.
  struct connection_guard {
    std::weak_ptr<impl> owner;
    std::uint64_t id;
    ~connection_guard() {
      if (auto o = owner.lock()) o->connections.erase(id);
    }
  };

  template <class Stream>
  asio::awaitable<void> serve(Stream& stream, bool client_cert_ok) {
    const std::uint64_t id = ++next_conn;
    connections[id] = [&stream] {
      beast::error_code ec;
      beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
      beast::get_lowest_layer(stream).socket().close(ec);
    };
    connection_guard guard{weak_from_this(), id};
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(512 * 1024 * 1024);
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (ec) break;
      const auto read_at = clock_type::now();
      http::request<http::string_body> req = parser.release();
      const bool keep_alive = req.keep_alive();
      request_record rec;
      auto outcome = safe_dispatch(req, id, client_cert_ok, rec);
      const auto dispatched_at = clock_type::now();
      const bool admin_request = req.target().starts_with("/_emulator/");
      if (delay.count() > 0 && !admin_request) {
        asio::steady_timer t(io, delay);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      if (auto* w = std::get_if<watch_request>(&outcome)) {
        log_request(req, 200, rec, read_at, dispatched_at);
        const bool reuse = co_await stream_watch(stream, req, std::move(*w));
        if (!reuse || !keep_alive) break;
        continue;
      }
      reply& r = std::get<reply>(outcome);
      log_request(req, static_cast<int>(r.code), rec, read_at, dispatched_at);
      http::response<http::string_body> res{r.code, req.version()};
      res.set(http::field::content_type, r.content_type);
      res.set(http::field::cache_control, "no-cache, private");
      for (const auto& [k, v] : r.headers) res.set(k, v);
      res.keep_alive(keep_alive);
      res.body() = std::move(r.body);
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      if (wec || !keep_alive) break;
    }
    beast::error_code ec;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  // Runs one watch on the connection. Returns whether the connection may be
  // reused (the stream ended with a last chunk).
  template <class Stream>
  asio::awaitable<bool> stream_watch(Stream& stream, const http::request<http::string_body>& req, watch_request wr) {
    auto w = std::make_shared<watcher>(io.get_executor());
    w->req = std::move(wr);
    const resource_type& type = *w->req.type;
    auto start = objects.start_watch(type, w->req.ns, w->req.rv, w->req.labels, w->req.fields);
    if (!start && start.error().code != 410) {
      // Bad requests are answered as plain errors, before any stream starts.
      http::response<http::string_body> res{static_cast<http::status>(start.error().code), req.version()};
      res.set(http::field::content_type, "application/json");
      res.body() = status_body(start.error()).dump();
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [ec, n] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      co_return !ec;
    }
    // Queue the first events and register before the first co_await, so no
    // commit can slip between the start and the live stream.
    bool finish_now = false;
    if (!start) {
      // A too old resourceVersion: HTTP 200, then one ERROR event (kube-api.md §1).
      w->lines.push_back(event_line("ERROR", status_body(start.error())));
      finish_now = true;
    } else if (expire_next_watches > 0) {
      --expire_next_watches;
      w->lines.push_back(event_line("ERROR", expired_status("too old resource version: " + w->req.rv.value_or("0") +
                                                            " (" + std::to_string(objects.current_rv()) + ")")));
      finish_now = true;
    } else if (close_next_watches > 0) {
      --close_next_watches;
      finish_now = true;
    } else {
      for (const auto& c : start->initial)
        if (auto ev = filter_change(c, w->req)) w->lines.push_back(watch_line(w->req, ev->first, *ev->second));
      if (w->req.send_initial_events && w->req.bookmarks)
        w->lines.push_back(event_line("BOOKMARK", bookmark(type, true)));
      watchers.push_back(w);
    }
    http::response<http::empty_body> head{http::status::ok, req.version()};
    head.set(http::field::content_type, "application/json");
    head.set(http::field::cache_control, "no-cache, private");
    head.keep_alive(req.keep_alive());
    head.chunked(true);
    http::response_serializer<http::empty_body> sr{head};
    {
      auto [ec, n] = co_await http::async_write_header(stream, sr, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return false;
    }
    const auto now = clock_type::now();
    std::chrono::seconds timeout;
    if (w->req.timeout_seconds && *w->req.timeout_seconds > 0) {
      timeout = std::chrono::seconds(*w->req.timeout_seconds);
    } else {
      std::uniform_int_distribution<long> d(opt.min_watch_timeout.count(), opt.max_watch_timeout.count());
      timeout = std::chrono::seconds(d(rng));
    }
    const auto deadline = now + timeout;
    // Bookmarks: periodically, and about 2 s before the deadline.
    auto next_bookmark = now + opt.bookmark_interval;
    auto final_bookmark = deadline - std::chrono::seconds(2);
    bool final_sent = !w->req.bookmarks || final_bookmark <= now;
    for (;;) {
      while (!w->lines.empty()) {
        const std::string line = std::move(w->lines.front());
        w->lines.pop_front();
        auto chunk = http::make_chunk(asio::buffer(line));
        auto [ec, n] = co_await asio::async_write(stream, chunk, asio::as_tuple(asio::use_awaitable));
        if (ec) co_return false;
      }
      if (w->dropped) {
        beast::error_code ec;
        beast::get_lowest_layer(stream).socket().close(ec);
        co_return false;
      }
      if (w->expired || finish_now) break;
      const auto t = clock_type::now();
      if (t >= deadline) break;
      auto wake_at = deadline;
      if (w->req.bookmarks) {
        wake_at = std::min(wake_at, next_bookmark);
        if (!final_sent) wake_at = std::min(wake_at, final_bookmark);
      }
      w->wake.expires_at(wake_at);
      auto [wec] = co_await w->wake.async_wait(asio::as_tuple(asio::use_awaitable));
      (void)wec;  // cancelled = new lines or a switch flipped
      if (w->dropped || w->expired) continue;
      const auto after = clock_type::now();
      if (w->req.bookmarks && after >= next_bookmark) {
        w->lines.push_back(event_line("BOOKMARK", bookmark(type, false)));
        next_bookmark = after + opt.bookmark_interval;
      }
      if (!final_sent && after >= final_bookmark) {
        w->lines.push_back(event_line("BOOKMARK", bookmark(type, false)));
        final_sent = true;
      }
    }
    auto last = http::make_chunk_last();
    auto [ec, n] = co_await asio::async_write(stream, last, asio::as_tuple(asio::use_awaitable));
    co_return !ec;
  }
};

server::server(asio::io_context& io, store& objects, server_options opt)
    : impl_(std::make_shared<impl>(io, objects, std::move(opt))) {}

server::~server() { impl_->stop(); }

void server::start() { impl_->start(); }
void server::stop() { impl_->stop(); }
unsigned short server::port() const { return impl_->acceptor.local_endpoint().port(); }
std::string server::url() const { return impl_->url(); }
std::string server::token() const { return impl_->token; }
std::string server::rotate_token() { return impl_->rotate_token(); }
void server::drop_connections() { impl_->drop_connections(0); }
void server::expire_watches() { impl_->expire_watches(); }
void server::send_bookmarks() { impl_->send_bookmarks(); }

}  // namespace herald::emulator
