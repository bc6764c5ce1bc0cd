// A small HTTP/1.1 server (RFC 9112) on Boost.Beast for the operator
// endpoints of Herald's daemons: /metrics (Prometheus text format 0.0.4),
// /healthz and /readyz. Handlers are registered by path and answer GET and
// HEAD; other paths get 404, other methods 405 with an Allow header.
// Keep-alive is honoured; a request's header and body are bounded
// (413 / 431) and must arrive within a deadline, and an idle keep-alive
// connection is closed after another, so a slow or stuck scraper cannot pin
// connections. At most `max_connections` are open at once.
//
// Threading (DESIGN.md): everything runs on the executor given to create();
// handlers are plain functions called on that thread, so they may read the
// owner's state directly. Handlers must be quick (they run inline).
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "herald/result.hpp"

namespace herald::kube {

struct http_request_info {
  std::string_view method;  // "GET" or "HEAD"
  std::string_view path;    // without the query
  std::string_view query;   // after '?', may be empty
};

struct http_reply {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using http_handler = std::function<http_reply(const http_request_info&)>;

// A probe's answer: ready / healthy, and a short reason shown in the body.
struct probe_result {
  bool ok = true;
  std::string detail;
};

struct http_server_options {
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_body_bytes = 8 * 1024;  // operators' GETs carry no body
  std::chrono::milliseconds request_timeout{10'000};  // whole request, from its first byte
  std::chrono::milliseconds idle_timeout{60'000};     // keep-alive wait for the next request
  std::chrono::milliseconds write_timeout{10'000};
  std::size_t max_connections = 64;
  std::string server_name = "herald";
};

// "ADDR:PORT", "[V6ADDR]:PORT" → endpoint; the error says what is wrong.
Result<boost::asio::ip::tcp::endpoint, std::string> parse_listen_address(std::string_view listen);

class http_server : public std::enable_shared_from_this<http_server> {
 public:
  static std::shared_ptr<http_server> create(boost::asio::any_io_executor ex, http_server_options o = {});
  ~http_server();

  // Registers (or replaces) the handler for an exact path.
  void handle(std::string path, http_handler h);
  // `path` serves render() as Prometheus text (Content-Type version=0.0.4).
  void handle_metrics(std::string path, std::function<std::string()> render);
  // `path` answers 200 "ok" or 503 with the detail, from probe().
  void handle_probe(std::string path, std::function<probe_result()> probe);

  // Binds and starts accepting ("0.0.0.0:7473", "[::]:7473", "127.0.0.1:0").
  // The error names the address and the reason (in use, not local, ...).
  Result<boost::asio::ip::tcp::endpoint, std::string> listen(std::string_view listen);
  // The bound endpoint (port 0 resolved); only after listen() succeeded.
  boost::asio::ip::tcp::endpoint local_endpoint() const { return local_; }
  // Stops accepting and closes every open connection.
  void stop();

  struct counters {
    std::size_t connections = 0;  // accepted
    std::size_t requests = 0;
    std::size_t rejected = 0;  // connections refused over max_connections
    std::size_t timeouts = 0;
    std::size_t bad_requests = 0;  // unparseable or over the size bounds
  };
  const counters& stats() const { return counters_; }
  std::size_t open_connections() const;

  class session;

 private:
  http_server(boost::asio::any_io_executor ex, http_server_options o);
  void do_accept();
  friend class session;
  http_reply dispatch(const http_request_info& req) const;

  boost::asio::any_io_executor ex_;
  http_server_options opt_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::endpoint local_;
  std::map<std::string, http_handler, std::less<>> handlers_;
  std::list<std::weak_ptr<session>> sessions_;
  counters counters_;
  bool stopped_ = false;
};

}  // namespace herald::kube
