//! Writing results. One exporter per format (`csv`, `json`); every file is written to a
//! temporary name in the destination folder and renamed into place only when all files of the
//! run are complete, so a failed run leaves no partial file. A folder has one writer at a time
//! ([`lock`]) and holds one result set ([`claim`]; a run removes what an earlier run there
//! wrote and it did not); a number that is not finite never reaches a file ([`finite`],
//! [`check_finite`]). README, Reliability.

pub mod columns;
pub mod csv;
pub mod finite;
pub mod html;
pub mod json;
pub mod lock;
pub mod plot;
pub mod redraw;
pub mod sweep_plot;
pub mod text;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::OutputError;
use crate::run::RunRecord;

pub use crate::progress::progress_bar;

/// A file written under a temporary name; removed on drop unless committed.
pub struct Staged {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl Staged {
    /// Write `dest` through `write` into a temporary sibling file.
    pub fn write(
        dest: &Path,
        write: impl FnOnce(&mut BufWriter<File>) -> Result<(), OutputError>,
    ) -> Result<Self, OutputError> {
        let name = dest
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let tmp = dest.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let io = |source| OutputError::Io {
            path: dest.to_path_buf(),
            source,
        };
        let staged = Self {
            tmp: tmp.clone(),
            dest: dest.to_path_buf(),
            committed: false,
        };
        let file = File::create(&tmp).map_err(io)?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        w.flush().map_err(io)?;
        w.get_ref().sync_all().map_err(io)?;
        Ok(staged)
    }

    /// Stage `dest` by letting `render` write a temporary sibling path that keeps `dest`'s
    /// extension (for writers that choose the format by extension, like plotters' PNG).
    pub fn render(
        dest: &Path,
        render: impl FnOnce(&Path) -> Result<(), OutputError>,
    ) -> Result<Self, OutputError> {
        let name = dest
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let tmp = dest.with_file_name(format!(".tmp-{}-{name}", std::process::id()));
        let staged = Self {
            tmp: tmp.clone(),
            dest: dest.to_path_buf(),
            committed: false,
        };
        render(&tmp)?;
        if !tmp.is_file() {
            return Err(OutputError::Io {
                path: dest.to_path_buf(),
                source: std::io::Error::other("the figure was not written"),
            });
        }
        Ok(staged)
    }

