//! Properties over random swarms (proptest; failures are kept in proptest-regressions/): the
//! exact integrator (one class; two or three classes with Taylor series where they share the
//! upload) and the Rosenbrock integrator (two or three classes) agree with
//! Dopri5, conserve arrivals and keep populations non-negative; the exact one ends at the
//! closed-form steady state.

use approx::relative_eq;
use peerfluid::model::swarm::qiu_srikant_closed_form;
use peerfluid::run::swarm_of;
use peerfluid::solve::{integrate, Method, SolverSettings};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

use crate::reference::EXACT_MULTI_TOL;
use crate::util::{classes_toml, qs_toml, scenario, swarm_disagreement, ClassSpec};

/// literature.md convention for ODE results.
const ODE_RTOL: f64 = 1e-6;

#[derive(Debug, Clone)]
struct Params {
    lambda: f64,
    theta: f64,
    c: f64,
    mu: f64,
    eta: f64,
    gamma: Option<f64>,
    s: f64,
}

fn params() -> impl Strategy<Value = Params> {
    (
        0.1f64..10.0,
        prop_oneof![Just(0.0), 1e-4f64..0.05],
        0.05f64..2.0,
        // Upload and server capacity are 0 or at least 10^-3 files/s (8·10^-3 bit/s for the
        // 1-byte file): below 10^-3 bit/s a scenario is refused (`units::usable_range`), and a
        // random seed drew such values.
        prop_oneof![Just(0.0), 1e-3f64..1.0],
        0.0f64..=1.0,
        prop_oneof![Just(None), (0.005f64..1.0).prop_map(Some)],
        prop_oneof![Just(0.0), 1e-3f64..2.0],
    )
        .prop_map(|(lambda, theta, c, mu, eta, gamma, s)| Params {
            lambda,
            theta,
            c,
            mu,
            eta,
            gamma,
            s,
        })
}

fn class_spec() -> impl Strategy<Value = ClassSpec> {
    (
        0.05f64..2.0,
        prop_oneof![Just(0.0), 1e-3f64..1.0],
        prop_oneof![Just(0.0), 1e-4f64..0.05],
        prop_oneof![Just(None), (0.005f64..1.0).prop_map(Some)],
    )
        .prop_map(|(c, mu, theta, gamma)| ClassSpec {
            share: 0.0,
            c,
            mu,
            theta,
            gamma,
        })
}

/// λ, η, s and 2–3 classes with random shares.
fn swarm_params() -> impl Strategy<Value = (f64, f64, f64, Vec<ClassSpec>)> {
    (
        0.1f64..10.0,
        0.0f64..=1.0,
        prop_oneof![Just(0.0), 1e-3f64..2.0],
        prop::collection::vec((class_spec(), 0.1f64..1.0), 2..=3),
    )
        .prop_map(|(lambda, eta, s, cl)| {
            let total: f64 = cl.iter().map(|c| c.1).sum();
            let classes = cl
                .into_iter()
                .map(|(spec, w)| ClassSpec {
                    // shares rounded so that the TOML sums to 1 within its 1e-6 check
                    share: (w / total * 1e9).round() / 1e9,
                    ..spec
                })
                .collect();
            (lambda, eta, s, classes)
        })
}

