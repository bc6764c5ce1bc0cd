// The API-server emulator's HTTP layer: Boost.Beast HTTP/1.1 over Asio
// (plain or TLS), keep-alive, chunked watch streams, discovery, bearer-token
// and client-certificate authentication, and the fault switches tests drive
// through the admin API under /_emulator/ (docs/emulator.md). Everything runs
// on one io_context thread; the store (store.hpp) holds the semantics.
#pragma once

#include "store.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace herald::emulator {

struct server_options {
  std::string address = "127.0.0.1";
  unsigned short port = 0;                // 0: an ephemeral port
  bool tls = false;                       // generate a CA and serve HTTPS
  std::vector<std::string> tls_names;     // extra SANs for the server certificate
  bool require_token = false;             // bearer token (rotatable) or a client certificate
  std::map<std::string, std::string> token_users;  // --token-file: token → user (also accepted)
  std::string state_dir;                  // where url, kubeconfig, token, ca.crt … are written ("" = none)
  int version_minor = 32;                 // /version reports v1.<minor>.3 (picks kubectl's client)
  std::chrono::milliseconds bookmark_interval{60000};
  std::chrono::seconds min_watch_timeout{1800};  // unset timeoutSeconds: random in [min, max]
  std::chrono::seconds max_watch_timeout{3600};
};

class server {
public:
  server(boost::asio::io_context& io, store& objects, server_options opt);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds, starts accepting and writes the state files. Throws on failure
  // (startup configuration).
  void start();
  void stop();

  unsigned short port() const;
  std::string url() const;
  std::string token() const;

  // Fault switches and controls (also reachable over /_emulator/).
  std::string rotate_token();
  void drop_connections();
  void expire_watches();
  void send_bookmarks();

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace herald::emulator
