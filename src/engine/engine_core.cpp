#include "engine/engine_core.h"

#include <algorithm>
#include <cstdio>
#include <random>

#include "sampling/logprobs.h"

namespace tokenmill {

namespace {

double seconds_between(EngineClock::time_point a, EngineClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// OpenAI-style reason names used by metrics.
const char* reason_label(FinishReason r) {
  switch (r) {
    case FinishReason::Eos:
    case FinishReason::Stop: return "stop";
    case FinishReason::Length:
    case FinishReason::ContextFull: return "length";
    case FinishReason::Cancelled: return "abort";
  }
  return "stop";
}

uint64_t fresh_seed() {
  std::random_device rd;
  return (uint64_t(rd()) << 32) ^ rd();
}

}  // namespace

EngineCore::EngineCore(LoadedModel& model, const EngineConfig& config, int32_t max_len, int32_t n_blocks_total)
    : max_model_len(max_len),
      n_blocks(n_blocks_total),
      model_(model),
      config_(config),
      pool_(config.threads),
      blocks_(n_blocks_total, config.block_size, config.enable_prefix_caching),
      // Admission (429) happens in Engine::add_request over waiting + running; every request it
      // accepts must find room in the scheduler's waiting queue.
      scheduler_(SchedulerConfig{config.max_num_batched_tokens, config.max_num_seqs,
                                 config.max_queued_requests + config.max_num_seqs, config.priority_scheduling,
                                 config.static_batching},
                 blocks_),
      seed_rng_(fresh_seed()) {
  llama_ = std::make_unique<LlamaModel>(model.config, model.weights, config.max_num_batched_tokens);
  kv_ = std::make_unique<KvStorage>(model.config, n_blocks_total, config.block_size);
  eog_ids_ = model.tokenizer->end_of_generation_ids();
  eog_ids_.insert(eog_ids_.end(), model.generation.eos_token_ids.begin(), model.generation.eos_token_ids.end());
  metrics.kv_cache_blocks_total = n_blocks_total;
  metrics.weights_bytes = int64_t(model.weights.total_bytes);
  metrics.kv_cache_bytes = int64_t(kv_->size_bytes());
  metrics.activation_bytes = int64_t(llama_->activation_bytes());
  // Every step reads each layer matrix and the LM head once; a quantized model reads fewer bytes
  // than the same matrices in F16 would take.
  double f16_bytes = 0, bytes = 0;
  auto add = [&](const MatrixRef& m) {
    f16_bytes += 2.0 * double(m.rows) * double(m.cols);
    bytes += double(m.nbytes());
  };
  for (const LayerWeights& L : model.weights.layers)
    for (const MatrixRef* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) add(*m);
  add(model.weights.output);
  quantization_saved_bytes_per_step_ = std::max(0.0, f16_bytes - bytes);
  if (config.profile) llama_->set_profile(&op_profile_);
  thread_ = std::thread([this] { loop(); });
}

EngineCore::~EngineCore() {
  stop_.store(true);
  inbox_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& r : inbox_) r->stream->push(RequestEvent{{}, true, {}, "the engine stopped"});
  for (auto& [id, r] : live_) r->stream->push(RequestEvent{{}, true, r->usage, "the engine stopped"});
}

void EngineCore::submit(std::unique_ptr<LiveRequest> request) {
  ++pending_;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    inbox_.push_back(std::move(request));
  }
  inbox_cv_.notify_one();
}

void EngineCore::abort(const std::string& request_id) {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    abort_ids_.push_back(request_id);
  }
  inbox_cv_.notify_one();
}

