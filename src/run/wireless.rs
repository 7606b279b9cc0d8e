//! Run a wireless scenario (`content.kind = "wireless"`): the day's offload, the towers, who
//! pays what per month with and without femtocells, the Shapley split, the give-away question,
//! the hosts' participation and the energy of both architectures. Card: `models/wireless.md`.

use serde::Serialize;

use crate::cost::energy::{kwh, EnergyUse, SI_GB};
use crate::cost::ledger::{Demand, PaymentRule};
use crate::error::MechanismError;
use crate::incentive::equilibrium::Offer;
use crate::incentive::hosting::{BestHostPrice, HostEquilibrium, HostMarket, Reached};
use crate::incentive::plan::{Depth, Plan};
use crate::model::wireless::DAY;
use crate::run::{Bytes, Downloads, Peak, RunOptions, RunRecord, Summary};
use crate::scenario::{Mechanism, Scenario};
use crate::solve::SolveStats;

/// Points of the adoption curve (hosts' share 0, 1/100, …, 1).
pub const ADOPTION_POINTS: usize = 100;

/// `summary.json` → `wireless` (documented in `results/README.md`).
#[derive(Debug, Clone, Serialize)]
pub struct WirelessReport {
    /// Users.
    pub users: f64,
    /// `wireless.hosts`: share of users who may host.
    pub hosts_potential: f64,
    /// Share of would-be hosts who host (1 unless hosts decide).
    pub participation: f64,
    /// Hosts as a share of all users.
    pub hosts: f64,
    /// Hosts (count).
    pub host_count: f64,
    /// How hosts are paid: "none", "per-byte", "discount", "shapley" or "equilibrium".
    pub mechanism: &'static str,
    /// Whether the operator pays for the femtocells.
    pub give_away: bool,
    /// Busy-hour demand of all users, Mbit/s (hour average).
    pub busy_demand_mbps: f64,
    /// Busy-hour macro load with the femtocells, Mbit/s.
    pub busy_macro_mbps: f64,
    /// Towers without femtocells.
    pub towers_macro_only: u64,
    /// Towers with the femtocells.
    pub towers: u64,
    /// Towers the femtocells save.
    pub towers_saved: i64,
    /// Traffic per month of all users, GB (SI).
    pub demand_gb: f64,
    /// Traffic per month the femtocells carry, GB (SI).
    pub femto_gb: f64,
    /// Share of the traffic the femtocells carry.
    pub offload_share: f64,
    /// GB (billing GB) one host's femtocell carries per month.
    pub per_host_gb: f64,
    /// Macro towers' energy per GB they carry without femtocells, kWh/GB (SI).
    pub macro_kwh_per_gb: f64,
    /// Femtocells' energy per GB they carry at the scenario's adoption, kWh/GB (SI); `null`
    /// when nobody hosts.
    pub femtocell_kwh_per_gb: Option<f64>,
    /// Monthly cost rows: `macro_only` and `femtocells`.
    pub costs: Vec<WirelessCost>,
    /// The fluid Shapley split of the operator's savings (towers as a real number).
    pub shapley: ShapleySplit,
    /// The give-away question.
    pub give_away_answer: GiveAway,
    /// Hosts who decide: every equilibrium, the one reached, the operator's best price
    /// (absent when nobody decides).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participation_market: Option<HostsMarket>,
    /// The adoption curve: hosts' share → towers, operator's saving, Shapley value per host.
    pub adoption: Vec<AdoptionPoint>,
}

/// One architecture's month (wireless).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WirelessCost {
    /// `macro_only` or `femtocells`.
    pub architecture: &'static str,
    /// Towers built.
    pub towers: u64,
    /// Towers, $/month.
    pub towers_usd: f64,
    /// Femtocells paid by the operator (give-away), $/month.
    pub devices_usd: f64,
    /// Paid to hosts, $/month.
    pub payments_usd: f64,
    /// The operator's cost: towers + devices + payments, $/month.
    pub operator_usd: f64,
    /// Hosts' private cost, $/month: the femtocells' electricity, or with a cost distribution
    /// the private costs of the would-be hosts who host (those below their benefit).
    pub hosts_electricity_usd: f64,
    /// Value to hosts of the bytes their broadband carries (`peers.cost.upload_value`), $/month.
    pub hosts_backhaul_usd: f64,
    /// Femtocells the hosts buy themselves (no give-away), $/month.
    pub hosts_devices_usd: f64,
    /// Hosts' net cost: electricity + backhaul + devices − payments, $/month.
    pub hosts_usd: f64,
    /// Operator + hosts' net cost, $/month.
    pub social_usd: f64,
    /// Saving vs macro only before payments: (macro − (operator − payments)) / macro.
    pub gross_saving: f64,
    /// Saving vs macro only after payments: (macro − operator) / macro.
    pub net_saving: f64,
    /// Energy per month.
    pub energy: EnergyUse,
}

