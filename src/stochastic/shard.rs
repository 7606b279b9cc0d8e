//! A share of a stochastic job's replicates into a records file, resumable; and the fold of
//! the files of all shards in replicate order.
//!
//! Items: a job of S scales × R replicates has items u = i·R + r (scale i, replicate r; a
//! `simulate` has S = 1). Item u runs the chain at scale i from seed
//! [`replicate_seed`]`(seed, r)`, as the unsharded run does, so it is the same replicate bit
//! for bit wherever it runs. Shard K of N runs the items u with u mod N = K, in increasing
//! order, [`chunk`] at a time in parallel, appending each chunk's records to its file
//! (flushed and synced) before the next starts. `--resume` keeps the valid records (whole,
//! checksummed, the expected items in order), cuts anything after them and runs the rest.
//!
//! [`fold`] reads the files of shards 0..N and pushes item u = 0, 1, 2, … from file u mod N
//! into the accumulator of its scale: the replicate order of the unsharded run, hence its
//! floating-point operations and its bytes.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use super::records::{self, Header, HEADER_BYTES};
use super::{
    check_events, check_grid, replicate_seed, run_replicate, Accumulator, Chain, Replicate,
    SimSettings, Simulation, CHUNK,
};
use crate::error::SimError;
use crate::model::swarm::Swarm;
use crate::shard::Shard;

/// A stochastic job: every scale's replicates on one grid.
#[derive(Debug, Clone, Copy)]
pub struct Work<'a> {
    /// The swarm.
    pub swarm: &'a Swarm,
    /// Output times (the fluid run's grid).
    pub grid: &'a [f64],
    /// Scales N (one for `simulate`).
    pub scales: &'a [f64],
    /// Replicates per scale.
    pub replicates: usize,
    /// Base seed (the same for every scale).
    pub seed: u64,
}

impl Work<'_> {
    /// Items in the job: scales × replicates.
    pub fn items(&self) -> u64 {
        (self.scales.len() * self.replicates) as u64
    }

    /// Scale index and replicate of item `u`.
    pub fn item(&self, u: u64) -> (usize, u64) {
        let r = self.replicates as u64;
        ((u / r) as usize, u % r)
    }

    /// Check every scale's settings, the grid and the expected events, before anything runs.
    ///
    /// # Errors
    ///
    /// As [`SimSettings::new`], [`check_events`] and the grid check.
    pub fn check(&self) -> Result<Vec<SimSettings>, SimError> {
        check_grid(self.grid)?;
        let horizon = self.grid[self.grid.len() - 1];
        self.scales
            .iter()
            .map(|&n| {
                let s = SimSettings::new(n, self.replicates, self.seed)?;
                check_events(self.swarm, horizon, &s)?;
                Ok(s)
            })
            .collect()
    }

    /// The records header of `shard` for a job with this `fingerprint`.
    pub fn header(&self, shard: Shard, fingerprint: u64) -> Header {
        Header {
            fingerprint,
            items: self.items(),
            shard_index: shard.index,
            shard_count: shard.count,
            grid_len: self.grid.len() as u64,
            width: 3 * self.swarm.classes.len() as u64 + 4,
        }
    }
}

/// Items computed in parallel before their records are written: two per thread, at most
/// [`CHUNK`] (a kill loses at most one chunk; the size does not change any result).
pub fn chunk(threads: usize) -> u64 {
    (2 * threads.max(1)).min(CHUNK) as u64
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> SimError + '_ {
    move |e| SimError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// The valid part of a records file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// Whole, checksummed records of the expected items, in order.
    pub records: u64,
    /// Bytes up to the end of the last of them.
    pub valid_len: u64,
}

