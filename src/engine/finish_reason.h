// Why a generation ended.
#pragma once
#include <string_view>

namespace tokenmill {

enum class FinishReason {
  Length,       // max_tokens reached
  Stop,         // a stop string or stop token id
  Eos,          // the model's end-of-generation token
  Cancelled,    // aborted (client gone, drain timeout)
  ContextFull,  // the sequence reached the context length
};

inline std::string_view finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Length: return "length";
    case FinishReason::Stop: return "stop";
    case FinishReason::Eos: return "eos";
    case FinishReason::Cancelled: return "cancelled";
    case FinishReason::ContextFull: return "context_full";
  }
  return "?";
}

}  // namespace tokenmill
