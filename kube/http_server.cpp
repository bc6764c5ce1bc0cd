// The operator HTTP server: an acceptor and one Beast session per connection
// (do_read / on_read / on_write pairs, as Beast's http_server_async example),
// with deadlines on every read and write and bounded request parsers.
#include "kube/http_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <optional>

#include "herald/prometheus.hpp"

namespace herald::kube {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<tcp::endpoint, std::string> parse_listen_address(std::string_view listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == listen.size())
    return "listen address '" + std::string(listen) + "': want ADDR:PORT or [V6ADDR]:PORT";
  auto host = listen.substr(0, colon);
  auto port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string_view::npos)
    return "listen address '" + std::string(listen) + "': put an IPv6 address in brackets, [::1]:PORT";
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
    return "listen address '" + std::string(listen) + "': port '" + std::string(port_text) + "' is not 0-65535";
  boost::system::error_code aec;
  auto addr = asio::ip::make_address(std::string(host), aec);
  if (aec) return "listen address '" + std::string(listen) + "': '" + std::string(host) + "' is not an IP address";
  return tcp::endpoint(addr, static_cast<unsigned short>(port));
}

class http_server::session : public std::enable_shared_from_this<session> {
 public:
  session(std::shared_ptr<http_server> server, tcp::socket socket)
      : server_(std::move(server)), stream_(std::move(socket)) {}

  void start() { do_read(); }
  void close() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void do_read() {
    const auto& o = server_->opt_;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
    parser_->body_limit(o.max_body_bytes);
    // The first request must arrive whole within request_timeout; on a kept-alive
    // connection the next one within idle_timeout.
    stream_.expires_after(requests_ == 0 ? o.request_timeout : o.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted || ec == asio::error::eof ||
        ec == asio::error::connection_reset)
      return close();
    if (ec == beast::error::timeout) {
      ++server_->counters_.timeouts;
      return close();
    }
    if (ec) {
      ++server_->counters_.bad_requests;
      unsigned status = 400;
      if (ec == http::error::body_limit) status = 413;
      else if (ec == http::error::header_limit) status = 431;
      spdlog::debug("http: {}: bad request: {}", peer(), ec.message());
      http_reply r{status, "text/plain; charset=utf-8", std::string(http::obsolete_reason(http::int_to_status(status))) + "\n"};
      return send(r, false, false, 11, false);
    }
    ++requests_;
    ++server_->counters_.requests;
    auto& req = parser_->get();
    std::string_view target(req.target().data(), req.target().size());
    auto q = target.find('?');
    http_request_info info{std::string_view(req.method_string().data(), req.method_string().size()),
                           target.substr(0, q), q == std::string_view::npos ? std::string_view() : target.substr(q + 1)};
    bool head = req.method() == http::verb::head;
    http_reply r;
    bool allowed = false;
    if (req.method() != http::verb::get && !head) {
      r = {405, "text/plain; charset=utf-8", "method not allowed: use GET or HEAD\n"};
    } else {
      r = server_->dispatch(info);
      allowed = true;
    }
    send(r, head, req.keep_alive(), req.version(), !allowed);
  }

  void send(const http_reply& r, bool head, bool keep_alive, unsigned version, bool add_allow) {
    res_.emplace(http::int_to_status(r.status), version);
    res_->set(http::field::server, server_->opt_.server_name);
    res_->set(http::field::content_type, r.content_type);
    if (add_allow) res_->set(http::field::allow, "GET, HEAD");
    res_->keep_alive(keep_alive);
    if (head) {
      res_->content_length(r.body.size());
    } else {
      res_->body() = r.body;
      res_->prepare_payload();
    }
    stream_.expires_after(server_->opt_.write_timeout);
    http::async_write(stream_, *res_, [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
      self->on_write(ec, keep_alive);
    });
  }

  void on_write(beast::error_code ec, bool keep_alive) {
    if (ec == beast::error::timeout) ++server_->counters_.timeouts;
    if (ec || !keep_alive || server_->stopped_) return close();
    res_.reset();
    do_read();
  }

  std::string peer() const {
    boost::system::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (ec) return "?";
    return ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  std::shared_ptr<http_server> server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  std::size_t requests_ = 0;
};

std::shared_ptr<http_server> http_server::create(asio::any_io_executor ex, http_server_options o) {
  return std::shared_ptr<http_server>(new http_server(std::move(ex), std::move(o)));
}

http_server::http_server(asio::any_io_executor ex, http_server_options o)
    : ex_(ex), opt_(std::move(o)), acceptor_(ex) {}

http_server::~http_server() = default;

void http_server::handle(std::string path, http_handler h) { handlers_[std::move(path)] = std::move(h); }

void http_server::handle_metrics(std::string path, std::function<std::string()> render) {
  handle(std::move(path), [render = std::move(render)](const http_request_info&) {
    return http_reply{200, std::string(prometheus::content_type), render()};
  });
}

void http_server::handle_probe(std::string path, std::function<probe_result()> probe) {
  handle(std::move(path), [probe = std::move(probe)](const http_request_info&) {
    auto p = probe();
    std::string body = p.ok ? "ok" : "not ok";
    if (!p.detail.empty()) body += ": " + p.detail;
    body += '\n';
    return http_reply{p.ok ? 200u : 503u, "text/plain; charset=utf-8", std::move(body)};
  });
}

http_reply http_server::dispatch(const http_request_info& req) const {
  if (stopped_) return {503, "text/plain; charset=utf-8", "shutting down\n"};
  auto it = handlers_.find(req.path);
  if (it == handlers_.end()) return {404, "text/plain; charset=utf-8", "not found\n"};
  return it->second(req);
}

Result<tcp::endpoint, std::string> http_server::listen(std::string_view listen) {
  auto ep = parse_listen_address(listen);
  if (!ep) return ep.error();
  boost::system::error_code ec;
  auto fail = [&](const char* step) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return "http: cannot listen on " + std::string(listen) + ": " + step + ": " + ec.message();
  };
  acceptor_.open(ep->protocol(), ec);
  if (ec) return fail("open");
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("SO_REUSEADDR");
  acceptor_.bind(*ep, ec);
  if (ec) return fail("bind");
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  local_ = acceptor_.local_endpoint(ec);
  if (ec) return fail("local address");
  do_accept();
  return local_;
}

std::size_t http_server::open_connections() const {
  std::size_t n = 0;
  for (const auto& s : sessions_)
    if (!s.expired()) ++n;
  return n;
}

void http_server::do_accept() {
  acceptor_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || self->stopped_) return;
    if (ec) {
      // EMFILE and friends: keep accepting; the failure is logged, not fatal.
      spdlog::warn("http: accept on {}: {}", self->local_.port(), ec.message());
    } else {
      self->sessions_.remove_if([](const std::weak_ptr<session>& w) { return w.expired(); });
      if (self->sessions_.size() >= self->opt_.max_connections) {
        ++self->counters_.rejected;
        boost::system::error_code ignored;
        s.close(ignored);
      } else {
        ++self->counters_.connections;
        auto sess = std::make_shared<session>(self, std::move(s));
        self->sessions_.push_back(sess);
        sess->start();
      }
    }
    self->do_accept();
  });
}

void http_server::stop() {
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto& w : sessions_)
    if (auto s = w.lock()) s->close();
  sessions_.clear();
}

}  // namespace herald::kube
