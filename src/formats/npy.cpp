#include "formats/npy.h"

#include <bit>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string_view>

#include "core/error.h"
#include "core/mapped_file.h"

namespace tokenmill {
namespace {

static_assert(std::endian::native == std::endian::little, "npy I/O assumes a little-endian host");

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicBytes = 6;
constexpr size_t kMaxDims = 8;

// Minimal reader of the header's Python dict literal, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class DictParser {
 public:
  DictParser(const std::string& path, std::string_view text) : path_(path), text_(text) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(path_ + ": npy header: " + what);
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool accept(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "' at column " + std::to_string(pos_));
  }
  std::string quoted() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
      fail("expected a quoted string at column " + std::to_string(pos_));
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string s(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  std::string word() {
    skip_space();
    const size_t begin = pos_;
    while (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    return std::string(text_.substr(begin, pos_ - begin));
  }
  size_t number() {
    skip_space();
    uint64_t v = 0;
    const size_t begin = pos_;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      if (v > (UINT64_MAX - 9) / 10) fail("shape entry too large");
      v = v * 10 + uint64_t(text_[pos_++] - '0');
    }
    if (pos_ == begin) fail("expected a number at column " + std::to_string(pos_));
    return size_t(v);
  }
  std::vector<size_t> tuple() {
    expect('(');
    std::vector<size_t> dims;
    while (!accept(')')) {
      if (dims.size() == kMaxDims) fail("more than 8 dimensions");
      dims.push_back(number());
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return dims;
  }

 private:
  const std::string& path_;
  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

void write_npy_f32(const std::string& path, const float* data, std::vector<size_t> shape) {
  check(!shape.empty() && shape.size() <= kMaxDims,
        path + ": npy shape must have 1 to 8 dimensions");
  size_t n = 1;
  std::string dims;
  for (size_t d : shape) {
    n *= d;
    dims += std::to_string(d) + ", ";
  }
  if (shape.size() > 1)
    dims.resize(dims.size() - 2);  // "(3, 4)", but "(3,)" for one dim
  else
    dims.resize(dims.size() - 1);
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // magic(6) + version(2) + length(2) + header + '\n' is padded to a multiple of 64.
  const size_t unpadded = kMagicBytes + 2 + 2 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  check(bool(out), path + ": cannot open for writing");
  out.write(kMagic, kMagicBytes);
  const char version[2] = {1, 0};
  out.write(version, 2);
  const uint16_t header_len = uint16_t(header.size());
  out.write(reinterpret_cast<const char*>(&header_len), 2);
  out.write(header.data(), std::streamsize(header.size()));
  out.write(reinterpret_cast<const char*>(data), std::streamsize(n * sizeof(float)));
  out.flush();
  check(bool(out), path + ": write failed");
}

NpyArray read_npy_f32(const std::string& path) {
  const MappedFile file(path);
  const auto* bytes = reinterpret_cast<const char*>(file.data());
  const size_t size = file.size_bytes();
  check(size >= kMagicBytes + 4 && std::memcmp(bytes, kMagic, kMagicBytes) == 0,
        path + ": not a .npy file (bad magic)");
  const uint8_t major = uint8_t(bytes[6]);
  size_t header_len = 0;
  size_t header_begin = 0;
  if (major == 1) {
    uint16_t len;
    std::memcpy(&len, bytes + 8, 2);
    header_len = len;
    header_begin = 10;
  } else if (major == 2 || major == 3) {
    check(size >= 12, path + ": truncated npy header length");
    uint32_t len;
    std::memcpy(&len, bytes + 8, 4);
    header_len = len;
    header_begin = 12;
  } else {
    throw Error(path + ": unsupported npy version " + std::to_string(major));
  }
  check(header_len <= size - header_begin, path + ": truncated: npy header claims " +
                                               std::to_string(header_len) + " bytes but only " +
                                               std::to_string(size - header_begin) + " remain");

  DictParser dict(path, std::string_view(bytes + header_begin, header_len));
  std::string descr;
  std::optional<bool> fortran_order;
  std::optional<std::vector<size_t>> shape;
  dict.expect('{');
  while (!dict.accept('}')) {
    const std::string key = dict.quoted();
    dict.expect(':');
    if (key == "descr") {
      descr = dict.quoted();
    } else if (key == "fortran_order") {
      const std::string w = dict.word();
      if (w != "True" && w != "False") dict.fail("fortran_order is not True or False");
      fortran_order = (w == "True");
    } else if (key == "shape") {
      shape = dict.tuple();
    } else {
      dict.fail("unexpected key '" + key + "'");
    }
    if (!dict.accept(',')) {
      dict.expect('}');
      break;
    }
  }
  check(descr == "<f4", path + ": npy dtype is '" + descr + "', expected '<f4' (float32)");
  check(fortran_order == false, path + ": npy array is not in C order");
  check(shape.has_value(), path + ": npy header has no shape");

  const size_t data_bytes = size - header_begin - header_len;
  uint64_t n = 1;
  for (size_t d : *shape) {
    check(d == 0 || n <= data_bytes / d, path + ": npy shape needs more data than the file holds");
    n *= d;
  }
  check(n * sizeof(float) == data_bytes, path + ": npy shape needs " +
                                             std::to_string(n * sizeof(float)) +
                                             " data bytes, file has " + std::to_string(data_bytes));
  NpyArray array;
  array.shape = std::move(*shape);
  array.data.resize(n);
  if (n > 0) std::memcpy(array.data.data(), bytes + header_begin + header_len, data_bytes);
  return array;
}

}  // namespace tokenmill
