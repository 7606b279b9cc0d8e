//! Model terms for what real BitTorrent clients do (issue 20 §2, `models/swarm.md`, "Terms for
//! real clients"): each term against its closed form, in the bill and in the stochastic twin,
//! its validation messages, and the default-off model against numbers pinned before the terms
//! existed.

use approx::assert_relative_eq;
use peerfluid::model::swarm::{swarm_of, ServerPolicy};
use peerfluid::run::{compare_scenario, fluid_for_simulation, run_scenario, RunOptions};
use peerfluid::solve::{integrate, Method, SolverSettings};
use peerfluid::stochastic::{compare, simulate, FluidReference, SimSettings, ValidationRow};

use crate::util::{error_of, qs_toml, scenario};

/// Closed forms are exact to double precision (the convention of `models/swarm.md`).
pub(crate) const CLOSED: f64 = 1e-9;
/// The exact solver's running totals against an integral in closed form: rounding over a few
/// thousand steps (models/swarm.md, "Solver": 12 digits on any grid).
pub(crate) const TOTALS: f64 = 1e-9;
/// The default-off model against numbers printed by the build before the terms (commit
/// a9ae77a, `peerfluid run`, shortest round-trip decimals): the same arithmetic, so equal to
/// rounding; 1e-12 leaves room for a reordering of the solver's sums (issue 17 work).
pub(crate) const PINNED: f64 = 1e-12;
/// Stochastic twin against the fluid model at N = 2000 with 4 replicates: 1 % (the bound of
/// `tests/stochastic.rs`; the expected error is ~0.1 %).
pub(crate) const TWIN: f64 = 1e-2;

/// The stochastic twin against the fluid at N = 2000, `replicates` replicates from `seed`,
/// over the scenario `text` with a `horizon` in seconds (30 output intervals); also the
/// fluid's server bytes.
pub(crate) fn twin_row(
    text: &str,
    horizon: f64,
    replicates: usize,
    seed: u64,
) -> (ValidationRow, f64) {
    let s = scenario(&text.replace(
        "name = \"qs\"",
        &format!("name = \"qs\"\nhorizon = {horizon:?}"),
    ));
    let (rec, swarm) = fluid_for_simulation(&s, 30).expect("fluid run");
    let fluid = FluidReference::from_record(&rec).expect("columns");
    let sim = simulate(
        &swarm,
        &fluid.t,
        &SimSettings::new(2000.0, replicates, seed).expect("valid"),
    )
    .expect("simulates");
    (
        compare(&sim, &fluid).expect("same grid"),
        fluid.server_bytes,
    )
}

/// QS-A (λ = 1, θ = 0.001, c = 1, μ = 0.5, η = 0.9, γ = 0.02) with a server s and `extra`
/// lines appended to the file (a section header and keys).
fn qs_a(s: f64, extra: &str) -> String {
    format!(
        "{}{extra}\n",
        qs_toml(1.0, 0.001, 1.0, 0.5, 0.9, Some(0.02), s, "")
    )
}

/// Default off is today's model: the numbers `peerfluid run` printed before the terms existed
/// for `scenarios/qs-dynamics.toml` (t = 7.5 s) and the testbed's upload-limited scenario
/// (t = 166.32 s, and its byte totals), with every term given at its default value.
#[test]
fn default_terms_give_the_numbers_pinned_before_the_terms() {
    let opts = RunOptions::default();
    let qs = std::fs::read_to_string(crate::util::shipped("qs-dynamics.toml")).expect("shipped");
    let defaults = "\n[server]\npolicy = \"fill\"\n";
    let with_defaults = format!("{qs}{defaults}").replace(
        "[swarm]\n",
        "[swarm]\nstartup_delay = \"0 s\"\nduplicates = 0.0\n",
    );
    assert!(with_defaults.contains("startup_delay"));
    for text in [qs.clone(), with_defaults] {
        let rec = run_scenario(&scenario(&text), &opts).expect("runs");
        let row = rec
            .rows
            .iter()
            .find(|r| (r[0] - 7.5).abs() < 1e-12)
            .expect("row at 7.5 s");
        // t, leechers, seeds, server_rate, peer_rate, arrival_rate, completed, aborted
        let pinned = [
            7.5,
            0.9993770411806799,
            6.0888809629572185,
            0.0,
            7995016.329445439,
            1.0,
            6.493653029402284,
            0.006969929417044655,
        ];
        for (got, want) in row.iter().zip(pinned) {
            assert_relative_eq!(*got, want, max_relative = PINNED, epsilon = 1e-300);
        }
    }
    let dir = env!("CARGO_MANIFEST_DIR");
    let ul = std::fs::read_to_string(format!(
        "{dir}/validation/real-swarm/runs/upload-limited/scenario.toml"
    ))
    .expect("committed run");
    let ul = ul.replace("[server]", "[server]\npolicy = \"fill\"");
    let rec = run_scenario(&scenario(&ul), &opts).expect("runs");
    let row = rec
        .rows
        .iter()
        .find(|r| (r[0] - 166.32).abs() < 1e-9)
        .expect("row at 166.32 s");
    let pinned = [
        166.32,
        11.981194889705712,
        0.0,
        400000.00000000035,
        4792477.955882285,
        0.2,
        19.023115490010376,
        2.259689620284038,
    ];
    for (got, want) in row.iter().zip(pinned) {
        assert_relative_eq!(*got, want, max_relative = PINNED, epsilon = 1e-300);
    }
    let b = &rec.summary.bytes;
    assert_relative_eq!(b.server, 26985773.35152013, max_relative = PINNED);
    assert_relative_eq!(b.peers, 310674922.69700694, max_relative = PINNED);
    let ss = rec.summary.steady_state.as_ref().expect("steady");
    assert_relative_eq!(ss.leechers, 13.235294117647058, max_relative = PINNED);
    assert_relative_eq!(ss.download_time_s, 66.17647058823529, max_relative = PINNED);
}

