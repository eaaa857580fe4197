// A discrete-event simulation engine whose processes are C++20 coroutines, in the spirit of
// SimPy: a model author writes a process as a function returning `Process` and waits with
// `co_await sim.Timeout(d)`, `co_await event`, `co_await resource.Request()`,
// `co_await store.Get()`. Time is a double (integer-valued models stay exact). Deterministic:
// events at the same time run in the order they were scheduled, and the engine has no
// randomness of its own — models get their random source injected (random.h).
//
// Interrupts (SimPy's `process.interrupt(cause)`): `Interrupt(process, cause)` wakes a waiting
// process now, and its pending `co_await` throws `Interrupted{cause}`; the wait it was in is
// cancelled. `Cancel(process)` wakes it with `Cancelled`, which a process should not catch: it
// unwinds the coroutine and ends it. An exception of any other type that escapes a process ends
// that process; `RethrowProcessError()` reports the first one.
//
// The event queue is a calendar: one FIFO bucket per distinct event time, and a min-heap over
// the distinct times. Scheduling at a time that already has a bucket is an append, so a fleet
// of N processes stepping in lockstep costs O(1) per event instead of O(log N).
//
// Not thread-safe: one Simulation per thread (the Monte Carlo runner uses one per replication).
#ifndef FLEETTWIN_SIM_SIMULATION_H_
#define FLEETTWIN_SIM_SIMULATION_H_

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fleettwin::sim {

class Simulation;

// Thrown from a `co_await` of an interrupted process.
struct Interrupted {
  int cause = 0;
};
// Thrown from a `co_await` of a cancelled process; let it propagate.
struct Cancelled {};

namespace internal {

// The engine's view of a process: kept small, since a fleet holds one per twin process.
struct PromiseBase {
  enum class Wake : uint8_t { kNormal, kInterrupted, kCancelled };
  Simulation* sim = nullptr;
  uint32_t slot = 0;             // In the simulation's table of process frames.
  uint32_t serial = 0;           // Unique per simulation: tells a reused slot from its old use.
  uint32_t wait_generation = 0;  // Bumped when a wait is cancelled; stale wake-ups are skipped.
  uint32_t refs = 0;             // Queue and waiter-list entries naming this process.
  int interrupt_cause = 0;
  Wake wake = Wake::kNormal;
  bool done = false;  // Ran to its end; the frame goes once nothing refers to it.

  std::coroutine_handle<> handle();
  // Rethrows Interrupted / Cancelled if the wake-up was one.
  void CheckWake() {
    if (wake == Wake::kNormal) return;
    const Wake w = wake;
    wake = Wake::kNormal;
    if (w == Wake::kCancelled) throw Cancelled{};
    throw Interrupted{interrupt_cause};
  }
};

}  // namespace internal

// The handle to a process not yet started, returned by a process function; give it to Start().
class Process {
 public:
  struct promise_type : internal::PromiseBase {
    Process get_return_object() {
      return Process(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct FinalAwaiter {
      bool await_ready() noexcept { return false; }
      void await_suspend(std::coroutine_handle<promise_type> h) noexcept;
      void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception();
  };

  Process() = default;
  Process(Process&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Process& operator=(Process&& other) noexcept {
    if (this != &other) {
      Destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() { Destroy(); }  // Only a process never started is destroyed here.

 private:
  friend class Simulation;
  explicit Process(std::coroutine_handle<promise_type> h) : handle_(h) {}
  void Destroy() {
    if (handle_) handle_.destroy();
    handle_ = {};
  }
  std::coroutine_handle<promise_type> handle_;
};

// Names a started process, for Interrupt, Cancel and Alive. A plain value: it stays safe to
// use after the process ended (the calls then do nothing) as long as its Simulation lives.
class ProcessRef {
 public:
  ProcessRef() = default;
  bool valid() const { return serial_ != 0; }

 private:
  friend class Simulation;
  ProcessRef(uint32_t slot, uint32_t serial) : slot_(slot), serial_(serial) {}
  uint32_t slot_ = 0;
  uint32_t serial_ = 0;
};

class Simulation {
 public:
  Simulation() = default;
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;
  ~Simulation();  // Destroys every process still alive.

  double now() const { return now_; }

  // Starts `process` at the current time, after what is already scheduled for now.
  ProcessRef Start(Process process);

  // Runs every event at or before `until`; time then stands at `until` (SimPy's
  // run(until=...)). Returns the events processed.
  uint64_t Run(double until);
  // Runs until no event is left; time stands at the last event.
  uint64_t RunAll();
  // Processes that ended with an exception other than Cancelled: the first one, rethrown.
  void RethrowProcessError();

  // Small on purpose: it lives in the frame of every process that waits.
  struct TimeoutAwaiter {
    double delay;
    internal::PromiseBase* process = nullptr;
    bool await_ready() const noexcept { return false; }
    template <typename Promise>
    void await_suspend(std::coroutine_handle<Promise> h) {
      process = &h.promise();
      // A bad delay would corrupt the queue's order: the process ends with the error instead
      // (thrown out of its co_await; RethrowProcessError reports it).
      if (!(delay >= 0 && delay <= kMaxDelay)) ThrowBadDelay(delay);
      process->sim->Schedule(process->sim->now_ + delay, process);
    }
    void await_resume() const { process->CheckWake(); }
  };
  static constexpr double kMaxDelay = 1e300;
  // Waits `delay` time units. REQUIRES: called from a process of this simulation. A delay that is
  // negative, NaN or infinite throws std::invalid_argument into the process.
  TimeoutAwaiter Timeout(double delay) { return {delay}; }

  // Wakes `process` now: its pending co_await throws Interrupted{cause}. Interrupting a process
  // that already has a wake-up pending replaces that wake-up. No-op if it ended.
  void Interrupt(ProcessRef process, int cause);
  // Ends `process`: its pending co_await throws Cancelled. No-op if it ended.
  void Cancel(ProcessRef process);
  // True while the process has not ended.
  bool Alive(ProcessRef process) const;

  uint64_t events() const { return events_; }  // Resumptions so far (all Run calls).
  size_t live_processes() const { return live_; }
  size_t pending() const { return pending_; }  // Queue entries, stale ones included.

 private:
  friend struct TimeoutAwaiter;
  friend class Event;
  friend class Resource;
  template <typename T>
  friend class Store;
  friend struct Process::promise_type::FinalAwaiter;
  friend struct Process::promise_type;

  struct Entry {  // In the queue: 8 bytes, one per pending wake-up.
    uint32_t slot;
    uint32_t generation;
  };
  struct Waiter {  // In an Event's list.
    internal::PromiseBase* process;
    uint32_t generation;
  };
  // The queue's memory: fixed blocks of entries from a pool, so pending wake-ups cost 8 bytes
  // each and a bucket's memory goes back to the pool as soon as its entries have run.
  static constexpr uint32_t kBlockEntries = 510;
  struct Block {
    Entry entries[kBlockEntries];
    uint32_t count = 0;
    Block* next = nullptr;
  };
  struct Bucket {
    double time = 0;
    Block* first = nullptr;  // Entries run from first[head] on; appended at last.
    Block* last = nullptr;
    uint32_t head = 0;
  };
  struct TimeSlot {
    double time;
    uint32_t bucket;
  };

  void Schedule(double time, internal::PromiseBase* process);
  [[noreturn]] static void ThrowBadDelay(double delay);
  uint32_t BucketFor(double time);
  // Drops one reference; frees a finished process's frame when it was the last.
  void Release(internal::PromiseBase* process);
  void Wake(internal::PromiseBase* process, internal::PromiseBase::Wake how, int cause);
  void Finished(internal::PromiseBase* process);
  void Free(internal::PromiseBase* process);
  internal::PromiseBase* Find(ProcessRef process) const;

  static constexpr uint32_t kNoBucket = UINT32_MAX;
  static constexpr size_t kKeptBlocks = 4;  // Free blocks kept beyond that go back to the heap.
  Block* NewBlock();
  void FreeBlock(Block* block);

  double now_ = 0;
  uint64_t events_ = 0;
  size_t pending_ = 0;
  std::vector<Bucket> buckets_;             // Reused through free_buckets_.
  std::vector<uint32_t> free_buckets_;
  Block* free_blocks_ = nullptr;
  size_t free_block_count_ = 0;
  std::vector<TimeSlot> times_;             // Min-heap on time, one slot per open bucket.
  std::unordered_map<double, uint32_t> by_time_;  // Maintained only while indexed_.
  bool indexed_ = false;
  static constexpr size_t kScannedTimes = 32;  // More distinct times than this: use by_time_.
  uint32_t last_bucket_ = kNoBucket;        // Where the previous Schedule went.
  // Every frame not yet destroyed (running, or finished but still named by an entry); null
  // while free.
  std::vector<internal::PromiseBase*> slots_;
  std::vector<uint32_t> free_slots_;
  uint32_t next_serial_ = 1;
  size_t live_ = 0;
  bool tearing_down_ = false;
  std::exception_ptr first_error_;
};

// A one-shot event (SimPy's Event): processes wait on it; Succeed() wakes them all, now, in the
// order they started waiting. Waiting on an event that already happened continues at once.
// An Event must outlive the waits on it.
class Event {
 public:
  explicit Event(Simulation& sim) : sim_(sim) {}
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void Succeed();
  bool triggered() const { return triggered_; }

  struct Awaiter {
    Event* event;
    internal::PromiseBase* process = nullptr;
    bool await_ready() const noexcept { return event->triggered_; }
    template <typename Promise>
    void await_suspend(std::coroutine_handle<Promise> h) {
      process = &h.promise();
      ++process->refs;
      event->waiters_.push_back({process, process->wait_generation});
    }
    void await_resume() const {
      if (process != nullptr) process->CheckWake();
    }
  };
  Awaiter operator co_await() { return {this}; }

 private:
  Simulation& sim_;
  bool triggered_ = false;
  std::vector<Simulation::Waiter> waiters_;
};

// A resource with `capacity` slots (SimPy's Resource): Request() waits in FIFO order for a slot,
// Release() hands it to the next waiter. An interrupted or cancelled waiter leaves the queue
// without holding a slot. A Resource must outlive the waits on it.
class Resource {
 public:
  // REQUIRES: capacity >= 1.
  Resource(Simulation& sim, int capacity) : sim_(sim), capacity_(capacity) {}
  ~Resource();
  Resource(const Resource&) = delete;
  Resource& operator=(const Resource&) = delete;

  int capacity() const { return capacity_; }
  int in_use() const { return in_use_; }
  size_t queued() const;  // Processes still waiting.

  struct Awaiter {
    Resource* resource;
    internal::PromiseBase* process = nullptr;
    bool granted = false;
    bool await_ready() noexcept {
      if (resource->in_use_ < resource->capacity_ && resource->waiters_.empty()) {
        ++resource->in_use_;
        return true;
      }
      return false;
    }
    template <typename Promise>
    void await_suspend(std::coroutine_handle<Promise> h) {
      process = &h.promise();
      ++process->refs;
      resource->waiters_.push_back({this, process, process->wait_generation});
    }
    void await_resume() {
      if (process == nullptr) return;
      // Granted in the same instant as an interrupt: the slot goes back.
      if (granted && process->wake != internal::PromiseBase::Wake::kNormal) resource->Release();
      process->CheckWake();
    }
  };
  // co_await Request(): holds one slot afterwards; give it back with Release().
  Awaiter Request() { return {this}; }
  void Release();

 private:
  struct Waiter {
    Awaiter* awaiter;
    internal::PromiseBase* process;
    uint32_t generation;
  };
  Simulation& sim_;
  int capacity_;
  int in_use_ = 0;
  std::deque<Waiter> waiters_;
};

// An unbounded FIFO store of items (SimPy's Store): Put() never waits; Get() waits until an
// item is there. Waiting getters are served in FIFO order. Must outlive the waits on it.
template <typename T>
class Store {
 public:
  explicit Store(Simulation& sim) : sim_(sim) {}
  ~Store() {
    for (const Getter& g : getters_) sim_.Release(g.process);
  }
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  size_t size() const { return items_.size(); }

  void Put(T item) {
    while (!getters_.empty()) {
      const Getter g = getters_.front();
      getters_.pop_front();
      const bool waiting = !g.process->done && g.generation == g.process->wait_generation;
      if (waiting) {
        g.awaiter->item = std::move(item);
        sim_.Schedule(sim_.now_, g.process);
      }
      sim_.Release(g.process);
      if (waiting) return;
    }
    items_.push_back(std::move(item));
  }

  struct Awaiter {
    Store* store;
    internal::PromiseBase* process = nullptr;
    std::optional<T> item = std::nullopt;
    bool await_ready() {
      if (store->items_.empty() || !store->getters_.empty()) return false;
      item = std::move(store->items_.front());
      store->items_.pop_front();
      return true;
    }
    template <typename Promise>
    void await_suspend(std::coroutine_handle<Promise> h) {
      process = &h.promise();
      ++process->refs;
      store->getters_.push_back({this, process, process->wait_generation});
    }
    T await_resume() {
      if (process != nullptr && process->wake != internal::PromiseBase::Wake::kNormal) {
        if (item.has_value()) store->PutFront(std::move(*item));  // Not taken after all.
        process->CheckWake();
      }
      return std::move(*item);
    }
  };
  Awaiter Get() { return {this}; }

 private:
  struct Getter {
    Awaiter* awaiter;
    internal::PromiseBase* process;
    uint32_t generation;
  };
  void PutFront(T item) {
    if (getters_.empty()) {
      items_.push_front(std::move(item));
    } else {
      Put(std::move(item));
    }
  }
  Simulation& sim_;
  std::deque<T> items_;
  std::deque<Getter> getters_;
};

}  // namespace fleettwin::sim

#endif  // FLEETTWIN_SIM_SIMULATION_H_
