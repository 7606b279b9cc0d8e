//! `simulate` and `validate` as jobs that may be sharded, resumed and merged (the glue between
//! the scenario, [`super::shard`] and the output files; errors are [`JobError`]s saying which
//! step of which job failed).
//!
//! Files in the output folder (`results/README.md`, "Stochastic runs"):
//! * unsharded: while running, `replicates.partial` (the records of the replicates done, for
//!   `--resume`); at the end the outputs (`timeseries.csv` + `summary.json`, or
//!   `validation.csv` + `.json` + figure), `timing.json`, and the partial file is removed;
//! * `--shard K/N`: `shard-KKKK-of-NNNN.reps` (the shard's records) and
//!   `shard-KKKK-of-NNNN.json` (its manifest); `peerfluid merge DIR` folds them into the
//!   unsharded run's outputs, byte for byte.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::records::fnv1a;
use super::shard::{fold, run_shard, ShardRun, Work};
use super::{
    compare, Accumulator, FluidReference, ShardTiming, SimSettings, SimSummary, Simulation, Timing,
    Validation, ValidationRow,
};
use crate::error::{JobError, SimError};
use crate::model::swarm::Swarm;
use crate::output;
use crate::scenario::Scenario;
use crate::shard::Shard;

/// Which command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `simulate`: one scale.
    Simulate,
    /// `validate`: several scales against the fluid solution.
    Validate,
}

impl Kind {
    /// "simulate" or "validate" (the `kind` of a shard's manifest).
    pub fn label(self) -> &'static str {
        match self {
            Self::Simulate => "simulate",
            Self::Validate => "validate",
        }
    }
    /// The kind of results folder it writes (`output::claim`).
    fn results(self) -> &'static str {
        match self {
            Self::Simulate => "run",
            Self::Validate => "validation",
        }
    }
}

/// A `simulate` or `validate` as asked on the command line.
#[derive(Debug, Clone)]
pub struct JobOptions {
    /// Which command.
    pub kind: Kind,
    /// Scenario file, as given (it is the `source` of the outputs).
    pub file: PathBuf,
    /// Scales (one for `simulate`).
    pub scales: Vec<f64>,
    /// Replicates per scale.
    pub replicates: usize,
    /// Base seed.
    pub seed: u64,
    /// Output intervals.
    pub points: u32,
    /// Output folder.
    pub out: PathBuf,
    /// Run only this shard.
    pub shard: Option<Shard>,
    /// Continue a killed run or shard.
    pub resume: bool,
    /// Draw the figure (`validate`).
    pub plots: bool,
    /// Show a progress bar.
    pub progress: bool,
}

/// `shard-KKKK-of-NNNN.json`: what a shard of a `simulate` or `validate` is, for `merge` and
/// `--resume` (fields in `results/README.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardManifest {
    /// peerfluid version that wrote it.
    pub peerfluid_version: String,
    /// "simulate" or "validate".
    pub kind: String,
    /// 16 hex digits: hash of everything that decides the replicates and the outputs.
    pub fingerprint: String,
    /// Scenario name.
    pub scenario: String,
    /// The scenario file as given (the outputs' `source`).
    pub file: String,
    /// The scenario file's absolute path (where `merge` reads it).
    pub file_path: String,
    /// Scales N.
    pub scales: Vec<f64>,
    /// The scales' bits (hex), so that `merge` uses exactly the same numbers.
    pub scale_bits: Vec<String>,
    /// Replicates per scale.
    pub replicates: usize,
    /// Base seed.
    pub seed: u64,
    /// Output intervals.
    pub points: u32,
    /// This shard.
    pub shard: Shard,
    /// Items (scales × replicates) of the whole job.
    pub items: u64,
    /// Items of this shard done (all of them when complete).
    pub rows: u64,
    /// Whether the shard is complete.
    pub complete: bool,
    /// Wall-clock figures (not part of any merged output but `timing.json`).
    pub timing: ShardTiming,
}

/// What a job did.
#[derive(Debug)]
pub enum Outcome {
    /// An unsharded or merged `simulate`.
    Simulated {
        /// The summary written.
        summary: Box<SimSummary>,
        /// Files written.
        files: Vec<PathBuf>,
    },
    /// An unsharded or merged `validate`.
    Validated {
        /// The rows and slopes written.
        validation: Validation,
        /// Files written.
        files: Vec<PathBuf>,
    },
    /// One shard done.
    Shard {
        /// Its manifest.
        manifest: ShardManifest,
        /// Files written.
        files: Vec<PathBuf>,
    },
}

