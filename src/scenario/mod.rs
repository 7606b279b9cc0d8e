//! Scenarios: parse a TOML file, then validate it once into a [`Scenario`].
//!
//! Two stages (as ripgrep's low/high args): [`raw::ScenarioFile`] mirrors the file and checks
//! only types and key names; [`Scenario::from_toml`] checks every range and cross-field rule and
//! resolves units and defaults. Downstream code takes `&Scenario` and never re-validates.
//! Every error names the file, line:column where known, the key path, the value and the
//! allowed range. The keys, units, defaults and ranges are listed in README.md.
//!
//! Layering: `scenario` is the first stage and never imports `model` (which imports it). The
//! types a `Scenario` hands to the models and the limits it checks them against are defined
//! in [`spec`]; the models implement their behaviour. It does still import from later stages
//! what it parses: the price book, tier tables and coordination designs from `cost`, and
//! [`CostDistribution`] from `incentive::distribution`.

mod locate;
pub mod patch;
pub mod raw;
pub mod spec;

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::cost::book::PriceBook;
use crate::cost::coordination::{self as coord, Coordination};
use crate::cost::tiers::{Tier, TierTable, GB};
use crate::error::{echo, ScenarioError};
pub use crate::incentive::distribution::CostDistribution;
use crate::units::{
    self, BitsPerSec, Bytes, Dimension, KgPerKwh, KwhPerGb, PerSec, Seconds, Usd, UsdPerGb,
    UsdPerKwh, UsdPerMbpsMonth, Watts,
};
use locate::header_span;
pub use locate::{line_col, toml_error};
use raw::{Quantity, ScenarioFile, Q};
use serde::Serialize;
use spec::{ArrivalProfile, Selection, ServerPolicy};

/// The built-in default scenario (what `peerfluid` with no arguments runs).
pub const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/viral-video.toml");
/// Label used for the built-in default in messages.
pub const DEFAULT_LABEL: &str = "<built-in default: scenarios/viral-video.toml>";
/// Most peer classes a scenario may have.
pub const MAX_CLASSES: usize = 64;
/// How far the class shares may be from summing to 1.
pub const SHARE_SUM_TOL: f64 = 1e-6;

/// A validated scenario: every field in base units and in range.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// `name`: letters, digits, `-`, `_`, `.`; names the results folder.
    pub name: String,
    /// `description`.
    pub description: String,
    /// Where it came from (file path or the built-in label).
    pub source: String,
    /// `horizon`, seconds; `None` = until the steady state (see `run`).
    pub horizon: Option<Seconds>,
    /// `[content]`.
    pub content: Content,
    /// `[demand]`.
    pub demand: Demand,
    /// `[swarm]`.
    pub swarm: SwarmParams,
    /// `[peers]` resolved to classes (one class named "all" when the file gives one).
    pub classes: Vec<PeerClass>,
    /// `[server]`.
    pub server: Server,
    /// `[pricing]`.
    pub pricing: Pricing,
    /// `[incentive]`.
    pub incentive: Incentive,
    /// `[peers.cost]`.
    pub peer_cost: PeerCost,
    /// `[[isp]]`: the ISPs the peers live in (empty: one network, no locality report).
    pub isps: Vec<IspSpec>,
    /// `[locality] selection`: how peers pick whom to download from (with ISPs).
    pub selection: Selection,
    /// `[push]`: the file pushed to many devices at once (Kumar & Ross), if given.
    pub push: Option<Push>,
    /// `[energy]`: the energy view's factors (defaults cited in `models/energy.md`).
    pub energy: EnergyFactors,
    /// `[coordination]`: how peers find each other, billed in `p2p` and `hybrid`
    /// (`models/coordination.md`); `None` = `pricing.tracker` per peer-hour (default $0).
    pub coordination: Option<Coordination>,
    /// The keys the file set, as written, sorted by key ([`Scenario::from_toml`]; empty for
    /// a sweep point, whose keys are its base file's and the swept values).
    /// Shared: a scenario is cloned per run and per split, its inputs never change.
    pub inputs: std::sync::Arc<[Input]>,
}

/// One key a scenario file set, for the report's inputs table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Input {
    /// Dotted key (`demand.decay_time`; `peers.class[1].upload` in an array of tables).
    pub key: String,
    /// The value as written: a quantity keeps its unit (`"6 h"`); long arrays are shortened.
    pub value: String,
}

/// Longest value shown in an [`Input`] (a trace's points can be thousands of numbers).
const INPUT_MAX_CHARS: usize = 80;

/// Every leaf key of a TOML table, sorted by key (`name` and `description` left out: the
/// report shows them as its title).
fn inputs_of(table: &toml::Table, prefix: &str, out: &mut Vec<Input>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => inputs_of(t, &key, out),
            toml::Value::Array(a) if !a.is_empty() && a.iter().all(toml::Value::is_table) => {
                for (i, t) in a.iter().enumerate() {
                    if let toml::Value::Table(t) = t {
                        inputs_of(t, &format!("{key}[{i}]"), out);
                    }
                }
            }
            toml::Value::String(text) => out.push(Input {
                key,
                value: text.clone(),
            }),
            other => {
                let mut value = other.to_string();
                if value.chars().count() > INPUT_MAX_CHARS {
                    value = value.chars().take(INPUT_MAX_CHARS - 1).collect::<String>() + "…";
                }
                out.push(Input { key, value });
            }
        }
    }
}

/// `[energy]`, resolved: what delivering a GB costs in energy, and the grid's carbon.
/// Defaults and their sources: `models/energy.md`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EnergyFactors {
    /// `energy.origin`, kWh per (SI) GB served by an origin data centre.
    pub origin_kwh_per_gb: KwhPerGb,
    /// `energy.cdn`, kWh per GB served by a CDN.
    pub cdn_kwh_per_gb: KwhPerGb,
    /// `energy.network`, kWh per GB carried by the edge, metro and core networks.
    pub network_kwh_per_gb: KwhPerGb,
    /// What a sharing peer's device draws for sharing, W.
    pub peer_power_w: Watts,
    /// Where `peer_power_w` came from: "gateway-marginal", "gateway", "pc",
    /// "energy.peer_power" or "peers.cost.power".
    pub peer_device: &'static str,
    /// `energy.carbon`, kg CO2 per kWh.
    pub carbon_kg_per_kwh: KgPerKwh,
}

impl EnergyFactors {
    /// Origin data centre: 0.020 kWh/GB, the geometric middle of 0.00033 (Carbon Trust 2021)
    /// to 0.122 kWh/GB (Sustainable Web Design v3) with 0.055 and 0.072 between.
    pub const ORIGIN: KwhPerGb = 0.020;
    /// Edge + metro + core transport: 0.008 kWh/GB (Mytton, Staffell & Jansen, UK 2019).
    pub const NETWORK: KwhPerGb = 0.008;
    /// Home gateway, marginal power of serving: 1 W, the middle of 0 W (Calchand et al. 2010)
    /// and +2 W (ISPreview 2017).
    pub const GATEWAY_MARGINAL: Watts = 1.0;
    /// Home gateway, whole device: 7 W (middle of 4.5–10 W; NRDC 2013, LBNL, Coroama 2015).
    pub const GATEWAY: Watts = 7.0;
    /// Desktop PC kept on only to serve, whole device: 48 W (middle of 43–55 W; LBNL 2000–01,
    /// Winrock 2004).
    pub const PC: Watts = 48.0;
    /// World grid: 0.47 kg CO2/kWh (middle of Ember 2022 0.436, IEA 2018 0.475, SWD v4 0.494).
    pub const CARBON: KgPerKwh = 0.47;
}

impl Default for EnergyFactors {
    fn default() -> Self {
        Self {
            origin_kwh_per_gb: Self::ORIGIN,
            cdn_kwh_per_gb: Self::ORIGIN,
            network_kwh_per_gb: Self::NETWORK,
            peer_power_w: Self::GATEWAY_MARGINAL,
            peer_device: "gateway-marginal",
            carbon_kg_per_kwh: Self::CARBON,
        }
    }
}

/// `[wireless]`, resolved: users, their demand, the macro towers and the femtocells.
/// Defaults and their sources: `models/wireless.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct Wireless {
    /// The offload physics (users, demand, busy hour, shares, capacities).
    pub offload: spec::Offload,
    /// `wireless.hosts`: share of users who host (with a cost distribution: who may host).
    pub hosts: f64,
    /// `wireless.tower_cost`, $ per tower per year (annualised build + running costs).
    pub tower_cost: Usd,
    /// `wireless.tower_power`, W per tower (whole site).
    pub tower_power: Watts,
    /// `wireless.femtocell_price`, $.
    pub femtocell_price: Usd,
    /// `wireless.femtocell_lifetime`, s.
    pub femtocell_lifetime: Seconds,
    /// `wireless.give_away`: the operator pays for the femtocells (else hosts buy them).
    pub give_away: bool,
}

impl Wireless {
    /// Macro tower (site) busy-hour capacity: 140 Mbps, the middle of 120 (2 bit/s/Hz) and
    /// 162 Mbps (2.7 bit/s/Hz) for 20 MHz × 3 sectors of LTE.
    pub const TOWER_CAPACITY: BitsPerSec = 140e6;
    /// Macro site per year: $33,350 (Oughton et al.'s urban 4G parameters: $100k capex over
    /// 10 years at 5 % = $12,950, + O&M $7,400 + power $3,000 + rent $10,000).
    pub const TOWER_COST: Usd = 33_350.0;
    /// Macro site power: 2 kW, the middle of 0.78–5 kW (EARTH model idle; vendors' whole
    /// sites).
    pub const TOWER_POWER: Watts = 2_000.0;
    /// Femtocell power: 7.2 W, the middle of 5 W (picoChip 2010) and 10.4 W (EARTH 2011).
    pub const FEMTO_POWER: Watts = 7.2;
    /// Femtocell price: $100 (Sprint Airave, 2008).
    pub const FEMTO_PRICE: Usd = 100.0;
    /// Busy-hour share of a day's traffic: 0.12, the middle of 0.072 (Cisco VNI 2010) and
    /// 0.20 (planning assumptions). Weak evidence: no measured mobile figure was found.
    pub const BUSY_HOUR_SHARE: f64 = 0.12;
    /// Share of a host's traffic at home: 0.7, the middle of 0.6 (offloaded to Wi-Fi or
    /// femtocells, Cisco VNI 2016) and 0.8 (used indoors, Ericsson).
    pub const HOME_SHARE: f64 = 0.7;
    /// Host uplink: 34 Mbps (U.S. fixed median upload, Ookla May 2024; literature §7.3).
    pub const HOST_UPLINK: BitsPerSec = 34e6;
}

/// `[push]`, resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Push {
    /// `push.devices`: receivers, a whole number ≥ 1.
    pub devices: u64,
    /// `push.deadline`, s: every device must have the file by then (optional).
    pub deadline: Option<Seconds>,
}

/// `[[isp]]`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct IspSpec {
    /// `isp.name`.
    pub name: String,
    /// `isp.class`: index of its peer class in `Scenario::classes`.
    pub class: usize,
    /// `isp.transit`, $/Mbps/month; default `pricing.transit`.
    pub transit: UsdPerMbpsMonth,
    /// `isp.transit_capacity` (default `locality.transit_capacity`), bit/s in each direction
    /// of the ISP's link to the other ISPs; `None`: unlimited.
    pub transit_capacity: Option<BitsPerSec>,
}

/// Who serves the bytes peers cannot, in the peer-assisted architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The provider's own servers behind burstable transit.
    Transit,
    /// A CDN billed per GB.
    Cdn,
}

/// `[pricing]`, resolved (see `models/costs.md` for sources and years).
#[derive(Debug, Clone, PartialEq)]
pub struct Pricing {
    /// `pricing.book`: the price book the defaults below come from (`models/prices/`);
    /// default [`PriceBook::DEFAULT`].
    pub book: std::sync::Arc<PriceBook>,
    /// The `[pricing]` and `[peers.cost]` prices the scenario sets itself (over the book's).
    pub overrides: Vec<&'static str>,
    /// `pricing.origin`; default transit.
    pub origin: Origin,
    /// `pricing.transit`, $/Mbps/month at the 95th percentile; default 1.0 (London 10GigE,
    /// Q2 2015, TeleGeography: the last verified figure in literature.md §7.2).
    pub transit: UsdPerMbpsMonth,
    /// `pricing.egress`, $/GB on origin traffic; default 0.
    pub egress: UsdPerGb,
    /// `pricing.capacity`, $/Mbps/month of peak server rate; default 0.
    pub capacity: UsdPerMbpsMonth,
    /// CDN tiers (`pricing.cdn` preset or `[[pricing.cdn_tier]]`); default CloudFront US.
    pub cdn: TierTable,
    /// Name of the CDN price table ("cloudfront-us" or "custom").
    pub cdn_name: String,
    /// `pricing.billing_month`, seconds; default 30 days.
    pub billing_month: Seconds,
    /// `pricing.tracker`, $ per peer-hour; default 0.
    pub tracker_per_peer_hour: Usd,
    /// `pricing.billing`: what a run represents; `None` = "auto" (chosen from the arrival
    /// profile, see [`Scenario::billing_rule`]).
    pub billing: Option<BillingRule>,
    /// `pricing.events_per_month`: how often an event recurs in a billing month; default 1.
    pub events_per_month: u32,
    /// `pricing.include_warmup`: recurring billing counts the start-up from an empty swarm in
    /// the month; default false (the warm-up is reported and excluded).
    pub include_warmup: bool,
    /// `pricing.headroom`: every origin is provisioned at headroom × the exact peak rate it
    /// sends; default 1 (the least that gives the same service).
    pub headroom: f64,
}

