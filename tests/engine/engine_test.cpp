// The serving engine on a tiny fixture model: continuous batching gives each request the greedy
// text it gets alone, n > 1 forks, prefix caching, aborts free blocks,
// and admission rejects what cannot run.
#include <gtest/gtest.h>

#include <thread>

#include "engine/engine.h"
#include "engine/model_loader.h"

namespace tokenmill {
namespace {

using namespace std::chrono_literals;

std::string fixture_model() { return std::string(TOKENMILL_SOURCE_DIR) + "/tests/fixtures/models/llama/model.gguf"; }

struct Collected {
  std::vector<std::string> text;             // per choice
  std::vector<std::vector<int32_t>> ids;     // per choice
  std::vector<FinishReason> finish;
  Usage usage;
  std::string error;
};

Collected collect(RequestStream& s, int n = 1) {
  Collected c;
  c.text.resize(size_t(n));
  c.ids.resize(size_t(n));
  c.finish.resize(size_t(n), FinishReason::Cancelled);
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    RequestEvent ev;
    if (!s.next(ev, 100ms)) {
      if (std::chrono::steady_clock::now() > deadline) {
        c.error = "timeout";
        return c;
      }
      continue;
    }
    for (const ChoiceDelta& d : ev.deltas) {
      c.text[size_t(d.index)] += d.text;
      c.ids[size_t(d.index)].insert(c.ids[size_t(d.index)].end(), d.token_ids.begin(), d.token_ids.end());
      if (d.finish) c.finish[size_t(d.index)] = *d.finish;
    }
    if (ev.done) {
      c.usage = ev.usage;
      c.error = ev.error;
      return c;
    }
  }
}

GenerateRequest greedy(const std::string& id, std::vector<int32_t> prompt, int32_t max_tokens) {
  GenerateRequest r;
  r.request_id = id;
  r.prompt_ids = std::move(prompt);
  r.params.temperature = 0;
  r.params.max_tokens = max_tokens;
  r.params.ignore_eos = true;
  return r;
}

std::vector<int32_t> prompt_of(int seed, int len) {
  std::vector<int32_t> p;
  for (int i = 0; i < len; ++i) p.push_back(4 + (seed * 31 + i * 7) % 300);
  return p;
}

EngineConfig small_config() {
  EngineConfig c;
  c.threads = 2;
  c.kv_cache_bytes = size_t(4) << 20;
  c.max_num_batched_tokens = 32;  // prompts longer than this prefill in chunks
  c.max_num_seqs = 8;
  return c;
}

TEST(Engine, ConcurrentGreedyRequestsMatchLoneRequests) {
  LoadedModel m = load_model(fixture_model());
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 6; ++i) prompts.push_back(prompt_of(i, 5 + 13 * i));
  // Reference: each request alone in a fresh engine.
  std::vector<std::string> want;
  for (size_t i = 0; i < prompts.size(); ++i) {
    Engine alone(m, small_config());
    want.push_back(collect(*alone.add_request(greedy("alone", prompts[i], 12))).text[0]);
  }
  Engine engine(m, small_config());
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (size_t i = 0; i < prompts.size(); ++i)
    streams.push_back(engine.add_request(greedy("r" + std::to_string(i), prompts[i], 12)));
  for (size_t i = 0; i < prompts.size(); ++i) {
    const Collected c = collect(*streams[i]);
    ASSERT_EQ(c.error, "");
    EXPECT_EQ(c.text[0], want[i]) << "request " << i;
    EXPECT_EQ(c.ids[0].size(), 12u);
    EXPECT_EQ(c.finish[0], FinishReason::Length);
    EXPECT_EQ(c.usage.prompt_tokens, int32_t(prompts[i].size()));
    EXPECT_EQ(c.usage.completion_tokens, 12);
  }
  // Gauges are refreshed by the engine thread right after the last event.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (engine.metrics().requests_running.load() != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(engine.metrics().requests_running.load(), 0);
  EXPECT_EQ(engine.metrics().kv_cache_blocks_used.load(), 0);
}

