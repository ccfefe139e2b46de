// `tokenmill run --batch FILE.jsonl`: offline throughput mode. Every line is a request
// ({"prompt": "..."} or {"messages": [...]}, optional "id", "max_tokens", "temperature", "top_p",
// "top_k", "seed", "stop"); all go to the serving engine at once (continuous batching) and each
// result is written as one JSON line, in input order.
#include "run_batch.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "engine/chat.h"
#include "engine/engine.h"
#include "engine/model_loader.h"

namespace tokenmill::cli {

namespace {

struct BatchItem {
  std::string id;
  GenerateRequest request;
  std::shared_ptr<RequestStream> stream;
};

SamplingParams params_of(const nlohmann::json& j, const SamplingParams& defaults, const std::string& where) {
  SamplingParams p = defaults;
  try {
    if (j.contains("max_tokens")) p.max_tokens = j.at("max_tokens").get<int32_t>();
    if (j.contains("temperature")) p.temperature = j.at("temperature").get<float>();
    if (j.contains("top_p")) p.top_p = j.at("top_p").get<float>();
    if (j.contains("top_k")) p.top_k = j.at("top_k").get<int32_t>();
    if (j.contains("min_p")) p.min_p = j.at("min_p").get<float>();
    if (j.contains("seed")) p.seed = j.at("seed").get<uint64_t>();
    if (j.contains("stop")) {
      const auto& s = j.at("stop");
      p.stop = s.is_string() ? std::vector<std::string>{s.get<std::string>()} : s.get<std::vector<std::string>>();
    }
    if (j.contains("ignore_eos")) p.ignore_eos = j.at("ignore_eos").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": bad field type: " + e.what());
  }
  return p;
}

}  // namespace

void run_batch(const std::string& path, const std::string& output_path, const std::string& model_path,
               const LoadOptions& load_options,
               const EngineConfig& engine_config, const SamplingParams& defaults) {
  std::ifstream in(path);
  check(in.good(), path + ": cannot open batch file");
  LoadedModel m = load_model(model_path, load_options);
  ChatFormatter fmt(m.chat_template, *m.tokenizer);
  std::vector<BatchItem> items;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    nlohmann::ordered_json j;
    try {
      j = nlohmann::ordered_json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(where + ": invalid JSON: " + e.what());
    }
    check(j.is_object(), where + ": expected a JSON object");
    BatchItem item;
    item.id = j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>() : std::to_string(line_no);
    if (j.contains("messages")) {
      check(j["messages"].is_array(), where + ": 'messages' must be an array");
      item.request.prompt_ids = fmt.tokenize(fmt.render(j["messages"], true));
    } else {
      check(j.contains("prompt") && j["prompt"].is_string(), where + ": needs a string 'prompt' or 'messages'");
      item.request.prompt_ids = m.tokenizer->encode(j["prompt"].get<std::string>(), true, false);
    }
    item.request.params = params_of(nlohmann::json::parse(j.dump()), defaults, where);
    item.request.request_id = "batch-" + std::to_string(line_no);
    items.push_back(std::move(item));
  }
  check(!items.empty(), path + ": no requests");
  Engine engine(m, engine_config);
  const auto t0 = std::chrono::steady_clock::now();
  for (BatchItem& it : items) {
    try {
      it.stream = engine.add_request(it.request);
    } catch (const RequestRejected& e) {
      throw Error(it.id + ": " + e.what());
    }
  }
  std::FILE* out = output_path.empty() ? stdout : std::fopen(output_path.c_str(), "w");
  check(out != nullptr, output_path + ": cannot open for writing");
  int64_t prompt_tokens = 0, output_tokens = 0;
  for (BatchItem& it : items) {
    std::string text;
    FinishReason finish = FinishReason::Cancelled;
    RequestEvent ev;
    Usage usage;
    std::string error;
    for (;;) {
      if (!it.stream->next(ev, std::chrono::milliseconds(1000))) continue;
      for (const ChoiceDelta& d : ev.deltas) {
        text += d.text;
        if (d.finish) finish = *d.finish;
      }
      if (ev.done) {
        usage = ev.usage;
        error = ev.error;
        break;
      }
    }
    prompt_tokens += usage.prompt_tokens;
    output_tokens += usage.completion_tokens;
    nlohmann::ordered_json r;
    r["id"] = it.id;
    r["text"] = text;
    r["finish_reason"] = std::string(finish_reason_name(finish));
    r["usage"] = {{"prompt_tokens", usage.prompt_tokens},
                  {"completion_tokens", usage.completion_tokens},
                  {"cached_tokens", usage.cached_tokens}};
    if (!error.empty()) r["error"] = error;
    const std::string s = r.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fwrite(s.data(), 1, s.size(), out);
  }
  if (out != stdout) std::fclose(out);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr,
               "batch: %zu requests in %.3f s = %.2f req/s | prompt %lld tokens, output %lld tokens = %.2f output tokens/s "
               "(%.2f total tokens/s)\n",
               items.size(), secs, double(items.size()) / secs, (long long)prompt_tokens, (long long)output_tokens,
               double(output_tokens) / secs, double(prompt_tokens + output_tokens) / secs);
}

}  // namespace tokenmill::cli
