// File replay, one of the agent's three telemetry sources: a C-MAPSS text file or a CSV file,
// one unit (asset) selected, paced at a chosen speed or as fast as possible. Lines that do not
// parse are not dropped: they become samples that fail validation and are quarantined.
#ifndef FLEETTWIN_AGENT_REPLAY_H_
#define FLEETTWIN_AGENT_REPLAY_H_

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fleettwin/agent/asset_kind.h"
#include "fleettwin/agent/telemetry_queue.h"

namespace fleettwin::agent {

enum class ReplayFormat {
  kCmapss,  // NASA C-MAPSS text: unit, cycle, then one column per channel of the kind, in order.
  kCsv,     // A header line, then comma-separated rows.
};

struct ReplayOptions {
  std::filesystem::path path;
  ReplayFormat format = ReplayFormat::kCmapss;
  // Which rows belong to this asset: C-MAPSS: the unit number (required). CSV: the value of
  // `unit_column`, or every row when `unit_column` is empty.
  std::string unit;
  std::string unit_column;
  // CSV: the column holding the sample time (default: the first column).
  std::string time_column;
  // CSV: header name -> channel name. Columns not listed are ignored.
  std::map<std::string, std::string> columns;
};

// Parses "100x", "2.5x" or "max" (as fast as possible, returned as 0). Errors: InvalidArgument.
absl::StatusOr<double> ParseSpeed(std::string_view text);

// Reads one asset's samples from a file, in file order. Not thread-safe.
class ReplayReader final {
 public:
  // `kind` must outlive the reader. Errors: NotFound (file), InvalidArgument (options, CSV
  // header without a mapped column, a C-MAPSS kind mismatch).
  static absl::StatusOr<std::unique_ptr<ReplayReader>> Open(const ReplayOptions& options,
                                                            const AssetKind& kind);

  // The next sample of the selected unit; nullopt at the end of the file.
  std::optional<Telemetry> Next();
  uint64_t lines() const { return lines_; }

 private:
  ReplayReader(const ReplayOptions& options, const AssetKind& kind)
      : options_(options), kind_(kind) {}
  std::optional<Telemetry> ParseCmapss(const std::string& line);
  std::optional<Telemetry> ParseCsv(const std::string& line);

  ReplayOptions options_;
  const AssetKind& kind_;
  std::ifstream in_;
  uint64_t lines_ = 0;
  // CSV layout.
  std::vector<std::string> header_;
  int time_index_ = 0;
  int unit_index_ = -1;
  std::vector<std::pair<int, std::string>> mapped_;  // Column index -> channel name.
};

// Pushes every sample of `reader` into `queue`, waiting whenever it is full (replay never drops).
// With speed > 0, waits (time difference / speed) seconds between samples, one time unit
// counting as one second; `sleep` is injected so tests need not wait. Stops early when the queue
// closes. Returns the number of samples delivered.
uint64_t RunReplay(ReplayReader& reader, TelemetryQueue& queue, double speed,
                   const std::function<void(double seconds)>& sleep);

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_REPLAY_H_
