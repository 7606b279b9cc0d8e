//! The cost of coordination: how a peer of the swarm finds the others, and who pays for it.
//!
//! Three designs (seed 001: Napster's central index, Gnutella's flooding, Chord's DHT), one
//! [`CoordinationModel`] each, priced on a billed month's [`Population`] (from the run):
//!
//! ```text
//! tracker   A = N̄/I + e·λ announces/s (e = 3: started, completed, stopped)
//!           servers S = ⌈h · A_peak / C⌉, provider pays S · c_s; peers send A·τ·b_req
//! dht       H = ½ log₂ N hops per lookup, L = log₂ N table entries (Chord)
//!           messages = D·q·2H (lookups) + (P/T_r)·2L (pings) + D·4LH (joins and leaves)
//!           peers send messages · b; the provider pays nothing
//! flood     R_T = Σ_{h=1}^{T} d(d−1)^{h−1} (tree of degree d, TTL T)
//!           reach R = min(N − 1, R_T); messages per query M = d + (d−1)·min(N − 1, R_{T−1})
//!           peers send D·q·M·b; the provider pays nothing; P(find) = 1 − (1 − ρ)^R
//! ```
//!
//! N̄ = mean concurrent peers, N = the population a peer sees (peer-time weighted mean), D =
//! downloads per month, P = peer-seconds online, τ = the month. Symbols, units, defaults,
//! sources and the reference values of the tests: `models/coordination.md`.

use serde::Serialize;

use super::tiers::GB;
use crate::units::{Bytes, PerSec, Seconds, Usd};

/// The words `coordination.kind` accepts, for messages.
pub const KINDS: &str = "\"tracker\", \"dht\" or \"flood\"";

/// Tracker announces per download besides the periodic ones: `started`, `completed` and
/// `stopped` (BEP 3 / BEP 15 events). An aborted download sends no `completed`, so this is an
/// upper bound by at most one announce per abort.
pub const EVENTS_PER_DOWNLOAD: f64 = 3.0;

/// Most scale factors [`crossing`] searches either side of the population.
pub const CROSSING_SPAN: f64 = 1e6;

/// Which coordination design the provider runs (`coordination.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A central index (BitTorrent tracker, Napster): servers the provider pays for.
    Tracker,
    /// A distributed hash table (Chord, Kademlia): peers route lookups and keep tables.
    Dht,
    /// Gnutella-style flooding with a TTL: peers forward every query to their neighbours.
    Flood,
}

impl Kind {
    /// Every design, in report order.
    pub const ALL: [Kind; 3] = [Kind::Tracker, Kind::Dht, Kind::Flood];

    /// Name as written in scenario files.
    pub fn label(self) -> &'static str {
        match self {
            Self::Tracker => "tracker",
            Self::Dht => "dht",
            Self::Flood => "flood",
        }
    }

    /// The design a scenario file names, if any.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.label() == word)
    }
}

/// `[coordination.tracker]`: a BitTorrent tracker over UDP (BEP 15).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tracker {
    /// `interval`, I: seconds between a peer's periodic announces.
    pub interval: Seconds,
    /// `request`: bytes a peer sends per announce (connect + announce, with headers).
    pub request: Bytes,
    /// `response`: bytes the tracker sends back per announce.
    pub response: Bytes,
    /// `capacity`, C: announces per second one server answers.
    pub capacity: PerSec,
    /// `server`, c_s: $ per server per month.
    pub server: Usd,
}

impl Tracker {
    /// 30 min: the reference tracker's default re-announce interval \[R\].
    pub const INTERVAL: Seconds = 1800.0;
    /// 198 B: connect (16 B) + announce (98 B) requests + 2 × 42 B of Ethernet/IP/UDP headers
    /// (BEP 15; xbtt's table) \[D\].
    pub const REQUEST: Bytes = 198.0;
    /// 420 B: connect (16 B) + announce response (20 B + 6 B × 50 peers) + 2 × 42 B headers;
    /// with the request, BEP 15's "about 618 bytes" \[D\].
    pub const RESPONSE: Bytes = 420.0;
    /// 4,000 announces/s per server: a saturated 8-vCPU tracker answered about 4,107/s
    /// (torrust-tracker-demo issue 30, 2026) \[D\].
    pub const CAPACITY: PerSec = 4000.0;
    /// $50 per server per month \[P\], within rented dedicated servers' €40–45/month quotes.
    pub const SERVER: Usd = 50.0;
}

