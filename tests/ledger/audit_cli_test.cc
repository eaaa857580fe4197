// fleet-ledger and fleet-audit as an operator and an auditor use them: real processes, exit
// codes, and proofs checked with code that is not the tools' own.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>

#include "fleettwin/common/encoding.h"
#include "fleettwin/ledger/merkle.h"
#include "fleettwin/ledger/note.h"
#include "ledger_test_util.h"
#include "naive_merkle.h"

namespace fleettwin::ledger {
namespace {

struct Result {
  int code = -1;
  std::string out;
};

// Runs a shell command; stdout is captured, stderr discarded.
Result Shell(const std::string& command) {
  Result r;
  FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) r.out.append(buffer, n);
  const int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

Hash HashFromBase64(const std::string& text) {
  absl::StatusOr<std::vector<uint8_t>> bytes = Base64Decode(text);
  Hash h{};
  EXPECT_TRUE(bytes.ok() && bytes->size() == 32) << text;
  if (bytes.ok() && bytes->size() == 32) std::copy(bytes->begin(), bytes->end(), h.begin());
  return h;
}

class AuditCliTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return (dir_.path() / name).string(); }
  testing::TempDir dir_;
  const std::string ledger_ = FLEETTWIN_FLEET_LEDGER;
  const std::string audit_ = FLEETTWIN_FLEET_AUDIT;
};

