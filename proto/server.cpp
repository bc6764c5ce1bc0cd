// The GoBGP-compatible gRPC server (see server.hpp).
#include "proto/server.hpp"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <future>

#include "gobgp.grpc.pb.h"
#include "proto/convert.hpp"
#include "proto/snapshot.hpp"

namespace herald::proto {

namespace asio = boost::asio;
using grpc::ServerContext;
using grpc::Status;
using grpc::StatusCode;
using Empty = google::protobuf::Empty;

Result<bool, std::string> is_loopback_listen(std::string_view listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == listen.size())
    return "--grpc " + std::string(listen) + ": expected ADDR:PORT or [V6ADDR]:PORT";
  auto host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") return true;
  auto a = wire::ip_address::parse(host);
  if (!a) return "--grpc " + std::string(listen) + ": " + std::string(host) + " is not an IP address";
  if (a->is_v4()) return a->octets[0] == 127;
  return *a == *wire::ip_address::parse("::1");
}

namespace {

// Text a gRPC error carries to the user (`rpc error: code = ... desc = <this>`).
Status unsupported(std::string_view method) {
  return Status(StatusCode::UNIMPLEMENTED,
                "Herald does not support " + std::string(method) + " (docs/grpc.md lists what it serves)");
}

Status invalid(const std::string& why) { return Status(StatusCode::INVALID_ARGUMENT, why); }

std::optional<table_kind> to_table_kind(apipb::TableType t) {
  switch (t) {
    case apipb::GLOBAL: return table_kind::global;
    case apipb::ADJ_IN: return table_kind::adj_in;
    case apipb::ADJ_OUT: return table_kind::adj_out;
    default: return std::nullopt;
  }
}

Status unsupported_table(apipb::TableType t) {
  return Status(StatusCode::UNIMPLEMENTED, t == apipb::LOCAL
                                               ? "Herald has no per-peer local RIB (it is not a route server)"
                                               : "Herald has no VRF tables");
}

// The family of a request; an unset family (afi 0) means ipv4-unicast as in gobgpd.
Result<wire::family, Status> request_family(const apipb::Family& f) {
  if (f.afi() == apipb::Family::AFI_UNKNOWN) return wire::ipv4_unicast;
  if (auto fam = from_family(f)) return *fam;
  return Status(StatusCode::UNIMPLEMENTED, "Herald carries only the ipv4-unicast and ipv6-unicast families");
}

}  // namespace

class api_server::service final : public apipb::GobgpApi::Service {
 public:
  service(asio::any_io_executor ex, bgp::speaker& sp, std::chrono::milliseconds timeout)
      : ex_(std::move(ex)), sp_(sp), timeout_(timeout) {}

  Status GetBgp(ServerContext*, const apipb::GetBgpRequest*, apipb::GetBgpResponse* out) override {
    auto g = on_speaker([&sp = sp_] { return take_global(sp); });
    if (!g) return busy();
    *out->mutable_global() = to_global(*g);
    return Status::OK;
  }

  Status ListPeer(ServerContext*, const apipb::ListPeerRequest* req,
                  grpc::ServerWriter<apipb::ListPeerResponse>* w) override {
    auto peers = on_speaker([&sp = sp_, address = req->address()] { return take_peers(sp, address); });
    if (!peers) return busy();
    for (auto& p : *peers) {
      apipb::ListPeerResponse r;
      *r.mutable_peer() = to_peer(p);
      if (!w->Write(r)) break;
    }
    return Status::OK;
  }

  Status ListPath(ServerContext*, const apipb::ListPathRequest* req,
                  grpc::ServerWriter<apipb::ListPathResponse>* w) override {
    auto kind = to_table_kind(req->table_type());
    if (!kind) return unsupported_table(req->table_type());
    auto fam = request_family(req->family());
    if (!fam) return fam.error();
    std::vector<prefix_query> queries;
    for (auto& p : req->prefixes()) {
      auto q = parse_prefix_query(p.prefix(), p.type(), *fam);
      if (!q) return invalid(q.error());
      queries.push_back(*q);
    }
    auto table = on_speaker([&sp = sp_, k = *kind, name = req->name(), f = *fam, queries] {
      return take_table(sp, k, name, f, queries);
    });
    if (!table) return busy();
    if (!*table) return Status(StatusCode::NOT_FOUND, table->error());
    for (auto& d : to_destinations(**table)) {
      apipb::ListPathResponse r;
      *r.mutable_destination() = std::move(d);
      if (!w->Write(r)) break;
    }
    return Status::OK;
  }

