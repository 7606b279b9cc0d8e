//! Shared helpers for the integration tests.

use peerfluid::scenario::Scenario;

/// A single-class Qiu–Srikant scenario in the literature's normalised units: file size 1 byte
/// (8 bits), so rates in bit/s are 8 × files/s. `gamma = None` means seeds leave at once.
#[allow(clippy::too_many_arguments)]
pub fn qs_toml(
    lambda: f64,
    theta: f64,
    c: f64,
    mu: f64,
    eta: f64,
    gamma: Option<f64>,
    s: f64,
    demand_extra: &str,
) -> String {
    let residence = gamma.map_or(0.0, |g| 1.0 / g);
    format!(
        "name = \"qs\"\n\
         [content]\nsize = 1\n\
         [demand]\narrival_rate = {lambda:?}\n{demand_extra}\n\
         [swarm]\nefficiency = {eta:?}\nabort_rate = {theta:?}\nseed_residence = {residence:?}\n\
         [peers]\nupload = {:?}\ndownload = {:?}\n\
         [server]\ncapacity = {:?}\n",
        8.0 * mu,
        8.0 * c,
        8.0 * s
    )
}

/// Parse and validate TOML text (panics with the error: tests only).
pub fn scenario(text: &str) -> Scenario {
    Scenario::from_toml(text, "test.toml", None).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Validation error text for TOML text.
pub fn error_of(text: &str) -> String {
    match Scenario::from_toml(text, "bad.toml", None) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Largest difference between two swarm trajectories on the same grid, in the units the
/// solvers are judged by (models/swarm.md, "Solver"): populations against the largest
/// population, counts (completions, aborts, server and peer files, arrivals) against the
/// cumulative arrivals, peer-seconds against their own total, or against the largest
/// population times the horizon when that is larger (a total that is identically zero in the
/// reference, such as the seed-seconds of a swarm where nobody can download, was judged
/// against a floor of 1e-9 peer-seconds, so 7e-12 of rounding read as 0.7 %: found by a
/// random-seed property run). Returns (populations, totals).
pub fn swarm_disagreement(
    model: &peerfluid::model::swarm::Swarm,
    a: &peerfluid::solve::Trajectory,
    b: &peerfluid::solve::Trajectory,
) -> (f64, f64) {
    assert_eq!(a.t.len(), b.t.len(), "same grid");
    let k = model.k();
    let largest = |i: usize| -> f64 { b.states().map(|z| z[i].abs()).fold(1e-9, f64::max) };
    let pop = (0..2 * k).map(largest).fold(1e-9, f64::max);
    let arrivals = largest(model.ix_arrivals());
    let (mut e_pop, mut e_tot) = (0.0_f64, 0.0_f64);
    for i in 0..a.dim() {
        let scale = if i < 2 * k {
            pop
        } else if i <= model.ix_arrivals() {
            arrivals
        } else {
            largest(i).max(pop * b.t.last().copied().unwrap_or(0.0))
        };
        for (za, zb) in a.states().zip(b.states()) {
            let e = (za[i] - zb[i]).abs() / scale;
            if i < 2 * k {
                e_pop = e_pop.max(e);
            } else {
                e_tot = e_tot.max(e);
            }
        }
    }
    (e_pop, e_tot)
}

/// One class of [`classes_toml`], in files/s (file size 1 byte): share, c, μ, θ, γ (None: seeds
/// leave at once).
#[derive(Debug, Clone, Copy)]
pub struct ClassSpec {
    pub share: f64,
    pub c: f64,
    pub mu: f64,
    pub theta: f64,
    pub gamma: Option<f64>,
}

/// A several-class swarm scenario in normalised units (see [`qs_toml`]).
pub fn classes_toml(
    lambda: f64,
    eta: f64,
    s: f64,
    classes: &[ClassSpec],
    demand_extra: &str,
) -> String {
    let mut text = format!(
        "name = \"classes\"\n[content]\nsize = 1\n[demand]\narrival_rate = {lambda:?}\n\
         {demand_extra}\n[swarm]\nefficiency = {eta:?}\n"
    );
    for (i, c) in classes.iter().enumerate() {
        text += &format!(
            "[[peers.class]]\nname = \"c{i}\"\nshare = {:?}\nupload = {:?}\ndownload = {:?}\n\
             abort_rate = {:?}\nseed_residence = {:?}\n",
            c.share,
            8.0 * c.mu,
            8.0 * c.c,
            c.theta,
            c.gamma.map_or(0.0, |g| 1.0 / g)
        );
    }
    text + &format!("[server]\ncapacity = {:?}\n", 8.0 * s)
}

/// A shipped scenario file, `scenarios/<name>`.
pub fn shipped(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

/// The edit that gives a product preset the efficiency it had before issue 20 §4 set it to
/// the measured 0.79 (`models/calibration.md`, "Defaults for the presets"): tests that pin
/// numbers printed from the presets before then run them as they were.
pub const ETA_AS_PINNED: (&str, &str) = ("efficiency = 0.79 ", "efficiency = 0.9 ");

/// A shipped scenario as it was pinned ([`ETA_AS_PINNED`]), its data files read beside it.
pub fn shipped_as_pinned(name: &str) -> Scenario {
    let path = shipped(name);
    let text = shipped_with(name, &[ETA_AS_PINNED]);
    Scenario::from_toml(&text, &path.display().to_string(), path.parent())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The text of a shipped scenario with each `(from, to)` line replaced (panics when a `from`
/// is not in the file, so an edited scenario cannot silently stop matching).
pub fn shipped_with(name: &str, edits: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(shipped(name)).expect("shipped scenario");
    for (from, to) in edits {
        assert!(text.contains(from), "{name} has no line {from:?}");
        text = text.replace(from, to);
    }
    text
}

/// Dopri5 at rtol = atol = 1e-12 (the reference of `tests/reference.rs`) and the exact method
/// at its defaults, over `t_end` with `points` output intervals: (reference, exact, the
/// settings, to solve once more with another method).
pub fn reference_and_exact(
    model: &peerfluid::model::swarm::Swarm,
    t_end: f64,
    points: usize,
) -> (
    peerfluid::solve::Trajectory,
    peerfluid::solve::Trajectory,
    peerfluid::solve::SolverSettings,
) {
    use peerfluid::solve::{integrate, Method, SolverSettings};
    let mut set = SolverSettings::new(t_end);
    set.points = points;
    set.method = Method::Dopri5;
    set.rtol = Some(1e-12);
    set.atol = Some(1e-12);
    let reference = integrate(model, &set).expect("dopri5");
    set.rtol = None;
    set.atol = None;
    set.method = Method::Exact;
    let exact = integrate(model, &set).expect("exact");
    (reference, exact, set)
}