/// `server.policy = "seed"` (card: "The origin seeds"). QS-A with s = 0.5 stays
/// download-limited from the empty start (c x ≤ μ(η x + y) + s all along), so the populations
/// are the filling policy's, the server sends min(s, c x(t)) and
/// x(t) = x̄ (1 − e^{−(θ+c) t}), x̄ = λ/(θ + c). Its bytes up to T:
/// ∫ min(s, c x) dt = c x̄ [t* − (1 − e^{−(θ+c) t*})/(θ+c)] + s (T − t*), with
/// c x(t*) = s. Filling, the server only tops up the first seconds. In the steady state: server flow
/// min(s, c x̄), peers c x̄ − that.
#[test]
fn a_seeding_origin_sends_its_capacity_and_the_peers_the_rest() {
    let (lambda, theta, c, s) = (1.0, 0.001, 1.0, 0.5);
    let fill = swarm_of(&scenario(&qs_a(s, "")));
    let seed = swarm_of(&scenario(&qs_a(s, "policy = \"seed\"")));
    assert_eq!(seed.terms().policy, ServerPolicy::Seed);
    let xbar = lambda / (theta + c);
    let ss = &seed.steady_states(lambda).expect("steady")[0];
    let ss_fill = &fill.steady_states(lambda).expect("steady")[0];
    assert_relative_eq!(ss.leechers[0], xbar, max_relative = CLOSED);
    assert_relative_eq!(ss.leechers[0], ss_fill.leechers[0], max_relative = CLOSED);
    assert_relative_eq!(ss.seeds[0], ss_fill.seeds[0], max_relative = CLOSED);
    assert_relative_eq!(ss.server, s, max_relative = CLOSED);
    assert_relative_eq!(ss.peer, c * xbar - s, max_relative = CLOSED);
    assert_relative_eq!(ss_fill.server, 0.0, epsilon = 1e-15);

    let horizon = 40.0;
    let a = theta + c;
    let t_star = -(1.0 - s / (c * xbar)).ln() / a;
    let server_bytes =
        c * xbar * (t_star - (1.0 - (-a * t_star).exp()) / a) + s * (horizon - t_star);
    let all_bytes = c * xbar * (horizon - (1.0 - (-a * horizon).exp()) / a);
    for method in [Method::Exact, Method::Rosenbrock, Method::Dopri5] {
        let mut set = SolverSettings::new(horizon);
        set.points = 400;
        set.method = method;
        let ts = integrate(&seed, &set).expect("seed");
        let tf = integrate(&fill, &set).expect("fill");
        // Rosenbrock and Dopri5 to 1e-6 (their tests' bound, models/swarm.md); populations
        // against the largest population (ȳ ≈ 50).
        let tol = if method == Method::Exact {
            TOTALS
        } else {
            1e-6
        };
        for (zs, zf) in ts.states().zip(tf.states()) {
            assert_relative_eq!(zs[0], zf[0], epsilon = 50.0 * tol);
            assert_relative_eq!(zs[1], zf[1], epsilon = 50.0 * tol);
        }
        let end = ts.last();
        assert_relative_eq!(end[seed.ix_server()], server_bytes, max_relative = tol);
        assert_relative_eq!(
            end[seed.ix_server()] + end[seed.ix_peer()],
            all_bytes,
            max_relative = tol
        );
        // Filling, the server only tops up the start (peers' upload below c x, 0.2 files).
        assert!(tf.last()[fill.ix_server()] < 0.25 * end[seed.ix_server()]);
    }
}

/// Upload-limited (QS-server: λ = 1, θ = 0.001, c = 0.1, μ = 0.02, η = 1, γ = 0.05, s = 0.2):
/// both policies send s from the server; the seeding policy changes nothing there.
#[test]
fn an_upload_limited_swarm_bills_the_same_under_both_policies() {
    let text = |extra: &str| {
        format!(
            "{}{extra}\n",
            qs_toml(1.0, 0.001, 0.1, 0.02, 1.0, Some(0.05), 0.2, "")
        )
    };
    let fill = swarm_of(&scenario(&text("")));
    let seed = swarm_of(&scenario(&text("policy = \"seed\"")));
    let (a, b) = (
        &fill.steady_states(1.0).expect("steady")[0],
        &seed.steady_states(1.0).expect("steady")[0],
    );
    assert_relative_eq!(b.leechers[0], 19.41747572815534, max_relative = CLOSED);
    assert_relative_eq!(b.server, 0.2, max_relative = CLOSED);
    assert_relative_eq!(a.server, b.server, max_relative = CLOSED);
    assert_relative_eq!(a.peer, b.peer, max_relative = CLOSED);
}

