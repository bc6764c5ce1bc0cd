// The GoBGP-compatible gRPC server (docs/grpc.md): serves GetBgp, ListPeer,
// ListPath, GetTable, ResetPeer, ShutdownPeer, EnablePeer, DisablePeer,
// AddPath and DeletePath of service apipb.GobgpApi from the speaker's state,
// so that the stock `gobgp` CLI inspects Herald; every other method answers
// UNIMPLEMENTED saying Herald does not support it.
//
// Threading (DESIGN.md): gRPC runs its own threads. A request reads or
// changes the speaker only through a short task posted to the speaker's
// io_context (with a deadline, so a stuck speaker gives UNAVAILABLE rather
// than a hung CLI); conversion to protobuf happens back on the gRPC thread.
// No authentication: it listens on loopback unless told otherwise.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "bgp/speaker.hpp"
#include "herald/result.hpp"

namespace grpc {
class Server;
}

namespace herald::proto {

inline constexpr std::string_view default_listen = "127.0.0.1:50051";

// "ADDR:PORT" or "[V6ADDR]:PORT"; whether ADDR is a loopback address.
Result<bool, std::string> is_loopback_listen(std::string_view listen);

class api_server {
 public:
  // `ex` is the speaker's io_context executor; the speaker must outlive the
  // server's io_context work (it does when both live in main()).
  api_server(boost::asio::any_io_executor ex, bgp::speaker& sp,
             std::chrono::milliseconds speaker_timeout = std::chrono::seconds(3));
  ~api_server();

  // Binds and starts serving; the error says why it could not.
  Result<void, std::string> start(const std::string& listen);
  // Stops accepting calls and waits (up to the timeout) for the running ones.
  void stop();

  class service;

 private:
  std::unique_ptr<service> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace herald::proto