impl Default for Tracker {
    fn default() -> Self {
        Self {
            interval: Self::INTERVAL,
            request: Self::REQUEST,
            response: Self::RESPONSE,
            capacity: Self::CAPACITY,
            server: Self::SERVER,
        }
    }
}

/// `[coordination.dht]`: a Chord-style DHT run by the peers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dht {
    /// `message`, b: bytes per DHT message (a request or a response, with headers).
    pub message: Bytes,
    /// `lookups`, q: lookups per download.
    pub lookups: f64,
    /// `refresh`, T_r: seconds between two liveness checks of one routing-table entry.
    pub refresh: Seconds,
}

impl Dht {
    /// 200 B: a KRPC query is about 60–100 B, a response with 8 compact nodes (8 × 26 B)
    /// about 300 B, plus 28 B of IP/UDP (BEP 5) \[D\].
    pub const MESSAGE: Bytes = 200.0;
    /// One lookup per download (`get_peers`) \[P\].
    pub const LOOKUPS: f64 = 1.0;
    /// 15 min: a Mainline DHT node is "questionable" after 15 minutes without contact
    /// (BEP 5) \[S\].
    pub const REFRESH: Seconds = 900.0;
}

impl Default for Dht {
    fn default() -> Self {
        Self {
            message: Self::MESSAGE,
            lookups: Self::LOOKUPS,
            refresh: Self::REFRESH,
        }
    }
}

/// `[coordination.flood]`: Gnutella-style flooding over a random overlay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flood {
    /// `degree`, d: overlay neighbours per peer.
    pub degree: u32,
    /// `ttl`, T: hops a query travels.
    pub ttl: u32,
    /// `message`, b: bytes per forwarded query.
    pub message: Bytes,
    /// `queries`, q: queries per download.
    pub queries: f64,
    /// `replication`, ρ: share of the overlay's peers that hold the content.
    pub replication: f64,
}

impl Flood {
    /// 4 neighbours \[P\] (the issue's reference case).
    pub const DEGREE: u32 = 4;
    /// TTL 7: Gnutella's usual initial TTL \[S\].
    pub const TTL: u32 = 7;
    /// 86 B: 23 B Gnutella header + 2 B minimum speed + a 20-character search + NUL + 40 B of
    /// TCP/IP headers \[D\].
    pub const MESSAGE: Bytes = 86.0;
    /// One query per download \[P\].
    pub const QUERIES: f64 = 1.0;
    /// Every peer of the swarm's overlay holds (part of) the content \[P\].
    pub const REPLICATION: f64 = 1.0;
}

impl Default for Flood {
    fn default() -> Self {
        Self {
            degree: Self::DEGREE,
            ttl: Self::TTL,
            message: Self::MESSAGE,
            queries: Self::QUERIES,
            replication: Self::REPLICATION,
        }
    }
}

/// `[coordination]`, resolved: the design the ledger bills and every design's parameters
/// (the report prices all three on the same population).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordination {
    /// `coordination.kind`.
    pub kind: Kind,
    /// `[coordination.tracker]`.
    pub tracker: Tracker,
    /// `[coordination.dht]`.
    pub dht: Dht,
    /// `[coordination.flood]`.
    pub flood: Flood,
}

impl Coordination {
    /// The model of design `kind`.
    pub fn model(&self, kind: Kind) -> &dyn CoordinationModel {
        match kind {
            Kind::Tracker => &self.tracker,
            Kind::Dht => &self.dht,
            Kind::Flood => &self.flood,
        }
    }
}

/// One billed month's population as coordination sees it (all peers online: leechers and
/// seeds, sharing or not).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Population {
    /// Length of the month, s.
    pub month_s: Seconds,
    /// Peer-hours online in the month.
    pub peer_hours: f64,
    /// N̄: mean concurrent peers over the month (peer-hours / month).
    pub mean_peers: f64,
    /// N: the population a peer sees, Σ N_i² / Σ N_i over the month's samples (= N̄ when the
    /// population is constant; idle stretches do not dilute it).
    pub seen_peers: f64,
    /// Highest concurrent population of a billing sample (5-minute mean).
    pub peak_peers: f64,
    /// D: downloads started in the month.
    pub downloads: f64,
    /// Highest arrival rate of a billing sample, 1/s.
    pub peak_arrival_rate: PerSec,
}