/// The report of [`run`]: the outcome and the replicates' counts of this call.
#[derive(Debug)]
pub struct Report {
    /// What was written.
    pub outcome: Outcome,
    /// Replicates of this call (None for a merge or a shard already complete).
    pub run: Option<ShardRun>,
}

/// Everything a job is computed from.
struct Setup {
    scenario: Scenario,
    swarm: Swarm,
    reference: FluidReference,
    fingerprint: u64,
}

fn setup(
    scenario: Scenario,
    opts_kind: Kind,
    scales: &[f64],
    replicates: usize,
    seed: u64,
    points: u32,
) -> Result<Setup, JobError> {
    let (fluid, swarm) = crate::run::fluid_for_simulation(&scenario, points as usize)?;
    let reference = FluidReference::from_record(&fluid)?;
    let fingerprint = fingerprint(
        opts_kind, &scenario, &swarm, &reference, scales, replicates, seed,
    );
    Ok(Setup {
        scenario,
        swarm,
        reference,
        fingerprint,
    })
}

/// FNV-1a 64 of the version, the command, the scenario's name and source, the swarm (its
/// `Debug` text: every parameter in shortest round-trip form), the grid and the fluid
/// reference (bits), the scales (bits), replicates and seed.
fn fingerprint(
    kind: Kind,
    s: &Scenario,
    swarm: &Swarm,
    fluid: &FluidReference,
    scales: &[f64],
    replicates: usize,
    seed: u64,
) -> u64 {
    let mut b: Vec<u8> = Vec::new();
    for text in [
        "peerfluid stochastic job 1",
        env!("CARGO_PKG_VERSION"),
        kind.label(),
        &s.name,
        &s.source,
        &format!("{swarm:?}"),
    ] {
        b.extend_from_slice(text.as_bytes());
        b.push(0);
    }
    for series in [&fluid.t, &fluid.leechers, &fluid.seeds, &scales.to_vec()] {
        b.extend_from_slice(&(series.len() as u64).to_le_bytes());
        for v in series.iter() {
            b.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    }
    for v in [
        fluid.download_time.map_or(u64::MAX, f64::to_bits),
        fluid.server_bytes.to_bits(),
        replicates as u64,
        seed,
    ] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    fnv1a(&b)
}

/// The per-scale fold of an unsharded run, fed item by item in order.
struct InOrder<'a, F: FnMut(&ValidationRow)> {
    work: Work<'a>,
    reference: &'a FluidReference,
    acc: Option<Accumulator>,
    sims: Vec<Simulation>,
    rows: Vec<ValidationRow>,
    clock: std::time::Instant,
    each: F,
    error: Option<SimError>,
}

impl<F: FnMut(&ValidationRow)> InOrder<'_, F> {
    fn push(&mut self, u: u64, rep: &super::Replicate) {
        let (i, r) = self.work.item(u);
        let scale = self.work.scales[i];
        let acc = self
            .acc
            .get_or_insert_with(|| Accumulator::new(self.work.swarm, self.work.grid, scale));
        acc.push(rep);
        if r + 1 == self.work.replicates as u64 {
            let acc = self.acc.take().expect("pushed just above");
            let settings = SimSettings {
                scale,
                replicates: self.work.replicates,
                seed: self.work.seed,
                progress: false,
            };
            let wall = self.clock.elapsed().as_secs_f64();
            self.clock = std::time::Instant::now();
            let sim = acc.finish(
                self.work.swarm,
                self.work.grid,
                &settings,
                wall,
                rayon::current_num_threads(),
            );
            match compare(&sim, self.reference) {
                Ok(row) => {
                    (self.each)(&row);
                    self.rows.push(row);
                }
                Err(e) => self.error = Some(e),
            }
            self.sims.push(sim);
        }
    }
}

fn manifest_path(dir: &Path, shard: Shard) -> PathBuf {
    dir.join(format!("{}.json", shard.stem()))
}

fn records_path(dir: &Path, shard: Option<Shard>) -> PathBuf {
    match shard {
        Some(s) => dir.join(format!("{}.reps", s.stem())),
        None => dir.join("replicates.partial"),
    }
}

/// `Result` with a step's words on its error (what `anyhow::Context` did, typed).
trait Step<T> {
    /// The error, if any, as the cause of `what()`.
    fn step(self, what: impl FnOnce() -> String) -> Result<T, JobError>;
}

impl<T, E: Into<JobError>> Step<T> for Result<T, E> {
    fn step(self, what: impl FnOnce() -> String) -> Result<T, JobError> {
        self.map_err(|e| e.into().context(what()))
    }
}