proptest! {
    // 48 cases from a fixed seed in CI (the same cases every run); PROPTEST_CASES=3000 for a
    // deeper local run from a random seed.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        rng_seed: match std::env::var("PROPTEST_CASES") {
            Ok(_) => RngSeed::Random,
            Err(_) => RngSeed::Fixed(20_261_202),
        },
        ..ProptestConfig::default()
    })]

    #[test]
    fn exact_matches_dopri5_and_conserves(p in params()) {
        let sc = scenario(&qs_toml(p.lambda, p.theta, p.c, p.mu, p.eta, p.gamma, p.s, ""));
        let model = swarm_of(&sc);
        let mut set = SolverSettings::new(300.0);
        set.points = 150;
        set.method = Method::Exact;
        let ex = integrate(&model, &set).expect("exact");
        // Dopri5 steps over the kink of the server rate without noticing (its error estimate
        // sees only smooth stages); at rtol 1e-10 the cumulative server bytes were off by 2e-5
        // relative (models/swarm.md). At 1e-12 the reference is good to ~2e-9.
        set.method = Method::Dopri5;
        set.rtol = Some(1e-12);
        set.atol = Some(1e-12);
        let rk = integrate(&model, &set).expect("dopri5");
        // Floors: populations against the largest population, running totals (completions,
        // aborts, server and peer files, arrivals) against the arrivals: a byte count is judged
        // against the traffic it is part of, not against its own size near zero.
        let largest = |idx: &[usize]| ex.states().flat_map(|z| idx.iter().map(move |&i| z[i].abs())).fold(1e-6, f64::max);
        let (pop_scale, flow_scale) = (largest(&[0, 1]), largest(&[6]));
        for i in 0..ex.dim() {
            let floor = ODE_RTOL * if i < 2 { pop_scale } else { flow_scale };
            for (a, b) in ex.states().zip(rk.states()) {
                prop_assert!(relative_eq!(a[i], b[i], max_relative = ODE_RTOL, epsilon = floor),
                    "state {i}: exact {} dopri5 {}", a[i], b[i]);
            }
        }
        for z in ex.states() {
            prop_assert!(z[0] >= -1e-9 && z[1] >= -1e-9, "negative population {z:?}");
            // arrivals = completed + aborted + leechers
            let residual = (z[6] - z[2] - z[3] - z[0]).abs();
            prop_assert!(residual <= 1e-9 * z[6].max(1.0), "conservation residual {residual}");
        }
    }

    #[test]
    fn exact_ends_at_the_closed_form(p in params()) {
        let cf = qiu_srikant_closed_form(p.lambda, p.theta, p.c, p.mu, p.eta, p.gamma, p.s);
        prop_assume!(cf.is_some());
        // An empty swarm whose leechers cannot upload and that has no server never starts: its
        // steady state exists but cannot be reached from t = 0 (models/swarm.md, limits).
        prop_assume!(p.mu * p.eta > 0.0 || p.s > 0.0);
        let (x, y, _) = cf.expect("assumed");
        let sc = scenario(&qs_toml(p.lambda, p.theta, p.c, p.mu, p.eta, p.gamma, p.s, ""));
        let model = swarm_of(&sc);
        let ss = &model.steady_states(p.lambda).expect("exists")[0];
        let (slow, stable) = model.slowest_rate(ss);
        prop_assume!(stable && slow > 1e-4);
        // 40 slowest time constants of the final regime (literature.md convention), doubled
        // while short: a swarm that bootstraps slowly (tiny η, no server) spends long in the
        // other regime first. It must get there within 2^12 times that horizon.
        let mut horizon = 40.0 / slow;
        let scale = x.max(y);
        let mut end = (f64::NAN, f64::NAN);
        for _ in 0..=12 {
            let mut set = SolverSettings::new(horizon);
            set.points = 200;
            let tr = integrate(&model, &set).expect("exact");
            end = (tr.last()[0], tr.last()[1]);
            if (end.0 - x).abs().max((end.1 - y).abs()) <= ODE_RTOL * scale {
                break;
            }
            horizon *= 2.0;
        }
        prop_assert!(relative_eq!(end.0, x, max_relative = ODE_RTOL, epsilon = ODE_RTOL * scale), "x {} vs {x}", end.0);
        prop_assert!(relative_eq!(end.1, y, max_relative = ODE_RTOL, epsilon = ODE_RTOL * scale), "y {} vs {y}", end.1);
    }
}

