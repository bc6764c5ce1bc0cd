// Text for kube::error in logs and test failures.
#include "kube/error.hpp"

namespace herald::kube {

std::string error::to_string() const {
  std::string out;
  if (status != 0) out = "HTTP " + std::to_string(status) + " ";
  out += reason.empty() ? std::string("error") : reason;
  if (!message.empty()) out += ": " + message;
  return out;
}

std::string exception_text(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

error client_error(std::string reason, std::string message) {
  return error{0, std::move(reason), std::move(message)};
}

}  // namespace herald::kube
