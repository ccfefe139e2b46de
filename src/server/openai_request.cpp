#include "server/openai_request.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "server/api_error.h"

namespace tokenmill::server {
namespace {

using json = nlohmann::ordered_json;

json parse_body(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw ApiError::invalid("request body is not valid JSON");
  if (!j.is_object()) throw ApiError::invalid("request body must be a JSON object");
  return j;
}

// Typed access to the top-level keys of a request object. A null value reads as absent.
class Fields {
 public:
  explicit Fields(const json& object) : object_(object) {}

  const json* find(const char* name) const {
    const auto it = object_.find(name);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  std::optional<double> number(const char* name) const {
    const json* v = find(name);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number()) throw ApiError::invalid(quoted(name) + " must be a number", name);
    return v->get<double>();
  }

  // Integers in [lo, hi]; 2.0 is not an integer here, as in OpenAI's schema.
  std::optional<int64_t> integer(const char* name, int64_t lo = std::numeric_limits<int32_t>::min(),
                                 int64_t hi = std::numeric_limits<int32_t>::max()) const {
    const json* v = find(name);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number_integer()) throw ApiError::invalid(quoted(name) + " must be an integer", name);
    if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
      throw ApiError::invalid(quoted(name) + " is out of range", name);
    const int64_t x = v->get<int64_t>();
    if (x < lo || x > hi)
      throw ApiError::invalid(quoted(name) + " must be in [" + std::to_string(lo) + ", " +
                                  std::to_string(hi) + "], got " + std::to_string(x),
                              name);
    return x;
  }

  std::optional<bool> boolean(const char* name) const {
    const json* v = find(name);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) throw ApiError::invalid(quoted(name) + " must be a boolean", name);
    return v->get<bool>();
  }

  std::optional<std::string> string(const char* name) const {
    const json* v = find(name);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) throw ApiError::invalid(quoted(name) + " must be a string", name);
    return v->get<std::string>();
  }

  static std::string quoted(const std::string& name) { return "'" + name + "'"; }

 private:
  const json& object_;
};

void check_model(const Fields& f, const ProtocolContext& ctx) {
  const std::optional<std::string> model = f.string("model");
  if (model && *model != ctx.served_model_name)
    throw ApiError(
        404, "invalid_request_error",
        "The model '" + *model + "' does not exist; this server serves '" + ctx.served_model_name + "'",
        "model", "model_not_found");
}

std::vector<std::string> read_stop(const Fields& f) {
  const json* v = f.find("stop");
  if (v == nullptr) return {};
  if (v->is_string()) return {v->get<std::string>()};
  if (!v->is_array()) throw ApiError::invalid("'stop' must be a string or an array of strings", "stop");
  if (v->size() > kMaxStopStrings)
    throw ApiError::invalid("'stop' may hold at most " + std::to_string(kMaxStopStrings) + " strings",
                            "stop");
  std::vector<std::string> stop;
  for (const json& s : *v) {
    if (!s.is_string()) throw ApiError::invalid("'stop' must be a string or an array of strings", "stop");
    stop.push_back(s.get<std::string>());
  }
  return stop;
}

std::vector<std::pair<int32_t, float>> read_logit_bias(const Fields& f) {
  const json* v = f.find("logit_bias");
  if (v == nullptr) return {};
  if (!v->is_object())
    throw ApiError::invalid("'logit_bias' must be an object mapping token ids to biases", "logit_bias");
  std::vector<std::pair<int32_t, float>> bias;
  for (auto it = v->begin(); it != v->end(); ++it) {
    const std::string& key = it.key();
    int32_t id = 0;
    size_t used = 0;
    try {
      id = std::stoi(key, &used);
    } catch (const std::logic_error&) {
      used = 0;
    }
    if (used == 0 || used != key.size())
      throw ApiError::invalid("'logit_bias' keys must be token ids, got '" + key + "'", "logit_bias");
    if (!it.value().is_number()) throw ApiError::invalid("'logit_bias' values must be numbers", "logit_bias");
    const double b = it.value().get<double>();
    if (!(b >= -100.0 && b <= 100.0))
      throw ApiError::invalid("'logit_bias' values must be in [-100, 100]", "logit_bias");
    bias.emplace_back(id, float(b));
  }
  return bias;
}

