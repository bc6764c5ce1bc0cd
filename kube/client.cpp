// The API client's HTTP layer (client.hpp). Coroutines on Beast; results
// are built into named locals before co_return (GCC 12 mishandles
// temporaries with destructors in co_await / co_return expressions).
#include "kube/client.hpp"

#include <algorithm>
#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

namespace herald::kube {

namespace beast = boost::beast;
using tcp = asio::ip::tcp;

struct client::connection {
  connection(asio::any_io_executor ex, std::shared_ptr<asio::ssl::context> ctx, bool use_tls)
      : tls_context(std::move(ctx)), stream(ex, *tls_context), tls(use_tls) {}
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream); }

  std::shared_ptr<asio::ssl::context> tls_context;  // outlives the stream's SSL object
  beast::ssl_stream<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  bool tls;
  bool reused = false;
};

namespace {

using io_result = std::tuple<beast::error_code, std::size_t>;
constexpr std::uint64_t max_response_body = 1ull << 30;
constexpr std::size_t max_idle_connections = 8;

// Runs one Beast operation on the TLS stream or on the plain TCP stream.
template <class Op>
asio::awaitable<io_result> on_stream(client::connection& c, Op op) {
  if (c.tls) co_return co_await op(c.stream);
  co_return co_await op(c.tcp());
}

error transport_error(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return client_error("Timeout", "no answer before the deadline");
  return client_error("Transport", ec.message());
}

http::request<http::string_body> make_request(const client_config& cfg, http::verb method, const std::string& target,
                                              const std::string& authorization, const std::string& body,
                                              const std::string& content_type) {
  http::request<http::string_body> req{method, cfg.server.path_prefix + target, 11};
  req.set(http::field::host, cfg.server.host_header());
  req.set(http::field::user_agent, "herald/0.1");
  req.set(http::field::accept, "application/json");
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  if (!body.empty() || method == http::verb::post || method == http::verb::put || method == http::verb::patch) {
    req.set(http::field::content_type, content_type.empty() ? std::string("application/json") : content_type);
    req.body() = body;
  }
  req.keep_alive(true);
  req.prepare_payload();
  return req;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

error status_error(unsigned status, std::string_view body, std::string_view retry_after_header) {
  error e{static_cast<int>(status), std::string(http::obsolete_reason(static_cast<http::status>(status))), ""};
  // Retry-After: delta-seconds (RFC 9110 §10.2.3); at most a day, so a
  // hostile value cannot overflow the clock arithmetic of the caller.
  auto seconds = [](std::int64_t v) { return std::chrono::seconds(std::clamp<std::int64_t>(v, 0, 86400)); };
  if (!retry_after_header.empty() && retry_after_header.size() <= 9 &&
      std::all_of(retry_after_header.begin(), retry_after_header.end(), [](char c) { return c >= '0' && c <= '9'; }))
    e.retry_after = seconds(std::stoll(std::string(retry_after_header)));
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    if (auto r = j.find("reason"); r != j.end() && r->is_string() && !r->get_ref<const std::string&>().empty())
      e.reason = r->get<std::string>();
    if (auto m = j.find("message"); m != j.end() && m->is_string()) e.message = m->get<std::string>();
    if (auto d = j.find("details"); !e.retry_after && d != j.end() && d->is_object())
      if (auto ra = d->find("retryAfterSeconds"); ra != d->end() && ra->is_number_integer())
        e.retry_after = seconds(ra->get<std::int64_t>());
  } else {
    e.message = std::string(body.substr(0, 200));
  }
  return e;
}

client::client(asio::any_io_executor ex, client_config cfg) : ex_(std::move(ex)), cfg_(std::move(cfg)), creds_(cfg_) {}

client::~client() = default;

result<std::shared_ptr<client>> client::create(asio::any_io_executor ex, client_config cfg) {
  std::shared_ptr<client> c(new client(std::move(ex), std::move(cfg)));
  if (auto r = c->build_tls(); !r) return r.error();
  return c;
}

result<void> client::build_tls() {
  try {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    if (cfg_.server.scheme == "https") {
      if (cfg_.insecure_skip_tls_verify) {
        ctx->set_verify_mode(asio::ssl::verify_none);
      } else {
        ctx->set_verify_mode(asio::ssl::verify_peer);
        if (!cfg_.ca_pem.empty()) ctx->add_certificate_authority(asio::buffer(cfg_.ca_pem));
        else if (!cfg_.ca_file.empty()) ctx->load_verify_file(cfg_.ca_file);
        else ctx->set_default_verify_paths();
      }
      const std::string& cert = creds_.exec_certificate_pem().empty() ? cfg_.client_certificate_pem
                                                                      : creds_.exec_certificate_pem();
      const std::string& key = creds_.exec_key_pem().empty() ? cfg_.client_key_pem : creds_.exec_key_pem();
      if (!cert.empty()) ctx->use_certificate_chain(asio::buffer(cert));
      else if (!cfg_.client_certificate_file.empty()) ctx->use_certificate_chain_file(cfg_.client_certificate_file);
      if (!key.empty()) ctx->use_private_key(asio::buffer(key), asio::ssl::context::pem);
      else if (!cfg_.client_key_file.empty()) ctx->use_private_key_file(cfg_.client_key_file, asio::ssl::context::pem);
    }
    tls_ = std::move(ctx);
    tls_generation_ = creds_.tls_generation();
    return {};
  } catch (const boost::system::system_error& e) {
    return client_error("Config", std::string("TLS setup: ") + e.what());
  }
}

result<std::string> client::authorization() {
  auto token = creds_.token(std::chrono::steady_clock::now());
  if (!token) return token.error();
  if (token->empty()) return std::string();
  return "Bearer " + *token;
}

void client::close_idle() { idle_.clear(); }

void client::give_back(std::unique_ptr<connection> conn) {
  if (idle_.size() < max_idle_connections) idle_.push_back(std::move(conn));
}

asio::awaitable<result<std::unique_ptr<client::connection>>> client::connect() {
  using out_t = result<std::unique_ptr<connection>>;
  tcp::resolver resolver(ex_);
  auto [rec, endpoints] = co_await resolver.async_resolve(cfg_.server.host, cfg_.server.port,
                                                          asio::as_tuple(asio::use_awaitable));
  if (rec) {
    out_t out = client_error("Transport", "resolve " + cfg_.server.host + ": " + rec.message());
    co_return out;
  }
  const bool tls = cfg_.server.scheme == "https";
  auto conn = std::make_unique<connection>(ex_, tls_, tls);
  conn->tcp().expires_after(cfg_.connect_timeout);
  auto [cec, ep] = co_await conn->tcp().async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
  if (cec) {
    out_t out = transport_error(cec);
    co_return out;
  }
  ++connections_opened_;
  if (tls) {
    const std::string name = cfg_.tls_server_name.empty() ? cfg_.server.host : cfg_.tls_server_name;
    // SNI only for DNS names (RFC 6066 §3 forbids IP literals); the macro
    // SSL_set_tlsext_host_name hides a C cast, so call SSL_ctrl directly.
    if (!is_ip_literal(name))
      SSL_ctrl(conn->stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(name.c_str()));
    if (!cfg_.insecure_skip_tls_verify) conn->stream.set_verify_callback(asio::ssl::host_name_verification(name));
    conn->tcp().expires_after(cfg_.connect_timeout);
    auto [hec] = co_await conn->stream.async_handshake(asio::ssl::stream_base::client,
                                                       asio::as_tuple(asio::use_awaitable));
    if (hec) {
      out_t out = client_error("TLS", "handshake with " + cfg_.server.host_header() + ": " + hec.message());
      co_return out;
    }
  }
  out_t out = std::move(conn);
  co_return out;
}

asio::awaitable<result<std::unique_ptr<client::connection>>> client::take_connection() {
  if (creds_.tls_generation() != tls_generation_) {
    // The exec plugin handed out a new client certificate: new context, new connections.
    idle_.clear();
    if (auto r = build_tls(); !r) {
      result<std::unique_ptr<connection>> out = r.error();
      co_return out;
    }
  }
  while (!idle_.empty()) {
    std::unique_ptr<connection> c = std::move(idle_.back());
    idle_.pop_back();
    if (c->tcp().socket().is_open()) {
      c->reused = true;
      result<std::unique_ptr<connection>> out = std::move(c);
      co_return out;
    }
  }
  auto fresh = co_await connect();
  co_return fresh;
}

asio::awaitable<void> client::acquire_request_slot(bool ahead) {
  if (requests_in_flight_ < std::max<std::size_t>(1, cfg_.max_requests_in_flight)) {
    ++requests_in_flight_;
    co_return;
  }
  auto turn = std::make_shared<asio::steady_timer>(ex_, asio::steady_timer::time_point::max());
  if (ahead) slot_waiters_.push_front(turn);
  else slot_waiters_.push_back(turn);
  // Woken by release_request_slot's cancel: the finishing request's slot is
  // now this one's (the count stays).
  co_await turn->async_wait(asio::as_tuple(asio::use_awaitable));
}

void client::release_request_slot() {
  if (slot_waiters_.empty()) {
    --requests_in_flight_;
    return;
  }
  auto next = std::move(slot_waiters_.front());
  slot_waiters_.pop_front();
  next->cancel();
}

asio::awaitable<result<http_response>> client::request(const request_options& opt) {
  using out_t = result<http_response>;
  const auto timeout = opt.timeout.count() > 0 ? opt.timeout : cfg_.request_timeout;
  bool auth_retried = false;
  co_await acquire_request_slot(opt.ahead);
  struct slot_guard {
    client& c;
    ~slot_guard() { c.release_request_slot(); }
  } slot{*this};
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto auth = authorization();
    if (!auth) {
      out_t out = auth.error();
      co_return out;
    }
    auto taken = co_await take_connection();
    if (!taken) {
      out_t out = taken.error();
      co_return out;
    }
    std::unique_ptr<connection> conn = std::move(*taken);
    auto req = make_request(cfg_, opt.method, opt.target, *auth, opt.body, opt.content_type);
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_response_body);
    conn->tcp().expires_after(timeout);
    auto [wec, wn] = co_await on_stream(*conn, [&](auto& s) {
      return http::async_write(s, req, asio::as_tuple(asio::use_awaitable));
    });
    beast::error_code ec = wec;
    if (!ec) {
      auto [rec, rn] = co_await on_stream(*conn, [&](auto& s) {
        return http::async_read(s, conn->buffer, parser, asio::as_tuple(asio::use_awaitable));
      });
      ec = rec;
    }
    if (ec) {
      // A keep-alive connection the server closed meanwhile: once more on a new one.
      if (conn->reused && attempt == 0 && ec != beast::error::timeout) continue;
      out_t out = transport_error(ec);
      co_return out;
    }
    auto res = parser.release();
    const unsigned status = res.result_int();
    if (res.keep_alive()) give_back(std::move(conn));
    if (status == 401 && !auth_retried && creds_.refreshable()) {
      spdlog::info("kube: {} {} answered 401, refreshing credentials", std::string(http::to_string(opt.method)),
                   opt.target);
      creds_.invalidate();
      auth_retried = true;
      continue;
    }
    out_t out = http_response{status, std::move(res.body()), std::string(res[http::field::retry_after])};
    co_return out;
  }
  out_t out = client_error("Transport", "request failed after retries");
  co_return out;
}

