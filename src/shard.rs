//! Shards for clusters: `--shard K/N` of `sweep`, `simulate` and `validate`.
//!
//! Work items (sweep points; replicates of `simulate`; (scale, replicate) pairs of
//! `validate`) are numbered 0, 1, 2, …; shard K of N owns the items i with i mod N = K
//! (interleaved, so that every shard gets its share of cheap and costly items). K is 0-based
//! unless `--shard-base 1` says the ids start at 1 (a Slurm array written `--array=1-N`).
//! README "Running on a cluster".

use serde::{Deserialize, Serialize};

use crate::error::ShardError;

/// One shard: this run computes the items i with i mod `count` = `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// K, 0-based.
    pub index: u64,
    /// N.
    pub count: u64,
}

/// `--shard K/N` as typed, before `--shard-base` says where K starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardId {
    /// K as given.
    pub id: u64,
    /// N as given.
    pub count: u64,
}

impl ShardId {
    /// Parse "K/N" (whole numbers; the range is checked by [`ShardId::resolve`]).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("'{s}': expected K/N, e.g. 3/16"))?;
        let num = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("'{s}': '{v}' is not a whole number"))
        };
        Ok(Self {
            id: num(k)?,
            count: num(n)?,
        })
    }

    /// The shard this id names when ids start at `base` (0 or 1).
    ///
    /// # Errors
    ///
    /// [`ShardError`] when N is 0, the base is not 0 or 1, or K is outside base..base + N;
    /// the message says why a Slurm array would produce such an id (1-based ids, an array
    /// with gaps) and what to write instead.
    pub fn resolve(self, base: u64) -> Result<Shard, ShardError> {
        let Self { id, count } = self;
        if base > 1 {
            return Err(ShardError::Base { base });
        }
        if count == 0 {
            return Err(ShardError::NoShards { id });
        }
        if id < base {
            return Err(ShardError::BelowBase { id, count, base });
        }
        if id - base >= count {
            return Err(ShardError::Beyond {
                id,
                count,
                base,
                last: base + count - 1,
            });
        }
        Ok(Shard {
            index: id - base,
            count,
        })
    }
}

impl Shard {
    /// The whole run as one shard (0 of 1).
    pub const WHOLE: Self = Self { index: 0, count: 1 };

    /// Parse "K/N", 0-based (K < N).
    pub fn parse(s: &str) -> Result<Self, String> {
        ShardId::parse(s)?.resolve(0).map_err(|e| e.to_string())
    }

    /// Number of the `total` items in this shard.
    pub fn rows(self, total: u64) -> u64 {
        if self.index >= total {
            0
        } else {
            (total - self.index).div_ceil(self.count)
        }
    }

    /// The item of row `j` of this shard.
    pub fn point(self, j: u64) -> u64 {
        self.index + j * self.count
    }

    /// Whether item `i` belongs to this shard.
    pub fn owns(self, i: u64) -> bool {
        i % self.count == self.index
    }

    /// `shard-KKKK-of-NNNN`, the stem of the shard's files (K 0-based).
    pub fn stem(self) -> String {
        format!("shard-{:04}-of-{:04}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_resolve_from_either_base_and_refusals_explain() {
        let id = |s: &str| ShardId::parse(s).expect("syntax");
        assert_eq!(id("2/3").resolve(0).unwrap(), Shard { index: 2, count: 3 });
        assert_eq!(id("3/3").resolve(1).unwrap(), Shard { index: 2, count: 3 });
        assert_eq!(id("1/3").resolve(1).unwrap(), Shard { index: 0, count: 3 });
        let e = id("3/3").resolve(0).unwrap_err().to_string();
        assert!(
            e.starts_with("--shard 3/3: K must be 0 to 2 (0-based)")
                && e.contains("--shard-base 1")
                && e.contains("gaps"),
            "{e}"
        );
        let e = id("0/3").resolve(1).unwrap_err().to_string();
        assert!(e.contains("ids start at 1"), "{e}");
        let e = id("0/0").resolve(0).unwrap_err().to_string();
        assert!(e.contains("N must be at least 1"), "{e}");
        assert!(ShardId::parse("3").unwrap_err().contains("expected K/N"));
        assert!(ShardId::parse("a/3").unwrap_err().contains("not a whole"));
    }

    #[test]
    fn interleaved_rows_cover_every_item_once() {
        for count in 1..5 {
            let mut seen = vec![0; 11];
            for index in 0..count {
                let s = Shard { index, count };
                for j in 0..s.rows(11) {
                    assert!(s.owns(s.point(j)));
                    seen[s.point(j) as usize] += 1;
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "{count}: {seen:?}");
        }
    }
}
