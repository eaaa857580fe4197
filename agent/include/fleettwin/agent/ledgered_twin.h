// A twin whose every update and every rejected sample is written to the agent's ledger, and
// which is rebuilt from that ledger on startup. The ledger is the twin's history of record:
// RebuildTwin(ledger) equals the live state.
#ifndef FLEETTWIN_AGENT_LEDGERED_TWIN_H_
#define FLEETTWIN_AGENT_LEDGERED_TWIN_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "fleettwin/agent/twin.h"
#include "fleettwin/agent/validation.h"
#include "fleettwin/common/metrics.h"
#include "fleettwin/ledger/ledger.h"

namespace fleettwin::agent {

struct RebuiltTwin {
  std::unique_ptr<Twin> twin;
  Quarantine quarantine{0};
  uint64_t updates = 0;     // twin.update entries replayed.
  uint64_t rejections = 0;  // twin.rejection entries seen.
  std::string kind_text;    // The latest twin.kind entry's payload; empty if none.
};

// The latest kind recorded in `ledger` (its JSON text), or NotFound if none was.
absl::StatusOr<std::string> LedgeredKindText(const ledger::LedgerReader& ledger);

// Replays `ledger`'s twin entries for `asset` (other entries, e.g. manual notes, are skipped).
// `kind` must outlive the result. Errors: DataLoss if an update does not decode, belongs to
// another asset, or breaks the revision sequence (1, 2, 3, …); errors of the reader.
// `model` and `catalog`, if given (they must outlive the result), hold the failure models whose
// predictions are recomputed where the ledger says they were in use.
absl::StatusOr<RebuiltTwin> RebuildTwin(const ledger::LedgerReader& ledger, const AssetKind& kind,
                                        const std::string& asset, size_t quarantine_capacity,
                                        const model::RulModel* model = nullptr,
                                        const ModelCatalog* catalog = nullptr);

// OK for an empty id or one of at most 64 letters, digits and - _ . : (InvalidArgument).
absl::Status CheckMaintenanceId(std::string_view id);

// OK if every input channel of `model` is a channel of `kind`; InvalidArgument naming the first
// one that is not.
absl::Status CheckModelFitsKind(const model::RulModel& model, const AssetKind& kind);

struct IngestResult {
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t revision = 0;  // The twin's revision after the batch.
};

// Not thread-safe: one owner thread changes the twin. Inside, a writer thread appends to the
// ledger in the order the changes were made, so the owner can validate and apply the next
// batch while the previous one is being made durable (a pipeline of depth kMaxPending).
class LedgeredTwin final {
 public:
  // Batches handed to the writer and not yet durable, at most.
  static constexpr size_t kMaxPending = 2;

  // Restores the twin from `ledger` (see RebuildTwin), so a restarted agent continues at the
  // same revision. `kind` and `ledger` must outlive the result.
  // `kind_text`, if not empty, is the kind's JSON text: it is recorded as a twin.kind entry
  // unless the ledger's latest one is the same, so an auditor rebuilds with the kind the twin
  // ran with.
  // `model`, if given, is the failure model to use from now on (it must outlive the result):
  // its version is ledgered unless it is already the one in use — or the ledger's twin uses a
  // model of `catalog` (one the agent adopted: it stays in use). SetModelVersion may switch to
  // `model` or to any model of `catalog`. Errors: also InvalidArgument if the model needs a
  // channel the kind lacks.
  static absl::StatusOr<std::unique_ptr<LedgeredTwin>> Open(
      const AssetKind& kind, std::string asset, ledger::Ledger& ledger,
      size_t quarantine_capacity = 1000, std::string_view kind_text = {},
      const model::RulModel* model = nullptr, const ModelCatalog* catalog = nullptr);
  ~LedgeredTwin();  // Waits until everything handed to the writer is durable.

