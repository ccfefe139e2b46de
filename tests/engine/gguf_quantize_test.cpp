// `tokenmill quantize`'s logic: scheme names and file types, llama-quantize's mixture rules and
// row-length fallbacks, and a whole file converted and read back.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "core/error.h"
#include "engine/gguf_quantize.h"
#include "formats/ggml_types.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"

namespace tokenmill {
namespace {

constexpr uint32_t kF32 = uint32_t(GgmlType::F32), kF16 = uint32_t(GgmlType::F16);

TEST(QuantScheme, NamesAreCaseInsensitiveWithLlamaFileTypes) {
  const std::pair<const char*, uint32_t> cases[] = {
      {"f32", 0},     {"F16", 1},     {"bf16", 32},   {"q8_0", 7},    {"Q4_0", 2},    {"q4_1", 3},
      {"Q5_0", 8},    {"q5_1", 9},    {"q2_k", 10},   {"Q3_K_S", 11}, {"q3_k_m", 12}, {"Q4_K_S", 14},
      {"q4_k_m", 15}, {"Q5_K_S", 16}, {"Q5_K_M", 17}, {"q6_k", 18}};
  for (const auto& [name, file_type] : cases) {
    const auto s = quant_scheme_from_name(name);
    ASSERT_TRUE(s.has_value()) << name;
    EXPECT_EQ(quant_scheme_file_type(*s), file_type) << name;
  }
  EXPECT_EQ(quant_scheme_default_type(*quant_scheme_from_name("q4_k_m")), DType::Q4_K);
  EXPECT_EQ(quant_scheme_default_type(*quant_scheme_from_name("q3_k_s")), DType::Q3_K);
  for (const char* bad : {"", "Q4_K", "Q3_K_L", "q4_0 ", "IQ4_NL", "f64"})
    EXPECT_FALSE(quant_scheme_from_name(bad).has_value()) << bad;
  EXPECT_NE(quant_scheme_names().find("Q4_K_M"), std::string::npos);
}

// A dense llama-shaped tensor list: dim columns everywhere except ffn_down (ffn columns).
std::vector<QuantTensorDesc> llama_tensors(int n_layers, int64_t dim, int64_t ffn, bool output) {
  std::vector<QuantTensorDesc> t;
  t.push_back({"token_embd.weight", kF16, {dim, 1000}});
  for (int i = 0; i < n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    t.push_back({p + "attn_norm.weight", kF32, {dim}});
    t.push_back({p + "attn_q.weight", kF16, {dim, dim}});
    t.push_back({p + "attn_k.weight", kF16, {dim, dim / 4}});
    t.push_back({p + "attn_v.weight", kF16, {dim, dim / 4}});
    t.push_back({p + "attn_output.weight", kF16, {dim, dim}});
    t.push_back({p + "ffn_gate.weight", kF16, {dim, ffn}});
    t.push_back({p + "ffn_up.weight", kF16, {dim, ffn}});
    t.push_back({p + "ffn_down.weight", kF16, {ffn, dim}});
    t.push_back({p + "ffn_norm.weight", kF32, {dim}});
  }
  t.push_back({"output_norm.weight", kF32, {dim}});
  if (output) t.push_back({"output.weight", kF16, {dim, 1000}});
  return t;
}

// name -> type name of the plan.
std::map<std::string, std::string> plan_types(const std::vector<QuantTensorDesc>& tensors, const char* scheme,
                                              const QuantModelFacts& facts) {
  const auto plans = plan_quantization(tensors, *quant_scheme_from_name(scheme), facts);
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < tensors.size(); ++i)
    out[tensors[i].name] = std::string(ggml_type_name(plans[i].to_type));
  return out;
}

std::string layer_tensor(int i, const char* what) {
  return "blk." + std::to_string(i) + "." + what + ".weight";
}

TEST(QuantPlan, Q4KMGivesMoreBitsToAttnVAndFfnDownOfSelectedLayers) {
  const QuantModelFacts facts{"llama", 32, 32, 8, 0};
  const auto types = plan_types(llama_tensors(32, 4096, 11008, true), "Q4_K_M", facts);
  // use_more_bits for 32 layers: the first and last 4, and (i - 4) % 3 == 2 in between.
  const std::set<int> more = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31};
  for (int i = 0; i < 32; ++i) {
    const std::string want = more.count(i) ? "Q6_K" : "Q4_K";
    EXPECT_EQ(types.at(layer_tensor(i, "attn_v")), want) << i;
    EXPECT_EQ(types.at(layer_tensor(i, "ffn_down")), want) << i;
    EXPECT_EQ(types.at(layer_tensor(i, "attn_q")), "Q4_K") << i;
    EXPECT_EQ(types.at(layer_tensor(i, "ffn_up")), "Q4_K") << i;
    EXPECT_EQ(types.at("blk." + std::to_string(i) + ".attn_norm.weight"), "F32") << i;
  }
  EXPECT_EQ(types.at("output.weight"), "Q6_K");
  EXPECT_EQ(types.at("token_embd.weight"), "Q4_K");
}

