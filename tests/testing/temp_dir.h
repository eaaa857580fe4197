// A fresh directory for one test, removed with everything in it when the test ends.
#ifndef FLEETTWIN_TESTS_TESTING_TEMP_DIR_H_
#define FLEETTWIN_TESTS_TESTING_TEMP_DIR_H_

#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

namespace fleettwin::testing {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("fleettwin-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace fleettwin::testing

#endif  // FLEETTWIN_TESTS_TESTING_TEMP_DIR_H_
