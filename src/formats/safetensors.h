// Reader of .safetensors files: an 8-byte little-endian header length, a JSON header, then the
// tensor bytes. Data is not copied: TensorInfo::data points into the mapping, valid while the
// SafetensorsFile lives (moving it keeps it valid).
//
// Every entry's dtype, shape and data_offsets are validated at load (offsets inside the data
// region, size == elements * element size, no two tensors overlapping). Tensors whose dtype is
// known but has no DType (F64, I64, BOOL, F8_*, ...) are loaded as `unsupported()` entries:
// tensors()/find() skip them and require() names them in its error, so a checkpoint with an
// unused int64 buffer still loads. An unknown dtype string is an error at load.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/mapped_file.h"
#include "formats/tensor_info.h"

namespace tokenmill {

class SafetensorsFile {
 public:
  struct UnsupportedTensor {
    std::string name;
    std::string dtype;  // as written in the header, e.g. "F64"
  };

  // Throws Error ("<path>: ...") on anything malformed.
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  // Supported tensors in the order of their data offsets.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(std::string_view name) const;
  // find() or Error naming the file and tensor (absent, or present with an unsupported dtype).
  const TensorInfo& require(std::string_view name) const;
  const std::vector<UnsupportedTensor>& unsupported() const { return unsupported_; }
  // The optional "__metadata__" string map.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  static constexpr size_t kMaxHeaderBytes = size_t(100) << 20;

 private:
  MappedFile file_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
  std::vector<UnsupportedTensor> unsupported_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace tokenmill
