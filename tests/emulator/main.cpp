// herald-kube-emulator: the Kubernetes API-server emulator as a process for
// tests, the demo and kubectl (docs/emulator.md lists flags and the admin
// API). Prints the URL and the kubeconfig path on stdout once it serves.
#include "auth.hpp"
#include "crds.hpp"
#include "server.hpp"

#include <boost/asio/signal_set.hpp>

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace {

constexpr const char* usage = R"(usage: herald-kube-emulator [options]
  --listen ADDR              address to bind (default 127.0.0.1)
  --port N                   port (default 0: ephemeral)
  --state-dir DIR            write url, kubeconfig, token, ca.crt, client.crt/key here
                             (default: a new directory under $TMPDIR)
  --crds DIR                 load every CustomResourceDefinition in DIR/*.yaml (repeatable)
  --load FILE                create the objects in a YAML file at startup (repeatable)
  --tls                      serve HTTPS with a generated CA (state-dir/ca.crt)
  --tls-san NAME             extra server certificate name or IP (repeatable)
  --token                    require a bearer token (state-dir/token, rotatable) or client cert
  --token-file FILE          also accept the tokens of FILE (token,user[,uid,groups] per line, as
                             kube-apiserver's --token-auth-file), each as its user; implies --token
  --version-minor N          /version reports v1.N.3 (default 32; kubectl picks its client by it)
  --bookmark-interval-ms N   periodic BOOKMARK interval (default 60000)
  --watch-timeout-s MIN:MAX  random timeout of watches without timeoutSeconds (default 1800:3600)
  --history-limit N          changes kept for watch resumption (default 200000)
  --log-level LEVEL          spdlog level (default info)
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace herald::emulator;
  server_options opt;
  std::vector<std::string> crd_dirs;
  std::vector<std::string> load_files;
  std::size_t history_limit = 200000;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
        return argv[++i];
      };
      if (a == "--listen") opt.address = next();
      else if (a == "--port") opt.port = static_cast<unsigned short>(std::stoi(next()));
      else if (a == "--state-dir") opt.state_dir = next();
      else if (a == "--crds") crd_dirs.push_back(next());
      else if (a == "--load") load_files.push_back(next());
      else if (a == "--tls") opt.tls = true;
      else if (a == "--tls-san") opt.tls_names.push_back(next());
      else if (a == "--token") opt.require_token = true;
      else if (a == "--token-file") {
        const std::string path = next();
        std::ifstream in(path);
        if (!in) throw std::runtime_error("cannot read " + path);
        std::stringstream text;
        text << in.rdbuf();
        opt.token_users = parse_token_file(text.str());
        opt.require_token = true;
      }
      else if (a == "--version-minor") opt.version_minor = std::stoi(next());
      else if (a == "--bookmark-interval-ms") opt.bookmark_interval = std::chrono::milliseconds(std::stol(next()));
      else if (a == "--watch-timeout-s") {
        const std::string v = next();
        const auto colon = v.find(':');
        opt.min_watch_timeout = std::chrono::seconds(std::stol(v.substr(0, colon)));
        opt.max_watch_timeout = colon == std::string::npos ? opt.min_watch_timeout
                                                           : std::chrono::seconds(std::stol(v.substr(colon + 1)));
      } else if (a == "--history-limit") history_limit = std::stoul(next());
      else if (a == "--log-level") spdlog::set_level(spdlog::level::from_str(next()));
      else if (a == "-h" || a == "--help") {
        std::cout << usage;
        return 0;
      } else {
        throw std::runtime_error("unknown option " + a);
      }
    }
    if (opt.state_dir.empty()) {
      std::string tmpl = (std::filesystem::temp_directory_path() / "herald-emulator-XXXXXX").string();
      if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
      opt.state_dir = tmpl;
    }
    opt.state_dir = std::filesystem::absolute(opt.state_dir).string();

    boost::asio::io_context io;
    store objects([] {
      const auto now = std::chrono::system_clock::now();
      const std::time_t t = std::chrono::system_clock::to_time_t(now);
      char buf[32];
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
      return std::string(buf);
    });
    objects.set_history_limit(history_limit);
    for (const auto& d : crd_dirs) spdlog::info("emulator: {} CRDs from {}", load_crd_directory(objects, d), d);
    for (const auto& f : load_files) spdlog::info("emulator: {} objects from {}", load_objects(objects, f), f);

    server srv(io, objects, opt);
    srv.start();
    std::cout << "herald-kube-emulator: serving " << srv.url() << "\n"
              << "kubeconfig: " << opt.state_dir << "/kubeconfig" << std::endl;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) {
      srv.stop();
      io.stop();
    });
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "herald-kube-emulator: " << e.what() << "\n" << usage;
    return 2;
  }
  return 0;
}
