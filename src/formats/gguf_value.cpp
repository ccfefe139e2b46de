#include "formats/gguf_value.h"

#include <charconv>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace tokenmill {

std::string_view gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8:
      return "u8";
    case GgufType::I8:
      return "i8";
    case GgufType::U16:
      return "u16";
    case GgufType::I16:
      return "i16";
    case GgufType::U32:
      return "u32";
    case GgufType::I32:
      return "i32";
    case GgufType::F32:
      return "f32";
    case GgufType::Bool:
      return "bool";
    case GgufType::String:
      return "string";
    case GgufType::Array:
      return "array";
    case GgufType::U64:
      return "u64";
    case GgufType::I64:
      return "i64";
    case GgufType::F64:
      return "f64";
  }
  return "invalid";
}

bool gguf_type_is_valid(uint32_t id) { return id <= uint32_t(GgufType::F64); }

size_t gguf_type_min_bytes(GgufType t) {
  switch (t) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::Bool:
      return 1;
    case GgufType::U16:
    case GgufType::I16:
      return 2;
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::F32:
      return 4;
    case GgufType::U64:
    case GgufType::I64:
    case GgufType::F64:
      return 8;
    case GgufType::String:
      return 8;  // u64 length
    case GgufType::Array:
      return 12;  // u32 element type + u64 count
  }
  return 1;
}

GgufValue GgufValue::array(GgufType element_type, const std::vector<GgufValue>& items) {
  for (const GgufValue& item : items)
    check(item.type() == element_type,
          "gguf array: item of type " + std::string(gguf_type_name(item.type())) +
              " in an array of " + std::string(gguf_type_name(element_type)));
  if (element_type == GgufType::Array) return nested_array(items);
  if (element_type == GgufType::String) {
    std::vector<std::string> strings;
    strings.reserve(items.size());
    for (const GgufValue& item : items) strings.push_back(*item.as_string());
    return string_array(std::move(strings));
  }
  const size_t elem = gguf_type_min_bytes(element_type);
  std::vector<uint8_t> bytes(items.size() * elem);
  for (size_t i = 0; i < items.size(); ++i) {
    const GgufValue& item = items[i];
    uint8_t* dst = bytes.data() + i * elem;
    if (element_type == GgufType::F32) {
      const float f = float(*item.as_float());
      std::memcpy(dst, &f, 4);
    } else if (element_type == GgufType::F64) {
      const double d = *item.as_float();
      std::memcpy(dst, &d, 8);
    } else if (element_type == GgufType::Bool) {
      dst[0] = *item.as_bool() ? 1 : 0;
    } else {  // integers: the low `elem` bytes of the two's complement value
      const uint64_t bits = item.as_uint() ? *item.as_uint() : uint64_t(*item.as_int());
      std::memcpy(dst, &bits, elem);
    }
  }
  return scalar_array(element_type, std::move(bytes));
}

GgufValue GgufValue::string_array(std::vector<std::string> items) {
  GgufValue v(GgufType::Array, std::move(items));
  v.array_type_ = GgufType::String;
  return v;
}

GgufValue GgufValue::scalar_array(GgufType element_type, std::vector<uint8_t> le_bytes) {
  check(element_type != GgufType::String && element_type != GgufType::Array,
        "gguf scalar_array: element type must be a fixed-size scalar");
  check(le_bytes.size() % gguf_type_min_bytes(element_type) == 0,
        "gguf scalar_array: byte count is not a multiple of the element size");
  GgufValue v(GgufType::Array, ScalarArray{std::move(le_bytes)});
  v.array_type_ = element_type;
  return v;
}

GgufValue GgufValue::nested_array(std::vector<GgufValue> arrays) {
  for (const GgufValue& item : arrays)
    check(item.type() == GgufType::Array, "gguf nested_array: every item must be an array");
  GgufValue v(GgufType::Array, std::move(arrays));
  v.array_type_ = GgufType::Array;
  return v;
}

bool GgufValue::is_integer() const {
  return std::holds_alternative<uint64_t>(value_) || std::holds_alternative<int64_t>(value_);
}

std::optional<int64_t> GgufValue::as_int() const {
  if (const auto* u = std::get_if<uint64_t>(&value_)) {
    if (*u > uint64_t(INT64_MAX)) return std::nullopt;
    return int64_t(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&value_)) return *i;
  if (const auto* b = std::get_if<bool>(&value_)) return *b ? 1 : 0;
  return std::nullopt;
}

std::optional<uint64_t> GgufValue::as_uint() const {
  if (const auto* u = std::get_if<uint64_t>(&value_)) return *u;
  if (const auto* i = std::get_if<int64_t>(&value_); i && *i >= 0) return uint64_t(*i);
  return std::nullopt;
}

std::optional<double> GgufValue::as_float() const {
  if (const auto* d = std::get_if<double>(&value_)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&value_)) return double(*u);
  if (const auto* i = std::get_if<int64_t>(&value_)) return double(*i);
  return std::nullopt;
}