/// Shortest `pricing.billing_month`: a day (bills are made of 5-minute samples; a billing
/// period shorter than a day is not what any carrier or CDN sends).
pub const MIN_BILLING_MONTH: Seconds = 86_400.0;
/// Longest `pricing.billing_month`: a year.
pub const MAX_BILLING_MONTH: Seconds = 366.0 * 86_400.0;

/// Most events a billing month may hold (`pricing.events_per_month`).
pub const MAX_EVENTS_PER_MONTH: u32 = 10_000;

/// What a run represents, and so how it is billed (`models/costs.md`, "Billing rule").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingRule {
    /// A pattern that repeats (constant or diurnal demand): a steady window after the warm-up
    /// is repeated to fill the month.
    Recurring {
        /// Count the warm-up from an empty swarm at the start of the month.
        include_warmup: bool,
    },
    /// An event (flash crowd, trace, push) that happens `per_month` times a month; the rest of
    /// the month is idle.
    Event {
        /// Events per billing month.
        per_month: u32,
    },
}

impl BillingRule {
    /// "recurring" or "event".
    pub fn label(&self) -> &'static str {
        match self {
            Self::Recurring { .. } => "recurring",
            Self::Event { .. } => "event",
        }
    }
}

/// `[incentive]`: what the provider offers peers, and how fast peers respond.
#[derive(Debug, Clone, PartialEq)]
pub struct Incentive {
    /// `incentive.mechanism`.
    pub mechanism: Mechanism,
    /// `incentive.response_time`, 1/k of the best-response dynamics dq/dt = k (F − q),
    /// seconds (> 0); default 1 h.
    pub response_time: Seconds,
}

impl Default for Incentive {
    fn default() -> Self {
        Self {
            mechanism: Mechanism::None,
            response_time: 3600.0,
        }
    }
}

/// `incentive.mechanism`: how peers are paid.
#[derive(Debug, Clone, PartialEq)]
pub enum Mechanism {
    /// Peers are not paid.
    None,
    /// Peers are paid per GB they upload.
    PerByte {
        /// $/GB.
        price: UsdPerGb,
    },
    /// A flat discount per download for peers who opt in to share.
    Discount {
        /// $ per download.
        amount: Usd,
    },
    /// Each sharing peer is paid its fluid Shapley value: the Shapley price per GB of upload
    /// capacity it offers (computed from the scenario's own costs, `models/incentives.md`).
    Shapley,
    /// The provider pays per GB uploaded at the price that minimises its cost once peers have
    /// responded (Stackelberg; needs a cost distribution so that peers decide).
    Equilibrium,
}

impl Mechanism {
    /// Name as written in scenario files.
    pub fn label(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::PerByte { .. } => "per-byte",
            Self::Discount { .. } => "discount",
            Self::Shapley => "shapley",
            Self::Equilibrium => "equilibrium",
        }
    }
}

/// `[peers.cost]`: what taking part costs a peer.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerCost {
    /// Extra power while in the swarm, W; default 0.
    pub power: Watts,
    /// Electricity price, $/kWh; default 0.1545 (U.S. residential average, Jan 2024, EIA).
    pub electricity: UsdPerKwh,
    /// Value to the peer of a GB of its upload (data caps, wear), $/GB; default 0.
    pub upload_value: UsdPerGb,
    /// Private cost of sharing, $ per download (`peers.cost.distribution`); default none
    /// (everybody shares).
    pub distribution: CostDistribution,
}

/// `[content]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    /// `content.size`, bytes (> 0). For live and VoD: the bytes of one average view
    /// (bitrate × watch time) unless given.
    pub size: Bytes,
    /// `content.kind` and its parameters.
    pub kind: ContentKind,
}

/// The words `content.kind` accepts, for messages.
const KINDS: &str = "\"file\", \"live\", \"vod\" or \"wireless\"";

/// Longest `content.watch_time`: a day (a viewer who never leaves makes the audience grow
/// without a steady state; a year made one VoD catalogue's audience sums run for minutes,
/// issue 18's mutation test, and no viewing session lasts a day on average).
pub const MAX_WATCH_TIME: Seconds = 86_400.0;

/// What is delivered: a file to a swarm, a live stream, or video on demand.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentKind {
    /// A file (Qiu–Srikant swarm; `models/swarm.md`).
    File,
    /// A live stream (Kumar, Liu & Ross; `models/streaming.md`).
    Live(Stream),
    /// Smartphone traffic offloaded to femtocells (`[wireless]`; `models/wireless.md`).
    Wireless(Box<Wireless>),
    /// Video on demand (Huang, Li & Ross; `models/vod.md`).
    Vod {
        /// Bitrate and watch time.
        stream: Stream,
        /// `content.prefetch`: peers with spare upload prefetch (pooled server load);
        /// `false`: each viewer is fed only by earlier arrivals and the server (ordered).
        prefetch: bool,
        /// `content.titles`: catalogue size (1 = a single video).
        titles: u32,
        /// `content.zipf`: popularity exponent of the catalogue.
        zipf: f64,
    },
}

/// A stream's rate and how long a viewer stays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stream {
    /// `content.bitrate`, bit/s (> 0).
    pub bitrate: f64,
    /// `content.watch_time`, s (> 0): mean time a viewer watches.
    pub watch_time: Seconds,
}

impl ContentKind {
    /// "file", "live" or "vod".
    pub fn label(&self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Live(_) => "live",
            Self::Vod { .. } => "vod",
            Self::Wireless(_) => "wireless",
        }
    }

    /// The `[wireless]` section of a wireless scenario.
    pub fn wireless(&self) -> Option<&Wireless> {
        match self {
            Self::Wireless(w) => Some(w),
            _ => None,
        }
    }

    /// The stream of a live or VoD scenario.
    pub fn stream(&self) -> Option<Stream> {
        match self {
            Self::File | Self::Wireless(_) => None,
            Self::Live(s) | Self::Vod { stream: s, .. } => Some(*s),
        }
    }
}

/// `[demand]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    /// λ(t) for all peers together.
    pub arrival: ArrivalProfile,
}

/// `[swarm]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmParams {
    /// η in [0, 1]; default 1.
    pub efficiency: f64,
    /// τ₀: mean start-up delay of a download (no upload, no progress before a first piece),
    /// seconds; 0 (default) = off, else ≥ [`MIN_STARTUP_DELAY`].
    pub startup_delay: Seconds,
    /// d: the fraction of received bytes that are duplicates, in [0, 1); default 0 (off).
    pub duplicates: f64,
    /// k: download stages (Erlang-k download times), 1..=[`MAX_STAGES`]; default 1 (off).
    pub stages: usize,
    /// The flash-crowd bound: no download completes before t_g = F/s (the file over the
    /// server's capacity) from t = 0; default false (off). Needs `stages` ≥ 2 and a server.
    pub flash_crowd_bound: bool,
}

/// One peer class, per-class overrides resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerClass {
    /// Name (letters, digits, `-`, `_`).
    pub name: String,
    /// Share of arrivals in (0, 1].
    pub share: f64,
    /// Upload bandwidth, bit/s (≥ 0).
    pub upload: BitsPerSec,
    /// Download bandwidth, bit/s (> 0).
    pub download: BitsPerSec,
    /// θ, 1/s (≥ 0); default 0.
    pub abort_rate: PerSec,
    /// 1/γ, seconds (≥ 0; 0 = seeds leave at once); default 0.
    pub seed_residence: Seconds,
    /// The class's private cost of sharing (`[peers.class.cost]`, else `[peers.cost]`).
    pub cost: CostDistribution,
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    /// Provider upload, bit/s (≥ 0); default 0.
    pub capacity: BitsPerSec,
    /// How the server shares the work with peers (`server.policy`); default "fill".
    pub policy: ServerPolicy,
}

impl Scenario {
    /// How a run of this scenario is billed, and why: `pricing.billing` when given, else
    /// constant and diurnal arrivals recur, and flash crowds and traces are events (a file
    /// push's swarm is billed by its arrival profile; the push itself is reported apart).
    pub fn billing_rule(&self) -> (BillingRule, &'static str) {
        let p = &self.pricing;
        if let Some(rule) = p.billing {
            return (rule, "given in the scenario (`pricing.billing`)");
        }
        let recurring = BillingRule::Recurring {
            include_warmup: p.include_warmup,
        };
        let event = BillingRule::Event {
            per_month: p.events_per_month,
        };
        match self.demand.arrival {
            ArrivalProfile::Constant { .. } => (recurring, "constant arrivals recur all month"),
            ArrivalProfile::Diurnal { .. } => (recurring, "a diurnal pattern recurs every period"),
            ArrivalProfile::FlashCrowd { .. } => (event, "a flash crowd is an event"),
            ArrivalProfile::Trace { .. } => (event, "a recorded trace is an event"),
        }
    }

    /// The same scenario when only a share `q[c]` of class c's peers share: a class with
    /// q < 1 is split into its sharers (same name) and `name-out`, who upload nothing and leave
    /// on completion (see `models/incentives.md`).
    pub fn with_participation(&self, q: &[f64]) -> Scenario {
        use spec::OPTED_OUT_SUFFIX;
        let mut out = self.clone();
        out.classes.clear();
        for (cl, &qc) in self.classes.iter().zip(q) {
            let qc = qc.clamp(0.0, 1.0);
            if qc > 0.0 {
                out.classes.push(PeerClass {
                    share: cl.share * qc,
                    ..cl.clone()
                });
            }
            if qc < 1.0 {
                out.classes.push(PeerClass {
                    name: format!("{}{OPTED_OUT_SUFFIX}", cl.name),
                    share: cl.share * (1.0 - qc),
                    upload: 0.0,
                    seed_residence: 0.0,
                    ..cl.clone()
                });
            }
        }
        out
    }

    /// Read and validate a scenario file.
    pub fn from_path(path: &Path) -> Result<Self, ScenarioError> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Read {
            file: label.clone(),
            reason: e.to_string(),
        })?;
        Self::from_toml(&text, &label, path.parent())
    }

    /// The built-in default scenario.
    pub fn builtin_default() -> Result<Self, ScenarioError> {
        Self::from_toml(DEFAULT_SCENARIO, DEFAULT_LABEL, None)
    }

    /// Parse and validate TOML text; `label` names it in errors; `base_dir` resolves relative
    /// paths in it (trace files).
    pub fn from_toml(
        text: &str,
        label: &str,
        base_dir: Option<&Path>,
    ) -> Result<Self, ScenarioError> {
        let cx = Ctx {
            file: label,
            src: text,
            parsed: None,
            seen: None,
        };
        let mut table = toml::de::DeTable::parse(text).map_err(|e| cx.parse_error(&e))?;
        // A scenario may carry the sweep that varies it; `peerfluid sweep` reads that part.
        table.get_mut().remove("sweep");
        let mut scenario = validate_table(table, text, label, base_dir)?;
        // The text parsed above, so it parses again.
        if let Ok(mut plain) = text.parse::<toml::Table>() {
            for shown_elsewhere in ["sweep", "name", "description"] {
                plain.remove(shown_elsewhere);
            }
            let mut inputs = Vec::new();
            inputs_of(&plain, "", &mut inputs);
            scenario.inputs = inputs.into();
        }
        Ok(scenario)
    }
}

/// Validate a parsed TOML document (`text` is the source its spans point into, `label` names
/// it in errors). Sweeps parse a file once and validate each point's copy of the table, with
/// the swept values put in, through this same function.
pub fn validate_table(
    table: toml::Spanned<toml::de::DeTable<'_>>,
    text: &str,
    label: &str,
    base_dir: Option<&Path>,
) -> Result<Scenario, ScenarioError> {
    use serde::Deserialize;
    let cx = Ctx {
        file: label,
        src: text,
        parsed: None,
        seen: None,
    };
    let raw = ScenarioFile::deserialize(toml::de::Deserializer::from(table))
        .map_err(|e| cx.parse_error(&e))?;
    cx.validate(raw, base_dir)
}

/// Validate a scenario file already parsed into its raw form (spans point into `text`): what
/// [`validate_table`] does after deserializing. Sweeps parse the base file once and validate
/// each point's copy with its swept keys set in place ([`patch`]), reusing the base's
/// quantities (`parsed`, from [`parse_quantities`]).
pub fn validate_raw(
    raw: ScenarioFile,
    text: &str,
    label: &str,
    base_dir: Option<&Path>,
    parsed: Option<&Parsed>,
) -> Result<Scenario, ScenarioError> {
    Ctx {
        file: label,
        src: text,
        parsed,
        seen: None,
    }
    .validate(raw, base_dir)
}

/// Validate a raw scenario file once, keeping every text quantity it parsed (by place and
/// dimension) for [`validate_raw`] of its copies.
pub fn parse_quantities(
    raw: ScenarioFile,
    text: &str,
    label: &str,
    base_dir: Option<&Path>,
) -> Result<Parsed, ScenarioError> {
    let seen = std::cell::RefCell::new(Vec::new());
    Ctx {
        file: label,
        src: text,
        parsed: None,
        seen: Some(&seen),
    }
    .validate(raw, base_dir)?;
    Ok(Parsed {
        known: seen.into_inner().into_iter().collect(),
    })
}

/// Parse a TOML table into the raw scenario file (types only, no validation).
pub fn raw_of_table(
    table: toml::Spanned<toml::de::DeTable<'_>>,
    text: &str,
    label: &str,
) -> Result<ScenarioFile, ScenarioError> {
    use serde::Deserialize;
    ScenarioFile::deserialize(toml::de::Deserializer::from(table)).map_err(|e| {
        Ctx {
            file: label,
            src: text,
            parsed: None,
            seen: None,
        }
        .parse_error(&e)
    })
}

