// Test harness: runs herald-kube-emulator (path in $HERALD_KUBE_EMULATOR)
// in a temporary state directory, waits until it serves, and kills it (by
// its pid) and removes the directory at the end. Also helpers to drive an
// io_context from a test: run a coroutine to completion, poll a condition.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "kube/client.hpp"
#include "kube/config.hpp"

namespace herald::kube::test {

class emulator_process {
 public:
  explicit emulator_process(const std::vector<std::string>& args = {});
  ~emulator_process();
  emulator_process(const emulator_process&) = delete;
  emulator_process& operator=(const emulator_process&) = delete;

  const std::string& url() const { return url_; }
  const std::string& state_dir() const { return dir_; }
  // The kubeconfig the emulator wrote (file name inside the state dir).
  client_config config(const std::string& file = "kubeconfig") const;

 private:
  int pid_ = -1;
  std::string dir_;
  std::string url_;
};

// Runs `ctx` until the coroutine finishes (or `limit` passes: test failure).
template <class T>
T run_sync(boost::asio::io_context& ctx, boost::asio::awaitable<T> aw,
           std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  std::optional<T> out;
  boost::asio::co_spawn(ctx, std::move(aw), [&](std::exception_ptr e, T v) {
    if (e) std::rethrow_exception(e);
    out = std::move(v);
  });
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!out && std::chrono::steady_clock::now() < deadline) {
    ctx.restart();
    ctx.run_one_for(std::chrono::milliseconds(50));
  }
  if (!out) throw std::runtime_error("run_sync: coroutine did not finish in time");
  return std::move(*out);
}

inline void run_sync(boost::asio::io_context& ctx, boost::asio::awaitable<void> aw,
                     std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  auto wrapped = [](boost::asio::awaitable<void> inner) -> boost::asio::awaitable<bool> {
    co_await std::move(inner);
    co_return true;
  };
  run_sync(ctx, wrapped(std::move(aw)), limit);
}

// Runs `ctx` until `done()` holds; false if `limit` passed first.
bool run_until(boost::asio::io_context& ctx, const std::function<bool()>& done, std::chrono::milliseconds limit);
// Runs `ctx` for `d`.
void run_for(boost::asio::io_context& ctx, std::chrono::milliseconds d);

// A client for the emulator; aborts the test if the configuration is unusable.
std::shared_ptr<client> make_client(boost::asio::io_context& ctx, const client_config& cfg);

// A file's whole text ("" if unreadable).
std::string read_text_file(const std::string& path);
// A minimal Service (one port 80) named `name`, as a POST body.
nlohmann::json service_body(const std::string& name, const nlohmann::json& labels = nlohmann::json::object());

// POST /_emulator/<action> (the admin API); throws on failure.
nlohmann::json admin(boost::asio::io_context& ctx, client& c, const std::string& action);
// One JSON request; throws with the error text on failure.
nlohmann::json call(boost::asio::io_context& ctx, client& c, boost::beast::http::verb method,
                    const std::string& target, const nlohmann::json& body = nullptr);

}  // namespace herald::kube::test
