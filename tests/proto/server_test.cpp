// The gRPC API end to end in one process, without namespaces or root: a
// speaker (no peers) on an io_context thread, the server on a free loopback
// port, and a generated GobgpApi client. Checks the views taken on the io
// thread (lookups, operator routes hiding and restoring the owner's route,
// kept across set_routes), answers for unknown peers and unsupported methods,
// and that a stuck io_context gives UNAVAILABLE instead of a hung call.
#include <grpcpp/grpcpp.h>

#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <thread>

#include "gobgp.grpc.pb.h"
#include "proto/convert.hpp"
#include "proto/server.hpp"
#include "proto/snapshot.hpp"
#include "result_catch.hpp"

using namespace herald::proto;
using namespace herald::bgp::wire;
namespace bgp = herald::bgp;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

ip_prefix pfx(std::string_view s) { return *ip_prefix::parse(s); }

bgp::speaker_config config() {
  bgp::speaker_config c;
  c.router_id = 0xC000020B;
  c.local_asn = 65001;
  bgp::route_attrs a;
  a.med = 50;
  auto attrs = std::make_shared<const bgp::route_attrs>(a);
  for (auto p : {"198.51.100.11/32", "198.51.100.64/26", "2001:db8:100::/48"}) c.routes.push_back({pfx(p), attrs});
  return c;
}

// A speaker on its own io_context thread, and the API in front of it.
struct running {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  bgp::speaker sp{io.get_executor(), config()};
  api_server api{io.get_executor(), sp, 500ms};
  std::thread thread;
  std::string address;
  std::unique_ptr<apipb::GobgpApi::Stub> stub;

  running() {
    REQUIRE(!sp.start());
    for (int port = 50100; port < 50200 && address.empty(); ++port)
      if (api.start("127.0.0.1:" + std::to_string(port))) address = "127.0.0.1:" + std::to_string(port);
    REQUIRE(!address.empty());
    thread = std::thread([this] { io.run(); });
    stub = apipb::GobgpApi::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  }
  ~running() {
    api.stop();
    work.reset();
    io.stop();
    thread.join();
  }
  // Runs f on the io thread, as the service does.
  template <class F>
  auto on_io(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io, [&task] { task(); });
    return result.get();
  }
  std::vector<std::string> list(apipb::TableType t, family f, std::vector<std::pair<std::string, int>> prefixes = {}) {
    apipb::ListPathRequest req;
    req.set_table_type(t);
    *req.mutable_family() = to_family(f);
    for (auto& [p, type] : prefixes) {
      auto* q = req.add_prefixes();
      q->set_prefix(p);
      q->set_type(static_cast<apipb::TableLookupPrefix::Type>(type));
    }
    grpc::ClientContext ctx;
    auto reader = stub->ListPath(&ctx, req);
    std::vector<std::string> out;
    apipb::ListPathResponse r;
    while (reader->Read(&r)) out.push_back(r.destination().prefix());
    CHECK(reader->Finish().ok());
    return out;
  }
};

apipb::Path cli_path(std::string_view addr, unsigned len, std::uint32_t med) {
  apipb::Path p;
  apipb::IPAddressPrefix n;
  n.set_prefix(std::string(addr));
  n.set_prefix_len(len);
  p.mutable_nlri()->PackFrom(n);
  *p.mutable_family() = to_family(ipv4_unicast);
  apipb::MultiExitDiscAttribute m;
  m.set_med(med);
  p.add_pattrs()->PackFrom(m);
  return p;
}

}  // namespace