TEST(QuantPlan, OtherMixtures) {
  const QuantModelFacts gqa4{"llama", 16, 32, 8, 0}, mha{"llama", 16, 32, 32, 0};
  const auto tensors = llama_tensors(16, 2048, 5632, true);
  auto q2 = plan_types(tensors, "Q2_K", gqa4);
  EXPECT_EQ(q2.at(layer_tensor(5, "attn_v")), "Q4_K");  // n_gqa >= 4
  EXPECT_EQ(q2.at(layer_tensor(5, "ffn_down")), "Q3_K");
  EXPECT_EQ(q2.at(layer_tensor(5, "attn_output")), "Q3_K");
  EXPECT_EQ(q2.at(layer_tensor(5, "ffn_gate")), "Q2_K");
  EXPECT_EQ(plan_types(tensors, "Q2_K", mha).at(layer_tensor(5, "attn_v")), "Q3_K");

  auto q3m = plan_types(tensors, "Q3_K_M", gqa4);
  EXPECT_EQ(q3m.at(layer_tensor(0, "attn_v")), "Q5_K");
  EXPECT_EQ(q3m.at(layer_tensor(1, "attn_v")), "Q5_K");
  EXPECT_EQ(q3m.at(layer_tensor(2, "attn_v")), "Q4_K");
  EXPECT_EQ(q3m.at(layer_tensor(0, "ffn_down")), "Q5_K");  // i < n / 16
  EXPECT_EQ(q3m.at(layer_tensor(1, "ffn_down")), "Q4_K");
  EXPECT_EQ(q3m.at(layer_tensor(1, "attn_output")), "Q4_K");
  EXPECT_EQ(q3m.at(layer_tensor(1, "ffn_up")), "Q3_K");

  auto q3s = plan_types(tensors, "Q3_K_S", gqa4);
  EXPECT_EQ(q3s.at(layer_tensor(0, "attn_v")), "Q3_K");
  EXPECT_EQ(q3s.at("output.weight"), "Q6_K");

  auto q4s = plan_types(tensors, "Q4_K_S", gqa4);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(q4s.at(layer_tensor(i, "attn_v")), i < 4 ? "Q5_K" : "Q4_K") << i;
    EXPECT_EQ(q4s.at(layer_tensor(i, "ffn_down")), i < 2 ? "Q5_K" : "Q4_K") << i;
  }
  auto q5m = plan_types(tensors, "Q5_K_M", gqa4);
  EXPECT_EQ(q5m.at(layer_tensor(0, "ffn_down")), "Q6_K");
  EXPECT_EQ(q5m.at(layer_tensor(3, "ffn_down")), "Q5_K");
  EXPECT_EQ(q5m.at(layer_tensor(4, "attn_v")), "Q6_K");  // (4 - 2) % 3 == 2
  auto q5s = plan_types(tensors, "Q5_K_S", gqa4);
  EXPECT_EQ(q5s.at(layer_tensor(0, "ffn_down")), "Q5_K");

  // The 32-block schemes only raise the output matrix; Q8_0 keeps it.
  auto q4 = plan_types(tensors, "Q4_0", gqa4);
  EXPECT_EQ(q4.at("output.weight"), "Q6_K");
  EXPECT_EQ(q4.at(layer_tensor(0, "attn_v")), "Q4_0");
  EXPECT_EQ(plan_types(tensors, "Q8_0", gqa4).at("output.weight"), "Q8_0");
  // Plain schemes convert every matrix and leave norms alone.
  auto f16 = plan_types(tensors, "BF16", gqa4);
  EXPECT_EQ(f16.at("output.weight"), "BF16");
  EXPECT_EQ(f16.at("output_norm.weight"), "F32");
}

