// kube::error: the one error type of the Kubernetes client. Every request,
// parse and configuration step returns kube::result<T>; callers branch on
// the HTTP status and the Status reason the API server sent (kube-api.md §2),
// e.g. a 409 Conflict from a resourceVersion precondition.
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <string>

#include "herald/result.hpp"

namespace herald::kube {

struct error {
  // Not an aggregate: Result<int, error> must not take an int for an error.
  error() = default;
  error(int http_status, std::string why, std::string text)
      : status(http_status), reason(std::move(why)), message(std::move(text)) {}

  // HTTP status of the answer; 0 when none arrived (connect, TLS, timeout).
  int status = 0;
  // Status.reason from the server ("Conflict", "NotFound", "Expired"), or a
  // short name for client-side failures ("Timeout", "Transport", "Decode").
  std::string reason;
  std::string message;
  // How long the server asked the client to wait before retrying (a 429's
  // or 503's Retry-After header in seconds, else the Status's
  // details.retryAfterSeconds); unset if it did not say.
  std::optional<std::chrono::seconds> retry_after;

  bool conflict() const { return status == 409; }
  bool not_found() const { return status == 404; }
  bool unauthorized() const { return status == 401; }
  // A too-old resourceVersion: HTTP 410 on a list, or an ERROR event with
  // code 410 / reason Expired or Gone on a watch (kube-api.md §1).
  bool gone() const { return status == 410 || reason == "Expired" || reason == "Gone"; }
  bool too_many_requests() const { return status == 429; }
  std::string to_string() const;
};

template <class T>
using result = herald::Result<T, error>;

// A problem in untrusted or configuration text: "spec.ports[0].port: not an
// integer". A distinct type (not std::string) so that Result<T, parse_error>
// never confuses the error with a T that can be built from a string.
struct parse_error {
  parse_error() = default;
  explicit parse_error(std::string t) : text(std::move(t)) {}
  std::string text;
  const std::string& message() const { return text; }
};

// Client-side failure with no HTTP status.
error client_error(std::string reason, std::string message);

// What a caught exception says, for a log line (handlers and loops that
// must outlive a bug: kube/informer.hpp, the agent's fast path).
std::string exception_text(const std::exception_ptr& e);

}  // namespace herald::kube
