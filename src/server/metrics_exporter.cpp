#include "server/metrics_exporter.h"

#include "server/prometheus_text.h"

namespace tokenmill::server {

std::string render_engine_metrics(const EngineMetrics& m, const CostRates& rates) {
  PrometheusText out;
  out.gauge("tokenmill_requests_running", "Requests whose sequences are scheduled (prefill or decode).",
            double(m.requests_running.load()));
  out.gauge("tokenmill_requests_waiting", "Requests queued for admission.",
            double(m.requests_waiting.load()));
  out.gauge("tokenmill_kv_cache_usage_ratio", "KV cache blocks in use / all KV cache blocks (0..1).",
            m.kv_cache_usage_ratio.load());
  out.gauge("tokenmill_kv_cache_blocks_total", "KV cache blocks in the pool.",
            double(m.kv_cache_blocks_total.load()));
  out.gauge("tokenmill_kv_cache_blocks_used", "KV cache blocks held by live sequences.",
            double(m.kv_cache_blocks_used.load()));
  out.labelled("tokenmill_memory_bytes", "gauge",
               "Memory by component: weight tensors, KV cache pool, activation buffers (bytes).",
               {{{{"component", "weights"}}, double(m.weights_bytes.load())},
                {{{"component", "kv_cache"}}, double(m.kv_cache_bytes.load())},
                {{{"component", "activations"}}, double(m.activation_bytes.load())}});
  out.counter("tokenmill_prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.",
              double(m.prefix_cache_queries_tokens.load()));
  out.counter("tokenmill_prefix_cache_hits_total", "Prompt tokens found in the prefix cache.",
              double(m.prefix_cache_hits_tokens.load()));
  out.counter("tokenmill_prompt_tokens_total", "Prompt tokens admitted.", double(m.prompt_tokens.load()));
  out.counter("tokenmill_generation_tokens_total", "Tokens generated.", double(m.generation_tokens.load()));
  out.counter("tokenmill_preemptions_total", "Sequences preempted to free KV cache blocks.",
              double(m.preemptions.load()));
  out.counter("tokenmill_engine_steps_total", "Engine steps (one forward batch each).",
              double(m.steps.load()));

  // Cost accounting: every step's wall time shared out to its requests by tokens (engine/cost.h).
  const double prompt_s = m.busy_prompt_seconds.load(), completion_s = m.busy_completion_seconds.load();
  out.labelled("tokenmill_busy_seconds_total", "counter",
               "Engine step time shared out to requests by the tokens they processed, by phase.",
               {{{{"phase", "prompt"}}, prompt_s}, {{{"phase", "completion"}}, completion_s}});
  if (rates.price_per_hour > 0)
    out.labelled("tokenmill_cost_usd_total", "counter", "Busy time priced at --price-per-hour, by phase.",
                 {{{{"phase", "prompt"}}, rates.usd(prompt_s)}, {{{"phase", "completion"}}, rates.usd(completion_s)}});
  if (rates.power_watts > 0)
    out.counter("tokenmill_energy_joules_total", "Busy time x --power-watts.", rates.joules(prompt_s + completion_s));
  const double prefix_s = m.prefix_cache_saved_seconds.load(), quant_bytes = m.quantization_saved_bytes.load();
  out.counter("tokenmill_prefix_cache_seconds_saved_total",
              "Prefill time not spent on prompt tokens served from the prefix cache (at the measured seconds per "
              "prefill token).",
              prefix_s);
  out.counter("tokenmill_quantization_bytes_not_moved_total",
              "Weight bytes not read thanks to quantization: F16 bytes of the matrices minus theirs, per step.",
              quant_bytes);
  if (rates.price_per_hour > 0) {
    std::vector<std::pair<PrometheusLabels, double>> saved = {{{{"source", "prefix_cache"}}, rates.usd(prefix_s)}};
    if (rates.bandwidth_bytes_per_s > 0)
      saved.push_back({{{"source", "quantization"}}, rates.usd(quant_bytes / rates.bandwidth_bytes_per_s)});
    out.labelled("tokenmill_savings_usd_total", "counter", "Savings priced at --price-per-hour, by source.", saved);
  }

  // The usual reasons are always present, so a rate() over them exists before the first request.
  std::map<std::string, uint64_t> finished = m.finished_by_reason();
  for (const char* reason : {"stop", "length", "abort", "error"}) finished.try_emplace(reason, 0);
  std::vector<std::pair<PrometheusLabels, double>> samples;
  for (const auto& [reason, count] : finished)
    samples.push_back({{{"finish_reason", reason}}, double(count)});
  out.labelled("tokenmill_requests_finished_total", "counter", "Finished requests by finish reason.",
               samples);

  out.histogram("tokenmill_time_to_first_token_seconds", "Time from arrival to the first generated token.",
                m.time_to_first_token.snapshot());
  out.histogram("tokenmill_inter_token_latency_seconds",
                "Time between consecutive generated tokens of a sequence.", m.inter_token_latency.snapshot());
  out.histogram("tokenmill_e2e_request_latency_seconds", "Time from arrival to the last token.",
                m.e2e_request_latency.snapshot());
  out.histogram("tokenmill_queue_time_seconds", "Time from arrival to first scheduling.",
                m.queue_time.snapshot());
  return out.text();
}

}  // namespace tokenmill::server
