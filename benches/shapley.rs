//! Criterion benches of the Shapley computations (targets: fluid value ≤ 50 µs for K = 4
//! canonical classes; enumeration of 20 heterogeneous peers ≤ 1 s).
//! Run: `cargo bench --bench shapley`. Games are the reference cases of the tests.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use peerfluid::incentive::game::{Shape, SumGame};
use peerfluid::incentive::shapley::{exact_by_classes, exact_enumeration, fluid_shapley};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("fluid Shapley value");
    for shape in Shape::ALL {
        let one = SumGame::new(shape, 1.0, 1.0, 1).expect("valid game");
        g.bench_function(format!("{shape} / K = 1, x̄ = 2"), |b| {
            b.iter(|| fluid_shapley(black_box(&one), black_box(&[2.0])).expect("valid"))
        });
        let four = SumGame::new(shape, 1.0, 1.0, 4).expect("valid game");
        let xbar = [0.1, 0.7, 0.05, 0.45];
        g.bench_function(format!("{shape} / K = 4, Σx̄ = 1.3"), |b| {
            b.iter(|| fluid_shapley(black_box(&four), black_box(&xbar)).expect("valid"))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("exact Shapley value");
    g.sample_size(10);
    let two = SumGame::new(Shape::Exponential, 1.0, 1.0, 2).expect("valid game");
    let players: Vec<(usize, f64)> = (0..20).map(|i| (i % 2, 0.05 + 0.01 * i as f64)).collect();
    g.bench_function("enumeration / 20 heterogeneous peers, K = 2", |b| {
        b.iter(|| exact_enumeration(black_box(&two), black_box(&players)).expect("≤ 20"))
    });
    let lin = SumGame::new(Shape::Linear, 1.0, 1.0, 1).expect("valid game");
    g.bench_function("by classes / N = 1000, one class (SHAP-finiteN)", |b| {
        b.iter(|| exact_by_classes(black_box(&lin), black_box(&[1000]), &[2.0]).expect("fits"))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
