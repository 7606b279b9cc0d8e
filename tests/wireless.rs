//! Wireless offload and the energy view (issue 8): towers at capacity boundaries, zero hosts,
//! the Shapley split, the hosts' participation, energy totals, validation, a sweep that plots.

use peerfluid::incentive::equilibrium::Offer;
use peerfluid::incentive::hosting::HostMarket;
use peerfluid::incentive::plan::Depth;
use peerfluid::run::wireless::report;
use peerfluid::run::{compare_scenario, RunOptions};

use crate::util::{error_of, scenario};

/// A month of 30 days and a demand of 324 MB per user per month make r̄ = 8 × 3.24e8 /
/// 2.592e6 = 1000 bit/s exactly; a flat day (busy-hour share 1/24) makes the busy-hour load
/// N × 1000 bit/s; towers of 1 Mbps then carry exactly 1000 users each.
fn flat(users: u64, hosts: f64, extra: &str) -> String {
    format!(
        r#"
name = "w"
[content]
kind = "wireless"
[wireless]
users = {users}
demand = "324 MB"
hosts = {hosts:?}
busy_hour_share = {share:?}
home_share = 0.5
host_uplink = "1 Gbps"
tower_capacity = "1 Mbps"
tower_cost = "36500 $"
femtocell_price = "60 $"
femtocell_lifetime = "600 d"
{extra}
"#,
        share = 1.0 / 24.0
    )
}

const MONTH_TOWER_USD: f64 = 36_500.0 * 30.0 / 365.0; // $3000 a tower-month
const DEVICE_USD: f64 = 60.0 * 30.0 / 600.0; // $3 a femtocell-month

fn rep(text: &str) -> peerfluid::run::wireless::WirelessReport {
    report(&scenario(text), Depth::Report).expect("wireless report")
}

/// Zero hosts: the femtocell architecture is the macro-only one, to the cent and the kWh.
#[test]
fn zero_hosts_equal_macro_only() {
    let r = rep(&flat(2500, 0.0, ""));
    let (base, with) = (&r.costs[0], &r.costs[1]);
    assert_eq!(base.towers, 3); // 2.5 Mbps at 1 Mbps a tower
    assert_eq!(with.towers, base.towers);
    assert!((with.operator_usd - base.operator_usd).abs() < 1e-9);
    assert!((base.operator_usd - 3.0 * MONTH_TOWER_USD).abs() < 1e-6);
    assert!(with.devices_usd.abs() < 1e-12 && with.payments_usd.abs() < 1e-12);
    assert!((with.energy.total_kwh - base.energy.total_kwh).abs() < 1e-9);
    assert!(with.net_saving.abs() < 1e-12);
    assert!(r.shapley.savings_usd.abs() < 1e-9);
}

/// Towers step exactly at multiples of a tower's capacity: 3000 users = 3 towers, 3001 = 4;
/// with hosts carrying half their traffic, h = 2/3 leaves 2 Mbps = 2 towers (not 3 from
/// rounding) and a little less adoption needs 3.
#[test]
fn towers_step_at_capacity_boundaries() {
    assert_eq!(rep(&flat(3000, 0.0, "")).towers, 3);
    assert_eq!(rep(&flat(3001, 0.0, "")).towers, 4);
    assert_eq!(rep(&flat(2999, 0.0, "")).towers, 3);
    let at = rep(&flat(3000, 2.0 / 3.0, ""));
    assert_eq!(
        at.towers, 2,
        "busy macro load {} Mbit/s",
        at.busy_macro_mbps
    );
    assert!((at.busy_macro_mbps - 2.0).abs() < 1e-9);
    assert_eq!(rep(&flat(3000, 0.66, "")).towers, 3);
    assert_eq!(at.towers_saved, 1);
    // The adoption curve: 3 towers below h = 2/3, 2 from there to h = 1 (1.5 Mbps), never
    // more as h grows.
    let curve = &at.adoption;
    assert_eq!(curve.first().unwrap().towers, 3);
    assert_eq!(curve.last().unwrap().towers, 2);
    assert!(curve.windows(2).all(|w| w[1].towers <= w[0].towers));
}