/// The provider's bill follows the policy: a recurring download-limited swarm is billed at its
/// steady state, where the seeding origin sends min(s, c x̄) of the c x̄ served and the filling
/// one nothing. QS-A with s = 0.5: server share 0.5/0.999000999.
#[test]
fn the_bill_counts_the_seeding_origins_bytes() {
    let opts = RunOptions::default();
    let month = |extra: &str| {
        let rec = compare_scenario(&scenario(&qs_a(0.5, extra)), &opts).expect("compares");
        let billing = rec.summary.billing.expect("billing");
        let m = billing.months[0].clone();
        (m.server_gb, m.served_gb)
    };
    let (fill_server, fill_served) = month("");
    let (seed_server, seed_served) = month("policy = \"seed\"");
    assert_relative_eq!(fill_server, 0.0, epsilon = 1e-12);
    assert_relative_eq!(seed_served, fill_served, max_relative = CLOSED);
    assert_relative_eq!(
        seed_server / seed_served,
        0.5 / (1.0 / 1.001),
        max_relative = CLOSED
    );
}

/// The stochastic twin splits the flow the same way: at N = 2000 its mean server bytes are
/// the fluid's (QS-A, s = 0.5, seeding: the server sends s once c X/N > s).
#[test]
fn the_stochastic_twin_bills_the_seeding_origin() {
    let (row, server_bytes) = twin_row(&qs_a(0.5, "policy = \"seed\""), 60.0, 4, 7);
    assert!(server_bytes > 0.0);
    assert!(row.population_error < TWIN, "{row:?}");
    let e = row.server_bytes_error.expect("server bytes");
    assert!(e < TWIN, "server bytes error {e:.3e}");
}

/// `server.policy` takes "fill" or "seed", in a file swarm without `[[isp]]`; the message
/// names the file, line, key, value and what is allowed.
#[test]
fn a_bad_server_policy_is_refused_with_the_allowed_values() {
    let e = error_of(&qs_a(0.5, "policy = \"share\""));
    assert!(
        e.contains("bad.toml:")
            && e.contains("`server.policy` must be one of \"fill\", \"seed\" (got \"share\")"),
        "{e}"
    );
}

/// The 4-class bench scenario (benches/solve.rs, `tests/reference.rs`) with `extra` appended
/// to `[server]` (capacity 200 Mbps, so the server's regime switches matter).
pub(crate) fn four_classes(extra: &str, demand: &str) -> String {
    format!(
        "name = \"four\"\n[content]\nsize = \"1 GB\"\n[demand]\narrival_rate = \"0.2/s\"\n{demand}\n\
         [swarm]\nefficiency = 0.9\nabort_rate = \"0.2/h\"\nseed_residence = \"20 min\"\n\
         [[peers.class]]\nname = \"dsl\"\nshare = 0.3\nupload = \"1 Mbps\"\ndownload = \"16 Mbps\"\n\
         [[peers.class]]\nname = \"cable\"\nshare = 0.3\nupload = \"10 Mbps\"\ndownload = \"200 Mbps\"\n\
         [[peers.class]]\nname = \"fibre\"\nshare = 0.3\nupload = \"100 Mbps\"\ndownload = \"500 Mbps\"\n\
         [[peers.class]]\nname = \"mobile\"\nshare = 0.1\nupload = \"5 Mbps\"\ndownload = \"50 Mbps\"\n\
         [server]\ncapacity = \"200 Mbps\"\n{extra}\n"
    )
}

/// Exact method (`EXACT_MULTI_TOL` = 1e-8) and, when `rosenbrock`, Rosenbrock (1e-6) against
/// Dopri5 at rtol = atol = 1e-12, judged as `util::swarm_disagreement` (the bounds of
/// `tests/reference.rs`).
pub(crate) fn methods_agree(text: &str, t_end: f64, points: usize, rosenbrock: bool) {
    let model = swarm_of(&scenario(text));
    let (reference, exact, mut set) = crate::util::reference_and_exact(&model, t_end, points);
    let (p, t) = crate::util::swarm_disagreement(&model, &exact, &reference);
    assert!(
        p < 1e-8 && t < 1e-8,
        "exact: populations {p:.2e}, totals {t:.2e}"
    );
    if rosenbrock {
        set.method = Method::Rosenbrock;
        let ros = integrate(&model, &set).expect("rosenbrock");
        let (p, t) = crate::util::swarm_disagreement(&model, &ros, &reference);
        assert!(
            p < 1e-6 && t < 1e-6,
            "rosenbrock: populations {p:.2e}, totals {t:.2e}"
        );
    }
}

/// Several classes with a seeding origin: every method agrees, constant and flash crowd.
#[test]
fn a_seeding_origin_in_four_classes_agrees_across_methods() {
    methods_agree(&four_classes("policy = \"seed\"", ""), 24_000.0, 400, true);
    methods_agree(
        &four_classes(
            "policy = \"seed\"",
            "profile = \"flash-crowd\"\ndecay_time = \"1 h\"",
        ),
        24_000.0,
        400,
        true,
    );
}

