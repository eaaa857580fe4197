#include "fleettwin/common/npy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "testing/process.h"
#include "testing/temp_dir.h"

namespace fleettwin {
namespace {

using Dtype = NpyArray::Dtype;

// Python with NumPy from Debian's python3-numpy. The test fails (never skips) without it.
constexpr char kPython[] = "/usr/bin/python3";

std::string Header(std::string_view bytes) {
  const size_t len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
  return std::string(bytes.substr(10, len));
}

// A v1.0 file with `dict` as its header (padded like NumPy's) and `data` after it.
std::string RawNpy(std::string_view dict, std::string_view data) {
  std::string header(dict);
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + std::string(data);
}

TEST(NpyTest, HeaderBytesMatchNumPy) {
  const std::vector<float> values(12, 1.5f);
  const std::string bytes = EncodeNpy(MakeNpy<float>({3, 4}, values));
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::string header = Header(bytes);
  // 10 + 59 + 58 spaces + '\n' = 128: the data starts at a multiple of 64.
  EXPECT_EQ(header.size(), 118u);
  EXPECT_EQ(header.substr(0, 59), "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }");
  EXPECT_EQ(header.substr(59, 58), std::string(58, ' '));
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(bytes.size(), 128u + 48u);
  float first;
  std::memcpy(&first, bytes.data() + 128, 4);
  EXPECT_EQ(first, 1.5f);

  EXPECT_EQ(Header(EncodeNpy(MakeNpy<int64_t>({5}, std::vector<int64_t>(5)))).substr(0, 57),
            "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }");
  EXPECT_EQ(Header(EncodeNpy(MakeNpy<double>({}, std::vector<double>{2.0}))).substr(0, 55),
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), }");
  for (const std::vector<int64_t>& shape :
       std::vector<std::vector<int64_t>>{{}, {0}, {1}, {7, 0, 3}, {2, 3, 4, 5}}) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    EXPECT_EQ(EncodeNpy(MakeNpy<int32_t>(shape, std::vector<int32_t>(n))).size() % 64,
              (n * 4) % 64);
  }
}

TEST(NpyTest, RoundTripsEveryDtypeAndShape) {
  const std::vector<float> f = {0.f, -1.25f, 3e38f, 1e-45f, INFINITY, 7.f};
  const std::vector<double> d = {1e300, -0.0, 0.1};
  const std::vector<int32_t> i = {INT32_MIN, -1, 0, INT32_MAX};
  const std::vector<int64_t> l = {INT64_MIN, 42, INT64_MAX, 0, 1, 2};
  const NpyArray arrays[] = {MakeNpy<float>({2, 3}, f),  MakeNpy<float>({6}, f),
                             MakeNpy<double>({3}, d),    MakeNpy<double>({}, {d.data(), 1}),
                             MakeNpy<int32_t>({4}, i),   MakeNpy<int64_t>({1, 2, 3}, l),
                             MakeNpy<float>({0, 5}, {})};
  for (const NpyArray& a : arrays) {
    absl::StatusOr<NpyArray> back = DecodeNpy(EncodeNpy(a));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, a);
  }
  absl::StatusOr<std::vector<float>> values = NpyValues<float>(arrays[0]);
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(*values, f);
  EXPECT_EQ(*NpyValues<int64_t>(arrays[5]), l);
  EXPECT_FALSE(NpyValues<double>(arrays[0]).ok());  // No silent conversions.
}

TEST(NpyTest, ReadsHeadersWrittenDifferently) {
  // Other key order, double quotes, extra spaces, no trailing comma; NumPy 1.24+ also pads
  // with extra spaces for in-place growth.
  const std::string data(8, '\0');
  for (const char* dict : {"{'shape': (2,), 'fortran_order': False, 'descr': '<i4'}",
                           "{\"descr\": \"<i4\" , \"fortran_order\":False,\"shape\":( 2 , )}",
                           "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }   "}) {
    absl::StatusOr<NpyArray> a = DecodeNpy(RawNpy(dict, data));
    ASSERT_TRUE(a.ok()) << dict << ": " << a.status();
    EXPECT_EQ(a->dtype, Dtype::kInt32);
    EXPECT_EQ(a->shape, std::vector<int64_t>{2});
  }
}