impl Population {
    /// The same swarm `s` times larger (every population and rate × s, the month kept): how
    /// [`crossing`] moves along swarm size.
    pub fn scaled(&self, s: f64) -> Self {
        Self {
            month_s: self.month_s,
            peer_hours: s * self.peer_hours,
            mean_peers: s * self.mean_peers,
            seen_peers: s * self.seen_peers,
            peak_peers: s * self.peak_peers,
            downloads: s * self.downloads,
            peak_arrival_rate: s * self.peak_arrival_rate,
        }
    }

    /// The average of months (equal weights, as the ledger averages bills).
    pub fn average(months: &[Population]) -> Self {
        let w = 1.0 / months.len().max(1) as f64;
        months.iter().fold(Self::default(), |a, m| Self {
            month_s: a.month_s + w * m.month_s,
            peer_hours: a.peer_hours + w * m.peer_hours,
            mean_peers: a.mean_peers + w * m.mean_peers,
            seen_peers: a.seen_peers + w * m.seen_peers,
            peak_peers: a.peak_peers + w * m.peak_peers,
            downloads: a.downloads + w * m.downloads,
            peak_arrival_rate: a.peak_arrival_rate + w * m.peak_arrival_rate,
        })
    }
}

/// One design's month: what the provider pays, what the peers send, and the design's own
/// figures (the others are `null` in `summary.json`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DesignCost {
    /// The design.
    pub kind: Kind,
    /// The provider's coordination bill, $/month (tracker servers; 0 for dht and flood).
    pub provider_usd: Usd,
    /// Messages per month (tracker: announces; dht: requests and responses; flood: queries
    /// forwarded).
    pub messages: f64,
    /// GB per month the peers send for coordination (billing GB, 2^30 bytes).
    pub peer_gb: f64,
    /// Value of those bytes to the peers at `peers.cost.upload_value`, $/month.
    pub peer_value_usd: Usd,
    /// provider + value of the peers' bytes, $/month: the design's cost to the system.
    pub total_usd: Usd,
    /// Tracker: servers rented (whole servers).
    pub servers: Option<f64>,
    /// Tracker: announces per second at the month's peak, the load the servers are sized for.
    pub peak_load_per_s: Option<f64>,
    /// Tracker: GB per month the tracker sends (its responses; within the server's price).
    pub tracker_gb: Option<f64>,
    /// DHT: hops per lookup, ½ log₂ N.
    pub hops: Option<f64>,
    /// DHT: routing-table entries per peer, log₂ N.
    pub table_entries: Option<f64>,
    /// Flood: distinct peers one query reaches, min(N − 1, R_T).
    pub reach: Option<f64>,
    /// Flood: share of the other peers one query reaches, R / (N − 1).
    pub reach_share: Option<f64>,
    /// Flood: probability that one query finds a holder, 1 − (1 − ρ)^R.
    pub find_probability: Option<f64>,
}

impl DesignCost {
    fn new(kind: Kind, provider_usd: Usd, messages: f64, peer_bytes: Bytes) -> Self {
        Self {
            kind,
            provider_usd,
            messages,
            peer_gb: peer_bytes / GB,
            peer_value_usd: 0.0,
            total_usd: provider_usd,
            servers: None,
            peak_load_per_s: None,
            tracker_gb: None,
            hops: None,
            table_entries: None,
            reach: None,
            reach_share: None,
            find_probability: None,
        }
    }

    /// Value the peers' bytes at `upload_value` $/GB and total the design's cost.
    pub fn valued(mut self, upload_value: f64) -> Self {
        self.peer_value_usd = upload_value * self.peer_gb;
        self.total_usd = self.provider_usd + self.peer_value_usd;
        self
    }
}

/// A coordination design's monthly cost for a population.
pub trait CoordinationModel {
    /// The design.
    fn kind(&self) -> Kind;
    /// The month's cost; `headroom` sizes provider-run servers (`pricing.headroom`).
    fn month(&self, p: &Population, headroom: f64) -> DesignCost;
}

