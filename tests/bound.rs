//! The flash-crowd bound (issue 20 §2 term 5, `models/swarm.md`, "The flash-crowd bound"):
//! nobody completes before t_g = F/s. Before the gate the last download stage waits (it
//! uploads, takes no share of the upload and completes nothing); from t_g on the model is the
//! one without the bound. Against its closed form, across methods, in the stochastic twin, a
//! gate too early to bind, and its validation messages.

use approx::assert_relative_eq;
use peerfluid::model::swarm::swarm_of;
use peerfluid::model::FluidModel;
use peerfluid::run::{fluid_for_simulation, run_scenario, RunOptions};
use peerfluid::solve::{integrate, Method, SolverSettings};
use peerfluid::stochastic::{compare, simulate, FluidReference, SimSettings};

use crate::terms::{four_classes, methods_agree, qs_stages, CLOSED, PINNED, TWIN};
use crate::util::{error_of, scenario, shipped_with};

/// The line that turns the bound on, in `[swarm]`.
const ON: &str = "flash_crowd_bound = true";

/// `text` with the bound on.
fn bound(text: &str) -> String {
    text.replace("[swarm]\n", &format!("[swarm]\n{ON}\n"))
}

/// P(j, x) = 1 − e^{−x} Σ_{m<j} x^m/m!, the regularised lower incomplete gamma function of
/// integer order j (the Erlang-j CDF at rate 1).
fn p_gamma(j: usize, x: f64) -> f64 {
    let (mut term, mut sum) = (1.0, 0.0);
    for m in 0..j {
        if m > 0 {
            term *= x / m as f64;
        }
        sum += term;
    }
    1.0 - (-x).exp() * sum
}

/// ∫₀ᵗ P(j, βs) ds = t − (1/β) Σ_{n<j} P(n + 1, βt) (its derivative is 1 − (1 − P(j, βt))).
fn p_integral(j: usize, beta: f64, t: f64) -> f64 {
    t - (0..j).map(|n| p_gamma(n + 1, beta * t)).sum::<f64>() / beta
}

/// One class, download-limited from empty (θ = 0, c = 0.1 ≤ μ = 0.5 with η = 1, so the peers'
/// upload alone covers every download and the server idles: the pipeline is linear), λ = 1,
/// k = 4 stages left at β = k c, and a server s = 0.045 files/s, so t_g = 1/s = 22.2 s lies
/// between outputs (and s = 0.05: t_g = 20 s on an output). Closed form: stages 1..k − 1 are the Erlang pipeline in both phases,
/// v_j(t) = (λ/β) P(j, βt); before t_g the last stage holds the rest, L = λt − Σ_{j<k} v_j,
/// nobody completes, and the peers send c Σ_{j<k} v_j (what the stages before the last
/// download); from t_g on L − L_free decays at β (L_free = (λ/β) P(k, βt), the stage without
/// the gate), so the completions are done_free(t) − done_free(t_g) + (L(t_g) − L_free(t_g))
/// (1 − e^{−β(t − t_g)}), done_free = λ ∫ P(k, βs) ds; x = λt − done. Exact method at 1e-9
/// (`CLOSED`, relative, floor 1e-12 peers). Also the gate in the summary, and with duplicate
/// bytes (d = 0.05, useful server (1 − d) s) still F/s of the raw capacity.
#[test]
fn no_download_completes_before_the_origin_sent_the_file_once() {
    for (s, outputs_before) in [(0.045, 45), (0.05, 40)] {
        gate_on_the_erlang_pipeline(s, outputs_before);
    }
}

