// Parses the emulator's static token file (auth.hpp): kube-apiserver's
// --token-auth-file CSV format, of which only the first two columns (token,
// user) are used; uid and groups may follow and are ignored.
#include "auth.hpp"

#include <stdexcept>

namespace herald::emulator {

namespace {

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

std::map<std::string, std::string> parse_token_file(std::string_view text) {
  std::map<std::string, std::string> users;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    const auto comma = line.find(',');
    const std::string token = trim(std::string_view(line).substr(0, comma));
    std::string user;
    if (comma != std::string::npos) {
      const std::string_view rest = std::string_view(line).substr(comma + 1);
      user = trim(rest.substr(0, rest.find(',')));
    }
    const std::string where = "token file line " + std::to_string(line_no);
    if (token.empty() || user.empty()) throw std::invalid_argument(where + ": expected token,user[,uid[,groups]]");
    if (!users.emplace(token, user).second) throw std::invalid_argument(where + ": token given twice");
  }
  return users;
}

}  // namespace herald::emulator
