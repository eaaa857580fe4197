#include "fleettwin/agent/asset_kind.h"

#include <cmath>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace fleettwin::agent {
namespace {

using Json = nlohmann::json;

// A JSON object being read field by field; the first problem is kept with its path.
class Reader {
 public:
  Reader(const Json& object, std::string path) : object_(object), path_(std::move(path)) {}

  bool IsObject() {
    if (!object_.is_object()) Fail(path_, "must be an object");
    return ok();
  }
  // Unknown keys are errors: a typo must not silently fall back to a default.
  void OnlyKeys(std::initializer_list<const char*> keys) {
    if (!object_.is_object()) return;
    for (const auto& [key, value] : object_.items()) {
      bool known = false;
      for (const char* k : keys) known = known || key == k;
      if (!known) Fail(At(key), "unknown key");
    }
  }
  std::string String(const char* key, bool required, std::string fallback = "") {
    const Json* v = Find(key, required);
    if (v == nullptr) return fallback;
    if (!v->is_string()) return Fail(At(key), "must be a string"), fallback;
    return v->get<std::string>();
  }
  double Number(const char* key, bool required, double fallback = 0) {
    const Json* v = Find(key, required);
    if (v == nullptr) return fallback;
    if (!v->is_number()) return Fail(At(key), "must be a number"), fallback;
    const double d = v->get<double>();
    if (!std::isfinite(d)) return Fail(At(key), "must be finite"), fallback;
    return d;
  }
  size_t Count(const char* key, bool required, size_t fallback = 0) {
    const Json* v = Find(key, required);
    if (v == nullptr) return fallback;
    if (!v->is_number_unsigned() || v->get<uint64_t>() > (1u << 20)) {
      return Fail(At(key), "must be a whole number up to 1048576"), fallback;
    }
    return static_cast<size_t>(v->get<uint64_t>());
  }
  bool Bool(const char* key, bool fallback) {
    const Json* v = Find(key, false);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) return Fail(At(key), "must be true or false"), fallback;
    return v->get<bool>();
  }
  const Json* Find(const char* key, bool required) {
    if (!object_.is_object()) return nullptr;
    auto it = object_.find(key);
    if (it == object_.end()) {
      if (required) Fail(At(key), "is required");
      return nullptr;
    }
    return &*it;
  }
  std::string At(std::string_view key) const {
    return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", std::string(key));
  }
  void Fail(const std::string& where, std::string_view what) {
    if (error_.ok())
      error_ = absl::InvalidArgumentError(absl::StrCat(where, ": ", std::string(what)));
  }
  // Shares the first error between nested readers.
  void Adopt(const absl::Status& status) {
    if (error_.ok() && !status.ok()) error_ = status;
  }
  bool ok() const { return error_.ok(); }
  const absl::Status& error() const { return error_; }

 private:
  const Json& object_;
  std::string path_;
  absl::Status error_;
};

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::optional<FeatureOp> ParseOp(const std::string& op) {
  if (op == "mean") return FeatureOp::kMean;
  if (op == "std") return FeatureOp::kStd;
  if (op == "slope") return FeatureOp::kSlope;
  return std::nullopt;
}

}  // namespace

std::optional<size_t> AssetKind::ChannelIndex(std::string_view name) const {
  for (size_t i = 0; i < channels.size(); ++i) {
    if (channels[i].name == name) return i;
  }
  return std::nullopt;
}

std::optional<size_t> AssetKind::FeatureIndex(std::string_view name) const {
  for (size_t i = 0; i < features.size(); ++i) {
    if (features[i].name == name) return i;
  }
  return std::nullopt;
}

