// Data quality at the twin's door: every incoming sample is checked against its asset kind
// (schema, type, range, finiteness, timestamp order and rate) before it may touch state.
// A rejected sample changes nothing; it goes to the quarantine with its reason.
#ifndef FLEETTWIN_AGENT_VALIDATION_H_
#define FLEETTWIN_AGENT_VALIDATION_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "fleettwin/agent/asset_kind.h"

namespace fleettwin::agent {

// A field as it arrived, before any check: JSON and Cap'n Proto sources both map to this.
using FieldValue = std::variant<std::monostate, bool, double, std::string>;

// One sample as a source delivered it.
struct RawSample {
  double time = 0;  // In the kind's time unit (cycle, seconds, record number).
  std::vector<std::pair<std::string, FieldValue>> fields;
};

// A sample that passed every check: one value per channel of the kind, in channel order (NaN
// for an optional channel that was absent).
struct Sample {
  double time = 0;
  std::vector<double> values;
};

enum class RejectReason {
  kSchema,      // Unknown channel, missing required channel, channel given twice.
  kType,        // A value that is not a number.
  kNotFinite,   // NaN or infinity (value or time).
  kRange,       // Outside the channel's valid range.
  kDuplicate,   // Same timestamp as the last accepted sample.
  kOutOfOrder,  // Earlier than the last accepted sample.
  kRate,        // Sooner after the last accepted sample than the kind allows.
};
inline constexpr int kRejectReasonCount = 7;

// Stable lower-case name, used in metrics labels and the ledger: "schema", "type", ...
std::string_view RejectReasonName(RejectReason reason);

struct Rejection {
  RejectReason reason = RejectReason::kSchema;
  std::string detail;  // Human-readable: which channel, which value, which limit.
};

// Checks samples of one asset in arrival order. Not thread-safe: one per twin.
class Validator final {
 public:
  // `kind` must outlive the validator.
  explicit Validator(const AssetKind& kind) : kind_(kind) {}

  // Checks `raw`; if it passes, records its time as the latest accepted and returns the
  // sample. A rejection leaves the validator exactly as it was.
  std::variant<Sample, Rejection> Check(const RawSample& raw);

  // The time of the latest accepted sample, e.g. restored from the ledger on startup.
  std::optional<double> last_time() const { return last_time_; }
  void set_last_time(std::optional<double> time) { last_time_ = time; }

 private:
  const AssetKind& kind_;
  std::optional<double> last_time_;
  std::vector<bool> seen_;  // Scratch for Check.
};

// A rejected sample kept for inspection.
struct QuarantinedSample {
  uint64_t sequence = 0;  // Counts every rejection since start, 0-based.
  double time = 0;
  RejectReason reason = RejectReason::kSchema;
  std::string detail;
  std::string raw;  // The sample as received (or a summary), for the operator.
};

// The newest `capacity` rejected samples and a counter per reason that never forgets.
// Not thread-safe.
class Quarantine final {
 public:
  explicit Quarantine(size_t capacity) : capacity_(capacity) {}

  void Add(double time, const Rejection& rejection, std::string raw);

  // Newest last.
  const std::deque<QuarantinedSample>& samples() const { return samples_; }
  uint64_t count(RejectReason reason) const { return counts_[static_cast<int>(reason)]; }
  uint64_t total() const { return total_; }
  // Rejections no longer held because the store was full (still counted above).
  uint64_t evicted() const { return evicted_; }

 private:
  size_t capacity_;
  std::deque<QuarantinedSample> samples_;
  uint64_t counts_[kRejectReasonCount] = {};
  uint64_t total_ = 0;
  uint64_t evicted_ = 0;
};

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_VALIDATION_H_
