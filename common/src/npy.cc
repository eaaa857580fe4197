#include "fleettwin/common/npy.h"

#include <bit>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace fleettwin {
namespace {

static_assert(std::endian::native == std::endian::little,
              "npy.cc copies element bytes as they are; port it before using a big-endian host");

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr size_t kPreludeV1 = 10;  // Magic (6), version (2), header length (2).
constexpr size_t kPreludeV2 = 12;  // Header length takes 4 bytes from version 2.0 on.
constexpr size_t kAlign = 64;
constexpr int kMaxDims = 32;
constexpr int64_t kMaxElements = int64_t{1} << 40;
constexpr uintmax_t kMaxFileBytes = uintmax_t{1} << 30;

template <typename T>
constexpr NpyArray::Dtype DtypeOf();
template <>
constexpr NpyArray::Dtype DtypeOf<float>() {
  return NpyArray::Dtype::kFloat32;
}
template <>
constexpr NpyArray::Dtype DtypeOf<double>() {
  return NpyArray::Dtype::kFloat64;
}
template <>
constexpr NpyArray::Dtype DtypeOf<int32_t>() {
  return NpyArray::Dtype::kInt32;
}
template <>
constexpr NpyArray::Dtype DtypeOf<int64_t>() {
  return NpyArray::Dtype::kInt64;
}

// Debian's Abseil has its own string_view type; StrCat does not take std::string_view.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status Invalid(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("npy: ", Av(what)));
}

// A cursor over the header dict: the Python literal NumPy writes with repr(), which in practice
// is `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`. Only that subset of Python
// syntax is accepted; every read is bounds-checked.
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  std::optional<char> Peek() const {
    if (AtEnd()) return std::nullopt;
    return text_[pos_];
  }
  bool Consume(char c) {
    SkipSpace();
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  // A Python string literal in single or double quotes, without escapes.
  std::optional<std::string_view> String() {
    SkipSpace();
    const std::optional<char> quote = Peek();
    if (quote != '\'' && quote != '"') return std::nullopt;
    const size_t end = text_.find(*quote, pos_ + 1);
    if (end == std::string_view::npos) return std::nullopt;
    std::string_view s = text_.substr(pos_ + 1, end - pos_ - 1);
    if (s.find('\\') != std::string_view::npos) return std::nullopt;
    pos_ = end + 1;
    return s;
  }
  std::optional<bool> Bool() {
    SkipSpace();
    const std::string_view rest = text_.substr(pos_);
    if (rest.starts_with("True")) {
      pos_ += 4;
      return true;
    }
    if (rest.starts_with("False")) {
      pos_ += 5;
      return false;
    }
    return std::nullopt;
  }
  // A non-negative decimal integer up to kMaxElements; nullopt otherwise.
  std::optional<int64_t> Dimension() {
    SkipSpace();
    int64_t value = 0;
    size_t digits = 0;
    while (!AtEnd() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      value = value * 10 + (text_[pos_] - '0');
      ++pos_;
      if (++digits > 13 || value > kMaxElements) return std::nullopt;
    }
    if (digits == 0) return std::nullopt;
    return value;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

struct Header {
  NpyArray::Dtype dtype;
  std::vector<int64_t> shape;
};

absl::StatusOr<NpyArray::Dtype> ParseDescr(std::string_view descr) {
  if (descr.find('O') != std::string_view::npos) {
    return Invalid("object dtype refused (it would need unpickling)");
  }
  if (descr.starts_with('>')) {
    return Invalid(absl::StrCat("big-endian dtype '", Av(descr), "' is not supported"));
  }
  for (NpyArray::Dtype d : {NpyArray::Dtype::kFloat32, NpyArray::Dtype::kFloat64,
                            NpyArray::Dtype::kInt32, NpyArray::Dtype::kInt64}) {
    if (descr == NpyDescr(d)) return d;
  }
  return Invalid(absl::StrCat("unsupported dtype '", Av(descr.substr(0, 32)),
                              "' (only <f4, <f8, <i4, <i8)"));
}

absl::StatusOr<std::vector<int64_t>> ParseShape(HeaderParser& p) {
  if (!p.Consume('(')) return Invalid("shape is not a tuple");
  std::vector<int64_t> shape;
  int64_t elements = 1;
  while (true) {
    if (p.Consume(')')) break;
    const std::optional<int64_t> dim = p.Dimension();
    if (!dim) return Invalid("shape holds something other than a non-negative integer");
    if (static_cast<int>(shape.size()) == kMaxDims) return Invalid("more than 32 dimensions");
    shape.push_back(*dim);
    // Both factors are <= 2^40, so the product cannot overflow int64 before the check.
    if (elements != 0) {
      if (*dim != 0 && elements > kMaxElements / *dim) return Invalid("shape is too large");
      elements *= *dim;
    }
    if (p.Consume(',')) continue;
    // Python writes a 1-tuple as "(3,)"; "(3)" is the integer 3, which NumPy refuses too.
    if (shape.size() > 1 && p.Consume(')')) break;
    return Invalid("malformed shape tuple");
  }
  return shape;
}

absl::StatusOr<Header> ParseHeader(std::string_view text) {
  HeaderParser p(text);
  if (!p.Consume('{')) return Invalid("header is not a dict");
  std::optional<NpyArray::Dtype> dtype;
  std::optional<bool> fortran;
  std::optional<std::vector<int64_t>> shape;
  while (!p.Consume('}')) {
    const std::optional<std::string_view> key = p.String();
    if (!key) return Invalid("malformed header dict key");
    if (!p.Consume(':')) return Invalid("missing ':' in header dict");
    if (*key == "descr") {
      if (dtype) return Invalid("duplicate 'descr'");
      const std::optional<std::string_view> descr = p.String();
      if (!descr) return Invalid("'descr' is not a simple type string (structured dtype?)");
      absl::StatusOr<NpyArray::Dtype> d = ParseDescr(*descr);
      if (!d.ok()) return d.status();
      dtype = *d;
    } else if (*key == "fortran_order") {
      if (fortran) return Invalid("duplicate 'fortran_order'");
      fortran = p.Bool();
      if (!fortran) return Invalid("'fortran_order' is not True or False");
    } else if (*key == "shape") {
      if (shape) return Invalid("duplicate 'shape'");
      absl::StatusOr<std::vector<int64_t>> s = ParseShape(p);
      if (!s.ok()) return s.status();
      shape = std::move(*s);
    } else {
      return Invalid(absl::StrCat("unexpected header key '", Av(key->substr(0, 32)), "'"));
    }
    if (!p.Consume(',')) {
      if (!p.Consume('}')) return Invalid("malformed header dict");
      break;
    }
  }
  p.SkipSpace();
  if (!p.AtEnd()) return Invalid("bytes after the header dict");
  if (!dtype || !fortran || !shape) return Invalid("header lacks descr, fortran_order or shape");
  if (*fortran) return Invalid("Fortran-order arrays are not supported");
  return Header{*dtype, std::move(*shape)};
}

std::string ShapeRepr(const std::vector<int64_t>& shape) {
  if (shape.size() == 1) return absl::StrCat("(", shape[0], ",)");
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) absl::StrAppend(&out, i > 0 ? ", " : "", shape[i]);
  out += ")";
  return out;
}

}  // namespace

