// Asset kinds: what a twin of one kind of asset expects and derives, read from a JSON file at
// run time (docs/asset-kinds.md), so a new kind needs no rebuild. Pure data and its loader.
#ifndef FLEETTWIN_AGENT_ASSET_KIND_H_
#define FLEETTWIN_AGENT_ASSET_KIND_H_

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace fleettwin::agent {

// One telemetry channel.
struct Channel {
  std::string name;
  std::string unit;
  double min = 0;  // Valid range, inclusive; outside it a sample is rejected.
  double max = 0;
  bool required = true;  // A sample must carry it.
};

enum class FeatureOp { kMean, kStd, kSlope };

// A derived feature: `op` over the last `window` accepted values of `channel`.
struct FeatureSpec {
  std::string name;
  std::string channel;
  FeatureOp op = FeatureOp::kMean;
  size_t window = 0;
};

// Health sources beyond channels and features: the failure model's latest RUL estimate and its
// P(failure within the horizon) (unknown while there is none).
inline constexpr char kRulSource[] = "rul";
inline constexpr char kFailureProbabilitySource[] = "p_fail";

// A health indicator: a channel, a feature or a failure-model output compared with two
// thresholds.
struct HealthSpec {
  std::string name;
  std::string source;  // A channel or feature name, kRulSource or kFailureProbabilitySource.
  double warn = 0;
  double alarm = 0;
  bool above = true;  // true: larger is worse; false: smaller is worse.
};

enum class AnomalyMethod { kMedianMad, kEwma };

struct AnomalySpec {
  AnomalyMethod method = AnomalyMethod::kEwma;
  size_t window = 50;      // Median/MAD: samples in the window. EWMA: effective span.
  double threshold = 6.0;  // Robust z-score above which a value is anomalous.
  size_t warmup = 20;      // No scores before this many values.
};

// Page-Hinkley on each channel: a sustained shift of the mean, in either direction.
struct DriftSpec {
  double delta = 0.25;   // Tolerated drift, in robust standard deviations.
  double lambda = 50.0;  // Detection threshold, in robust standard deviations.
  size_t warmup = 50;    // Values used to learn the scale before testing.
};

// Which what-if model the twin runs and where its inputs come from (optional "simulator"
// section; docs/asset-kinds.md).
enum class SimulatorModel { kNone, kConveyor, kTurbofan };

struct SimulatorSpec {
  SimulatorModel model = SimulatorModel::kNone;
  // Conveyor: the channel holding the belt state (0 working, 1 failed, 2 repairing), the
  // optional 0/1 failure-event channel, and the capacity channel.
  std::string state_channel = "state";
  std::string failure_channel = "failure";
  std::string capacity_channel = "capacity";
  // Conveyor: a recalibration is ledgered at most every this many samples, and only when
  // there is new evidence (a failure or a finished repair).
  size_t recalibrate_every = 100;
  // Conveyor: how many time units of working history the failure-rate estimate remembers
  // (evidence older than that fades geometrically; 0 = remember everything).
  double calibration_memory = 1000;
  // Turbofan: P(failure within `horizon` cycles) is predicted (0: the model's own horizon).
  size_t horizon = 0;
  // Turbofan what-if: life of an engine after maintenance or repair.
  double renewed_life_mean = 200;
  double renewed_life_std = 40;
};

struct AssetKind {
  std::string name;
  std::string description;
  std::string time_unit;      // "cycle", "s", "record", ...
  double period = 1.0;        // Expected time between samples.
  double min_interval = 0.5;  // Fraction of `period` below which samples come too fast.
  // Valid sample times. The defaults admit cycles, seconds or milliseconds since 1970 and
  // refuse absurd times (1e300) that would otherwise make every later sample out of order.
  double min_time = -1e15;
  double max_time = 1e15;
  std::vector<Channel> channels;
  std::vector<FeatureSpec> features;
  std::vector<HealthSpec> health;
  AnomalySpec anomaly;
  DriftSpec drift;
  SimulatorSpec simulator;

  // Index of the channel named `name`, if any.
  std::optional<size_t> ChannelIndex(std::string_view name) const;
  // Index of the feature named `name`, if any.
  std::optional<size_t> FeatureIndex(std::string_view name) const;
};

// Parses and checks a kind. Errors: InvalidArgument naming the field ("channels[3].max: …")
// for malformed JSON, wrong types, unknown keys, duplicate names, empty or inverted ranges,
// features or health indicators that refer to nothing.
absl::StatusOr<AssetKind> ParseAssetKind(std::string_view json);
// Reads and parses a kind file; `text`, if given, receives the file's bytes. Errors: NotFound
// (unreadable), as ParseAssetKind.
absl::StatusOr<AssetKind> LoadAssetKind(const std::filesystem::path& path,
                                        std::string* text = nullptr);

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_ASSET_KIND_H_
