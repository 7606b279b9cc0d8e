//! Economics through the whole pipeline (`compare`): literature rows are unit-tested in
//! src/cost/; here, identities that must hold for any run (issue 3, item 6).

use std::collections::BTreeMap;

use approx::assert_relative_eq;
use peerfluid::cost::ledger::CostBreakdown;
use peerfluid::cost::tiers::{TierTable, GB};
use peerfluid::run::{compare_scenario, RunOptions};

use crate::util::{error_of, scenario};

/// Money identities are exact up to rounding.
const MONEY_RTOL: f64 = 1e-9;

fn base(upload: &str, extra: &str) -> String {
    format!(
        "name = \"econ\"\nhorizon = \"10 d\"\n[content]\nsize = \"1 GB\"\n[demand]\narrival_rate = \"0.05/s\"\n\
         [swarm]\nefficiency = 0.9\nabort_rate = \"0.1/h\"\nseed_residence = \"30 min\"\n\
         [peers]\nupload = \"{upload}\"\ndownload = \"50 Mbps\"\n\
         [peers.cost]\npower = \"10 W\"\nelectricity = \"0.2 $/kWh\"\nupload_value = \"0.001 $/GB\"\n\
         [server]\ncapacity = \"10 Gbps\"\n\
         [pricing]\ntransit = \"2 $/Mbps/month\"\negress = \"0.001 $/GB\"\ncapacity = \"0.5 $/Mbps/month\"\ntracker = \"0.0001 $\"\n\
         {extra}"
    )
}

fn costs(text: &str) -> BTreeMap<&'static str, CostBreakdown> {
    let rec = compare_scenario(&scenario(text), &RunOptions::default()).expect("runs");
    rec.summary.costs.expect("compare fills costs")
}

#[test]
fn zero_peer_upload_makes_p2p_cost_client_server() {
    let c = costs(&base(
        "0 Mbps",
        "[incentive]\nmechanism = \"per-byte\"\nprice = \"0.01 $/GB\"\n",
    ));
    // Only the coordination (tracker) fee remains: the swarm still has to be run.
    assert!(c["p2p"].tracker_usd > 0.0);
    assert_relative_eq!(
        c["p2p"].provider_usd - c["p2p"].tracker_usd,
        c["client_server"].provider_usd,
        max_relative = MONEY_RTOL
    );
    assert_relative_eq!(
        c["hybrid"].provider_usd - c["hybrid"].tracker_usd,
        c["cdn"].provider_usd,
        max_relative = MONEY_RTOL
    );
    assert!(c["p2p"].payments_usd.abs() < 1e-9 && c["p2p"].isp_uplink_gb.abs() < 1e-9);
}

#[test]
fn ledger_balances_and_savings_are_bounded() {
    let c = costs(&base(
        "10 Mbps",
        "[incentive]\nmechanism = \"per-byte\"\nprice = \"0.005 $/GB\"\n",
    ));
    for r in c.values() {
        // payments out of the provider are the peers' income
        assert_relative_eq!(
            r.payments_usd,
            r.peers_income_usd,
            max_relative = MONEY_RTOL
        );
        let parts = r.transit_usd
            + r.egress_usd
            + r.capacity_usd
            + r.cdn_usd
            + r.payments_usd
            + r.tracker_usd;
        assert_relative_eq!(r.provider_usd, parts, max_relative = MONEY_RTOL);
        assert_relative_eq!(
            r.social_usd,
            r.provider_usd + r.peers_cost_usd - r.peers_income_usd,
            max_relative = MONEY_RTOL,
            epsilon = 1e-9
        );
        for s in [
            r.gross_saving,
            r.net_saving,
            r.gross_saving_vs_cdn,
            r.net_saving_vs_cdn,
        ] {
            assert!(s <= 1.0, "{}: saving {s} > 100 %", r.architecture);
        }
        assert!(r.net_saving <= r.gross_saving + 1e-12);
    }
    assert!(c["p2p"].payments_usd > 0.0 && c["p2p"].peers_cost_usd > 0.0);
    // peers upload in p2p/hybrid only
    assert!(c["client_server"].isp_uplink_gb.abs() < 1e-12 && c["cdn"].isp_uplink_gb.abs() < 1e-12);
}

