//! Monthly bills of the four delivery architectures for the same demand, and who pays what.
//!
//! A run's [`Demand`] (exact running totals on the billing grid) becomes billed months by the
//! scenario's billing rule ([`super::basis`]); each month is priced by four [`CostModel`]s that
//! deliver the same downloads at the same service: client-server (an origin provisioned for the
//! peak), CDN, peer-assisted (origin = the scenario's transit or CDN) and hybrid (CDN for the
//! residual). The reported figure is the monthly bill (the average when an event spans several
//! months). Card: `models/costs.md`.

use serde::Serialize;

use super::basis::{Billed, Month};
use super::coordination::{self, CoordinationReport, Population};
use super::energy::{energy_cost, kwh, EnergyUse, SI_GB};
use super::tiers::GB;
use crate::scenario::{Origin, Scenario};
use crate::units::{Bytes, Seconds, Usd};

/// What a run delivered: running totals on a uniform grid (the billing grid: sample
/// boundaries), and the instantaneous rates at the grid's instants.
#[derive(Debug, Clone)]
pub struct Demand {
    /// Output times, s.
    pub t: Vec<Seconds>,
    /// Rate the origin sends in the peer-assisted case, bit/s.
    pub server_bps: Vec<f64>,
    /// Total delivery rate (server + peers) = what an origin alone would send, bit/s.
    pub served_bps: Vec<f64>,
    /// Cumulative bytes from the server at each output time.
    pub server_bytes: Vec<Bytes>,
    /// Cumulative bytes from peers at each output time.
    pub peer_bytes: Vec<Bytes>,
    /// Cumulative peer-seconds online (leeching + seeding), all classes.
    pub peer_seconds: Vec<f64>,
    /// Per class: name, cumulative seconds online, and cumulative upload capacity offered
    /// (bits: upload × (η ∫x + ∫y)), on the output grid.
    pub classes: Vec<ClassDemand>,
    /// How peers are paid (resolved from the mechanism by `run`).
    pub payments: PaymentRule,
}

/// How sharing peers are paid: per GB uploaded and per download (a discount); the Shapley
/// mechanism's price per GB of capacity offered is per class ([`ClassDemand`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PaymentRule {
    /// $ per GB uploaded.
    pub per_gb_uploaded: f64,
    /// $ per download started by a sharing peer.
    pub per_download: f64,
}

/// One peer class's running totals.
#[derive(Debug, Clone)]
pub struct ClassDemand {
    /// Class name.
    pub name: String,
    /// Cumulative peer-seconds online (leeching + seeding).
    pub online_seconds: Vec<f64>,
    /// Cumulative upload capacity offered, bits.
    pub capacity_bits: Vec<f64>,
    /// Cumulative downloads started (arrivals) of the class.
    pub downloads: Vec<f64>,
    /// Whether the class's peers share (upload); peers who opted out are paid nothing.
    pub shares: bool,
    /// $ per GB of upload capacity offered (the Shapley mechanism pays for what a peer
    /// brings); 0 otherwise.
    pub price_per_gb_offered: f64,
}

/// A peer class's monthly ledger in an architecture where peers upload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassLedger {
    /// Class name.
    pub name: String,
    /// GB per month the class uploads (its share of the peers' bytes, in proportion to the
    /// upload capacity it offers: peers' upload is pooled).
    pub upload_gb: f64,
    /// Peer-hours per month online.
    pub peer_hours: f64,
    /// Energy cost, $/month.
    pub energy_usd: Usd,
    /// Value of the upload (content and coordination) to the class, $/month.
    pub upload_value_usd: Usd,
    /// Income (payments), $/month.
    pub income_usd: Usd,
    /// GB per month the class sends for coordination (`[coordination]`; its share of the
    /// peers' coordination bytes in proportion to its online hours).
    pub coordination_gb: f64,
    /// Net: income − energy − upload value, $/month (positive: the class gains).
    pub net_usd: Usd,
}

