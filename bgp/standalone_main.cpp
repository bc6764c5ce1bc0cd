// herald-speaker: Herald's BGP speaker without Kubernetes (docs/standalone.md).
// Reads peers and routes from a JSON file, announces them, reloads on SIGHUP,
// shuts down gracefully on SIGTERM / SIGINT, and writes a JSON status file.
// Serves the GoBGP-compatible gRPC API (docs/grpc.md) on --grpc ADDR:PORT,
// 127.0.0.1:50051 by default, so the `gobgp` CLI can inspect it.
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "bgp/config_json.hpp"
#include "bgp/speaker.hpp"
#include "herald/exit_signals.hpp"
#include "proto/server.hpp"

using namespace herald::bgp;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// A peer's BFD session in the status file (docs/standalone.md).
nlohmann::json bfd_json(const bfd_status& b) {
  auto& c = b.counters;
  return {{"state", std::string(herald::bfd::to_string(b.state))},
          {"remote_state", std::string(herald::bfd::to_string(b.remote_state))},
          {"diag", std::string(herald::bfd::to_string(b.local_diag))},
          {"multihop", b.multihop},
          {"available", b.available},
          {"bgp_held", b.bgp_held},
          {"local_discriminator", b.local_discriminator},
          {"remote_discriminator", b.remote_discriminator},
          {"tx_interval_ms", static_cast<double>(b.tx_interval.count()) / 1000.0},
          {"detection_time_ms", static_cast<double>(b.detection_time.count()) / 1000.0},
          {"counters", {{"packets_sent", c.packets_sent}, {"packets_received", c.packets_received},
                        {"packets_discarded", c.packets_discarded}, {"polls_completed", c.polls_completed},
                        {"went_up", c.went_up}, {"went_down", c.went_down},
                        {"detection_expiries", c.detection_expiries}}}};
}

// What the BFD listeners dropped before a session saw it.
nlohmann::json bfd_listener_json(const herald::bfd::listener_counters& c) {
  nlohmann::json malformed = nlohmann::json::object();
  for (std::size_t i = 0; i < herald::bfd::decode_error_count; ++i)
    if (c.malformed.by_reason[i])
      malformed[std::string(herald::bfd::to_string(static_cast<herald::bfd::decode_error>(i)))] =
          c.malformed.by_reason[i];
  return {{"received", c.received}, {"bad_ttl", c.bad_ttl}, {"no_session", c.no_session},
          {"malformed", std::move(malformed)}};
}

struct options {
  std::string config, status_file, log_level = "info";
  std::string grpc = std::string(herald::proto::default_listen);  // "off": no API
};

void usage() {
  std::fprintf(stderr, "usage: herald-speaker --config FILE [--status-file FILE] [--log-level debug|info|warn]\n"
                       "                      [--grpc ADDR:PORT|off]   (default 127.0.0.1:50051)\n");
}

nlohmann::json status_json(const speaker& sp) {
  const auto peers = sp.status();
  auto now = std::chrono::system_clock::now();
  nlohmann::json out = {{"peers", nlohmann::json::array()}};
  for (auto& p : peers) {
    nlohmann::json j = {
        {"address", p.address},
        {"asn", p.asn},
        {"state", std::string(to_string(p.state))},
        {"uptime_seconds", p.established_since
                               ? std::chrono::duration_cast<std::chrono::seconds>(now - *p.established_since).count()
                               : 0},
        {"hold_time", p.hold_time},
        {"keepalive", p.keepalive},
        {"remote_hostname", p.remote_hostname},
        {"capabilities", p.capabilities},
        {"advertised", {{"ipv4-unicast", p.advertised_v4}, {"ipv6-unicast", p.advertised_v6}}},
        {"received", p.received},
        {"stale", p.stale},
        {"messages_in", {{"total", p.messages_in[0]}, {"open", p.messages_in[1]}, {"update", p.messages_in[2]},
                         {"notification", p.messages_in[3]}, {"keepalive", p.messages_in[4]},
                         {"route_refresh", p.messages_in[5]}}},
        {"messages_out", {{"total", p.messages_out[0]}, {"open", p.messages_out[1]}, {"update", p.messages_out[2]},
                          {"notification", p.messages_out[3]}, {"keepalive", p.messages_out[4]},
                          {"route_refresh", p.messages_out[5]}}},
        {"last_error", p.last_error},
        {"last_error_sent", p.last_error_sent},
        {"last_error_received", p.last_error_received},
        {"flaps", p.flaps},
    };
    if (p.bfd) j["bfd"] = bfd_json(*p.bfd);
    out["peers"].push_back(std::move(j));
  }
  for (bool multihop : {false, true})
    if (auto c = sp.bfd_counters(multihop)) out["bfd_listeners"][multihop ? "multihop" : "single_hop"] = bfd_listener_json(*c);
  return out;
}

