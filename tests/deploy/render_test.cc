// fleetctl deploy render's library: what it writes for an assets file, that keys survive a
// second render, and that a bad assets file is refused with the line and the reason.
#include "fleettwin/deploy/render.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "testing/temp_dir.h"

namespace fleettwin::deploy {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

RenderOptions Options(const fs::path& dir, const std::string& assets_yaml) {
  std::ofstream(dir / "assets.yaml") << assets_yaml;
  RenderOptions o;
  o.assets_file = dir / "assets.yaml";
  o.out_dir = dir / "out";
  o.share_dir = FLEETTWIN_SOURCE_DIR;
  return o;
}

TEST(RenderTest, OneOverlayAndKeyPerAssetAndKeysSurviveARender) {
  testing::TempDir dir;
  const RenderOptions o = Options(dir.path(), R"(namespace: plant-7
image: registry.example/fleettwin:1.2
assets:
  - id: engine-1
    kind: cmapss-turbofan
    model: cmapss-fd001-mlp
    storage: 2Gi
  - {id: belt-2, kind: conveyor-belt, mqtt: "tcp://mosquitto:1883"}
  - {id: engine-3, kind: cmapss-turbofan, history: train_FD001.txt, history_units: 1-20}
)");
  absl::StatusOr<std::vector<RenderedAsset>> first = RenderManifests(o);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 3u);
  EXPECT_TRUE((*first)[0].new_key && (*first)[1].new_key);
  const std::string root = Read(o.out_dir / "kustomization.yaml");
  EXPECT_NE(root.find("namespace: plant-7"), std::string::npos) << root;
  EXPECT_NE(root.find("newName: \"registry.example/fleettwin\""), std::string::npos) << root;
  EXPECT_NE(root.find("newTag: \"1.2\""), std::string::npos) << root;
  EXPECT_NE(root.find("- assets/belt-2"), std::string::npos);
  EXPECT_NE(root.find("keys/agents/engine-1.curve-public"), std::string::npos);
  EXPECT_TRUE(fs::exists(o.out_dir / "base" / "kustomization.yaml"));
  EXPECT_TRUE(fs::exists(o.out_dir / "agent" / "agent.yaml"));
  const std::string patch = Read(o.out_dir / "assets" / "engine-1" / "patch.yaml");
  EXPECT_NE(patch.find("\"/usr/share/fleettwin/models/cmapss-fd001-mlp\""), std::string::npos);
  EXPECT_NE(patch.find("\"2Gi\""), std::string::npos);
  EXPECT_NE(Read(o.out_dir / "assets" / "belt-2" / "patch.yaml").find("\"tcp://mosquitto:1883\""),
            std::string::npos);
  EXPECT_TRUE(fs::exists(o.out_dir / "assets" / "belt-2" / "conveyor-belt.json"));
  // Writes only on the operator port; federated rounds for an asset with a history.
  EXPECT_NE(patch.find("\"--http-operator\""), std::string::npos);
  EXPECT_EQ(patch.find("\"--fl-server\""), std::string::npos);
  const std::string with_history = Read(o.out_dir / "assets" / "engine-3" / "patch.yaml");
  EXPECT_NE(with_history.find("\"fleet-coordinator:9092\""), std::string::npos);
  EXPECT_NE(with_history.find("\"/usr/share/fleettwin/cmapss/train_FD001.txt\""), std::string::npos);
  EXPECT_NE(with_history.find("\"1-20\""), std::string::npos);
  // The agent's secret lives only in its own overlay, owner-only.
  const fs::path secret = o.out_dir / "assets" / "engine-1" / "engine-1.curve-secret";
  ASSERT_TRUE(fs::exists(secret));
  EXPECT_FALSE(fs::exists(o.out_dir / "keys" / "agents" / "engine-1.curve-secret"));
  EXPECT_EQ(fs::status(secret).permissions() & (fs::perms::group_all | fs::perms::others_all),
            fs::perms::none);

  const std::string key = Read(secret);
  absl::StatusOr<std::vector<RenderedAsset>> second = RenderManifests(o);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE((*second)[0].new_key || (*second)[1].new_key || (*second)[2].new_key);
  EXPECT_EQ(Read(secret), key);
}

TEST(RenderTest, BadAssetFilesAreRefusedWithTheReason) {
  const std::pair<std::string, std::string> cases[] = {
      {"assets: [", "assets.yaml"},
      {"assets: []\n", "non-empty list"},
      {"asets:\n  - {id: a, kind: cmapss-turbofan}\n", "unknown field 'asets'"},
      {"assets:\n  - {id: A_1, kind: cmapss-turbofan}\n", "line 2: id 'A_1'"},
      {"assets:\n  - {id: a, kind: cmapss-turbofan}\n  - {id: a, kind: conveyor-belt}\n",
       "asset id 'a' twice"},
      {"assets:\n  - {id: a, kind: no-such-kind}\n", "no-such-kind"},
      {"assets:\n  - {id: a}\n", "needs an id and a kind"},
      {"assets:\n  - {id: a, kind: cmapss-turbofan, storage: lots}\n", "storage 'lots'"},
      {"assets:\n  - {id: a, kind: cmapss-turbofan, colour: red}\n", "unknown asset field 'colour'"},
      {"assets:\n  - {id: a, kind: cmapss-turbofan, storage: 0Gi}\n", "storage '0Gi'"},
      {"assets:\n  - {id: a, kind: cmapss-turbofan, storage: 512}\n", "storage '512'"},
      {"assets:\n  - {[x]: a, kind: cmapss-turbofan}\n", "assets.yaml"},
      {"? [a, b]\n: c\nassets: []\n", "assets.yaml"},
      {"assets:\n  - {id: a, kind: cmapss-turbofan, history: nothere.txt}\n", "nothere.txt"},
      {"assets:\n  - {id: a, kind: cmapss-turbofan, history_units: 1-2}\n", "needs history"},
  };
  for (const auto& [yaml, reason] : cases) {
    testing::TempDir dir;
    absl::StatusOr<std::vector<RenderedAsset>> r = RenderManifests(Options(dir.path(), yaml));
    ASSERT_FALSE(r.ok()) << yaml;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << yaml;
    EXPECT_NE(r.status().ToString().find(reason), std::string::npos) << r.status() << "\n" << yaml;
  }
}

}  // namespace
}  // namespace fleettwin::deploy