std::vector<int32_t> read_int_list(const Fields& f, const char* name) {
  const json* v = f.find(name);
  if (v == nullptr) return {};
  const std::string msg = Fields::quoted(name) + " must be an array of integers";
  if (!v->is_array()) throw ApiError::invalid(msg, name);
  std::vector<int32_t> ids;
  for (const json& x : *v) {
    if (!x.is_number_integer()) throw ApiError::invalid(msg, name);
    const int64_t id = x.get<int64_t>();
    if (id < std::numeric_limits<int32_t>::min() || id > std::numeric_limits<int32_t>::max())
      throw ApiError::invalid(msg, name);
    ids.push_back(int32_t(id));
  }
  return ids;
}

// Keys shared by both endpoints: sampling, n, priority, streaming, the model name.
void read_common(const Fields& f, const ProtocolContext& ctx, ParsedRequest& out) {
  check_model(f, ctx);
  GenerateRequest& g = out.generate;
  SamplingParams& p = g.params;
  if (auto x = f.number("temperature")) p.temperature = float(*x);
  if (auto x = f.number("top_p")) p.top_p = float(*x);
  if (auto x = f.integer("top_k")) p.top_k = int32_t(*x);
  if (auto x = f.number("min_p")) p.min_p = float(*x);
  if (auto x = f.number("presence_penalty")) p.presence_penalty = float(*x);
  if (auto x = f.number("frequency_penalty")) p.frequency_penalty = float(*x);
  if (auto x = f.number("repetition_penalty")) p.repetition_penalty = float(*x);
  if (auto x = f.integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()))
    p.seed = uint64_t(*x);
  p.stop = read_stop(f);
  p.stop_token_ids = read_int_list(f, "stop_token_ids");
  p.logit_bias = read_logit_bias(f);
  if (auto x = f.boolean("ignore_eos")) p.ignore_eos = *x;
  if (auto x = f.integer("n", 1, kMaxChoices)) g.n = int32_t(*x);
  if (auto x = f.integer("best_of"); x && *x > g.n)
    throw ApiError::invalid("'best_of' greater than 'n' is not supported", "best_of");
  if (auto x = f.integer("priority")) g.priority = int32_t(*x);
  f.string("user");  // accepted for compatibility; only its type is checked
  out.stream = f.boolean("stream").value_or(false);
  if (const json* so = f.find("stream_options")) {
    if (!so->is_object()) throw ApiError::invalid("'stream_options' must be an object", "stream_options");
    if (!out.stream)
      throw ApiError::invalid("'stream_options' is only allowed when 'stream' is true", "stream_options");
    out.include_usage = Fields(*so).boolean("include_usage").value_or(false);
  }
}

std::optional<int32_t> read_max_tokens(const Fields& f, const char* name) {
  if (auto x = f.integer(name, 1)) return int32_t(*x);
  return std::nullopt;
}

// Fills max_tokens (defaulting to what is left of the context) and checks that the prompt and
// the completion fit the context, with the numbers in the message as OpenAI gives them.
void fit_context(ParsedRequest& out, std::optional<int32_t> max_tokens, const ProtocolContext& ctx,
                 const char* prompt_field) {
  GenerateRequest& g = out.generate;
  const int64_t prompt_tokens = int64_t(g.prompt_ids.size());
  const int64_t context = ctx.max_model_len;
  if (prompt_tokens >= context)
    throw ApiError(400, "invalid_request_error",
                   "This model's maximum context length is " + std::to_string(context) +
                       " tokens, but the prompt has " + std::to_string(prompt_tokens) +
                       " tokens; at least 1 token must be left for the completion",
                   prompt_field, "context_length_exceeded");
  if (max_tokens && prompt_tokens + *max_tokens > context)
    throw ApiError(400, "invalid_request_error",
                   "This model's maximum context length is " + std::to_string(context) +
                       " tokens. However, you requested " + std::to_string(prompt_tokens + *max_tokens) +
                       " tokens (" + std::to_string(prompt_tokens) + " in the prompt, " +
                       std::to_string(*max_tokens) +
                       " in the completion). Please reduce the prompt or the completion length.",
                   prompt_field, "context_length_exceeded");
  g.params.max_tokens = max_tokens ? *max_tokens : int32_t(context - prompt_tokens);
}

