# Twin records: the payloads of an agent's ledger entries (entry kind "twin.update" and
# "twin.rejection"). Each payload is the canonical encoding of one struct below, so an auditor
# can rebuild a twin's whole history from its ledger alone (docs/twin.md).
@0xb611471b51ba60dc;

$import "/capnp/c++.capnp".namespace("fleettwin::proto");

# One applied change to a twin; revisions count from 1 and increase by one.
struct TwinUpdate {
  asset @0 :Text;
  revision @1 :UInt64;
  union {
    sample @2 :AcceptedSample;     # Telemetry that passed every check.
    desired @3 :DesiredValue;      # An operator or plan set a desired value.
    maintenance @4 :Maintenance;   # Maintenance done on the asset.
    modelVersion @5 :Text;         # The failure model the twin now uses.
    calibration @6 :Text;          # Simulator parameters re-estimated from the twin's history
                                   # (Calibration::Encode(): compact JSON, sorted keys).
  }
}

struct AcceptedSample {
  time @0 :Float64;
  values @1 :List(Float64);  # One per channel of the asset kind, in its order; NaN if absent.
}

struct DesiredValue {
  name @0 :Text;
  value @1 :Float64;
  author @2 :Text;
}

struct Maintenance {
  time @0 :Float64;
  note @1 :Text;
  author @2 :Text;
  # A renewal (overhaul, replacement, the repair after a failure): the asset's age restarts.
  # False for work that leaves the asset as worn as it was (an inspection). Records written
  # before this field existed read as true, which is what they meant.
  renews @3 :Bool = true;
  # Optional, chosen by whoever records it (fleetctl record makes one): a second record with the
  # same id is refused, so an operator can retry a record whose answer was lost. Unset (not an
  # empty text) when there is none, so records without one encode as before.
  id @4 :Text;
}

# A sample that failed a check; it changed nothing in the twin.
struct SampleRejection {
  asset @0 :Text;
  time @1 :Float64;
  reason @2 :Text;   # schema, type, not_finite, range, duplicate, out_of_order, rate.
  detail @3 :Text;
  raw @4 :Data;      # The sample as received, truncated to 1 KiB.
}
