#include "fleettwin/sim/simulation.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <limits>

namespace fleettwin::sim {
namespace {

using internal::PromiseBase;

std::coroutine_handle<Process::promise_type> HandleOf(PromiseBase* p) {
  return std::coroutine_handle<Process::promise_type>::from_promise(
      static_cast<Process::promise_type&>(*p));
}

struct LaterTime {
  template <typename Slot>
  bool operator()(const Slot& a, const Slot& b) const {
    return a.time > b.time;
  }
};

}  // namespace

std::coroutine_handle<> internal::PromiseBase::handle() { return HandleOf(this); }

void Process::promise_type::unhandled_exception() {
  try {
    throw;
  } catch (const Cancelled&) {
    // The normal end of a cancelled process.
  } catch (...) {
    if (!sim->first_error_) sim->first_error_ = std::current_exception();
  }
}

void Process::promise_type::FinalAwaiter::await_suspend(
    std::coroutine_handle<promise_type> h) noexcept {
  h.promise().sim->Finished(&h.promise());
}

Simulation::~Simulation() {
  // Frames left are suspended in a wait, or finished but still named by a queue entry.
  // Destroying one runs its locals' destructors, which may try to release other processes:
  // from here on, Release does nothing.
  tearing_down_ = true;
  for (PromiseBase* p : slots_) {
    if (p != nullptr) HandleOf(p).destroy();
  }
  for (Bucket& bucket : buckets_) {
    for (Block* b = bucket.first; b != nullptr;) delete std::exchange(b, b->next);
  }
  for (Block* b = free_blocks_; b != nullptr;) delete std::exchange(b, b->next);
}

ProcessRef Simulation::Start(Process process) {
  auto h = std::exchange(process.handle_, {});
  Process::promise_type& p = h.promise();
  p.sim = this;
  p.serial = next_serial_++;
  if (next_serial_ == 0) next_serial_ = 1;
  if (free_slots_.empty()) {
    p.slot = static_cast<uint32_t>(slots_.size());
    slots_.push_back(&p);
  } else {
    p.slot = free_slots_.back();
    free_slots_.pop_back();
    slots_[p.slot] = &p;
  }
  ++live_;
  Schedule(now_, &p);
  return ProcessRef(p.slot, p.serial);
}

void Simulation::Finished(PromiseBase* p) {
  p->done = true;
  --live_;
  if (p->refs == 0) Free(p);  // Otherwise the last stale entry frees it.
}

void Simulation::Free(PromiseBase* p) {
  slots_[p->slot] = nullptr;
  free_slots_.push_back(p->slot);
  HandleOf(p).destroy();
}

PromiseBase* Simulation::Find(ProcessRef process) const {
  if (!process.valid() || process.slot_ >= slots_.size()) return nullptr;
  PromiseBase* p = slots_[process.slot_];
  return p != nullptr && p->serial == process.serial_ && !p->done ? p : nullptr;
}

Simulation::Block* Simulation::NewBlock() {
  if (free_blocks_ == nullptr) return new Block;
  Block* block = free_blocks_;
  free_blocks_ = block->next;
  --free_block_count_;
  block->count = 0;
  block->next = nullptr;
  return block;
}

void Simulation::FreeBlock(Block* block) {
  // Keep about as many free blocks as are in use: a lockstep fleet refills next step's bucket
  // as fast as it drains this one.
  if (free_block_count_ >= kKeptBlocks + pending_ / kBlockEntries) {
    delete block;
    return;
  }
  block->next = free_blocks_;
  free_blocks_ = block;
  ++free_block_count_;
}

uint32_t Simulation::BucketFor(double time) {
  if (last_bucket_ != kNoBucket && buckets_[last_bucket_].time == time) return last_bucket_;
  uint32_t index = kNoBucket;
  if (indexed_) {
    if (auto it = by_time_.find(time); it != by_time_.end()) index = it->second;
  } else {
    // Few distinct times: a scan of the heap's array beats hashing.
    for (const TimeSlot& slot : times_) {
      if (slot.time == time) {
        index = slot.bucket;
        break;
      }
    }
  }
  if (index == kNoBucket) {
    if (free_buckets_.empty()) {
      index = static_cast<uint32_t>(buckets_.size());
      buckets_.emplace_back();
    } else {
      index = free_buckets_.back();
      free_buckets_.pop_back();
    }
    buckets_[index].time = time;
    times_.push_back({time, index});
    std::push_heap(times_.begin(), times_.end(), LaterTime{});
    if (indexed_) {
      by_time_.emplace(time, index);
    } else if (times_.size() > kScannedTimes) {
      for (const TimeSlot& slot : times_) by_time_.emplace(slot.time, slot.bucket);
      indexed_ = true;
    }
  }
  last_bucket_ = index;
  return index;
}

void Simulation::ThrowBadDelay(double delay) {
  throw std::invalid_argument("Timeout(" + std::to_string(delay) +
                              "): a delay must be finite and not negative");
}

void Simulation::Schedule(double time, PromiseBase* process) {
  ++process->refs;
  ++pending_;
  Bucket& bucket = buckets_[BucketFor(time)];
  if (bucket.last == nullptr || bucket.last->count == kBlockEntries) {
    Block* block = NewBlock();
    if (bucket.last == nullptr) {
      bucket.first = block;
      bucket.head = 0;
    } else {
      bucket.last->next = block;
    }
    bucket.last = block;
  }
  bucket.last->entries[bucket.last->count++] = {process->slot, process->wait_generation};
}

void Simulation::Release(PromiseBase* process) {
  if (tearing_down_) return;
  if (--process->refs == 0 && process->done) Free(process);
}

bool Simulation::Alive(ProcessRef process) const { return Find(process) != nullptr; }

uint64_t Simulation::Run(double until) {
  uint64_t processed = 0;
  while (!times_.empty() && times_.front().time <= until) {
    const uint32_t index = times_.front().bucket;
    now_ = times_.front().time;
    // Processes resumed here may append to this bucket (waking others now) or open new ones,
    // which may reallocate buckets_: index it afresh each time.
    while (true) {
      Bucket& bucket = buckets_[index];
      Block* block = bucket.first;
      if (bucket.head == block->count) {
        if (block->next == nullptr) break;  // Everything for now has run.
        bucket.first = block->next;
        bucket.head = 0;
        FreeBlock(block);
        continue;
      }
      const Entry entry = block->entries[bucket.head++];
      --pending_;
      PromiseBase* p = slots_[entry.slot];  // Held: the entry counts in its refs.
      if (p->done || entry.generation != p->wait_generation) {
        Release(p);  // A cancelled wait.
        continue;
      }
      --p->refs;  // Not done, so not freed.
      // Whatever else is queued for it is stale now: e.g. a process that interrupted itself has
      // an entry for the interrupt and one for the wait it then began.
      ++p->wait_generation;
      ++processed;
      HandleOf(p).resume();
    }
    Bucket& bucket = buckets_[index];
    FreeBlock(bucket.first);
    bucket.first = bucket.last = nullptr;
    bucket.head = 0;
    std::pop_heap(times_.begin(), times_.end(), LaterTime{});
    times_.pop_back();
    if (indexed_) {
      by_time_.erase(bucket.time);
      if (times_.size() < kScannedTimes / 2) {
        by_time_.clear();
        indexed_ = false;
      }
    }
    free_buckets_.push_back(index);
    if (last_bucket_ == index) last_bucket_ = kNoBucket;
  }
  if (until > now_ && until != std::numeric_limits<double>::infinity()) now_ = until;
  events_ += processed;
  return processed;
}

uint64_t Simulation::RunAll() { return Run(std::numeric_limits<double>::infinity()); }

void Simulation::RethrowProcessError() {
  if (first_error_) std::rethrow_exception(std::exchange(first_error_, nullptr));
}

void Simulation::Wake(PromiseBase* p, PromiseBase::Wake how, int cause) {
  if (p == nullptr || p->done) return;
  ++p->wait_generation;  // Whatever it waited for no longer wakes it.
  p->wake = how;
  p->interrupt_cause = cause;
  Schedule(now_, p);
}

void Simulation::Interrupt(ProcessRef process, int cause) {
  Wake(Find(process), PromiseBase::Wake::kInterrupted, cause);
}

void Simulation::Cancel(ProcessRef process) {
  Wake(Find(process), PromiseBase::Wake::kCancelled, 0);
}

Event::~Event() {
  for (const Simulation::Waiter& w : waiters_) sim_.Release(w.process);
}

void Event::Succeed() {
  if (triggered_) return;
  triggered_ = true;
  std::vector<Simulation::Waiter> waiters = std::move(waiters_);
  waiters_.clear();
  for (const Simulation::Waiter& w : waiters) {
    if (!w.process->done && w.generation == w.process->wait_generation) {
      sim_.Schedule(sim_.now_, w.process);
    }
    sim_.Release(w.process);
  }
}

Resource::~Resource() {
  for (const Waiter& w : waiters_) sim_.Release(w.process);
}

size_t Resource::queued() const {
  size_t n = 0;
  for (const Waiter& w : waiters_) {
    if (!w.process->done && w.generation == w.process->wait_generation) ++n;
  }
  return n;
}

void Resource::Release() {
  while (!waiters_.empty()) {
    const Waiter w = waiters_.front();
    waiters_.pop_front();
    const bool waiting = !w.process->done && w.generation == w.process->wait_generation;
    if (waiting) {
      w.awaiter->granted = true;  // The slot passes to it.
      sim_.Schedule(sim_.now_, w.process);
    }
    sim_.Release(w.process);
    if (waiting) return;
  }
  --in_use_;
}

}  // namespace fleettwin::sim