TEST(QuantPlan, SeventyBGivesAttnVFiveBits) {
  const QuantModelFacts facts{"llama", 80, 64, 8, 0};
  const auto types = plan_types(llama_tensors(80, 8192, 28672, true), "Q4_K_S", facts);
  EXPECT_EQ(types.at(layer_tensor(10, "attn_v")), "Q5_K");
  EXPECT_EQ(types.at(layer_tensor(10, "attn_q")), "Q4_K");
}

TEST(QuantPlan, TiedEmbeddingsTakeTheOutputRule) {
  const QuantModelFacts facts{"llama", 4, 8, 8, 0};
  const auto types = plan_types(llama_tensors(4, 512, 1024, false), "Q4_K_M", facts);
  EXPECT_EQ(types.at("token_embd.weight"), "Q6_K");
}

TEST(QuantPlan, RowLengthFallbacks) {
  const QuantModelFacts facts{"llama", 4, 4, 4, 0};
  // dim 96: whole 32-blocks, no whole super-blocks; ffn 40: no whole blocks at all.
  const auto tensors = llama_tensors(4, 96, 40, true);
  const auto plans = plan_quantization(tensors, QuantScheme::Q4_K_M, facts);
  std::map<std::string, QuantTensorPlan> by_name;
  for (size_t i = 0; i < tensors.size(); ++i) by_name[tensors[i].name] = plans[i];
  EXPECT_EQ(by_name.at(layer_tensor(1, "attn_q")).to_type, uint32_t(GgmlType::Q5_0));
  EXPECT_NE(by_name.at(layer_tensor(1, "attn_q")).fallback_note.find("using Q5_0"), std::string::npos);
  EXPECT_EQ(by_name.at(layer_tensor(3, "attn_v")).to_type, uint32_t(GgmlType::Q8_0));  // Q6_K
  EXPECT_EQ(by_name.at(layer_tensor(1, "ffn_down")).to_type, kF16);                    // 40 columns
  EXPECT_FALSE(by_name.at(layer_tensor(1, "ffn_down")).convert);                       // already F16: copied
  // The output rule itself picks Q8_0 when super-blocks do not fit: no fallback note.
  EXPECT_EQ(by_name.at("output.weight").to_type, uint32_t(GgmlType::Q8_0));
  EXPECT_TRUE(by_name.at("output.weight").fallback_note.empty());
  const auto q3 = plan_quantization(tensors, QuantScheme::Q3_K_S, facts);
  EXPECT_EQ(q3[2].to_type, uint32_t(GgmlType::Q4_0));  // blk.0.attn_q: Q3_K -> Q4_0
}

// --- whole files ---------------------------------------------------------------------------

class ScratchFile {
 public:
  explicit ScratchFile(const std::string& name)
      : path_((std::filesystem::temp_directory_path() /
               ("tokenmill_quantize_" + std::to_string(::getpid()) + "_" + name))
                  .string()) {}
  ~ScratchFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A two-layer model with F32 and F16 matrices of 256 columns and F32 norms.
void write_tiny_model(const std::string& path) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_u32("llama.block_count", 2);
  w.add_u32("llama.attention.head_count", 4);
  w.add_u32("general.file_type", 0);
  w.add_string("test.kept", "yes");
  auto add = [&](const std::string& name, std::vector<int64_t> shape, GgmlType type) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<std::byte> bytes(size_t(n) * (type == GgmlType::F32 ? 4 : 2));
    for (int64_t i = 0; i < n; ++i) {
      const float v = shape.size() == 1 ? 1.0f : normal(rng);
      if (type == GgmlType::F32) {
        std::memcpy(bytes.data() + 4 * i, &v, 4);
      } else {
        const uint16_t h = f32_to_fp16(v);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      }
    }
    w.add_tensor(name, type, std::move(shape), bytes);
  };
  add("token_embd.weight", {16, 256}, GgmlType::F16);
  for (int i = 0; i < 2; ++i) {
    add(layer_tensor(i, "attn_norm"), {256}, GgmlType::F32);
    add(layer_tensor(i, "attn_v"), {64, 256}, GgmlType::F32);
    add(layer_tensor(i, "ffn_down"), {256, 256}, GgmlType::F16);
  }
  add("output.weight", {16, 256}, GgmlType::F16);
  w.write(path);
}

