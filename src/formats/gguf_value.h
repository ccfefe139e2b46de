// A GGUF metadata value: one of the format's 13 value types, arrays possibly nested.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tokenmill {

// On-disk value type ids of GGUF metadata.
enum class GgufType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

std::string_view gguf_type_name(GgufType t);  // "u8", ..., "string", "array"
bool gguf_type_is_valid(uint32_t id);
// Bytes a value of this type takes in a file at least (strings and arrays: their length fields).
size_t gguf_type_min_bytes(GgufType t);

// Arrays are stored compactly (memory stays within a small factor of the file's bytes):
// arrays of fixed-size scalars as their little-endian bytes, arrays of strings as strings,
// arrays of arrays as values.
class GgufValue {
 public:
  GgufValue() = default;  // u8 0
  static GgufValue u8(uint8_t v) { return GgufValue(GgufType::U8, uint64_t(v)); }
  static GgufValue i8(int8_t v) { return GgufValue(GgufType::I8, int64_t(v)); }
  static GgufValue u16(uint16_t v) { return GgufValue(GgufType::U16, uint64_t(v)); }
  static GgufValue i16(int16_t v) { return GgufValue(GgufType::I16, int64_t(v)); }
  static GgufValue u32(uint32_t v) { return GgufValue(GgufType::U32, uint64_t(v)); }
  static GgufValue i32(int32_t v) { return GgufValue(GgufType::I32, int64_t(v)); }
  static GgufValue u64(uint64_t v) { return GgufValue(GgufType::U64, v); }
  static GgufValue i64(int64_t v) { return GgufValue(GgufType::I64, v); }
  static GgufValue f32(float v) { return GgufValue(GgufType::F32, double(v)); }
  static GgufValue f64(double v) { return GgufValue(GgufType::F64, v); }
  static GgufValue boolean(bool v) { return GgufValue(GgufType::Bool, v); }
  static GgufValue string(std::string v) { return GgufValue(GgufType::String, std::move(v)); }

  // Arrays. Throws Error unless every item has type element_type (which may be Array).
  static GgufValue array(GgufType element_type, const std::vector<GgufValue>& items);
  static GgufValue string_array(std::vector<std::string> items);
  // Fixed-size scalar elements given as their little-endian bytes (size a multiple of the
  // element size); element_type must not be String or Array.
  static GgufValue scalar_array(GgufType element_type, std::vector<uint8_t> le_bytes);
  static GgufValue nested_array(std::vector<GgufValue> arrays);  // every item an array

  GgufType type() const { return type_; }
  // Element type of an array (meaningful only when type() == Array).
  GgufType array_type() const { return array_type_; }

  bool is_integer() const;  // u8..i64, not bool
  bool is_float() const { return type_ == GgufType::F32 || type_ == GgufType::F64; }

  // Exact views; nullopt / nullptr when the value has another kind.
  // as_int: any integer type or bool; nullopt also for a u64 above INT64_MAX.
  std::optional<int64_t> as_int() const;
  std::optional<uint64_t> as_uint() const;  // unsigned types, or signed ones that are >= 0
  std::optional<double> as_float() const;   // f32, f64 or any integer
  std::optional<bool> as_bool() const;      // bool only
  const std::string* as_string() const;

  // Arrays: element count and one element by value (0 and Error for non-arrays).
  size_t array_size() const;
  GgufValue array_item(size_t index) const;
  const std::vector<std::string>* as_string_array() const;  // arrays of strings only
  const std::vector<GgufValue>* as_nested_arrays() const;   // arrays of arrays only
  const std::vector<uint8_t>* array_le_bytes() const;       // arrays of fixed-size scalars
  // Whole-array conversions with the scalar rules above; nullopt when an element does not fit.
  std::optional<std::vector<int64_t>> as_int_array() const;
  std::optional<std::vector<double>> as_float_array() const;

  // For `inspect`: strings quoted and escaped (cut at max_string_bytes on a UTF-8 boundary),
  // arrays shown up to max_array_items items then "... (N more)".
  std::string to_display(size_t max_array_items = 8, size_t max_string_bytes = 256) const;

 private:
  struct ScalarArray {
    std::vector<uint8_t> le_bytes;
  };
  using Storage = std::variant<uint64_t, int64_t, double, bool, std::string, ScalarArray,
                               std::vector<std::string>, std::vector<GgufValue>>;
  GgufValue(GgufType type, Storage value) : type_(type), value_(std::move(value)) {}

  GgufType type_ = GgufType::U8;
  GgufType array_type_ = GgufType::U8;
  Storage value_ = uint64_t{0};
};

struct GgufKv {
  std::string key;
  GgufValue value;
};

}  // namespace tokenmill
