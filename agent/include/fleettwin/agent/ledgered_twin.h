// A twin whose every update and every rejected sample is written to the agent's ledger, and
// which is rebuilt from that ledger on startup. The ledger is the twin's history of record:
// RebuildTwin(ledger) equals the live state.
#ifndef FLEETTWIN_AGENT_LEDGERED_TWIN_H_
#define FLEETTWIN_AGENT_LEDGERED_TWIN_H_

#include <cstdint>
#include <memory>
#include <string>

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
};

// Replays `ledger`'s twin entries for `asset` (other entries, e.g. manual notes, are skipped).
// `kind` must outlive the result. Errors: DataLoss if an update does not decode, belongs to
// another asset, or breaks the revision sequence (1, 2, 3, …); errors of the reader.
absl::StatusOr<RebuiltTwin> RebuildTwin(const ledger::LedgerReader& ledger, const AssetKind& kind,
                                        const std::string& asset, size_t quarantine_capacity);

struct IngestResult {
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t revision = 0;  // The twin's revision after the batch.
};

class LedgeredTwin final {
 public:
  // Restores the twin from `ledger` (see RebuildTwin), so a restarted agent continues at the
  // same revision. `kind` and `ledger` must outlive the result.
  static absl::StatusOr<std::unique_ptr<LedgeredTwin>> Open(const AssetKind& kind,
                                                            std::string asset,
                                                            ledger::Ledger& ledger,
                                                            size_t quarantine_capacity = 1000);

  // Checks each sample in order; applies the accepted ones and quarantines the rejected ones;
  // writes all of them to the ledger in one group commit before returning. `raw_text`, if
  // given, holds the received form of each sample for the quarantine (same length as `samples`).
  // Errors: Unavailable if the ledger write failed; the twin then refuses further changes
  // (FailedPrecondition) until the agent restarts and rebuilds it from what is durable.
  absl::StatusOr<IngestResult> Ingest(absl::Span<const RawSample> samples,
                                      absl::Span<const std::string> raw_text = {});
  absl::StatusOr<uint64_t> SetDesired(std::string name, double value, std::string author);
  absl::StatusOr<uint64_t> RecordMaintenance(double time, std::string note, std::string author);
  absl::StatusOr<uint64_t> SetModelVersion(std::string version);

  const Twin& twin() const { return *twin_; }
  const Quarantine& quarantine() const { return quarantine_; }
  // Seconds per durable ledger append (one per Ingest batch or single update); thread-safe.
  const Histogram& append_latency() const { return append_latency_; }

 private:
  LedgeredTwin(const AssetKind& kind, std::string asset, ledger::Ledger& ledger,
               RebuiltTwin rebuilt);
  absl::StatusOr<uint64_t> ApplyOne(const TwinChange& change);
  absl::Status Write(absl::Span<const ledger::NewEntry> entries);

  const std::string asset_;
  ledger::Ledger& ledger_;
  std::unique_ptr<Twin> twin_;
  Validator validator_;
  Quarantine quarantine_;
  absl::Status failed_;
  Histogram append_latency_{Histogram::LatencyBounds()};
};

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_LEDGERED_TWIN_H_