/// [`no_download_completes_before_the_origin_sent_the_file_once`] with a server s files/s:
/// t_g = 1/s, and `outputs_before` outputs (every 0.5 s) before it.
fn gate_on_the_erlang_pipeline(s: f64, outputs_before: usize) {
    let (l, c, k) = (1.0, 0.1, 4_usize);
    let text = bound(&qs_stages(l, 0.0, c, 0.5, 1.0, 0.05, s, k));
    let sw = swarm_of(&scenario(&text));
    let tg = 1.0 / s;
    assert_relative_eq!(sw.gate().expect("bound on"), tg, max_relative = CLOSED);
    assert_eq!(sw.time_events().len(), 1);
    let beta = k as f64 * c;
    let v = |j: usize, t: f64| l / beta * p_gamma(j, beta * t);
    let last_gated = |t: f64| l * t - (1..k).map(|j| v(j, t)).sum::<f64>();
    let last_free = |t: f64| v(k, t);
    let done_free = |t: f64| l * p_integral(k, beta, t);
    let excess = last_gated(tg) - last_free(tg);
    let done = |t: f64| {
        if t < tg {
            0.0
        } else {
            done_free(t) - done_free(tg) + excess * (1.0 - (-beta * (t - tg)).exp())
        }
    };
    let mut set = SolverSettings::new(100.0);
    set.points = 200;
    set.method = Method::Exact;
    let traj = integrate(&sw, &set).expect("exact");
    let mut before = 0;
    for (&t, z) in traj.t.iter().zip(traj.states()) {
        for j in 1..k {
            assert_relative_eq!(
                z[sw.ix_v(0, j)],
                v(j, t),
                max_relative = CLOSED,
                epsilon = 1e-12
            );
        }
        assert_relative_eq!(
            z[sw.ix_done(0)],
            done(t),
            max_relative = CLOSED,
            epsilon = 1e-12
        );
        assert_relative_eq!(
            z[sw.ix_x(0)],
            l * t - done(t),
            max_relative = CLOSED,
            epsilon = 1e-12
        );
        if t < tg {
            before += 1;
            assert_eq!(z[sw.ix_done(0)], 0.0, "a completion at {t} s < t_g");
            let sent = c * l / beta * (1..k).map(|j| p_integral(j, beta, t)).sum::<f64>();
            assert_relative_eq!(
                z[sw.ix_peer()],
                sent,
                max_relative = CLOSED,
                epsilon = 1e-12
            );
            assert_eq!(z[sw.ix_server()], 0.0);
        }
    }
    assert_eq!(before, outputs_before, "outputs before the gate");
    // Without the bound the same swarm completes from the start; with it the completions
    // fall short by done_free(t_g) e^{−β(t − t_g)} (the excess L(t_g) − L_free(t_g) is what
    // the free swarm completed before t_g), so the totals match once that has decayed (at
    // 100 s to e^{−31}: equal to rounding).
    assert_relative_eq!(excess, done_free(tg), max_relative = CLOSED);
    let free = swarm_of(&scenario(&qs_stages(l, 0.0, c, 0.5, 1.0, 0.05, s, k)));
    let free_traj = integrate(&free, &set).expect("exact");
    let at_30 = |tr: &peerfluid::solve::Trajectory| tr.state(60)[free.ix_done(0)];
    assert_relative_eq!(
        at_30(&free_traj) - at_30(&traj),
        done_free(tg) * (-beta * (30.0 - tg)).exp(),
        max_relative = CLOSED
    );
    assert_relative_eq!(
        free_traj.last()[free.ix_done(0)],
        traj.last()[sw.ix_done(0)],
        max_relative = CLOSED
    );
    // The run reports the gate; duplicates do not move it (first copies are not duplicates).
    let rec = run_scenario(&scenario(&text), &RunOptions::default()).expect("runs");
    assert_relative_eq!(
        rec.summary.flash_crowd_bound_s.expect("reported"),
        tg,
        max_relative = CLOSED
    );
    let dup = swarm_of(&scenario(
        &text.replace("[swarm]\n", "[swarm]\nduplicates = 0.05\n"),
    ));
    assert_relative_eq!(dup.gate().expect("on"), tg, max_relative = CLOSED);
}