void validate_sampling(const ParsedRequest& out, const ProtocolContext& ctx) {
  try {
    out.generate.params.validate(ctx.tokenizer.n_vocab());
  } catch (const Error& e) {
    throw ApiError::invalid(e.what());
  }
}

std::vector<int32_t> token_ids_of(const json& array, const ProtocolContext& ctx) {
  std::vector<int32_t> ids;
  ids.reserve(array.size());
  const int32_t n_vocab = ctx.tokenizer.n_vocab();
  for (const json& x : array) {
    if (!x.is_number_integer())
      throw ApiError::invalid("'prompt' must be a string or an array of token ids", "prompt");
    const int64_t id = x.get<int64_t>();
    if (id < 0 || id >= n_vocab)
      throw ApiError::invalid("'prompt' token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                  std::to_string(n_vocab) + ")",
                              "prompt");
    ids.push_back(int32_t(id));
  }
  return ids;
}

std::vector<int32_t> read_prompt(const Fields& f, const ProtocolContext& ctx) {
  const json* v = f.find("prompt");
  if (v == nullptr) throw ApiError::invalid("'prompt' is required", "prompt");
  const auto encode = [&](const std::string& text) { return ctx.tokenizer.encode(text, true, false); };
  if (v->is_string()) return encode(v->get<std::string>());
  if (!v->is_array()) throw ApiError::invalid("'prompt' must be a string or an array of token ids", "prompt");
  if (v->empty()) throw ApiError::invalid("'prompt' must not be empty", "prompt");
  const json& first = v->front();
  if (first.is_number_integer()) return token_ids_of(*v, ctx);
  // A list of prompts (strings or token arrays) is a batch: one element is the only size served.
  if (v->size() > 1) throw ApiError::invalid("only one prompt per request is supported", "prompt");
  if (first.is_string()) return encode(first.get<std::string>());
  if (first.is_array()) return token_ids_of(first, ctx);
  throw ApiError::invalid("'prompt' must be a string or an array of token ids", "prompt");
}

// Content as the chat template expects it: a string. Text parts are joined with newlines.
json message_content(const json& message, size_t index) {
  const std::string where = "messages[" + std::to_string(index) + "].content";
  const auto it = message.find("content");
  if (it == message.end() || it->is_null()) {
    // An assistant turn that only calls tools has no content; templates test it against none.
    if (message.contains("tool_calls")) return nullptr;
    return "";
  }
  if (it->is_string()) return *it;
  if (!it->is_array())
    throw ApiError::invalid("'" + where + "' must be a string or an array of content parts", "messages");
  std::string text;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& part = (*it)[i];
    const std::string part_where = where + "[" + std::to_string(i) + "]";
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      throw ApiError::invalid("'" + part_where + "' must be an object with a string 'type'", "messages");
    const std::string type = part["type"].get<std::string>();
    if (type != "text")
      throw ApiError::invalid(
          "'" + part_where + "': only 'text' content parts are supported, got '" + type + "'", "messages");
    if (!part.contains("text") || !part["text"].is_string())
      throw ApiError::invalid("'" + part_where + ".text' must be a string", "messages");
    if (!text.empty()) text += "\n";
    text += part["text"].get<std::string>();
  }
  return text;
}

