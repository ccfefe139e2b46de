// The KL-divergence base file of `tokenmill perplexity --kl-divergence-base` (layout in
// docs/quality.md): a reference model's log-probabilities over the whole vocabulary at every scored
// position of a perplexity run, with the tokens they were computed on, so a second model (e.g. a
// quantized copy) can be compared with it position by position. All little-endian:
//
//   offset 0   char[8]  magic "TMKLBASE"
//          8   u32      version (1)
//         12   u32      vocab_size
//         16   u32      ctx_tokens          tokens per chunk
//         20   u32      n_chunks
//         24   u32      first_scored        ctx_tokens / 2
//         28   u32      scored_per_chunk    ctx_tokens - first_scored - 1
//         32   i32      tokens[n_chunks * ctx_tokens]   the text's tokens (before any BOS replacement)
//          .   f32      log_probs[n_chunks][scored_per_chunk][vocab_size]
//
// Row r of chunk c is the log-softmax of the logits at chunk position first_scored + r, which
// predict tokens[c * ctx_tokens + first_scored + r + 1].
#pragma once
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "core/mapped_file.h"

namespace tokenmill {

struct KldBaseHeader {
  uint32_t vocab_size = 0;
  uint32_t ctx_tokens = 0;
  uint32_t n_chunks = 0;
  uint32_t first_scored = 0;
  uint32_t scored_per_chunk = 0;

  size_t chunk_logprob_floats() const { return size_t(scored_per_chunk) * vocab_size; }
};

inline constexpr char kKldBaseMagic[8] = {'T', 'M', 'K', 'L', 'B', 'A', 'S', 'E'};
inline constexpr uint32_t kKldBaseVersion = 1;
inline constexpr size_t kKldBaseHeaderBytes = 32;

// Writes header and tokens at construction, then one chunk of log-probabilities per append_chunk
// call; finish() checks that every announced chunk was written and closes the file. Throws Error
// naming the path on any I/O failure.
class KldBaseWriter {
 public:
  // tokens: [n_chunks * ctx_tokens].
  KldBaseWriter(const std::string& path, const KldBaseHeader& header, std::span<const int32_t> tokens);
  ~KldBaseWriter();
  KldBaseWriter(const KldBaseWriter&) = delete;
  KldBaseWriter& operator=(const KldBaseWriter&) = delete;

  // logprobs: [scored_per_chunk, vocab_size].
  void append_chunk(std::span<const float> logprobs);
  void finish();

 private:
  void write(const void* data, size_t bytes);

  std::string path_;
  KldBaseHeader header_;
  std::FILE* file_ = nullptr;
  uint32_t chunks_written_ = 0;
};

// Maps a base file and checks magic, version, the header's consistency and that the file size is
// exactly what the header announces (a truncated or padded file is refused before anything runs).
class KldBaseReader {
 public:
  explicit KldBaseReader(const std::string& path);

  const KldBaseHeader& header() const { return header_; }
  // [n_chunks * ctx_tokens]
  std::span<const int32_t> tokens() const { return tokens_; }
  // [scored_per_chunk, vocab_size] of chunk `chunk`.
  std::span<const float> chunk_logprobs(uint32_t chunk) const;
  // Gives the pages of chunk `chunk` back to the kernel (the file can be far larger than memory).
  void release_chunk(uint32_t chunk) const;
  const std::string& path() const { return file_.path(); }

 private:
  MappedFile file_;
  KldBaseHeader header_;
  std::span<const int32_t> tokens_;
  const float* logprobs_ = nullptr;
};

}  // namespace tokenmill
