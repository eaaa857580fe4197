// The bytes of twin ledger entries: TwinUpdate and SampleRejection of proto/twin.capnp, in
// canonical Cap'n Proto encoding. Decoding never trusts its input.
#ifndef FLEETTWIN_AGENT_TWIN_RECORDS_H_
#define FLEETTWIN_AGENT_TWIN_RECORDS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "fleettwin/agent/twin.h"
#include "fleettwin/common/crypto.h"

namespace fleettwin::agent {

// Ledger entry kinds.
inline constexpr char kTwinUpdateKind[] = "twin.update";
inline constexpr char kTwinRejectionKind[] = "twin.rejection";
// The asset kind the twin runs with: payload = the kind file's bytes (JSON), written on the
// first start and whenever the file changes, before any update made under it.
inline constexpr char kTwinKindKind[] = "twin.kind";

std::string EncodeTwinUpdate(std::string_view asset, uint64_t revision, const TwinChange& change);

struct DecodedUpdate {
  std::string asset;
  uint64_t revision = 0;
  TwinChange change;
};
// Errors: DataLoss for bytes that are not a TwinUpdate; InvalidArgument if a sample does not
// carry exactly `channels` values.
absl::StatusOr<DecodedUpdate> DecodeTwinUpdate(Bytes payload, size_t channels);

// `raw` is cut to 1 KiB.
std::string EncodeRejection(std::string_view asset, double time, const Rejection& rejection,
                            std::string_view raw);

struct DecodedRejection {
  std::string asset;
  double time = 0;
  Rejection rejection;
  std::string raw;
};
// Errors: DataLoss, including an unknown reason name.
absl::StatusOr<DecodedRejection> DecodeRejection(Bytes payload);

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_TWIN_RECORDS_H_