/// The fluid Shapley split is efficient (operator + hosts = savings) and the savings are the
/// closed form Ω(0) − Ω(h): towers as a real number, minus the femtocells given away.
#[test]
fn shapley_split_sums_to_the_savings() {
    for (hosts, omega) in [(0.3, 0.0), (0.3, 0.6), (0.8, 1.0)] {
        let text = flat(3000, hosts, &format!("neighbour_share = {omega:?}"));
        let r = rep(&text);
        let sh = &r.shapley;
        assert!(
            (sh.operator_usd + sh.hosts_usd - sh.savings_usd).abs()
                < 1e-9 * sh.savings_usd.abs().max(1.0),
            "{sh:?}"
        );
        let k = 0.5 * (1.0 + omega * (1.0 - hosts));
        let towers_saved = 3.0 * hosts * k; // busy load 3 Mbps, towers of 1 Mbps
        let closed = MONTH_TOWER_USD * towers_saved - 3000.0 * hosts * DEVICE_USD;
        assert!(
            (sh.savings_usd - closed).abs() < 1e-6 * closed.abs().max(1.0),
            "h {hosts} ω {omega}: {} vs {closed}",
            sh.savings_usd
        );
        assert!(
            (sh.per_host_usd * 3000.0 * hosts - sh.hosts_usd).abs()
                < 1e-9 * sh.hosts_usd.abs().max(1.0)
        );
    }
}

/// Linear Ω (closed femtocells, no cap): Misra's fluid Shapley value gives each host half its
/// marginal saving, −Ω'/2 per unit, and the operator the other half.
#[test]
fn shapley_of_a_linear_game_halves_the_savings() {
    let r = rep(&flat(3000, 0.4, ""));
    let per_host_saving = MONTH_TOWER_USD * 0.5 / 1000.0 - DEVICE_USD; // 1000 users a tower
    assert!((r.shapley.per_host_usd - 0.5 * per_host_saving).abs() < 1e-9);
    assert!((r.shapley.operator_usd - r.shapley.hosts_usd).abs() < 1e-6);
    // Give-away: a host saves $1.50 of towers a month and its femtocell costs $3: no.
    assert!((r.give_away_answer.average_tower_saving_usd - 1.5).abs() < 1e-9);
    assert!(!r.give_away_answer.pays_at_scenario_adoption);
}

/// A discount of A per host-month against a uniform private cost on [lo, hi] gives the
/// closed-form participation (A − lo) / (hi − lo); the response ODE reaches it.
#[test]
fn participation_equilibrium_matches_the_uniform_closed_form() {
    let text = flat(
        3000,
        0.5,
        "[peers.cost]\ndistribution = \"uniform\"\nmin = \"0.5 $\"\nmax = \"2.5 $\"\n\
         [incentive]\nmechanism = \"discount\"\ndiscount = \"1 $\"",
    );
    let s = scenario(&text);
    let m = HostMarket::new(&s).unwrap();
    let reached = m.reached(&Offer::Discount { amount: 1.0 }).unwrap();
    assert!((reached.equilibrium.q - 0.25).abs() < 1e-9, "{reached:?}");
    assert!(
        reached.gap < 1e-6,
        "ODE {} vs root {}",
        reached.q_dynamics,
        reached.equilibrium.q
    );
    let r = report(&s, Depth::Report).unwrap();
    assert!((r.hosts - 0.125).abs() < 1e-9);
    // The hosts' private costs are those below the benefit: 3000 × 0.5 × ∫_0.5^1 c dc / 2.
    let expected = 3000.0 * 0.5 * (1.0 - 0.25) / (2.0 * 2.0);
    assert!((r.costs[1].hosts_electricity_usd - expected).abs() < 1e-9);
    assert!(r.participation_market.is_some());
}

