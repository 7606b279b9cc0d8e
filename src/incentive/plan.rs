//! What a scenario's incentive means for a run: who shares, how they are paid, and the report
//! (`summary.json` key `incentive`). `run` calls [`plan`] before it builds the swarm.

use serde::Serialize;

use super::equilibrium::{BestPayment, Equilibrium, Market, Offer, ScenarioGame};
use super::shapley::fluid_shapley;
use super::stream::StreamGame;
use super::CostPerUser;
use crate::error::MechanismError;
use crate::scenario::{Mechanism, Scenario};
use crate::units::Dimension;

/// Best-payment grid (prices tried before golden-section refinement).
pub const BEST_PAYMENT_GRID: usize = 40;
/// Most Dopri5 steps the coupled check of the equilibrium may take (about 0.2 s); beyond, it
/// is skipped with a sentence in the report.
pub const COUPLED_MAX_STEPS: f64 = 2e5;

/// The fluid Shapley value of the scenario's own game (everyone sharing), per download.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShapleyReport {
    /// The provider's share of the savings per download, $.
    pub provider_usd: f64,
    /// The peers' share per download, $ (all classes, averaged over all downloads).
    pub peers_usd: f64,
    /// Savings per download with everyone sharing, $.
    pub savings_usd: f64,
    /// Price per GB of upload capacity offered, per class, $/GB.
    pub price_usd_per_gb_offered: Vec<f64>,
    /// What a sharing peer of each class is paid per download, $.
    pub payment_usd_per_download: Vec<f64>,
    /// The provider's share of the savings, φ_P / (φ_P + peers) (literature §2.4: 90 % of
    /// the saving needs x̄ = 5d in the linear game).
    pub provider_share_of_savings: f64,
    /// What the peers are paid per GB they upload (all classes), $/GB: the peers' share
    /// divided by the GB peers send per download (views, for streams).
    pub usd_per_gb_uploaded: f64,
}

/// One class's side of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassPlan {
    /// Class name.
    pub name: String,
    /// Cost distribution kind.
    pub cost_distribution: &'static str,
    /// Share of the class's peers who share.
    pub participation: f64,
    /// Income of a sharing peer per download, $.
    pub income_usd_per_download: f64,
    /// Net benefit of a sharing peer per download before its private cost, $.
    pub benefit_usd_per_download: f64,
}

/// `summary.json` → `incentive`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncentiveReport {
    /// `incentive.mechanism`.
    pub mechanism: &'static str,
    /// What the per-download figures are per: "download" (files) or "view" (streams: one
    /// viewer's visit of the mean watch time).
    pub per: &'static str,
    /// The offer peers respond to (for "equilibrium": the provider's best per-byte price).
    pub offer: Offer,
    /// Arrival rate the market is played at, 1/s, and what it is.
    pub reference_rate_per_s: f64,
    /// What the reference rate is.
    pub reference_rate_basis: &'static str,
    /// Per class.
    pub classes: Vec<ClassPlan>,
    /// Every equilibrium found (lowest participation first).
    pub equilibria: Vec<Equilibrium>,
    /// Participation reached by integrating the coupled swarm + best-response dynamics from
    /// nobody sharing (`None` when no class decides, or with the Shapley offer and several
    /// deciding classes).
    pub integrated_participation: Option<Vec<f64>>,
    /// Largest |integrated − root-found| participation.
    pub integration_vs_root: Option<f64>,
    /// Why the coupled dynamics were not integrated, when they were too stiff for the
    /// explicit check (see [`COUPLED_MAX_STEPS`]).
    pub integration_skipped: Option<String>,
    /// The provider's cost per download at the chosen equilibrium (origin + payments), $.
    pub provider_usd_per_download: f64,
    /// The provider's cost per download with nobody sharing, $.
    pub no_sharing_usd_per_download: f64,
    /// Provider's net saving against nobody sharing, as a fraction.
    pub provider_net_saving: f64,
    /// The provider's best per-byte price, the social optimum and the gap (when some class
    /// decides).
    pub best_payment: Option<BestPayment>,
    /// The fluid Shapley value of the scenario's game.
    pub shapley: Option<ShapleyReport>,
}