/// An I/O error while `what` ("reading out/shard-0000-of-0002.json").
fn io_err(what: impl FnOnce() -> String) -> impl FnOnce(std::io::Error) -> JobError {
    move |source| JobError::Io {
        context: what(),
        source,
    }
}

fn read_manifest(path: &Path) -> Result<ShardManifest, JobError> {
    let reading = || format!("reading {}", path.display());
    let text = std::fs::read_to_string(path).map_err(io_err(reading))?;
    serde_json::from_str(&text).map_err(|source| JobError::Json {
        context: reading(),
        source,
    })
}

fn write_manifest(path: &Path, m: &ShardManifest) -> Result<(), JobError> {
    output::commit_all(vec![output::json::stage_summary(path, m)?])?;
    Ok(())
}

/// Run `simulate` or `validate` (unsharded: compute, write the outputs; a shard: compute its
/// share into its records file). `each` gets each scale's row as soon as it is known
/// (unsharded `validate`).
///
/// # Errors
///
/// Scenario, settings, lock and file errors; [`SimError::Unfinished`] when the folder holds
/// an unfinished run and `resume` is false.
pub fn run(opts: &JobOptions, each: impl FnMut(&ValidationRow)) -> Result<Report, JobError> {
    let scenario = Scenario::from_path(&opts.file)?;
    let dir = &opts.out;
    let name = scenario.name.clone();
    let what = || format!("{} of '{}'", opts.kind.label(), name);
    let _lock = match opts.shard {
        None => Lock::Whole(output::lock::DirLock::acquire(dir)?),
        Some(s) => Lock::Shard(output::lock::ShardLock::acquire(dir, &s.stem())?),
    };
    output::claim(dir, opts.kind.results())?;
    let set = setup(
        scenario,
        opts.kind,
        &opts.scales,
        opts.replicates,
        opts.seed,
        opts.points,
    )
    .step(what)?;
    let work = Work {
        swarm: &set.swarm,
        grid: &set.reference.t,
        scales: &opts.scales,
        replicates: opts.replicates,
        seed: opts.seed,
    };
    work.check()?;
    let shard = opts.shard.unwrap_or(Shard::WHOLE);
    let header = work.header(shard, set.fingerprint);
    let records = records_path(dir, opts.shard);
    let threads = rayon::current_num_threads();
    let Some(shard) = opts.shard else {
        // Unsharded: fold item by item as the records are written (or read back).
        let mut fold = InOrder {
            work,
            reference: &set.reference,
            acc: None,
            sims: Vec::new(),
            rows: Vec::new(),
            clock: std::time::Instant::now(),
            each,
            error: None,
        };
        let ran = run_shard(
            &work,
            Shard::WHOLE,
            &header,
            &records,
            opts.resume,
            threads,
            opts.progress,
            |u, rep| fold.push(u, rep),
        )
        .step(what)?;
        if let Some(e) = fold.error {
            return Err(JobError::from(e).context(what()));
        }
        let outcome = write_outputs(opts.kind, &set, dir, fold.sims, fold.rows, None, opts.plots)
            .step(|| format!("writing the results of '{name}'"))?;
        std::fs::remove_file(&records)
            .map_err(io_err(|| format!("removing {}", records.display())))?;
        return Ok(Report {
            outcome,
            run: Some(ran),
        });
    };
    // A shard.
    let mpath = manifest_path(dir, shard);
    let mut manifest = ShardManifest {
        peerfluid_version: env!("CARGO_PKG_VERSION").into(),
        kind: opts.kind.label().into(),
        fingerprint: format!("{:016x}", set.fingerprint),
        scenario: name.clone(),
        file: set.scenario.source.clone(),
        file_path: std::fs::canonicalize(&opts.file)
            .map_err(io_err(|| format!("locating {}", opts.file.display())))?
            .display()
            .to_string(),
        scales: opts.scales.clone(),
        scale_bits: opts
            .scales
            .iter()
            .map(|s| format!("{:016x}", s.to_bits()))
            .collect(),
        replicates: opts.replicates,
        seed: opts.seed,
        points: opts.points,
        shard,
        items: work.items(),
        rows: 0,
        complete: false,
        timing: ShardTiming {
            shard: shard.index,
            wall_s: 0.0,
            threads,
        },
    };
    if mpath.exists() && records.exists() {
        let old = read_manifest(&mpath)?;
        if old.fingerprint != manifest.fingerprint {
            return Err(SimError::Records {
                path: mpath,
                reason: format!(
                    "written for another job (fingerprint {}, this one is {}: another scenario, \
                     --scale(s), --replicates, --seed, --points or peerfluid version); use \
                     another --out, or remove the folder",
                    old.fingerprint, manifest.fingerprint
                ),
            }
            .into());
        }
        manifest.timing.wall_s = old.timing.wall_s;
        if old.complete && opts.resume {
            return Ok(Report {
                outcome: Outcome::Shard {
                    manifest: old,
                    files: vec![records, mpath],
                },
                run: None,
            });
        }
    } else {
        write_manifest(&mpath, &manifest)?;
    }
    let ran = run_shard(
        &work,
        shard,
        &header,
        &records,
        opts.resume,
        threads,
        opts.progress,
        |_, _| {},
    )
    .step(what)?;
    manifest.rows = ran.items;
    manifest.complete = true;
    manifest.timing.wall_s += ran.seconds;
    write_manifest(&mpath, &manifest)?;
    Ok(Report {
        outcome: Outcome::Shard {
            manifest,
            files: vec![records, mpath],
        },
        run: Some(ran),
    })
}

