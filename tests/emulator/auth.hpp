// Static bearer tokens for the API-server emulator, in the format of
// kube-apiserver's --token-auth-file (a CSV line per token:
// `token,user,uid[,"group1,group2"]`): each token authenticates as its own
// user, so a test can give each Herald binary its own identity (as its
// ServiceAccount is in a real cluster) and tell their requests apart in the
// request log (docs/emulator.md). Pure: text in, map out.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace herald::emulator {

// token → user name. Blank lines and lines starting with '#' are skipped.
// Throws std::invalid_argument naming the line for a line without a token
// and a user, or a token given twice (startup configuration).
std::map<std::string, std::string> parse_token_file(std::string_view text);

}  // namespace herald::emulator
