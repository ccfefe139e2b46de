// GgufFile against files written by the PyPI gguf package, with expected values that package's
// reader produced (tests/fixtures/formats/expected.json).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats_test_util.h"

namespace tokenmill {
namespace {

using nlohmann::json;
using test::expected_facts;
using test::fixture_path;

// Compares a value with its expected JSON form, recursing into arrays.
void expect_value(const GgufValue& v, const json& want, const std::string& where) {
  SCOPED_TRACE(where);
  if (want.is_array()) {
    ASSERT_EQ(v.type(), GgufType::Array);
    ASSERT_EQ(v.array_size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
      expect_value(v.array_item(i), want[i], where + "[" + std::to_string(i) + "]");
  } else if (want.is_string()) {
    ASSERT_NE(v.as_string(), nullptr);
    EXPECT_EQ(*v.as_string(), want.get<std::string>());
  } else if (want.is_boolean()) {
    ASSERT_TRUE(v.as_bool().has_value());
    EXPECT_EQ(*v.as_bool(), want.get<bool>());
  } else if (want.is_number_float()) {
    ASSERT_TRUE(v.is_float());
    EXPECT_EQ(*v.as_float(), want.get<double>());
  } else if (want.is_number_unsigned()) {
    ASSERT_TRUE(v.is_integer());
    ASSERT_TRUE(v.as_uint().has_value());
    EXPECT_EQ(*v.as_uint(), want.get<uint64_t>());
  } else {
    ASSERT_TRUE(v.is_integer());
    ASSERT_TRUE(v.as_int().has_value());
    EXPECT_EQ(*v.as_int(), want.get<int64_t>());
  }
}

float element_as_f32(const TensorInfo& t, size_t i) {
  switch (t.dtype) {
    case DType::F32: {
      float f;
      std::memcpy(&f, t.data + 4 * i, 4);
      return f;
    }
    case DType::F16: {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      return fp16_to_f32(h);
    }
    case DType::BF16: {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      return bf16_to_f32(h);
    }
    default:
      ADD_FAILURE() << "unexpected dtype";
      return 0;
  }
}

TEST(GgufReader, AllMetadataTypesMatchPythonReader) {
  const json& want = expected_facts()["all_types"];
  const GgufFile file(fixture_path("all_types.gguf"));
  EXPECT_EQ(file.version(), want["version"].get<uint32_t>());
  EXPECT_EQ(file.alignment(), want["alignment"].get<size_t>());
  EXPECT_EQ(file.alignment(), 64u);
  EXPECT_EQ(file.data_offset(), want["data_offset"].get<size_t>());
  ASSERT_EQ(file.metadata().size(), want["n_kv"].get<size_t>());
  for (size_t i = 0; i < file.metadata().size(); ++i) {
    const GgufKv& kv = file.metadata()[i];
    EXPECT_EQ(kv.key, want["kv_order"][i].get<std::string>());
    const json& entry = want["kv"][kv.key];
    EXPECT_EQ(gguf_type_name(kv.value.type()), entry["type"].get<std::string>()) << kv.key;
    if (kv.value.type() == GgufType::Array) {
      EXPECT_EQ(gguf_type_name(kv.value.array_type()), entry["array_type"].get<std::string>());
      EXPECT_EQ(kv.value.array_size(), entry["size"].get<size_t>()) << kv.key;
    }
    expect_value(kv.value, entry["value"], kv.key);
  }
}

TEST(GgufReader, TypedGetters) {
  const GgufFile file(fixture_path("all_types.gguf"));
  EXPECT_EQ(file.get_string("general.architecture"), "fixture");
  EXPECT_EQ(file.get_int("t.u8"), 200);
  EXPECT_EQ(file.get_int("t.i64"), -(int64_t(1) << 62) - 7);
  EXPECT_EQ(file.get_int("t.bool_true"), 1);
  EXPECT_FLOAT_EQ(float(*file.get_float("t.f32")), 3.14159f);
  EXPECT_EQ(file.get_float("t.i16"), -30000.0);
  EXPECT_EQ(file.get_bool("t.bool_false"), false);
  EXPECT_EQ(file.get_string_array("t.array_string"),
            (std::vector<std::string>{"a", "", "ünï", "x y"}));
  EXPECT_EQ(file.get_int_array("t.array_i8"), (std::vector<int64_t>{-128, 0, 127}));
  EXPECT_EQ(file.get_float_array("t.array_f32"), (std::vector<float>{0.5f, -1.25f, 1e-8f}));
  EXPECT_FALSE(file.get_string("no.such.key").has_value());
  EXPECT_FALSE(file.get_int_array("no.such.key").has_value());
  EXPECT_EQ(file.find("no.such.key"), nullptr);
  // Present with the wrong type: an error naming the key, not a silent "absent".
  try {
    (void)file.get_int("t.string");
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'t.string' has type string"), std::string::npos);
  }
  EXPECT_THROW((void)file.get_string("t.u32"), Error);
  EXPECT_THROW((void)file.get_string_array("t.array_i32"), Error);
  EXPECT_THROW((void)file.get_bool("t.u8"), Error);
  // A u64 above INT64_MAX is not an int64.
  EXPECT_THROW((void)file.get_int("t.u64"), Error);
  EXPECT_EQ(file.find("t.u64")->as_uint(), uint64_t(9223372036854775813ull));
}

TEST(GgufReader, TensorsMatchPythonReader) {
  const json& want = expected_facts()["all_types"]["tensors"];
  const GgufFile file(fixture_path("all_types.gguf"));
  ASSERT_EQ(file.tensors().size(), want.size());
  for (const GgufTensor& t : file.tensors()) {
    SCOPED_TRACE(t.name);
    ASSERT_TRUE(want.contains(t.name));
    const json& w = want[t.name];
    EXPECT_EQ(t.ggml_type, w["ggml_type"].get<uint32_t>());
    EXPECT_EQ(ggml_type_name(t.ggml_type), w["type_name"].get<std::string>());
    EXPECT_EQ(t.ne, w["ne"].get<std::vector<int64_t>>());
    EXPECT_EQ(t.nbytes, w["nbytes"].get<size_t>());
    EXPECT_EQ(t.offset, w["offset"].get<uint64_t>());
    EXPECT_EQ(t.offset % file.alignment(), 0u);
    EXPECT_EQ(file.find_tensor(t.name), &t);
    if (!w.contains("values")) {  // quantized: exposed in place as its block type
      const TensorInfo info = file.tensor_info(t);
      EXPECT_EQ(dtype_name(info.dtype), w["type_name"].get<std::string>());
      EXPECT_EQ(info.nbytes, t.nbytes);
      EXPECT_EQ(info.data, t.data);
      continue;
    }
    const TensorInfo info = file.tensor_info(t);
    EXPECT_EQ(info.name, t.name);
    EXPECT_EQ(info.shape, std::vector<int64_t>(t.ne.rbegin(), t.ne.rend()));
    EXPECT_EQ(info.nbytes, t.nbytes);
    const auto values = w["values"].get<std::vector<double>>();
    ASSERT_EQ(size_t(info.n_elements()), values.size());
    for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(element_as_f32(info, i), float(values[i]));
  }
  EXPECT_EQ(file.find_tensor("absent"), nullptr);
  // Row-major: the [3, 4] F32 weight is 3 rows of 4.
  EXPECT_EQ(file.tensor_info(*file.find_tensor("weights.f32")).shape, (std::vector<int64_t>{3, 4}));
}

TEST(GgufReader, DisplayForInspect) {
  const GgufFile file(fixture_path("all_types.gguf"));
  EXPECT_EQ(file.find("t.u8")->to_display(), "200");
  EXPECT_EQ(file.find("t.i8")->to_display(), "-100");
  EXPECT_EQ(file.find("t.bool_true")->to_display(), "true");
  EXPECT_EQ(file.find("t.f32")->to_display(), "3.14159");
  EXPECT_EQ(file.find("t.string")->to_display(), "\"héllo \\\"gguf\\\"\\n\\t✓\"");
  EXPECT_EQ(file.find("t.array_i32")->to_display(2), "[-5, 0, ... (2 more)]");
  EXPECT_EQ(file.find("t.nested_i32")->to_display(), "[[1, 2], [3, 4, 5], [6]]");
  EXPECT_EQ(file.find("t.string")->to_display(8, 2), "\"h\"...(18 bytes)");  // é not split
  EXPECT_EQ(file.find("t.string")->to_display(8, 3), "\"hé\"...(18 bytes)");
}

TEST(GgmlTypes, NamesAndBlockGeometry) {
  EXPECT_EQ(ggml_type_name(GgmlType::Q4_K), "Q4_K");
  EXPECT_EQ(ggml_type_name(30u), "BF16");
  EXPECT_EQ(ggml_type_name(1000u), "unknown");
  EXPECT_FALSE(ggml_type_traits(4).has_value());  // retired Q4_2
  EXPECT_EQ(ggml_type_traits(uint32_t(GgmlType::Q6_K))->block_bytes, 210u);
  EXPECT_EQ(ggml_tensor_nbytes(uint32_t(GgmlType::Q4_0), 64, 128), 4u * 18u);
  EXPECT_FALSE(ggml_tensor_nbytes(uint32_t(GgmlType::Q4_0), 48, 96).has_value());  // partial block
  EXPECT_FALSE(ggml_tensor_nbytes(uint32_t(GgmlType::F32), 1, uint64_t(1) << 62).has_value());
}

TEST(GgufReader, VocabFilesMatchPythonReader) {
  const json& vocab = expected_facts()["vocab"];
  ASSERT_FALSE(vocab.empty()) << "expected.json lacks vocab facts; rerun the generator";
  for (const auto& [name, want] : vocab.items()) {
    SCOPED_TRACE(name);
    const GgufFile file(test::vocab_dir() + "/" + name);
    EXPECT_EQ(file.version(), want["version"].get<uint32_t>());
    EXPECT_EQ(file.alignment(), want["alignment"].get<size_t>());
    EXPECT_EQ(file.data_offset(), want["data_offset"].get<size_t>());
    EXPECT_EQ(file.file_size_bytes(), want["file_size"].get<size_t>());
    EXPECT_TRUE(file.tensors().empty());
    ASSERT_EQ(file.metadata().size(), want["n_kv"].get<size_t>());
    for (size_t i = 0; i < file.metadata().size(); ++i) {
      const GgufKv& kv = file.metadata()[i];
      EXPECT_EQ(kv.key, want["kv_order"][i].get<std::string>());
      const json& entry = want["kv"][kv.key];
      EXPECT_EQ(gguf_type_name(kv.value.type()), entry["type"].get<std::string>());
      if (entry.contains("value")) {
        expect_value(kv.value, entry["value"], kv.key);
      } else {
        ASSERT_EQ(kv.value.array_size(), entry["size"].get<size_t>()) << kv.key;
        for (const auto& [index, item] : entry["sample"].items())
          expect_value(kv.value.array_item(std::stoul(index)), item, kv.key + "[" + index + "]");
      }
    }
    const auto tokens = file.get_string_array("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.has_value());
    EXPECT_EQ(tokens->size(), want["kv"]["tokenizer.ggml.tokens"]["size"].get<size_t>());
    if (const auto types = file.get_int_array("tokenizer.ggml.token_type")) {
      EXPECT_EQ(types->size(), tokens->size());
    }
    if (const auto scores = file.get_float_array("tokenizer.ggml.scores")) {
      EXPECT_EQ(scores->size(), tokens->size());
    }
  }
}

TEST(GgufReader, Gpt2VocabKnownFacts) {
  const GgufFile file(test::vocab_dir() + "/ggml-vocab-gpt-2.gguf");
  const auto tokens = file.get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.has_value());
  EXPECT_EQ(tokens->size(), 50257u);
  EXPECT_EQ(tokens->back(), "<|endoftext|>");
  EXPECT_EQ(file.get_string("tokenizer.ggml.model"), "gpt2");
}

TEST(GgufReader, IsGgufFile) {
  EXPECT_TRUE(is_gguf_file(fixture_path("all_types.gguf")));
  EXPECT_FALSE(is_gguf_file(fixture_path("small.safetensors")));
  EXPECT_FALSE(is_gguf_file(fixture_path("hf_sharded")));
  EXPECT_FALSE(is_gguf_file(fixture_path("does_not_exist.gguf")));
}

TEST(GgufReader, MissingFileNamesPath) {
  try {
    GgufFile file(fixture_path("does_not_exist.gguf"));
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does_not_exist.gguf"), std::string::npos);
  }
}

}  // namespace
}  // namespace tokenmill