TEST(QuantizeGguf, WritesScheme) {
  ScratchFile in("in.gguf"), out("out.gguf");
  write_tiny_model(in.path());
  GgufQuantizeOptions opt;
  opt.scheme = QuantScheme::Q4_K_M;
  opt.n_threads = 2;
  size_t begun = 0, done = 0;
  opt.on_tensor_begin = [&](size_t index, size_t count, const std::string&) {
    EXPECT_EQ(index, begun++);
    EXPECT_EQ(count, 8u);
  };
  opt.on_tensor_done = [&](const QuantizeTensorReport&) { ++done; };
  const GgufQuantizeReport r = quantize_gguf(in.path(), out.path(), opt);
  EXPECT_EQ(begun, 8u);
  EXPECT_EQ(done, 8u);
  EXPECT_EQ(r.file_type, 15u);
  EXPECT_LT(r.bytes_after, r.bytes_before / 2);
  EXPECT_GT(r.bits_per_weight_after(), 4.0);
  EXPECT_LT(r.bits_per_weight_after(), 8.0);

  const GgufFile g(out.path());
  EXPECT_EQ(g.get_int("general.file_type"), 15);
  EXPECT_EQ(g.get_int("general.quantization_version"), 2);
  EXPECT_EQ(g.get_string("test.kept"), "yes");
  ASSERT_EQ(g.tensors().size(), 8u);
  auto type_of = [&](const std::string& name) {
    return std::string(ggml_type_name(g.find_tensor(name)->ggml_type));
  };
  EXPECT_EQ(type_of("token_embd.weight"), "Q4_K");
  EXPECT_EQ(type_of("output.weight"), "Q6_K");
  EXPECT_EQ(type_of(layer_tensor(0, "attn_norm")), "F32");
  // Two layers: use_more_bits holds for layer 1 (the last eighth), not for layer 0.
  EXPECT_EQ(type_of(layer_tensor(0, "attn_v")), "Q4_K");
  EXPECT_EQ(type_of(layer_tensor(1, "attn_v")), "Q6_K");
  EXPECT_EQ(type_of(layer_tensor(0, "ffn_down")), "Q4_K");
  EXPECT_EQ(type_of(layer_tensor(1, "ffn_down")), "Q6_K");
  const TensorInfo info = g.tensor_info(*g.find_tensor(layer_tensor(1, "ffn_down")));
  EXPECT_EQ(info.dtype, DType::Q6_K);
  EXPECT_EQ(info.shape, (std::vector<int64_t>{256, 256}));
}

TEST(QuantizeGguf, RefusesRequantizingAndBadPaths) {
  ScratchFile in("in2.gguf"), q8("q8.gguf"), q4("q4.gguf");
  write_tiny_model(in.path());
  GgufQuantizeOptions opt;
  opt.scheme = QuantScheme::Q8_0;
  quantize_gguf(in.path(), q8.path(), opt);
  opt.scheme = QuantScheme::Q4_0;
  try {
    quantize_gguf(q8.path(), q4.path(), opt);
    ADD_FAILURE() << "requantized without allow_requantize";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already quantized"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(q4.path()));
  opt.allow_requantize = true;
  EXPECT_NO_THROW(quantize_gguf(q8.path(), q4.path(), opt));
  EXPECT_THROW(quantize_gguf(in.path(), in.path(), opt), Error);
  EXPECT_THROW(quantize_gguf(in.path() + ".missing", q4.path(), opt), Error);
  EXPECT_THROW(quantize_gguf(in.path(), "/nonexistent-dir/x/out.gguf", opt), Error);
}

}  // namespace
}  // namespace tokenmill
