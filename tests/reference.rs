//! Reference values from ../shared/reference/literature.md §1 (Qiu & Srikant 2004 and the
//! project's server-assisted and decaying-arrival extensions), checked through the whole
//! pipeline: TOML → Scenario → model → solver → summary.

use approx::assert_relative_eq;
use peerfluid::run::{run_scenario, swarm_of, RunOptions, RunRecord};
use peerfluid::solve::{integrate, Method, SolverSettings};

use crate::util::{
    classes_toml, qs_toml, reference_and_exact, scenario, swarm_disagreement, ClassSpec,
};

/// literature.md tolerance convention: an ODE solved to t ≥ 40/|slowest eigenvalue| matches
/// the steady state to rel 1e-6.
const ODE_RTOL: f64 = 1e-6;
/// The exact method with several classes (Taylor series in nonlinear regimes, truncation
/// 1e-13 per step) against Dopri5 at rtol 1e-12: a hundred times tighter than the issue's
/// 1e-6. Not tighter, because the reference itself is off by up to ~2e-9 on random swarms
/// (where Dopri5 at 1e-13 and Rosenbrock at 1e-12 agree with the exact method to 1e-11;
/// `models/swarm.md`).
pub const EXACT_MULTI_TOL: f64 = 1e-8;

fn run(text: &str, method: Method) -> RunRecord {
    let s = scenario(text);
    run_scenario(
        &s,
        &RunOptions {
            points: 400,
            method,
            ..RunOptions::default()
        },
    )
    .expect("runs")
}