/// What `run` needs: participation per scenario class, how sharers are paid, and the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Class names (of the scenario, before the split into sharers and non-sharers).
    pub names: Vec<String>,
    /// Share of each class's peers who share.
    pub participation: Vec<f64>,
    /// $ per GB uploaded.
    pub per_gb_uploaded: f64,
    /// $ per download of a sharing peer.
    pub per_download: f64,
    /// $ per GB of capacity offered, per class.
    pub per_gb_offered: Vec<f64>,
    /// The report (`None` when there is no incentive question: mechanism none and nobody
    /// decides).
    pub report: Option<IncentiveReport>,
}

/// Work out the incentive side of a scenario, with everything `compare` reports.
pub fn plan(s: &Scenario) -> Result<Plan, MechanismError> {
    plan_with(s, Depth::Report)
}

/// How much of the incentive side to work out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Everything `compare` reports: every equilibrium and its stability, the coupled dynamics
    /// as a check of the root, the best payment, the Shapley value.
    Report,
    /// Only what the swarm and the bills need (sweep points): who shares at the equilibrium
    /// reached and what they are paid; the best payment only when it is the price paid.
    /// `report` is `None`.
    Outcome,
}

/// [`plan`] at the chosen depth.
pub fn plan_with(s: &Scenario, depth: Depth) -> Result<Plan, MechanismError> {
    let k = s.classes.len();
    let decides = s.classes.iter().any(|c| c.cost.decides());
    if matches!(s.incentive.mechanism, Mechanism::None) && !decides {
        return Ok(Plan {
            names: s.classes.iter().map(|c| c.name.clone()).collect(),
            participation: vec![1.0; k],
            per_gb_uploaded: 0.0,
            per_download: 0.0,
            per_gb_offered: vec![0.0; k],
            report: None,
        });
    }
    let market = Market::new(s)?;
    if depth == Depth::Outcome {
        let best = match s.incentive.mechanism {
            Mechanism::Equilibrium if decides => Some(market.best_payment(BEST_PAYMENT_GRID)?),
            _ => None,
        };
        let offer = offer_of(&s.incentive.mechanism, best.as_ref());
        let chosen = market.reached(&offer)?;
        let (per_gb_uploaded, per_download, per_gb_offered) =
            payments(&market, &offer, &chosen.q, k)?;
        return Ok(Plan {
            names: s.classes.iter().map(|c| c.name.clone()).collect(),
            participation: chosen.q,
            per_gb_uploaded,
            per_download,
            per_gb_offered,
            report: None,
        });
    }
    let game = ScenarioGame::new(&market)?;
    let xbar = game.xbar();
    let sh = fluid_shapley(&game, &xbar)?;
    let full = market.outcome(&vec![1.0; k])?;
    let uploaded_gb: f64 = s
        .classes
        .iter()
        .zip(&full.upload_gb)
        .map(|(c, gb)| c.share * gb)
        .sum();
    let shapley = ShapleyReport {
        provider_share_of_savings: share_of(sh.provider_per_user, sh.savings_per_user),
        usd_per_gb_uploaded: per_gb(sh.peers_per_user, uploaded_gb),
        provider_usd: sh.provider_per_user,
        peers_usd: sh.peers_per_user,
        savings_usd: sh.savings_per_user,
        payment_usd_per_download: sh
            .price_per_unit
            .iter()
            .zip(&market.capacity_gb)
            .map(|(p, c)| p * c)
            .collect(),
        price_usd_per_gb_offered: sh.price_per_unit.clone(),
    };
    let best = if decides {
        Some(market.best_payment(BEST_PAYMENT_GRID)?)
    } else {
        None
    };
    let offer = offer_of(&s.incentive.mechanism, best.as_ref());
    let equilibria = market.equilibria(&offer)?;
    let chosen = market.reached(&offer)?;
    // The Shapley offer's coupled dynamics need a price table, built for one deciding class.
    let integrable = !(matches!(offer, Offer::Shapley) && market.deciding().len() > 1);
    // The coupled check is explicit (Dopri5): when the swarm moves so much faster than
    // participation that it would take more than COUPLED_MAX_STEPS steps (a file of a few kB,
    // a seed residence of decades), it is skipped and the report says why; the equilibrium
    // itself comes from the reduced dynamics and the root search either way.
    let horizon = market.settle_horizon();
    let steps = market.coupled_steps(horizon);
    let (integrated, diff, skipped) = if !(decides && integrable) {
        (None, None, None)
    } else if steps.is_nan() || steps > COUPLED_MAX_STEPS {
        (
            None,
            None,
            Some(format!(
                "the coupled swarm + participation dynamics were not integrated: the swarm's \
                 fastest rate is {:.1e} times participation's (1/{}), so an explicit check \
                 over {} would take ~{steps:.1e} steps; the equilibrium is the root of the \
                 reduced dynamics (the swarm at its steady state for each participation)",
                market.coupled_steps(1.0) * 3.3 * s.incentive.response_time,
                crate::units::format_quantity(s.incentive.response_time, Dimension::Time),
                crate::units::format_quantity(horizon, Dimension::Time),
            )),
        )
    } else {
        let q0 = vec![0.0; k];
        let end = market.integrate_coupled(&offer, &q0, horizon)?;
        let d = end
            .iter()
            .zip(&chosen.q)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        (Some(end), Some(d), None)
    };
    let none = market.outcome(&vec![0.0; k])?.origin_usd;
    let (per_gb_uploaded, per_download, per_gb_offered) = payments(&market, &offer, &chosen.q, k)?;
    let classes = s
        .classes
        .iter()
        .enumerate()
        .map(|(c, cl)| ClassPlan {
            name: cl.name.clone(),
            cost_distribution: cl.cost.label(),
            participation: chosen.q[c],
            income_usd_per_download: chosen.income_usd[c],
            benefit_usd_per_download: chosen.benefit_usd[c],
        })
        .collect();
    Ok(Plan {
        names: s.classes.iter().map(|c| c.name.clone()).collect(),
        participation: chosen.q.clone(),
        per_gb_uploaded,
        per_download,
        per_gb_offered,
        report: Some(IncentiveReport {
            mechanism: s.incentive.mechanism.label(),
            per: "download",
            offer,
            reference_rate_per_s: market.rate,
            reference_rate_basis: market.rate_basis,
            classes,
            provider_usd_per_download: chosen.provider_usd,
            no_sharing_usd_per_download: none,
            provider_net_saving: if none > 0.0 {
                (none - chosen.provider_usd) / none
            } else {
                0.0
            },
            equilibria,
            integrated_participation: integrated,
            integration_vs_root: diff,
            integration_skipped: skipped,
            best_payment: best,
            shapley: Some(shapley),
        }),
    })
}

