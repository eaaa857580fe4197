#include "fleettwin/model/shared_start.h"

#include <gtest/gtest.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "fleettwin/model/rul_model.h"

namespace fleettwin::model {
namespace {

const std::string kData = std::string(FLEETTWIN_SOURCE_DIR) + "/data/cmapss/";

Dataset Fd001Train() {
  absl::StatusOr<Dataset> train = ReadCmapss(kData + "train_FD001.txt");
  EXPECT_TRUE(train.ok()) << train.status();
  return train.ok() ? *train : Dataset{};
}

// Contiguous unit ranges, like the federation's non-IID split.
std::vector<Dataset> Split(const Dataset& all, size_t parts) {
  std::vector<Dataset> out(parts, Dataset{all.channels, {}});
  for (size_t u = 0; u < all.units.size(); ++u) {
    out[u * parts / all.units.size()].units.push_back(all.units[u]);
  }
  return out;
}

std::vector<std::string> Sensors() {
  std::vector<std::string> s;
  for (int i = 1; i <= 21; ++i) s.push_back(absl::StrCat("s", i));
  return s;
}

TEST(SharedStartTest, MergedPartsEqualTheWhole) {
  const Dataset all = Fd001Train();
  const ChannelSummary whole = SummarizeChannels(all, Sensors());
  std::vector<Dataset> parts = Split(all, 10);
  ChannelSummary merged = SummarizeChannels(parts[0], Sensors());
  for (size_t k = 1; k < parts.size(); ++k) {
    ASSERT_TRUE(merged.Merge(SummarizeChannels(parts[k], Sensors())).ok());
  }
  for (size_t c = 0; c < whole.channels.size(); ++c) {
    EXPECT_EQ(merged.count[c], whole.count[c]);
    EXPECT_NEAR(merged.mean[c], whole.mean[c], 1e-9 * std::max(1.0, std::abs(whole.mean[c])));
    EXPECT_NEAR(merged.m2[c], whole.m2[c], 1e-7 * std::max(1.0, whole.m2[c]));
  }
  EXPECT_EQ(VaryingChannels(merged), InformativeChannels(all, Sensors()));

  // The feature normalisation from merged parts matches the whole's.
  TrainOptions o;
  o.ensemble = 2;
  absl::StatusOr<RulModel> start = StartFromSummary(merged, o);
  ASSERT_TRUE(start.ok()) << start.status();
  absl::StatusOr<FeatureSummary> whole_features = start->SummarizeFeatures(all);
  ASSERT_TRUE(whole_features.ok());
  FeatureSummary features = *start->SummarizeFeatures(parts[0]);
  for (size_t k = 1; k < parts.size(); ++k) {
    ASSERT_TRUE(features.Merge(*start->SummarizeFeatures(parts[k])).ok());
  }
  for (size_t f = 0; f < features.mean.size(); ++f) {
    EXPECT_EQ(features.count[f], whole_features->count[f]);
    EXPECT_NEAR(features.mean[f], whole_features->mean[f],
                1e-6 * std::max(1.0, std::abs(whole_features->mean[f])));
    EXPECT_NEAR(features.m2[f], whole_features->m2[f], 1e-6 * std::max(1.0, whole_features->m2[f]));
  }
  const std::string before = start->version();
  ASSERT_TRUE(start->SetFeatureNormalization(features).ok());
  EXPECT_NE(start->version(), before);
}

TEST(SharedStartTest, OneSummaryOfEverythingGivesTrainsNormalisation) {
  Dataset all = Fd001Train();
  all.units.resize(20);
  TrainOptions o;
  o.ensemble = 1;
  o.hidden = {8};
  o.max_epochs = 1;
  o.patience = 0;
  absl::StatusOr<RulModel> trained = Train(all, o);
  ASSERT_TRUE(trained.ok());
  absl::StatusOr<RulModel> start = StartFromSummary(SummarizeChannels(all, Sensors()), o);
  ASSERT_TRUE(start.ok());
  ASSERT_TRUE(start->SetFeatureNormalization(*start->SummarizeFeatures(all)).ok());
  EXPECT_EQ(start->input_channels(), trained->input_channels());
  // Same spec: with the trained weights and uncertainty the versions agree.
  ASSERT_TRUE(start->SetParameters(trained->parameters()).ok());
  const auto [a, b] = trained->uncertainty();
  ASSERT_TRUE(start->SetUncertainty(a, b).ok());
  EXPECT_EQ(start->version(), trained->version());
}

TEST(SharedStartTest, SummariesRoundTripThroughNpyAndRefuseGarbage) {
  const Dataset all = Fd001Train();
  const ChannelSummary s = SummarizeChannels(all, Sensors());
  absl::StatusOr<ChannelSummary> back = ChannelSummary::FromNpy(Sensors(), s.ToNpy());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->count, s.count);
  EXPECT_EQ(back->mean, s.mean);
  EXPECT_EQ(back->m2, s.m2);
  EXPECT_EQ(back->step, s.step);  // Including the constant channels' infinite step.

  EXPECT_FALSE(ChannelSummary::FromNpy({"s1"}, s.ToNpy()).ok()) << "wrong channel count";
  const std::vector<double> negative = {-1, 0, 0, 1};
  EXPECT_FALSE(
      ChannelSummary::FromNpy({"s1"}, MakeNpy<double>({4, 1}, absl::MakeConstSpan(negative))).ok());
  const std::vector<float> f32 = {1, 0, 0, 1};
  EXPECT_FALSE(ChannelSummary::FromNpy({"s1"}, MakeNpy<float>({4, 1}, absl::MakeConstSpan(f32))).ok());
  const std::vector<double> nan = {1, NAN, 0};
  EXPECT_FALSE(FeatureSummary::FromNpy(MakeNpy<double>({3, 1}, absl::MakeConstSpan(nan))).ok());

  ChannelSummary other = s;
  other.channels.pop_back();
  EXPECT_FALSE(ChannelSummary(s).Merge(other).ok());
  FeatureSummary f{{1}, {0}, {0}};
  EXPECT_FALSE(f.Merge(FeatureSummary{{1, 1}, {0, 0}, {0, 0}}).ok());

  TrainOptions o;
  o.ensemble = 1;
  absl::StatusOr<RulModel> start = StartFromSummary(s, o);
  ASSERT_TRUE(start.ok());
  EXPECT_FALSE(start->SetFeatureNormalization(f).ok()) << "wrong feature count";
  EXPECT_FALSE(start->SetUncertainty(NAN, 0).ok());
  // No varying channel: refused.
  ChannelSummary constant = SummarizeChannels(all, {"s1", "s5"});
  EXPECT_FALSE(StartFromSummary(constant, o).ok());
}

}  // namespace
}  // namespace fleettwin::model
