#include <gtest/gtest.h>

#include "fleettwin/model/rul_model.h"
#include "testing/process.h"
#include "testing/temp_dir.h"

namespace fleettwin::model {
namespace {

const std::string kData = std::string(FLEETTWIN_SOURCE_DIR) + "/data/cmapss";

TEST(ModelEvalTest, HelpListsTheFlags) {
  auto [rc, out] = testing::RunTool({MODEL_EVAL_BINARY, "--help"});
  EXPECT_EQ(rc, 0);
  for (const char* flag : {"--data", "--seeds", "--epochs", "--out", "--quick"}) {
    EXPECT_NE(out.find(flag), std::string::npos) << flag;
  }
}

TEST(ModelEvalTest, QuickRunPrintsFiguresAndSavesALoadableModel) {
  testing::TempDir dir;
  const std::string out_dir = (dir.path() / "model").string();
  auto [rc, out] = testing::RunTool(
      {MODEL_EVAL_BINARY, "--data", kData, "--seeds", "4,5", "--quick", "--out", out_dir});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("seed 4: test RMSE"), std::string::npos) << out;
  EXPECT_NE(out.find("seed 5: test RMSE"), std::string::npos) << out;
  EXPECT_NE(out.find("mean over 2 seeds"), std::string::npos) << out;
  EXPECT_NE(out.find("target RMSE <= 13.0"), std::string::npos) << out;
  absl::StatusOr<RulModel> model = RulModel::Load(out_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_NE(out.find(model->version()), std::string::npos) << out;
}

TEST(ModelEvalTest, RefusesBadArguments) {
  EXPECT_NE(testing::RunTool({MODEL_EVAL_BINARY, "--seeds", "1,x", "--quick"}).first, 0);
  EXPECT_NE(testing::RunTool({MODEL_EVAL_BINARY, "--data", "/nonexistent", "--quick"}).first, 0);
}

}  // namespace
}  // namespace fleettwin::model
