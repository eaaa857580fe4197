#include "fleettwin/ledger/audit_json.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "fleettwin/common/encoding.h"

namespace fleettwin::ledger {
namespace {

std::string B64(const Hash& h) { return Base64Encode(Bytes(h.data(), h.size())); }

nlohmann::json HashList(const std::vector<Hash>& hashes) {
  nlohmann::json list = nlohmann::json::array();
  for (const Hash& h : hashes) list.push_back(B64(h));
  return list;
}

}  // namespace

absl::StatusOr<std::string> InclusionProofJson(const LedgerReader& ledger, uint64_t index,
                                               std::optional<uint64_t> tree_size) {
  absl::StatusOr<SignedCheckpoint> cp =
      tree_size ? ledger.CheckpointAt(*tree_size) : ledger.LatestCheckpoint();
  if (!cp.ok()) {
    if (absl::IsNotFound(cp.status()) && tree_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "no signed checkpoint for size ", *tree_size,
          "; proofs are given against checkpointed sizes ('fleet-audit checkpoint DIR --list')"));
    }
    return cp.status();
  }
  const uint64_t size = cp->checkpoint.size;
  absl::StatusOr<std::vector<Hash>> proof = ledger.ProveInclusion(index, size);
  if (!proof.ok()) return proof.status();
  absl::StatusOr<std::string> leaf = ledger.GetLeaf(index);
  if (!leaf.ok()) return leaf.status();
  nlohmann::ordered_json doc;
  doc["index"] = index;
  doc["tree_size"] = size;
  doc["leaf_hash"] = B64(LeafHash(AsBytes(*leaf)));
  doc["hashes"] = HashList(*proof);
  doc["checkpoint"] = cp->note;
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<std::string> ConsistencyProofJson(const LedgerReader& ledger, uint64_t old_size,
                                                 uint64_t new_size) {
  absl::StatusOr<std::vector<Hash>> proof = ledger.ProveConsistency(old_size, new_size);
  if (!proof.ok()) return proof.status();
  nlohmann::ordered_json doc;
  doc["old_size"] = old_size;
  doc["new_size"] = new_size;
  doc["hashes"] = HashList(*proof);
  return doc.dump();
}

absl::Status ExportJsonLines(const LedgerReader& ledger, uint64_t begin, uint64_t end,
                             std::ostream& out) {
  absl::Status status = ledger.Scan(begin, end, [&](const Entry& e, const std::string& leaf) {
    nlohmann::ordered_json doc;
    doc["index"] = e.index;
    doc["kind"] = e.kind;
    doc["author"] = e.author;
    doc["revision"] = e.revision;
    doc["wall_time_nanos"] = e.wall_time_nanos;
    doc["payload"] = Base64Encode(AsBytes(e.payload));
    doc["prev_hash"] = B64(e.prev_hash);
    doc["leaf"] = Base64Encode(AsBytes(leaf));
    doc["leaf_hash"] = B64(LeafHash(AsBytes(leaf)));
    // Kinds and authors are not guaranteed UTF-8; replace rather than throw.
    out << doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return static_cast<bool>(out);
  });
  if (!status.ok()) return status;
  out.flush();
  if (!out) return absl::UnavailableError("cannot write the export (output closed or full)");
  return absl::OkStatus();
}

}  // namespace fleettwin::ledger
