//! `columns.json`: the unit and meaning of every column of every CSV file in a results folder,
//! so that a reader of `timeseries.csv` (whose header holds names only) need not open
//! `results/README.md`. One object, the CSV file names as keys in the order the folder's files
//! are listed, each an array of `{name, unit, description}` in column order. Written with the
//! folder's other files (staged, renamed when all are complete).

use std::path::Path;

use serde::Serialize;

use super::Staged;
use crate::error::OutputError;

/// The sidecar's file name.
pub const FILE: &str = "columns.json";

/// One column of a CSV file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    /// The header cell.
    pub name: String,
    /// Unit of the values ("" for text and for fractions, which say "fraction"; "–" never).
    pub unit: String,
    /// What the values are.
    pub description: String,
}

impl Column {
    fn new(name: impl Into<String>, unit: &str, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            unit: unit.into(),
            description: description.into(),
        }
    }
}

/// Stage `dir/columns.json` for `files`: (CSV file name, its columns).
pub fn stage(dir: &Path, files: &[(&str, Vec<Column>)]) -> Result<Staged, OutputError> {
    let mut doc = serde_json::Map::new();
    for (file, columns) in files {
        doc.insert(
            (*file).to_string(),
            serde_json::to_value(columns).map_err(|source| OutputError::Json {
                path: dir.join(FILE),
                source,
            })?,
        );
    }
    super::json::stage_summary(&dir.join(FILE), &doc)
}

/// What a `timeseries.csv` describes: its columns differ by content kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    /// A file swarm (`run`, `compare`).
    File,
    /// `simulate`: a file swarm's columns as means over replicates divided by the scale N,
    /// then a `.sd` column for each.
    Simulated,
    /// A live stream or VoD catalogue.
    Stream,
    /// Femtocell offload (one day).
    Wireless,
}

/// The kind of a run's `timeseries.csv`.
pub fn series_of(rec: &crate::run::RunRecord) -> Series {
    if rec.summary.wireless.is_some() {
        Series::Wireless
    } else if rec.summary.video.is_some() {
        Series::Stream
    } else {
        Series::File
    }
}

/// The columns of a `timeseries.csv` with header `names`. A name this table does not know
/// gets an empty unit and says so (a test runs every shipped scenario so that none does).
pub fn timeseries(names: &[String], kind: Series) -> Vec<Column> {
    names
        .iter()
        .map(|name| {
            let known = match kind {
                Series::Simulated => simulated(name),
                _ => series(name, kind),
            };
            known.unwrap_or_else(|| Column::new(name.as_str(), "", "not documented"))
        })
        .collect()
}

/// A `simulate` column: `t`, a run column as a mean over replicates ÷ N, or its `.sd`.
fn simulated(name: &str) -> Option<Column> {
    if name == "t" {
        return series(name, Series::File);
    }
    let (base, sd) = match name.strip_suffix(".sd") {
        Some(base) => (base, true),
        None => (name, false),
    };
    let c = series(base, Series::File)?;
    let what = if sd {
        "sample standard deviation over replicates, divided by the scale N, of"
    } else {
        "mean over replicates, divided by the scale N, of"
    };
    Some(Column::new(
        name,
        &c.unit,
        format!("{what}: {}", c.description),
    ))
}

/// A column of `run`'s `timeseries.csv` (`results/README.md`).
fn series(name: &str, kind: Series) -> Option<Column> {
    let stream = kind == Series::Stream;
    let fixed: Option<(&str, &str)> = match (name, kind) {
        ("t", Series::Wireless) => Some(("s", "time after midnight (one day)")),
        ("t", _) => Some(("s", "time since the start")),
        ("demand_rate", Series::Wireless) => Some(("bit/s", "all users' demand")),
        ("macro_rate", Series::Wireless) => Some(("bit/s", "what the macro towers carry")),
        ("femto_rate", Series::Wireless) => Some(("bit/s", "what the femtocells carry")),
        (_, Series::Wireless) => None,
        ("leechers", Series::File) => Some(("peers", "downloaders, all classes")),
        ("seeds", Series::File) => {
            Some(("peers", "peers that finished and still upload, all classes"))
        }
        ("viewers", Series::Stream) => Some(("viewers", "audience n(t), all classes")),
        ("server_rate", _) if stream => Some(("bit/s", "what the origin sends")),
        ("server_rate", _) => Some(("bit/s", "upload the provider's server is sending")),
        ("peer_rate", _) if stream => Some(("bit/s", "what the viewers relay")),
        ("peer_rate", _) => Some((
            "bit/s",
            "upload peers are sending (leechers' usable share η plus seeds)",
        )),
        ("arrival_rate", _) if stream => Some(("1/s", "λ(t), viewers tuning in per second")),
        ("arrival_rate", _) => Some(("1/s", "λ(t), new downloaders per second")),
        ("completed", Series::File) => Some(("downloads", "completed downloads since t = 0")),
        ("aborted", Series::File) => Some(("downloads", "downloads given up since t = 0")),
        ("client_server_rate", Series::Stream) => {
            Some(("bit/s", "n r: what an origin alone would send"))
        }
        ("max_rate", Series::Stream) => Some((
            "bit/s",
            "the largest sustainable stream rate r_max (live with a finite server.capacity)",
        )),
        _ => None,
    };
    if let Some((unit, description)) = fixed {
        return Some(Column::new(name, unit, description));
    }
    let (prefix, class) = name.split_once('.')?;
    let (unit, what) = match (prefix, kind) {
        ("leechers", Series::File) => ("peers", "downloaders of class"),
        ("seeds", Series::File) => ("peers", "seeds of class"),
        ("download_rate", Series::File) => ("bit/s", "total download throughput of class"),
        ("viewers", Series::Stream) => ("viewers", "audience of class"),
        _ => return None,
    };
    let note = if class.ends_with("-out") {
        " (its non-sharers, who upload nothing)"
    } else {
        ""
    };
    Some(Column::new(name, unit, format!("{what} `{class}`{note}")))
}

