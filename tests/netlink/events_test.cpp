// Drift repair through the netlink event stream (an operator deletes an
// address, the link goes down and up: Herald's addresses are back within
// 100 ms, driven by events, not a timer), lifetime renewal by the reconciler's
// timer, and the refusal of an agent without CAP_NET_ADMIN.
#include <catch2/catch.hpp>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <sstream>

#include "netlink/announce.hpp"
#include "netlink/events.hpp"
#include "netlink/reconciler.hpp"
#include "netns.hpp"

using namespace herald::netlink;
using herald::netlink::test::enter;
using herald::netlink::test::netns;
using clock_type = std::chrono::steady_clock;

namespace {

address_spec spec(const char* cidr, bool nodad = false) {
  auto s = address_spec::parse(cidr);
  REQUIRE(s);
  s->nodad = nodad;
  return *s;
}

bool present(rtnl& nl, const char* cidr) {
  auto link = nl.find_link("kube-lb0");
  if (!link) return false;
  auto have = nl.list_addresses(*link);
  if (!have) return false;
  auto s = spec(cidr);
  return std::any_of(have->begin(), have->end(),
                     [&](const address_info& a) { return a.address == s.address && a.prefix_len == s.prefix_len; });
}

// Runs the io_context until `cidr` is on kube-lb0 again or `limit` passes;
// returns the time it took.
std::chrono::milliseconds wait_back(boost::asio::io_context& io, rtnl& nl, const char* cidr,
                                    std::chrono::milliseconds limit) {
  auto t0 = clock_type::now();
  while (clock_type::now() - t0 < limit) {
    io.run_for(std::chrono::milliseconds(2));
    if (present(nl, cidr)) break;
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0);
}

// A namespace with kube-lb0 pre-created as a bridge, this thread inside it,
// and a reconciler for kube-lb0 on a fresh io_context.
struct lb_setup {
  netns ns;
  enter in;
  boost::asio::io_context io;
  std::unique_ptr<rtnl> nl;
  std::shared_ptr<reconciler> rec;

  explicit lb_setup(const char* tag) : ns(tag), in((ns.run("ip link add kube-lb0 type bridge"), ns)) {
    auto opened = rtnl::open();
    REQUIRE(opened);
    nl = std::move(*opened);
    rec = std::make_shared<reconciler>(io.get_executor(), *nl, "kube-lb0");
  }
  auto parts() { return std::tie(ns, io, *nl, rec); }
};

}  // namespace

TEST_CASE("drift is repaired through the event stream within 100 ms", "[netlink][events]") {
  lb_setup lb("drift");
  auto [ns, io, nl, rec] = lb.parts();
  // Infinite lifetimes: no renewal timer is armed, so only events can repair.
  REQUIRE(rec->set_desired({spec("192.0.2.30/32"), spec("2001:db8::30/128", true)}));
  auto stream = event_stream::open(io.get_executor());
  REQUIRE(stream);
  int removals_seen = 0;
  (*stream)->start([&](const event& e) {
    if (auto* a = std::get_if<address_event>(&e); a && a->removed) ++removals_seen;
    rec->on_event(e);
  });
  int repairs = 0;
  rec->on_repair([&](const nl_result<change_report>& r) {
    if (r && !r->added.empty()) ++repairs;
  });

  for (const char* cidr : {"192.0.2.30/32", "2001:db8::30/128"}) {
    INFO(cidr);
    ns.run(std::string("ip addr del ") + cidr + " dev kube-lb0");  // the operator, behind Herald's back
    REQUIRE_FALSE(present(nl, cidr));
    auto took = wait_back(io, nl, cidr, std::chrono::milliseconds(100));
    CHECK(present(nl, cidr));
    CHECK(took < std::chrono::milliseconds(100));
  }
  CHECK(removals_seen >= 2);
  CHECK(repairs >= 2);

  // The link goes down (the kernel drops its IPv6 addresses) and up again.
  ns.run("ip link set kube-lb0 down && ip link set kube-lb0 up");
  auto took = wait_back(io, nl, "2001:db8::30/128", std::chrono::milliseconds(100));
  CHECK(took < std::chrono::milliseconds(100));
  CHECK(present(nl, "2001:db8::30/128"));
  CHECK(present(nl, "192.0.2.30/32"));
  (*stream)->stop();
  rec->stop();
}

