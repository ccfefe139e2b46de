// `tokenmill tokenize` / `tokenmill detokenize`: ids space-separated; works on vocab-only GGUFs.
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli_common.h"
#include "core/error.h"
#include "engine/model_loader.h"

namespace tokenmill::cli {

namespace {

struct TokenizeFlags {
  ModelFlags model;
  std::string text;
  bool no_special = false;
  bool parse_special = false;
  bool show_pieces = false;
  std::vector<std::string> ids;
};

std::string read_stdin() {
  std::stringstream ss;
  ss << std::cin.rdbuf();
  return ss.str();
}

void tokenize(const TokenizeFlags& f) {
  const ModelFiles files = open_model_files(f.model.model);
  const auto tok = load_tokenizer(files);
  const std::string text = f.text.empty() ? read_stdin() : f.text;
  const std::vector<int32_t> ids = tok->encode(text, !f.no_special, f.parse_special);
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ' ';
    out += std::to_string(ids[i]);
    if (f.show_pieces) out += ":'" + tok->token_to_piece(ids[i]) + "'";
  }
  std::printf("%s\n", out.c_str());
}

void detokenize(const TokenizeFlags& f) {
  const ModelFiles files = open_model_files(f.model.model);
  const auto tok = load_tokenizer(files);
  std::vector<std::string> words = f.ids;
  if (words.empty()) {
    std::istringstream in(read_stdin());
    for (std::string w; in >> w;) words.push_back(w);
  }
  std::vector<int32_t> ids;
  for (const std::string& w : words) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(w, &used);
    } catch (const std::logic_error&) {
      used = 0;
    }
    check(used == w.size() && v >= 0 && v < tok->n_vocab(),
          "token id '" + w + "' is not an integer in [0, " + std::to_string(tok->n_vocab()) + ")");
    ids.push_back(int32_t(v));
  }
  const std::string text = tok->decode(ids, f.no_special);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputs("\n", stdout);
}

}  // namespace

void add_tokenize_commands(CLI::App& app) {
  auto tf = std::make_shared<TokenizeFlags>();
  CLI::App* t = app.add_subcommand("tokenize", "Print the token ids of a text (from -p or stdin)");
  tf->model.add(*t, false);
  t->add_option("-p,--prompt", tf->text, "Text to tokenize (default: read stdin)");
  t->add_flag("--no-special", tf->no_special, "Do not add BOS/EOS");
  t->add_flag("--parse-special", tf->parse_special, "Recognize special tokens written in the text");
  t->add_flag("--pieces", tf->show_pieces, "Print each id with its piece");
  t->callback([tf] { tokenize(*tf); });

  auto df = std::make_shared<TokenizeFlags>();
  CLI::App* d = app.add_subcommand("detokenize", "Print the text of token ids (arguments or stdin)");
  df->model.add(*d, false);
  d->add_option("ids", df->ids, "Token ids (default: read stdin)");
  d->add_flag("--skip-special", df->no_special, "Leave special tokens out of the text");
  d->callback([df] { detokenize(*df); });
}

}  // namespace tokenmill::cli