fn col(rec: &RunRecord, name: &str) -> usize {
    rec.columns
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

fn last(rec: &RunRecord, name: &str) -> f64 {
    rec.rows.last().expect("rows")[col(rec, name)]
}

/// (id, λ, θ, c, μ, η, γ, s, x̄, ȳ, T, regime) from literature.md §1.5.
#[allow(clippy::type_complexity)]
const CASES: [(&str, f64, f64, f64, f64, f64, f64, f64, f64, f64, f64, &str); 4] = [
    (
        "QS-A",
        1.0,
        0.001,
        1.0,
        0.5,
        0.9,
        0.02,
        0.0,
        0.999000999,
        49.95004995,
        0.999000999,
        "download-limited",
    ),
    (
        "QS-B",
        1.0,
        0.001,
        0.1,
        0.02,
        1.0,
        0.05,
        0.0,
        29.12621359,
        19.41747573,
        29.12621359,
        "upload-limited",
    ),
    (
        "QS-D",
        2.0,
        0.0,
        0.05,
        0.02,
        0.8,
        0.04,
        0.0,
        62.5,
        50.0,
        31.25,
        "upload-limited",
    ),
    (
        "QS-server",
        1.0,
        0.001,
        0.1,
        0.02,
        1.0,
        0.05,
        0.2,
        19.41747573,
        19.61165049,
        19.41747573,
        "upload-limited",
    ),
];

/// The published values are given to 10 significant digits.
const TABLE_RTOL: f64 = 1e-9;

#[test]
fn qiu_srikant_reference_cases_exact_and_dopri5() {
    for (id, l, th, c, mu, eta, g, s, x, y, t, regime) in CASES {
        let text = qs_toml(l, th, c, mu, eta, Some(g), s, "");
        for method in [Method::Exact, Method::Dopri5] {
            let rec = run(&text, method);
            let ss = rec.summary.steady_state.as_ref().expect("steady state");
            assert_eq!(ss.regime, regime, "{id}");
            assert_relative_eq!(ss.leechers, x, max_relative = TABLE_RTOL);
            assert_relative_eq!(ss.seeds, y, max_relative = TABLE_RTOL);
            assert_relative_eq!(ss.download_time_s, t, max_relative = TABLE_RTOL);
            assert_eq!(
                ss.reached,
                Some(true),
                "{id} {method:?} reached the steady state"
            );
            // The trajectory's end, from the solver, against the table.
            assert_relative_eq!(last(&rec, "leechers"), x, max_relative = ODE_RTOL);
            assert_relative_eq!(last(&rec, "seeds"), y, max_relative = ODE_RTOL);
        }
    }
}

/// QS-server: the server is fully used (0.2 files/s, here 1.6 bit/s) in the upload-limited
/// steady state.
#[test]
fn server_assisted_variant_uses_the_whole_server() {
    let rec = run(
        &qs_toml(1.0, 0.001, 0.1, 0.02, 1.0, Some(0.05), 0.2, ""),
        Method::Exact,
    );
    let ss = rec.summary.steady_state.as_ref().expect("steady state");
    assert_relative_eq!(ss.server_rate_bps, 0.2 * 8.0, max_relative = TABLE_RTOL);
    assert_relative_eq!(
        last(&rec, "server_rate"),
        0.2 * 8.0,
        max_relative = ODE_RTOL
    );
}

/// literature.md §1.2 check "case C": λ ×100 keeps T and scales x̄, ȳ by 100 (QS-A otherwise).
#[test]
fn download_time_does_not_depend_on_arrival_rate() {
    let base = run(
        &qs_toml(1.0, 0.001, 1.0, 0.5, 0.9, Some(0.02), 0.0, ""),
        Method::Exact,
    );
    let big = run(
        &qs_toml(100.0, 0.001, 1.0, 0.5, 0.9, Some(0.02), 0.0, ""),
        Method::Exact,
    );
    let (a, b) = (
        base.summary.steady_state.as_ref().expect("ss"),
        big.summary.steady_state.as_ref().expect("ss"),
    );
    assert_relative_eq!(
        a.download_time_s,
        b.download_time_s,
        max_relative = TABLE_RTOL
    );
    assert_relative_eq!(b.leechers, 100.0 * a.leechers, max_relative = TABLE_RTOL);
    assert_relative_eq!(
        last(&big, "seeds"),
        100.0 * last(&base, "seeds"),
        max_relative = ODE_RTOL
    );
}

/// literature.md §1.5, decaying arrivals in the download-limited regime from an empty swarm:
/// x(t) = λ0 (e^{−bt} − e^{−at})/(a−b), y(t) = cλ0/(a−b) [(e^{−bt} − e^{−γt})/(γ−b) − (e^{−at} − e^{−γt})/(γ−a)],
/// a = θ + c, b = 1/τ. A server large enough to cover any shortfall keeps every leecher at
/// its download rate from t = 0.
#[test]
fn flash_crowd_matches_the_closed_form() {
    let (l0, th, c, mu, eta, g, tau) = (5.0, 0.01, 0.2, 0.05, 0.9, 0.03, 40.0);
    let extra = format!("profile = \"flash-crowd\"\ndecay_time = {tau:?}");
    let text = qs_toml(l0, th, c, mu, eta, Some(g), 1e6, &extra);
    let (a, b) = (th + c, 1.0 / tau);
    for method in [Method::Exact, Method::Dopri5] {
        let rec = run(&text, method);
        let (it, ix, iy) = (col(&rec, "t"), col(&rec, "leechers"), col(&rec, "seeds"));
        // Absolute floor relative to each population's peak: late in the decay the values are
        // ~1e-10 of it and only the scale-relative error is meaningful.
        let peak = |i: usize| rec.rows.iter().map(|r| r[i]).fold(0.0, f64::max);
        let (fx, fy) = (ODE_RTOL * peak(ix), ODE_RTOL * peak(iy));
        for row in rec.rows.iter().skip(1) {
            let t = row[it];
            let x = l0 * ((-b * t).exp() - (-a * t).exp()) / (a - b);
            let y = c * l0 / (a - b)
                * (((-b * t).exp() - (-g * t).exp()) / (g - b)
                    - ((-a * t).exp() - (-g * t).exp()) / (g - a));
            assert_relative_eq!(row[ix], x, max_relative = ODE_RTOL, epsilon = fx);
            assert_relative_eq!(row[iy], y, max_relative = ODE_RTOL, epsilon = fy);
        }
        // Leecher-hours: ∫_0^T x dt = λ0 [(1 − e^{−bT})/b − (1 − e^{−aT})/a] / (a − b).
        let t_end = rec.summary.horizon_s;
        let expected =
            l0 * ((1.0 - (-b * t_end).exp()) / b - (1.0 - (-a * t_end).exp()) / a) / (a - b);
        let got = rec.summary.classes[0].leecher_hours * 3600.0;
        assert_relative_eq!(got, expected, max_relative = ODE_RTOL);
    }
}

/// Two identical classes (shares 0.3/0.7) integrated by Dopri5, Rosenbrock and the exact method
/// (Taylor series where both share the upload) give the single-class exact trajectory at every
/// output time.
#[test]
fn identical_classes_reduce_to_one_class() {
    let one = qs_toml(1.0, 0.001, 0.1, 0.02, 1.0, Some(0.05), 0.1, "");
    let two = "name = \"two\"\n[content]\nsize = 1\n[demand]\narrival_rate = 1.0\n\
        [swarm]\nefficiency = 1.0\nabort_rate = 0.001\nseed_residence = 20.0\n\
        [[peers.class]]\nname = \"a\"\nshare = 0.3\nupload = 0.16\ndownload = 0.8\n\
        [[peers.class]]\nname = \"b\"\nshare = 0.7\nupload = 0.16\ndownload = 0.8\n\
        [server]\ncapacity = 0.8\n";
    let s1 = scenario(&one);
    let s2 = scenario(two);
    let mut set = SolverSettings::new(3000.0);
    set.points = 300;
    let t1 = integrate(&swarm_of(&s1), &set).expect("exact");
    assert_eq!(t1.stats.method, "exact");
    for (method, expected) in [
        (Method::Dopri5, "dopri5"),
        (Method::Rosenbrock, "rosenbrock"),
        (Method::Auto, "exact+taylor"),
    ] {
        set.method = method;
        let t2 = integrate(&swarm_of(&s2), &set).expect("several classes");
        assert_eq!(t2.stats.method, expected);
        identical_classes_agree(&t1, &t2);
    }
}

fn identical_classes_agree(t1: &peerfluid::solve::Trajectory, t2: &peerfluid::solve::Trajectory) {
    for (z1, z2) in t1.states().zip(t2.states()) {
        // state layouts: one class [x, y, ...]; two classes [xa, xb, ya, yb, ...]
        assert_relative_eq!(
            z2[0] + z2[1],
            z1[0],
            max_relative = ODE_RTOL,
            epsilon = 1e-9
        );
        assert_relative_eq!(
            z2[2] + z2[3],
            z1[1],
            max_relative = ODE_RTOL,
            epsilon = 1e-9
        );
        assert_relative_eq!(z2[0], 0.3 * z1[0], max_relative = ODE_RTOL, epsilon = 1e-9);
    }
}

/// Exact and Dopri5 agree over time for every arrival profile and both regimes.
#[test]
fn exact_and_dopri5_agree_on_every_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("trace.csv");
    std::fs::write(&trace, "t,rate\n0,0.2\n300,2.5\n900,0.4\n1500,1.0\n").expect("write trace");
    let profiles = [
        String::new(),
        "profile = \"flash-crowd\"\ndecay_time = 300.0".to_string(),
        "profile = \"diurnal\"\npeak_to_mean = 1.7\nperiod = 500.0\npeak_time = 100.0".to_string(),
        format!(
            "profile = \"trace\"\nfile = {:?}",
            trace.display().to_string()
        ),
    ];
    for extra in &profiles {
        for (l, th, c, mu, eta, g, s) in [
            (1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.0),
            (1.0, 0.001, 1.0, 0.5, 0.9, 0.02, 0.3),
        ] {
            let text = qs_toml(l, th, c, mu, eta, Some(g), s, extra);
            // a trace has no arrival_rate
            let text = if extra.contains("trace") {
                text.replace("arrival_rate = 1.0\n", "")
            } else {
                text
            };
            let sc = scenario(&text);
            let mut set = SolverSettings::new(2500.0);
            set.points = 250;
            set.method = Method::Exact;
            let ex = integrate(&swarm_of(&sc), &set).expect("exact");
            set.method = Method::Dopri5;
            set.rtol = Some(1e-10);
            set.atol = Some(1e-10);
            let rk = integrate(&swarm_of(&sc), &set).expect("dopri5");
            for i in 0..ex.dim() {
                // floor: rtol times the state's largest magnitude along the trajectory (at least 1e-6
                // peers, so that a state that is exactly 0 in one method and 1e-17 in the other passes)
                let floor = ODE_RTOL * ex.states().map(|z| z[i].abs()).fold(1e-6, f64::max);
                for (a, b) in ex.states().zip(rk.states()) {
                    assert_relative_eq!(a[i], b[i], max_relative = ODE_RTOL, epsilon = floor);
                }
            }
        }
    }
}

