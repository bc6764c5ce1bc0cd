// Result<T, E>: the one error channel for code that reads untrusted input
// (peer bytes, API JSON, netlink replies). STYLE.md §3: such code never throws;
// it returns a value or an error. C++20 has no std::expected, so this is
// boost::system::result, whose E may be any copyable error type.
#pragma once

#include <boost/system/result.hpp>
#include <system_error>

namespace herald {

template <class T, class E = boost::system::error_code>
using Result = boost::system::result<T, E>;

}  // namespace herald