std::optional<bool> GgufValue::as_bool() const {
  if (const auto* b = std::get_if<bool>(&value_)) return *b;
  return std::nullopt;
}

const std::string* GgufValue::as_string() const { return std::get_if<std::string>(&value_); }

size_t GgufValue::array_size() const {
  if (const auto* raw = std::get_if<ScalarArray>(&value_))
    return raw->le_bytes.size() / gguf_type_min_bytes(array_type_);
  if (const auto* strings = std::get_if<std::vector<std::string>>(&value_)) return strings->size();
  if (const auto* arrays = std::get_if<std::vector<GgufValue>>(&value_)) return arrays->size();
  return 0;
}

GgufValue GgufValue::array_item(size_t index) const {
  check(index < array_size(), "gguf array index " + std::to_string(index) + " out of range");
  if (const auto* strings = std::get_if<std::vector<std::string>>(&value_))
    return string((*strings)[index]);
  if (const auto* arrays = std::get_if<std::vector<GgufValue>>(&value_)) return (*arrays)[index];
  const uint8_t* p =
      std::get<ScalarArray>(value_).le_bytes.data() + index * gguf_type_min_bytes(array_type_);
  auto load = [p](auto v) {
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  switch (array_type_) {
    case GgufType::U8:
      return u8(load(uint8_t{}));
    case GgufType::I8:
      return i8(load(int8_t{}));
    case GgufType::U16:
      return u16(load(uint16_t{}));
    case GgufType::I16:
      return i16(load(int16_t{}));
    case GgufType::U32:
      return u32(load(uint32_t{}));
    case GgufType::I32:
      return i32(load(int32_t{}));
    case GgufType::U64:
      return u64(load(uint64_t{}));
    case GgufType::I64:
      return i64(load(int64_t{}));
    case GgufType::F32:
      return f32(load(float{}));
    case GgufType::F64:
      return f64(load(double{}));
    case GgufType::Bool:
      return boolean(p[0] != 0);
    default:
      break;
  }
  throw Error("gguf array: invalid element type");
}

const std::vector<std::string>* GgufValue::as_string_array() const {
  return std::get_if<std::vector<std::string>>(&value_);
}

const std::vector<GgufValue>* GgufValue::as_nested_arrays() const {
  return std::get_if<std::vector<GgufValue>>(&value_);
}

const std::vector<uint8_t>* GgufValue::array_le_bytes() const {
  if (const auto* raw = std::get_if<ScalarArray>(&value_)) return &raw->le_bytes;
  return nullptr;
}

std::optional<std::vector<int64_t>> GgufValue::as_int_array() const {
  if (!std::holds_alternative<ScalarArray>(value_) || array_type_ == GgufType::F32 ||
      array_type_ == GgufType::F64)
    return std::nullopt;
  std::vector<int64_t> out(array_size());
  for (size_t i = 0; i < out.size(); ++i) {
    const std::optional<int64_t> v = array_item(i).as_int();
    if (!v) return std::nullopt;
    out[i] = *v;
  }
  return out;
}

std::optional<std::vector<double>> GgufValue::as_float_array() const {
  if (!std::holds_alternative<ScalarArray>(value_) || array_type_ == GgufType::Bool)
    return std::nullopt;
  std::vector<double> out(array_size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = *array_item(i).as_float();
  return out;
}

namespace {

// Length of a prefix of s no longer than max_bytes that does not split a UTF-8 sequence.
size_t utf8_prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s.size();
  size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

void append_quoted(std::string& out, std::string_view s, size_t max_bytes) {
  const size_t n = utf8_prefix(s, max_bytes);
  out += '"';
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  out += '"';
  if (n < s.size()) out += "...(" + std::to_string(s.size()) + " bytes)";
}

template <typename T>
void append_number(std::string& out, T v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void append_display(std::string& out, const GgufValue& v, size_t max_items, size_t max_bytes) {
  switch (v.type()) {
    case GgufType::Bool:
      out += *v.as_bool() ? "true" : "false";
      return;
    case GgufType::String:
      append_quoted(out, *v.as_string(), max_bytes);
      return;
    case GgufType::F32:
      append_number(out, float(*v.as_float()));
      return;
    case GgufType::F64:
      append_number(out, *v.as_float());
      return;
    case GgufType::Array: {
      const size_t n = v.array_size();
      out += '[';
      for (size_t i = 0; i < n && i < max_items; ++i) {
        if (i > 0) out += ", ";
        append_display(out, v.array_item(i), max_items, max_bytes);
      }
      if (n > max_items)
        out += (max_items > 0 ? ", ... (" : "... (") + std::to_string(n - max_items) + " more)";
      out += ']';
      return;
    }
    default:
      if (const auto u = v.as_uint())
        append_number(out, *u);
      else
        append_number(out, *v.as_int());
  }
}

}  // namespace

std::string GgufValue::to_display(size_t max_array_items, size_t max_string_bytes) const {
  std::string out;
  append_display(out, *this, max_array_items, max_string_bytes);
  return out;
}

}  // namespace tokenmill