/// Conservation (issue 2): arrivals = completions + aborts + leechers, for every profile,
/// regime and method; the seeds balance completions minus departures.
#[test]
fn arrivals_are_conserved() {
    for extra in ["", "profile = \"flash-crowd\"\ndecay_time = 300.0"] {
        for method in [Method::Exact, Method::Dopri5] {
            let rec = run(
                &qs_toml(1.0, 0.01, 0.1, 0.02, 0.8, Some(0.05), 0.05, extra),
                method,
            );
            let d = &rec.summary.downloads;
            // Exact: rounding only. Dopri5: rtol 1e-9 on each cumulative state.
            assert!(
                d.conservation_residual < 1e-8,
                "{extra} {method:?}: {}",
                d.conservation_residual
            );
            assert!(d.completed > 0.0 && d.aborted > 0.0);
        }
    }
}

/// Seeds leaving at once (γ = ∞): y ≡ 0 and the upload-limited steady state is
/// x = (λ − s)/(θ + μη).
#[test]
fn seeds_leaving_at_once() {
    let rec = run(
        &qs_toml(1.0, 0.001, 0.1, 0.02, 0.9, None, 0.1, ""),
        Method::Exact,
    );
    let ss = rec.summary.steady_state.as_ref().expect("ss");
    assert_relative_eq!(
        ss.leechers,
        0.9 / (0.001 + 0.018),
        max_relative = TABLE_RTOL
    );
    assert!(ss.seeds.abs() < 1e-15);
    assert!(last(&rec, "seeds").abs() < 1e-12);
    assert_relative_eq!(last(&rec, "leechers"), 0.9 / 0.019, max_relative = ODE_RTOL);
}

/// The 4-class bench scenario (benches/solve.rs): DSL, cable, fibre and mobile peers.
fn four_classes_toml(extra: &str, server: &str) -> String {
    format!(
        "name = \"four\"\n[content]\nsize = \"1 GB\"\n[demand]\narrival_rate = \"0.2/s\"\n{extra}\n\
         [swarm]\nefficiency = 0.9\nabort_rate = \"0.2/h\"\nseed_residence = \"20 min\"\n\
         [[peers.class]]\nname = \"dsl\"\nshare = 0.3\nupload = \"1 Mbps\"\ndownload = \"16 Mbps\"\n\
         [[peers.class]]\nname = \"cable\"\nshare = 0.3\nupload = \"10 Mbps\"\ndownload = \"200 Mbps\"\n\
         [[peers.class]]\nname = \"fibre\"\nshare = 0.3\nupload = \"100 Mbps\"\ndownload = \"500 Mbps\"\n\
         [[peers.class]]\nname = \"mobile\"\nshare = 0.1\nupload = \"5 Mbps\"\ndownload = \"50 Mbps\"\n\
         [server]\ncapacity = \"{server}\"\n"
    )
}

