//! The scenario file as written: serde types that mirror the TOML and check only types.
//! Every key is `deny_unknown_fields`, so a typo fails with its location. Validation of ranges
//! and cross-field rules happens once, in `scenario::validate`.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::error::echo;

/// A quantity as written: a bare number (base units) or a string with a unit.
#[derive(Debug, Clone, PartialEq)]
pub enum Quantity {
    /// Bare number, base units.
    Number(f64),
    /// Text such as "2 Mbps".
    Text(String),
}

/// As messages quote it: a number, or the text in quotes (cut by [`echo`] when long).
impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(v) => write!(f, "{v}"),
            Self::Text(s) => write!(f, "\"{}\"", echo(s)),
        }
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number in base units or a string with a unit such as \"2 Mbps\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity::Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A spanned quantity.
pub type Q = Spanned<Quantity>;

/// Top level.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// `name`.
    pub name: Spanned<String>,
    /// `description`.
    #[serde(default)]
    pub description: Option<String>,
    /// `horizon`.
    #[serde(default)]
    pub horizon: Option<Q>,
    /// `[content]`.
    pub content: Spanned<ContentFile>,
    /// `[demand]` (not for `content.kind = "wireless"`).
    #[serde(default)]
    pub demand: Option<DemandFile>,
    /// `[swarm]`.
    #[serde(default)]
    pub swarm: SwarmFile,
    /// `[peers]` (wireless: only `[peers.cost]`).
    #[serde(default)]
    pub peers: Option<Spanned<PeersFile>>,
    /// `[server]`.
    #[serde(default)]
    pub server: ServerFile,
    /// `[pricing]` (economics).
    #[serde(default)]
    pub pricing: Option<Spanned<PricingFile>>,
    /// `[incentive]` (economics).
    #[serde(default)]
    pub incentive: Option<Spanned<IncentiveFile>>,
    /// `[[isp]]` (ISP locality).
    #[serde(default)]
    pub isp: Option<Vec<Spanned<IspFile>>>,
    /// `[locality]` (ISP locality).
    #[serde(default)]
    pub locality: Option<Spanned<LocalityFile>>,
    /// `[push]` (a file pushed to many devices at once).
    #[serde(default)]
    pub push: Option<Spanned<PushFile>>,
    /// `[wireless]` (`content.kind = "wireless"`).
    #[serde(default)]
    pub wireless: Option<Spanned<WirelessFile>>,
    /// `[energy]`: energy and carbon factors of the energy view.
    #[serde(default)]
    pub energy: Option<Spanned<EnergyFile>>,
    /// `[coordination]`: how peers find each other (tracker, DHT or flooding).
    #[serde(default)]
    pub coordination: Option<Spanned<CoordinationFile>>,
}

/// `[coordination]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinationFile {
    /// `coordination.kind`: "tracker", "dht" or "flood" (required).
    #[serde(default)]
    pub kind: Option<Spanned<String>>,
    /// `[coordination.tracker]`.
    #[serde(default)]
    pub tracker: Option<Spanned<TrackerFile>>,
    /// `[coordination.dht]`.
    #[serde(default)]
    pub dht: Option<Spanned<DhtFile>>,
    /// `[coordination.flood]`.
    #[serde(default)]
    pub flood: Option<Spanned<FloodFile>>,
}

/// `[coordination.tracker]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerFile {
    /// Seconds between a peer's periodic announces ("30 min").
    #[serde(default)]
    pub interval: Option<Q>,
    /// Bytes a peer sends per announce ("198 B").
    #[serde(default)]
    pub request: Option<Q>,
    /// Bytes the tracker answers per announce ("420 B").
    #[serde(default)]
    pub response: Option<Q>,
    /// Announces per second one server answers ("4000/s").
    #[serde(default)]
    pub capacity: Option<Q>,
    /// $ per server per month ("$50").
    #[serde(default)]
    pub server: Option<Q>,
}

/// `[coordination.dht]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DhtFile {
    /// Bytes per DHT message ("200 B").
    #[serde(default)]
    pub message: Option<Q>,
    /// Lookups per download.
    #[serde(default)]
    pub lookups: Option<Spanned<f64>>,
    /// Seconds between two checks of one routing-table entry ("15 min").
    #[serde(default)]
    pub refresh: Option<Q>,
}

