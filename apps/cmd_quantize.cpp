// `tokenmill quantize`: writes a GGUF with quantized weight tensors.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli_common.h"
#include "core/error.h"
#include "engine/gguf_quantize.h"
#include "formats/ggml_types.h"

namespace tokenmill::cli {

namespace {

struct QuantizeFlags {
  std::string input, output, type;
  int threads = 0;
  bool allow_requantize = false;
};

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

double mib(size_t bytes) {
  return double(bytes) / (1 << 20);
}

void quantize(const QuantizeFlags& f) {
  const std::optional<QuantScheme> scheme = quant_scheme_from_name(f.type);
  check(scheme.has_value(),
        "unknown quantization type '" + f.type + "'; valid types: " + quant_scheme_names());
  const bool progress = isatty(STDERR_FILENO) != 0;
  GgufQuantizeOptions opt;
  opt.scheme = *scheme;
  opt.n_threads = f.threads;
  opt.allow_requantize = f.allow_requantize;
  opt.on_tensor_begin = [progress](size_t index, size_t count, const std::string& name) {
    if (progress) std::fprintf(stderr, "\r\033[K[%zu/%zu] %s", index + 1, count, name.c_str());
  };
  opt.on_tensor_done = [progress](const QuantizeTensorReport& t) {
    if (progress) std::fprintf(stderr, "\r\033[K");
    if (!t.fallback_note.empty())
      std::fprintf(stderr, "warning: %s: %s\n", t.name.c_str(), t.fallback_note.c_str());
    std::printf("%-36s %-20s %6s -> %-6s %10.3f MiB -> %10.3f MiB\n", t.name.c_str(),
                shape_string(t.shape).c_str(), std::string(ggml_type_name(t.from_type)).c_str(),
                std::string(ggml_type_name(t.to_type)).c_str(), mib(t.bytes_before), mib(t.bytes_after));
    std::fflush(stdout);
  };
  const GgufQuantizeReport r = quantize_gguf(f.input, f.output, opt);
  std::printf("type %s (general.file_type %u): %zu tensors, %zu fallbacks\n",
              std::string(quant_scheme_name(*scheme)).c_str(), r.file_type, r.tensors.size(), r.n_fallbacks);
  std::printf("size %.2f MiB -> %.2f MiB, %.3f -> %.3f bits per weight\n", mib(r.bytes_before),
              mib(r.bytes_after), r.bits_per_weight_before(), r.bits_per_weight_after());
  std::fflush(stdout);
  std::fprintf(stderr, "wrote %s\n", f.output.c_str());
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto f = std::make_shared<QuantizeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "quantize", "Write a copy of a GGUF model with quantized weight matrices (llama.cpp's schemes)");
  cmd->add_option("input", f->input, "Input .gguf (F32, F16 or BF16 weights)")->required();
  cmd->add_option("output", f->output, "Output .gguf")->required();
  cmd->add_option("type", f->type,
                  "Scheme, case-insensitive: " + quant_scheme_names() +
                      ". _S/_M are llama.cpp's k-quant mixtures (docs/quantization.md)")
      ->required();
  cmd->add_option("-t,--threads", f->threads, "Threads (0: all hardware threads)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--allow-requantize", f->allow_requantize,
                "Also convert tensors that are already quantized (quality drops further)");
  cmd->footer(
      "Prints one line per tensor (name, shape, type before -> after, size) and the totals;\n"
      "progress (on a terminal) and fallback warnings go to stderr.\n"
      "1-D tensors (norms, biases) are copied unchanged.");
  cmd->callback([f] { quantize(*f); });
}

}  // namespace tokenmill::cli
