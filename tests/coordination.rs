//! Issue 19 §4: the cost of coordination (tracker, DHT, flooding) in the ledger and the
//! report. Closed forms and reference values: models/coordination.md.

use approx::assert_relative_eq;
use peerfluid::cost::coordination::{flood_tree, Kind, EVENTS_PER_DOWNLOAD};
use peerfluid::cost::ledger::CostBreakdown;
use peerfluid::cost::GB;
use peerfluid::run::{compare_scenario, RunOptions, Summary};
use peerfluid::scenario::Scenario;

use crate::util::{scenario, shipped, shipped_with};

/// Closed forms against the ledger's f64 arithmetic (sums over one steady sample).
const CLOSED_FORM_RTOL: f64 = 1e-9;
/// A crossing is bisected in log scale to 1e-9; its hand formula is exact.
const CROSSING_RTOL: f64 = 1e-8;

fn summary(s: &Scenario) -> Summary {
    compare_scenario(s, &RunOptions::default())
        .expect("compares")
        .summary
}

fn row<'a>(s: &'a Summary, arch: &str) -> &'a CostBreakdown {
    &s.costs.as_ref().expect("compare fills costs")[arch]
}

/// The preset `scenarios/coordination.toml`: every design against its closed form on the
/// steady population N (leechers + seeds) and D = λ τ downloads, the tracker billed, and the
/// flood/tracker crossing against the hand derivation (models/coordination.md, "Where the
/// costs cross").
#[test]
fn issue19_4_preset_follows_the_closed_forms() {
    let s = Scenario::from_path(&shipped("coordination.toml")).expect("valid");
    let sum = summary(&s);
    let ss = sum.steady_state.as_ref().expect("steady");
    let n = ss.leechers + ss.seeds;
    let (lambda, month) = (2.0, 30.0 * 86_400.0);
    let d = lambda * month;
    let r = sum.coordination.as_ref().expect("coordination report");
    assert_eq!(r.kind, Kind::Tracker);
    assert_relative_eq!(r.population.mean_peers, n, max_relative = CLOSED_FORM_RTOL);
    assert_relative_eq!(r.population.downloads, d, max_relative = CLOSED_FORM_RTOL);
    let [tr, dht, fl] = [&r.designs[0], &r.designs[1], &r.designs[2]];
    // Tracker: N/I + 3λ announces/s → 1 server at $50; peers send 198 B per announce.
    let announces = n * month / 1800.0 + EVENTS_PER_DOWNLOAD * d;
    assert_relative_eq!(tr.servers.unwrap(), 1.0);
    assert_relative_eq!(tr.provider_usd, 50.0);
    assert_relative_eq!(
        tr.peak_load_per_s.unwrap(),
        n / 1800.0 + 3.0 * lambda,
        max_relative = CLOSED_FORM_RTOL
    );
    assert_relative_eq!(
        tr.peer_gb,
        announces * 198.0 / GB,
        max_relative = CLOSED_FORM_RTOL
    );
    // DHT: H = ½ log2 N, L = log2 N, 200 B messages, 15-minute refreshes.
    let (l, h) = (n.log2(), 0.5 * n.log2());
    let dht_msgs = d * 2.0 * h + n * month / 900.0 * 2.0 * l + d * 4.0 * l * h;
    assert_relative_eq!(
        dht.peer_gb,
        dht_msgs * 200.0 / GB,
        max_relative = CLOSED_FORM_RTOL
    );
    assert_relative_eq!(dht.provider_usd, 0.0);
    // Flood: N − 1 ≥ R_6 = 1456, so every query costs R_7 = 4372 messages of 86 B and
    // reaches all N − 1 other peers.
    assert!(n - 1.0 > flood_tree(4, 6) && n - 1.0 < flood_tree(4, 7));
    assert_relative_eq!(
        fl.peer_gb,
        d * 4372.0 * 86.0 / GB,
        max_relative = CLOSED_FORM_RTOL
    );
    assert_relative_eq!(fl.reach.unwrap(), n - 1.0, max_relative = CLOSED_FORM_RTOL);
    // The ledger bills the tracker: its server to the provider, its bytes to the peers.
    for arch in ["p2p", "hybrid"] {
        let c = row(&sum, arch);
        assert_relative_eq!(c.tracker_usd, 50.0);
        assert_relative_eq!(
            c.coordination_gb,
            tr.peer_gb,
            max_relative = CLOSED_FORM_RTOL
        );
    }
    for arch in ["client_server", "cdn"] {
        assert_relative_eq!(row(&sum, arch).coordination_gb, 0.0);
        assert_relative_eq!(row(&sum, arch).tracker_usd, 0.0);
    }
    // Flood and tracker cross where v τ/GB (M b_f − (T_s/I + 3) b_r) λ* = c_s, with
    // T_s = N/λ the time a peer stays (both populations scale with λ).
    let v = 0.0066;
    let per_lambda = v * month / GB * (4372.0 * 86.0 - (n / lambda / 1800.0 + 3.0) * 198.0);
    let lambda_star = 50.0 / per_lambda;
    let x = r
        .crossings
        .iter()
        .find(|x| x.cheaper_below == Kind::Flood && x.cheaper_above == Kind::Tracker)
        .expect("flood and tracker cross");
    assert_relative_eq!(lambda * x.scale, lambda_star, max_relative = CROSSING_RTOL);
    // The DHT/tracker crossing: both totals equal there (its equation has logarithms; the
    // card solves it numerically and checks it the same way).
    let y = r
        .crossings
        .iter()
        .find(|x| x.cheaper_below == Kind::Dht && x.cheaper_above == Kind::Tracker)
        .expect("dht and tracker cross");
    let (n2, d2) = (n * y.scale, d * y.scale);
    let dht_usd = v / GB
        * 200.0
        * (d2 * n2.log2() + n2 * month / 900.0 * 2.0 * n2.log2() + d2 * 2.0 * n2.log2().powi(2));
    let tracker_usd = 50.0 + v / GB * 198.0 * (n2 * month / 1800.0 + 3.0 * d2);
    assert_relative_eq!(dht_usd, tracker_usd, max_relative = CROSSING_RTOL);
}

