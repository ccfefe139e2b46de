// ggml tensor element types as stored in GGUF files: ids, names and block geometry.
// Every id the format has defined is listed so that any file's tensor sizes can be bounds-checked
// and shown by `inspect`, even where no kernel can compute with the type yet.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tokenmill {

// Values are the on-disk ids; gaps (4, 5, 31..33, 36..38) are ids the format retired.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

// Storage geometry of one ggml type: a row of n elements (n a multiple of block_elements)
// takes n / block_elements * block_bytes bytes.
struct GgmlTypeTraits {
  std::string_view name;
  uint32_t block_elements;
  uint32_t block_bytes;
};

// Traits of a known, current type id; nullopt for retired or unknown ids.
std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t ggml_type);

// "Q4_K", "F16", ...; "retired(4)" / "unknown(77)" for ids no reader can size.
std::string_view ggml_type_name(uint32_t ggml_type);
inline std::string_view ggml_type_name(GgmlType t) { return ggml_type_name(uint32_t(t)); }

// Bytes of a tensor with `n_elements` elements whose innermost dimension is `row_elements`;
// nullopt when the type is unknown, the row is not a whole number of blocks, or the size
// overflows 64 bits.
std::optional<uint64_t> ggml_tensor_nbytes(uint32_t ggml_type, uint64_t row_elements,
                                           uint64_t n_elements);

}  // namespace tokenmill