asio::awaitable<result<nlohmann::json>> client::request_json(const request_options& opt) {
  using out_t = result<nlohmann::json>;
  auto res = co_await request(opt);
  if (!res) {
    out_t out = res.error();
    co_return out;
  }
  if (res->status < 200 || res->status >= 300) {
    out_t out = status_error(res->status, res->body, res->retry_after);
    co_return out;
  }
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded()) {
    out_t out = client_error("Decode", "answer to " + opt.target + " is not JSON");
    co_return out;
  }
  out_t out(boost::system::in_place_value, std::move(j));
  co_return out;
}

asio::awaitable<result<void>> client::stream_lines(const std::string& target, std::chrono::milliseconds idle_timeout,
                                                   const std::function<bool(std::string_view)>& on_line,
                                                   const std::shared_ptr<stream_cancel>& cancel) {
  using out_t = result<void>;
  bool auth_retried = false;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (cancel && cancel->cancelled) break;
    auto auth = authorization();
    if (!auth) {
      out_t out = auth.error();
      co_return out;
    }
    auto taken = co_await take_connection();
    if (!taken) {
      out_t out = taken.error();
      co_return out;
    }
    std::unique_ptr<connection> conn = std::move(*taken);
    if (cancel && cancel->cancelled) break;
    connection* raw = conn.get();
    struct unregister {
      std::shared_ptr<stream_cancel> c;
      ~unregister() {
        if (c) c->cancel = nullptr;
      }
    } guard{cancel};
    if (cancel) cancel->cancel = [raw] { raw->tcp().cancel(); };

    auto req = make_request(cfg_, http::verb::get, target, *auth, "", "");
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    conn->tcp().expires_after(cfg_.request_timeout);
    auto [wec, wn] = co_await on_stream(*conn, [&](auto& s) {
      return http::async_write(s, req, asio::as_tuple(asio::use_awaitable));
    });
    beast::error_code ec = wec;
    if (!ec) {
      auto [hec, hn] = co_await on_stream(*conn, [&](auto& s) {
        return http::async_read_header(s, conn->buffer, parser, asio::as_tuple(asio::use_awaitable));
      });
      ec = hec;
    }
    if (ec) {
      if (cancel && cancel->cancelled) break;
      if (conn->reused && attempt == 0 && ec != beast::error::timeout) continue;
      out_t out = transport_error(ec);
      co_return out;
    }
    const unsigned status = parser.get().result_int();
    std::string pending;  // bytes after the last newline
    std::string error_body;
    char chunk[16384];
    // Room for a whole event per read: Beast reads into the connection's
    // buffer only what its capacity allows, at least 512 octets, so a
    // Service's ~1 KB watch event took two reads and two trips through the
    // reactor on a plain-HTTP connection.
    conn->buffer.reserve(sizeof chunk);
    bool stopped = false;
    while (!parser.is_done() && !stopped) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      conn->tcp().expires_after(status == 200 ? idle_timeout : cfg_.request_timeout);
      auto [rec, rn] = co_await on_stream(*conn, [&](auto& s) {
        return http::async_read_some(s, conn->buffer, parser, asio::as_tuple(asio::use_awaitable));
      });
      ec = rec;
      if (ec == http::error::need_buffer) ec = {};
      if (ec) break;
      const std::size_t got = sizeof chunk - parser.get().body().size;
      if (status != 200) {
        if (error_body.size() < 65536) error_body.append(chunk, got);
        continue;
      }
      pending.append(chunk, got);
      std::size_t start = 0;
      for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos;) {
        std::string_view line(pending.data() + start, nl - start);
        start = nl + 1;
        if (!line.empty() && !on_line(line)) {
          stopped = true;
          break;
        }
        if (cancel && cancel->cancelled) {
          stopped = true;
          break;
        }
      }
      pending.erase(0, start);
    }
    if (cancel && cancel->cancelled) break;
    if (ec) {
      out_t out = transport_error(ec);
      co_return out;
    }
    if (status != 200) {
      if (status == 401 && !auth_retried && creds_.refreshable()) {
        creds_.invalidate();
        auth_retried = true;
        continue;
      }
      out_t out = status_error(status, error_body, parser.get()[http::field::retry_after]);
      co_return out;
    }
    if (!stopped && !pending.empty()) on_line(pending);
    out_t out{};
    co_return out;
  }
  out_t out = client_error("Cancelled", "stream stopped");
  co_return out;
}

}  // namespace herald::kube
