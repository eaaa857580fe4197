# The fleet protocol between fleet-coordinator (ZeroMQ ROUTER) and its agents (DEALER), every
# socket CURVE-encrypted: one Envelope per ZeroMQ message (docs/protocols.md).
@0xadf4e6ae8bcf4c45;

$import "/capnp/c++.capnp".namespace("fleettwin::proto");

struct Envelope {
  version @0 :UInt16;      # 1. Other versions are refused (counted), never guessed at.
  session @1 :UInt64;      # Chosen by the sender when it starts, larger than any earlier one
                           # (its start time in nanoseconds).
  messageId @2 :UInt64;    # From 1, +1 per message within a session. A message whose
                           # (session, messageId) is not above the last accepted one from that
                           # sender is a duplicate or a replay, and is ignored (counted).
  sender @3 :Text;         # The asset id, or "coordinator". Must be the name the sender's
                           # CURVE key is registered under.
  sentUnixMs @4 :Int64;
  body :union {
    register @5 :Register;             # agent -> coordinator, first message of a session
    welcome @6 :Welcome;               # coordinator -> agent
    heartbeat @7 :Heartbeat;           # agent -> coordinator
    refused @8 :Refused;               # coordinator -> agent: the message was not accepted
    callForProposals @9 :CallForProposals;  # coordinator -> agent
    bid @10 :Bid;                      # agent -> coordinator
    award @11 :Award;                  # coordinator -> agent
    awardReply @12 :AwardReply;        # agent -> coordinator
    commit @13 :Commit;                # coordinator -> agent
  }
}

struct Register {
  kind @0 :Text;           # The asset kind (e.g. "cmapss-turbofan").
  agentVersion @1 :Text;
  heartbeatMs @2 :UInt32;  # How often the agent will heartbeat.
}

struct Welcome {
  coordinatorSession @0 :UInt64;
  heartbeatTimeoutMs @1 :UInt32;  # Silence after which the agent counts as lost.
}

# A summary of the twin, small enough to send every few seconds from every agent.
struct Heartbeat {
  revision @0 :UInt64;     # The twin's revision.
  health @1 :Text;         # Worst health level: "ok", "warning", "alarm", "unknown".
  hasRul @2 :Bool;
  rul @3 :Float64;         # Remaining useful life estimate (cycles) when hasRul.
  rulStd @4 :Float64;
  pFail @5 :Float64;
  anomaly @6 :Bool;
  drift @7 :Bool;
  modelVersion @8 :Text;
  checkpoint @9 :Text;     # The agent ledger's latest signed checkpoint (C2SP signed note);
                           # empty when the agent has none yet.
}

struct Refused {
  messageId @0 :UInt64;    # The refused message.
  reason @1 :Text;         # e.g. "register first", "unknown negotiation".
}

struct CallForProposals {
  negotiation @0 :Text;    # Unique id of this negotiation.
  deadlineUnixMs @1 :Int64;
  maintenance @2 :MaintenanceCall;  # The only kind of call so far.
}

struct MaintenanceCall {
  horizon @0 :UInt32;      # Cycles from now.
  duration @1 :UInt32;     # Cycles per maintenance; slot k starts at k * duration.
  crews @2 :UInt32;
  failureCost @3 :Float64;
  preventiveCost @4 :Float64;
  wastedLifeCost @5 :Float64;  # Per cycle of remaining life thrown away.
}

struct Bid {
  negotiation @0 :Text;
  union {
    maintenance @1 :MaintenanceBid;
    decline @2 :Text;      # Why the agent does not bid (e.g. "no RUL estimate").
  }
}

struct MaintenanceBid {
  slotCost @0 :List(Float64);  # Expected cost per start slot, then:
  noneCost @1 :Float64;        # expected cost with no maintenance in the horizon.
  rul @2 :Float64;             # The estimate the bid was computed from.
  rulStd @3 :Float64;
  replications @4 :UInt32;
  modelVersion @5 :Text;
}

struct Award {
  negotiation @0 :Text;
  planHash @1 :Data;       # SHA-256 of the proposed plan's canonical form.
  slot @2 :Int32;          # -1: not maintained within the horizon.
  start @3 :Int32;         # Cycles from now, -1 when slot is -1.
  crew @4 :Int32;
}

struct AwardReply {
  negotiation @0 :Text;
  planHash @1 :Data;
  accept @2 :Bool;
  reason @3 :Text;         # Why not, when refused.
}

struct Commit {
  negotiation @0 :Text;
  planHash @1 :Data;       # The committed plan (may differ from the award's after a re-solve).
  slot @2 :Int32;
  start @3 :Int32;
  crew @4 :Int32;
  fleetLedgerIndex @5 :UInt64;  # Where the coordinator ledgered the plan.
}
