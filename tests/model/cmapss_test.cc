#include "fleettwin/model/cmapss.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "testing/temp_dir.h"

namespace fleettwin::model {
namespace {

const std::string kData = std::string(FLEETTWIN_SOURCE_DIR) + "/data/cmapss/";

TEST(CmapssTest, ReadsFd001) {
  absl::StatusOr<Dataset> train = ReadCmapss(kData + "train_FD001.txt");
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->channels, CmapssChannels());
  ASSERT_EQ(train->units.size(), 100u);
  size_t rows = 0, shortest = 1000, longest = 0;
  for (const UnitSeries& u : train->units) {
    rows += u.rows.size();
    shortest = std::min(shortest, u.rows.size());
    longest = std::max(longest, u.rows.size());
    for (const std::vector<double>& r : u.rows) ASSERT_EQ(r.size(), 24u);
  }
  EXPECT_EQ(rows, 20631u);
  EXPECT_EQ(shortest, 128u);
  EXPECT_EQ(longest, 362u);
  EXPECT_EQ(train->units[0].unit, 1);
  EXPECT_DOUBLE_EQ(train->units[0].rows[0][4], 641.82);  // s2 of unit 1, cycle 1.

  absl::StatusOr<Dataset> test = ReadCmapss(kData + "test_FD001.txt");
  ASSERT_TRUE(test.ok()) << test.status();
  ASSERT_EQ(test->units.size(), 100u);
  shortest = 1000;
  for (const UnitSeries& u : test->units) shortest = std::min(shortest, u.rows.size());
  EXPECT_EQ(shortest, 31u);
  absl::StatusOr<std::vector<double>> rul = ReadRulFile(kData + "RUL_FD001.txt");
  ASSERT_TRUE(rul.ok()) << rul.status();
  ASSERT_EQ(rul->size(), 100u);
  EXPECT_EQ(*std::min_element(rul->begin(), rul->end()), 7);
  EXPECT_EQ(*std::max_element(rul->begin(), rul->end()), 145);
}

TEST(CmapssTest, RefusesMalformedFiles) {
  testing::TempDir dir;
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path() / name) << text;
    return dir.path() / name;
  };
  std::string row = " 0 0 100";
  for (int i = 0; i < 21; ++i) row += " 1.5";
  EXPECT_TRUE(ReadCmapss(write("ok.txt", "1 1" + row + "  \n1 2" + row + "\n")).ok());
  EXPECT_EQ(ReadCmapss(dir.path() / "missing.txt").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadCmapss(write("cols.txt", "1 1 0 0\n")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadCmapss(write("gap.txt", "1 1" + row + "\n1 3" + row + "\n")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadCmapss(write("split.txt", "1 1" + row + "\n2 1" + row + "\n1 2" + row + "\n"))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadCmapss(write("nan.txt", "1 1" + row + " x\n")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadCmapss(write("empty.txt", "")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadRulFile(write("rul.txt", "12 \n-1 \n")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadRulFile(write("rul2.txt", "12 3\n")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CmapssTest, DropsConstantSensorsOfFd001) {
  absl::StatusOr<Dataset> train = ReadCmapss(kData + "train_FD001.txt");
  ASSERT_TRUE(train.ok());
  std::vector<std::string> sensors;
  for (int i = 1; i <= 21; ++i) sensors.push_back(absl::StrCat("s", i));
  EXPECT_EQ(InformativeChannels(*train, sensors),
            (std::vector<std::string>{"s2", "s3", "s4", "s7", "s8", "s9", "s11", "s12", "s13",
                                      "s14", "s15", "s17", "s20", "s21"}));
  // os3 is constant in FD001; unknown names are skipped.
  EXPECT_EQ(InformativeChannels(*train, std::vector<std::string>{"os3", "s1", "nope", "s2"}),
            std::vector<std::string>{"s2"});
}

TEST(CmapssTest, ConstantMeansStdBelowQuantisationStep) {
  Dataset d{{"flat", "flicker", "moving"}, {{1, {}}}};
  for (int i = 0; i < 100; ++i) {
    // "flicker" is recorded at 0.01 resolution and changes twice in 100 rows, like FD001's s6.
    d.units[0].rows.push_back({3.0, i == 10 || i == 50 ? 21.61 : 21.60, 0.01 * (i % 7)});
  }
  EXPECT_EQ(InformativeChannels(d, d.channels), std::vector<std::string>{"moving"});
}

TEST(CmapssTest, CappedPiecewiseLinearTarget) {
  EXPECT_EQ(CappedRul(4, 125), (std::vector<double>{3, 2, 1, 0}));
  const std::vector<double> rul = CappedRul(200, 125);
  EXPECT_EQ(rul[0], 125);
  EXPECT_EQ(rul[74], 125);   // 200 - 1 - 74 = 125.
  EXPECT_EQ(rul[75], 124);
  EXPECT_EQ(rul[199], 0);
}

TEST(CmapssTest, WindowsPadWithTheFirstRow) {
  std::vector<std::vector<double>> rows;
  for (int i = 0; i < 5; ++i) rows.push_back({double(i), double(10 * i)});
  EXPECT_EQ(WindowEndingAt(rows, 4, 3),
            (std::vector<std::vector<double>>{{2, 20}, {3, 30}, {4, 40}}));
  EXPECT_EQ(WindowEndingAt(rows, 1, 4),
            (std::vector<std::vector<double>>{{0, 0}, {0, 0}, {0, 0}, {1, 10}}));
  EXPECT_EQ(WindowEndingAt(rows, 4, 5), rows);
  EXPECT_EQ(WindowEndingAt(rows, 0, 1), (std::vector<std::vector<double>>{{0, 0}}));
}

TEST(CmapssTest, ScoresByHand) {
  // d = -13: e^1 - 1; d = +10: e^1 - 1; d = 0: 0; d = -26: e^2 - 1.
  const std::vector<double> truth = {50, 50, 50, 50};
  const std::vector<double> pred = {37, 60, 50, 24};
  const double e = std::exp(1.0);
  EXPECT_NEAR(PhmScore(pred, truth), (e - 1) + (e - 1) + 0 + (e * e - 1), 1e-12);
  EXPECT_NEAR(PhmScore(std::vector<double>{80}, std::vector<double>{100}),
              std::exp(20.0 / 13) - 1, 1e-12);
  EXPECT_NEAR(PhmScore(std::vector<double>{120}, std::vector<double>{100}), std::exp(2.0) - 1,
              1e-12);
  // Late is punished harder than early by the same amount.
  EXPECT_GT(PhmScore(std::vector<double>{60}, std::vector<double>{50}),
            PhmScore(std::vector<double>{40}, std::vector<double>{50}));
  EXPECT_NEAR(Rmse(pred, truth), std::sqrt((169.0 + 100 + 0 + 676) / 4), 1e-12);
}

TEST(CmapssTest, ZScoreFitsTheGivenRowsOnly) {
  Dataset train{{"a", "b"}, {{1, {{1, 10}, {3, 10}}}, {2, {{5, 10}}}}};
  const ZScore z = ZScore::Fit(train);
  EXPECT_DOUBLE_EQ(z.mean[0], 3);
  EXPECT_DOUBLE_EQ(z.std[0], std::sqrt(8.0 / 3));
  EXPECT_DOUBLE_EQ(z.mean[1], 10);
  EXPECT_GT(z.std[1], 0);  // A constant channel does not divide by zero.
  std::vector<double> row = {3 + std::sqrt(8.0 / 3), 10};
  z.Apply(row);
  EXPECT_DOUBLE_EQ(row[0], 1);
  EXPECT_DOUBLE_EQ(row[1], 0);
}

TEST(CmapssTest, SelectsChannelsByName) {
  Dataset d{{"a", "b", "c"}, {{7, {{1, 2, 3}}}}};
  absl::StatusOr<Dataset> s = SelectChannels(d, std::vector<std::string>{"c", "a"});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->channels, (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(s->units[0].unit, 7);
  EXPECT_EQ(s->units[0].rows[0], (std::vector<double>{3, 1}));
  EXPECT_FALSE(SelectChannels(d, std::vector<std::string>{"z"}).ok());
}

}  // namespace
}  // namespace fleettwin::model
