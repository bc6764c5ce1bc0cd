// Taking the views of view.hpp from the running speaker. Every function here
// runs on the speaker's io_context thread (the gRPC service posts it there)
// and only copies: shared attribute objects are immutable, so the views can
// cross to a gRPC thread. Lookups select on this thread, so only the routes
// asked for are copied.
#pragma once

#include "bgp/speaker.hpp"
#include "proto/view.hpp"

namespace herald::proto {

global_view take_global(const bgp::speaker& sp);

// The sessions a request names: "" every peer, "all" too when `all_ok`,
// else the one whose address equals the text (IPv6 compared as addresses).
std::vector<std::shared_ptr<bgp::session>> find_sessions(const bgp::speaker& sp, std::string_view address, bool all_ok);

std::vector<peer_view> take_peers(const bgp::speaker& sp, std::string_view address);

// Global RIB (the speaker's own routes), or a peer's Adj-RIB-In / -Out.
Result<table_view, std::string> take_table(const bgp::speaker& sp, table_kind kind, std::string_view peer,
                                           wire::family f, const std::vector<prefix_query>& queries);

struct table_counts {
  std::uint64_t destinations = 0, paths = 0;
};
Result<table_counts, std::string> count_table(const bgp::speaker& sp, table_kind kind, std::string_view peer,
                                              wire::family f);

}  // namespace herald::proto