    /// Rename into place.
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        std::fs::rename(&self.tmp, &self.dest).map_err(|source| OutputError::Io {
            path: self.dest.clone(),
            source,
        })?;
        self.committed = true;
        Ok(self.dest.clone())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Write `timeseries.csv`, `summary.json`, `columns.json` and `index.html` of a run
/// (`costs.csv` after `compare`, and the figures unless `plots` is false) into `dir` (created
/// if missing).
/// Returns the paths written.
pub fn write_run(dir: &Path, rec: &RunRecord, plots: bool) -> Result<Vec<PathBuf>, OutputError> {
    check_finite(rec)?;
    let _lock = lock::DirLock::acquire(dir)?;
    claim(dir, "run")?;
    let kind = columns::series_of(rec);
    let mut described = vec![("timeseries.csv", columns::timeseries(&rec.columns, kind))];
    let mut staged = vec![
        csv::stage_timeseries(&dir.join("timeseries.csv"), &rec.columns, &rec.rows)?,
        json::stage_summary(&dir.join("summary.json"), &rec.summary)?,
    ];
    let figures = plot::RunFigures::from_record(rec)?;
    if plots {
        staged.extend(plot::stage_plots(dir, &figures)?);
    }
    staged.push(html::stage_index(dir, &html::run_page(&figures, plots))?);
    if let Some(costs) = &rec.summary.costs {
        let rows: Vec<_> = ["client_server", "cdn", "p2p", "hybrid"]
            .iter()
            .filter_map(|k| costs.get(k).cloned())
            .collect();
        staged.push(csv::stage_costs(&dir.join("costs.csv"), &rows)?);
        described.push(("costs.csv", columns::costs()));
    }
    if let Some(w) = &rec.summary.wireless {
        staged.push(csv::stage_rows(&dir.join("costs.csv"), &w.costs)?);
        staged.push(csv::stage_rows(&dir.join("adoption.csv"), &w.adoption)?);
        described.push(("costs.csv", columns::wireless_costs()));
        described.push(("adoption.csv", columns::adoption()));
    }
    staged.push(columns::stage(dir, &described)?);
    let written = commit_all(staged)?;
    remove_stale(dir, &written);
    Ok(written)
}

/// The kinds of results a folder can hold, by the data file that marks each (a run's
/// `summary.json` also marks `simulate`).
const KINDS: [(&str, &str); 4] = [
    ("run", "summary.json"),
    ("sweep", "sweep.json"),
    ("validation", "validation.json"),
    ("fit", "fit.json"),
];

/// Refuse to write `wanted` results ("run", "sweep", "validation") into a folder that holds
/// another kind: one folder holds one result set.
pub fn claim(dir: &Path, wanted: &'static str) -> Result<(), OutputError> {
    // A shard's manifest marks its kind: `simulate` shards a run, `validate` shards a
    // validation, a manifest without `kind` a sweep.
    let shards = |wanted_kind: &str| {
        std::fs::read_dir(dir).ok().and_then(|mut entries| {
            entries.find_map(|e| {
                let e = e.ok()?;
                let name = e.file_name().to_string_lossy().into_owned();
                if !(name.starts_with("shard-") && name.ends_with(".json")) {
                    return None;
                }
                let kind = std::fs::read_to_string(e.path())
                    .ok()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                    .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string));
                let kind = match kind.as_deref() {
                    Some("simulate") => "run",
                    Some("validate") => "validation",
                    _ => "sweep",
                };
                (kind == wanted_kind).then_some(name)
            })
        })
    };
    for (kind, file) in KINDS {
        let found = if kind == "sweep" {
            (dir.join(file).is_file() || dir.join("sweep.csv.partial").is_file())
                .then(|| file.to_string())
        } else {
            dir.join(file).is_file().then(|| file.to_string())
        }
        .or_else(|| shards(kind));
        if let Some(file) = found {
            if kind != wanted {
                return Err(OutputError::Mixed {
                    path: dir.to_path_buf(),
                    found: kind,
                    file,
                    wanted,
                });
            }
        }
    }
    Ok(())
}

/// After a run's files are in place: remove what a previous run in the same folder wrote and
/// this one did not (`costs.csv` of a `compare` under a `run`, figures under `--no-plots`), so
/// the folder holds one run.
fn remove_stale(dir: &Path, written: &[PathBuf]) {
    let names: Vec<String> = written
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let present: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // Ours: the data files of a run, and figures (every figure is an .svg and .png pair).
    let ours = |name: &str| {
        let data = [
            "timeseries.csv",
            "costs.csv",
            "adoption.csv",
            "index.html",
            "timing.json",
        ]
        .contains(&name);
        let pair = |ext: &str, other: &str| {
            name.strip_suffix(ext)
                .is_some_and(|stem| present.iter().any(|p| p.strip_suffix(other) == Some(stem)))
        };
        data || pair(".svg", ".png") || pair(".png", ".svg")
    };
    let stale: Vec<&String> = present
        .iter()
        .filter(|n| !names.contains(n) && ours(n))
        .collect();
    for name in stale {
        let _ = std::fs::remove_file(dir.join(name));
    }
}

/// What to check when an output would hold a number that is not finite.
const NON_FINITE_HINT: &str = "an input is outside the range the model can compute with (check \
     the largest rates, sizes and prices: `demand.arrival_rate`, `content.size`, `peers.*`, \
     `server.capacity`, `pricing.*`); nothing was written";