TEST_F(AuditCliTest, KeygenAppendVerifyProveExport) {
  const std::string key = Path("k");
  Result keygen = Shell(ledger_ + " keygen --name cli.test/log --out " + key);
  ASSERT_EQ(keygen.code, 0);
  struct stat st;
  ASSERT_EQ(::stat((key + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream vkey_file(key + ".vkey");
  std::string vkey_text;
  std::getline(vkey_file, vkey_text);
  EXPECT_EQ(keygen.out, vkey_text + "\n");
  absl::StatusOr<VerifierKey> vkey = ParseVerifierKey(vkey_text);
  ASSERT_TRUE(vkey.ok()) << vkey.status();

  // Two appends: 25 lines, then 3; each prints the acknowledged indices in order.
  const std::string db = Path("db");
  Result first = Shell("seq 1 25 | " + ledger_ + " append " + db + " --key " + key + ".key");
  ASSERT_EQ(first.code, 0);
  Result second = Shell("printf 'a\\nb\\nc\\n' | " + ledger_ + " append " + db + " --key " + key +
                        ".key --kind manual --author op");
  ASSERT_EQ(second.code, 0);
  EXPECT_EQ(second.out, "25\n26\n27\n");

  Result verify = Shell(audit_ + " verify " + db + " --key " + key + ".vkey");
  EXPECT_EQ(verify.code, 0) << verify.out;
  EXPECT_NE(verify.out.find("entries:     28"), std::string::npos) << verify.out;

  Result list = Shell(audit_ + " checkpoint " + db + " --list");
  ASSERT_EQ(list.code, 0);
  EXPECT_EQ(list.out, "25\n28\n");
  Result latest = Shell(audit_ + " checkpoint " + db);
  ASSERT_EQ(latest.code, 0);
  absl::StatusOr<Checkpoint> cp = OpenCheckpoint(latest.out, *vkey);
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size, 28u);
  EXPECT_EQ(cp->origin, "cli.test/log");

  // Export gives the leaves; an independent tree over them must match the checkpoint.
  Result exported = Shell(audit_ + " export " + db);
  ASSERT_EQ(exported.code, 0);
  naive::Leaves leaves;
  std::istringstream lines(exported.out);
  std::string line;
  while (std::getline(lines, line)) {
    nlohmann::json e = nlohmann::json::parse(line);
    auto leaf = Base64Decode(e["leaf"].get<std::string>());
    ASSERT_TRUE(leaf.ok());
    leaves.emplace_back(leaf->begin(), leaf->end());
    EXPECT_EQ(e["index"].get<uint64_t>(), leaves.size() - 1);
  }
  ASSERT_EQ(leaves.size(), 28u);
  EXPECT_EQ(naive::Mth(leaves, 0, 28), cp->root);

  // Inclusion proof of entry 26 against the latest checkpoint, and against size 25.
  for (const std::string size_flag : {"", " --size 25"}) {
    const uint64_t index = size_flag.empty() ? 26 : 7;
    Result prove = Shell(audit_ + " prove " + db + " " + std::to_string(index) + size_flag);
    ASSERT_EQ(prove.code, 0) << size_flag;
    nlohmann::json p = nlohmann::json::parse(prove.out);
    const uint64_t size = p["tree_size"];
    EXPECT_EQ(size, size_flag.empty() ? 28u : 25u);
    absl::StatusOr<Checkpoint> signed_cp =
        OpenCheckpoint(p["checkpoint"].get<std::string>(), *vkey);
    ASSERT_TRUE(signed_cp.ok());
    std::vector<Hash> hashes;
    for (const auto& h : p["hashes"]) hashes.push_back(HashFromBase64(h.get<std::string>()));
    const Hash leaf_hash = HashFromBase64(p["leaf_hash"].get<std::string>());
    EXPECT_EQ(leaf_hash, LeafHash(AsBytes(leaves[index])));
    Hash walked;
    ASSERT_TRUE(naive::RootFromPath(index, size, leaf_hash, hashes, walked));
    EXPECT_EQ(walked, signed_cp->root);
    EXPECT_TRUE(VerifyInclusion(leaf_hash, index, size, hashes, signed_cp->root).ok());
  }

  Result consistency = Shell(audit_ + " consistency " + db + " 25 28");
  ASSERT_EQ(consistency.code, 0);
  nlohmann::json c = nlohmann::json::parse(consistency.out);
  std::vector<Hash> proof;
  for (const auto& h : c["hashes"]) proof.push_back(HashFromBase64(h.get<std::string>()));
  EXPECT_EQ(proof, naive::Proof(25, leaves, 28));
  EXPECT_TRUE(VerifyConsistency(25, 28, naive::Mth(leaves, 0, 25), cp->root, proof).ok());
}

TEST_F(AuditCliTest, ExitCodesForBadInput) {
  const std::string key = Path("k");
  ASSERT_EQ(Shell(ledger_ + " keygen --name cli.test/log --out " + key).code, 0);
  const std::string db = Path("db");
  ASSERT_EQ(Shell("seq 1 5 | " + ledger_ + " append " + db + " --key " + key + ".key").code, 0);

  // Refusing to overwrite keys leaves nothing half-written.
  EXPECT_EQ(Shell(ledger_ + " keygen --name other --out " + key).code, 3);
  ASSERT_EQ(Shell("mv " + key + ".vkey " + Path("saved.vkey")).code, 0);
  EXPECT_EQ(Shell(ledger_ + " keygen --name other --out " + key).code, 3);
  EXPECT_FALSE(std::filesystem::exists(key + ".vkey"));
  ASSERT_EQ(Shell(ledger_ + " keygen --name cli.test/log --out " + Path("k2")).code, 0);

  EXPECT_EQ(Shell(audit_ + " verify " + db + " --key " + Path("k2") + ".vkey").code, 1);
  EXPECT_EQ(Shell(audit_ + " verify " + db + " --key " + key + ".key").code, 2);  // Secret key.
  EXPECT_EQ(Shell(audit_ + " verify " + db + " --key " + Path("missing")).code, 3);
  EXPECT_EQ(Shell(audit_ + " verify " + Path("nothing") + " --key " + Path("k2") + ".vkey").code,
            3);
  EXPECT_EQ(Shell(audit_ + " prove " + db + " 9").code, 2);           // Beyond the ledger.
  EXPECT_EQ(Shell(audit_ + " prove " + db + " 1 --size 3").code, 2);  // Not a checkpoint.
  EXPECT_EQ(Shell(audit_ + " consistency " + db + " 4 2").code, 2);
  EXPECT_EQ(Shell(audit_ + " verify " + db + " --bogus").code, 2);  // Syntax.
  EXPECT_EQ(Shell(audit_ + " prove " + db + " notanumber").code, 2);
  EXPECT_EQ(Shell(audit_).code, 2);  // No subcommand.
  EXPECT_EQ(Shell(audit_ + " --help").code, 0);
  EXPECT_EQ(Shell(ledger_ + " append --help").code, 0);
  // Writing somewhere that cannot take it is an error, not a silent success.
  EXPECT_NE(Shell(audit_ + " export " + db + " > /dev/full").code, 0);
  // Another key cannot append; an origin that is not one printable UTF-8 line is refused.
  EXPECT_EQ(Shell("echo x | " + ledger_ + " append " + db + " --key " + Path("k2") + ".key").code,
            2);
  EXPECT_EQ(Shell("echo x | " + ledger_ + " append " + Path("db2") + " --key " + key +
                  ".key --origin \"$(printf 'bad\\377')\"")
                .code,
            2);
  EXPECT_EQ(
      Shell(ledger_ + " keygen --name \"$(printf 'bad\\355\\240\\200')\" --out " + Path("k3")).code,
      2);
  // A checkpoint kept from an earlier audit: fine while the ledger grows, refused if it is not
  // a signed note of the key.
  ASSERT_EQ(Shell(audit_ + " checkpoint " + db + " > " + Path("cp5")).code, 0);
  ASSERT_EQ(Shell("seq 1 3 | " + ledger_ + " append " + db + " --key " + key + ".key").code, 0);
  EXPECT_EQ(
      Shell(audit_ + " verify " + db + " --key " + Path("saved.vkey") + " --trusted " + Path("cp5"))
          .code,
      0);
  EXPECT_EQ(Shell(audit_ + " verify " + db + " --key " + Path("saved.vkey") + " --trusted " +
                  Path("saved.vkey"))
                .code,
            2);
  // The ledger is unchanged by all of the above.
  EXPECT_EQ(Shell(audit_ + " verify " + db + " --key " + Path("saved.vkey")).code, 0);
}

}  // namespace
}  // namespace fleettwin::ledger
