#include "fleettwin/model/cmapss.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "fleettwin/model/shared_start.h"
#include "rul_model_impl.h"

namespace fleettwin::model {
namespace {

constexpr size_t kCmapssColumns = 26;

absl::StatusOr<std::ifstream> Open(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", file.string()));
  return in;
}

// Splits on whitespace and parses every field as a double; false on a non-number.
bool ParseNumbers(const std::string& line, std::vector<double>& out) {
  out.clear();
  const char* p = line.c_str();
  while (true) {
    while (*p == ' ' || *p == '\t' || *p == '\r') ++p;
    if (*p == '\0') return true;
    char* end = nullptr;
    const double v = std::strtod(p, &end);
    if (end == p || !std::isfinite(v)) return false;
    if (*end != '\0' && *end != ' ' && *end != '\t' && *end != '\r') return false;
    out.push_back(v);
    p = end;
  }
}

}  // namespace

std::vector<std::string> CmapssChannels() {
  std::vector<std::string> names = {"os1", "os2", "os3"};
  for (int i = 1; i <= 21; ++i) names.push_back(absl::StrCat("s", i));
  return names;
}

absl::StatusOr<Dataset> ReadCmapss(const std::filesystem::path& file) {
  absl::StatusOr<std::ifstream> in = Open(file);
  if (!in.ok()) return in.status();
  Dataset data;
  data.channels = CmapssChannels();
  std::string line;
  std::vector<double> values;
  int line_no = 0;
  while (std::getline(*in, line)) {
    ++line_no;
    if (!ParseNumbers(line, values)) {
      return absl::InvalidArgumentError(absl::StrCat(file.string(), ":", line_no, ": not numbers"));
    }
    if (values.empty()) continue;
    if (values.size() != kCmapssColumns) {
      return absl::InvalidArgumentError(absl::StrCat(file.string(), ":", line_no, ": ",
                                                     values.size(), " columns, expected 26"));
    }
    const double unit = values[0], cycle = values[1];
    if (unit != std::floor(unit) || unit < 1 || unit > 1e6) {
      return absl::InvalidArgumentError(absl::StrCat(file.string(), ":", line_no, ": bad unit"));
    }
    if (data.units.empty() || data.units.back().unit != static_cast<int>(unit)) {
      for (const UnitSeries& u : data.units) {
        if (u.unit == static_cast<int>(unit)) {
          return absl::InvalidArgumentError(
              absl::StrCat(file.string(), ":", line_no, ": unit ", u.unit, " is not contiguous"));
        }
      }
      data.units.push_back({static_cast<int>(unit), {}});
    }
    UnitSeries& series = data.units.back();
    if (cycle != static_cast<double>(series.rows.size() + 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.string(), ":", line_no, ": cycle out of sequence"));
    }
    series.rows.emplace_back(values.begin() + 2, values.end());
  }
  if (data.units.empty()) return absl::InvalidArgumentError(file.string() + ": no rows");
  return data;
}

absl::StatusOr<std::vector<double>> ReadRulFile(const std::filesystem::path& file) {
  absl::StatusOr<std::ifstream> in = Open(file);
  if (!in.ok()) return in.status();
  std::vector<double> rul;
  std::string line;
  std::vector<double> values;
  int line_no = 0;
  while (std::getline(*in, line)) {
    ++line_no;
    if (!ParseNumbers(line, values) || values.size() > 1 ||
        (values.size() == 1 && (values[0] < 0 || values[0] != std::floor(values[0])))) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.string(), ":", line_no, ": expected one non-negative integer"));
    }
    if (values.size() == 1) rul.push_back(values[0]);
  }
  if (rul.empty()) return absl::InvalidArgumentError(file.string() + ": no values");
  return rul;
}

std::vector<std::string> InformativeChannels(const Dataset& train,
                                             absl::Span<const std::string> candidates) {
  return VaryingChannels(SummarizeChannels(train, candidates));
}

absl::StatusOr<Dataset> SelectChannels(const Dataset& data, absl::Span<const std::string> names) {
  std::vector<size_t> index;
  for (const std::string& name : names) {
    const auto it = std::find(data.channels.begin(), data.channels.end(), name);
    if (it == data.channels.end()) {
      return absl::InvalidArgumentError(absl::StrCat("no channel named '", name, "'"));
    }
    index.push_back(static_cast<size_t>(it - data.channels.begin()));
  }
  Dataset out;
  out.channels.assign(names.begin(), names.end());
  for (const UnitSeries& u : data.units) {
    UnitSeries s{u.unit, {}};
    s.rows.reserve(u.rows.size());
    for (const std::vector<double>& row : u.rows) {
      std::vector<double> r(index.size());
      for (size_t i = 0; i < index.size(); ++i) r[i] = row[index[i]];
      s.rows.push_back(std::move(r));
    }
    out.units.push_back(std::move(s));
  }
  return out;
}

std::vector<double> CappedRul(size_t rows, double cap) {
  std::vector<double> rul(rows);
  for (size_t i = 0; i < rows; ++i) rul[i] = std::min(cap, static_cast<double>(rows - 1 - i));
  return rul;
}

std::vector<std::vector<double>> WindowEndingAt(const std::vector<std::vector<double>>& rows,
                                                size_t end, int window) {
  std::vector<std::vector<double>> out;
  out.reserve(static_cast<size_t>(window));
  const long first = static_cast<long>(end) - window + 1;
  for (long i = first; i <= static_cast<long>(end); ++i) {
    out.push_back(rows[static_cast<size_t>(std::max(0L, i))]);
  }
  return out;
}

ZScore ZScore::Fit(const Dataset& data) {
  return ZScoreOf(SummarizeChannels(data, data.channels));
}

void ZScore::Apply(std::vector<double>& row) const {
  for (size_t c = 0; c < row.size(); ++c) row[c] = (row[c] - mean[c]) / std[c];
}

double Rmse(absl::Span<const double> predicted, absl::Span<const double> truth) {
  double sum = 0;
  for (size_t i = 0; i < predicted.size(); ++i) {
    sum += (predicted[i] - truth[i]) * (predicted[i] - truth[i]);
  }
  return std::sqrt(sum / static_cast<double>(predicted.size()));
}

double PhmScore(absl::Span<const double> predicted, absl::Span<const double> truth) {
  double score = 0;
  for (size_t i = 0; i < predicted.size(); ++i) {
    const double d = predicted[i] - truth[i];
    score += d < 0 ? std::exp(-d / 13.0) - 1.0 : std::exp(d / 10.0) - 1.0;
  }
  return score;
}

DevelopmentSplit SplitForDevelopment(const Dataset& all) {
  std::mt19937_64 rng(20080101);
  std::vector<size_t> order(all.units.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  DevelopmentSplit split{{all.channels, {}}, {all.channels, {}}, {}};
  for (size_t i = 0; i < order.size(); ++i) {
    const UnitSeries& unit = all.units[order[i]];
    if (i >= 20) {
      split.train.units.push_back(unit);
      continue;
    }
    const long n = static_cast<long>(unit.rows.size());
    const long max_rul = std::min(145L, n - 31);
    for (int cut = 0; cut < 5 && max_rul >= 7; ++cut) {
      const long r = 7 + static_cast<long>(rng() % static_cast<uint64_t>(max_rul - 6));
      UnitSeries kept = unit;
      kept.rows.resize(static_cast<size_t>(n - r));
      split.dev.units.push_back(std::move(kept));
      split.dev_rul.push_back(static_cast<double>(r));
    }
  }
  return split;
}

}  // namespace fleettwin::model
