// Unit tests: UTF-8 handling, special-token parsing, end-of-generation ids, streaming edge cases,
// and bad input (corrupt specs, out-of-range ids, invalid UTF-8, unsupported tokenizer.json).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/streaming_detokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_loaders.h"
#include "tokenizer/utf8.h"

namespace tokenmill {
namespace {

const std::string kFixtureDir = TOKENMILL_SOURCE_DIR "/tests/fixtures/tokenizer/";
const std::string kVocabDir = TOKENMILL_SOURCE_DIR "/../shared/testdata/vocab/";

Tokenizer fixture_tokenizer(const std::string& name) {
  return Tokenizer(spec_from_tokenizer_json(kFixtureDir + name + ".tokenizer.json", nullptr));
}

// A byte-level BPE spec over the 256 byte pieces plus "ab" and "abc".
TokenizerSpec tiny_byte_level_spec() {
  TokenizerSpec spec;
  spec.model = TokenizerModel::bpe;
  spec.byte_level = true;
  spec.pre_name = "gpt2";
  for (int b = 0; b < 256; ++b) spec.tokens.push_back(byte_level_encode(std::string(1, char(b))));
  spec.tokens.push_back("ab");
  spec.tokens.push_back("abc");
  spec.tokens.push_back("<|end|>");
  spec.types.assign(spec.tokens.size(), TokenType::normal);
  spec.types.back() = TokenType::control;
  spec.merges = {{"a", "b"}, {"ab", "c"}};
  return spec;
}

TEST(Utf8, SanitizeReplacesMaximalSubparts) {
  // Unicode 15, section 3.9, Table 3-8: one U+FFFD per maximal subpart.
  const std::string bad = "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64";
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(utf8::sanitize(bad), "a" + r + r + r + "b" + r + "c" + r + r + "d");
  EXPECT_EQ(utf8::sanitize("\xED\xA0\x80"), r + r + r);  // surrogate: three subparts
  EXPECT_EQ(utf8::sanitize("\xC0\xAF"), r + r);          // overlong
  EXPECT_EQ(utf8::sanitize("ok \xE2\x82\xAC"), "ok \xE2\x82\xAC");
  EXPECT_EQ(utf8::incomplete_tail_length("x\xF0\x9F\xA6"), 3u);
  EXPECT_EQ(utf8::incomplete_tail_length("x\xF0\x9F\xA6\x99"), 0u);
  EXPECT_EQ(utf8::incomplete_tail_length("x\xED\xA0"), 0u);  // can never complete
}

TEST(ByteLevel, RoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(char(b));
  const std::string mapped = byte_level_encode(all);
  EXPECT_TRUE(utf8::is_valid(mapped));
  EXPECT_EQ(byte_level_encode(" "), "\xC4\xA0");  // "Ġ"
  EXPECT_EQ(byte_level_decode(mapped), all);
  EXPECT_FALSE(byte_level_decode("\xE4\xBD\xA0").has_value());  // 你: not in the alphabet
}

TEST(Tokenizer, MergesByRank) {
  const Tokenizer t(tiny_byte_level_spec());
  EXPECT_EQ(t.encode("abc", false, false), (std::vector<int32_t>{257}));
  EXPECT_EQ(t.encode("abd", false, false), (std::vector<int32_t>{256, 'd'}));
  EXPECT_EQ(t.decode(std::vector<int32_t>{257, ' ', 256}), "abc ab");
}

TEST(Tokenizer, SpecialTokensNeedParseSpecial) {
  const Tokenizer t(tiny_byte_level_spec());
  EXPECT_EQ(t.encode("a<|end|>", false, true), (std::vector<int32_t>{'a', 258}));
  const auto as_text = t.encode("a<|end|>", false, false);
  EXPECT_EQ(as_text.size(), 8u);
  EXPECT_EQ(t.decode(as_text), "a<|end|>");
  EXPECT_TRUE(t.is_special(258));
  EXPECT_FALSE(t.is_special('a'));
  EXPECT_EQ(t.decode(std::vector<int32_t>{'a', 258}, /*skip_special=*/true), "a");
}

TEST(Tokenizer, PlainAddedTokensAlwaysMatchAndLstripWorks) {
  const Tokenizer t = fixture_tokenizer("gpt2");
  const int32_t user = t.piece_to_id("[USER]");
  const int32_t mask = t.piece_to_id("<mask>");
  ASSERT_GE(user, 0);
  ASSERT_GE(mask, 0);
  EXPECT_EQ(t.token_type(user), TokenType::user_defined);
  const auto ids = t.encode("x[USER]", false, false);
  EXPECT_EQ(ids.back(), user);
  // <mask> has lstrip: the spaces before it belong to the token.
  const auto masked = t.encode("a   <mask>", false, true);
  ASSERT_EQ(masked.size(), 2u);
  EXPECT_EQ(masked[1], mask);
}

TEST(Tokenizer, EndOfGenerationIds) {
  const Tokenizer qwen(spec_from_tokenizer_json(kFixtureDir + "qwen2.tokenizer.json", nullptr));
  const int32_t im_end = qwen.piece_to_id("<|im_end|>");
  const int32_t endoftext = qwen.piece_to_id("<|endoftext|>");
  EXPECT_TRUE(qwen.is_end_of_generation(im_end));
  EXPECT_TRUE(qwen.is_end_of_generation(endoftext));
  EXPECT_FALSE(qwen.is_end_of_generation(qwen.piece_to_id("<|im_start|>")));

  const GgufFile phi3(kVocabDir + "ggml-vocab-phi-3.gguf");
  const Tokenizer t(spec_from_gguf(phi3));
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.eos_id(), 32000);
  EXPECT_TRUE(t.is_end_of_generation(32007));  // <|end|>
  EXPECT_TRUE(t.is_end_of_generation(32000));
  EXPECT_EQ(t.encode("Hi", true, false).front(), 1);
}

TEST(Tokenizer, SpecialTokenIdsAndTemplates) {
  nlohmann::json config = {{"bos_token", "<|begin_of_text|>"}, {"eos_token", "<|eot_id|>"}};
  const Tokenizer t(spec_from_tokenizer_json(kFixtureDir + "llama3.tokenizer.json", &config));
  EXPECT_EQ(t.bos_id(), t.piece_to_id("<|begin_of_text|>"));
  EXPECT_EQ(t.eos_id(), t.piece_to_id("<|eot_id|>"));
  EXPECT_TRUE(t.spec().add_bos);
  EXPECT_TRUE(t.spec().ignore_merges);
  EXPECT_EQ(t.spec().pre_name, "llama3");
  // Named sets are recognised in tokenizer.json files, including regexes with literal non-ASCII.
  for (const char* name : {"gpt2", "qwen2", "deepseek_llm", "deepseek_coder", "starcoder"}) {
    std::string expected = name;
    std::replace(expected.begin(), expected.end(), '_', '-');
    EXPECT_EQ(fixture_tokenizer(name).spec().pre_name, expected) << name;
  }
  config["add_bos_token"] = false;
  const Tokenizer no_bos(spec_from_tokenizer_json(kFixtureDir + "llama3.tokenizer.json", &config));
  EXPECT_EQ(no_bos.encode("hi", true, true), no_bos.encode("hi", false, true));
}

TEST(Streaming, HoldsBackSplitCharacters) {
  const Tokenizer t(tiny_byte_level_spec());
  StreamingDetokenizer stream(t);
  // "🦙" is F0 9F A6 99: nothing is emitted until its last byte arrives.
  EXPECT_EQ(stream.feed(0xF0), "");
  EXPECT_EQ(stream.feed(0x9F), "");
  EXPECT_EQ(stream.feed(0xA6), "");
  EXPECT_EQ(stream.pending_bytes(), 3u);
  EXPECT_EQ(stream.feed(0x99), "\xF0\x9F\xA6\x99");
  // An interrupted sequence becomes U+FFFD as soon as it is known to be broken.
  EXPECT_EQ(stream.feed(0xE2), "");
  EXPECT_EQ(stream.feed('x'), "\xEF\xBF\xBDx");
  // A truncated sequence at the end is flushed as U+FFFD.
  EXPECT_EQ(stream.feed(0xE2), "");
  EXPECT_EQ(stream.finish(), "\xEF\xBF\xBD");
}

TEST(Streaming, RandomIdsMatchDecode) {
  const Tokenizer t = fixture_tokenizer("qwen2");
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> any_id(0, t.n_vocab() - 1);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<int32_t> ids(1 + trial % 23);
    for (auto& id : ids) id = any_id(rng);
    StreamingDetokenizer stream(t);
    std::string text;
    for (int32_t id : ids) {
      const std::string chunk = stream.feed(id);
      ASSERT_TRUE(utf8::is_valid(chunk));
      text += chunk;
    }
    text += stream.finish();
    EXPECT_EQ(text, t.decode(ids));
    EXPECT_TRUE(utf8::is_valid(text));
  }
}

