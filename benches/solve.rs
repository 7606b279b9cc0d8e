//! Criterion benches of one swarm solve to the steady state (issue 2 target: ≤ 20 µs median
//! for the single-class model in both regimes and for the 4-class case; the exact method,
//! with Taylor series where several classes share the upload, is the default; Rosenbrock and
//! Dopri5 are kept for comparison).
//! Run: `cargo bench --bench solve`. Scenarios are the reference cases of the tests.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use peerfluid::run::swarm_of;
use peerfluid::scenario::Scenario;
use peerfluid::solve::{integrate, Method, SolverSettings};

fn qs(lambda: f64, theta: f64, c: f64, mu: f64, eta: f64, gamma: f64, s: f64) -> Scenario {
    let text = format!(
        "name = \"bench\"\n[content]\nsize = 1\n[demand]\narrival_rate = {lambda:?}\n\
         [swarm]\nefficiency = {eta:?}\nabort_rate = {theta:?}\nseed_residence = {:?}\n\
         [peers]\nupload = {:?}\ndownload = {:?}\n[server]\ncapacity = {:?}\n",
        1.0 / gamma,
        8.0 * mu,
        8.0 * c,
        8.0 * s
    );
    Scenario::from_toml(&text, "bench", None).expect("valid bench scenario")
}

fn four_classes() -> Scenario {
    let text = common::FOUR_CLASSES;
    Scenario::from_toml(text, "bench", None).expect("valid bench scenario")
}

/// The horizon a default run uses: 20 slowest time constants of the steady state.
fn settings(s: &Scenario, method: Method) -> SolverSettings {
    let m = swarm_of(s);
    let ss = m
        .steady_states(s.demand.arrival.reference_rate().0)
        .expect("steady state");
    let (slow, _) = m.slowest_rate(&ss[0]);
    let mut set = SolverSettings::new(20.0 / slow);
    set.method = method;
    set
}

fn bench(c: &mut Criterion) {
    let cases = [
        (
            "qs-a download-limited",
            qs(1.0, 0.001, 1.0, 0.5, 0.9, 0.02, 0.0),
        ),
        (
            "qs-b upload-limited",
            qs(1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.0),
        ),
        ("qs-server", qs(1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.2)),
    ];
    let mut g = c.benchmark_group("solve to steady state (500 output points)");
    for (name, s) in &cases {
        let model = swarm_of(s);
        for method in [Method::Exact, Method::Dopri5] {
            let set = settings(s, method);
            g.bench_function(format!("{name} / {method:?}"), |b| {
                b.iter(|| integrate(black_box(&model), black_box(&set)).expect("solves"))
            });
        }
    }
    let four = four_classes();
    let model = swarm_of(&four);
    for method in [Method::Exact, Method::Rosenbrock, Method::Dopri5] {
        let set = settings(&four, method);
        g.bench_function(format!("4 classes / {method:?}"), |b| {
            b.iter(|| integrate(black_box(&model), black_box(&set)).expect("solves"))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("closed-form steady state");
    for (name, s) in &cases {
        let model = swarm_of(s);
        g.bench_function(*name, |b| {
            b.iter(|| black_box(&model).steady_states(1.0).expect("exists"))
        });
    }
    g.bench_function("4 classes", |b| {
        b.iter(|| black_box(&model).steady_states(0.2).expect("exists"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