bool EngineCore::drain(std::chrono::milliseconds timeout) {
  draining_.store(true);
  const auto deadline = EngineClock::now() + timeout;
  while (pending_.load() > 0 && EngineClock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (pending_.load() == 0) return true;
  // Abort what is left; the loop finishes them at its next step.
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    abort_ids_.push_back("*");
  }
  inbox_cv_.notify_one();
  const auto abort_deadline = EngineClock::now() + std::chrono::seconds(5);
  while (pending_.load() > 0 && EngineClock::now() < abort_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return false;
}

void EngineCore::loop() {
  while (!stop_.load()) {
    take_inbox();
    reap_aborted();
    if (!scheduler_.has_work()) {
      update_gauges();
      std::unique_lock<std::mutex> lock(inbox_mu_);
      inbox_cv_.wait_for(lock, std::chrono::milliseconds(50),
                         [this] { return stop_.load() || !inbox_.empty() || !abort_ids_.empty(); });
      continue;
    }
    try {
      step();
    } catch (const std::exception& e) {
      // A failed step (e.g. memory) fails every live request rather than the process.
      std::fprintf(stderr, "engine: step failed: %s\n", e.what());
      std::vector<std::string> ids;
      for (auto& [id, r] : live_) ids.push_back(id);
      for (const std::string& id : ids) complete_request(*live_.at(id), std::string("engine error: ") + e.what());
    }
  }
}

void EngineCore::take_inbox() {
  std::vector<std::unique_ptr<LiveRequest>> incoming;
  std::vector<std::string> aborts;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    incoming.swap(inbox_);
    aborts.swap(abort_ids_);
  }
  for (auto& r : incoming) {
    const std::string id = r->req.request_id;
    if (live_.count(id) != 0) {
      r->stream->push(RequestEvent{{}, true, {}, "duplicate request id '" + id + "'"});
      --pending_;
      continue;
    }
    auto c = std::make_unique<ChoiceState>();
    c->seq.seq_id = next_seq_id_++;
    c->seq.tokens = r->req.prompt_ids;
    c->seq.n_prompt_tokens = int32_t(r->req.prompt_ids.size());
    c->seq.priority = r->req.priority;
    c->seq.max_tokens_total = max_model_len;
    if (r->req.params.max_tokens)
      c->seq.max_tokens_total = std::min(max_model_len, c->seq.n_prompt_tokens + *r->req.params.max_tokens);
    c->index = 0;
    const uint64_t seed = r->req.params.seed ? *r->req.params.seed : seed_rng_.next();
    c->sampler = std::make_unique<Sampler>(r->req.params, seed);
    c->detok = std::make_unique<StreamingDetokenizer>(*model_.tokenizer, true, false);
    c->stops = std::make_unique<StopStringMatcher>(r->req.params.stop);
    const AddResult added = scheduler_.add(&c->seq);
    if (added != AddResult::Ok) {
      r->stream->push(RequestEvent{{}, true, {}, added == AddResult::QueueFull ? "queue full" : "request too large"});
      --pending_;
      continue;
    }
    r->usage.prompt_tokens = c->seq.n_prompt_tokens;
    by_seq_[&c->seq] = {r.get(), c.get()};
    r->choices.push_back(std::move(c));
    live_[id] = std::move(r);
  }
  for (const std::string& id : aborts) {
    if (id == "*") {
      for (auto& [rid, r] : live_) r->stream->abort();
    } else if (auto it = live_.find(id); it != live_.end()) {
      it->second->stream->abort();
    }
  }
}

void EngineCore::reap_aborted() {
  std::vector<LiveRequest*> gone;
  for (auto& [id, r] : live_)
    if (r->stream->aborted()) gone.push_back(r.get());
  for (LiveRequest* r : gone) {
    RequestEvent ev;
    for (auto& c : r->choices) {
      if (c->finished) continue;
      ChoiceDelta d;
      d.index = c->index;
      finish_choice(*r, *c, FinishReason::Cancelled, d);
    }
    complete_request(*r, "");
  }
}

