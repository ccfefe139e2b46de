// Shared helpers of the formats tests: fixture paths, expected facts, scratch directories.
#pragma once
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tokenmill::test {

inline std::string fixture_path(const std::string& name) {
  return std::string(TOKENMILL_SOURCE_DIR) + "/tests/fixtures/formats/" + name;
}

inline std::string vocab_dir() {
  return std::string(TOKENMILL_SOURCE_DIR) + "/../shared/testdata/vocab";
}

// Facts written by python/fixtures/gen_format_fixtures.py from the Python reference readers.
inline const nlohmann::json& expected_facts() {
  static const nlohmann::json facts = [] {
    std::ifstream in(fixture_path("expected.json"));
    return nlohmann::json::parse(in);
  }();
  return facts;
}

inline std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const char* data, size_t n) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data, std::streamsize(n));
}

// A fresh directory under the system temp dir, removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("tokenmill_formats_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace tokenmill::test
