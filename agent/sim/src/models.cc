#include "fleettwin/sim/models.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace fleettwin::sim {

// One co_await site on purpose: every suspension point adds an awaiter to the frame, and a
// fleet holds one frame per belt.
Process RunConveyorBelt(Simulation& sim, ConveyorBelt& belt, Random& rng) {
  float delay = 1;
  bool repairing = false;
  while (true) {
    co_await sim.Timeout(delay);
    if (repairing) {
      belt.stats.down += delay;
      belt.stats.repair_started = -1;
      repairing = false;
      delay = 1;
      continue;
    }
    belt.stats.items += static_cast<uint32_t>(std::min(belt.params.capacity, kConveyorLoad));
    belt.stats.working += 1;
    if (rng.Bernoulli(belt.params.failure_rate)) {
      ++belt.stats.failures;
      if (belt.stats.first_failure < 0) {
        belt.stats.first_failure = static_cast<float>(sim.now());
      }
      belt.stats.repair_started = sim.now();
      repairing = true;
      delay = belt.params.repair_time;
    }
  }
}

void RandomConveyorFeed::Refresh(double /*now*/, ConveyorParams& params) {
  params.failure_rate = static_cast<float>(rng_.Uniform(0.01, 0.05));
  params.repair_time = static_cast<float>(rng_.UniformInt(2, 5));
}

Process FeedConveyorBelt(Simulation& sim, ConveyorBelt& belt, ConveyorFeed& feed,
                         double period) {
  while (true) {
    co_await sim.Timeout(period);
    feed.Refresh(sim.now(), belt.params);
  }
}

Process FeedConveyorFleet(Simulation& sim, std::vector<ConveyorBelt>& belts, ConveyorFeed& feed,
                          double period) {
  while (true) {
    co_await sim.Timeout(period);
    for (ConveyorBelt& belt : belts) feed.Refresh(sim.now(), belt.params);
  }
}

ConveyorFleet::ConveyorFleet(Simulation& sim, std::vector<ConveyorParams> params, Random& rng,
                             ConveyorFeed* feed, const ConveyorFleetOptions& options) {
  belts_.resize(params.size());
  for (size_t i = 0; i < params.size(); ++i) belts_[i].params = params[i];
  for (ConveyorBelt& belt : belts_) {
    sim.Start(RunConveyorBelt(sim, belt, rng));
    if (feed != nullptr && options.per_belt_feed) {
      sim.Start(FeedConveyorBelt(sim, belt, *feed, options.feed_period));
    }
  }
  if (feed != nullptr && !options.per_belt_feed) {
    sim.Start(FeedConveyorFleet(sim, belts_, *feed, options.feed_period));
  }
}

double ConveyorFleet::MeanAvailability() const {
  double sum = 0;
  size_t counted = 0;
  for (const ConveyorBelt& belt : belts_) {
    const double total = belt.stats.working + belt.stats.down;
    if (total <= 0) continue;
    sum += belt.stats.working / total;
    ++counted;
  }
  return counted == 0 ? 1.0 : sum / static_cast<double>(counted);
}

double ConveyorFleet::TotalItems() const {
  double sum = 0;
  for (const ConveyorBelt& belt : belts_) sum += belt.stats.items;
  return sum;
}

double DrawLife(Random& rng, double mean, double stddev) {
  // Gamma with shape k and scale theta: mean k*theta, variance k*theta^2.
  const double shape = (mean * mean) / (stddev * stddev);
  const double scale = (stddev * stddev) / mean;
  return rng.Gamma(shape, scale);
}

namespace {

constexpr int kMaintenance = 1;

// Runs until its life is used up (a failure) or a maintenance interrupts it; then it is down
// and comes back renewed.
Process RunEngine(Simulation& sim, const TurbofanParams& params, TurbofanOutcome& outcome,
                  Random& rng) {
  double life = DrawLife(rng, params.rul_mean, params.rul_std);
  while (true) {
    const double started = sim.now();
    outcome.up_started = started;
    bool maintained = false;
    try {
      co_await sim.Timeout(life);
    } catch (const Interrupted&) {
      maintained = true;
    }
    const double ran = sim.now() - started;
    outcome.operating += ran;
    outcome.up_started = -1;
    double down_for;
    if (maintained) {
      ++outcome.maintenances;
      if (outcome.life_at_maintenance < 0) outcome.life_at_maintenance = life - ran;
      down_for = params.maintenance_duration;
    } else {
      ++outcome.failures;
      if (outcome.first_failure < 0) outcome.first_failure = sim.now();
      down_for = params.repair_duration;
    }
    // Down: a maintenance called while the engine is already down is covered by this spell.
    outcome.down_started = sim.now();
    const double until = sim.now() + down_for;
    while (sim.now() < until) {
      try {
        co_await sim.Timeout(until - sim.now());
      } catch (const Interrupted&) {
      }
    }
    outcome.down += down_for;
    outcome.down_started = -1;
    life = DrawLife(rng, params.renewed_life_mean, params.renewed_life_std);
  }
}

Process ScheduleMaintenance(Simulation& sim, ProcessRef engine, const TurbofanOutcome& outcome,
                            double at) {
  co_await sim.Timeout(at);
  if (outcome.failures == 0) sim.Interrupt(engine, kMaintenance);  // Preventive only.
}

}  // namespace

void StartTurbofan(Simulation& sim, const TurbofanParams& params, TurbofanOutcome& outcome,
                   Random& rng) {
  const ProcessRef engine = sim.Start(RunEngine(sim, params, outcome, rng));
  if (params.maintenance_at.has_value()) {
    sim.Start(
        ScheduleMaintenance(sim, engine, outcome, std::max(0.0, *params.maintenance_at)));
  }
}

}  // namespace fleettwin::sim
