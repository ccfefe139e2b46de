// .npy reading and writing against files numpy wrote.
#include "formats/npy.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "formats_test_util.h"

namespace tokenmill {
namespace {

TEST(Npy, ReadsNumpyWrittenFiles) {
  for (const char* name : {"array_2d.npy", "array_1d.npy"}) {
    SCOPED_TRACE(name);
    const auto& want = test::expected_facts()["npy"][name];
    const NpyArray a = read_npy_f32(test::fixture_path(name));
    EXPECT_EQ(a.shape, want["shape"].get<std::vector<size_t>>());
    const auto values = want["values"].get<std::vector<double>>();
    ASSERT_EQ(a.data.size(), values.size());
    for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(a.data[i], float(values[i]));
  }
}

TEST(Npy, WriterReproducesNumpyBytes) {
  // numpy's own header layout, so the files compare equal byte for byte.
  test::ScratchDir dir;
  for (const char* name : {"array_2d.npy", "array_1d.npy"}) {
    const NpyArray a = read_npy_f32(test::fixture_path(name));
    const std::string path = dir.file(name);
    write_npy_f32(path, a.data.data(), a.shape);
    EXPECT_EQ(test::read_bytes(path), test::read_bytes(test::fixture_path(name))) << name;
  }
}

TEST(Npy, RoundTripAndRejects) {
  test::ScratchDir dir;
  const std::vector<float> logits{0.f, -1.f, 3.25f, 1e30f, -0.f, 7.f};
  write_npy_f32(dir.file("l.npy"), logits.data(), {2, 3});
  const NpyArray a = read_npy_f32(dir.file("l.npy"));
  EXPECT_EQ(a.shape, (std::vector<size_t>{2, 3}));
  EXPECT_EQ(a.data, logits);
  EXPECT_THROW(write_npy_f32(dir.file("x.npy"), logits.data(), {}), Error);
  auto expect_error = [&](const std::string& header, const std::string& needle) {
    std::string b = "\x93NUMPY\x01";
    b += '\0';
    const uint16_t len = uint16_t(header.size());
    b.append(reinterpret_cast<const char*>(&len), 2);
    b += header;
    b.append(8, '\0');
    test::write_bytes(dir.file("bad.npy"), b.data(), b.size());
    try {
      (void)read_npy_f32(dir.file("bad.npy"));
      ADD_FAILURE() << "expected Error for " << header;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
               "'<f8', expected '<f4'");
  expect_error("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", "not in C order");
  expect_error("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", "needs 12 data bytes");
  expect_error("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
               "too large");
  expect_error("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
               "more data than the file holds");
  expect_error("{'descr': '<f4', 'fortran_order': False}", "no shape");
}

}  // namespace
}  // namespace tokenmill
