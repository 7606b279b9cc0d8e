//! Multi-ISP swarm and ISP locality: K ISPs share one Qiu–Srikant swarm, and the peer
//! selection decides where each ISP's bytes come from (and, under strict locality, how fast
//! its peers download).
//!
//! Card: `models/locality.md` (equations, symbols, units, ranges, sources, reference values).
//! Sources: literature.md §6.2 (the model and its reference cases LOC-2eq, LOC-10eq), §5.1
//! (the P4P locality-optimal special case), §5.2 and §7.2–7.3 (the P4P preset).
//!
//! Per ISP k (files and seconds; rates c_k, μ_k in files/s):
//!
//! ```text
//! U_k = μ_k (η x_k + y_k)              upload of ISP k's peers
//! D_k = x_k · min(c_k, r)              downloads into ISP k (r: max-min fair water level)
//! dx_k/dt = λ_k − θ x_k − D_k,  dy_k/dt = D_k − γ y_k
//! ```
//!
//! * [`Selection::Random`], [`Selection::LocalityOptimal`], [`Selection::LocalityFraction`]:
//!   one pooled swarm (peers first, then the origin server), so the populations are those of
//!   [`Swarm`] with one class per ISP; only the origin of the bytes differs. A share β of each
//!   ISP's demand is served by its own peers where they can (β = 0: random, β = 1:
//!   locality-optimal, inter-ISP = Σ_k (D_k − U_k)^+ − server), the rest at random from the
//!   upload left over.
//! * [`Selection::Strict`]: every ISP is its own swarm served by its own peers and a share of
//!   the server proportional to its arrivals: the dynamics change, a slow-upload ISP can slow
//!   down.
//!
//! * Transit links ([`Isp::transit_capacity`], issue 19 §3): ISP k's link to the other ISPs
//!   carries at most L_k per direction; cross-ISP flows are throttled max-min fairly and the
//!   throttled demand is not redirected, so a binding link slows random selection more than
//!   locality-aware selection. Links that never bind change nothing (the same code path).
//!
//! Transit convention: the ISP that *receives* inter-ISP bytes pays for them at its own price
//! (steady mean rate in Mbit/s × $/Mbps/month); bytes from the origin server are the content
//! provider's cost and are reported apart, never as inter-ISP.

use serde::Serialize;

use super::swarm::{qiu_srikant_closed_form, Swarm, SwarmClass};
use super::ArrivalProfile;
use crate::error::LocalityError;
pub use crate::scenario::spec::Selection;
use crate::units::{PerSec, Seconds, Usd, UsdPerMbpsMonth};

/// One ISP's peers, in model units (files and seconds).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Isp {
    /// Name (unique, non-empty; column suffix in outputs).
    pub name: String,
    /// λ_k: arrival rate of new downloaders in this ISP, 1/s, > 0.
    pub lambda: PerSec,
    /// μ_k: upload rate of one peer, files/s, ≥ 0.
    pub mu: f64,
    /// c_k: download rate of one peer, files/s, > 0.
    pub c: f64,
    /// Transit price this ISP pays for bytes it brings in from other ISPs, $/Mbps/month, ≥ 0.
    pub transit_price: UsdPerMbpsMonth,
    /// L_k: capacity of this ISP's link to the other ISPs left for the swarm's peer traffic,
    /// files/s, in *each* direction (a full-duplex link: inbound ≤ L_k and outbound ≤ L_k);
    /// finite and > 0. `None`: unlimited (the model without links, exactly).
    pub transit_capacity: Option<f64>,
}

/// Parameters every ISP shares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shared {
    /// η: effectiveness of file sharing, in [0, 1].
    pub eta: f64,
    /// θ: abort rate of a leecher, 1/s, ≥ 0.
    pub theta: PerSec,
    /// γ: departure rate of a seed, 1/s, > 0; `None` = seeds leave the moment they finish.
    pub gamma: Option<PerSec>,
    /// s: origin server upload, files/s, ≥ 0 (outside every ISP).
    pub server: f64,
    /// File size in bits (turns files/s into Mbit/s for transit), > 0.
    pub file_bits: f64,
}

/// A validated multi-ISP swarm.
#[derive(Debug, Clone)]
pub struct IspSwarm {
    isps: Vec<Isp>,
    shared: Shared,
}

impl Selection {
    /// Label used in outputs and messages.
    pub fn label(&self) -> String {
        match self {
            Self::Random => "random".into(),
            Self::LocalityOptimal => "locality-optimal".into(),
            Self::LocalityFraction { beta } => format!("locality-fraction (beta = {beta})"),
            Self::Strict => "strict-locality".into(),
        }
    }
}

/// Steady state of one ISP. Rates are in files/s unless the name says otherwise.
#[derive(Debug, Clone, Serialize)]
pub struct IspRow {
    /// ISP name.
    pub name: String,
    /// x̄_k: leechers.
    pub leechers: f64,
    /// ȳ_k: seeds.
    pub seeds: f64,
    /// Mean time a downloader spends in the swarm, x̄_k / λ_k (Little), seconds.
    pub download_time_s: Seconds,
    /// D_k: files/s delivered to this ISP's leechers (= completions).
    pub download_rate: f64,
    /// U_k = μ_k (η x̄_k + ȳ_k): upload capacity of this ISP's peers.
    pub upload_capacity: f64,
    /// Upload actually used (to any ISP), ≤ `upload_capacity`.
    pub upload_rate: f64,
    /// Bytes into this ISP from its own peers.
    pub intra_isp_rate: f64,
    /// Bytes into this ISP from other ISPs' peers.
    pub inter_isp_in_rate: f64,
    /// Bytes out of this ISP to other ISPs' leechers.
    pub inter_isp_out_rate: f64,
    /// Bytes into this ISP from the origin server.
    pub server_in_rate: f64,
    /// `inter_isp_in_rate` in Mbit/s.
    pub inter_isp_in_mbps: f64,
    /// Transit bill for the inbound inter-ISP bytes, $/month (this ISP pays).
    pub transit_usd_month: Usd,
    /// This ISP's link to the other ISPs (only when it has a `transit_capacity`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<TransitLink>,
}

/// Load on one ISP's link to the other ISPs at a steady state. Rates in files/s.
#[derive(Debug, Clone, Serialize)]
pub struct TransitLink {
    /// L_k, per direction.
    pub capacity: f64,
    /// L_k in Mbit/s.
    pub capacity_mbps: f64,
    /// Inter-ISP bytes in / L_k, in [0, 1].
    pub in_utilisation: f64,
    /// Inter-ISP bytes out / L_k, in [0, 1].
    pub out_utilisation: f64,
    /// Whether the link limits a flow (some cross-ISP flow through it is throttled).
    pub binds: bool,
    /// Inter-ISP bytes this ISP's leechers asked for but the links did not carry: its
    /// download rate without links (at these populations) minus the delivered one.
    pub throttled_rate: f64,
}

/// Totals over all ISPs. Rates in files/s.
#[derive(Debug, Clone, Serialize)]
pub struct LocalityTotals {
    /// Σ x̄_k.
    pub leechers: f64,
    /// Σ ȳ_k.
    pub seeds: f64,
    /// Σ x̄_k / Σ λ_k, seconds.
    pub mean_download_time_s: Seconds,
    /// Σ D_k.
    pub download_rate: f64,
    /// Σ of the peers' used upload.
    pub upload_rate: f64,
    /// Σ intra-ISP bytes.
    pub intra_isp_rate: f64,
    /// Σ inter-ISP bytes.
    pub inter_isp_rate: f64,
    /// Bytes from the origin server.
    pub server_rate: f64,
    /// Inter-ISP bytes as a share of all bytes delivered, Σ inter / Σ D_k, in [0, 1].
    pub inter_isp_share: f64,
    /// Σ transit bills, $/month.
    pub transit_usd_month: Usd,
}

/// Steady state of the multi-ISP swarm under one peer selection.
#[derive(Debug, Clone, Serialize)]
pub struct LocalitySteady {
    /// The peer selection.
    pub selection: Selection,
    /// One row per ISP, in input order.
    pub rows: Vec<IspRow>,
    /// Totals.
    pub totals: LocalityTotals,
    /// How many steady states the pooled swarm has (the first, reached from an empty swarm,
    /// is reported); 1 under strict locality.
    pub steady_states_found: usize,
}

/// One range check: `Err(OutOfRange)` naming `what` when `ok` is false.
fn check(
    ok: bool,
    what: impl FnOnce() -> String,
    value: f64,
    allowed: &str,
) -> Result<(), LocalityError> {
    if ok {
        Ok(())
    } else {
        Err(LocalityError::OutOfRange {
            what: what(),
            value,
            allowed: allowed.to_string(),
        })
    }
}

