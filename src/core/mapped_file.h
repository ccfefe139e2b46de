// Read-only memory mapping of a whole file (weights are never copied at load).
#pragma once
#include <cstddef>
#include <span>
#include <string>

namespace tokenmill {

class MappedFile {
 public:
  // Throws Error naming the path when it cannot be opened or mapped. A directory is an error.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  std::span<const std::byte> bytes() const { return {data_, size_bytes_}; }
  const std::byte* data() const { return data_; }
  size_t size_bytes() const { return size_bytes_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const std::byte* data_ = nullptr;
  size_t size_bytes_ = 0;
};

// Drops this process's pages of the whole pages inside [p, p + n) of a read-only file mapping (a
// later read faults them back in from the page cache or the file). For data copied elsewhere.
void release_mapped_pages(const void* p, size_t n);

}  // namespace tokenmill
