// Shared pieces of the server unit tests: the tiny llama fixture's tokenizer and a protocol
// context over it.
#pragma once
#include <memory>
#include <string>

#include "engine/chat.h"
#include "engine/model_loader.h"
#include "server/openai_request.h"

namespace tokenmill::server::testing {

inline std::string fixture_model_path() {
  return std::string(TOKENMILL_SOURCE_DIR) + "/tests/fixtures/models/llama/model.gguf";
}

// Tokenizer and chat template of the fixture, loaded once per test binary.
struct FixtureProtocol {
  FixtureProtocol() : files(open_model_files(fixture_model_path())), tokenizer(load_tokenizer(files)) {
    chat_template = files.gguf->get_string("tokenizer.chat_template").value_or("");
    chat = std::make_unique<ChatFormatter>(chat_template, *tokenizer);
  }
  ProtocolContext context(int32_t max_model_len = 256) const {
    return ProtocolContext{*tokenizer, *chat, "tiny", max_model_len};
  }
  static const FixtureProtocol& get() {
    static const FixtureProtocol instance;
    return instance;
  }
  ModelFiles files;
  std::unique_ptr<Tokenizer> tokenizer;
  std::string chat_template;
  std::unique_ptr<ChatFormatter> chat;
};

}  // namespace tokenmill::server::testing
