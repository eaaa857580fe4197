#include "fleettwin/agent/replay.h"

#include <charconv>
#include <cmath>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace fleettwin::agent {
namespace {

// A whole-cell number, or nullopt (then the cell travels on as text and fails validation).
std::optional<double> ParseNumber(std::string_view cell) {
  while (!cell.empty() && (cell.front() == ' ' || cell.front() == '\t')) cell.remove_prefix(1);
  while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t' || cell.back() == '\r')) {
    cell.remove_suffix(1);
  }
  if (cell.empty()) return std::nullopt;
  double value = 0;
  auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  if (ec != std::errc() || ptr != cell.data() + cell.size()) return std::nullopt;
  return value;
}

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream row(line);
  while (std::getline(row, cell, ',')) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

FieldValue ToField(const std::string& cell) {
  if (std::optional<double> v = ParseNumber(cell)) return *v;
  return cell;
}

}  // namespace

absl::StatusOr<double> ParseSpeed(std::string_view text) {
  if (text == "max") return 0.0;
  if (text.size() < 2 || text.back() != 'x') {
    return absl::InvalidArgumentError(
        absl::StrCat("speed '", std::string(text), "' must look like 100x, 0.5x or max"));
  }
  std::optional<double> factor = ParseNumber(text.substr(0, text.size() - 1));
  if (!factor || !(*factor > 0) || !std::isfinite(*factor)) {
    return absl::InvalidArgumentError(
        absl::StrCat("speed '", std::string(text), "' must be a positive factor like 100x"));
  }
  return *factor;
}

absl::StatusOr<std::unique_ptr<ReplayReader>> ReplayReader::Open(const ReplayOptions& options,
                                                                 const AssetKind& kind) {
  std::unique_ptr<ReplayReader> reader(new ReplayReader(options, kind));
  reader->in_.open(options.path);
  if (!reader->in_) {
    return absl::NotFoundError(absl::StrCat("cannot read replay file ", options.path.string()));
  }
  if (options.format == ReplayFormat::kCmapss) {
    if (options.unit.empty() || !ParseNumber(options.unit)) {
      return absl::InvalidArgumentError("C-MAPSS replay needs the unit (engine) number");
    }
    return reader;
  }
  std::string header;
  if (!std::getline(reader->in_, header)) {
    return absl::InvalidArgumentError(absl::StrCat(options.path.string(), " has no header line"));
  }
  reader->header_ = SplitCsv(header);
  for (std::string& h : reader->header_) {
    while (!h.empty() && h.back() == '\r') h.pop_back();
  }
  auto find = [&](const std::string& name) -> int {
    for (size_t i = 0; i < reader->header_.size(); ++i) {
      if (reader->header_[i] == name) return static_cast<int>(i);
    }
    return -1;
  };
  if (!options.time_column.empty()) {
    reader->time_index_ = find(options.time_column);
    if (reader->time_index_ < 0) {
      return absl::InvalidArgumentError(absl::StrCat("no column '", options.time_column, "'"));
    }
  }
  if (!options.unit_column.empty()) {
    reader->unit_index_ = find(options.unit_column);
    if (reader->unit_index_ < 0) {
      return absl::InvalidArgumentError(absl::StrCat("no column '", options.unit_column, "'"));
    }
  }
  if (options.columns.empty()) return absl::InvalidArgumentError("CSV replay needs a column map");
  for (const auto& [column, channel] : options.columns) {
    const int index = find(column);
    if (index < 0) return absl::InvalidArgumentError(absl::StrCat("no column '", column, "'"));
    if (!kind.ChannelIndex(channel)) {
      return absl::InvalidArgumentError(absl::StrCat("column '", column, "' maps to '", channel,
                                                     "', not a channel of ", kind.name));
    }
    reader->mapped_.emplace_back(index, channel);
  }
  return reader;
}

std::optional<Telemetry> ReplayReader::Next() {
  std::string line;
  while (std::getline(in_, line)) {
    ++lines_;
    if (line.empty() || line == "\r") continue;
    std::optional<Telemetry> t =
        options_.format == ReplayFormat::kCmapss ? ParseCmapss(line) : ParseCsv(line);
    if (t) return t;
  }
  return std::nullopt;
}

std::optional<Telemetry> ReplayReader::ParseCmapss(const std::string& line) {
  std::istringstream fields(line);
  std::vector<std::string> cells;
  for (std::string cell; fields >> cell;) cells.push_back(cell);
  if (cells.empty() || cells[0] != options_.unit) {
    // Another engine's row, unless the unit column itself is unreadable: then it is ours to
    // reject only if we cannot tell, and we cannot; skip it as foreign.
    return std::nullopt;
  }
  Telemetry t;
  t.raw = line;
  const std::optional<double> cycle = cells.size() > 1 ? ParseNumber(cells[1]) : std::nullopt;
  t.sample.time = cycle.value_or(std::nan(""));  // An unreadable time is rejected downstream.
  for (size_t i = 0; i < kind_.channels.size() && i + 2 < cells.size(); ++i) {
    t.sample.fields.emplace_back(kind_.channels[i].name, ToField(cells[i + 2]));
  }
  for (size_t i = kind_.channels.size() + 2; i < cells.size(); ++i) {
    t.sample.fields.emplace_back(absl::StrCat("extra_column_", i + 1), ToField(cells[i]));
  }
  return t;
}

std::optional<Telemetry> ReplayReader::ParseCsv(const std::string& line) {
  const std::vector<std::string> cells = SplitCsv(line);
  auto cell = [&](int i) -> std::optional<std::string> {
    if (i < 0 || static_cast<size_t>(i) >= cells.size()) return std::nullopt;
    return cells[static_cast<size_t>(i)];
  };
  if (unit_index_ >= 0 && cell(unit_index_) != options_.unit) return std::nullopt;
  Telemetry t;
  t.raw = line;
  const std::optional<std::string> time = cell(time_index_);
  t.sample.time = time ? ParseNumber(*time).value_or(std::nan("")) : std::nan("");
  for (const auto& [index, channel] : mapped_) {
    // A short row leaves the channel out: validation names it as missing.
    if (std::optional<std::string> c = cell(index))
      t.sample.fields.emplace_back(channel, ToField(*c));
  }
  return t;
}

uint64_t RunReplay(ReplayReader& reader, TelemetryQueue& queue, double speed,
                   const std::function<void(double)>& sleep) {
  uint64_t delivered = 0;
  std::optional<double> previous;
  while (std::optional<Telemetry> t = reader.Next()) {
    const double time = t->sample.time;
    if (speed > 0 && previous && std::isfinite(time) && time > *previous) {
      sleep((time - *previous) / speed);
    }
    if (std::isfinite(time)) previous = time;
    // Backpressure: wait for room as long as it takes; only a closed queue stops the replay.
    if (!queue.PushWait(std::move(*t))) return delivered;
    ++delivered;
  }
  return delivered;
}

}  // namespace fleettwin::agent
