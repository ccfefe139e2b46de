// GgufWriter -> GgufFile round trips for every value type and tensor type.
#include "formats/gguf_writer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats_test_util.h"

namespace tokenmill {
namespace {

template <typename T>
std::span<const std::byte> bytes_of(const std::vector<T>& v) {
  return std::as_bytes(std::span(v));
}

TEST(GgufWriter, RoundTripsEveryValueType) {
  test::ScratchDir dir;
  GgufWriter w;
  w.add_u8("u8", 250);
  w.add_i8("i8", -7);
  w.add_u16("u16", 65535);
  w.add_i16("i16", -32768);
  w.add_u32("u32", 4294967295u);
  w.add_i32("i32", std::numeric_limits<int32_t>::min());
  w.add_u64("u64", std::numeric_limits<uint64_t>::max());
  w.add_i64("i64", std::numeric_limits<int64_t>::min());
  w.add_f32("f32", -0.15625f);
  w.add_f64("f64", 1e-300);
  w.add_bool("bool", true);
  w.add_string("string", std::string("nul\0inside", 10));
  w.add_string("empty", "");
  w.add_string_array("strings", {"x", "", "ÿ"});
  w.add_string_array("no_strings", {});
  const std::vector<int32_t> i32s{-1, 0, 1 << 30};
  const std::vector<uint32_t> u32s{7, 4294967295u};
  const std::vector<int64_t> i64s{-(int64_t(1) << 40)};
  const std::vector<float> f32s{1.5f, -2.0f};
  w.add_i32_array("i32s", i32s);
  w.add_u32_array("u32s", u32s);
  w.add_i64_array("i64s", i64s);
  w.add_f32_array("f32s", f32s);
  w.add_value("bools", GgufValue::array(GgufType::Bool,
                                        {GgufValue::boolean(false), GgufValue::boolean(true)}));
  w.add_value("i8s", GgufValue::array(GgufType::I8, {GgufValue::i8(-128), GgufValue::i8(5)}));
  w.add_value("u16s", GgufValue::array(GgufType::U16, {GgufValue::u16(9)}));
  w.add_value("f64s", GgufValue::array(GgufType::F64, {GgufValue::f64(0.1)}));
  const GgufValue inner1 = GgufValue::array(GgufType::I16, {GgufValue::i16(-3)});
  const GgufValue inner2 = GgufValue::array(GgufType::I16, {});
  w.add_value("nested", GgufValue::nested_array({inner1, inner2}));
  w.add_value("nested2", GgufValue::nested_array(
                             {GgufValue::nested_array({GgufValue::string_array({"deep"})})}));
  const std::string path = dir.file("all.gguf");
  w.write(path);

  const GgufFile f(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.find("general.alignment"), nullptr);
  EXPECT_EQ(f.metadata().size(), 25u);
  EXPECT_EQ(f.metadata()[0].key, "u8");
  EXPECT_EQ(f.find("u8")->type(), GgufType::U8);
  EXPECT_EQ(f.get_int("u8"), 250);
  EXPECT_EQ(f.find("i8")->type(), GgufType::I8);
  EXPECT_EQ(f.get_int("i8"), -7);
  EXPECT_EQ(f.find("u16")->type(), GgufType::U16);
  EXPECT_EQ(f.get_int("u16"), 65535);
  EXPECT_EQ(f.get_int("i16"), -32768);
  EXPECT_EQ(f.get_int("u32"), 4294967295);
  EXPECT_EQ(f.get_int("i32"), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(f.find("u64")->as_uint(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(f.get_int("i64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(f.find("f32")->type(), GgufType::F32);
  EXPECT_EQ(f.get_float("f32"), -0.15625);
  EXPECT_EQ(f.find("f64")->type(), GgufType::F64);
  EXPECT_EQ(f.get_float("f64"), 1e-300);
  EXPECT_EQ(f.get_bool("bool"), true);
  EXPECT_EQ(f.get_string("string"), std::string("nul\0inside", 10));
  EXPECT_EQ(f.get_string("empty"), "");
  EXPECT_EQ(f.get_string_array("strings"), (std::vector<std::string>{"x", "", "ÿ"}));
  EXPECT_EQ(f.get_string_array("no_strings"), std::vector<std::string>{});
  EXPECT_EQ(f.get_int_array("i32s"), (std::vector<int64_t>{-1, 0, 1 << 30}));
  EXPECT_EQ(f.find("u32s")->array_type(), GgufType::U32);
  EXPECT_EQ(f.get_int_array("u32s"), (std::vector<int64_t>{7, 4294967295}));
  EXPECT_EQ(f.get_int_array("i64s"), (std::vector<int64_t>{-(int64_t(1) << 40)}));
  EXPECT_EQ(f.get_float_array("f32s"), f32s);
  EXPECT_EQ(f.get_int_array("bools"), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(f.get_int_array("i8s"), (std::vector<int64_t>{-128, 5}));
  EXPECT_EQ(f.find("u16s")->array_type(), GgufType::U16);
  EXPECT_EQ(f.get_float_array("f64s"), (std::vector<float>{0.1f}));
  EXPECT_EQ(f.find("f64s")->array_item(0).as_float(), 0.1);
  const GgufValue* nested = f.find("nested");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->array_type(), GgufType::Array);
  ASSERT_EQ(nested->array_size(), 2u);
  EXPECT_EQ(nested->array_item(0).array_type(), GgufType::I16);
  EXPECT_EQ(nested->array_item(0).as_int_array(), (std::vector<int64_t>{-3}));
  EXPECT_EQ(nested->array_item(1).array_size(), 0u);
  EXPECT_EQ(f.find("nested2")->to_display(), "[[[\"deep\"]]]");
}

TEST(GgufWriter, RoundTripsTensorsOfEveryType) {
  test::ScratchDir dir;
  GgufWriter w;
  w.add_string("general.architecture", "test");
  const std::vector<float> f32{1, 2, 3, 4, 5, 6};
  std::vector<uint16_t> f16, bf16;
  for (float x : f32) {
    f16.push_back(f32_to_fp16(x * 0.5f));
    bf16.push_back(f32_to_bf16(-x));
  }
  const std::vector<int8_t> i8{-1, 2, -3};
  const std::vector<int32_t> i32{100000, -5};
  std::vector<std::byte> q4k(2 * 144, std::byte{0x5a});  // two Q4_K blocks: a [2, 256] weight
  w.add_tensor("f32", GgmlType::F32, {2, 3}, bytes_of(f32));
  w.add_tensor("f16", GgmlType::F16, {3, 2}, bytes_of(f16));
  w.add_tensor_view("bf16", uint32_t(GgmlType::BF16), {6}, bytes_of(bf16));
  w.add_tensor("i8", GgmlType::I8, {3}, bytes_of(i8));
  w.add_tensor("i32", GgmlType::I32, {1, 1, 2}, bytes_of(i32));
  w.add_tensor("q4k", GgmlType::Q4_K, {2, 256}, q4k);
  const std::string path = dir.file("t.gguf");
  w.write(path, 128);

  const GgufFile f(path);
  EXPECT_EQ(f.alignment(), 128u);
  EXPECT_EQ(f.get_int("general.alignment"), 128);
  ASSERT_EQ(f.tensors().size(), 6u);
  EXPECT_EQ(f.tensors()[0].name, "f32");
  EXPECT_EQ(f.tensors()[0].ne, (std::vector<int64_t>{3, 2}));  // innermost first in GGUF
  for (const GgufTensor& t : f.tensors()) EXPECT_EQ(t.offset % 128, 0u) << t.name;
  auto check_tensor = [&](const char* name, DType dtype, std::vector<int64_t> shape,
                          std::span<const std::byte> data) {
    SCOPED_TRACE(name);
    const TensorInfo info = f.tensor_info(*f.find_tensor(name));
    EXPECT_EQ(info.dtype, dtype);
    EXPECT_EQ(info.shape, shape);
    ASSERT_EQ(info.nbytes, data.size());
    EXPECT_EQ(std::memcmp(info.data, data.data(), data.size()), 0);
  };
  check_tensor("f32", DType::F32, {2, 3}, bytes_of(f32));
  check_tensor("f16", DType::F16, {3, 2}, bytes_of(f16));
  check_tensor("bf16", DType::BF16, {6}, bytes_of(bf16));
  check_tensor("i8", DType::I8, {3}, bytes_of(i8));
  check_tensor("i32", DType::I32, {1, 1, 2}, bytes_of(i32));
  const GgufTensor& q = *f.find_tensor("q4k");
  EXPECT_EQ(q.nbytes, q4k.size());
  EXPECT_EQ(std::memcmp(q.data, q4k.data(), q4k.size()), 0);
  const TensorInfo qi = f.tensor_info(q);
  EXPECT_EQ(qi.dtype, DType::Q4_K);
  EXPECT_EQ(qi.nbytes, q4k.size());
}

TEST(GgufWriter, RejectsBadInput) {
  GgufWriter w;
  w.add_u32("k", 1);
  EXPECT_THROW(w.add_string("k", "again"), Error);
  const std::vector<float> six(6);
  EXPECT_THROW(w.add_tensor("t", GgmlType::F32, {2, 2}, bytes_of(six)), Error);   // size mismatch
  EXPECT_THROW(w.add_tensor("t", GgmlType::Q4_0, {2, 3}, bytes_of(six)), Error);  // partial block
  EXPECT_THROW(w.add_tensor("t", 4u, {6}, bytes_of(six)), Error);                 // retired type
  EXPECT_THROW(w.add_tensor("t", GgmlType::F32, {1, 1, 1, 1, 6}, bytes_of(six)), Error);
  w.add_tensor("t", GgmlType::F32, {6}, bytes_of(six));
  EXPECT_THROW(w.add_tensor("t", GgmlType::F32, {6}, bytes_of(six)), Error);
  EXPECT_THROW(GgufValue::array(GgufType::I32, {GgufValue::u8(1)}), Error);
  test::ScratchDir dir;
  EXPECT_THROW(w.write(dir.file("x.gguf"), 48), Error);
  EXPECT_THROW(w.write(dir.file("no_such_dir/x.gguf")), Error);
}

}  // namespace
}  // namespace tokenmill

namespace tokenmill {
namespace {

// A fixed file whose bytes are committed as tests/fixtures/formats/writer_golden.gguf; the
// fixture generator checks that file with the PyPI gguf reader, so this test ties the writer's
// output to that independent reader. Regenerate with TOKENMILL_UPDATE_GOLDEN=1.
TEST(GgufWriter, MatchesGoldenReadByPythonGguf) {
  GgufWriter w;
  w.add_string("general.architecture", "golden");
  w.add_u32("golden.u32", 123456);
  w.add_i32("golden.i32", -42);
  w.add_f32("golden.f32", 0.25f);
  w.add_bool("golden.bool", true);
  w.add_u64("golden.u64", uint64_t(1) << 40);
  w.add_string_array("golden.strings", {"alpha", "béta"});
  const std::vector<int32_t> ints{3, -1, 4};
  w.add_i32_array("golden.ints", ints);
  const std::vector<float> floats{1.0f, -0.5f};
  w.add_f32_array("golden.floats", floats);
  w.add_value("golden.nested",
              GgufValue::nested_array(
                  {GgufValue::array(GgufType::I32, {GgufValue::i32(1)}),
                   GgufValue::array(GgufType::I32, {GgufValue::i32(2), GgufValue::i32(3)})}));
  const std::vector<float> w32{0.5f, -1.5f, 2.5f, 3.0f, -4.0f, 5.5f};  // [2, 3]
  std::vector<uint16_t> w16, wb16;
  for (float x : w32) {
    w16.push_back(f32_to_fp16(x));
    wb16.push_back(f32_to_bf16(x * 2));
  }
  w.add_tensor("golden.f32", GgmlType::F32, {2, 3}, bytes_of(w32));
  w.add_tensor("golden.f16", GgmlType::F16, {3, 2}, bytes_of(w16));
  w.add_tensor("golden.bf16", GgmlType::BF16, {6}, bytes_of(wb16));
  test::ScratchDir dir;
  const std::string path = dir.file("golden.gguf");
  w.write(path);
  const std::string golden = test::fixture_path("writer_golden.gguf");
  if (std::getenv("TOKENMILL_UPDATE_GOLDEN") != nullptr) w.write(golden);
  EXPECT_EQ(test::read_bytes(path), test::read_bytes(golden))
      << "writer output differs from " << golden;
}

}  // namespace
}  // namespace tokenmill