  // Checks each sample in order; applies the accepted ones and quarantines the rejected ones;
  // a recalibration that falls due is applied and ledgered in the same batch (a twin update
  // of its own, right after the sample that completed it); writes all of them to the ledger in
  // one group commit before returning. `raw_text`, if
  // given, holds the received form of each sample for the quarantine (same length as `samples`;
  // an empty text means: describe the sample).
  // Errors: Unavailable if the ledger write failed; the twin then refuses further changes
  // (FailedPrecondition) until the agent restarts and rebuilds it from what is durable.
  absl::StatusOr<IngestResult> Ingest(absl::Span<const RawSample> samples,
                                      absl::Span<const std::string> raw_text = {});
  // As Ingest, but returns once the batch is applied and handed to the writer (waiting only if
  // kMaxPending batches are already in flight). The state then runs ahead of the ledger by at
  // most kMaxPending batches; WaitDurable(submitted()) catches up. A write failure surfaces in
  // the next call or wait.
  absl::StatusOr<IngestResult> IngestPipelined(absl::Span<const RawSample> samples,
                                               absl::Span<const std::string> raw_text = {});
  // These return once their update is durable.
  absl::StatusOr<uint64_t> SetDesired(std::string name, double value, std::string author);
  // `renews`: the asset is as new afterwards (MaintenanceRecord::renews).
  // `id`, if not empty, names the record (CheckMaintenanceId); uniqueness is the caller's to
  // check (AgentRuntime::RecordMaintenance).
  absl::StatusOr<uint64_t> RecordMaintenance(double time, std::string note, std::string author,
                                             bool renews = true, std::string id = {});
  absl::StatusOr<uint64_t> SetModelVersion(std::string version);

  // Batches handed to the writer so far (a sequence number; read by the owner).
  uint64_t submitted() const { return submitted_; }
  // Waits until batch `sequence` (and all before it) is durable, or the writer failed.
  // Thread-safe.
  absl::Status WaitDurable(uint64_t sequence);
  // OK unless a ledger write failed. Thread-safe.
  absl::Status WriteStatus();

  const Twin& twin() const { return *twin_; }
  const Quarantine& quarantine() const { return quarantine_; }
  // Seconds per durable ledger append (one per batch or single update); thread-safe.
  const Histogram& append_latency() const { return append_latency_; }
  // Samples accepted and rejected by this process whose entries are durable; thread-safe.
  uint64_t durable_accepted() const { return durable_accepted_.load(); }
  uint64_t durable_rejected() const { return durable_rejected_.load(); }
  // Samples of batches whose ledger write failed (or that came after the failure).
  uint64_t unwritten() const { return unwritten_.load(); }

 private:
  struct Pending {
    std::vector<ledger::NewEntry> entries;
    uint64_t accepted = 0;
    uint64_t rejected = 0;
  };

  LedgeredTwin(const AssetKind& kind, std::string asset, ledger::Ledger& ledger,
               RebuiltTwin rebuilt);
  absl::StatusOr<uint64_t> ApplyOne(const TwinChange& change);
  absl::Status Failed();
  // Hands a batch to the writer; waits while kMaxPending are in flight.
  absl::Status Submit(Pending batch);
  void WriterLoop();

  const std::string asset_;
  ledger::Ledger& ledger_;
  std::unique_ptr<Twin> twin_;
  Validator validator_;
  Quarantine quarantine_;
  Histogram append_latency_{Histogram::LatencyBounds()};
  uint64_t submitted_ = 0;  // Owner only.

  std::mutex write_mu_;
  std::condition_variable write_cv_;
  std::deque<Pending> pending_;  // Guarded by write_mu_; front is being written.
  uint64_t durable_ = 0;         // Guarded by write_mu_: batches durable.
  absl::Status write_failed_;    // Guarded by write_mu_.
  bool stop_ = false;            // Guarded by write_mu_.
  std::atomic<uint64_t> durable_accepted_{0};
  std::atomic<uint64_t> durable_rejected_{0};
  std::atomic<uint64_t> unwritten_{0};
  std::thread writer_;
};

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_LEDGERED_TWIN_H_
