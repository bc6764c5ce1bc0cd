// Informer benchmark (not a test): a Service informer lists 50,000 Services
// (pages of 500) and then processes a watch stream of MODIFIED events sent
// at 10,000 per second for 5 s. The API server is a minimal in-process
// HTTP/1.1 server on its own thread that replays pre-rendered JSON, so the
// figures are the client's: list time, RSS growth per cached object (RSS after
// the list minus RSS before the informer started, over the objects cached),
// and whether the informer keeps up with the event rate (lag after the last
// event was sent, events processed per second).
// Run: ./build-bench/tests/bench-kube-informer [services] [events_per_second] [seconds]
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "kube/informer.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// A Service as a real cluster stores one (managedFields left out): split
// around its resourceVersion so events can carry new versions cheaply.
struct rendered {
  std::string before_rv;
  std::string after_rv;
};

rendered render_service(int i) {
  const std::string ns = "ns-" + std::to_string(i % 50);
  const std::string name = "svc-" + std::to_string(i);
  const std::string ip = "10.96." + std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
  const std::string lb = "203.0.113." + std::to_string(i & 255);
  rendered r;
  r.before_rv = R"({"metadata":{"name":")" + name + R"(","namespace":")" + ns +
                R"(","uid":"6f1d2c3b-0000-4000-8000-)" + std::to_string(100000000000 + i) +
                R"(","creationTimestamp":"2026-11-30T08:00:00Z","labels":{"app":")" + name +
                R"(","tier":"web"},"annotations":{"herald.dev/service-group":"default"},"resourceVersion":")";
  r.after_rv = R"("},"spec":{"type":"LoadBalancer","loadBalancerClass":"herald.dev/lb","ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080,"nodePort":)" +
               std::to_string(30000 + i % 2000) + R"(}],"clusterIP":")" + ip + R"(","clusterIPs":[")" + ip +
               R"("],"externalTrafficPolicy":"Cluster","ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","selector":{"app":")" +
               name + R"("}},"status":{"loadBalancer":{"ingress":[{"ip":")" + lb + R"(","ipMode":"VIP"}]}}})";
  return r;
}

struct fake_server {
  std::vector<rendered> services;
  int events_per_second = 10000;
  int seconds = 5;
  std::atomic<long long> first_sent_ns{0};
  std::atomic<long long> last_sent_ns{0};
  std::atomic<int> sent{0};

