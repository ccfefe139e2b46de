// Methods of str / dict / list values ("x.strip()", "d.items()") and the global functions of
// Hugging Face's chat-template environment. Methods that would mutate a value are refused, as
// jinja2's ImmutableSandboxedEnvironment does.
#include <ctime>

#include "core/error.h"
#include "jinja/interpreter.h"
#include "jinja/json_convert.h"
#include "jinja/text.h"

namespace tokenmill::jinja {
namespace {

// The sandbox's MAX_RANGE.
constexpr int64_t kMaxRange = 100000;

std::optional<std::string> optional_string(const Value& v) {
  if (v.is_undefined() || v.is_none()) return std::nullopt;
  if (!v.is_string()) throw Error("chat template error: expected a string argument, got " + v.type_name());
  return v.text;
}

int64_t int_or(const Value& v, int64_t fallback) {
  if (v.is_undefined() || v.is_none()) return fallback;
  if (v.kind == Kind::Int) return v.integer;
  throw Error("chat template error: expected an integer argument, got " + v.type_name());
}

Value string_list(const std::vector<std::string>& parts) {
  List items;
  for (const auto& p : parts) items.push_back(Value::from_string(p));
  return Value::from_list(std::move(items));
}

bool affix_matches(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& a) {
    if (!a.is_string()) throw Error("chat template error: startswith/endswith expect str or a tuple of str");
    if (a.text.size() > s.size()) return false;
    return prefix ? s.compare(0, a.text.size(), a.text) == 0
                  : s.compare(s.size() - a.text.size(), a.text.size(), a.text) == 0;
  };
  if (affix.is_list()) {
    for (const Value& a : *affix.list)
      if (one(a)) return true;
    return false;
  }
  return one(affix);
}

std::string python_format(const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if ((c == '{' || c == '}') && i + 1 < fmt.size() && fmt[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '}') throw Error("chat template error: single '}' encountered in format string");
    if (c != '{') {
      out += c;
      continue;
    }
    const size_t close = fmt.find('}', i);
    if (close == std::string::npos) throw Error("chat template error: single '{' encountered in format string");
    const std::string field = fmt.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos)
      throw Error("chat template error: unsupported construct: format spec in str.format");
    Value v;
    if (field.empty() || std::isdigit(static_cast<unsigned char>(field[0]))) {
      const size_t index = field.empty() ? auto_index++ : static_cast<size_t>(std::stoul(field));
      if (index >= args.positional.size()) throw Error("chat template error: str.format index out of range");
      v = args.positional[index];
    } else {
      v = args.get(SIZE_MAX, field);
      if (v.is_undefined()) throw Error("chat template error: str.format: missing key '" + field + "'");
    }
    out += to_str(v);
    i = close;
  }
  return out;
}