void EngineCore::step() {
  step_start_ = EngineClock::now();
  const SchedulerOutput out = scheduler_.schedule();
  metrics.preemptions = scheduler_.n_preemptions_total();
  if (out.empty()) {
    update_gauges();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return;
  }
  for (const auto& [src, dst] : out.block_copies) kv_->copy_block(src, dst);
  build_batch(out);
  logits_.resize(batch_.logits_rows.size() * size_t(model_.config.vocab_size));
  const auto now = EngineClock::now();
  for (const ScheduledSequence& s : out.scheduled) {
    LiveRequest* r = by_seq_.at(s.seq).first;
    if (!r->scheduled_once) {
      r->scheduled_once = true;
      metrics.queue_time.observe(seconds_between(r->arrival, now));
    }
  }
  llama_->forward(batch_, *kv_, logits_.data(), pool_);
  scheduler_.on_step_done(out);
  ++metrics.steps;
  sample_and_stream(out);
  update_gauges();
}

void EngineCore::build_batch(const SchedulerOutput& out) {
  batch_.clear();
  step_shares_.clear();
  const int32_t bs = config_.block_size;
  for (const ScheduledSequence& s : out.scheduled) {
    const Sequence& q = *s.seq;
    const int32_t in_prompt = std::clamp(q.n_prompt_tokens - q.n_computed_tokens, 0, s.n_new_tokens);
    step_shares_.push_back({in_prompt, s.n_new_tokens - in_prompt});
    SequenceInBatch sb;
    sb.token_begin = int32_t(batch_.token_ids.size());
    sb.n_tokens = s.n_new_tokens;
    sb.n_context = q.n_computed_tokens + s.n_new_tokens;
    sb.block_table = q.block_table;
    for (int32_t p = q.n_computed_tokens; p < q.n_computed_tokens + s.n_new_tokens; ++p) {
      batch_.token_ids.push_back(q.tokens[size_t(p)]);
      batch_.positions.push_back(p);
      batch_.slot_mapping.push_back(q.block_table[size_t(p / bs)] * bs + p % bs);
    }
    if (s.samples) batch_.logits_rows.push_back(int32_t(batch_.token_ids.size()) - 1);
    batch_.seqs.push_back(std::move(sb));
  }
}

void EngineCore::sample_and_stream(const SchedulerOutput& out) {
  const size_t vocab = size_t(model_.config.vocab_size);
  std::map<LiveRequest*, RequestEvent> events;
  size_t row = 0;
  for (const ScheduledSequence& s : out.scheduled) {
    if (!s.samples) continue;
    float* logits = logits_.data() + row * vocab;
    ++row;
    auto [r, c] = by_seq_.at(s.seq);
    if (c->finished) continue;
    // n > 1: after the shared prefill, the other choices fork from the parent's blocks and
    // draw their first token from the same logits.
    if (r->choices.size() == 1 && r->req.n > 1) fork_choices(*r);
    RequestEvent& ev = events[r];
    auto step_choice = [&](ChoiceState& choice, float* row_logits) {
      ChoiceDelta d;
      d.index = choice.index;
      advance(*r, choice, row_logits, d);
      if (!d.text.empty() || !d.token_ids.empty() || d.finish) ev.deltas.push_back(std::move(d));
    };
    if (c->index == 0 && c->output_ids.empty() && r->choices.size() > 1) {
      // Every fork draws its first token from a copy of the parent's prefill logits (sampling
      // edits the row in place); the parent draws from the row itself below.
      std::vector<float> copy;
      for (size_t k = 1; k < r->choices.size(); ++k) {
        copy.assign(logits, logits + vocab);
        step_choice(*r->choices[k], copy.data());
      }
    }
    step_choice(*c, logits);
  }
  charge_step(out);
  for (auto& [r, ev] : events) {
    if (r->n_finished == int32_t(r->choices.size()) && int32_t(r->choices.size()) == r->req.n) {
      complete_request(*r, "", std::move(ev.deltas));
      continue;
    }
    if (!ev.deltas.empty()) r->stream->push(std::move(ev));
  }
}

