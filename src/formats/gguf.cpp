#include "formats/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <numeric>

#include "core/error.h"

namespace tokenmill {
namespace {

static_assert(std::endian::native == std::endian::little,
              "GGUF reader assumes a little-endian host");

constexpr size_t kMaxDims = 4;
constexpr int kMaxArrayNesting = 8;  // deeper nesting is never produced by real writers
// Smallest encodings, used to reject counts before allocating for them.
constexpr size_t kMinKvBytes = 8 + 4 + 1;              // key length, value type, 1-byte value
constexpr size_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // name length, n_dims, type, offset

// Sequential little-endian reads over the mapping; every read is checked against the end.
class Cursor {
 public:
  Cursor(const std::string& path, std::span<const std::byte> bytes) : path_(path), bytes_(bytes) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }

  [[noreturn]] void fail(const std::string& what) const { throw Error(path_ + ": " + what); }

  void need(size_t n, std::string_view what) const {
    if (n > remaining())
      fail("truncated: " + std::string(what) + " at offset " + std::to_string(pos_) + " needs " +
           std::to_string(n) + " bytes but only " + std::to_string(remaining()) + " remain");
  }

  template <typename T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(std::string_view what) {
    const size_t at = pos_;
    const uint64_t len = read<uint64_t>(what);
    if (len > remaining())
      fail("truncated: " + std::string(what) + " at offset " + std::to_string(at) + " claims " +
           std::to_string(len) + " bytes but only " + std::to_string(remaining()) + " remain");
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), size_t(len));
    pos_ += size_t(len);
    return s;
  }

  // Rejects `count` items of at least `min_item_bytes` each when they cannot fit.
  void check_count(uint64_t count, size_t min_item_bytes, size_t at, std::string_view what) const {
    if (count > remaining() / min_item_bytes)
      fail("truncated: " + std::string(what) + " at offset " + std::to_string(at) + " claims " +
           std::to_string(count) + " items (at least " + std::to_string(min_item_bytes) +
           " bytes each) but only " + std::to_string(remaining()) + " bytes remain");
  }

  std::vector<uint8_t> read_bytes(size_t n, std::string_view what) {
    need(n, what);
    const auto* p = reinterpret_cast<const uint8_t*>(bytes_.data() + pos_);
    pos_ += n;
    return std::vector<uint8_t>(p, p + n);
  }

 private:
  const std::string& path_;
  std::span<const std::byte> bytes_;
  size_t pos_ = 0;
};

GgufType read_value_type(Cursor& in, std::string_view what) {
  const size_t at = in.pos();
  const uint32_t id = in.read<uint32_t>(what);
  if (!gguf_type_is_valid(id))
    in.fail("invalid value type " + std::to_string(id) + " for " + std::string(what) +
            " at offset " + std::to_string(at));
  return GgufType(id);
}

GgufValue read_value(Cursor& in, GgufType type, const std::string& key, int depth) {
  const std::string what = "value of '" + key + "'";
  switch (type) {
    case GgufType::U8:
      return GgufValue::u8(in.read<uint8_t>(what));
    case GgufType::I8:
      return GgufValue::i8(in.read<int8_t>(what));
    case GgufType::U16:
      return GgufValue::u16(in.read<uint16_t>(what));
    case GgufType::I16:
      return GgufValue::i16(in.read<int16_t>(what));
    case GgufType::U32:
      return GgufValue::u32(in.read<uint32_t>(what));
    case GgufType::I32:
      return GgufValue::i32(in.read<int32_t>(what));
    case GgufType::U64:
      return GgufValue::u64(in.read<uint64_t>(what));
    case GgufType::I64:
      return GgufValue::i64(in.read<int64_t>(what));
    case GgufType::F32:
      return GgufValue::f32(in.read<float>(what));
    case GgufType::F64:
      return GgufValue::f64(in.read<double>(what));
    case GgufType::Bool: {
      const size_t at = in.pos();
      const uint8_t b = in.read<uint8_t>(what);
      if (b > 1)
        in.fail("bool " + what + " at offset " + std::to_string(at) + " is " + std::to_string(b) +
                ", expected 0 or 1");
      return GgufValue::boolean(b != 0);
    }
    case GgufType::String:
      return GgufValue::string(in.read_string(what));
    case GgufType::Array: {
      const size_t at = in.pos();
      if (depth >= kMaxArrayNesting)
        in.fail("array " + what + " at offset " + std::to_string(at) + " is nested deeper than " +
                std::to_string(kMaxArrayNesting) + " levels");
      const GgufType elem = read_value_type(in, "array element type of '" + key + "'");
      const uint64_t count = in.read<uint64_t>("array length of '" + key + "'");
      in.check_count(count, gguf_type_min_bytes(elem), at, "array " + what);
      const size_t n = size_t(count);
      if (elem == GgufType::String) {
        std::vector<std::string> items;
        items.reserve(n);
        for (size_t i = 0; i < n; ++i) items.push_back(in.read_string("string in '" + key + "'"));
        return GgufValue::string_array(std::move(items));
      }
      if (elem == GgufType::Array) {
        std::vector<GgufValue> items;
        items.reserve(n);
        for (size_t i = 0; i < n; ++i) items.push_back(read_value(in, elem, key, depth + 1));
        return GgufValue::nested_array(std::move(items));
      }
      if (elem == GgufType::Bool) {  // validate every byte as a bool
        std::vector<uint8_t> bytes(n);
        for (size_t i = 0; i < n; ++i) bytes[i] = *read_value(in, elem, key, depth).as_bool();
        return GgufValue::scalar_array(elem, std::move(bytes));
      }
      return GgufValue::scalar_array(elem, in.read_bytes(n * gguf_type_min_bytes(elem), what));
    }
  }
  in.fail("invalid value type for " + what);
}

