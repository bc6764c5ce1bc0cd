// libFuzzer target for the typed views of the Kubernetes objects Herald reads
// (kube/views.hpp: Service, EndpointSlice, Node, Lease, Secret, custom
// resources, and the metadata every view shares). The input is JSON text as
// the API server would send it; each view parses it. Properties beyond "no
// crash, no throw": base64_encode output decodes back to its input.
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kube/views.hpp"

using namespace herald::kube;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Secrets carry base64 text: the codec gets the raw bytes too.
  if (auto decoded = base64_decode(text)) {
    if (base64_encode(*decoded) != text) std::abort();
  }
  if (base64_decode(base64_encode(text)) != std::string(text)) std::abort();

  const auto object = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return 0;
  (void)describe_object(object);
  if (auto meta = parse_meta(object)) (void)meta->key();
  (void)service::parse(object);
  if (auto slice = endpoint_slice::parse(object)) (void)slice->service_name();
  if (auto n = node::parse(object)) (void)n->ready();
  (void)lease::parse(object);
  (void)secret::parse(object);
  (void)custom_resource::parse(object);
  return 0;
}
