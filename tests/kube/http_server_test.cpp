// The operator HTTP server (kube/http_server.hpp) against real sockets on
// loopback, IPv4 and IPv6: routing, 404 / 405, HEAD, keep-alive, size
// bounds, the request and idle deadlines, the connection limit, readiness
// flips, and the Prometheus writer (herald/prometheus.hpp) through /metrics,
// checked by `promtool check metrics` when promtool is installed.
#include <catch2/catch.hpp>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>

#include "allocator/promtool.hpp"
#include "herald/prometheus.hpp"
#include "kube/http_server.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using herald::kube::http_server;

namespace {

std::string sample_metrics() {
  herald::prometheus::text_writer w;
  w.family("herald_test_session_up", "gauge", "Whether the BGP session is Established.");
  w.sample("herald_test_session_up", {{"peer", "192.0.2.1"}, {"asn", "65000"}}, 1.0);
  w.sample("herald_test_session_up", {{"peer", "2001:db8::1"}, {"asn", "65000"}}, 0.0);
  w.counter("herald_test_updates_sent_total", "UPDATE messages sent.", 42);
  w.gauge("herald_test_ratio", "A fraction.", 0.25);
  w.family("herald_test_weird_total", "counter", "Label escaping.");
  w.sample("herald_test_weird_total", {{"name", "a\"b\\c\nd"}}, std::uint64_t{3});
  auto h = herald::prometheus::histogram::exponential(0.001, 2, 6);
  for (double v : {0.0005, 0.001, 0.003, 0.01, 1.0}) h.observe(v);
  w.family("herald_test_latency_seconds", "histogram", "Reconcile latency.");
  h.write(w, "herald_test_latency_seconds", {{"kind", "netlink"}});
  return w.take();
}

// The server on its own io thread, torn down at scope exit.
struct running_server {
  asio::io_context io;
  std::shared_ptr<http_server> server;
  std::atomic<bool> ready{false};
  std::thread thread;

  explicit running_server(herald::kube::http_server_options o = {}, std::string listen = "127.0.0.1:0") {
    server = http_server::create(io.get_executor(), o);
    server->handle_metrics("/metrics", [] { return sample_metrics(); });
    server->handle_probe("/healthz", [] { return herald::kube::probe_result{true, ""}; });
    server->handle_probe("/readyz", [this] {
      return herald::kube::probe_result{ready.load(), ready.load() ? "" : "informers not synced"};
    });
    auto ep = server->listen(listen);
    REQUIRE(ep.has_value());
    thread = std::thread([this] { io.run(); });
  }
  ~running_server() {
    asio::post(io, [this] { server->stop(); });
    thread.join();
  }
  unsigned short port() const { return server->local_endpoint().port(); }
  tcp::endpoint endpoint() const { return server->local_endpoint(); }
};

struct client {
  asio::io_context io;
  tcp::socket sock{io};
  beast::flat_buffer buf;
  explicit client(const tcp::endpoint& ep) { sock.connect(ep); }

  http::response<http::string_body> request(http::verb method, std::string target, bool keep_alive = true) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "localhost");
    req.keep_alive(keep_alive);
    http::write(sock, req);
    http::response_parser<http::string_body> p;
    if (method == http::verb::head) p.skip(true);
    http::read(sock, buf, p);
    return p.release();
  }
  // True when the server closed the connection (EOF) within `limit`.
  bool closed_within(std::chrono::milliseconds limit) {
    auto start = std::chrono::steady_clock::now();
    char c;
    boost::system::error_code ec;
    sock.non_blocking(true);
    while (std::chrono::steady_clock::now() - start < limit) {
      sock.read_some(asio::buffer(&c, 1), ec);
      if (ec == asio::error::eof || ec == asio::error::connection_reset) return true;
      if (ec && ec != asio::error::would_block) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
};

}  // namespace

TEST_CASE("http: listen address parsing") {
  using herald::kube::parse_listen_address;
  CHECK(parse_listen_address("0.0.0.0:7473")->port() == 7473);
  CHECK(parse_listen_address("[::]:7473")->address().is_v6());
  CHECK(parse_listen_address("[2001:db8::1]:80")->address().to_string() == "2001:db8::1");
  CHECK_FALSE(parse_listen_address("::1:80").has_value());  // needs brackets
  CHECK_FALSE(parse_listen_address("127.0.0.1").has_value());
  CHECK_FALSE(parse_listen_address("127.0.0.1:70000").has_value());
  CHECK_FALSE(parse_listen_address("localhost:80").has_value());
  CHECK(parse_listen_address("127.0.0.1:x").error().find("port 'x'") != std::string::npos);
}

