#include "engine/generator.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "core/error.h"
#include "sampling/sampler.h"
#include "sampling/stop_strings.h"
#include "tokenizer/streaming_detokenizer.h"

namespace tokenmill {

namespace {
constexpr int32_t kBlockSize = 16;
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
}  // namespace

std::string_view finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Length: return "length";
    case FinishReason::Stop: return "stop";
    case FinishReason::Eos: return "eos";
    case FinishReason::Cancelled: return "cancelled";
    case FinishReason::ContextFull: return "context_full";
  }
  return "?";
}

double GenerationStats::prefill_tokens_per_s() const {
  const int32_t n = prompt_tokens - cached_prompt_tokens;
  return prefill_seconds > 0 ? n / prefill_seconds : 0.0;
}
double GenerationStats::decode_tokens_per_s() const {
  // The first generated token comes from the prefill's logits; each later one costs a decode step.
  return decode_seconds > 0 && generated_tokens > 1 ? (generated_tokens - 1) / decode_seconds : 0.0;
}

Generator::Generator(LoadedModel& model, const GeneratorOptions& options)
    : loaded_(model), pool_(options.threads) {
  const ModelConfig& cfg = model.config;
  int64_t ctx = options.context_tokens > 0 ? options.context_tokens : std::min<int64_t>(cfg.max_context, 8192);
  check(ctx <= cfg.max_context, "context of " + std::to_string(ctx) + " tokens exceeds the model's maximum of " +
                                    std::to_string(cfg.max_context));
  context_tokens_ = int32_t(ctx);
  check(options.max_batch_tokens > 0, "max batch tokens must be > 0");
  llama_ = std::make_unique<LlamaModel>(cfg, model.weights, std::min(options.max_batch_tokens, context_tokens_));
  const int32_t n_blocks = (context_tokens_ + kBlockSize - 1) / kBlockSize;
  kv_ = std::make_unique<KvStorage>(cfg, n_blocks, kBlockSize);
  block_table_.resize(size_t(n_blocks));
  for (int32_t i = 0; i < n_blocks; ++i) block_table_[size_t(i)] = i;
}

void Generator::run_chunk(const std::vector<int32_t>& ids, int32_t first_pos, bool all_logits, float* logits) {
  batch_.clear();
  const int32_t n = int32_t(ids.size());
  for (int32_t i = 0; i < n; ++i) {
    const int32_t pos = first_pos + i;
    batch_.token_ids.push_back(ids[size_t(i)]);
    batch_.positions.push_back(pos);
    batch_.slot_mapping.push_back(block_table_[size_t(pos / kBlockSize)] * kBlockSize + pos % kBlockSize);
  }
  SequenceInBatch seq;
  seq.token_begin = 0;
  seq.n_tokens = n;
  seq.n_context = first_pos + n;
  seq.block_table = block_table_;
  batch_.seqs.push_back(std::move(seq));
  if (all_logits) {
    for (int32_t i = 0; i < n; ++i) batch_.logits_rows.push_back(i);
  } else {
    batch_.logits_rows.push_back(n - 1);
  }
  llama_->forward(batch_, *kv_, logits, pool_);
}

