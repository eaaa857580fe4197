# Telemetry on the wire: what a sensor gateway sends to an agent's ZeroMQ PULL endpoint, one
# message per batch (docs/ingestion.md). Fields are typed as they were read, so the agent can
# reject a wrong type rather than guess.
@0xfc6bd2bbee88508b;

$import "/capnp/c++.capnp".namespace("fleettwin::proto");

struct TelemetryBatch {
  version @0 :UInt16;               # 1.
  asset @1 :Text;                   # The asset the samples belong to.
  samples @2 :List(TelemetrySample);
}

struct TelemetrySample {
  time @0 :Float64;                 # In the asset kind's time unit.
  fields @1 :List(Field);
}

struct Field {
  name @0 :Text;
  value :union {
    number @1 :Float64;
    text @2 :Text;
    boolean @3 :Bool;
    null @4 :Void;
  }
}
