#include "fleettwin/agent/validation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace fleettwin::agent {
namespace {

const std::string kKinds = std::string(FLEETTWIN_SOURCE_DIR) + "/kinds/";
const std::string kData = std::string(FLEETTWIN_SOURCE_DIR) + "/data/";

AssetKind Pump() {
  absl::StatusOr<AssetKind> kind = ParseAssetKind(R"({
    "kind": "pump", "time": {"unit": "s", "period": 10, "min_interval": 0.5},
    "channels": [{"name": "pressure", "min": 0, "max": 10},
                 {"name": "flow", "min": 0, "max": 100, "required": false}]})");
  EXPECT_TRUE(kind.ok()) << kind.status();
  return *kind;
}

RawSample At(double time, double pressure) { return {time, {{"pressure", pressure}}}; }

RejectReason ReasonOf(const std::variant<Sample, Rejection>& result) {
  EXPECT_TRUE(std::holds_alternative<Rejection>(result));
  return std::holds_alternative<Rejection>(result) ? std::get<Rejection>(result).reason
                                                   : RejectReason::kSchema;
}

TEST(ValidatorTest, AcceptsAndOrdersChannels) {
  const AssetKind kind = Pump();
  Validator v(kind);
  auto result = v.Check({100, {{"flow", 42.0}, {"pressure", 3.5}}});
  ASSERT_TRUE(std::holds_alternative<Sample>(result));
  const Sample& s = std::get<Sample>(result);
  EXPECT_EQ(s.time, 100);
  EXPECT_EQ(s.values, (std::vector<double>{3.5, 42.0}));
  auto optional_absent = v.Check(At(110, 1));
  ASSERT_TRUE(std::holds_alternative<Sample>(optional_absent));
  EXPECT_TRUE(std::isnan(std::get<Sample>(optional_absent).values[1]));
  EXPECT_EQ(v.last_time(), 110);
}

TEST(ValidatorTest, EachRuleRejectsWithItsReasonAndChangesNothing) {
  const AssetKind kind = Pump();
  Validator v(kind);
  ASSERT_TRUE(std::holds_alternative<Sample>(v.Check(At(100, 1))));
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(ReasonOf(v.Check({120, {{"pressure", 1.0}, {"temperature", 3.0}}})),
            RejectReason::kSchema);
  EXPECT_EQ(ReasonOf(v.Check({120, {{"flow", 1.0}}})), RejectReason::kSchema);  // Missing.
  EXPECT_EQ(ReasonOf(v.Check({120, {{"pressure", 1.0}, {"pressure", 2.0}}})),
            RejectReason::kSchema);
  EXPECT_EQ(ReasonOf(v.Check({120, {{"pressure", std::string("high")}}})), RejectReason::kType);
  EXPECT_EQ(ReasonOf(v.Check({120, {{"pressure", true}}})), RejectReason::kType);
  EXPECT_EQ(ReasonOf(v.Check({120, {{"pressure", std::monostate{}}}})), RejectReason::kType);
  EXPECT_EQ(ReasonOf(v.Check(At(120, std::nan("")))), RejectReason::kNotFinite);
  EXPECT_EQ(ReasonOf(v.Check(At(120, inf))), RejectReason::kNotFinite);
  EXPECT_EQ(ReasonOf(v.Check(At(std::nan(""), 1))), RejectReason::kNotFinite);
  EXPECT_EQ(ReasonOf(v.Check(At(120, 10.5))), RejectReason::kRange);
  EXPECT_EQ(ReasonOf(v.Check(At(120, -0.1))), RejectReason::kRange);
  EXPECT_EQ(ReasonOf(v.Check(At(100, 1))), RejectReason::kDuplicate);
  EXPECT_EQ(ReasonOf(v.Check(At(90, 1))), RejectReason::kOutOfOrder);
  EXPECT_EQ(ReasonOf(v.Check(At(104, 1))), RejectReason::kRate);     // 4 s < 0.5 x 10 s.
  EXPECT_EQ(ReasonOf(v.Check(At(1e300, 1))), RejectReason::kRange);  // An absurd time.
  EXPECT_EQ(ReasonOf(v.Check(At(-1e300, 1))), RejectReason::kRange);
  // None of the rejections moved the validator: the next good sample is judged against 100.
  EXPECT_EQ(v.last_time(), 100);
  EXPECT_TRUE(std::holds_alternative<Sample>(v.Check(At(105, 10))));  // Range is inclusive.
}

