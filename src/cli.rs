//! Command line: `run` (default), `compare`, `simulate`, `validate`, `sweep`, `check`, ...
//! Nothing numeric happens here.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::output;
use crate::run::{run_judged, RunOptions};
use crate::scenario::Scenario;
use crate::solve::Method;

/// What the top-level help says after the commands: what no command does, and examples.
const TOP_HELP: &str =
    "With no command, peerfluid runs `compare` on the built-in scenario (a 1.5 GB \
video that goes viral on a small publisher's site: scenarios/viral-video.toml) and writes \
results/viral-video/.

Examples:
  peerfluid                                      simulate and price the built-in scenario
  peerfluid compare scenarios/software-update.toml
  peerfluid run scenarios/dsl-fibre.toml -o out --json
  peerfluid sweep scenarios/sweeps/sharing-price.toml -j 4
  peerfluid check --json scenarios/*.toml
  peerfluid completions bash > ~/.local/share/bash-completion/completions/peerfluid
  peerfluid man > peerfluid.1";

const RUN_HELP: &str = "Examples:
  peerfluid run scenarios/dsl-fibre.toml
  peerfluid run scenarios/dsl-fibre.toml -o out --points 50 --no-plots
  peerfluid run scenarios/upload-limited.toml --json | jq .steady_state";

const COMPARE_HELP: &str = "Examples:
  peerfluid compare                              the built-in scenario (as no command)
  peerfluid compare scenarios/software-update.toml -o out
  peerfluid compare scenarios/dsl-fibre.toml --check-stochastic --replicates 100";

const SIMULATE_HELP: &str = "Examples:
  peerfluid simulate scenarios/download-limited.toml --scale 1000 --replicates 20
  peerfluid simulate scenarios/download-limited.toml -j 2 -o sim --json";

const VALIDATE_HELP: &str = "Examples:
  peerfluid validate scenarios/download-limited.toml
  peerfluid validate scenarios/download-limited.toml --scales 100,1000,10000 -j 2 --json";

const SHAPLEY_HELP: &str = "Examples:
  peerfluid shapley scenarios/paid-sharing.toml
  peerfluid shapley --omega concave --classes 4:0.25,1:0.75 --n 10,100
  peerfluid shapley --providers 1:2:1,2:1:1.5 --resource 2 --json";

const SWEEP_HELP: &str = "Examples:
  peerfluid sweep scenarios/sweeps/sharing-price.toml
  peerfluid sweep scenarios/sweeps/million.toml --yes -j 8 -o big
  peerfluid sweep big.toml --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT -o big
  peerfluid sweep big.toml --resume -o big";

const CHECK_HELP: &str = "Examples:
  peerfluid check scenarios/*.toml scenarios/sweeps/*.toml
  peerfluid check --json my.toml | jq '.errors[] | \"\\(.line):\\(.column) \\(.key)\"'";

/// Fluid models of peer-assisted content delivery.
///
/// Simulate BitTorrent-like swarms, live streams, video on demand and femtocell offload as
/// fluid models, price them as client-server, CDN, peer-assisted and hybrid delivery, and
/// sweep their parameters.
#[derive(Debug, Parser)]
#[command(name = "peerfluid", version, about, after_help = TOP_HELP, max_term_width = 100)]
pub struct Cli {
    /// What to do (default: `compare` on the built-in scenario).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Print nothing on stdout but what `--json` asks for, and draw no progress bars
    /// (errors still go to stderr).
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: write timeseries.csv and summary.json, print a summary.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Simulate a file scenario's swarm as an exact Markov chain with whole peers (Gillespie):
    /// write timeseries.csv (means over replicates, `.sd` columns) and summary.json.
    #[command(after_help = SIMULATE_HELP)]
    Simulate(SimulateArgs),
    /// Measure how fast the stochastic mean approaches the fluid solution as the scale N grows:
    /// a table, validation.csv, validation.json, a figure and the fitted log-log slopes.
    #[command(after_help = VALIDATE_HELP)]
    Validate(ValidateArgs),
    /// Run a scenario and price it as client-server, CDN, peer-assisted and hybrid delivery:
    /// adds costs.csv and the `costs` of summary.json, prints a table.
    #[command(after_help = COMPARE_HELP)]
    Compare(RunArgs),
    /// The fluid Shapley value of a scenario's game or of a canonical game, beside the exact
    /// finite-N values (convergence table) and the core check.
    #[command(after_help = SHAPLEY_HELP)]
    Shapley(ShapleyArgs),
    /// Sweep scenario keys over many values (`[sweep]` in the file, or a sweep file with
    /// `base`): one row per point in sweep.csv, streamed in point order.
    #[command(after_help = SWEEP_HELP)]
    Sweep(SweepArgs),
    /// Join the shards of a folder (from `sweep`, `simulate` or `validate` with --shard K/N)
    /// into the unsharded run's files, after checking that every shard is there once,
    /// complete, and from the same spec or job.
    Merge {
        /// The folder the shards were written to.
        dir: PathBuf,
        /// Do not draw the figures.
        #[arg(long)]
        no_plots: bool,
    },
    /// Redraw the figures and index.html of a results folder (run, compare or sweep) from
    /// its CSV and JSON files.
    Plot {
        /// Results folder.
        dir: PathBuf,
    },
    /// Calibrate a file scenario to a measured swarm trace (CSV `t, leechers, seeds`, optional
    /// `arrivals`, `completions`, `aborts`): fit keys by weighted least squares on the exact
    /// trajectory, with bootstrap intervals; writes fit.json, fitted.csv, calibrated.toml and a
    /// figure.
    Fit(FitArgs),
    /// Validate scenario and sweep files without running them.
    #[command(after_help = CHECK_HELP)]
    Check {
        /// Scenario files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print `{"ok": [{file, what}], "errors": [{file, line, column, key, message}]}` on
        /// stdout instead of a line per file.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script, e.g.
    /// `peerfluid completions bash > ~/.local/share/bash-completion/completions/peerfluid`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `peerfluid man > peerfluid.1 && man ./peerfluid.1`.
    Man,
}

/// Arguments of `run`.
#[derive(Debug, clap::Args, Default)]
pub struct RunArgs {
    /// Scenario file (TOML); the built-in default when omitted.
    pub file: Option<PathBuf>,
    /// Output folder (default: results/NAME, NAME being the scenario name).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Print the summary as JSON on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Output intervals of the time series: a minimum (rows are added where the state moves).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub points: u32,
    /// Integration method.
    #[arg(long, value_enum, default_value_t = MethodArg::Auto)]
    pub method: MethodArg,
    /// Do not draw the figures (SVG and PNG).
    #[arg(long)]
    pub no_plots: bool,
    /// The stochastic check at real scale.
    #[command(flatten)]
    pub check: CheckArgs,
}

/// `--check-stochastic` of `run` and `compare`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Also simulate the swarm at its real scale (whole peers, the exact stochastic twin) and
    /// print fluid vs stochastic server bytes, server share and download time (file swarms).
    #[arg(long)]
    pub check_stochastic: bool,
    /// Replicates of the stochastic check.
    #[arg(long, default_value_t = crate::stochastic::DEFAULT_REPLICATES, requires = "check_stochastic")]
    pub replicates: usize,
    /// Base seed of the stochastic check.
    #[arg(long, default_value_t = 1, requires = "check_stochastic")]
    pub seed: u64,
}

impl Default for CheckArgs {
    fn default() -> Self {
        Self {
            check_stochastic: false,
            replicates: crate::stochastic::DEFAULT_REPLICATES,
            seed: 1,
        }
    }
}

/// Arguments of `simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Scenario file (TOML) with `content.kind = "file"`.
    pub file: PathBuf,
    /// N: arrival rates and the server are multiplied by N; populations are reported / N.
    #[arg(long, default_value_t = 1000.0)]
    pub scale: f64,
    /// Independent replicates (run in parallel; mean and standard deviation reported).
    #[arg(long, default_value_t = 10)]
    pub replicates: usize,
    /// Base seed; replicate r gets a seed derived from (seed, r).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output intervals of the time series (the fluid run's grid; rows = points + 1).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub points: u32,
    /// Output folder (default: results/NAME-sim).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Threads, shards and `--resume`.
    #[command(flatten)]
    pub work: WorkArgs,
    /// Print the simulation's summary.json on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `fit`.
#[derive(Debug, clap::Args)]
pub struct FitArgs {
    /// Scenario file (TOML) with `content.kind = "file"`: the parameters not fitted.
    pub file: PathBuf,
    /// The measured trace (CSV with a header; see `models/calibration.md`).
    #[arg(long)]
    pub trace: PathBuf,
    /// Keys to fit, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = ["swarm.efficiency".to_string(), "swarm.seed_residence".to_string(), "swarm.abort_rate".to_string()])]
    pub keys: Vec<String>,
    /// Arrivals from the trace's `arrivals` column or the scenario's `[demand]` (default: the
    /// trace when it has the column).
    #[arg(long, value_enum)]
    pub arrivals: Option<ArrivalsArg>,
    /// Leave samples before this time out of the objective (e.g. "4 min": fit a steady
    /// window; the model still runs from the first arrival).
    #[arg(long, value_parser = parse_time)]
    pub from: Option<f64>,
    /// Bootstrap replicates for the 95 % intervals (0: none).
    #[arg(long, default_value_t = crate::fit::DEFAULT_BOOTSTRAP)]
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output folder (default: results/NAME-fit).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Print fit.json on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Do not draw the figure.
    #[arg(long)]
    pub no_plots: bool,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(short = 'j', long, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub threads: Option<u32>,
}

/// A time with its unit ("4 min", "240 s"; a bare number is seconds), ≥ 0.
fn parse_time(text: &str) -> Result<f64, String> {
    let v = match text.trim().parse::<f64>() {
        Ok(v) => v,
        Err(_) => crate::units::parse_quantity(text, crate::units::Dimension::Time)
            .map_err(|e| e.to_string())?,
    };
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("{text}: a time must be finite and ≥ 0"))
    }
}

/// Where `fit` takes the arrivals from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArrivalsArg {
    /// The trace's `arrivals` column.
    Trace,
    /// The scenario's `[demand]` profile.
    Scenario,
}

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario file (TOML) with `content.kind = "file"`.
    pub file: PathBuf,
    /// Scales N to simulate, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [100.0, 1000.0, 10000.0, 100000.0, 1000000.0])]
    pub scales: Vec<f64>,
    /// Replicates per scale.
    #[arg(long, default_value_t = 10)]
    pub replicates: usize,
    /// Base seed (the same for every scale).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output intervals (the fluid run's grid).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub points: u32,
    /// Output folder (default: results/NAME-validate).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Threads, shards and `--resume`.
    #[command(flatten)]
    pub work: WorkArgs,
    /// Do not draw the figure.
    #[arg(long)]
    pub no_plots: bool,
    /// Print validation.json on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// Sweep file (TOML): a scenario with `[sweep]`, or `base = "scenario.toml"` and `[sweep]`.
    pub file: PathBuf,
    /// Output folder (default: results/NAME-sweep, NAME being the scenario name).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Threads, shards and `--resume`.
    #[command(flatten)]
    pub work: WorkArgs,
    /// Run even when the sweep has more points than the limit (10^6).
    #[arg(long)]
    pub yes: bool,
    /// Do not draw the figures.
    #[arg(long)]
    pub no_plots: bool,
    /// Print what was done as JSON on stdout (`scenario`, `points`, `rows`, `computed`,
    /// `resumed_from`, `seconds`, `points_per_s`, `spec_hash`, `files`).
    #[arg(long)]
    pub json: bool,
}

/// How a long job is spread and resumed: threads, shards for a cluster, `--resume` (shared
/// by `sweep`, `simulate` and `validate`).
#[derive(Debug, clap::Args)]
pub struct WorkArgs {
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(short = 'j', long, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub threads: Option<u32>,
    /// Run only the K-th of N shares of the work items (a sweep's points, a simulation's
    /// replicates, validate's (scale, replicate) pairs numbered scale index × R + replicate):
    /// items i with i mod N = K, K 0-based unless --shard-base 1; e.g.
    /// `--shard $SLURM_ARRAY_TASK_ID/16`; join the folders with `peerfluid merge`.
    #[arg(long, value_parser = crate::shard::ShardId::parse)]
    pub shard: Option<crate::shard::ShardId>,
    /// Where shard ids start: 0 (default) or 1 (a Slurm array written `--array=1-N`).
    #[arg(long, default_value_t = 0, requires = "shard")]
    pub shard_base: u64,
    /// Finish a job (or shard) that was stopped (killed) in the same folder: rows or
    /// replicates already on disk are kept, the rest are computed.
    #[arg(long)]
    pub resume: bool,
}

/// Arguments of `shapley`.
#[derive(Debug, clap::Args)]
pub struct ShapleyArgs {
    /// Scenario file (TOML): its own game (resource = GB of upload capacity per download,
    /// Ω = the origin's cost per download). Omit for a canonical game.
    #[arg(conflicts_with_all = ["omega", "xbar", "classes", "providers"])]
    pub file: Option<PathBuf>,
    /// Several providers sharing one peer population (Cho & Yi): each `a:D:p` saves
    /// a·D·min(R/D, 1)^p when peers give it resource R, e.g. `--providers 1:2:1,2:1:1.5`.
    #[arg(long, value_delimiter = ',', value_parser = parse_provider, conflicts_with_all = ["omega", "xbar", "classes"], requires = "resource")]
    pub providers: Option<Vec<crate::incentive::multi::Provider>>,
    /// With `--providers`: the peers' total resource R.
    #[arg(long, requires = "providers")]
    pub resource: Option<f64>,
    /// Canonical cost per user (literature §2.1 with a = d = 1).
    #[arg(long, value_parser = parse_shape)]
    pub omega: Option<crate::incentive::game::Shape>,
    /// Mean peer resource per user x̄ (one class).
    #[arg(long, conflicts_with = "classes", allow_negative_numbers = true)]
    pub xbar: Option<f64>,
    /// Classes as resource:share pairs, e.g. `--classes 4:0.25,1:0.75`.
    #[arg(long, value_delimiter = ',', value_parser = parse_class)]
    pub classes: Option<Vec<(f64, f64)>>,
    /// Population sizes N for the exact values.
    #[arg(long, value_delimiter = ',', default_values_t = [10usize, 100, 1000])]
    pub n: Vec<usize>,
    /// Seed of the sampled estimator (used where exact enumeration is too large).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

fn parse_shape(s: &str) -> Result<crate::incentive::game::Shape, String> {
    s.parse()
}

fn parse_provider(s: &str) -> Result<crate::incentive::multi::Provider, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let [a, d, p] = parts.as_slice() else {
        return Err(format!(
            "'{s}': expected a:D:p (savings per unit, demand, exponent ≥ 1), e.g. 1:2:1"
        ));
    };
    let num = |v: &str, what: &str| -> Result<f64, String> {
        v.trim()
            .parse::<f64>()
            .map_err(|_| format!("'{s}': {what} '{v}' is not a number"))
    };
    Ok(crate::incentive::multi::Provider {
        a: num(a, "a")?,
        demand: num(d, "D")?,
        exponent: num(p, "p")?,
    })
}

fn parse_class(s: &str) -> Result<(f64, f64), String> {
    let (r, share) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}': expected resource:share, e.g. 4:0.25"))?;
    let num = |v: &str, what: &str| -> Result<f64, String> {
        let x: f64 = v
            .trim()
            .parse()
            .map_err(|_| format!("'{s}': {what} '{v}' is not a number"))?;
        if !(x.is_finite() && x >= 0.0) {
            return Err(format!("'{s}': {what} must be finite and ≥ 0 (got {v})"));
        }
        Ok(x)
    };
    let r = num(r, "resource")?;
    let share = num(share, "share")?;
    if share <= 0.0 || share > 1.0 {
        return Err(format!("'{s}': share must be in (0, 1] (got {share})"));
    }
    Ok((r, share))
}

/// `--method`.
#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum MethodArg {
    /// Exact for file swarms (Rosenbrock if a nonlinear regime is too stiff for Taylor
    /// series), Dopri5 for models without regimes.
    #[default]
    Auto,
    /// Matrix exponentials between regime switches, Taylor series of order 16 where several
    /// peer classes share the upload.
    Exact,
    /// Adaptive Dormand–Prince 5(4).
    Dopri5,
    /// Linearly implicit RODAS4 with the analytic Jacobian (file swarms).
    Rosenbrock,
}

/// Run the command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let quiet = cli.quiet;
    match cli.command {
        // The main job: the built-in default scenario, simulated and priced.
        None => run_cmd(
            RunArgs {
                points: 500,
                ..RunArgs::default()
            },
            true,
            quiet,
        ),
        Some(Command::Run(args)) => run_cmd(args, false, quiet),
        Some(Command::Compare(args)) => run_cmd(args, true, quiet),
        Some(Command::Simulate(args)) => {
            with_threads(args.work.threads, || simulate_cmd(&args, quiet))
        }
        Some(Command::Validate(args)) => {
            with_threads(args.work.threads, || validate_cmd(&args, quiet))
        }
        Some(Command::Shapley(args)) => shapley_cmd(&args, quiet),
        Some(Command::Fit(args)) => fit_cmd(&args, quiet),
        Some(Command::Check { files, json }) => check_cmd(&files, json, quiet),
        Some(Command::Plot { dir }) => plot_cmd(&dir, quiet),
        Some(Command::Sweep(args)) => sweep_cmd(&args, quiet),
        Some(Command::Merge { dir, no_plots }) => merge_cmd(&dir, !no_plots, quiet),
        Some(Command::Completions { shell }) => {
            // Generated in memory: the generator panics on a failed write (a closed pipe).
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "peerfluid", &mut script);
            std::io::stdout().lock().write_all(&script)?;
            Ok(())
        }
        Some(Command::Man) => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut page)?;
            std::io::stdout().lock().write_all(&page)?;
            Ok(())
        }
    }
}

/// Where the human output goes: stdout, or nowhere under `--quiet` (JSON output asked for with
/// `--json` is written to stdout whatever `--quiet` says).
fn human(quiet: bool) -> Box<dyn Write> {
    if quiet {
        Box::new(std::io::sink())
    } else {
        Box::new(std::io::stdout().lock())
    }
}

/// Write `value` as pretty JSON and a newline on stdout.
fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// Whether `e` comes from writing to a closed pipe (`peerfluid ... | head`): the program should
/// then stop quietly, as ripgrep does, not report an error.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            })
            == Some(std::io::ErrorKind::BrokenPipe)
    })
}

fn sweep_cmd(args: &SweepArgs, quiet: bool) -> anyhow::Result<()> {
    use crate::sweep::{run_sweep, SweepOptions, SweepSpec, DEFAULT_LIMIT};
    let shard = args
        .work
        .shard
        .map(|s| s.resolve(args.work.shard_base))
        .transpose()?;
    let spec = SweepSpec::from_path(&args.file)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(format!("{}-sweep", spec.base.name)));
    let keys: Vec<&str> = spec.parameters.iter().map(|p| p.key.as_str()).collect();
    let this = shard.map_or(spec.points, |s| s.rows(spec.points));
    let mut stdout = human(quiet || args.json);
    writeln!(
        stdout,
        "sweep '{}': {} points ({} over {}), evaluate = {}{}; spec {}",
        spec.base.name,
        spec.points,
        spec.mode.label(),
        keys.join(" × "),
        spec.evaluate.label(),
        shard.map_or(String::new(), |s| format!(
            "; shard {}/{} (0-based) runs {this} of them",
            s.index, s.count
        )),
        spec.hash_hex()
    )?;
    stdout.flush()?;
    let opts = SweepOptions {
        out: out.clone(),
        threads: args.work.threads.map(|t| t as usize),
        shard,
        resume: args.work.resume,
        yes: args.yes,
        limit: DEFAULT_LIMIT,
        plots: !args.no_plots,
        progress: !quiet,
    };
    let report =
        run_sweep(&spec, &opts).with_context(|| format!("sweep of {}", args.file.display()))?;
    let per_s = report.computed as f64 / report.seconds.max(1e-9);
    if args.json {
        return print_json(&serde_json::json!({
            "scenario": spec.base.name,
            "points": spec.points,
            "rows": report.rows,
            "computed": report.computed,
            "resumed_from": report.resumed_from,
            "seconds": report.seconds,
            "points_per_s": per_s,
            "spec_hash": spec.hash_hex(),
            "files": report.files,
        }));
    }
    if report.computed == 0 && report.resumed_from == report.rows && report.rows > 0 {
        writeln!(stdout, "already complete: {} rows", report.rows)?;
    } else {
        writeln!(
            stdout,
            "{} rows ({} computed now{}) in {:.2} s: {}",
            report.rows,
            report.computed,
            if report.resumed_from > 0 {
                format!(", {} from the earlier run", report.resumed_from)
            } else {
                String::new()
            },
            report.seconds,
            crate::progress::rate(per_s, "points")
        )?;
    }
    writeln!(stdout, "results:")?;
    for p in &report.files {
        writeln!(stdout, "  {}", p.display())?;
    }
    Ok(())
}

/// Run `f` on a rayon pool of `threads` workers (the global pool when `None`).
fn with_threads(
    threads: Option<u32>,
    f: impl FnOnce() -> anyhow::Result<()> + Send,
) -> anyhow::Result<()> {
    match threads {
        None => f(),
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t as usize)
            .build()
            .context("starting the worker threads")?
            .install(f),
    }
}

fn simulate_cmd(args: &SimulateArgs, quiet: bool) -> anyhow::Result<()> {
    use crate::stochastic::job::{self, JobOptions, Kind, Outcome};
    // The settings are checked before the scenario is read or any folder is touched.
    crate::stochastic::SimSettings::new(args.scale, args.replicates, args.seed)?;
    let shard = args
        .work
        .shard
        .map(|s| s.resolve(args.work.shard_base))
        .transpose()?;
    let scenario = Scenario::from_path(&args.file)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(format!("{}-sim", scenario.name)));
    let opts = JobOptions {
        kind: Kind::Simulate,
        file: args.file.clone(),
        scales: vec![args.scale],
        replicates: args.replicates,
        seed: args.seed,
        points: args.points,
        out,
        shard,
        resume: args.work.resume,
        plots: false,
        progress: !quiet,
    };
    let report = job::run(&opts, |_| {})?;
    let mut stdout = human(quiet || args.json);
    let summary = match report.outcome {
        Outcome::Simulated { summary, files } => {
            if args.json {
                return print_json(&summary);
            }
            print_simulation(&mut stdout, &summary, report.run.as_ref())?;
            writeln!(stdout, "results:")?;
            for p in &files {
                writeln!(stdout, "  {}", p.display())?;
            }
            return Ok(());
        }
        Outcome::Shard { manifest, files } => (manifest, files),
        Outcome::Validated { .. } => anyhow::bail!("internal: simulate produced a validation"),
    };
    print_shard(&mut stdout, &summary.0, &summary.1, report.run.as_ref())
}

/// What a shard did, and how to join it.
fn print_shard(
    out: &mut impl Write,
    m: &crate::stochastic::job::ShardManifest,
    files: &[PathBuf],
    run: Option<&crate::stochastic::shard::ShardRun>,
) -> anyhow::Result<()> {
    let s = m.shard;
    match run {
        Some(r) => writeln!(
            out,
            "{} '{}': shard {}/{} (0-based): {} of {} replicates ({} computed now{}) in {:.2} s",
            m.kind,
            m.scenario,
            s.index,
            s.count,
            r.items,
            m.items,
            r.computed,
            if r.resumed_from > 0 {
                format!(", {} from the earlier run", r.resumed_from)
            } else {
                String::new()
            },
            r.seconds
        )?,
        None => writeln!(
            out,
            "{} '{}': shard {}/{} (0-based) already complete: {} replicates",
            m.kind, m.scenario, s.index, s.count, m.rows
        )?,
    }
    writeln!(
        out,
        "when all {} shards are done: peerfluid merge DIR",
        s.count
    )?;
    writeln!(out, "files:")?;
    for p in files {
        writeln!(out, "  {}", p.display())?;
    }
    Ok(())
}

fn print_simulation(
    stdout: &mut impl Write,
    summary: &crate::stochastic::SimSummary,
    run: Option<&crate::stochastic::shard::ShardRun>,
) -> anyhow::Result<()> {
    let e = &summary.events;
    writeln!(
        stdout,
        "scenario '{}': {} replicates at N = {} over {:.6e} s ({}): {} events ({:.4e} per replicate) in {:.3} s on {} threads, {:.3e} events/s",
        summary.scenario,
        summary.replicates,
        summary.scale,
        summary.horizon_s,
        summary.arrival_profile,
        e.total,
        e.per_replicate,
        summary.timing.wall_s,
        summary.timing.threads,
        summary.timing.events_per_s
    )?;
    if let Some(r) = run.filter(|r| r.resumed_from > 0) {
        writeln!(
            stdout,
            "  resumed: {} replicates from the earlier run, {} computed now",
            r.resumed_from, r.computed
        )?;
    }
    let fluid = summary
        .fluid_download_time_s
        .map_or("–".to_string(), |v| format!("{v:.6} s"));
    let dt = &summary.download_time_s;
    if dt.mean.is_finite() {
        writeln!(
            stdout,
            "  download time (Little over the horizon): {:.6} s ± {:.3e} (sd over replicates); fluid {fluid}",
            dt.mean, dt.sd
        )?;
    } else {
        // Little's ratio needs an arrival in every replicate (issue 18: never print NaN).
        writeln!(
            stdout,
            "  download time (Little over the horizon): – (a replicate had no arrival at this scale; raise --scale); fluid {fluid}"
        )?;
    }
    writeln!(
        stdout,
        "  per N: arrived {:.6}, completed {:.6}, aborted {:.6}, leechers at the end {:.6} ± {:.3e}",
        summary.arrived.mean,
        summary.completed.mean,
        summary.aborted.mean,
        summary.leechers_at_end.mean,
        summary.leechers_at_end.sd
    )?;
    Ok(())
}

fn validation_row_line(r: &crate::stochastic::ValidationRow, wall: bool) -> String {
    let opt = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.3e}"));
    format!(
        "{:>10} {:>12} {:>9} {:>11.3e} {:>11.3e} {:>11} {:>11} {:>11} {:>11}",
        r.scale,
        r.events,
        if wall {
            format!("{:.3}", r.wall_s)
        } else {
            "–".to_string()
        },
        r.population_error,
        r.population_spread,
        opt(r.download_time_error),
        opt(r.download_time_spread),
        opt(r.server_bytes_error),
        opt(r.server_bytes_spread)
    )
}

const VALIDATION_HEADER: [&str; 9] = [
    "N",
    "events",
    "wall s",
    "pop err",
    "pop sd",
    "T err",
    "T sd",
    "server err",
    "server sd",
];

fn validation_header() -> String {
    let h = VALIDATION_HEADER;
    format!(
        "{:>10} {:>12} {:>9} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}",
        h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
    )
}

fn print_slopes(out: &mut impl Write, v: &crate::stochastic::Validation) -> anyhow::Result<()> {
    let slope = |s: Option<f64>| s.map_or("–".to_string(), |x| format!("{x:.3}"));
    writeln!(
        out,
        "log-log slope against N (Kurtz: about -0.5): population error {}, population spread {}, download time error {}, server bytes error {}",
        slope(v.slope_population_error),
        slope(v.slope_population_spread),
        slope(v.slope_download_time_error),
        slope(v.slope_server_bytes_error)
    )?;
    Ok(())
}

fn validate_cmd(args: &ValidateArgs, quiet: bool) -> anyhow::Result<()> {
    use crate::stochastic::job::{self, JobOptions, Kind, Outcome};
    let shard = args
        .work
        .shard
        .map(|s| s.resolve(args.work.shard_base))
        .transpose()?;
    let scenario = Scenario::from_path(&args.file)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(format!("{}-validate", scenario.name)));
    let opts = JobOptions {
        kind: Kind::Validate,
        file: args.file.clone(),
        scales: args.scales.clone(),
        replicates: args.replicates,
        seed: args.seed,
        points: args.points,
        out,
        shard,
        resume: args.work.resume,
        plots: !args.no_plots,
        progress: !quiet,
    };
    // The table streams as scales finish, unless --quiet or --json.
    let table = !(quiet || args.json);
    let mut stdout = human(!table);
    if shard.is_none() {
        writeln!(
            stdout,
            "scenario '{}': stochastic mean of {} replicates vs the fluid solution (relative errors; spread = sd over replicates)",
            scenario.name, args.replicates,
        )?;
        writeln!(stdout, "{}", validation_header())?;
        stdout.flush()?;
    }
    let report = job::run(&opts, |r| {
        if !table {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", validation_row_line(r, true));
        let _ = out.flush();
    })?;
    match report.outcome {
        Outcome::Validated { validation, files } => {
            if args.json {
                return print_json(&validation);
            }
            print_slopes(&mut stdout, &validation)?;
            writeln!(stdout, "results:")?;
            for p in &files {
                writeln!(stdout, "  {}", p.display())?;
            }
            Ok(())
        }
        Outcome::Shard { manifest, files } => {
            print_shard(&mut stdout, &manifest, &files, report.run.as_ref())
        }
        Outcome::Simulated { .. } => anyhow::bail!("internal: validate produced a simulation"),
    }
}

fn merge_cmd(dir: &Path, plots: bool, quiet: bool) -> anyhow::Result<()> {
    use crate::stochastic::job::{self, Outcome};
    let mut stdout = human(quiet);
    if job::has_stochastic_shards(dir) {
        let report = job::merge(dir, plots)?;
        let files = match report.outcome {
            Outcome::Simulated { summary, files } => {
                print_simulation(&mut stdout, &summary, None)?;
                files
            }
            Outcome::Validated { validation, files } => {
                writeln!(stdout, "{}", validation_header())?;
                for r in &validation.rows {
                    writeln!(stdout, "{}", validation_row_line(r, false))?;
                }
                print_slopes(&mut stdout, &validation)?;
                files
            }
            Outcome::Shard { .. } => anyhow::bail!("internal: merge produced a shard"),
        };
        writeln!(stdout, "merged; results:")?;
        for p in &files {
            writeln!(stdout, "  {}", p.display())?;
        }
        return Ok(());
    }
    let report = crate::sweep::merge(dir, plots)?;
    writeln!(
        stdout,
        "merged {} shards: {} rows",
        report.shards, report.rows
    )?;
    for p in &report.files {
        writeln!(stdout, "  {}", p.display())?;
    }
    Ok(())
}

fn plot_cmd(dir: &Path, quiet: bool) -> anyhow::Result<()> {
    let written = output::redraw::redraw(dir)
        .with_context(|| format!("redrawing the figures of {}", dir.display()))?;
    let mut stdout = human(quiet);
    for p in &written {
        writeln!(stdout, "{}", p.display())?;
    }
    Ok(())
}

fn load(file: Option<&Path>) -> anyhow::Result<Scenario> {
    Ok(match file {
        Some(p) => Scenario::from_path(p)?,
        None => Scenario::builtin_default()?,
    })
}

fn run_cmd(args: RunArgs, compare: bool, quiet: bool) -> anyhow::Result<()> {
    let scenario = load(args.file.as_deref())?;
    let opts = RunOptions {
        points: args.points as usize,
        method: match args.method {
            MethodArg::Auto => Method::Auto,
            MethodArg::Exact => Method::Exact,
            MethodArg::Dopri5 => Method::Dopri5,
            MethodArg::Rosenbrock => Method::Rosenbrock,
        },
        ..RunOptions::default()
    };
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(&scenario.name));
    // Refuse a second writer, or a folder holding another kind of results, before computing.
    let writing = || format!("writing results of '{}'", scenario.name);
    let _lock = output::lock::DirLock::acquire(&dir).with_context(writing)?;
    output::claim(&dir, "run").with_context(writing)?;
    let mut record = run_judged(&scenario, &opts, compare)?;
    if args.check.check_stochastic {
        let c = crate::stochastic::check_stochastic(
            &scenario,
            &record,
            args.check.replicates,
            args.check.seed,
        )
        .with_context(|| format!("--check-stochastic of '{}'", scenario.name))?;
        record.summary.stochastic_check = Some(c);
    }
    let written = output::write_run(&dir, &record, !args.no_plots)
        .with_context(|| format!("writing results of '{}'", scenario.name))?;
    if args.json {
        print_json(&record.summary)?;
    } else {
        let mut stdout = human(quiet);
        write!(stdout, "{}", output::text::report(&record.summary))?;
        writeln!(stdout, "results:")?;
        for p in &written {
            writeln!(stdout, "  {}", p.display())?;
        }
    }
    Ok(())
}

/// `shapley --providers`: the Cho–Yi values of several providers sharing one peer population.
fn providers_cmd(
    list: &[crate::incentive::multi::Provider],
    resource: f64,
    args: &ShapleyArgs,
    quiet: bool,
) -> anyhow::Result<()> {
    use crate::incentive::multi::{exact_identical_peers, fluid_values, Market};
    let market = Market::new(list.to_vec(), resource)?;
    let fluid = fluid_values(&market);
    let exact: Vec<(usize, Result<_, String>)> = args
        .n
        .iter()
        .map(|&n| {
            (
                n,
                exact_identical_peers(&market, n).map_err(|e| e.to_string()),
            )
        })
        .collect();
    if args.json {
        let exact_json: Vec<serde_json::Value> = exact
            .iter()
            .map(|(n, r)| match r {
                Ok(x) => serde_json::json!({"peers": n, "values": x}),
                Err(e) => serde_json::json!({"peers": n, "error": e}),
            })
            .collect();
        let doc = serde_json::json!({
            "providers": list,
            "resource": resource,
            "fluid": fluid,
            "exact": exact_json,
        });
        return print_json(&doc);
    }
    let mut out = human(quiet);
    writeln!(
        out,
        "{} providers sharing peers with resource R = {resource} (Cho & Yi; savings a·D·min(R/D, 1)^p)",
        list.len()
    )?;
    writeln!(
        out,
        "  provider          a          D          p   fluid value   standalone   would rather separate"
    )?;
    for (i, p) in list.iter().enumerate() {
        writeln!(
            out,
            "  {:>8} {:>10.4} {:>10.4} {:>10.4} {:>13.6} {:>12.6}   {}",
            i + 1,
            p.a,
            p.demand,
            p.exponent,
            fluid.phi[i],
            fluid.standalone[i],
            if fluid.prefers_separate[i] {
                "yes"
            } else {
                "no"
            }
        )?;
    }
    writeln!(
        out,
        "  peers get {:.6} of the grand coalition's {:.6}",
        fluid.peers_total, fluid.grand_value
    )?;
    if fluid.blocked {
        let who: Vec<String> = fluid
            .blocking_providers
            .iter()
            .map(|i| (i + 1).to_string())
            .collect();
        writeln!(
            out,
            "  NOT in the core: providers {{{}}} with {:.1} % of the peers would get {:.6} more on their own",
            who.join(", "),
            100.0 * fluid.blocking_peer_fraction,
            -fluid.blocking_slack
        )?;
    } else {
        writeln!(
            out,
            "  in the core: no coalition of providers and peers gets more on its own (smallest slack {:.3e})",
            fluid.blocking_slack
        )?;
    }
    for (n, r) in &exact {
        match r {
            Ok(x) => {
                let vals: Vec<String> = x.per_provider.iter().map(|v| format!("{v:.6}")).collect();
                writeln!(
                    out,
                    "  exact, {n} identical peers: providers [{}], peers {:.6}",
                    vals.join(", "),
                    x.peers_total
                )?;
            }
            Err(e) => writeln!(out, "  exact, {n} identical peers: {e}")?,
        }
    }
    Ok(())
}

/// `shapley FILE` prices the scenario's provider–peers game (files: `ScenarioGame`; live and
/// VoD: the viewers' game, `incentive::stream`); femtocell scenarios are refused in one
/// sentence that says where their numbers are (issue 18: never a NaN).
fn refuse_femtocells(s: &Scenario, path: &Path) -> anyhow::Result<()> {
    use crate::scenario::ContentKind;
    if !matches!(s.content.kind, ContentKind::Wireless(_)) {
        return Ok(());
    }
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    anyhow::bail!(
        "`shapley` prices file swarms, live streams and VoD: {file} is a femtocell offload scenario; `compare` reports its hosts' fluid Shapley payments (`wireless.shapley`)"
    )
}

fn shapley_cmd(args: &ShapleyArgs, quiet: bool) -> anyhow::Result<()> {
    if let (Some(list), Some(resource)) = (&args.providers, args.resource) {
        return providers_cmd(list, resource, args, quiet);
    }
    use crate::incentive::game::{Shape, SumGame};
    use crate::incentive::table::{scenario_table, shapley_table};
    const MAX_RESOURCE: f64 = 1e12;
    let table = if let Some(path) = &args.file {
        let s = Scenario::from_path(path)?;
        refuse_femtocells(&s, path)?;
        scenario_table(&s, &args.n, args.seed)?
    } else {
        let shape = args.omega.unwrap_or(Shape::Linear);
        let (resource, shares): (Vec<f64>, Vec<f64>) = match (&args.classes, args.xbar) {
            (Some(list), _) => {
                let sum: f64 = list.iter().map(|c| c.1).sum();
                if (sum - 1.0).abs() > 1e-6 {
                    anyhow::bail!("--classes: shares must sum to 1 (got {sum})");
                }
                if let Some(c) = list.iter().find(|c| c.0 > MAX_RESOURCE) {
                    anyhow::bail!("--classes: resource {} is too large (allowed 0 to {MAX_RESOURCE:e})", c.0);
                }
                list.iter().copied().unzip()
            }
            (None, Some(x)) => {
                if !(x.is_finite() && (0.0..=MAX_RESOURCE).contains(&x)) {
                    anyhow::bail!("--xbar must be in [0, {MAX_RESOURCE:e}] (got {x:e})");
                }
                (vec![x], vec![1.0])
            }
            (None, None) => anyhow::bail!(
                "give a scenario FILE, or a canonical game: --omega linear|exponential|concave with --xbar X or --classes r:share,..."
            ),
        };
        let game = SumGame::new(shape, 1.0, 1.0, resource.len())?;
        shapley_table(
            &game,
            &format!("Ω {shape} (a = d = 1)"),
            &resource,
            &shares,
            &args.n,
            args.seed,
        )?
    };
    if args.json {
        return print_json(&table);
    }
    let mut out = human(quiet);
    writeln!(out, "game: {}", table.game)?;
    let xs: Vec<String> = table.xbar.iter().map(|x| format!("{x:.6}")).collect();
    writeln!(
        out,
        "x̄ per class: [{}]; savings per user {:.6}",
        xs.join(", "),
        table.savings_per_user
    )?;
    let prices: Vec<String> = table
        .price_per_unit
        .iter()
        .map(|p| format!("{p:.6}"))
        .collect();
    writeln!(
        out,
        "fluid Shapley: provider share per user {:.6}, peers per user {:.6}, price per unit [{}]",
        table.provider_share_per_user,
        table.peers_per_user,
        prices.join(", ")
    )?;
    match &table.core.not_checked {
        Some(why) => writeln!(out, "core: {why}")?,
        None => writeln!(
            out,
            "core: {} (min slack per user {:.6} at class fractions {:?})",
            if table.core.in_core {
                "in the core"
            } else {
                "NOT in the core"
            },
            table.core.min_slack_per_user,
            table.core.blocking_fractions
        )?,
    }
    writeln!(
        out,
        "{:>9}  {:<8} {:>16} {:>12}  price per unit",
        "N", "method", "provider/N", "rel. error"
    )?;
    for row in &table.exact {
        if row.method == "skipped" {
            writeln!(
        out,
                "{:>9}  {:<8} not computed: it needs more evaluations of Ω than this game allows (each is a catalogue of exact sums)",
                row.n, row.method
            )?;
            continue;
        }
        let p: Vec<String> = row
            .price_per_unit
            .iter()
            .map(|p| format!("{p:.6}"))
            .collect();
        let ci = if row.provider_half_width_95 > 0.0 {
            format!(" ±{:.1e}", row.provider_half_width_95)
        } else {
            String::new()
        };
        writeln!(
            out,
            "{:>9}  {:<8} {:>16} {:>12}  [{}]",
            row.n,
            row.method,
            format!("{:.9}{ci}", row.provider_share_per_user),
            row.provider_rel_error
                .map_or("–".to_string(), |e| format!("{e:.3e}")),
            p.join(", ")
        )?;
    }
    Ok(())
}

fn fit_cmd(args: &FitArgs, quiet: bool) -> anyhow::Result<()> {
    use crate::fit::{calibrated_text, fit, ArrivalsFrom, FitOptions, Key, Trace};
    let scenario = Scenario::from_path(&args.file)?;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let trace = Trace::from_path(&args.trace)?;
    let keys = args
        .keys
        .iter()
        .map(|k| Key::parse(k.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = FitOptions {
        keys,
        arrivals: args.arrivals.map(|a| match a {
            ArrivalsArg::Trace => ArrivalsFrom::Trace,
            ArrivalsArg::Scenario => ArrivalsFrom::Scenario,
        }),
        bootstrap: args.bootstrap,
        seed: args.seed,
        from: args.from.unwrap_or(0.0),
    };
    let mut report = None;
    with_threads(args.threads, || {
        report = Some(fit(&scenario, &trace, &opts)?);
        Ok(())
    })?;
    let report = report.ok_or_else(|| anyhow::anyhow!("the fit returned no report"))?;
    let file = args.file.display().to_string();
    let calibrated = calibrated_text(&text, &file, args.file.parent(), &report)?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(format!("{}-fit", scenario.name)));
    let written = output::write_fit(&dir, &report, &calibrated, !args.no_plots)?;
    if args.json {
        return print_json(&report);
    }
    let mut out = human(quiet);
    writeln!(
        out,
        "scenario '{}' fitted to {} ({} samples, arrivals from the {}): {} iterations{}; weighted objective {:.6e} -> {:.6e}; mean |model - measured| {:.2} % of the measured peers",
        report.scenario,
        report.trace,
        report.samples,
        match report.arrivals {
            ArrivalsFrom::Trace => "trace",
            ArrivalsFrom::Scenario => "scenario",
        },
        report.iterations,
        if report.converged { "" } else { " (not settled: the iteration limit was reached)" },
        report.objective_initial,
        report.objective,
        100.0 * report.relative_error
    )?;
    writeln!(
        out,
        "  {:<22} {:>14} {:>14} {:>12} {:>27}",
        "key", "scenario", "fitted", "std. error", "95 % bootstrap interval"
    )?;
    for e in &report.estimates {
        let ci = match (e.ci_low, e.ci_high) {
            (Some(a), Some(b)) => format!("[{a:.6e}, {b:.6e}]"),
            _ => "–".into(),
        };
        writeln!(
            out,
            "  {:<22} {:>14.6e} {:>14.6e} {:>12.3e} {:>27}  {}",
            e.key, e.initial, e.value, e.standard_error, ci, e.unit
        )?;
    }
    writeln!(
        out,
        "  bootstrap: {} of {} refits succeeded (seed {}); weights: {}",
        report.bootstrap_ok, report.bootstrap, report.seed, report.weights
    )?;
    if let Some(why) = &report.misfit {
        writeln!(out, "  MISFIT: {why}")?;
    }
    writeln!(out, "results:")?;
    for p in written {
        writeln!(out, "  {}", p.display())?;
    }
    Ok(())
}

fn check_cmd(files: &[PathBuf], json: bool, quiet: bool) -> anyhow::Result<()> {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    let mut out = human(quiet || json);
    for f in files {
        let is_sweep = std::fs::read_to_string(f).is_ok_and(|t| crate::sweep::spec::is_sweep(&t));
        let checked = if is_sweep {
            check_sweep(f, !quiet && !json)
        } else {
            Scenario::from_path(f)
                .map(|s| s.name)
                .map_err(anyhow::Error::new)
        };
        match checked {
            Ok(what) => {
                writeln!(out, "ok: {} ({what})", f.display())?;
                ok.push(serde_json::json!({"file": f, "what": what}));
            }
            Err(e) => {
                if !json {
                    eprintln!("Error: {e:#}");
                }
                errors.push(diagnostic(f, &e));
            }
        }
    }
    if json {
        print_json(&serde_json::json!({"ok": ok, "errors": errors}))?;
    }
    if !errors.is_empty() {
        anyhow::bail!(
            "{} of {} scenario files are invalid",
            errors.len(),
            files.len()
        );
    }
    Ok(())
}

/// A failed `check` of `file` as a [`Diagnostic`](crate::error::Diagnostic): the scenario
/// error's place and key (a sweep point's message says which point), else the whole message.
fn diagnostic(file: &Path, e: &anyhow::Error) -> crate::error::Diagnostic {
    use crate::error::{Diagnostic, ScenarioError, SweepError};
    let found = e.chain().find_map(|cause| {
        if let Some(s) = cause.downcast_ref::<ScenarioError>() {
            return Some(s.diagnostic());
        }
        match cause.downcast_ref::<SweepError>()? {
            SweepError::Spec(s) => Some(s.diagnostic()),
            SweepError::Point {
                point,
                values,
                reason,
            } => {
                let mut d = reason.diagnostic();
                d.message = format!("sweep point {point} ({values}): {}", d.message);
                Some(d)
            }
            _ => None,
        }
    });
    found.unwrap_or_else(|| Diagnostic {
        file: file.display().to_string(),
        line: None,
        column: None,
        key: None,
        message: format!("{e:#}"),
    })
}

/// `check` of a sweep file: the spec, then the scenario of every point `sweep` would run
/// (what `sweep` validates before it writes anything, with the same message), up to the
/// limit above which `sweep` asks for `--yes`.
fn check_sweep(f: &Path, progress: bool) -> anyhow::Result<String> {
    use crate::sweep::{check_points, SweepSpec, DEFAULT_LIMIT};
    let spec = SweepSpec::from_path(f)?;
    let spinner = crate::progress::spinner(
        progress,
        format!("validating {} points", spec.points.min(DEFAULT_LIMIT)),
    );
    let checked = check_points(&spec, DEFAULT_LIMIT);
    spinner.finish_and_clear();
    let checked = checked.with_context(|| format!("sweep of {}", f.display()))?;
    let mut what = format!(
        "sweep of '{}', {} points ({})",
        spec.base.name,
        spec.points,
        spec.mode.label()
    );
    if checked < spec.points {
        what.push_str(&format!(
            "; the first {checked} validated: `sweep` runs more than {DEFAULT_LIMIT} points only with --yes"
        ));
    } else {
        what.push_str(", every point validated");
    }
    Ok(what)
}