/// One architecture's average monthly bill and its parts (US dollars per month).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostBreakdown {
    /// `client_server`, `cdn`, `p2p` or `hybrid`.
    pub architecture: &'static str,
    /// Everything the provider pays (transit + egress + capacity + CDN + payments + tracker).
    pub provider_usd: Usd,
    /// Burstable transit (95th percentile).
    pub transit_usd: Usd,
    /// Per-GB egress fee on origin traffic.
    pub egress_usd: Usd,
    /// Server capacity provisioned for the peak.
    pub capacity_usd: Usd,
    /// CDN bill.
    pub cdn_usd: Usd,
    /// Paid to peers (incentive).
    pub payments_usd: Usd,
    /// Coordination: `pricing.tracker` × peer-hours, or the tracker servers of
    /// `[coordination]` (0 for a DHT or flooding).
    pub tracker_usd: Usd,
    /// Peers' own costs (energy + value of their upload, coordination bytes included).
    pub peers_cost_usd: Usd,
    /// Peers' income (= payments).
    pub peers_income_usd: Usd,
    /// Peers' net cost (cost − income; negative = they gain).
    pub peers_usd: Usd,
    /// Social cost = provider + peers' net cost (payments cancel).
    pub social_usd: Usd,
    /// GB per month the origin (or CDN) sends.
    pub origin_gb: f64,
    /// GB per month peers upload over their access links (the ISPs' view): content plus
    /// `coordination_gb`.
    pub isp_uplink_gb: f64,
    /// GB per month peers send to coordinate (`[coordination]`: announces, DHT messages or
    /// flooded queries; 0 without it).
    pub coordination_gb: f64,
    /// Saving before paying peers, vs client-server: (CS − (provider − payments)) / CS.
    pub gross_saving: f64,
    /// Saving after paying peers, vs client-server: (CS − provider) / CS.
    pub net_saving: f64,
    /// Gross saving vs the CDN.
    pub gross_saving_vs_cdn: f64,
    /// Net saving vs the CDN.
    pub net_saving_vs_cdn: f64,
    /// Energy per month and its parts (`models/energy.md`).
    pub energy: EnergyUse,
}

/// A delivery architecture's pricing.
pub trait CostModel {
    /// Name in outputs.
    fn name(&self) -> &'static str;
    /// Bill for one billed month's quantities (`cost::basis`).
    fn bill(&self, s: &Scenario, m: &MonthView) -> Bill;
    /// Whether peers upload (and so bear costs) in this architecture.
    fn uses_peers(&self) -> bool {
        false
    }
}

/// One month's quantities as the cost models see them.
pub struct MonthView {
    /// GB the peers upload.
    pub peer_gb: f64,
    /// GB the origin sends in the peer-assisted case.
    pub server_gb: f64,
    /// GB delivered in all.
    pub served_gb: f64,
    /// Peer-hours online.
    pub peer_hours: f64,
    /// 95th-percentile rate of the origin alone / the peer-assisted origin, Mbps.
    pub served_p95_mbps: f64,
    /// As above for the peer-assisted origin.
    pub server_p95_mbps: f64,
    /// Peak rates, Mbps.
    pub served_peak_mbps: f64,
    /// Peak of the peer-assisted origin, Mbps.
    pub server_peak_mbps: f64,
    /// What the peers are paid (all classes).
    pub payments: Usd,
    /// The month's population (for `[coordination]`).
    pub population: Population,
}

/// The provider's bill for one month, by part.
#[derive(Debug, Clone, Default)]
pub struct Bill {
    transit: Usd,
    egress: Usd,
    capacity: Usd,
    cdn: Usd,
    payments: Usd,
    tracker: Usd,
    origin_gb: f64,
    uplink_gb: f64,
    coordination_gb: f64,
}

/// The origin capacity provisioned to send a peak of `peak_mbps`: `pricing.headroom` × the
/// peak, Mbps. Every architecture's origin is sized by what it must send (the peer-assisted
/// origin by its own peak, at most the scenario's server), so none pays for idle capacity.
pub fn provisioned_mbps(s: &Scenario, peak_mbps: f64) -> f64 {
    s.pricing.headroom * peak_mbps
}