/// Columns of a table given as (name, unit, description).
fn table(rows: &[(&str, &str, &str)]) -> Vec<Column> {
    rows.iter()
        .map(|(n, u, d)| Column::new(*n, u, *d))
        .collect()
}

/// The energy columns shared by both `costs.csv` files.
const ENERGY: [(&str, &str, &str); 8] = [
    (
        "energy.origin_kwh",
        "kWh/month",
        "origin data centre: its bytes (SI GB) × energy.origin",
    ),
    ("energy.cdn_kwh", "kWh/month", "CDN: its bytes × energy.cdn"),
    (
        "energy.network_kwh",
        "kWh/month",
        "every delivered byte × energy.network",
    ),
    (
        "energy.peers_kwh",
        "kWh/month",
        "sharing peers' online hours × the peer device's power",
    ),
    (
        "energy.macro_kwh",
        "kWh/month",
        "macro towers (wireless only)",
    ),
    (
        "energy.femtocells_kwh",
        "kWh/month",
        "femtocells (wireless only)",
    ),
    ("energy.total_kwh", "kWh/month", "the sum of the parts"),
    ("energy.co2_kg", "kg/month", "total × energy.carbon"),
];

/// `costs.csv` after `compare` (one row per architecture).
pub fn costs() -> Vec<Column> {
    let mut c = table(&[
        ("architecture", "", "client_server, cdn, p2p or hybrid"),
        (
            "provider_usd",
            "$/month",
            "everything the provider pays: the sum of the next six",
        ),
        ("transit_usd", "$/month", "95th-percentile transit"),
        ("egress_usd", "$/month", "per-GB egress"),
        (
            "capacity_usd",
            "$/month",
            "origin capacity provisioned, at pricing.capacity",
        ),
        ("cdn_usd", "$/month", "CDN bill through the tier table"),
        ("payments_usd", "$/month", "paid to peers"),
        (
            "tracker_usd",
            "$/month",
            "coordination on the provider's bill (tracker)",
        ),
        (
            "peers_cost_usd",
            "$/month",
            "peers' energy and the value of their upload",
        ),
        (
            "peers_income_usd",
            "$/month",
            "what peers are paid (= payments_usd)",
        ),
        (
            "peers_usd",
            "$/month",
            "peers' net cost = cost - income (negative: they gain)",
        ),
        (
            "social_usd",
            "$/month",
            "provider + peers' net cost (payments cancel)",
        ),
        (
            "origin_gb",
            "GB/month",
            "what the origin or CDN sends (billing GB of 2^30 bytes)",
        ),
        (
            "isp_uplink_gb",
            "GB/month",
            "what peers send over their access uplinks",
        ),
        (
            "coordination_gb",
            "GB/month",
            "what peers send to coordinate under [coordination]",
        ),
        (
            "gross_saving",
            "fraction",
            "saving vs client-server before paying peers",
        ),
        (
            "net_saving",
            "fraction",
            "saving vs client-server after paying peers",
        ),
        (
            "gross_saving_vs_cdn",
            "fraction",
            "saving vs the CDN before paying peers",
        ),
        (
            "net_saving_vs_cdn",
            "fraction",
            "saving vs the CDN after paying peers",
        ),
    ]);
    c.extend(table(&ENERGY));
    c
}