struct Ctx<'a> {
    file: &'a str,
    src: &'a str,
    /// Quantities already parsed and range-checked (sweep points: the base file's values that
    /// no parameter changes); see [`Parsed`].
    parsed: Option<&'a Parsed>,
    /// While recording (the base validated once): every text quantity that passed.
    seen: Option<&'a std::cell::RefCell<Vec<Slot>>>,
}

/// A parsed quantity: the span of its text, its dimension, and its value.
type Slot = ((usize, usize, Dimension), f64);

/// The quantities of one file, parsed and range-checked once, by the span of their text and
/// their dimension: sweeps validate every point's copy of the base file, and all but the
/// swept values are the base's own text at the base's own place.
#[derive(Debug, Default)]
pub struct Parsed {
    known: std::collections::HashMap<(usize, usize, Dimension), f64, SlotHash>,
}

/// A multiply–rotate hash for the few dozen small integer keys of [`Parsed`] (SipHash cost
/// more than the lookup saves; these keys come from the file, not from an adversary).
type SlotHash = std::hash::BuildHasherDefault<SlotHasher>;

#[derive(Default)]
struct SlotHasher(u64);

impl std::hash::Hasher for SlotHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(27);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as u64);
    }
}

impl Parsed {
    /// Forget the value at `span` (a swept key's place: each point gives its own text there).
    pub fn forget(&mut self, span: &Range<usize>) {
        self.known
            .retain(|k, _| (k.0, k.1) != (span.start, span.end));
    }
}

/// Behavioural ranges (issue 18): values beyond them describe no swarm, and the models pay for
/// them with stiffness (a seed that stays 1 ms, a download aborted a thousand times a second, a
/// viewer revising its choice every millisecond, a peer link of 10 Tbps) that turns every
/// solve of an incentive search into seconds. A seed residence is 0 (seeds leave at once) or
/// at least this long.
const MIN_SEED_RESIDENCE: f64 = 1.0;

/// Shortest `demand.decay_time` of a flash crowd, s.
const MIN_DECAY_TIME: f64 = 1.0;
/// Most aborts per second per downloader.
const MAX_ABORT_RATE: f64 = 1.0;
/// Shortest best-response time of the participation dynamics.
const MIN_RESPONSE_TIME: f64 = 1.0;
/// Shortest start-up delay accepted, seconds (besides 0 = off): a first piece within 0.1 s is
/// no delay at the model's time scales, and a faster state only adds stiffness.
pub const MIN_STARTUP_DELAY: f64 = 0.1;
/// Most download stages accepted (`swarm.stages`): 64 stages put the download time's
/// coefficient of variation at 1/8; more only add states.
pub const MAX_STAGES: usize = 64;
/// Fastest peer link, bit/s (100 Gbps).
const MAX_PEER_LINK: f64 = 1e11;

