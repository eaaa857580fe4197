#include "fleettwin/agent/ledgered_twin.h"

#include <chrono>
#include <cmath>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fleettwin/agent/model_catalog.h"
#include "fleettwin/agent/twin_records.h"
#include "fleettwin/model/rul_model.h"
#include "fleettwin/protocol/messages.h"

namespace fleettwin::agent {
namespace {

// A short, printable form of a rejected sample when the source gave none.
std::string Describe(const RawSample& raw) {
  std::string out = absl::StrCat("time=", raw.time);
  for (const auto& [name, value] : raw.fields) {
    if (out.size() > 1024) break;  // The quarantine keeps 1 KiB of it anyway.
    absl::StrAppend(&out, " ", name.substr(0, 64), "=");
    if (const double* d = std::get_if<double>(&value)) {
      absl::StrAppend(&out, *d);
    } else if (const std::string* s = std::get_if<std::string>(&value)) {
      absl::StrAppend(&out, "\"", s->substr(0, 64), "\"");
    } else if (const bool* b = std::get_if<bool>(&value)) {
      absl::StrAppend(&out, *b ? "true" : "false");
    } else {
      absl::StrAppend(&out, "null");
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<RebuiltTwin> RebuildTwin(const ledger::LedgerReader& ledger, const AssetKind& kind,
                                        const std::string& asset, size_t quarantine_capacity,
                                        const model::RulModel* model, const ModelCatalog* catalog) {
  RebuiltTwin out;
  out.twin = std::make_unique<Twin>(kind, asset, model, catalog);
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
        } else if (e.kind == kTwinKindKind) {
          out.kind_text = e.payload;
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

absl::StatusOr<std::string> LedgeredKindText(const ledger::LedgerReader& ledger) {
  std::optional<std::string> text;
  absl::Status scan =
      ledger.Scan(0, ledger.Size(), [&](const ledger::Entry& e, const std::string&) {
        if (e.kind == kTwinKindKind) text = e.payload;
        return true;
      });
  if (!scan.ok()) return scan;
  if (!text) return absl::NotFoundError("the ledger records no asset kind (twin.kind entry)");
  return *text;
}

absl::Status CheckMaintenanceId(std::string_view id) {
  if (id.empty() || protocol::IsMaintenanceRecordId(id)) return absl::OkStatus();
  return absl::InvalidArgumentError("a maintenance record id is 1..64 letters, digits and - _ . :");
}

absl::Status CheckModelFitsKind(const model::RulModel& model, const AssetKind& kind) {
  for (const std::string& name : model.input_channels()) {
    if (!kind.ChannelIndex(name)) {
      return absl::InvalidArgumentError(absl::StrCat("the failure model needs channel '", name,
                                                     "', which kind '", kind.name, "' lacks"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LedgeredTwin>> LedgeredTwin::Open(
    const AssetKind& kind, std::string asset, ledger::Ledger& ledger, size_t quarantine_capacity,
    std::string_view kind_text, const model::RulModel* model, const ModelCatalog* catalog) {
  if (model != nullptr) {
    if (absl::Status fits = CheckModelFitsKind(*model, kind); !fits.ok()) return fits;
  }
  absl::StatusOr<RebuiltTwin> rebuilt =
      RebuildTwin(ledger, kind, asset, quarantine_capacity, model, catalog);
  if (!rebuilt.ok()) return rebuilt.status();
  if (!kind_text.empty() && rebuilt->kind_text != kind_text) {
    const ledger::NewEntry entry{kTwinKindKind, asset, rebuilt->twin->state().revision, 0,
                                 std::string(kind_text)};
    if (absl::StatusOr<uint64_t> index = ledger.Append(entry); !index.ok()) {
      return index.status();
    }
  }
  std::unique_ptr<LedgeredTwin> twin(
      new LedgeredTwin(kind, std::move(asset), ledger, std::move(*rebuilt)));
  const std::string& in_use = twin->twin().state().model_version;
  // An adopted model stays in use if it is loaded and fits the kind (twin().model() is then it).
  const bool adopted = catalog != nullptr && twin->twin().model() != nullptr &&
                       catalog->Find(in_use) == twin->twin().model();
  if (model != nullptr && in_use != model->version() && !adopted) {
    if (absl::StatusOr<uint64_t> r = twin->SetModelVersion(model->version()); !r.ok()) {
      return r.status();
    }
  }
  return twin;
}

LedgeredTwin::LedgeredTwin(const AssetKind& kind, std::string asset, ledger::Ledger& ledger,
                           RebuiltTwin rebuilt)
    : asset_(std::move(asset)),
      ledger_(ledger),
      twin_(std::move(rebuilt.twin)),
      validator_(kind),
      quarantine_(std::move(rebuilt.quarantine)) {
  validator_.set_last_time(twin_->state().last_time);
  writer_ = std::thread([this] { WriterLoop(); });
}

LedgeredTwin::~LedgeredTwin() {
  {
    std::lock_guard lock(write_mu_);
    stop_ = true;
    write_cv_.notify_all();
  }
  writer_.join();  // The writer empties its queue first.
}

void LedgeredTwin::WriterLoop() {
  std::unique_lock lock(write_mu_);
  while (true) {
    write_cv_.wait(lock, [this] { return stop_ || !pending_.empty(); });
    if (pending_.empty()) return;  // Stopped, and nothing left to write.
    Pending& batch = pending_.front();
    absl::Status status = write_failed_;
    if (status.ok() && !batch.entries.empty()) {
      lock.unlock();
      const auto start = std::chrono::steady_clock::now();
      absl::StatusOr<uint64_t> first = ledger_.AppendBatch(batch.entries);
      append_latency_.Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      lock.lock();
      status = first.status();
    }
    if (status.ok()) {
      durable_accepted_ += batch.accepted;
      durable_rejected_ += batch.rejected;
    } else {
      unwritten_ += batch.accepted + batch.rejected;
    }
    if (!status.ok() && write_failed_.ok()) {
      // The twin in memory is ahead of what is durable: stop here; a restart rebuilds from
      // the ledger. Later batches are not written (they would leave a gap).
      write_failed_ = absl::UnavailableError(
          absl::StrCat("the ledger write failed; restart to rebuild the twin: ", status.message()));
    }
    pending_.pop_front();
    ++durable_;  // Counted even when refused, so waiters wake and see the failure.
    write_cv_.notify_all();
  }
}

absl::Status LedgeredTwin::Failed() {
  std::lock_guard lock(write_mu_);
  if (write_failed_.ok()) return absl::OkStatus();
  return absl::FailedPreconditionError(write_failed_.message());
}

absl::Status LedgeredTwin::WriteStatus() {
  std::lock_guard lock(write_mu_);
  return write_failed_;
}

absl::Status LedgeredTwin::Submit(Pending batch) {
  std::unique_lock lock(write_mu_);
  write_cv_.wait(lock, [this] { return pending_.size() < kMaxPending; });
  pending_.push_back(std::move(batch));
  ++submitted_;
  write_cv_.notify_all();
  return write_failed_;
}

absl::Status LedgeredTwin::WaitDurable(uint64_t sequence) {
  std::unique_lock lock(write_mu_);
  write_cv_.wait(lock, [&] { return durable_ >= sequence; });
  return write_failed_;
}

absl::StatusOr<IngestResult> LedgeredTwin::Ingest(absl::Span<const RawSample> samples,
                                                  absl::Span<const std::string> raw_text) {
  absl::StatusOr<IngestResult> result = IngestPipelined(samples, raw_text);
  if (!result.ok()) return result;
  if (absl::Status s = WaitDurable(submitted_); !s.ok()) return s;
  return result;
}

absl::StatusOr<IngestResult> LedgeredTwin::IngestPipelined(absl::Span<const RawSample> samples,
                                                           absl::Span<const std::string> raw_text) {
  if (absl::Status s = Failed(); !s.ok()) return s;
  if (!raw_text.empty() && raw_text.size() != samples.size()) {
    return absl::InvalidArgumentError("raw_text must be empty or match the samples");
  }
  IngestResult result;
  Pending batch;
  batch.entries.reserve(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    std::variant<Sample, Rejection> checked = validator_.Check(samples[i]);
    if (Sample* sample = std::get_if<Sample>(&checked)) {
      const uint64_t revision = twin_->Apply(*sample);
      batch.entries.push_back(
          {kTwinUpdateKind, asset_, revision, 0, EncodeTwinUpdate(asset_, revision, *sample)});
      ++result.accepted;
      if (std::optional<CalibrationChange> due = twin_->DueCalibration()) {
        const uint64_t r = twin_->Apply(*due);
        batch.entries.push_back({kTwinUpdateKind, asset_, r, 0, EncodeTwinUpdate(asset_, r, *due)});
      }
    } else {
      const Rejection& rejection = std::get<Rejection>(checked);
      // The text form is built only for rejected samples, from what arrived.
      std::string raw =
          raw_text.empty() || raw_text[i].empty() ? Describe(samples[i]) : raw_text[i];
      batch.entries.push_back({kTwinRejectionKind, asset_, twin_->state().revision, 0,
                               EncodeRejection(asset_, samples[i].time, rejection, raw)});
      quarantine_.Add(samples[i].time, rejection, std::move(raw));
      ++result.rejected;
    }
  }
  result.revision = twin_->state().revision;
  batch.accepted = result.accepted;
  batch.rejected = result.rejected;
  if (absl::Status s = Submit(std::move(batch)); !s.ok()) return s;
  return result;
}

absl::StatusOr<uint64_t> LedgeredTwin::ApplyOne(const TwinChange& change) {
  if (absl::Status s = Failed(); !s.ok()) return s;
  const uint64_t revision = twin_->Apply(change);
  Pending batch;
  batch.entries.push_back(
      {kTwinUpdateKind, asset_, revision, 0, EncodeTwinUpdate(asset_, revision, change)});
  if (absl::Status s = Submit(std::move(batch)); !s.ok()) return s;
  if (absl::Status s = WaitDurable(submitted_); !s.ok()) return s;
  return revision;
}

absl::StatusOr<uint64_t> LedgeredTwin::SetDesired(std::string name, double value,
                                                  std::string author) {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError("a desired value needs a name of 1-128 bytes");
  }
  if (!std::isfinite(value)) return absl::InvalidArgumentError("a desired value must be finite");
  if (name.find('\0') != std::string::npos || author.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("a desired value's name or author may not contain NUL");
  }
  return ApplyOne(DesiredChange{std::move(name), value, std::move(author)});
}

absl::StatusOr<uint64_t> LedgeredTwin::RecordMaintenance(double time, std::string note,
                                                         std::string author, bool renews,
                                                         std::string id) {
  if (!std::isfinite(time)) return absl::InvalidArgumentError("maintenance time must be finite");
  // The ledger's text fields end at a NUL: one inside would be cut off there, and the twin
  // rebuilt from the ledger would differ from this one.
  if (note.find('\0') != std::string::npos || author.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("a maintenance note or author may not contain NUL");
  }
  if (absl::Status s = CheckMaintenanceId(id); !s.ok()) return s;
  return ApplyOne(
      MaintenanceRecord{time, std::move(note), std::move(author), renews, std::move(id)});
}

absl::StatusOr<uint64_t> LedgeredTwin::SetModelVersion(std::string version) {
  if (version.empty()) return absl::InvalidArgumentError("a model version must not be empty");
  return ApplyOne(ModelVersionChange{std::move(version)});
}

}  // namespace fleettwin::agent
