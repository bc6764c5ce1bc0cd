// Netlink error vocabulary: the typed failures the address and link layer
// reports (no such device, address not available, permission denied, exists,
// ...), an error_category so logs and std::error_code show readable text, and
// netlink_error, which pairs the code with a message naming the interface and
// address concerned (STYLE.md §3: register error enums with a category).
#pragma once

#include <boost/assert/source_location.hpp>
#include <string>
#include <system_error>

#include "herald/result.hpp"

namespace herald::netlink {

enum class errc {
  invalid_argument = 1,   // rejected before anything was sent to the kernel
  no_such_device,         // ENODEV, or no link of that name
  address_not_available,  // EADDRNOTAVAIL: the address is not on the link
  permission_denied,      // EPERM / EACCES: no CAP_NET_ADMIN (or CAP_NET_RAW)
  exists,                 // EEXIST, or an operator's address is in the way
  not_owned,              // refusing to remove an address Herald did not add
  link_type_unsupported,  // EOPNOTSUPP on link creation: kernel module missing
  kernel_error,           // any other errno from the kernel
  protocol_error,         // a reply we could not parse, or a socket failure
};

const std::error_category& netlink_category();
inline std::error_code make_error_code(errc e) { return {static_cast<int>(e), netlink_category()}; }

// A failed netlink operation: `code` for programs, `message` for people.
// The message names the interface and the address (when there is one).
struct netlink_error {
  std::error_code code;
  std::string message;

  bool is(errc e) const { return code == make_error_code(e); }
};

template <class T>
using nl_result = Result<T, netlink_error>;

inline netlink_error make_error(errc e, std::string message) {
  return netlink_error{make_error_code(e), std::move(message)};
}

// Maps a kernel errno (positive) from a netlink ACK to our codes.
errc errc_from_errno(int err);

// Lets nl_result<T>::value() report a misuse (reading the value of an error)
// as the bug it is: log and abort (STYLE.md §3).
[[noreturn]] void throw_exception_from_error(const netlink_error& e, const boost::source_location& loc);

}  // namespace herald::netlink

template <>
struct std::is_error_code_enum<herald::netlink::errc> : std::true_type {};