/// Energy: every architecture's total is the sum of its parts and CO2 is total × carbon;
/// the parts follow the factors (origin bytes × origin kWh/GB, towers × power × hours).
#[test]
fn energy_totals_are_the_sum_of_the_parts() {
    let sum = |e: &peerfluid::cost::energy::EnergyUse| {
        e.origin_kwh + e.cdn_kwh + e.network_kwh + e.peers_kwh + e.macro_kwh + e.femtocells_kwh
    };
    let r = rep(&flat(
        3000,
        0.5,
        "[energy]\ncarbon = \"400 g/kWh\"\nnetwork = \"0.01 kWh/GB\"",
    ));
    for c in &r.costs {
        assert!((c.energy.total_kwh - sum(&c.energy)).abs() < 1e-9 * c.energy.total_kwh);
        assert!((c.energy.co2_kg - 0.4 * c.energy.total_kwh).abs() < 1e-9 * c.energy.co2_kg);
    }
    // 3 towers × 2 kW (default) × 720 h; 3000 users × 0.324 GB × 0.01 kWh/GB.
    assert!((r.costs[0].energy.macro_kwh - 3.0 * 2.0 * 720.0).abs() < 1e-9);
    assert!((r.costs[0].energy.network_kwh - 3000.0 * 0.324 * 0.01).abs() < 1e-9);
    // 1500 hosts × 7.2 W (default femtocell) × 720 h.
    assert!((r.costs[1].energy.femtocells_kwh - 1500.0 * 7.2 * 0.72).abs() < 1e-6);

    let s = scenario(&crate::util::qs_toml(
        0.5,
        0.0,
        0.1,
        0.05,
        1.0,
        Some(0.02),
        0.1,
        "",
    ));
    let rec = compare_scenario(&s, &RunOptions::default()).unwrap();
    let costs = rec.summary.costs.unwrap();
    for (arch, c) in &costs {
        assert!(
            (c.energy.total_kwh - sum(&c.energy)).abs() <= 1e-9 * c.energy.total_kwh,
            "{arch}"
        );
        assert!((c.energy.co2_kg - 0.47 * c.energy.total_kwh).abs() <= 1e-9 * c.energy.co2_kg);
    }
    let cs = &costs["client_server"];
    let gb = cs.origin_gb * (1u64 << 30) as f64 / 1e9;
    assert!((cs.energy.origin_kwh - 0.020 * gb).abs() < 1e-9 * cs.energy.origin_kwh);
    assert!((costs["cdn"].energy.cdn_kwh - 0.020 * gb).abs() < 1e-9 * cs.energy.origin_kwh);
    // Peers only in p2p and hybrid, at the gateway's marginal 1 W.
    assert!(cs.energy.peers_kwh == 0.0 && costs["p2p"].energy.peers_kwh > 0.0);
}

#[test]
fn wireless_validation_names_key_value_and_range() {
    let e = error_of(&flat(3000, 0.5, "").replace(
        "busy_hour_share = 0.041666666666666664",
        "busy_hour_share = 0.7",
    ));
    assert!(
        e.contains("`wireless.busy_hour_share` must be in [0.0416"),
        "{e}"
    );
    assert!(e.contains("(got 0.7)"), "{e}");
    let e = error_of(&flat(3000, 0.5, "").replace("femtocell_lifetime = \"600 d\"", ""));
    assert!(e.contains("femtocell_lifetime"), "{e}");
    let e = error_of(&format!(
        "{}\n[demand]\narrival_rate = 1\n",
        flat(3000, 0.5, "")
    ));
    assert!(
        e.contains("`[demand]` does not apply to `content.kind = \"wireless\"`"),
        "{e}"
    );
    let e = error_of(&flat(3000, 1.5, ""));
    assert!(
        e.contains("`wireless.hosts` must be in [0, 1] (got 1.5)"),
        "{e}"
    );
    let e = error_of(&flat(3000, 0.5, "tower_capacty = \"1 Mbps\""));
    assert!(e.contains("tower_capacty"), "{e}");
    let e = error_of(&flat(3000, 0.5, "[energy]\npeer_device = \"laptop\""));
    assert!(e.contains("`energy.peer_device` must be \"gateway-marginal\", \"gateway\" or \"pc\" (got \"laptop\")"), "{e}");
    let e = error_of(&flat(3000, 0.5, "[energy]\norigin = \"0.02 kWh/Gb\""));
    assert!(e.contains("energy.origin"), "{e}");
    let e = error_of(&flat(3000, 0.5, "[pricing]\ntransit = \"1 $/Mbps/month\""));
    assert!(e.contains("`pricing.transit` does not apply"), "{e}");
    let e = error_of(&flat(3000, 0.5, "[incentive]\nmechanism = \"equilibrium\""));
    assert!(e.contains("needs hosts who decide"), "{e}");
    // [wireless] in a file swarm.
    let text = crate::util::qs_toml(0.5, 0.0, 0.1, 0.05, 1.0, None, 0.0, "")
        + "[wireless]\nusers = 1\ndemand = \"1 GB\"\nhosts = 0\nfemtocell_lifetime = \"1 yr\"\n";
    let e = error_of(&text);
    assert!(
        e.contains("`[wireless]` applies to `content.kind = \"wireless\"` only"),
        "{e}"
    );
}