/// The exact method (Taylor series where upload binds, in both phases) against Dopri5 at rtol
/// 1e-12, which ends a step on the gate (1e-8, `EXACT_MULTI_TOL` of `tests/reference.rs`):
/// one class upload-limited with a slow origin (QS-B-like, s = 0.02: t_g = 50 s, aborts), the
/// same with a start-up delay and a flash crowd, and the 4-class bench with k = 3, a flash
/// crowd and a 20 Mbps origin (t_g = 400 s, after the fibre class's 16 s downloads).
#[test]
fn the_flash_crowd_bound_agrees_across_methods() {
    let one = bound(&qs_stages(1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.02, 4));
    methods_agree(&one, 600.0, 300, false);
    let crowd = one
        .replace("[swarm]\n", "[swarm]\nstartup_delay = 5.0\n")
        .replace(
            "arrival_rate = 1.0\n",
            "arrival_rate = 1.0\nprofile = \"flash-crowd\"\ndecay_time = 60.0\n",
        );
    assert!(crowd.contains("flash-crowd"));
    methods_agree(&crowd, 600.0, 300, false);
    let four = bound(
        &four_classes("", "profile = \"flash-crowd\"\ndecay_time = \"1 h\"")
            .replace("capacity = \"200 Mbps\"", "capacity = \"20 Mbps\"")
            .replace("[swarm]\n", "[swarm]\nstages = 3\n"),
    );
    let sw = swarm_of(&scenario(&four));
    assert_relative_eq!(sw.gate().expect("on"), 400.0, max_relative = CLOSED);
    methods_agree(&four, 24_000.0, 400, false);
}

/// The stochastic twin with the bound: QS-B-like with k = 4 and a slow origin (t_g = 50 s),
/// N = 2000, 4 replicates over 300 s: populations, Little's download time and the server's
/// bytes within 1 % (`TWIN`) of the fluid (measured: 0.21 %, 0.02 %, 0.002 %), and neither
/// completes anything before t_g.
#[test]
fn the_stochastic_twin_waits_for_the_gate() {
    let text = bound(&qs_stages(1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.02, 4))
        .replace("name = \"qs\"", "name = \"qs\"\nhorizon = 300.0");
    let s = scenario(&text);
    let (rec, swarm) = fluid_for_simulation(&s, 30).expect("fluid run");
    let tg = swarm.gate().expect("on");
    assert_relative_eq!(tg, 50.0, max_relative = CLOSED);
    let fluid = FluidReference::from_record(&rec).expect("columns");
    let sim = simulate(
        &swarm,
        &fluid.t,
        &SimSettings::new(2000.0, 4, 11).expect("valid"),
    )
    .expect("simulates");
    let row = compare(&sim, &fluid).expect("same grid");
    assert!(row.population_error < TWIN, "{row:?}");
    assert!(row.download_time_error.expect("arrivals") < TWIN, "{row:?}");
    assert!(row.server_bytes_error.expect("a server") < TWIN, "{row:?}");
    let (cols, rows) = sim.timeseries();
    let at = |name: &str| cols.iter().position(|c| c == name).expect(name);
    let (t, done) = (at("t"), at("completed"));
    let fluid_done = rec
        .columns
        .iter()
        .position(|c| c == "completed")
        .expect("column");
    let mut checked = 0;
    for (r, f) in rows.iter().zip(&rec.rows) {
        if r[t] < tg {
            checked += 1;
            assert_eq!(r[done], 0.0, "twin completion before t_g at {} s", r[t]);
            assert_eq!(
                f[fluid_done], 0.0,
                "fluid completion before t_g at {} s",
                f[0]
            );
        }
    }
    assert_eq!(checked, 5, "outputs before the gate (every 10 s)");
    assert!(rows.last().expect("rows")[done] > 0.0);
}

/// A gate too early to bind changes nothing: with s = 10⁴ files/s (t_g = 0.1 ms) the last of 4
/// stages holds about (λ/β)(β t_g)⁴/4! ≈ 1e-17 peers at the gate, so every column of `run` is
/// the one without the key to 1e-12 (`PINNED`; a fluid's last stage is never exactly empty
/// for t > 0, so "does not bind" means below rounding).
#[test]
fn a_gate_before_any_completion_changes_nothing() {
    let off = qs_stages(1.0, 0.001, 1.0, 0.5, 0.9, 0.02, 1e4, 4);
    let opts = RunOptions::default();
    let a = run_scenario(&scenario(&off), &opts).expect("runs");
    let b = run_scenario(&scenario(&bound(&off)), &opts).expect("runs");
    assert_relative_eq!(
        b.summary.flash_crowd_bound_s.expect("on"),
        1e-4,
        max_relative = CLOSED
    );
    assert!(a.summary.flash_crowd_bound_s.is_none());
    assert_eq!(a.rows.len(), b.rows.len());
    for (ra, rb) in a.rows.iter().zip(&b.rows) {
        for (va, vb) in ra.iter().zip(rb) {
            assert_relative_eq!(va, vb, max_relative = PINNED, epsilon = 1e-12);
        }
    }
    let (sa, sb) = (&a.summary, &b.summary);
    assert_relative_eq!(
        sa.downloads.completed,
        sb.downloads.completed,
        max_relative = PINNED
    );
    assert_relative_eq!(sa.bytes.peers, sb.bytes.peers, max_relative = PINNED);
}

