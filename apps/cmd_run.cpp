// `tokenmill run`: prompt in, text streamed to stdout, timings on stderr.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli_common.h"
#include "core/error.h"
#include "engine/model_loader.h"
#include "engine_stream.h"
#include "run_batch.h"

namespace tokenmill::cli {

namespace {

struct RunFlags {
  ModelFlags model;
  SamplingFlags sampling;
  std::string prompt;
  std::string prompt_file;
  bool no_special = false;
  bool quiet = false;
  std::string batch_file;
  std::string batch_output;
  int32_t max_num_seqs = 64;
};

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), path + ": cannot open prompt file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void run(const RunFlags& f) {
  if (!f.batch_file.empty()) {
    check(f.prompt.empty() && f.prompt_file.empty(), "--batch takes prompts from its file, not -p/-f");
    EngineConfig ec;
    ec.threads = f.model.threads;
    ec.max_model_len = f.model.ctx;
    ec.max_num_batched_tokens = std::max(f.model.batch, 1);
    ec.max_num_seqs = f.max_num_seqs;
    ec.max_queued_requests = 1 << 20;  // offline: everything waits its turn
    run_batch(f.batch_file, f.batch_output, f.model.model, f.model.load_options(), ec, f.sampling.params());
    return;
  }
  check(f.prompt.empty() || f.prompt_file.empty(), "give either -p/--prompt or -f/--file, not both");
  const std::string prompt = f.prompt_file.empty() ? f.prompt : read_text_file(f.prompt_file);
  check(!prompt.empty(), "empty prompt: give one with -p TEXT or -f FILE");
  GenerateRequest request;
  request.request_id = "run";
  request.params = f.sampling.params();
  LoadedModel m = load_model(f.model.model, f.model.load_options());
  Engine engine(m, single_user_engine_config(m, f.model.threads, f.model.ctx, f.model.batch));
  request.prompt_ids = m.tokenizer->encode(prompt, !f.no_special, false);
  fit_max_tokens(request, engine.max_model_len());
  if (!f.quiet) {
    std::fputs(prompt.c_str(), stdout);
    std::fflush(stdout);
  }
  const StreamStats st = stream_request(engine, std::move(request), [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  });
  std::fputs("\n", stdout);
  std::fflush(stdout);
  std::fprintf(stderr,
               "\nprefill: %d tokens in %.3f s = %.2f tokens/s\n"
               "decode:  %d tokens in %.3f s = %.2f tokens/s\n"
               "finish:  %s | threads %d | activations %s | %s\n",
               st.prompt_tokens - st.cached_tokens, st.prefill_seconds, st.prefill_tokens_per_s(),
               st.generated_tokens, st.decode_seconds, st.decode_tokens_per_s(),
               std::string(finish_reason_name(st.finish)).c_str(), engine.threads(),
               activation_use(m.weights).mode().c_str(), f.model.model.c_str());
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt (streams to stdout, timings to stderr)");
  flags->model.add(*cmd);
  flags->sampling.add(*cmd);
  cmd->add_option("-p,--prompt", flags->prompt, "Prompt text");
  cmd->add_option("-f,--file", flags->prompt_file, "Read the prompt from a file");
  cmd->add_flag("--no-special", flags->no_special, "Do not add BOS/EOS tokens around the prompt");
  cmd->add_flag("-q,--quiet", flags->quiet, "Do not echo the prompt");
  cmd->add_option("--batch", flags->batch_file,
                  "Offline batch: a JSONL file of requests ({\"prompt\"} or {\"messages\"}, optional max_tokens, "
                  "temperature, top_p, top_k, seed, stop); results as JSONL");
  cmd->add_option("-o,--output", flags->batch_output, "With --batch: write results here instead of stdout");
  cmd->add_option("--max-num-seqs", flags->max_num_seqs, "With --batch: sequences decoded at once")
      ->check(CLI::PositiveNumber);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace tokenmill::cli