impl Ctx<'_> {
    fn at(&self, span: Range<usize>, message: String) -> ScenarioError {
        let (line, column) = line_col(self.src, span.start);
        ScenarioError::At {
            file: self.file.to_string(),
            line,
            column,
            message,
        }
    }

    fn whole(&self, message: String) -> ScenarioError {
        ScenarioError::Whole {
            file: self.file.to_string(),
            message,
        }
    }

    fn parse_error(&self, e: &toml::de::Error) -> ScenarioError {
        toml_error(self.file, self.src, e)
    }

    /// Parse a quantity; unit errors are reported at the value. The unit error quotes the
    /// value (cut when long), so the message does not repeat it.
    fn quantity(&self, q: &Q, key: &str, dim: Dimension) -> Result<f64, ScenarioError> {
        let text = matches!(q.get_ref(), Quantity::Text(_));
        let slot = (q.span().start, q.span().end, dim);
        if let Some(v) = self
            .parsed
            .filter(|_| text)
            .and_then(|p| p.known.get(&slot))
        {
            return Ok(*v);
        }
        let v = self.quantity_now(q, key, dim)?;
        if let Some(seen) = self.seen.filter(|_| text) {
            seen.borrow_mut().push((slot, v));
        }
        Ok(v)
    }

    fn quantity_now(&self, q: &Q, key: &str, dim: Dimension) -> Result<f64, ScenarioError> {
        let parsed = match q.get_ref() {
            Quantity::Number(v) => units::from_number(*v, dim),
            Quantity::Text(s) => units::parse_quantity(s, dim),
        };
        let v = parsed.map_err(|e| self.at(q.span(), format!("`{key}`: {e}")))?;
        // Beyond these magnitudes the models leave f64 or their time steps round to nothing:
        // refuse here, with the range, rather than fail (or print inf) later.
        if let Some((lo, hi)) = units::usable_range(dim) {
            let m = v.abs();
            if m != 0.0 && !(lo..=hi).contains(&m) {
                return Err(self.at(
                    q.span(),
                    format!(
                        "`{key}` = {} is outside what the models can compute with: as {} it \
                         must be 0 or between {} and {} in magnitude",
                        q.get_ref(),
                        dim.describe(),
                        units::format_quantity(lo, dim),
                        units::format_quantity(hi, dim)
                    ),
                ));
            }
        }
        Ok(v)
    }

    /// A quantity with a lower bound (strict or not) and an optional upper bound.
    fn bounded(
        &self,
        q: &Q,
        key: &str,
        dim: Dimension,
        min: f64,
        strict: bool,
        max: Option<f64>,
    ) -> Result<f64, ScenarioError> {
        let v = self.quantity(q, key, dim)?;
        self.check_range(
            q.span(),
            key,
            v,
            &|| q.get_ref().to_string(),
            dim,
            min,
            strict,
            max,
        )?;
        Ok(v)
    }

    /// A seed residence: 0 (seeds leave at once) or at least [`MIN_SEED_RESIDENCE`].
    fn residence(&self, q: &Q, key: &str) -> Result<f64, ScenarioError> {
        let v = self.bounded(q, key, Dimension::Time, 0.0, false, None)?;
        if v != 0.0 && v < MIN_SEED_RESIDENCE {
            return Err(self.at(
                q.span(),
                format!(
                    "`{key}` must be 0 (seeds leave at once) or at least {} (got {})",
                    units::format_quantity(MIN_SEED_RESIDENCE, Dimension::Time),
                    q.get_ref()
                ),
            ));
        }
        Ok(v)
    }

    #[allow(clippy::too_many_arguments)] // one place that words every range message
    fn check_range(
        &self,
        span: Range<usize>,
        key: &str,
        v: f64,
        shown: &dyn Fn() -> String,
        dim: Dimension,
        min: f64,
        strict: bool,
        max: Option<f64>,
    ) -> Result<(), ScenarioError> {
        let low_ok = if strict { v > min } else { v >= min };
        let high_ok = max.is_none_or(|m| v <= m);
        if low_ok && high_ok && v.is_finite() {
            return Ok(());
        }
        let fmt = |x: f64| {
            if matches!(dim, Dimension::Dimensionless) {
                format!("{x}")
            } else {
                units::format_quantity(x, dim)
            }
        };
        let range = match (strict, max) {
            (true, None) => format!("must be > {}", fmt(min)),
            (false, None) => format!("must be ≥ {}", fmt(min)),
            (true, Some(m)) => format!("must be in ({}, {}]", fmt(min), fmt(m)),
            (false, Some(m)) => format!("must be in [{}, {}]", fmt(min), fmt(m)),
        };
        Err(self.at(span, format!("`{key}` {range} (got {})", shown())))
    }

    fn plain(
        &self,
        v: &toml::Spanned<f64>,
        key: &str,
        min: f64,
        strict: bool,
        max: Option<f64>,
    ) -> Result<f64, ScenarioError> {
        let x = *v.get_ref();
        self.check_range(
            v.span(),
            key,
            x,
            &|| format!("{x}"),
            Dimension::Dimensionless,
            min,
            strict,
            max,
        )?;
        Ok(x)
    }

    fn validate(
        &self,
        raw: ScenarioFile,
        base_dir: Option<&Path>,
    ) -> Result<Scenario, ScenarioError> {
        use Dimension::*;
        let name = raw.name.get_ref().trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || name.starts_with('.')
        {
            return Err(self.at(
                raw.name.span(),
                format!("`name` must be non-empty and use only letters, digits, '-', '_' and '.' (not first), because it names the results folder (got \"{}\")", echo(raw.name.get_ref())),
            ));
        }
        let horizon = match &raw.horizon {
            Some(q) => Some(self.bounded(q, "horizon", Time, 0.0, true, None)?),
            None => None,
        };
        let energy = self.energy(raw.energy.as_ref(), raw.peers.as_ref())?;
        if raw
            .content
            .get_ref()
            .kind
            .as_ref()
            .is_some_and(|k| k.get_ref() == "wireless")
        {
            return self.validate_wireless(raw, name, energy);
        }
        let Some(raw_demand) = &raw.demand else {
            return Err(self.at(0..0, "`[demand]` is missing (required)".into()));
        };
        let Some(raw_peers) = &raw.peers else {
            return Err(self.at(0..0, "`[peers]` is missing (required)".into()));
        };
        if let Some(w) = &raw.wireless {
            return Err(self.at(
                w.span(),
                "`[wireless]` applies to `content.kind = \"wireless\"` only".into(),
            ));
        }
        let arrival = self.demand(raw_demand, base_dir)?;
        let (size, kind) = self.content(raw.content.get_ref(), raw.content.span())?;
        if kind.stream().is_some() {
            // Viewers leave after watching; the swarm's file keys have no meaning here.
            for (given, key) in [
                (
                    raw.swarm.abort_rate.as_ref().map(|q| q.span()),
                    "swarm.abort_rate",
                ),
                (
                    raw.swarm.seed_residence.as_ref().map(|q| q.span()),
                    "swarm.seed_residence",
                ),
                (
                    raw.swarm.efficiency.as_ref().map(|q| q.span()),
                    "swarm.efficiency",
                ),
                (
                    raw.swarm.startup_delay.as_ref().map(|q| q.span()),
                    "swarm.startup_delay",
                ),
                (
                    raw.swarm.duplicates.as_ref().map(|q| q.span()),
                    "swarm.duplicates",
                ),
                (raw.swarm.stages.as_ref().map(|q| q.span()), "swarm.stages"),
                (
                    raw.swarm.flash_crowd_bound.as_ref().map(|q| q.span()),
                    "swarm.flash_crowd_bound",
                ),
            ] {
                if let Some(span) = given {
                    return Err(self.at(span, format!("`{key}` does not apply to `content.kind = \"{}\"`: viewers leave after `content.watch_time` and upload while they watch", kind.label())));
                }
            }
            for cl in raw_peers.get_ref().class.iter().flatten() {
                for (given, key) in [
                    (
                        cl.seed_residence.as_ref().map(|q| q.span()),
                        "seed_residence",
                    ),
                    (cl.abort_rate.as_ref().map(|q| q.span()), "abort_rate"),
                ] {
                    if let Some(span) = given {
                        return Err(self.at(span, format!("`[[peers.class]]` '{}': `{key}` does not apply to `content.kind = \"{}\"`: viewers leave after `content.watch_time`", echo(cl.name.get_ref()), kind.label())));
                    }
                }
            }
            if let (ContentKind::Vod { .. }, Some(q)) = (&kind, &raw.server.capacity) {
                return Err(self.at(q.span(), "`server.capacity` does not apply to `content.kind = \"vod\"`: the run reports the server load VoD needs (its 95th percentile is what `compare` bills); a capped origin is modelled for live streams".into()));
            }
        }

        let efficiency = match &raw.swarm.efficiency {
            Some(v) => self.plain(v, "swarm.efficiency", 0.0, false, Some(1.0))?,
            None => 1.0,
        };
        let abort_rate = match &raw.swarm.abort_rate {
            Some(q) => self.bounded(
                q,
                "swarm.abort_rate",
                EventRate,
                0.0,
                false,
                Some(MAX_ABORT_RATE),
            )?,
            None => 0.0,
        };
        let seed_residence = match &raw.swarm.seed_residence {
            Some(q) => self.residence(q, "swarm.seed_residence")?,
            None => 0.0,
        };
        let startup_delay = match &raw.swarm.startup_delay {
            Some(q) => self.startup_delay(q, raw.isp.is_some())?,
            None => 0.0,
        };
        let duplicates = match &raw.swarm.duplicates {
            Some(v) => self.duplicates(v, raw.isp.is_some())?,
            None => 0.0,
        };
        let stages = match &raw.swarm.stages {
            Some(v) => {
                let k = *v.get_ref();
                if !(1..=MAX_STAGES as i64).contains(&k) {
                    return Err(self.at(v.span(), format!("`swarm.stages` must be a whole number in [1, {MAX_STAGES}] (got {k}): the download's stages (1 = exponential download times)")));
                }
                if k > 1 && raw.isp.is_some() {
                    return Err(self.at(
                        v.span(),
                        "`swarm.stages` is modelled for one swarm, not with `[[isp]]`".into(),
                    ));
                }
                k as usize
            }
            None => 1,
        };

        let peers = raw_peers.get_ref();
        let mut peer_cost = self.peer_cost(peers.cost.as_ref())?;
        let electricity_given = peers.cost.as_ref().is_some_and(|c| c.electricity.is_some());
        let classes = match (&peers.upload, &peers.download, &peers.class) {
            (None, None, Some(list)) => self.classes(list, abort_rate, seed_residence, peer_cost.distribution, raw_peers.span())?,
            (Some(up), Some(down), None) => vec![PeerClass {
                name: "all".into(),
                share: 1.0,
                upload: self.bounded(up, "peers.upload", BitRate, 0.0, false, Some(MAX_PEER_LINK))?,
                download: self.bounded(down, "peers.download", BitRate, 0.0, true, Some(MAX_PEER_LINK))?,
                abort_rate,
                seed_residence,
                cost: peer_cost.distribution,
            }],
            (_, _, Some(_)) => {
                return Err(self.at(
                    raw_peers.span(),
                    "`peers`: give either `upload` and `download` (one class) or `[[peers.class]]` entries, not both".into(),
                ))
            }
            (up, _, None) => {
                let missing = if up.is_none() { "peers.upload" } else { "peers.download" };
                return Err(self.at(
                    raw_peers.span(),
                    format!("`{missing}` is missing: one class needs both `upload` and `download` (or use `[[peers.class]]`)"),
                ));
            }
        };
        let capacity = match &raw.server.capacity {
            Some(q) => self.bounded(q, "server.capacity", BitRate, 0.0, false, None)?,
            None => 0.0,
        };
        let policy = self.server_policy(raw.server.policy.as_ref(), &kind, raw.isp.is_some())?;
        let mut pricing = self.pricing(raw.pricing.as_ref())?;
        if electricity_given {
            pricing.overrides.push("peers.cost.electricity");
        } else {
            peer_cost.electricity = pricing.book.electricity;
        }
        let incentive = self.incentive(raw.incentive.as_ref())?;
        if let (Some(q), Mechanism::Equilibrium) = (&raw.swarm.startup_delay, &incentive.mechanism)
        {
            if startup_delay > 0.0 {
                return Err(self.at(q.span(), "`swarm.startup_delay` is not modelled with `incentive.mechanism = \"equilibrium\"` (its market counts every leecher's upload); use another mechanism or 0".into()));
            }
        }
        if let (Some(v), Mechanism::Equilibrium) = (&raw.swarm.stages, &incentive.mechanism) {
            if stages > 1 {
                return Err(self.at(v.span(), "`swarm.stages` is not modelled with `incentive.mechanism = \"equilibrium\"` (its market has one stage); use another mechanism or 1".into()));
            }
        }
        if let (Some(v), Mechanism::Equilibrium) = (&raw.swarm.duplicates, &incentive.mechanism) {
            if duplicates > 0.0 {
                return Err(self.at(v.span(), "`swarm.duplicates` is not modelled with `incentive.mechanism = \"equilibrium\"` (its market counts useful bytes only); use another mechanism or 0".into()));
            }
        }
        let flash_crowd_bound = match &raw.swarm.flash_crowd_bound {
            Some(v) => self.flash_crowd_bound(
                v,
                stages,
                capacity,
                raw.isp.is_some(),
                matches!(incentive.mechanism, Mechanism::Equilibrium),
            )?,
            None => false,
        };
        if policy == ServerPolicy::Seed && matches!(incentive.mechanism, Mechanism::Equilibrium) {
            let span = raw.server.policy.as_ref().map_or(0..0, |v| v.span());
            return Err(self.at(span, "`server.policy = \"seed\"` is not modelled with `incentive.mechanism = \"equilibrium\"` (its market assumes a server that fills the peers' deficit); use \"fill\" or another mechanism".into()));
        }
        if matches!(incentive.mechanism, Mechanism::Equilibrium)
            && !classes.iter().any(|c| c.cost.decides())
        {
            return Err(ScenarioError::Whole {
                file: self.file.to_string(),
                message: "`incentive.mechanism = \"equilibrium\"` needs peers who decide: give `peers.cost.distribution` (\"uniform\", \"lognormal\" or \"energy\") or a class's `[peers.class.cost]`".into(),
            });
        }
        if let Some(st) = kind.stream() {
            if let Some(c) = classes.iter().find(|c| c.download < st.bitrate) {
                return Err(self.whole(format!(
                    "peer class '{}' downloads at {} but `content.bitrate` is {}: every viewer must be able to receive the stream (download ≥ bitrate)",
                    c.name,
                    units::format_quantity(c.download, Dimension::BitRate),
                    units::format_quantity(st.bitrate, Dimension::BitRate)
                )));
            }
            if classes.iter().any(|c| c.cost.decides())
                || matches!(incentive.mechanism, Mechanism::Equilibrium)
            {
                return Err(self.whole(format!(
                    "`content.kind = \"{}\"`: viewers' decisions to share (a cost distribution, mechanism \"equilibrium\") are modelled for file swarms only; use mechanism \"none\", \"per-byte\", \"discount\" or \"shapley\" (every viewer shares, paid the fluid Shapley price of the viewers' game) without a cost distribution",
                    kind.label()
                )));
            }
        }
        let (isps, selection) = self.isps(
            raw.isp.as_deref(),
            raw.locality.as_ref(),
            &classes,
            &kind,
            abort_rate,
            seed_residence,
            pricing.transit,
        )?;
        let push = match &raw.push {
            None => None,
            Some(p) => {
                if !matches!(kind, ContentKind::File) {
                    return Err(self.at(
                        p.span(),
                        format!(
                            "`[push]` applies to files (`content.kind = \"file\"`), not to \"{}\"",
                            kind.label()
                        ),
                    ));
                }
                let f = p.get_ref();
                let n = self.plain(&f.devices, "push.devices", 1.0, false, Some(1e12))?;
                if n.fract() != 0.0 {
                    return Err(self.at(
                        f.devices.span(),
                        format!("`push.devices` must be a whole number (got {n})"),
                    ));
                }
                let deadline = match &f.deadline {
                    Some(q) => {
                        Some(self.bounded(q, "push.deadline", Dimension::Time, 0.0, true, None)?)
                    }
                    None => None,
                };
                if let Some(d) = deadline {
                    let slowest = classes
                        .iter()
                        .map(|c| c.download)
                        .fold(f64::INFINITY, f64::min);
                    let floor = 8.0 * size / slowest;
                    if d < floor {
                        let span = f.deadline.as_ref().map_or(p.span(), |q| q.span());
                        return Err(self.at(span, format!("`push.deadline` must be ≥ {} (the slowest class needs that long to download the file at its own speed; got {})", units::format_quantity(floor, Dimension::Time), units::format_quantity(d, Dimension::Time))));
                    }
                }
                Some(Push {
                    devices: n as u64,
                    deadline,
                })
            }
        };
        let key_span = |pick: fn(&raw::PricingFile) -> Option<Range<usize>>| {
            raw.pricing.as_ref().and_then(|p| pick(p.get_ref()))
        };
        let warmup_span = key_span(|f| f.include_warmup.as_ref().map(|v| v.span()));
        let events_span = key_span(|f| f.events_per_month.as_ref().map(|v| v.span()));
        let coordination = self.coordination(raw.coordination.as_ref())?;
        if let (Some(_), Some(q)) = (
            &coordination,
            raw.pricing
                .as_ref()
                .and_then(|p| p.get_ref().tracker.as_ref()),
        ) {
            return Err(self.at(q.span(), "`pricing.tracker` is a flat coordination fee per peer-hour and `[coordination]` prices the coordination itself: give one of them".into()));
        }
        let scenario = Scenario {
            inputs: Default::default(),
            coordination,
            energy,
            push,
            isps,
            selection,
            pricing,
            incentive,
            peer_cost,
            name,
            description: raw.description.unwrap_or_default().trim().to_string(),
            source: self.file.to_string(),
            horizon,
            content: Content { size, kind },
            demand: Demand { arrival },
            swarm: SwarmParams {
                efficiency,
                startup_delay,
                duplicates,
                stages,
                flash_crowd_bound,
            },
            classes,
            server: Server { capacity, policy },
        };
        // A billing key that the rule in force would ignore is an error, not a silent no-op.
        let (rule, why) = scenario.billing_rule();
        match (rule, warmup_span, events_span) {
            (BillingRule::Event { .. }, Some(sp), _) => {
                return Err(self.at(sp, format!("`pricing.include_warmup` applies to recurring billing, and this scenario is billed as an event ({why}); give `pricing.billing = \"recurring\"` or remove the key")));
            }
            (BillingRule::Recurring { .. }, _, Some(sp)) => {
                return Err(self.at(sp, format!("`pricing.events_per_month` applies to event billing, and this scenario is billed as a recurring pattern ({why}); give `pricing.billing = \"event\"` or remove the key")));
            }
            _ => {}
        }
        Ok(scenario)
    }

    /// `swarm.startup_delay`: 0 (off) or at least [`MIN_STARTUP_DELAY`]; a term of the file
    /// swarm's model only (`models/swarm.md`), not with `[[isp]]`.
    fn startup_delay(&self, q: &Q, with_isps: bool) -> Result<f64, ScenarioError> {
        let key = "swarm.startup_delay";
        let v = self.bounded(q, key, Dimension::Time, 0.0, false, None)?;
        if v != 0.0 && v < MIN_STARTUP_DELAY {
            return Err(self.at(
                q.span(),
                format!(
                    "`{key}` must be 0 (off) or at least {} (got {})",
                    units::format_quantity(MIN_STARTUP_DELAY, Dimension::Time),
                    q.get_ref()
                ),
            ));
        }
        if v > 0.0 && with_isps {
            return Err(self.at(
                q.span(),
                format!("`{key}` is modelled for one swarm, not with `[[isp]]`"),
            ));
        }
        Ok(v)
    }

    /// `swarm.flash_crowd_bound`: when true, the swarm needs k ≥ 2 download stages (the
    /// waiting leechers are the last stage's) and a server with capacity (the gate is F/s);
    /// a term of the file swarm's model only, not with `[[isp]]` or the equilibrium market.
    fn flash_crowd_bound(
        &self,
        v: &toml::Spanned<bool>,
        stages: usize,
        capacity: f64,
        with_isps: bool,
        equilibrium: bool,
    ) -> Result<bool, ScenarioError> {
        let key = "swarm.flash_crowd_bound";
        if !*v.get_ref() {
            return Ok(false);
        }
        let reason = if with_isps {
            "is modelled for one swarm, not with `[[isp]]`".to_string()
        } else if equilibrium {
            "is not modelled with `incentive.mechanism = \"equilibrium\"` (its market has no gate); use another mechanism or false".to_string()
        } else if stages < 2 {
            format!("needs `swarm.stages` ≥ 2 (got {stages}): before the gate F/s the leechers in the last stage wait, and with one stage the model has no last part of the file")
        } else if capacity <= 0.0 {
            "needs a server with `server.capacity` > 0 (got 0): the gate is F/s, the file over the origin's capacity".to_string()
        } else {
            return Ok(true);
        };
        Err(self.at(v.span(), format!("`{key}` = true {reason}")))
    }

    /// `swarm.duplicates`: the fraction d of received bytes that are duplicates, in [0, 1); a
    /// term of the file swarm's model only, not with `[[isp]]`.
    fn duplicates(&self, v: &toml::Spanned<f64>, with_isps: bool) -> Result<f64, ScenarioError> {
        let key = "swarm.duplicates";
        let d = *v.get_ref();
        if !(d.is_finite() && (0.0..1.0).contains(&d)) {
            return Err(self.at(
                v.span(),
                format!("`{key}` must be in [0, 1) (got {d}): the share of received bytes that are duplicates"),
            ));
        }
        if d > 0.0 && with_isps {
            return Err(self.at(
                v.span(),
                format!("`{key}` is modelled for one swarm, not with `[[isp]]`"),
            ));
        }
        Ok(d)
    }

    /// `server.policy`: "fill" (the default, a managed origin) or "seed" (a plain BitTorrent
    /// origin); a term of the file swarm's model only (`models/swarm.md`).
    fn server_policy(
        &self,
        policy: Option<&toml::Spanned<String>>,
        kind: &ContentKind,
        with_isps: bool,
    ) -> Result<ServerPolicy, ScenarioError> {
        let Some(v) = policy else {
            return Ok(ServerPolicy::Fill);
        };
        let p = match v.get_ref().as_str() {
            "fill" => ServerPolicy::Fill,
            "seed" => ServerPolicy::Seed,
            other => {
                return Err(self.at(
                    v.span(),
                    format!(
                        "`server.policy` must be one of \"fill\", \"seed\" (got \"{}\")",
                        echo(other)
                    ),
                ))
            }
        };
        if p == ServerPolicy::Seed {
            if !matches!(kind, ContentKind::File) {
                return Err(self.at(v.span(), format!("`server.policy = \"seed\"` applies to file swarms (`content.kind = \"file\"`), not to \"{}\"", kind.label())));
            }
            if with_isps {
                return Err(self.at(v.span(), "`server.policy = \"seed\"` is modelled for one swarm, not with `[[isp]]` (the locality model's server fills the peers' deficit)".into()));
            }
        }
        Ok(p)
    }

    #[allow(clippy::too_many_arguments)] // the cross-section rules of [[isp]] in one place
    fn isps(
        &self,
        list: Option<&[toml::Spanned<raw::IspFile>]>,
        locality: Option<&toml::Spanned<raw::LocalityFile>>,
        classes: &[PeerClass],
        kind: &ContentKind,
        abort_rate: f64,
        seed_residence: f64,
        transit: f64,
    ) -> Result<(Vec<IspSpec>, Selection), ScenarioError> {
        let list = list.unwrap_or_default();
        let selection = match locality {
            None => Selection::Random,
            Some(l) => {
                let f = l.get_ref();
                let word = f
                    .selection
                    .as_ref()
                    .map_or("random", |w| w.get_ref().as_str());
                let span = f.selection.as_ref().map_or(l.span(), |w| w.span());
                let sel = match word {
                    "random" => Selection::Random,
                    "optimal" => Selection::LocalityOptimal,
                    "strict" => Selection::Strict,
                    "fraction" => match &f.fraction {
                        Some(b) => Selection::LocalityFraction {
                            beta: self.plain(b, "locality.fraction", 0.0, false, Some(1.0))?,
                        },
                        None => return Err(self.at(span, "`locality.fraction` is missing (required for selection \"fraction\"), e.g. fraction = 0.5".into())),
                    },
                    other => return Err(self.at(span, format!("`locality.selection` must be \"random\", \"optimal\", \"fraction\" or \"strict\" (got \"{}\")", echo(other)))),
                };
                if let (Some(b), false) = (&f.fraction, word == "fraction") {
                    return Err(self.at(b.span(), format!("`locality.fraction` applies to selection \"fraction\" only (got \"{}\")", echo(word))));
                }
                if list.is_empty() {
                    return Err(self.at(l.span(), "`[locality]` needs the ISPs: give `[[isp]]` entries, each with `name` and `class`".into()));
                }
                sel
            }
        };
        if list.is_empty() {
            return Ok((Vec::new(), selection));
        }
        let default_capacity = match locality.and_then(|l| l.get_ref().transit_capacity.as_ref()) {
            Some(q) => Some(self.link_capacity(q, "locality.transit_capacity")?),
            None => None,
        };
        if !matches!(kind, ContentKind::File) {
            return Err(self.at(
                list[0].span(),
                format!(
                    "`[[isp]]` applies to file swarms (`content.kind = \"file\"`), not to \"{}\"",
                    kind.label()
                ),
            ));
        }
        let mut out: Vec<IspSpec> = Vec::new();
        for entry in list {
            let e = entry.get_ref();
            let name = e.name.get_ref().trim().to_string();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            {
                return Err(self.at(e.name.span(), format!("`isp.name` must be non-empty and use only letters, digits, '-' and '_' (got \"{}\")", echo(e.name.get_ref()))));
            }
            if out.iter().any(|o| o.name == name) {
                return Err(self.at(
                    e.name.span(),
                    format!("`isp.name` \"{}\" is used twice", echo(&name)),
                ));
            }
            let cname = e.class.get_ref().trim();
            let class = classes
                .iter()
                .position(|c| c.name == cname)
                .ok_or_else(|| {
                    let names: Vec<&str> = classes.iter().map(|c| c.name.as_str()).collect();
                    self.at(
                        e.class.span(),
                        format!(
                            "`isp.class` \"{}\" is not a peer class (classes: {})",
                            echo(cname),
                            names.join(", ")
                        ),
                    )
                })?;
            if let Some(o) = out.iter().find(|o| o.class == class) {
                return Err(self.at(
                    e.class.span(),
                    format!(
                        "peer class \"{}\" is already in ISP \"{}\": each class lives in one ISP",
                        echo(cname),
                        o.name
                    ),
                ));
            }
            let c = &classes[class];
            if c.abort_rate.to_bits() != abort_rate.to_bits()
                || c.seed_residence.to_bits() != seed_residence.to_bits()
            {
                return Err(self.at(e.class.span(), format!("peer class \"{cname}\" overrides `abort_rate` or `seed_residence`: with `[[isp]]` every ISP shares the `[swarm]` values (the locality model's θ and γ)")));
            }
            let transit = match &e.transit {
                Some(q) => self.bounded(
                    q,
                    "isp.transit",
                    Dimension::MoneyPerMbpsMonth,
                    0.0,
                    false,
                    None,
                )?,
                None => transit,
            };
            let transit_capacity = match &e.transit_capacity {
                Some(q) => Some(self.link_capacity(q, "isp.transit_capacity")?),
                None => default_capacity,
            };
            out.push(IspSpec {
                name,
                class,
                transit,
                transit_capacity,
            });
        }
        if let Some(c) = classes
            .iter()
            .enumerate()
            .find(|(i, _)| !out.iter().any(|o| o.class == *i))
        {
            return Err(self.at(
                list[0].span(),
                format!(
                    "peer class \"{}\" is in no ISP: with `[[isp]]` every class names its ISP",
                    c.1.name
                ),
            ));
        }
        Ok((out, selection))
    }

    /// A transit link capacity: a bit rate, finite and > 0 (absent = unlimited).
    fn link_capacity(&self, q: &Q, key: &str) -> Result<BitsPerSec, ScenarioError> {
        self.bounded(q, key, Dimension::BitRate, 0.0, true, None)
    }

    fn content(
        &self,
        c: &raw::ContentFile,
        table: Range<usize>,
    ) -> Result<(Bytes, ContentKind), ScenarioError> {
        use Dimension::*;
        let kind = c.kind.as_ref().map_or("file", |k| k.get_ref().as_str());
        if !matches!(kind, "file" | "live" | "vod") {
            let span = c.kind.as_ref().map_or(table.clone(), |k| k.span());
            return Err(self.at(
                span,
                format!("`content.kind` must be {KINDS} (got \"{}\")", echo(kind)),
            ));
        }
        let stream_key = |key: &'static str,
                          given: Option<Range<usize>>|
         -> Result<(), ScenarioError> {
            if let Some(span) = given {
                Err(self.at(span, format!(
                    "`content.{key}` applies to live and VoD content only (`content.kind = \"live\"` or \"vod\"), not to \"{kind}\""
                )))
            } else {
                Ok(())
            }
        };
        let size = |required: bool| -> Result<Option<f64>, ScenarioError> {
            match &c.size {
                Some(q) => Ok(Some(self.bounded(
                    q,
                    "content.size",
                    DataSize,
                    0.0,
                    true,
                    None,
                )?)),
                None if required => {
                    Err(self.at(table.clone(), "`content.size` is missing (required)".into()))
                }
                None => Ok(None),
            }
        };
        let stream = || -> Result<Stream, ScenarioError> {
            let req = |q: &Option<Q>, key: &str, example: &str| -> Result<Q, ScenarioError> {
                q.clone().ok_or_else(|| {
                    self.at(table.clone(), format!(
                        "`content.{key}` is missing (required for `content.kind = \"{kind}\"`), e.g. {key} = \"{example}\""
                    ))
                })
            };
            Ok(Stream {
                bitrate: self.bounded(
                    &req(&c.bitrate, "bitrate", "2 Mbps")?,
                    "content.bitrate",
                    BitRate,
                    0.0,
                    true,
                    None,
                )?,
                watch_time: self.bounded(
                    &req(&c.watch_time, "watch_time", "30 min")?,
                    "content.watch_time",
                    Time,
                    0.0,
                    true,
                    Some(MAX_WATCH_TIME),
                )?,
            })
        };
        let vod_only =
            |key: &'static str, given: Option<Range<usize>>| -> Result<(), ScenarioError> {
                if let (Some(span), false) = (given, kind == "vod") {
                    Err(self.at(
                        span,
                        format!(
                            "`content.{key}` applies to `content.kind = \"vod\"` only (got \"{}\")",
                            echo(kind)
                        ),
                    ))
                } else {
                    Ok(())
                }
            };
        vod_only("prefetch", c.prefetch.as_ref().map(|v| v.span()))?;
        vod_only("titles", c.titles.as_ref().map(|v| v.span()))?;
        vod_only("zipf", c.zipf.as_ref().map(|v| v.span()))?;
        match kind {
            "file" => {
                stream_key("bitrate", c.bitrate.as_ref().map(|v| v.span()))?;
                stream_key("watch_time", c.watch_time.as_ref().map(|v| v.span()))?;
                Ok((size(true)?.unwrap_or_default(), ContentKind::File))
            }
            "live" | "vod" => {
                let st = stream()?;
                let view_bytes = st.bitrate * st.watch_time / 8.0;
                let bytes = size(false)?.unwrap_or(view_bytes);
                if kind == "live" {
                    return Ok((bytes, ContentKind::Live(st)));
                }
                let titles = match &c.titles {
                    Some(t) => {
                        let v = self.plain(
                            t,
                            "content.titles",
                            1.0,
                            false,
                            Some(spec::MAX_TITLES as f64),
                        )?;
                        if v.fract() != 0.0 {
                            return Err(self.at(
                                t.span(),
                                format!(
                                    "`content.titles` must be a whole number of titles (got {v})"
                                ),
                            ));
                        }
                        v as u32
                    }
                    None => 1,
                };
                let zipf = match &c.zipf {
                    Some(z) => self.plain(z, "content.zipf", 0.0, false, Some(5.0))?,
                    None => 0.8,
                };
                Ok((
                    bytes,
                    ContentKind::Vod {
                        stream: st,
                        prefetch: c.prefetch.as_ref().is_none_or(|p| *p.get_ref()),
                        titles,
                        zipf,
                    },
                ))
            }
            other => {
                let span = c.kind.as_ref().map_or(0..0, |k| k.span());
                Err(self.at(
                    span,
                    format!("`content.kind` must be {KINDS} (got \"{}\")", echo(other)),
                ))
            }
        }
    }

    /// `[energy]`: each factor from the file or its cited default; the peers' device power
    /// from `energy.peer_power`, else `energy.peer_device`, else `peers.cost.power` when given,
    /// else a home gateway's marginal power.
    fn energy(
        &self,
        e: Option<&toml::Spanned<raw::EnergyFile>>,
        peers: Option<&toml::Spanned<raw::PeersFile>>,
    ) -> Result<EnergyFactors, ScenarioError> {
        use Dimension::*;
        let mut out = EnergyFactors::default();
        let cost_power = peers
            .and_then(|p| p.get_ref().cost.as_ref())
            .and_then(|c| c.power.as_ref());
        if let Some(q) = cost_power {
            out.peer_power_w = self.bounded(q, "peers.cost.power", Power, 0.0, false, None)?;
            out.peer_device = "peers.cost.power";
        }
        let Some(e) = e else { return Ok(out) };
        let f = e.get_ref();
        let per_gb = |q: &Option<Q>, key: &str, default: f64| -> Result<f64, ScenarioError> {
            match q {
                Some(q) => self.bounded(q, key, EnergyPerGb, 0.0, false, Some(10.0)),
                None => Ok(default),
            }
        };
        out.origin_kwh_per_gb = per_gb(&f.origin, "energy.origin", out.origin_kwh_per_gb)?;
        out.cdn_kwh_per_gb = per_gb(&f.cdn, "energy.cdn", out.origin_kwh_per_gb)?;
        out.network_kwh_per_gb = per_gb(&f.network, "energy.network", out.network_kwh_per_gb)?;
        if let Some(d) = &f.peer_device {
            let (w, label) = match d.get_ref().as_str() {
                "gateway-marginal" => (EnergyFactors::GATEWAY_MARGINAL, "gateway-marginal"),
                "gateway" => (EnergyFactors::GATEWAY, "gateway"),
                "pc" => (EnergyFactors::PC, "pc"),
                other => {
                    return Err(self.at(
                        d.span(),
                        format!("`energy.peer_device` must be \"gateway-marginal\", \"gateway\" or \"pc\" (got \"{}\")", echo(other)),
                    ))
                }
            };
            out.peer_power_w = w;
            out.peer_device = label;
        }
        if let Some(q) = &f.peer_power {
            if let Some(d) = &f.peer_device {
                return Err(self.at(
                    d.span(),
                    "give `energy.peer_device` or `energy.peer_power`, not both".into(),
                ));
            }
            out.peer_power_w =
                self.bounded(q, "energy.peer_power", Power, 0.0, false, Some(1e4))?;
            out.peer_device = "energy.peer_power";
        }
        if let Some(q) = &f.carbon {
            out.carbon_kg_per_kwh =
                self.bounded(q, "energy.carbon", CarbonIntensity, 0.0, false, Some(2.0))?;
        }
        Ok(out)
    }

    /// A `content.kind = "wireless"` scenario: `[wireless]`, `[peers.cost]` (the hosts),
    /// `[incentive]`, `[energy]` and `pricing.billing_month`; every swarm section is refused.
    fn validate_wireless(
        &self,
        raw: ScenarioFile,
        name: String,
        energy: EnergyFactors,
    ) -> Result<Scenario, ScenarioError> {
        use spec::{Offload, DAY, FLAT_SHARE, MAX_BUSY_SHARE};
        use Dimension::*;
        let not_here = |span: Range<usize>, what: &str| -> ScenarioError {
            self.at(span, format!("{what} does not apply to `content.kind = \"wireless\"`: the users, their demand and the femtocells are described in `[wireless]`"))
        };
        let c = raw.content.get_ref();
        for (given, key) in [
            (c.size.as_ref().map(|q| q.span()), "`content.size`"),
            (c.bitrate.as_ref().map(|q| q.span()), "`content.bitrate`"),
            (
                c.watch_time.as_ref().map(|q| q.span()),
                "`content.watch_time`",
            ),
            (c.prefetch.as_ref().map(|q| q.span()), "`content.prefetch`"),
            (c.titles.as_ref().map(|q| q.span()), "`content.titles`"),
            (c.zipf.as_ref().map(|q| q.span()), "`content.zipf`"),
            (
                raw.horizon.as_ref().map(|q| q.span()),
                "`horizon` (a wireless run is one day, billed per month)",
            ),
            (
                raw.swarm.efficiency.as_ref().map(|q| q.span()),
                "`swarm.efficiency`",
            ),
            (
                raw.swarm.abort_rate.as_ref().map(|q| q.span()),
                "`swarm.abort_rate`",
            ),
            (
                raw.swarm.seed_residence.as_ref().map(|q| q.span()),
                "`swarm.seed_residence`",
            ),
            (
                raw.swarm.startup_delay.as_ref().map(|q| q.span()),
                "`swarm.startup_delay`",
            ),
            (
                raw.swarm.duplicates.as_ref().map(|q| q.span()),
                "`swarm.duplicates`",
            ),
            (
                raw.swarm.stages.as_ref().map(|q| q.span()),
                "`swarm.stages`",
            ),
            (
                raw.swarm.flash_crowd_bound.as_ref().map(|q| q.span()),
                "`swarm.flash_crowd_bound`",
            ),
            (
                raw.server.capacity.as_ref().map(|q| q.span()),
                "`server.capacity`",
            ),
            (
                raw.server.policy.as_ref().map(|q| q.span()),
                "`server.policy`",
            ),
            (
                raw.isp.as_ref().and_then(|l| l.first()).map(|q| q.span()),
                "`[[isp]]`",
            ),
            (raw.locality.as_ref().map(|q| q.span()), "`[locality]`"),
            (raw.push.as_ref().map(|q| q.span()), "`[push]`"),
            (
                raw.coordination.as_ref().map(|q| q.span()),
                "`[coordination]` (femtocells need no peer discovery)",
            ),
        ] {
            if let Some(span) = given {
                return Err(not_here(span, key));
            }
        }
        if let Some(e) = &raw.energy {
            let f = e.get_ref();
            for (given, key) in [
                (f.origin.as_ref().map(|q| q.span()), "energy.origin"),
                (f.cdn.as_ref().map(|q| q.span()), "energy.cdn"),
                (
                    f.peer_device.as_ref().map(|q| q.span()),
                    "energy.peer_device",
                ),
                (f.peer_power.as_ref().map(|q| q.span()), "energy.peer_power"),
            ] {
                if let Some(span) = given {
                    return Err(self.at(span, format!("`{key}` does not apply to `content.kind = \"wireless\"` (only `energy.network` and `energy.carbon` do): the towers' power is `wireless.tower_power`, the femtocells' `peers.cost.power`")));
                }
            }
        }
        for table in ["swarm", "server"] {
            if let Some(span) = header_span(self.src, table) {
                return Err(not_here(span, &format!("`[{table}]`")));
            }
        }
        if raw.demand.is_some() {
            let span = header_span(self.src, "demand").unwrap_or(0..0);
            return Err(self.at(span, "`[demand]` does not apply to `content.kind = \"wireless\"`: give `wireless.users` and `wireless.demand` (bytes per user per month)".into()));
        }
        let peer_cost = match &raw.peers {
            Some(p) => {
                let f = p.get_ref();
                if f.upload.is_some() || f.download.is_some() || f.class.is_some() {
                    return Err(not_here(
                        p.span(),
                        "`peers.upload`, `peers.download` and `[[peers.class]]`",
                    ));
                }
                self.peer_cost(f.cost.as_ref())?
            }
            None => self.peer_cost(None)?,
        };
        let mut peer_cost = peer_cost;
        let power_given = raw
            .peers
            .as_ref()
            .and_then(|p| p.get_ref().cost.as_ref())
            .is_some_and(|c| c.power.is_some());
        if !power_given {
            peer_cost.power = Wireless::FEMTO_POWER;
        }
        if let Some(p) = &raw.pricing {
            let f = p.get_ref();
            let other = [
                (f.origin.as_ref().map(|v| v.span()), "pricing.origin"),
                (f.transit.as_ref().map(|v| v.span()), "pricing.transit"),
                (f.egress.as_ref().map(|v| v.span()), "pricing.egress"),
                (f.capacity.as_ref().map(|v| v.span()), "pricing.capacity"),
                (f.cdn.as_ref().map(|v| v.span()), "pricing.cdn"),
                (f.cdn_tier.as_ref().map(|v| v.span()), "pricing.cdn_tier"),
                (
                    f.commit_discount.as_ref().map(|v| v.span()),
                    "pricing.commit_discount",
                ),
                (f.tracker.as_ref().map(|v| v.span()), "pricing.tracker"),
                (f.billing.as_ref().map(|v| v.span()), "pricing.billing"),
                (
                    f.events_per_month.as_ref().map(|v| v.span()),
                    "pricing.events_per_month",
                ),
                (
                    f.include_warmup.as_ref().map(|v| v.span()),
                    "pricing.include_warmup",
                ),
                (f.headroom.as_ref().map(|v| v.span()), "pricing.headroom"),
                (f.book.as_ref().map(|v| v.span()), "pricing.book"),
            ];
            if let Some((Some(span), key)) = other.into_iter().find(|(sp, _)| sp.is_some()) {
                return Err(self.at(span, format!("`{key}` does not apply to `content.kind = \"wireless\"` (only `pricing.billing_month` does): towers and femtocells are priced in `[wireless]`")));
            }
        }
        let pricing = self.pricing(raw.pricing.as_ref())?;
        let incentive = self.incentive(raw.incentive.as_ref())?;
        if matches!(incentive.mechanism, Mechanism::Equilibrium)
            && !peer_cost.distribution.decides()
        {
            return Err(self.whole("`incentive.mechanism = \"equilibrium\"` needs hosts who decide: give `peers.cost.distribution` (\"uniform\", \"lognormal\" or \"energy\"), the hosts' private cost per month".into()));
        }
        let Some(w) = &raw.wireless else {
            return Err(self.at(raw.content.span(), "`[wireless]` is missing (required for `content.kind = \"wireless\"`): give at least users, demand, hosts and femtocell_lifetime".into()));
        };
        let f = w.get_ref();
        let users = self.plain(&f.users, "wireless.users", 1.0, false, Some(1e10))?;
        let share = |v: &Option<toml::Spanned<f64>>,
                     key: &str,
                     default: f64|
         -> Result<f64, ScenarioError> {
            match v {
                Some(v) => self.plain(v, key, 0.0, false, Some(1.0)),
                None => Ok(default),
            }
        };
        let opt = |q: &Option<Q>,
                   key: &str,
                   dim: Dimension,
                   strict: bool,
                   default: f64|
         -> Result<f64, ScenarioError> {
            match q {
                Some(q) => self.bounded(q, key, dim, 0.0, strict, None),
                None => Ok(default),
            }
        };
        let busy_hour_share = match &f.busy_hour_share {
            Some(v) => self.plain(
                v,
                "wireless.busy_hour_share",
                FLAT_SHARE,
                false,
                Some(MAX_BUSY_SHARE),
            )?,
            None => Wireless::BUSY_HOUR_SHARE,
        };
        let busy_hour = match &f.busy_hour {
            Some(q) => {
                let t = self.bounded(q, "wireless.busy_hour", Time, 0.0, false, None)?;
                if t >= DAY {
                    return Err(self.at(
                        q.span(),
                        format!(
                            "`wireless.busy_hour` must be in [0 h, 24 h) (got {})",
                            units::format_quantity(t, Time)
                        ),
                    ));
                }
                t
            }
            None => 21.0 * 3600.0,
        };
        let offload = Offload {
            users,
            demand: self.bounded(&f.demand, "wireless.demand", DataSize, 0.0, true, None)?,
            month: pricing.billing_month,
            busy_hour_share,
            busy_hour,
            home_share: share(&f.home_share, "wireless.home_share", Wireless::HOME_SHARE)?,
            neighbour_share: share(&f.neighbour_share, "wireless.neighbour_share", 0.0)?,
            host_uplink: opt(
                &f.host_uplink,
                "wireless.host_uplink",
                BitRate,
                true,
                Wireless::HOST_UPLINK,
            )?,
            tower_capacity: opt(
                &f.tower_capacity,
                "wireless.tower_capacity",
                BitRate,
                true,
                Wireless::TOWER_CAPACITY,
            )?,
        };
        let wireless = Wireless {
            offload,
            hosts: self.plain(&f.hosts, "wireless.hosts", 0.0, false, Some(1.0))?,
            tower_cost: opt(
                &f.tower_cost,
                "wireless.tower_cost",
                Money,
                false,
                Wireless::TOWER_COST,
            )?,
            tower_power: opt(
                &f.tower_power,
                "wireless.tower_power",
                Power,
                false,
                Wireless::TOWER_POWER,
            )?,
            femtocell_price: opt(
                &f.femtocell_price,
                "wireless.femtocell_price",
                Money,
                false,
                Wireless::FEMTO_PRICE,
            )?,
            femtocell_lifetime: self.bounded(
                &f.femtocell_lifetime,
                "wireless.femtocell_lifetime",
                Time,
                0.0,
                true,
                None,
            )?,
            give_away: f.give_away.as_ref().is_none_or(|v| *v.get_ref()),
        };
        Ok(Scenario {
            inputs: Default::default(),
            name,
            description: raw.description.unwrap_or_default().trim().to_string(),
            source: self.file.to_string(),
            horizon: None,
            content: Content {
                size: 0.0,
                kind: ContentKind::Wireless(Box::new(wireless)),
            },
            demand: Demand {
                arrival: ArrivalProfile::Constant { rate: 0.0 },
            },
            swarm: SwarmParams {
                efficiency: 1.0,
                startup_delay: 0.0,
                duplicates: 0.0,
                stages: 1,
                flash_crowd_bound: false,
            },
            classes: Vec::new(),
            server: Server {
                capacity: 0.0,
                policy: ServerPolicy::Fill,
            },
            pricing,
            incentive,
            peer_cost,
            isps: Vec::new(),
            selection: Selection::Random,
            push: None,
            energy,
            coordination: None,
        })
    }

    /// `[coordination]`: the design (`kind`, required) and every design's parameters, each
    /// from the file or its cited default (`models/coordination.md`).
    fn coordination(
        &self,
        c: Option<&toml::Spanned<raw::CoordinationFile>>,
    ) -> Result<Option<Coordination>, ScenarioError> {
        use Dimension::*;
        let Some(c) = c else { return Ok(None) };
        let f = c.get_ref();
        let kind = match &f.kind {
            None => {
                return Err(self.at(
                    c.span(),
                    format!(
                        "`coordination.kind` is missing (required): {}",
                        coord::KINDS
                    ),
                ))
            }
            Some(k) => coord::Kind::parse(k.get_ref().trim()).ok_or_else(|| {
                self.at(
                    k.span(),
                    format!(
                        "`coordination.kind` must be {} (got \"{}\")",
                        coord::KINDS,
                        echo(k.get_ref())
                    ),
                )
            })?,
        };
        let q = |v: &Option<Q>,
                 key: &str,
                 dim: Dimension,
                 (lo, hi): (f64, f64),
                 default: f64|
         -> Result<f64, ScenarioError> {
            match v {
                Some(v) => self.bounded(v, key, dim, lo, false, Some(hi)),
                None => Ok(default),
            }
        };
        let n = |v: &Option<toml::Spanned<f64>>,
                 key: &str,
                 (lo, hi): (f64, f64),
                 default: f64|
         -> Result<f64, ScenarioError> {
            match v {
                Some(v) => self.plain(v, key, lo, false, Some(hi)),
                None => Ok(default),
            }
        };
        let whole = |v: &Option<toml::Spanned<f64>>,
                     key: &str,
                     range: (f64, f64),
                     default: u32|
         -> Result<u32, ScenarioError> {
            let x = n(v, key, range, f64::from(default))?;
            match v {
                Some(v) if x.fract() != 0.0 => Err(self.at(
                    v.span(),
                    format!("`{key}` must be a whole number (got {x})"),
                )),
                _ => Ok(x as u32),
            }
        };
        // Ranges: messages from a byte to 64 kB (a UDP datagram); intervals from a minute to a
        // day; a server from one announce per second to a billion.
        const BYTES: (f64, f64) = (1.0, 65_536.0);
        const PERIOD: (f64, f64) = (60.0, 86_400.0);
        let (t, d, fl) = (
            f.tracker
                .as_ref()
                .map(|v| v.get_ref().clone())
                .unwrap_or_default(),
            f.dht
                .as_ref()
                .map(|v| v.get_ref().clone())
                .unwrap_or_default(),
            f.flood
                .as_ref()
                .map(|v| v.get_ref().clone())
                .unwrap_or_default(),
        );
        let tracker = coord::Tracker {
            interval: q(
                &t.interval,
                "coordination.tracker.interval",
                Time,
                PERIOD,
                coord::Tracker::INTERVAL,
            )?,
            request: q(
                &t.request,
                "coordination.tracker.request",
                DataSize,
                BYTES,
                coord::Tracker::REQUEST,
            )?,
            response: q(
                &t.response,
                "coordination.tracker.response",
                DataSize,
                BYTES,
                coord::Tracker::RESPONSE,
            )?,
            capacity: q(
                &t.capacity,
                "coordination.tracker.capacity",
                EventRate,
                (1.0, 1e9),
                coord::Tracker::CAPACITY,
            )?,
            server: q(
                &t.server,
                "coordination.tracker.server",
                Money,
                (0.0, 1e7),
                coord::Tracker::SERVER,
            )?,
        };
        let dht = coord::Dht {
            message: q(
                &d.message,
                "coordination.dht.message",
                DataSize,
                BYTES,
                coord::Dht::MESSAGE,
            )?,
            lookups: n(
                &d.lookups,
                "coordination.dht.lookups",
                (0.0, 1000.0),
                coord::Dht::LOOKUPS,
            )?,
            refresh: q(
                &d.refresh,
                "coordination.dht.refresh",
                Time,
                PERIOD,
                coord::Dht::REFRESH,
            )?,
        };
        let flood = coord::Flood {
            degree: whole(
                &fl.degree,
                "coordination.flood.degree",
                (2.0, 100.0),
                coord::Flood::DEGREE,
            )?,
            ttl: whole(
                &fl.ttl,
                "coordination.flood.ttl",
                (1.0, 20.0),
                coord::Flood::TTL,
            )?,
            message: q(
                &fl.message,
                "coordination.flood.message",
                DataSize,
                BYTES,
                coord::Flood::MESSAGE,
            )?,
            queries: n(
                &fl.queries,
                "coordination.flood.queries",
                (0.0, 1000.0),
                coord::Flood::QUERIES,
            )?,
            replication: match &fl.replication {
                Some(v) => self.plain(v, "coordination.flood.replication", 0.0, true, Some(1.0))?,
                None => coord::Flood::REPLICATION,
            },
        };
        Ok(Some(Coordination {
            kind,
            tracker,
            dht,
            flood,
        }))
    }

    fn pricing(
        &self,
        p: Option<&toml::Spanned<raw::PricingFile>>,
    ) -> Result<Pricing, ScenarioError> {
        use Dimension::*;
        let default = raw::PricingFile::default();
        let (f, span) = match p {
            Some(s) => (s.get_ref(), s.span()),
            None => (&default, 0..0),
        };
        let origin = match f.origin.as_ref().map(|o| (o.get_ref().as_str(), o.span())) {
            None | Some(("transit", _)) => Origin::Transit,
            Some(("cdn", _)) => Origin::Cdn,
            Some((other, sp)) => {
                return Err(self.at(
                    sp,
                    format!(
                        "`pricing.origin` must be \"transit\" or \"cdn\" (got \"{}\")",
                        echo(other)
                    ),
                ))
            }
        };
        let opt = |q: &Option<Q>, key: &str, dim, default: f64| -> Result<f64, ScenarioError> {
            match q {
                Some(q) => self.bounded(q, key, dim, 0.0, false, None),
                None => Ok(default),
            }
        };
        let book = match &f.book {
            Some(b) => PriceBook::shared(b.get_ref())
                .map_err(|e| self.at(b.span(), format!("`pricing.book`: {e}")))?,
            None => PriceBook::shared(PriceBook::DEFAULT)
                .map_err(|e| self.at(span.clone(), format!("the default price book: {e}")))?,
        };
        let overrides: Vec<&'static str> = [
            (f.transit.is_some(), "pricing.transit"),
            (f.egress.is_some(), "pricing.egress"),
            (f.capacity.is_some(), "pricing.capacity"),
            (f.cdn.is_some(), "pricing.cdn"),
            (f.cdn_tier.is_some(), "pricing.cdn_tier"),
            (f.commit_discount.is_some(), "pricing.commit_discount"),
        ]
        .into_iter()
        .filter_map(|(given, key)| given.then_some(key))
        .collect();
        let transit = opt(
            &f.transit,
            "pricing.transit",
            MoneyPerMbpsMonth,
            book.transit,
        )?;
        let egress = opt(&f.egress, "pricing.egress", MoneyPerGb, 0.0)?;
        let capacity = opt(
            &f.capacity,
            "pricing.capacity",
            MoneyPerMbpsMonth,
            book.capacity,
        )?;
        let tracker = opt(&f.tracker, "pricing.tracker", Money, 0.0)?;
        let billing_month = match &f.billing_month {
            Some(q) => self.bounded(
                q,
                "pricing.billing_month",
                Time,
                MIN_BILLING_MONTH,
                false,
                Some(MAX_BILLING_MONTH),
            )?,
            None => 30.0 * 86_400.0,
        };
        let discount = match &f.commit_discount {
            Some(v) => {
                let x = *v.get_ref();
                if !(0.0..1.0).contains(&x) {
                    return Err(self.at(
                        v.span(),
                        format!("`pricing.commit_discount` must be in [0, 1) (got {x})"),
                    ));
                }
                x
            }
            None => 0.0,
        };
        let (cdn_name, cdn) = match (&f.cdn, &f.cdn_tier) {
            (Some(_), Some(t)) => {
                return Err(self.at(
                    t.span(),
                    "`pricing`: give either `cdn` (a preset) or `[[pricing.cdn_tier]]`, not both"
                        .into(),
                ))
            }
            (None, Some(list)) => {
                let mut tiers = Vec::new();
                for (i, t) in list.get_ref().iter().enumerate() {
                    let up_to = match &t.up_to {
                        Some(q) => Some(
                            self.bounded(
                                q,
                                &format!("pricing.cdn_tier[{i}].up_to"),
                                DataSize,
                                0.0,
                                true,
                                None,
                            )? / GB,
                        ),
                        None => None,
                    };
                    let price = self.bounded(
                        &t.price,
                        &format!("pricing.cdn_tier[{i}].price"),
                        MoneyPerGb,
                        0.0,
                        false,
                        None,
                    )?;
                    tiers.push(Tier {
                        up_to_gb: up_to,
                        price,
                    });
                }
                if let Some(last) = list.get_ref().last().and_then(|t| t.up_to.as_ref()) {
                    return Err(self.at(last.span(), format!("`pricing.cdn_tier[{}].up_to`: the last tier applies above every bound, so it has no `up_to` (got {})", tiers.len() - 1, last.get_ref())));
                }
                let table = TierTable::new(tiers, discount).map_err(|e| {
                    // The table speaks of its own field; name the scenario key.
                    let msg = e
                        .to_string()
                        .replace("`up_to_gb`", "`up_to` (in billing GB of 2^30 bytes)");
                    self.at(list.span(), format!("`pricing.cdn_tier`: {msg}"))
                })?;
                ("custom".to_string(), table)
            }
            (None, None) => {
                let table = book.cdn.with_commit_discount(discount).map_err(|e| {
                    self.at(span.clone(), format!("`pricing.commit_discount`: {e}"))
                })?;
                (format!("book {}", book.name), table)
            }
            (Some(preset), None) => {
                let name = preset.get_ref().as_str();
                if name != "cloudfront-us" {
                    return Err(self.at(preset.span(), format!("`pricing.cdn` must be \"cloudfront-us\" (or give `[[pricing.cdn_tier]]`, or leave it to `pricing.book`) (got \"{}\")", echo(name))));
                }
                let table = TierTable::cloudfront_us()
                    .with_commit_discount(discount)
                    .map_err(|e| {
                        self.at(span.clone(), format!("`pricing.commit_discount`: {e}"))
                    })?;
                (name.to_string(), table)
            }
        };
        let (billing, events_per_month, include_warmup) = self.billing(f)?;
        let headroom = match &f.headroom {
            Some(v) => self.plain(v, "pricing.headroom", 1.0, false, Some(100.0))?,
            None => 1.0,
        };
        Ok(Pricing {
            book,
            overrides,
            origin,
            transit,
            egress,
            capacity,
            cdn,
            cdn_name,
            billing_month,
            tracker_per_peer_hour: tracker,
            billing,
            events_per_month,
            include_warmup,
            headroom,
        })
    }

    /// `pricing.billing`, `pricing.events_per_month` and `pricing.include_warmup`.
    fn billing(
        &self,
        f: &raw::PricingFile,
    ) -> Result<(Option<BillingRule>, u32, bool), ScenarioError> {
        let per_month = match &f.events_per_month {
            Some(v) => {
                let x = *v.get_ref();
                if !(x >= 1.0 && x <= f64::from(MAX_EVENTS_PER_MONTH) && x.fract() == 0.0) {
                    return Err(self.at(
                        v.span(),
                        format!("`pricing.events_per_month` must be a whole number in [1, {MAX_EVENTS_PER_MONTH}] (got {x})"),
                    ));
                }
                x as u32
            }
            None => 1,
        };
        let warmup = f.include_warmup.as_ref().is_some_and(|v| *v.get_ref());
        let rule = match f.billing.as_ref().map(|b| (b.get_ref().as_str(), b.span())) {
            None | Some(("auto", _)) => None,
            Some(("recurring", _)) => Some(BillingRule::Recurring {
                include_warmup: warmup,
            }),
            Some(("event", _)) => Some(BillingRule::Event { per_month }),
            Some((other, sp)) => {
                return Err(self.at(
                    sp,
                    format!(
                    "`pricing.billing` must be \"auto\", \"recurring\" or \"event\" (got \"{}\")",
                    echo(other)
                ),
                ))
            }
        };
        if let (Some(BillingRule::Recurring { .. }), Some(v)) = (rule, &f.events_per_month) {
            return Err(self.at(v.span(), "`pricing.events_per_month` applies to `pricing.billing = \"event\"` (this scenario is billed as a recurring pattern)".into()));
        }
        if let (Some(BillingRule::Event { .. }), Some(v)) = (rule, &f.include_warmup) {
            return Err(self.at(v.span(), "`pricing.include_warmup` applies to `pricing.billing = \"recurring\"` (an event is billed whole, start-up included)".into()));
        }
        Ok((rule, per_month, warmup))
    }

    fn incentive(
        &self,
        p: Option<&toml::Spanned<raw::IncentiveFile>>,
    ) -> Result<Incentive, ScenarioError> {
        let Some(p) = p else {
            return Ok(Incentive::default());
        };
        let f = p.get_ref();
        let mech = f
            .mechanism
            .as_ref()
            .map_or("none", |m| m.get_ref().as_str());
        let stray = |q: &Option<Q>, key: &str| -> Result<(), ScenarioError> {
            match q {
                Some(q) => Err(self.at(
                    q.span(),
                    format!("`incentive.{key}` does not apply to mechanism \"{mech}\""),
                )),
                None => Ok(()),
            }
        };
        let mechanism = match mech {
            "none" | "shapley" | "equilibrium" => {
                stray(&f.price, "price")?;
                stray(&f.discount, "discount")?;
                match mech {
                    "none" => Mechanism::None,
                    "shapley" => Mechanism::Shapley,
                    _ => Mechanism::Equilibrium,
                }
            }
            "per-byte" => {
                stray(&f.discount, "discount")?;
                match &f.price {
                    Some(q) => Mechanism::PerByte {
                        price: self.bounded(q, "incentive.price", Dimension::MoneyPerGb, 0.0, false, None)?,
                    },
                    None => return Err(self.at(p.span(), "`incentive.price` is missing (required for mechanism \"per-byte\"), e.g. price = \"0.01 $/GB\"".into())),
                }
            }
            "discount" => {
                stray(&f.price, "price")?;
                match &f.discount {
                    Some(q) => Mechanism::Discount {
                        amount: self.bounded(q, "incentive.discount", Dimension::Money, 0.0, false, None)?,
                    },
                    None => return Err(self.at(p.span(), "`incentive.discount` is missing (required for mechanism \"discount\"), e.g. discount = \"$0.05\" ($ per download; per host per month for wireless)".into())),
                }
            }
            other => {
                let sp = f.mechanism.as_ref().map_or(p.span(), |m| m.span());
                return Err(self.at(sp, format!("`incentive.mechanism` must be one of \"none\", \"per-byte\", \"discount\", \"shapley\", \"equilibrium\" (got \"{}\")", echo(other))));
            }
        };
        let response_time = match &f.response_time {
            Some(q) => self.bounded(
                q,
                "incentive.response_time",
                Dimension::Time,
                MIN_RESPONSE_TIME,
                false,
                None,
            )?,
            None => Incentive::default().response_time,
        };
        Ok(Incentive {
            mechanism,
            response_time,
        })
    }

    fn peer_cost(&self, c: Option<&raw::PeerCostFile>) -> Result<PeerCost, ScenarioError> {
        use Dimension::*;
        let default = raw::PeerCostFile::default();
        let c = c.unwrap_or(&default);
        let opt = |q: &Option<Q>, key: &str, dim, default: f64| -> Result<f64, ScenarioError> {
            match q {
                Some(q) => self.bounded(q, key, dim, 0.0, false, None),
                None => Ok(default),
            }
        };
        let keys = DistributionKeys {
            distribution: &c.distribution,
            min: &c.min,
            max: &c.max,
            median: &c.median,
            sigma: &c.sigma,
            spread: &c.spread,
        };
        Ok(PeerCost {
            power: opt(&c.power, "peers.cost.power", Power, 0.0)?,
            electricity: opt(
                &c.electricity,
                "peers.cost.electricity",
                MoneyPerKwh,
                0.1545,
            )?,
            upload_value: opt(&c.upload_value, "peers.cost.upload_value", MoneyPerGb, 0.0)?,
            distribution: self
                .distribution(&keys, "peers.cost", None)?
                .unwrap_or(CostDistribution::None),
        })
    }

    /// A private-cost distribution from its keys; `None` when `distribution` is absent and no
    /// other key is given (then the caller's default applies).
    fn distribution(
        &self,
        k: &DistributionKeys<'_>,
        prefix: &str,
        span: Option<Range<usize>>,
    ) -> Result<Option<CostDistribution>, ScenarioError> {
        use Dimension::*;
        let name = k.distribution.as_ref().map(|d| d.get_ref().as_str());
        let given: Vec<(&str, Range<usize>)> = [
            ("min", k.min.as_ref().map(|q| q.span())),
            ("max", k.max.as_ref().map(|q| q.span())),
            ("median", k.median.as_ref().map(|q| q.span())),
            ("sigma", k.sigma.as_ref().map(|q| q.span())),
            ("spread", k.spread.as_ref().map(|q| q.span())),
        ]
        .into_iter()
        .filter_map(|(n, sp)| sp.map(|sp| (n, sp)))
        .collect();
        let allowed: &[&str] = match name {
            None if given.is_empty() => return Ok(None),
            None => {
                let (key, sp) = &given[0];
                return Err(self.at(sp.clone(), format!("`{prefix}.{key}` needs `{prefix}.distribution` (\"uniform\", \"lognormal\" or \"energy\")")));
            }
            Some("none") => &[],
            Some("uniform") => &["min", "max"],
            Some("lognormal") => &["median", "sigma"],
            Some("energy") => &["spread"],
            Some(other) => {
                let sp = k
                    .distribution
                    .as_ref()
                    .map(|d| d.span())
                    .or(span)
                    .unwrap_or(0..0);
                return Err(self.at(sp, format!("`{prefix}.distribution` must be one of \"none\", \"uniform\", \"lognormal\", \"energy\" (got \"{}\")", echo(other))));
            }
        };
        let name = name.unwrap_or("none");
        if let Some((key, sp)) = given.iter().find(|(n, _)| !allowed.contains(n)) {
            return Err(self.at(
                sp.clone(),
                format!(
                    "`{prefix}.{key}` does not apply to distribution \"{name}\" (its keys: {})",
                    if allowed.is_empty() {
                        "none".to_string()
                    } else {
                        allowed.join(", ")
                    }
                ),
            ));
        }
        let dist_span = k.distribution.as_ref().map(|d| d.span()).unwrap_or(0..0);
        let need = |q: &Option<Q>, key: &str, example: &str| -> Result<f64, ScenarioError> {
            match q {
                Some(q) => self.bounded(q, &format!("{prefix}.{key}"), Money, 0.0, false, None),
                None => Err(self.at(dist_span.clone(), format!("`{prefix}.{key}` is missing (required for distribution \"{name}\"), e.g. {key} = \"{example}\""))),
            }
        };
        Ok(Some(match name {
            "none" => CostDistribution::None,
            "uniform" => {
                let min = need(k.min, "min", "$0")?;
                let max = need(k.max, "max", "$0.05")?;
                if max < min {
                    let sp = k.max.as_ref().map_or(dist_span.clone(), |q| q.span());
                    return Err(self.at(
                        sp,
                        format!(
                            "`{prefix}.max` must be ≥ `{prefix}.min` (got max {max} < min {min})"
                        ),
                    ));
                }
                CostDistribution::Uniform { min, max }
            }
            "lognormal" => {
                let median = need(k.median, "median", "$0.02")?;
                if median <= 0.0 {
                    let sp = k.median.as_ref().map_or(dist_span.clone(), |q| q.span());
                    return Err(
                        self.at(sp, format!("`{prefix}.median` must be > $0 (got {median})"))
                    );
                }
                let sigma = match k.sigma {
                    Some(v) => self.plain(v, &format!("{prefix}.sigma"), 0.0, true, Some(10.0))?,
                    None => return Err(self.at(dist_span, format!("`{prefix}.sigma` is missing (required for distribution \"lognormal\"), e.g. sigma = 1.0"))),
                };
                CostDistribution::LogNormal { median, sigma }
            }
            _ => {
                let spread = match k.spread {
                    Some(v) => self.plain(v, &format!("{prefix}.spread"), 0.0, false, Some(1.0))?,
                    None => 0.5,
                };
                CostDistribution::Energy { spread }
            }
        }))
    }

    fn classes(
        &self,
        list: &[raw::ClassFile],
        abort_rate: f64,
        seed_residence: f64,
        default_cost: CostDistribution,
        span: Range<usize>,
    ) -> Result<Vec<PeerClass>, ScenarioError> {
        use Dimension::*;
        if list.is_empty() || list.len() > MAX_CLASSES {
            return Err(self.at(
                span,
                format!(
                    "`peers.class` must have 1 to {MAX_CLASSES} entries (got {})",
                    list.len()
                ),
            ));
        }
        let mut names = BTreeSet::new();
        let mut out = Vec::with_capacity(list.len());
        for (i, c) in list.iter().enumerate() {
            let name = c.name.get_ref().trim().to_string();
            let key = |field: &str| format!("peers.class[{i}].{field}");
            if name.is_empty()
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-_".contains(ch))
            {
                return Err(self.at(c.name.span(), format!("`{}` must be non-empty and use only letters, digits, '-' and '_' (it names CSV columns; got \"{}\")", key("name"), echo(c.name.get_ref()))));
            }
            if !names.insert(name.clone()) {
                return Err(self.at(
                    c.name.span(),
                    format!("`{}`: class name \"{name}\" is used twice", key("name")),
                ));
            }
            let share = self.plain(&c.share, &key("share"), 0.0, true, Some(1.0))?;
            let upload = self.bounded(
                &c.upload,
                &key("upload"),
                BitRate,
                0.0,
                false,
                Some(MAX_PEER_LINK),
            )?;
            let download = self.bounded(
                &c.download,
                &key("download"),
                BitRate,
                0.0,
                true,
                Some(MAX_PEER_LINK),
            )?;
            let abort = match &c.abort_rate {
                Some(q) => self.bounded(
                    q,
                    &key("abort_rate"),
                    EventRate,
                    0.0,
                    false,
                    Some(MAX_ABORT_RATE),
                )?,
                None => abort_rate,
            };
            let residence = match &c.seed_residence {
                Some(q) => self.residence(q, &key("seed_residence"))?,
                None => seed_residence,
            };
            let cost = match &c.cost {
                Some(cf) => {
                    let f = cf.get_ref();
                    let keys = DistributionKeys {
                        distribution: &f.distribution,
                        min: &f.min,
                        max: &f.max,
                        median: &f.median,
                        sigma: &f.sigma,
                        spread: &f.spread,
                    };
                    self.distribution(&keys, &format!("peers.class[{i}].cost"), Some(cf.span()))?
                }
                None => None,
            };
            out.push(PeerClass {
                name,
                share,
                upload,
                download,
                abort_rate: abort,
                seed_residence: residence,
                cost: cost.unwrap_or(default_cost),
            });
        }
        let sum: f64 = out.iter().map(|c| c.share).sum();
        if (sum - 1.0).abs() > SHARE_SUM_TOL {
            let parts: Vec<String> = out
                .iter()
                .map(|c| format!("{} {}", c.name, c.share))
                .collect();
            return Err(self.at(
                span,
                format!(
                    "`peers.class[*].share` must sum to 1 (±{SHARE_SUM_TOL}) (got {sum}: {})",
                    parts.join(" + ")
                ),
            ));
        }
        Ok(out)
    }

    fn demand(
        &self,
        d: &raw::DemandFile,
        base_dir: Option<&Path>,
    ) -> Result<ArrivalProfile, ScenarioError> {
        use Dimension::*;
        const PROFILES: &str = "\"constant\", \"flash-crowd\", \"diurnal\" or \"trace\"";
        let profile = d
            .profile
            .as_ref()
            .map_or("constant", |p| p.get_ref().as_str());
        let reject = |q: Option<Range<usize>>, key: &str| -> Result<(), ScenarioError> {
            match q {
                Some(span) => Err(self.at(
                    span,
                    format!("`demand.{key}` does not apply to profile \"{profile}\""),
                )),
                None => Ok(()),
            }
        };
        let rate = |required: bool| -> Result<Option<f64>, ScenarioError> {
            match &d.arrival_rate {
                Some(q) => self.bounded(q, "demand.arrival_rate", EventRate, 0.0, true, None).map(Some),
                None if required => Err(self.whole(format!("`demand.arrival_rate` is missing (required for profile \"{profile}\"), e.g. arrival_rate = \"1/s\""))),
                None => Ok(None),
            }
        };
        let span = |q: &Option<Q>| q.as_ref().map(|q| q.span());
        match profile {
            "constant" => {
                reject(span(&d.decay_time), "decay_time")?;
                reject(d.peak_to_mean.as_ref().map(|v| v.span()), "peak_to_mean")?;
                reject(span(&d.period), "period")?;
                reject(span(&d.peak_time), "peak_time")?;
                reject(d.file.as_ref().map(|v| v.span()), "file")?;
                Ok(ArrivalProfile::Constant {
                    rate: rate(true)?.unwrap_or_default(),
                })
            }
            "flash-crowd" => {
                reject(d.peak_to_mean.as_ref().map(|v| v.span()), "peak_to_mean")?;
                reject(span(&d.period), "period")?;
                reject(span(&d.peak_time), "peak_time")?;
                reject(d.file.as_ref().map(|v| v.span()), "file")?;
                let decay = match &d.decay_time {
                    // A crowd that fades within a second is a batch of arrivals at one
                    // instant, not a flash crowd; below a second a live audience's solve
                    // steps at the decay's pace and takes seconds to reach its work budget.
                    Some(q) => self.bounded(
                        q,
                        "demand.decay_time",
                        Time,
                        MIN_DECAY_TIME,
                        false,
                        None,
                    )?,
                    None => return Err(self.whole("`demand.decay_time` is missing (required for profile \"flash-crowd\"), e.g. decay_time = \"2 h\"".into())),
                };
                Ok(ArrivalProfile::FlashCrowd {
                    rate: rate(true)?.unwrap_or_default(),
                    decay_time: decay,
                })
            }
            "diurnal" => {
                reject(span(&d.decay_time), "decay_time")?;
                reject(d.file.as_ref().map(|v| v.span()), "file")?;
                let peak_to_mean = match &d.peak_to_mean {
                    Some(v) => self.plain(v, "demand.peak_to_mean", 1.0, false, Some(2.0))?,
                    None => return Err(self.whole("`demand.peak_to_mean` is missing (required for profile \"diurnal\"), a number in [1, 2]".into())),
                };
                let period = match &d.period {
                    Some(q) => self.bounded(q, "demand.period", Time, 0.0, true, None)?,
                    None => 86_400.0,
                };
                let peak_time = match &d.peak_time {
                    Some(q) => {
                        let v = self.quantity(q, "demand.peak_time", Time)?;
                        if !(0.0..period).contains(&v) {
                            return Err(self.at(
                                q.span(),
                                format!(
                                    "`demand.peak_time` must be in [0 s, {}) (the period) (got {})",
                                    units::format_quantity(period, Time),
                                    q.get_ref()
                                ),
                            ));
                        }
                        v
                    }
                    None => 72_000.0_f64.min(period * 20.0 / 24.0),
                };
                Ok(ArrivalProfile::Diurnal {
                    mean_rate: rate(true)?.unwrap_or_default(),
                    peak_to_mean,
                    period,
                    peak_time,
                })
            }
            "trace" => {
                reject(span(&d.decay_time), "decay_time")?;
                reject(d.peak_to_mean.as_ref().map(|v| v.span()), "peak_to_mean")?;
                reject(span(&d.period), "period")?;
                reject(span(&d.peak_time), "peak_time")?;
                if let Some(q) = &d.arrival_rate {
                    return Err(self.at(q.span(), "`demand.arrival_rate` does not apply to profile \"trace\": the trace file gives the rates".into()));
                }
                let Some(file) = &d.file else {
                    return Err(self.whole("`demand.file` is missing (required for profile \"trace\"): a CSV of t,rate".into()));
                };
                let path = match base_dir {
                    Some(dir) => dir.join(file.get_ref()),
                    None => PathBuf::from(file.get_ref()),
                };
                read_trace(&path).map(|points| ArrivalProfile::Trace { points })
            }
            other => {
                let span = d.profile.as_ref().map(|p| p.span()).unwrap_or(0..0);
                Err(self.at(
                    span,
                    format!(
                        "`demand.profile` must be {PROFILES} (got \"{}\")",
                        echo(other)
                    ),
                ))
            }
        }
    }
}