/// QS-like single class in normalised units with one more `[swarm]` key (`line`, e.g.
/// `startup_delay = 3.0` or `stages = 4`).
#[allow(clippy::too_many_arguments)] // the seven symbols of the card's table and the key
pub(crate) fn qs_swarm(
    lambda: f64,
    theta: f64,
    c: f64,
    mu: f64,
    eta: f64,
    gamma: f64,
    s: f64,
    line: &str,
) -> String {
    qs_toml(lambda, theta, c, mu, eta, Some(gamma), s, "")
        .replace("[swarm]\n", &format!("[swarm]\n{line}\n"))
}

/// [`qs_swarm`] with a start-up delay τ₀ (`swarm.startup_delay`).
#[allow(clippy::too_many_arguments)]
fn qs_start(l: f64, th: f64, c: f64, mu: f64, eta: f64, g: f64, s: f64, tau: f64) -> String {
    qs_swarm(l, th, c, mu, eta, g, s, &format!("startup_delay = {tau:?}"))
}

/// Start-up delay, steady state (card: "Start-up delay"). w̄ = λτ₀/(1 + θτ₀) leechers wait for
/// a first piece; the others are today's swarm fed at λ/(1 + θτ₀). Download-limited QS-A with
/// τ₀ = 3: x̄ = w̄ + λ/((1 + θτ₀)(θ + c)), ȳ = c (x̄ − w̄)/γ; with θ = 0 that is x̄ = λ/c + λτ₀
/// and T = 1/c + τ₀. Upload-limited QS-B with τ₀ = 10: the active part is the closed form at
/// λ/(1 + θτ₀).
#[test]
fn a_start_up_delay_adds_its_leechers_to_the_steady_state() {
    use peerfluid::model::swarm::qiu_srikant_closed_form;
    // (λ, θ, c, μ, η, γ, s, τ₀)
    for (l, th, c, mu, eta, g, s, tau) in [
        (1.0, 0.001, 1.0, 0.5, 0.9, 0.02, 0.0, 3.0),
        (1.0, 0.0, 1.0, 0.5, 0.9, 0.02, 0.0, 3.0),
        (1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.0, 10.0),
        (1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.2, 10.0),
        (0.7, 0.002, 0.1, 0.02, 0.8, 0.05, 0.0, 2.5),
    ] {
        let sw = swarm_of(&scenario(&qs_start(l, th, c, mu, eta, g, s, tau)));
        assert!(sw.starting());
        let ss = &sw.steady_states(l).expect("steady")[0];
        let w = l * tau / (1.0 + th * tau);
        let (a, y, regime) =
            qiu_srikant_closed_form(l / (1.0 + th * tau), th, c, mu, eta, Some(g), s)
                .expect("exists");
        assert_eq!(ss.regime, regime);
        assert_relative_eq!(ss.leechers[0], a + w, max_relative = CLOSED);
        assert_relative_eq!(ss.seeds[0], y, max_relative = CLOSED);
        assert_relative_eq!(sw.active_leechers(ss, 0), a, max_relative = CLOSED);
        if th == 0.0 {
            assert_relative_eq!(ss.leechers[0], l / c + l * tau, max_relative = CLOSED);
            assert_relative_eq!(
                ss.mean_download_time(),
                1.0 / c + tau,
                max_relative = CLOSED
            );
        }
        // The exact solver ends there (20 time constants and more).
        let mut set = SolverSettings::new(4000.0);
        set.points = 10;
        set.method = Method::Exact;
        let end = integrate(&sw, &set).expect("exact").last().to_vec();
        assert_relative_eq!(end[0], ss.leechers[0], max_relative = 1e-7);
        assert_relative_eq!(end[sw.ix_w(0)], w, max_relative = 1e-7);
    }
}

/// The run reports it: a download-limited swarm's mean download time is τ₀ + size/download
/// (Little, θ = 0), 1 MB at 8 Mbps with τ₀ = 2.7 s (the testbed's first-piece delay): 3.7 s.
#[test]
fn a_download_limited_download_takes_the_start_up_delay_longer() {
    let text = "name = \"d\"\n[content]\nsize = \"1 MB\"\n[demand]\narrival_rate = \"1/s\"\n\
                [swarm]\nstartup_delay = \"2.7 s\"\nseed_residence = \"50 s\"\n\
                [peers]\nupload = \"8 Mbps\"\ndownload = \"8 Mbps\"\n";
    let rec = run_scenario(&scenario(text), &RunOptions::default()).expect("runs");
    let ss = rec.summary.steady_state.as_ref().expect("steady");
    assert_eq!(ss.regime, "download-limited");
    assert_relative_eq!(ss.download_time_s, 2.7 + 1.0, max_relative = CLOSED);
    assert_relative_eq!(ss.leechers, 3.7, max_relative = CLOSED);
    assert_relative_eq!(ss.seeds, 50.0, max_relative = CLOSED);
}

