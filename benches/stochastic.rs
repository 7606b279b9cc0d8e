//! Criterion benches of the stochastic twin (issue 7 targets): events per second of the
//! single-class chain (≥ 30 M/s per core), and a flash crowd that brings 10^6 peers in all,
//! simulated to the end of its horizon (< 1 s). Run: `cargo bench --bench stochastic`.
//! Both run one replicate on one thread (the parallel part is replicates, not events).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use peerfluid::run::fluid_for_simulation;
use peerfluid::scenario::Scenario;
use peerfluid::stochastic::{run_replicate, Chain};

/// QS-B of the tests (upload-limited, seeds stay): one class.
const QS_B: &str = r#"
name = "qs-b"
horizon = 2000.0
[content]
size = 1
[demand]
arrival_rate = 1.0
[swarm]
efficiency = 1.0
abort_rate = 0.001
seed_residence = 20.0
[peers]
upload = 0.16
download = 0.8
[server]
capacity = 0.0
"#;

/// The viral video of `scenarios/viral-video.toml` without its incentive (one class):
/// λ(t) = 2/s · e^(−t / 6 h). At scale N it brings N · 2 · 21 600 (1 − e^(−T/τ)) peers.
const FLASH: &str = r#"
name = "flash"
[content]
size = "1.5 GB"
[demand]
arrival_rate = "2/s"
profile = "flash-crowd"
decay_time = "6 h"
[swarm]
efficiency = 0.9
abort_rate = "0.1/h"
seed_residence = "30 min"
[peers]
upload = "10 Mbps"
download = "100 Mbps"
[server]
capacity = "1 Gbps"
"#;

fn setup(text: &str, points: usize) -> (peerfluid::model::swarm::Swarm, Vec<f64>) {
    let s = Scenario::from_toml(text, "bench", None).expect("valid bench scenario");
    let (rec, swarm) = fluid_for_simulation(&s, points).expect("fluid run");
    let t = rec.rows.iter().map(|r| r[0]).collect();
    (swarm, t)
}

fn bench(c: &mut Criterion) {
    let (swarm, grid) = setup(QS_B, 500);
    let chain = Chain::new(&swarm, 1000.0);
    let events = run_replicate(&chain, &grid, 1)
        .expect("runs")
        .events
        .total();
    let mut g = c.benchmark_group("stochastic");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events));
    g.bench_function(format!("single-class QS-B N=1000 ({events} events)"), |b| {
        b.iter(|| run_replicate(black_box(&chain), &grid, 1).expect("runs"))
    });

    let (swarm, grid) = setup(FLASH, 500);
    let horizon = grid[grid.len() - 1];
    let per_n = swarm.arrival.cumulative(horizon);
    let n = 1e6 / per_n;
    let chain = Chain::new(&swarm, n);
    let rep = run_replicate(&chain, &grid, 1).expect("runs");
    let events = rep.events.total();
    eprintln!(
        "flash crowd: N = {n:.3}, horizon {horizon:.0} s, {} arrivals, {events} events, {} rejected candidates",
        rep.events.arrivals, rep.events.rejected_candidates
    );
    g.throughput(Throughput::Elements(events));
    g.bench_function(
        format!("flash crowd of 1e6 peers to its end ({events} events)"),
        |b| b.iter(|| run_replicate(black_box(&chain), &grid, 1).expect("runs")),
    );

    // Two classes (general path), for comparison.
    let s = Scenario::from_toml(
        &QS_B.replace(
            "[peers]\nupload = 0.16\ndownload = 0.8\n",
            "[[peers.class]]\nname = \"a\"\nshare = 0.5\nupload = 0.16\ndownload = 0.8\n\
             [[peers.class]]\nname = \"b\"\nshare = 0.5\nupload = 0.32\ndownload = 1.6\n",
        ),
        "bench",
        None,
    )
    .expect("valid");
    let (rec, swarm) = fluid_for_simulation(&s, 500).expect("fluid run");
    let grid: Vec<f64> = rec.rows.iter().map(|r| r[0]).collect();
    let chain = Chain::new(&swarm, 1000.0);
    let events = run_replicate(&chain, &grid, 1)
        .expect("runs")
        .events
        .total();
    g.throughput(Throughput::Elements(events));
    g.bench_function(format!("two-class N=1000 ({events} events)"), |b| {
        b.iter(|| run_replicate(black_box(&chain), &grid, 1).expect("runs"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