TEST(ValidatorTest, TimeBoundsComeFromTheKindAndDetailsStayShort) {
  absl::StatusOr<AssetKind> kind = ParseAssetKind(R"({
    "kind": "pump", "time": {"unit": "cycle", "period": 1, "min": 1, "max": 100000},
    "channels": [{"name": "pressure", "min": 0, "max": 10}]})");
  ASSERT_TRUE(kind.ok()) << kind.status();
  Validator v(*kind);
  EXPECT_EQ(ReasonOf(v.Check(At(0, 1))), RejectReason::kRange);
  EXPECT_EQ(ReasonOf(v.Check(At(100001, 1))), RejectReason::kRange);
  EXPECT_TRUE(std::holds_alternative<Sample>(v.Check(At(100000, 1))));
  EXPECT_FALSE(ParseAssetKind(R"({"kind": "k", "time": {"unit": "s", "period": 1, "min": 5,
    "max": 5}, "channels": [{"name": "p", "min": 0, "max": 1}]})")
                   .ok());
  // A channel name from outside may be huge; the rejection shows only its start.
  const std::string huge(1 << 20, 'x');
  auto rejected = v.Check({200000, {{huge, 1.0}}});
  ASSERT_TRUE(std::holds_alternative<Rejection>(rejected));
  EXPECT_LT(std::get<Rejection>(rejected).detail.size(), 100u);
}

TEST(QuarantineTest, KeepsTheNewestAndCountsEverything) {
  Quarantine q(3);
  for (int i = 0; i < 5; ++i) {
    q.Add(i, {i % 2 ? RejectReason::kRange : RejectReason::kType, absl::StrCat("d", i)}, "raw");
  }
  EXPECT_EQ(q.total(), 5u);
  EXPECT_EQ(q.count(RejectReason::kType), 3u);
  EXPECT_EQ(q.count(RejectReason::kRange), 2u);
  EXPECT_EQ(q.evicted(), 2u);
  ASSERT_EQ(q.samples().size(), 3u);
  EXPECT_EQ(q.samples().front().sequence, 2u);
  EXPECT_EQ(q.samples().back().detail, "d4");
  EXPECT_EQ(RejectReasonName(RejectReason::kOutOfOrder), "out_of_order");
}

// Every cycle of every engine in the real FD001 files passes the shipped kind: its ranges
// reject absurd values, not real ones.
TEST(ValidatorTest, RealCmapssTrajectoriesPassTheShippedKind) {
  absl::StatusOr<AssetKind> kind = LoadAssetKind(kKinds + "cmapss-turbofan.json");
  ASSERT_TRUE(kind.ok()) << kind.status();
  for (const char* file : {"train_FD001.txt", "test_FD001.txt"}) {
    std::ifstream in(kData + "cmapss/" + file);
    ASSERT_TRUE(in) << file;
    std::map<int, Validator> per_unit;
    std::string line;
    size_t rows = 0;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      int unit;
      double cycle;
      fields >> unit >> cycle;
      RawSample raw{cycle, {}};
      for (const Channel& c : kind->channels) {
        double value;
        fields >> value;
        raw.fields.emplace_back(c.name, value);
      }
      auto [it, inserted] = per_unit.try_emplace(unit, *kind);
      auto result = it->second.Check(raw);
      ASSERT_TRUE(std::holds_alternative<Sample>(result))
          << file << " unit " << unit << " cycle " << cycle << ": "
          << std::get<Rejection>(result).detail;
      ++rows;
    }
    EXPECT_GT(rows, 13000u) << file;
  }
}

TEST(ValidatorTest, RealAi4iRecordsPassTheShippedKind) {
  absl::StatusOr<AssetKind> kind = LoadAssetKind(kKinds + "ai4i-milling.json");
  ASSERT_TRUE(kind.ok()) << kind.status();
  std::ifstream in(kData + "ai4i2020/ai4i2020.csv");
  ASSERT_TRUE(in);
  std::string line;
  std::getline(in, line);  // Header.
  Validator v(*kind);
  size_t rows = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::istringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
    ASSERT_EQ(cells.size(), 14u) << line;
    RawSample raw{std::stod(cells[0]),
                  {{"air_temperature", std::stod(cells[3])},
                   {"process_temperature", std::stod(cells[4])},
                   {"rotational_speed", std::stod(cells[5])},
                   {"torque", std::stod(cells[6])},
                   {"tool_wear", std::stod(cells[7])},
                   {"machine_failure", std::stod(cells[8])}}};
    auto result = v.Check(raw);
    ASSERT_TRUE(std::holds_alternative<Sample>(result))
        << "UDI " << cells[0] << ": " << std::get<Rejection>(result).detail;
    ++rows;
  }
  EXPECT_EQ(rows, 10000u);
}

}  // namespace
}  // namespace fleettwin::agent