/// Transients: the exact method against Dopri5 (rtol 1e-12) with a start-up delay, one class
/// (download- and upload-limited, with a server, a flash crowd) and four classes (nonlinear
/// regimes: Taylor series). Rosenbrock has no Jacobian for the starting state (refused).
#[test]
fn a_start_up_delay_agrees_across_methods() {
    methods_agree(
        &qs_start(1.0, 0.001, 1.0, 0.5, 0.9, 0.02, 0.0, 3.0),
        300.0,
        300,
        false,
    );
    methods_agree(
        &qs_start(1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.2, 10.0),
        600.0,
        300,
        false,
    );
    methods_agree(
        &qs_start(1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.2, 10.0).replace(
            "arrival_rate = 1.0\n",
            "arrival_rate = 1.0\nprofile = \"flash-crowd\"\ndecay_time = 60.0\n",
        ),
        600.0,
        300,
        false,
    );
    let four = four_classes("", "").replace("[swarm]\n", "[swarm]\nstartup_delay = \"2 min\"\n");
    methods_agree(&four, 24_000.0, 400, false);
    methods_agree(
        &four.replace("[server]\n", "[server]\npolicy = \"seed\"\n"),
        24_000.0,
        400,
        false,
    );
    let sw = swarm_of(&scenario(&four));
    let mut set = SolverSettings::new(100.0);
    set.method = Method::Rosenbrock;
    assert!(integrate(&sw, &set).is_err());
}

/// The stochastic twin with starting leechers (start events at W/τ₀): QS-B with τ₀ = 10 at
/// N = 2000, populations and Little's download time within 1 % of the fluid.
#[test]
fn the_stochastic_twin_waits_for_the_first_piece() {
    let text = qs_start(1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.0, 10.0);
    let (row, _) = twin_row(&text, 300.0, 4, 11);
    assert!(row.population_error < TWIN, "{row:?}");
    let e = row.download_time_error.expect("arrivals");
    assert!(e < TWIN, "download time error {e:.3e}");
    // Without the term the fluid is off by far more than that (the delay is 10 s of ~40).
    let plain = swarm_of(&scenario(&text.replace("startup_delay = 10.0\n", "")));
    let ss = &plain.steady_states(1.0).expect("steady")[0];
    let with = &swarm_of(&scenario(&text))
        .steady_states(1.0)
        .expect("steady")[0];
    assert!(with.leechers[0] > ss.leechers[0] * 1.1);
}

/// `swarm.startup_delay` is 0 or ≥ 0.1 s, a duration; not with `[[isp]]`.
#[test]
fn a_bad_start_up_delay_is_refused_with_the_allowed_range() {
    let e = error_of(&qs_start(1.0, 0.0, 1.0, 0.5, 0.9, 0.02, 0.0, -1.0));
    assert!(
        e.contains("bad.toml:") && e.contains("`swarm.startup_delay` must be ≥ 0"),
        "{e}"
    );
    let e = error_of(&qs_start(1.0, 0.0, 1.0, 0.5, 0.9, 0.02, 0.0, 0.05));
    assert!(
        e.contains("`swarm.startup_delay` must be 0 (off) or at least 100 ms (got 0.05)"),
        "{e}"
    );
}

/// QS-like single class with duplicate bytes d (`swarm.duplicates`) and `extra` lines in
/// `[server]`.
fn qs_dup(c: f64, mu: f64, eta: f64, s: f64, d: f64, extra: &str) -> String {
    format!(
        "{}{extra}\n",
        qs_toml(1.0, 0.001, c, mu, eta, Some(0.05), s, "")
            .replace("[swarm]\n", &format!("[swarm]\nduplicates = {d:?}\n"))
    )
}

/// Duplicate bytes (card: "Duplicate bytes"): progress is (1 − d) × the bytes received, and
/// the links cap the bytes received, so the swarm is today's with c, μ, s × (1 − d), and the
/// byte totals are progress / (1 − d). Download-limited (QS-A-like, d = 0.05): x̄ = λ/(θ +
/// (1 − d)c), T = 1/(θ + (1 − d)c); bytes moved per second λ_done/(1 − d). Upload-limited
/// (QS-server-like): the closed form with (1 − d)μ, (1 − d)s; the server sends s (raw) of the
/// bytes. The run's server and peer bytes are the progress totals / (1 − d).
#[test]
fn duplicate_bytes_slow_progress_and_count_in_the_bytes() {
    use peerfluid::model::swarm::qiu_srikant_closed_form;
    let d = 0.05;
    let u = 1.0 - d;
    // (c, μ, η, s)
    for (c, mu, eta, s) in [
        (1.0, 0.5, 0.9, 0.0),
        (0.1, 0.02, 1.0, 0.2),
        (0.1, 0.02, 1.0, 0.0),
    ] {
        let sw = swarm_of(&scenario(&qs_dup(c, mu, eta, s, d, "")));
        assert_relative_eq!(sw.bytes_per_progress(), 1.0 / u, max_relative = CLOSED);
        let ss = &sw.steady_states(1.0).expect("steady")[0];
        let (x, y, regime) =
            qiu_srikant_closed_form(1.0, 0.001, u * c, u * mu, eta, Some(0.05), u * s)
                .expect("exists");
        assert_eq!(ss.regime, regime);
        assert_relative_eq!(ss.leechers[0], x, max_relative = CLOSED);
        assert_relative_eq!(ss.seeds[0], y, max_relative = CLOSED);
        let progress: f64 = ss.download.iter().sum();
        assert_relative_eq!(ss.server + ss.peer, progress / u, max_relative = CLOSED);
        if s > 0.0 {
            assert_relative_eq!(ss.server, s, max_relative = CLOSED);
        }
    }
    // Download-limited: T = 1/(θ + (1 − d) c).
    let sw = swarm_of(&scenario(&qs_dup(1.0, 0.5, 0.9, 0.0, d, "")));
    let ss = &sw.steady_states(1.0).expect("steady")[0];
    assert_relative_eq!(
        ss.mean_download_time(),
        1.0 / (0.001 + u),
        max_relative = CLOSED
    );
    // The run's byte totals: (completions in progress terms) / (1 − d) = all bytes moved.
    let text = qs_dup(0.1, 0.02, 1.0, 0.2, d, "")
        .replace("name = \"qs\"", "name = \"qs\"\nhorizon = 500.0");
    let rec = run_scenario(&scenario(&text), &RunOptions::default()).expect("runs");
    let b = &rec.summary.bytes;
    let done = rec.summary.downloads.completed;
    let end = rec.rows.last().expect("rows");
    // Size 1 byte: bytes moved = progress / (1 − d); progress = completions + the partial
    // downloads in flight, which the fluid tracks only in the aggregate, so compare the rates.
    assert!(
        b.server + b.peers > done / u,
        "bytes {} vs {}",
        b.server + b.peers,
        done / u
    );
    let rate_bytes = (end[3] + end[4]) / 8.0;
    let cols = &rec.columns;
    let j = cols
        .iter()
        .position(|c| c == "download_rate.all")
        .expect("column");
    assert_relative_eq!(rate_bytes, end[j] / 8.0 / u, max_relative = CLOSED);
}

