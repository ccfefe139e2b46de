// Golden tests against Hugging Face tokenizers and sentencepiece: the fixtures under
// tests/fixtures/tokenizer/ (made by python/fixtures/gen_tokenizer_fixtures.py) hold, per
// vocabulary, the reference ids (with and without BOS/EOS) and decoded text for a broad string set.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "formats/gguf.h"
#include "tokenizer/streaming_detokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_loaders.h"
#include "tokenizer/utf8.h"

namespace tokenmill {
namespace {

const std::string kFixtureDir = TOKENMILL_SOURCE_DIR "/tests/fixtures/tokenizer/";

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return nlohmann::json::parse(in);
}

struct Fixture {
  nlohmann::json cases;
  Tokenizer tokenizer;
  bool lossless;
};

Fixture load_fixture(const std::string& name) {
  nlohmann::json root = read_json(kFixtureDir + name + ".cases.json");
  const std::string vocab_path = kFixtureDir + root["vocab_file"].get<std::string>();
  TokenizerSpec spec;
  if (vocab_path.ends_with(".gguf")) {
    spec = spec_from_gguf(GgufFile(vocab_path));
  } else {
    const nlohmann::json& config = root["config"];
    spec = spec_from_tokenizer_json(vocab_path, config.is_null() ? nullptr : &config);
  }
  return {root["cases"], Tokenizer(std::move(spec)), root["lossless"].get<bool>()};
}

std::string streamed(const Tokenizer& tokenizer, const std::vector<int32_t>& ids,
                     bool skip_special) {
  StreamingDetokenizer stream(tokenizer, skip_special);
  std::string text;
  for (int32_t id : ids) {
    const std::string chunk = stream.feed(id);
    EXPECT_TRUE(utf8::is_valid(chunk)) << "chunk after id " << id;
    text += chunk;
  }
  const std::string rest = stream.finish();
  EXPECT_TRUE(utf8::is_valid(rest));
  return text + rest;
}

class HfFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(HfFixture, EncodeMatchesReference) {
  const Fixture f = load_fixture(GetParam());
  ASSERT_GT(f.cases.size(), 50u);
  for (const auto& c : f.cases) {
    const std::string text = c["text"].get<std::string>();
    EXPECT_EQ(f.tokenizer.encode(text, false, true), c["ids"].get<std::vector<int32_t>>())
        << GetParam() << ": '" << text << "'";
    EXPECT_EQ(f.tokenizer.encode(text, true, true),
              c["ids_with_special"].get<std::vector<int32_t>>())
        << GetParam() << " (with BOS/EOS): '" << text << "'";
  }
}

TEST_P(HfFixture, DecodeMatchesReference) {
  const Fixture f = load_fixture(GetParam());
  for (const auto& c : f.cases) {
    const std::string text = c["text"].get<std::string>();
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(f.tokenizer.decode(ids), c["decoded"].get<std::string>()) << GetParam() << ": '" << text << "'";
    EXPECT_EQ(f.tokenizer.decode(ids, true), c["decoded_skip_special"].get<std::string>())
        << GetParam() << " (skip special): '" << text << "'";
    if (f.lossless) {
      EXPECT_EQ(f.tokenizer.decode(f.tokenizer.encode(text, false, true)), text) << GetParam();
    }
  }
}

TEST_P(HfFixture, StreamingEqualsDecode) {
  const Fixture f = load_fixture(GetParam());
  for (const auto& c : f.cases) {
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(streamed(f.tokenizer, ids, false), f.tokenizer.decode(ids)) << GetParam();
    EXPECT_EQ(streamed(f.tokenizer, ids, true), f.tokenizer.decode(ids, true)) << GetParam();
    const auto with_bos = c["ids_with_special"].get<std::vector<int32_t>>();
    EXPECT_EQ(streamed(f.tokenizer, with_bos, true), f.tokenizer.decode(with_bos, true)) << GetParam();
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfFixture,
                         ::testing::Values("gpt2", "llama3", "qwen2", "deepseek_llm",
                                           "deepseek_coder", "starcoder", "llama2_legacy",
                                           "metaspace_first", "sentencepiece_bpe"));

}  // namespace
}  // namespace tokenmill
