// Text encodings of bytes used in key files, checkpoints and JSON output.
#ifndef FLEETTWIN_COMMON_ENCODING_H_
#define FLEETTWIN_COMMON_ENCODING_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "fleettwin/common/crypto.h"

namespace fleettwin {

// Standard base64 (RFC 4648 section 4) with padding.
std::string Base64Encode(Bytes data);
// Decodes standard padded base64; rejects other alphabets, missing padding, whitespace and
// non-zero trailing bits with InvalidArgument, so that each byte string has one encoding.
absl::StatusOr<std::vector<uint8_t>> Base64Decode(std::string_view text);

// Lower-case hexadecimal.
std::string HexEncode(Bytes data);
absl::StatusOr<std::vector<uint8_t>> HexDecode(std::string_view text);

// Strict UTF-8 (RFC 3629): no overlong forms, surrogates or code points above U+10FFFF.
bool IsValidUtf8(std::string_view text);
// The code points of strict UTF-8 text; InvalidArgument if it is not.
absl::StatusOr<std::u32string> DecodeUtf8(std::string_view text);

// Big-endian fixed-width integers (the byte order of ledger keys).
void PutBigEndian64(uint64_t value, uint8_t out[8]);
uint64_t GetBigEndian64(const uint8_t in[8]);

}  // namespace fleettwin

#endif  // FLEETTWIN_COMMON_ENCODING_H_
