//! Criterion bench of sweeps (issue 5 target: ≥ 100,000 points per second on the 2-core
//! machine for the Qiu–Srikant model over arrival rate × seed residence, with costs, CSV
//! included). Run: `cargo bench --bench sweep`.
//! Sweep: `scenarios/sweeps/arrival-residence.toml` (10,000 points, steady evaluation), and
//! `scenarios/sweeps/dynamics.toml` (10,000 points integrated from empty, issue 17).

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use peerfluid::scenario::Scenario;
use peerfluid::sweep::spec::Evaluate;
use peerfluid::sweep::{eval, run_sweep, SweepOptions, SweepSpec};

fn bench(c: &mut Criterion) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweeps/arrival-residence.toml");
    let spec = SweepSpec::from_path(&path).expect("preset sweep validates");
    let s = spec.scenario(4321).expect("point").1;
    let mut g = c.benchmark_group("sweep point");
    g.bench_function("build and validate the scenario of a point", |b| {
        b.iter(|| black_box(spec.scenario(black_box(4321)).unwrap()))
    });
    g.bench_function("evaluate (steady state + four monthly bills)", |b| {
        b.iter(|| black_box(eval::evaluate(&s, Evaluate::Steady).is_ok()))
    });
    g.bench_function("whole row (scenario, evaluation, CSV line)", |b| {
        let mut line = String::new();
        b.iter(|| {
            line.clear();
            eval::row(&spec, black_box(4321), &mut line);
            black_box(line.len())
        })
    });
    g.finish();

    whole_sweeps(c, &spec, "sweep", "10,000 points to sweep.csv");
}

/// `run_sweep` of the whole spec to a CSV on disk, on 1 and 2 threads.
fn whole_sweeps(c: &mut Criterion, spec: &SweepSpec, group: &str, what: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    g.throughput(Throughput::Elements(spec.points));
    for threads in [1usize, 2] {
        g.bench_function(format!("{what}, {threads} thread(s)"), |b| {
            b.iter(|| {
                let opts = SweepOptions {
                    out: dir.path().join(format!("t{threads}")),
                    threads: Some(threads),
                    shard: None,
                    resume: false,
                    yes: false,
                    limit: u64::MAX,
                    plots: false,
                    progress: false,
                };
                black_box(run_sweep(spec, &opts).unwrap().rows)
            })
        });
    }
    g.finish();
}

/// Issue 17: the same grid size with the dynamics integrated at every point
/// (`scenarios/sweeps/dynamics.toml`, `evaluate = "run"`).
fn bench_run(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweeps/dynamics.toml");
    let spec = SweepSpec::from_path(&path).expect("preset sweep validates");
    let s = spec.scenario(4321).expect("point").1;
    let mut g = c.benchmark_group("run sweep point");
    g.bench_function("evaluate (integrate from empty + four bills)", |b| {
        b.iter(|| black_box(eval::evaluate(&s, Evaluate::Run).is_ok()))
    });
    g.finish();
    whole_sweeps(
        c,
        &spec,
        "run sweep",
        "10,000 integrated points to sweep.csv",
    );
}

#[path = "common/mod.rs"]
mod common;

/// Issue 17: cost per point with several classes against one (targets: 4 classes ≤ 3×,
/// 8 classes ≤ 8×). A row's evaluation of the point, and a whole point of the
/// dynamics grid over each (its scenario built and validated twice, as `sweep` does: once in
/// the check of every point, once for the row; then evaluated, its CSV line written).
fn bench_classes(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = c.benchmark_group("several classes");
    for k in [0usize, 4, 8] {
        let label = if k == 0 {
            "1 class".to_string()
        } else {
            format!("{k} classes")
        };
        let text = common::spread_classes(k);
        let s = Scenario::from_toml(&text, "spread", None).expect("valid");
        g.bench_function(format!("row evaluation, {label}"), |b| {
            b.iter(|| black_box(eval::evaluate(&s, Evaluate::Run).is_ok()))
        });
        let base = dir.path().join(format!("spread{k}.toml"));
        std::fs::write(&base, &text).expect("write");
        let sweep = dir.path().join(format!("grid{k}.toml"));
        std::fs::write(&sweep, common::dynamics_grid(&base.display().to_string())).expect("write");
        let spec = SweepSpec::from_path(&sweep).expect("sweep validates");
        let mut line = String::new();
        let mut i = 0u64;
        g.bench_function(format!("whole grid point, {label}"), |b| {
            b.iter(|| {
                i = (i + 7919) % spec.points;
                black_box(spec.scenario(i).is_ok());
                line.clear();
                eval::row(&spec, i, &mut line);
                black_box(line.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench, bench_run, bench_classes);
criterion_main!(benches);