/// `[coordination.flood]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloodFile {
    /// Overlay neighbours per peer, a whole number.
    #[serde(default)]
    pub degree: Option<Spanned<f64>>,
    /// Hops a query travels, a whole number.
    #[serde(default)]
    pub ttl: Option<Spanned<f64>>,
    /// Bytes per forwarded query ("86 B").
    #[serde(default)]
    pub message: Option<Q>,
    /// Queries per download.
    #[serde(default)]
    pub queries: Option<Spanned<f64>>,
    /// Share of the overlay's peers holding the content, in (0, 1].
    #[serde(default)]
    pub replication: Option<Spanned<f64>>,
}

/// `[wireless]`: smartphone users, macro towers and the femtocells some users host.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WirelessFile {
    /// `wireless.users`.
    pub users: Spanned<f64>,
    /// `wireless.demand`: bytes per user per month.
    pub demand: Q,
    /// `wireless.hosts`: share of users who host a femtocell.
    pub hosts: Spanned<f64>,
    /// `wireless.busy_hour_share`.
    #[serde(default)]
    pub busy_hour_share: Option<Spanned<f64>>,
    /// `wireless.busy_hour`: time of day of the busy hour's middle.
    #[serde(default)]
    pub busy_hour: Option<Q>,
    /// `wireless.home_share`.
    #[serde(default)]
    pub home_share: Option<Spanned<f64>>,
    /// `wireless.neighbour_share`.
    #[serde(default)]
    pub neighbour_share: Option<Spanned<f64>>,
    /// `wireless.host_uplink`.
    #[serde(default)]
    pub host_uplink: Option<Q>,
    /// `wireless.tower_capacity`.
    #[serde(default)]
    pub tower_capacity: Option<Q>,
    /// `wireless.tower_cost`: $ per tower per year.
    #[serde(default)]
    pub tower_cost: Option<Q>,
    /// `wireless.tower_power`.
    #[serde(default)]
    pub tower_power: Option<Q>,
    /// `wireless.femtocell_price`.
    #[serde(default)]
    pub femtocell_price: Option<Q>,
    /// `wireless.femtocell_lifetime`.
    pub femtocell_lifetime: Q,
    /// `wireless.give_away`: the operator pays for the femtocells.
    #[serde(default)]
    pub give_away: Option<Spanned<bool>>,
}

/// `[energy]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergyFile {
    /// `energy.origin`: kWh per GB an origin data centre spends.
    #[serde(default)]
    pub origin: Option<Q>,
    /// `energy.cdn`: kWh per GB a CDN spends.
    #[serde(default)]
    pub cdn: Option<Q>,
    /// `energy.network`: kWh per GB of transport (edge, metro, core).
    #[serde(default)]
    pub network: Option<Q>,
    /// `energy.peer_device`: "gateway-marginal", "gateway" or "pc".
    #[serde(default)]
    pub peer_device: Option<Spanned<String>>,
    /// `energy.peer_power`: W a sharing peer's device draws for sharing.
    #[serde(default)]
    pub peer_power: Option<Q>,
    /// `energy.carbon`: kg CO2 per kWh.
    #[serde(default)]
    pub carbon: Option<Q>,
}

/// `[push]`: the file pushed to `devices` receivers at once (a software update).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushFile {
    /// `push.devices`.
    pub devices: Spanned<f64>,
    /// `push.deadline`.
    #[serde(default)]
    pub deadline: Option<Q>,
}

/// `[[isp]]`: an ISP and the peer class that lives in it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IspFile {
    /// `isp.name`.
    pub name: Spanned<String>,
    /// `isp.class`: the peer class whose peers are this ISP's customers.
    pub class: Spanned<String>,
    /// `isp.transit`: what the ISP pays for traffic it brings in, $/Mbps/month.
    #[serde(default)]
    pub transit: Option<Q>,
    /// `isp.transit_capacity`: its link to the other ISPs, each direction (bit/s).
    #[serde(default)]
    pub transit_capacity: Option<Q>,
}

/// `[locality]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalityFile {
    /// `locality.selection`: random | optimal | fraction | strict.
    #[serde(default)]
    pub selection: Option<Spanned<String>>,
    /// `locality.fraction` (β, selection = "fraction").
    #[serde(default)]
    pub fraction: Option<Spanned<f64>>,
    /// `locality.transit_capacity`: every ISP's link to the others, each direction (bit/s),
    /// unless the ISP gives its own.
    #[serde(default)]
    pub transit_capacity: Option<Q>,
}

