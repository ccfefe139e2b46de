#include "formats/gguf_writer.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/error.h"

namespace tokenmill {
namespace {

static_assert(std::endian::native == std::endian::little,
              "GGUF writer assumes a little-endian host");

class ByteSink {
 public:
  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const char*>(&v);
    bytes_.append(p, sizeof v);
  }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    bytes_.append(s);
  }
  void put_raw(const void* p, size_t n) { bytes_.append(static_cast<const char*>(p), n); }
  void pad_to(size_t alignment) {
    bytes_.append((alignment - bytes_.size() % alignment) % alignment, '\0');
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

void put_value(ByteSink& out, const GgufValue& v) {
  switch (v.type()) {
    case GgufType::U8:
      out.put<uint8_t>(uint8_t(*v.as_uint()));
      return;
    case GgufType::I8:
      out.put<int8_t>(int8_t(*v.as_int()));
      return;
    case GgufType::U16:
      out.put<uint16_t>(uint16_t(*v.as_uint()));
      return;
    case GgufType::I16:
      out.put<int16_t>(int16_t(*v.as_int()));
      return;
    case GgufType::U32:
      out.put<uint32_t>(uint32_t(*v.as_uint()));
      return;
    case GgufType::I32:
      out.put<int32_t>(int32_t(*v.as_int()));
      return;
    case GgufType::U64:
      out.put<uint64_t>(*v.as_uint());
      return;
    case GgufType::I64:
      out.put<int64_t>(*v.as_int());
      return;
    case GgufType::F32:
      out.put<float>(float(*v.as_float()));
      return;
    case GgufType::F64:
      out.put<double>(*v.as_float());
      return;
    case GgufType::Bool:
      out.put<uint8_t>(*v.as_bool() ? 1 : 0);
      return;
    case GgufType::String:
      out.put_string(*v.as_string());
      return;
    case GgufType::Array: {
      out.put<uint32_t>(uint32_t(v.array_type()));
      out.put<uint64_t>(v.array_size());
      if (const auto* strings = v.as_string_array()) {
        for (const std::string& s : *strings) out.put_string(s);
      } else if (const auto* arrays = v.as_nested_arrays()) {
        for (const GgufValue& a : *arrays) put_value(out, a);
      } else if (const auto* raw = v.array_le_bytes()) {
        out.put_raw(raw->data(), raw->size());
      }
      return;
    }
  }
}

template <typename T>
std::vector<uint8_t> le_bytes_of(std::span<const T> values) {
  std::vector<uint8_t> bytes(values.size_bytes());
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

}  // namespace

void GgufWriter::add_value(const std::string& key, GgufValue value) {
  for (const GgufKv& kv : metadata_)
    check(kv.key != key, "GgufWriter: duplicate key '" + key + "'");
  metadata_.push_back({key, std::move(value)});
}

void GgufWriter::add_string(const std::string& key, std::string value) {
  add_value(key, GgufValue::string(std::move(value)));
}
void GgufWriter::add_u8(const std::string& key, uint8_t value) {
  add_value(key, GgufValue::u8(value));
}
void GgufWriter::add_i8(const std::string& key, int8_t value) {
  add_value(key, GgufValue::i8(value));
}
void GgufWriter::add_u16(const std::string& key, uint16_t value) {
  add_value(key, GgufValue::u16(value));
}
void GgufWriter::add_i16(const std::string& key, int16_t value) {
  add_value(key, GgufValue::i16(value));
}
void GgufWriter::add_u32(const std::string& key, uint32_t value) {
  add_value(key, GgufValue::u32(value));
}
void GgufWriter::add_i32(const std::string& key, int32_t value) {
  add_value(key, GgufValue::i32(value));
}
void GgufWriter::add_u64(const std::string& key, uint64_t value) {
  add_value(key, GgufValue::u64(value));
}
void GgufWriter::add_i64(const std::string& key, int64_t value) {
  add_value(key, GgufValue::i64(value));
}
void GgufWriter::add_f32(const std::string& key, float value) {
  add_value(key, GgufValue::f32(value));
}
void GgufWriter::add_f64(const std::string& key, double value) {
  add_value(key, GgufValue::f64(value));
}
void GgufWriter::add_bool(const std::string& key, bool value) {
  add_value(key, GgufValue::boolean(value));
}

void GgufWriter::add_string_array(const std::string& key, std::vector<std::string> values) {
  add_value(key, GgufValue::string_array(std::move(values)));
}
void GgufWriter::add_i32_array(const std::string& key, std::span<const int32_t> values) {
  add_value(key, GgufValue::scalar_array(GgufType::I32, le_bytes_of(values)));
}
void GgufWriter::add_u32_array(const std::string& key, std::span<const uint32_t> values) {
  add_value(key, GgufValue::scalar_array(GgufType::U32, le_bytes_of(values)));
}
void GgufWriter::add_i64_array(const std::string& key, std::span<const int64_t> values) {
  add_value(key, GgufValue::scalar_array(GgufType::I64, le_bytes_of(values)));
}
void GgufWriter::add_f32_array(const std::string& key, std::span<const float> values) {
  add_value(key, GgufValue::scalar_array(GgufType::F32, le_bytes_of(values)));
}

GgufWriter::PendingTensor& GgufWriter::add_tensor_common(const std::string& name,
                                                         uint32_t ggml_type,
                                                         std::vector<int64_t> shape_row_major,
                                                         size_t data_bytes) {
  const std::string what = "GgufWriter: tensor '" + name + "'";
  for (const PendingTensor& t : tensors_) check(t.name != name, what + " added twice");
  check(shape_row_major.size() <= 4, what + " has more than 4 dimensions");
  uint64_t n_elements = 1;
  for (int64_t d : shape_row_major) {
    check(d >= 0, what + " has a negative dimension");
    n_elements *= uint64_t(d);
  }
  check(ggml_type_traits(ggml_type).has_value(),
        what + " has unknown ggml type " + std::to_string(ggml_type));
  const uint64_t row = shape_row_major.empty() ? 1 : uint64_t(shape_row_major.back());
  const std::optional<uint64_t> expected = ggml_tensor_nbytes(ggml_type, row, n_elements);
  check(expected.has_value(), what + ": row length is not a whole number of blocks");
  check(*expected == data_bytes, what + " has " + std::to_string(data_bytes) +
                                     " bytes of data, its shape and type need " +
                                     std::to_string(*expected));
  PendingTensor t;
  t.name = name;
  t.ggml_type = ggml_type;
  t.ne.assign(shape_row_major.rbegin(), shape_row_major.rend());
  t.is_view = false;
  tensors_.push_back(std::move(t));
  return tensors_.back();
}

void GgufWriter::add_tensor(const std::string& name, uint32_t ggml_type,
                            std::vector<int64_t> shape_row_major, std::span<const std::byte> data) {
  PendingTensor& t = add_tensor_common(name, ggml_type, std::move(shape_row_major), data.size());
  t.owned.assign(data.begin(), data.end());
}

void GgufWriter::add_tensor_view(const std::string& name, uint32_t ggml_type,
                                 std::vector<int64_t> shape_row_major,
                                 std::span<const std::byte> data) {
  PendingTensor& t = add_tensor_common(name, ggml_type, std::move(shape_row_major), data.size());
  t.is_view = true;
  t.view = data;
}

void GgufWriter::write(const std::string& path, size_t alignment) const {
  check(alignment != 0 && (alignment & (alignment - 1)) == 0,
        path + ": GGUF alignment " + std::to_string(alignment) + " is not a power of two");
  std::vector<GgufKv> metadata = metadata_;
  bool has_alignment_key = false;
  for (const GgufKv& kv : metadata) {
    if (kv.key != "general.alignment") continue;
    check(kv.value.type() == GgufType::U32 && kv.value.as_uint() == alignment,
          path + ": general.alignment in metadata disagrees with the write alignment");
    has_alignment_key = true;
  }
  if (alignment != 32 && !has_alignment_key)
    metadata.push_back({"general.alignment", GgufValue::u32(uint32_t(alignment))});

  ByteSink header;
  header.put_raw("GGUF", 4);
  header.put<uint32_t>(3);
  header.put<uint64_t>(tensors_.size());
  header.put<uint64_t>(metadata.size());
  for (const GgufKv& kv : metadata) {
    header.put_string(kv.key);
    header.put<uint32_t>(uint32_t(kv.value.type()));
    put_value(header, kv.value);
  }
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    header.put_string(t.name);
    header.put<uint32_t>(uint32_t(t.ne.size()));
    for (int64_t d : t.ne) header.put<uint64_t>(uint64_t(d));
    header.put<uint32_t>(t.ggml_type);
    header.put<uint64_t>(offset);
    offset += t.data().size();
    offset += (alignment - offset % alignment) % alignment;
  }
  header.pad_to(alignment);

  const std::string tmp_path = path + ".tmp";
  {
    std::ofstream out(tmp_path, std::ios::binary | std::ios::trunc);
    check(bool(out), tmp_path + ": cannot open for writing");
    out.write(header.bytes().data(), std::streamsize(header.bytes().size()));
    const std::string zeros(alignment, '\0');
    for (const PendingTensor& t : tensors_) {
      const std::span<const std::byte> data = t.data();
      out.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
      out.write(zeros.data(), std::streamsize((alignment - data.size() % alignment) % alignment));
    }
    out.flush();
    if (!out) {
      std::remove(tmp_path.c_str());
      throw Error(tmp_path + ": write failed");
    }
  }
  if (std::rename(tmp_path.c_str(), path.c_str()) != 0) {
    std::remove(tmp_path.c_str());
    throw Error(path + ": cannot rename " + tmp_path + " into place");
  }
}

}  // namespace tokenmill