/// The lock a job holds while it writes; held, never read.
#[allow(dead_code)] // the fields are guards: dropping them releases the lock
enum Lock {
    Whole(output::lock::DirLock),
    Shard(output::lock::ShardLock),
}

/// Write the outputs of a whole (unsharded or merged) job; `shards` is the timing of a merge.
fn write_outputs(
    kind: Kind,
    set: &Setup,
    dir: &Path,
    sims: Vec<Simulation>,
    rows: Vec<ValidationRow>,
    shards: Option<Vec<ShardTiming>>,
    plots: bool,
) -> Result<Outcome, JobError> {
    let merged_timing = |events: f64| {
        shards.as_ref().map(|list| Timing {
            wall_s: list.iter().map(|s| s.wall_s).sum(),
            events_per_s: events / list.iter().map(|s| s.wall_s).sum::<f64>().max(1e-12),
            threads: list.iter().map(|s| s.threads).sum(),
            scales: Vec::new(),
            shards: list.clone(),
        })
    };
    match kind {
        Kind::Simulate => {
            let sim = sims
                .into_iter()
                .next()
                .ok_or_else(|| SimError::OutOfRange {
                    what: "--scale",
                    value: "none".into(),
                    allowed: "one scale for a simulate".into(),
                })?;
            let (columns, rows) = sim.timeseries();
            let mut summary = sim.summary(
                &set.scenario.name,
                &set.scenario.source,
                set.reference.download_time,
            );
            let ev = &summary.events.by_kind;
            if let Some(t) = merged_timing((ev.total() + ev.rejected_candidates) as f64) {
                summary.timing = t;
            }
            let files = output::write_simulation(dir, &columns, &rows, &summary)?;
            Ok(Outcome::Simulated {
                summary: Box::new(summary),
                files,
            })
        }
        Kind::Validate => {
            let validation = Validation::from_rows(rows);
            let events: u64 = validation.rows.iter().map(|r| r.events).sum();
            let timing = merged_timing(events as f64)
                .unwrap_or_else(|| validation.timing(rayon::current_num_threads()));
            let files = output::write_validation(dir, &validation, &timing, plots)?;
            Ok(Outcome::Validated { validation, files })
        }
    }
}

/// Whether `dir` holds shards of a `simulate` or `validate` (manifests with a `kind`).
pub fn has_stochastic_shards(dir: &Path) -> bool {
    shard_manifests(dir).is_ok_and(|list| !list.is_empty())
}