TEST(Streaming, SentencePieceLeadingSpaceStrippedOnce) {
  const GgufFile llama(kVocabDir + "ggml-vocab-llama-spm.gguf");
  const Tokenizer t(spec_from_gguf(llama));
  const auto ids = t.encode("Hello world", true, false);  // <s> ▁Hello ▁world
  StreamingDetokenizer stream(t, /*skip_special=*/true);
  std::string text;
  for (int32_t id : ids) text += stream.feed(id);
  text += stream.finish();
  EXPECT_EQ(text, "Hello world");
  EXPECT_EQ(t.decode(ids, true), "Hello world");
  EXPECT_EQ(t.decode(ids, false), "<s> Hello world");
}

TEST(BadInput, InvalidUtf8TextIsReplacedNotFatal) {
  const Tokenizer t = fixture_tokenizer("llama3");
  const std::string bad = "ok\xFF\xFE \xC3 end\xE2\x82";
  const auto ids = t.encode(bad, true, true);
  EXPECT_EQ(t.decode(ids, true), utf8::sanitize(bad));
  const GgufFile llama(kVocabDir + "ggml-vocab-llama-spm.gguf");
  const Tokenizer spm(spec_from_gguf(llama));
  EXPECT_EQ(spm.decode(spm.encode(bad, false, false)), utf8::sanitize(bad));
  std::mt19937 rng(7);
  for (int trial = 0; trial < 100; ++trial) {
    std::string noise(1 + trial, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    EXPECT_NO_THROW(t.decode(t.encode(noise, true, true)));
    EXPECT_NO_THROW(spm.decode(spm.encode(noise, true, true)));
  }
}

TEST(BadInput, DecodeRejectsIdsOutOfRange) {
  const Tokenizer t(tiny_byte_level_spec());
  EXPECT_THROW(t.decode(std::vector<int32_t>{1, t.n_vocab()}), Error);
  EXPECT_THROW(t.decode(std::vector<int32_t>{-1}), Error);
  EXPECT_THROW(t.token_to_piece(100000), Error);
  StreamingDetokenizer stream(t);
  EXPECT_THROW(stream.feed(-5), Error);
}

TEST(BadInput, CorruptSpecsThrow) {
  auto spec = tiny_byte_level_spec();
  spec.merges.push_back({"a", "zz"});
  EXPECT_THROW(Tokenizer{spec}, Error);

  spec = tiny_byte_level_spec();
  spec.merges.push_back({"b", "c"});  // "bc" is not a token
  EXPECT_THROW(Tokenizer{spec}, Error);

  spec = tiny_byte_level_spec();
  spec.scores = {1.0f, 2.0f};
  EXPECT_THROW(Tokenizer{spec}, Error);

  spec = tiny_byte_level_spec();
  spec.eos_id = 9999;
  EXPECT_THROW(Tokenizer{spec}, Error);

  spec = tiny_byte_level_spec();
  spec.pre_name = "no-such-pre-tokenizer";
  EXPECT_THROW(Tokenizer{spec}, Error);

  spec = tiny_byte_level_spec();
  spec.pre_regexes = {"(unclosed"};
  EXPECT_THROW(Tokenizer{spec}, Error);

  spec = tiny_byte_level_spec();
  spec.tokens.clear();
  spec.types.clear();
  EXPECT_THROW(Tokenizer{spec}, Error);
}

class TempFile {
 public:
  explicit TempFile(const std::string& contents)
      : path_(std::filesystem::temp_directory_path() /
              ("tm_tok_" + std::to_string(std::random_device{}()) + ".json")) {
    std::ofstream(path_, std::ios::binary) << contents;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(BadInput, TokenizerJsonErrorsNameTheProblem) {
  const auto message_of = [](const std::string& contents) -> std::string {
    TempFile file(contents);
    try {
      spec_from_tokenizer_json(file.path(), nullptr);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(message_of("{ not json").find(".json"), std::string::npos);
  EXPECT_NE(message_of(R"({"model": {"type": "Unigram", "vocab": []}})").find("Unigram"),
            std::string::npos);
  EXPECT_NE(message_of(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                          "pre_tokenizer": {"type": "Whitespace"}})")
                .find("Whitespace"),
            std::string::npos);
  EXPECT_NE(message_of(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                          "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "ByteLevel"}})")
                .find("Lowercase"),
            std::string::npos);
  EXPECT_NE(message_of(R"({"model": {"type": "BPE", "vocab": {"a": "zero"}}})"), "no error");
  EXPECT_NE(message_of(R"({"model": {"type": "BPE", "vocab": {"a": -3}}})"), "no error");
  EXPECT_NE(message_of(R"([1, 2])"), "no error");
  EXPECT_THROW(spec_from_tokenizer_json("/nonexistent/tokenizer.json", nullptr), Error);
  // A merge naming an unknown piece passes the loader and fails when building the Tokenizer.
  TempFile merge_file(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2},
                           "merges": ["a b", "a x"]}, "pre_tokenizer": {"type": "ByteLevel"}})");
  EXPECT_THROW(Tokenizer(spec_from_tokenizer_json(merge_file.path(), nullptr)), Error);
}

}  // namespace
}  // namespace tokenmill