/// Rosenbrock (default tolerance) and the exact method (Taylor series where several classes
/// share the upload) against Dopri5 at rtol = atol = 1e-12, judged as in
/// `swarm_disagreement`; returns the Rosenbrock trajectory.
fn rosenbrock_agrees_with_dopri5(
    text: &str,
    t_end: f64,
    points: usize,
) -> peerfluid::solve::Trajectory {
    let sc = scenario(text);
    let model = swarm_of(&sc);
    let (reference, exact, mut set) = reference_and_exact(&model, t_end, points);
    assert!(exact.stats.method.starts_with("exact"));
    set.method = Method::Rosenbrock;
    let ros = integrate(&model, &set).expect("rosenbrock");
    assert_eq!(ros.stats.method, "rosenbrock");
    for (traj, tol) in [(&ros, ODE_RTOL), (&exact, EXACT_MULTI_TOL)] {
        let (e_pop, e_tot) = swarm_disagreement(&model, traj, &reference);
        assert!(
            e_pop <= tol && e_tot <= tol,
            "{}: populations {e_pop:e}, totals {e_tot:e} (stats {:?})\n{text}",
            traj.stats.method,
            traj.stats
        );
    }
    // arrivals = completed + aborted + leechers (a linear invariant: Rosenbrock keeps it to
    // rounding, since the analytic Jacobian respects it too; the exact method's series too)
    let k = model.k();
    for z in ros.states().chain(exact.states()) {
        let arrivals = z[model.ix_arrivals()];
        let booked: f64 = (0..k)
            .map(|c| z[model.ix_done(c)] + z[model.ix_aborted(c)] + z[model.ix_x(c)])
            .sum();
        assert!(
            (arrivals - booked).abs() <= 1e-8 * arrivals.max(1.0),
            "conservation residual {} of {arrivals}",
            arrivals - booked
        );
        assert!(
            (0..2 * k).all(|i| z[i] >= -1e-9),
            "negative population {z:?}"
        );
    }
    ros
}

/// Issue 2: the 4-class bench scenario (20 slowest time constants, 500 intervals), with and
/// without the server, for a flash crowd and a diurnal profile.
#[test]
fn rosenbrock_matches_dopri5_on_four_classes() {
    let horizon = 24_000.0;
    let ros = rosenbrock_agrees_with_dopri5(&four_classes_toml("", "200 Mbps"), horizon, 500);
    assert!(
        ros.stats.regime_switches > 0,
        "the water level switches: {:?}",
        ros.stats
    );
    rosenbrock_agrees_with_dopri5(&four_classes_toml("", "0 Mbps"), horizon, 500);
    rosenbrock_agrees_with_dopri5(
        &four_classes_toml(
            "profile = \"flash-crowd\"\ndecay_time = \"2 h\"",
            "200 Mbps",
        ),
        horizon,
        500,
    );
    rosenbrock_agrees_with_dopri5(
        &four_classes_toml(
            "profile = \"diurnal\"\nperiod = \"6 h\"\npeak_to_mean = 1.8",
            "50 Mbps",
        ),
        horizon,
        500,
    );
}

/// Issue 17's several-class sweep point: K classes with upload 4 Mbps and downloads spread
/// geometrically over 4–16 Mbps (K = 4: 5.66, 7.13, 8.98, 11.31 Mbps), equal shares,
/// λ = 1.0771/s, θ = 0.001/s, seed residence 353.5 s, η = 0.9, 1 MB, 5000 s from empty.
fn spread_classes_toml(k: usize) -> String {
    let mut s = String::from(
        "name = \"spread\"\n[content]\nsize = \"1 MB\"\n[demand]\narrival_rate = \"1.0771/s\"\n\
         [swarm]\nefficiency = 0.9\nabort_rate = \"0.001/s\"\nseed_residence = \"353.5 s\"\n",
    );
    for j in 0..k {
        let down = 4.0 * 2f64.powf(2.0 * (j as f64 + 0.5) / k as f64);
        s.push_str(&format!(
            "[[peers.class]]\nname = \"c{j}\"\nshare = {}\nupload = \"4 Mbps\"\ndownload = \"{down:.4} Mbps\"\n",
            1.0 / k as f64
        ));
    }
    s
}

/// Issue 17: with several classes the transient's nonlinear regimes take Taylor series, and
/// once every class is at its cap the classes decouple: the closed form of each class's block
/// locates the last switches and finishes the horizon (`solve::blocks`), so a solve takes a few
/// dozen steps instead of one per ρh ≤ 4 (2,110 for 4 classes before), and agrees with Dopri5
/// at rtol 1e-12 to [`EXACT_MULTI_TOL`] with 1 and with 500 outputs.
#[test]
fn several_classes_finish_from_their_decoupled_closed_form() {
    for k in [4, 8] {
        let text = spread_classes_toml(k);
        for points in [1, 500] {
            rosenbrock_agrees_with_dopri5(&text, 5000.0, points);
            let model = swarm_of(&scenario(&text));
            let mut set = SolverSettings::new(5000.0);
            set.points = points;
            set.method = Method::Exact;
            let tr = integrate(&model, &set).expect("exact");
            assert!(
                tr.stats.settled >= 1 && tr.stats.steps <= 20,
                "{k} classes, {points} outputs: {:?}",
                tr.stats
            );
        }
    }
}