/// The fluid Shapley split of the savings (per month, whole population).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShapleySplit {
    /// (Ω(0) − Ω(h)) × users: the savings the hosts create (towers as a real number, minus
    /// the femtocells whoever pays for them), $/month.
    pub savings_usd: f64,
    /// The operator's share, $/month.
    pub operator_usd: f64,
    /// All hosts' share, $/month.
    pub hosts_usd: f64,
    /// One host's share, $/month.
    pub per_host_usd: f64,
}

/// Does a free femtocell pay for itself?
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GiveAway {
    /// One femtocell per month (price / lifetime), $.
    pub device_usd: f64,
    /// Towers one more host saves per month at the scenario's adoption (fluid, −dΩ/dh per
    /// user without devices), $.
    pub marginal_tower_saving_usd: f64,
    /// Average tower saving per host at the scenario's adoption (fluid), $/month.
    pub average_tower_saving_usd: f64,
    /// Whether the average saving covers the device at the scenario's adoption (fluid view:
    /// towers as a real number, the Shapley split's view).
    pub pays_at_scenario_adoption: bool,
    /// Whether the whole towers saved at the scenario's adoption cover its femtocells (the
    /// bill's view; false with no hosts). May differ from the fluid view near a tower step.
    pub pays_with_whole_towers: bool,
    /// Smallest hosts' share on the adoption grid where the operator saves more in towers
    /// (whole towers) than free femtocells cost it; `None` if none does.
    pub first_profitable_adoption: Option<f64>,
    /// Hosts' share on the grid with the largest saving net of devices.
    pub best_adoption: f64,
    /// That saving, $/month.
    pub best_saving_usd: f64,
}

/// Hosts who decide (a cost distribution in `[peers.cost]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostsMarket {
    /// Every equilibrium under the scenario's mechanism.
    pub equilibria: Vec<HostEquilibrium>,
    /// The one reached from nobody hosting, with the dynamics' check.
    pub reached: Reached,
    /// The operator's best per-GB price.
    pub best_price: BestHostPrice,
}

/// One point of the adoption curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdoptionPoint {
    /// Hosts' share of users.
    pub hosts: f64,
    /// Towers built.
    pub towers: u64,
    /// Tower saving − femtocells (as if given away) vs macro only, $/month (whole towers).
    pub operator_saving_usd: f64,
    /// The same with towers as a real number, $/month.
    pub operator_saving_fluid_usd: f64,
    /// A host's fluid Shapley value, $/month.
    pub shapley_per_host_usd: f64,
}

fn err(s: &Scenario, source: MechanismError) -> crate::error::RunError {
    crate::error::RunError::Mechanism {
        context: format!("scenario '{}': wireless offload", s.name),
        source,
    }
}

/// The participation and the offer the scenario's mechanism leads to.
fn settle(
    m: &HostMarket<'_>,
    mech: &Mechanism,
    depth: Depth,
) -> Result<(f64, Offer, Option<HostsMarket>), MechanismError> {
    let mut offer = m.offer();
    let best = if matches!(mech, Mechanism::Equilibrium) {
        let b = m.best_price()?;
        offer = Offer::PerByte {
            price: b.price_usd_per_gb,
        };
        Some(b)
    } else {
        None
    };
    let reached = m.reached(&offer)?;
    let q = reached.equilibrium.q;
    let market = if m.decides() && depth == Depth::Report {
        Some(HostsMarket {
            equilibria: m.equilibria(&offer)?,
            reached,
            best_price: match best {
                Some(b) => b,
                None => m.best_price()?,
            },
        })
    } else {
        None
    };
    Ok((q, offer, market))
}

