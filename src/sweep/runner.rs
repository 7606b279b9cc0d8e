//! Running a sweep: points in blocks across rayon's threads, rows streamed in point order to
//! `<name>.csv.partial` (renamed to `<name>.csv` when complete), a manifest beside it, resume
//! after a kill, shards for clusters and their merge.
//!
//! Files in the output folder (`results/README.md`):
//! * `sweep.csv` + `sweep.json` (or `shard-KKKK-of-NNNN.csv` / `.json` for `--shard K/N`);
//! * while running, `<name>.csv.partial`: a prefix of the final file, whole rows only after
//!   `--resume` has trimmed a torn last line. Rows are written a block at a time and flushed;
//!   memory holds one block, whatever the number of points.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::eval;
use super::spec::{Evaluate, SweepSpec};
use crate::error::{echo, OutputError, SweepError};
use crate::incentive::plan::plan;
use crate::output::{self, Staged};

pub use crate::shard::Shard;

/// The lock a sweep holds while it writes (`output::lock`); held, never read.
#[allow(dead_code)] // the fields are guards: dropping them releases the lock
enum Lock {
    Whole(output::lock::DirLock),
    Shard(output::lock::ShardLock),
}

/// Options of `peerfluid sweep`.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Output folder.
    pub out: PathBuf,
    /// Threads (default: all cores).
    pub threads: Option<usize>,
    /// Run only one shard.
    pub shard: Option<Shard>,
    /// Continue an unfinished sweep in `out`.
    pub resume: bool,
    /// Run even above the limit.
    pub yes: bool,
    /// The limit on points without `yes`.
    pub limit: u64,
    /// Draw figures and index.html at the end (not for shards: `merge` draws them).
    pub plots: bool,
    /// Show a progress bar (drawn only when stderr is a terminal).
    pub progress: bool,
}

/// What a sweep did.
#[derive(Debug, Clone)]
pub struct SweepReport {
    /// Rows in the finished file.
    pub rows: u64,
    /// Rows computed by this call (the rest were there from before).
    pub computed: u64,
    /// Rows found from an earlier, killed run.
    pub resumed_from: u64,
    /// Seconds spent computing rows.
    pub seconds: f64,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// `sweep.json`: what the sweep was, for `merge`, `--resume`, `plot` and readers.
/// Fields documented in `results/README.md`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// peerfluid version that wrote it.
    pub peerfluid_version: String,
    /// Hash of the spec (texts, version, columns): shards and resumes must match it.
    pub spec_hash: String,
    /// Scenario name.
    pub scenario: String,
    /// Scenario description.
    pub description: String,
    /// The sweep file.
    pub source: String,
    /// grid | zip | random | lhs.
    pub mode: String,
    /// steady | run.
    pub evaluate: String,
    /// Points in the whole sweep.
    pub points: u64,
    /// This file's shard (`null` for a whole or merged sweep).
    pub shard: Option<Shard>,
    /// Rows in the CSV file (when complete).
    pub rows: u64,
    /// Whether the CSV file is complete.
    pub complete: bool,
    /// The swept parameters.
    pub parameters: Vec<ParameterInfo>,
    /// Output columns after `status`.
    pub columns: Vec<ColumnInfo>,
    /// The provider's best per-GB payment in the base scenario (when peers decide), $/GB.
    pub best_payment_per_gb: Option<f64>,
}

/// A swept parameter in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParameterInfo {
    /// Key path (the CSV column).
    pub key: String,
    /// Unit of the CSV values ("" = the key's base unit, a bare number).
    pub unit: String,
    /// linear | log.
    pub scale: String,
    /// Values (grid, zip), or `null`.
    pub values: Option<Vec<f64>>,
    /// Range start (ranges only).
    pub from: Option<f64>,
    /// Range end (ranges only).
    pub to: Option<f64>,
}

/// An output column in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// Unit.
    pub unit: String,
    /// Meaning.
    pub description: String,
}

