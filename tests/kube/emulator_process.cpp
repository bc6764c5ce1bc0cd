// The emulator harness (emulator_process.hpp).
#include "emulator_process.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace herald::kube::test {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json service_body(const std::string& name, const nlohmann::json& labels) {
  return {{"metadata", {{"name", name}, {"labels", labels}}}, {"spec", {{"ports", {{{"port", 80}}}}}}};
}

emulator_process::emulator_process(const std::vector<std::string>& args) {
  const char* binary = std::getenv("HERALD_KUBE_EMULATOR");
  if (!binary || !std::filesystem::exists(binary))
    throw std::runtime_error("HERALD_KUBE_EMULATOR does not name the emulator binary");
  std::string tmpl = (std::filesystem::temp_directory_path() / "herald-kube-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  std::vector<std::string> argv_s{binary, "--state-dir", dir_, "--log-level", "warn"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    execv(argv[0], argv.data());
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string url = read_text_file(dir_ + "/url");
    while (!url.empty() && (url.back() == '\n' || url.back() == ' ')) url.pop_back();
    if (!url.empty() && std::filesystem::exists(dir_ + "/kubeconfig")) {
      url_ = url;
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("emulator exited before serving");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("emulator did not write its url within 20 s");
}

emulator_process::~emulator_process() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

client_config emulator_process::config(const std::string& file) const {
  const std::string path = dir_ + "/" + file;
  auto cfg = parse_kubeconfig({{path, read_text_file(path)}});
  if (!cfg) throw std::runtime_error("emulator kubeconfig: " + cfg.error().text);
  cfg->request_timeout = std::chrono::seconds(10);
  return *cfg;
}

bool run_until(boost::asio::io_context& ctx, const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    ctx.restart();
    ctx.run_one_for(std::chrono::milliseconds(20));
  }
  return true;
}

void run_for(boost::asio::io_context& ctx, std::chrono::milliseconds d) {
  const auto deadline = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < deadline) {
    ctx.restart();
    ctx.run_one_until(deadline);
  }
}

std::shared_ptr<client> make_client(boost::asio::io_context& ctx, const client_config& cfg) {
  auto c = client::create(ctx.get_executor(), cfg);
  if (!c) throw std::runtime_error("client: " + c.error().to_string());
  return *c;
}

nlohmann::json call(boost::asio::io_context& ctx, client& c, boost::beast::http::verb method,
                    const std::string& target, const nlohmann::json& body) {
  request_options req;
  req.method = method;
  req.target = target;
  if (!body.is_null()) req.body = body.dump();
  auto r = run_sync(ctx, c.request_json(req));
  if (!r) throw std::runtime_error(target + ": " + r.error().to_string());
  return *r;
}

nlohmann::json admin(boost::asio::io_context& ctx, client& c, const std::string& action) {
  return call(ctx, c, boost::beast::http::verb::post, "/_emulator/" + action, nlohmann::json::object());
}

}  // namespace herald::kube::test