namespace tokenmill {
namespace {

// tokenizer.json's NFC normalizer (Qwen2): decomposed input tokenizes as its composed form.
// Expected ids from the Hugging Face tokenizers package on the same file.
TEST(Tokenizer, NfcNormalizerComposesBeforeTokenizing) {
  const std::string path = TOKENMILL_SOURCE_DIR "/tests/fixtures/models/qwen2/hf/tokenizer.json";
  const Tokenizer tok(spec_from_tokenizer_json(path, nullptr));
  ASSERT_TRUE(tok.spec().normalize_nfc);
  const std::string nfd = "Cafe\xCC\x81 na\xCC\x88ive \xE1\x84\x80\xE1\x85\xA1 <|im_start|>x";
  const std::vector<int32_t> want = {34, 64, 69, 127, 102, 276, 127, 97, 72, 85, 68, 220, 166, 108, 222, 220, 318, 87};
  EXPECT_EQ(tok.encode(nfd, false, true), want);
}

}  // namespace
}  // namespace tokenmill

namespace tokenmill {
namespace {

// A continuation keeps the space a SentencePiece piece starts with; a whole text drops it.
TEST(StreamingDetokenizer, ContinuationKeepsLeadingSpace) {
  const std::string path = TOKENMILL_SOURCE_DIR "/../shared/testdata/vocab/ggml-vocab-llama-spm.gguf";
  const Tokenizer tok(load_tokenizer_spec(path));
  const std::vector<int32_t> ids = tok.encode(" there", false, false);
  ASSERT_FALSE(ids.empty());
  StreamingDetokenizer whole(tok, true, true), continuation(tok, true, false);
  std::string a, b;
  for (int32_t id : ids) {
    a += whole.feed(id);
    b += continuation.feed(id);
  }
  a += whole.finish();
  b += continuation.finish();
  EXPECT_EQ(a, tok.decode(ids));
  EXPECT_EQ(b, " " + a);
}

}  // namespace
}  // namespace tokenmill