/// The report of a wireless scenario (`depth` = `Outcome` skips the market report and the
/// adoption curve's Shapley values, for sweeps).
pub fn report(s: &Scenario, depth: Depth) -> Result<WirelessReport, MechanismError> {
    let m = HostMarket::new(s)?;
    let w = m.wireless();
    let (q, offer, market) = settle(&m, &s.incentive.mechanism, depth)?;
    let h = w.hosts * q;
    let users = w.offload.users;
    let base = m.day(0.0);
    let day = m.day(h);
    let days = m.days();
    let hours = m.hours();
    let [t0, _, _] = m.operator_parts(&offer, 0.0)?;
    let [towers_usd, devices_usd, payments_usd] = m.operator_parts(&offer, h)?;
    let hosts_n = users * h;
    let per_host_gb = if hosts_n > 0.0 {
        m.per_host_gb(&day)
    } else {
        0.0
    };
    let electricity = m.private_costs_usd(&offer, q)?;
    let backhaul = hosts_n * s.peer_cost.upload_value * per_host_gb;
    let bought = if w.give_away {
        0.0
    } else {
        hosts_n * m.device_month_usd()
    };
    let network = |d: &crate::model::wireless::OffloadDay| {
        d.demand_bytes * days / SI_GB * s.energy.network_kwh_per_gb
    };
    let row = |arch: &'static str,
               towers: u64,
               parts: [f64; 3],
               hosts_parts: [f64; 3],
               energy: EnergyUse| {
        let operator = parts.iter().sum::<f64>();
        let hosts_cost = hosts_parts.iter().sum::<f64>() - parts[2];
        let saving = |c: f64| if t0 > 0.0 { (t0 - c) / t0 } else { 0.0 };
        WirelessCost {
            architecture: arch,
            towers,
            towers_usd: parts[0],
            devices_usd: parts[1],
            payments_usd: parts[2],
            operator_usd: operator,
            hosts_electricity_usd: hosts_parts[0],
            hosts_backhaul_usd: hosts_parts[1],
            hosts_devices_usd: hosts_parts[2],
            hosts_usd: hosts_cost,
            social_usd: operator + hosts_cost,
            gross_saving: saving(operator - parts[2]),
            net_saving: saving(operator),
            energy: energy.finish(&s.energy),
        }
    };
    let costs = vec![
        row(
            "macro_only",
            base.towers,
            [t0, 0.0, 0.0],
            [0.0; 3],
            EnergyUse {
                macro_kwh: kwh(w.tower_power, hours) * base.towers as f64,
                network_kwh: network(&base),
                ..EnergyUse::default()
            },
        ),
        row(
            "femtocells",
            day.towers,
            [towers_usd, devices_usd, payments_usd],
            [electricity, backhaul, bought],
            EnergyUse {
                macro_kwh: kwh(w.tower_power, hours) * day.towers as f64,
                femtocells_kwh: kwh(s.peer_cost.power, hours) * hosts_n,
                network_kwh: network(&day),
                ..EnergyUse::default()
            },
        ),
    ];

    let sh = m.shapley(h)?;
    let shapley = ShapleySplit {
        savings_usd: sh.savings_per_user * users,
        operator_usd: sh.provider_per_user * users,
        hosts_usd: sh.peers_per_user * users,
        per_host_usd: sh.price_per_unit[0],
    };

    let device = m.device_month_usd();
    let tower_per_user = |x: f64| m.towers_per_user_usd(x);
    let step = 1e-4;
    let (lo, hi) = ((h - step).max(0.0), (h + step).min(1.0));
    let marginal = (tower_per_user(lo) - tower_per_user(hi)) / (hi - lo);
    let average = if h > 0.0 {
        (tower_per_user(0.0) - tower_per_user(h)) / h
    } else {
        marginal
    };
    // The question is about a *free* femtocell: its device is counted whoever pays today.
    let devices_at = |x: f64| users * x * device;
    let mut adoption = Vec::with_capacity(ADOPTION_POINTS + 1);
    for i in 0..=ADOPTION_POINTS {
        let x = i as f64 / ADOPTION_POINTS as f64;
        let d = m.day(x);
        let shapley_per_host = if depth == Depth::Report {
            m.shapley(x)?.price_per_unit[0]
        } else {
            f64::NAN
        };
        adoption.push(AdoptionPoint {
            hosts: x,
            towers: d.towers,
            operator_saving_usd: m.tower_month_usd() * (base.towers as f64 - d.towers as f64)
                - devices_at(x),
            operator_saving_fluid_usd: m.tower_month_usd() * (base.towers_fluid - d.towers_fluid)
                - devices_at(x),
            shapley_per_host_usd: shapley_per_host,
        });
    }
    // The first of equal savings: the smallest adoption that reaches the best.
    let best = adoption.iter().fold((0.0, 0.0), |b, p| {
        if p.operator_saving_usd > b.1 {
            (p.hosts, p.operator_saving_usd)
        } else {
            b
        }
    });
    let whole_saving = m.tower_month_usd() * (base.towers as f64 - day.towers as f64);
    let give_away_answer = GiveAway {
        device_usd: device,
        marginal_tower_saving_usd: marginal,
        average_tower_saving_usd: average,
        pays_at_scenario_adoption: average >= device,
        pays_with_whole_towers: whole_saving >= devices_at(h) && h > 0.0,
        first_profitable_adoption: adoption
            .iter()
            .find(|p| p.hosts > 0.0 && p.operator_saving_usd > 0.0)
            .map(|p| p.hosts),
        best_adoption: best.0,
        best_saving_usd: best.1,
    };
    Ok(WirelessReport {
        users,
        hosts_potential: w.hosts,
        participation: q,
        hosts: h,
        host_count: hosts_n,
        mechanism: s.incentive.mechanism.label(),
        give_away: w.give_away,
        busy_demand_mbps: day.busy_demand_bps / 1e6,
        busy_macro_mbps: day.busy_macro_bps / 1e6,
        towers_macro_only: base.towers,
        towers: day.towers,
        towers_saved: base.towers as i64 - day.towers as i64,
        demand_gb: day.demand_bytes * days / SI_GB,
        femto_gb: day.femto_bytes * days / SI_GB,
        offload_share: if day.demand_bytes > 0.0 {
            day.femto_bytes / day.demand_bytes
        } else {
            0.0
        },
        per_host_gb,
        macro_kwh_per_gb: costs[0].energy.macro_kwh / (base.macro_bytes * days / SI_GB),
        femtocell_kwh_per_gb: (day.femto_bytes > 0.0)
            .then(|| costs[1].energy.femtocells_kwh / (day.femto_bytes * days / SI_GB)),
        costs,
        shapley,
        give_away_answer,
        participation_market: market,
        adoption,
    })
}