impl Manifest {
    fn new(spec: &SweepSpec, shard: Option<Shard>, rows: u64, complete: bool) -> Self {
        let best = if spec.base.classes.iter().any(|c| c.cost.decides()) {
            plan(&spec.base)
                .ok()
                .and_then(|p| p.report)
                .and_then(|r| r.best_payment)
                .map(|b| b.price_usd_per_gb)
        } else {
            None
        };
        Self {
            peerfluid_version: env!("CARGO_PKG_VERSION").into(),
            spec_hash: spec.hash_hex(),
            scenario: spec.base.name.clone(),
            description: spec.base.description.clone(),
            source: spec.file.display().to_string(),
            mode: spec.mode.label().into(),
            evaluate: spec.evaluate.label().into(),
            points: spec.points,
            shard,
            rows,
            complete,
            parameters: spec
                .parameters
                .iter()
                .map(|p| ParameterInfo {
                    key: p.key.clone(),
                    unit: p.unit().into(),
                    scale: p.scale.label().into(),
                    values: p
                        .values
                        .as_ref()
                        .map(|v| v.iter().map(|x| x.number).collect()),
                    from: p.range.map(|r| r.0),
                    to: p.range.map(|r| r.1),
                })
                .collect(),
            columns: spec
                .outputs()
                .map(|(n, u, d)| ColumnInfo {
                    name: (*n).into(),
                    unit: (*u).into(),
                    description: (*d).into(),
                })
                .collect(),
            best_payment_per_gb: best,
        }
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> SweepError + '_ {
    move |source| {
        SweepError::Output(OutputError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

fn write_manifest(path: &Path, m: &Manifest) -> Result<(), SweepError> {
    output::commit_all(vec![output::json::stage_summary(path, m)?])?;
    Ok(())
}

/// Write `columns.json` of a finished sweep folder (not of a shard: `merge` writes the
/// folder's), and add it to `files`.
fn write_columns(dir: &Path, m: &Manifest, files: &mut Vec<PathBuf>) -> Result<(), SweepError> {
    if m.shard.is_none() {
        let described = [("sweep.csv", output::columns::sweep(m))];
        files.extend(output::commit_all(vec![output::columns::stage(
            dir, &described,
        )?])?);
    }
    Ok(())
}

fn read_manifest(path: &Path) -> Result<Manifest, SweepError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    serde_json::from_str(&text).map_err(|source| {
        SweepError::Output(OutputError::Json {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// Rows per block: one block is computed in parallel, then written and flushed.
fn block_size(spec: &SweepSpec, threads: usize) -> u64 {
    match spec.evaluate {
        Evaluate::Steady => 8192,
        Evaluate::Run => 16 * threads as u64,
    }
}

/// Run (or resume) a sweep: every point validated first, then computed in blocks on
/// `opts.threads` workers and streamed to `sweep.csv` in point order (the same rows whatever
/// the number of threads); `sweep.json` and `columns.json` beside it. [`super::table()`] gives
/// the same rows in memory.
///
/// ```
/// use peerfluid::sweep::{run_sweep, SweepOptions, SweepSpec, DEFAULT_LIMIT};
///
/// let spec = SweepSpec::from_path("scenarios/sweeps/sharing-price.toml".as_ref())?;
/// let out = std::env::temp_dir().join(format!("peerfluid-doc-sweep-{}", std::process::id()));
/// let opts = SweepOptions {
///     out: out.clone(),
///     threads: Some(2),
///     shard: None,
///     resume: false,
///     yes: false,
///     limit: DEFAULT_LIMIT,
///     plots: false,
///     progress: false,
/// };
/// let report = run_sweep(&spec, &opts)?;
/// assert_eq!(report.rows, 200);
/// let csv = std::fs::read_to_string(out.join("sweep.csv"))?;
/// assert!(csv.starts_with("point,incentive.price,status,"));
/// # std::fs::remove_dir_all(&out)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`SweepError::Point`] for the lowest invalid point (nothing is written then), the limit,
/// an unfinished or foreign folder, and file errors.
pub fn run_sweep(spec: &SweepSpec, opts: &SweepOptions) -> Result<SweepReport, SweepError> {
    let shard = opts.shard.unwrap_or(Shard { index: 0, count: 1 });
    if shard.count == 0 || shard.index >= shard.count {
        return Err(SweepError::Shard {
            index: shard.index,
            count: shard.count,
        });
    }
    let stem = opts.shard.map_or_else(|| "sweep".to_string(), Shard::stem);
    let total_rows = shard.rows(spec.points);
    if total_rows > opts.limit && !opts.yes {
        return Err(SweepError::TooLarge {
            points: total_rows,
            limit: opts.limit,
        });
    }
    let dir = &opts.out;
    // One writer per folder, for the whole sweep (a second sweep or `--resume` into it is
    // refused with this process's pid); shards share the folder, one writer per shard.
    let _lock = match opts.shard {
        None => Lock::Whole(output::lock::DirLock::acquire(dir)?),
        Some(s) => Lock::Shard(output::lock::ShardLock::acquire(dir, &s.stem())?),
    };
    output::claim(dir, "sweep")?;
    let csv_path = dir.join(format!("{stem}.csv"));
    let partial = dir.join(format!("{stem}.csv.partial"));
    let json_path = dir.join(format!("{stem}.json"));
    let header = eval::header(spec);

    // Where to start (nothing is written until every remaining point has been validated).
    let mut start = 0;
    let mut truncate_to = None;
    if partial.exists() {
        let found = scan_partial(&partial, &header, shard)?;
        if !opts.resume {
            return Err(SweepError::Unfinished {
                dir: dir.clone(),
                file: partial.display().to_string(),
                rows: found.rows,
                total: total_rows,
            });
        }
        let m = read_manifest(&json_path)?;
        if m.spec_hash != spec.hash_hex() || !found.header_ok {
            return Err(SweepError::SpecChanged {
                path: json_path,
                found: m.spec_hash,
                expected: spec.hash_hex(),
            });
        }
        start = found.rows;
        truncate_to = Some(found.valid_len);
    } else if opts.resume && csv_path.exists() && json_path.exists() {
        let m = read_manifest(&json_path)?;
        if m.spec_hash != spec.hash_hex() {
            return Err(SweepError::SpecChanged {
                path: json_path,
                found: m.spec_hash,
                expected: spec.hash_hex(),
            });
        }
        if !m.complete || m.rows != total_rows {
            // Killed between renaming the finished CSV into place and rewriting the manifest:
            // the CSV says whether it is whole.
            let found = scan_partial(&csv_path, &header, shard)?;
            if !found.header_ok || found.rows != total_rows {
                return Err(SweepError::Unfinished {
                    dir: dir.clone(),
                    file: csv_path.display().to_string(),
                    rows: found.rows,
                    total: total_rows,
                });
            }
            write_manifest(
                &json_path,
                &Manifest::new(spec, opts.shard, total_rows, true),
            )?;
        }
        // Complete: draw the figures again (a kill while they were drawn left none, or some).
        let mut files = vec![csv_path, json_path];
        write_columns(
            dir,
            &Manifest::new(spec, opts.shard, total_rows, true),
            &mut files,
        )?;
        return Ok(SweepReport {
            rows: total_rows,
            computed: 0,
            resumed_from: total_rows,
            seconds: 0.0,
            files: with_figures(opts, dir, files)?,
        });
    }

    let threads = threads_or_cores(opts.threads);
    let pool = pool(threads)?;
    // Every remaining point is validated before any is computed (seconds at 10^6 points: a
    // spinner says so).
    let spinner = crate::progress::spinner(
        opts.progress,
        format!("validating {} points", total_rows - start),
    );
    let checked = pool.install(|| validate(spec, shard, start, total_rows));
    spinner.finish_and_clear();
    checked?;

    match truncate_to {
        // Drop a torn last line (the kill came mid-write).
        Some(len) => {
            let f = OpenOptions::new()
                .write(true)
                .open(&partial)
                .map_err(io_err(&partial))?;
            f.set_len(len).map_err(io_err(&partial))?;
        }
        None => {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
            write_manifest(&json_path, &Manifest::new(spec, opts.shard, 0, false))?;
            let mut f = File::create(&partial).map_err(io_err(&partial))?;
            writeln!(f, "{header}").map_err(io_err(&partial))?;
            f.sync_all().map_err(io_err(&partial))?;
        }
    }

    let bar = output::progress_bar(opts.progress, total_rows, start, "points");
    let file = OpenOptions::new()
        .append(true)
        .open(&partial)
        .map_err(io_err(&partial))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let block = block_size(spec, threads);
    let clock = Instant::now();
    let mut j = start;
    while j < total_rows {
        let end = (j + block).min(total_rows);
        let lines: Vec<String> = pool.install(|| {
            (j..end)
                .into_par_iter()
                .map(|r| {
                    let mut s = String::with_capacity(512);
                    eval::row(spec, shard.point(r), &mut s);
                    s
                })
                .collect()
        });
        for l in &lines {
            w.write_all(l.as_bytes()).map_err(io_err(&partial))?;
        }
        w.flush().map_err(io_err(&partial))?;
        bar.inc(end - j);
        j = end;
    }
    w.get_ref().sync_all().map_err(io_err(&partial))?;
    drop(w);
    bar.finish_and_clear();
    let seconds = clock.elapsed().as_secs_f64();
    std::fs::rename(&partial, &csv_path).map_err(io_err(&csv_path))?;
    let manifest = Manifest::new(spec, opts.shard, total_rows, true);
    write_manifest(&json_path, &manifest)?;
    let mut files = vec![csv_path, json_path];
    write_columns(dir, &manifest, &mut files)?;
    let files = with_figures(opts, dir, files)?;
    Ok(SweepReport {
        rows: total_rows,
        computed: total_rows - start,
        resumed_from: start,
        seconds,
        files,
    })
}

/// `threads`, or one per core when `None` (at least one).
pub(crate) fn threads_or_cores(threads: Option<usize>) -> usize {
    threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

/// A pool of `threads` workers for a sweep's points.
pub(crate) fn pool(threads: usize) -> Result<rayon::ThreadPool, SweepError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| SweepError::Threads {
            threads,
            reason: e.to_string(),
        })
}

/// Validate the scenario of every point the sweep would run, or of the first `limit` of them,
/// in parallel: the check `run_sweep` makes before it writes anything, with the same error
/// ([`SweepError::Point`]: the lowest failing index, its values, the scenario's message).
/// Returns the number of points checked. `peerfluid check` calls it so that a sweep file it
/// accepts is one `sweep` runs (issue 18, item 4).
pub fn check_points(spec: &SweepSpec, limit: u64) -> Result<u64, SweepError> {
    let rows = spec.points.min(limit);
    validate(spec, Shard { index: 0, count: 1 }, 0, rows)?;
    Ok(rows)
}

/// Check every point from row `start` on; the first invalid one (lowest index) is the error.
fn validate(spec: &SweepSpec, shard: Shard, start: u64, rows: u64) -> Result<(), SweepError> {
    let bad = (start..rows)
        .into_par_iter()
        .filter_map(|r| {
            let i = shard.point(r);
            spec.scenario(i).err().map(|e| (i, e))
        })
        .min_by_key(|(i, _)| *i);
    match bad {
        None => Ok(()),
        Some((point, source)) => {
            let values = spec
                .parameters
                .iter()
                .zip(spec.point(point))
                .map(|(p, v)| format!("{} = {}", echo(&p.key), echo(&v.toml)))
                .collect::<Vec<_>>()
                .join(", ");
            Err(SweepError::Point {
                point,
                values,
                reason: source,
            })
        }
    }
}

struct Scan {
    header_ok: bool,
    rows: u64,
    valid_len: u64,
}

/// Read a partial file: the whole rows in point order after the header, and where they end.
fn scan_partial(path: &Path, header: &str, shard: Shard) -> Result<Scan, SweepError> {
    let f = File::open(path).map_err(io_err(path))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line).map_err(io_err(path))?;
    let header_ok = line.last() == Some(&b'\n') && line[..n - 1] == *header.as_bytes();
    if !header_ok {
        return Ok(Scan {
            header_ok,
            rows: 0,
            valid_len: 0,
        });
    }
    let mut valid_len = n as u64;
    let mut rows = 0u64;
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line).map_err(io_err(path))?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        let expected = shard.point(rows).to_string();
        let first = line.split(|b| *b == b',').next().unwrap_or(&[]);
        if first != expected.as_bytes() {
            break;
        }
        rows += 1;
        valid_len += n as u64;
    }
    Ok(Scan {
        header_ok,
        rows,
        valid_len,
    })
}

/// Draw the figures and index.html of a finished sweep folder.
/// The files of a finished sweep, and its figures unless `--no-plots` or a shard.
fn with_figures(
    opts: &SweepOptions,
    dir: &Path,
    mut files: Vec<PathBuf>,
) -> Result<Vec<PathBuf>, SweepError> {
    if opts.plots && opts.shard.is_none() {
        files.extend(draw(dir)?);
    }
    Ok(files)
}

fn draw(dir: &Path) -> Result<Vec<PathBuf>, SweepError> {
    let staged: Vec<Staged> = output::sweep_plot::stage_sweep_plots(dir)?;
    Ok(output::commit_all(staged)?)
}

/// What `merge` did.
#[derive(Debug, Clone)]
pub struct MergeReport {
    /// Shards joined.
    pub shards: u64,
    /// Rows in sweep.csv.
    pub rows: u64,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Join the shards in `dir` into `sweep.csv` (point order) and `sweep.json`, after checking
/// that every shard is there, complete, and from the same spec.
pub fn merge(dir: &Path, plots: bool) -> Result<MergeReport, SweepError> {
    if !dir.is_dir() {
        return Err(SweepError::Merge {
            dir: dir.to_path_buf(),
            reason: "no such folder".into(),
        });
    }
    let _lock = output::lock::DirLock::acquire(dir)?;
    let fail = |reason: String| SweepError::Merge {
        dir: dir.to_path_buf(),
        reason,
    };
    let mut manifests = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("shard-") && name.ends_with(".json") {
            manifests.push((read_manifest(&path)?, path));
        }
    }
    if manifests.is_empty() {
        return Err(fail("no shard-KKKK-of-NNNN.json files (run `peerfluid sweep FILE --shard K/N --out DIR` first)".into()));
    }
    manifests.sort_by_key(|(m, _)| m.shard.map_or(0, |s| s.index));
    let first = manifests[0].0.clone();
    let count = first.shard.map_or(0, |s| s.count);
    for (m, path) in &manifests {
        if m.spec_hash != first.spec_hash {
            return Err(fail(format!(
                "{} has spec hash {} but {} has {}: the shards come from different sweeps",
                path.display(),
                m.spec_hash,
                manifests[0].1.display(),
                first.spec_hash
            )));
        }
        if m.shard.map_or(0, |s| s.count) != count {
            return Err(fail(format!(
                "{} is one of {} shards, others of {count}",
                path.display(),
                m.shard.map_or(0, |s| s.count)
            )));
        }
    }
    let present: Vec<u64> = manifests
        .iter()
        .filter_map(|(m, _)| m.shard.map(|s| s.index))
        .collect();
    let missing: Vec<String> = (0..count)
        .filter(|k| !present.contains(k))
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(fail(format!(
            "shard(s) {} of {count} missing (run them with --shard K/{count})",
            missing.join(", ")
        )));
    }
    let mut readers = Vec::new();
    let mut header: Option<Vec<u8>> = None;
    for (m, path) in &manifests {
        let shard = m.shard.unwrap_or(Shard { index: 0, count });
        let csv = path.with_extension("csv");
        if !m.complete || !csv.exists() {
            return Err(fail(format!(
                "shard {}/{count} is not complete ({} not finished; rerun it with --resume)",
                shard.index,
                csv.display()
            )));
        }
        if m.rows != shard.rows(m.points) {
            return Err(fail(format!(
                "{}: {} rows, expected {}",
                csv.display(),
                m.rows,
                shard.rows(m.points)
            )));
        }
        let mut r = BufReader::with_capacity(1 << 20, File::open(&csv).map_err(io_err(&csv))?);
        let mut h = Vec::new();
        r.read_until(b'\n', &mut h).map_err(io_err(&csv))?;
        match &header {
            None => header = Some(h),
            Some(prev) if *prev != h => {
                return Err(fail(format!("{} has another header", csv.display())))
            }
            Some(_) => {}
        }
        readers.push((r, csv));
    }
    let out = dir.join("sweep.csv");
    let staged = Staged::write(&out, |w| {
        let io = |source| OutputError::Io {
            path: out.clone(),
            source,
        };
        w.write_all(header.as_deref().unwrap_or_default())
            .map_err(io)?;
        let mut line = Vec::new();
        for i in 0..first.points {
            let (r, csv) = &mut readers[(i % count) as usize];
            line.clear();
            let n = r.read_until(b'\n', &mut line).map_err(io)?;
            let point = line.split(|b| *b == b',').next().unwrap_or(&[]);
            if n == 0 || point != i.to_string().as_bytes() {
                return Err(OutputError::Io {
                    path: csv.clone(),
                    source: std::io::Error::other(format!(
                        "expected the row of point {i}, found {}",
                        String::from_utf8_lossy(point)
                    )),
                });
            }
            w.write_all(&line).map_err(io)?;
        }
        Ok(())
    })?;
    let mut files = output::commit_all(vec![staged])?;
    let json = dir.join("sweep.json");
    let merged = Manifest {
        shard: None,
        rows: first.points,
        complete: true,
        ..first.clone()
    };
    write_manifest(&json, &merged)?;
    files.push(json);
    write_columns(dir, &merged, &mut files)?;
    if plots {
        files.extend(draw(dir)?);
    }
    Ok(MergeReport {
        shards: count,
        rows: first.points,
        files,
    })
}
