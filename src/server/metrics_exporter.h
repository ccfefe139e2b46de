// The /metrics page: the engine's counters, gauges and histograms under tokenmill_* names.
#pragma once
#include <string>

#include "engine/cost.h"
#include "engine/engine_metrics.h"

namespace tokenmill::server {

// With cost rates enabled, busy time is also exported priced (USD, joules), and so are the savings.
std::string render_engine_metrics(const EngineMetrics& metrics, const CostRates& rates = {});

}  // namespace tokenmill::server