void write_status(const std::string& path, const nlohmann::json& j) {
  // Written beside and renamed over, so a reader never sees half a file.
  auto tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << j.dump(2) << "\n";
    if (!f) {
      spdlog::warn("status file {}: cannot write", tmp);
      return;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) spdlog::warn("status file {}: rename failed", path);
}

}  // namespace

int main(int argc, char** argv) {
  // SIGTERM / SIGINT wait (pending) until the handler is in place: a stop
  // during start-up still ends in the configured graceful shutdown.
  herald::hold_exit_signals();
  options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--config") opt.config = next();
    else if (a == "--status-file") opt.status_file = next();
    else if (a == "--log-level") opt.log_level = next();
    else if (a == "--grpc") opt.grpc = next();
    else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "herald-speaker: unknown argument %s\n", a.c_str());
      usage();
      return 2;
    }
  }
  if (opt.config.empty()) {
    usage();
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(opt.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  auto cfg = load_speaker_config(opt.config);
  if (!cfg) {
    spdlog::error("{}", cfg.error());
    return 1;
  }
  asio::io_context io;
  auto summary = fmt::format("{} peers, {} routes, router id {}, AS {}", cfg->peers.size(), cfg->routes.size(),
                             herald::bgp::wire::ip_address::v4(cfg->router_id).to_string(), cfg->local_asn);
  // The speaker's table takes the routes: no second copy of a large file's routes.
  speaker sp(io.get_executor(), std::move(*cfg));

  // Status file: at most every 100 ms, and once more after the last change.
  asio::steady_timer status_timer(io);
  bool status_pending = false;
  auto flush_status = [&] {
    if (!opt.status_file.empty()) write_status(opt.status_file, status_json(sp));
  };
  sp.on_change([&] {
    if (opt.status_file.empty() || status_pending) return;
    status_pending = true;
    status_timer.expires_after(100ms);
    status_timer.async_wait([&](boost::system::error_code ec) {
      status_pending = false;
      if (!ec) flush_status();
    });
  });

  // Before start(): the API records when each route changes from the first one on.
  std::optional<herald::proto::api_server> api;
  if (opt.grpc != "off") {
    api.emplace(io.get_executor(), sp);
    // The API is for inspection: the speaker runs on without it.
    if (auto r = api->start(opt.grpc); !r) {
      spdlog::error("{}; continuing without the gRPC API", r.error());
      api.reset();
    }
  }

  if (auto ec = sp.start()) return 1;
  // Standalone: every route is in the file, so the initial set is complete now.
  sp.initial_routes_complete();
  flush_status();
  spdlog::info("herald-speaker: {}", summary);

  asio::signal_set signals(io, SIGHUP, SIGTERM, SIGINT);
  herald::release_exit_signals();
  bool stopping = false;
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      auto fresh = load_speaker_config(opt.config);
      if (!fresh) spdlog::error("reload refused, keeping the running configuration: {}", fresh.error());
      else {
        spdlog::info("reloading {}", opt.config);
        sp.reconfigure(*fresh);
      }
      signals.async_wait(on_signal);
      return;
    }
    if (stopping) {
      spdlog::warn("second signal: exiting at once");
      io.stop();
      return;
    }
    stopping = true;
    spdlog::info("signal {}: shutting down", sig);
    sp.shutdown("herald-speaker shutting down", [&] {
      flush_status();
      // Let the NOTIFICATIONs leave before the process ends.
      status_timer.expires_after(100ms);
      status_timer.async_wait([&](boost::system::error_code) { io.stop(); });
    });
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  io.run();
  herald::ignore_exit_signals_from_now(signals);
  if (api) api->stop();
  return 0;
}
