// Checks a LoadgenConfig, splits the server URL and builds the token-id prompts.
#include <random>

#include "core/error.h"
#include "server/loadgen.h"

namespace tokenmill {

void validate_config(const LoadgenConfig& c) {
  check(!c.url.empty(), "--url: required (e.g. http://127.0.0.1:8080)");
  check(c.concurrency >= 1, "--concurrency: must be at least 1, got " + std::to_string(c.concurrency));
  check(c.num_requests >= 1, "--requests: must be at least 1, got " + std::to_string(c.num_requests));
  check(c.input_len_tokens >= 1,
        "--input-len: must be at least 1, got " + std::to_string(c.input_len_tokens));
  check(c.output_len_tokens >= 1,
        "--output-len: must be at least 1, got " + std::to_string(c.output_len_tokens));
  check(c.shared_prefix_len_tokens >= 0 && c.shared_prefix_len_tokens <= c.input_len_tokens,
        "--shared-prefix-len: must be in [0, --input-len=" + std::to_string(c.input_len_tokens) + "], got " +
            std::to_string(c.shared_prefix_len_tokens));
  check(c.vocab_size > 2 * kPromptIdMargin, "--vocab-size: must be more than " +
                                                std::to_string(2 * kPromptIdMargin) + ", got " +
                                                std::to_string(c.vocab_size));
  check(c.warmup_requests >= 0, "--warmup: must be at least 0, got " + std::to_string(c.warmup_requests));
  check(c.timeout_s > 0, "--timeout-s: must be positive, got " + std::to_string(c.timeout_s));
  parse_server_url(c.url);
}

ServerEndpoint parse_server_url(const std::string& url) {
  const std::string expected = "--url: expected http://HOST[:PORT][/PREFIX], got '" + url + "'";
  const size_t scheme_end = url.find("://");
  check(scheme_end != std::string::npos, expected);
  const std::string scheme = url.substr(0, scheme_end);
  check(scheme == "http" || scheme == "https", expected);
  const size_t host_begin = scheme_end + 3;
  const size_t path_begin = std::min(url.find('/', host_begin), url.size());
  check(path_begin > host_begin, expected);
  std::string prefix = url.substr(path_begin);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  for (const std::string_view suffix : {std::string_view("/v1/completions"), std::string_view("/v1")}) {
    if (prefix.size() >= suffix.size() &&
        prefix.compare(prefix.size() - suffix.size(), suffix.size(), suffix) == 0) {
      prefix.resize(prefix.size() - suffix.size());
      break;
    }
  }
  return ServerEndpoint{url.substr(0, path_begin), prefix + "/v1/completions", prefix + "/v1/models"};
}

std::vector<std::vector<int32_t>> build_prompts(const LoadgenConfig& c, int32_t count) {
  // Ids come from rng() % span rather than a std distribution so that the prompts of a seed are
  // the same with every standard library.
  std::mt19937_64 rng(c.seed);
  const uint64_t span = uint64_t(c.vocab_size - 2 * kPromptIdMargin);
  const auto next_id = [&] { return int32_t(kPromptIdMargin + int64_t(rng() % span)); };
  std::vector<int32_t> shared_prefix(size_t(c.shared_prefix_len_tokens));
  for (int32_t& id : shared_prefix) id = next_id();
  std::vector<std::vector<int32_t>> prompts(size_t(std::max(count, 0)));
  for (std::vector<int32_t>& prompt : prompts) {
    prompt = shared_prefix;
    prompt.reserve(size_t(c.input_len_tokens));
    while (prompt.size() < size_t(c.input_len_tokens)) prompt.push_back(next_id());
  }
  return prompts;
}

}  // namespace tokenmill
