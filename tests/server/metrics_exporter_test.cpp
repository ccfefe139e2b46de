#include "server/metrics_exporter.h"

#include <gtest/gtest.h>

#include "exposition_check.h"

namespace tokenmill::server {
namespace {

TEST(MetricsExporter, EveryDocumentedFamilyInValidText) {
  EngineMetrics m;
  m.requests_running = 2;
  m.kv_cache_usage_ratio = 0.5;
  m.prompt_tokens = 100;
  m.count_finished("stop");
  m.time_to_first_token.observe(0.02);
  m.time_to_first_token.observe(3.0);
  const testing::ExpositionCheck check(render_engine_metrics(m));
  ASSERT_TRUE(check.problems.empty()) << check.problems.front();
  for (const char* gauge :
       {"tokenmill_requests_running", "tokenmill_requests_waiting", "tokenmill_kv_cache_usage_ratio"})
    EXPECT_EQ(check.types.at(gauge), "gauge") << gauge;
  for (const char* counter : {"tokenmill_prefix_cache_queries_total", "tokenmill_prefix_cache_hits_total",
                              "tokenmill_prompt_tokens_total", "tokenmill_generation_tokens_total",
                              "tokenmill_preemptions_total", "tokenmill_requests_finished_total"})
    EXPECT_EQ(check.types.at(counter), "counter") << counter;
  for (const char* histogram :
       {"tokenmill_time_to_first_token_seconds", "tokenmill_inter_token_latency_seconds",
        "tokenmill_e2e_request_latency_seconds", "tokenmill_queue_time_seconds"})
    EXPECT_EQ(check.types.at(histogram), "histogram") << histogram;
  EXPECT_EQ(check.samples.at("tokenmill_requests_running"), 2);
  EXPECT_EQ(check.samples.at("tokenmill_kv_cache_usage_ratio"), 0.5);
  EXPECT_EQ(check.samples.at("tokenmill_prompt_tokens_total"), 100);
  EXPECT_EQ(check.samples.at("tokenmill_requests_finished_total{finish_reason=\"stop\"}"), 1);
  EXPECT_EQ(check.samples.at("tokenmill_requests_finished_total{finish_reason=\"length\"}"), 0);
  EXPECT_EQ(check.samples.at("tokenmill_time_to_first_token_seconds_count"), 2);
  EXPECT_EQ(check.samples.at("tokenmill_time_to_first_token_seconds_bucket{le=\"+Inf\"}"), 2);
  EXPECT_DOUBLE_EQ(check.samples.at("tokenmill_time_to_first_token_seconds_sum"), 3.02);
}

}  // namespace
}  // namespace tokenmill::server
