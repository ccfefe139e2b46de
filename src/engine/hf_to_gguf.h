// Converts a Hugging Face checkpoint directory to a GGUF file with llama.cpp's tensor names and
// metadata conventions (q/k rows of "llama"-arch models permuted for interleaved-pair rope,
// llama3 rope scaling as a rope_freqs.weight tensor, tokenizer.ggml.* keys), so other GGUF tools
// load the result.
#pragma once
#include <string>

namespace tokenmill {

enum class ConvertDType { Auto, F32, F16, BF16 };  // Auto: keep each matrix's stored dtype

struct ConvertOptions {
  ConvertDType out_dtype = ConvertDType::Auto;
  std::string name;  // general.name; default: the directory's name
};

struct ConvertReport {
  std::string architecture;
  size_t n_tensors = 0;
  size_t bytes_written = 0;
};

ConvertReport convert_hf_to_gguf(const std::string& hf_dir, const std::string& out_path,
                                 const ConvertOptions& options);

}  // namespace tokenmill
