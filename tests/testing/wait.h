// Polling for a condition in tests that watch another thread or process.
#ifndef FLEETTWIN_TESTS_TESTING_WAIT_H_
#define FLEETTWIN_TESTS_TESTING_WAIT_H_

#include <chrono>
#include <functional>
#include <thread>

namespace fleettwin::testing {

// True as soon as `done()` is; false if it is still false after `timeout`.
inline bool WaitFor(const std::function<bool()>& done,
                    std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace fleettwin::testing

#endif  // FLEETTWIN_TESTS_TESTING_WAIT_H_
