// The /metrics page: the engine's counters, gauges and histograms under tokenmill_* names.
#pragma once
#include <string>

#include "engine/engine_metrics.h"

namespace tokenmill::server {

std::string render_engine_metrics(const EngineMetrics& metrics);

}  // namespace tokenmill::server