void Generator::prefill(const std::vector<int32_t>& prompt, bool all_positions, std::vector<float>& logits) {
  const int32_t n = int32_t(prompt.size());
  check(n > 0, "prompt is empty");
  check(n < context_tokens_, "prompt of " + std::to_string(n) + " tokens does not fit the context of " +
                                 std::to_string(context_tokens_) + " tokens (leave room for at least one more)");
  // Reuse the cached prefix, but always recompute at least the last prompt token (its logits).
  int32_t reuse = 0;
  while (reuse < int32_t(cached_tokens_.size()) && reuse < n - 1 && cached_tokens_[size_t(reuse)] == prompt[size_t(reuse)])
    ++reuse;
  if (all_positions) reuse = 0;
  cached_tokens_.resize(size_t(reuse));
  last_prefill_cached_ = reuse;
  const size_t vocab = size_t(loaded_.config.vocab_size);
  logits.assign(all_positions ? size_t(n) * vocab : vocab, 0.0f);
  const int32_t chunk = llama_->max_batch_tokens();
  for (int32_t begin = reuse; begin < n; begin += chunk) {
    const int32_t end = std::min(n, begin + chunk);
    std::vector<int32_t> ids(prompt.begin() + begin, prompt.begin() + end);
    if (all_positions) {
      run_chunk(ids, begin, true, logits.data() + size_t(begin) * vocab);
    } else if (end == n) {
      run_chunk(ids, begin, false, logits.data());
    } else {
      batch_.logits_rows.clear();
      run_chunk(ids, begin, false, logits.data());  // logits of a middle chunk are overwritten
    }
    cached_tokens_.insert(cached_tokens_.end(), ids.begin(), ids.end());
  }
}

std::vector<float> Generator::prompt_logits(const std::vector<int32_t>& prompt_ids, bool all_positions) {
  std::vector<float> logits;
  prefill(prompt_ids, all_positions, logits);
  return logits;
}

GenerationStats Generator::generate(const std::vector<int32_t>& prompt, const SamplingParams& params,
                                    const std::function<bool(std::string_view)>& on_text) {
  const Tokenizer& tok = *loaded_.tokenizer;
  params.validate(int32_t(loaded_.config.vocab_size));
  GenerationStats st;
  st.prompt_tokens = int32_t(prompt.size());
  const auto t0 = Clock::now();
  std::vector<float> logits;
  prefill(prompt, false, logits);
  st.cached_prompt_tokens = last_prefill_cached_;
  st.prefill_seconds = seconds_since(t0);

  std::vector<int32_t> eog = tok.end_of_generation_ids();
  eog.insert(eog.end(), loaded_.generation.eos_token_ids.begin(), loaded_.generation.eos_token_ids.end());
  Sampler sampler(params, std::random_device{}() ^ (uint64_t(std::random_device{}()) << 32));
  StopStringMatcher stops(params.stop);
  StreamingDetokenizer detok(tok, true, false);
  std::vector<int32_t> output;
  const int32_t max_new = params.max_tokens.value_or(context_tokens_);
  const auto t1 = Clock::now();
  bool cancelled = false;
  st.finish = FinishReason::Length;
  auto emit = [&](const std::string& text) {
    if (!text.empty() && !cancelled && !on_text(text)) cancelled = true;
  };
  for (;;) {
    const int32_t id = sampler.sample(logits, prompt, output);
    output.push_back(id);
    ++st.generated_tokens;
    const bool is_eog = std::find(eog.begin(), eog.end(), id) != eog.end();
    const bool is_stop_id = std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(), id) !=
                            params.stop_token_ids.end();
    if ((is_eog && !params.ignore_eos) || is_stop_id) {
      st.finish = is_stop_id ? FinishReason::Stop : FinishReason::Eos;
      break;
    }
    const auto [text, stopped] = stops.feed(detok.feed(id));
    emit(text);
    if (stopped) {
      st.finish = FinishReason::Stop;
      break;
    }
    if (cancelled) {
      st.finish = FinishReason::Cancelled;
      break;
    }
    if (st.generated_tokens >= max_new) break;
    const int32_t pos = int32_t(cached_tokens_.size());
    if (pos + 1 > context_tokens_) {
      st.finish = FinishReason::ContextFull;
      break;
    }
    run_chunk({id}, pos, false, logits.data());
    cached_tokens_.push_back(id);
  }
  if (st.finish != FinishReason::Stop && st.finish != FinishReason::Cancelled) {
    emit(stops.feed(detok.finish()).text);
    emit(stops.flush());
  }
  st.decode_seconds = seconds_since(t1);
  return st;
}

}  // namespace tokenmill
