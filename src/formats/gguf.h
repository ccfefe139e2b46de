// GGUF (v2, v3; little-endian) model file reader over a read-only mapping.
//
// Every count, length, dimension and offset is checked against the bytes that remain in the
// file before anything is allocated, so a corrupt or hostile file fails fast with an Error whose
// message starts with the file path. Tensor data is not copied: GgufTensor::data points into the
// mapping, valid while the GgufFile lives (moving the GgufFile keeps it valid).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/mapped_file.h"
#include "formats/ggml_types.h"
#include "formats/gguf_value.h"
#include "formats/tensor_info.h"

namespace tokenmill {

struct GgufTensor {
  std::string name;
  uint32_t ggml_type = 0;
  std::vector<int64_t> ne;  // GGUF order: innermost (contiguous) dimension first, 1..4 dims
  uint64_t offset = 0;      // from GgufFile::data_offset(), a multiple of the alignment
  size_t nbytes = 0;        // from the type's block geometry
  const std::byte* data = nullptr;

  int64_t n_elements() const;
};

class GgufFile {
 public:
  // Maps and parses the file; throws Error ("<path>: ...") on anything malformed.
  explicit GgufFile(const std::string& path);

  uint32_t version() const { return version_; }
  const std::string& path() const { return file_.path(); }
  size_t alignment() const { return alignment_; }  // general.alignment, default 32
  size_t data_offset() const { return data_offset_; }
  size_t file_size_bytes() const { return file_.size_bytes(); }

  // Metadata in file order; keys are unique.
  const std::vector<GgufKv>& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const;

  // Typed getters: nullopt when the key is absent; Error ("<path>: key 'k' has type string,
  // expected an integer") when it is present with an incompatible type.
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;   // any integer type or bool
  std::optional<double> get_float(std::string_view key) const;  // f32, f64 or any integer
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::vector<std::string>> get_string_array(std::string_view key) const;
  std::optional<std::vector<float>> get_float_array(std::string_view key) const;  // f32/f64/ints
  std::optional<std::vector<int64_t>> get_int_array(std::string_view key) const;  // ints/bool

  // Tensors in file order; names are unique.
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(std::string_view name) const;
  // Row-major view (shape = ne reversed). F32, F16, BF16, I8 and I32 are supported; other types
  // throw Error ("<path>: tensor 'x' has type Q4_0, not supported yet").
  TensorInfo tensor_info(const GgufTensor& tensor) const;

 private:
  void parse();
  const GgufValue* find_typed(std::string_view key, const char* expected,
                              bool (*accepts)(const GgufValue&)) const;

  MappedFile file_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::vector<GgufKv> metadata_;
  std::map<std::string, size_t, std::less<>> key_index_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// True when `path` is a readable regular file starting with the GGUF magic; never throws.
bool is_gguf_file(const std::string& path);

}  // namespace tokenmill
