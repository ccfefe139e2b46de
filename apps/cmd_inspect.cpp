// `tokenmill inspect`: metadata, tensors with types and shapes, parameter count and bytes.
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "cli_common.h"
#include "core/error.h"
#include "engine/model_loader.h"
#include "core/cpu_features.h"
#include "formats/ggml_types.h"
#include "kernels/kernel_table.h"
#include "kernels/repack.h"

namespace tokenmill::cli {

namespace {

struct InspectFlags {
  ModelFlags model;
  bool no_tensors = false;
  size_t max_array = 8;
};

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", b, units[u]);
  return buf;
}

// Tensors, parameters and bytes of one storage type.
struct TypeTally {
  size_t tensors = 0;
  int64_t params = 0;
  size_t bytes = 0;
};

// The quantized matrices of a file (2-D, not the token embedding) by whether a float-activation
// kernel exists for their type; float_from_file: the file's tokenmill.activations is "float".
struct ActivationTally {
  size_t float_capable = 0, int8_only = 0;
  std::set<std::string> int8_only_types;
  bool float_from_file = false;
};

// What `--activations auto` (the default) does with this file, and what the other modes would.
void print_activations(const ActivationTally& a) {
  if (a.float_capable + a.int8_only == 0) return;
  std::string int8_only_types;
  for (const std::string& t : a.int8_only_types) int8_only_types += (int8_only_types.empty() ? "" : ", ") + t;
  if (!a.float_from_file) {
    std::printf("activations (--activations auto): quantized to int8 blocks per matmul\n");
    if (a.int8_only == 0)
      std::printf(
          "  (--activations float keeps them f32 for all %zu quantized matrices: weight-only quantization)\n",
          a.float_capable);
    else
      std::printf(
          "  (--activations float refuses this file: %zu quantized matrices are of types without a\n"
          "  float-activation kernel, %s; Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 have one)\n",
          a.int8_only, int8_only_types.c_str());
    return;
  }
  std::printf(
      "activations (--activations auto): f32 for %zu quantized matrices (%s = \"float\": weight-only\n"
      "  quantization, W4A16-style)",
      a.float_capable, kActivationsKey);
  if (a.int8_only > 0)
    std::printf("; int8 blocks for the %zu others (%s: no float-activation kernel)", a.int8_only,
                int8_only_types.c_str());
  std::printf("\n");
}

// How the weight types present are computed on this machine. repackable: the matrices a load
// repacks (kernels/repack.h) where the active kernels prefer it.
void print_weight_types(const std::map<std::string, TypeTally>& by_type, int64_t params, size_t bytes,
                        const TypeTally& repackable, const ActivationTally& activations) {
  std::printf("\nweight types (%.2f bits per weight overall):\n", params > 0 ? 8.0 * double(bytes) / double(params) : 0.0);
  for (const auto& [name, t] : by_type)
    std::printf("  %-6s %5zu tensors %14lld params %12s  %.2f bits/weight\n", name.c_str(), t.tensors,
                (long long)t.params, human_bytes(double(t.bytes)).c_str(),
                t.params > 0 ? 8.0 * double(t.bytes) / double(t.params) : 0.0);
  bool any_quantized = false;
  for (const auto& [name, t] : by_type) {
    DType d;
    if (!dtype_from_name(name, d)) {
      std::printf("  %s: no kernel for this type; a model using it cannot be loaded\n", name.c_str());
    } else if (dtype_is_quantized(d)) {
      any_quantized = true;
    }
  }
  const kernels::KernelTable& table = kernels::active_kernel_table();
  const std::string isa(isa_name(table.isa));
  if (any_quantized)
    std::printf(
        "compute: quantized weights are used from the mapped file (no dequantized copy); the dot\n"
        "  products run on the %s kernels\n",
        isa.c_str());
  print_activations(activations);
  if (repackable.tensors > 0 && table.prefers_repacked)
    std::printf("repacked at load: %zu Q4_0 / Q8_0 matrices (%s) into groups of 16 rows, read as one\n"
                "  stream each by the %s kernels (--no-repack computes them in place instead)\n",
                repackable.tensors, human_bytes(double(repackable.bytes)).c_str(), isa.c_str());
  else if (any_quantized)
    std::printf("repacked at load: none (all quantized weights are computed in place)\n");
}

// Whether a load repacks this tensor (model/weights.h repack_weights: every matrix but the token
// embedding). shape: outermost first.
bool repacked_at_load(const std::string& name, DType dtype, const std::vector<int64_t>& shape) {
  return name != "token_embd.weight" && shape.size() == 2 &&
         kernels::repack_supported(dtype, size_t(shape[0]), size_t(shape[1]));
}

void inspect(const InspectFlags& f) {
  const ModelFiles files = open_model_files(f.model.model);
  int64_t params = 0;
  size_t bytes = 0, count = 0;
  std::map<std::string, TypeTally> by_type;
  TypeTally repackable;
  ActivationTally activations;
  if (files.gguf) {
    const GgufFile& g = *files.gguf;
    try {
      const std::optional<std::string> key = g.get_string(kActivationsKey);
      activations.float_from_file = key && *key == "float";
    } catch (const Error&) {  // not a string: the metadata list shows it; a load would refuse it
    }
    std::printf("file: %s\nformat: GGUF v%u, %s, alignment %zu, %zu metadata keys, %zu tensors\n",
                g.path().c_str(), g.version(), human_bytes(double(g.file_size_bytes())).c_str(), g.alignment(),
                g.metadata().size(), g.tensors().size());
    std::printf("\nmetadata:\n");
    for (const GgufKv& kv : g.metadata())
      std::printf("  %-44s %s\n", kv.key.c_str(), kv.value.to_display(f.max_array).c_str());
    if (!f.no_tensors) std::printf("\ntensors:\n");
    for (const GgufTensor& t : g.tensors()) {
      std::vector<int64_t> shape(t.ne.rbegin(), t.ne.rend());
      if (!f.no_tensors)
        std::printf("  %-40s %-6s %-22s %s\n", t.name.c_str(), std::string(ggml_type_name(t.ggml_type)).c_str(),
                    shape_string(shape).c_str(), human_bytes(double(t.nbytes)).c_str());
      params += t.n_elements();
      bytes += t.nbytes;
      ++count;
      TypeTally& tally = by_type[std::string(ggml_type_name(t.ggml_type))];
      ++tally.tensors;
      tally.params += t.n_elements();
      tally.bytes += t.nbytes;
      DType dtype;
      if (!dtype_from_name(ggml_type_name(t.ggml_type), dtype)) continue;
      const bool matmul_matrix = shape.size() == 2 && t.name != "token_embd.weight";
      const bool float_capable = kernels::has_float_act_matmul(dtype);
      if (matmul_matrix && dtype_is_quantized(dtype)) {
        if (float_capable) {
          ++activations.float_capable;
        } else {
          activations.int8_only_types.insert(std::string(dtype_name(dtype)));
          ++activations.int8_only;
        }
      }
      // Matrices computed with float activations keep the file's layout.
      if (repacked_at_load(t.name, dtype, shape) && !(activations.float_from_file && float_capable)) {
        ++repackable.tensors;
        repackable.params += t.n_elements();
        repackable.bytes += t.nbytes;
      }
    }
  } else {
    const HfCheckpoint& hf = *files.hf;
    std::printf("file: %s\nformat: Hugging Face checkpoint, %zu tensors\n\nconfig.json:\n%s\n", hf.dir().c_str(),
                hf.tensors().size(), hf.config().dump(2).c_str());
    std::printf("tokenizer.json: %s\n", hf.tokenizer_json_path().value_or("(none)").c_str());
    if (!f.no_tensors) std::printf("\ntensors:\n");
    for (const TensorInfo& t : hf.tensors()) {
      if (!f.no_tensors)
        std::printf("  %-52s %-5s %-22s %s\n", t.name.c_str(), std::string(dtype_name(t.dtype)).c_str(),
                    shape_string(t.shape).c_str(), human_bytes(double(t.nbytes)).c_str());
      params += t.n_elements();
      bytes += t.nbytes;
      ++count;
      TypeTally& tally = by_type[std::string(dtype_name(t.dtype))];
      ++tally.tensors;
      tally.params += t.n_elements();
      tally.bytes += t.nbytes;
    }
  }
  std::printf("\nsummary: %zu tensors, %lld parameters (%.3f B), %s of tensor data\n", count, (long long)params,
              double(params) / 1e9, human_bytes(double(bytes)).c_str());
  print_weight_types(by_type, params, bytes, repackable, activations);
  // Architecture line when the file is a loadable model (vocab-only files are fine without).
  try {
    const ModelConfig c = files.gguf ? config_from_gguf(*files.gguf) : config_from_hf(files.hf->config(), files.path);
    std::printf("model: %s, dim %lld, %lld layers, %lld heads (%lld kv, head_dim %lld), ffn %lld, vocab %lld, "
                "context %lld%s%s%s\n",
                c.architecture.c_str(), (long long)c.dim, (long long)c.n_layers, (long long)c.n_heads,
                (long long)c.n_kv_heads, (long long)c.head_dim, (long long)c.ffn_dim, (long long)c.vocab_size,
                (long long)c.max_context, c.tied_embeddings ? ", tied embeddings" : "",
                c.qkv_bias ? ", qkv bias" : "", c.qk_norm ? ", qk norm" : "");
  } catch (const Error& e) {
    std::printf("model: not loadable as a model (%s)\n", e.what());
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto f = std::make_shared<InspectFlags>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show a model file's metadata, tensors, parameter count and size");
  f->model.add(*cmd, false);
  cmd->add_flag("--no-tensors", f->no_tensors, "Leave out the tensor list");
  cmd->add_option("--max-array", f->max_array, "Array items shown per metadata value");
  cmd->callback([f] { inspect(*f); });
}

}  // namespace tokenmill::cli
