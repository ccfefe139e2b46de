// Chat prompts: renders the model's own Jinja chat template (GGUF tokenizer.chat_template or
// tokenizer_config.json) over OpenAI-style messages, as Hugging Face's apply_chat_template does.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "jinja/template.h"
#include "tokenizer/tokenizer.h"

namespace tokenmill {

// ChatML, used when a model ships no template.
extern const char* const kChatMlTemplate;

class ChatFormatter {
 public:
  // template_source empty: ChatML. Throws Error when the template does not parse.
  ChatFormatter(const std::string& template_source, const Tokenizer& tokenizer);

  // messages: [{"role": ..., "content": ...}, ...]; extra keys (e.g. tools) merge into the context.
  std::string render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                     const nlohmann::ordered_json& extra_context = nlohmann::ordered_json::object()) const;
  // Token ids of a rendered prompt: special tokens in the text are parsed; BOS is added only when
  // the tokenizer wants one and the template did not already write it.
  std::vector<int32_t> tokenize(const std::string& rendered) const;
  bool uses_fallback() const { return fallback_; }

 private:
  const Tokenizer& tokenizer_;
  std::unique_ptr<jinja::Template> template_;
  bool fallback_ = false;
};

}  // namespace tokenmill
