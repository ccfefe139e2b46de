// `tokenmill quantize`: writes a GGUF with quantized weight tensors.
#include "cli_common.h"

namespace tokenmill::cli {

void add_quantize_command(CLI::App&) {}

}  // namespace tokenmill::cli
