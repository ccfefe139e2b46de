// Damaged files: truncated at every byte, bytes flipped, counts and lengths set huge. Every case
// must load or throw tokenmill::Error; none may crash (also run under ASan/UBSan) or allocate
// hugely.
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/npy.h"
#include "formats/safetensors.h"
#include "formats_test_util.h"

namespace tokenmill {
namespace {

enum class Outcome { Loaded, Error };

template <typename Reader>
Outcome try_load(const std::string& path) {
  try {
    Reader r(path);
    return Outcome::Loaded;
  } catch (const Error&) {
    return Outcome::Error;
  }
}

template <typename T>
void put_le(std::vector<char>& bytes, size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

// Offset of the first occurrence of `s` as a GGUF string (u64 length + bytes); its length field.
size_t gguf_string_offset(const std::vector<char>& bytes, const std::string& s) {
  const std::string_view all(bytes.data(), bytes.size());
  const size_t at = all.find(s);
  EXPECT_NE(at, std::string_view::npos) << s;
  return at - 8;
}

std::string what_of(const std::string& path, auto load) {
  try {
    load(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded)";
}

TEST(GgufCorruption, TruncationAtEveryByte) {
  const std::vector<char> full = test::read_bytes(test::fixture_path("all_types.gguf"));
  const GgufFile reference(test::fixture_path("all_types.gguf"));
  size_t data_end = reference.data_offset();
  for (const GgufTensor& t : reference.tensors())
    data_end = std::max<size_t>(data_end, reference.data_offset() + t.offset + t.nbytes);
  ASSERT_LT(data_end, full.size());  // the writer pads the last tensor
  test::ScratchDir dir;
  const std::string path = dir.file("cut.gguf");
  for (size_t len = 0; len < full.size(); ++len) {
    test::write_bytes(path, full.data(), len);
    const Outcome got = try_load<GgufFile>(path);
    EXPECT_EQ(got, len < data_end ? Outcome::Error : Outcome::Loaded) << "length " << len;
  }
}

TEST(GgufCorruption, EveryHeaderByteFlippedLoadsOrThrows) {
  const std::vector<char> full = test::read_bytes(test::fixture_path("all_types.gguf"));
  const size_t header_end = GgufFile(test::fixture_path("all_types.gguf")).data_offset();
  test::ScratchDir dir;
  const std::string path = dir.file("flip.gguf");
  size_t errors = 0;
  for (size_t at = 0; at < header_end; ++at) {
    for (const unsigned char x : {0x01, 0x80, 0xff}) {
      std::vector<char> bytes = full;
      bytes[at] = char(bytes[at] ^ x);
      test::write_bytes(path, bytes.data(), bytes.size());
      errors += try_load<GgufFile>(path) == Outcome::Error;
    }
  }
  EXPECT_GT(errors, header_end);  // most flips land in lengths, types and counts
}

TEST(GgufCorruption, HugeCountsFailFast) {
  const std::string src = test::fixture_path("all_types.gguf");
  const std::vector<char> full = test::read_bytes(src);
  test::ScratchDir dir;
  const std::string path = dir.file("huge.gguf");
  auto expect_error = [&](std::vector<char> bytes, const std::string& needle) {
    test::write_bytes(path, bytes.data(), bytes.size());
    const std::string what = what_of(path, [](const std::string& p) { GgufFile f(p); });
    EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << what;  // starts with the path
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  };
  const uint64_t huge = uint64_t(1) << 60;
  {  // tensor count at offset 8, metadata count at offset 16
    auto b = full;
    put_le<uint64_t>(b, 8, huge);
    expect_error(b, "tensor count at offset 8 claims 1152921504606846976 items");
    b = full;
    put_le<uint64_t>(b, 16, huge);
    expect_error(b, "metadata count at offset 16 claims");
  }
  {  // a string length
    auto b = full;
    put_le<uint64_t>(b, gguf_string_offset(full, "fixture"), uint64_t(4000000000));
    expect_error(b, "claims 4000000000 bytes but only");
  }
  {  // an array length: t.array_i32 is "key, u32 type 9, u32 elem type 5, u64 count"
    auto b = full;
    const size_t key = gguf_string_offset(full, "t.array_i32");
    put_le<uint64_t>(b, key + 8 + 11 + 4 + 4, huge);
    expect_error(b, "array value of 't.array_i32'");
  }
  {  // nested arrays: count of the outer array of t.nested_i32
    auto b = full;
    const size_t key = gguf_string_offset(full, "t.nested_i32");
    put_le<uint64_t>(b, key + 8 + 12 + 4 + 4, huge);
    expect_error(b, "claims 1152921504606846976 items");
  }
  {  // an invalid value type id
    auto b = full;
    put_le<uint32_t>(b, gguf_string_offset(full, "t.u8") + 8 + 4, 13u);
    expect_error(b, "invalid value type 13");
  }
  {  // a tensor dimension so large the element count overflows
    auto b = full;
    const size_t name = gguf_string_offset(full, "weights.f32");
    put_le<uint64_t>(b, name + 8 + 11 + 4, uint64_t(1) << 62);
    expect_error(b, "tensor 'weights.f32'");
  }
  {  // a tensor offset that is misaligned, then one past the end
    auto b = full;
    const size_t name = gguf_string_offset(full, "vector.f32");
    const size_t offset_at = name + 8 + 10 + 4 + 8 + 4;
    put_le<uint64_t>(b, offset_at, 3);
    expect_error(b, "not a multiple of the alignment");
    put_le<uint64_t>(b, offset_at, 1 << 20);
    expect_error(b, "truncated: tensor 'vector.f32'");
    put_le<uint64_t>(b, offset_at, 0);  // on top of weights.f32
    expect_error(b, "overlap");
  }
  {  // an unknown tensor type and too many dimensions
    auto b = full;
    const size_t name = gguf_string_offset(full, "vector.f32");
    put_le<uint32_t>(b, name + 8 + 10 + 4 + 8, 4u);
    expect_error(b, "retired(Q4_2)");
    b = full;
    put_le<uint32_t>(b, name + 8 + 10, 5u);
    expect_error(b, "has 5 dimensions");
  }
  {  // duplicate key: rename t.i8 to t.u8
    auto b = full;
    b[gguf_string_offset(full, "t.i8") + 8 + 2] = 'u';
    expect_error(b, "duplicate metadata key 't.u8'");
  }
  {  // versions
    auto b = full;
    put_le<uint32_t>(b, 4, 1u);
    expect_error(b, "unsupported GGUF version 1");
    put_le<uint32_t>(b, 4, 0x03000000u);
    expect_error(b, "big-endian");
    b[0] = 'X';
    expect_error(b, "not a GGUF file");
  }
  {  // alignment that is not a power of two
    auto b = full;
    const size_t key = gguf_string_offset(full, "general.alignment");
    put_le<uint32_t>(b, key + 8 + 17 + 4, 48u);
    expect_error(b, "general.alignment is 48");
  }
}

TEST(GgufCorruption, DeeplyNestedArraysRejected) {
  // key "k", type array, then 100 levels of "array of arrays, count 1".
  std::string b = "GGUF";
  auto put = [&b](auto v) { b.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(uint32_t(3));
  put(uint64_t(0));
  put(uint64_t(1));
  put(uint64_t(1));
  b.push_back('k');
  put(uint32_t(9));
  for (int i = 0; i < 100; ++i) {
    put(uint32_t(9));
    put(uint64_t(1));
  }
  test::ScratchDir dir;
  const std::string path = dir.file("deep.gguf");
  test::write_bytes(path, b.data(), b.size());
  EXPECT_NE(what_of(path, [](const std::string& p) { GgufFile f(p); }).find("nested deeper"),
            std::string::npos);
}

TEST(SafetensorsCorruption, TruncationAtEveryByte) {
  const std::vector<char> full = test::read_bytes(test::fixture_path("small.safetensors"));
  test::ScratchDir dir;
  const std::string path = dir.file("cut.safetensors");
  for (size_t len = 0; len < full.size(); ++len) {
    test::write_bytes(path, full.data(), len);
    EXPECT_EQ(try_load<SafetensorsFile>(path), Outcome::Error) << "length " << len;
  }
}

TEST(SafetensorsCorruption, EveryHeaderByteFlippedLoadsOrThrows) {
  const std::vector<char> full = test::read_bytes(test::fixture_path("small.safetensors"));
  uint64_t header_len;
  std::memcpy(&header_len, full.data(), 8);
  test::ScratchDir dir;
  const std::string path = dir.file("flip.safetensors");
  size_t errors = 0;
  for (size_t at = 0; at < 8 + header_len; ++at) {
    for (const unsigned char x : {0x01, 0x80, 0xff}) {
      std::vector<char> bytes = full;
      bytes[at] = char(bytes[at] ^ x);
      test::write_bytes(path, bytes.data(), bytes.size());
      errors += try_load<SafetensorsFile>(path) == Outcome::Error;
    }
  }
  EXPECT_GT(errors, 8 + header_len);
}

// Builds a file from a header string and `data_bytes` zero bytes.
std::vector<char> safetensors_bytes(const std::string& header, size_t data_bytes) {
  const uint64_t header_bytes = header.size();
  std::string b(reinterpret_cast<const char*>(&header_bytes), 8);
  b += header;
  b.append(data_bytes, '\0');
  return std::vector<char>(b.begin(), b.end());
}

TEST(SafetensorsCorruption, BadHeadersNameTheProblem) {
  test::ScratchDir dir;
  const std::string path = dir.file("bad.safetensors");
  auto expect_error = [&](const std::vector<char>& b, const std::string& needle) {
    test::write_bytes(path, b.data(), b.size());
    const std::string what = what_of(path, [](const std::string& p) { SafetensorsFile f(p); });
    EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  };
  const auto ok = safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8);
  test::write_bytes(path, ok.data(), ok.size());
  EXPECT_EQ(try_load<SafetensorsFile>(path), Outcome::Loaded);

  auto huge = ok;
  put_le<uint64_t>(huge, 0, uint64_t(1) << 62);
  expect_error(huge, "exceeds the 100 MB limit");
  auto beyond = ok;
  put_le<uint64_t>(beyond, 0, 1000);
  expect_error(beyond, "truncated: header claims 1000 bytes");
  expect_error(safetensors_bytes("{not json", 0), "invalid JSON header");
  expect_error(safetensors_bytes("[1,2]", 0), "not an object");
  expect_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}})", 12),
               "has 12 bytes but shape and dtype F32 need 2 x 4");
  expect_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8),
               "is before begin");
  expect_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4),
               "truncated: tensor 'a' data ends at 8");
  expect_error(safetensors_bytes(R"({"a":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}})", 8),
               "tensor 'a' has unknown dtype 'Q9'");
  expect_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
               "shape entry");
  expect_error(
      safetensors_bytes(
          R"({"a":{"dtype":"U8","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})",
          8),
      "overflows");
  expect_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                 8),
               "overlap");
  expect_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", 8), "data_offsets");
  expect_error(safetensors_bytes(R"({"__metadata__":{"k":1}})", 0), "__metadata__ value of 'k'");
  // Deep JSON nesting must not exhaust the stack.
  expect_error(safetensors_bytes(std::string(100000, '[') + std::string(100000, ']'), 0),
               "not an object");
}

TEST(NpyCorruption, TruncationAndBadHeaders) {
  const std::vector<char> full = test::read_bytes(test::fixture_path("array_2d.npy"));
  test::ScratchDir dir;
  const std::string path = dir.file("cut.npy");
  for (size_t len = 0; len < full.size(); ++len) {
    test::write_bytes(path, full.data(), len);
    EXPECT_THROW(read_npy_f32(path), Error) << "length " << len;
  }
  for (size_t at = 0; at < 128; ++at) {  // header: loads or throws
    std::vector<char> bytes = full;
    bytes[at] = char(bytes[at] ^ 0x41);
    test::write_bytes(path, bytes.data(), bytes.size());
    try {
      (void)read_npy_f32(path);
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace tokenmill
