//! One sweep point: the scenario of the point → its row of `sweep.csv`.
//!
//! `steady` points use the closed-form steady state at the reference arrival rate and bill one
//! month at its constant rates through the same code as `compare` (`cost::basis::steady_month`:
//! a constant pattern recurs, so the bills are the same; the 95th percentile is the rate
//! itself); points whose billing rule is not the steady state run whole. `run` points go
//! through `compare` whole (integrate the horizon, bill it by the scenario's billing rule). A point where the model has no answer (no steady state,
//! several steady states in `steady` mode, a failed solve) keeps its row: `status` says why and
//! the outputs are empty.

use std::fmt::Write as _;

use crate::cost::basis;
use crate::cost::coordination::CoordinationReport;
use crate::cost::ledger::{self, CostBreakdown};
use crate::incentive::plan::{plan_with, Depth, Plan};
use crate::model::locality::{locality_report, transit_comparison, LocalityReport, Selection};
use crate::model::swarm::swarm_of;
use crate::run::{compare_scenario, steady_demand, RunOptions};
use crate::scenario::Scenario;

use super::spec::{Evaluate, SweepSpec, Value};

/// Output columns after the parameters and `status`: name, unit, meaning.
pub const OUTPUTS: [(&str, &str, &str); 50] = [
    (
        "regime",
        "",
        "download-limited or upload-limited (steady state at the reference rate); live and VoD: surplus, balanced or deficit",
    ),
    ("leechers", "peers", "steady leechers, all classes; live and VoD: viewers at the reference rate (λT)"),
    ("seeds", "peers", "steady seeds, all classes; empty for live and VoD"),
    (
        "download_time_s",
        "s",
        "mean time in the swarm of a downloader (Little's law); live and VoD: the watch time",
    ),
    (
        "server_rate_bps",
        "bit/s",
        "server upload in use at the steady state; live and VoD: at the peak audience",
    ),
    (
        "peer_rate_bps",
        "bit/s",
        "peers' upload in use at the steady state; live and VoD: at the peak audience",
    ),
    (
        "peer_share",
        "",
        "share of the delivered bytes that peers upload (0-1)",
    ),
    (
        "participation",
        "",
        "share of arrivals who share their upload (0-1; 1 when nobody decides)",
    ),
    ("price_per_gb", "$/GB", "paid per GB uploaded by sharers"),
    (
        "per_download_usd",
        "$",
        "paid per download started by a sharer (discount)",
    ),
    (
        "payments_usd",
        "$/month",
        "paid to peers per month (p2p and hybrid)",
    ),
    (
        "peers_net_usd",
        "$/month",
        "peers' energy + upload value - income per month (negative: they gain)",
    ),
    (
        "client_server.provider_usd",
        "$/month",
        "provider's bill, origin serves every byte",
    ),
    (
        "cdn.provider_usd",
        "$/month",
        "provider's bill, CDN serves every byte",
    ),
    (
        "p2p.provider_usd",
        "$/month",
        "provider's bill with peer assistance (incl. payments, tracker)",
    ),
    (
        "hybrid.provider_usd",
        "$/month",
        "provider's bill, CDN for the residual + peers",
    ),
    (
        "cdn.gross_saving",
        "",
        "saving vs client-server before paying peers (fraction)",
    ),
    (
        "cdn.net_saving",
        "",
        "saving vs client-server after paying peers (fraction)",
    ),
    ("p2p.gross_saving", "", "as above for p2p"),
    ("p2p.net_saving", "", "as above for p2p"),
    ("hybrid.gross_saving", "", "as above for hybrid"),
    ("hybrid.net_saving", "", "as above for hybrid"),
    (
        "p2p.net_saving_vs_cdn",
        "",
        "p2p saving vs the CDN after payments (fraction)",
    ),
    (
        "hybrid.net_saving_vs_cdn",
        "",
        "hybrid saving vs the CDN after payments (fraction)",
    ),
    (
        "p2p.social_usd",
        "$/month",
        "provider + peers' net cost with p2p",
    ),
    ("client_server.kwh", "kWh/month", "energy, origin serves every byte"),
    ("cdn.kwh", "kWh/month", "energy, CDN serves every byte"),
    ("p2p.kwh", "kWh/month", "energy with peer assistance (incl. peers' devices)"),
    ("hybrid.kwh", "kWh/month", "energy, CDN for the residual + peers"),
    ("p2p.co2_kg", "kg/month", "CO2 of p2p's energy"),
    ("wireless.hosting_share", "", "wireless: hosts as a share of users (after their decisions)"),
    ("wireless.towers", "towers", "wireless: towers built with the femtocells"),
    ("wireless.towers_saved", "towers", "wireless: towers the femtocells save"),
    ("wireless.operator_usd", "$/month", "wireless: operator's cost with femtocells (towers + devices + payments)"),
    ("wireless.macro_only_usd", "$/month", "wireless: operator's cost without femtocells"),
    ("wireless.gross_saving", "", "wireless: saving vs macro only before payments (fraction)"),
    ("wireless.net_saving", "", "wireless: saving vs macro only after payments (fraction)"),
    ("wireless.kwh", "kWh/month", "wireless: energy with femtocells (towers, femtocells, network)"),
    ("locality.download_time_random_s", "s", "with [[isp]]: mean download time under random peer selection (steady state with the transit links)"),
    ("locality.download_time_locality_s", "s", "with [[isp]]: the same under locality-optimal selection"),
    ("locality.speed_up", "", "with [[isp]]: random / locality-optimal mean download time - 1"),
    ("locality.inter_isp_random_bps", "bit/s", "with [[isp]]: inter-ISP bytes under random selection"),
    ("locality.inter_isp_locality_bps", "bit/s", "with [[isp]]: inter-ISP bytes under locality-optimal selection"),
    ("coordination.tracker_usd", "$/month", "[coordination]: tracker servers + value of the peers' announce bytes"),
    ("coordination.dht_usd", "$/month", "[coordination]: value of the peers' DHT bytes"),
    ("coordination.flood_usd", "$/month", "[coordination]: value of the peers' flooded queries"),
    ("coordination.tracker_gb", "GB/month", "[coordination]: GB peers send to the tracker"),
    ("coordination.dht_gb", "GB/month", "[coordination]: GB peers send for the DHT"),
    ("coordination.flood_gb", "GB/month", "[coordination]: GB peers send flooding queries"),
    ("coordination.flood_reach", "", "[coordination]: share of the overlay one flooded query reaches (0-1)"),
];

