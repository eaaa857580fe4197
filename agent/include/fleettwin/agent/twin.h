// The twin of one asset: its state and the deterministic rule that moves it. Every change is a
// numbered update (revision + 1) built only from what the update carries and the asset kind,
// so replaying the ledgered updates rebuilds exactly the live state.
#ifndef FLEETTWIN_AGENT_TWIN_H_
#define FLEETTWIN_AGENT_TWIN_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "fleettwin/agent/asset_kind.h"
#include "fleettwin/agent/detectors.h"
#include "fleettwin/agent/features.h"
#include "fleettwin/agent/validation.h"

namespace fleettwin::agent {

enum class HealthLevel { kUnknown, kOk, kWarn, kAlarm };
std::string_view HealthLevelName(HealthLevel level);  // "unknown", "ok", "warn", "alarm".

struct DesiredChange {
  std::string name;
  double value = 0;
  std::string author;
  bool operator==(const DesiredChange&) const = default;
};

struct MaintenanceRecord {
  double time = 0;
  std::string note;
  std::string author;
  bool operator==(const MaintenanceRecord&) const = default;
};

struct ModelVersionChange {
  std::string version;
  bool operator==(const ModelVersionChange&) const = default;
};

// What one twin update carries.
using TwinChange = std::variant<Sample, DesiredChange, MaintenanceRecord, ModelVersionChange>;

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
};

// Not thread-safe: one owner applies changes.
class Twin final {
 public:
  // `kind` must outlive the twin.
  Twin(const AssetKind& kind, std::string asset);

  // Applies `change` as revision revision() + 1 and returns that revision.
  // REQUIRES: a Sample carries one value per channel of the kind.
  uint64_t Apply(const TwinChange& change);

  const TwinState& state() const { return state_; }
  const AssetKind& kind() const { return kind_; }

  // The state as JSON (the agent's /twin document; docs/twin.md). Equal states give equal text.
  std::string StateJson() const;

 private:
  void ApplySample(const Sample& sample);

  const AssetKind& kind_;
  TwinState state_;
  FeatureSet features_;
  std::vector<AnomalyDetector> anomaly_;
  std::vector<DriftDetector> drift_;
  // What each health indicator judges: a feature or a channel (resolved once).
  struct HealthSource {
    bool feature = false;
    size_t index = 0;
  };
  static constexpr size_t kNoSource = static_cast<size_t>(-1);
  std::vector<HealthSource> health_source_;
};

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_TWIN_H_