#[test]
fn cdn_bill_is_the_tier_table_on_the_monthly_volume() {
    let text = base("10 Mbps", "");
    let sc = scenario(&text);
    let rec = compare_scenario(&sc, &RunOptions::default()).expect("runs");
    let c = rec.summary.costs.as_ref().expect("costs");
    // Constant arrivals recur: the steady state fills the 30-day month (no scaling of the
    // 10-day horizon).
    let ss = rec.summary.steady_state.as_ref().expect("steady state");
    let monthly_gb = (ss.server_rate_bps + ss.peer_rate_bps) / 8.0 * 30.0 * 86_400.0 / GB;
    assert_relative_eq!(
        c["cdn"].cdn_usd,
        TierTable::cloudfront_us().cost(monthly_gb),
        max_relative = 1e-9
    );
    assert_relative_eq!(c["cdn"].origin_gb, monthly_gb, max_relative = 1e-9);
    let billing = rec.summary.billing.as_ref().expect("billing");
    assert_eq!(billing.basis.rule, "recurring");
    assert!(billing.basis.steady_state);
    assert_relative_eq!(billing.basis.factor, 1.0);
}

#[test]
/// Regression on one scenario where every architecture, peer-assisted ones included, costs more
/// as demand rises (the general property, for the origin-only ones, is in `props`).
fn cost_never_falls_as_demand_rises() {
    let mut last: Option<BTreeMap<&'static str, CostBreakdown>> = None;
    for rate in ["0.01/s", "0.03/s", "0.1/s", "0.3/s"] {
        let c = costs(&base("2 Mbps", "").replace(
            "arrival_rate = \"0.05/s\"",
            &format!("arrival_rate = \"{rate}\""),
        ));
        if let Some(prev) = &last {
            for (k, r) in &c {
                assert!(
                    r.provider_usd >= prev[k].provider_usd * (1.0 - 1e-12),
                    "{k}: {} < {} at {rate}",
                    r.provider_usd,
                    prev[k].provider_usd
                );
            }
        }
        last = Some(c);
    }
}

#[test]
fn a_recurring_pattern_is_billed_the_same_whatever_the_horizon() {
    // Constant arrivals at 10 and 60 days: both are billed at the steady state, so the horizon
    // (a billing choice the user never made) does not move the bill.
    let short = costs(&base("10 Mbps", ""));
    let long = costs(&base("10 Mbps", "").replace("horizon = \"10 d\"", "horizon = \"60 d\""));
    for (k, r) in &short {
        assert_relative_eq!(
            r.provider_usd,
            long[k].provider_usd,
            max_relative = MONEY_RTOL
        );
    }
}

#[test]
fn economics_keys_are_validated() {
    let ok = base("1 Mbps", "");
    assert_eq!(
        error_of(&ok.replace("[pricing]\n", "[pricing]\norigin = \"isp\"\n")),
        "bad.toml:21:10: `pricing.origin` must be \"transit\" or \"cdn\" (got \"isp\")"
    );
    assert_eq!(
        error_of(&(ok.clone() + "commit_discount = 1.5\n")),
        "bad.toml:25:19: `pricing.commit_discount` must be in [0, 1) (got 1.5)"
    );
    assert_eq!(
        error_of(&(ok.clone() + "[incentive]\nmechanism = \"per-byte\"\n")),
        "bad.toml:25:1: `incentive.price` is missing (required for mechanism \"per-byte\"), e.g. price = \"0.01 $/GB\""
    );
    assert_eq!(
        error_of(&ok.replace("transit = \"2 $/Mbps/month\"", "transit = \"2 $/GB\"")),
        "bad.toml:21:11: `pricing.transit`: \"2 $/GB\" is a price per GB, but a price per Mbps per month is expected here (such as \"1.5 $/Mbps/month\")"
    );
    let tier = |up: &str, price: &str| {
        if up.is_empty() {
            format!("[[pricing.cdn_tier]]\nprice = \"{price}\"\n")
        } else {
            format!("[[pricing.cdn_tier]]\nup_to = \"{up}\"\nprice = \"{price}\"\n")
        }
    };
    assert_eq!(
        error_of(&(ok.clone() + &tier("10 TiB", "0.085 $/GB") + &tier("5 TiB", "0.08 $/GB"))),
        "bad.toml:29:9: `pricing.cdn_tier[1].up_to`: the last tier applies above every bound, so it has no `up_to` (got \"5 TiB\")"
    );
    let err = error_of(
        &(ok.clone()
            + &tier("10 TiB", "0.085 $/GB")
            + &tier("5 TiB", "0.08 $/GB")
            + &tier("", "0.06 $/GB")),
    );
    assert_eq!(
        err,
        "bad.toml:25:1: `pricing.cdn_tier`: tier 1: `up_to` (in billing GB of 2^30 bytes) must be finite and > 10240 GB (the bound of tier 0): bounds are cumulative and strictly increasing (got 5120)"
    );
    // A valid custom table prices the CDN.
    let c = costs(&(ok + &tier("1 TiB", "0.1 $/GB") + &tier("", "0.05 $/GB")));
    assert!(c["cdn"].cdn_usd > 0.0);
}