/// The bill counts the duplicates: a recurring upload-limited swarm (QS-server-like) billed at
/// its steady state moves (completions)/(1 − d) files a second, so the served GB are 1/(1 − d)
/// times the completions' (d = 0.05), and the server's GB are s's.
#[test]
fn the_bill_counts_duplicate_bytes() {
    let d = 0.05;
    let opts = RunOptions::default();
    let rec =
        compare_scenario(&scenario(&qs_dup(0.1, 0.02, 1.0, 0.2, d, "")), &opts).expect("compares");
    let ss = rec.summary.steady_state.clone().expect("steady");
    let m = rec.summary.billing.expect("billing").months[0].clone();
    // served / server = (progress flow / (1 − d)) / s, progress flow = λ · completion ratio.
    let progress = ss.arrival_rate_per_s * ss.completion_ratio;
    assert_relative_eq!(
        m.served_gb / m.server_gb,
        progress / (1.0 - d) / 0.2,
        max_relative = CLOSED
    );
    assert_relative_eq!(
        ss.server_share,
        0.2 * (1.0 - d) / progress,
        max_relative = CLOSED
    );
}

/// Transients with duplicates (and a start-up delay and a seeding origin together): every
/// method agrees with Dopri5 at 1e-12; the stochastic twin's bytes are the fluid's.
#[test]
fn duplicate_bytes_agree_across_methods_and_in_the_twin() {
    methods_agree(&qs_dup(0.1, 0.02, 1.0, 0.2, 0.05, ""), 600.0, 300, true);
    methods_agree(
        &qs_dup(1.0, 0.5, 0.9, 0.5, 0.05, "policy = \"seed\""),
        300.0,
        300,
        true,
    );
    let four = four_classes("policy = \"seed\"", "").replace(
        "[swarm]\n",
        "[swarm]\nduplicates = 0.06\nstartup_delay = \"2 min\"\n",
    );
    methods_agree(&four, 24_000.0, 400, false);
    let (row, _) = twin_row(&qs_dup(0.1, 0.02, 1.0, 0.2, 0.05, ""), 300.0, 4, 5);
    assert!(row.population_error < TWIN, "{row:?}");
    assert!(row.server_bytes_error.expect("bytes") < TWIN, "{row:?}");
}

/// `swarm.duplicates` is in [0, 1).
#[test]
fn bad_duplicates_are_refused_with_the_allowed_range() {
    for (d, shown) in [(1.0, "1"), (-0.1, "-0.1")] {
        let e = error_of(&qs_dup(0.1, 0.02, 1.0, 0.2, d, ""));
        assert!(
            e.contains("bad.toml:")
                && e.contains(&format!(
                    "`swarm.duplicates` must be in [0, 1) (got {shown})"
                )),
            "{e}"
        );
    }
}

/// [`qs_swarm`] with k download stages (`swarm.stages`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn qs_stages(
    l: f64,
    th: f64,
    c: f64,
    mu: f64,
    eta: f64,
    g: f64,
    s: f64,
    k: usize,
) -> String {
    qs_swarm(l, th, c, mu, eta, g, s, &format!("stages = {k}"))
}

