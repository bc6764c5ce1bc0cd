// Names for the netlink layer's error codes, and the errno mapping from
// kernel ACKs (netlink(7): NLMSG_ERROR carries a negative errno).
#include "netlink/error.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>

namespace herald::netlink {

namespace {
class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "herald.netlink"; }
  std::string message(int v) const override {
    switch (static_cast<errc>(v)) {
      case errc::invalid_argument: return "invalid argument";
      case errc::no_such_device: return "no such device";
      case errc::address_not_available: return "address not available";
      case errc::permission_denied: return "permission denied";
      case errc::exists: return "exists";
      case errc::not_owned: return "not owned by Herald";
      case errc::link_type_unsupported: return "link type not supported by the kernel";
      case errc::kernel_error: return "kernel error";
      case errc::protocol_error: return "netlink protocol error";
    }
    return "unknown netlink error";
  }
};
}  // namespace

const std::error_category& netlink_category() {
  static const category c;
  return c;
}

errc errc_from_errno(int err) {
  switch (err) {
    case ENODEV: return errc::no_such_device;
    case EADDRNOTAVAIL: return errc::address_not_available;
    case EPERM:
    case EACCES: return errc::permission_denied;
    case EEXIST: return errc::exists;
    case EOPNOTSUPP: return errc::link_type_unsupported;
    case EINVAL:
    case EAFNOSUPPORT: return errc::invalid_argument;
    default: return errc::kernel_error;
  }
}

void throw_exception_from_error(const netlink_error& e, const boost::source_location& loc) {
  spdlog::critical("netlink: value() read from an error result at {}:{}: {}", loc.file_name(), loc.line(),
                   e.message);
  std::abort();
}

}  // namespace herald::netlink