  Status GetTable(ServerContext*, const apipb::GetTableRequest* req, apipb::GetTableResponse* out) override {
    auto kind = to_table_kind(req->table_type());
    if (!kind) return unsupported_table(req->table_type());
    auto fam = request_family(req->family());
    if (!fam) return fam.error();
    auto counts = on_speaker([&sp = sp_, k = *kind, name = req->name(), f = *fam] {
      return count_table(sp, k, name, f);
    });
    if (!counts) return busy();
    if (!*counts) return Status(StatusCode::NOT_FOUND, counts->error());
    out->set_num_destination((*counts)->destinations);
    out->set_num_path((*counts)->paths);
    if (*kind == table_kind::adj_in) out->set_num_accepted((*counts)->paths);
    return Status::OK;
  }

  Status ResetPeer(ServerContext*, const apipb::ResetPeerRequest* req, Empty*) override {
    // The CLI's `reset` sends soft=false with direction BOTH: soft decides (reference §7.15).
    bool soft = req->soft();
    bool in = soft && req->direction() != apipb::ResetPeerRequest::OUT;
    bool out = soft && req->direction() != apipb::ResetPeerRequest::IN;
    spdlog::info("grpc: ResetPeer {} ({})", req->address(),
                 !soft ? "hard" : in && out ? "soft in and out" : in ? "soft in" : "soft out");
    return on_peers(req->address(), true, [soft, in, out, why = req->communication()](bgp::session& s) -> std::string {
      if (!soft) {
        if (s.stopped()) return "";  // administratively down stays down
        s.stop(wire::notification_message::shutdown(wire::cease_subcode::administrative_reset, why));
        s.start();
        return "";
      }
      if (out) s.resend_all();
      if (in && !s.request_refresh())
        return "peer " + s.config().address.to_string() +
               " cannot be asked to re-send its routes (session not Established or no route refresh capability)";
      return "";
    });
  }

  Status ShutdownPeer(ServerContext*, const apipb::ShutdownPeerRequest* req, Empty*) override {
    spdlog::info("grpc: ShutdownPeer {}", req->address());
    return stop_peers(req->address(), true, req->communication());
  }

  Status DisablePeer(ServerContext*, const apipb::DisablePeerRequest* req, Empty*) override {
    spdlog::info("grpc: DisablePeer {}", req->address());
    return stop_peers(req->address(), false, req->communication());
  }

  Status EnablePeer(ServerContext*, const apipb::EnablePeerRequest* req, Empty*) override {
    spdlog::info("grpc: EnablePeer {}", req->address());
    return on_peers(req->address(), false, [](bgp::session& s) -> std::string {
      if (s.stopped()) s.start();
      return "";
    });
  }

  Status AddPath(ServerContext*, const apipb::AddPathRequest* req, apipb::AddPathResponse* out) override {
    if (req->table_type() != apipb::GLOBAL || !req->vrf_id().empty())
      return unsupported_table(req->vrf_id().empty() ? req->table_type() : apipb::VRF);
    auto route = from_path(req->path());
    if (!route) return invalid(route.error());
    spdlog::info("grpc: AddPath {}", route->prefix.to_string());
    auto done = on_speaker([&sp = sp_, r = *route] {
      sp.add_operator_route(r.prefix, r.attrs);
      return true;
    });
    if (!done) return busy();
    out->set_uuid(operator_route_uuid(route->prefix));
    return Status::OK;
  }

