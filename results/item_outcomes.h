#pragma once
// Per-item outcomes of an evaluation, read back from eval_samples.details_json (what
// eval/runner.cpp stores per scored document): the 0/1 outcome behind an accuracy, or a
// document's bits per byte with its byte count as weight, so the statistics can resample
// items. docs/RESULTS.md ("Statistics") lists the metrics covered.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "results/query.h"

namespace dreamer::results {

struct ItemOutcome {
  int64_t doc_index = 0;
  uint64_t prompt_hash = 0;  // FNV-1a of the prompt: two runs were scored on the same item
  double value = 0;          // 1 correct, 0 wrong; or the document's bits per byte
  // The item's share of the score: the score is sum(weight * value) / sum(weight). 1 for
  // accuracies (a plain mean); the document's bytes for bits per byte (a ratio of sums).
  double weight = 1;
};

struct Outcome {
  double value = 0;
  double weight = 1;
};

// The outcome of `metric` in one sample's details: details.acc / details.acc_norm for
// multiple choice, details.filters.<filter>.exact_match for "exact_match,<filter>";
// bits_per_byte from details.loglikelihood over the document's bytes (details.bytes, or the
// stored prompt's length for rows written before it was stored), weighted by those bytes.
// None for metrics that are no weighted mean over items (perplexities: the exponential of
// one) and for details that lack the field.
std::optional<Outcome> item_outcome(const std::string& metric, const nlohmann::json& details,
                                    const std::string& prompt);

uint64_t prompt_hash(const std::string& prompt);

// One eval row's items, by doc_index, from its eval_samples rows; empty when none are stored,
// when the metric has no per-item outcome, or when fewer than `n` items are (a partial set
// would not be the items the score was computed on).
std::vector<ItemOutcome> load_items(const ReadOnlyDatabase& db, const std::string& run_id,
                                    const std::string& checkpoint, const std::string& task,
                                    int64_t depth, const std::string& metric, int64_t n);

// Whether `a` and `b` hold the same items (doc_index and prompt, in the same order).
bool same_items(const std::vector<ItemOutcome>& a, const std::vector<ItemOutcome>& b);
// The outcomes alone, in the items' order.
std::vector<double> item_values(const std::vector<ItemOutcome>& items);
// Their weights, in the same order; empty when every weight is 1 (a plain mean).
std::vector<double> item_weights(const std::vector<ItemOutcome>& items);

}  // namespace dreamer::results