impl IspSwarm {
    /// Validate and build: at least one ISP, unique non-empty names, λ_k > 0, μ_k ≥ 0,
    /// c_k > 0, transit_price ≥ 0, transit_capacity > 0 (if given), η ∈ [0, 1], θ ≥ 0, γ > 0 (if given), s ≥ 0, file_bits > 0;
    /// every value finite. The error names the field, the value and the allowed range.
    pub fn new(isps: Vec<Isp>, shared: Shared) -> Result<Self, LocalityError> {
        if isps.is_empty() {
            return Err(LocalityError::NoIsps);
        }
        for (i, isp) in isps.iter().enumerate() {
            if isp.name.trim().is_empty() {
                return Err(LocalityError::EmptyName { index: i });
            }
            if let Some(first) = isps[..i].iter().position(|o| o.name == isp.name) {
                return Err(LocalityError::DuplicateName {
                    name: isp.name.clone(),
                    first,
                    second: i,
                });
            }
            let at = |field: &str| format!("isp[{i}] ('{}').{field}", isp.name);
            let l = isp.lambda;
            check(
                l.is_finite() && l > 0.0,
                || at("lambda"),
                l,
                "must be finite and > 0 (1/s)",
            )?;
            let mu = isp.mu;
            check(
                mu.is_finite() && mu >= 0.0,
                || at("mu"),
                mu,
                "must be finite and ≥ 0 (files/s)",
            )?;
            let c = isp.c;
            check(
                c.is_finite() && c > 0.0,
                || at("c"),
                c,
                "must be finite and > 0 (files/s)",
            )?;
            let p = isp.transit_price;
            let allowed = "must be finite and ≥ 0 ($/Mbps/month)";
            check(
                p.is_finite() && p >= 0.0,
                || at("transit_price"),
                p,
                allowed,
            )?;
            if let Some(cap) = isp.transit_capacity {
                check(
                    cap.is_finite() && cap > 0.0,
                    || at("transit_capacity"),
                    cap,
                    "must be finite and > 0 (files/s); use None for an unlimited link",
                )?;
            }
        }
        let s = &shared;
        let eta = s.eta;
        check(
            (0.0..=1.0).contains(&eta),
            || "eta".into(),
            eta,
            "must be in [0, 1]",
        )?;
        let th = s.theta;
        check(
            th.is_finite() && th >= 0.0,
            || "theta".into(),
            th,
            "must be finite and ≥ 0 (1/s)",
        )?;
        if let Some(g) = s.gamma {
            let allowed = "must be finite and > 0 (1/s); use None for seeds that leave at once";
            check(g.is_finite() && g > 0.0, || "gamma".into(), g, allowed)?;
        }
        let sv = s.server;
        check(
            sv.is_finite() && sv >= 0.0,
            || "server".into(),
            sv,
            "must be finite and ≥ 0 (files/s)",
        )?;
        let fb = s.file_bits;
        check(
            fb.is_finite() && fb > 0.0,
            || "file_bits".into(),
            fb,
            "must be finite and > 0 (bits)",
        )?;
        Ok(Self { isps, shared })
    }

    /// The ISPs, in input order.
    pub fn isps(&self) -> &[Isp] {
        &self.isps
    }

    /// The shared parameters.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Σ λ_k, 1/s.
    pub fn total_arrival_rate(&self) -> PerSec {
        self.isps.iter().map(|i| i.lambda).sum()
    }

    fn class_of(&self, isp: &Isp, share: f64) -> SwarmClass {
        SwarmClass {
            name: isp.name.clone(),
            share,
            c: isp.c,
            mu: isp.mu,
            theta: self.shared.theta,
            gamma: self.shared.gamma,
        }
    }

    /// The pooled swarm (one [`Swarm`] class per ISP, share λ_k / Σ λ): the dynamics of
    /// random, locality-optimal and locality-fraction selection, integrable by `solve` through
    /// [`super::FluidModel`].
    pub fn pooled_swarm(&self) -> Swarm {
        let total = self.total_arrival_rate();
        let classes = self
            .isps
            .iter()
            .map(|isp| self.class_of(isp, isp.lambda / total))
            .collect();
        Swarm::new(
            classes,
            self.shared.eta,
            self.shared.server,
            ArrivalProfile::Constant { rate: total },
            self.shared.file_bits,
        )
    }

    /// The dynamics of strict locality: one single-class [`Swarm`] per ISP, each with arrival
    /// rate λ_k and server share s λ_k / Σ λ.
    pub fn strict_swarms(&self) -> Vec<Swarm> {
        let total = self.total_arrival_rate();
        self.isps
            .iter()
            .map(|isp| {
                Swarm::new(
                    vec![self.class_of(isp, 1.0)],
                    self.shared.eta,
                    self.shared.server * isp.lambda / total,
                    ArrivalProfile::Constant { rate: isp.lambda },
                    self.shared.file_bits,
                )
            })
            .collect()
    }

    /// Steady state under `selection`: per-ISP populations, download times, byte origins and
    /// transit bills, plus totals. Errors: β outside [0, 1]; no steady state (upload cannot
    /// keep up and nobody aborts), naming the ISP under strict locality.
    pub fn steady(&self, selection: Selection) -> Result<LocalitySteady, LocalityError> {
        let beta = match selection {
            Selection::Random => 0.0,
            Selection::LocalityOptimal => 1.0,
            Selection::LocalityFraction { beta } => {
                check(
                    (0.0..=1.0).contains(&beta),
                    || "beta".into(),
                    beta,
                    "must be in [0, 1]",
                )?;
                beta
            }
            Selection::Strict => return self.strict(),
        };
        let total = self.total_arrival_rate();
        let states = self.pooled_swarm().steady_states(total).map_err(|reason| {
            LocalityError::NoSteadyState {
                selection: selection.label(),
                reason,
            }
        })?;
        let ss = &states[0];
        let upload: Vec<f64> = self.upload_capacities(&ss.leechers, &ss.seeds);
        let split = split_bytes(&ss.download, &upload, ss.peer, beta);
        let cols = Columns {
            x: &ss.leechers,
            y: &ss.seeds,
            d: &ss.download,
            upload: &upload,
        };
        if !self.has_links() {
            return Ok(self.assemble(selection, &cols, &split, states.len()));
        }
        // With links: the pooled steady state stands, unchanged, when no link binds there.
        let pooled = self.pooled_swarm();
        let at_pooled = self.link_flows(&pooled, &ss.leechers, &ss.seeds, beta);
        if !at_pooled.binds.iter().any(|b| *b) {
            let mut st = self.assemble(selection, &cols, &split, states.len());
            self.attach_links(&mut st, &at_pooled.binds, &at_pooled.throttled);
            return Ok(st);
        }
        let (x, y, lf) = self.capped_steady(&pooled, beta, ss, selection)?;
        let cols = Columns {
            x: &x,
            y: &y,
            d: &lf.delivered,
            upload: &lf.upload,
        };
        let mut st = self.assemble(selection, &cols, &lf.split, 1);
        self.attach_links(&mut st, &lf.binds, &lf.throttled);
        Ok(st)
    }

    /// Whether any ISP has a transit capacity.
    pub fn has_links(&self) -> bool {
        self.isps.iter().any(|i| i.transit_capacity.is_some())
    }

    /// Flows at populations `x`, `y` under byte rule β with the transit links: the pooled
    /// allocation and byte split (as without links), then every cross-ISP flow j → k throttled
    /// max-min fairly by the links it crosses (j's outbound, k's inbound). Throttled bytes are
    /// not redirected: leechers lose them and the upload behind them idles.
    fn link_flows(&self, pooled: &Swarm, x: &[f64], y: &[f64], beta: f64) -> LinkFlows {
        let f = pooled.flows(x, y);
        let upload = self.upload_capacities(x, y);
        let mut split = split_bytes(&f.download, &upload, f.peer, beta);
        let cross = cross_flows(&f.download, &upload, f.peer, beta);
        let caps: Vec<Option<f64>> = self.isps.iter().map(|i| i.transit_capacity).collect();
        let (kappa, binds) = throttle(&cross, &caps);
        let k = self.isps.len();
        let mut delivered = f.download.clone();
        let mut throttled = vec![0.0; k];
        for (j, row) in cross.iter().enumerate() {
            for (i, &fl) in row.iter().enumerate() {
                if i == j || fl <= 0.0 {
                    continue;
                }
                let lost = (1.0 - kappa[j][i]) * fl;
                if lost > 0.0 {
                    throttled[i] += lost;
                    delivered[i] -= lost;
                    split.inter_in[i] -= lost;
                    split.out[j] -= lost;
                }
            }
        }
        LinkFlows {
            delivered,
            upload,
            split,
            throttled,
            binds,
        }
    }

    /// The steady state with binding links: K equations D_k(x, y)/x_k = ρ_k in the per-leecher
    /// download rates ρ_k (x_k = λ_k/(θ + ρ_k), y_k = ρ_k x_k/γ), solved in ln ρ from the
    /// pooled steady state by Newton's method (finite-difference Jacobian, halving line
    /// search), with a sweep of bracketed coordinate roots whenever a Newton step does not cut
    /// the residual by 10 % (the allocation has kinks where a link or a cap starts to bind),
    /// and certified: every relative residual |D_k/(x_k ρ_k) − 1| must end at most
    /// [`LINK_RESIDUAL`], otherwise `NoSteadyState`.
    fn capped_steady(
        &self,
        pooled: &Swarm,
        beta: f64,
        start: &super::swarm::SteadyState,
        selection: Selection,
    ) -> Result<(Vec<f64>, Vec<f64>, LinkFlows), LocalityError> {
        let k = self.isps.len();
        let sh = &self.shared;
        let pops = |z: &[f64]| -> (Vec<f64>, Vec<f64>) {
            let mut x = Vec::with_capacity(k);
            let mut y = Vec::with_capacity(k);
            for (isp, &zk) in self.isps.iter().zip(z) {
                let rho = zk.exp();
                let xk = isp.lambda / (sh.theta + rho);
                x.push(xk);
                y.push(sh.gamma.map_or(0.0, |g| rho * xk / g));
            }
            (x, y)
        };
        let residual = |z: &[f64]| -> Vec<f64> {
            let (x, y) = pops(z);
            let lf = self.link_flows(pooled, &x, &y, beta);
            (0..k)
                .map(|i| lf.delivered[i] / (x[i] * z[i].exp()) - 1.0)
                .collect()
        };
        let norm = |g: &[f64]| residual_norm(g);
        let mut z: Vec<f64> = (0..k)
            .map(|i| {
                let rho = start.download[i] / start.leechers[i];
                if rho.is_finite() && rho > 0.0 {
                    rho.ln()
                } else {
                    self.isps[i].c.ln() - 30.0
                }
            })
            .collect();
        let mut g = residual(&z);
        for _ in 0..LINK_MAX_ITERATIONS {
            if norm(&g) <= LINK_RESIDUAL {
                break;
            }
            if !newton_step(&residual, &mut z, &mut g) {
                // Newton stalls on a kink of the allocation (a link or cap starts to bind):
                // one sweep of coordinate roots, each bracketed and bisected, then Newton again.
                let bracketed = (0..k).all(|i| coordinate_root(&residual, &mut z, i));
                g = residual(&z);
                if !bracketed {
                    break;
                }
            }
        }
        let worst = norm(&g);
        if worst.is_nan() || worst > LINK_RESIDUAL {
            return Err(LocalityError::NoSteadyState {
                selection: selection.label(),
                reason: format!(
                    "with the transit links, the search for a steady state stopped at a \
                     relative residual of {worst:e} (a leecher population grows without bound \
                     when an ISP's own peers, its link and the server cannot keep up)"
                ),
            });
        }
        let (x, y) = pops(&z);
        let lf = self.link_flows(pooled, &x, &y, beta);
        Ok((x, y, lf))
    }

