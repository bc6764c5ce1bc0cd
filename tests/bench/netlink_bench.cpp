// Netlink benchmark (not a test): add then remove 10,000 IPv6 /128 addresses
// on kube-lb0, through Herald and through `ip -batch` doing the same, side by
// side in the same run and the same fresh namespace. Prints both times and
// the ratio. Needs root; exits 77 (skip) without it.
//
// Two settings, because the kernel's own cost decides what is measured:
//  - link down: the kernel only stores the addresses, so this measures the
//    netlink path (Herald's pipelined requests, one list dump, vs one round
//    trip per line for ip). Best of several rounds.
//  - link up (what the agent does): every address also gets a local route,
//    and that cost grows with the number of addresses, so both tools mostly
//    wait for the kernel. One round, through the reconciler.
// kube-lb0 is a bridge (this kernel has no dummy) set NOARP and
// non-multicast, as the kernel makes a dummy: on a multicast link every IPv6
// address also joins its solicited-node group, and with 10,000 of them the
// kernel's MLD bookkeeping on removal (mld_del_delrec) grew until the run no
// longer finished in 25 minutes, a cost a real kube-lb0 never pays.
// Run: ./build-bench/tests/bench-netlink
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <spdlog/spdlog.h>
#include <string>

#include <linux/rtnetlink.h>

#include "netlink/reconciler.hpp"

using namespace herald::netlink;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr int count = 10000;
constexpr int rounds = 3;

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

std::string addr(int i) {  // 2001:db8:b::1 ... inside the documentation prefix
  return "2001:db8:b::" + fmt::format("{:x}", i + 1);
}

int sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace

int main() {
  if (::geteuid() != 0) {
    std::puts("bench-netlink: skipped: needs root (a network namespace and CAP_NET_ADMIN)");
    return 77;
  }
  spdlog::set_level(spdlog::level::warn);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each round's line as it ends, also into a pipe
  std::random_device rd;
  std::string ns = fmt::format("hnl-bench-{:08x}", rd());
  if (sh("ip netns add " + ns) != 0 || sh("ip -n " + ns + " link add kube-lb0 type bridge") != 0 ||
      sh("ip -n " + ns + " link set kube-lb0 arp off multicast off") != 0) {
    std::puts("bench-netlink: cannot create the namespace");
    sh("ip netns del " + ns + " 2>/dev/null");
    return 1;
  }
  std::string add_file = "/tmp/" + ns + "-add", del_file = "/tmp/" + ns + "-del";
  {
    std::ofstream add(add_file), del(del_file);
    for (int i = 0; i < count; ++i) {
      add << "address add " << addr(i) << "/128 dev kube-lb0 nodad\n";
      del << "address del " << addr(i) << "/128 dev kube-lb0\n";
    }
  }
  int status = 0;
  {
    int saved = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (saved < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
      std::puts("bench-netlink: cannot enter the namespace");
      status = 1;
    } else {
      boost::asio::io_context io;
      auto nl = rtnl::open();
      auto rec = std::make_shared<reconciler>(io.get_executor(), **nl, "kube-lb0");
      std::vector<address_spec> desired;
      for (int i = 0; i < count; ++i) {
        auto s = address_spec::parse(addr(i) + "/128");
        s->nodad = true;
        desired.push_back(*s);
      }
      // Link down: the same requests the reconciler sends, without ensure_link().
      auto link = (*nl)->find_link("kube-lb0");
      double best_herald = 1e18, best_ip = 1e18;
      for (int r = 0; r < rounds && status == 0 && link; ++r) {
        auto t = clock_type::now();
        std::vector<msg_ptr> adds;
        for (const auto& d : desired) adds.push_back((*nl)->address_request(RTM_NEWADDR, false, *link, d));
        auto added = (*nl)->transact(adds);
        auto have = (*nl)->list_addresses(*link);
        std::vector<msg_ptr> dels;
        if (have)
          for (const auto& h : *have)
            if ((*nl)->owns(h)) dels.push_back((*nl)->address_request(RTM_DELADDR, false, *link, {h.address, h.prefix_len}));
        auto removed = (*nl)->transact(dels);
        double herald_ms = ms_since(t);
        auto failed = [](const auto& acks) {
          return !acks || std::any_of(acks->begin(), acks->end(), [](const rtnl::ack& a) { return a.error != 0; });
        };
        if (failed(added) || failed(removed) || dels.size() != count) {
          std::puts("bench-netlink: Herald round failed");
          status = 1;
          break;
        }
        t = clock_type::now();
        int a = sh("ip -batch " + add_file);
        int d = sh("ip -batch " + del_file);
        double ip_ms = ms_since(t);
        if (a != 0 || d != 0) {
          std::puts("bench-netlink: ip -batch failed");
          status = 1;
          break;
        }
        best_herald = std::min(best_herald, herald_ms);
        best_ip = std::min(best_ip, ip_ms);
        std::printf("link down, round %d: herald %.1f ms, ip -batch %.1f ms\n", r + 1, herald_ms, ip_ms);
      }
      if (status == 0)
        std::printf("link down: add+remove %d IPv6 /128 on kube-lb0 (best of %d): herald %.1f ms, "
                    "ip -batch %.1f ms, ratio ip/herald %.2fx\n",
                    count, rounds, best_herald, best_ip, best_ip / best_herald);
      best_herald = best_ip = 1e18;
      for (int r = 0; r < 1 && status == 0; ++r) {
        auto t = clock_type::now();
        auto up = rec->set_desired(desired);  // ensure_link() sets kube-lb0 up
        auto down = rec->set_desired({});
        double herald_ms = ms_since(t);
        if (!up || !down || up->added.size() != count || down->removed.size() != count) {
          std::printf("bench-netlink: Herald round failed: %s\n",
                      !up ? up.error().message.c_str() : !down ? down.error().message.c_str() : "wrong counts");
          status = 1;
          break;
        }
        t = clock_type::now();
        int a = sh("ip -batch " + add_file);
        int d = sh("ip -batch " + del_file);
        double ip_ms = ms_since(t);
        if (a != 0 || d != 0) {
          std::puts("bench-netlink: ip -batch failed");
          status = 1;
          break;
        }
        best_herald = std::min(best_herald, herald_ms);
        best_ip = std::min(best_ip, ip_ms);
      }
      if (status == 0)
        std::printf("link up: add+remove %d IPv6 /128 on kube-lb0 (reconciler, 1 round): herald %.1f ms, "
                    "ip -batch %.1f ms, ratio ip/herald %.2fx\n",
                    count, best_herald, best_ip, best_ip / best_herald);
      if (::setns(saved, CLONE_NEWNET) != 0) std::abort();
    }
    if (saved >= 0) ::close(saved);
    if (target >= 0) ::close(target);
  }
  std::remove(add_file.c_str());
  std::remove(del_file.c_str());
  sh("ip netns del " + ns);
  return status;
}