/// Read `path` against `header`: the records of `shard`'s items 0, 1, … that are whole and
/// intact; `sink` gets each one (item, replicate) in order.
///
/// # Errors
///
/// [`SimError::Records`] when the file is not a records file of this job and shard (another
/// scenario, settings, peerfluid version or shard); [`SimError::Io`].
pub fn scan(
    path: &Path,
    header: &Header,
    shard: Shard,
    mut sink: impl FnMut(u64, &Replicate),
) -> Result<Scan, SimError> {
    let mut r = BufReader::with_capacity(1 << 20, File::open(path).map_err(io_err(path))?);
    let mut head = vec![0u8; HEADER_BYTES];
    let got = read_full(&mut r, &mut head).map_err(io_err(path))?;
    if got < HEADER_BYTES {
        // Killed before the header was whole: nothing to keep.
        return Ok(Scan {
            records: 0,
            valid_len: 0,
        });
    }
    match Header::decode(&head) {
        Some(h) if h == *header => {}
        Some(h) => {
            return Err(SimError::Records {
                path: path.to_path_buf(),
                reason: mismatch(&h, header),
            })
        }
        None => {
            return Err(SimError::Records {
                path: path.to_path_buf(),
                reason: "not a peerfluid records file".into(),
            })
        }
    }
    let mut buf = vec![0u8; header.record_bytes()];
    let mut records = 0;
    let total = shard.rows(header.items);
    while records < total {
        if read_full(&mut r, &mut buf).map_err(io_err(path))? < buf.len() {
            break;
        }
        match records::decode(&buf, header) {
            Some((u, rep)) if u == shard.point(records) => {
                sink(u, &rep);
                records += 1;
            }
            _ => break,
        }
    }
    Ok(Scan {
        records,
        valid_len: (HEADER_BYTES + records as usize * buf.len()) as u64,
    })
}

/// Why a records file's header is not this job's.
fn mismatch(found: &Header, expected: &Header) -> String {
    if found.fingerprint != expected.fingerprint {
        format!(
            "written for another job (fingerprint {:016x}, this one is {:016x}: another scenario, \
             --scale(s), --replicates, --seed, --points or peerfluid version)",
            found.fingerprint, expected.fingerprint
        )
    } else {
        format!(
            "holds shard {}/{} of {} items, expected shard {}/{} of {}",
            found.shard_index,
            found.shard_count,
            found.items,
            expected.shard_index,
            expected.shard_count,
            expected.items
        )
    }
}

/// Read until `buf` is full or the file ends; the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// What [`run_shard`] did.
#[derive(Debug, Clone, Copy)]
pub struct ShardRun {
    /// Items of this shard.
    pub items: u64,
    /// Items found done in the file (`--resume`).
    pub resumed_from: u64,
    /// Items computed by this call.
    pub computed: u64,
    /// Seconds spent computing them.
    pub seconds: f64,
}

/// Run `shard`'s items of `work` into the records file `path` (created with `header`, or with
/// `resume` continued after its valid records), calling `sink` with every item of the shard
/// in order: first those read back, then each new one once its record is on disk. `threads`
/// sets the chunk size ([`chunk`]); the items run on the current rayon pool.
///
/// # Errors
///
/// [`SimError::Unfinished`] when `path` exists and `resume` is false; the errors of
/// [`scan`], [`Work::check`] and [`run_replicate`]; [`SimError::Io`].
#[allow(clippy::too_many_arguments)] // one call site per command; a struct would only rename them
pub fn run_shard(
    work: &Work,
    shard: Shard,
    header: &Header,
    path: &Path,
    resume: bool,
    threads: usize,
    progress: bool,
    mut sink: impl FnMut(u64, &Replicate),
) -> Result<ShardRun, SimError> {
    let settings = work.check()?;
    let chains: Vec<Chain> = settings
        .iter()
        .map(|s| Chain::new(work.swarm, s.scale))
        .collect();
    let total = shard.rows(work.items());
    let mut start = 0;
    if path.exists() {
        if !resume {
            let found = scan(path, header, shard, |_, _| {})?;
            return Err(SimError::Unfinished {
                path: path.to_path_buf(),
                done: found.records,
                total,
            });
        }
        let found = scan(path, header, shard, &mut sink)?;
        start = found.records;
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        if found.valid_len < HEADER_BYTES as u64 {
            f.set_len(0).map_err(io_err(path))?;
            (&f).write_all(&header.encode()).map_err(io_err(path))?;
        } else {
            // Drop a torn or garbled tail (the kill came mid-write).
            f.set_len(found.valid_len).map_err(io_err(path))?;
        }
        f.sync_all().map_err(io_err(path))?;
    } else {
        let mut f = File::create(path).map_err(io_err(path))?;
        f.write_all(&header.encode()).map_err(io_err(path))?;
        f.sync_all().map_err(io_err(path))?;
    }
    let file = OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io_err(path))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let bar = crate::progress::progress_bar(progress, total, start, "replicates");
    let clock = Instant::now();
    let step = chunk(threads);
    let mut bytes = Vec::new();
    let mut j = start;
    while j < total {
        let end = (j + step).min(total);
        let reps = (j..end)
            .into_par_iter()
            .map(|row| {
                let u = shard.point(row);
                let (i, r) = work.item(u);
                let rep = run_replicate(&chains[i], work.grid, replicate_seed(work.seed, r));
                bar.inc(1);
                rep.map(|rep| (u, rep))
            })
            .collect::<Result<Vec<_>, _>>()?;
        bytes.clear();
        for (u, rep) in &reps {
            records::encode(*u, rep, &mut bytes);
        }
        w.write_all(&bytes).map_err(io_err(path))?;
        w.flush().map_err(io_err(path))?;
        w.get_ref().sync_data().map_err(io_err(path))?;
        for (u, rep) in &reps {
            sink(*u, rep);
        }
        j = end;
    }
    bar.finish_and_clear();
    Ok(ShardRun {
        items: total,
        resumed_from: start,
        computed: total - start,
        seconds: clock.elapsed().as_secs_f64(),
    })
}