/// `part / whole`, 0 when the whole is 0.
fn share_of(part: f64, whole: f64) -> f64 {
    if whole != 0.0 {
        part / whole
    } else {
        0.0
    }
}

/// $ per GB: `usd / gb`, NaN when nothing is uploaded (no price per GB exists).
fn per_gb(usd: f64, gb: f64) -> f64 {
    if gb > 0.0 {
        usd / gb
    } else {
        f64::NAN
    }
}

/// The incentive side of a live or VoD scenario (`run::video`). Viewers do not decide
/// (validation refuses cost distributions for streams): everyone shares, and under
/// `mechanism = "shapley"` each class is paid its fluid Shapley price per GB of upload
/// offered in the viewers' game ([`StreamGame`]); other mechanisms have no report here.
///
/// # Errors
///
/// The game's errors ([`StreamGame::new`], [`fluid_shapley`]).
pub fn stream_plan(s: &Scenario) -> Result<Plan, MechanismError> {
    let k = s.classes.len();
    let names: Vec<String> = s.classes.iter().map(|c| c.name.clone()).collect();
    let (per_gb_uploaded, per_download) = match s.incentive.mechanism {
        Mechanism::PerByte { price } => (price, 0.0),
        Mechanism::Discount { amount } => (0.0, amount),
        _ => (0.0, 0.0),
    };
    if !matches!(s.incentive.mechanism, Mechanism::Shapley) {
        return Ok(Plan {
            names,
            participation: vec![1.0; k],
            per_gb_uploaded,
            per_download,
            per_gb_offered: vec![0.0; k],
            report: None,
        });
    }
    let game = StreamGame::new(s)?;
    let xbar = game.xbar();
    let sh = fluid_shapley(&game, &xbar)?;
    let none = game.omega(&vec![0.0; k]);
    let omega_full = game.omega(&xbar);
    // What the viewers send per view with everyone sharing: the audience's demand n·r less
    // the server's rate, per view; each class in proportion to the upload it offers.
    let r = match &s.content.kind {
        crate::scenario::ContentKind::Live(st) => st.bitrate,
        crate::scenario::ContentKind::Vod { stream, .. } => stream.bitrate,
        _ => 0.0,
    };
    let server = game.server_rate(&vec![1.0; k])?;
    let peer_bps = (game.audience * r - server).max(0.0);
    let offered_bps: f64 =
        s.classes.iter().map(|c| c.share * c.upload).sum::<f64>() * game.audience;
    let used = if offered_bps > 0.0 {
        (peer_bps / offered_bps).min(1.0)
    } else {
        0.0
    };
    let uploaded_gb: f64 = xbar.iter().map(|x| used * x).sum();
    let income: Vec<f64> = sh
        .price_per_unit
        .iter()
        .zip(&game.capacity_gb)
        .map(|(p, cap)| p * cap)
        .collect();
    let classes = s
        .classes
        .iter()
        .enumerate()
        .map(|(c, cl)| ClassPlan {
            name: cl.name.clone(),
            cost_distribution: cl.cost.label(),
            participation: 1.0,
            income_usd_per_download: income[c],
            benefit_usd_per_download: income[c]
                - s.peer_cost.upload_value * used * game.capacity_gb[c],
        })
        .collect();
    let shapley = ShapleyReport {
        provider_usd: sh.provider_per_user,
        peers_usd: sh.peers_per_user,
        savings_usd: sh.savings_per_user,
        price_usd_per_gb_offered: sh.price_per_unit.clone(),
        payment_usd_per_download: income,
        provider_share_of_savings: share_of(sh.provider_per_user, sh.savings_per_user),
        usd_per_gb_uploaded: per_gb(sh.peers_per_user, uploaded_gb),
    };
    let provider = omega_full + sh.peers_per_user;
    Ok(Plan {
        names,
        participation: vec![1.0; k],
        per_gb_uploaded,
        per_download,
        per_gb_offered: sh.price_per_unit.clone(),
        report: Some(IncentiveReport {
            mechanism: s.incentive.mechanism.label(),
            per: "view",
            offer: Offer::Shapley,
            reference_rate_per_s: game.rate,
            reference_rate_basis: game.rate_basis,
            classes,
            equilibria: Vec::new(),
            integrated_participation: None,
            integration_vs_root: None,
            integration_skipped: None,
            provider_usd_per_download: provider,
            no_sharing_usd_per_download: none,
            provider_net_saving: share_of(none - provider, none),
            best_payment: None,
            shapley: Some(shapley),
        }),
    })
}