  std::string list_page(std::size_t offset, std::size_t limit) const {
    const std::size_t end = std::min(services.size(), offset + limit);
    std::string body = R"({"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"100000")";
    if (end < services.size()) body += R"(,"continue":")" + std::to_string(end) + "\"";
    body += R"(},"items":[)";
    for (std::size_t i = offset; i < end; ++i) {
      if (i != offset) body += ',';
      body += services[i].before_rv + "1" + services[i].after_rv;
    }
    body += "]}";
    return body;
  }

  asio::awaitable<void> serve(tcp::socket sock) {
    beast::flat_buffer buf;
    for (;;) {
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(sock, buf, req, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      const std::string target(req.target());
      if (target.find("watch=1") != std::string::npos) {
        co_await watch(sock);
        co_return;
      }
      std::size_t offset = 0, limit = 500;
      if (auto p = target.find("continue="); p != std::string::npos) offset = std::stoul(target.substr(p + 9));
      if (auto p = target.find("limit="); p != std::string::npos) limit = std::stoul(target.substr(p + 6));
      http::response<http::string_body> res{http::status::ok, 11};
      res.set(http::field::content_type, "application/json");
      res.body() = list_page(offset, limit);
      res.keep_alive(true);
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(sock, res, asio::as_tuple(asio::use_awaitable));
      if (wec) co_return;
    }
  }

  asio::awaitable<void> watch(tcp::socket& sock) {
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "application/json");
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    auto [hec, hn] = co_await http::async_write_header(sock, sr, asio::as_tuple(asio::use_awaitable));
    if (hec) co_return;
    asio::steady_timer timer(sock.get_executor());
    const int ticks_per_second = 100;
    const int per_tick = events_per_second / ticks_per_second;
    auto next = steady::now();
    long long rv = 100000;
    std::size_t which = 0;
    for (int tick = 0; tick < seconds * ticks_per_second; ++tick) {
      std::string chunk;
      for (int i = 0; i < per_tick; ++i) {
        const auto& s = services[which];
        which = (which * 7919 + 1) % services.size();
        chunk += R"({"type":"MODIFIED","object":)" + s.before_rv + std::to_string(++rv) + s.after_rv + "}\n";
      }
      const auto now_ns = steady::now().time_since_epoch().count();
      if (tick == 0) first_sent_ns = now_ns;
      const auto framed = http::make_chunk(asio::buffer(chunk));  // a named local: GCC 12 coroutine bug
      auto [cec, cn] = co_await asio::async_write(sock, framed, asio::as_tuple(asio::use_awaitable));
      if (cec) co_return;
      sent += per_tick;
      last_sent_ns = steady::now().time_since_epoch().count();
      next += std::chrono::milliseconds(1000 / ticks_per_second);
      timer.expires_at(next);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    // Keep the stream open (no last chunk): the informer would only reconnect.
    timer.expires_after(std::chrono::seconds(60));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
};

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  const int count = argc > 1 ? std::atoi(argv[1]) : 50000;
  fake_server server;
  server.events_per_second = argc > 2 ? std::atoi(argv[2]) : 10000;
  server.seconds = argc > 3 ? std::atoi(argv[3]) : 5;
  server.services.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) server.services.push_back(render_service(i));

  asio::io_context server_ctx;
  tcp::acceptor acceptor(server_ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  asio::co_spawn(
      server_ctx,
      [&]() -> asio::awaitable<void> {
        for (;;) {
          auto [ec, sock] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
          if (ec) co_return;
          asio::co_spawn(server_ctx, server.serve(std::move(sock)), asio::detached);
        }
      },
      asio::detached);
  std::thread server_thread([&] { server_ctx.run(); });

  asio::io_context ctx;
  herald::kube::client_config cfg;
  cfg.server.scheme = "http";
  cfg.server.host = "127.0.0.1";
  cfg.server.port = std::to_string(port);
  auto c = herald::kube::client::create(ctx.get_executor(), cfg);
  if (!c) {
    std::fprintf(stderr, "client: %s\n", c.error().to_string().c_str());
    return 1;
  }
  std::size_t updates = 0;
  herald::kube::informer_handlers<herald::kube::service> handlers;
  handlers.on_update = [&](const herald::kube::service&, const herald::kube::service&) { ++updates; };
  herald::kube::informer_options opt;
  opt.page_size = 500;
  auto inf = herald::kube::informer<herald::kube::service>::create(*c, herald::kube::resources::services, opt,
                                                                   handlers);
  const std::size_t rss_before = rss_bytes();
  const auto t0 = steady::now();
  inf->start();
  while (!inf->synced()) ctx.run_one();
  const auto listed = steady::now();
  const std::size_t rss_after = rss_bytes();
  const std::size_t cached = inf->cache().size();
  const auto expected = static_cast<std::size_t>(server.events_per_second / 100 * 100 * server.seconds);
  while (updates < expected) ctx.run_one();
  const auto done = steady::now();
  const auto first_sent = steady::time_point(steady::duration(server.first_sent_ns.load()));
  const auto last_sent = steady::time_point(steady::duration(server.last_sent_ns.load()));

  const double list_s = std::chrono::duration<double>(listed - t0).count();
  const double watch_s = std::chrono::duration<double>(done - first_sent).count();
  const double lag_ms = std::chrono::duration<double, std::milli>(done - last_sent).count();
  std::printf("services listed: %zu in %.3f s (%.0f objects/s, %zu pages)\n", cached, list_s,
              static_cast<double>(cached) / list_s, inf->stats().list_pages);
  std::printf("RSS: %.1f MiB before, %.1f MiB after the list: %.0f bytes per cached Service\n",
              static_cast<double>(rss_before) / 1048576.0, static_cast<double>(rss_after) / 1048576.0,
              static_cast<double>(rss_after - rss_before) / static_cast<double>(cached));
  std::printf("watch: %zu MODIFIED events sent at %d/s over %d s, processed in %.3f s (%.0f events/s), "
              "%.1f ms after the last was sent\n",
              updates, server.events_per_second, server.seconds, watch_s, static_cast<double>(updates) / watch_s,
              lag_ms);
  inf->stop();
  ctx.run_for(std::chrono::milliseconds(50));
  acceptor.close();
  server_ctx.stop();
  server_thread.join();
  return 0;
}
