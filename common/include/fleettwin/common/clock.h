// Wall-clock time, injected: only main() builds the real clock; tests move a fake one by hand.
#ifndef FLEETTWIN_COMMON_CLOCK_H_
#define FLEETTWIN_COMMON_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace fleettwin {

// A source of wall-clock time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since the Unix epoch.
  virtual int64_t NowUnixNanos() const = 0;
};

// The operating system's real-time clock.
class SystemClock final : public Clock {
 public:
  int64_t NowUnixNanos() const override;
};

// A clock that moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_unix_nanos = 0) : now_(start_unix_nanos) {}
  int64_t NowUnixNanos() const override { return now_.load(std::memory_order_relaxed); }
  void Advance(int64_t nanos) { now_.fetch_add(nanos, std::memory_order_relaxed); }
  void Set(int64_t unix_nanos) { now_.store(unix_nanos, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace fleettwin

#endif  // FLEETTWIN_COMMON_CLOCK_H_