bool is_pow2(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

}  // namespace

int64_t GgufTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

GgufFile::GgufFile(const std::string& path) : file_(path) { parse(); }

void GgufFile::parse() {
  Cursor in(path(), file_.bytes());
  in.need(4, "magic");
  if (std::memcmp(file_.data(), "GGUF", 4) != 0) in.fail("not a GGUF file (bad magic)");
  in.read<uint32_t>("magic");
  version_ = in.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    if (version_ == 0x02000000u || version_ == 0x03000000u)
      in.fail("big-endian GGUF files are not supported");
    in.fail("unsupported GGUF version " + std::to_string(version_) + " (supported: 2, 3)");
  }
  const size_t n_tensors_at = in.pos();
  const uint64_t n_tensors = in.read<uint64_t>("tensor count");
  const size_t n_kv_at = in.pos();
  const uint64_t n_kv = in.read<uint64_t>("metadata count");
  in.check_count(n_kv, kMinKvBytes, n_kv_at, "metadata count");
  metadata_.reserve(size_t(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    const size_t at = in.pos();
    std::string key = in.read_string("metadata key");
    if (key_index_.count(key) != 0)
      in.fail("duplicate metadata key '" + key + "' at offset " + std::to_string(at));
    const GgufType type = read_value_type(in, "type of '" + key + "'");
    GgufValue value = read_value(in, type, key, 0);
    key_index_.emplace(key, metadata_.size());
    metadata_.push_back({std::move(key), std::move(value)});
  }

  if (const GgufValue* a = find("general.alignment")) {
    const std::optional<uint64_t> align = a->is_integer() ? a->as_uint() : std::nullopt;
    if (!align || !is_pow2(*align) || *align > (uint64_t(1) << 30))
      in.fail("general.alignment is " + a->to_display() + ", expected a power of two");
    alignment_ = size_t(*align);
  }

  in.check_count(n_tensors, kMinTensorInfoBytes, n_tensors_at, "tensor count");
  tensors_.reserve(size_t(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    const size_t at = in.pos();
    t.name = in.read_string("tensor name");
    if (tensor_index_.count(t.name) != 0)
      in.fail("duplicate tensor name '" + t.name + "' at offset " + std::to_string(at));
    const std::string what = "tensor '" + t.name + "'";
    const uint32_t n_dims = in.read<uint32_t>(what + " n_dims");
    if (n_dims > kMaxDims)
      in.fail(what + " has " + std::to_string(n_dims) + " dimensions (at most 4)");
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = in.read<uint64_t>(what + " shape");
      if (ne > uint64_t(INT64_MAX) || (ne != 0 && n_elements > uint64_t(INT64_MAX) / ne))
        in.fail(what + " has an element count that overflows 64 bits");
      n_elements *= ne;
      t.ne.push_back(int64_t(ne));
    }
    t.ggml_type = in.read<uint32_t>(what + " type");
    t.offset = in.read<uint64_t>(what + " offset");
    if (!ggml_type_traits(t.ggml_type))
      in.fail(what + " has " + std::string(ggml_type_name(t.ggml_type)) + " ggml type " +
              std::to_string(t.ggml_type));
    const uint64_t row = t.ne.empty() ? 1 : uint64_t(t.ne[0]);
    const std::optional<uint64_t> nbytes = ggml_tensor_nbytes(t.ggml_type, row, n_elements);
    if (!nbytes)
      in.fail(what + " of type " + std::string(ggml_type_name(t.ggml_type)) + " has row length " +
              std::to_string(row) + ", not a whole number of blocks");
    t.nbytes = size_t(*nbytes);
    if (t.offset % alignment_ != 0)
      in.fail(what + " data offset " + std::to_string(t.offset) + " is not a multiple of the " +
              "alignment " + std::to_string(alignment_));
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  data_offset_ = in.pos() + (alignment_ - in.pos() % alignment_) % alignment_;
  const uint64_t size = file_.size_bytes();
  for (GgufTensor& t : tensors_) {
    const uint64_t data_bytes = size >= data_offset_ ? size - data_offset_ : 0;
    if (size < data_offset_ || t.offset > data_bytes || t.nbytes > data_bytes - t.offset)
      in.fail("truncated: tensor '" + t.name + "' needs bytes [" + std::to_string(t.offset) + ", " +
              std::to_string(t.offset + t.nbytes) + ") of the data section but it holds " +
              std::to_string(data_bytes));
    t.data = file_.data() + data_offset_ + t.offset;
  }
  std::vector<const GgufTensor*> by_offset;
  for (const GgufTensor& t : tensors_)
    if (t.nbytes > 0) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i - 1]->offset + by_offset[i - 1]->nbytes > by_offset[i]->offset)
      in.fail("tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name +
              "' overlap in the data section");
}