Value string_method(const Value& self, const std::string& name) {
  const std::string s = self.text;
  auto method = [&](auto fn) { return Value::from_callable("str." + name, fn); };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const bool left = name != "rstrip", right = name != "lstrip";
    return method([s, left, right](Interpreter&, CallArgs& a) {
      return Value::from_string(text::strip(s, optional_string(a.get(0, "chars")), left, right));
    });
  }
  if (name == "split" || name == "rsplit") {
    const bool from_right = name == "rsplit";
    return method([s, from_right](Interpreter&, CallArgs& a) {
      auto sep = optional_string(a.get(0, "sep"));
      if (sep && sep->empty()) throw Error("chat template error: empty separator");
      return string_list(text::split(s, sep, int_or(a.get(1, "maxsplit"), -1), from_right));
    });
  }
  if (name == "splitlines") return method([s](Interpreter&, CallArgs&) { return string_list(text::split_lines(s)); });
  if (name == "startswith" || name == "endswith") {
    const bool prefix = name == "startswith";
    return method([s, prefix](Interpreter&, CallArgs& a) { return Value::from_bool(affix_matches(s, a.get(0, "prefix"), prefix)); });
  }
  if (name == "replace")
    return method([s](Interpreter&, CallArgs& a) {
      return Value::from_string(text::replace(s, to_str(a.get(0, "old")), to_str(a.get(1, "new")), int_or(a.get(2, "count"), -1)));
    });
  if (name == "upper") return method([s](Interpreter&, CallArgs&) { return Value::from_string(text::upper(s)); });
  if (name == "lower") return method([s](Interpreter&, CallArgs&) { return Value::from_string(text::lower(s)); });
  if (name == "title") return method([s](Interpreter&, CallArgs&) { return Value::from_string(text::py_title(s)); });
  if (name == "capitalize") return method([s](Interpreter&, CallArgs&) { return Value::from_string(text::capitalize(s)); });
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    return method([s, name](Interpreter&, CallArgs& a) {
      const std::string sub = to_str(a.get(0, "sub"));
      if (name == "count") {
        if (sub.empty()) return Value::from_int(static_cast<int64_t>(utf8_length(s) + 1));
        int64_t n = 0;
        for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
        return Value::from_int(n);
      }
      const size_t at = name[0] == 'r' ? s.rfind(sub) : s.find(sub);
      if (at == std::string::npos) {
        if (name.find("index") != std::string::npos) throw Error("chat template error: substring not found");
        return Value::from_int(-1);
      }
      return Value::from_int(static_cast<int64_t>(utf8_length(s.substr(0, at))));
    });
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const bool prefix = name == "removeprefix";
    return method([s, prefix](Interpreter&, CallArgs& a) {
      const Value affix = a.get(0, prefix ? "prefix" : "suffix");
      if (!affix.is_string() || !affix_matches(s, affix, prefix)) return Value::from_string(s);
      return Value::from_string(prefix ? s.substr(affix.text.size()) : s.substr(0, s.size() - affix.text.size()));
    });
  }
  if (name == "join")
    return method([s](Interpreter& in, CallArgs& a) {
      std::string out;
      bool first = true;
      for (const Value& item : in.iterate(a.get(0, "iterable"))) {
        if (!item.is_string()) throw Error("chat template error: str.join expects strings, got " + item.type_name());
        if (!first) out += s;
        first = false;
        out += item.text;
      }
      return Value::from_string(std::move(out));
    });
  if (name == "format") return method([s](Interpreter&, CallArgs& a) { return Value::from_string(python_format(s, a)); });
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "islower" || name == "isupper") {
    return method([s, name](Interpreter& in, CallArgs& a) {
      if (name == "islower" || name == "isupper") return Value::from_bool(apply_test(in, name.substr(2), Value::from_string(s), a, {}));
      if (s.empty()) return Value::from_bool(false);
      for (unsigned char c : s) {
        const bool ok = name == "isdigit" ? std::isdigit(c) : name == "isalpha" ? std::isalpha(c)
                      : name == "isalnum" ? std::isalnum(c) : text::is_py_space(static_cast<char>(c));
        if (!ok) return Value::from_bool(false);
      }
      return Value::from_bool(true);
    });
  }
  return Value::undefined();
}

Value refused(const Value& self, const std::string& name) {
  const std::string type = self.type_name();
  return Value::from_callable(name, [type, name](Interpreter&, CallArgs&) -> Value {
    throw Error("chat template error: access to attribute '" + name + "' of '" + type + "' object is unsafe.");
  });
}

}  // namespace