/// QS-B-like two-class swarms (upload-limited, one class capped), every arrival profile, with
/// a server that switches on and off, and seeds that leave at once.
#[test]
fn rosenbrock_matches_dopri5_on_two_classes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("trace.csv");
    std::fs::write(&trace, "t,rate\n0,0.2\n300,2.5\n900,0.4\n1500,1.0\n").expect("write trace");
    let profiles = [
        String::new(),
        "profile = \"flash-crowd\"\ndecay_time = 300.0".to_string(),
        "profile = \"diurnal\"\npeak_to_mean = 1.7\nperiod = 500.0\npeak_time = 100.0".to_string(),
        format!(
            "profile = \"trace\"\nfile = {:?}",
            trace.display().to_string()
        ),
    ];
    let qs_b = |share, c, mu, gamma| ClassSpec {
        share,
        c,
        mu,
        theta: 0.001,
        gamma,
    };
    let cases = [
        // QS-B split into slow and fast downloaders: upload-limited, the slow class capped.
        (
            1.0,
            0.0,
            [
                qs_b(0.5, 0.02, 0.02, Some(0.05)),
                qs_b(0.5, 0.1, 0.02, Some(0.05)),
            ],
        ),
        // QS-server-like: the server tops up, then idles as seeds accumulate (on/off switches).
        (
            0.9,
            0.3,
            [
                qs_b(0.3, 0.1, 0.02, Some(0.05)),
                qs_b(0.7, 1.0, 0.5, Some(0.02)),
            ],
        ),
        // Seeds leave at once in one class.
        (
            0.8,
            0.1,
            [qs_b(0.6, 0.1, 0.02, None), qs_b(0.4, 0.5, 0.1, Some(0.1))],
        ),
    ];
    for extra in &profiles {
        for (eta, server, classes) in &cases {
            let text = classes_toml(1.0, *eta, *server, classes, extra);
            let text = if extra.contains("trace") {
                text.replace("arrival_rate = 1.0\n", "")
            } else {
                text
            };
            rosenbrock_agrees_with_dopri5(&text, 2500.0, 250);
        }
    }
}

/// Two identical classes integrated by Rosenbrock give the single-class exact trajectory, for
/// a server that switches (QS-server-like) and for a flash crowd.
#[test]
fn identical_classes_reduce_to_exact_with_rosenbrock() {
    for extra in ["", "profile = \"flash-crowd\"\ndecay_time = 300.0"] {
        let one = qs_toml(1.0, 0.001, 0.1, 0.02, 1.0, Some(0.05), 0.1, extra);
        let spec = |share| ClassSpec {
            share,
            c: 0.1,
            mu: 0.02,
            theta: 0.001,
            gamma: Some(0.05),
        };
        let two = classes_toml(1.0, 1.0, 0.1, &[spec(0.3), spec(0.7)], extra);
        let mut set = SolverSettings::new(3000.0);
        set.points = 300;
        let t1 = integrate(&swarm_of(&scenario(&one)), &set).expect("exact");
        set.method = Method::Rosenbrock;
        let t2 = integrate(&swarm_of(&scenario(&two)), &set).expect("rosenbrock");
        // judged against the largest population (issue 2's measure; the absolute tolerance
        // 1e-7 peers shows as a relative error above 1e-6 while the swarm fills up)
        let floor = ODE_RTOL * t1.states().map(|z| z[0].max(z[1])).fold(1.0, f64::max);
        for (z1, z2) in t1.states().zip(t2.states()) {
            assert_relative_eq!(
                z2[0] + z2[1],
                z1[0],
                max_relative = ODE_RTOL,
                epsilon = floor
            );
            assert_relative_eq!(
                z2[2] + z2[3],
                z1[1],
                max_relative = ODE_RTOL,
                epsilon = floor
            );
            assert_relative_eq!(z2[0], 0.3 * z1[0], max_relative = ODE_RTOL, epsilon = floor);
        }
        // and one class through Rosenbrock against the exact method
        let t3 = integrate(&swarm_of(&scenario(&one)), &set).expect("rosenbrock");
        for (a, b) in t1.states().zip(t3.states()) {
            for i in 0..2 {
                assert_relative_eq!(a[i], b[i], max_relative = ODE_RTOL, epsilon = floor);
            }
        }
    }
}

/// Conservation through the whole pipeline for several classes, every method.
#[test]
fn arrivals_are_conserved_with_several_classes() {
    let spec = |share, c, mu| ClassSpec {
        share,
        c,
        mu,
        theta: 0.01,
        gamma: Some(0.05),
    };
    let text = classes_toml(
        1.0,
        0.8,
        0.05,
        &[spec(0.4, 0.1, 0.02), spec(0.6, 0.3, 0.05)],
        "",
    );
    for method in [Method::Auto, Method::Dopri5, Method::Rosenbrock] {
        let rec = run(&text, method);
        let d = &rec.summary.downloads;
        assert!(
            d.conservation_residual < 1e-8,
            "{method:?}: {}",
            d.conservation_residual
        );
        assert!(d.completed > 0.0 && d.aborted > 0.0);
    }
}