/// log₂ of a population, 0 below one peer (a peer alone has no one to route to).
fn log2_peers(n: f64) -> f64 {
    n.max(1.0).log2()
}

/// Chord's mean lookup path, ½ log₂ N hops (Stoica et al. 2001).
pub fn chord_hops(n: f64) -> f64 {
    0.5 * log2_peers(n)
}

/// Distinct routing-table entries per peer, log₂ N (Chord's fingers; Kademlia's non-empty
/// buckets grow the same way).
pub fn table_entries(n: f64) -> f64 {
    log2_peers(n)
}

/// Peers within `ttl` hops of a query's origin in a tree of degree `d`:
/// Σ_{h=1}^{ttl} d(d−1)^{h−1} (= 2·ttl for d = 2, d((d−1)^ttl − 1)/(d − 2) otherwise).
pub fn flood_tree(d: u32, ttl: u32) -> f64 {
    let d = f64::from(d);
    (1..=ttl).map(|h| d * (d - 1.0).powi(h as i32 - 1)).sum()
}

/// Distinct peers one query reaches in an overlay of `n` peers: min(n − 1, R_T).
pub fn flood_reach(d: u32, ttl: u32, n: f64) -> f64 {
    (n - 1.0).max(0.0).min(flood_tree(d, ttl))
}

/// Messages one flooded query costs in an overlay of `n` peers: the origin sends d, and every
/// peer that first receives it within ttl − 1 hops forwards it to its d − 1 other neighbours
/// (duplicates included; a peer drops a query it has seen: Gnutella's rule).
/// Equals R_T in a tree (n − 1 ≥ R_T); about (d − 1)·n once the flood covers the overlay.
pub fn flood_messages(d: u32, ttl: u32, n: f64) -> f64 {
    if ttl == 0 {
        return 0.0;
    }
    let others = (n - 1.0).max(0.0);
    let d_f = f64::from(d);
    others.min(d_f) + (d_f - 1.0).max(0.0) * others.min(flood_tree(d, ttl - 1))
}

impl CoordinationModel for Tracker {
    fn kind(&self) -> Kind {
        Kind::Tracker
    }
    fn month(&self, p: &Population, headroom: f64) -> DesignCost {
        let announces = p.peer_hours * 3600.0 / self.interval + EVENTS_PER_DOWNLOAD * p.downloads;
        let peak = p.peak_peers / self.interval + EVENTS_PER_DOWNLOAD * p.peak_arrival_rate;
        let servers = if peak > 0.0 {
            (headroom * peak / self.capacity).ceil()
        } else {
            0.0
        };
        DesignCost {
            servers: Some(servers),
            peak_load_per_s: Some(peak),
            tracker_gb: Some(announces * self.response / GB),
            ..DesignCost::new(
                Kind::Tracker,
                servers * self.server,
                announces,
                announces * self.request,
            )
        }
    }
}

impl CoordinationModel for Dht {
    fn kind(&self) -> Kind {
        Kind::Dht
    }
    fn month(&self, p: &Population, _headroom: f64) -> DesignCost {
        let (h, l) = (chord_hops(p.seen_peers), table_entries(p.seen_peers));
        let lookups = p.downloads * self.lookups * 2.0 * h;
        let pings = p.peer_hours * 3600.0 / self.refresh * 2.0 * l;
        let churn = p.downloads * 4.0 * l * h;
        let messages = lookups + pings + churn;
        DesignCost {
            hops: Some(h),
            table_entries: Some(l),
            ..DesignCost::new(Kind::Dht, 0.0, messages, messages * self.message)
        }
    }
}

impl CoordinationModel for Flood {
    fn kind(&self) -> Kind {
        Kind::Flood
    }
    fn month(&self, p: &Population, _headroom: f64) -> DesignCost {
        let n = p.seen_peers;
        let reach = flood_reach(self.degree, self.ttl, n);
        let messages = p.downloads * self.queries * flood_messages(self.degree, self.ttl, n);
        DesignCost {
            reach: Some(reach),
            reach_share: Some(if n > 1.0 { reach / (n - 1.0) } else { 1.0 }),
            find_probability: Some(1.0 - (1.0 - self.replication).powf(reach)),
            ..DesignCost::new(Kind::Flood, 0.0, messages, messages * self.message)
        }
    }
}