const GgufValue* GgufFile::find(std::string_view key) const {
  const auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

const GgufValue* GgufFile::find_typed(std::string_view key, const char* expected,
                                      bool (*accepts)(const GgufValue&)) const {
  const GgufValue* v = find(key);
  if (v != nullptr && !accepts(*v)) {
    std::string actual(gguf_type_name(v->type()));
    if (v->type() == GgufType::Array)
      actual += " of " + std::string(gguf_type_name(v->array_type()));
    throw Error(path() + ": key '" + std::string(key) + "' has type " + actual + ", expected " +
                expected);
  }
  return v;
}

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v =
      find_typed(key, "a string", [](const GgufValue& x) { return x.as_string() != nullptr; });
  if (v == nullptr) return std::nullopt;
  return *v->as_string();
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
  const GgufValue* v =
      find_typed(key, "an integer", [](const GgufValue& x) { return x.as_int().has_value(); });
  if (v == nullptr) return std::nullopt;
  return *v->as_int();
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find_typed(key, "a number", [](const GgufValue& x) {
    return x.type() != GgufType::Bool && x.as_float().has_value();
  });
  if (v == nullptr) return std::nullopt;
  return *v->as_float();
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v =
      find_typed(key, "a bool", [](const GgufValue& x) { return x.as_bool().has_value(); });
  if (v == nullptr) return std::nullopt;
  return *v->as_bool();
}

std::optional<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
  const GgufValue* v = find_typed(key, "an array of strings", [](const GgufValue& x) {
    return x.as_string_array() != nullptr;
  });
  if (v == nullptr) return std::nullopt;
  return *v->as_string_array();
}

std::optional<std::vector<float>> GgufFile::get_float_array(std::string_view key) const {
  const GgufValue* v = find_typed(key, "an array of numbers", [](const GgufValue& x) {
    return x.as_float_array().has_value();
  });
  if (v == nullptr) return std::nullopt;
  const std::vector<double> d = *v->as_float_array();
  return std::vector<float>(d.begin(), d.end());
}

std::optional<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  const GgufValue* v = find_typed(key, "an array of integers",
                                  [](const GgufValue& x) { return x.as_int_array().has_value(); });
  if (v == nullptr) return std::nullopt;
  return *v->as_int_array();
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

TensorInfo GgufFile::tensor_info(const GgufTensor& tensor) const {
  TensorInfo info;
  switch (GgmlType(tensor.ggml_type)) {
    case GgmlType::F32:
      info.dtype = DType::F32;
      break;
    case GgmlType::F16:
      info.dtype = DType::F16;
      break;
    case GgmlType::BF16:
      info.dtype = DType::BF16;
      break;
    case GgmlType::I8:
      info.dtype = DType::I8;
      break;
    case GgmlType::I32:
      info.dtype = DType::I32;
      break;
    case GgmlType::Q4_0: info.dtype = DType::Q4_0; break;
    case GgmlType::Q4_1: info.dtype = DType::Q4_1; break;
    case GgmlType::Q5_0: info.dtype = DType::Q5_0; break;
    case GgmlType::Q5_1: info.dtype = DType::Q5_1; break;
    case GgmlType::Q8_0: info.dtype = DType::Q8_0; break;
    case GgmlType::Q2_K: info.dtype = DType::Q2_K; break;
    case GgmlType::Q3_K: info.dtype = DType::Q3_K; break;
    case GgmlType::Q4_K: info.dtype = DType::Q4_K; break;
    case GgmlType::Q5_K: info.dtype = DType::Q5_K; break;
    case GgmlType::Q6_K: info.dtype = DType::Q6_K; break;
    default:
      throw Error(path() + ": tensor '" + tensor.name + "' has type " +
                  std::string(ggml_type_name(tensor.ggml_type)) + ", not supported yet");
  }
  info.name = tensor.name;
  info.shape.assign(tensor.ne.rbegin(), tensor.ne.rend());
  info.data = tensor.data;
  info.nbytes = tensor.nbytes;
  return info;
}

bool is_gguf_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace tokenmill