/// Where the groups of [`OUTPUTS`] start (after `regime`): swarm figures, bills, energy,
/// wireless, ISP locality.
const BILLS_AT: usize = 9;
const ENERGY_AT: usize = 24;
const WIRELESS_AT: usize = 29;
const LOCALITY_AT: usize = 37;
const COORDINATION_AT: usize = 42;

/// The output columns a sweep of `base` over the swept `keys` writes, as indices into
/// [`OUTPUTS`] in order: every column but those no point can fill, decided from the base's kind
/// and sections and the keys alone (never from computed rows), so that every shard, resume and
/// merge of one spec has the same header.
///
/// * wireless: `regime`, `peer_share`, `participation`, `payments_usd`, `peers_net_usd` and
///   the `wireless.*` columns (a point of another kind has none of these);
/// * live and VoD: all but `seeds`, the `wireless.*` and `locality.*` columns;
/// * file swarms: all but the `wireless.*` columns, and the `locality.*` ones unless the base
///   has `[[isp]]` (or a swept key is under `isp.`);
/// * `coordination.*` only when the base has `[coordination]` or a swept key is under it (a
///   swept key can add the table).
pub fn kept_outputs(base: &Scenario, keys: &[&str]) -> Vec<usize> {
    use crate::scenario::ContentKind;
    let swept_under = |table: &str| {
        keys.iter()
            .any(|k| k.strip_prefix(table).is_some_and(|r| r.starts_with('.')))
    };
    // Indices in OUTPUTS are those of `Outputs::numbers` plus one (`regime` comes first).
    let wireless = (WIRELESS_AT + 1)..(LOCALITY_AT + 1);
    let locality = (LOCALITY_AT + 1)..(COORDINATION_AT + 1);
    let coordination = (COORDINATION_AT + 1)..OUTPUTS.len();
    const SEEDS: usize = 2;
    if matches!(base.content.kind, ContentKind::Wireless(_)) {
        const SHARED: [usize; 5] = [0, 6, 7, 10, 11];
        return SHARED.into_iter().chain(wireless).collect();
    }
    let stream = base.content.kind.stream().is_some();
    let has_locality = !stream && (!base.isps.is_empty() || swept_under("isp"));
    let has_coordination = base.coordination.is_some() || swept_under("coordination");
    (0..OUTPUTS.len())
        .filter(|i| !(stream && *i == SEEDS))
        .filter(|i| !wireless.contains(i))
        .filter(|i| has_locality || !locality.contains(i))
        .filter(|i| has_coordination || !coordination.contains(i))
        .collect()
}