int64_t NpyArray::ElementCount() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int NpyItemSize(NpyArray::Dtype dtype) {
  return dtype == NpyArray::Dtype::kFloat32 || dtype == NpyArray::Dtype::kInt32 ? 4 : 8;
}

std::string_view NpyDescr(NpyArray::Dtype dtype) {
  switch (dtype) {
    case NpyArray::Dtype::kFloat32:
      return "<f4";
    case NpyArray::Dtype::kFloat64:
      return "<f8";
    case NpyArray::Dtype::kInt32:
      return "<i4";
    case NpyArray::Dtype::kInt64:
      return "<i8";
  }
  return "?";
}

template <typename T>
NpyArray MakeNpy(std::vector<int64_t> shape, absl::Span<const T> values) {
  NpyArray array;
  array.dtype = DtypeOf<T>();
  array.shape = std::move(shape);
  array.data.assign(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  return array;
}

template <typename T>
absl::StatusOr<std::vector<T>> NpyValues(const NpyArray& array) {
  if (array.dtype != DtypeOf<T>()) {
    return Invalid(absl::StrCat("array holds ", Av(NpyDescr(array.dtype)), ", not ",
                                Av(NpyDescr(DtypeOf<T>()))));
  }
  int64_t n = 1;
  for (int64_t d : array.shape) {
    if (d < 0 || (d != 0 && n > kMaxElements / d)) return Invalid("bad shape");
    n *= d;
  }
  if (array.data.size() != static_cast<uint64_t>(n) * sizeof(T)) {
    return Invalid("data length does not match the shape");
  }
  std::vector<T> values(static_cast<size_t>(n));
  if (n > 0) std::memcpy(values.data(), array.data.data(), array.data.size());
  return values;
}

template NpyArray MakeNpy<float>(std::vector<int64_t>, absl::Span<const float>);
template NpyArray MakeNpy<double>(std::vector<int64_t>, absl::Span<const double>);
template NpyArray MakeNpy<int32_t>(std::vector<int64_t>, absl::Span<const int32_t>);
template NpyArray MakeNpy<int64_t>(std::vector<int64_t>, absl::Span<const int64_t>);
template absl::StatusOr<std::vector<float>> NpyValues<float>(const NpyArray&);
template absl::StatusOr<std::vector<double>> NpyValues<double>(const NpyArray&);
template absl::StatusOr<std::vector<int32_t>> NpyValues<int32_t>(const NpyArray&);
template absl::StatusOr<std::vector<int64_t>> NpyValues<int64_t>(const NpyArray&);

std::string EncodeNpy(const NpyArray& array) {
  std::string dict = absl::StrCat("{'descr': '", Av(NpyDescr(array.dtype)),
                                  "', 'fortran_order': False, 'shape': ", ShapeRepr(array.shape),
                                  ", }");
  size_t prelude = kPreludeV1;
  if (dict.size() + 1 + kAlign > std::numeric_limits<uint16_t>::max()) prelude = kPreludeV2;
  const size_t unpadded = prelude + dict.size() + 1;
  dict.append((kAlign - unpadded % kAlign) % kAlign, ' ');
  dict += '\n';
  const size_t header_len = dict.size();

  std::string out;
  out.reserve(prelude + header_len + array.data.size());
  out += kMagic;
  out += static_cast<char>(prelude == kPreludeV1 ? 1 : 2);
  out += '\0';
  for (size_t i = 0; i < prelude - 8; ++i) out += static_cast<char>((header_len >> (8 * i)) & 0xff);
  out += dict;
  out += array.data;
  return out;
}

absl::StatusOr<NpyArray> DecodeNpy(std::string_view bytes) {
  if (bytes.size() < kPreludeV1) {
    if (kMagic.starts_with(bytes.substr(0, kMagic.size()))) {
      return absl::DataLossError("npy: file ends inside the preamble");
    }
    return Invalid("not an .npy file (bad magic string)");
  }
  if (!bytes.starts_with(kMagic)) return Invalid("not an .npy file (bad magic string)");
  const uint8_t major = static_cast<uint8_t>(bytes[6]);
  const uint8_t minor = static_cast<uint8_t>(bytes[7]);
  if ((major != 1 && major != 2) || minor != 0) {
    return Invalid(absl::StrCat("unsupported format version ", major, ".", minor));
  }
  const size_t prelude = major == 1 ? kPreludeV1 : kPreludeV2;
  if (bytes.size() < prelude) return absl::DataLossError("npy: file ends inside the preamble");
  uint64_t header_len = 0;
  for (size_t i = 0; i < prelude - 8; ++i) {
    header_len |= uint64_t{static_cast<uint8_t>(bytes[8 + i])} << (8 * i);
  }
  if (header_len > bytes.size() - prelude) {
    return absl::DataLossError("npy: file ends inside the header");
  }
  absl::StatusOr<Header> header = ParseHeader(bytes.substr(prelude, header_len));
  if (!header.ok()) return header.status();

  NpyArray array;
  array.dtype = header->dtype;
  array.shape = std::move(header->shape);
  // ParseShape bounded the product by 2^40, so this cannot overflow.
  const uint64_t want =
      static_cast<uint64_t>(array.ElementCount()) * static_cast<uint64_t>(NpyItemSize(array.dtype));
  const std::string_view data = bytes.substr(prelude + header_len);
  if (data.size() < want) {
    return absl::DataLossError(
        absl::StrCat("npy: truncated data: ", data.size(), " of ", want, " bytes"));
  }
  if (data.size() > want) {
    return absl::DataLossError(
        absl::StrCat("npy: ", data.size() - want, " unexpected bytes after the data"));
  }
  array.data.assign(data);
  return array;
}

absl::Status WriteNpyFile(const std::filesystem::path& path, const NpyArray& array) {
  const std::string bytes = EncodeNpy(array);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("npy: cannot write ", path.string()));
  return absl::OkStatus();
}

absl::StatusOr<NpyArray> ReadNpyFile(const std::filesystem::path& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) {
    if (!std::filesystem::exists(path)) {
      return absl::NotFoundError(absl::StrCat("npy: no file ", path.string()));
    }
    return absl::UnavailableError(absl::StrCat("npy: cannot stat ", path.string()));
  }
  if (size > kMaxFileBytes) return Invalid(absl::StrCat(path.string(), " is larger than 1 GiB"));
  std::ifstream in(path, std::ios::binary);
  std::string bytes(static_cast<size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (!in || static_cast<uintmax_t>(in.gcount()) != size) {
    return absl::UnavailableError(absl::StrCat("npy: cannot read ", path.string()));
  }
  absl::StatusOr<NpyArray> array = DecodeNpy(bytes);
  if (!array.ok()) {
    return absl::Status(array.status().code(),
                        absl::StrCat(path.string(), ": ", array.status().message()));
  }
  return array;
}

}  // namespace fleettwin
