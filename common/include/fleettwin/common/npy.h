// NumPy's `.npy` file format, version 1.0 (and reading 2.0), for the four numeric dtypes the
// project exchanges: little-endian float32, float64, int32 and int64 in C order, any shape
// including 0-d. Model parameters travel as `.npy` so that they can be checked with NumPy.
//
// Decoding treats its input as untrusted bytes: it never crashes, it refuses pickled/object
// dtypes, Fortran order, big-endian data, absurd shapes and any length mismatch. It does not
// support structured dtypes, strings, booleans, other integer widths or `.npz` archives.
#ifndef FLEETTWIN_COMMON_NPY_H_
#define FLEETTWIN_COMMON_NPY_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fleettwin {

// An n-dimensional array as it sits in a `.npy` file: a dtype, a shape and the raw
// little-endian element bytes in C (row-major) order. A value type.
struct NpyArray {
  enum class Dtype { kFloat32, kFloat64, kInt32, kInt64 };

  Dtype dtype = Dtype::kFloat32;
  std::vector<int64_t> shape;  // Empty for a 0-d (scalar) array.
  std::string data;            // Exactly ElementCount() * ItemSize(dtype) bytes when valid.

  // Product of the shape (1 for a 0-d array). REQUIRES: a shape that passed DecodeNpy or was
  // built by MakeNpy (no overflow).
  int64_t ElementCount() const;

  friend bool operator==(const NpyArray&, const NpyArray&) = default;
};

// Bytes per element of `dtype`: 4 or 8.
int NpyItemSize(NpyArray::Dtype dtype);

// The NumPy type string: "<f4", "<f8", "<i4" or "<i8".
std::string_view NpyDescr(NpyArray::Dtype dtype);

// Builds an array of `shape` holding `values` in C order. T is float, double, int32_t or
// int64_t. REQUIRES: every dimension >= 0 and their product == values.size().
template <typename T>
NpyArray MakeNpy(std::vector<int64_t> shape, absl::Span<const T> values);

// The elements of `array` as T (float, double, int32_t or int64_t). InvalidArgument if the
// dtype is not exactly T's or the data length does not match the shape; no conversions.
template <typename T>
absl::StatusOr<std::vector<T>> NpyValues(const NpyArray& array);

// The `.npy` v1.0 bytes of `array`: magic, version, a header dict exactly as NumPy writes it
// ("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }") padded with spaces and
// ended by '\n' so that the data starts at a multiple of 64 bytes, then the data.
// REQUIRES: array.data.size() == ElementCount() * NpyItemSize(dtype).
std::string EncodeNpy(const NpyArray& array);

// Parses `.npy` bytes (versions 1.0 and 2.0). Errors: InvalidArgument for a bad magic string,
// an unknown version, a malformed header, an unsupported or pickled dtype, big-endian data,
// Fortran order or a shape that is too large (more than 32 dimensions, or more than 2^40
// elements); DataLoss when the bytes end early or the data length does not match the shape.
absl::StatusOr<NpyArray> DecodeNpy(std::string_view bytes);

// Writes EncodeNpy(array) to `path` (replacing it). Unavailable if the file cannot be written.
absl::Status WriteNpyFile(const std::filesystem::path& path, const NpyArray& array);

// Reads and decodes `path`. NotFound if it is missing, Unavailable if it cannot be read, then
// DecodeNpy's errors. Files above 1 GiB are refused with InvalidArgument.
absl::StatusOr<NpyArray> ReadNpyFile(const std::filesystem::path& path);

}  // namespace fleettwin

#endif  // FLEETTWIN_COMMON_NPY_H_
