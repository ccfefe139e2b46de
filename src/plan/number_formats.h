// The number formats `tokenmill plan` can price: how weights are stored (as in the checkpoint,
// a float type, one of llama.cpp's GGUF schemes, or the GPU formats FP8 / INT8 / INT4 W4A16 /
// NVFP4 / MXFP4) and how the KV cache is stored. Each gives exact bytes per tensor, scales and
// zero points included, and the class of arithmetic a matmul runs at (which peak of a device applies).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/gguf_quantize.h"
#include "plan/model_shape.h"

namespace tokenmill::plan {

// The peak a matmul runs at: weights in FP8 with FP8 activations use the FP8 tensor cores, INT4
// weights with 16-bit activations (W4A16) the BF16 ones, GGUF quantized types int8 dot products
// (llama.cpp's and tokenmill's kernels quantize activations to int8).
enum class ComputeClass { F32, BF16, FP8, INT8, FP4 };
const char* compute_class_name(ComputeClass c);

enum class WeightFormatKind { Source, Float, Gguf, Fp8, Int8, Int4, Nvfp4, Mxfp4 };

struct WeightFormat {
  std::string name;                     // as shown: "source", "bf16", "Q4_K_M", "fp8", ...
  WeightFormatKind kind = WeightFormatKind::Source;
  uint32_t float_type = 0;              // Float: ggml id of F32 / F16 / BF16
  QuantScheme scheme = QuantScheme::Q8_0;  // Gguf
  std::string how;                      // one line: layout, scales, what stays in 16 bits
};

// "source" (the checkpoint's own types), "f32", "f16", "bf16", "fp8" (E4M3, f32 scale per 128x128
// block), "int8" (per-channel f32 scale), "int4" (GPTQ/AWQ W4A16: groups of 128 with f16 scale and
// 4-bit zero), "nvfp4" (E2M1, E4M3 scale per 16), "mxfp4" (E2M1, E8M0 scale per 32), or a GGUF
// scheme (Q8_0, Q4_0, Q4_K_M, ... as `tokenmill quantize`). Case-insensitive. Throws Error listing
// the names.
WeightFormat parse_weight_format(const std::string& name);
std::string weight_format_names();

// Bytes of a model's weights in a format, split by what a decode step reads of them.
struct WeightBytes {
  double total = 0;
  double embedding = 0;        // token_embd (a decode step reads one row per token)
  double embedding_row = 0;    // bytes of one row
  double layers_dense = 0;     // every layer tensor except routed experts (read every step)
  double experts = 0;          // routed experts of all layers (a step reads the ones its tokens chose)
  double output = 0;           // LM head (0 when tied: the embedding is read in full instead)
  std::map<std::string, int64_t> type_counts;  // matrices per stored type ("Q4_K" -> 169)
  std::vector<uint32_t> types;  // per tensor of the shape: ggml type (BF16 for a GPU format's matrices)
  ComputeClass compute = ComputeClass::BF16;   // of most of the weight bytes
  // Average bits per parameter over all tensors.
  double bits_per_weight(double params) const { return params > 0 ? 8.0 * total / params : 0; }
};
WeightBytes weight_bytes(const ModelShape& shape, const WeightFormat& format);

struct KvFormat {
  std::string name;             // "f32", "f16", "bf16", "fp8", "int8", "q8_0", "q4_0"
  double bytes_per_value = 2;   // scales included (q8_0: 34 bytes per 32 values)
};
KvFormat parse_kv_format(const std::string& name);
std::string kv_format_names();

}  // namespace tokenmill::plan
