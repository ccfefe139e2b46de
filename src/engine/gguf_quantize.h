// Quantizes a GGUF model into another GGUF (`tokenmill quantize`), with llama.cpp's schemes:
// a default type for the weight matrices and, for the k-quant mixtures (_S, _M), the rules of
// llama-quantize that give the most sensitive tensors more bits (docs/quantization.md).
//
// Metadata is copied (general.file_type and general.quantization_version set for the scheme);
// tensors keep their order. Weight matrices (2-D or more, name ending in "weight", not norms or
// routers) are converted; everything else is copied byte for byte. A matrix whose rows are not
// whole blocks of its type falls back to a type that fits, as llama-quantize does.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace tokenmill {

enum class QuantScheme {
  F32,
  F16,
  BF16,
  Q8_0,
  Q4_0,
  Q4_1,
  Q5_0,
  Q5_1,
  Q2_K,
  Q3_K_S,
  Q3_K_M,
  Q4_K_S,
  Q4_K_M,
  Q5_K_S,
  Q5_K_M,
  Q6_K,
};

// Case-insensitive ("q4_k_m"); nullopt for names that are not schemes.
std::optional<QuantScheme> quant_scheme_from_name(std::string_view name);
std::string_view quant_scheme_name(QuantScheme s);
// Every scheme's name, comma-separated, for help texts and error messages.
std::string quant_scheme_names();
// llama.cpp's llama_ftype value for the scheme, stored as general.file_type.
uint32_t quant_scheme_file_type(QuantScheme s);
// The type of weight matrices the mixture rules do not change.
DType quant_scheme_default_type(QuantScheme s);

// The model facts the mixtures depend on (from the GGUF's metadata).
struct QuantModelFacts {
  std::string architecture;  // general.architecture
  int64_t n_layers = 0;      // <arch>.block_count
  int64_t n_heads = 0;       // <arch>.attention.head_count
  int64_t n_kv_heads = 0;    // <arch>.attention.head_count_kv (0: same as n_heads)
  int64_t n_experts = 0;     // <arch>.expert_count (0: dense)
};

// One tensor of the input: ggml type id and GGUF dimensions (innermost first).
struct QuantTensorDesc {
  std::string name;
  uint32_t ggml_type = 0;
  std::vector<int64_t> ne;
};

// The decision for one tensor.
struct QuantTensorPlan {
  uint32_t to_type = 0;  // ggml type id written
  bool convert = false;  // false: the input's bytes are copied (to_type == input type)
  // Set when the scheme's type did not fit the row length and another type was used instead.
  std::string fallback_note;
};

// Each tensor's output type under the scheme, tensors in file order (the mixtures count
// attn_v / ffn_down tensors in that order, as llama-quantize does). Never throws.
std::vector<QuantTensorPlan> plan_quantization(const std::vector<QuantTensorDesc>& tensors,
                                               QuantScheme scheme, const QuantModelFacts& facts);

struct QuantizeTensorReport {
  std::string name;
  std::vector<int64_t> shape;  // row-major (outermost first)
  uint32_t from_type = 0, to_type = 0;
  size_t bytes_before = 0, bytes_after = 0;
  std::string fallback_note;
};

struct GgufQuantizeOptions {
  QuantScheme scheme = QuantScheme::Q8_0;
  int n_threads = 0;  // <= 0: all hardware threads
  // Converting tensors that are already quantized loses quality twice; refused unless set.
  bool allow_requantize = false;
  // Progress: called before tensor `index` (of `count`) is converted or copied.
  std::function<void(size_t index, size_t count, const std::string& name)> on_tensor_begin;
  // Called after each tensor with its line of the report.
  std::function<void(const QuantizeTensorReport&)> on_tensor_done;
};

struct GgufQuantizeReport {
  std::vector<QuantizeTensorReport> tensors;
  size_t bytes_before = 0, bytes_after = 0;  // tensor data
  uint64_t n_elements = 0;                   // of all tensors
  size_t n_fallbacks = 0;
  uint32_t file_type = 0;
  double bits_per_weight_before() const { return n_elements ? 8.0 * bytes_before / n_elements : 0; }
  double bits_per_weight_after() const { return n_elements ? 8.0 * bytes_after / n_elements : 0; }
};

// Reads in_path, writes out_path (through out_path + ".tmp", renamed at the end). Throws Error
// for an unreadable input, an unwritable output, out_path naming the input, quantized inputs
// to convert without allow_requantize, and tensor types that cannot be converted.
GgufQuantizeReport quantize_gguf(const std::string& in_path, const std::string& out_path,
                                 const GgufQuantizeOptions& options);

}  // namespace tokenmill
