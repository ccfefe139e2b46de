// Offline batch mode of `tokenmill run` (see run_batch.cpp).
#pragma once
#include <string>

#include "engine/engine.h"
#include "engine/model_loader.h"

namespace tokenmill::cli {

void run_batch(const std::string& path, const std::string& output_path, const std::string& model_path,
               const LoadOptions& load_options,
               const EngineConfig& engine_config, const SamplingParams& defaults);

}  // namespace tokenmill::cli
