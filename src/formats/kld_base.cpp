#include "formats/kld_base.h"

#include <bit>
#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace tokenmill {
namespace {

static_assert(std::endian::native == std::endian::little, "KLD base I/O assumes a little-endian host");

uint32_t read_u32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Header fields that every file must satisfy, whoever wrote it.
void check_header(const std::string& path, const KldBaseHeader& h) {
  const std::string where = path + ": KLD base header: ";
  check(h.vocab_size > 0, where + "vocabulary size is 0");
  check(h.ctx_tokens >= 4, where + "context of " + std::to_string(h.ctx_tokens) + " tokens (at least 4)");
  check(h.n_chunks > 0, where + "no chunks");
  check(h.first_scored == h.ctx_tokens / 2, where + "first scored position " +
                                                std::to_string(h.first_scored) + ", expected " +
                                                std::to_string(h.ctx_tokens / 2));
  check(h.scored_per_chunk == h.ctx_tokens - h.first_scored - 1,
        where + "scored positions per chunk " + std::to_string(h.scored_per_chunk) + ", expected " +
            std::to_string(h.ctx_tokens - h.first_scored - 1));
}

}  // namespace

KldBaseWriter::KldBaseWriter(const std::string& path, const KldBaseHeader& header,
                             std::span<const int32_t> tokens)
    : path_(path), header_(header) {
  check_header(path, header);
  check(tokens.size() == size_t(header.n_chunks) * header.ctx_tokens,
        path + ": " + std::to_string(tokens.size()) + " tokens given for " + std::to_string(header.n_chunks) +
            " chunks of " + std::to_string(header.ctx_tokens));
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) throw Error(path + ": cannot create: " + std::strerror(errno));
  const uint32_t fields[6] = {kKldBaseVersion, header.vocab_size,   header.ctx_tokens,
                              header.n_chunks, header.first_scored, header.scored_per_chunk};
  write(kKldBaseMagic, sizeof kKldBaseMagic);
  write(fields, sizeof fields);
  write(tokens.data(), tokens.size_bytes());
}

KldBaseWriter::~KldBaseWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void KldBaseWriter::write(const void* data, size_t bytes) {
  check(file_ != nullptr, path_ + ": already closed");
  if (bytes > 0 && std::fwrite(data, 1, bytes, file_) != bytes)
    throw Error(path_ + ": write failed: " + std::strerror(errno));
}

void KldBaseWriter::append_chunk(std::span<const float> logprobs) {
  check(chunks_written_ < header_.n_chunks, path_ + ": more chunks than the header announces");
  check(logprobs.size() == header_.chunk_logprob_floats(),
        path_ + ": chunk of " + std::to_string(logprobs.size()) + " log-probabilities, expected " +
            std::to_string(header_.chunk_logprob_floats()));
  write(logprobs.data(), logprobs.size_bytes());
  ++chunks_written_;
}

void KldBaseWriter::finish() {
  check(chunks_written_ == header_.n_chunks, path_ + ": " + std::to_string(chunks_written_) + " of " +
                                                 std::to_string(header_.n_chunks) + " chunks written");
  std::FILE* f = file_;
  file_ = nullptr;
  if (std::fclose(f) != 0) throw Error(path_ + ": write failed: " + std::strerror(errno));
}

KldBaseReader::KldBaseReader(const std::string& path) : file_(path) {
  const std::span<const std::byte> bytes = file_.bytes();
  check(bytes.size() >= kKldBaseHeaderBytes, path + ": not a KLD base file: " + std::to_string(bytes.size()) +
                                                 " bytes, shorter than its " +
                                                 std::to_string(kKldBaseHeaderBytes) + "-byte header");
  check(std::memcmp(bytes.data(), kKldBaseMagic, sizeof kKldBaseMagic) == 0,
        path + ": not a KLD base file (bad magic; expected \"TMKLBASE\")");
  const uint32_t version = read_u32(bytes.data() + 8);
  check(version == kKldBaseVersion, path + ": KLD base version " + std::to_string(version) +
                                        " is not supported (expected " + std::to_string(kKldBaseVersion) +
                                        ")");
  header_.vocab_size = read_u32(bytes.data() + 12);
  header_.ctx_tokens = read_u32(bytes.data() + 16);
  header_.n_chunks = read_u32(bytes.data() + 20);
  header_.first_scored = read_u32(bytes.data() + 24);
  header_.scored_per_chunk = read_u32(bytes.data() + 28);
  check_header(path, header_);
  // Three 32-bit factors may pass 64 bits: size the file in 128.
  using u128 = unsigned __int128;
  const uint64_t n_tokens = uint64_t(header_.n_chunks) * header_.ctx_tokens;
  const u128 n_logprobs = u128(uint64_t(header_.n_chunks) * header_.scored_per_chunk) * header_.vocab_size;
  const u128 expected = u128(kKldBaseHeaderBytes) + u128(n_tokens) * 4 + n_logprobs * 4;
  if (expected != bytes.size()) {
    const std::string what = expected > bytes.size() ? "truncated" : "has trailing bytes";
    throw Error(path + ": KLD base file " + what + ": " + std::to_string(bytes.size()) +
                " bytes, but its header (" + std::to_string(header_.n_chunks) + " chunks of " +
                std::to_string(header_.ctx_tokens) + " tokens, vocabulary " +
                std::to_string(header_.vocab_size) + ") needs " +
                (expected >> 64 ? std::string("more than 2^64") : std::to_string(uint64_t(expected))));
  }
  const auto* token_ptr = reinterpret_cast<const int32_t*>(bytes.data() + kKldBaseHeaderBytes);
  tokens_ = std::span<const int32_t>(token_ptr, size_t(n_tokens));
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i] < 0 || uint32_t(tokens_[i]) >= header_.vocab_size)
      throw Error(path + ": token " + std::to_string(i) + " has id " + std::to_string(tokens_[i]) +
                  ", outside the vocabulary of " + std::to_string(header_.vocab_size));
  }
  logprobs_ = reinterpret_cast<const float*>(bytes.data() + kKldBaseHeaderBytes + n_tokens * 4);
}

std::span<const float> KldBaseReader::chunk_logprobs(uint32_t chunk) const {
  check(chunk < header_.n_chunks,
        file_.path() + ": chunk " + std::to_string(chunk) + " of " + std::to_string(header_.n_chunks));
  const size_t n = header_.chunk_logprob_floats();
  return {logprobs_ + size_t(chunk) * n, n};
}

void KldBaseReader::release_chunk(uint32_t chunk) const {
  const std::span<const float> c = chunk_logprobs(chunk);
  release_mapped_pages(c.data(), c.size_bytes());
}

}  // namespace tokenmill