Value get_method(const Value& obj, const std::string& name) {
  if (obj.is_string()) return string_method(obj, name);
  if (obj.is_mapping()) {
    const std::shared_ptr<Dict> dict = obj.dict;
    if (name == "get")
      return Value::from_callable("dict.get", [dict](Interpreter&, CallArgs& a) {
        const Value key = a.get(0, "key");
        const Value* found = key.is_string() ? dict->find(key.text) : nullptr;
        if (found) return *found;
        const Value fallback = a.get(1, "default");
        return fallback.is_undefined() ? Value::none() : fallback;
      });
    if (name == "items" || name == "keys" || name == "values")
      return Value::from_callable("dict." + name, [dict, name](Interpreter&, CallArgs&) {
        List out;
        for (const auto& [key, value] : dict->items) {
          if (name == "items") out.push_back(Value::from_list({Value::from_string(key), value}, true));
          else out.push_back(name == "keys" ? Value::from_string(key) : value);
        }
        return Value::from_list(std::move(out));
      });
    if (name == "update" || name == "pop" || name == "popitem" || name == "setdefault" || name == "clear")
      return refused(obj, name);
    return Value::undefined();
  }
  if (obj.is_list()) {
    if (name == "append" || name == "extend" || name == "insert" || name == "pop" || name == "remove" ||
        name == "sort" || name == "reverse" || name == "clear")
      return refused(obj, name);
    const std::shared_ptr<List> list = obj.list;
    if (name == "index" || name == "count")
      return Value::from_callable("list." + name, [list, name](Interpreter&, CallArgs& a) {
        const Value needle = a.get(0, "value");
        int64_t n = 0;
        for (size_t k = 0; k < list->size(); ++k) {
          if (!values_equal((*list)[k], needle)) continue;
          if (name == "index") return Value::from_int(static_cast<int64_t>(k));
          ++n;
        }
        if (name == "index") throw Error("chat template error: list.index(x): x not in list");
        return Value::from_int(n);
      });
  }
  return Value::undefined();
}

void install_globals(Scope& globals, const RenderOptions& options) {
  globals.vars["range"] = Value::from_callable("range", [](Interpreter& in, CallArgs& a) {
    int64_t start = 0, stop = 0, step = 1;
    if (a.positional.size() == 1) {
      stop = int_or(a.positional[0], 0);
    } else if (a.positional.size() >= 2) {
      start = int_or(a.positional[0], 0);
      stop = int_or(a.positional[1], 0);
      if (a.positional.size() > 2) step = int_or(a.positional[2], 1);
    }
    if (step == 0) throw Error("chat template error: range() arg 3 must not be zero");
    List items;
    for (int64_t v = start; step > 0 ? v < stop : v > stop; v += step) {
      if (static_cast<int64_t>(items.size()) >= kMaxRange)
        throw Error("chat template error: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
      items.push_back(Value::from_int(v));
    }
    in.step(items.size());
    return Value::from_list(std::move(items));
  });
  auto build_dict = [](Interpreter& in, CallArgs& a, bool as_namespace) {
    Value out = as_namespace ? in.make_namespace() : Value::new_dict();
    for (const Value& source : a.positional) {
      if (!source.is_mapping()) throw Error("chat template error: dict()/namespace() positional argument must be a mapping");
      for (const auto& [key, value] : source.dict->items) out.dict->set(key, value);
    }
    for (const auto& [key, value] : a.keyword) out.dict->set(key, value);
    if (as_namespace)
      for (const auto& entry : out.dict->items)
        if (!entry.first.empty() && entry.first[0] == '_')
          throw Error("chat template error: namespace attributes cannot start with an underscore");
    return out;
  };
  globals.vars["dict"] = Value::from_callable("dict", [build_dict](Interpreter& in, CallArgs& a) { return build_dict(in, a, false); });
  globals.vars["namespace"] = Value::from_callable("namespace", [build_dict](Interpreter& in, CallArgs& a) { return build_dict(in, a, true); });
  globals.vars["raise_exception"] = Value::from_callable("raise_exception", [](Interpreter&, CallArgs& a) -> Value {
    throw Error(to_str(a.get(0, "message")));
  });
  globals.vars["strftime_now"] = Value::from_callable("strftime_now", [](Interpreter&, CallArgs& a) {
    const std::string format = to_str(a.get(0, "format"));
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buf[256];
    const size_t n = std::strftime(buf, sizeof buf, format.c_str(), &local);
    return Value::from_string(std::string(buf, n));
  });
  for (const auto& [name, fn] : options.functions) {
    TemplateFunction function = fn;
    globals.vars[name] = Value::from_callable(name, [function](Interpreter&, CallArgs& a) {
      std::vector<nlohmann::ordered_json> json_args;
      for (const Value& v : a.positional) json_args.push_back(value_to_json(v));
      return value_from_json(function(json_args));
    });
  }
}

}  // namespace tokenmill::jinja
