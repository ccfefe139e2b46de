// `tokenmill chat`: interactive conversation using the model's chat template.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "cli_common.h"
#include "core/error.h"
#include "engine/chat.h"
#include "engine/model_loader.h"
#include "engine_stream.h"

namespace tokenmill::cli {

namespace {

struct ChatFlags {
  ModelFlags model;
  SamplingFlags sampling;
  std::string system;
  std::vector<std::string> prompts;  // non-interactive turns
  bool show_prompt = false;
};

void chat(const ChatFlags& f) {
  const SamplingParams params = f.sampling.params();
  LoadedModel m = load_model(f.model.model, f.model.load_options());
  // Each turn is a new request; the previous turns' KV blocks stay in the prefix cache.
  Engine engine(m, single_user_engine_config(m, f.model.threads, f.model.ctx, f.model.batch));
  ChatFormatter fmt(m.chat_template, *m.tokenizer);
  if (fmt.uses_fallback()) std::fprintf(stderr, "note: the model has no chat template; using ChatML\n");
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (!f.system.empty()) messages.push_back({{"role", "system"}, {"content", f.system}});
  const bool interactive = f.prompts.empty();
  const bool tty = isatty(STDIN_FILENO);
  if (interactive && tty) std::fprintf(stderr, "chat with %s — empty line or /exit to quit\n", f.model.model.c_str());
  size_t next_prompt = 0;
  for (;;) {
    std::string user;
    if (interactive) {
      if (tty) std::fputs("> ", stderr);
      if (!std::getline(std::cin, user) || user.empty() || user == "/exit") break;
    } else {
      if (next_prompt == f.prompts.size()) break;
      user = f.prompts[next_prompt++];
      std::printf("> %s\n", user.c_str());
    }
    messages.push_back({{"role", "user"}, {"content", user}});
    const std::string rendered = fmt.render(messages, true);
    if (f.show_prompt) std::fprintf(stderr, "[prompt]\n%s\n[/prompt]\n", rendered.c_str());
    GenerateRequest request;
    request.request_id = "turn-" + std::to_string(messages.size());
    request.prompt_ids = fmt.tokenize(rendered);
    request.params = params;
    fit_max_tokens(request, engine.max_model_len());
    std::string reply;
    const StreamStats st = stream_request(engine, std::move(request), [&](std::string_view piece) {
      reply += piece;
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    });
    std::fputs("\n", stdout);
    std::fflush(stdout);
    std::fprintf(stderr, "[%d prompt tokens (%d cached), %d generated, %.1f tokens/s, %s]\n", st.prompt_tokens,
                 st.cached_tokens, st.generated_tokens, st.decode_tokens_per_s(),
                 std::string(finish_reason_name(st.finish)).c_str());
    messages.push_back({{"role", "assistant"}, {"content", reply}});
  }
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto f = std::make_shared<ChatFlags>();
  CLI::App* cmd = app.add_subcommand("chat", "Interactive chat using the model's chat template");
  f->model.add(*cmd);
  f->sampling.add(*cmd);
  f->sampling.max_tokens = 256;
  cmd->add_option("--system", f->system, "System prompt");
  cmd->add_option("-p,--prompt", f->prompts, "User turn to send instead of reading stdin (repeatable)");
  cmd->add_flag("--show-prompt", f->show_prompt, "Print the rendered template to stderr");
  cmd->callback([f] { chat(*f); });
}

}  // namespace tokenmill::cli
