#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "core/error.h"
#include "sampling/sampling_params.h"

namespace tokenmill {
namespace {

constexpr int32_t kVocab = 100;

// Expects validate() to throw an Error whose message contains `expected`.
void expect_rejected(const std::function<void(SamplingParams&)>& edit,
                     const std::string& expected) {
  SamplingParams params;
  edit(params);
  try {
    params.validate(kVocab);
    ADD_FAILURE() << "no error; expected one containing: " << expected;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << expected;
  }
}

TEST(SamplingParams, DefaultsAndEdgeValuesAreValid) {
  SamplingParams params;
  EXPECT_NO_THROW(params.validate(kVocab));
  params.temperature = 0.0f;
  params.top_k = -1;
  params.top_p = 1.0f;
  params.min_p = 1.0f;
  params.repetition_penalty = 0.5f;
  params.presence_penalty = -2.0f;
  params.frequency_penalty = 2.0f;
  params.logit_bias = {{0, -INFINITY}, {kVocab - 1, 100.0f}};
  params.max_tokens = 1;
  params.stop = {"\n\n"};
  params.stop_token_ids = {0, kVocab - 1};
  EXPECT_NO_THROW(params.validate(kVocab));
  EXPECT_TRUE(params.is_greedy());
}

TEST(SamplingParams, RejectsEachBadValueNamingParameterAndRange) {
  expect_rejected([](auto& p) { p.temperature = -1.0f; },
                  "temperature must be >= 0 and finite (0 = greedy), got -1");
  expect_rejected([](auto& p) { p.temperature = NAN; }, "temperature must be >= 0");
  expect_rejected([](auto& p) { p.temperature = INFINITY; }, "got inf");
  expect_rejected([](auto& p) { p.top_k = -2; }, "top_k must be >= -1 (0 or -1 = off), got -2");
  expect_rejected([](auto& p) { p.top_p = 0.0f; }, "top_p must be in (0, 1], got 0");
  expect_rejected([](auto& p) { p.top_p = 1.5f; }, "top_p must be in (0, 1], got 1.5");
  expect_rejected([](auto& p) { p.top_p = NAN; }, "top_p must be in (0, 1]");
  expect_rejected([](auto& p) { p.min_p = -0.1f; }, "min_p must be in [0, 1], got -0.1");
  expect_rejected([](auto& p) { p.min_p = 1.01f; }, "min_p must be in [0, 1], got 1.01");
  expect_rejected([](auto& p) { p.repetition_penalty = 0.0f; },
                  "repetition_penalty must be > 0 and finite (1 = off), got 0");
  expect_rejected([](auto& p) { p.repetition_penalty = -1.0f; }, "repetition_penalty");
  expect_rejected([](auto& p) { p.presence_penalty = 2.5f; },
                  "presence_penalty must be in [-2, 2], got 2.5");
  expect_rejected([](auto& p) { p.frequency_penalty = -3.0f; },
                  "frequency_penalty must be in [-2, 2], got -3");
  expect_rejected([](auto& p) { p.logit_bias = {{kVocab, 1.0f}}; },
                  "logit_bias token id must be in [0, 100), got 100");
  expect_rejected([](auto& p) { p.logit_bias = {{-1, 1.0f}}; }, "got -1");
  expect_rejected([](auto& p) { p.logit_bias = {{3, NAN}}; },
                  "logit_bias value for token 3 must be finite or -inf, got nan");
  expect_rejected([](auto& p) { p.logit_bias = {{3, INFINITY}}; }, "got inf");
  expect_rejected([](auto& p) { p.max_tokens = 0; }, "max_tokens must be >= 1, got 0");
  expect_rejected([](auto& p) { p.stop = {"ok", ""}; }, "stop[1] must be a non-empty string");
  expect_rejected([](auto& p) { p.stop_token_ids = {5, 100}; },
                  "stop_token_ids entry must be in [0, 100), got 100");
}

TEST(SamplingParams, RejectsEmptyVocabulary) {
  SamplingParams params;
  EXPECT_THROW(params.validate(0), Error);
}

}  // namespace
}  // namespace tokenmill
