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
    taskReport @14 :TaskReport;        # agent -> coordinator: an awarded task ended
    taskRevoke @15 :TaskRevoke;        # coordinator -> agent: stop holding a task
    maintenanceDone @16 :MaintenanceDone;            # coordinator -> agent (an operator's)
    maintenanceDoneReply @17 :MaintenanceDoneReply;  # agent -> coordinator
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
  tasks @10 :List(Text);   # The task auctions whose tasks the agent holds (at most 4096).
}

struct Refused {
  messageId @0 :UInt64;    # The refused message.
  reason @1 :Text;         # e.g. "register first", "unknown negotiation".
}

struct CallForProposals {
  negotiation @0 :Text;    # Unique id of this negotiation.
  deadlineUnixMs @1 :Int64;
  maintenance @2 :MaintenanceCall;  # A maintenance negotiation's call, unless task is set.
  task @3 :TaskCall;                # A task auction's call (negotiation is the auction id).
}

# One task for one agent (a robot, a machine): work of `duration` time units of the twin's clock
# at a location or needing a capability, wanted within `deadline` time units from now.
struct TaskCall {
  taskId @0 :Text;
  duration @1 :Float64;
  capability @2 :Text;     # Required of the agent; empty: any agent.
  hasLocation @3 :Bool;
  x @4 :Float64;           # Where, when hasLocation (travel at the agent's own speed).
  y @5 :Float64;
  deadline @6 :Float64;
  lateCost @7 :Float64;    # Cost of finishing after the deadline, in time units.
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
    task @3 :TaskBid;      # To a task call.
  }
}

# The twin's simulated completion of the task after the work it already holds: Monte Carlo
# over its failures and repairs.
struct TaskBid {
  cost @0 :Float64;        # completion + lateCost * pLate: what the auction compares.
  completion @1 :Float64;  # Mean time units from now to the task's end.
  pLate @2 :Float64;       # P(completion > deadline).
  replications @3 :UInt32;
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
  taskId @5 :Text;         # Set when the award is a task auction's: do this task.
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

struct TaskReport {
  taskId @0 :Text;
  auction @1 :Text;        # The auction that awarded it.
  done @2 :Bool;           # Finished; false: dropped (the agent cannot finish it).
  reason @3 :Text;         # Why dropped.
}

# The coordinator's answer to a heartbeat that lists a task the agent no longer has (the task
# was auctioned again after it was lost, or its acceptance came too late).
struct TaskRevoke {
  taskId @0 :Text;
  auction @1 :Text;
  reason @2 :Text;
}

# An operator's record of maintenance done on the asset (fleetctl record), relayed by the
# coordinator: the agent records it in its twin as a ledgered update, as POST /maintenance does.
struct MaintenanceDone {
  request @0 :UInt64;      # Chosen by the coordinator; the reply echoes it.
  hasTime @1 :Bool;
  time @2 :Float64;        # On the twin's clock, when hasTime; else the latest sample's.
  note @3 :Text;           # "failure" scores the twin's RUL predictions.
  author @4 :Text;
  renews @5 :Bool = true;  # The asset is as new afterwards; false: an inspection.
  id @6 :Text;             # Optional record id: the agent refuses a second record with it
                           # (ALREADY_EXISTS), so a retry after a lost answer is safe.
}

struct MaintenanceDoneReply {
  request @0 :UInt64;
  ok @1 :Bool;
  revision @2 :UInt64;     # The twin's revision with the record, when ok.
  code @3 :UInt32;         # Why not, when not ok: an absl::StatusCode number,
  error @4 :Text;          # and its message.
}
