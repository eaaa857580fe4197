#include "fleettwin/common/clock.h"

#include <chrono>

namespace fleettwin {

int64_t SystemClock::NowUnixNanos() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace fleettwin
