// NumPy .npy files of float32 (little-endian '<f4', C order): logits dumps and reference
// activations for tests.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace tokenmill {

struct NpyArray {
  std::vector<size_t> shape;  // outermost first; empty for a scalar
  std::vector<float> data;    // row-major, product(shape) values
};

// Writes format version 1.0. shape: 1..8 dims; data holds product(shape) floats.
void write_npy_f32(const std::string& path, const float* data, std::vector<size_t> shape);

// Reads format versions 1.0, 2.0 and 3.0; descr must be '<f4' and fortran_order False.
// The data must fill the rest of the file exactly. Throws Error ("<path>: ...") otherwise.
NpyArray read_npy_f32(const std::string& path);

}  // namespace tokenmill