/// The shipped preset runs through `compare`, and the shipped sweep over hosts' share runs
/// and draws its savings figure and heatmap.
#[test]
fn preset_compares_and_sweep_over_hosts_plots() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let s =
        peerfluid::scenario::Scenario::from_path(&root.join("scenarios/femtocell-offload.toml"))
            .unwrap();
    let rec = compare_scenario(&s, &RunOptions::default()).unwrap();
    let w = rec.summary.wireless.as_ref().unwrap();
    assert_eq!(w.costs.len(), 2);
    assert!(w.towers <= w.towers_macro_only);

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("peerfluid"))
        .args(["sweep"])
        .arg(root.join("scenarios/sweeps/femtocell-hosts.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 105);
    assert!(csv.lines().skip(1).all(|l| l.contains(",ok,wireless,")));
    for f in ["savings-wireless-hosts.png", "heatmap.png", "index.html"] {
        assert!(out.join(f).exists(), "{f}");
    }
}

/// The fluid Shapley value of a host is the limit of the exact finite-N value: with open
/// femtocells (a nonlinear Ω) the exact value of one of n = 0.3 N hosts approaches the fluid
/// price as N grows, the error falling about as 1/N. Non-hosts are null players, so the exact
/// game keeps only the operator and the hosts: C(S) = N Ω(k/N) = (N/n) × n Ω(k r/n), r = n/N.
#[test]
fn fluid_shapley_is_the_limit_of_the_exact_value() {
    use peerfluid::incentive::hosting::HostGame;
    use peerfluid::incentive::shapley::exact_by_classes;
    let s = scenario(&flat(3000, 0.3, "neighbour_share = 0.8"));
    let m = HostMarket::new(&s).unwrap();
    let game = HostGame { market: &m };
    let fluid = m.shapley(0.3).unwrap().price_per_unit[0];
    let mut errors = Vec::new();
    for users in [100usize, 1000] {
        let n = users * 3 / 10;
        let ex = exact_by_classes(&game, &[n], &[n as f64 / users as f64]).unwrap();
        let per_host = ex.per_peer[0] * users as f64 / n as f64;
        errors.push((per_host - fluid).abs() / fluid.abs());
    }
    assert!(errors[1] < 0.02, "exact vs fluid at N = 1000: {errors:?}");
    assert!(
        errors[1] < errors[0] / 5.0,
        "not converging like 1/N: {errors:?}"
    );
}

/// Who pays for femtocells does not change the game: the same savings (net of femtocells)
/// and split either way; a host who bought its femtocell is paid φ + a device-month, so its
/// net is φ as when it is given one. The give-away answer always counts the femtocells.
#[test]
fn who_buys_the_femtocell_does_not_change_the_split() {
    let extra = "neighbour_share = 0.5\n[incentive]\nmechanism = \"shapley\"";
    let given = rep(&flat(3000, 0.4, extra));
    let bought = rep(&flat(3000, 0.4, &format!("give_away = false\n{extra}")));
    assert!((given.shapley.savings_usd - bought.shapley.savings_usd).abs() < 1e-9);
    assert!((given.shapley.per_host_usd - bought.shapley.per_host_usd).abs() < 1e-9);
    let hosts = 1200.0;
    let (g, b) = (&given.costs[1], &bought.costs[1]);
    assert!((g.payments_usd - hosts * given.shapley.per_host_usd).abs() < 1e-6);
    assert!((b.payments_usd - hosts * (bought.shapley.per_host_usd + DEVICE_USD)).abs() < 1e-6);
    assert!((b.hosts_devices_usd - hosts * DEVICE_USD).abs() < 1e-6);
    // Hosts end up with the same net, and so does the operator.
    assert!(
        (g.hosts_usd - b.hosts_usd).abs() < 1e-6 && (g.operator_usd - b.operator_usd).abs() < 1e-6
    );
    assert_eq!(given.adoption, bought.adoption);
    assert_eq!(given.give_away_answer, bought.give_away_answer);
}

/// The operator's best per-GB price is found even when a carried GB is worth much more than a
/// tower-month per tower-GB (busy hour at half the day, hosts buying femtocells): it beats
/// nobody hosting and every price on a coarse independent grid.
#[test]
fn best_price_searches_a_range_wide_enough() {
    let text = flat(3000, 0.5, "give_away = false\n[peers.cost]\ndistribution = \"uniform\"\nmin = \"0 $\"\nmax = \"4 $\"\n[incentive]\nmechanism = \"equilibrium\"")
        .replace("busy_hour_share = 0.041666666666666664", "busy_hour_share = 0.5");
    let s = scenario(&text);
    let m = HostMarket::new(&s).unwrap();
    let best = m.best_price().unwrap();
    assert!(best.equilibrium.q > 0.0, "{best:?}");
    assert!(best.equilibrium.operator_usd < best.no_hosts_usd);
    for i in 1..=40 {
        let p = 0.05 * i as f64;
        let other = m
            .reached(&Offer::PerByte { price: p })
            .unwrap()
            .equilibrium
            .operator_usd;
        assert!(
            best.equilibrium.operator_usd <= other + 1e-6,
            "price {p}: {other} < {best:?}"
        );
    }
}

/// With the uplink binding, what the first host carries (h → 0) is the limit of what a host
/// carries at small h, not the monthly mean capped.
#[test]
fn the_first_host_carries_the_limit_of_small_shares() {
    let text = flat(3000, 0.5, "")
        .replace(
            "busy_hour_share = 0.041666666666666664",
            "busy_hour_share = 0.5",
        )
        .replace("host_uplink = \"1 Gbps\"", "host_uplink = \"400 bps\"");
    let s = scenario(&text);
    let m = HostMarket::new(&s).unwrap();
    let first = m.per_host_gb(&m.day(0.0));
    let small = m.per_host_gb(&m.day(1e-6));
    assert!((first - small).abs() < 1e-6 * small, "{first} vs {small}");
    // The cap binds for part of the day: less than the uncapped 0.5 × 324 MB.
    assert!(first * ((1u64 << 30) as f64) < 0.5 * 3.24e8 * 0.999);
}

/// Energy attribution in file compare: with `pricing.origin = "cdn"` p2p's residual is the
/// CDN's energy; distinct factors are not swapped; peers' devices are charged for sharing
/// classes only (a class that uploads nothing adds no peer energy).
#[test]
fn energy_goes_to_who_serves_and_to_sharers_only() {
    let text = r#"
name = "e"
[content]
size = "1 GB"
[demand]
arrival_rate = "0.05/s"
[swarm]
seed_residence = "10 min"
[[peers.class]]
name = "sharers"
share = 0.5
upload = "5 Mbps"
download = "50 Mbps"
[[peers.class]]
name = "leechers"
share = 0.5
upload = "0 Mbps"
download = "50 Mbps"
[server]
capacity = "100 Mbps"
[pricing]
origin = "cdn"
[energy]
origin = "0.05 kWh/GB"
cdn = "0.01 kWh/GB"
peer_power = "10 W"
"#;
    let s = scenario(text);
    let rec = compare_scenario(&s, &RunOptions::default()).unwrap();
    let costs = rec.summary.costs.as_ref().unwrap();
    let si = |gb: f64| gb * (1u64 << 30) as f64 / 1e9;
    let p2p = &costs["p2p"];
    assert_eq!(p2p.energy.origin_kwh, 0.0);
    assert!((p2p.energy.cdn_kwh - 0.01 * si(p2p.origin_gb)).abs() < 1e-9 * p2p.energy.cdn_kwh);
    let cs = &costs["client_server"];
    assert!((cs.energy.origin_kwh - 0.05 * si(cs.origin_gb)).abs() < 1e-9 * cs.energy.origin_kwh);
    assert!(
        (costs["cdn"].energy.cdn_kwh - 0.01 * si(cs.origin_gb)).abs() < 1e-9 * cs.energy.origin_kwh
    );
    // Network energy is the same delivered bytes everywhere.
    let net = cs.energy.network_kwh;
    assert!(costs
        .values()
        .all(|c| (c.energy.network_kwh - net).abs() < 1e-6 * net));
    let ledgers = rec.summary.peer_classes.as_ref().unwrap();
    let sharing_hours: f64 = ledgers
        .iter()
        .filter(|l| l.name == "sharers")
        .map(|l| l.peer_hours)
        .sum();
    assert!(sharing_hours > 0.0);
    assert!(
        (p2p.energy.peers_kwh - 0.010 * sharing_hours).abs() < 1e-9 * p2p.energy.peers_kwh,
        "{} vs {}",
        p2p.energy.peers_kwh,
        0.01 * sharing_hours
    );
    let e = error_of(&flat(3000, 0.5, "[energy]\norigin = \"0.02 kWh/GB\""));
    assert!(
        e.contains("`energy.origin` does not apply to `content.kind = \"wireless\"`"),
        "{e}"
    );
}