/// The CSV header line (no newline).
pub fn header(spec: &SweepSpec) -> String {
    let mut h = String::from("point");
    for p in &spec.parameters {
        h.push(',');
        h.push_str(&csv_field(&p.key));
    }
    h.push_str(",status");
    for (name, _, _) in spec.outputs() {
        h.push(',');
        h.push_str(name);
    }
    h
}

/// The outputs of one point, in [`OUTPUTS`] order.
pub struct Outputs {
    regime: &'static str,
    numbers: [f64; OUTPUTS.len() - 1],
}

impl Outputs {
    /// The cell of output column `k` (an index into [`OUTPUTS`], as
    /// [`SweepSpec::kept_outputs`] lists them): `Err` holds the text of `regime` (k = 0),
    /// `Ok` a number; a number the point does not have is NaN (an empty cell in the CSV).
    pub fn cell(&self, k: usize) -> Result<f64, &'static str> {
        match k {
            0 => Err(self.regime),
            _ => Ok(self.numbers[k - 1]).map(|x| if x.is_finite() { x } else { f64::NAN }),
        }
    }
}

/// Evaluate point `i`: the values it gives the parameters, and its outputs or why it has none
/// (the `status` after `error: `).
pub fn point(spec: &SweepSpec, i: u64) -> (Vec<Value>, Result<Outputs, String>) {
    match spec.scenario(i) {
        Ok((values, s)) => {
            let r = evaluate(&s, spec.evaluate);
            (values, r)
        }
        Err(e) => (spec.point(i), Err(e.to_string())),
    }
}

/// Evaluate point `i` and write its CSV line (with the newline) to `out`.
pub fn row(spec: &SweepSpec, i: u64, out: &mut String) {
    let (values, result) = point(spec, i);
    write_row(out, i, &values, &result, spec.kept_outputs());
}

/// Write one CSV line with the output columns `kept` (indices into [`OUTPUTS`], as
/// [`kept_outputs`] gives them).
pub fn write_row(
    out: &mut String,
    i: u64,
    values: &[Value],
    result: &Result<Outputs, String>,
    kept: &[usize],
) {
    let mut f = ryu::Buffer::new();
    let _ = write!(out, "{i}");
    for v in values {
        out.push(',');
        out.push_str(f.format(v.number));
    }
    match result {
        Ok(o) => {
            let _ = write!(out, ",ok");
            for &k in kept {
                out.push(',');
                if k == 0 {
                    out.push_str(o.regime);
                    continue;
                }
                let x = o.numbers[k - 1];
                // A value the point does not have (no steady state) is an empty cell.
                if x.is_finite() {
                    out.push_str(f.format(x));
                }
            }
        }
        Err(msg) => {
            out.push(',');
            out.push_str(&csv_field(&format!("error: {msg}")));
            for _ in kept {
                out.push(',');
            }
        }
    }
    out.push('\n');
}

/// Quote a CSV field when it needs it (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Output intervals of a `run` point's solve: one (a row reads only end values and bills).
pub const ROW_POINTS: usize = 1;

/// The outputs of a validated scenario.
pub fn evaluate(s: &Scenario, how: Evaluate) -> Result<Outputs, String> {
    if s.content.kind.wireless().is_some() {
        return wireless(s);
    }
    match how {
        // Live and VoD have no swarm steady state to bill: their points run whole; so do
        // events and diurnal patterns, which are billed from their time series (the same bill
        // as `compare`).
        Evaluate::Steady if s.content.kind.stream().is_some() => run(s),
        Evaluate::Steady if !bills_at_steady_state(s) => run(s),
        Evaluate::Steady => steady(s),
        Evaluate::Run => run(s),
    }
}

