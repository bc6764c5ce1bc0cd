// herald-allocator: the allocator Deployment's binary (docs/allocator.md).
// Gives every LoadBalancer Service of Herald's class an address from its
// ServiceGroup while it holds the Lease; serves /metrics, /healthz and
// /readyz; on SIGTERM gives the Lease up so the other replica takes over at
// once, and exits 0.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "allocator/controller.hpp"
#include "herald/exit_signals.hpp"
#include "kube/config.hpp"
#include "kube/http_server.hpp"

#ifndef HERALD_VERSION
#define HERALD_VERSION "unknown"
#endif

namespace asio = boost::asio;

namespace {

struct options {
  std::string kubeconfig;
  std::string ns;
  std::string lease_name = "herald-allocator";
  std::string identity;
  std::string http = "0.0.0.0:7472";
  std::string load_balancer_class = "herald.dev/lb";
  bool allocate_unset_class = true;
  std::string log_level = "info";
  double lease_duration = 15, renew_deadline = 10, retry_period = 2;
};

const char* usage_text =
    "usage: herald-allocator [options]\n"
    "  --kubeconfig PATH     kubeconfig (default $KUBECONFIG, else in-cluster)\n"
    "  --namespace NS        namespace of the ServiceGroups, the Lease and group Events\n"
    "                        (default $POD_NAMESPACE, else herald-system)\n"
    "  --lease-name NAME     Lease for leader election (default herald-allocator)\n"
    "  --identity ID         this replica's name in the Lease (default $POD_NAME, else the host name)\n"
    "  --http ADDR:PORT      /metrics, /healthz, /readyz (default 0.0.0.0:7472; 'off' for none)\n"
    "  --class NAME          spec.loadBalancerClass served (default herald.dev/lb)\n"
    "  --no-unset-class      ignore LoadBalancer Services without a loadBalancerClass\n"
    "  --lease-duration S    Lease duration in seconds (default 15)\n"
    "  --renew-deadline S    stop acting when not renewed for S seconds (default 10)\n"
    "  --retry-period S      election round interval in seconds (default 2)\n"
    "  --log-level LEVEL     trace, debug, info, warn, error, critical, off (default info)\n"
    "  --version             print the version\n"
    "  --help                this text\n";

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : std::move(fallback);
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "herald-allocator";
  return buf;
}

// Exits with 2 and a message on a bad command line (startup configuration).
options parse_args(int argc, char** argv) {
  options o;
  o.ns = env_or("POD_NAMESPACE", "herald-system");
  o.identity = env_or("POD_NAME", host_name());
  auto fail = [](const std::string& why) {
    std::fprintf(stderr, "herald-allocator: %s\n%s", why.c_str(), usage_text);
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    // "--flag=value" and "--flag value" (the Deployment uses the first).
    std::optional<std::string> inline_value;
    if (auto eq = a.find('='); a.starts_with("--") && eq != std::string::npos) {
      inline_value = a.substr(eq + 1);
      a.resize(eq);
    }
    auto next = [&]() -> std::string {
      if (inline_value) return *std::exchange(inline_value, std::nullopt);
      if (i + 1 >= argc) fail(a + " needs a value");
      return argv[++i];
    };
    auto seconds = [&]() {
      std::string v = next();
      char* end = nullptr;
      errno = 0;
      double d = std::strtod(v.c_str(), &end);
      if (errno != 0 || end == v.c_str() || *end != '\0' || !(d > 0) || d > 3600)
        fail(a + ": \"" + v + "\" is not a number of seconds in (0, 3600]");
      return d;
    };
    if (a == "--kubeconfig") o.kubeconfig = next();
    else if (a == "--namespace") o.ns = next();
    else if (a == "--lease-name") o.lease_name = next();
    else if (a == "--identity") o.identity = next();
    else if (a == "--http") o.http = next();
    else if (a == "--class") o.load_balancer_class = next();
    else if (a == "--no-unset-class") o.allocate_unset_class = false;
    else if (a == "--lease-duration") o.lease_duration = seconds();
    else if (a == "--renew-deadline") o.renew_deadline = seconds();
    else if (a == "--retry-period") o.retry_period = seconds();
    else if (a == "--log-level") o.log_level = next();
    else if (a == "--version") {
      std::printf("herald-allocator %s\n", HERALD_VERSION);
      std::exit(0);
    } else if (a == "--help" || a == "-h") {
      std::printf("%s", usage_text);
      std::exit(0);
    } else {
      fail("unknown argument \"" + a + "\"");
    }
    if (inline_value) fail(a + " takes no value");
  }
  if (o.ns.empty()) fail("--namespace is empty");
  if (o.identity.empty()) fail("--identity is empty");
  if (o.load_balancer_class.empty()) fail("--class is empty");
  if (!(o.renew_deadline < o.lease_duration)) fail("--renew-deadline must be shorter than --lease-duration");
  if (!(o.retry_period < o.renew_deadline)) fail("--retry-period must be shorter than --renew-deadline");
  auto level = spdlog::level::from_str(o.log_level);
  if (level == spdlog::level::off && o.log_level != "off") fail("unknown --log-level \"" + o.log_level + "\"");
  return o;
}

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0));
}

}  // namespace