/// The time-series columns of a wireless run, in order.
pub const COLUMNS: [&str; 4] = ["t", "demand_rate", "macro_rate", "femto_rate"];

/// `peerfluid run` / `compare` on a wireless scenario: one day at `opts.points` intervals.
pub fn run_wireless(s: &Scenario, opts: &RunOptions) -> Result<RunRecord, crate::error::RunError> {
    let rep = report(s, opts.incentive).map_err(|e| err(s, e))?;
    let m = HostMarket::new(s).map_err(|e| err(s, e))?;
    let w = m.wireless();
    let n = opts.points.max(1);
    let mut rows = Vec::with_capacity(n + 1);
    let mut peak = Peak {
        leechers: 0.0,
        leechers_at_s: 0.0,
        server_rate_bps: 0.0,
        peer_rate_bps: 0.0,
    };
    for i in 0..=n {
        let t = DAY * i as f64 / n as f64;
        let (d, f, mac) = w.offload.rates(m.profile(), rep.hosts, t);
        peak.server_rate_bps = peak.server_rate_bps.max(mac);
        peak.peer_rate_bps = peak.peer_rate_bps.max(f);
        rows.push(vec![t, d, mac, f]);
    }
    let day = m.day(rep.hosts);
    let summary = Summary {
        scenario: s.name.clone(),
        description: s.description.clone(),
        source: s.source.clone(),
        version: env!("CARGO_PKG_VERSION"),
        model: "wireless-offload",
        horizon_s: DAY,
        horizon_basis: "one day of the daily demand cycle (costs per billing month)".into(),
        arrival_profile: "diurnal",
        flash_crowd_bound_s: None,
        steady_state: None,
        bytes: Bytes {
            server: day.macro_bytes,
            peers: day.femto_bytes,
            peer_share: rep.offload_share,
        },
        downloads: Downloads {
            arrived: 0.0,
            completed: 0.0,
            aborted: 0.0,
            in_progress: 0.0,
            conservation_residual: 0.0,
        },
        peak,
        classes: Vec::new(),
        solver: SolveStats {
            method: "quadrature",
            ..SolveStats::default()
        },
        costs: None,
        peer_classes: None,
        coordination: None,
        incentive: None,
        billing: None,
        video: None,
        locality: None,
        push: None,
        wireless: Some(rep),
        validity: None,
        stochastic_check: None,
        verdict: None,
        inputs: Default::default(),
    };
    Ok(RunRecord {
        demand: Demand {
            t: vec![0.0, DAY],
            server_bps: vec![0.0; 2],
            served_bps: vec![0.0; 2],
            server_bytes: vec![0.0, day.macro_bytes],
            peer_bytes: vec![0.0, day.femto_bytes],
            peer_seconds: vec![0.0; 2],
            classes: Vec::new(),
            payments: PaymentRule::default(),
        },
        columns: COLUMNS.iter().map(|c| c.to_string()).collect(),
        rows,
        summary,
        plan: Plan {
            names: Vec::new(),
            participation: Vec::new(),
            per_gb_uploaded: 0.0,
            per_download: 0.0,
            per_gb_offered: Vec::new(),
            report: None,
        },
    })
}
