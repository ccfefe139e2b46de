#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/error.h"

namespace tokenmill {
namespace {

struct DtypeRow {
  std::string_view name;
  size_t element_bytes;
  std::optional<DType> dtype;  // nullopt: known to the format, not representable as a DType
};

constexpr DtypeRow kDtypes[] = {
    {"F32", 4, DType::F32},       {"F16", 2, DType::F16},       {"BF16", 2, DType::BF16},
    {"I32", 4, DType::I32},       {"I8", 1, DType::I8},         {"U8", 1, DType::U8},
    {"F64", 8, std::nullopt},     {"I64", 8, std::nullopt},     {"U64", 8, std::nullopt},
    {"U32", 4, std::nullopt},     {"I16", 2, std::nullopt},     {"U16", 2, std::nullopt},
    {"BOOL", 1, std::nullopt},    {"F8_E4M3", 1, std::nullopt}, {"F8_E5M2", 1, std::nullopt},
    {"F8_E8M0", 1, std::nullopt},
};

const DtypeRow* find_dtype(std::string_view name) {
  for (const DtypeRow& row : kDtypes)
    if (row.name == name) return &row;
  return nullptr;
}

struct Entry {
  std::string name;
  const DtypeRow* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;  // within the data region
};

// A non-negative JSON integer, or nullopt.
std::optional<uint64_t> as_u64(const nlohmann::json& j) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer() && j.get<int64_t>() >= 0) return uint64_t(j.get<int64_t>());
  return std::nullopt;
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {
  auto fail = [&](const std::string& what) -> void { throw Error(path + ": " + what); };
  const size_t size = file_.size_bytes();
  if (size < 8) fail("truncated: " + std::to_string(size) + " bytes, no header length");
  uint64_t header_bytes;
  std::memcpy(&header_bytes, file_.data(), 8);
  if (header_bytes > kMaxHeaderBytes)
    fail("header length " + std::to_string(header_bytes) + " exceeds the 100 MB limit");
  if (header_bytes > size - 8)
    fail("truncated: header claims " + std::to_string(header_bytes) + " bytes but only " +
         std::to_string(size - 8) + " remain");
  const char* header_begin = reinterpret_cast<const char*>(file_.data()) + 8;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_begin, header_begin + header_bytes);
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("invalid JSON header: ") + e.what());
  }
  if (!header.is_object()) fail("JSON header is not an object");

  const uint64_t data_begin = 8 + header_bytes;
  const uint64_t data_bytes = size - data_begin;
  std::vector<Entry> entries;
  for (const auto& [name, desc] : header.items()) {
    if (name == "__metadata__") {
      if (!desc.is_object()) fail("__metadata__ is not an object");
      for (const auto& [key, value] : desc.items()) {
        if (!value.is_string()) fail("__metadata__ value of '" + key + "' is not a string");
        metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string what = "tensor '" + name + "'";
    if (!desc.is_object()) fail(what + " is not an object");
    const auto dtype_it = desc.find("dtype");
    if (dtype_it == desc.end() || !dtype_it->is_string()) fail(what + " has no string dtype");
    const std::string dtype_name = dtype_it->get<std::string>();
    const DtypeRow* dtype = find_dtype(dtype_name);
    if (dtype == nullptr) fail(what + " has unknown dtype '" + dtype_name + "'");

    const auto shape_it = desc.find("shape");
    if (shape_it == desc.end() || !shape_it->is_array()) fail(what + " has no shape array");
    Entry e{name, dtype, {}, 0, 0};
    uint64_t n_elements = 1;
    for (const nlohmann::json& d : *shape_it) {
      const std::optional<uint64_t> dim = as_u64(d);
      if (!dim || *dim > uint64_t(INT64_MAX)) fail(what + " has a shape entry that is not a size");
      if (*dim != 0 && n_elements > uint64_t(INT64_MAX) / *dim)
        fail(what + " has an element count that overflows 64 bits");
      n_elements *= *dim;
      e.shape.push_back(int64_t(*dim));
    }
    const auto offsets_it = desc.find("data_offsets");
    if (offsets_it == desc.end() || !offsets_it->is_array() || offsets_it->size() != 2)
      fail(what + " has no data_offsets [begin, end]");
    const std::optional<uint64_t> begin = as_u64((*offsets_it)[0]);
    const std::optional<uint64_t> end = as_u64((*offsets_it)[1]);
    if (!begin || !end) fail(what + " data_offsets are not non-negative integers");
    if (*end < *begin)
      fail(what + " data_offsets end " + std::to_string(*end) + " is before begin " +
           std::to_string(*begin));
    if (*end > data_bytes)
      fail("truncated: " + what + " data ends at " + std::to_string(*end) +
           " but the data region holds " + std::to_string(data_bytes) + " bytes");
    if (n_elements > UINT64_MAX / dtype->element_bytes ||
        *end - *begin != n_elements * dtype->element_bytes)
      fail(what + " has " + std::to_string(*end - *begin) + " bytes but shape and dtype " +
           dtype_name + " need " + std::to_string(n_elements) + " x " +
           std::to_string(dtype->element_bytes));
    e.begin = *begin;
    e.end = *end;
    entries.push_back(std::move(e));
  }

  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.end == e.begin) continue;  // empty tensors occupy no bytes
    if (previous != nullptr && previous->end > e.begin)
      fail("tensors '" + previous->name + "' and '" + e.name + "' overlap in the data region");
    previous = &e;
  }

  for (Entry& e : entries) {
    if (!e.dtype->dtype) {
      unsupported_.push_back({e.name, std::string(e.dtype->name)});
      continue;
    }
    TensorInfo info;
    info.name = std::move(e.name);
    info.dtype = *e.dtype->dtype;
    info.shape = std::move(e.shape);
    info.data = file_.data() + data_begin + e.begin;
    info.nbytes = size_t(e.end - e.begin);
    index_.emplace(info.name, tensors_.size());
    tensors_.push_back(std::move(info));
  }
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& SafetensorsFile::require(std::string_view name) const {
  if (const TensorInfo* t = find(name)) return *t;
  for (const UnsupportedTensor& u : unsupported_)
    if (u.name == name)
      throw Error(path() + ": tensor '" + u.name + "' has dtype " + u.dtype + ", not supported");
  throw Error(path() + ": no tensor '" + std::string(name) + "'");
}

}  // namespace tokenmill
