#include "fleettwin/agent/asset_kind.h"

#include <gtest/gtest.h>

#include <string>

namespace fleettwin::agent {
namespace {

const std::string kKinds = std::string(FLEETTWIN_SOURCE_DIR) + "/kinds/";

constexpr char kMinimal[] = R"({
  "kind": "pump",
  "time": {"unit": "s", "period": 1},
  "channels": [{"name": "pressure", "unit": "bar", "min": 0, "max": 10}]
})";

std::string WithField(const std::string& replace_from, const std::string& replace_to) {
  std::string text = kMinimal;
  const size_t at = text.find(replace_from);
  EXPECT_NE(at, std::string::npos);
  text.replace(at, replace_from.size(), replace_to);
  return text;
}

TEST(AssetKindTest, ShippedKindsLoad) {
  for (const char* name : {"cmapss-turbofan", "conveyor-belt", "ai4i-milling"}) {
    absl::StatusOr<AssetKind> kind = LoadAssetKind(kKinds + name + ".json");
    ASSERT_TRUE(kind.ok()) << name << ": " << kind.status();
    EXPECT_EQ(kind->name, name);
    EXPECT_FALSE(kind->channels.empty());
  }
  absl::StatusOr<AssetKind> cmapss = LoadAssetKind(kKinds + "cmapss-turbofan.json");
  ASSERT_TRUE(cmapss.ok());
  EXPECT_EQ(cmapss->channels.size(), 24u);  // 3 settings + 21 sensors.
  EXPECT_EQ(cmapss->time_unit, "cycle");
  ASSERT_TRUE(cmapss->FeatureIndex("s11_mean_30"));
  EXPECT_EQ(cmapss->features[*cmapss->FeatureIndex("s11_mean_30")].window, 30u);
}

TEST(AssetKindTest, MinimalKindGetsDefaults) {
  absl::StatusOr<AssetKind> kind = ParseAssetKind(kMinimal);
  ASSERT_TRUE(kind.ok()) << kind.status();
  EXPECT_EQ(kind->period, 1.0);
  EXPECT_EQ(kind->min_interval, 0.5);
  EXPECT_TRUE(kind->channels[0].required);
  EXPECT_EQ(kind->anomaly.method, AnomalyMethod::kEwma);
  EXPECT_TRUE(kind->features.empty());
}

TEST(AssetKindTest, ErrorsNameTheField) {
  struct Case {
    std::string text;
    std::string message;
  };
  const Case cases[] = {
      {"{", "not valid JSON"},
      {"[]", "must be an object"},
      {WithField("\"kind\": \"pump\"", "\"kind\": \"p u m p\""), "kind:"},
      {WithField("\"period\": 1", "\"period\": 0"), "time.period: must be positive"},
      {WithField("\"max\": 10", "\"max\": -1"), "channels[0].max: must not be below min"},
      {WithField("\"max\": 10", "\"max\": \"10\""), "channels[0].max: must be a number"},
      {WithField("\"unit\": \"bar\"", "\"unti\": \"bar\""), "channels[0].unti: unknown key"},
      {WithField("\"kind\": \"pump\"", "\"kind\": \"pump\", \"color\": 1"), "color: unknown key"},
      {WithField("\"channels\"",
                 "\"features\": [{\"name\": \"f\", \"channel\": \"nope\", "
                 "\"op\": \"mean\", \"window\": 5}], \"channels\""),
       "features[0].channel: names no channel"},
      {WithField("\"channels\"",
                 "\"features\": [{\"name\": \"f\", \"channel\": \"pressure\", "
                 "\"op\": \"median\", \"window\": 5}], \"channels\""),
       "features[0].op"},
      {WithField("\"channels\"",
                 "\"health\": [{\"name\": \"h\", \"source\": \"pressure\", "
                 "\"warn\": 5, \"alarm\": 4}], \"channels\""),
       "health[0].alarm"},
      {WithField("\"channels\"", "\"anomaly\": {\"method\": \"zscore\"}, \"channels\""),
       "anomaly.method"},
      {WithField("}]", "}, {\"name\": \"pressure\", \"min\": 0, \"max\": 1}]"),
       "channels[1].name: is used twice"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<AssetKind> kind = ParseAssetKind(c.text);
    ASSERT_FALSE(kind.ok()) << c.text;
    EXPECT_EQ(kind.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(kind.status().message()).find(c.message), std::string::npos)
        << "got: " << kind.status().message() << "\nwant: " << c.message;
  }
  EXPECT_EQ(LoadAssetKind(kKinds + "missing.json").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace fleettwin::agent
