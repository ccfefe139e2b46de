// SafetensorsFile and HfCheckpoint against files written by the safetensors package (torch).
#include "formats/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "formats/hf_checkpoint.h"
#include "formats_test_util.h"

namespace tokenmill {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

double element_as_double(const TensorInfo& t, size_t i) {
  auto load = [&](auto v) {
    std::memcpy(&v, t.data + i * sizeof v, sizeof v);
    return v;
  };
  switch (t.dtype) {
    case DType::F32:
      return load(float{});
    case DType::F16:
      return fp16_to_f32(load(uint16_t{}));
    case DType::BF16:
      return bf16_to_f32(load(uint16_t{}));
    case DType::I32:
      return load(int32_t{});
    case DType::I8:
      return load(int8_t{});
    case DType::U8:
      return load(uint8_t{});
    default:
      ADD_FAILURE() << "safetensors has no " << dtype_name(t.dtype);
  }
  return 0;
}

std::string dtype_label(DType d) {
  switch (d) {
    case DType::F32:
      return "F32";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    case DType::I32:
      return "I32";
    case DType::I8:
      return "I8";
    case DType::U8:
      return "U8";
    default:
      return "?";
  }
}

void expect_values(const TensorInfo& t, const json& values) {
  const auto want = values.get<std::vector<double>>();
  ASSERT_EQ(size_t(t.n_elements()), want.size()) << t.name;
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_EQ(element_as_double(t, i), want[i]) << t.name << "[" << i << "]";
}

TEST(Safetensors, MatchesTorchWrittenFile) {
  const json& want = test::expected_facts()["small_safetensors"];
  const SafetensorsFile file(test::fixture_path("small.safetensors"));
  EXPECT_EQ(file.metadata(), (want["metadata"].get<std::map<std::string, std::string>>()));
  size_t seen = 0;
  for (const auto& [name, w] : want["tensors"].items()) {
    SCOPED_TRACE(name);
    if (w["dtype"] == "F64") {
      EXPECT_EQ(file.find(name), nullptr);
      ASSERT_EQ(file.unsupported().size(), 1u);
      EXPECT_EQ(file.unsupported()[0].name, name);
      EXPECT_EQ(file.unsupported()[0].dtype, "F64");
      try {
        (void)file.require(name);
        FAIL() << "expected Error";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("tensor 'g.f64' has dtype F64, not supported"),
                  std::string::npos);
      }
      continue;
    }
    const TensorInfo* t = file.find(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(&file.require(name), t);
    EXPECT_EQ(dtype_label(t->dtype), w["dtype"].get<std::string>());
    EXPECT_EQ(t->shape, w["shape"].get<std::vector<int64_t>>());
    EXPECT_EQ(t->nbytes, size_t(t->n_elements()) * dtype_size_bytes(t->dtype));
    expect_values(*t, w["values"]);
    ++seen;
  }
  EXPECT_EQ(file.tensors().size(), seen);
  EXPECT_EQ(file.find("absent"), nullptr);
  EXPECT_THROW((void)file.require("absent"), Error);
}

TEST(HfCheckpoint, ShardedCheckpoint) {
  const std::string dir = test::fixture_path("hf_sharded");
  const HfCheckpoint ckpt(dir);
  EXPECT_EQ(ckpt.dir(), dir);
  EXPECT_EQ(ckpt.config()["model_type"], "llama");
  ASSERT_TRUE(ckpt.tokenizer_config().has_value());
  EXPECT_EQ((*ckpt.tokenizer_config())["bos_token"], "<s>");
  ASSERT_TRUE(ckpt.generation_config().has_value());
  EXPECT_EQ((*ckpt.generation_config())["eos_token_id"], json::array({2, 3}));
  EXPECT_EQ(ckpt.tokenizer_json_path(), dir + "/tokenizer.json");
  EXPECT_EQ(ckpt.shard_files(), (std::vector<std::string>{"model-00002-of-00002.safetensors",
                                                          "model-00001-of-00002.safetensors"}));
  const json& want = test::expected_facts()["hf_sharded"]["tensors"];
  size_t supported = 0;
  for (const auto& [name, w] : want.items()) {
    SCOPED_TRACE(name);
    if (w["dtype"] == "int64") {  // mapped, but no DType for it
      EXPECT_EQ(ckpt.find_tensor(name), nullptr);
      EXPECT_THROW((void)ckpt.require_tensor(name), Error);
      continue;
    }
    const TensorInfo* t = ckpt.find_tensor(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->shape, w["shape"].get<std::vector<int64_t>>());
    expect_values(*t, w["values"]);
    ++supported;
  }
  EXPECT_EQ(ckpt.tensors().size(), supported);
  EXPECT_EQ(ckpt.find_tensor("unlisted.extra"), nullptr);  // in a shard, not in weight_map
}

TEST(HfCheckpoint, SingleFileCheckpoint) {
  const HfCheckpoint ckpt(test::fixture_path("hf_single"));
  EXPECT_FALSE(ckpt.tokenizer_config().has_value());
  EXPECT_FALSE(ckpt.generation_config().has_value());
  EXPECT_FALSE(ckpt.tokenizer_json_path().has_value());
  ASSERT_EQ(ckpt.tensors().size(), 1u);
  EXPECT_EQ(ckpt.require_tensor("w").shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(element_as_double(ckpt.require_tensor("w"), 1), 2.0);
}

// Copies the sharded fixture into a scratch directory for damage.
void copy_sharded(const test::ScratchDir& dir) {
  fs::copy(test::fixture_path("hf_sharded"), dir.path(), fs::copy_options::recursive);
}

void write_text(const std::string& path, const std::string& text) {
  test::write_bytes(path, text.data(), text.size());
}

std::string error_of(const std::string& dir) {
  try {
    HfCheckpoint ckpt(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded)";
}

TEST(HfCheckpoint, ErrorsNameTheProblem) {
  auto expect_error = [](const std::string& dir, const std::string& needle) {
    const std::string what = error_of(dir);
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  };
  expect_error(test::fixture_path("no_such_dir"), "not a directory");
  {
    test::ScratchDir d;
    expect_error(d.path().string(), "no config.json");
    write_text(d.file("config.json"), "{\"a\": ");
    expect_error(d.path().string(), "config.json: invalid JSON: ");
    write_text(d.file("config.json"), "{}");
    expect_error(d.path().string(), "no weights");
    write_text(d.file("pytorch_model.bin"), "x");
    expect_error(d.path().string(), "only PyTorch .bin weights");
  }
  {
    test::ScratchDir d;
    copy_sharded(d);
    fs::remove(d.path() / "model-00002-of-00002.safetensors");
    expect_error(d.path().string(), "shard 'model-00002-of-00002.safetensors' listed in");
  }
  {
    test::ScratchDir d;
    copy_sharded(d);
    const std::string index = d.file("model.safetensors.index.json");
    json j = json::parse(test::read_bytes(index));
    j["weight_map"]["model.missing.weight"] = "model-00001-of-00002.safetensors";
    write_text(index, j.dump());
    expect_error(d.path().string(),
                 "tensor 'model.missing.weight' listed in "
                 "model.safetensors.index.json is not in this shard");
    j["weight_map"].erase("model.missing.weight");
    j["weight_map"]["lm_head.weight"] = "../hf_single/model.safetensors";
    write_text(index, j.dump());
    expect_error(d.path().string(), "not a file in the directory");
    write_text(index, R"({"weight_map": {}})");
    expect_error(d.path().string(), "weight_map is empty");
    write_text(index, R"({"metadata": {}})");
    expect_error(d.path().string(), "no \"weight_map\" object");
    write_text(d.file("generation_config.json"), "[");
    expect_error(d.path().string(), "generation_config.json: invalid JSON");
  }
}

}  // namespace
}  // namespace tokenmill