    /// Add each ISP's link load to the rows (ISPs without a capacity get none).
    fn attach_links(&self, st: &mut LocalitySteady, binds: &[bool], throttled: &[f64]) {
        let mbps = self.shared.file_bits / 1e6;
        for (k, (row, isp)) in st.rows.iter_mut().zip(&self.isps).enumerate() {
            if let Some(cap) = isp.transit_capacity {
                row.link = Some(TransitLink {
                    capacity: cap,
                    capacity_mbps: cap * mbps,
                    in_utilisation: row.inter_isp_in_rate / cap,
                    out_utilisation: row.inter_isp_out_rate / cap,
                    binds: binds[k],
                    throttled_rate: throttled[k],
                });
            }
        }
    }

    fn upload_capacities(&self, x: &[f64], y: &[f64]) -> Vec<f64> {
        let eta = self.shared.eta;
        self.isps
            .iter()
            .zip(x.iter().zip(y))
            .map(|(isp, (&xk, &yk))| isp.mu * (eta * xk + yk))
            .collect()
    }

    /// Strict locality: each ISP's single-class closed form (literature §1.2, server variant
    /// §1.5) with its share of the server.
    fn strict(&self) -> Result<LocalitySteady, LocalityError> {
        let total = self.total_arrival_rate();
        let sh = &self.shared;
        let k = self.isps.len();
        let (mut x, mut y, mut d) = (
            Vec::with_capacity(k),
            Vec::with_capacity(k),
            Vec::with_capacity(k),
        );
        for isp in &self.isps {
            let s_k = sh.server * isp.lambda / total;
            let (xk, yk, _) =
                qiu_srikant_closed_form(isp.lambda, sh.theta, isp.c, isp.mu, sh.eta, sh.gamma, s_k)
                    .ok_or_else(|| LocalityError::NoSteadyState {
                        selection: Selection::Strict.label(),
                        reason: format!(
                            "ISP '{}': its own peers and its server share ({s_k} files/s) cannot \
                             keep up with its arrivals ({} /s) and nobody aborts",
                            isp.name, isp.lambda
                        ),
                    })?;
            x.push(xk);
            y.push(yk);
            d.push(isp.lambda - sh.theta * xk);
        }
        let upload = self.upload_capacities(&x, &y);
        let split = Split {
            intra: d.iter().zip(&upload).map(|(&dk, &uk)| dk.min(uk)).collect(),
            inter_in: vec![0.0; k],
            server_in: d
                .iter()
                .zip(&upload)
                .map(|(&dk, &uk)| (dk - uk).max(0.0))
                .collect(),
            out: d.iter().zip(&upload).map(|(&dk, &uk)| dk.min(uk)).collect(),
        };
        let cols = Columns {
            x: &x,
            y: &y,
            d: &d,
            upload: &upload,
        };
        let mut st = self.assemble(Selection::Strict, &cols, &split, 1);
        // no bytes cross under strict locality: the links carry nothing
        self.attach_links(&mut st, &vec![false; k], &vec![0.0; k]);
        Ok(st)
    }

    fn assemble(
        &self,
        selection: Selection,
        cols: &Columns,
        split: &Split,
        found: usize,
    ) -> LocalitySteady {
        let Columns { x, y, d, upload } = cols;
        let mbps_per_file_rate = self.shared.file_bits / 1e6;
        let rows: Vec<IspRow> = self
            .isps
            .iter()
            .enumerate()
            .map(|(k, isp)| {
                let mbps = split.inter_in[k] * mbps_per_file_rate;
                IspRow {
                    name: isp.name.clone(),
                    leechers: x[k],
                    seeds: y[k],
                    download_time_s: x[k] / isp.lambda,
                    download_rate: d[k],
                    upload_capacity: upload[k],
                    upload_rate: split.out[k],
                    intra_isp_rate: split.intra[k],
                    inter_isp_in_rate: split.inter_in[k],
                    inter_isp_out_rate: (split.out[k] - split.intra[k]).max(0.0),
                    server_in_rate: split.server_in[k],
                    inter_isp_in_mbps: mbps,
                    transit_usd_month: mbps * isp.transit_price,
                    link: None,
                }
            })
            .collect();
        let sum = |f: fn(&IspRow) -> f64| rows.iter().map(f).sum::<f64>();
        let download_rate = sum(|r| r.download_rate);
        let inter = sum(|r| r.inter_isp_in_rate);
        let totals = LocalityTotals {
            leechers: sum(|r| r.leechers),
            seeds: sum(|r| r.seeds),
            mean_download_time_s: sum(|r| r.leechers) / self.total_arrival_rate(),
            download_rate,
            upload_rate: sum(|r| r.upload_rate),
            intra_isp_rate: sum(|r| r.intra_isp_rate),
            inter_isp_rate: inter,
            server_rate: sum(|r| r.server_in_rate),
            inter_isp_share: if download_rate > 0.0 {
                inter / download_rate
            } else {
                0.0
            },
            transit_usd_month: sum(|r| r.transit_usd_month),
        };
        LocalitySteady {
            selection,
            rows,
            totals,
            steady_states_found: found,
        }
    }
}

/// Populations and rates of one steady state, one entry per ISP: x̄_k, ȳ_k, D_k, U_k.
struct Columns<'a> {
    x: &'a [f64],
    y: &'a [f64],
    d: &'a [f64],
    upload: &'a [f64],
}

/// Where each ISP's bytes come from, files/s.
#[derive(Debug, Clone)]
struct Split {
    intra: Vec<f64>,
    inter_in: Vec<f64>,
    server_in: Vec<f64>,
    /// Upload used by each ISP's peers.
    out: Vec<f64>,
}

/// Most Newton steps of the steady state with binding links (a few converge; each is K + 1
/// evaluations of the flows).
pub const LINK_MAX_ITERATIONS: usize = 200;
/// Largest relative residual |D_k/(x_k ρ_k) − 1| a steady state with binding links may keep:
/// each residual is a few products and one max-min filling, exact to rounding (about 1e-15),
/// so 1e-11 is far above rounding and far below anything reported.
pub const LINK_RESIDUAL: f64 = 1e-11;
/// Most doublings or halvings of ρ_i when bracketing a coordinate root (2^200 ≈ 1e60: far
/// past any rate the scenario validation lets through).
const LINK_BRACKET_STEPS: usize = 200;
/// A link counts as full (binding) at a load of at least (1 − `LINK_FULL`) × capacity: the
/// progressive filling fills it to rounding.
const LINK_FULL: f64 = 1e-9;
/// Step in ln ρ of the finite-difference Jacobian (√ε, the usual forward-difference choice).
const LINK_FD_STEP: f64 = 1.5e-8;

/// Flows at given populations with the transit links (files/s, one entry per ISP).
#[derive(Debug, Clone)]
struct LinkFlows {
    /// D_k delivered: the download without links minus what the links throttle.
    delivered: Vec<f64>,
    /// U_k.
    upload: Vec<f64>,
    /// Where the delivered bytes come from.
    split: Split,
    /// Inter-ISP bytes into k the links did not carry.
    throttled: Vec<f64>,
    /// Whether ISP k's link (either direction) bounds some flow.
    binds: Vec<bool>,
}

/// Largest |g_i|; NaN when some g_i is NaN (so a NaN never passes for converged).
fn residual_norm(g: &[f64]) -> f64 {
    if g.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    g.iter().fold(0.0_f64, |m, v| m.max(v.abs()))
}

/// One Newton step on `residual(z) = 0` (finite-difference Jacobian, halving line search);
/// true when it cut the largest residual by at least 10 % (then `z`, `g` are updated).
fn newton_step(residual: &dyn Fn(&[f64]) -> Vec<f64>, z: &mut Vec<f64>, g: &mut Vec<f64>) -> bool {
    let k = z.len();
    let norm = |g: &[f64]| residual_norm(g);
    let mut jac = nalgebra::DMatrix::<f64>::zeros(k, k);
    for col in 0..k {
        let mut zp = z.clone();
        zp[col] += LINK_FD_STEP;
        let gp = residual(&zp);
        for row in 0..k {
            jac[(row, col)] = (gp[row] - g[row]) / LINK_FD_STEP;
        }
    }
    let rhs = nalgebra::DVector::from_iterator(k, g.iter().map(|v| -v));
    let Some(step) = jac.lu().solve(&rhs) else {
        return false;
    };
    let mut t = 1.0;
    for _ in 0..7 {
        let trial: Vec<f64> = z.iter().zip(step.iter()).map(|(a, b)| a + t * b).collect();
        let gt = residual(&trial);
        if gt.iter().all(|v| v.is_finite()) && norm(&gt) <= 0.9 * norm(g) {
            *z = trial;
            *g = gt;
            return true;
        }
        t *= 0.5;
    }
    false
}

/// Solve the i-th residual for z_i with the others fixed: bracket a sign change (the residual
/// is ≤ 0 at ρ_i = c_i, where a leecher cannot download faster; step down from the current
/// value by halving ρ_i until it is > 0, at most `LINK_BRACKET_STEPS` times), then bisect to adjacent floats. False when no
/// bracket is found (the ISP's leechers cannot be served at any rate: no steady state).
fn coordinate_root(residual: &dyn Fn(&[f64]) -> Vec<f64>, z: &mut [f64], i: usize) -> bool {
    let at = |v: f64| {
        let mut w = z.to_vec();
        w[i] = v;
        residual(&w)[i]
    };
    let (mut lo, mut hi) = (z[i], z[i]);
    let f0 = at(z[i]);
    if f0 == 0.0 {
        return true;
    }
    if f0 > 0.0 {
        // move up until the residual is ≤ 0
        let mut n = 0;
        while at(hi) > 0.0 {
            lo = hi;
            hi += std::f64::consts::LN_2;
            n += 1;
            if n > LINK_BRACKET_STEPS {
                return false;
            }
        }
    } else {
        let mut n = 0;
        while at(lo).is_nan() || at(lo) <= 0.0 {
            hi = lo;
            lo -= std::f64::consts::LN_2;
            n += 1;
            if n > LINK_BRACKET_STEPS {
                return false;
            }
        }
    }
    for _ in 0..200 {
        let m = 0.5 * (lo + hi);
        if m <= lo || m >= hi {
            break;
        }
        if at(m) > 0.0 {
            lo = m;
        } else {
            hi = m;
        }
    }
    z[i] = 0.5 * (lo + hi);
    true
}

