// herald-bfd-probe: runs one single-hop BFD session (RFC 5880 / 5881) from
// the command line and prints each state change on stdout, one line each:
// "<state> diag=<diag> tx_us=<negotiated tx> detect_us=<detection time>".
// Used by the interop tests against BIRD and FRR, and handy by hand.
// Usage: herald-bfd-probe LOCAL REMOTE [TX_US RX_US MULT]
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bgp/bfd/io.hpp"

using namespace herald::bfd;
namespace asio = boost::asio;

int main(int argc, char** argv) {
  if (argc != 3 && argc != 6) {
    std::fprintf(stderr, "usage: %s LOCAL REMOTE [TX_US RX_US MULT]\n", argv[0]);
    return 2;
  }
  boost::system::error_code ec;
  const auto local = asio::ip::make_address(argv[1], ec);
  const auto remote = ec ? asio::ip::address{} : asio::ip::make_address(argv[2], ec);
  session_config cfg;
  if (argc == 6) {
    cfg.desired_min_tx_us = static_cast<std::uint32_t>(std::strtoul(argv[3], nullptr, 10));
    cfg.required_min_rx_us = static_cast<std::uint32_t>(std::strtoul(argv[4], nullptr, 10));
    cfg.detect_mult = static_cast<std::uint8_t>(std::strtoul(argv[5], nullptr, 10));
  }
  if (ec || local.is_v4() != remote.is_v4() || cfg.detect_mult == 0) {
    std::fprintf(stderr, "%s: bad addresses or multiplier\n", argv[0]);
    return 2;
  }
  asio::io_context io;
  service::options opt;
  opt.ipv4 = local.is_v4();
  opt.ipv6 = local.is_v6();
  auto svc = std::make_shared<service>(io, opt);
  if (auto r = svc->open(); !r) return 1;
  std::uint32_t disc = 0;
  auto r = svc->add_session(local, remote, cfg, [&](std::uint32_t d, const state_change& c) {
    const session* s = svc->find(d);
    std::printf("%s diag=%u tx_us=%lld detect_us=%lld\n", std::string(to_string(c.to)).c_str(),
                static_cast<unsigned>(c.reason), s ? static_cast<long long>(s->tx_interval().count()) : 0LL,
                s ? static_cast<long long>(s->detection_time().count()) : 0LL);
    std::fflush(stdout);
  });
  if (!r) return 1;
  disc = *r;
  asio::signal_set sigs(io, SIGINT, SIGTERM);
  sigs.async_wait([&](boost::system::error_code, int) {
    spdlog::info("bfd probe: session {} stopping", disc);
    svc->close();
  });
  io.run();
  return 0;
}