void EngineCore::charge_step(const SchedulerOutput& out) {
  const double seconds = seconds_between(step_start_, EngineClock::now());
  split_step_time(seconds, step_shares_, step_split_);
  const std::vector<std::pair<double, double>>& split = step_split_;
  const double saved_per_token =
      out.n_batched_tokens > 0 ? quantization_saved_bytes_per_step_ / double(out.n_batched_tokens) : 0.0;
  double prompt_s = 0, completion_s = 0;
  uint64_t prompt_tokens = 0;
  for (size_t i = 0; i < out.scheduled.size() && i < split.size(); ++i) {
    LiveRequest* r = by_seq_.at(out.scheduled[i].seq).first;
    r->usage.cost.prompt_seconds += split[i].first;
    r->usage.cost.completion_seconds += split[i].second;
    r->usage.cost.quantization_saved_bytes += saved_per_token * double(out.scheduled[i].n_new_tokens);
    prompt_s += split[i].first;
    completion_s += split[i].second;
    prompt_tokens += uint64_t(step_shares_[i].prompt_tokens);
  }
  metrics.busy_prompt_seconds.fetch_add(prompt_s);
  metrics.busy_completion_seconds.fetch_add(completion_s);
  metrics.busy_prompt_tokens += prompt_tokens;
  metrics.quantization_saved_bytes.fetch_add(quantization_saved_bytes_per_step_);
  if (config_.profile) {
    std::lock_guard<std::mutex> lock(profile_mu_);
    profile_snapshot_.ops = op_profile_;
    ++profile_snapshot_.steps;
    profile_snapshot_.tokens += uint64_t(out.n_batched_tokens);
    profile_snapshot_.busy_seconds += seconds;
  }
}

void EngineCore::fork_choices(LiveRequest& r) {
  ChoiceState& parent = *r.choices[0];
  for (int32_t i = 1; i < r.req.n; ++i) {
    auto c = std::make_unique<ChoiceState>();
    c->seq = parent.seq;
    c->seq.seq_id = next_seq_id_++;
    c->seq.block_table.clear();
    c->index = i;
    SamplingParams p = r.req.params;
    const uint64_t seed = p.seed ? *p.seed + uint64_t(i) : seed_rng_.next();
    c->sampler = std::make_unique<Sampler>(p, seed);
    c->detok = std::make_unique<StreamingDetokenizer>(*model_.tokenizer, true, false);
    c->stops = std::make_unique<StopStringMatcher>(p.stop);
    scheduler_.fork(&parent.seq, &c->seq);
    by_seq_[&c->seq] = {&r, c.get()};
    r.choices.push_back(std::move(c));
  }
}

bool EngineCore::advance(LiveRequest& r, ChoiceState& c, float* logits, ChoiceDelta& d) {
  const size_t vocab = size_t(model_.config.vocab_size);
  const std::span<const int32_t> prompt(c.seq.tokens.data(), size_t(c.seq.n_prompt_tokens));
  const int32_t id = c.sampler->sample(std::span<float>(logits, vocab), prompt, c.output_ids);
  const auto now = EngineClock::now();
  if (c.index == 0 && !r.first_token_seen) {
    r.first_token_seen = true;
    metrics.time_to_first_token.observe(seconds_between(r.arrival, now));
  } else if (c.index == 0) {
    metrics.inter_token_latency.observe(seconds_between(r.last_token, now));
  }
  if (c.index == 0) r.last_token = now;
  ++metrics.generation_tokens;
  ++r.usage.completion_tokens;
  c.output_ids.push_back(id);
  c.seq.tokens.push_back(id);
  if (r.req.top_logprobs >= 0) {
    TokenLogprob lp;
    lp.token_id = id;
    const std::span<const float> row(logits, vocab);
    lp.logprob = logprob_of(row, id);
    if (r.req.top_logprobs > 0) lp.top = top_logprobs(row, r.req.top_logprobs);
    d.logprobs.push_back(std::move(lp));
  }
  d.token_ids.push_back(id);
  const SamplingParams& p = r.req.params;
  const bool is_eog = std::find(eog_ids_.begin(), eog_ids_.end(), id) != eog_ids_.end();
  const bool is_stop_id = std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), id) != p.stop_token_ids.end();
  if (is_stop_id || (is_eog && !p.ignore_eos)) {
    finish_choice(r, c, is_stop_id ? FinishReason::Stop : FinishReason::Eos, d);
    return true;
  }
  const StopFeedResult fed = c.stops->feed(c.detok->feed(id));
  d.text += fed.text;
  if (fed.stopped) {
    finish_choice(r, c, FinishReason::Stop, d);
    return true;
  }
  const int32_t n_out = int32_t(c.output_ids.size());
  if (p.max_tokens && n_out >= *p.max_tokens) {
    finish_choice(r, c, FinishReason::Length, d);
    return true;
  }
  if (int32_t(c.seq.tokens.size()) >= c.seq.max_tokens_total) {
    finish_choice(r, c, FinishReason::ContextFull, d);
    return true;
  }
  return false;
}