/// A random several-class swarm integrated by `method` (default tolerances) against Dopri5 at
/// rtol 1e-12 over 300 s: agreement within `tol` (as in `swarm_disagreement`), non-negative
/// populations, and arrivals = completed + aborted + leechers.
fn method_matches_dopri5(
    lambda: f64,
    eta: f64,
    s: f64,
    classes: &[ClassSpec],
    method: Method,
    tol: f64,
) -> Result<(), TestCaseError> {
    let mut text = classes_toml(lambda, eta, s, classes, "");
    // the last share absorbs the rounding
    let head: f64 = classes[..classes.len() - 1].iter().map(|c| c.share).sum();
    let last = classes[classes.len() - 1].share;
    text = text.replace(
        &format!("share = {last:?}"),
        &format!("share = {:?}", 1.0 - head),
    );
    let model = swarm_of(&scenario(&text));
    let mut set = SolverSettings::new(300.0);
    set.points = 150;
    set.method = method;
    let traj = integrate(&model, &set).expect("solves");
    set.method = Method::Dopri5;
    set.rtol = Some(1e-12);
    set.atol = Some(1e-12);
    let rk = integrate(&model, &set).expect("dopri5");
    let (e_pop, e_tot) = swarm_disagreement(&model, &traj, &rk);
    prop_assert!(
        e_pop <= tol && e_tot <= tol,
        "populations {e_pop:e}, totals {e_tot:e}, stats {:?}",
        traj.stats
    );
    let k = model.k();
    for z in traj.states() {
        prop_assert!(
            (0..2 * k).all(|i| z[i] >= -1e-9),
            "negative population {z:?}"
        );
        let arrivals = z[model.ix_arrivals()];
        let booked: f64 = (0..k)
            .map(|c| z[model.ix_done(c)] + z[model.ix_aborted(c)] + z[model.ix_x(c)])
            .sum();
        prop_assert!(
            (arrivals - booked).abs() <= 1e-9 * arrivals.max(1.0),
            "conservation residual {}",
            arrivals - booked
        );
    }
    Ok(())
}

proptest! {
    // 48 cases from a fixed seed in CI (the same cases every run); PROPTEST_CASES=3000 for a
    // deeper local run from a random seed.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        rng_seed: match std::env::var("PROPTEST_CASES") {
            Ok(_) => RngSeed::Random,
            Err(_) => RngSeed::Fixed(20_261_202),
        },
        ..ProptestConfig::default()
    })]

    /// Rosenbrock at its default tolerance against Dopri5 at rtol 1e-12 over 300 s, on swarms
    /// that can start (η > 0 with some upload, or a server). Known defect, not fixed: from an
    /// empty swarm that cannot start (η = 0 or μ = 0, no server) Rosenbrock's first step takes
    /// the Jacobian of the piece the state is leaving, books ~1e-8 completions, and the seeds
    /// they leave can set the swarm going (found by a 1 500-case run; `models/swarm.md`). The
    /// exact method, the default, is tested on all swarms below.
    #[test]
    fn rosenbrock_matches_dopri5_and_conserves(
        (lambda, eta, s, classes) in swarm_params()
            .prop_filter("a swarm that can start", |(_, eta, s, cl)| {
                *s > 0.0 || (*eta > 0.0 && cl.iter().any(|c| c.mu > 0.0))
            })
    ) {
        method_matches_dopri5(lambda, eta, s, &classes, Method::Rosenbrock, ODE_RTOL)?;
    }

    /// The exact method (affine regimes by matrix exponentials, Taylor series where several
    /// classes share the upload) against Dopri5 at rtol 1e-12 over 300 s, held to
    /// `EXACT_MULTI_TOL` (1e-8); conservation and non-negative populations.
    #[test]
    fn exact_matches_dopri5_on_several_classes((lambda, eta, s, classes) in swarm_params()) {
        method_matches_dopri5(lambda, eta, s, &classes, Method::Exact, EXACT_MULTI_TOL)?;
    }
}