TEST(Engine, PrefixCacheServesRepeatedPrompt) {
  LoadedModel m = load_model(fixture_model());
  Engine engine(m, small_config());
  const auto prompt = prompt_of(3, 70);
  const Collected a = collect(*engine.add_request(greedy("a", prompt, 4)));
  const Collected b = collect(*engine.add_request(greedy("b", prompt, 4)));
  EXPECT_EQ(a.usage.cached_tokens, 0);
  EXPECT_EQ(b.usage.cached_tokens, 64);  // whole 16-token blocks, the last token recomputed
  EXPECT_EQ(a.text[0], b.text[0]);
  EXPECT_GE(engine.metrics().prefix_cache_hits_tokens.load(), 64u);
}

TEST(Engine, SeveralChoicesShareThePrompt) {
  LoadedModel m = load_model(fixture_model());
  Engine engine(m, small_config());
  GenerateRequest r = greedy("n3", prompt_of(1, 20), 6);
  r.n = 3;
  r.params.temperature = 1.0f;
  r.params.seed = 5;
  const Collected c = collect(*engine.add_request(r), 3);
  ASSERT_EQ(c.error, "");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.ids[size_t(i)].size(), 6u) << i;
  EXPECT_EQ(c.usage.completion_tokens, 18);
  // Seeded: the same request again gives the same three texts.
  r.request_id = "n3b";
  const Collected again = collect(*engine.add_request(r), 3);
  EXPECT_EQ(again.ids, c.ids);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (engine.metrics().kv_cache_blocks_used.load() != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(engine.metrics().kv_cache_blocks_used.load(), 0);
}

TEST(Engine, AbortFreesBlocks) {
  LoadedModel m = load_model(fixture_model());
  Engine engine(m, small_config());
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 8; ++i) streams.push_back(engine.add_request(greedy("x" + std::to_string(i), prompt_of(i, 40), 150)));
  RequestEvent ev;
  ASSERT_TRUE(streams[0]->next(ev, 30s));
  for (auto& s : streams) s->abort();
  for (auto& s : streams) {
    const Collected c = collect(*s);
    EXPECT_EQ(c.error, "");
  }
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while ((engine.metrics().kv_cache_blocks_used.load() != 0 || engine.metrics().requests_running.load() != 0) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(engine.metrics().kv_cache_blocks_used.load(), 0);
  EXPECT_EQ(engine.metrics().requests_running.load(), 0);
  // Still serves.
  const Collected after = collect(*engine.add_request(greedy("after", prompt_of(9, 10), 3)));
  EXPECT_EQ(after.ids[0].size(), 3u);
}

TEST(Engine, RejectsWhatCannotRun) {
  LoadedModel m = load_model(fixture_model());
  EngineConfig cfg = small_config();
  cfg.max_queued_requests = 0;
  cfg.max_num_seqs = 1;
  Engine engine(m, cfg);
  auto expect_reject = [&](GenerateRequest r, RejectReason want) {
    try {
      engine.add_request(std::move(r));
      ADD_FAILURE() << "expected a rejection";
    } catch (const RequestRejected& e) {
      EXPECT_EQ(e.reason, want) << e.what();
    }
  };
  expect_reject(greedy("long", prompt_of(0, 300), 4), RejectReason::PromptTooLong);  // context is 256
  expect_reject(greedy("over", prompt_of(0, 200), 100), RejectReason::PromptTooLong);
  GenerateRequest bad = greedy("bad", prompt_of(0, 5), 4);
  bad.params.top_p = 2;
  expect_reject(bad, RejectReason::InvalidParams);
  expect_reject(greedy("oob", {1, 2, 99999}, 4), RejectReason::InvalidParams);
  // One sequence may run and none wait: of requests sent back to back (each needs ~200 steps),
  // all but the running one are refused. Several tries so a request that finishes between two
  // calls on a loaded machine cannot make the test pass vacuously or fail.
  std::vector<std::shared_ptr<RequestStream>> accepted;
  int queue_full = 0;
  for (int i = 0; i < 20; ++i) {
    try {
      accepted.push_back(engine.add_request(greedy("busy" + std::to_string(i), prompt_of(i, 5), 200)));
    } catch (const RequestRejected& e) {
      EXPECT_EQ(e.reason, RejectReason::QueueFull) << e.what();
      ++queue_full;
    }
  }
  EXPECT_GE(queue_full, 10);
  ASSERT_FALSE(accepted.empty());
  // What was accepted really runs.
  const Collected first = collect(*accepted[0]);
  EXPECT_EQ(first.error, "");
  EXPECT_EQ(first.ids[0].size(), 200u);
  for (size_t i = 1; i < accepted.size(); ++i) {
    accepted[i]->abort();
    EXPECT_EQ(collect(*accepted[i]).error, "");
  }
}

