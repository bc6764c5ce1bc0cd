// HTTP(S) to the API server on Boost.Beast: keep-alive connections, a
// deadline on every request, bearer tokens from `credentials` (a 401 makes
// them re-read the token file or re-run the plugin, and the request is sent
// once more), TLS with the configured CA, client certificate and server name.
// Non-2xx answers become kube::error carrying the Status reason.
//
// Threading: one io_context thread; every call must come from it. At most
// client_config::max_requests_in_flight requests are on the wire at once,
// each on an idle keep-alive connection or a new one; more wait, first come
// first served (request_options::ahead first), and their deadline starts
// when they are sent. Watch streams hold a connection each and are not
// counted.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

#include "kube/config.hpp"
#include "kube/credentials.hpp"
#include "kube/error.hpp"

namespace herald::kube {

namespace asio = boost::asio;
namespace http = boost::beast::http;

struct http_response {
  unsigned status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, if any
};

struct request_options {
  http::verb method = http::verb::get;
  std::string target;  // path and query, e.g. "/api/v1/services?limit=500"
  std::string body;
  std::string content_type;  // for bodies: application/json, application/merge-patch+json, ...
  std::chrono::milliseconds timeout{0};  // 0 = the configuration's request_timeout
  // Waits for a slot ahead of the other requests (max_requests_in_flight):
  // Lease renewals, so that a node renewing behind a burst of writes does not
  // look dead to the others.
  bool ahead = false;
};

// Cancels a stream_lines() call from outside (informer stop): the stream's
// socket is closed and the call returns an error with reason "Cancelled".
struct stream_cancel {
  std::function<void()> cancel;
  bool cancelled = false;
  void operator()() {
    cancelled = true;
    if (cancel) cancel();
  }
};

class client : public std::enable_shared_from_this<client> {
 public:
  // Builds the TLS context from the configuration (reads CA, certificate and
  // key files); fails with reason "Config" if they are unusable.
  static result<std::shared_ptr<client>> create(asio::any_io_executor ex, client_config cfg);

  // One request and its whole answer, any status. Transport failures and
  // timeouts are errors (reason "Transport" / "Timeout").
  asio::awaitable<result<http_response>> request(const request_options& req);

  // A request whose 2xx answer is JSON; other statuses become errors carrying
  // the Status reason and message (409 → reason "Conflict", conflict() true).
  asio::awaitable<result<nlohmann::json>> request_json(const request_options& req);

  // GET a stream (a watch): calls on_line for each newline-terminated line as
  // it arrives until the server ends the response (success), a read takes
  // longer than idle_timeout, an error happens, or on_line returns false
  // (success). A non-200 answer is an error with its status and reason.
  asio::awaitable<result<void>> stream_lines(const std::string& target, std::chrono::milliseconds idle_timeout,
                                             const std::function<bool(std::string_view)>& on_line,
                                             const std::shared_ptr<stream_cancel>& cancel);

  const client_config& config() const { return cfg_; }
  asio::any_io_executor get_executor() const { return ex_; }
  // Closes idle keep-alive connections (shutdown, tests).
  void close_idle();
  // Counters for tests and metrics.
  std::size_t connections_opened() const { return connections_opened_; }
  std::size_t requests_waiting() const { return slot_waiters_.size(); }

  struct connection;
  ~client();

 private:
  client(asio::any_io_executor ex, client_config cfg);
  result<void> build_tls();
  asio::awaitable<result<std::unique_ptr<connection>>> connect();
  asio::awaitable<result<std::unique_ptr<connection>>> take_connection();
  void give_back(std::unique_ptr<connection> conn);
  result<std::string> authorization();
  // A slot for one request (max_requests_in_flight); release hands it to the
  // first waiter, if any.
  asio::awaitable<void> acquire_request_slot(bool ahead);
  void release_request_slot();

  asio::any_io_executor ex_;
  client_config cfg_;
  credentials creds_;
  std::shared_ptr<asio::ssl::context> tls_;
  unsigned tls_generation_ = 0;
  std::vector<std::unique_ptr<connection>> idle_;
  std::size_t connections_opened_ = 0;
  std::size_t requests_in_flight_ = 0;
  std::deque<std::shared_ptr<asio::steady_timer>> slot_waiters_;
};

// Turns a non-2xx answer into a kube::error using its Status body when it has one.
// `retry_after_header`: the answer's Retry-After header (delta-seconds; an
// HTTP-date or anything else is ignored).
error status_error(unsigned status, std::string_view body, std::string_view retry_after_header = {});

}  // namespace herald::kube
