//! The scenario file as written: serde types that mirror the TOML and check only types.
//! Every key is `deny_unknown_fields`, so a typo fails with its location. Validation of ranges
//! and cross-field rules happens once, in `scenario::validate`.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::Spanned;

/// A quantity as written: a bare number (base units) or a string with a unit.
#[derive(Debug, Clone, PartialEq)]
pub enum Quantity {
    /// Bare number, base units.
    Number(f64),
    /// Text such as "2 Mbps".
    Text(String),
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(v) => write!(f, "{v}"),
            Self::Text(s) => write!(f, "\"{s}\""),
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
#[derive(Debug, Deserialize)]
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
    pub content: ContentFile,
    /// `[demand]`.
    pub demand: DemandFile,
    /// `[swarm]`.
    #[serde(default)]
    pub swarm: SwarmFile,
    /// `[peers]`.
    pub peers: Spanned<PeersFile>,
    /// `[server]`.
    #[serde(default)]
    pub server: ServerFile,
}

/// `[content]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentFile {
    /// `content.size`.
    pub size: Q,
}

/// `[demand]`.
#[derive(Debug, Deserialize)]
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
#[derive(Debug, Default, Deserialize)]
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
}

/// `[peers]`: one class (upload, download) or `[[peers.class]]`.
#[derive(Debug, Deserialize)]
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
}

/// `[[peers.class]]`.
#[derive(Debug, Deserialize)]
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
}

/// `[server]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    /// `server.capacity`.
    #[serde(default)]
    pub capacity: Option<Q>,
}
