// Writes GGUF v3 files (little-endian): metadata in insertion order, then tensor infos, then
// tensor data, each tensor's data aligned to the file's alignment.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "formats/ggml_types.h"
#include "formats/gguf_value.h"

namespace tokenmill {

class GgufWriter {
 public:
  // Metadata. Keys must be unique (Error otherwise); "general.alignment" is written by write().
  void add_value(const std::string& key, GgufValue value);
  void add_string(const std::string& key, std::string value);
  void add_u8(const std::string& key, uint8_t value);
  void add_i8(const std::string& key, int8_t value);
  void add_u16(const std::string& key, uint16_t value);
  void add_i16(const std::string& key, int16_t value);
  void add_u32(const std::string& key, uint32_t value);
  void add_i32(const std::string& key, int32_t value);
  void add_u64(const std::string& key, uint64_t value);
  void add_i64(const std::string& key, int64_t value);
  void add_f32(const std::string& key, float value);
  void add_f64(const std::string& key, double value);
  void add_bool(const std::string& key, bool value);
  void add_string_array(const std::string& key, std::vector<std::string> values);
  void add_i32_array(const std::string& key, std::span<const int32_t> values);
  void add_u32_array(const std::string& key, std::span<const uint32_t> values);
  void add_i64_array(const std::string& key, std::span<const int64_t> values);
  void add_f32_array(const std::string& key, std::span<const float> values);

  // Tensors, in the order added. `shape_row_major` is outermost first (written reversed as
  // GGUF's ne[]); data.size() must equal the size the type's block geometry gives.
  // add_tensor copies the data; add_tensor_view only keeps the span, whose memory must stay
  // valid until write() returns (for large weights that should not be duplicated in memory).
  void add_tensor(const std::string& name, uint32_t ggml_type, std::vector<int64_t> shape_row_major,
                  std::span<const std::byte> data);
  void add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> shape_row_major,
                  std::span<const std::byte> data) {
    add_tensor(name, uint32_t(type), std::move(shape_row_major), data);
  }
  void add_tensor_view(const std::string& name, uint32_t ggml_type,
                       std::vector<int64_t> shape_row_major, std::span<const std::byte> data);

  // Writes to `path` + ".tmp" and renames it over `path`, so a failed write leaves no partial
  // file at `path`. alignment: a power of two; other than 32 it is recorded as general.alignment.
  void write(const std::string& path, size_t alignment = 32) const;

 private:
  struct PendingTensor {
    std::string name;
    uint32_t ggml_type;
    std::vector<int64_t> ne;  // innermost first
    bool is_view;
    std::vector<std::byte> owned;     // the data, unless is_view
    std::span<const std::byte> view;  // caller memory, when is_view
    std::span<const std::byte> data() const { return is_view ? view : std::span(owned); }
  };
  PendingTensor& add_tensor_common(const std::string& name, uint32_t ggml_type,
                                   std::vector<int64_t> shape_row_major, size_t data_bytes);

  std::vector<GgufKv> metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace tokenmill