/// A stiff nonlinear stretch (two classes sharing a scarce upload for ~10⁵ s while their fast
/// modes decay in seconds; found by a random search): the explicit Taylor series would need
/// thousands of expansions (12 071 without the check, 40 ms), so the exact method gives up
/// with `SeriesUnavailable` and `Method::Auto` hands the solve to Rosenbrock, which agrees
/// with Dopri5.
#[test]
fn a_stiff_nonlinear_regime_falls_back_to_rosenbrock() {
    let text = "name = \"stiff\"\n[content]\nsize = 1\n[demand]\narrival_rate = 2.1657683362739606\n\
        [swarm]\nefficiency = 0.006589\nabort_rate = 6.087640532809852e-5\nseed_residence = 1.6422716656404315\n\
        [[peers.class]]\nname = \"a\"\nshare = 0.5\nupload = 0.017812586526640098\ndownload = 20.849996528100746\n\
        [[peers.class]]\nname = \"b\"\nshare = 0.5\nupload = 0.0690068156236765\ndownload = 18.004538216563695\n";
    let model = swarm_of(&scenario(text));
    let mut set = SolverSettings::new(206_290.0);
    set.method = Method::Exact;
    let err = integrate(&model, &set).expect_err("too stiff for Taylor series");
    let msg = err.to_string();
    assert!(
        msg.contains("too stiff") && msg.contains("--method rosenbrock"),
        "{msg}"
    );
    set.method = Method::Auto;
    let auto = integrate(&model, &set).expect("falls back");
    assert_eq!(auto.stats.method, "rosenbrock");
    set.method = Method::Dopri5;
    let reference = integrate(&model, &set).expect("dopri5");
    let (e_pop, e_tot) = swarm_disagreement(&model, &auto, &reference);
    assert!(
        e_pop <= ODE_RTOL && e_tot <= ODE_RTOL,
        "populations {e_pop:e}, totals {e_tot:e}"
    );
}

/// An overflowing run is an error, never a trajectory; the exact method names the first output
/// that is not finite. (A scenario file cannot give λ = 1e307/s any more: validation refuses
/// rates beyond 10^9/s, `units::usable_range`; the solver's own guard is tested on a scenario
/// patched after validation.) λ = 1e307/s, θ + c = 0.011/s: the leecher-seconds total
/// ∫x ≈ λ (t²/2 − 0.011 t³/6) is 1.76e308 at t = 6 s (finite) and ~3.2e308 at 8 s (beyond
/// f64::MAX = 1.80e308), so on a 2 s grid the first non-finite output is at 8 s (the exact
/// method reaches it on its fixed-step fast path, where states are checked only at the end).
#[test]
fn overflow_is_an_error_at_the_first_non_finite_output() {
    let mut s = scenario(&qs_toml(1.0, 0.001, 0.01, 0.005, 0.9, Some(0.02), 0.0, ""));
    s.demand.arrival = peerfluid::model::ArrivalProfile::Constant { rate: 1e307 };
    let model = swarm_of(&s);
    for method in [Method::Exact, Method::Dopri5, Method::Rosenbrock] {
        let mut set = SolverSettings::new(1000.0);
        set.method = method;
        match integrate(&model, &set) {
            Err(peerfluid::error::SolveError::NonFinite { t }) if method == Method::Exact => {
                assert!((t - 8.0).abs() < 1e-9, "reported at t = {t}")
            }
            Err(e) if method != Method::Exact => eprintln!("{method:?}: {e}"),
            other => panic!(
                "{method:?}: unexpected {:?}",
                other.map(|tr| tr.last().to_vec())
            ),
        }
    }
}

/// Issue 17: the exact method's cost does not depend on the output grid, and a settled swarm
/// costs nothing more however long the horizon. QS-A (literature §1.5) solved to 1000 s with
/// 1 and 500 output intervals ends in the same state; solved to 10^9 s (32 years) with one
/// output it stops stepping once the state is a fixed point to rounding, and its running
/// integrals then grow exactly linearly.
#[test]
fn one_output_or_many_and_a_long_horizon_after_the_fixed_point() {
    /// The two solves take the same standard steps (the same step matrix) up to rounding.
    const SAME_RTOL: f64 = 1e-12;
    let s = scenario(&qs_toml(1.0, 0.001, 1.0, 0.5, 0.9, Some(0.02), 0.0, ""));
    let model = swarm_of(&s);
    let solve = |t_end: f64, points: usize| {
        let mut set = SolverSettings::new(t_end);
        set.points = points;
        set.method = Method::Exact;
        integrate(&model, &set).expect("solves")
    };
    let (one, many) = (solve(1000.0, 1), solve(1000.0, 500));
    for (a, b) in one.last().iter().zip(many.last()) {
        assert_relative_eq!(*a, *b, max_relative = SAME_RTOL, epsilon = 1e-12);
    }
    // Long horizon: a fixed point by ~2,000 s (e^−0.02 t below rounding), then no steps.
    let long = solve(1e9, 1);
    assert!(long.stats.steps < 2_000, "{} steps", long.stats.steps);
    let ss = &model.steady_states(1.0).expect("steady")[0];
    let end = long.last();
    assert_relative_eq!(end[0], ss.leechers[0], max_relative = 1e-12);
    assert_relative_eq!(end[1], ss.seeds[0], max_relative = 1e-12);
    // Leecher-seconds: the value at 10^5 s plus x* × (10^9 − 10^5).
    let mid = solve(1e5, 1);
    let ix = model.ix_leecher_time(0);
    assert_relative_eq!(
        end[ix],
        mid.last()[ix] + ss.leechers[0] * (1e9 - 1e5),
        max_relative = 1e-9
    );
}