fn transit_bill(s: &Scenario, gb: f64, p95: f64, peak: f64) -> Bill {
    Bill {
        transit: s.pricing.transit * p95,
        egress: s.pricing.egress * gb,
        capacity: s.pricing.capacity * provisioned_mbps(s, peak),
        origin_gb: gb,
        ..Bill::default()
    }
}

/// The monthly cost of an origin sending a constant `bps` (a steady state): transit on the
/// rate, egress on its volume, headroom × the rate of capacity; or the CDN's bill for the
/// volume when the origin is a CDN. The incentive market prices its equal-service baseline
/// with this.
pub fn steady_origin_usd(s: &Scenario, bps: f64) -> Usd {
    let mbps = bps / 1e6;
    let gb = bps / 8.0 * s.pricing.billing_month / GB;
    origin_usd(s, gb, mbps, mbps)
}

/// What the peer-assisted origin (transit or CDN, as the scenario says) costs for a month's
/// volume `gb`, 95th-percentile rate and peak rate (Mbps), before payments and tracker.
pub fn origin_usd(s: &Scenario, gb: f64, p95_mbps: f64, peak_mbps: f64) -> Usd {
    let b = origin_bill(s, gb, p95_mbps, peak_mbps);
    b.transit + b.egress + b.capacity + b.cdn
}

fn origin_bill(s: &Scenario, gb: f64, p95_mbps: f64, peak_mbps: f64) -> Bill {
    match s.pricing.origin {
        Origin::Transit => transit_bill(s, gb, p95_mbps, peak_mbps),
        Origin::Cdn => Bill {
            cdn: s.pricing.cdn.cost(gb),
            origin_gb: gb,
            ..Bill::default()
        },
    }
}

fn peer_extras(s: &Scenario, m: &MonthView, mut b: Bill) -> Bill {
    b.payments = m.payments;
    match &s.coordination {
        Some(c) => {
            let d = c.model(c.kind).month(&m.population, s.pricing.headroom);
            b.tracker = d.provider_usd;
            b.coordination_gb = d.peer_gb;
        }
        None => b.tracker = s.pricing.tracker_per_peer_hour * m.peer_hours,
    }
    b.uplink_gb = m.peer_gb + b.coordination_gb;
    b
}

/// GB the peers send to coordinate in month `m` (0 without `[coordination]`).
fn coordination_gb(s: &Scenario, m: &Month) -> f64 {
    s.coordination.as_ref().map_or(0.0, |c| {
        c.model(c.kind)
            .month(&m.population(s.pricing.billing_month), s.pricing.headroom)
            .peer_gb
    })
}

/// `compare`'s coordination block: every design priced on the billed months' populations
/// (`None` without `[coordination]`).
pub fn coordination_report(s: &Scenario, b: &Billed) -> Option<CoordinationReport> {
    let c = s.coordination.as_ref()?;
    let months: Vec<Population> = b
        .months
        .iter()
        .map(|m| m.population(s.pricing.billing_month))
        .collect();
    Some(coordination::report(
        c,
        &months,
        s.pricing.headroom,
        s.peer_cost.upload_value,
    ))
}

/// The origin serves every byte.
pub struct ClientServer;
/// A CDN serves every byte.
pub struct Cdn;
/// Peers serve what they can; the scenario's origin (transit or CDN) the rest; peers are paid.
pub struct PeerAssisted;
/// Peers serve what they can; a CDN the rest (NetSession-like); peers are paid.
pub struct Hybrid;

impl CostModel for ClientServer {
    fn name(&self) -> &'static str {
        "client_server"
    }
    fn bill(&self, s: &Scenario, m: &MonthView) -> Bill {
        transit_bill(s, m.served_gb, m.served_p95_mbps, m.served_peak_mbps)
    }
}