/// Download stages, steady state (card: "Download stages"). Without aborts the steady state
/// is k = 1's (each stage holds λ/(k ρ), together λ/ρ): QS-D (upload-limited, θ = 0) and a
/// download-limited θ = 0 case, k = 4, 1e-9. With aborts a download of k stages completes
/// with probability q^k, q = k c/(θ + k c), instead of c/(θ + c): x̄ = Σ_j λ q^{j−1}/(θ + k c),
/// ȳ = λ q^k/γ (QS-A, download-limited, k = 4).
#[test]
fn stages_keep_the_steady_state_without_aborts() {
    for (l, th, c, mu, eta, g, s) in [
        (2.0, 0.0, 0.05, 0.02, 0.8, 0.04, 0.0),
        (1.0, 0.0, 1.0, 0.5, 0.9, 0.02, 0.0),
    ] {
        let one = swarm_of(&scenario(&qs_stages(l, th, c, mu, eta, g, s, 1)));
        let four = swarm_of(&scenario(&qs_stages(l, th, c, mu, eta, g, s, 4)));
        let (a, b) = (
            &one.steady_states(l).expect("steady")[0],
            &four.steady_states(l).expect("steady")[0],
        );
        assert_eq!(a.regime, b.regime);
        assert_relative_eq!(a.leechers[0], b.leechers[0], max_relative = CLOSED);
        assert_relative_eq!(a.seeds[0], b.seeds[0], max_relative = CLOSED);
        assert_relative_eq!(
            a.mean_download_time(),
            b.mean_download_time(),
            max_relative = CLOSED
        );
        assert_relative_eq!(b.download[0], b.progress[0], max_relative = CLOSED);
    }
    assert_relative_eq!(
        swarm_of(&scenario(&qs_stages(
            2.0, 0.0, 0.05, 0.02, 0.8, 0.04, 0.0, 4
        )))
        .steady_states(2.0)
        .expect("steady")[0]
            .leechers[0],
        62.5,
        max_relative = CLOSED
    );
    let (l, th, c, g, k) = (1.0, 0.001, 1.0, 0.02, 4.0);
    let sw = swarm_of(&scenario(&qs_stages(l, th, c, 0.5, 0.9, g, 0.0, 4)));
    let ss = &sw.steady_states(l).expect("steady")[0];
    let q: f64 = k * c / (th + k * c);
    let x: f64 = (0..4).map(|j| l * q.powi(j) / (th + k * c)).sum();
    assert_relative_eq!(ss.leechers[0], x, max_relative = CLOSED);
    assert_relative_eq!(ss.seeds[0], l * q.powi(4) / g, max_relative = CLOSED);
    assert_relative_eq!(ss.download[0], l * q.powi(4), max_relative = CLOSED);
    assert_relative_eq!(ss.progress[0], c * x, max_relative = CLOSED);
}

/// Mean time of the downloads that complete (`Swarm::completed_download_time`, the summary's
/// `completed_download_time_s`), derived independently by Little's law on the peers that
/// will complete: each steady population times its chance to complete from where it is
/// (a starting leecher p_s q^k, p_s = (1/τ₀)/(1/τ₀ + θ); one in stage j q^{k−j+1},
/// q = k ρ/(θ + k ρ), ρ = progress / active leechers), over the completion rate. Cases:
/// upload-limited with aborts, k = 4 and τ₀ = 5 s; download-limited QS-A with k = 6 and no
/// start-up; 1e-9. With one stage and no start-up it is Little's x̄/λ; without aborts too.
#[test]
fn completed_downloads_take_the_time_littles_law_gives_for_the_completing_peers() {
    for (l, th, c, mu, eta, g, s, k, tau) in [
        (0.7, 0.002, 0.05, 0.01, 0.8, 0.05, 0.0, 4_usize, 5.0),
        (1.0, 0.001, 1.0, 0.5, 0.9, 0.02, 0.0, 6, 0.0),
    ] {
        let line = if tau > 0.0 {
            format!("stages = {k}\nstartup_delay = {tau:?}")
        } else {
            format!("stages = {k}")
        };
        let sw = swarm_of(&scenario(&qs_swarm(l, th, c, mu, eta, g, s, &line)));
        let ss = &sw.steady_states(l).expect("steady")[0];
        let z = sw.state_of(ss);
        let w = if tau > 0.0 { z[sw.ix_w(0)] } else { 0.0 };
        let active = ss.leechers[0] - w;
        let rho = ss.progress[0] / active;
        let kf = k as f64;
        let q = kf * rho / (th + kf * rho);
        let mut stages: Vec<f64> = (1..k).map(|j| z[sw.ix_v(0, j)]).collect();
        stages.push(active - stages.iter().sum::<f64>());
        let mut completing: f64 = stages
            .iter()
            .enumerate()
            .map(|(j, v)| v * q.powi((k - j) as i32))
            .sum();
        if tau > 0.0 {
            completing += w * (1.0 / tau) / (1.0 / tau + th) * q.powi(k as i32);
        }
        let t = sw.completed_download_time(ss).expect("downloads complete");
        assert_relative_eq!(t, completing / ss.download[0], max_relative = CLOSED);
        // Longer than Little's time over every downloader, which averages the aborted stays.
        assert!(t > ss.mean_download_time() * (1.0 + 1e-6), "{t}");
    }
    for (th, k) in [(0.001, 1), (0.0, 4)] {
        let sw = swarm_of(&scenario(&qs_stages(1.0, th, 1.0, 0.5, 0.9, 0.02, 0.0, k)));
        let ss = &sw.steady_states(1.0).expect("steady")[0];
        assert_relative_eq!(
            sw.completed_download_time(ss).expect("downloads complete"),
            ss.mean_download_time(),
            max_relative = CLOSED
        );
    }
}

