// The twin of one asset: its state and the deterministic rule that moves it. Every change is a
// numbered update (revision + 1) built only from what the update carries and the asset kind,
// so replaying the ledgered updates rebuilds exactly the live state.
#ifndef FLEETTWIN_AGENT_TWIN_H_
#define FLEETTWIN_AGENT_TWIN_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "fleettwin/agent/asset_kind.h"
#include "fleettwin/agent/calibration.h"
#include "fleettwin/agent/detectors.h"
#include "fleettwin/agent/features.h"
#include "fleettwin/agent/validation.h"

namespace fleettwin::model {
class RulModel;
}

namespace fleettwin::agent {

class ModelCatalog;

enum class HealthLevel { kUnknown, kOk, kWarn, kAlarm };
std::string_view HealthLevelName(HealthLevel level);  // "unknown", "ok", "warn", "alarm".

struct DesiredChange {
  std::string name;
  double value = 0;
  std::string author;
  bool operator==(const DesiredChange&) const = default;
};

// A maintenance record with this note says the asset failed at `time`: the failure model's
// earlier predictions are then scored against the RUL they should have given.
inline constexpr char kFailureNote[] = "failure";

struct MaintenanceRecord {
  double time = 0;
  std::string note;
  std::string author;
  bool renews = true;  // The asset is as new afterwards (its age restarts); false: an inspection.
  std::string id{};    // Optional; unique among the twin's records (a retry is refused).
  bool operator==(const MaintenanceRecord&) const = default;
};

struct ModelVersionChange {
  std::string version;
  bool operator==(const ModelVersionChange&) const = default;
};

// The simulator's parameters re-estimated from the twin's own history (conveyor kinds).
struct CalibrationChange {
  Calibration calibration;
  bool operator==(const CalibrationChange&) const = default;
};

// What one twin update carries.
using TwinChange =
    std::variant<Sample, DesiredChange, MaintenanceRecord, ModelVersionChange, CalibrationChange>;

// The failure model's latest output (turbofan kinds, with a model loaded).
struct RulEstimate {
  double rul = 0;      // Cycles.
  double rul_std = 0;  // Cycles.
  double p_fail = 0;   // P(failure within `horizon` cycles).
  int horizon = 0;
  bool operator==(const RulEstimate&) const = default;
};

// How well the twin's predictions hold up as it lives (calibration.h).
struct PredictionQuality {
  double expected_failures = 0;  // Since the last recalibration.
  int64_t observed_failures = 0;
  double failure_z = 0;    // Poisson z-score over the tracker's window.
  int64_t rul_errors = 0;  // Predictions scored against a revealed failure time.
  double rul_rmse = 0;
  double rul_bias = 0;
  bool drift = false;  // A sustained mismatch; latched until the recalibration it triggers.
};

struct TwinState {
  std::string asset;
  std::string kind;
  uint64_t revision = 0;               // Updates applied so far.
  uint64_t samples = 0;                // Accepted samples applied.
  std::optional<double> last_time;     // Time of the latest accepted sample.
  std::vector<double> reported;        // Latest value per channel (NaN until seen).
  std::vector<double> features;        // Per kind feature (NaN until computable).
  std::vector<double> health_values;   // Per health indicator: the value it judged.
  std::vector<HealthLevel> health;     // Per health indicator.
  std::vector<double> anomaly_scores;  // Per channel, of its latest value.
  std::vector<bool> anomalous;         // Per channel, latest value.
  std::vector<bool> drifting;          // Per channel, latched until recalibration.
  std::map<std::string, double> desired;
  std::string model_version;
  std::vector<MaintenanceRecord> maintenance;
  std::optional<Calibration> calibration;  // The latest ledgered recalibration.
  uint64_t calibrations = 0;
  uint64_t drift_recalibrations = 0;  // Of those, the ones prediction drift asked for.
  std::optional<RulEstimate> rul;     // While the model in use is loaded.
  PredictionQuality quality;
};

// Not thread-safe: one owner applies changes.
class Twin final {
 public:
  // `kind`, `model` (optional: the failure model this agent was started with) and `catalog`
  // (optional: models it adopted since) must outlive the twin. A model version update switches
  // to the model of that version, `model` or one in `catalog`; the model is used while the
  // twin's model_version is its version (with neither, the twin makes no predictions).
  Twin(const AssetKind& kind, std::string asset, const model::RulModel* model = nullptr,
       const ModelCatalog* catalog = nullptr);
  ~Twin();

  // Applies `change` as revision revision() + 1 and returns that revision.
  // REQUIRES: a Sample carries one value per channel of the kind.
  uint64_t Apply(const TwinChange& change);

  const TwinState& state() const { return state_; }
  // The failure model of the twin's model_version, if it is loaded and fits the kind.
  const model::RulModel* model() const { return model_; }

  // A conveyor twin with new failure or repair evidence, `recalibrate_every` samples after the
  // previous recalibration or at once while the prediction-drift flag is up: the
  // CalibrationChange to apply and ledger next. Derived only from
  // applied updates, so a rebuilt twin agrees.
  std::optional<CalibrationChange> DueCalibration() const;
  const AssetKind& kind() const { return kind_; }

  // The state as JSON (the agent's /twin document; docs/twin.md). Equal states give equal text.
  std::string StateJson() const;

 private:
  void ApplySample(const Sample& sample);
  void ObserveConveyor(const Sample& sample);
  // Makes `m` (may be null) the model in use if it fits the kind, or none.
  void UseModel(const model::RulModel* m);
  void PredictRul(const Sample& sample);
  // The estimate from model_rows_ at `time` (the age is time - life_start_), kept for scoring.
  // Leaves state_.rul as it was if the model refuses the rows.
  void EstimateRul(double time);
  void ScoreRulPredictions(double failure_time);

  const AssetKind& kind_;
  TwinState state_;
  FeatureSet features_;
  std::vector<AnomalyDetector> anomaly_;
  std::vector<DriftDetector> drift_;
  // What each health indicator judges (resolved once).
  struct HealthSource {
    enum class Kind { kChannel, kFeature, kRul, kFailureProbability, kNone };
    Kind kind = Kind::kNone;
    size_t index = 0;
  };
  static constexpr size_t kNoSource = static_cast<size_t>(-1);
  std::vector<HealthSource> health_source_;

  // Calibration (conveyor) and prediction quality.
  std::unique_ptr<ConveyorHistoryObserver> observer_;
  PredictionQualityTracker tracker_;
  size_t state_channel_ = kNoSource, failure_channel_ = kNoSource;
  std::optional<int> previous_state_;
  std::optional<double> previous_time_;
  uint64_t samples_at_calibration_ = 0;
  int64_t evidence_at_calibration_ = 0;  // Failures + repairs then.
  // Failure model (turbofan).
  const model::RulModel* base_model_ = nullptr;
  const ModelCatalog* catalog_ = nullptr;
  const model::RulModel* model_ = nullptr;  // Null unless it is state_.model_version's.
  std::vector<size_t> model_inputs_;        // Channel index per model input.
  struct ModelRow {
    double time;
    std::vector<double> values;
  };
  std::deque<ModelRow> model_rows_;  // The last window() rows of the current life.
  // When the asset's current life began: 0, or the time of its last maintenance record (a
  // renewal). The failure model's age input is the sample time minus this.
  double life_start_ = 0;
  std::deque<std::pair<double, double>> rul_history_;  // (time, predicted RUL), bounded.
};

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_TWIN_H_