/// Refuse a run whose time series or summary holds a number that is not finite (it would be
/// `inf` in the CSV and `null` in the JSON): name the file, the column or field, and the time.
pub fn check_finite(rec: &RunRecord) -> Result<(), OutputError> {
    for row in &rec.rows {
        if let Some((j, v)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(OutputError::NonFinite {
                file: "timeseries.csv".into(),
                what: format!(
                    "column `{}` at t = {}",
                    rec.columns.get(j).map_or("?", String::as_str),
                    row.first().copied().unwrap_or(f64::NAN)
                ),
                value: format!("{v}"),
                hint: NON_FINITE_HINT.into(),
            });
        }
    }
    if let Some((path, v)) = finite::first_non_finite(&rec.summary) {
        return Err(OutputError::NonFinite {
            file: "summary.json".into(),
            what: format!("`{path}`"),
            value: format!("{v}"),
            hint: NON_FINITE_HINT.into(),
        });
    }
    Ok(())
}

/// Rename every staged file into place; if one rename fails, remove the ones this call already
/// put in place, so that a run leaves all of its files or none.
pub fn commit_all(staged: Vec<Staged>) -> Result<Vec<PathBuf>, OutputError> {
    let mut done = Vec::with_capacity(staged.len());
    for s in staged {
        match s.commit() {
            Ok(p) => done.push(p),
            Err(e) => {
                for p in &done {
                    let _ = std::fs::remove_file(p);
                }
                return Err(e);
            }
        }
    }
    Ok(done)
}

/// Write `timeseries.csv`, `summary.json`, `columns.json` and `timing.json` (the wall-clock
/// figures, the only file that varies between runs) of a stochastic simulation (`simulate`)
/// into `dir` (created if missing), all or nothing. Returns the paths written.
pub fn write_simulation(
    dir: &Path,
    names: &[String],
    rows: &[Vec<f64>],
    summary: &crate::stochastic::SimSummary,
) -> Result<Vec<PathBuf>, OutputError> {
    let _lock = lock::DirLock::acquire(dir)?;
    claim(dir, "run")?;
    let described = columns::timeseries(names, columns::Series::Simulated);
    let staged = vec![
        csv::stage_timeseries(&dir.join("timeseries.csv"), names, rows)?,
        json::stage_summary(&dir.join("summary.json"), summary)?,
        json::stage_summary(&dir.join("timing.json"), &summary.timing)?,
        columns::stage(dir, &[("timeseries.csv", described)])?,
    ];
    let written = commit_all(staged)?;
    remove_stale(dir, &written);
    Ok(written)
}