#[test]
fn class_ledgers_sum_to_the_peers_totals() {
    let text = base("1 Mbps", "[incentive]\nmechanism = \"per-byte\"\nprice = \"0.01 $/GB\"\n").replace(
        "[peers]\nupload = \"1 Mbps\"\ndownload = \"50 Mbps\"\n",
        "[[peers.class]]\nname = \"dsl\"\nshare = 0.6\nupload = \"1 Mbps\"\ndownload = \"16 Mbps\"\n\
         [[peers.class]]\nname = \"fibre\"\nshare = 0.4\nupload = \"100 Mbps\"\ndownload = \"500 Mbps\"\n",
    );
    let rec = compare_scenario(&scenario(&text), &RunOptions::default()).expect("runs");
    let c = rec.summary.costs.as_ref().expect("costs");
    let classes = rec.summary.peer_classes.as_ref().expect("class ledgers");
    assert_eq!(classes.len(), 2);
    let sum =
        |f: fn(&peerfluid::cost::ledger::ClassLedger) -> f64| classes.iter().map(f).sum::<f64>();
    assert_relative_eq!(
        sum(|l| l.upload_gb),
        c["p2p"].isp_uplink_gb,
        max_relative = MONEY_RTOL
    );
    assert_relative_eq!(
        sum(|l| l.income_usd),
        c["p2p"].payments_usd,
        max_relative = MONEY_RTOL
    );
    assert_relative_eq!(
        sum(|l| l.energy_usd + l.upload_value_usd),
        c["p2p"].peers_cost_usd,
        max_relative = MONEY_RTOL
    );
    // Fibre offers 100× the upload per peer: it serves most of the bytes.
    assert!(classes[1].upload_gb > classes[0].upload_gb);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn text(rate: f64, upload: f64, transit: f64, price: f64, origin: &str) -> String {
        format!(
            "name = \"p\"\nhorizon = \"3 d\"\n[content]\nsize = \"500 MB\"\n[demand]\narrival_rate = {rate:?}\n\
             [swarm]\nefficiency = 0.9\nabort_rate = \"0.2/h\"\nseed_residence = \"20 min\"\n\
             [peers]\nupload = {:?}\ndownload = \"100 Mbps\"\n[peers.cost]\npower = \"8 W\"\n\
             [server]\ncapacity = \"5 Gbps\"\n[pricing]\norigin = \"{origin}\"\ntransit = \"{transit} $/Mbps/month\"\n\
             [incentive]\nmechanism = \"per-byte\"\nprice = \"{price} $/GB\"\n",
            upload * 1e6
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24),
            ..ProptestConfig::default()
        })]

        /// Savings never exceed 100 %, net ≤ gross, the ledger balances, and the origin-only
        /// architectures never cost less when demand doubles. (Peer-assisted ones may: more
        /// demand brings more uploaders, the self-scaling the paper is about.)
        #[test]
        fn ledger_identities_and_monotone_baselines(
            rate in 0.005f64..0.5,
            upload in 0.0f64..50.0,
            transit in 0.1f64..50.0,
            price in 0.0f64..0.1,
            cdn_origin in any::<bool>(),
        ) {
            let origin = if cdn_origin { "cdn" } else { "transit" };
            let one = costs(&text(rate, upload, transit, price, origin));
            let two = costs(&text(2.0 * rate, upload, transit, price, origin));
            for c in [&one, &two] {
                for r in c.values() {
                    prop_assert!(r.gross_saving <= 1.0 + 1e-12 && r.net_saving <= r.gross_saving + 1e-12);
                    prop_assert!((r.payments_usd - r.peers_income_usd).abs() <= 1e-9 * r.payments_usd.max(1.0));
                    let parts = r.transit_usd + r.egress_usd + r.capacity_usd + r.cdn_usd + r.payments_usd + r.tracker_usd;
                    prop_assert!((r.provider_usd - parts).abs() <= 1e-9 * parts.max(1.0));
                }
            }
            for arch in ["client_server", "cdn"] {
                prop_assert!(two[arch].provider_usd >= one[arch].provider_usd * (1.0 - 1e-12),
                    "{arch}: {} then {}", one[arch].provider_usd, two[arch].provider_usd);
            }
        }
    }
}

