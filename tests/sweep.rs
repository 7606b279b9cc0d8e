//! Sweeps: expansion, determinism across threads, resume after a kill, shard + merge.
