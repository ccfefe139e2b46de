// The KLD base file: its byte layout, a round trip, and every way a damaged file is refused.
#include "formats/kld_base.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "formats_test_util.h"

namespace tokenmill {
namespace {

// 2 chunks of ctx 6 over a vocabulary of 3: rows per chunk 6 - 3 - 1 = 2.
KldBaseHeader small_header() {
  KldBaseHeader h;
  h.vocab_size = 3;
  h.ctx_tokens = 6;
  h.n_chunks = 2;
  h.first_scored = 3;
  h.scored_per_chunk = 2;
  return h;
}

const std::vector<int32_t> kTokens{0, 1, 2, 0, 1, 2, 2, 2, 1, 1, 0, 0};

std::string write_small(const std::string& path) {
  KldBaseWriter w(path, small_header(), kTokens);
  w.append_chunk(std::vector<float>{-1, -2, -3, -4, -5, -6});
  w.append_chunk(std::vector<float>{-7, -8, -9, -10, -11, -12});
  w.finish();
  return path;
}

std::string error_of(const std::string& path) {
  try {
    KldBaseReader r(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(KldBase, LayoutAndRoundTrip) {
  test::ScratchDir dir;
  const std::string path = write_small(dir.file("base.kld"));
  const std::vector<char> bytes = test::read_bytes(path);
  ASSERT_EQ(bytes.size(), 32u + 12 * 4 + 12 * 4);
  EXPECT_EQ(std::string(bytes.data(), 8), "TMKLBASE");
  uint32_t fields[6];
  std::memcpy(fields, bytes.data() + 8, sizeof fields);
  EXPECT_EQ(fields[0], 1u);  // version
  EXPECT_EQ(fields[1], 3u);  // vocab
  EXPECT_EQ(fields[2], 6u);  // ctx
  EXPECT_EQ(fields[3], 2u);  // chunks
  EXPECT_EQ(fields[4], 3u);  // first scored
  EXPECT_EQ(fields[5], 2u);  // rows per chunk
  int32_t tok3;
  std::memcpy(&tok3, bytes.data() + 32 + 3 * 4, 4);
  EXPECT_EQ(tok3, 0);
  float first_logprob;
  std::memcpy(&first_logprob, bytes.data() + 32 + 12 * 4, 4);
  EXPECT_EQ(first_logprob, -1.0f);

  const KldBaseReader r(path);
  EXPECT_EQ(r.header().vocab_size, 3u);
  EXPECT_EQ(r.header().n_chunks, 2u);
  EXPECT_EQ(std::vector<int32_t>(r.tokens().begin(), r.tokens().end()), kTokens);
  const auto c1 = r.chunk_logprobs(1);
  EXPECT_EQ(std::vector<float>(c1.begin(), c1.end()), (std::vector<float>{-7, -8, -9, -10, -11, -12}));
  EXPECT_THROW(r.chunk_logprobs(2), Error);
}

TEST(KldBase, WriterRefusesWrongSizes) {
  test::ScratchDir dir;
  KldBaseWriter w(dir.file("w.kld"), small_header(), kTokens);
  EXPECT_THROW(w.append_chunk(std::vector<float>(5)), Error);
  w.append_chunk(std::vector<float>(6));
  EXPECT_THROW(w.finish(), Error);  // one chunk of two
  EXPECT_THROW(KldBaseWriter(dir.file("x.kld"), small_header(), std::vector<int32_t>(5)), Error);
  EXPECT_THROW(KldBaseWriter(dir.file("no/such/dir.kld"), small_header(), kTokens), Error);
}

TEST(KldBase, ReaderRefusesDamagedFiles) {
  test::ScratchDir dir;
  const std::string good = write_small(dir.file("base.kld"));
  const std::vector<char> bytes = test::read_bytes(good);
  const auto variant = [&](const std::string& name, std::vector<char> b) {
    const std::string p = dir.file(name);
    test::write_bytes(p, b.data(), b.size());
    return p;
  };
  // Truncated anywhere, or padded: refused, with the path in the message.
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    const std::string p = variant("cut.kld", std::vector<char>(bytes.begin(), bytes.begin() + long(cut)));
    const std::string msg = error_of(p);
    EXPECT_NE(msg.find(p), std::string::npos) << "cut at " << cut << ": " << msg;
  }
  EXPECT_NE(
      error_of(variant("cut2.kld", std::vector<char>(bytes.begin(), bytes.end() - 4))).find("truncated"),
      std::string::npos);
  std::vector<char> padded = bytes;
  padded.push_back(0);
  EXPECT_NE(error_of(variant("pad.kld", padded)).find("trailing"), std::string::npos);

  std::vector<char> magic = bytes;
  magic[0] = 'X';
  EXPECT_NE(error_of(variant("magic.kld", magic)).find("bad magic"), std::string::npos);
  std::vector<char> version = bytes;
  version[8] = 2;
  EXPECT_NE(error_of(variant("version.kld", version)).find("version 2"), std::string::npos);
  std::vector<char> first = bytes;
  first[24] = 2;
  EXPECT_NE(error_of(variant("first.kld", first)).find("first scored"), std::string::npos);
  std::vector<char> token = bytes;
  token[32] = 3;  // token 0 = 3, outside the vocabulary of 3
  EXPECT_NE(error_of(variant("token.kld", token)).find("outside the vocabulary"), std::string::npos);
  // A header announcing 2^32-1 chunks of a huge vocabulary: refused by size, nothing allocated.
  std::vector<char> huge = bytes;
  std::memset(huge.data() + 12, 0xff, 4);
  std::memset(huge.data() + 20, 0xff, 4);
  EXPECT_NE(error_of(variant("huge.kld", huge)).find("truncated"), std::string::npos);
  EXPECT_NE(error_of(dir.file("missing.kld")).find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace tokenmill