/// Whether `compare` bills this scenario at its closed-form steady state (a recurring
/// constant pattern whose warm-up is not billed).
fn bills_at_steady_state(s: &Scenario) -> bool {
    matches!(
        s.billing_rule().0,
        crate::scenario::BillingRule::Recurring {
            include_warmup: false
        }
    ) && matches!(
        s.demand.arrival,
        crate::model::ArrivalProfile::Constant { .. }
    )
}

/// A wireless point (both modes: the report is closed forms and quadrature): its participation
/// and the wireless columns; the swarm and bill columns stay empty.
fn wireless(s: &Scenario) -> Result<Outputs, String> {
    let r = crate::run::wireless::report(s, Depth::Outcome).map_err(|e| e.to_string())?;
    let (base, with) = (&r.costs[0], &r.costs[1]);
    let mut numbers = [f64::NAN; OUTPUTS.len() - 1];
    numbers[5] = r.offload_share;
    numbers[6] = r.participation;
    numbers[9] = with.payments_usd;
    numbers[10] = with.hosts_usd;
    numbers[WIRELESS_AT..LOCALITY_AT].copy_from_slice(&[
        r.hosts,
        r.towers as f64,
        r.towers_saved as f64,
        with.operator_usd,
        base.operator_usd,
        with.gross_saving,
        with.net_saving,
        with.energy.total_kwh,
    ]);
    Ok(Outputs {
        regime: "wireless",
        numbers,
    })
}

fn participation(s: &Scenario, plan: &Plan) -> f64 {
    s.classes
        .iter()
        .zip(&plan.participation)
        .map(|(c, q)| c.share * q)
        .sum()
}

fn steady(s: &Scenario) -> Result<Outputs, String> {
    let plan = plan_with(s, Depth::Outcome).map_err(|e| e.to_string())?;
    let split = s.with_participation(&plan.participation);
    let model = swarm_of(&split);
    let (rate, _) = split.demand.arrival.reference_rate();
    let list = model.steady_states(rate)?;
    let ss = match list.as_slice() {
        [one] => one,
        [] => return Err("no steady state".into()),
        // Which one the swarm reaches depends on its start: integrate.
        _ => return run(s),
    };
    let demand = steady_demand(&split, &model, ss, &plan);
    let billed = basis::steady_month(&split, &demand, None).map_err(|e| e.to_string())?;
    let served_files = ss.server + ss.peer;
    let costs = ledger::compare(&split, &billed);
    let coordination = ledger::coordination_report(&split, &billed);
    let report = locality_report(s, &plan.participation).map_err(|e| e.to_string())?;
    Ok(with_locality(
        report.as_ref(),
        outputs(
            ss.regime.label(),
            [
                ss.leechers.iter().sum(),
                ss.seeds.iter().sum(),
                ss.mean_download_time(),
                ss.server * model.file_bits,
                ss.peer * model.file_bits,
                if served_files > 0.0 {
                    ss.peer / served_files
                } else {
                    0.0
                },
                participation(s, &plan),
                plan.per_gb_uploaded,
                plan.per_download,
            ],
            &costs,
            coordination.as_ref(),
        ),
    ))
}

