// Gratuitous ARP and unsolicited neighbour advertisements, captured by tshark
// in a peer namespace at the other end of a veth: the frames must carry the
// announcing link's MAC and the announced address (RFC 5227 §3, RFC 4861
// §7.2.6), as many as configured.
#include <catch2/catch.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "netlink/announce.hpp"
#include "netns.hpp"

using namespace herald::netlink;
using herald::netlink::test::enter;
using herald::netlink::test::netns;
using herald::netlink::test::poll_until;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// tshark in a namespace, killed (by its pid) if still running at the end.
class capture {
 public:
  capture(const netns& ns, const std::string& iface, int count, const std::string& filter) {
    char dir[] = "/tmp/hnl-capture-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    dir_ = dir;
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      std::string out = dir_ + "/out", err = dir_ + "/err";
      if (!std::freopen(out.c_str(), "w", stdout) || !std::freopen(err.c_str(), "w", stderr)) _exit(126);
      std::string n = std::to_string(count);
      // `ip netns exec` execs tshark in place, so pid_ is tshark's pid.
      ::execlp("ip", "ip", "netns", "exec", ns.name().c_str(), "tshark", "-i", iface.c_str(), "-n", "-l", "-c",
               n.c_str(), "-a", "duration:30", "-f", filter.c_str(), "-T", "fields", "-E", "separator=|", "-e",
               "eth.src", "-e", "arp.opcode", "-e", "arp.src.hw_mac", "-e", "arp.src.proto_ipv4", "-e",
               "arp.dst.proto_ipv4", "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "icmpv6.nd.na.target_address", "-e",
               "icmpv6.opt.linkaddr", "-e", "icmpv6.nd.na.flag.o", "-e", "ipv6.hlim", static_cast<char*>(nullptr));
      _exit(127);
    }
    bool started = poll_until(std::chrono::seconds(20), [&] {
      // "Capturing on" comes before dumpcap really captures; this comes after.
      return slurp(dir_ + "/err").find("Capture started") != std::string::npos;
    });
    INFO(slurp(dir_ + "/err"));
    REQUIRE(started);
  }
  ~capture() {
    if (pid_ > 0 && !done_) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::remove((dir_ + "/out").c_str());
    std::remove((dir_ + "/err").c_str());
    ::rmdir(dir_.c_str());
  }
  // Waits for tshark to stop after its count of frames; the lines it printed.
  std::vector<std::string> lines(std::chrono::seconds limit) {
    int status = 0;
    done_ = poll_until(limit, [&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; });
    std::vector<std::string> out;
    if (!done_) UNSCOPED_INFO("tshark did not finish; its stderr: " << slurp(dir_ + "/err"));
    std::istringstream s(slurp(dir_ + "/out"));
    for (std::string l; std::getline(s, l);)
      if (!l.empty()) out.push_back(l);
    return out;
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  bool done_ = false;
};

std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> f;
  std::istringstream s(line);
  for (std::string x; std::getline(s, x, '|');) f.push_back(x);
  f.resize(11);
  return f;
}

std::string mac(const std::vector<std::uint8_t>& b) {
  std::string s;
  for (std::size_t i = 0; i < b.size(); ++i) s += fmt::format("{}{:02x}", i ? ":" : "", b[i]);
  return s;
}

}  // namespace

TEST_CASE("gratuitous ARP and unsolicited NA reach a peer with the right sender", "[netlink][announce]") {
  netns node("garp");
  netns peer("peer");
  node.run("ip link add hnl-g0 type veth peer name hnl-g1 netns " + peer.name() +
           " && ip link set hnl-g0 up && ip addr add 192.0.2.40/24 dev hnl-g0 && "
           "ip addr add 2001:db8::40/64 dev hnl-g0 nodad");
  peer.run("ip link set hnl-g1 up");
  // ARP, and ICMPv6 type 136 (NA) without extension headers; the kernel's
  // own MLD reports and DAD solicitations do not match.
  capture cap(peer, "hnl-g1", 5, "arp or (icmp6 and ip6[40] == 136)");

  enter in(node);
  auto nl = rtnl::open();
  REQUIRE(nl);
  auto link = (*nl)->find_link("hnl-g0");
  REQUIRE(link);
  boost::asio::io_context io;
  int finished = 0;
  auto v4 = std::make_shared<announcer>(io.get_executor(), **nl, *link, boost::asio::ip::make_address("192.0.2.40"),
                                        announce_options{3, std::chrono::milliseconds(20)});
  auto v6 = std::make_shared<announcer>(io.get_executor(), **nl, *link, boost::asio::ip::make_address("2001:db8::40"),
                                        announce_options{2, std::chrono::milliseconds(20)});
  auto done = [&](const nl_result<void>& r) {
    INFO((r ? "" : r.error().message));
    CHECK(r);
    ++finished;
  };
  v4->start(done);
  v6->start(done);
  io.run();
  CHECK(finished == 2);

  auto lines = cap.lines(std::chrono::seconds(20));
  INFO("captured:\n" << fmt::format("{}", fmt::join(lines, "\n")));
  REQUIRE(lines.size() == 5);
  int arps = 0, nas = 0;
  auto our_mac = mac(link->hwaddr);
  for (const auto& l : lines) {
    auto f = fields(l);
    CHECK(f[0] == our_mac);  // Ethernet source
    if (!f[1].empty()) {
      ++arps;
      CHECK(f[1] == "1");  // request (RFC 5227 §3 announcement)
      CHECK(f[2] == our_mac);
      CHECK(f[3] == "192.0.2.40");
      CHECK(f[4] == "192.0.2.40");
    } else {
      ++nas;
      CHECK(f[5] == "2001:db8::40");
      CHECK(f[6] == "ff02::1");
      CHECK(f[7] == "2001:db8::40");
      CHECK(f[8] == our_mac);
      CHECK(f[9] == "1");  // Override
      CHECK(f[10] == "255");
    }
  }
  CHECK(arps == 3);
  CHECK(nas == 2);
}

TEST_CASE("announcing refuses the wrong family and addresses the link does not hold", "[netlink][announce][bad-input]") {
  netns ns("garp");
  ns.run("ip link add hnl-g0 type veth peer name hnl-g1 && ip link set hnl-g0 up && "
         "ip addr add 192.0.2.41/24 dev hnl-g0");
  enter in(ns);
  auto nl = rtnl::open();
  REQUIRE(nl);
  auto link = (*nl)->find_link("hnl-g0");
  REQUIRE(link);
  auto r = send_gratuitous_arp(**nl, *link, boost::asio::ip::make_address("2001:db8::41"));
  REQUIRE_FALSE(r);
  CHECK(r.error().is(errc::invalid_argument));
  CHECK_THAT(r.error().message, Catch::Contains("IPv4 only") && Catch::Contains("hnl-g0"));
  r = send_unsolicited_na(**nl, *link, boost::asio::ip::make_address("192.0.2.41"));
  REQUIRE_FALSE(r);
  CHECK(r.error().is(errc::invalid_argument));
  r = announce_once(**nl, *link, boost::asio::ip::make_address("192.0.2.42"));
  REQUIRE_FALSE(r);
  CHECK(r.error().is(errc::address_not_available));
  CHECK_THAT(r.error().message, Catch::Contains("192.0.2.42") && Catch::Contains("hnl-g0"));
}