/// `[content]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentFile {
    /// `content.kind`: file | live | vod.
    #[serde(default)]
    pub kind: Option<Spanned<String>>,
    /// `content.size` (required for files).
    #[serde(default)]
    pub size: Option<Q>,
    /// `content.bitrate` (live, vod).
    #[serde(default)]
    pub bitrate: Option<Q>,
    /// `content.watch_time` (live, vod).
    #[serde(default)]
    pub watch_time: Option<Q>,
    /// `content.prefetch` (vod).
    #[serde(default)]
    pub prefetch: Option<Spanned<bool>>,
    /// `content.titles` (vod).
    #[serde(default)]
    pub titles: Option<Spanned<f64>>,
    /// `content.zipf` (vod).
    #[serde(default)]
    pub zipf: Option<Spanned<f64>>,
}

/// `[demand]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandFile {
    /// `demand.arrival_rate`.
    #[serde(default)]
    pub arrival_rate: Option<Q>,
    /// `demand.profile`.
    #[serde(default)]
    pub profile: Option<Spanned<String>>,
    /// `demand.decay_time` (flash-crowd).
    #[serde(default)]
    pub decay_time: Option<Q>,
    /// `demand.peak_to_mean` (diurnal).
    #[serde(default)]
    pub peak_to_mean: Option<Spanned<f64>>,
    /// `demand.period` (diurnal).
    #[serde(default)]
    pub period: Option<Q>,
    /// `demand.peak_time` (diurnal).
    #[serde(default)]
    pub peak_time: Option<Q>,
    /// `demand.file` (trace).
    #[serde(default)]
    pub file: Option<Spanned<String>>,
}

/// `[swarm]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmFile {
    /// `swarm.efficiency` (η).
    #[serde(default)]
    pub efficiency: Option<Spanned<f64>>,
    /// `swarm.abort_rate` (θ).
    #[serde(default)]
    pub abort_rate: Option<Q>,
    /// `swarm.seed_residence` (1/γ).
    #[serde(default)]
    pub seed_residence: Option<Q>,
    /// `swarm.startup_delay` (τ₀).
    #[serde(default)]
    pub startup_delay: Option<Q>,
    /// `swarm.duplicates` (d).
    #[serde(default)]
    pub duplicates: Option<Spanned<f64>>,
    /// `swarm.stages` (k).
    #[serde(default)]
    pub stages: Option<Spanned<i64>>,
    /// `swarm.flash_crowd_bound`: nobody completes before F/s.
    #[serde(default)]
    pub flash_crowd_bound: Option<Spanned<bool>>,
}

/// `[peers]`: one class (upload, download) or `[[peers.class]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeersFile {
    /// `peers.upload`.
    #[serde(default)]
    pub upload: Option<Q>,
    /// `peers.download`.
    #[serde(default)]
    pub download: Option<Q>,
    /// `[[peers.class]]`.
    #[serde(default)]
    pub class: Option<Vec<ClassFile>>,
    /// `[peers.cost]`: what taking part costs a peer.
    #[serde(default)]
    pub cost: Option<PeerCostFile>,
}

/// `[peers.cost]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerCostFile {
    /// Extra power drawn while in the swarm ("W").
    #[serde(default)]
    pub power: Option<Q>,
    /// Electricity price ("$/kWh").
    #[serde(default)]
    pub electricity: Option<Q>,
    /// What a GB of upload is worth to the peer ("$/GB").
    #[serde(default)]
    pub upload_value: Option<Q>,
    /// Private cost of sharing: "none", "uniform", "lognormal" or "energy".
    #[serde(default)]
    pub distribution: Option<Spanned<String>>,
    /// Uniform: lowest cost per download ("$").
    #[serde(default)]
    pub min: Option<Q>,
    /// Uniform: highest cost per download ("$").
    #[serde(default)]
    pub max: Option<Q>,
    /// Log-normal: median cost per download ("$").
    #[serde(default)]
    pub median: Option<Q>,
    /// Log-normal: standard deviation of ln(cost).
    #[serde(default)]
    pub sigma: Option<Spanned<f64>>,
    /// Energy: half-width of the spread factor, in [0, 1].
    #[serde(default)]
    pub spread: Option<Spanned<f64>>,
}

