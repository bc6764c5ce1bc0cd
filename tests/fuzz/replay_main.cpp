// Replays a fuzz target's seed corpus and every crasher kept in tests/data/
// through its LLVMFuzzerTestOneInput, in the normal (g++, ASan+UBSan) test
// build, so a regression fails `meson test` without clang or libFuzzer.
// Usage: <target>-replay CORPUS_DIR... Files are read as run.sh seeds them:
// `.hex` fixtures decoded to bytes ('#' lines are comments), `.md`/`.txt`
// skipped, and a `.json` beside a `.hex` of the same name (a capture's
// description) skipped. Fails if the directories hold no input at all.
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace fs = std::filesystem;

namespace {

std::optional<std::vector<std::uint8_t>> read_seed(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (file.extension() != ".hex") return std::vector<std::uint8_t>(text.begin(), text.end());
  std::string digits;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line[0] == '#') continue;
    for (char c : line)
      if (!std::isspace(static_cast<unsigned char>(c))) digits += c;
  }
  if (digits.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> bytes;
  for (std::size_t i = 0; i < digits.size(); i += 2) {
    try {
      bytes.push_back(static_cast<std::uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return bytes;
}

bool is_seed(const fs::path& file) {
  const auto ext = file.extension();
  if (ext == ".md" || ext == ".txt") return false;
  if (ext == ".json" && fs::exists(fs::path(file).replace_extension(".hex"))) return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t replayed = 0;
  for (int i = 1; i < argc; ++i) {
    if (!fs::is_directory(argv[i])) continue;  // a regressions folder may not exist yet
    std::set<fs::path> files;  // sorted: the same order on every run
    for (const auto& entry : fs::directory_iterator(argv[i]))
      if (entry.is_regular_file() && is_seed(entry.path())) files.insert(entry.path());
    for (const auto& file : files) {
      auto bytes = read_seed(file);
      if (!bytes) {
        std::fprintf(stderr, "replay: %s: not valid hex\n", file.c_str());
        return 1;
      }
      std::printf("replay: %s (%zu bytes)\n", file.c_str(), bytes->size());
      std::fflush(stdout);
      LLVMFuzzerTestOneInput(bytes->data(), bytes->size());
      ++replayed;
    }
  }
  std::printf("replay: %zu inputs\n", replayed);
  if (replayed == 0) {
    std::fprintf(stderr, "replay: no inputs in the corpus folders given\n");
    return 1;
  }
  return 0;
}