/// Where two designs cost the same: the swarm `scale` × the run's, and its mean population.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Crossing {
    /// The design cheaper below the crossing.
    pub cheaper_below: Kind,
    /// The design cheaper above it.
    pub cheaper_above: Kind,
    /// The scale factor of the run's population at the crossing.
    pub scale: f64,
    /// Mean concurrent peers there.
    pub mean_peers: f64,
    /// Downloads per month there.
    pub downloads: f64,
}

/// The swarm size where designs `a` and `b` cost the same (totals, the peers' bytes at
/// `upload_value`), searched over scale factors of `p` in [1/[`CROSSING_SPAN`],
/// [`CROSSING_SPAN`]]: the crossing nearest the run's own size, bisected in log scale to rel
/// 1e-9. `None` when one design is cheaper (or equal) over the whole span.
pub fn crossing(
    a: &dyn CoordinationModel,
    b: &dyn CoordinationModel,
    p: &Population,
    headroom: f64,
    upload_value: f64,
) -> Option<Crossing> {
    let diff = |ln_s: f64| {
        let q = p.scaled(ln_s.exp());
        a.month(&q, headroom).valued(upload_value).total_usd
            - b.month(&q, headroom).valued(upload_value).total_usd
    };
    // Scan outward from the run's size on a log grid of 1/8 decade, both ways.
    let step = std::f64::consts::LN_10 / 8.0;
    let max = CROSSING_SPAN.ln();
    let mut found: Option<(f64, f64)> = None;
    let mut k = 0.0;
    while k * step < max && found.is_none() {
        for (lo, hi) in [(k * step, (k + 1.0) * step), (-(k + 1.0) * step, -k * step)] {
            let (f_lo, f_hi) = (diff(lo), diff(hi));
            if f_lo.is_finite() && f_hi.is_finite() && (f_lo > 0.0) != (f_hi > 0.0) {
                found = Some((lo, hi));
                break;
            }
        }
        k += 1.0;
    }
    let (mut lo, mut hi) = found?;
    let lo_positive = diff(lo) > 0.0;
    while hi - lo > 1e-9 {
        let mid = 0.5 * (lo + hi);
        if (diff(mid) > 0.0) == lo_positive {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let scale = (0.5 * (lo + hi)).exp();
    // Below the crossing the design whose difference has the sign of `lo` is dearer.
    let (cheaper_below, cheaper_above) = if lo_positive {
        (b.kind(), a.kind())
    } else {
        (a.kind(), b.kind())
    };
    let q = p.scaled(scale);
    Some(Crossing {
        cheaper_below,
        cheaper_above,
        scale,
        mean_peers: q.mean_peers,
        downloads: q.downloads,
    })
}

/// The coordination block of `compare`: the billed design, the population, every design's
/// month (averaged over the billed months) and where the designs' costs cross.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoordinationReport {
    /// The design the ledger bills (`coordination.kind`).
    pub kind: Kind,
    /// The population, averaged over the billed months.
    pub population: Population,
    /// $/GB the peers' coordination bytes are valued at (`peers.cost.upload_value`).
    pub upload_value_per_gb: f64,
    /// Every design on the same population: tracker, dht, flood.
    pub designs: Vec<DesignCost>,
    /// Pairs of designs whose totals cross within 10^±6 × this swarm.
    pub crossings: Vec<Crossing>,
}

/// One design's cost averaged over months.
pub fn design_average(
    model: &dyn CoordinationModel,
    months: &[Population],
    headroom: f64,
    upload_value: f64,
) -> DesignCost {
    let w = 1.0 / months.len().max(1) as f64;
    let rows: Vec<DesignCost> = months
        .iter()
        .map(|m| model.month(m, headroom).valued(upload_value))
        .collect();
    let avg = |f: &dyn Fn(&DesignCost) -> f64| rows.iter().map(|r| w * f(r)).sum::<f64>();
    let avg_opt = |f: &dyn Fn(&DesignCost) -> Option<f64>| {
        rows.iter()
            .map(|r| f(r).map(|v| w * v))
            .sum::<Option<f64>>()
    };
    DesignCost {
        kind: model.kind(),
        provider_usd: avg(&|r| r.provider_usd),
        messages: avg(&|r| r.messages),
        peer_gb: avg(&|r| r.peer_gb),
        peer_value_usd: avg(&|r| r.peer_value_usd),
        total_usd: avg(&|r| r.total_usd),
        servers: avg_opt(&|r| r.servers),
        peak_load_per_s: avg_opt(&|r| r.peak_load_per_s),
        tracker_gb: avg_opt(&|r| r.tracker_gb),
        hops: avg_opt(&|r| r.hops),
        table_entries: avg_opt(&|r| r.table_entries),
        reach: avg_opt(&|r| r.reach),
        reach_share: avg_opt(&|r| r.reach_share),
        find_probability: avg_opt(&|r| r.find_probability),
    }
}

/// The report of `c` on the billed months' populations.
pub fn report(
    c: &Coordination,
    months: &[Population],
    headroom: f64,
    upload_value: f64,
) -> CoordinationReport {
    let population = Population::average(months);
    let designs = Kind::ALL
        .iter()
        .map(|&k| design_average(c.model(k), months, headroom, upload_value))
        .collect();
    let pairs = [
        (Kind::Tracker, Kind::Dht),
        (Kind::Tracker, Kind::Flood),
        (Kind::Dht, Kind::Flood),
    ];
    let crossings = pairs
        .iter()
        .filter_map(|&(a, b)| crossing(c.model(a), c.model(b), &population, headroom, upload_value))
        .collect();
    CoordinationReport {
        kind: c.kind,
        population,
        upload_value_per_gb: upload_value,
        designs,
        crossings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// Closed forms evaluated in f64: exact to rounding.
    const EXACT: f64 = 1e-12;

    /// A steady swarm of `n` concurrent peers and `d` downloads over a 30-day month.
    fn steady(n: f64, d: f64) -> Population {
        let month_s = 30.0 * 86_400.0;
        Population {
            month_s,
            peer_hours: n * month_s / 3600.0,
            mean_peers: n,
            seen_peers: n,
            peak_peers: n,
            downloads: d,
            peak_arrival_rate: d / month_s,
        }
    }

    /// Gnutella, d = 4, TTL = 7, by hand: 4 + 12 + 36 + 108 + 324 + 972 + 2916 = 4372
    /// messages (and peers reached) per query in a tree.
    #[test]
    fn gnutella_d4_ttl7_by_hand() {
        assert_relative_eq!(flood_tree(4, 7), 4372.0, max_relative = EXACT);
        // Closed form d((d−1)^T − 1)/(d − 2) = 4 (2187 − 1)/2.
        assert_relative_eq!(flood_tree(4, 7), 4.0 * (2187.0 - 1.0) / 2.0);
        assert_relative_eq!(flood_messages(4, 7, 1e7), 4372.0, max_relative = EXACT);
        assert_relative_eq!(flood_reach(4, 7, 1e7), 4372.0, max_relative = EXACT);
        // A line (d = 2): 2 per hop.
        assert_relative_eq!(flood_tree(2, 7), 14.0);
        // A saturated overlay of 100 peers: 4 + 3 × 99 messages, every other peer reached.
        assert_relative_eq!(flood_messages(4, 7, 100.0), 4.0 + 3.0 * 99.0);
        assert_relative_eq!(flood_reach(4, 7, 100.0), 99.0);
        assert_relative_eq!(flood_messages(4, 7, 1.0), 0.0);
        assert_relative_eq!(flood_messages(4, 0, 1e6), 0.0);
    }

    /// Chord at N = 2^k: ½ k hops, k table entries.
    #[test]
    fn chord_at_powers_of_two() {
        for k in [1, 4, 10, 20, 30] {
            let n = 2f64.powi(k);
            assert_relative_eq!(chord_hops(n), 0.5 * k as f64, max_relative = EXACT);
            assert_relative_eq!(table_entries(n), k as f64, max_relative = EXACT);
        }
        assert_relative_eq!(chord_hops(0.3), 0.0);
    }

    /// Tracker load = N / I + 3 λ; 1e6 peers at 30 min and 1000 downloads/s:
    /// 555.6 + 3000 announces/s → 1 server at 4000/s, 2 with headroom 1.5.
    #[test]
    fn tracker_load_is_population_over_interval() {
        let t = Tracker::default();
        let p = Population {
            peak_arrival_rate: 1000.0,
            ..steady(1e6, 1000.0 * 30.0 * 86_400.0)
        };
        let m = t.month(&p, 1.0);
        assert_relative_eq!(
            m.peak_load_per_s.unwrap(),
            1e6 / 1800.0 + 3000.0,
            max_relative = EXACT
        );
        assert_relative_eq!(m.servers.unwrap(), 1.0);
        assert_relative_eq!(t.month(&p, 1.5).servers.unwrap(), 2.0);
        assert_relative_eq!(m.provider_usd, 50.0);
        // Announces per month = P / I + 3 D; peers send 198 B each.
        let announces = 1e6 * 30.0 * 86_400.0 / 1800.0 + 3.0 * p.downloads;
        assert_relative_eq!(m.messages, announces, max_relative = EXACT);
        assert_relative_eq!(m.peer_gb, announces * 198.0 / GB, max_relative = EXACT);
        assert_relative_eq!(
            m.tracker_gb.unwrap(),
            announces * 420.0 / GB,
            max_relative = EXACT
        );
        // No peers: no server.
        assert_relative_eq!(t.month(&steady(0.0, 0.0), 1.0).provider_usd, 0.0);
        // BEP 15's "about 618 bytes" per announce with 50 peers.
        assert_relative_eq!(Tracker::REQUEST + Tracker::RESPONSE, 618.0);
    }

    /// DHT messages by hand at N = 1024 (H = 5, L = 10), D = 1000 downloads, a 30-day month
    /// of 15-minute refreshes: 1000·2·5 + 1024·2880·20 + 1000·4·10·5.
    #[test]
    fn dht_messages_by_hand() {
        let m = Dht::default().month(&steady(1024.0, 1000.0), 1.0);
        let refreshes = 30.0 * 86_400.0 / 900.0;
        let expected = 1000.0 * 2.0 * 5.0 + 1024.0 * refreshes * 20.0 + 1000.0 * 200.0;
        assert_relative_eq!(m.messages, expected, max_relative = EXACT);
        assert_relative_eq!(m.peer_gb, expected * 200.0 / GB, max_relative = EXACT);
        assert_relative_eq!(m.provider_usd, 0.0);
        assert_relative_eq!(m.hops.unwrap(), 5.0);
    }

    /// Every design's peers' bytes and the tracker's bill never fall as the swarm grows.
    #[test]
    fn costs_are_monotone_in_swarm_size() {
        let c = Coordination {
            kind: Kind::Tracker,
            tracker: Tracker::default(),
            dht: Dht::default(),
            flood: Flood::default(),
        };
        for kind in Kind::ALL {
            let mut last = (0.0, 0.0);
            for i in 0..=60 {
                let n = 10f64.powf(i as f64 / 6.0);
                let m = c.model(kind).month(&steady(n, 50.0 * n), 1.0);
                assert!(
                    m.peer_gb >= last.0 && m.provider_usd >= last.1,
                    "{kind:?} falls at N = {n}"
                );
                last = (m.peer_gb, m.provider_usd);
            }
        }
    }

    /// Flood against tracker in a tree-regime swarm: with N = λ T_s and D = λ τ, both designs
    /// are linear in λ plus the tracker's one server, so they cross where
    /// v (q M_T b_f − (T_s/I + 3) b_r) λ τ / 2^30 = c_s (derivation: models/coordination.md).
    #[test]
    fn flood_tracker_crossing_matches_the_hand_derivation() {
        let month = 30.0 * 86_400.0;
        let (t_stay, v) = (3.0 * 3600.0, 0.01);
        let (tr, fl) = (Tracker::default(), Flood::default());
        let swarm = |lambda: f64| Population {
            peak_arrival_rate: lambda,
            ..steady(lambda * t_stay, lambda * month)
        };
        let per_lambda = v * month / GB
            * (fl.queries * flood_tree(4, 7) * fl.message
                - (t_stay / tr.interval + EVENTS_PER_DOWNLOAD) * tr.request);
        let lambda_star = tr.server / per_lambda;
        // The tree regime holds there (N − 1 ≥ R_T), and one server is enough.
        assert!(lambda_star * t_stay - 1.0 >= flood_tree(4, 7));
        let x = crossing(&tr, &fl, &swarm(0.01), 1.0, v).expect("they cross");
        let lambda_found = 0.01 * x.scale;
        assert_relative_eq!(lambda_found, lambda_star, max_relative = 1e-8);
        assert_eq!(x.cheaper_below, Kind::Flood);
        assert_eq!(x.cheaper_above, Kind::Tracker);
        // On either side the order holds.
        for (f, cheaper) in [(0.5, Kind::Flood), (2.0, Kind::Tracker)] {
            let p = swarm(lambda_star * f);
            let (a, b) = (
                tr.month(&p, 1.0).valued(v).total_usd,
                fl.month(&p, 1.0).valued(v).total_usd,
            );
            assert_eq!(if a < b { Kind::Tracker } else { Kind::Flood }, cheaper);
        }
    }

    /// Monte Carlo: floods on random 4-regular graphs (configuration model, self-loops and
    /// double edges redrawn) against the closed forms. Tree regime (N = 200,000 ≫ R_4 = 160):
    /// duplicates are rare, so reach and messages agree within 1 %. Saturated (N = 300, TTL 7
    /// ≥ the graph's diameter): every peer is reached, and messages are within 2 % of
    /// d + (d − 1)(N − 1) (peers first reached at the last hop do not forward; measured
    /// 894.7 against 901).
    #[test]
    fn flood_closed_forms_against_random_regular_graphs() {
        /// Tree regime: duplicates of order R_T²/N ≈ 0.1 %.
        const TREE_RTOL: f64 = 0.01;
        /// Saturated: the closed form counts the last hop's few peers as forwarders (0.7 %).
        const SATURATED_RTOL: f64 = 0.02;
        for (n, ttl, reps, rtol) in [
            (200_000usize, 4u32, 20usize, TREE_RTOL),
            (300, 7, 20, SATURATED_RTOL),
        ] {
            let (mut reach, mut msgs) = (0.0, 0.0);
            for r in 0..reps {
                let g = random_regular(n, 4, 0xC00D + r as u64);
                let (a, b) = flood_on(&g, 0, ttl);
                reach += a / reps as f64;
                msgs += b / reps as f64;
            }
            let nf = n as f64;
            assert_relative_eq!(reach, flood_reach(4, ttl, nf), max_relative = rtol);
            assert_relative_eq!(msgs, flood_messages(4, ttl, nf), max_relative = rtol);
        }
    }

    /// A random d-regular simple graph on n nodes (configuration model; a bad pairing is
    /// reshuffled).
    fn random_regular(n: usize, d: usize, seed: u64) -> Vec<Vec<usize>> {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        let mut stubs: Vec<usize> = (0..n).flat_map(|v| std::iter::repeat_n(v, d)).collect();
        'attempt: loop {
            stubs.shuffle(&mut rng);
            let mut adj = vec![Vec::with_capacity(d); n];
            for pair in stubs.chunks(2) {
                let (a, b) = (pair[0], pair[1]);
                if a == b || adj[a].contains(&b) {
                    // A large graph keeps its pairing and drops the few clashing edges
                    // (about (d − 1)²/4 of them whatever n); a small one is redrawn (about
                    // e^{−(d²−1)/4} of pairings are simple).
                    if n > 1000 {
                        continue;
                    }
                    continue 'attempt;
                }
                adj[a].push(b);
                adj[b].push(a);
            }
            return adj;
        }
    }

    /// Flood from `origin` with `ttl`: (distinct peers reached, messages sent), with
    /// Gnutella's rule (forward a first copy to every neighbour but the sender while the TTL
    /// lasts; drop duplicates).
    fn flood_on(adj: &[Vec<usize>], origin: usize, ttl: u32) -> (f64, f64) {
        let mut seen = vec![false; adj.len()];
        seen[origin] = true;
        let mut frontier: Vec<(usize, usize)> = vec![(origin, usize::MAX)];
        let (mut reached, mut messages) = (0usize, 0usize);
        for _ in 0..ttl {
            let mut next = Vec::new();
            for &(v, from) in &frontier {
                for &w in adj[v].iter().filter(|&&w| w != from) {
                    messages += 1;
                    if !seen[w] {
                        seen[w] = true;
                        reached += 1;
                        next.push((w, v));
                    }
                }
            }
            frontier = next;
        }
        (reached as f64, messages as f64)
    }
}