/// Issue 4: a discount is paid per download of a sharing peer. At constant arrivals λ the
/// sharers start λ q downloads per second, so the p2p bill holds discount × λ q × month
/// (independent of the swarm; rel 1e-9).
#[test]
fn discount_payments_are_the_discount_times_the_sharers_downloads() {
    let text = r#"
name = "discount"
[content]
size = "1 GB"
[demand]
arrival_rate = "0.5/s"
[swarm]
efficiency = 0.9
abort_rate = "0.5/h"
seed_residence = "20 min"
[peers]
upload = "20 Mbps"
download = "100 Mbps"
[peers.cost]
distribution = "uniform"
min = "$0"
max = "$0.05"
[server]
capacity = "100 Gbps"
[pricing]
origin = "cdn"
[incentive]
mechanism = "discount"
discount = "$0.02"
"#;
    let s = crate::util::scenario(text);
    let rec =
        peerfluid::run::compare_scenario(&s, &peerfluid::run::RunOptions::default()).expect("runs");
    let inc = rec.summary.incentive.as_ref().expect("incentive report");
    let q = inc.classes[0].participation;
    assert!(
        (q - 0.4).abs() < 1e-9,
        "q = F($0.02) = 0.4 with no energy: {q}"
    );
    let costs = rec.summary.costs.as_ref().expect("costs");
    let paid = costs["p2p"].payments_usd;
    let expect = 0.02 * 0.5 * q * 30.0 * 86_400.0;
    assert!(
        ((paid - expect) / expect).abs() < 1e-9,
        "{paid} vs {expect}"
    );
}

/// Energy is a cost of sharing: in a scenario where some peers opt out (participation
/// equilibrium), the classes of those who do not share (`NAME-out`) carry no energy and no
/// upload, and the p2p row's peers' cost is the sum of the classes' energy and upload value
/// (rel 1e-9): the monthly ledger and the participation decision agree on who pays for it.
#[test]
fn peers_who_opt_out_carry_no_energy_cost() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/paid-sharing.toml");
    let s = peerfluid::scenario::Scenario::from_path(&path).unwrap();
    let rec = peerfluid::run::compare_scenario(&s, &peerfluid::run::RunOptions::default()).unwrap();
    let classes = rec.summary.peer_classes.as_ref().unwrap();
    let out: Vec<_> = classes
        .iter()
        .filter(|c| c.name.ends_with("-out"))
        .collect();
    assert!(!out.is_empty(), "some peers opt out in paid-sharing");
    for c in &out {
        assert!(
            c.energy_usd.abs() < 1e-12 && c.upload_gb.abs() < 1e-9,
            "{c:?}"
        );
        assert!(c.peer_hours > 0.0, "they are online (downloading)");
    }
    let sharers: f64 = classes
        .iter()
        .map(|c| c.energy_usd + c.upload_value_usd)
        .sum();
    let p2p = &rec.summary.costs.as_ref().unwrap()["p2p"];
    assert!(sharers > 0.0);
    assert!(
        (p2p.peers_cost_usd - sharers).abs() <= 1e-9 * sharers,
        "{} vs {sharers}",
        p2p.peers_cost_usd
    );
}
