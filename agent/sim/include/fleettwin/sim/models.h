// The simulation models the twins ship with, written as coroutine processes on the engine:
// the conveyor belt of the design (with a live parameter feed), a fleet of them in one run, and
// turbofan degradation driven by a twin's RUL estimate and its uncertainty.
#ifndef FLEETTWIN_SIM_MODELS_H_
#define FLEETTWIN_SIM_MODELS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "fleettwin/sim/random.h"
#include "fleettwin/sim/simulation.h"

namespace fleettwin::sim {

// ---- Conveyor belt ----------------------------------------------------------------------

// Every time unit a working belt processes min(capacity, kConveyorLoad) items; at the end of
// each working unit it fails with probability failure_rate and is then repaired for
// repair_time units. Availability is exactly 1 / (1 + failure_rate * E[repair_time]) in the
// long run (renewal-reward: 1/failure_rate working units per failure).
inline constexpr int kConveyorLoad = 5;

struct ConveyorParams {
  int32_t capacity = 5;
  float failure_rate = 0.02f;  // Per working unit, in [0, 1].
  float repair_time = 3;       // Units per repair, > 0.
};

struct ConveyorStats {
  double down = 0;             // Time units under repair (counted when the repair ends).
  double repair_started = -1;  // While under repair: when it started; -1 while working.
  uint32_t items = 0;
  uint32_t working = 0;        // Time units worked.
  uint32_t failures = 0;
  float first_failure = -1;    // Time of the first failure (float: a report), -1 while none.
  // Down time up to `now`, including a repair still in progress.
  double DownUntil(double now) const {
    return down + (repair_started >= 0 ? now - repair_started : 0);
  }
};

// One belt's state. Kept small: a fleet holds one per twin.
struct ConveyorBelt {
  ConveyorParams params;
  ConveyorStats stats;
};

// The belt process. `belt` and `rng` must outlive the simulation's run.
Process RunConveyorBelt(Simulation& sim, ConveyorBelt& belt, Random& rng);

// Where live parameters come from: the twin's calibration in the agent, a random walk in the
// benchmark. Called from the feed process every `period` units.
class ConveyorFeed {
 public:
  virtual ~ConveyorFeed() = default;
  virtual void Refresh(double now, ConveyorParams& params) = 0;
};

// The benchmark's feed: failure_rate := uniform(low, high), repair_time := randint(a, b).
class RandomConveyorFeed final : public ConveyorFeed {
 public:
  explicit RandomConveyorFeed(Random& rng) : rng_(rng) {}
  void Refresh(double now, ConveyorParams& params) override;

 private:
  Random& rng_;
};

// Refreshes one belt's parameters every `period` units, starting one period from now.
Process FeedConveyorBelt(Simulation& sim, ConveyorBelt& belt, ConveyorFeed& feed, double period);
// Refreshes every belt of `belts` every `period` units (one process for a whole fleet).
Process FeedConveyorFleet(Simulation& sim, std::vector<ConveyorBelt>& belts, ConveyorFeed& feed,
                          double period);

// N belts in one simulation, sharing one random source (the run stays deterministic: the
// engine's order is). With `feed`, parameters are refreshed every `feed_period` units, by one
// feed process per belt (`per_belt_feed`) or one for the fleet.
struct ConveyorFleetOptions {
  double feed_period = 5;
  bool per_belt_feed = true;
};
class ConveyorFleet final {
 public:
  ConveyorFleet(Simulation& sim, std::vector<ConveyorParams> params, Random& rng,
                ConveyorFeed* feed, const ConveyorFleetOptions& options = {});
  const std::vector<ConveyorBelt>& belts() const { return belts_; }
  // Mean over belts of worked time / (worked + repair) time.
  double MeanAvailability() const;
  double TotalItems() const;

 private:
  std::vector<ConveyorBelt> belts_;
};

// ---- Turbofan degradation ---------------------------------------------------------------

// One engine whose remaining life is drawn from the twin's RUL estimate: Gamma-distributed with
// the estimate as mean and its uncertainty as standard deviation (positive, right-skewed). A
// failure process interrupts the engine when that life is used up; an optional preventive
// maintenance interrupts it at `maintenance_at` (cancelling the pending failure). Either way
// the engine is down (repair or maintenance) and comes back with a fresh life. The maintenance
// is preventive: it is called off if the engine has failed before it (the repair renewed it).
struct TurbofanParams {
  double rul_mean = 100;          // Cycles, > 0.
  double rul_std = 20;            // Cycles, > 0.
  std::optional<double> maintenance_at = std::nullopt;  // Cycles from now; none: no maintenance.
  double maintenance_duration = 5;
  double repair_duration = 20;    // After a failure.
  double renewed_life_mean = 200; // Life after maintenance or repair.
  double renewed_life_std = 40;
};

struct TurbofanOutcome {
  double first_failure = -1;        // Time of the first failure, -1 if none in the run.
  double life_at_maintenance = -1;  // Remaining life thrown away by the maintenance, -1 if none.
  uint32_t failures = 0;
  uint32_t maintenances = 0;
  double down = 0;  // Cycles down (repairs and maintenance) that ended within the run.
  double down_started = -1;  // While down: since when; -1 while operating.
  double operating = 0;      // Cycles run in spells that ended within the run.
  double up_started = -1;    // While operating: since when; -1 while down.
  double OperatingUntil(double now) const {
    return operating + (up_started >= 0 ? now - up_started : 0);
  }
  double DownUntil(double now) const {
    return down + (down_started >= 0 ? now - down_started : 0);
  }
};

// Adds the engine's processes to `sim`. `params`, `outcome` and `rng` must outlive the run.
void StartTurbofan(Simulation& sim, const TurbofanParams& params, TurbofanOutcome& outcome,
                   Random& rng);

// Gamma draw with the given mean and standard deviation (both > 0).
double DrawLife(Random& rng, double mean, double stddev);

}  // namespace fleettwin::sim

#endif  // FLEETTWIN_SIM_MODELS_H_
