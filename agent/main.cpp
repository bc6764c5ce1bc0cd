// herald-agent: the node agent (DaemonSet, hostNetwork, one per node;
// docs/agent.md). Wires the Kubernetes client and informers (kube/), the
// planner and applier (agent/), netlink (netlink/), the BGP speaker (bgp/),
// the GoBGP-compatible gRPC API (proto/) and the operator HTTP endpoints
// (/metrics, /healthz, /readyz) on one io_context thread.
//
// SIGTERM / SIGINT: local addresses are released and the node Lease
// deleted, so another node takes them over at once; addresses on kube-lb0
// stay for the next agent. The BGP sessions, by --shutdown: restart (the
// default) closes them without NOTIFICATION after BFD AdminDown, so routers
// with graceful restart keep this node's routes until the next agent's
// End-of-RIB (a rolling update changes no next hop); withdraw shuts down
// gracefully (RFC 8326 GRACEFUL_SHUTDOWN community, --drain seconds,
// withdraw, Cease). Then the process exits 0; a second signal exits at once.
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "agent/options.hpp"
#include "herald/exit_signals.hpp"
#include "agent/runtime.hpp"
#include "bgp/speaker.hpp"
#include "kube/config.hpp"
#include "kube/http_server.hpp"
#include "netlink/rtnl.hpp"
#include "proto/server.hpp"

#ifndef HERALD_VERSION
#define HERALD_VERSION "unknown"
#endif

namespace asio = boost::asio;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  // SIGTERM / SIGINT wait (pending) until the handler below is in place: a
  // pod deleted while the agent starts (kubeconfig, netlink, the gRPC server)
  // still shuts down gracefully instead of dying by the signal.
  herald::hold_exit_signals();
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = herald::agent::parse_options(args, [](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
  });
  if (!parsed) {
    std::fprintf(stderr, "herald-agent: %s\n%s", parsed.error().c_str(), herald::agent::usage_text().c_str());
    return 2;
  }
  auto opt = std::move(*parsed);
  if (opt.what == herald::agent::agent_options::action::help) {
    std::fputs(herald::agent::usage_text().c_str(), stdout);
    return 0;
  }
  if (opt.what == herald::agent::agent_options::action::version) {
    std::printf("herald-agent %s\n", HERALD_VERSION);
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(opt.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  // Configuration: --kubeconfig wins over $KUBECONFIG, which wins over in-cluster.
  if (!opt.kubeconfig.empty()) setenv("KUBECONFIG", opt.kubeconfig.c_str(), 1);
  auto kcfg = herald::kube::load_config();
  if (!kcfg) {
    spdlog::error("herald-agent: Kubernetes configuration: {}", kcfg.error().text);
    return 1;
  }
  asio::io_context io;
  auto client = herald::kube::client::create(io.get_executor(), std::move(*kcfg));
  if (!client) {
    spdlog::error("herald-agent: Kubernetes client: {}", client.error().message);
    return 1;
  }

  auto nl = herald::netlink::rtnl::open();
  if (!nl) {
    spdlog::error("herald-agent: netlink: {}", nl.error().message);
    return 1;
  }

  // The speaker starts empty: peers and routes come with the first plan.
  herald::bgp::speaker_config scfg;
  scfg.hostname = opt.node_name;
  if (opt.bgp_listen) scfg.listen_address = herald::bgp::wire::ip_address::parse(*opt.bgp_listen);
  scfg.listen_port = opt.bgp_port;
  if (opt.drain.count() > 0) scfg.drain = opt.drain;
  // A router connecting before the first plan (a restarted agent: the
  // router retries at once) is held for it rather than refused: refused,
  // it would try again only after its connect retry time (120 s by default).
  scfg.early_connection_hold = std::chrono::seconds(30);
  herald::bgp::speaker sp(io.get_executor(), scfg);

  std::optional<herald::proto::api_server> api;
  if (opt.grpc_listen != "off") {
    api.emplace(io.get_executor(), sp);
    if (auto r = api->start(opt.grpc_listen); !r) {
      spdlog::error("{}; continuing without the gRPC API", r.error());
      api.reset();
    }
  }
  // Without the listener the agent still connects out to every active
  // BGPPeer: a node where another BGP daemon holds the port keeps serving
  // (herald_agent_bgp_listener_up 0; passive BGPPeers warn).
  if (auto ec = sp.start())
    spdlog::error("herald-agent: running without a BGP listener ({}): routers cannot open sessions to this node, "
                  "passive BGPPeers cannot come up",
                  ec.message());

  auto agent = herald::agent::node_agent::create(io.get_executor(), *client, opt, **nl, sp);

  auto http = herald::kube::http_server::create(io.get_executor());
  http->handle_metrics("/metrics", [&agent] { return agent->metrics(); });
  http->handle_probe("/healthz", [] { return herald::kube::probe_result{true, ""}; });
  http->handle_probe("/readyz", [&agent] { return agent->readiness(); });
  if (auto r = http->listen(opt.http_listen); !r) {
    spdlog::error("herald-agent: {}", r.error());
    return 1;
  }
  spdlog::info("herald-agent {}: node {}, namespace {}, http {}, grpc {}, bgp listener {}", HERALD_VERSION,
               opt.node_name, opt.ns, opt.http_listen, opt.grpc_listen,
               opt.bgp_listen ? *opt.bgp_listen + ":" + std::to_string(opt.bgp_port) : std::string("none"));
  agent->start();

  asio::signal_set signals(io, SIGTERM, SIGINT);
  herald::release_exit_signals();  // a pending one goes to the handler now
  asio::steady_timer exit_timer(io);
  bool stopping = false;
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec, int sig) {
    if (ec) return;
    if (stopping) {
      spdlog::warn("herald-agent: second signal: exiting at once");
      io.stop();
      return;
    }
    stopping = true;
    const bool restart = opt.on_sigterm == herald::agent::agent_options::shutdown_mode::restart;
    if (restart)
      spdlog::info("herald-agent: signal {}: shutting down for a restart: sessions closed without withdrawing "
                   "(graceful restart keeps the routes); local addresses released, addresses on the dummy link stay",
                   sig);
    else
      spdlog::info("herald-agent: signal {}: graceful shutdown ({} s drain), then withdraw; local addresses "
                   "released, addresses on the dummy link stay", sig, opt.drain.count());
    // Exit once both the Lease deletion and the speaker's shutdown are done.
    auto pending = std::make_shared<int>(2);
    auto one_done = [&, pending] {
      if (--*pending > 0) return;
      http->stop();
      // Let the last NOTIFICATIONs leave before the process ends.
      exit_timer.expires_after(100ms);
      exit_timer.async_wait([&](boost::system::error_code) { io.stop(); });
    };
    agent->shutdown(one_done);
    if (restart) {
      sp.close_for_restart();
      one_done();
    } else {
      sp.shutdown("herald-agent shutting down", one_done);
    }
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  io.run();
  herald::ignore_exit_signals_from_now(signals);
  if (api) api->stop();
  spdlog::info("herald-agent: stopped");
  return 0;
}
