// `tokenmill logits`: logits of the last prompt position (or every position with --all), as text
// (one line per position, space-separated) or as a .npy file.
#include <cstdio>
#include <memory>
#include <string>

#include "cli_common.h"
#include "core/error.h"
#include "engine/model_loader.h"
#include "formats/npy.h"

namespace tokenmill::cli {

namespace {

struct LogitsFlags {
  ModelFlags model;
  std::string prompt;
  std::vector<int64_t> ids;
  bool all = false;
  bool no_special = false;
  std::string output;
};

void logits(const LogitsFlags& f) {
  check(f.prompt.empty() != f.ids.empty(), "give exactly one of -p/--prompt TEXT or --ids ID...");
  LoadedModel m = load_model(f.model.model, f.model.load_options());
  std::vector<int32_t> ids;
  if (!f.ids.empty()) {
    for (int64_t id : f.ids) {
      check(id >= 0 && id < m.config.vocab_size,
            "--ids: token id " + std::to_string(id) + " out of range [0, " + std::to_string(m.config.vocab_size) + ")");
      ids.push_back(int32_t(id));
    }
  } else {
    ids = m.tokenizer->encode(f.prompt, !f.no_special, false);
  }
  PromptScorer scorer(m, f.model.scorer_options());
  const std::vector<float> out = scorer.prompt_logits(ids, f.all);
  const size_t vocab = size_t(m.config.vocab_size);
  const size_t rows = out.size() / vocab;
  if (!f.output.empty()) {
    write_npy_f32(f.output, out.data(), {rows, vocab});
    std::fprintf(stderr, "wrote %zu x %zu logits to %s\n", rows, vocab, f.output.c_str());
    return;
  }
  std::string line;
  char buf[32];
  for (size_t r = 0; r < rows; ++r) {
    line.clear();
    for (size_t v = 0; v < vocab; ++v) {
      std::snprintf(buf, sizeof buf, v ? " %.9g" : "%.9g", double(out[r * vocab + v]));
      line += buf;
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
}

}  // namespace

void add_logits_command(CLI::App& app) {
  auto f = std::make_shared<LogitsFlags>();
  CLI::App* cmd = app.add_subcommand("logits", "Print the logits of a prompt's last position (or all with --all)");
  f->model.add(*cmd);
  cmd->add_option("-p,--prompt", f->prompt, "Prompt text");
  cmd->add_option("--ids", f->ids, "Prompt as token ids instead of text");
  cmd->add_flag("--all", f->all, "Logits of every position, one line each");
  cmd->add_flag("--no-special", f->no_special, "Do not add BOS/EOS when tokenizing the prompt");
  cmd->add_option("-o,--output", f->output, "Write a float32 .npy [positions, vocab] instead of text");
  cmd->callback([f] { logits(*f); });
}

}  // namespace tokenmill::cli
