// Authentication against the emulator: TLS with the emulator's generated CA
// (and failure with a wrong CA), a client certificate, a bearer token from a
// file that rotates (the old token gets 401; the client re-reads the file and
// carries on, informer included), and an exec credential plugin.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "emulator_process.hpp"
#include "kube/informer.hpp"
#include "result_catch.hpp"

using namespace herald::kube;
using namespace herald::kube::test;
using namespace std::chrono_literals;
using nlohmann::json;
using boost::beast::http::verb;


TEST_CASE("TLS with the emulator's CA, a bearer token file that rotates") {
  emulator_process emu({"--tls", "--token"});
  REQUIRE(emu.url().starts_with("https://"));
  boost::asio::io_context ctx;
  const auto cfg = emu.config();
  REQUIRE_FALSE(cfg.token_file.empty());
  auto c = make_client(ctx, cfg);
  call(ctx, *c, verb::post, "/api/v1/namespaces/default/services", service_body("one"));

  informer_options opt;
  opt.retry.initial = 50ms;
  opt.retry.max = 500ms;
  auto inf = informer<service>::create(c, resources::services, opt, {});
  inf->start();
  REQUIRE(run_until(ctx, [&] { return inf->synced() && inf->cache().size() == 1; }, 10s));

  const json rotated = admin(ctx, *c, "rotate-token");
  REQUIRE(rotated.contains("token"));
  CHECK(read_text_file(emu.state_dir() + "/token").find(rotated["token"].get<std::string>()) != std::string::npos);
  // The client still holds the old token: the 401 makes it re-read the file.
  call(ctx, *c, verb::post, "/api/v1/namespaces/default/services", service_body("two"));
  // Connections dropped: the informer's new watch must authenticate with the new token.
  admin(ctx, *c, "drop");
  call(ctx, *c, verb::post, "/api/v1/namespaces/default/services", service_body("three"));
  CHECK(run_until(ctx, [&] { return inf->cache().size() == 3; }, 10s));
  inf->stop();
  run_for(ctx, 50ms);

  // A fixed old token cannot recover: it is refused.
  client_config fixed = cfg;
  fixed.token_file.clear();
  fixed.token = "not-the-token";
  auto refused = make_client(ctx, fixed);
  request_options get;
  get.target = "/api/v1/services";
  auto r = run_sync(ctx, refused->request_json(get));
  REQUIRE_FALSE(r);
  CHECK(r.error().unauthorized());
}

TEST_CASE("TLS verification fails with the wrong CA and works with a client certificate") {
  emulator_process emu({"--tls", "--token"});
  boost::asio::io_context ctx;
  client_config wrong = emu.config();
  wrong.ca_file.clear();
  wrong.ca_pem.clear();  // the system store does not know the emulator's CA
  auto c = make_client(ctx, wrong);
  request_options get;
  get.target = "/api/v1/services";
  auto r = run_sync(ctx, c->request_json(get));
  REQUIRE_FALSE(r);
  CHECK(r.error().reason == "TLS");

  client_config insecure = wrong;
  insecure.insecure_skip_tls_verify = true;
  auto ic = make_client(ctx, insecure);
  CHECK(run_sync(ctx, ic->request_json(get)));

  const auto cert_cfg = emu.config("kubeconfig-client-cert");
  CHECK(cert_cfg.token_file.empty());
  auto cc = make_client(ctx, cert_cfg);
  auto with_cert = run_sync(ctx, cc->request_json(get));
  INFO((with_cert ? std::string() : with_cert.error().to_string()));
  CHECK(with_cert);
}

TEST_CASE("exec credential plugin supplies the token") {
  emulator_process emu({"--token"});
  boost::asio::io_context ctx;
  client_config cfg = emu.config();
  const std::string token_file = cfg.token_file;
  cfg.token_file.clear();
  const std::string plugin = emu.state_dir() + "/plugin.sh";
  {
    std::ofstream out(plugin);
    out << "#!/bin/sh\n"
           "test -n \"$KUBERNETES_EXEC_INFO\" || exit 3\n"
           "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
           "\"status\":{\"token\":\"%s\"}}' \"$(cat "
        << token_file << ")\"\n";
  }
  std::filesystem::permissions(plugin, std::filesystem::perms::owner_all);
  cfg.exec = exec_config{plugin, {}, {}, "client.authentication.k8s.io/v1", false};
  auto c = make_client(ctx, cfg);
  request_options get;
  get.target = "/api/v1/services";
  REQUIRE(run_sync(ctx, c->request_json(get)));
  admin(ctx, *c, "rotate-token");
  auto after = run_sync(ctx, c->request_json(get));  // 401 → the plugin runs again
  INFO((after ? std::string() : after.error().to_string()));
  CHECK(after);
}

TEST_CASE("an IPv6 server address, with TLS") {
  emulator_process emu({"--listen", "::1", "--tls"});
  REQUIRE(emu.url().starts_with("https://[::1]:"));
  boost::asio::io_context ctx;
  const auto cfg = emu.config();
  CHECK(cfg.server.host == "::1");
  auto c = make_client(ctx, cfg);
  const json created = call(ctx, *c, verb::post, "/api/v1/namespaces/default/services", service_body("v6"));
  CHECK(created["metadata"]["name"] == "v6");
}