/// Issue 17: a solve that would take ~10^10 steps (a 100-byte file at 100 Mbps: ρ = 1.25e5/s
/// over a flash crowd of days) stops at its work budget with an error that says why and what
/// to change, instead of running for hours. The budget is lowered here so that the debug
/// build reaches it quickly; the default is `solve::MAX_STEPS`.
#[test]
fn a_solve_beyond_its_work_budget_is_an_error_not_a_hang() {
    let s = scenario(&crate::util::shipped_with(
        "viral-video.toml",
        &[("size = \"1.5 GB\"", "size = 100")],
    ));
    let model = swarm_of(&s);
    let mut set = SolverSettings::new(86_400.0);
    set.method = Method::Exact;
    set.max_steps = 100_000;
    let e = integrate(&model, &set).expect_err("over budget");
    let msg = e.to_string();
    // (the fast path stops past the budget, the general loop reports it a step later)
    assert!(
        msg.contains("after 10000") && msg.contains(" steps (the work budget)"),
        "{msg}"
    );
    assert!(msg.contains("fastest rate is 1.250e5/s"), "{msg}");
    assert!(
        msg.contains("check `content.size` against the download rate"),
        "{msg}"
    );
}

/// Issue 17: one class under constant arrivals is solved by the regimes' closed forms (a jump
/// to each guard crossing, then the settled stretch to the horizon). Over the corners and
/// middle of the grid (seed residence 10–1000 s, λ 0.01–10/s), a saddle regime
/// (θ = γ: the upload-limited block has eigenvalues of both signs and a fixed point ~10^5
/// peers away) and a 100-byte file (rates 10^4/s), the closed form agrees with Rosenbrock at
/// rtol 1e-10 to [`EXACT_MULTI_TOL`], and it takes a handful of closed-form steps however long
/// the horizon (no stepping at 4/ρ).
#[test]
fn closed_forms_agree_with_rosenbrock_and_do_not_step() {
    let cases = [
        // (λ, θ, c, μ, γ, horizon)
        (1.0, 0.001, 1.0, 0.5, 0.02, 5000.0),
        (0.01, 0.001, 1.0, 0.5, 0.1, 5000.0),
        (10.0, 0.001, 1.0, 0.5, 0.1, 5000.0),
        (0.01, 0.001, 1.0, 0.5, 0.001, 5000.0),
        (10.0, 0.001, 1.0, 0.5, 0.001, 5000.0),
        (1.0, 0.001, 1e4, 5e3, 0.02, 86_400.0),
    ];
    for (lam, theta, c, mu, gamma, horizon) in cases {
        let s = scenario(&qs_toml(lam, theta, c, mu, 0.9, Some(gamma), 0.0, ""));
        let label = format!("λ {lam} γ {gamma}");
        let exact = exact_agrees_in_few_steps(&swarm_of(&s), horizon, 200, 10, &label);
        assert!(exact.stats.settled >= 1, "{label}: {:?}", exact.stats);
    }
}

/// The exact method on `model` over `horizon` with `points` outputs takes at most `max_steps`
/// steps and agrees with Rosenbrock at rtol 1e-10 to [`EXACT_MULTI_TOL`]; `label` names the
/// case in failures.
fn exact_agrees_in_few_steps(
    model: &peerfluid::model::swarm::Swarm,
    horizon: f64,
    points: usize,
    max_steps: usize,
    label: &str,
) -> peerfluid::solve::Trajectory {
    let mut set = SolverSettings::new(horizon);
    set.points = points;
    set.method = Method::Exact;
    let exact = integrate(model, &set).expect("exact");
    assert!(exact.stats.steps <= max_steps, "{label}: {:?}", exact.stats);
    set.method = Method::Rosenbrock;
    set.rtol = Some(1e-10);
    set.atol = Some(1e-12);
    let reference = integrate(model, &set).expect("rosenbrock");
    let (e_pop, e_tot) = swarm_disagreement(model, &exact, &reference);
    assert!(
        e_pop <= EXACT_MULTI_TOL && e_tot <= EXACT_MULTI_TOL,
        "{label}: populations {e_pop:e}, totals {e_tot:e}"
    );
    exact
}

/// Issue 18: seeds that leave at once make the seed row zero (eigenvalue 0, not driven by
/// the arrivals), which the one-class form refuses as a resonance; the block form takes it
/// (the singular but consistent particular solution), so such swarms no longer step at
/// ρh ≤ 4 (a 20 kB file at 100 Mbps took 3.75 M steps in `paid-sharing`). Against Rosenbrock
/// at rtol 1e-10 to `EXACT_MULTI_TOL`, in a few steps, with and without a server.
#[test]
fn seeds_that_leave_at_once_take_the_closed_form() {
    for (lam, c, mu, s) in [
        (1.0, 1.0, 0.5, 0.0),
        (2.0, 625.0, 125.0, 0.0),
        (1.0, 1.0, 0.2, 0.3),
    ] {
        let sc = scenario(&qs_toml(lam, 0.001, c, mu, 0.9, None, s, ""));
        let label = format!("c {c}");
        let exact = exact_agrees_in_few_steps(&swarm_of(&sc), 24_000.0, 200, 10, &label);
        assert!(exact.stats.settled >= 1, "{label}: {:?}", exact.stats);
    }
}