/// `swarm.flash_crowd_bound = true` needs k ≥ 2 stages and a server, a file swarm without
/// `[[isp]]` and another mechanism than the equilibrium market; each refusal names the file
/// and line, the key, the value and the reason.
#[test]
fn a_flash_crowd_bound_without_stages_or_server_is_refused() {
    let check = |text: &str, reason: &str| {
        let e = error_of(text);
        assert!(
            e.contains("bad.toml:")
                && e.contains("`swarm.flash_crowd_bound` = true")
                && e.contains(reason),
            "{e}"
        );
    };
    check(
        &bound(&qs_stages(1.0, 0.0, 1.0, 0.5, 0.9, 0.02, 0.5, 1)),
        "needs `swarm.stages` ≥ 2 (got 1): before the gate F/s the leechers in the last stage \
         wait, and with one stage the model has no last part of the file",
    );
    check(
        &bound(&qs_stages(1.0, 0.0, 1.0, 0.5, 0.9, 0.02, 0.0, 4)),
        "needs a server with `server.capacity` > 0 (got 0): the gate is F/s",
    );
    check(
        &shipped_with(
            "p4p-congested.toml",
            &[("[swarm]\n", "[swarm]\nflash_crowd_bound = true\n")],
        )
        .replace("name = \"p4p-congested\"", "name = \"p4p\""),
        "is modelled for one swarm, not with `[[isp]]`",
    );
    let market = "[peers.cost]\ndistribution = \"uniform\"\nmin = \"$0\"\nmax = \"$1\"\n\
                  [incentive]\nmechanism = \"equilibrium\"\n";
    check(
        &format!(
            "{}{market}",
            crate::terms::qs_swarm(1.0, 0.0, 1.0, 0.5, 0.9, 0.02, 0.5, ON)
        ),
        "is not modelled with `incentive.mechanism = \"equilibrium\"`",
    );
    // false is accepted anywhere (the default).
    scenario(
        &qs_stages(1.0, 0.0, 1.0, 0.5, 0.9, 0.02, 0.0, 1)
            .replace("[swarm]\n", "[swarm]\nflash_crowd_bound = false\n"),
    );
}

/// The bill integrates the run, so it follows the gate: a QS-like flash crowd (λ(t) = e^{−t/60},
/// k = 4, s = 0.02 files/s, t_g = 50 s) billed as an event over 600 s; the month's server and
/// served bytes are the run's (their ratio to 1e-9, `CLOSED`), and they differ from the bill
/// without the bound (the waiting leechers take no bytes before t_g).
#[test]
fn the_bill_follows_the_gate() {
    let text = qs_stages(1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.02, 4)
        .replace("name = \"qs\"", "name = \"qs\"\nhorizon = 600.0")
        .replace(
            "arrival_rate = 1.0\n",
            "arrival_rate = 1.0\nprofile = \"flash-crowd\"\ndecay_time = 60.0\n",
        );
    let opts = RunOptions::default();
    let bill = |text: &str| {
        let rec = peerfluid::run::compare_scenario(&scenario(text), &opts).expect("compares");
        let m = rec.summary.billing.expect("billing").months[0].clone();
        (m.server_gb, m.served_gb, rec.summary.bytes)
    };
    let (server, served, bytes) = bill(&bound(&text));
    assert_relative_eq!(
        server / served,
        bytes.server / (bytes.server + bytes.peers),
        max_relative = CLOSED
    );
    let (server_off, _, bytes_off) = bill(&text);
    assert_relative_eq!(
        server / server_off,
        bytes.server / bytes_off.server,
        max_relative = CLOSED
    );
    assert!((bytes.server / bytes_off.server - 1.0).abs() > 1e-3);
}
