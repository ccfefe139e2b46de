// tokenmill: command-line entry point. Each subcommand lives in its own cmd_*.cpp; this file
// only wires them and turns errors into one-line messages and exit codes.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cli_common.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"tokenmill: LLM inference engine for Llama-family models (GGUF and Hugging Face)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tokenmill 0.1.0");
  tokenmill::cli::add_run_command(app);
  tokenmill::cli::add_chat_command(app);
  tokenmill::cli::add_logits_command(app);
  tokenmill::cli::add_perplexity_command(app);
  tokenmill::cli::add_tokenize_commands(app);
  tokenmill::cli::add_inspect_command(app);
  tokenmill::cli::add_convert_command(app);
  tokenmill::cli::add_quantize_command(app);
  tokenmill::cli::add_serve_command(app);
  tokenmill::cli::add_bench_command(app);
  tokenmill::cli::add_plan_command(app);
  tokenmill::cli::add_cost_command(app);
  tokenmill::cli::add_report_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const tokenmill::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