/// Write `validation.csv` (one row per scale; empty cells where a figure does not apply),
/// `validation.json` (rows and slopes), `columns.json` and, unless `plots` is false, the figure
/// `validation.svg`/`.png` (log10 of the relative errors and spreads against N on a log
/// axis, with an N^(−1/2) guide) into `dir`, all or nothing; and `timing.json` (the
/// wall-clock figures, the only file that varies between runs).
pub fn write_validation(
    dir: &Path,
    v: &crate::stochastic::Validation,
    timing: &crate::stochastic::Timing,
    plots: bool,
) -> Result<Vec<PathBuf>, OutputError> {
    let _lock = lock::DirLock::acquire(dir)?;
    claim(dir, "validation")?;
    let path = dir.join("validation.csv");
    let mut staged = vec![Staged::write(&path, |w| {
        let err = |source| OutputError::Csv {
            path: path.clone(),
            source,
        };
        let mut out = ::csv::Writer::from_writer(w);
        for r in &v.rows {
            out.serialize(r).map_err(err)?;
        }
        out.flush().map_err(|source| OutputError::Io {
            path: path.clone(),
            source,
        })
    })?];
    staged.push(json::stage_summary(&dir.join("validation.json"), v)?);
    staged.push(json::stage_summary(&dir.join("timing.json"), timing)?);
    staged.push(columns::stage(
        dir,
        &[("validation.csv", columns::validation())],
    )?);
    if plots {
        use plot::{Line, LineChart, Stroke};
        let line =
            |name: &str,
             colour: usize,
             f: &dyn Fn(&crate::stochastic::ValidationRow) -> Option<f64>| Line {
                name: name.to_string(),
                points: v
                    .rows
                    .iter()
                    .filter_map(|r| f(r).filter(|e| *e > 0.0).map(|e| (r.scale, e.log10())))
                    .collect(),
                colour,
                stroke: Stroke::Solid,
            };
        let mut lines = vec![
            line("populations: |mean − fluid|", 0, &|r| {
                Some(r.population_error)
            }),
            line("populations: replicate sd", 1, &|r| {
                Some(r.population_spread)
            }),
            line("download time: |mean − fluid|", 2, &|r| {
                r.download_time_error
            }),
            line("server bytes: |mean − fluid|", 3, &|r| {
                r.server_bytes_error
            }),
        ];
        if let Some(first) = v.rows.first() {
            let y0 = first.population_spread.max(1e-300).log10();
            lines.push(Line {
                name: "N^(−1/2)".to_string(),
                points: v
                    .rows
                    .iter()
                    .map(|r| (r.scale, y0 - 0.5 * (r.scale / first.scale).log10()))
                    .collect(),
                colour: 4,
                stroke: Stroke::Dashed,
            });
        }
        let chart = LineChart {
            title: "Stochastic mean vs fluid: relative error against the scale N".to_string(),
            x_label: "scale N".to_string(),
            y_label: "log10 relative error".to_string(),
            lines,
            x_log: true,
            ..LineChart::default()
        };
        staged.extend(plot::stage_both(
            dir,
            "validation",
            plot::Figure::Lines(&chart),
        )?);
    }
    commit_all(staged)
}

/// Write a calibration (`fit`) into `dir` (created if missing), all or nothing: `fit.json`
/// (the report), `fitted.csv` (measured against fitted leechers and seeds per sample) and its
/// `columns.json`,
/// `calibrated.toml` (the scenario with the fitted keys set) and, unless `plots` is false, the
/// figure `fit.svg`/`.png` (measured samples as dots, the fitted trajectory as lines).
pub fn write_fit(
    dir: &Path,
    report: &crate::fit::FitReport,
    calibrated: &str,
    plots: bool,
) -> Result<Vec<PathBuf>, OutputError> {
    let _lock = lock::DirLock::acquire(dir)?;
    claim(dir, "fit")?;
    let mut staged = vec![
        json::stage_summary(&dir.join("fit.json"), report)?,
        csv::stage_rows(&dir.join("fitted.csv"), &report.rows)?,
        columns::stage(dir, &[("fitted.csv", columns::fitted())])?,
    ];
    let toml = dir.join("calibrated.toml");
    staged.push(Staged::write(&toml, |w| {
        w.write_all(calibrated.as_bytes())
            .map_err(|source| OutputError::Io {
                path: toml.clone(),
                source,
            })
    })?);
    if plots {
        use plot::{Line, LineChart, Stroke};
        let series = |name: &str,
                      colour: usize,
                      stroke: Stroke,
                      f: &dyn Fn(&crate::fit::FittedRow) -> f64| Line {
            name: name.to_string(),
            points: report.rows.iter().map(|r| (r.t, f(r))).collect(),
            colour,
            stroke,
        };
        let chart = LineChart {
            title: format!("{}: measured (dots) and fitted (lines)", report.scenario),
            x_label: "time (s)".to_string(),
            y_label: "peers".to_string(),
            lines: vec![
                series("leechers, measured", 0, Stroke::Dots, &|r| r.leechers),
                series("leechers, fitted", 0, Stroke::Solid, &|r| r.leechers_fit),
                series("seeds, measured", 1, Stroke::Dots, &|r| r.seeds),
                series("seeds, fitted", 1, Stroke::Solid, &|r| r.seeds_fit),
            ],
            x_from_zero: true,
            ..LineChart::default()
        };
        staged.extend(plot::stage_both(dir, "fit", plot::Figure::Lines(&chart))?);
    }
    commit_all(staged)
}
