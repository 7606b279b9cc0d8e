//! Criterion bench of the participation market (issue 4 target: equilibrium plus best payment
//! for one scenario ≤ 50 ms on the 2-core machine). Run: `cargo bench --bench equilibrium`.
//! Scenario: `scenarios/paid-sharing.toml` (one class, log-normal private costs, CDN origin).

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use peerfluid::incentive::equilibrium::{Market, Offer};
use peerfluid::incentive::plan::{plan, BEST_PAYMENT_GRID};
use peerfluid::scenario::Scenario;

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/paid-sharing.toml");
    let s = Scenario::from_path(&path).expect("preset validates");
    let m = Market::new(&s).expect("market");
    let mut g = c.benchmark_group("equilibrium");
    g.sample_size(20);
    g.bench_function("equilibria per-byte (scan + bisection)", |b| {
        b.iter(|| black_box(m.equilibria(&Offer::PerByte { price: 0.004 }).unwrap()))
    });
    g.bench_function("equilibrium + best payment + social optimum", |b| {
        b.iter(|| {
            let best = m.best_payment(BEST_PAYMENT_GRID).unwrap();
            black_box(
                m.equilibria(&Offer::PerByte {
                    price: best.price_usd_per_gb,
                })
                .unwrap(),
            )
        })
    });
    g.bench_function(
        "whole incentive plan (adds the coupled Dopri5 check and Shapley)",
        |b| b.iter(|| black_box(plan(&s).unwrap())),
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