TEST_CASE("gRPC API: GetBgp, ListPath lookups, GetTable over a real channel") {
  running r;
  grpc::ClientContext ctx;
  apipb::GetBgpResponse bgp_info;
  REQUIRE(r.stub->GetBgp(&ctx, {}, &bgp_info).ok());
  CHECK(bgp_info.has_global());
  CHECK(bgp_info.global().asn() == 65001);
  CHECK(bgp_info.global().router_id() == "192.0.2.11");

  CHECK(r.list(apipb::GLOBAL, ipv4_unicast) == std::vector<std::string>{"198.51.100.11/32", "198.51.100.64/26"});
  CHECK(r.list(apipb::GLOBAL, ipv6_unicast) == std::vector<std::string>{"2001:db8:100::/48"});
  CHECK(r.list(apipb::GLOBAL, ipv4_unicast, {{"198.51.100.70", 0}}) == std::vector<std::string>{"198.51.100.64/26"});
  CHECK(r.list(apipb::GLOBAL, ipv4_unicast, {{"198.51.100.0/24", 1}}).size() == 2);
  CHECK(r.list(apipb::GLOBAL, ipv4_unicast, {{"192.0.2.1/32", 0}}).empty());

  grpc::ClientContext tctx;
  apipb::GetTableRequest treq;
  *treq.mutable_family() = to_family(ipv4_unicast);
  apipb::GetTableResponse counts;
  REQUIRE(r.stub->GetTable(&tctx, treq, &counts).ok());
  CHECK(counts.num_destination() == 2);
  CHECK(counts.num_path() == 2);

  SECTION("a bad lookup, an unknown peer and an unsupported method say so") {
    apipb::ListPathRequest bad;
    bad.add_prefixes()->set_prefix("198.51.100.1/8");
    grpc::ClientContext c1;
    apipb::ListPathResponse ignored;
    auto reader = r.stub->ListPath(&c1, bad);
    while (reader->Read(&ignored)) {
    }
    CHECK(reader->Finish().error_code() == grpc::StatusCode::INVALID_ARGUMENT);

    apipb::ListPathRequest adj;
    adj.set_table_type(apipb::ADJ_IN);
    adj.set_name("192.0.2.99");
    grpc::ClientContext c2;
    auto reader2 = r.stub->ListPath(&c2, adj);
    while (reader2->Read(&ignored)) {
    }
    CHECK(reader2->Finish().error_code() == grpc::StatusCode::NOT_FOUND);

    grpc::ClientContext c3;
    apipb::EnablePeerRequest enable;
    enable.set_address("192.0.2.99");
    google::protobuf::Empty empty;
    CHECK(r.stub->EnablePeer(&c3, enable, &empty).error_code() == grpc::StatusCode::NOT_FOUND);

    grpc::ClientContext c4;
    auto status = r.stub->StartBgp(&c4, {}, &empty);
    CHECK(status.error_code() == grpc::StatusCode::UNIMPLEMENTED);
    CHECK(status.error_message().find("Herald does not support StartBgp") != std::string::npos);

    grpc::ClientContext c5;
    apipb::ListPeerRequest peers;
    auto reader5 = r.stub->ListPeer(&c5, peers);
    apipb::ListPeerResponse none;
    CHECK(!reader5->Read(&none));  // no peers configured
    CHECK(reader5->Finish().ok());
  }
}

TEST_CASE("gRPC API: operator routes hide the owner's route, survive set_routes, and are removed") {
  running r;
  auto med_of = [&](std::string_view p) {
    return r.on_io([&] {
      auto t = take_table(r.sp, table_kind::global, "", ipv4_unicast, {{prefix_query::kind::exact, pfx(p)}});
      REQUIRE(t);
      REQUIRE(t->routes.size() == 1);
      return std::make_pair(*t->routes[0].local->med, t->routes[0].operator_added);
    });
  };
  grpc::ClientContext c1;
  apipb::AddPathRequest add;
  *add.mutable_path() = cli_path("198.51.100.11", 32, 7);
  apipb::AddPathResponse added;
  REQUIRE(r.stub->AddPath(&c1, add, &added).ok());
  CHECK(added.uuid() == operator_route_uuid(pfx("198.51.100.11/32")));
  CHECK(med_of("198.51.100.11/32") == std::make_pair(7u, true));

  // The owner replaces its table: the operator route stays; the owner's new value waits behind it.
  r.on_io([&] {
    auto routes = config().routes;
    bgp::route_attrs a;
    a.med = 60;
    routes[0].second = std::make_shared<const bgp::route_attrs>(a);
    r.sp.set_routes(routes);
    return 0;
  });
  CHECK(med_of("198.51.100.11/32") == std::make_pair(7u, true));

  grpc::ClientContext c2;
  apipb::DeletePathRequest del;
  *del.mutable_path() = cli_path("198.51.100.11", 32, 0);
  google::protobuf::Empty empty;
  REQUIRE(r.stub->DeletePath(&c2, del, &empty).ok());
  CHECK(med_of("198.51.100.11/32") == std::make_pair(60u, false));

  // A new prefix, then `del all`: gone, the owner's routes stay.
  grpc::ClientContext c3;
  *add.mutable_path() = cli_path("203.0.113.77", 32, 9);
  REQUIRE(r.stub->AddPath(&c3, add, &added).ok());
  CHECK(r.list(apipb::GLOBAL, ipv4_unicast).size() == 3);
  grpc::ClientContext c4;
  apipb::DeletePathRequest all;
  *all.mutable_family() = to_family(ipv4_unicast);
  REQUIRE(r.stub->DeletePath(&c4, all, &empty).ok());
  CHECK(r.list(apipb::GLOBAL, ipv4_unicast) == std::vector<std::string>{"198.51.100.11/32", "198.51.100.64/26"});
  grpc::ClientContext c5;
  CHECK(r.stub->DeletePath(&c5, del, &empty).error_code() == grpc::StatusCode::NOT_FOUND);
}

TEST_CASE("gRPC API: a busy io_context gives UNAVAILABLE, not a hung call") {
  running r;
  std::promise<void> release;
  auto blocked = release.get_future().share();
  asio::post(r.io, [blocked] { blocked.wait(); });  // stands in for a stuck speaker
  grpc::ClientContext ctx;
  apipb::GetBgpResponse out;
  auto start = std::chrono::steady_clock::now();
  auto status = r.stub->GetBgp(&ctx, {}, &out);
  CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  release.set_value();
}