// Cost accounting (engine/cost.h): every step's time goes to the requests in it, by tokens, so the
// costs of concurrent requests add up to the engine's busy time; n > 1 and preemption included.
TEST(EngineCost, ConcurrentRequestCostsAddUpToBusyTime) {
  LoadedModel m = load_model(fixture_model());
  EngineConfig c = small_config();
  c.cost.price_per_hour = 3.6;  // $0.001 per second
  c.cost.power_watts = 100;
  const auto start = std::chrono::steady_clock::now();
  double request_seconds = 0, prompt_seconds = 0;
  {
    Engine e(m, c);
    std::vector<std::shared_ptr<RequestStream>> streams;
    for (int i = 0; i < 6; ++i) {
      GenerateRequest r = greedy("r" + std::to_string(i), prompt_of(i, 10 + 25 * i), 12);
      if (i == 5) r.n = 3;
      streams.push_back(e.add_request(r));
    }
    std::vector<Collected> got;
    for (size_t i = 0; i < streams.size(); ++i) got.push_back(collect(*streams[i], i == 5 ? 3 : 1));
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const Collected& g : got) {
      ASSERT_EQ(g.error, "");
      EXPECT_GT(g.usage.cost.prompt_seconds, 0);
      EXPECT_GT(g.usage.cost.completion_seconds, 0);
      request_seconds += g.usage.cost.seconds();
      prompt_seconds += g.usage.cost.prompt_seconds;
    }
    const EngineMetrics& mt = e.metrics();
    const double busy = mt.busy_prompt_seconds.load() + mt.busy_completion_seconds.load();
    EXPECT_NEAR(request_seconds, busy, 1e-9 * busy);
    EXPECT_NEAR(prompt_seconds, mt.busy_prompt_seconds.load(), 1e-9 * busy);
    EXPECT_GT(busy, 0);
    EXPECT_LE(busy, elapsed);  // step times are disjoint slices of the run
    EXPECT_DOUBLE_EQ(c.cost.usd(request_seconds), request_seconds * 0.001);
    // F32 fixture weights: no bytes saved by quantization.
    EXPECT_EQ(got[0].usage.cost.quantization_saved_bytes, 0);
  }
}

TEST(EngineCost, PrefixCacheSavingsArePricedAtMeasuredPrefillSpeed) {
  LoadedModel m = load_model(fixture_model());
  Engine e(m, small_config());
  const std::vector<int32_t> prompt = prompt_of(7, 96);
  const Collected cold = collect(*e.add_request(greedy("cold", prompt, 4)));
  const Collected warm = collect(*e.add_request(greedy("warm", prompt, 4)));
  ASSERT_EQ(cold.error, "");
  ASSERT_EQ(warm.error, "");
  EXPECT_EQ(cold.usage.cost.prefix_cache_saved_seconds, 0);
  ASSERT_GT(warm.usage.cached_tokens, 0);
  const EngineMetrics& mt = e.metrics();
  const double per_token = (cold.usage.cost.prompt_seconds + warm.usage.cost.prompt_seconds) /
                           double(mt.busy_prompt_tokens.load());
  EXPECT_NEAR(warm.usage.cost.prefix_cache_saved_seconds, warm.usage.cached_tokens * per_token, 1e-9);
  EXPECT_LT(warm.usage.cost.prompt_seconds, cold.usage.cost.prompt_seconds);
  EXPECT_DOUBLE_EQ(mt.prefix_cache_saved_seconds.load(), warm.usage.cost.prefix_cache_saved_seconds);
}

}  // namespace
}  // namespace tokenmill