json read_messages(const Fields& f) {
  const json* v = f.find("messages");
  if (v == nullptr) throw ApiError::invalid("'messages' is required", "messages");
  if (!v->is_array()) throw ApiError::invalid("'messages' must be an array", "messages");
  if (v->empty()) throw ApiError::invalid("'messages' must not be empty", "messages");
  json messages = json::array();
  for (size_t i = 0; i < v->size(); ++i) {
    const json& m = (*v)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) throw ApiError::invalid("'" + where + "' must be an object", "messages");
    const auto role = m.find("role");
    if (role == m.end() || !role->is_string())
      throw ApiError::invalid("'" + where + ".role' is required and must be a string", "messages");
    json copy = m;  // name, tool_calls, tool_call_id, ... reach the template unchanged
    copy["content"] = message_content(m, i);
    messages.push_back(std::move(copy));
  }
  return messages;
}

}  // namespace

ParsedRequest parse_completion_request(std::string_view body, const ProtocolContext& ctx) {
  const json j = parse_body(body);
  const Fields f(j);
  ParsedRequest out;
  out.endpoint = Endpoint::Completions;
  read_common(f, ctx, out);
  if (auto x = f.integer("logprobs", 0, kMaxTopLogprobs)) out.generate.top_logprobs = int32_t(*x);
  if (f.boolean("echo").value_or(false)) throw ApiError::invalid("'echo' is not supported", "echo");
  if (auto s = f.string("suffix"); s && !s->empty())
    throw ApiError::invalid("'suffix' is not supported", "suffix");
  const std::optional<int32_t> max_tokens = read_max_tokens(f, "max_tokens");
  out.generate.prompt_ids = read_prompt(f, ctx);
  if (out.generate.prompt_ids.empty()) throw ApiError::invalid("'prompt' must not be empty", "prompt");
  fit_context(out, max_tokens.value_or(kCompletionsDefaultMaxTokens), ctx, "prompt");
  validate_sampling(out, ctx);
  return out;
}

ParsedRequest parse_chat_request(std::string_view body, const ProtocolContext& ctx) {
  const json j = parse_body(body);
  const Fields f(j);
  ParsedRequest out;
  out.endpoint = Endpoint::ChatCompletions;
  read_common(f, ctx, out);
  const bool logprobs = f.boolean("logprobs").value_or(false);
  const std::optional<int64_t> top = f.integer("top_logprobs", 0, kMaxTopLogprobs);
  if (top && !logprobs)
    throw ApiError::invalid("'top_logprobs' requires 'logprobs' to be true", "top_logprobs");
  if (logprobs) out.generate.top_logprobs = int32_t(top.value_or(0));
  if (const json* rf = f.find("response_format")) {
    const std::optional<std::string> type = rf->is_object() ? Fields(*rf).string("type") : std::nullopt;
    if (type != "text")
      throw ApiError::invalid("only the 'text' response_format is supported", "response_format");
  }
  std::optional<int32_t> max_tokens = read_max_tokens(f, "max_completion_tokens");
  if (!max_tokens) max_tokens = read_max_tokens(f, "max_tokens");

  json extra = json::object();
  if (const json* tools = f.find("tools")) {
    if (!tools->is_array()) throw ApiError::invalid("'tools' must be an array", "tools");
    extra["tools"] = *tools;
  }
  const json messages = read_messages(f);
  std::string rendered;
  try {
    rendered = ctx.chat.render(messages, /*add_generation_prompt=*/true, extra);
  } catch (const Error& e) {
    throw ApiError::invalid(e.what(), "messages");
  }
  out.generate.prompt_ids = ctx.chat.tokenize(rendered);
  if (out.generate.prompt_ids.empty())
    throw ApiError::invalid("the rendered chat prompt is empty", "messages");
  fit_context(out, max_tokens, ctx, "messages");
  validate_sampling(out, ctx);
  return out;
}

}  // namespace tokenmill::server