/// The simulations of every scale of `work` from the records files of shards 0..N (`files[k]`
/// is shard k's), folded in replicate order; `wall_seconds` and `threads` are 0 (the caller
/// reports the shards' timing).
///
/// # Errors
///
/// [`SimError::Records`] when a file is not its shard's, or holds fewer records than its
/// shard has items, or a record is not the expected item.
pub fn fold(work: &Work, files: &[PathBuf], fingerprint: u64) -> Result<Vec<Simulation>, SimError> {
    let settings = work.check()?;
    let count = files.len() as u64;
    let mut readers = Vec::with_capacity(files.len());
    for (k, path) in files.iter().enumerate() {
        let shard = Shard {
            index: k as u64,
            count,
        };
        let header = work.header(shard, fingerprint);
        let mut r = BufReader::with_capacity(1 << 20, File::open(path).map_err(io_err(path))?);
        let mut head = vec![0u8; HEADER_BYTES];
        read_full(&mut r, &mut head).map_err(io_err(path))?;
        match Header::decode(&head) {
            Some(h) if h == header => {}
            Some(h) => {
                return Err(SimError::Records {
                    path: path.clone(),
                    reason: mismatch(&h, &header),
                })
            }
            None => {
                return Err(SimError::Records {
                    path: path.clone(),
                    reason: "not a peerfluid records file".into(),
                })
            }
        }
        readers.push((r, header, path));
    }
    let mut buf = Vec::new();
    let mut sims = Vec::with_capacity(settings.len());
    let mut u = 0u64;
    for s in &settings {
        let mut acc = Accumulator::new(work.swarm, work.grid, s.scale);
        for _ in 0..work.replicates {
            let (r, header, path) = &mut readers[(u % count) as usize];
            buf.resize(header.record_bytes(), 0);
            let got = read_full(r, &mut buf).map_err(io_err(path))?;
            let rec = (got == buf.len())
                .then(|| records::decode(&buf, header))
                .flatten();
            match rec {
                Some((item, rep)) if item == u => acc.push(&rep),
                _ => {
                    return Err(SimError::Records {
                        path: path.to_path_buf(),
                        reason: format!(
                            "expected the record of item {u} (scale {}, replicate {}): {}",
                            s.scale,
                            u % work.replicates as u64,
                            if got < buf.len() {
                                "the file ends before it (unfinished: rerun the shard with --resume)"
                            } else {
                                "found another or a damaged record"
                            }
                        ),
                    })
                }
            }
            u += 1;
        }
        sims.push(acc.finish(work.swarm, work.grid, s, 0.0, 0));
    }
    Ok(sims)
}
