// One starting model for a federation whose members never pool their rows. The model's
// channels, input normalisation and feature normalisation are functions of the training data;
// here each member summarises its own units (counts, means, sums of squared deviations and a
// quantisation step per channel; the same per feature), the summaries are merged exactly
// (Chan et al.'s pairwise update), and the start is built from the total:
//
//   agent k:  ChannelSummary c_k = SummarizeChannels(own units, candidates)
//   server:   total = c_1 merged with ... c_n;  start = StartFromSummary(total, options)
//   agent k:  FeatureSummary f_k = start.SummarizeFeatures(own units)
//   server:   start.SetFeatureNormalization(f_1 merged with ... f_n)
//
// A single summary of all units gives exactly what Train() computes (Train uses this path).
// With several parts the only difference is the quantisation step, taken as the smallest of
// the parts' steps (an upper bound of the pooled one). Summaries hold aggregates, not rows.
#ifndef FLEETTWIN_MODEL_SHARED_START_H_
#define FLEETTWIN_MODEL_SHARED_START_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "fleettwin/common/npy.h"
#include "fleettwin/model/cmapss.h"

namespace fleettwin::model {

// Per-channel statistics of some rows. A value type.
struct ChannelSummary {
  std::vector<std::string> channels;  // The candidates, in order.
  // Per channel: rows seen, their mean, the sum of squared deviations from the mean, and the
  // smallest positive gap between two recorded values (+infinity with fewer than two
  // distinct values).
  std::vector<double> count, mean, m2, step;

  // Folds `other` in. InvalidArgument if its channels differ or its vectors are malformed.
  absl::Status Merge(const ChannelSummary& other);
  // The summary as one float64 array of shape (4, channels): count, mean, m2, step rows.
  NpyArray ToNpy() const;
  // The inverse of ToNpy for `channels`; InvalidArgument for a wrong dtype or shape, a
  // negative or non-finite count, mean or m2, or a step that is not positive.
  static absl::StatusOr<ChannelSummary> FromNpy(absl::Span<const std::string> channels,
                                                const NpyArray& array);
};

// Statistics of `data`'s rows for each of `candidates` (a name `data` lacks gets count 0).
ChannelSummary SummarizeChannels(const Dataset& data, absl::Span<const std::string> candidates);

// The channels of `summary` that vary: standard deviation at least the quantisation step.
std::vector<std::string> VaryingChannels(const ChannelSummary& summary);

// Per-feature statistics of training windows. A value type.
struct FeatureSummary {
  std::vector<double> count, mean, m2;  // Per feature (all counts equal).

  absl::Status Merge(const FeatureSummary& other);  // InvalidArgument on a size mismatch.
  NpyArray ToNpy() const;  // float64 (3, features): count, mean, m2.
  static absl::StatusOr<FeatureSummary> FromNpy(const NpyArray& array);
};

class RulModel;
struct TrainOptions;

// An untrained model from a merged channel summary: the varying channels, the input
// normalisation, options' window/features/architecture, members with seeded random weights,
// and an identity feature normalisation until SetFeatureNormalization. Errors:
// InvalidArgument for bad options or when no channel varies.
absl::StatusOr<RulModel> StartFromSummary(const ChannelSummary& total, const TrainOptions& options);

}  // namespace fleettwin::model

#endif  // FLEETTWIN_MODEL_SHARED_START_H_