/// `costs.csv` of a wireless run (macro only, femtocells).
pub fn wireless_costs() -> Vec<Column> {
    let mut c = table(&[
        ("architecture", "", "macro_only or femtocells"),
        ("towers", "towers", "macro towers built"),
        ("towers_usd", "$/month", "the towers' cost"),
        (
            "devices_usd",
            "$/month",
            "femtocells given away by the operator",
        ),
        ("payments_usd", "$/month", "paid to hosts"),
        ("operator_usd", "$/month", "towers + devices + payments"),
        (
            "hosts_electricity_usd",
            "$/month",
            "hosts' electricity (their private cost)",
        ),
        ("hosts_backhaul_usd", "$/month", "hosts' backhaul"),
        ("hosts_devices_usd", "$/month", "femtocells bought by hosts"),
        ("hosts_usd", "$/month", "hosts' cost net of payments"),
        ("social_usd", "$/month", "operator + hosts"),
        (
            "gross_saving",
            "fraction",
            "saving vs macro only before payments",
        ),
        (
            "net_saving",
            "fraction",
            "saving vs macro only after payments",
        ),
    ]);
    c.extend(table(&ENERGY));
    c
}

/// `adoption.csv` of a wireless run.
pub fn adoption() -> Vec<Column> {
    table(&[
        ("hosts", "fraction", "hosts as a share of users"),
        ("towers", "towers", "towers needed (whole towers)"),
        (
            "operator_saving_usd",
            "$/month",
            "operator's saving, whole towers, femtocells as if given away",
        ),
        (
            "operator_saving_fluid_usd",
            "$/month",
            "the same with fluid (fractional) towers",
        ),
        (
            "shapley_per_host_usd",
            "$/month",
            "a host's fluid Shapley value",
        ),
    ])
}

/// `validation.csv` of `validate`.
pub fn validation() -> Vec<Column> {
    table(&[
        ("scale", "", "N: arrival rates and the server multiplied by N"),
        ("replicates", "replicates", "independent replicates at this scale"),
        ("events", "events", "state-changing events, all replicates"),
        ("population_error", "fraction", "populations: RMS over the grid of (replicate mean - fluid), relative to the fluid's peak; the larger of leechers and seeds"),
        ("population_spread", "fraction", "populations: RMS over the grid of the replicates' standard deviation, relative to the fluid's peak; the larger of leechers and seeds"),
        ("download_time_error", "fraction", "|mean download time - fluid| / fluid (Little over the horizon); empty where it does not apply"),
        ("download_time_spread", "fraction", "standard deviation of the download time over replicates / fluid"),
        ("server_bytes_error", "fraction", "|mean server bytes - fluid| / fluid"),
        ("server_bytes_spread", "fraction", "standard deviation of the server bytes over replicates / fluid"),
    ])
}

/// `fitted.csv` of `fit`.
pub fn fitted() -> Vec<Column> {
    table(&[
        (
            "t",
            "s",
            "sample time of the trace (from the first arrival)",
        ),
        ("leechers", "peers", "measured leechers"),
        ("leechers_fit", "peers", "the fitted model's leechers"),
        ("seeds", "peers", "measured seeds (the origin not counted)"),
        ("seeds_fit", "peers", "the fitted model's seeds"),
    ])
}

/// `sweep.csv` (and its shards): `point`, the swept keys, `status`, then the output columns
/// the manifest lists.
pub fn sweep(m: &crate::sweep::Manifest) -> Vec<Column> {
    let mut c = vec![Column::new("point", "", "index of the point, 0-based")];
    c.extend(m.parameters.iter().map(|p| {
        Column::new(
            p.key.as_str(),
            &p.unit,
            format!(
                "the swept key `{}` at this point ({} scale)",
                p.key, p.scale
            ),
        )
    }));
    c.push(Column::new(
        "status",
        "",
        "ok, or error: <why> (the outputs of such a row are empty)",
    ));
    c.extend(
        m.columns
            .iter()
            .map(|o| Column::new(o.name.as_str(), &o.unit, o.description.as_str())),
    );
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn class_columns_name_their_class_and_unit() {
        let c = timeseries(
            &names(&["t", "leechers.dsl", "download_rate.all-out"]),
            Series::File,
        );
        assert_eq!(c[0].unit, "s");
        assert_eq!(c[1].unit, "peers");
        assert_eq!(c[1].description, "downloaders of class `dsl`");
        assert_eq!(c[2].unit, "bit/s");
        assert!(c[2].description.contains("non-sharers"), "{:?}", c[2]);
    }

    #[test]
    fn simulated_columns_are_means_and_spreads_per_n() {
        let c = timeseries(&names(&["t", "seeds", "seeds.sd"]), Series::Simulated);
        assert_eq!(c[0].description, "time since the start");
        assert_eq!(c[1].unit, "peers");
        assert!(c[1].description.starts_with("mean over replicates"));
        assert!(c[2].description.starts_with("sample standard deviation"));
    }

    #[test]
    fn a_column_of_another_kind_is_not_documented_as_this_one() {
        let c = timeseries(&names(&["viewers", "femto_rate"]), Series::File);
        assert!(c.iter().all(|c| c.description == "not documented"), "{c:?}");
        let c = timeseries(&names(&["leechers"]), Series::Wireless);
        assert_eq!(c[0].description, "not documented");
    }
}
