#include "fleettwin/agent/ledgered_twin.h"

#include <chrono>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fleettwin/agent/twin_records.h"

namespace fleettwin::agent {
namespace {

// A short, printable form of a rejected sample when the source gave none.
std::string Describe(const RawSample& raw) {
  std::string out = absl::StrCat("time=", raw.time);
  for (const auto& [name, value] : raw.fields) {
    absl::StrAppend(&out, " ", name, "=");
    if (const double* d = std::get_if<double>(&value)) {
      absl::StrAppend(&out, *d);
    } else if (const std::string* s = std::get_if<std::string>(&value)) {
      absl::StrAppend(&out, "\"", s->substr(0, 64), "\"");
    } else if (const bool* b = std::get_if<bool>(&value)) {
      absl::StrAppend(&out, *b ? "true" : "false");
    } else {
      absl::StrAppend(&out, "null");
    }
    if (out.size() > 1024) break;
  }
  return out;
}

}  // namespace

absl::StatusOr<RebuiltTwin> RebuildTwin(const ledger::LedgerReader& ledger, const AssetKind& kind,
                                        const std::string& asset, size_t quarantine_capacity) {
  RebuiltTwin out;
  out.twin = std::make_unique<Twin>(kind, asset);
  out.quarantine = Quarantine(quarantine_capacity);
  absl::Status error;
  absl::Status scan =
      ledger.Scan(0, ledger.Size(), [&](const ledger::Entry& e, const std::string&) {
        if (e.kind == kTwinUpdateKind) {
          absl::StatusOr<DecodedUpdate> update =
              DecodeTwinUpdate(AsBytes(e.payload), kind.channels.size());
          if (!update.ok()) {
            error = absl::DataLossError(
                absl::StrCat("entry ", e.index, ": ", update.status().message()));
            return false;
          }
          if (update->asset != asset) {
            error = absl::DataLossError(absl::StrCat("entry ", e.index, " is an update of asset '",
                                                     update->asset, "', not '", asset, "'"));
            return false;
          }
          if (update->revision != out.twin->state().revision + 1) {
            error = absl::DataLossError(absl::StrCat("entry ", e.index, " has revision ",
                                                     update->revision, ", expected ",
                                                     out.twin->state().revision + 1));
            return false;
          }
          out.twin->Apply(update->change);
          ++out.updates;
        } else if (e.kind == kTwinRejectionKind) {
          absl::StatusOr<DecodedRejection> rejection = DecodeRejection(AsBytes(e.payload));
          if (!rejection.ok()) {
            error = absl::DataLossError(
                absl::StrCat("entry ", e.index, ": ", rejection.status().message()));
            return false;
          }
          out.quarantine.Add(rejection->time, rejection->rejection, std::move(rejection->raw));
          ++out.rejections;
        }
        return true;
      });
  if (!scan.ok()) return scan;
  if (!error.ok()) return error;
  return out;
}

absl::StatusOr<std::unique_ptr<LedgeredTwin>> LedgeredTwin::Open(const AssetKind& kind,
                                                                 std::string asset,
                                                                 ledger::Ledger& ledger,
                                                                 size_t quarantine_capacity) {
  absl::StatusOr<RebuiltTwin> rebuilt = RebuildTwin(ledger, kind, asset, quarantine_capacity);
  if (!rebuilt.ok()) return rebuilt.status();
  return std::unique_ptr<LedgeredTwin>(
      new LedgeredTwin(kind, std::move(asset), ledger, std::move(*rebuilt)));
}

LedgeredTwin::LedgeredTwin(const AssetKind& kind, std::string asset, ledger::Ledger& ledger,
                           RebuiltTwin rebuilt)
    : asset_(std::move(asset)),
      ledger_(ledger),
      twin_(std::move(rebuilt.twin)),
      validator_(kind),
      quarantine_(std::move(rebuilt.quarantine)) {
  validator_.set_last_time(twin_->state().last_time);
}

absl::Status LedgeredTwin::Write(absl::Span<const ledger::NewEntry> entries) {
  if (entries.empty()) return absl::OkStatus();
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<uint64_t> first = ledger_.AppendBatch(entries);
  append_latency_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (!first.ok()) {
    // The twin in memory is ahead of what is durable: stop here; a restart rebuilds from the
    // ledger.
    failed_ = absl::FailedPreconditionError(absl::StrCat(
        "the ledger write failed; restart to rebuild the twin: ", first.status().message()));
    return absl::UnavailableError(first.status().message());
  }
  return absl::OkStatus();
}

absl::StatusOr<IngestResult> LedgeredTwin::Ingest(absl::Span<const RawSample> samples,
                                                  absl::Span<const std::string> raw_text) {
  if (!failed_.ok()) return failed_;
  if (!raw_text.empty() && raw_text.size() != samples.size()) {
    return absl::InvalidArgumentError("raw_text must be empty or match the samples");
  }
  IngestResult result;
  std::vector<ledger::NewEntry> entries;
  entries.reserve(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    std::variant<Sample, Rejection> checked = validator_.Check(samples[i]);
    if (Sample* sample = std::get_if<Sample>(&checked)) {
      const uint64_t revision = twin_->Apply(*sample);
      entries.push_back(
          {kTwinUpdateKind, asset_, revision, 0, EncodeTwinUpdate(asset_, revision, *sample)});
      ++result.accepted;
    } else {
      const Rejection& rejection = std::get<Rejection>(checked);
      std::string raw = raw_text.empty() ? Describe(samples[i]) : raw_text[i];
      entries.push_back({kTwinRejectionKind, asset_, twin_->state().revision, 0,
                         EncodeRejection(asset_, samples[i].time, rejection, raw)});
      quarantine_.Add(samples[i].time, rejection, std::move(raw));
      ++result.rejected;
    }
  }
  result.revision = twin_->state().revision;
  if (absl::Status s = Write(entries); !s.ok()) return s;
  return result;
}

absl::StatusOr<uint64_t> LedgeredTwin::ApplyOne(const TwinChange& change) {
  if (!failed_.ok()) return failed_;
  const uint64_t revision = twin_->Apply(change);
  const ledger::NewEntry entry{kTwinUpdateKind, asset_, revision, 0,
                               EncodeTwinUpdate(asset_, revision, change)};
  if (absl::Status s = Write(absl::MakeConstSpan(&entry, 1)); !s.ok()) return s;
  return revision;
}

absl::StatusOr<uint64_t> LedgeredTwin::SetDesired(std::string name, double value,
                                                  std::string author) {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError("a desired value needs a name of 1-128 bytes");
  }
  if (!std::isfinite(value)) return absl::InvalidArgumentError("a desired value must be finite");
  return ApplyOne(DesiredChange{std::move(name), value, std::move(author)});
}

absl::StatusOr<uint64_t> LedgeredTwin::RecordMaintenance(double time, std::string note,
                                                         std::string author) {
  if (!std::isfinite(time)) return absl::InvalidArgumentError("maintenance time must be finite");
  return ApplyOne(MaintenanceRecord{time, std::move(note), std::move(author)});
}

absl::StatusOr<uint64_t> LedgeredTwin::SetModelVersion(std::string version) {
  if (version.empty()) return absl::InvalidArgumentError("a model version must not be empty");
  return ApplyOne(ModelVersionChange{std::move(version)});
}

}  // namespace fleettwin::agent