TEST_CASE("the reconciler renews finite lifetimes before they run out", "[netlink][lifetimes]") {
  lb_setup lb("renew");
  auto [ns, io, nl, rec] = lb.parts();
  auto s = spec("203.0.113.60/32");
  s.valid_lifetime = 2;  // gone after 2 s unless renewed
  s.preferred_lifetime = 2;
  REQUIRE(rec->set_desired({s}));
  int renewals = 0;
  rec->on_repair([&](const nl_result<change_report>& r) {
    if (r) renewals += static_cast<int>(r->renewed.size());
  });
  // Watch for 3.5 s, longer than the lifetime: the address must never vanish.
  auto until = clock_type::now() + std::chrono::milliseconds(3500);
  bool always = true;
  while (clock_type::now() < until) {
    io.run_for(std::chrono::milliseconds(50));
    always = always && present(nl, "203.0.113.60/32");
  }
  CHECK(always);
  CHECK(renewals >= 2);
  rec->stop();
}

namespace {
// Clears CAP_NET_ADMIN and CAP_NET_RAW from this process (capset(2)).
bool drop_net_caps() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  for (int cap : {CAP_NET_ADMIN, CAP_NET_RAW}) {
    data[cap / 32].effective &= ~(1u << (cap % 32));
    data[cap / 32].permitted &= ~(1u << (cap % 32));
    data[cap / 32].inheritable &= ~(1u << (cap % 32));
  }
  return syscall(SYS_capset, &hdr, data) == 0;
}
}  // namespace

TEST_CASE("without CAP_NET_ADMIN every change is a clear error and nothing is applied", "[netlink][bad-input]") {
  netns ns("nocap");
  ns.run("ip link add kube-lb0 type bridge && ip link set kube-lb0 up && ip addr add 192.0.2.71/32 dev kube-lb0");
  enter in(ns);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child inherits this thread's namespace; it reports on the pipe and
    // never returns into Catch2.
    ::close(fds[0]);
    std::ostringstream out;
    if (!drop_net_caps()) _exit(3);
    auto nl = rtnl::open();
    if (!nl) _exit(4);
    auto link = (*nl)->ensure_link("kube-lb0");  // exists and is up: nothing to change
    out << "ensure " << (link ? 0 : link.error().code.value()) << "\n";
    if (link) {
      auto add = (*nl)->add_address(*link, spec("192.0.2.70/32"));
      out << "add " << (add ? 0 : add.error().code.value()) << " " << (add ? "" : add.error().message) << "\n";
      auto arp = send_gratuitous_arp(**nl, *link, boost::asio::ip::make_address("192.0.2.71"));
      out << "arp " << (arp ? 0 : arp.error().code.value()) << "\n";
    }
    auto created = (*nl)->ensure_link("hnl-new0");
    out << "create " << (created ? 0 : created.error().code.value()) << " "
        << (created ? "" : created.error().message) << "\n";
    auto text = out.str();
    if (::write(fds[1], text.data(), text.size()) != static_cast<ssize_t>(text.size())) _exit(5);
    _exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[1024];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  INFO(text);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  auto denied = std::to_string(static_cast<int>(errc::permission_denied));
  CHECK_THAT(text, Catch::Contains("ensure 0\n"));
  CHECK_THAT(text, Catch::Contains("add " + denied + " address 192.0.2.70/32 on kube-lb0"));
  CHECK_THAT(text, Catch::Contains("arp " + denied + "\n"));  // a packet socket needs CAP_NET_RAW
  CHECK_THAT(text, Catch::Contains("create " + denied + " link hnl-new0"));
  CHECK_THAT(ns.run("ip -o addr show dev kube-lb0"), !Catch::Contains("192.0.2.70"));
  CHECK(ns.try_run("ip link show hnl-new0") != 0);
}
