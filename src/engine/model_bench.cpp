#include "engine/model_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/kernel_table.h"
#include "model/forward_batch.h"
#include "model/kv_storage.h"
#include "model/llama.h"

namespace tokenmill {

namespace {

constexpr int32_t kBlockSize = 16;

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One model, cache and pool for all tests. Each test run starts from an empty cache: positions
// from 0, slots = positions (identity block table).
class BenchRunner {
 public:
  BenchRunner(const ModelConfig& cfg, const ModelWeights& weights, const ModelBenchOptions& o,
              int32_t context_tokens)
      : model_(cfg, weights, std::max(1, std::min(o.batch_tokens, std::max(o.prompt_tokens, 1)))),
        kv_(cfg, (context_tokens + kBlockSize - 1) / kBlockSize, kBlockSize),
        pool_(o.threads),
        logits_(size_t(cfg.vocab_size)),
        rng_(o.seed),
        vocab_(int32_t(cfg.vocab_size)) {
    block_table_.resize(size_t(kv_.n_blocks()));
    for (int32_t i = 0; i < kv_.n_blocks(); ++i) block_table_[size_t(i)] = i;
  }

  int threads() const { return pool_.size(); }

  // Seconds for one prefill of n random tokens, logits of the last one only (op timers into
  // profile when given).
  double run_prefill(int32_t n, OpProfile* profile = nullptr) {
    const std::vector<int32_t> ids = random_tokens(n);
    const int32_t chunk = model_.max_batch_tokens();
    model_.set_profile(profile);
    const auto start = std::chrono::steady_clock::now();
    for (int32_t begin = 0; begin < n; begin += chunk) {
      const int32_t end = std::min(n, begin + chunk);
      fill_batch(ids.data() + begin, begin, end - begin, end == n);
      model_.forward(batch_, kv_, end == n ? logits_.data() : nullptr, pool_);
    }
    const double s = seconds_since(start);
    model_.set_profile(nullptr);
    return s;
  }

  // Seconds for n single-token forwards at positions 0..n-1 (logits every step), after one
  // unmeasured forward at position 0 that the first measured one overwrites. With a profile, the
  // op timers cover exactly the measured forwards.
  double run_generation(int32_t n, OpProfile* profile = nullptr) {
    const std::vector<int32_t> ids = random_tokens(n);
    fill_batch(ids.data(), 0, 1, true);
    model_.forward(batch_, kv_, logits_.data(), pool_);
    model_.set_profile(profile);
    const auto start = std::chrono::steady_clock::now();
    for (int32_t p = 0; p < n; ++p) {
      fill_batch(ids.data() + p, p, 1, true);
      model_.forward(batch_, kv_, logits_.data(), pool_);
    }
    const double s = seconds_since(start);
    model_.set_profile(nullptr);
    return s;
  }

 private:
  std::vector<int32_t> random_tokens(int32_t n) {
    std::uniform_int_distribution<int32_t> dist(0, vocab_ - 1);
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (int32_t& id : ids) id = dist(rng_);
    return ids;
  }

  // Rows: n tokens of one sequence at positions first_pos..first_pos+n-1.
  void fill_batch(const int32_t* ids, int32_t first_pos, int32_t n, bool want_logits) {
    batch_.token_ids.assign(ids, ids + n);
    batch_.positions.resize(size_t(n));
    batch_.slot_mapping.resize(size_t(n));
    for (int32_t i = 0; i < n; ++i) {
      batch_.positions[size_t(i)] = first_pos + i;
      batch_.slot_mapping[size_t(i)] = first_pos + i;  // identity block table
    }
    if (batch_.seqs.empty()) {
      batch_.seqs.emplace_back();
      batch_.seqs[0].block_table = block_table_;
    }
    SequenceInBatch& seq = batch_.seqs[0];
    seq.token_begin = 0;
    seq.n_tokens = n;
    seq.n_context = first_pos + n;
    batch_.logits_rows.clear();
    if (want_logits) batch_.logits_rows.push_back(n - 1);
  }

