// The model benchmark on the bundled tiny model: sample counts, positive rates, the work
// definitions, the profile covering the measured time, output formats, option errors.
// No timing thresholds: rates are only checked to be positive and finite.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "engine/model_bench.h"
#include "engine/model_loader.h"

namespace tokenmill {
namespace {

std::string bundled_model() {
  return std::string(TOKENMILL_SOURCE_DIR) + "/models/tokenmill-default.gguf";
}

class ModelBenchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = new LoadedModel(load_model(bundled_model())); }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  static ModelBenchOptions small_options() {
    ModelBenchOptions o;
    o.prompt_tokens = 16;
    o.gen_tokens = 4;
    o.repetitions = 2;
    o.threads = 2;
    o.measure_limits = false;
    return o;
  }
  static LoadedModel* model_;
};
LoadedModel* ModelBenchTest::model_ = nullptr;

TEST(SampleStats, MeanAndSampleSd) {
  const SampleStats s = sample_stats({2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0});
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  EXPECT_NEAR(s.sd, std::sqrt(32.0 / 7.0), 1e-12);
  EXPECT_EQ(sample_stats({3.0}).sd, 0.0);
  EXPECT_EQ(sample_stats({}).mean, 0.0);
}

TEST(BenchOptions, InvalidOptionsNameTheFlag) {
  auto message = [](const ModelBenchOptions& o) {
    try {
      validate_bench_options(o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  ModelBenchOptions o;
  o.prompt_tokens = 0;
  o.gen_tokens = 0;
  EXPECT_NE(message(o).find("both 0"), std::string::npos);
  o = {};
  o.threads = -1;
  EXPECT_NE(message(o).find("--threads"), std::string::npos);
  o = {};
  o.threads = kMaxBenchThreads + 1;
  EXPECT_NE(message(o).find("--threads"), std::string::npos);
  o = {};
  o.repetitions = 0;
  EXPECT_NE(message(o).find("--repetitions"), std::string::npos);
  o = {};
  o.batch_tokens = 0;
  EXPECT_NE(message(o).find("--batch-size"), std::string::npos);
  o = {};
  o.prompt_tokens = -5;
  EXPECT_NE(message(o).find("--n-prompt"), std::string::npos);
  EXPECT_EQ(message(ModelBenchOptions{}), "");
}

TEST_F(ModelBenchTest, WorkDefinitionsFollowTheWeights) {
  const ModelWork w = model_work(model_->weights);
  const ModelWeights& mw = model_->weights;
  double layer_bytes = 0;
  int64_t layer_params = 0;
  for (const LayerWeights& L : mw.layers) {
    for (const MatrixRef* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) {
      layer_bytes += double(m->nbytes());
      layer_params += m->rows * m->cols;
    }
  }
  EXPECT_EQ(w.layer_matmul_params, layer_params);
  EXPECT_EQ(w.lm_head_params, model_->config.vocab_size * model_->config.dim);
  EXPECT_DOUBLE_EQ(w.decode_bytes_per_token,
                   layer_bytes + double(mw.output.nbytes()) + double(mw.token_embd.row_bytes()));
  EXPECT_DOUBLE_EQ(w.prefill_ops_per_token, 2.0 * double(layer_params));
  EXPECT_EQ(w.size_bytes, mw.total_bytes);
  EXPECT_GT(w.n_params, layer_params);
  EXPECT_FALSE(w.weight_dtype.empty());
}

TEST_F(ModelBenchTest, SmallRunHasEverySampleAndPositiveRates) {
  const ModelBenchOptions o = small_options();
  int progress_lines = 0;
  const ModelBenchResult r =
      run_model_bench(model_->config, model_->weights, o, [&](const std::string&) { ++progress_lines; });
  ASSERT_EQ(r.tests.size(), 2u);
  EXPECT_EQ(r.tests[0].name, "pp16");
  EXPECT_TRUE(r.tests[0].prefill);
  EXPECT_EQ(r.tests[1].name, "tg4");
  EXPECT_FALSE(r.tests[1].prefill);
  for (const BenchTestResult& t : r.tests) {
    ASSERT_EQ(t.seconds.size(), 2u) << t.name;
    ASSERT_EQ(t.tokens_per_s.size(), 2u) << t.name;
    for (size_t i = 0; i < t.seconds.size(); ++i) {
      EXPECT_GT(t.seconds[i], 0.0);
      EXPECT_TRUE(std::isfinite(t.tokens_per_s[i]));
      EXPECT_NEAR(t.tokens_per_s[i], t.n_tokens / t.seconds[i], 1e-9 * t.tokens_per_s[i]);
    }
    EXPECT_GT(t.tps.mean, 0.0);
    EXPECT_GE(t.tps.sd, 0.0);
    EXPECT_GT(t.work_per_s, 0.0);
  }
  EXPECT_EQ(r.threads, 2);
  EXPECT_FALSE(r.limits.has_value());
  EXPECT_FALSE(r.profile.has_value());
  EXPECT_GT(progress_lines, 0);
  const BenchRatios ratios = bench_ratios(r);
  EXPECT_FALSE(ratios.decode_of_bandwidth.has_value());

  const std::string table = format_bench_markdown(r);
  EXPECT_NE(table.find("| pp16 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| tg4 |"), std::string::npos) << table;
  EXPECT_NE(table.find(" ± "), std::string::npos) << table;
  EXPECT_EQ(table.find("of roof"), std::string::npos) << table;

  const nlohmann::json j = bench_to_json(r);
  ASSERT_EQ(j["tests"].size(), 2u);
  EXPECT_EQ(j["tests"][0]["samples_ts"].size(), 2u);
  EXPECT_TRUE(j["limits"].is_null());
  EXPECT_TRUE(j["ratios"]["decode_of_bandwidth"].is_null());
}

TEST_F(ModelBenchTest, OnlyTheRequestedTestsRun) {
  ModelBenchOptions o = small_options();
  o.prompt_tokens = 0;
  o.repetitions = 1;
  ModelBenchResult r = run_model_bench(model_->config, model_->weights, o);
  ASSERT_EQ(r.tests.size(), 1u);
  EXPECT_EQ(r.tests[0].name, "tg4");
  o = small_options();
  o.gen_tokens = 0;
  o.batch_tokens = 5;  // pp16 in chunks of 5, 5, 5, 1
  o.repetitions = 1;
  r = run_model_bench(model_->config, model_->weights, o);
  ASSERT_EQ(r.tests.size(), 1u);
  EXPECT_EQ(r.tests[0].name, "pp16");
  EXPECT_EQ(r.batch_tokens, 5);
}

TEST_F(ModelBenchTest, ProfileCoversTheMeasuredTime) {
  ModelBenchOptions o = small_options();
  o.profile = true;
  o.prompt_tokens = 0;
  o.gen_tokens = 8;
  const ModelBenchResult r = run_model_bench(model_->config, model_->weights, o);
  ASSERT_TRUE(r.profile.has_value());
  const BenchProfile& p = *r.profile;
  EXPECT_EQ(p.tokens, 8);
  EXPECT_GT(p.wall_seconds, 0.0);
  // Op timers nest inside the wall interval and cover all but the glue between ops.
  const double ops_s = p.ops.total_seconds();
  EXPECT_LE(ops_s, p.wall_seconds * 1.0001);
  EXPECT_GE(ops_s, 0.5 * p.wall_seconds);
  // Every op of a decode step ran once per layer or once per token.
  const int64_t layers = model_->config.n_layers;
  EXPECT_EQ(p.ops.calls[size_t(OpKind::MatmulDown)], uint64_t(8 * layers));
  EXPECT_EQ(p.ops.calls[size_t(OpKind::LmHead)], 8u);
  const std::string table = format_bench_profile(r);
  EXPECT_NE(table.find("matmul_down"), std::string::npos) << table;
  EXPECT_NE(table.find("ms/token"), std::string::npos) << table;
  const nlohmann::json j = bench_to_json(r);
  EXPECT_EQ(j["profile"]["tokens"], 8);
}

TEST_F(ModelBenchTest, LimitsGiveRatios) {
  ModelBenchOptions o = small_options();
  o.repetitions = 1;
  o.measure_limits = true;
  o.limits.read_buffer_bytes = size_t(8) << 20;
  o.limits.passes = 1;
  o.limits.compute_pass_seconds = 0.005;
  const ModelBenchResult r = run_model_bench(model_->config, model_->weights, o);
  ASSERT_TRUE(r.limits.has_value());
  const BenchRatios ratios = bench_ratios(r);
  ASSERT_TRUE(ratios.decode_of_bandwidth.has_value());
  ASSERT_TRUE(ratios.prefill_of_int8.has_value());
  EXPECT_GT(*ratios.decode_of_bandwidth, 0.0);
  EXPECT_GT(*ratios.prefill_of_int8, 0.0);
  EXPECT_EQ(ratios.prefill_of_f32.has_value(), r.work.float_weights);
  const std::string table = format_bench_markdown(r);
  EXPECT_NE(table.find("of roof"), std::string::npos) << table;
  EXPECT_NE(table.find("machine limits"), std::string::npos) << table;
  const nlohmann::json j = bench_to_json(r);
  EXPECT_GT(j["limits"]["read_bw_gbs"].get<double>(), 0.0);
  EXPECT_FALSE(j["ratios"]["decode_of_bandwidth"].is_null());
}

// The f32 FMA roof applies to prefill where no matmul runs on int8 activations: float weights, or
// quantized ones with float activations throughout; the table names the activations.
TEST(BenchRatios, F32RoofWhereNoMatmulUsesInt8Activations) {
  ModelBenchResult r;
  r.limits = kernels::MachineLimits{};
  r.limits->f32_gflops = 100;
  r.limits->int8_gops = 400;
  BenchTestResult pp;
  pp.name = "pp8";
  pp.prefill = true;
  pp.work_per_s = 50e9;
  r.tests.push_back(pp);
  r.activations.int8_matrices = 3;
  EXPECT_FALSE(bench_ratios(r).prefill_of_f32.has_value());
  r.activations.float_matrices = 2;  // float+int8: still int8 for some
  EXPECT_FALSE(bench_ratios(r).prefill_of_f32.has_value());
  r.activations.int8_matrices = 0;
  ASSERT_TRUE(bench_ratios(r).prefill_of_f32.has_value());
  EXPECT_DOUBLE_EQ(*bench_ratios(r).prefill_of_f32, 0.5);
  EXPECT_DOUBLE_EQ(*bench_ratios(r).prefill_of_int8, 0.125);
  const std::string table = format_bench_markdown(r);
  EXPECT_NE(table.find("activations: float: 2 quantized matrices x f32 activations"), std::string::npos)
      << table;
  EXPECT_EQ(bench_to_json(r)["config"]["activations"], "float");
}

TEST_F(ModelBenchTest, TestLongerThanTheContextIsRefused) {
  ModelBenchOptions o = small_options();
  o.prompt_tokens = int32_t(model_->config.max_context) + 1;
  EXPECT_THROW(run_model_bench(model_->config, model_->weights, o), Error);
}

}  // namespace
}  // namespace tokenmill