/// Without `[coordination]` nothing changes: no coordination bytes, the uplink is the peers'
/// content, the tracker fee is `pricing.tracker` × peer-hours, and no report. With it, only
/// the coordination lines of p2p and hybrid move: client-server and CDN rows are identical,
/// and every other part of the peer rows too.
#[test]
fn issue19_4_absent_coordination_keeps_every_number() {
    let base = shipped_with("coordination.toml", &[]);
    let cut = base.find("[coordination]").expect("preset has the table");
    let without =
        scenario(&base[..cut].replace("[pricing]\n", "[pricing]\ntracker = \"$0.0001\"\n"));
    let with = scenario(&base);
    let (a, b) = (summary(&without), summary(&with));
    assert!(a.coordination.is_none() && b.coordination.is_some());
    let peer_hours = {
        let ss = a.steady_state.as_ref().unwrap();
        (ss.leechers + ss.seeds) * 30.0 * 24.0
    };
    for arch in ["client_server", "cdn", "p2p", "hybrid"] {
        let (x, y) = (row(&a, arch), row(&b, arch));
        assert_eq!(x.coordination_gb.to_bits(), 0f64.to_bits(), "{arch}");
        let content_gb = a.billing.as_ref().unwrap().months[0].peer_gb;
        if arch == "p2p" || arch == "hybrid" {
            assert_eq!(x.isp_uplink_gb.to_bits(), content_gb.to_bits());
            assert_relative_eq!(
                x.tracker_usd,
                0.0001 * peer_hours,
                max_relative = CLOSED_FORM_RTOL
            );
            // Only the coordination lines differ.
            for (p, q) in [
                (x.transit_usd, y.transit_usd),
                (x.egress_usd, y.egress_usd),
                (x.capacity_usd, y.capacity_usd),
                (x.cdn_usd, y.cdn_usd),
                (x.payments_usd, y.payments_usd),
                (x.origin_gb, y.origin_gb),
                (x.energy.peers_kwh, y.energy.peers_kwh),
                (x.energy.cdn_kwh, y.energy.cdn_kwh),
            ] {
                assert_eq!(p.to_bits(), q.to_bits(), "{arch}");
            }
            assert_relative_eq!(
                y.isp_uplink_gb,
                content_gb + y.coordination_gb,
                max_relative = CLOSED_FORM_RTOL
            );
        } else {
            assert_eq!(format!("{x:?}"), format!("{y:?}"), "{arch}");
        }
    }
}