fn run(s: &Scenario) -> Result<Outputs, String> {
    // A row needs no time series: one output interval (the exact method's cost does not
    // depend on it, and bills come from the billing grid or the steady state), so a row agrees
    // with `compare` to rounding (1e-12), not bit for bit.
    let opts = RunOptions {
        points: ROW_POINTS,
        incentive: Depth::Outcome,
        ..RunOptions::default()
    };
    let rec = compare_scenario(s, &opts).map_err(|e| crate::error::Chain(&e).to_string())?;
    let plan = &rec.plan;
    let sum = &rec.summary;
    let ss = sum.steady_state.as_ref();
    if let Some(v) = &sum.video {
        // Live and VoD: the audience at the reference rate and the rates at the peak.
        let costs = bills(sum)?;
        return Ok(outputs(
            v.mode,
            [
                v.steady_viewers,
                f64::NAN,
                v.watch_time_s,
                v.server_rate_at_peak_bps,
                v.peer_rate_at_peak_bps,
                sum.bytes.peer_share,
                participation(s, plan),
                plan.per_gb_uploaded,
                plan.per_download,
            ],
            &costs,
            sum.coordination.as_ref(),
        ));
    }
    let costs = bills(sum)?;
    Ok(with_locality(
        sum.locality.as_ref(),
        outputs(
            ss.map_or("none", |s| s.regime),
            [
                ss.map_or(f64::NAN, |s| s.leechers),
                ss.map_or(f64::NAN, |s| s.seeds),
                ss.map_or(f64::NAN, |s| s.download_time_s),
                ss.map_or(f64::NAN, |s| s.server_rate_bps),
                ss.map_or(f64::NAN, |s| s.peer_rate_bps),
                sum.bytes.peer_share,
                participation(s, plan),
                plan.per_gb_uploaded,
                plan.per_download,
            ],
            &costs,
            sum.coordination.as_ref(),
        ),
    ))
}

/// Fill the ISP locality columns from the report (random against locality-optimal; empty
/// without `[[isp]]` or when either has no steady state).
fn with_locality(report: Option<&LocalityReport>, mut o: Outputs) -> Outputs {
    let Some(l) = report else { return o };
    let find = |sel: Selection| l.selections.iter().find(|st| st.selection == sel);
    if let (Some(a), Some(b)) = (find(Selection::Random), find(Selection::LocalityOptimal)) {
        let c = transit_comparison(a, b);
        o.numbers[LOCALITY_AT..COORDINATION_AT].copy_from_slice(&[
            c.mean_download_time_random_s,
            c.mean_download_time_locality_s,
            c.speed_up,
            c.inter_isp_rate_random * l.file_bits,
            c.inter_isp_rate_locality * l.file_bits,
        ]);
    }
    o
}

/// The four bills of a compared run, in column order.
fn bills(sum: &crate::run::Summary) -> Result<Vec<CostBreakdown>, String> {
    let costs: Vec<CostBreakdown> = sum
        .costs
        .as_ref()
        .map(|m| {
            ["client_server", "cdn", "p2p", "hybrid"]
                .iter()
                .filter_map(|k| m.get(k).cloned())
                .collect()
        })
        .unwrap_or_default();
    if costs.len() == 4 {
        Ok(costs)
    } else {
        Err("the run gave no costs".into())
    }
}

/// Assemble the row from the swarm figures and the four bills (client-server, CDN, p2p, hybrid).
fn outputs(
    regime: &'static str,
    swarm: [f64; 9],
    c: &[CostBreakdown],
    coordination: Option<&CoordinationReport>,
) -> Outputs {
    let (cs, cdn, p2p, hy) = (&c[0], &c[1], &c[2], &c[3]);
    let mut numbers = [f64::NAN; OUTPUTS.len() - 1];
    numbers[..BILLS_AT].copy_from_slice(&swarm);
    numbers[ENERGY_AT..WIRELESS_AT].copy_from_slice(&[
        cs.energy.total_kwh,
        cdn.energy.total_kwh,
        p2p.energy.total_kwh,
        hy.energy.total_kwh,
        p2p.energy.co2_kg,
    ]);
    numbers[BILLS_AT..ENERGY_AT].copy_from_slice(&[
        p2p.payments_usd,
        p2p.peers_usd,
        cs.provider_usd,
        cdn.provider_usd,
        p2p.provider_usd,
        hy.provider_usd,
        cdn.gross_saving,
        cdn.net_saving,
        p2p.gross_saving,
        p2p.net_saving,
        hy.gross_saving,
        hy.net_saving,
        p2p.net_saving_vs_cdn,
        hy.net_saving_vs_cdn,
        p2p.social_usd,
    ]);
    if let Some(r) = coordination {
        // Designs in report order: tracker, dht, flood.
        for (i, d) in r.designs.iter().enumerate().take(3) {
            numbers[COORDINATION_AT + i] = d.total_usd;
            numbers[COORDINATION_AT + 3 + i] = d.peer_gb;
            if let Some(share) = d.reach_share {
                numbers[COORDINATION_AT + 6] = share;
            }
        }
    }
    Outputs { regime, numbers }
}