/// The locality rule's first step (`split_bytes`, `cross_flows`): what each ISP serves
/// inside itself, the demand and upload left over, and φ, the share of the leftover demand
/// the peers' leftover upload serves.
struct Leftover {
    /// local_k = min(β D_k, U_k).
    local: Vec<f64>,
    /// R_k = D_k − local_k.
    rest: Vec<f64>,
    /// V_k = U_k − local_k.
    left: Vec<f64>,
    /// Σ V.
    left_sum: f64,
    /// P − Σ local: the peers' upload left for the leftover demand, within [0, Σ V].
    peer_rest: f64,
    /// φ = (P − Σ local) / Σ R, clamped to [0, 1].
    phi: f64,
}

impl Leftover {
    fn of(d: &[f64], u: &[f64], peer: f64, beta: f64) -> Self {
        let local: Vec<f64> = d
            .iter()
            .zip(u)
            .map(|(&dk, &uk)| (beta * dk).min(uk))
            .collect();
        let rest: Vec<f64> = d
            .iter()
            .zip(&local)
            .map(|(&dk, &lk)| (dk - lk).max(0.0))
            .collect();
        let left: Vec<f64> = u
            .iter()
            .zip(&local)
            .map(|(&uk, &lk)| (uk - lk).max(0.0))
            .collect();
        let (rest_sum, left_sum) = (rest.iter().sum::<f64>(), left.iter().sum::<f64>());
        let peer_rest = (peer - local.iter().sum::<f64>()).clamp(0.0, left_sum);
        let phi = if rest_sum > 0.0 {
            (peer_rest / rest_sum).min(1.0)
        } else {
            0.0
        };
        Self {
            local,
            rest,
            left,
            left_sum,
            peer_rest,
            phi,
        }
    }
}

/// The cross-ISP flows of [`split_bytes`]: entry `[j][k]` = bytes from ISP j's peers into
/// ISP k's leechers, j ≠ k (φ R_k V_j / Σ V), 0 on the diagonal. Row sums are the bytes out
/// of j, column sums the bytes into k.
fn cross_flows(d: &[f64], u: &[f64], peer: f64, beta: f64) -> Vec<Vec<f64>> {
    let k = d.len();
    let Leftover {
        rest,
        left,
        left_sum,
        phi,
        ..
    } = Leftover::of(d, u, peer, beta);
    let mut m = vec![vec![0.0; k]; k];
    if left_sum <= 0.0 {
        return m;
    }
    for (j, row) in m.iter_mut().enumerate() {
        for (i, cell) in row.iter_mut().enumerate() {
            if i != j {
                *cell = phi * rest[i] * (left[j] / left_sum);
            }
        }
    }
    m
}

/// Max-min fair throttling of the cross-ISP flows `f[j][k]` by the links: ISP k's link carries
/// at most `caps[k]` in each direction (`None`: unlimited). Every flow is an aggregate of
/// connections in proportion to its size, so the fair share is a common factor κ ∈ [0, 1]
/// per bottleneck (progressive filling: raise κ for all unfrozen flows until a link is full,
/// freeze the flows through it, repeat). Returns the factors and, per ISP, whether its link
/// froze some flow below 1.
fn throttle(f: &[Vec<f64>], caps: &[Option<f64>]) -> (Vec<Vec<f64>>, Vec<bool>) {
    let k = f.len();
    let mut kappa = vec![vec![1.0; k]; k];
    let mut frozen = vec![vec![false; k]; k];
    let mut binds = vec![false; k];
    // a link: (ISP, inbound?) → the flows through it
    let through = |isp: usize, inbound: bool| {
        (0..k)
            .filter(move |&o| o != isp)
            .map(move |o| if inbound { (o, isp) } else { (isp, o) })
    };
    loop {
        let mut best: Option<(f64, usize, bool)> = None;
        for (isp, cap) in caps.iter().enumerate() {
            let Some(cap) = *cap else { continue };
            for inbound in [true, false] {
                let (mut fixed, mut free) = (0.0, 0.0);
                for (j, i) in through(isp, inbound) {
                    if frozen[j][i] {
                        fixed += kappa[j][i] * f[j][i];
                    } else {
                        free += f[j][i];
                    }
                }
                if free > 0.0 {
                    let t = ((cap - fixed) / free).max(0.0);
                    if best.is_none_or(|(b, ..)| t < b) {
                        best = Some((t, isp, inbound));
                    }
                }
            }
        }
        match best {
            Some((t, isp, inbound)) if t < 1.0 => {
                for (j, i) in through(isp, inbound) {
                    if !frozen[j][i] {
                        frozen[j][i] = true;
                        kappa[j][i] = t;
                    }
                }
            }
            _ => break,
        }
    }
    // A link binds when it is full and carries a throttled flow.
    for (isp, cap) in caps.iter().enumerate() {
        let Some(cap) = *cap else { continue };
        binds[isp] = [true, false].into_iter().any(|inbound| {
            let load: f64 = through(isp, inbound)
                .map(|(j, i)| kappa[j][i] * f[j][i])
                .sum();
            let cut = through(isp, inbound).any(|(j, i)| f[j][i] > 0.0 && kappa[j][i] < 1.0);
            cut && load >= cap * (1.0 - LINK_FULL)
        });
    }
    (kappa, binds)
}

/// Byte assignment with locality fraction β, for fixed downloads `d` (D_k), upload capacities
/// `u` (U_k) and peer flow `peer` = min(Σ U, Σ D) (peers first, the server tops up):
///
/// ```text
/// local_k = min(β D_k, U_k)                 served inside ISP k first
/// R_k = D_k − local_k,  V_k = U_k − local_k  demand and upload left over
/// φ = (peer − Σ local) / Σ R                share of the rest served by peers (same for all k)
/// into k from ISP j: φ R_k V_j / Σ V;  from the server: (1 − φ) R_k
/// ```
///
/// β = 0 is random selection (literature §6.2: inter = Σ D_k (1 − U_k/U) without a server);
/// β = 1 leaves only deficits R_k = (D_k − U_k)^+, and ISPs with a deficit have no upload left,
/// so inter = φ Σ (D_k − U_k)^+ = Σ (D_k − U_k)^+ − server (literature §5.1 special case).
fn split_bytes(d: &[f64], u: &[f64], peer: f64, beta: f64) -> Split {
    let Leftover {
        local,
        rest,
        left,
        left_sum,
        peer_rest,
        phi,
    } = Leftover::of(d, u, peer, beta);
    let own = |k: usize| {
        if left_sum > 0.0 {
            left[k] / left_sum
        } else {
            0.0
        }
    };
    let k = d.len();
    let mut split = Split {
        intra: vec![0.0; k],
        inter_in: vec![0.0; k],
        server_in: vec![0.0; k],
        out: vec![0.0; k],
    };
    for i in 0..k {
        let from_peers = phi * rest[i];
        split.intra[i] = local[i] + from_peers * own(i);
        split.inter_in[i] = from_peers * (1.0 - own(i));
        split.server_in[i] = rest[i] - from_peers;
        split.out[i] = local[i] + peer_rest * own(i);
    }
    split
}

/// P4P field-test preset, file size: the 21 MB file of the Comcast P4P trial (literature §5.2),
/// in bytes.
pub const P4P_FILE_BYTES: f64 = 21e6;
/// Fibre (FTTH) access rate, both directions, Mbit/s: the U.S. 90th-percentile fixed download
/// of 698.62 Mbps (Ookla, literature §7.3), taken symmetric because §7.3 notes FTTH is.
pub const P4P_FIBRE_MBPS: f64 = 698.62;
/// DSL download rate, Mbit/s: the U.S. 10th-percentile fixed download of 30.49 Mbps (Ookla,
/// literature §7.3, "the real lower tail", where DSL sits).
pub const P4P_DSL_DOWN_MBPS: f64 = 30.49;
/// DSL upload rate, Mbit/s: 1.5, the middle of the "typically 1–2 Mbps" upload of DSL IPTV
/// set-top peers (Zebroid, AT&T Labs, literature §7.3).
pub const P4P_DSL_UP_MBPS: f64 = 1.5;
/// Arrival rate in each ISP, 1/s: equal in both (a project assumption, tag \[P\]); the field
/// tests' rates were not retrieved (download times in the fluid model do not depend on the
/// scale of λ, literature §1.2).
pub const P4P_ARRIVAL_PER_ISP: PerSec = 0.1;
/// Transit price for both ISPs, $/Mbps/month: U.S. commodity transit in 2008, the year of the
/// P4P field tests (DrPeering, literature §7.2).
pub const P4P_TRANSIT_2008: UsdPerMbpsMonth = 12.0;

