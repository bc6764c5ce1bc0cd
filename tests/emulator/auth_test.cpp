// Unit tests of the emulator's static token file (auth.hpp): the
// kube-apiserver --token-auth-file format, comments, errors.
#include "auth.hpp"

#include <catch2/catch.hpp>

using herald::emulator::parse_token_file;

TEST_CASE("token file: one user per token, extra columns ignored") {
  const auto users = parse_token_file(
      "# Herald's service accounts\n"
      "tok-allocator,system:serviceaccount:herald-system:herald-allocator,uid-1\n"
      "\n"
      "  tok-agent , system:serviceaccount:herald-system:herald-agent , uid-2 , \"system:serviceaccounts\"\r\n"
      "tok-admin,admin");
  REQUIRE(users.size() == 3);
  CHECK(users.at("tok-allocator") == "system:serviceaccount:herald-system:herald-allocator");
  CHECK(users.at("tok-agent") == "system:serviceaccount:herald-system:herald-agent");
  CHECK(users.at("tok-admin") == "admin");
}

TEST_CASE("token file: empty text has no tokens") { CHECK(parse_token_file("\n# nothing\n").empty()); }

TEST_CASE("token file: malformed lines are refused with their number") {
  CHECK_THROWS_WITH(parse_token_file("a,b\nno-user\n"), Catch::Contains("line 2"));
  CHECK_THROWS_WITH(parse_token_file(",user\n"), Catch::Contains("line 1"));
  CHECK_THROWS_WITH(parse_token_file("a,\n"), Catch::Contains("line 1"));
  CHECK_THROWS_WITH(parse_token_file("a,b\na,c\n"), Catch::Contains("twice"));
}
