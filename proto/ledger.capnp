# Ledger records. The leaf bytes of a ledger entry are the canonical Cap'n Proto encoding
# (single segment, no segment table) of one Entry; see docs/ledger.md.
@0xd0ccd6391da63217;

$import "/capnp/c++.capnp".namespace("fleettwin::proto");

struct Entry {
  index @0 :UInt64;          # Position in the ledger, from 0.
  kind @1 :Text;             # What the entry records, e.g. "twin.update", "manual".
  author @2 :Text;           # Who wrote it: an asset id, "coordinator", an operator name.
  revision @3 :UInt64;       # The author's own revision counter (0 if it has none).
  wallTimeNanos @4 :Int64;   # Unix time in nanoseconds when the writer accepted it.
  payload @5 :Data;          # Opaque to the ledger; the kind says how to read it.
  prevHash @6 :Data;         # SHA-256 of the previous entry's leaf bytes; 32 zero bytes at 0.
}
