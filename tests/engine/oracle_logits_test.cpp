// Logits, greedy generations and tokenization of tiny random-weight models against Hugging Face
// transformers (fixtures from python/oracle/gen_model_fixtures.py). Every case is checked through
// three paths: the HF checkpoint, the GGUF written independently by the gguf package, and the GGUF
// written by tokenmill's own converter.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/chat.h"
#include "engine/engine.h"
#include "engine/prompt_scorer.h"
#include "engine/hf_to_gguf.h"
#include "engine/model_loader.h"
#include "formats/npy.h"

namespace tokenmill {
namespace {

namespace fs = std::filesystem;

fs::path fixtures_dir() { return fs::path(TOKENMILL_SOURCE_DIR) / "tests/fixtures/models"; }

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  if (!fs::exists(fixtures_dir())) return names;
  for (const auto& e : fs::directory_iterator(fixtures_dir()))
    if (fs::exists(e.path() / "reference.json")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// Largest |ours - ref| over all entries, relative to the largest |ref| (logit scale).
double max_rel_error(const std::vector<float>& ours, const std::vector<float>& ref) {
  double max_diff = 0, max_ref = 1e-6;
  for (size_t i = 0; i < ref.size(); ++i) {
    max_diff = std::max(max_diff, double(std::fabs(ours[i] - ref[i])));
    max_ref = std::max(max_ref, double(std::fabs(ref[i])));
  }
  return max_diff / max_ref;
}

struct PathCase {
  std::string name;
  std::string path_kind;  // "hf", "gguf" (gguf package), "converted" (tokenmill convert)
};

void PrintTo(const PathCase& c, std::ostream* os) { *os << c.name << "/" << c.path_kind; }

class OracleTest : public ::testing::TestWithParam<PathCase> {};

std::string model_path(const PathCase& pc) {
  const fs::path dir = fixtures_dir() / pc.name;
  if (pc.path_kind == "hf") return (dir / "hf").string();
  if (pc.path_kind == "gguf") return (dir / "model.gguf").string();
  const fs::path out = fs::temp_directory_path() / ("tokenmill_oracle_" + pc.name + ".gguf");
  convert_hf_to_gguf((dir / "hf").string(), out.string(), ConvertOptions{});
  return out.string();
}

TEST_P(OracleTest, LogitsMatchTransformers) {
  const PathCase pc = GetParam();
  const fs::path dir = fixtures_dir() / pc.name;
  const nlohmann::json ref = read_json(dir / "reference.json");
  LoadedModel m = load_model(model_path(pc));
  ScorerOptions opt;
  opt.max_batch_tokens = 16;  // prompts longer than 16 tokens run as several chunks
  opt.threads = 2;
  PromptScorer gen(m, opt);
  const std::string dtype = ref.value("weights_dtype", "f32");
  // f32 compute everywhere; the reference runs the same (rounded) weights in f32 too.
  const double tol = 1e-4;
  for (const auto& p : ref["prompts"]) {
    const std::vector<int32_t> ids = p["ids"].get<std::vector<int32_t>>();
    const NpyArray want = read_npy_f32((dir / p["logits_npy"].get<std::string>()).string());
    ASSERT_EQ(want.shape.size(), 2u);
    ASSERT_EQ(want.shape[0], ids.size());
    const std::vector<float> got = gen.prompt_logits(ids, true);
    ASSERT_EQ(got.size(), want.data.size());
    const double err = max_rel_error(got, want.data);
    EXPECT_LT(err, tol) << pc.name << " via " << pc.path_kind << " (" << dtype << "), prompt of " << ids.size()
                        << " tokens";
    std::printf("[oracle] %-16s %-9s %-4s n=%-3zu max rel err %.2e\n", pc.name.c_str(), pc.path_kind.c_str(),
                dtype.c_str(), ids.size(), err);
    // The last-position path (used by generation) agrees with the all-positions path.
    const std::vector<float> last = gen.prompt_logits(ids, false);
    const size_t vocab = want.shape[1];
    std::vector<float> want_last(want.data.end() - long(vocab), want.data.end());
    EXPECT_LT(max_rel_error(last, want_last), tol);
  }
}

TEST_P(OracleTest, GreedyGenerationMatchesTransformers) {
  const PathCase pc = GetParam();
  const nlohmann::json ref = read_json(fixtures_dir() / pc.name / "reference.json");
  if (!ref.contains("greedy")) GTEST_SKIP() << "no greedy reference";
  LoadedModel m = load_model(model_path(pc));
  EngineConfig cfg;
  cfg.threads = 2;
  cfg.kv_cache_bytes = size_t(8) << 20;
  cfg.max_num_batched_tokens = 16;  // the 5-token prompts prefill in one chunk, decodes batch together
  Engine engine(m, cfg);
  // Every greedy reference at once: continuous batching must not change any of them.
  std::vector<std::shared_ptr<RequestStream>> streams;
  std::vector<std::vector<int32_t>> wants;
  for (const auto& g : ref["greedy"]) {
    GenerateRequest r;
    r.request_id = "g" + std::to_string(streams.size());
    r.prompt_ids = g["prompt_ids"].get<std::vector<int32_t>>();
    wants.push_back(g["generated_ids"].get<std::vector<int32_t>>());
    r.params.temperature = 0;
    r.params.max_tokens = int32_t(wants.back().size());
    r.params.ignore_eos = true;
    streams.push_back(engine.add_request(std::move(r)));
  }
  for (size_t i = 0; i < streams.size(); ++i) {
    std::vector<int32_t> got;
    for (;;) {
      RequestEvent ev;
      ASSERT_TRUE(streams[i]->next(ev, std::chrono::seconds(60))) << "timeout";
      for (const ChoiceDelta& d : ev.deltas) got.insert(got.end(), d.token_ids.begin(), d.token_ids.end());
      if (ev.done) break;
    }
    EXPECT_EQ(got, wants[i]) << pc.name << " via " << pc.path_kind;
  }
}

TEST_P(OracleTest, TokenizationMatchesTokenizersLibrary) {
  const PathCase pc = GetParam();
  const nlohmann::json ref = read_json(fixtures_dir() / pc.name / "reference.json");
  if (!ref.contains("tokenize")) GTEST_SKIP() << "no tokenization reference";
  const ModelFiles files = open_model_files(model_path(pc));
  const auto tok = load_tokenizer(files);
  for (const auto& t : ref["tokenize"]) {
    const std::string text = t["text"].get<std::string>();
    // Hugging Face tokenizers match added/special tokens written in the text.
    EXPECT_EQ(tok->encode(text, true, true), t["ids"].get<std::vector<int32_t>>())
        << pc.name << " via " << pc.path_kind << ": '" << text << "'";
  }
}

TEST_P(OracleTest, ChatTemplateMatchesTransformers) {
  const PathCase pc = GetParam();
  const nlohmann::json ref = read_json(fixtures_dir() / pc.name / "reference.json");
  if (!ref.contains("chat")) GTEST_SKIP() << "no chat reference";
  LoadedModel m = load_model(model_path(pc));
  ASSERT_FALSE(m.chat_template.empty()) << "the model's chat template was not loaded";
  ChatFormatter fmt(m.chat_template, *m.tokenizer);
  for (const auto& c : ref["chat"]) {
    const auto messages = nlohmann::ordered_json::parse(c["messages"].dump());
    const std::string text = fmt.render(messages, c["add_generation_prompt"].get<bool>());
    EXPECT_EQ(text, c["text"].get<std::string>()) << pc.name << " via " << pc.path_kind;
    EXPECT_EQ(fmt.tokenize(text), c["ids"].get<std::vector<int32_t>>()) << pc.name << " via " << pc.path_kind;
  }
}

std::vector<PathCase> all_cases() {
  std::vector<PathCase> out;
  for (const std::string& n : case_names())
    for (const char* kind : {"hf", "gguf", "converted"}) out.push_back({n, kind});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Models, OracleTest, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<PathCase>& info) {
                           return info.param.name + "_" + info.param.path_kind;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OracleTest);

TEST(OracleFixtures, Present) { EXPECT_GE(case_names().size(), 8u) << "run python/oracle/gen_model_fixtures.py"; }

}  // namespace
}  // namespace tokenmill