/// The P4P field-test preset (literature §5.2): a fibre ISP ("fibre") and a DSL ISP ("dsl")
/// with equal arrival rates, η = 1, θ = 0, seeds that leave at once (the crate's default seed
/// residence of 0) and no origin server (project assumptions, tag \[P\]; the field tests
/// measured pure swarms). Every number's source is on the constant it comes from.
pub fn p4p_fibre_dsl() -> Result<IspSwarm, LocalityError> {
    let file_bits = 8.0 * P4P_FILE_BYTES;
    let per_file = |mbps: f64| mbps * 1e6 / file_bits;
    let isp = |name: &str, down: f64, up: f64| Isp {
        name: name.into(),
        lambda: P4P_ARRIVAL_PER_ISP,
        mu: per_file(up),
        c: per_file(down),
        transit_price: P4P_TRANSIT_2008,
        transit_capacity: None,
    };
    IspSwarm::new(
        vec![
            isp("fibre", P4P_FIBRE_MBPS, P4P_FIBRE_MBPS),
            isp("dsl", P4P_DSL_DOWN_MBPS, P4P_DSL_UP_MBPS),
        ],
        Shared {
            eta: 1.0,
            theta: 0.0,
            gamma: None,
            server: 0.0,
            file_bits,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// literature.md §6.2 gives LOC-2eq and LOC-10eq to rel 1e-6.
    const LOC_TOL: f64 = 1e-6;
    /// Closed forms and derived identities are exact to double precision (literature.md
    /// tolerance convention: rel 1e-9); the pooled water level is a bisection to machine
    /// precision in `Swarm::steady_states`.
    const CLOSED: f64 = 1e-9;
    /// Byte balances are sums of a few products: rounding only.
    const BALANCE: f64 = 1e-12;

    fn isp(name: &str, lambda: f64, mu: f64, c: f64) -> Isp {
        Isp {
            name: name.into(),
            lambda,
            mu,
            c,
            transit_price: 0.0,
            transit_capacity: None,
        }
    }

    fn shared(eta: f64, theta: f64, gamma: Option<f64>, server: f64) -> Shared {
        Shared {
            eta,
            theta,
            gamma,
            server,
            file_bits: 8e6,
        }
    }

    const ALL: [Selection; 4] = [
        Selection::Random,
        Selection::LocalityOptimal,
        Selection::LocalityFraction { beta: 0.5 },
        Selection::Strict,
    ];

    /// LOC-2eq / LOC-10eq inputs: K ISPs, λ = 2/K each, μ = 0.02, c = 0.1, η = 1, θ = 0,
    /// γ = 0.05, no server.
    fn loc_eq(k: usize) -> IspSwarm {
        let lambda = 2.0 / k as f64;
        let isps = (0..k)
            .map(|i| isp(&format!("isp{i}"), lambda, 0.02, 0.1))
            .collect();
        IspSwarm::new(isps, shared(1.0, 0.0, Some(0.05), 0.0)).expect("valid")
    }

    /// literature.md §6.2 LOC-2eq and LOC-10eq: x = 60/K, y = 40/K per ISP; inter-ISP share
    /// random 1 − 1/K (50 %, 90 %), locality-optimal 0 %. Strict locality has the same
    /// populations (each ISP alone is the single-class swarm with λ = 2/K, upload-limited
    /// with β = 1/30, x = λ·30, y = λ/γ), and no inter-ISP bytes by construction.
    #[test]
    fn loc_2eq_and_loc_10eq() {
        for (k, x, y, random_share) in [(2, 30.0, 20.0, 0.5), (10, 6.0, 4.0, 0.9)] {
            let m = loc_eq(k);
            for sel in ALL {
                let st = m.steady(sel).expect("steady state exists");
                assert_eq!(st.rows.len(), k);
                for row in &st.rows {
                    assert_relative_eq!(row.leechers, x, max_relative = LOC_TOL);
                    assert_relative_eq!(row.seeds, y, max_relative = LOC_TOL);
                    // T = x/λ = 30 s: β = 1/30 (literature §1.2, θ = 0)
                    assert_relative_eq!(row.download_time_s, 30.0, max_relative = LOC_TOL);
                }
                let want = match sel {
                    Selection::Random => random_share,
                    Selection::LocalityOptimal | Selection::Strict => 0.0,
                    // derived: with U_k = D_k for all k, the rest (1 − β) D_k is spread at
                    // random, so the share is (1 − β)(1 − 1/K)
                    Selection::LocalityFraction { beta } => (1.0 - beta) * random_share,
                };
                let got = st.totals.inter_isp_share;
                assert_relative_eq!(got, want, max_relative = LOC_TOL, epsilon = 1e-12);
            }
        }
    }

    /// The locality fraction interpolates: derived share (1 − β)(1 − 1/K) on LOC-10eq for
    /// several β, and β = 0 / β = 1 give exactly the random / locality-optimal rows.
    #[test]
    fn locality_fraction_interpolates_random_and_optimal() {
        let m = loc_eq(10);
        for beta in [0.0, 0.25, 0.6, 1.0] {
            let st = m
                .steady(Selection::LocalityFraction { beta })
                .expect("exists");
            let want = (1.0 - beta) * 0.9;
            let got = st.totals.inter_isp_share;
            assert_relative_eq!(got, want, max_relative = CLOSED, epsilon = 1e-15);
        }
        let case = conservation_case(0.3);
        for (beta, sel) in [(0.0, Selection::Random), (1.0, Selection::LocalityOptimal)] {
            let a = case
                .steady(Selection::LocalityFraction { beta })
                .expect("exists");
            let b = case.steady(sel).expect("exists");
            for (ra, rb) in a.rows.iter().zip(&b.rows) {
                let (ia, ib) = (ra.inter_isp_in_rate, rb.inter_isp_in_rate);
                assert_relative_eq!(ia, ib, max_relative = BALANCE, epsilon = 1e-15);
            }
        }
    }

    /// One ISP = the crate's single-class Qiu–Srikant closed form (literature §1.5: QS-A,
    /// QS-B, QS-D, QS-server; and seeds that leave at once), under every selection, with no
    /// inter-ISP bytes; values also against the literature's numbers.
    #[test]
    fn single_isp_is_the_single_class_closed_form() {
        // (λ, θ, c, μ, η, γ, s) → literature x̄, ȳ (None: derived here from the closed form)
        let cases = [
            (
                (1.0, 0.001, 1.0, 0.5, 0.9, Some(0.02), 0.0),
                Some((0.999000999, 49.95004995)),
            ),
            (
                (1.0, 0.001, 0.1, 0.02, 1.0, Some(0.05), 0.0),
                Some((29.12621359, 19.41747573)),
            ),
            (
                (2.0, 0.0, 0.05, 0.02, 0.8, Some(0.04), 0.0),
                Some((62.5, 50.0)),
            ),
            (
                (1.0, 0.001, 0.1, 0.02, 1.0, Some(0.05), 0.2),
                Some((19.41747573, 19.61165049)),
            ),
            ((1.0, 0.001, 0.1, 0.02, 0.9, None, 0.1), None),
        ];
        for ((l, th, c, mu, eta, g, s), lit) in cases {
            let (x, y, _) = qiu_srikant_closed_form(l, th, c, mu, eta, g, s).expect("exists");
            if let Some((lx, ly)) = lit {
                // the literature prints 10 significant digits
                assert_relative_eq!(x, lx, max_relative = 1e-8);
                assert_relative_eq!(y, ly, max_relative = 1e-8);
            }
            let m =
                IspSwarm::new(vec![isp("only", l, mu, c)], shared(eta, th, g, s)).expect("valid");
            for sel in ALL {
                let st = m.steady(sel).expect("exists");
                let row = &st.rows[0];
                assert_relative_eq!(row.leechers, x, max_relative = CLOSED);
                assert_relative_eq!(row.seeds, y, max_relative = CLOSED, epsilon = 1e-300);
                assert_relative_eq!(row.download_time_s, x / l, max_relative = CLOSED);
                assert!(row.inter_isp_in_rate.abs() < 1e-15, "{sel:?}");
                // the server serves what the peers cannot (peers first)
                let served = row.intra_isp_rate + row.server_in_rate;
                assert_relative_eq!(served, l - th * x, max_relative = CLOSED);
            }
        }
    }

    /// Three unequal ISPs with aborts, seeds and a server of size `server` (files/s).
    fn conservation_case(server: f64) -> IspSwarm {
        conservation_case_with(server, Some(0.04))
    }

    /// The same with seed departure rate `gamma` (`None`: seeds leave at once, so the peers
    /// cannot keep up and the server tops up).
    fn conservation_case_with(server: f64, gamma: Option<f64>) -> IspSwarm {
        let isps = vec![
            isp("a", 0.5, 0.05, 0.2),
            isp("b", 1.5, 0.01, 0.1),
            isp("c", 0.2, 0.3, 1.0),
        ];
        IspSwarm::new(isps, shared(0.8, 0.002, gamma, server)).expect("valid")
    }

    /// Model identities (no published source): per ISP intra + inter-in + server-in = D_k;
    /// Σ (intra + inter) + server = Σ D_k; Σ inter-in = Σ inter-out; bytes out of ISP k ≤ U_k;
    /// Σ upload used = Σ intra + Σ inter. Locality-optimal inter = Σ (D_k − U_k)^+ − server
    /// (literature §5.1 special case, with the server's bytes not counted as inter-ISP), and
    /// the inter-ISP share falls as β rises. Tolerance: rounding (1e-12).
    #[test]
    fn bytes_are_conserved_and_uploads_bounded() {
        let mut server_used = false;
        let cases = [
            (0.0, Some(0.04)),
            (0.3, Some(0.04)),
            (0.3, None),
            (5.0, None),
        ];
        for (server, gamma) in cases {
            let m = conservation_case_with(server, gamma);
            let mut last_share = f64::INFINITY;
            for beta in [0.0, 0.2, 0.5, 0.8, 1.0] {
                let st = m
                    .steady(Selection::LocalityFraction { beta })
                    .expect("exists");
                assert!(st.totals.inter_isp_share <= last_share + BALANCE);
                last_share = st.totals.inter_isp_share;
            }
            for sel in ALL {
                let st = m.steady(sel).expect("exists");
                let t = &st.totals;
                let scale = t.download_rate;
                for r in &st.rows {
                    let got = r.intra_isp_rate + r.inter_isp_in_rate + r.server_in_rate;
                    assert_relative_eq!(got, r.download_rate, max_relative = BALANCE);
                    assert!(
                        r.upload_rate <= r.upload_capacity * (1.0 + BALANCE),
                        "{sel:?}"
                    );
                    assert!(r.inter_isp_out_rate >= 0.0 && r.server_in_rate >= 0.0);
                }
                let delivered = t.intra_isp_rate + t.inter_isp_rate + t.server_rate;
                assert_relative_eq!(delivered, scale, max_relative = BALANCE);
                let out: f64 = st.rows.iter().map(|r| r.inter_isp_out_rate).sum();
                assert!((out - t.inter_isp_rate).abs() <= BALANCE * scale, "{sel:?}");
                let used = t.intra_isp_rate + t.inter_isp_rate;
                assert!((t.upload_rate - used).abs() <= BALANCE * scale, "{sel:?}");
                server_used |= sel != Selection::Strict && t.server_rate > 0.01;
                if sel == Selection::LocalityOptimal {
                    let deficit: f64 = st
                        .rows
                        .iter()
                        .map(|r| (r.download_rate - r.upload_capacity).max(0.0))
                        .sum();
                    let want = deficit - t.server_rate;
                    assert!((t.inter_isp_rate - want).abs() <= BALANCE * scale);
                }
            }
        }
        // the pooled swarm needed the server in some case, so "− server" was exercised
        assert!(server_used);
    }

    /// Transit: receiving ISP pays inter-in (files/s) × file_bits / 1e6 Mbit/s × its price.
    /// LOC-2eq random: 0.5 files/s into each ISP, file 1 MB (8e6 bit) → 4 Mbit/s; at
    /// $10/Mbps/month that is $40 per ISP (hand computation).
    #[test]
    fn transit_is_paid_by_the_receiving_isp() {
        let m = loc_eq(2);
        let mut isps = m.isps().to_vec();
        isps[0].transit_price = 10.0;
        let m = IspSwarm::new(isps, m.shared().clone()).expect("valid");
        let st = m.steady(Selection::Random).expect("exists");
        assert_relative_eq!(st.rows[0].inter_isp_in_mbps, 4.0, max_relative = CLOSED);
        assert_relative_eq!(st.rows[0].transit_usd_month, 40.0, max_relative = CLOSED);
        assert!(st.rows[1].transit_usd_month.abs() < 1e-12); // free transit for isp1
        assert_relative_eq!(st.totals.transit_usd_month, 40.0, max_relative = CLOSED);
        let opt = m.steady(Selection::LocalityOptimal).expect("exists");
        assert!(opt.totals.transit_usd_month.abs() < 1e-9);
    }

    /// P4P preset (literature §5.2; access rates §7.3; transit §7.2): fibre 698.62/698.62
    /// Mbps, DSL 30.49/1.5 Mbps, 21 MB file, equal arrivals, seeds leave at once, no server.
    /// Expected values derived by hand from the model (tolerance CLOSED):
    /// * pooled: DSL leechers get their cap c_d, fibre the water level
    ///   r = c_f / (2 − μ_d/c_d) (supply c_f x_f + μ_d x_d = demand 2λ), so
    ///   T_fibre = 1/r = 0.4691 s, T_dsl = 1/c_d = 5.510 s;
    /// * strict: fibre alone is download-limited, T = 1/c_f = 0.2405 s (shorter); DSL alone is
    ///   upload-limited at rate μ_d η, T = 1/μ_d = 112 s (20× longer);
    /// * inter-ISP share: random 1/2 (equal D_k), locality-optimal (1 − μ_d/c_d)/2 = 0.4754
    ///   (only the DSL deficit crosses), strict 0; the cut random − optimal equals the
    ///   derived two-ISP identity 2 D_f U_d / (Σ D)² as a share;
    /// * transit at $12/Mbps/month: random 0.1 files/s × 168 Mbit = 16.8 Mbit/s → $201.60;
    ///   optimal $191.68; strict $0.
    #[test]
    fn p4p_preset_locality_slows_the_dsl_isp_and_speeds_up_fibre() {
        let m = p4p_fibre_dsl().expect("preset is valid");
        let file_bits = 8.0 * P4P_FILE_BYTES;
        let c_f = P4P_FIBRE_MBPS * 1e6 / file_bits;
        let c_d = P4P_DSL_DOWN_MBPS * 1e6 / file_bits;
        let mu_d = P4P_DSL_UP_MBPS * 1e6 / file_bits;
        let lam = P4P_ARRIVAL_PER_ISP;

        let random = m.steady(Selection::Random).expect("exists");
        let optimal = m.steady(Selection::LocalityOptimal).expect("exists");
        let strict = m.steady(Selection::Strict).expect("exists");
        let (f, d) = (0, 1);

        let r = c_f / (2.0 - mu_d / c_d);
        assert_relative_eq!(
            random.rows[f].download_time_s,
            1.0 / r,
            max_relative = CLOSED
        );
        assert_relative_eq!(
            random.rows[d].download_time_s,
            1.0 / c_d,
            max_relative = CLOSED
        );
        assert_relative_eq!(
            random.rows[f].download_time_s,
            0.469118,
            max_relative = 1e-5
        );
        assert_relative_eq!(
            strict.rows[f].download_time_s,
            1.0 / c_f,
            max_relative = CLOSED
        );
        assert_relative_eq!(
            strict.rows[d].download_time_s,
            1.0 / mu_d,
            max_relative = CLOSED
        );
        assert_relative_eq!(strict.rows[d].download_time_s, 112.0, max_relative = CLOSED);
        // the direction: strict locality slows the DSL ISP and speeds up the fibre one
        assert!(strict.rows[d].download_time_s > 20.0 * random.rows[d].download_time_s);
        assert!(strict.rows[f].download_time_s < 0.52 * random.rows[f].download_time_s);
        // locality-optimal keeps the random populations
        for (a, b) in random.rows.iter().zip(&optimal.rows) {
            assert_relative_eq!(a.leechers, b.leechers, max_relative = BALANCE);
        }

        let share = |s: &LocalitySteady| s.totals.inter_isp_share;
        assert_relative_eq!(share(&random), 0.5, max_relative = CLOSED);
        let opt_share = (1.0 - mu_d / c_d) / 2.0;
        assert_relative_eq!(share(&optimal), opt_share, max_relative = CLOSED);
        assert_relative_eq!(share(&optimal), 0.4754018, max_relative = 1e-6);
        let u_d = random.rows[d].upload_capacity;
        let cut = 2.0 * lam * u_d / (2.0 * lam).powi(2);
        assert_relative_eq!(share(&random) - share(&optimal), cut, max_relative = 1e-7);
        assert!(share(&strict).abs() < 1e-15);

        let mbps = |rate: f64| rate * file_bits / 1e6;
        let bill = |s: &LocalitySteady| s.totals.transit_usd_month;
        assert_relative_eq!(bill(&random), mbps(lam) * 12.0, max_relative = CLOSED);
        assert_relative_eq!(bill(&random), 201.60, max_relative = CLOSED);
        assert_relative_eq!(bill(&optimal), 191.68, epsilon = 0.01);
        assert!(bill(&strict).abs() < 1e-12);
    }

    /// The same preset with seeds that stay 5 min (γ = 1/300 s, [P]): every DSL seed now
    /// uploads μ_d/γ = 2.68 copies, so the DSL ISP can serve itself. Locality-optimal then
    /// removes all inter-ISP bytes (50 % → 0 %) and strict locality slows nobody (both ISPs
    /// download-limited alone: T = 1/c_k, as in the pooled swarm). Derived by hand; CLOSED.
    #[test]
    fn p4p_preset_with_lingering_seeds_localises_for_free() {
        let base = p4p_fibre_dsl().expect("preset is valid");
        let sh = Shared {
            gamma: Some(1.0 / 300.0),
            ..base.shared().clone()
        };
        let m = IspSwarm::new(base.isps().to_vec(), sh).expect("valid");
        let random = m.steady(Selection::Random).expect("exists");
        let optimal = m.steady(Selection::LocalityOptimal).expect("exists");
        let strict = m.steady(Selection::Strict).expect("exists");
        assert_relative_eq!(random.totals.inter_isp_share, 0.5, max_relative = CLOSED);
        assert!(optimal.totals.inter_isp_share.abs() < 1e-12);
        for (k, isp) in m.isps().iter().enumerate() {
            let t = 1.0 / isp.c;
            assert_relative_eq!(random.rows[k].download_time_s, t, max_relative = CLOSED);
            assert_relative_eq!(strict.rows[k].download_time_s, t, max_relative = CLOSED);
        }
    }

    /// Every invalid input is refused with a message naming the argument, value and range.
    #[test]
    fn invalid_inputs_are_named() {
        let ok = || vec![isp("fibre", 1.0, 0.1, 0.2), isp("dsl", 1.0, 0.01, 0.1)];
        let sh = || shared(1.0, 0.0, Some(0.05), 0.0);
        let err = |isps: Vec<Isp>, s: Shared| match IspSwarm::new(isps, s) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            err(vec![], sh()),
            "a multi-ISP swarm needs at least one ISP (got none)"
        );
        let mut v = ok();
        v[1].mu = -1.0;
        assert_eq!(
            err(v, sh()),
            "isp[1] ('dsl').mu = -1 is out of range: must be finite and ≥ 0 (files/s)"
        );
        let mut v = ok();
        v[0].lambda = 0.0;
        assert_eq!(
            err(v, sh()),
            "isp[0] ('fibre').lambda = 0 is out of range: must be finite and > 0 (1/s)"
        );
        let mut v = ok();
        v[0].c = f64::NAN;
        assert!(err(v, sh()).starts_with("isp[0] ('fibre').c = NaN is out of range"));
        let mut v = ok();
        v[1].transit_price = -2.0;
        assert!(err(v, sh()).contains("transit_price = -2 is out of range"));
        let mut v = ok();
        v[1].name = "fibre".into();
        assert_eq!(
            err(v, sh()),
            "isp[0] and isp[1] are both named 'fibre': names must be unique"
        );
        let mut v = ok();
        v[0].name = " ".into();
        assert_eq!(err(v, sh()), "isp[0].name is empty: every ISP needs a name");
        assert_eq!(
            err(ok(), shared(1.5, 0.0, None, 0.0)),
            "eta = 1.5 is out of range: must be in [0, 1]"
        );
        assert!(err(ok(), shared(1.0, -0.1, None, 0.0)).starts_with("theta = -0.1"));
        assert!(err(ok(), shared(1.0, 0.0, Some(0.0), 0.0)).starts_with("gamma = 0 is out"));
        assert!(err(ok(), shared(1.0, 0.0, None, -1.0)).starts_with("server = -1 is out"));
        let bad_bits = Shared {
            file_bits: 0.0,
            ..sh()
        };
        assert!(err(ok(), bad_bits).starts_with("file_bits = 0 is out"));

        let m = IspSwarm::new(ok(), sh()).expect("valid");
        let e = m
            .steady(Selection::LocalityFraction { beta: 1.2 })
            .expect_err("beta out of range");
        assert_eq!(
            e.to_string(),
            "beta = 1.2 is out of range: must be in [0, 1]"
        );
    }

    /// No steady state: a DSL ISP whose peers upload nothing, with no aborts and no server,
    /// never drains under strict locality (the error names it); pooled with a fibre ISP it
    /// does. With nobody uploading at all, the pooled swarm has none either.
    #[test]
    fn missing_steady_states_are_reported() {
        let isps = vec![isp("fibre", 1.0, 0.1, 0.2), isp("dsl", 1.0, 0.0, 0.1)];
        let m = IspSwarm::new(isps, shared(1.0, 0.0, Some(0.05), 0.0)).expect("valid");
        assert!(m.steady(Selection::Random).is_ok());
        let e = m.steady(Selection::Strict).expect_err("dsl never drains");
        assert!(e
            .to_string()
            .starts_with("strict-locality peer selection: no steady state (ISP 'dsl'"));
        let isps = vec![isp("a", 1.0, 0.0, 0.2), isp("b", 1.0, 0.0, 0.1)];
        let m = IspSwarm::new(isps, shared(1.0, 0.0, Some(0.05), 0.0)).expect("valid");
        let e = m.steady(Selection::Random).expect_err("nobody uploads");
        assert!(e
            .to_string()
            .starts_with("random peer selection: no steady state"));
    }

    /// The pooled swarm handed to the solver is the same model: its closed-form steady state
    /// is the random-selection row (LOC-2eq), and strict swarms carry the server shares.
    #[test]
    fn dynamics_are_exposed_as_swarms() {
        let m = loc_eq(2);
        let pooled = m.pooled_swarm();
        assert_eq!(pooled.k(), 2);
        let ss = &pooled.steady_states(2.0).expect("exists")[0];
        assert_relative_eq!(ss.leechers[1], 30.0, max_relative = LOC_TOL);
        let c = conservation_case(0.44);
        let strict = c.strict_swarms();
        assert_eq!(strict.len(), 3);
        assert_relative_eq!(strict[1].server, 0.44 * 1.5 / 2.2, max_relative = CLOSED);
    }

    /// Steady states with binding links: the Newton search stops at a relative residual of
    /// at most `LINK_RESIDUAL` = 1e-11; populations and times then agree with the closed
    /// forms to a small multiple of it.
    const LINKED: f64 = 1e-9;

    /// The same swarm with ISP k's link capacity `cap(k)` (files/s, each direction).
    fn with_links(m: &IspSwarm, cap: impl Fn(usize) -> Option<f64>) -> IspSwarm {
        let isps = m
            .isps()
            .iter()
            .enumerate()
            .map(|(k, i)| Isp {
                transit_capacity: cap(k),
                ..i.clone()
            })
            .collect();
        IspSwarm::new(isps, m.shared().clone()).expect("valid")
    }

    /// Every number of a row but its link, as bits (equal = bit for bit).
    fn row_bits(r: &IspRow) -> Vec<u64> {
        [
            r.leechers,
            r.seeds,
            r.download_time_s,
            r.download_rate,
            r.upload_capacity,
            r.upload_rate,
            r.intra_isp_rate,
            r.inter_isp_in_rate,
            r.inter_isp_out_rate,
            r.server_in_rate,
            r.inter_isp_in_mbps,
            r.transit_usd_month,
        ]
        .iter()
        .map(|v| v.to_bits())
        .collect()
    }

    /// Issue 19 §3: links that never bind change nothing. With a capacity of 1e12 files/s
    /// every row under every selection equals the model without links bit for bit, the links
    /// report `binds = false` and nothing throttled, and the speed-up of locality-optimal over
    /// random is 0 (to 1e-12; here exactly, as both keep the pooled populations). The same with
    /// a capacity 1 % above the largest cross-ISP flow of the pooled steady state.
    #[test]
    fn links_that_never_bind_change_nothing() {
        let cases = [
            loc_eq(2),
            loc_eq(10),
            conservation_case(0.3),
            conservation_case_with(5.0, None),
            p4p_fibre_dsl().expect("valid"),
        ];
        for m in cases {
            let random = m.steady(Selection::Random).expect("exists");
            let biggest = random
                .rows
                .iter()
                .map(|r| r.inter_isp_in_rate.max(r.inter_isp_out_rate))
                .fold(0.0, f64::max);
            for cap in [1e12, 1.01 * biggest] {
                let linked = with_links(&m, |_| Some(cap));
                for sel in ALL {
                    let a = m.steady(sel).expect("exists");
                    let b = linked.steady(sel).expect("exists");
                    for (ra, rb) in a.rows.iter().zip(&b.rows) {
                        assert_eq!(row_bits(ra), row_bits(rb), "{sel:?} cap {cap}");
                        let l = rb.link.as_ref().expect("a link");
                        assert!(!l.binds && l.throttled_rate == 0.0, "{sel:?} {l:?}");
                        assert!(l.in_utilisation <= 1.0 && l.out_utilisation <= 1.0);
                        assert!(ra.link.is_none());
                    }
                }
                let cmp = transit_comparison(
                    &linked.steady(Selection::Random).expect("exists"),
                    &linked.steady(Selection::LocalityOptimal).expect("exists"),
                );
                assert!(cmp.speed_up.abs() <= 1e-12, "{}", cmp.speed_up);
                for r in &cmp.rows {
                    assert!(r.speed_up.abs() <= 1e-12 && !r.link_binds_random);
                }
            }
        }
    }

    /// Two symmetric ISPs (λ each, μ, c, η, θ, seeds leave at once, no server) with links of
    /// capacity L < the pooled cross flow (derived in `models/locality.md`):
    /// nominal per-leecher rate ρ̂ = min(c, μη), half of it from the other ISP under random
    /// selection, the cross half throttled to L: D = ρ̂x/2 + L = λ − θx, so
    /// x = (λ − L)/(θ + ρ̂/2); under locality-optimal selection each ISP serves itself
    /// (U_k = μηx ≥ D_k), nothing crosses, x = λ/(θ + ρ̂). With θ = 0 the speed-up is
    /// 1 − 2L/λ. Upload-limited (μ = 0.02 < c = 0.1) and download-limited (μ = 0.2) cases.
    #[test]
    fn two_symmetric_isps_with_a_binding_link_match_the_closed_form() {
        for (mu, theta, cap) in [
            (0.02, 0.0, 0.1),
            (0.02, 0.0, 0.3),
            (0.02, 0.001, 0.2),
            (0.2, 0.0, 0.25),
            (0.2, 0.01, 0.05),
        ] {
            let (lam, c, eta) = (1.0, 0.1, 0.9);
            let isps = vec![
                Isp {
                    transit_capacity: Some(cap),
                    ..isp("a", lam, mu, c)
                },
                Isp {
                    transit_capacity: Some(cap),
                    ..isp("b", lam, mu, c)
                },
            ];
            let m = IspSwarm::new(isps, shared(eta, theta, None, 0.0)).expect("valid");
            let rho: f64 = c.min(mu * eta);
            assert!(
                cap < rho * lam / (2.0 * (theta + rho)),
                "the link must bind"
            );
            let random = m.steady(Selection::Random).expect("exists");
            let local = m.steady(Selection::LocalityOptimal).expect("exists");
            let x_r = (lam - cap) / (theta + rho / 2.0);
            let x_l = lam / (theta + rho);
            for k in 0..2 {
                let (rr, rl) = (&random.rows[k], &local.rows[k]);
                assert_relative_eq!(rr.leechers, x_r, max_relative = LINKED);
                assert_relative_eq!(rr.download_time_s, x_r / lam, max_relative = LINKED);
                assert_relative_eq!(rr.inter_isp_in_rate, cap, max_relative = LINKED);
                let link = rr.link.as_ref().expect("link");
                assert!(link.binds, "{mu} {theta} {cap} {k} {link:?}");
                assert_relative_eq!(link.in_utilisation, 1.0, max_relative = LINKED);
                assert_relative_eq!(link.out_utilisation, 1.0, max_relative = LINKED);
                assert_relative_eq!(
                    link.throttled_rate,
                    rho * x_r / 2.0 - cap,
                    max_relative = LINKED
                );
                assert_relative_eq!(rl.leechers, x_l, max_relative = CLOSED);
                assert!(rl.inter_isp_in_rate.abs() < 1e-15);
                assert!(!rl.link.as_ref().expect("link").binds);
            }
            let cmp = transit_comparison(&random, &local);
            let want = (x_r / lam) / (x_l / lam) - 1.0;
            assert_relative_eq!(cmp.speed_up, want, max_relative = LINKED);
            if theta == 0.0 {
                assert_relative_eq!(cmp.speed_up, 1.0 - 2.0 * cap / lam, max_relative = LINKED);
            }
            assert_relative_eq!(cmp.inter_isp_cut, 1.0, max_relative = CLOSED);
        }
    }

    /// Shrinking the links never speeds random selection (mean time and every ISP's time
    /// non-decreasing as L falls, on a 3-ISP case with seeds, aborts and a server), and
    /// locality-optimal selection never sends more inter-ISP bytes than random. Bytes stay
    /// conserved with links: intra + inter-in + server-in = D_k, Σ in = Σ out, out_k ≤ U_k,
    /// every link's load ≤ L. Model identities; tolerance rounding plus the certified residual.
    #[test]
    fn shrinking_links_never_speed_random_selection() {
        for (server, gamma) in [(0.0, Some(0.04)), (0.3, Some(0.04)), (0.3, None)] {
            let m = conservation_case_with(server, gamma);
            let mut last: Option<LocalitySteady> = None;
            for cap in [10.0, 0.3, 0.1, 0.05, 0.02, 0.01, 0.003] {
                let linked = with_links(&m, |_| Some(cap));
                let random = linked.steady(Selection::Random).expect("exists");
                let local = linked.steady(Selection::LocalityOptimal).expect("exists");
                let slack = 1e-9;
                if let Some(prev) = &last {
                    let (a, b) = (&prev.totals, &random.totals);
                    assert!(
                        b.mean_download_time_s >= a.mean_download_time_s * (1.0 - slack),
                        "cap {cap}: {} < {}",
                        b.mean_download_time_s,
                        a.mean_download_time_s
                    );
                    for (ra, rb) in prev.rows.iter().zip(&random.rows) {
                        assert!(rb.download_time_s >= ra.download_time_s * (1.0 - slack));
                    }
                }
                assert!(
                    local.totals.inter_isp_rate <= random.totals.inter_isp_rate * (1.0 + slack)
                );
                for st in [&random, &local] {
                    let scale = st.totals.download_rate;
                    for r in &st.rows {
                        let got = r.intra_isp_rate + r.inter_isp_in_rate + r.server_in_rate;
                        assert_relative_eq!(got, r.download_rate, max_relative = LINKED);
                        assert!(r.upload_rate <= r.upload_capacity * (1.0 + BALANCE));
                        assert!(r.inter_isp_in_rate <= cap * (1.0 + BALANCE));
                        assert!(r.inter_isp_out_rate <= cap * (1.0 + BALANCE));
                    }
                    let out: f64 = st.rows.iter().map(|r| r.inter_isp_out_rate).sum();
                    assert!((out - st.totals.inter_isp_rate).abs() <= LINKED * scale);
                }
                last = Some(random);
            }
        }
    }

    /// A link that cannot carry an ISP's needs when its peers upload nothing, nobody aborts
    /// and there is no server: no steady state, reported by selection; an invalid capacity is
    /// refused with its range.
    #[test]
    fn links_without_a_steady_state_and_bad_capacities_are_reported() {
        let isps = vec![
            isp("fibre", 1.0, 0.5, 1.0),
            Isp {
                transit_capacity: Some(0.5),
                ..isp("dsl", 1.0, 0.0, 1.0)
            },
        ];
        let m = IspSwarm::new(isps, shared(1.0, 0.0, None, 0.0)).expect("valid");
        let e = m.steady(Selection::Random).expect_err("dsl never drains");
        assert!(
            e.to_string().starts_with(
                "random peer selection: no steady state (with the transit links, the search"
            ),
            "{e}"
        );
        for bad in [0.0, -1.0, f64::INFINITY, f64::NAN] {
            let isps = vec![Isp {
                transit_capacity: Some(bad),
                ..isp("a", 1.0, 0.1, 0.2)
            }];
            let e = IspSwarm::new(isps, shared(1.0, 0.0, None, 0.0)).expect_err("refused");
            assert_eq!(
                e.to_string(),
                format!(
                    "isp[0] ('a').transit_capacity = {bad} is out of range: must be finite \
                     and > 0 (files/s); use None for an unlimited link"
                )
            );
        }
    }
}

/// The multi-ISP swarm of a scenario with `[[isp]]` (`None` without ISPs), at the scenario's
/// reference arrival rate (the steady state the locality report describes). `participation`
/// is the share of each class's peers who share (the incentive plan's; 1 when nobody
/// decides): non-sharers have the sharers' dynamics but upload nothing, so an ISP's peers
/// offer μ_k·q_k on average (exact under the pooled sharing rule).
pub fn isp_swarm_of(
    s: &crate::scenario::Scenario,
    participation: &[f64],
) -> Result<Option<IspSwarm>, LocalityError> {
    if s.isps.is_empty() {
        return Ok(None);
    }
    let bits = 8.0 * s.content.size;
    let (rate, _) = s.demand.arrival.reference_rate();
    let isps = s
        .isps
        .iter()
        .map(|i| {
            let c = &s.classes[i.class];
            Isp {
                name: i.name.clone(),
                lambda: rate * c.share,
                mu: c.upload * participation.get(i.class).copied().unwrap_or(1.0) / bits,
                c: c.download / bits,
                transit_price: i.transit,
                transit_capacity: i.transit_capacity.map(|bps| bps / bits),
            }
        })
        .collect();
    let first = &s.classes[0];
    let shared = Shared {
        eta: s.swarm.efficiency,
        theta: first.abort_rate,
        gamma: (first.seed_residence > 0.0).then(|| 1.0 / first.seed_residence),
        server: s.server.capacity / bits,
        file_bits: bits,
    };
    IspSwarm::new(isps, shared).map(Some)
}

/// What `run` and `compare` report for a scenario with ISPs: the steady state at the
/// reference rate under every selection rule (random, locality-optimal, strict, and the
/// scenario's fraction when it gives one), so the effect of locality is read side by side.
#[derive(Debug, Clone, Serialize)]
pub struct LocalityReport {
    /// The scenario's `locality.selection`.
    pub selected: String,
    /// Reference arrival rate, 1/s (all ISPs).
    pub arrival_rate_per_s: f64,
    /// File size, bits (rates below in files/s × this = bit/s).
    pub file_bits: f64,
    /// One steady state per selection rule.
    pub selections: Vec<LocalitySteady>,
    /// Selection rules without an answer (e.g. an ISP with no steady state on its own).
    pub unavailable: Vec<String>,
    /// Random against locality-optimal selection per ISP, when some ISP has a transit
    /// capacity (and both steady states exist).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transit: Option<TransitComparison>,
}

/// Random against locality-aware (locality-optimal) selection with transit links: what the
/// links cost random selection. Rates in files/s.
#[derive(Debug, Clone, Serialize)]
pub struct TransitComparison {
    /// One row per ISP, in input order.
    pub rows: Vec<TransitRow>,
    /// Σ x̄_k / Σ λ_k under random selection, seconds.
    pub mean_download_time_random_s: Seconds,
    /// The same under locality-optimal selection, seconds.
    pub mean_download_time_locality_s: Seconds,
    /// mean_download_time_random_s / mean_download_time_locality_s − 1.
    pub speed_up: f64,
    /// Σ inter-ISP bytes under random selection.
    pub inter_isp_rate_random: f64,
    /// Σ inter-ISP bytes under locality-optimal selection.
    pub inter_isp_rate_locality: f64,
    /// 1 − locality / random inter-ISP bytes (0 when random sends none).
    pub inter_isp_cut: f64,
}

/// One ISP in [`TransitComparison`].
#[derive(Debug, Clone, Serialize)]
pub struct TransitRow {
    /// ISP name.
    pub name: String,
    /// x̄_k / λ_k under random selection, seconds.
    pub download_time_random_s: Seconds,
    /// x̄_k / λ_k under locality-optimal selection, seconds.
    pub download_time_locality_s: Seconds,
    /// download_time_random_s / download_time_locality_s − 1.
    pub speed_up: f64,
    /// Inter-ISP bytes into this ISP under random selection.
    pub inter_isp_in_rate_random: f64,
    /// The same under locality-optimal selection.
    pub inter_isp_in_rate_locality: f64,
    /// Whether this ISP's link binds under random selection (false without a capacity).
    pub link_binds_random: bool,
    /// Whether it binds under locality-optimal selection.
    pub link_binds_locality: bool,
    /// max(in, out) utilisation of its link under random selection (`None` without a
    /// capacity).
    pub utilisation_random: Option<f64>,
    /// The same under locality-optimal selection.
    pub utilisation_locality: Option<f64>,
}

/// Random against locality-optimal steady states of the same swarm (rows in the same order).
pub fn transit_comparison(random: &LocalitySteady, locality: &LocalitySteady) -> TransitComparison {
    let util = |r: &IspRow| {
        r.link
            .as_ref()
            .map(|l| l.in_utilisation.max(l.out_utilisation))
    };
    let binds = |r: &IspRow| r.link.as_ref().is_some_and(|l| l.binds);
    let rows = random
        .rows
        .iter()
        .zip(&locality.rows)
        .map(|(a, b)| TransitRow {
            name: a.name.clone(),
            download_time_random_s: a.download_time_s,
            download_time_locality_s: b.download_time_s,
            speed_up: a.download_time_s / b.download_time_s - 1.0,
            inter_isp_in_rate_random: a.inter_isp_in_rate,
            inter_isp_in_rate_locality: b.inter_isp_in_rate,
            link_binds_random: binds(a),
            link_binds_locality: binds(b),
            utilisation_random: util(a),
            utilisation_locality: util(b),
        })
        .collect();
    let (ta, tb) = (
        random.totals.mean_download_time_s,
        locality.totals.mean_download_time_s,
    );
    let (ia, ib) = (random.totals.inter_isp_rate, locality.totals.inter_isp_rate);
    TransitComparison {
        rows,
        mean_download_time_random_s: ta,
        mean_download_time_locality_s: tb,
        speed_up: ta / tb - 1.0,
        inter_isp_rate_random: ia,
        inter_isp_rate_locality: ib,
        inter_isp_cut: if ia > 0.0 { 1.0 - ib / ia } else { 0.0 },
    }
}

/// The locality report of a scenario (`None` without `[[isp]]`), with each class's
/// participation (see [`isp_swarm_of`]).
pub fn locality_report(
    s: &crate::scenario::Scenario,
    participation: &[f64],
) -> Result<Option<LocalityReport>, LocalityError> {
    let Some(sw) = isp_swarm_of(s, participation)? else {
        return Ok(None);
    };
    let mut rules = vec![
        Selection::Random,
        Selection::LocalityOptimal,
        Selection::Strict,
    ];
    if let Selection::LocalityFraction { .. } = s.selection {
        rules.insert(2, s.selection);
    }
    let mut selections = Vec::new();
    let mut unavailable = Vec::new();
    for rule in rules {
        match sw.steady(rule) {
            Ok(st) => selections.push(st),
            Err(e) => unavailable.push(format!("{}: {e}", rule.label())),
        }
    }
    let transit = if sw.has_links() {
        let find = |sel: Selection| selections.iter().find(|st| st.selection == sel);
        find(Selection::Random)
            .zip(find(Selection::LocalityOptimal))
            .map(|(a, b)| transit_comparison(a, b))
    } else {
        None
    };
    Ok(Some(LocalityReport {
        selected: s.selection.label(),
        arrival_rate_per_s: sw.total_arrival_rate(),
        file_bits: sw.shared().file_bits,
        selections,
        unavailable,
        transit,
    }))
}
