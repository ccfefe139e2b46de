#include "server/openai_response.h"

#include <cmath>

#include "server/sse.h"
#include "tokenizer/utf8.h"

namespace tokenmill::server {
namespace {

using json = nlohmann::ordered_json;

// JSON has no -inf; OpenAI reports impossible tokens with this value.
double json_logprob(float logprob) {
  return std::isfinite(logprob) ? double(logprob) : -9999.0;
}

// A token as text in a logprobs entry. A piece that is not whole UTF-8 (one byte of a multi-byte
// character) is written "bytes:\\xNN...", as OpenAI does, so distinct byte tokens stay distinct
// instead of all becoming U+FFFD.
std::string token_text(const Tokenizer& tokenizer, int32_t id) {
  const std::string piece = tokenizer.token_to_piece(id);
  if (utf8::is_valid(piece)) return piece;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "bytes:";
  for (unsigned char c : piece) {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

json byte_list(const std::string& piece) {
  json bytes = json::array();
  for (unsigned char c : piece) bytes.push_back(int(c));
  return bytes;
}

const char* object_name(Endpoint endpoint, bool chunk) {
  if (endpoint == Endpoint::Completions) return "text_completion";
  return chunk ? "chat.completion.chunk" : "chat.completion";
}

json stream_error_chunk(const std::string& message) {
  return {{"error", {{"message", message}, {"type", "server_error"}, {"param", nullptr}, {"code", nullptr}}}};
}

}  // namespace

std::string_view finish_reason_text(FinishReason reason) {
  switch (reason) {
    case FinishReason::Eos:
    case FinishReason::Stop:
      return "stop";
    case FinishReason::Length:
    case FinishReason::ContextFull:
      return "length";
    case FinishReason::Cancelled:
      return "abort";
  }
  return "stop";
}

json usage_json(const Usage& usage, const CostRates& rates) {
  json u = {{"prompt_tokens", usage.prompt_tokens},
            {"completion_tokens", usage.completion_tokens},
            {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
            {"prompt_tokens_details", {{"cached_tokens", usage.cached_tokens}}}};
  if (!rates.enabled()) return u;
  const RequestCost& c = usage.cost;
  const double quant_seconds =
      rates.bandwidth_bytes_per_s > 0 ? c.quantization_saved_bytes / rates.bandwidth_bytes_per_s : 0.0;
  json cost = {{"prompt_seconds", c.prompt_seconds}, {"completion_seconds", c.completion_seconds}};
  if (rates.price_per_hour > 0) {
    cost["usd"] = rates.usd(c.seconds());
    cost["prompt_usd"] = rates.usd(c.prompt_seconds);
    cost["completion_usd"] = rates.usd(c.completion_seconds);
  }
  if (rates.power_watts > 0) cost["energy_joules"] = rates.joules(c.seconds());
  json savings = {{"prefix_cache_seconds", c.prefix_cache_saved_seconds},
                  {"quantization_bytes", c.quantization_saved_bytes}};
  if (rates.bandwidth_bytes_per_s > 0) savings["quantization_seconds"] = quant_seconds;
  if (rates.price_per_hour > 0) {
    savings["prefix_cache_usd"] = rates.usd(c.prefix_cache_saved_seconds);
    if (rates.bandwidth_bytes_per_s > 0) savings["quantization_usd"] = rates.usd(quant_seconds);
  }
  cost["savings"] = std::move(savings);
  u["cost"] = std::move(cost);
  return u;
}

json LogprobsBuilder::append(const std::vector<TokenLogprob>& tokens) {
  if (endpoint_ == Endpoint::ChatCompletions) {
    json content = json::array();
    for (const TokenLogprob& t : tokens) {
      json top = json::array();
      for (const auto& [id, lp] : t.top)
        top.push_back({{"token", token_text(tokenizer_, id)},
                       {"logprob", json_logprob(lp)},
                       {"bytes", byte_list(tokenizer_.token_to_piece(id))}});
      content.push_back({{"token", token_text(tokenizer_, t.token_id)},
                         {"logprob", json_logprob(t.logprob)},
                         {"bytes", byte_list(tokenizer_.token_to_piece(t.token_id))},
                         {"top_logprobs", top}});
    }
    return {{"content", content}};
  }
  json pieces = json::array(), logprobs = json::array(), tops = json::array(), offsets = json::array();
  for (const TokenLogprob& t : tokens) {
    const std::string piece = tokenizer_.token_to_piece(t.token_id);
    pieces.push_back(token_text(tokenizer_, t.token_id));
    logprobs.push_back(json_logprob(t.logprob));
    json top = json::object();
    // Keyed by text, so two tokens that decode alike share a key: keep the likelier (listed first).
    for (const auto& [id, lp] : t.top) {
      const std::string key = token_text(tokenizer_, id);
      if (!top.contains(key)) top[key] = json_logprob(lp);
    }
    tops.push_back(top);
    offsets.push_back(text_offset_);
    text_offset_ += int64_t(piece.size());
  }
  return {{"tokens", pieces}, {"token_logprobs", logprobs}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

CompletionCollector::CompletionCollector(ResponseMeta meta, int32_t n, const Tokenizer& tokenizer)
    : meta_(std::move(meta)), tokenizer_(tokenizer), choices_(size_t(n)) {}

void CompletionCollector::add(const RequestEvent& event) {
  for (const ChoiceDelta& d : event.deltas) {
    if (d.index < 0 || size_t(d.index) >= choices_.size()) continue;
    Choice& c = choices_[size_t(d.index)];
    c.text += d.text;
    c.logprobs.insert(c.logprobs.end(), d.logprobs.begin(), d.logprobs.end());
    if (d.finish) c.finish = d.finish;
  }
}

json CompletionCollector::response(const Usage& usage) const {
  json choices = json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& c = choices_[i];
    json choice;
    choice["index"] = i;
    if (meta_.endpoint == Endpoint::ChatCompletions)
      choice["message"] = {{"role", "assistant"}, {"content", c.text}};
    else
      choice["text"] = c.text;
    choice["logprobs"] =
        meta_.logprobs ? LogprobsBuilder(meta_.endpoint, tokenizer_).append(c.logprobs) : json(nullptr);
    choice["finish_reason"] = c.finish ? json(finish_reason_text(*c.finish)) : json("stop");
    choices.push_back(std::move(choice));
  }
  return {{"id", meta_.id},           {"object", object_name(meta_.endpoint, false)},
          {"created", meta_.created}, {"model", meta_.model},
          {"choices", choices},       {"usage", usage_json(usage, meta_.cost)}};
}

ChunkStreamer::ChunkStreamer(ResponseMeta meta, int32_t n, bool include_usage, const Tokenizer& tokenizer)
    : meta_(std::move(meta)), include_usage_(include_usage) {
  for (int32_t i = 0; i < n; ++i) logprobs_.emplace_back(meta_.endpoint, tokenizer);
}

json ChunkStreamer::chunk_header() const {
  return {{"id", meta_.id},
          {"object", object_name(meta_.endpoint, true)},
          {"created", meta_.created},
          {"model", meta_.model}};
}

std::string ChunkStreamer::begin() {
  if (meta_.endpoint != Endpoint::ChatCompletions) return "";
  std::string out;
  for (size_t i = 0; i < logprobs_.size(); ++i) {
    json chunk = chunk_header();
    chunk["choices"] = json::array({{{"index", i},
                                     {"delta", {{"role", "assistant"}, {"content", ""}}},
                                     {"logprobs", nullptr},
                                     {"finish_reason", nullptr}}});
    out += sse_event(chunk);
  }
  return out;
}

std::string ChunkStreamer::on_event(const RequestEvent& event) {
  std::string out;
  for (const ChoiceDelta& d : event.deltas) {
    if (d.index < 0 || size_t(d.index) >= logprobs_.size()) continue;
    const bool has_logprobs = meta_.logprobs && !d.logprobs.empty();
    // Tokens that are half a UTF-8 character produce no text yet; nothing to say about them.
    if (d.text.empty() && !d.finish && !has_logprobs) continue;
    json choice;
    choice["index"] = d.index;
    if (meta_.endpoint == Endpoint::ChatCompletions)
      choice["delta"] = d.text.empty() && d.finish ? json::object() : json{{"content", d.text}};
    else
      choice["text"] = d.text;
    choice["logprobs"] = meta_.logprobs ? logprobs_[size_t(d.index)].append(d.logprobs) : json(nullptr);
    choice["finish_reason"] = d.finish ? json(finish_reason_text(*d.finish)) : json(nullptr);
    json chunk = chunk_header();
    chunk["choices"] = json::array({std::move(choice)});
    out += sse_event(chunk);
  }
  if (!event.error.empty()) {
    out += sse_event(stream_error_chunk(event.error));
    return out + sse_done();
  }
  if (event.done) {
    if (include_usage_) {
      json chunk = chunk_header();
      chunk["choices"] = json::array();
      chunk["usage"] = usage_json(event.usage, meta_.cost);
      out += sse_event(chunk);
    }
    out += sse_done();
  }
  return out;
}

}  // namespace tokenmill::server
