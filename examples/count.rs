//! Deterministic cost per solve, for callgrind (the VM's wall-clock speed drifts between runs):
//! `CASE=a|b|s|four N=101 valgrind --tool=callgrind ./target/release/examples/count`, minus the
//! same with N=1, divided by 100, is the instruction count of one solve (`DOPRI=1` for Dopri5,
//! `ROS=1` for Rosenbrock, else the exact method; `CASE=four` is the 4-class bench scenario;
//! `POINTS=n` for n output intervals instead of 500; `ROW=k` instead times one sweep row of
//! issue 17's k-class point, `ROW=0` its one class).
use peerfluid::run::swarm_of;
use peerfluid::scenario::Scenario;
use peerfluid::solve::{integrate, Method, SolverSettings};

#[path = "../benches/common/mod.rs"]
mod common;

fn main() {
    if let Some(k) = std::env::var("ROW")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        // One sweep row's evaluation of issue 17's several-class point (`ROW=0` one class).
        let s = Scenario::from_toml(&common::spread_classes(k), "spread", None).expect("valid");
        let n: usize = std::env::var("N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100);
        if std::env::var("STATS").is_ok() {
            let mut set = SolverSettings::new(5000.0);
            set.points = 1;
            let t = integrate(&swarm_of(&s), &set).expect("solves");
            eprintln!("{:?}", t.stats);
        }
        let mut ok = 0;
        let start = std::time::Instant::now();
        for _ in 0..n {
            ok += usize::from(
                peerfluid::sweep::eval::evaluate(&s, peerfluid::sweep::spec::Evaluate::Run).is_ok(),
            );
        }
        let per = start.elapsed().as_secs_f64() / n as f64;
        println!("{ok} rows, {:.3} µs per row", per * 1e6);
        return;
    }
    let case = std::env::var("CASE").unwrap_or_default();
    let (text, lam) = if case == "four" {
        (common::FOUR_CLASSES.to_string(), 0.2)
    } else {
        let (up, down, res, eta, s, lam) = match case.as_str() {
            "a" => (4.0, 8.0, 50.0, 0.9, 0.0, 1.0),
            "b" => (0.16, 0.8, 20.0, 1.0, 0.0, 1.0),
            _ => (0.16, 0.8, 20.0, 1.0, 1.6, 1.0),
        };
        (format!("name=\"q\"\n[content]\nsize=1\n[demand]\narrival_rate={lam:?}\n[swarm]\nefficiency={eta:?}\nabort_rate=0.001\nseed_residence={res:?}\n[peers]\nupload={up:?}\ndownload={down:?}\n[server]\ncapacity={s:?}\n"), lam)
    };
    let sc = Scenario::from_toml(&text, "x", None).expect("valid");
    let m = swarm_of(&sc);
    let ss = m.steady_states(lam).expect("steady");
    let (slow, _) = m.slowest_rate(&ss[0]);
    let mut set = SolverSettings::new(20.0 / slow);
    if let Some(points) = std::env::var("POINTS").ok().and_then(|v| v.parse().ok()) {
        set.points = points;
    }
    set.method = if std::env::var("DOPRI").is_ok() {
        Method::Dopri5
    } else if std::env::var("ROS").is_ok() {
        Method::Rosenbrock
    } else {
        Method::Exact
    };
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    if std::env::var("STATS").is_ok() {
        let t = integrate(&m, &set).expect("solves");
        eprintln!("{:?} t_end={} points={}", t.stats, set.t_end, set.points);
    }
    let mut acc = 0.0;
    for _ in 0..n {
        acc += integrate(&m, &set).expect("solves").last()[0];
    }
    println!("{acc}");
}
