#include "fleettwin/agent/twin_records.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/twin.capnp.h"

namespace fleettwin::agent {
namespace {

constexpr size_t kMaxRaw = 1024;

template <typename Builder>
std::string Canonical(Builder root) {
  kj::Array<capnp::word> words = capnp::canonicalize(root.asReader());
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// Runs `read` on the payload as a single-segment message; exceptions become DataLoss.
template <typename Root, typename F>
absl::Status Read(Bytes payload, F&& read) {
  if (payload.empty() || payload.size() % sizeof(capnp::word) != 0) {
    return absl::DataLossError("record is not a whole number of 8-byte words");
  }
  std::vector<uint64_t> words(payload.size() / sizeof(capnp::word));
  std::memcpy(words.data(), payload.data(), payload.size());
  kj::ArrayPtr<const capnp::word> segments[1] = {
      kj::arrayPtr(reinterpret_cast<const capnp::word*>(words.data()), words.size())};
  capnp::ReaderOptions options;
  options.traversalLimitInWords = words.size() * 2 + 16;
  options.nestingLimit = 8;
  absl::Status status;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&] {
                 capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segments, 1), options);
                 status = read(reader.getRoot<Root>());
               })) {
    return absl::DataLossError(
        absl::StrCat("record does not decode: ", e->getDescription().cStr()));
  }
  return status;
}

std::string Str(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }

}  // namespace

std::string EncodeTwinUpdate(std::string_view asset, uint64_t revision, const TwinChange& change) {
  // Size the first segment to the update (a sample is a few dozen words), rather than the
  // default 8 KiB that would be zeroed for every sample.
  const Sample* sample_change = std::get_if<Sample>(&change);
  const size_t words =
      16 + asset.size() / 8 + (sample_change != nullptr ? sample_change->values.size() : 64);
  capnp::MallocMessageBuilder message(static_cast<unsigned>(words));
  auto root = message.initRoot<proto::TwinUpdate>();
  root.setAsset(capnp::Text::Reader(asset.data(), asset.size()));
  root.setRevision(revision);
  if (const Sample* s = std::get_if<Sample>(&change)) {
    auto sample = root.initSample();
    sample.setTime(s->time);
    auto values = sample.initValues(static_cast<unsigned>(s->values.size()));
    for (unsigned i = 0; i < s->values.size(); ++i) values.set(i, s->values[i]);
  } else if (const DesiredChange* d = std::get_if<DesiredChange>(&change)) {
    auto desired = root.initDesired();
    desired.setName(d->name);
    desired.setValue(d->value);
    desired.setAuthor(d->author);
  } else if (const MaintenanceRecord* m = std::get_if<MaintenanceRecord>(&change)) {
    auto maintenance = root.initMaintenance();
    maintenance.setTime(m->time);
    maintenance.setNote(m->note);
    maintenance.setAuthor(m->author);
    maintenance.setRenews(m->renews);
    if (!m->id.empty()) maintenance.setId(m->id);
  } else if (const CalibrationChange* c = std::get_if<CalibrationChange>(&change)) {
    root.setCalibration(c->calibration.Encode());
  } else {
    root.setModelVersion(std::get<ModelVersionChange>(change).version);
  }
  return Canonical(root);
}

absl::StatusOr<DecodedUpdate> DecodeTwinUpdate(Bytes payload, size_t channels) {
  DecodedUpdate out;
  absl::Status status = Read<proto::TwinUpdate>(payload, [&](proto::TwinUpdate::Reader r) {
    out.asset = Str(r.getAsset());
    out.revision = r.getRevision();
    switch (r.which()) {
      case proto::TwinUpdate::SAMPLE: {
        auto s = r.getSample();
        if (s.getValues().size() != channels) {
          return absl::InvalidArgumentError(absl::StrCat("sample carries ", s.getValues().size(),
                                                         " values, the kind has ", channels));
        }
        Sample sample;
        sample.time = s.getTime();
        for (double v : s.getValues()) sample.values.push_back(v);
        out.change = std::move(sample);
        return absl::OkStatus();
      }
      case proto::TwinUpdate::DESIRED: {
        auto d = r.getDesired();
        out.change = DesiredChange{Str(d.getName()), d.getValue(), Str(d.getAuthor())};
        return absl::OkStatus();
      }
      case proto::TwinUpdate::MAINTENANCE: {
        auto m = r.getMaintenance();
        out.change = MaintenanceRecord{m.getTime(), Str(m.getNote()), Str(m.getAuthor()),
                                       m.getRenews(), Str(m.getId())};
        return absl::OkStatus();
      }
      case proto::TwinUpdate::MODEL_VERSION:
        out.change = ModelVersionChange{Str(r.getModelVersion())};
        return absl::OkStatus();
      case proto::TwinUpdate::CALIBRATION: {
        absl::StatusOr<Calibration> c = Calibration::Decode(Str(r.getCalibration()));
        if (!c.ok()) {
          return absl::DataLossError(
              absl::StrCat("calibration does not decode: ", c.status().message()));
        }
        out.change = CalibrationChange{std::move(*c)};
        return absl::OkStatus();
      }
    }
    return absl::DataLossError("twin update of an unknown kind");
  });
  if (!status.ok()) return status;
  return out;
}

std::string EncodeRejection(std::string_view asset, double time, const Rejection& rejection,
                            std::string_view raw) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<proto::SampleRejection>();
  root.setAsset(capnp::Text::Reader(asset.data(), asset.size()));
  root.setTime(time);
  const std::string_view reason = RejectReasonName(rejection.reason);
  root.setReason(capnp::Text::Reader(reason.data(), reason.size()));
  // Details are built by the validator from bounded pieces; cap them anyway, so no sample can
  // make an entry the ledger refuses.
  const std::string_view detail = std::string_view(rejection.detail).substr(0, kMaxRaw);
  root.setDetail(capnp::Text::Reader(detail.data(), detail.size()));
  raw = raw.substr(0, kMaxRaw);
  root.setRaw(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(raw.data()), raw.size()));
  return Canonical(root);
}

absl::StatusOr<DecodedRejection> DecodeRejection(Bytes payload) {
  DecodedRejection out;
  absl::Status status =
      Read<proto::SampleRejection>(payload, [&](proto::SampleRejection::Reader r) {
        out.asset = Str(r.getAsset());
        out.time = r.getTime();
        const std::string reason = Str(r.getReason());
        bool known = false;
        for (int i = 0; i < kRejectReasonCount; ++i) {
          if (RejectReasonName(static_cast<RejectReason>(i)) == reason) {
            out.rejection.reason = static_cast<RejectReason>(i);
            known = true;
          }
        }
        if (!known)
          return absl::DataLossError(absl::StrCat("unknown rejection reason '", reason, "'"));
        out.rejection.detail = Str(r.getDetail());
        auto raw = r.getRaw();
        out.raw.assign(reinterpret_cast<const char*>(raw.begin()), raw.size());
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return out;
}

}  // namespace fleettwin::agent
