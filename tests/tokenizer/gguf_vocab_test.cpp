// Conformance with real vocabularies: every case of /work/shared/testdata/vocab/*.gguf.inp must
// tokenize to the ids in the matching .out (produced by Hugging Face tokenizers / sentencepiece),
// and decode back to the input where the vocabulary is lossless.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "formats/gguf.h"
#include "tokenizer/streaming_detokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_loaders.h"

namespace tokenmill {
namespace {

const std::string kVocabDir = TOKENMILL_SOURCE_DIR "/../shared/testdata/vocab/";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

// .inp: inputs each followed by "\n__ggml_vocab_test__\n"; .out: one line of ids per input.
std::vector<VocabCase> read_cases(const std::string& name) {
  const std::string inp = read_file(kVocabDir + "ggml-vocab-" + name + ".gguf.inp");
  const std::string out = read_file(kVocabDir + "ggml-vocab-" + name + ".gguf.out");
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<VocabCase> cases;
  size_t pos = 0;
  while (true) {
    const size_t end = inp.find(separator, pos);
    if (end == std::string::npos) break;
    cases.push_back({inp.substr(pos, end - pos), {}});
    pos = end + separator.size();
  }
  std::istringstream lines(out);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line) && i < cases.size()) {
    std::istringstream ids(line);
    int32_t id;
    while (ids >> id) cases[i].ids.push_back(id);
    ++i;
  }
  EXPECT_EQ(i, cases.size()) << name << ": .out has fewer lines than .inp has cases";
  return cases;
}

class GgufVocab : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufVocab, MatchesReferenceIds) {
  const std::string name = GetParam();
  const GgufFile gguf(kVocabDir + "ggml-vocab-" + name + ".gguf");
  const Tokenizer tokenizer(spec_from_gguf(gguf));
  const auto cases = read_cases(name);
  ASSERT_GT(cases.size(), 30u);
  for (const auto& c : cases) {
    EXPECT_EQ(tokenizer.encode(c.text, /*add_special=*/false, /*parse_special=*/false), c.ids)
        << name << ": input '" << c.text << "'";
  }
}

TEST_P(GgufVocab, DecodeAndStreamRoundTrip) {
  const std::string name = GetParam();
  const GgufFile gguf(kVocabDir + "ggml-vocab-" + name + ".gguf");
  const Tokenizer tokenizer(spec_from_gguf(gguf));
  for (const auto& c : read_cases(name)) {
    const std::string decoded = tokenizer.decode(c.ids);
    StreamingDetokenizer stream(tokenizer);
    std::string streamed;
    for (int32_t id : c.ids) streamed += stream.feed(id);
    streamed += stream.finish();
    EXPECT_EQ(streamed, decoded) << name << ": input '" << c.text << "'";
    // SentencePiece vocabularies add a space prefix that decode strips again; byte-level BPE is
    // lossless outright. (Llama's SentencePiece keeps leading spaces: " Hello" -> "▁▁Hello".)
    EXPECT_EQ(decoded, c.text) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, GgufVocab,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "deepseek-llm",
                                           "starcoder"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace tokenmill
