// Built-in models for `tokenmill plan`: the fields of their published config.json files (the
// ones plan reads), so memory and speed can be planned without the checkpoint at hand.
#pragma once
#include <span>
#include <string_view>

namespace tokenmill::plan {

struct Preset {
  std::string_view name;
  std::string_view config_json;  // a Hugging Face config.json (the fields plan reads)
  std::string_view reference;    // where the values come from
};

std::span<const Preset> presets();

}  // namespace tokenmill::plan