/// The offer a mechanism makes (the equilibrium mechanism offers the best per-GB price).
fn offer_of(m: &Mechanism, best: Option<&BestPayment>) -> Offer {
    match m {
        Mechanism::None => Offer::PerByte { price: 0.0 },
        Mechanism::PerByte { price } => Offer::PerByte { price: *price },
        Mechanism::Discount { amount } => Offer::Discount { amount: *amount },
        Mechanism::Shapley => Offer::Shapley,
        Mechanism::Equilibrium => Offer::PerByte {
            price: best.map_or(0.0, |b| b.price_usd_per_gb),
        },
    }
}

/// $ per GB uploaded, $ per download, and per class $ per GB offered, under `offer` at `q`.
fn payments(
    market: &Market,
    offer: &Offer,
    q: &[f64],
    k: usize,
) -> Result<(f64, f64, Vec<f64>), MechanismError> {
    Ok(match offer {
        Offer::PerByte { price } => (*price, 0.0, vec![0.0; k]),
        Offer::Discount { amount } => (0.0, *amount, vec![0.0; k]),
        Offer::Shapley => (0.0, 0.0, market.shapley_prices(q)?),
    })
}

impl Plan {
    /// $ per GB of capacity offered paid to the sharers of the class named `name`.
    pub fn offered_price(&self, name: &str) -> f64 {
        self.names
            .iter()
            .position(|n| n == name)
            .map_or(0.0, |i| self.per_gb_offered[i])
    }
}