  LlamaModel model_;
  KvStorage kv_;
  ThreadPool pool_;
  ForwardBatch batch_;
  std::vector<float> logits_;  // [vocab] of the last row that asked for them
  std::vector<int32_t> block_table_;
  std::mt19937 rng_;
  int32_t vocab_;
};

std::string human_params(int64_t n) {
  if (n >= 1'000'000'000) return fmt("%.1fB", double(n) / 1e9);
  if (n >= 1'000'000) return fmt("%.0fM", double(n) / 1e6);
  return fmt("%.0fK", double(n) / 1e3);
}

std::string size_column(size_t bytes) {
  const double mib = double(bytes) / double(1 << 20);
  return mib >= 1024 ? fmt("%.2f GiB", mib / 1024) : fmt("%.2f MiB", mib);
}

std::string params_column(int64_t n) {
  if (n >= 1'000'000'000) return fmt("%.2f B", double(n) / 1e9);
  if (n >= 1'000'000) return fmt("%.2f M", double(n) / 1e6);
  return fmt("%.2f K", double(n) / 1e3);
}

std::string work_column(const BenchTestResult& t) {
  return t.prefill ? fmt("%.1f GOPS", t.work_per_s / 1e9) : fmt("%.2f GB/s", t.work_per_s / 1e9);
}

std::string percent(double fraction) {
  return fmt("%.1f%%", 100 * fraction);
}

}  // namespace

void validate_bench_options(const ModelBenchOptions& o) {
  check(o.prompt_tokens >= 0, "-p/--n-prompt must be >= 0, got " + std::to_string(o.prompt_tokens));
  check(o.gen_tokens >= 0, "-n/--n-gen must be >= 0, got " + std::to_string(o.gen_tokens));
  check(o.prompt_tokens > 0 || o.gen_tokens > 0, "nothing to run: -p/--n-prompt and -n/--n-gen are both 0");
  check(o.repetitions >= 1, "-r/--repetitions must be >= 1, got " + std::to_string(o.repetitions));
  check(o.batch_tokens >= 1, "-b/--batch-size must be >= 1, got " + std::to_string(o.batch_tokens));
  check(o.threads >= 0 && o.threads <= kMaxBenchThreads, "-t/--threads must be between 0 (all cores) and " +
                                                             std::to_string(kMaxBenchThreads) + ", got " +
                                                             std::to_string(o.threads));
}

ModelWork model_work(const ModelWeights& w) {
  ModelWork work;
  work.size_bytes = w.total_bytes;
  std::map<std::string, size_t> matrix_bytes_by_dtype;  // layer matrices and LM head
  bool all_float = true;
  auto add_matrix = [&](const MatrixRef& m, bool count_params) {
    matrix_bytes_by_dtype[std::string(dtype_name(m.dtype))] += m.nbytes();
    all_float = all_float && !dtype_is_quantized(m.dtype);
    if (count_params) work.n_params += m.rows * m.cols;
  };
  int64_t vector_params = int64_t(w.output_norm.size() + w.rope_freq_factors.size());
  for (const LayerWeights& L : w.layers) {
    const std::pair<const MatrixRef*, OpKind> matrices[] = {
        {&L.wq, OpKind::MatmulQkv},      {&L.wk, OpKind::MatmulQkv}, {&L.wv, OpKind::MatmulQkv},
        {&L.wo, OpKind::MatmulOut},      {&L.w_gate, OpKind::MatmulGateUp}, {&L.w_up, OpKind::MatmulGateUp},
        {&L.w_down, OpKind::MatmulDown}};
    for (const auto& [m, op] : matrices) {
      add_matrix(*m, true);
      work.layer_matmul_params += m->rows * m->cols;
      work.decode_bytes_per_token += double(m->nbytes());
      work.decode_bytes_by_op[size_t(op)] += double(m->nbytes());
      work.matmul_ops_by_op[size_t(op)] += 2.0 * double(m->rows * m->cols);
    }
    for (const std::vector<float>* v : {&L.attn_norm, &L.bq, &L.bk, &L.bv, &L.q_norm, &L.k_norm, &L.ffn_norm})
      vector_params += int64_t(v->size());
  }
  const bool tied = w.output.data == w.token_embd.data;
  add_matrix(w.output, !tied);
  work.n_params += w.token_embd.rows * w.token_embd.cols + vector_params;
  work.lm_head_params = w.output.rows * w.output.cols;
  work.decode_bytes_per_token += double(w.output.nbytes()) + double(w.token_embd.row_bytes());
  work.decode_bytes_by_op[size_t(OpKind::LmHead)] = double(w.output.nbytes());
  work.matmul_ops_by_op[size_t(OpKind::LmHead)] = 2.0 * double(work.lm_head_params);
  work.prefill_ops_per_token = 2.0 * double(work.layer_matmul_params);
  work.float_weights = all_float;

  std::vector<std::pair<size_t, std::string>> by_bytes;
  for (const auto& [name, bytes] : matrix_bytes_by_dtype) by_bytes.emplace_back(bytes, name);
  std::sort(by_bytes.rbegin(), by_bytes.rend());
  for (const auto& [bytes, name] : by_bytes)
    work.weight_dtype += (work.weight_dtype.empty() ? "" : "+") + name;
  return work;
}

SampleStats sample_stats(const std::vector<double>& samples) {
  SampleStats s;
  if (samples.empty()) return s;
  for (double v : samples) s.mean += v;
  s.mean /= double(samples.size());
  if (samples.size() < 2) return s;
  double sq = 0;
  for (double v : samples) sq += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(sq / double(samples.size() - 1));
  return s;
}

BenchRatios bench_ratios(const ModelBenchResult& r) {
  BenchRatios ratios;
  if (!r.limits) return ratios;
  const kernels::MachineLimits& m = *r.limits;
  for (const BenchTestResult& t : r.tests) {
    if (t.prefill) {
      if (m.int8_gops > 0) ratios.prefill_of_int8 = t.work_per_s / (m.int8_gops * 1e9);
      // The f32 FMA roof applies where every matmul runs on f32 activations: float weights, or
      // quantized weights with float activations throughout.
      if (r.activations.int8_matrices == 0 && m.f32_gflops > 0)
        ratios.prefill_of_f32 = t.work_per_s / (m.f32_gflops * 1e9);
    } else if (m.read_bw_gbs > 0) {
      ratios.decode_of_bandwidth = t.work_per_s / (m.read_bw_gbs * 1e9);
    }
  }
  return ratios;
}

ModelBenchResult run_model_bench(const ModelConfig& cfg, const ModelWeights& weights,
                                 const ModelBenchOptions& o,
                                 const std::function<void(const std::string&)>& progress) {
  validate_bench_options(o);
  const int32_t context_tokens = std::max({o.prompt_tokens, o.gen_tokens, int32_t(1)});
  check(context_tokens <= cfg.max_context, "a test of " + std::to_string(context_tokens) +
                                               " tokens exceeds the model's context of " +
                                               std::to_string(cfg.max_context) + " tokens");
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };

  ModelBenchResult r;
  r.config = cfg;
  r.work = model_work(weights);
  r.model_name = cfg.architecture + " " + human_params(r.work.n_params) + " " + r.work.weight_dtype;
  r.isa = std::string(isa_name(kernels::active_kernel_table().isa));
  r.activations = activation_use(weights);
  r.repetitions = o.repetitions;

  const int threads = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  if (o.measure_limits) {
    say("measuring machine limits (" + std::to_string(threads) + " threads, " +
        fmt("%.0f MiB", double(o.limits.read_buffer_bytes) / double(1 << 20)) + " read buffer)");
    r.limits = kernels::measure_machine_limits(threads, o.limits);
  }

  ModelBenchOptions run_options = o;
  run_options.threads = threads;
  BenchRunner runner(cfg, weights, run_options, context_tokens);
  r.threads = runner.threads();
  r.batch_tokens = std::min(o.batch_tokens, std::max(o.prompt_tokens, 1));

  auto run_test = [&](bool prefill, int32_t n) {
    BenchTestResult t;
    t.prefill = prefill;
    t.n_tokens = n;
    t.name = (prefill ? "pp" : "tg") + std::to_string(n);
    auto once = [&] { return prefill ? runner.run_prefill(n) : runner.run_generation(n); };
    say(t.name + ": warm-up");
    once();
    for (int rep = 0; rep < o.repetitions; ++rep) {
      const double s = once();
      t.seconds.push_back(s);
      t.tokens_per_s.push_back(double(n) / s);
      say(t.name + ": run " + std::to_string(rep + 1) + "/" + std::to_string(o.repetitions) + " " +
          fmt("%.2f t/s", double(n) / s));
    }
    t.tps = sample_stats(t.tokens_per_s);
    t.work_per_s = prefill
                       ? t.tps.mean * (r.work.prefill_ops_per_token + 2.0 * double(r.work.lm_head_params) / n)
                       : t.tps.mean * r.work.decode_bytes_per_token;
    r.tests.push_back(std::move(t));
  };
  if (o.prompt_tokens > 0) run_test(true, o.prompt_tokens);
  if (o.gen_tokens > 0) run_test(false, o.gen_tokens);

  if (o.profile) {
    BenchProfile p;
    p.tokens = o.gen_tokens > 0 ? o.gen_tokens : std::min<int32_t>(o.prompt_tokens, 32);
    say("profile: tg" + std::to_string(p.tokens) + " with op timers");
    p.wall_seconds = runner.run_generation(p.tokens, &p.ops);
    r.profile = std::move(p);
    if (o.prompt_tokens > 0) {
      BenchProfile pp;
      pp.tokens = o.prompt_tokens;
      say("profile: pp" + std::to_string(pp.tokens) + " with op timers");
      pp.wall_seconds = runner.run_prefill(pp.tokens, &pp.ops);
      r.prefill_profile = std::move(pp);
    }
  }
  return r;
}

std::string format_bench_markdown(const ModelBenchResult& r) {
  const bool roofs = r.limits.has_value();
  std::string out = "| model | size | params | backend | threads | test | t/s | work/s |";
  out += roofs ? " of roof |\n" : "\n";
  out += "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |";
  out += roofs ? " ---: |\n" : "\n";
  const BenchRatios ratios = bench_ratios(r);
  for (const BenchTestResult& t : r.tests) {
    out += "| " + r.model_name + " | " + size_column(r.work.size_bytes) + " | " +
           params_column(r.work.n_params) + " | CPU " + r.isa + " | " + std::to_string(r.threads) + " | " +
           t.name + " | " + fmt("%.2f", t.tps.mean) + " ± " + fmt("%.2f", t.tps.sd) + " | " + work_column(t) +
           " |";
    if (roofs) {
      std::string roof;
      if (t.prefill) {
        if (ratios.prefill_of_int8) roof = percent(*ratios.prefill_of_int8) + " of int8";
        if (ratios.prefill_of_f32)
          roof += (roof.empty() ? "" : ", ") + percent(*ratios.prefill_of_f32) + " of f32";
      } else if (ratios.decode_of_bandwidth) {
        roof = percent(*ratios.decode_of_bandwidth) + " of read BW";
      }
      out += " " + roof + " |";
    }
    out += "\n";
  }
  out += "\n";
  out += "activations: " + r.activations.describe() + "\n";
  if (r.limits) {
    const kernels::MachineLimits& m = *r.limits;
    out += "machine limits (" + m.isa + ", " + std::to_string(m.threads) + " threads): read bandwidth " +
           fmt("%.2f GB/s", m.read_bw_gbs) + ", f32 FMA " + fmt("%.1f GFLOPS", m.f32_gflops) + ", int8 " +
           m.int8_instruction + " " + fmt("%.1f GOPS", m.int8_gops) + "\n";
  }
  if (ratios.decode_of_bandwidth && *ratios.decode_of_bandwidth > 1.0)
    out +=
        "note: decode above 100% of read bandwidth means the weights are served from the caches, "
        "not from memory\n";
  const ModelWork& w = r.work;
  out += "work per token: decode reads " + fmt("%.2f MB", w.decode_bytes_per_token / 1e6) +
         " of weights (layer matrices + LM head + 1 embedding row); prefill " +
         fmt("%.3f GOP", w.prefill_ops_per_token / 1e9) + " (2 x " +
         fmt("%.2f M", double(w.layer_matmul_params) / 1e6) + " layer matmul params; + 2 x " +
         fmt("%.2f M", double(w.lm_head_params) / 1e6) +
         " LM head once per pp test); attention, norms and KV cache not counted\n";
  return out;
}

namespace {

// One profile table: op, calls per token, ms per token, share of the pass's wall time.
std::string format_profile(const BenchProfile& p, const std::string& what) {
  const double tokens = double(std::max(p.tokens, 1));
  const double timed_s = p.ops.total_seconds();
  std::string out = "profile: " + what + ": " + fmt("%.3f ms/token", p.wall_seconds * 1e3 / tokens) +
                    " wall, ops " + fmt("%.3f ms/token", timed_s * 1e3 / tokens) + " (" +
                    percent(p.wall_seconds > 0 ? timed_s / p.wall_seconds : 0) + ")\n\n";
  out += "| op | calls/token | ms/token | % |\n| --- | ---: | ---: | ---: |\n";
  std::vector<size_t> order;
  for (size_t k = 0; k < kOpKindCount; ++k)
    if (p.ops.calls[k] > 0) order.push_back(k);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return p.ops.seconds[a] > p.ops.seconds[b]; });
  for (size_t k : order) {
    out += "| " + std::string(op_kind_name(OpKind(k))) + " | " +
           fmt("%.1f", double(p.ops.calls[k]) / tokens) + " | " +
           fmt("%.4f", p.ops.seconds[k] * 1e3 / tokens) + " | " +
           fmt("%.1f", p.wall_seconds > 0 ? 100 * p.ops.seconds[k] / p.wall_seconds : 0) + " |\n";
  }
  const double untimed_s = std::max(0.0, p.wall_seconds - timed_s);
  out += "| (outside ops) | | " + fmt("%.4f", untimed_s * 1e3 / tokens) + " | " +
         fmt("%.1f", p.wall_seconds > 0 ? 100 * untimed_s / p.wall_seconds : 0) + " |\n";
  return out;
}

}  // namespace

