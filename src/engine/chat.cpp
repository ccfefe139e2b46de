#include "engine/chat.h"

#include "core/error.h"

namespace tokenmill {

const char* const kChatMlTemplate =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

ChatFormatter::ChatFormatter(const std::string& source, const Tokenizer& tokenizer) : tokenizer_(tokenizer) {
  fallback_ = source.empty();
  try {
    template_ = std::make_unique<jinja::Template>(fallback_ ? std::string(kChatMlTemplate) : source);
  } catch (const Error& e) {
    throw Error(std::string("chat template: ") + e.what());
  }
}

std::string ChatFormatter::render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                  const nlohmann::ordered_json& extra) const {
  nlohmann::ordered_json ctx = extra.is_object() ? extra : nlohmann::ordered_json::object();
  ctx["messages"] = messages;
  ctx["add_generation_prompt"] = add_generation_prompt;
  const int32_t bos = tokenizer_.bos_id(), eos = tokenizer_.eos_id();
  ctx["bos_token"] = bos >= 0 ? tokenizer_.token_to_piece(bos) : "";
  ctx["eos_token"] = eos >= 0 ? tokenizer_.token_to_piece(eos) : "";
  try {
    return template_->render(ctx);
  } catch (const Error& e) {
    throw Error(std::string("chat template: ") + e.what());
  }
}

std::vector<int32_t> ChatFormatter::tokenize(const std::string& rendered) const {
  std::vector<int32_t> ids = tokenizer_.encode(rendered, false, true);
  const int32_t bos = tokenizer_.bos_id();
  if (tokenizer_.spec().add_bos && bos >= 0 && (ids.empty() || ids.front() != bos)) ids.insert(ids.begin(), bos);
  return ids;
}

}  // namespace tokenmill