TEST(NpyTest, RefusesBadInput) {
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string data(8, '\0');
  ASSERT_TRUE(DecodeNpy(RawNpy(ok_dict, data)).ok());

  auto code = [](std::string_view bytes) { return DecodeNpy(bytes).status().code(); };
  constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
  constexpr auto kDataLoss = absl::StatusCode::kDataLoss;

  EXPECT_EQ(code(""), kDataLoss);
  EXPECT_EQ(code("\x93NUM"), kDataLoss);
  EXPECT_EQ(code("PK\x03\x04 this is a zip archive"), kInvalid);
  std::string bad_version = RawNpy(ok_dict, data);
  bad_version[6] = 3;
  EXPECT_EQ(code(bad_version), kInvalid);
  bad_version[6] = 1;
  bad_version[7] = 1;
  EXPECT_EQ(code(bad_version), kInvalid);

  // Pickles, big-endian, Fortran order, structured and unsupported dtypes.
  for (const char* dict : {
           "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
           "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
           "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
           "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
           "{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }",
           "{'descr': '<U1', 'fortran_order': False, 'shape': (2,), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,), }",
           "{'descr': '<f4', 'fortran_order': False}",
           "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }",
           "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ",
           "{'descr': '<f4\\', 'fortran_order': False, 'shape': (2,), }",
           "[]",
           "",
       }) {
    EXPECT_EQ(code(RawNpy(dict, data)), kInvalid) << dict;
  }

  // Absurd shapes: overflowing products, huge dimensions, too many dimensions.
  for (const char* dict : {
           "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
           "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627777,), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': "
           "(1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1), }",
       }) {
    EXPECT_EQ(code(RawNpy(dict, data)), kInvalid) << dict;
  }
  // A zero dimension makes any other dimension harmless, but the data must still match.
  EXPECT_EQ(code(RawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1099511627776), }",
                        "")),
            absl::StatusCode::kOk);

  // Length mismatches.
  EXPECT_EQ(code(RawNpy(ok_dict, data.substr(0, 7))), kDataLoss);
  EXPECT_EQ(code(RawNpy(ok_dict, data + "x")), kDataLoss);
  std::string short_header = RawNpy(ok_dict, data);
  short_header[9] = 0x7f;  // Header length far beyond the file.
  EXPECT_EQ(code(short_header), kDataLoss);
  const std::string whole = RawNpy(ok_dict, data);
  for (size_t n = 0; n < whole.size(); ++n) {
    EXPECT_FALSE(DecodeNpy(whole.substr(0, n)).ok()) << n;
  }
}

TEST(NpyTest, SurvivesRandomMutations) {
  // A poor man's fuzzer until the libFuzzer target exists: flip and truncate valid files.
  const std::vector<double> values = {1, 2, 3, 4, 5, 6};
  const std::string valid = EncodeNpy(MakeNpy<double>({2, 3}, values));
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = valid;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xff);
    }
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    absl::StatusOr<NpyArray> a = DecodeNpy(bytes);
    if (a.ok()) {
      EXPECT_EQ(static_cast<int64_t>(a->data.size()), a->ElementCount() * NpyItemSize(a->dtype));
    }
  }
}

TEST(NpyTest, FilesRoundTripAndMissingFileIsNotFound) {
  testing::TempDir dir;
  const NpyArray a = MakeNpy<float>({2}, std::vector<float>{1, 2});
  ASSERT_TRUE(WriteNpyFile(dir.path() / "a.npy", a).ok());
  absl::StatusOr<NpyArray> back = ReadNpyFile(dir.path() / "a.npy");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, a);
  EXPECT_EQ(ReadNpyFile(dir.path() / "missing.npy").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(WriteNpyFile(dir.path() / "no" / "such" / "dir.npy", a).code(),
            absl::StatusCode::kUnavailable);
}

// Runs `script` with NumPy's Python; returns {exit code, stdout}.
std::pair<int, std::string> RunPython(const std::string& script) {
  return testing::RunTool({kPython, "-c", script});
}

TEST(NpyInteropTest, PythonHasNumPy) {
  ASSERT_EQ(::access(kPython, X_OK), 0)
      << kPython << " missing: install Debian's python3-numpy (scripts/install-deps.sh)";
  auto [rc, out] = RunPython("import numpy; print('numpy', numpy.__version__)");
  ASSERT_EQ(rc, 0) << "python3-numpy is not installed for " << kPython;
  EXPECT_EQ(out.substr(0, 6), "numpy ");
}

