// libFuzzer target for the client configuration parsers (kube/config.hpp):
// the input is one kubeconfig file (YAML or JSON), parsed alone and merged
// after an empty file; the same bytes also go to the server-URL, RFC 3339
// and ExecCredential parsers. Property beyond "no crash, no throw": a parsed
// server URL prints a Host header that names its host.
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "kube/config.hpp"

using namespace herald::kube;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::vector<kubeconfig_file> one{{"/etc/herald/kubeconfig", std::string(text)}};
  (void)parse_kubeconfig(one);
  (void)parse_kubeconfig(one, "other");
  const std::vector<kubeconfig_file> two{{"/empty", ""}, {"relative/kubeconfig", std::string(text)}};
  (void)parse_kubeconfig(two);
  if (auto url = parse_server_url(text)) {
    if (url->host_header().find(url->host) == std::string::npos) std::abort();
  }
  (void)parse_rfc3339(text);
  (void)parse_exec_credential(text, "client.authentication.k8s.io/v1");
  (void)parse_exec_credential(text, "client.authentication.k8s.io/v1beta1");
  return 0;
}
