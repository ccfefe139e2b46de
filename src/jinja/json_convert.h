// Conversion between nlohmann JSON and template values (context in, function arguments out).
#pragma once
#include <nlohmann/json.hpp>

#include "jinja/value.h"

namespace tokenmill::jinja {

// Throws Error when the JSON nests deeper than the interpreter's value depth bound.
Value value_from_json(const nlohmann::ordered_json& j);
Value value_from_json(const nlohmann::json& j);
// Undefined becomes null; callables become their name.
nlohmann::ordered_json value_to_json(const Value& v);

}  // namespace tokenmill::jinja
