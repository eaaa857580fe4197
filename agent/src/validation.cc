#include "fleettwin/agent/validation.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace fleettwin::agent {
namespace {

Rejection Reject(RejectReason reason, std::string detail) { return {reason, std::move(detail)}; }

// A channel name as shown in a rejection: names come from outside, so keep them short.
std::string Shown(std::string_view name) {
  constexpr size_t kMax = 64;
  if (name.size() <= kMax) return std::string(name);
  return absl::StrCat(std::string(name.substr(0, kMax)), "…");
}

}  // namespace

std::string_view RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kSchema:
      return "schema";
    case RejectReason::kType:
      return "type";
    case RejectReason::kNotFinite:
      return "not_finite";
    case RejectReason::kRange:
      return "range";
    case RejectReason::kDuplicate:
      return "duplicate";
    case RejectReason::kOutOfOrder:
      return "out_of_order";
    case RejectReason::kRate:
      return "rate";
  }
  return "unknown";
}

std::variant<Sample, Rejection> Validator::Check(const RawSample& raw) {
  if (!std::isfinite(raw.time)) return Reject(RejectReason::kNotFinite, "time is not finite");
  if (raw.time < kind_.min_time || raw.time > kind_.max_time) {
    return Reject(RejectReason::kRange, absl::StrCat("time ", raw.time, " is outside [",
                                                     kind_.min_time, ", ", kind_.max_time, "]"));
  }
  Sample sample;
  sample.time = raw.time;
  sample.values.assign(kind_.channels.size(), std::nan(""));
  std::vector<bool>& seen = seen_;  // Reused: no allocation per sample.
  seen.assign(kind_.channels.size(), false);
  for (size_t position = 0; position < raw.fields.size(); ++position) {
    const auto& [name, value] = raw.fields[position];
    // Sources usually send the channels in the kind's order: try that position first.
    const std::optional<size_t> index =
        position < kind_.channels.size() && kind_.channels[position].name == name
            ? std::optional<size_t>(position)
            : kind_.ChannelIndex(name);
    if (!index)
      return Reject(RejectReason::kSchema, absl::StrCat("unknown channel '", Shown(name), "'"));
    if (seen[*index]) {
      return Reject(RejectReason::kSchema, absl::StrCat("channel '", Shown(name), "' given twice"));
    }
    seen[*index] = true;
    const double* number = std::get_if<double>(&value);
    if (number == nullptr) {
      return Reject(RejectReason::kType,
                    absl::StrCat("channel '", Shown(name), "' is not a number"));
    }
    if (!std::isfinite(*number)) {
      return Reject(RejectReason::kNotFinite,
                    absl::StrCat("channel '", Shown(name), "' is not finite"));
    }
    const Channel& channel = kind_.channels[*index];
    if (*number < channel.min || *number > channel.max) {
      return Reject(RejectReason::kRange,
                    absl::StrCat("channel '", Shown(name), "' = ", *number, " is outside [",
                                 channel.min, ", ", channel.max, "]"));
    }
    sample.values[*index] = *number;
  }
  for (size_t i = 0; i < kind_.channels.size(); ++i) {
    if (kind_.channels[i].required && !seen[i]) {
      return Reject(RejectReason::kSchema,
                    absl::StrCat("required channel '", kind_.channels[i].name, "' is missing"));
    }
  }
  if (last_time_) {
    if (raw.time == *last_time_) {
      return Reject(RejectReason::kDuplicate, absl::StrCat("time ", raw.time, " was already seen"));
    }
    if (raw.time < *last_time_) {
      return Reject(RejectReason::kOutOfOrder,
                    absl::StrCat("time ", raw.time, " is before the latest ", *last_time_));
    }
    const double min_gap = kind_.period * kind_.min_interval;
    if (raw.time - *last_time_ < min_gap) {
      return Reject(RejectReason::kRate,
                    absl::StrCat("time ", raw.time, " follows ", *last_time_, " by less than ",
                                 min_gap, " ", kind_.time_unit));
    }
  }
  last_time_ = raw.time;
  return sample;
}

void Quarantine::Add(double time, const Rejection& rejection, std::string raw) {
  ++counts_[static_cast<int>(rejection.reason)];
  if (capacity_ == 0) {
    ++evicted_;
    ++total_;
    return;
  }
  if (samples_.size() == capacity_) {
    samples_.pop_front();
    ++evicted_;
  }
  samples_.push_back({total_, time, rejection.reason, rejection.detail, std::move(raw)});
  ++total_;
}

}  // namespace fleettwin::agent