TEST(NpyInteropTest, NumPyLoadsWhatWeWrite) {
  ASSERT_EQ(::access(kPython, X_OK), 0) << kPython << " missing: install python3-numpy";
  testing::TempDir dir;
  std::vector<float> f(12);
  for (int i = 0; i < 12; ++i) f[i] = static_cast<float>(i) * 0.5f - 1.f;
  ASSERT_TRUE(WriteNpyFile(dir.path() / "f4.npy", MakeNpy<float>({3, 4}, f)).ok());
  ASSERT_TRUE(
      WriteNpyFile(dir.path() / "f8.npy", MakeNpy<double>({}, std::vector<double>{0.1})).ok());
  ASSERT_TRUE(WriteNpyFile(dir.path() / "i4.npy",
                           MakeNpy<int32_t>({5}, std::vector<int32_t>{-2, -1, 0, 1, INT32_MAX}))
                  .ok());
  ASSERT_TRUE(WriteNpyFile(dir.path() / "i8.npy",
                           MakeNpy<int64_t>({2, 1, 2}, std::vector<int64_t>{INT64_MIN, 0, 7, 8}))
                  .ok());
  ASSERT_TRUE(WriteNpyFile(dir.path() / "empty.npy", MakeNpy<float>({0, 3}, {})).ok());
  const std::string script = "import numpy as np\n"
                             "d = '" + dir.path().string() + "'\n"
                             "a = np.load(d + '/f4.npy', allow_pickle=False)\n"
                             "assert a.dtype == np.float32 and a.shape == (3, 4), a\n"
                             "assert (a == (np.arange(12, dtype=np.float32) * 0.5 - 1).reshape(3, "
                             "4)).all()\n"
                             "assert a.flags['C_CONTIGUOUS']\n"
                             "b = np.load(d + '/f8.npy', allow_pickle=False)\n"
                             "assert b.dtype == np.float64 and b.shape == () and b == 0.1\n"
                             "c = np.load(d + '/i4.npy', allow_pickle=False)\n"
                             "assert c.dtype == np.int32 and c.tolist() == [-2, -1, 0, 1, 2**31 - 1]\n"
                             "e = np.load(d + '/i8.npy', allow_pickle=False)\n"
                             "assert e.dtype == np.int64 and e.shape == (2, 1, 2)\n"
                             "assert e.ravel().tolist() == [-2**63, 0, 7, 8]\n"
                             "z = np.load(d + '/empty.npy', allow_pickle=False)\n"
                             "assert z.shape == (0, 3) and z.dtype == np.float32\n"
                             "print('ok')\n";
  auto [rc, out] = RunPython(script);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, "ok\n");
}

TEST(NpyInteropTest, WeReadWhatNumPyWrites) {
  ASSERT_EQ(::access(kPython, X_OK), 0) << kPython << " missing: install python3-numpy";
  testing::TempDir dir;
  const std::string d = dir.path().string();
  auto [rc, out] = RunPython(
      "import numpy as np\n"
      "d = '" + d + "'\n"
      "np.save(d + '/f4.npy', np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 8)\n"
      "np.save(d + '/f8.npy', np.array([3.25, -1e-300]))\n"
      "np.save(d + '/i4.npy', np.array(-7, dtype=np.int32))\n"
      "np.save(d + '/i8.npy', np.array([[1, 2], [3, 4]], dtype=np.int64))\n"
      "np.save(d + '/fortran.npy', np.asfortranarray(np.ones((2, 3), dtype=np.float32)))\n"
      "np.save(d + '/big.npy', np.ones(3, dtype='>f4'))\n"
      "np.save(d + '/object.npy', np.array([{'a': 1}], dtype=object), allow_pickle=True)\n"
      "np.save(d + '/transposed.npy', np.arange(6, dtype=np.float32).reshape(2, 3).T)\n"
      "print('written')\n");
  ASSERT_EQ(rc, 0) << "NumPy failed to write the files";
  ASSERT_EQ(out, "written\n");

  absl::StatusOr<NpyArray> f4 = ReadNpyFile(dir.path() / "f4.npy");
  ASSERT_TRUE(f4.ok()) << f4.status();
  EXPECT_EQ(f4->shape, (std::vector<int64_t>{2, 3, 4}));
  std::vector<float> v = *NpyValues<float>(*f4);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(v[i], static_cast<float>(i) / 8);

  absl::StatusOr<NpyArray> f8 = ReadNpyFile(dir.path() / "f8.npy");
  ASSERT_TRUE(f8.ok()) << f8.status();
  EXPECT_EQ(*NpyValues<double>(*f8), (std::vector<double>{3.25, -1e-300}));

  absl::StatusOr<NpyArray> i4 = ReadNpyFile(dir.path() / "i4.npy");
  ASSERT_TRUE(i4.ok()) << i4.status();
  EXPECT_TRUE(i4->shape.empty());
  EXPECT_EQ(*NpyValues<int32_t>(*i4), std::vector<int32_t>{-7});

  absl::StatusOr<NpyArray> i8 = ReadNpyFile(dir.path() / "i8.npy");
  ASSERT_TRUE(i8.ok()) << i8.status();
  EXPECT_EQ(i8->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(*NpyValues<int64_t>(*i8), (std::vector<int64_t>{1, 2, 3, 4}));

  // NumPy saves a transposed (Fortran-contiguous) view with fortran_order True.
  for (const char* name : {"fortran.npy", "big.npy", "object.npy", "transposed.npy"}) {
    EXPECT_EQ(ReadNpyFile(dir.path() / name).status().code(),
              absl::StatusCode::kInvalidArgument)
        << name;
  }
}

}  // namespace
}  // namespace fleettwin