/// The `shard-*.json` files of `dir` that have a `kind` (sweep manifests have none).
fn shard_manifests(dir: &Path) -> Result<Vec<(PathBuf, ShardManifest)>, JobError> {
    let mut out = Vec::new();
    let reading = || format!("reading {}", dir.display());
    for entry in std::fs::read_dir(dir).map_err(io_err(reading))? {
        let path = entry.map_err(io_err(reading))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !(name.starts_with("shard-") && name.ends_with(".json")) {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(io_err(|| format!("reading {}", path.display())))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| JobError::Json {
                context: format!("reading {}", path.display()),
                source,
            })?;
        if v.get("kind").is_some() {
            out.push((path.clone(), read_manifest(&path)?));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Join the shards of a `simulate` or `validate` in `dir` into the outputs of the unsharded
/// run (byte for byte, `timing.json` apart), after checking that every shard is there once,
/// complete, and of the same job.
///
/// # Errors
///
/// [`SimError::Merge`] naming the missing, duplicated, unfinished or foreign shards; the
/// scenario's errors when its file cannot be read or has changed since the shards ran.
pub fn merge(dir: &Path, plots: bool) -> Result<Report, JobError> {
    let fail = |reason: String| SimError::Merge {
        dir: dir.to_path_buf(),
        reason,
    };
    let _lock = output::lock::DirLock::acquire(dir)?;
    let list = shard_manifests(dir)?;
    let Some((first_path, first)) = list.first().cloned() else {
        return Err(fail("no shard-KKKK-of-NNNN.json of a simulate or validate".into()).into());
    };
    let count = first.shard.count;
    for (path, m) in &list {
        let same = m.kind == first.kind && m.fingerprint == first.fingerprint;
        if !same || m.shard.count != count {
            return Err(fail(format!(
                "{} is shard {}/{} of a {} with fingerprint {}, but {} is shard {}/{} of a {} with \
                 fingerprint {}: the shards come from different runs (keep one run's shards per folder)",
                path.display(),
                m.shard.index,
                m.shard.count,
                m.kind,
                m.fingerprint,
                first_path.display(),
                first.shard.index,
                count,
                first.kind,
                first.fingerprint
            ))
            .into());
        }
    }
    let mut seen = vec![Vec::new(); count as usize];
    for (path, m) in &list {
        if m.shard.index < count {
            seen[m.shard.index as usize].push(path.clone());
        }
    }
    let list_of = |v: Vec<String>| v.join(", ");
    let missing: Vec<String> = (0..count)
        .filter(|&k| seen[k as usize].is_empty())
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(fail(format!(
            "shard(s) {} of {count} missing (0-based; run them with --shard K/{count})",
            list_of(missing)
        ))
        .into());
    }
    let dup: Vec<String> = (0..count)
        .filter(|&k| seen[k as usize].len() > 1)
        .map(|k| {
            let files: Vec<String> = seen[k as usize]
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            format!("{k} ({})", files.join(", "))
        })
        .collect();
    if !dup.is_empty() {
        return Err(fail(format!(
            "shard(s) {} of {count} found more than once; keep one manifest per shard",
            list_of(dup)
        ))
        .into());
    }
    let unfinished: Vec<String> = list
        .iter()
        .filter(|(_, m)| !m.complete)
        .map(|(_, m)| {
            format!(
                "{} ({} of {} done)",
                m.shard.index,
                m.rows,
                m.shard.rows(m.items)
            )
        })
        .collect();
    if !unfinished.is_empty() {
        return Err(fail(format!(
            "shard(s) {} of {count} not finished; rerun them with --resume",
            list_of(unfinished)
        ))
        .into());
    }
    let kind = if first.kind == "validate" {
        Kind::Validate
    } else {
        Kind::Simulate
    };
    output::claim(dir, kind.results())?;
    let scales: Vec<f64> = first
        .scale_bits
        .iter()
        .map(|h| u64::from_str_radix(h, 16).map(f64::from_bits))
        .collect::<Result<_, _>>()
        .map_err(|e| fail(format!("{}: scale_bits: {e}", first_path.display())))?;
    let text = std::fs::read_to_string(&first.file_path).map_err(io_err(|| {
        format!("reading the scenario {} the shards ran", first.file_path)
    }))?;
    let scenario = Scenario::from_toml(&text, &first.file, Path::new(&first.file_path).parent())?;
    let set = setup(
        scenario,
        kind,
        &scales,
        first.replicates,
        first.seed,
        first.points,
    )?;
    if format!("{:016x}", set.fingerprint) != first.fingerprint {
        return Err(fail(format!(
            "{} has changed since the shards ran (fingerprint {:016x}, the shards' {}); rerun them",
            first.file_path, set.fingerprint, first.fingerprint
        ))
        .into());
    }
    let work = Work {
        swarm: &set.swarm,
        grid: &set.reference.t,
        scales: &scales,
        replicates: first.replicates,
        seed: first.seed,
    };
    let files: Vec<PathBuf> = (0..count)
        .map(|k| records_path(dir, Some(Shard { index: k, count })))
        .collect();
    let sims = fold(&work, &files, set.fingerprint)?;
    let rows = sims
        .iter()
        .map(|s| compare(s, &set.reference))
        .collect::<Result<Vec<_>, _>>()?;
    let mut timing: Vec<ShardTiming> = list.iter().map(|(_, m)| m.timing.clone()).collect();
    timing.sort_by_key(|t| t.shard);
    let outcome = write_outputs(kind, &set, dir, sims, rows, Some(timing), plots)?;
    Ok(Report { outcome, run: None })
}
