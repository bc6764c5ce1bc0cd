// herald-agent's flags and their environment defaults (see options.hpp).
#include "agent/options.hpp"

#include <boost/asio/ip/address.hpp>
#include <charconv>

#include "kube/http_server.hpp"

namespace herald::agent {

namespace {

std::optional<unsigned long> parse_number(const std::string& s) {
  unsigned long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool is_listen_address(const std::string& s) { return kube::parse_listen_address(s).has_value(); }

using options_result = Result<agent_options, std::string>;

// agent_options is an aggregate that a string could initialise: say which side.
options_result fail(std::string message) { return options_result(boost::system::in_place_error, std::move(message)); }

}  // namespace

std::string usage_text() {
  return "usage: herald-agent [flags]\n"
         "  --node-name NAME        this node (default $NODE_NAME; required)\n"
         "  --namespace NS          Herald's namespace: BGPPeers, LBNodeAgents, Secrets, node Leases, Events\n"
         "                          (default $POD_NAMESPACE, else herald-system)\n"
         "  --kubeconfig PATH       (default $KUBECONFIG, else in-cluster)\n"
         "  --http ADDR:PORT        /metrics, /healthz, /readyz (default 0.0.0.0:7473)\n"
         "  --grpc ADDR:PORT|off    GoBGP-compatible API (default 127.0.0.1:50051)\n"
         "  --bgp-listen ADDR       accept BGP connections on ADDR (default: none, connect out only)\n"
         "  --bgp-port N            port of the BGP listener (default 179)\n"
         "  --shutdown MODE         on SIGTERM: restart (keep the routes at the routers through graceful\n"
         "                          restart; default) or withdraw (graceful shutdown, drain, withdraw)\n"
         "  --drain SECONDS         graceful-shutdown drain with --shutdown withdraw (default 10)\n"
         "  --log-level LEVEL       trace, debug, info, warn, error, critical, off (default info)\n"
         "  --version, --help\n";
}

Result<agent_options, std::string> parse_options(const std::vector<std::string>& args, const env_lookup& env) {
  agent_options o;
  std::optional<std::string> node, ns, kubeconfig;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::optional<std::string> inline_value;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    if (a == "--help" || a == "-h") {
      o.what = agent_options::action::help;
      return o;
    }
    if (a == "--version") {
      o.what = agent_options::action::version;
      return o;
    }
    static const char* const with_value[] = {"--kubeconfig", "--node-name", "--namespace", "--http",  "--grpc",
                                             "--bgp-listen", "--bgp-port",  "--drain", "--shutdown",     "--log-level"};
    bool known = false;
    for (const char* f : with_value) known = known || a == f;
    if (!known) return fail("unknown argument '" + args[i] + "' (see --help)");
    std::string v;
    if (inline_value) v = *inline_value;
    else if (i + 1 < args.size()) v = args[++i];
    else return fail(a + ": needs a value");

    if (a == "--kubeconfig") kubeconfig = v;
    else if (a == "--node-name") node = v;
    else if (a == "--namespace") ns = v;
    else if (a == "--http") {
      if (!is_listen_address(v)) return fail("--http: '" + v + "' is not ADDR:PORT or [V6ADDR]:PORT");
      o.http_listen = v;
    } else if (a == "--grpc") {
      if (v != "off" && !is_listen_address(v)) return fail("--grpc: '" + v + "' is not ADDR:PORT, [V6ADDR]:PORT or off");
      o.grpc_listen = v;
    } else if (a == "--bgp-listen") {
      boost::system::error_code ec;
      boost::asio::ip::make_address(v, ec);
      if (ec) return fail("--bgp-listen: '" + v + "' is not an IP address");
      o.bgp_listen = v;
    } else if (a == "--bgp-port") {
      auto n = parse_number(v);
      if (!n || *n == 0 || *n > 65535) return fail("--bgp-port: '" + v + "' is not a port (1-65535)");
      o.bgp_port = static_cast<std::uint16_t>(*n);
    } else if (a == "--drain") {
      auto n = parse_number(v);
      if (!n || *n > 3600) return fail("--drain: '" + v + "' is not a number of seconds (0-3600)");
      o.drain = std::chrono::seconds(*n);
    } else if (a == "--shutdown") {
      if (v == "restart") o.on_sigterm = agent_options::shutdown_mode::restart;
      else if (v == "withdraw") o.on_sigterm = agent_options::shutdown_mode::withdraw;
      else return fail("--shutdown: '" + v + "' is not restart or withdraw");
    } else if (a == "--log-level") {
      static const char* const levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
      bool ok = false;
      for (const char* l : levels) ok = ok || v == l;
      if (!ok) return fail("--log-level: '" + v + "' is not trace, debug, info, warn, error, critical or off");
      o.log_level = v;
    }
  }
  if (!node) node = env("NODE_NAME");
  if (!node || node->empty()) return fail(std::string("--node-name (or NODE_NAME) is required"));
  o.node_name = *node;
  if (!ns) ns = env("POD_NAMESPACE");
  if (ns && !ns->empty()) o.ns = *ns;
  if (kubeconfig) o.kubeconfig = *kubeconfig;
  return o;
}

}  // namespace herald::agent