impl CostModel for Cdn {
    fn name(&self) -> &'static str {
        "cdn"
    }
    fn bill(&self, s: &Scenario, m: &MonthView) -> Bill {
        Bill {
            cdn: s.pricing.cdn.cost(m.served_gb),
            origin_gb: m.served_gb,
            ..Bill::default()
        }
    }
}

impl CostModel for PeerAssisted {
    fn name(&self) -> &'static str {
        "p2p"
    }
    fn uses_peers(&self) -> bool {
        true
    }
    fn bill(&self, s: &Scenario, m: &MonthView) -> Bill {
        let base = origin_bill(s, m.server_gb, m.server_p95_mbps, m.server_peak_mbps);
        peer_extras(s, m, base)
    }
}

impl CostModel for Hybrid {
    fn name(&self) -> &'static str {
        "hybrid"
    }
    fn uses_peers(&self) -> bool {
        true
    }
    fn bill(&self, s: &Scenario, m: &MonthView) -> Bill {
        let base = Bill {
            cdn: s.pricing.cdn.cost(m.server_gb),
            origin_gb: m.server_gb,
            ..Bill::default()
        };
        peer_extras(s, m, base)
    }
}

/// The energy of one architecture's month: who sends the origin's bytes (the origin data
/// centre, or the CDN), transport of every delivered byte, and the sharing peers' devices.
fn energy_use(
    s: &Scenario,
    architecture: &str,
    acc: &Bill,
    peer_gb: f64,
    sharing_hours: f64,
) -> EnergyUse {
    // Peers' coordination bytes cross the network too (`acc.coordination_gb`, 0 without
    // `[coordination]` and outside p2p and hybrid).
    let f = &s.energy;
    let si = |billing_gb: f64| billing_gb * GB / SI_GB;
    let origin = si(acc.origin_gb);
    let via_cdn = match architecture {
        "cdn" | "hybrid" => true,
        "p2p" => matches!(s.pricing.origin, Origin::Cdn),
        _ => false,
    };
    let peers = matches!(architecture, "p2p" | "hybrid");
    let delivered = origin
        + if peers {
            si(peer_gb + acc.coordination_gb)
        } else {
            0.0
        };
    EnergyUse {
        origin_kwh: if via_cdn {
            0.0
        } else {
            origin * f.origin_kwh_per_gb
        },
        cdn_kwh: if via_cdn {
            origin * f.cdn_kwh_per_gb
        } else {
            0.0
        },
        network_kwh: delivered * f.network_kwh_per_gb,
        peers_kwh: if peers {
            kwh(f.peer_power_w, sharing_hours)
        } else {
            0.0
        },
        ..EnergyUse::default()
    }
    .finish(f)
}

/// The peers' ledger per class, per month, in an architecture where peers upload (the same in
/// `p2p` and `hybrid`: only who serves the residual differs).
pub fn class_ledgers(s: &Scenario, b: &Billed) -> Vec<ClassLedger> {
    let w = 1.0 / b.months.len().max(1) as f64;
    b.classes
        .iter()
        .enumerate()
        .map(|(k, (name, shares))| {
            let (mut gb, mut hours, mut income, mut coord) = (0.0, 0.0, 0.0, 0.0);
            for m in &b.months {
                let mc = m.classes.get(k).copied().unwrap_or_default();
                gb += w * mc.share * m.peer_gb;
                hours += w * mc.hours;
                income += w * m.class_payments(&b.payments).nth(k).unwrap_or(0.0);
                if m.peer_hours > 0.0 {
                    coord += w * mc.hours / m.peer_hours * coordination_gb(s, m);
                }
            }
            // Peers who do not share draw no extra power for it (see `compare`).
            let energy = if *shares {
                energy_cost(s.peer_cost.power, hours, s.peer_cost.electricity)
            } else {
                0.0
            };
            let value = s.peer_cost.upload_value * (gb + coord);
            ClassLedger {
                name: name.clone(),
                upload_gb: gb,
                peer_hours: hours,
                energy_usd: energy,
                upload_value_usd: value,
                income_usd: income,
                coordination_gb: coord,
                net_usd: income - energy - value,
            }
        })
        .collect()
}

