// `tokenmill convert`: Hugging Face checkpoint directory -> GGUF (llama.cpp conventions).
#include <cstdio>
#include <map>
#include <memory>

#include "cli_common.h"
#include "engine/hf_to_gguf.h"

namespace tokenmill::cli {

void add_convert_command(CLI::App& app) {
  struct Flags {
    std::string input, output, outtype = "auto", name;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert a Hugging Face checkpoint directory to GGUF");
  cmd->add_option("input", f->input, "Hugging Face checkpoint directory")->required();
  cmd->add_option("-o,--output", f->output, "Output .gguf path")->required();
  cmd->add_option("--outtype", f->outtype, "Type of matrices: auto (as stored), f32, f16, bf16")
      ->check(CLI::IsMember({"auto", "f32", "f16", "bf16"}));
  cmd->add_option("--name", f->name, "general.name (default: the directory name)");
  cmd->callback([f] {
    static const std::map<std::string, ConvertDType> types = {
        {"auto", ConvertDType::Auto}, {"f32", ConvertDType::F32}, {"f16", ConvertDType::F16}, {"bf16", ConvertDType::BF16}};
    ConvertOptions opt;
    opt.out_dtype = types.at(f->outtype);
    opt.name = f->name;
    const ConvertReport r = convert_hf_to_gguf(f->input, f->output, opt);
    std::fprintf(stderr, "wrote %s: arch %s, %zu tensors, %.1f MiB of tensor data\n", f->output.c_str(),
                 r.architecture.c_str(), r.n_tensors, double(r.bytes_written) / (1 << 20));
  });
}

}  // namespace tokenmill::cli