int main(int argc, char** argv) {
  // SIGTERM / SIGINT wait (pending) until the handler is in place: a pod
  // deleted while the allocator starts still releases its Lease and exits 0.
  herald::hold_exit_signals();
  options opt = parse_args(argc, argv);
  spdlog::set_level(spdlog::level::from_str(opt.log_level));
  // The kube client reads $KUBECONFIG; the flag overrides it (single thread here).
  if (!opt.kubeconfig.empty()) ::setenv("KUBECONFIG", opt.kubeconfig.c_str(), 1);
  auto cfg = herald::kube::load_config();
  if (!cfg) {
    spdlog::error("herald-allocator: Kubernetes configuration: {}", cfg.error().text);
    return 1;
  }

  asio::io_context io;
  auto client = herald::kube::client::create(io.get_executor(), std::move(*cfg));
  if (!client) {
    spdlog::error("herald-allocator: Kubernetes client: {}", client.error().to_string());
    return 1;
  }

  herald::allocator::controller_options co;
  co.core.load_balancer_class = opt.load_balancer_class;
  co.core.allocate_unset_class = opt.allocate_unset_class;
  co.ns = opt.ns;
  co.lease_name = opt.lease_name;
  co.election.identity = opt.identity;
  co.election.lease_duration = to_ms(opt.lease_duration);
  co.election.renew_deadline = to_ms(opt.renew_deadline);
  co.election.retry_period = to_ms(opt.retry_period);
  auto ctl = herald::allocator::controller::create(*client, co);

  std::shared_ptr<herald::kube::http_server> http;
  if (opt.http != "off") {
    http = herald::kube::http_server::create(io.get_executor());
    http->handle_metrics("/metrics", [ctl] { return ctl->metrics(); });
    http->handle_probe("/healthz", [] { return herald::kube::probe_result{true, "ok"}; });
    http->handle_probe("/readyz", [ctl] {
      return ctl->synced() ? herald::kube::probe_result{true, ctl->leading() ? "leading" : "standby"}
                           : herald::kube::probe_result{false, "informers not synced yet"};
    });
    auto bound = http->listen(opt.http);
    if (!bound) {
      spdlog::error("herald-allocator: --http {}: {}", opt.http, bound.error());
      return 1;
    }
    spdlog::info("herald-allocator: serving /metrics /healthz /readyz on {}:{}", bound->address().to_string(),
                 bound->port());
  }

  ctl->start();
  spdlog::info("herald-allocator {}: identity \"{}\", Lease {}/{}, class {}{}", HERALD_VERSION, opt.identity, opt.ns,
               opt.lease_name, opt.load_balancer_class, opt.allocate_unset_class ? " (and unset)" : "");

  asio::signal_set signals(io, SIGTERM, SIGINT);
  herald::release_exit_signals();
  asio::steady_timer give_up(io);
  bool stopping = false;
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    stopping = true;
    spdlog::info("herald-allocator: signal {}: releasing the Lease and exiting", sig);
    if (http) http->stop();
    // The release is one request with a deadline; do not hang on a dead API server.
    give_up.expires_after(std::chrono::seconds(10));
    give_up.async_wait([&](boost::system::error_code e) {
      if (!e) io.stop();
    });
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await ctl->shutdown();
          io.stop();
        },
        asio::detached);
  });
  io.run();
  herald::ignore_exit_signals_from_now(signals);
  return stopping ? 0 : 1;
}