/// Monthly bill of every architecture (the average when an event spans several months), with
/// savings against client-server and CDN.
pub fn compare(s: &Scenario, b: &Billed) -> Vec<CostBreakdown> {
    let ms: &[Month] = &b.months;
    let w = 1.0 / ms.len().max(1) as f64;
    let models: [&dyn CostModel; 4] = [&ClientServer, &Cdn, &PeerAssisted, &Hybrid];
    let mut rows: Vec<CostBreakdown> = models
        .iter()
        .map(|model| {
            // Average over months weighted by each month's length.
            let mut acc = Bill::default();
            let mut peer_gb = 0.0;
            let mut sharing_hours = 0.0;
            for m in ms {
                let view = MonthView {
                    peer_gb: m.peer_gb,
                    server_gb: m.server_gb,
                    served_gb: m.served_gb,
                    peer_hours: m.peer_hours,
                    served_p95_mbps: m.served_p95_mbps,
                    server_p95_mbps: m.server_p95_mbps,
                    served_peak_mbps: m.served_peak_mbps,
                    server_peak_mbps: m.server_peak_mbps,
                    payments: m.class_payments(&b.payments).sum(),
                    population: m.population(s.pricing.billing_month),
                };
                let bill = model.bill(s, &view);
                acc.transit += w * bill.transit;
                acc.egress += w * bill.egress;
                acc.capacity += w * bill.capacity;
                acc.cdn += w * bill.cdn;
                acc.payments += w * bill.payments;
                acc.tracker += w * bill.tracker;
                acc.origin_gb += w * bill.origin_gb;
                acc.uplink_gb += w * bill.uplink_gb;
                acc.coordination_gb += w * bill.coordination_gb;
                peer_gb += w * m.peer_gb;
                // Energy is a cost of sharing: only the hours of classes that upload count
                // (peers who opted out download as they would from a server).
                sharing_hours += w * b
                    .classes
                    .iter()
                    .zip(&m.classes)
                    .filter(|((_, shares), _)| *shares)
                    .map(|(_, mc)| mc.hours)
                    .sum::<f64>();
            }
            let peers_cost = if model.uses_peers() {
                energy_cost(s.peer_cost.power, sharing_hours, s.peer_cost.electricity)
                    + s.peer_cost.upload_value * (peer_gb + acc.coordination_gb)
            } else {
                0.0
            };
            let provider =
                acc.transit + acc.egress + acc.capacity + acc.cdn + acc.payments + acc.tracker;
            let energy = energy_use(s, model.name(), &acc, peer_gb, sharing_hours);
            let peers = peers_cost - acc.payments;
            CostBreakdown {
                architecture: model.name(),
                provider_usd: provider,
                transit_usd: acc.transit,
                egress_usd: acc.egress,
                capacity_usd: acc.capacity,
                cdn_usd: acc.cdn,
                payments_usd: acc.payments,
                tracker_usd: acc.tracker,
                peers_cost_usd: peers_cost,
                peers_income_usd: acc.payments,
                peers_usd: peers,
                social_usd: provider + peers,
                origin_gb: acc.origin_gb,
                isp_uplink_gb: acc.uplink_gb,
                coordination_gb: acc.coordination_gb,
                gross_saving: 0.0,
                net_saving: 0.0,
                gross_saving_vs_cdn: 0.0,
                net_saving_vs_cdn: 0.0,
                energy,
            }
        })
        .collect();
    let (cs, cdn) = (rows[0].provider_usd, rows[1].provider_usd);
    let saving = |base: f64, cost: f64| {
        if base > 0.0 {
            (base - cost) / base
        } else {
            0.0
        }
    };
    for r in &mut rows {
        let before_payments = r.provider_usd - r.payments_usd;
        r.gross_saving = saving(cs, before_payments);
        r.net_saving = saving(cs, r.provider_usd);
        r.gross_saving_vs_cdn = saving(cdn, before_payments);
        r.net_saving_vs_cdn = saving(cdn, r.provider_usd);
    }
    rows
}