std::string format_bench_profile(const ModelBenchResult& r) {
  if (!r.profile) return "";
  std::string out = format_profile(*r.profile, std::to_string(r.profile->tokens) +
                                                   " single-token forwards with op timers");
  if (r.prefill_profile)
    out += "\n" + format_profile(*r.prefill_profile,
                                 "one prefill of " + std::to_string(r.prefill_profile->tokens) +
                                     " tokens with op timers");
  return out;
}

nlohmann::json bench_to_json(const ModelBenchResult& r) {
  using nlohmann::json;
  const ModelWork& w = r.work;
  json j;
  j["model"] = {{"path", r.model_path},
                {"name", r.model_name},
                {"architecture", r.config.architecture},
                {"size_bytes", w.size_bytes},
                {"n_params", w.n_params},
                {"weight_dtype", w.weight_dtype},
                {"float_weights", w.float_weights},
                {"vocab_size", r.config.vocab_size},
                {"dim", r.config.dim},
                {"n_layers", r.config.n_layers}};
  j["config"] = {{"isa", r.isa},
                 {"activations", r.activations.mode()},
                 {"float_activation_matrices", r.activations.float_matrices},
                 {"int8_activation_matrices", r.activations.int8_matrices},
                 {"threads", r.threads},
                 {"repetitions", r.repetitions},
                 {"batch_tokens", r.batch_tokens}};
  j["work"] = {{"decode_bytes_per_token", w.decode_bytes_per_token},
               {"decode_bytes_definition", "layer matrices + LM head + one embedding row"},
               {"layer_matmul_params", w.layer_matmul_params},
               {"lm_head_params", w.lm_head_params},
               {"prefill_ops_per_token", w.prefill_ops_per_token},
               {"prefill_ops_definition",
                "2 * layer matmul params per token, plus 2 * LM head params once per pp test"}};
  json tests = json::array();
  for (const BenchTestResult& t : r.tests) {
    tests.push_back({{"name", t.name},
                     {"kind", t.prefill ? "pp" : "tg"},
                     {"n_tokens", t.n_tokens},
                     {"samples_s", t.seconds},
                     {"samples_ts", t.tokens_per_s},
                     {"mean_ts", t.tps.mean},
                     {"sd_ts", t.tps.sd},
                     {t.prefill ? "ops_per_s" : "weight_bytes_per_s", t.work_per_s}});
  }
  j["tests"] = std::move(tests);
  if (r.limits) {
    const kernels::MachineLimits& m = *r.limits;
    j["limits"] = {{"isa", m.isa},
                   {"threads", m.threads},
                   {"read_bw_gbs", m.read_bw_gbs},
                   {"f32_gflops", m.f32_gflops},
                   {"int8_gops", m.int8_gops},
                   {"int8_instruction", m.int8_instruction}};
  } else {
    j["limits"] = nullptr;
  }
  const BenchRatios ratios = bench_ratios(r);
  auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  j["ratios"] = {{"decode_of_bandwidth", opt(ratios.decode_of_bandwidth)},
                 {"prefill_of_int8", opt(ratios.prefill_of_int8)},
                 {"prefill_of_f32", opt(ratios.prefill_of_f32)}};
  if (r.profile) {
    const BenchProfile& p = *r.profile;
    json ops = json::array();
    for (size_t k = 0; k < kOpKindCount; ++k) {
      if (p.ops.calls[k] == 0) continue;
      ops.push_back({{"op", std::string(op_kind_name(OpKind(k)))},
                     {"calls", p.ops.calls[k]},
                     {"seconds", p.ops.seconds[k]}});
    }
    j["profile"] = {{"tokens", p.tokens}, {"wall_seconds", p.wall_seconds}, {"ops", std::move(ops)}};
  }
  return j;
}

}  // namespace tokenmill