void EngineCore::finish_choice(LiveRequest& r, ChoiceState& c, FinishReason reason, ChoiceDelta& d) {
  if (c.finished) return;
  c.finished = true;
  c.finish = reason;
  if (reason != FinishReason::Stop || !c.stops->stopped()) {
    const StopFeedResult tail = c.stops->feed(c.detok->finish());
    d.text += tail.text;
    if (!tail.stopped) d.text += c.stops->flush();
  }
  d.finish = reason;
  scheduler_.finish(&c.seq);
  ++r.n_finished;
}

void EngineCore::complete_request(LiveRequest& r, const std::string& error, std::vector<ChoiceDelta> deltas) {
  // Choices that never ran (n > 1 aborted before the fork) count as finished too.
  for (auto& c : r.choices) {
    if (!c->finished) {
      c->finished = true;
      c->finish = FinishReason::Cancelled;
      scheduler_.finish(&c->seq);
    }
  }
  RequestEvent ev;
  ev.deltas = std::move(deltas);
  ev.done = true;
  ev.error = error;
  const auto now = EngineClock::now();
  const ChoiceState& first = *r.choices[0];
  r.usage.cached_tokens = first.seq.n_cached_tokens;
  // Cached prompt tokens are priced at the engine's measured seconds per prefill token so far.
  const uint64_t prompt_tokens_computed = metrics.busy_prompt_tokens.load();
  if (r.usage.cached_tokens > 0 && prompt_tokens_computed > 0) {
    r.usage.cost.prefix_cache_saved_seconds =
        double(r.usage.cached_tokens) * metrics.busy_prompt_seconds.load() / double(prompt_tokens_computed);
    metrics.prefix_cache_saved_seconds.fetch_add(r.usage.cost.prefix_cache_saved_seconds);
  }
  ev.usage = r.usage;
  metrics.prompt_tokens += uint64_t(r.usage.prompt_tokens);
  metrics.e2e_request_latency.observe(seconds_between(r.arrival, now));
  metrics.count_finished(error.empty() ? reason_label(first.finish) : "error");
  for (auto& c : r.choices) by_seq_.erase(&c->seq);
  std::shared_ptr<RequestStream> stream = r.stream;
  live_.erase(r.req.request_id);  // r is gone after this line
  --pending_;
  stream->push(std::move(ev));
}

void EngineCore::update_gauges() {
  metrics.requests_running = int64_t(scheduler_.n_running());
  metrics.requests_waiting = int64_t(scheduler_.n_waiting());
  const int64_t used = int64_t(blocks_.n_used_blocks());
  metrics.kv_cache_blocks_used = used;
  metrics.kv_cache_usage_ratio = n_blocks > 0 ? double(used) / double(n_blocks) : 0.0;
  metrics.prefix_cache_queries_tokens = blocks_.prefix_query_tokens();
  metrics.prefix_cache_hits_tokens = blocks_.prefix_hit_tokens();
}

}  // namespace tokenmill