TEST_CASE("http: routes, 404, 405, HEAD, content types, keep-alive") {
  running_server s;
  client c(s.endpoint());
  auto m = c.request(http::verb::get, "/metrics");
  CHECK(m.result_int() == 200);
  CHECK(m[http::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(m.body() == sample_metrics());
  CHECK(m.keep_alive());
  // Same connection: keep-alive works.
  auto h = c.request(http::verb::get, "/healthz?verbose=1");
  CHECK(h.result_int() == 200);
  CHECK(h.body() == "ok\n");
  auto r = c.request(http::verb::get, "/readyz");
  CHECK(r.result_int() == 503);
  CHECK(r.body() == "not ok: informers not synced\n");
  s.ready = true;
  CHECK(c.request(http::verb::get, "/readyz").result_int() == 200);
  auto nf = c.request(http::verb::get, "/nope");
  CHECK(nf.result_int() == 404);
  auto post = c.request(http::verb::post, "/metrics");
  CHECK(post.result_int() == 405);
  CHECK(post[http::field::allow] == "GET, HEAD");
  auto head = c.request(http::verb::head, "/metrics");
  CHECK(head.result_int() == 200);
  CHECK(head[http::field::content_length] == std::to_string(sample_metrics().size()));
  CHECK(head.body().empty());
  CHECK(c.request(http::verb::get, "/healthz").result_int() == 200);  // the HEAD left the stream in sync
  CHECK(s.server->stats().connections == 1);
  // Connection: close is honoured.
  auto last = c.request(http::verb::get, "/healthz", false);
  CHECK_FALSE(last.keep_alive());
  CHECK(c.closed_within(2s));
}

TEST_CASE("http: IPv6 loopback") {
  running_server s({}, "[::1]:0");
  client c(s.endpoint());
  CHECK(c.request(http::verb::get, "/healthz").result_int() == 200);
}

TEST_CASE("http: a port in use is a clear error") {
  running_server s;
  asio::io_context io;
  auto other = http_server::create(io.get_executor());
  auto r = other->listen("127.0.0.1:" + std::to_string(s.port()));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().find("cannot listen on 127.0.0.1:") != std::string::npos);
  CHECK(r.error().find("bind") != std::string::npos);
}

TEST_CASE("http: oversized requests are refused and the connection closed") {
  herald::kube::http_server_options o;
  o.max_header_bytes = 1024;
  o.max_body_bytes = 16;
  running_server s(o);
  auto refused = [&](http::request<http::string_body> req) {
    client c(s.endpoint());
    req.prepare_payload();
    http::write(c.sock, req);
    http::response<http::string_body> res;
    http::read(c.sock, c.buf, res);
    CHECK(c.closed_within(2s));
    return res.result_int();
  };
  http::request<http::string_body> big_header{http::verb::get, "/metrics", 11};
  big_header.set("X-Padding", std::string(4000, 'a'));
  CHECK(refused(big_header) == 431);
  http::request<http::string_body> big_body{http::verb::get, "/metrics", 11};
  big_body.body() = std::string(100, 'b');
  CHECK(refused(big_body) == 413);
  {
    client c(s.endpoint());
    asio::write(c.sock, asio::buffer(std::string("NOT HTTP AT ALL\r\n\r\n")));
    http::response<http::string_body> res;
    http::read(c.sock, c.buf, res);
    CHECK(res.result_int() == 400);
  }
}

TEST_CASE("http: a slow request and an idle keep-alive connection are closed at their deadlines") {
  herald::kube::http_server_options o;
  o.request_timeout = 300ms;
  o.idle_timeout = 500ms;
  running_server s(o);
  client slow(s.endpoint());
  asio::write(slow.sock, asio::buffer(std::string("GET /metrics HTTP/1.1\r\nHost: x\r\n")));  // never finished
  auto start = std::chrono::steady_clock::now();
  CHECK(slow.closed_within(3s));
  CHECK(std::chrono::steady_clock::now() - start < 2s);

  client idle(s.endpoint());
  CHECK(idle.request(http::verb::get, "/healthz").result_int() == 200);
  start = std::chrono::steady_clock::now();
  CHECK(idle.closed_within(3s));
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 400ms);
  CHECK(waited < 2s);
}

TEST_CASE("http: connections over the limit are closed at once") {
  herald::kube::http_server_options o;
  o.max_connections = 2;
  running_server s(o);
  client a(s.endpoint()), b(s.endpoint());
  CHECK(a.request(http::verb::get, "/healthz").result_int() == 200);
  CHECK(b.request(http::verb::get, "/healthz").result_int() == 200);
  client over(s.endpoint());
  CHECK(over.closed_within(2s));
  CHECK(a.request(http::verb::get, "/healthz").result_int() == 200);  // the others are untouched
}

TEST_CASE("prometheus writer: exact lines, histogram buckets cumulative, +Inf last") {
  auto text = sample_metrics();
  CHECK(text.find("# HELP herald_test_session_up Whether the BGP session is Established.\n"
                  "# TYPE herald_test_session_up gauge\n"
                  "herald_test_session_up{peer=\"192.0.2.1\",asn=\"65000\"} 1\n") != std::string::npos);
  CHECK(text.find("herald_test_updates_sent_total 42\n") != std::string::npos);
  CHECK(text.find("herald_test_ratio 0.25\n") != std::string::npos);
  CHECK(text.find("herald_test_weird_total{name=\"a\\\"b\\\\c\\nd\"} 3\n") != std::string::npos);
  CHECK(text.find("herald_test_latency_seconds_bucket{kind=\"netlink\",le=\"0.001\"} 2\n") != std::string::npos);
  CHECK(text.find("herald_test_latency_seconds_bucket{kind=\"netlink\",le=\"0.004\"} 3\n") != std::string::npos);
  CHECK(text.find("herald_test_latency_seconds_bucket{kind=\"netlink\",le=\"0.032\"} 4\n") != std::string::npos);
  CHECK(text.find("herald_test_latency_seconds_bucket{kind=\"netlink\",le=\"+Inf\"} 5\n") != std::string::npos);
  CHECK(text.find("herald_test_latency_seconds_sum{kind=\"netlink\"} 1.0145\n") != std::string::npos);
  CHECK(text.find("herald_test_latency_seconds_count{kind=\"netlink\"} 5\n") != std::string::npos);
  CHECK(herald::prometheus::format_value(0.005) == "0.005");
  CHECK(herald::prometheus::format_value(18446744073709551616.0) == "1.8446744073709552e+19");
}

TEST_CASE("promtool check metrics accepts /metrics as served") {
  running_server s;
  client c(s.endpoint());
  herald::test::promtool_check(c.request(http::verb::get, "/metrics").body());
}
