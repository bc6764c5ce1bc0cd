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

error client_error(std::string reason, std::string message) {
  return error{0, std::move(reason), std::move(message)};
}

}  // namespace herald::kube