/// `[peers.class.cost]`: a class's own private-cost distribution.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassCostFile {
    /// Private cost of sharing: "none", "uniform", "lognormal" or "energy".
    #[serde(default)]
    pub distribution: Option<Spanned<String>>,
    /// Uniform: lowest cost per download ("$").
    #[serde(default)]
    pub min: Option<Q>,
    /// Uniform: highest cost per download ("$").
    #[serde(default)]
    pub max: Option<Q>,
    /// Log-normal: median cost per download ("$").
    #[serde(default)]
    pub median: Option<Q>,
    /// Log-normal: standard deviation of ln(cost).
    #[serde(default)]
    pub sigma: Option<Spanned<f64>>,
    /// Energy: half-width of the spread factor, in [0, 1].
    #[serde(default)]
    pub spread: Option<Spanned<f64>>,
}

/// `[pricing]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingFile {
    /// Who serves what peers cannot: "transit" or "cdn".
    #[serde(default)]
    pub origin: Option<Spanned<String>>,
    /// Transit price, 95th-percentile burstable ("$/Mbps/month").
    #[serde(default)]
    pub transit: Option<Q>,
    /// Per-GB egress fee on origin traffic ("$/GB").
    #[serde(default)]
    pub egress: Option<Q>,
    /// Cost of server capacity provisioned for the peak ("$/Mbps/month").
    #[serde(default)]
    pub capacity: Option<Q>,
    /// CDN price preset name.
    #[serde(default)]
    pub cdn: Option<Spanned<String>>,
    /// A CDN tier table instead of a preset.
    #[serde(default)]
    pub cdn_tier: Option<Spanned<Vec<CdnTierFile>>>,
    /// CDN commit discount in [0, 1).
    #[serde(default)]
    pub commit_discount: Option<Spanned<f64>>,
    /// Length of a billing month ("30 d").
    #[serde(default)]
    pub billing_month: Option<Q>,
    /// Coordination (tracker) cost per peer-hour ("$").
    #[serde(default)]
    pub tracker: Option<Q>,
    /// Price book name (`models/prices/NAME.toml`).
    #[serde(default)]
    pub book: Option<Spanned<String>>,
    /// What a run represents: "auto", "recurring" or "event".
    #[serde(default)]
    pub billing: Option<Spanned<String>>,
    /// Events per billing month (event billing), a whole number ≥ 1.
    #[serde(default)]
    pub events_per_month: Option<Spanned<f64>>,
    /// Recurring billing: bill the start-up from an empty swarm as part of the month.
    #[serde(default)]
    pub include_warmup: Option<Spanned<bool>>,
    /// Origin sizing: provisioned capacity = headroom × the peak rate it must send (≥ 1).
    #[serde(default)]
    pub headroom: Option<Spanned<f64>>,
}

/// `[[pricing.cdn_tier]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CdnTierFile {
    /// Cumulative monthly volume up to which this price applies; absent on the last tier.
    #[serde(default)]
    pub up_to: Option<Q>,
    /// Price ("$/GB").
    pub price: Q,
}

/// `[incentive]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncentiveFile {
    /// "none", "per-byte", "discount", "shapley" or "equilibrium".
    #[serde(default)]
    pub mechanism: Option<Spanned<String>>,
    /// Price paid per GB a peer uploads ("$/GB").
    #[serde(default)]
    pub price: Option<Q>,
    /// Discount per download for peers who opt in ("$").
    #[serde(default)]
    pub discount: Option<Q>,
    /// 1/k of the best-response dynamics ("1 h").
    #[serde(default)]
    pub response_time: Option<Q>,
}

/// `[[peers.class]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassFile {
    /// Name.
    pub name: Spanned<String>,
    /// Share of arrivals.
    pub share: Spanned<f64>,
    /// Upload bandwidth.
    pub upload: Q,
    /// Download bandwidth.
    pub download: Q,
    /// Per-class seed residence (else `swarm.seed_residence`).
    #[serde(default)]
    pub seed_residence: Option<Q>,
    /// Per-class abort rate (else `swarm.abort_rate`).
    #[serde(default)]
    pub abort_rate: Option<Q>,
    /// `[peers.class.cost]` (else `[peers.cost]`).
    #[serde(default)]
    pub cost: Option<Spanned<ClassCostFile>>,
}

/// `[server]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    /// `server.capacity`.
    #[serde(default)]
    pub capacity: Option<Q>,
    /// `server.policy`: "fill" (default) or "seed".
    #[serde(default)]
    pub policy: Option<Spanned<String>>,
}