/// A swarm where nobody completes (no server, leechers that cannot upload, aborts) has no
/// completed downloads' time: the summary says `null` and the run writes its files (it used
/// to refuse them as a non-finite number).
#[test]
fn a_swarm_where_nobody_completes_has_no_completed_download_time() {
    let text = qs_toml(1.0, 1.0, 0.001, 0.0, 0.0, None, 0.0, "");
    let s = scenario(&text);
    let sw = swarm_of(&s);
    let ss = &sw
        .steady_states(1.0)
        .expect("leechers wait until they abort")[0];
    assert_eq!(ss.download.iter().sum::<f64>(), 0.0);
    assert_eq!(sw.completed_download_time(ss), None);
    let rec = run_scenario(&s, &RunOptions::default()).expect("runs");
    let steady = rec.summary.steady_state.as_ref().expect("a steady state");
    assert_eq!(steady.completed_download_time_s, None);
    let dir = tempfile::tempdir().expect("tempdir");
    peerfluid::output::write_run(dir.path(), &rec, false).expect("writes");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    assert!(json["steady_state"]["completed_download_time_s"].is_null());
}

/// The completions from an empty download-limited swarm (θ = 0, a server large enough that
/// the server never binds) are λ ∫₀ᵗ F, F the Erlang-k CDF with rate β = k c:
/// done(t) = λ [t − (1/β) Σ_{n<k} (1 − Σ_{m≤n} e^{−βt}(βt)^m/m!)]; and the download time's
/// variance, from the model's own leecher-seconds (E[T²] = 2 (x̄ T − ∫₀ᵀ x dt)/λ for T ≫ 1/c),
/// is 1/(k c²): it shrinks as 1/k. c = 0.5 files/s, λ = 1, k = 1, 4, 16.
#[test]
fn stages_make_download_times_erlang_and_shrink_their_spread_as_one_over_k() {
    let (l, c) = (1.0, 0.5);
    for k in [1_usize, 4, 16] {
        let sw = swarm_of(&scenario(&qs_stages(l, 0.0, c, 0.0, 1.0, 0.05, 100.0, k)));
        let horizon = 120.0;
        let mut set = SolverSettings::new(horizon);
        set.points = 240;
        set.method = Method::Exact;
        let traj = integrate(&sw, &set).expect("exact");
        let beta = k as f64 * c;
        let done = |t: f64| {
            let mut sum = 0.0;
            for n in 0..k {
                let mut term = 1.0;
                let mut poisson = 0.0;
                for m in 0..=n {
                    if m > 0 {
                        term *= beta * t / m as f64;
                    }
                    poisson += term;
                }
                sum += 1.0 - (-beta * t).exp() * poisson;
            }
            l * (t - sum / beta)
        };
        for (t, z) in traj.t.iter().zip(traj.states()).step_by(12) {
            assert_relative_eq!(
                z[sw.ix_done(0)],
                done(*t),
                max_relative = TOTALS,
                epsilon = 1e-12
            );
        }
        let end = traj.last();
        let xbar = l / c;
        let e2 = 2.0 * (xbar * horizon - end[sw.ix_leecher_time(0)]) / l;
        let var = e2 - (1.0 / c) * (1.0 / c);
        assert_relative_eq!(var, 1.0 / (k as f64 * c * c), max_relative = 1e-7);
    }
}

/// Transients with stages: the exact method (Taylor series where upload binds: a stage leaves
/// at k r v_j, a ratio) against Dopri5 at rtol 1e-12; one class (upload-limited with a server,
/// aborts and a start-up delay) and the 4-class bench with 3 stages and every term.
#[test]
fn stages_agree_across_methods() {
    methods_agree(
        &qs_stages(1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.2, 4),
        600.0,
        300,
        false,
    );
    methods_agree(
        &qs_stages(1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.2, 3)
            .replace("[swarm]\n", "[swarm]\nstartup_delay = 5.0\n"),
        600.0,
        300,
        false,
    );
    let four = four_classes("policy = \"seed\"", "").replace(
        "[swarm]\n",
        "[swarm]\nstages = 3\nduplicates = 0.04\nstartup_delay = \"1 min\"\n",
    );
    methods_agree(&four, 24_000.0, 400, false);
}

/// The stochastic twin with stages: QS-B with k = 4 at N = 2000, populations and Little's
/// download time within 1 % of the fluid.
#[test]
fn the_stochastic_twin_downloads_in_stages() {
    let (row, _) = twin_row(
        &qs_stages(1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.0, 4),
        300.0,
        4,
        3,
    );
    assert!(row.population_error < TWIN, "{row:?}");
    assert!(row.download_time_error.expect("arrivals") < TWIN, "{row:?}");
}

/// `swarm.stages` is a whole number in [1, 64].
#[test]
fn bad_stages_are_refused_with_the_allowed_range() {
    for k in [0, 65] {
        let e = error_of(&qs_stages(1.0, 0.0, 1.0, 0.5, 0.9, 0.02, 0.0, k));
        assert!(
            e.contains("bad.toml:")
                && e.contains(&format!(
                    "`swarm.stages` must be a whole number in [1, 64] (got {k})"
                )),
            "{e}"
        );
    }
}
