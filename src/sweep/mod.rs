//! Sweeps: many scenario points from one spec, computed in parallel and streamed to one CSV
//! in point order (`peerfluid sweep`, `peerfluid merge`). README "Sweeps", `results/README.md`.
//!
//! * [`spec`]: the `[sweep]` section, validation, and the deterministic expansion of point i;
//! * [`eval`]: one point → one CSV row (steady state and a month of bills, or a whole run);
//! * [`runner`]: threads, blocks, the partial file and `--resume`, shards and `merge`;
//! * [`mod@table`]: the same rows in memory, as columns (the Python bindings).

pub mod eval;
pub mod runner;
pub mod spec;
pub mod table;

pub use runner::{check_points, merge, run_sweep, Manifest, Shard, SweepOptions, SweepReport};
pub use spec::{SweepSpec, DEFAULT_LIMIT};
pub use table::{table, Column, SweepTable};