/// Issue 18: a daily cycle in the arrivals has a closed form too (the forcing pair's
/// eigenmodes ±iω), so a tiny file under a diurnal profile no longer steps at ρh ≤ 4 for a
/// week (`diurnal-catalogue` with a 20 kB file: 4.7·10^7 steps, 101 s for `compare`).
/// Against Rosenbrock at rtol 1e-10 to `EXACT_MULTI_TOL`, with the server switching daily.
#[test]
fn a_daily_cycle_takes_the_closed_form() {
    let diurnal =
        "profile = \"diurnal\"\npeak_to_mean = 1.8\nperiod = \"1 d\"\npeak_time = \"20 h\"";
    for (lam, c, mu, s) in [
        (0.05, 312.5, 31.25, 0.0),
        (0.05, 312.5, 31.25, 25.0),
        (1.0, 1.0, 0.5, 0.0),
    ] {
        let sc = scenario(&qs_toml(
            lam,
            5.6e-5,
            c,
            mu,
            0.9,
            Some(1.0 / 900.0),
            s,
            diurnal,
        ));
        let label = format!("c {c} s {s}");
        exact_agrees_in_few_steps(&swarm_of(&sc), 7.0 * 86_400.0, 300, 60, &label);
    }
}

/// Issue 17: a horizon of 10^15 days (and a seed residence of a century, settling over
/// millennia) costs the same few closed-form steps as an hour, and ends at the closed-form
/// steady state x̄ = λ/(θ + c), ȳ = c x̄/γ (download-limited, literature §1.2) to 1e-12.
#[test]
fn a_horizon_of_any_length_costs_a_few_steps() {
    let (lam, theta, c, mu, gamma) = (1.0, 0.001, 1.0, 0.5, 1.0 / (100.0 * 365.0 * 86_400.0));
    let s = scenario(&qs_toml(lam, theta, c, mu, 0.9, Some(gamma), 0.0, ""));
    let model = swarm_of(&s);
    for horizon in [3600.0, 1e15 * 86_400.0] {
        let mut set = SolverSettings::new(horizon);
        set.points = 500;
        let tr = integrate(&model, &set).expect("solves");
        assert!(tr.stats.steps <= 10, "{horizon} s: {:?}", tr.stats);
        if horizon > 1e9 {
            let x = lam / (theta + c);
            assert_relative_eq!(tr.last()[0], x, max_relative = 1e-12);
            assert_relative_eq!(tr.last()[1], c * x / gamma, max_relative = 1e-12);
        }
    }
}

/// Issue 18: `launch-day` with a 20 kB file hung in its peak refinement (156 solves from t = 0,
/// each stepping a trace's ramps at 1 250/s). When one solve to the bracket's end already costs
/// more than `REFINE_MAX_STEPS` steps, `maximise` returns the better end instead of refining
/// (the caller's grid maximum stands); a cheap swarm on the same trace is still refined.
#[test]
fn peaks_are_not_refined_when_one_solve_is_expensive() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let text = |size: &str| {
        format!(
            "name = \"ramps\"\n[content]\nsize = \"{size}\"\n[demand]\nprofile = \"trace\"\n\
             file = \"traces/launch-day.csv\"\n[swarm]\nefficiency = 0.9\nabort_rate = \"0.2/h\"\n\
             seed_residence = \"10 min\"\n[peers]\nupload = \"20 Mbps\"\ndownload = \"200 Mbps\"\n"
        )
    };
    let model_of = |size: &str| {
        let s = peerfluid::scenario::Scenario::from_toml(&text(size), "ramps.toml", Some(&dir))
            .expect("valid");
        swarm_of(&s)
    };
    let (lo, hi) = (700.0, 1000.0);
    // f peaks inside the bracket, where the leechers equal their value at 850 s (they move
    // monotonically there): refinement finds 850 s, its absence an end.
    let peak_at_850 = |model: &peerfluid::model::swarm::Swarm| {
        let m = peerfluid::solve::state_at(model, 850.0, Method::Auto).expect("solves")[0];
        move |_: f64, z: &[f64]| -(z[0] - m).powi(2)
    };
    let tiny = model_of("20 kB");
    let mut set = SolverSettings::new(hi);
    set.points = 1;
    let steps = integrate(&tiny, &set).expect("solves").stats.steps;
    assert!(steps > peerfluid::solve::REFINE_MAX_STEPS, "{steps} steps");
    let f = peak_at_850(&tiny);
    let (t, _) = peerfluid::solve::maximise(&tiny, Method::Auto, lo, hi, &f).expect("ok");
    assert!(
        t == lo || t == hi,
        "refined to {t} though one solve took {steps} steps"
    );
    let cheap = model_of("1 GB");
    let f = peak_at_850(&cheap);
    let (t, _) = peerfluid::solve::maximise(&cheap, Method::Auto, lo, hi, &f).expect("ok");
    assert!((t - 850.0).abs() < 1e-3, "not refined: {t}");
}