/// Read a trace CSV: rows `t,rate` (an optional header row `t,rate`); t in seconds or with a
/// time unit, rate in 1/s or with a rate unit; t strictly increasing from ≥ 0; at least 2 rows.
pub fn read_trace(path: &Path) -> Result<Vec<(Seconds, PerSec)>, ScenarioError> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Read {
        file: label.clone(),
        reason: e.to_string(),
    })?;
    let at = |line: usize, message: String| ScenarioError::At {
        file: label.clone(),
        line,
        column: 1,
        message,
    };
    let mut points: Vec<(f64, f64)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != 2 {
            return Err(at(
                n,
                format!(
                    "expected 2 columns `t,rate` (got {}: \"{}\")",
                    cells.len(),
                    echo(line)
                ),
            ));
        }
        if points.is_empty() && cells[0].eq_ignore_ascii_case("t") {
            continue;
        }
        let parse = |s: &str, dim| match s.parse::<f64>() {
            Ok(v) => units::from_number(v, dim),
            Err(_) => units::parse_quantity(s, dim),
        };
        let t = parse(cells[0], Dimension::Time).map_err(|e| at(n, format!("t: {e}")))?;
        let r = parse(cells[1], Dimension::EventRate).map_err(|e| at(n, format!("rate: {e}")))?;
        if t < 0.0 {
            return Err(at(n, format!("t must be ≥ 0 s (got {})", echo(cells[0]))));
        }
        if r < 0.0 {
            return Err(at(
                n,
                format!("rate must be ≥ 0/s (got {})", echo(cells[1])),
            ));
        }
        if let Some(&(prev, _)) = points.last() {
            if t <= prev {
                return Err(at(
                    n,
                    format!("t must increase strictly (got {t} s after {prev} s)"),
                ));
            }
        }
        points.push((t, r));
    }
    if points.len() < 2 {
        return Err(ScenarioError::Whole {
            file: label,
            message: format!(
                "a trace needs at least 2 rows `t,rate` (got {})",
                points.len()
            ),
        });
    }
    Ok(points)
}

/// The keys of a private-cost distribution, wherever they appear.
struct DistributionKeys<'a> {
    distribution: &'a Option<toml::Spanned<String>>,
    min: &'a Option<Q>,
    max: &'a Option<Q>,
    median: &'a Option<Q>,
    sigma: &'a Option<toml::Spanned<f64>>,
    spread: &'a Option<toml::Spanned<f64>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_default_validates() {
        let s = Scenario::builtin_default().expect("the built-in default is valid");
        assert!(!s.name.is_empty());
    }
}