/// With a DHT the provider pays nothing for coordination; the peers' bytes enter their cost
/// at `upload_value`, the ISPs' uplink and the classes' ledgers (by online hours), and the
/// ledger still balances.
#[test]
fn issue19_4_dht_bytes_are_the_peers_and_the_ledger_balances() {
    let text = shipped_with(
        "coordination.toml",
        &[
            ("kind = \"tracker\"", "kind = \"dht\""),
            (
                "[peers]\nupload = \"12 Mbps\"\ndownload = \"86 Mbps\"\n",
                "[[peers.class]]\nname = \"fibre\"\nshare = 0.3\nupload = \"100 Mbps\"\ndownload = \"300 Mbps\"\n\
                 [[peers.class]]\nname = \"dsl\"\nshare = 0.7\nupload = \"1 Mbps\"\ndownload = \"20 Mbps\"\n",
            ),
        ],
    );
    let s = scenario(&text);
    let sum = summary(&s);
    let r = sum.coordination.as_ref().unwrap();
    assert_eq!(r.kind, Kind::Dht);
    let v = s.peer_cost.upload_value;
    for arch in ["p2p", "hybrid"] {
        let c = row(&sum, arch);
        assert_relative_eq!(c.tracker_usd, 0.0);
        assert_relative_eq!(
            c.coordination_gb,
            r.designs[1].peer_gb,
            max_relative = CLOSED_FORM_RTOL
        );
        let content_gb = sum.billing.as_ref().unwrap().months[0].peer_gb;
        assert_relative_eq!(
            c.isp_uplink_gb,
            content_gb + c.coordination_gb,
            max_relative = CLOSED_FORM_RTOL
        );
        let parts = c.transit_usd
            + c.egress_usd
            + c.capacity_usd
            + c.cdn_usd
            + c.payments_usd
            + c.tracker_usd;
        assert_relative_eq!(c.provider_usd, parts, max_relative = CLOSED_FORM_RTOL);
        // No energy cost in the preset: the peers' cost is the value of what they send.
        assert_relative_eq!(
            c.peers_cost_usd,
            v * c.isp_uplink_gb,
            max_relative = CLOSED_FORM_RTOL
        );
    }
    let classes = sum.peer_classes.as_ref().unwrap();
    let coord: f64 = classes.iter().map(|c| c.coordination_gb).sum();
    assert_relative_eq!(
        coord,
        row(&sum, "p2p").coordination_gb,
        max_relative = CLOSED_FORM_RTOL
    );
    let net: f64 = classes.iter().map(|c| c.net_usd).sum();
    assert_relative_eq!(
        net,
        -row(&sum, "p2p").peers_usd,
        max_relative = CLOSED_FORM_RTOL
    );
    // Classes carry coordination in proportion to their hours online.
    let hours: f64 = classes.iter().map(|c| c.peer_hours).sum();
    for c in classes {
        assert_relative_eq!(
            c.coordination_gb,
            coord * c.peer_hours / hours,
            max_relative = CLOSED_FORM_RTOL
        );
    }
}

/// A flash crowd billed as an event: the population a peer sees is the crowd's, not the
/// month's mean diluted by the idle rest of the month, and the tracker is sized for the
/// peak sample.
#[test]
fn issue19_4_an_event_is_coordinated_at_its_own_size() {
    let text = shipped_with(
        "coordination.toml",
        &[(
            "arrival_rate = \"2/s\"",
            "arrival_rate = \"20/s\"\nprofile = \"flash-crowd\"\ndecay_time = \"2 h\"",
        )],
    );
    let sum = summary(&scenario(&text));
    let p = &sum.coordination.as_ref().unwrap().population;
    assert!(p.mean_peers < p.seen_peers && p.seen_peers <= p.peak_peers);
    // The crowd lasts hours of a 30-day month: its mean over the month is tiny.
    assert!(p.seen_peers > 50.0 * p.mean_peers, "{p:?}");
    let tr = &sum.coordination.as_ref().unwrap().designs[0];
    assert!(tr.peak_load_per_s.unwrap() >= p.peak_peers / 1800.0);
}