  Status DeletePath(ServerContext*, const apipb::DeletePathRequest* req, Empty*) override {
    if (req->table_type() != apipb::GLOBAL || !req->vrf_id().empty())
      return unsupported_table(req->vrf_id().empty() ? req->table_type() : apipb::VRF);
    std::optional<wire::ip_prefix> prefix;
    if (req->has_path()) {
      auto p = path_prefix(req->path());
      if (!p) return invalid(p.error());
      prefix = *p;
    }
    auto fam = request_family(req->has_path() ? req->path().family() : req->family());
    if (!fam) return fam.error();
    spdlog::info("grpc: DeletePath {}", prefix ? prefix->to_string() : req->uuid().empty() ? "all" : "by uuid");
    // By prefix, by uuid, or (neither) every added route of the family: `gobgp global rib del all`.
    auto removed = on_speaker([&sp = sp_, prefix, uuid = req->uuid(), f = *fam] {
      std::vector<wire::ip_prefix> gone;
      for (auto& [p, a] : sp.operator_routes())
        if (prefix ? p == *prefix : uuid.empty() ? p.addr.family == f.a : operator_route_uuid(p) == uuid)
          gone.push_back(p);
      for (auto& p : gone) sp.remove_operator_route(p);
      return gone.size();
    });
    if (!removed) return busy();
    if (*removed == 0 && (prefix || !req->uuid().empty()))
      return Status(StatusCode::NOT_FOUND, "no route added through the API matches" +
                                               (prefix ? " " + prefix->to_string() : std::string(" that uuid")));
    return Status::OK;
  }

#define HERALD_UNSUPPORTED_UNARY(M, Req, Resp) \
  Status M(ServerContext*, const Req*, Resp*) override { return unsupported(#M); }
#define HERALD_UNSUPPORTED_STREAM(M, Req, Resp) \
  Status M(ServerContext*, const Req*, grpc::ServerWriter<Resp>*) override { return unsupported(#M); }
  HERALD_UNSUPPORTED_UNARY(StartBgp, apipb::StartBgpRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(StopBgp, apipb::StopBgpRequest, Empty)
  HERALD_UNSUPPORTED_STREAM(WatchEvent, apipb::WatchEventRequest, apipb::WatchEventResponse)
  HERALD_UNSUPPORTED_UNARY(AddPeer, apipb::AddPeerRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(DeletePeer, apipb::DeletePeerRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(UpdatePeer, apipb::UpdatePeerRequest, apipb::UpdatePeerResponse)
  HERALD_UNSUPPORTED_UNARY(AddPeerGroup, apipb::AddPeerGroupRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(DeletePeerGroup, apipb::DeletePeerGroupRequest, Empty)
  HERALD_UNSUPPORTED_STREAM(ListPeerGroup, apipb::ListPeerGroupRequest, apipb::ListPeerGroupResponse)
  HERALD_UNSUPPORTED_UNARY(UpdatePeerGroup, apipb::UpdatePeerGroupRequest, apipb::UpdatePeerGroupResponse)
  HERALD_UNSUPPORTED_UNARY(AddDynamicNeighbor, apipb::AddDynamicNeighborRequest, Empty)
  HERALD_UNSUPPORTED_STREAM(ListDynamicNeighbor, apipb::ListDynamicNeighborRequest, apipb::ListDynamicNeighborResponse)
  HERALD_UNSUPPORTED_UNARY(DeleteDynamicNeighbor, apipb::DeleteDynamicNeighborRequest, Empty)
  Status AddPathStream(ServerContext*, grpc::ServerReader<apipb::AddPathStreamRequest>*, Empty*) override {
    return unsupported("AddPathStream");
  }
  HERALD_UNSUPPORTED_UNARY(AddVrf, apipb::AddVrfRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(DeleteVrf, apipb::DeleteVrfRequest, Empty)
  HERALD_UNSUPPORTED_STREAM(ListVrf, apipb::ListVrfRequest, apipb::ListVrfResponse)
  HERALD_UNSUPPORTED_UNARY(AddPolicy, apipb::AddPolicyRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(DeletePolicy, apipb::DeletePolicyRequest, Empty)
  HERALD_UNSUPPORTED_STREAM(ListPolicy, apipb::ListPolicyRequest, apipb::ListPolicyResponse)
  HERALD_UNSUPPORTED_UNARY(SetPolicies, apipb::SetPoliciesRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(AddDefinedSet, apipb::AddDefinedSetRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(DeleteDefinedSet, apipb::DeleteDefinedSetRequest, Empty)
  HERALD_UNSUPPORTED_STREAM(ListDefinedSet, apipb::ListDefinedSetRequest, apipb::ListDefinedSetResponse)
  HERALD_UNSUPPORTED_UNARY(AddStatement, apipb::AddStatementRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(DeleteStatement, apipb::DeleteStatementRequest, Empty)
  HERALD_UNSUPPORTED_STREAM(ListStatement, apipb::ListStatementRequest, apipb::ListStatementResponse)
  HERALD_UNSUPPORTED_UNARY(AddPolicyAssignment, apipb::AddPolicyAssignmentRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(DeletePolicyAssignment, apipb::DeletePolicyAssignmentRequest, Empty)
  HERALD_UNSUPPORTED_STREAM(ListPolicyAssignment, apipb::ListPolicyAssignmentRequest,
                            apipb::ListPolicyAssignmentResponse)
  HERALD_UNSUPPORTED_UNARY(SetPolicyAssignment, apipb::SetPolicyAssignmentRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(AddRpki, apipb::AddRpkiRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(DeleteRpki, apipb::DeleteRpkiRequest, Empty)
  HERALD_UNSUPPORTED_STREAM(ListRpki, apipb::ListRpkiRequest, apipb::ListRpkiResponse)
  HERALD_UNSUPPORTED_UNARY(EnableRpki, apipb::EnableRpkiRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(DisableRpki, apipb::DisableRpkiRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(ResetRpki, apipb::ResetRpkiRequest, Empty)
  HERALD_UNSUPPORTED_STREAM(ListRpkiTable, apipb::ListRpkiTableRequest, apipb::ListRpkiTableResponse)
  HERALD_UNSUPPORTED_UNARY(EnableZebra, apipb::EnableZebraRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(EnableMrt, apipb::EnableMrtRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(DisableMrt, apipb::DisableMrtRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(AddBmp, apipb::AddBmpRequest, Empty)
  HERALD_UNSUPPORTED_UNARY(DeleteBmp, apipb::DeleteBmpRequest, Empty)
  HERALD_UNSUPPORTED_STREAM(ListBmp, apipb::ListBmpRequest, apipb::ListBmpResponse)
  HERALD_UNSUPPORTED_UNARY(SetLogLevel, apipb::SetLogLevelRequest, Empty)
#undef HERALD_UNSUPPORTED_UNARY
#undef HERALD_UNSUPPORTED_STREAM

 private:
  // Runs `f` on the speaker's io_context thread and waits for its value; nullopt
  // when the speaker does not answer in time (stopping, or stuck). `f` captures
  // by value: it may still run after the wait gave up.
  template <class F>
  auto on_speaker(F f) -> std::optional<decltype(f())> {
    using R = decltype(f());
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(f));
    auto result = task->get_future();
    asio::post(ex_, [task] { (*task)(); });
    if (result.wait_for(timeout_) != std::future_status::ready) return std::nullopt;
    return result.get();
  }

  Status busy() const {
    return Status(StatusCode::UNAVAILABLE, "the speaker did not answer within " + std::to_string(timeout_.count()) + " ms");
  }

  // Applies `act` to the sessions `address` names on the io thread; `act`
  // returns an error text or "". No session: NOT_FOUND, as gobgpd says it.
  template <class Act>
  Status on_peers(const std::string& address, bool all_ok, Act act) {
    auto outcome = on_speaker([&sp = sp_, address, all_ok, act]() -> std::optional<std::string> {
      auto sessions = find_sessions(sp, address, all_ok);
      if (sessions.empty() || address.empty()) return std::nullopt;
      std::string errors;
      for (auto& s : sessions) {
        auto e = act(*s);
        if (!e.empty()) errors += (errors.empty() ? "" : "; ") + e;
      }
      return errors;
    });
    if (!outcome) return busy();
    if (!*outcome) return Status(StatusCode::NOT_FOUND, "not found neighbor " + address);
    if (!(*outcome)->empty()) return Status(StatusCode::FAILED_PRECONDITION, **outcome);
    return Status::OK;
  }

  Status stop_peers(const std::string& address, bool all_ok, const std::string& why) {
    return on_peers(address, all_ok, [why](bgp::session& s) -> std::string {
      if (!s.stopped()) s.stop(wire::notification_message::shutdown(wire::cease_subcode::administrative_shutdown, why));
      return "";
    });
  }

  asio::any_io_executor ex_;
  bgp::speaker& sp_;
  std::chrono::milliseconds timeout_;
};

api_server::api_server(asio::any_io_executor ex, bgp::speaker& sp, std::chrono::milliseconds speaker_timeout)
    : service_(std::make_unique<service>(std::move(ex), sp, speaker_timeout)) {
  // Path age in ListPath needs the time each route last changed.
  sp.keep_route_times();
}

api_server::~api_server() { stop(); }

Result<void, std::string> api_server::start(const std::string& listen) {
  auto loopback = is_loopback_listen(listen);
  if (!loopback) return loopback.error();
  if (!*loopback)
    spdlog::warn("grpc: listening on {}, not a loopback address: the API has no authentication, and anyone who "
                 "reaches it can reset peers and announce routes",
                 listen);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    server_.reset();
    return "grpc: cannot listen on " + listen;
  }
  spdlog::info("grpc: GoBGP-compatible API on {}", listen);
  return {};
}

void api_server::stop() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  server_.reset();
}

}  // namespace herald::proto