absl::StatusOr<AssetKind> ParseAssetKind(std::string_view text) {
  const Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false,
                               /*ignore_comments=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("asset kind: not valid JSON");
  Reader root(doc, "");
  if (!root.IsObject()) return root.error();
  root.OnlyKeys(
      {"kind", "description", "time", "channels", "features", "health", "anomaly", "drift",
       "simulator"});
  AssetKind kind;
  kind.name = root.String("kind", true);
  if (root.ok() && !ValidName(kind.name)) root.Fail("kind", "must be 1-128 of [A-Za-z0-9_.-]");
  kind.description = root.String("description", false);

  if (const Json* time = root.Find("time", true)) {
    Reader r(*time, "time");
    if (r.IsObject()) {
      r.OnlyKeys({"unit", "period", "min_interval", "min", "max"});
      kind.time_unit = r.String("unit", true);
      kind.period = r.Number("period", true);
      kind.min_interval = r.Number("min_interval", false, 0.5);
      kind.min_time = r.Number("min", false, kind.min_time);
      kind.max_time = r.Number("max", false, kind.max_time);
      if (r.ok() && kind.period <= 0) r.Fail("time.period", "must be positive");
      if (r.ok() && !(kind.min_time < kind.max_time)) r.Fail("time.max", "must exceed time.min");
      if (r.ok() && (kind.min_interval < 0 || kind.min_interval > 1)) {
        r.Fail("time.min_interval", "must be within [0, 1]");
      }
    }
    root.Adopt(r.error());
  }

  std::set<std::string> names;
  if (const Json* channels = root.Find("channels", true)) {
    if (!channels->is_array() || channels->empty())
      root.Fail("channels", "must be a non-empty array");
    for (size_t i = 0; root.ok() && i < channels->size(); ++i) {
      Reader r((*channels)[i], absl::StrCat("channels[", i, "]"));
      if (r.IsObject()) {
        r.OnlyKeys({"name", "unit", "min", "max", "required"});
        Channel c;
        c.name = r.String("name", true);
        c.unit = r.String("unit", false);
        c.min = r.Number("min", true);
        c.max = r.Number("max", true);
        c.required = r.Bool("required", true);
        if (r.ok() && !ValidName(c.name)) r.Fail(r.At("name"), "must be 1-128 of [A-Za-z0-9_.-]");
        if (r.ok() && !(c.min <= c.max)) r.Fail(r.At("max"), "must not be below min");
        if (r.ok() && !names.insert(c.name).second) r.Fail(r.At("name"), "is used twice");
        kind.channels.push_back(std::move(c));
      }
      root.Adopt(r.error());
    }
  }

  if (const Json* features = root.Find("features", false)) {
    if (!features->is_array()) root.Fail("features", "must be an array");
    for (size_t i = 0; root.ok() && i < features->size(); ++i) {
      Reader r((*features)[i], absl::StrCat("features[", i, "]"));
      if (r.IsObject()) {
        r.OnlyKeys({"name", "channel", "op", "window"});
        FeatureSpec f;
        f.name = r.String("name", true);
        f.channel = r.String("channel", true);
        const std::string op = r.String("op", true);
        f.window = r.Count("window", true);
        if (r.ok() && !ValidName(f.name)) r.Fail(r.At("name"), "must be 1-128 of [A-Za-z0-9_.-]");
        if (r.ok() && !names.insert(f.name).second) r.Fail(r.At("name"), "is used twice");
        if (r.ok() && !kind.ChannelIndex(f.channel)) r.Fail(r.At("channel"), "names no channel");
        if (r.ok()) {
          if (std::optional<FeatureOp> parsed = ParseOp(op)) {
            f.op = *parsed;
          } else {
            r.Fail(r.At("op"), "must be mean, std or slope");
          }
        }
        if (r.ok() && f.window < 2) r.Fail(r.At("window"), "must be at least 2");
        kind.features.push_back(std::move(f));
      }
      root.Adopt(r.error());
    }
  }

  if (const Json* health = root.Find("health", false)) {
    if (!health->is_array()) root.Fail("health", "must be an array");
    for (size_t i = 0; root.ok() && i < health->size(); ++i) {
      Reader r((*health)[i], absl::StrCat("health[", i, "]"));
      if (r.IsObject()) {
        r.OnlyKeys({"name", "source", "warn", "alarm", "direction"});
        HealthSpec h;
        h.name = r.String("name", true);
        h.source = r.String("source", true);
        h.warn = r.Number("warn", true);
        h.alarm = r.Number("alarm", true);
        const std::string direction = r.String("direction", false, "above");
        if (r.ok() && direction != "above" && direction != "below") {
          r.Fail(r.At("direction"), "must be above or below");
        }
        h.above = direction == "above";
        if (r.ok() && !kind.ChannelIndex(h.source) && !kind.FeatureIndex(h.source) &&
            h.source != kRulSource && h.source != kFailureProbabilitySource) {
          r.Fail(r.At("source"), "names no channel, feature, \"rul\" or \"p_fail\"");
        }
        if (r.ok() && (h.above ? h.alarm < h.warn : h.alarm > h.warn)) {
          r.Fail(r.At("alarm"), "must be past warn in the direction of worse");
        }
        kind.health.push_back(std::move(h));
      }
      root.Adopt(r.error());
    }
  }

  if (const Json* anomaly = root.Find("anomaly", false); anomaly && root.ok()) {
    Reader r(*anomaly, "anomaly");
    if (r.IsObject()) {
      r.OnlyKeys({"method", "window", "threshold", "warmup"});
      const std::string method = r.String("method", false, "ewma");
      if (method == "ewma") {
        kind.anomaly.method = AnomalyMethod::kEwma;
      } else if (method == "median-mad") {
        kind.anomaly.method = AnomalyMethod::kMedianMad;
      } else if (r.ok()) {
        r.Fail("anomaly.method", "must be ewma or median-mad");
      }
      kind.anomaly.window = r.Count("window", false, kind.anomaly.window);
      kind.anomaly.threshold = r.Number("threshold", false, kind.anomaly.threshold);
      kind.anomaly.warmup = r.Count("warmup", false, kind.anomaly.warmup);
      if (r.ok() && kind.anomaly.window < 3) r.Fail("anomaly.window", "must be at least 3");
      if (r.ok() && kind.anomaly.threshold <= 0) r.Fail("anomaly.threshold", "must be positive");
      if (r.ok() && kind.anomaly.method == AnomalyMethod::kMedianMad &&
          kind.anomaly.warmup > kind.anomaly.window) {
        r.Fail("anomaly.warmup", "must not exceed the median-mad window (it would never score)");
      }
    }
    root.Adopt(r.error());
  }

  if (const Json* drift = root.Find("drift", false); drift && root.ok()) {
    Reader r(*drift, "drift");
    if (r.IsObject()) {
      r.OnlyKeys({"delta", "lambda", "warmup"});
      kind.drift.delta = r.Number("delta", false, kind.drift.delta);
      kind.drift.lambda = r.Number("lambda", false, kind.drift.lambda);
      kind.drift.warmup = r.Count("warmup", false, kind.drift.warmup);
      if (r.ok() && kind.drift.delta < 0) r.Fail("drift.delta", "must not be negative");
      if (r.ok() && kind.drift.lambda <= 0) r.Fail("drift.lambda", "must be positive");
      if (r.ok() && kind.drift.warmup < 2) r.Fail("drift.warmup", "must be at least 2");
    }
    root.Adopt(r.error());
  }
  if (const Json* sim = root.Find("simulator", false); sim && root.ok()) {
    Reader r(*sim, "simulator");
    SimulatorSpec& spec = kind.simulator;
    if (r.IsObject()) {
      r.OnlyKeys({"model", "state_channel", "failure_channel", "capacity_channel",
                  "recalibrate_every", "calibration_memory", "horizon", "renewed_life_mean",
                  "renewed_life_std"});
      const std::string model = r.String("model", true);
      if (model == "conveyor") {
        spec.model = SimulatorModel::kConveyor;
      } else if (model == "turbofan") {
        spec.model = SimulatorModel::kTurbofan;
      } else if (r.ok()) {
        r.Fail("simulator.model", "must be \"conveyor\" or \"turbofan\"");
      }
      spec.state_channel = r.String("state_channel", false, spec.state_channel);
      spec.failure_channel = r.String("failure_channel", false, spec.failure_channel);
      spec.capacity_channel = r.String("capacity_channel", false, spec.capacity_channel);
      spec.recalibrate_every = r.Count("recalibrate_every", false, spec.recalibrate_every);
      spec.calibration_memory = r.Number("calibration_memory", false, spec.calibration_memory);
      if (r.ok() && !(spec.calibration_memory == 0 || spec.calibration_memory >= 1)) {
        r.Fail("simulator.calibration_memory", "must be 0 (everything) or at least 1");
      }
      spec.horizon = r.Count("horizon", false, spec.horizon);
      spec.renewed_life_mean = r.Number("renewed_life_mean", false, spec.renewed_life_mean);
      spec.renewed_life_std = r.Number("renewed_life_std", false, spec.renewed_life_std);
      if (r.ok() && spec.model == SimulatorModel::kConveyor) {
        if (!kind.ChannelIndex(spec.state_channel)) {
          r.Fail("simulator.state_channel", "names no channel");
        } else if (!kind.ChannelIndex(spec.capacity_channel)) {
          r.Fail("simulator.capacity_channel", "names no channel");
        }
      }
      if (r.ok() && spec.recalibrate_every < 1) {
        r.Fail("simulator.recalibrate_every", "must be at least 1");
      }
      if (r.ok() && !(spec.renewed_life_mean > 0 && spec.renewed_life_std > 0)) {
        r.Fail("simulator.renewed_life_mean", "and renewed_life_std must be positive");
      }
    }
    root.Adopt(r.error());
  }
  if (!root.ok()) return root.error();
  return kind;
}

absl::StatusOr<AssetKind> LoadAssetKind(const std::filesystem::path& path, std::string* text_out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read asset kind ", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  if (text_out != nullptr) *text_out = text.str();
  absl::StatusOr<AssetKind> kind = ParseAssetKind(text.str());
  if (!kind.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", kind.status().message()));
  }
  return kind;
}

}  // namespace fleettwin::agent
