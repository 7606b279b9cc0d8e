//! The provider–viewers game of a live stream or a video-on-demand service (issue 19 §2), in
//! the setting of Misra et al. (literature §2.1): the provider P and its viewers; a viewer of
//! class c brings the upload it offers while it watches; the provider's cost is the origin's
//! monthly bill for the server rate the audience needs, through the scenario's price book.
//!
//! * Unit of the game ("per user"): one **view** (an arrival that watches for the mean watch
//!   time T), as a download is for a file swarm.
//! * Resource: GB of upload offered per view. A class-c viewer offers cap_c = u_c·T/8 bytes;
//!   at full participation the class brings x̄_c = share_c·cap_c per view.
//! * Ω(x): the origin's monthly cost, per view, when a fraction q_c = x_c/x̄_c of class c
//!   shares, at the steady audience n = λ_ref·T of the reference arrival rate: the load of
//!   [`ServerLoad`] for viewers whose uploads are u_c with probability share_c·q_c and 0
//!   otherwise (who does not share uploads nothing), priced by `cost::ledger::
//!   steady_origin_usd` and divided by the month's views λ_ref·month.
//!
//! Live: s = max{r, n r − n Σ_c share_c q_c u_c}, so Ω is the linear game with saturation of
//! literature §2.1 (d = r per viewer) above a floor r/n, and the fluid Shapley value has a
//! closed form (`models/incentives.md`, "Streams"). VoD: the pooled or ordered load of each
//! title's Poisson audience, a smooth function of q (each title keeps the method, exact sum
//! or approximation, it has at full participation, [`ServerLoad::load_with`]).
//!
//! Every level of participation delivers the same service: the origin sends what the
//! viewers do not, even above `server.capacity` (the equal-service rule of the file game).

use super::CostPerUser;
use crate::cost::ledger::steady_origin_usd;
use crate::cost::tiers::GB;
use crate::error::MechanismError;
use crate::model::video_load::{Delivery, Method, ServerLoad};
use crate::scenario::{ContentKind, Origin, Scenario};

/// Quadrature accuracy of a live stream's game: Ω is linear between its kinks, so the
/// Gauss–Legendre panels are exact and only the difference quotient of the gradient
/// (relative error about 1e-9 for a piecewise-linear Ω) limits the result.
const LIVE_QUADRATURE_TOL: f64 = 1e-9;
/// Quadrature accuracy of a VoD game: its gradient is a difference quotient of exact sums
/// whose rounding is about 1e-9 of the load.
const VOD_QUADRATURE_TOL: f64 = 1e-7;
/// Most evaluations of a catalogue's Ω for `shapley`'s finite-N rows and core search
/// (about 10 s for 2,000 titles).
pub const CATALOGUE_EVALUATIONS: usize = 400;
/// Grid of the scan for kinks of t ↦ Ω(t·x̄) (then bisection to 1e-12).
const KINK_SCAN: usize = 64;

/// The game of a stream.
pub struct StreamGame<'a> {
    s: &'a Scenario,
    delivery: Delivery,
    /// Bitrate r, bit/s.
    bitrate: f64,
    /// (upload bit/s, share) per class, as the scenario gives them.
    classes: Vec<(f64, f64)>,
    /// Reference arrival rate λ_ref, views/s, and what it is.
    pub rate: f64,
    /// What the reference rate is.
    pub rate_basis: &'static str,
    /// Steady audience n = λ_ref·T, viewers.
    pub audience: f64,
    /// GB of upload a sharing viewer of each class offers per view, u_c·T/8/GB.
    pub capacity_gb: Vec<f64>,
    /// Each title's method at full participation, imposed on every other participation.
    methods: Vec<Method>,
}

impl<'a> StreamGame<'a> {
    /// The game of a live or VoD scenario.
    ///
    /// # Errors
    ///
    /// [`MechanismError::NotFileSwarm`]-like refusal for files and femtocells (they have
    /// their own games), [`MechanismError::Equilibrium`] when the reference arrival rate is
    /// 0, and the stream models' errors.
    pub fn new(s: &'a Scenario) -> Result<Self, MechanismError> {
        let (stream, delivery) = match &s.content.kind {
            ContentKind::Live(st) => (*st, Delivery::Live),
            ContentKind::Vod {
                stream,
                prefetch,
                titles,
                zipf,
            } => (
                *stream,
                Delivery::Vod {
                    prefetch: *prefetch,
                    titles: *titles,
                    zipf: *zipf,
                },
            ),
            _ => {
                return Err(MechanismError::Equilibrium(format!(
                    "scenario '{}' is a {} scenario: the game of a stream needs content.kind \"live\" or \"vod\"",
                    s.name,
                    s.content.kind.label()
                )))
            }
        };
        let (rate, rate_basis) = s.demand.arrival.reference_rate();
        if !(rate.is_finite() && rate > 0.0) {
            return Err(MechanismError::Equilibrium(format!(
                "scenario '{}': the viewers' game is played at the {rate_basis}, which is \
                 {rate}/s; it must be > 0 (a trace of zeros has no audience)",
                s.name
            )));
        }
        let classes: Vec<(f64, f64)> = s.classes.iter().map(|c| (c.upload, c.share)).collect();
        let mut game = Self {
            s,
            delivery,
            bitrate: stream.bitrate,
            capacity_gb: classes
                .iter()
                .map(|(u, _)| u * stream.watch_time / 8.0 / GB)
                .collect(),
            classes,
            rate,
            rate_basis,
            audience: rate * stream.watch_time,
            methods: Vec::new(),
        };
        let full = game.load(&vec![1.0; game.classes.len()], None)?;
        game.methods = full.methods;
        Ok(game)
    }

    /// x̄: GB of upload offered per view by each class at full participation.
    pub fn xbar(&self) -> Vec<f64> {
        self.classes
            .iter()
            .zip(&self.capacity_gb)
            .map(|((_, sh), cap)| sh * cap)
            .collect()
    }

    /// The server rate (bit/s) when a share `q[c]` of class c shares, with each title's
    /// method imposed when `methods` is given.
    fn load(
        &self,
        q: &[f64],
        methods: Option<&[Method]>,
    ) -> Result<crate::model::video_load::Loaded, MechanismError> {
        // Who shares uploads u_c, who does not uploads nothing: one more class, upload 0,
        // always present (its share may be 0) so that every participation level sums on the
        // same lattice.
        let mut mix: Vec<(f64, f64)> = self
            .classes
            .iter()
            .zip(q)
            .map(|(&(u, sh), &qc)| (u, sh * qc.clamp(0.0, 1.0)))
            .collect();
        let idle: f64 = self
            .classes
            .iter()
            .zip(q)
            .map(|(&(_, sh), &qc)| sh * (1.0 - qc.clamp(0.0, 1.0)))
            .sum();
        mix.push((0.0, idle.max(0.0)));
        let load = ServerLoad::new(self.delivery, self.bitrate, &mix)
            .map_err(|e| MechanismError::Equilibrium(format!("scenario '{}': {e}", self.s.name)))?;
        load.load_with(self.audience, methods)
            .map_err(|e| MechanismError::Equilibrium(format!("scenario '{}': {e}", self.s.name)))
    }

    /// Participation of each class for resource `x` (GB per view), clamped to [0, 1].
    fn participation(&self, x: &[f64]) -> Vec<f64> {
        self.xbar()
            .iter()
            .zip(x)
            .map(|(full, xc)| {
                if *full > 0.0 {
                    (xc / full).clamp(0.0, 1.0)
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Server rate (bit/s) at participation `q`.
    ///
    /// # Errors
    ///
    /// The stream models' errors.
    pub fn server_rate(&self, q: &[f64]) -> Result<f64, MechanismError> {
        Ok(self.load(q, Some(&self.methods))?.rate)
    }

    /// The origin's monthly cost per view for a constant server rate `bps`.
    fn usd_per_view(&self, bps: f64) -> f64 {
        steady_origin_usd(self.s, bps) / (self.rate * self.s.pricing.billing_month)
    }

    /// Whether some title of the game is approximated (the Gaussian view or the ordered
    /// load's lower bound) at full participation.
    pub fn approximated(&self) -> bool {
        self.methods.contains(&Method::Approximate)
    }
}

impl CostPerUser for StreamGame<'_> {
    fn classes(&self) -> usize {
        self.classes.len()
    }
    fn omega(&self, x: &[f64]) -> f64 {
        let q = self.participation(x);
        self.server_rate(&q)
            .map_or(f64::NAN, |bps| self.usd_per_view(bps))
    }
    /// Live: the server rate depends on the offered upload only through its total.
    fn sum_only(&self) -> bool {
        matches!(self.delivery, Delivery::Live)
    }
    /// A catalogue's Ω is one exact sum per title (tens of milliseconds): its gradient is a
    /// forward difference from Ω(x) itself (K + 1 evaluations a node instead of 2K + 1;
    /// truncation error about 1e-6 of the price, below the catalogue's own approximations).
    /// Other games take the default central difference.
    fn omega_and_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let catalogue = matches!(self.delivery, Delivery::Vod { titles, .. } if titles > 1);
        if !catalogue {
            self.gradient(x, g);
            return self.omega(x);
        }
        let here = self.omega(x);
        let mut z = x.to_vec();
        for c in 0..x.len() {
            // Step down (participation ≤ 1 is where Ω is defined), relative to the full x̄.
            let h = 1e-6 * self.xbar()[c].max(f64::MIN_POSITIVE);
            z[c] = (x[c] - h).max(0.0);
            let step = x[c] - z[c];
            g[c] = if step > 0.0 {
                (here - self.omega(&z)) / step
            } else {
                z[c] = x[c] + h;
                (self.omega(&z) - here) / h
            };
            z[c] = x[c];
        }
        here
    }
    /// A catalogue's Ω is one exact sum per title (tens of milliseconds for thousands of
    /// titles): `shapley` computes its finite-N rows and core only within
    /// [`CATALOGUE_EVALUATIONS`].
    fn evaluation_limit(&self) -> Option<usize> {
        match self.delivery {
            Delivery::Vod { titles, .. } if titles > 1 => Some(CATALOGUE_EVALUATIONS),
            _ => None,
        }
    }
    fn quadrature_tol(&self) -> f64 {
        match self.delivery {
            Delivery::Live => LIVE_QUADRATURE_TOL,
            Delivery::Vod { .. } => VOD_QUADRATURE_TOL,
        }
    }
    /// Where t ↦ Ω(t·x̄) bends: the live server reaches its floor r (in closed form), or the
    /// monthly origin volume crosses a CDN price-tier bound (a 64-point scan in t and
    /// bisection to 1e-12). VoD's load is smooth in the participation otherwise.
    fn kinks(&self, xbar: &[f64]) -> Vec<f64> {
        let bounds: Vec<f64> = match self.s.pricing.origin {
            Origin::Cdn => self
                .s
                .pricing
                .cdn
                .tiers()
                .iter()
                .filter_map(|t| t.up_to_gb)
                .collect(),
            Origin::Transit => Vec::new(),
        };
        let r = self.bitrate;
        let n = self.audience;
        let full = self.xbar();
        let q_at = |t: f64| -> Vec<f64> {
            full.iter()
                .zip(xbar)
                .map(|(f, xb)| {
                    if *f > 0.0 {
                        (t * xb / f).clamp(0.0, 1.0)
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        let mut kinks = Vec::new();
        // Live: s(t) = max{r, n r − t·n·Σ_c share_c q̄_c u_c} meets its floor at
        // t* = (n − 1) r / (n ū(x̄)), ū(x̄) the upload per viewer at x̄.
        if matches!(self.delivery, Delivery::Live) && n >= 1.0 {
            let q1 = q_at(1.0);
            let ubar: f64 = self
                .classes
                .iter()
                .zip(&q1)
                .map(|((u, sh), q)| u * sh * q)
                .sum();
            if ubar > 0.0 {
                kinks.push((n - 1.0) * r / (n * ubar));
            }
        }
        if bounds.is_empty() {
            return kinks;
        }
        // The tier index of the monthly origin volume at t.
        let tier = |t: f64| -> Option<usize> {
            let bps = self.server_rate(&q_at(t)).ok()?;
            let gb = bps / 8.0 * self.s.pricing.billing_month / GB;
            Some(bounds.iter().filter(|b| gb > **b).count())
        };
        let scan: Vec<Option<usize>> = {
            use rayon::prelude::*;
            (0..=KINK_SCAN)
                .into_par_iter()
                .map(|i| tier(i as f64 / KINK_SCAN as f64))
                .collect()
        };
        for i in 1..=KINK_SCAN {
            if scan[i] != scan[i - 1] {
                let (mut lo, mut hi) = (
                    (i - 1) as f64 / KINK_SCAN as f64,
                    i as f64 / KINK_SCAN as f64,
                );
                while hi - lo > 1e-12 {
                    let mid = 0.5 * (lo + hi);
                    if tier(mid) == scan[i - 1] {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                kinks.push(0.5 * (lo + hi));
            }
        }
        kinks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incentive::shapley::{exact_by_classes, fluid_shapley};
    use approx::assert_relative_eq;

    /// A one-hour view of a 1 Mbps stream, transit-priced (linear): live at 1/s (3,600
    /// viewers), VoD at 0.01/s (36 viewers: the exact sums stay quick in a debug build).
    fn stream(kind: &str, classes: &[(&str, f64, f64)]) -> Scenario {
        let rate = if kind == "live" { "1/s" } else { "0.01/s" };
        let mut text = format!(
            "name = \"g\"\n[content]\nkind = \"{kind}\"\nbitrate = \"1 Mbps\"\nwatch_time = \"60 min\"\n[demand]\narrival_rate = \"{rate}\"\n[pricing]\ntransit = \"1 $/Mbps/month\"\n[incentive]\nmechanism = \"shapley\"\n"
        );
        for (name, share, up) in classes {
            text.push_str(&format!(
                "[[peers.class]]\nname = \"{name}\"\nshare = {share}\nupload = \"{up} Mbps\"\ndownload = \"20 Mbps\"\n"
            ));
        }
        Scenario::from_toml(&text, "g.toml", None).expect("valid scenario")
    }

    /// Literature §2.1, linear cost with saturation, here with the live floor: per viewer
    /// Ω ∝ max{r − x, r/n} (x the offered upload rate per viewer). With d = r − r/n:
    /// x̄ ≥ d → φ_P/N = a d (1 − d/(2x̄)), peers a d²/(2x̄); x̄ ≤ d → 50/50 (derived in
    /// `models/incentives.md`, "Streams"). Tolerance 1e-9: the live quadrature's (Ω is
    /// linear between kinks, the gradient a difference quotient).
    #[test]
    fn a_live_stream_is_the_linear_game_with_a_floor() {
        let n = 3600.0;
        let d = 1.0 - 1.0 / n;
        for up in [5.0, 2.0, 1.0] {
            let s = stream("live", &[("all", 1.0, up)]);
            let g = StreamGame::new(&s).unwrap();
            assert_relative_eq!(g.audience, n, max_relative = 1e-12);
            let v = fluid_shapley(&g, &g.xbar()).unwrap();
            let share = v.provider_per_user / v.savings_per_user;
            assert_relative_eq!(share, 1.0 - d / (2.0 * up), max_relative = 1e-9);
            assert_relative_eq!(
                v.provider_per_user + v.peers_per_user,
                v.savings_per_user,
                max_relative = 1e-9
            );
        }
        // Under-supply (x̄ = 0.5 Mbps < d): each GB offered is paid half of what it saves.
        let s = stream("live", &[("all", 1.0, 0.5)]);
        let g = StreamGame::new(&s).unwrap();
        let xbar = g.xbar();
        let v = fluid_shapley(&g, &xbar).unwrap();
        assert_relative_eq!(
            v.provider_per_user / v.savings_per_user,
            0.5,
            max_relative = 1e-9
        );
        assert_relative_eq!(
            v.price_per_unit[0],
            v.savings_per_user / (2.0 * xbar[0]),
            max_relative = 1e-9
        );
        // Ω(0): the origin sends n·r, priced through the book, per view.
        let month = s.pricing.billing_month;
        assert_relative_eq!(
            g.omega(&[0.0]),
            steady_origin_usd(&s, n * 1e6) / month,
            max_relative = 1e-12
        );
    }

    /// Live Ω depends on the offered upload only through its total, so every class is paid
    /// the same price per GB offered (1e-9, the quadrature's tolerance).
    #[test]
    fn live_classes_are_paid_one_price_per_gb_offered() {
        let s = stream("live", &[("dsl", 0.6, 1.0), ("fibre", 0.4, 20.0)]);
        let g = StreamGame::new(&s).unwrap();
        let v = fluid_shapley(&g, &g.xbar()).unwrap();
        assert_relative_eq!(
            v.price_per_unit[0],
            v.price_per_unit[1],
            max_relative = 1e-9
        );
    }

    /// VoD (one title, prefetching): Ω(x̄) is the load `run` bills (the same lattice: deficits
    /// 0.5, −1 and 1 Mbps are whole multiples of 0.5 Mbps with or without the idle class),
    /// Ω(0) the client-server load, and the value is efficient to the quadrature's 1e-6.
    #[test]
    fn a_vod_title_prices_the_load_the_run_bills() {
        let s = stream("vod", &[("dsl", 0.5, 0.5), ("fibre", 0.5, 2.0)]);
        let g = StreamGame::new(&s).unwrap();
        let xbar = g.xbar();
        let month = s.pricing.billing_month;
        let run = ServerLoad::new(g.delivery, 1e6, &[(0.5e6, 0.5), (2e6, 0.5)])
            .unwrap()
            .server(g.audience)
            .unwrap()
            .0;
        assert_relative_eq!(
            g.omega(&xbar),
            steady_origin_usd(&s, run) / (g.rate * month),
            max_relative = 1e-12
        );
        assert_relative_eq!(
            g.omega(&[0.0, 0.0]),
            steady_origin_usd(&s, g.audience * 1e6) / (g.rate * month),
            max_relative = 1e-12
        );
        let v = fluid_shapley(&g, &xbar).unwrap();
        assert_relative_eq!(
            v.provider_per_user + v.peers_per_user,
            v.savings_per_user,
            max_relative = 1e-6
        );
        // With prefetching any viewer's upload relieves the pool: both prices are positive.
        assert!(v.price_per_unit.iter().all(|p| *p > 0.0));
    }

    /// A catalogue (20 titles, Zipf 0.8) takes the forward-difference gradient: the value is
    /// still efficient to 1e-6 of the savings (truncation about 1e-6 of each price), and every
    /// class is paid a positive price.
    #[test]
    fn a_catalogue_game_is_efficient_with_forward_differences() {
        let text = "name = \"c\"\n[content]\nkind = \"vod\"\nbitrate = \"1 Mbps\"\nwatch_time = \"60 min\"\ntitles = 20\nzipf = 0.8\n[demand]\narrival_rate = \"0.05/s\"\n[pricing]\ntransit = \"1 $/Mbps/month\"\n[incentive]\nmechanism = \"shapley\"\n[[peers.class]]\nname = \"dsl\"\nshare = 0.5\nupload = \"0.5 Mbps\"\ndownload = \"20 Mbps\"\n[[peers.class]]\nname = \"fibre\"\nshare = 0.5\nupload = \"2 Mbps\"\ndownload = \"20 Mbps\"\n";
        let s = Scenario::from_toml(text, "c.toml", None).expect("valid");
        let g = StreamGame::new(&s).unwrap();
        assert_eq!(g.evaluation_limit(), Some(CATALOGUE_EVALUATIONS));
        let v = fluid_shapley(&g, &g.xbar()).unwrap();
        assert_relative_eq!(
            v.provider_per_user + v.peers_per_user,
            v.savings_per_user,
            max_relative = 1e-6
        );
        assert!(v.price_per_unit.iter().all(|p| *p > 0.0), "{v:?}");
    }

    /// The exact Shapley value of N viewers (one class) tends to the fluid value as O(1/N)
    /// (literature §2.6 SHAP-finiteN: the linear game's provider value is 1/(N+1) off); at
    /// N = 100 and 1,000 the relative gap falls about tenfold and is below 1e-2 and 1e-3.
    #[test]
    fn finite_audiences_tend_to_the_fluid_value() {
        for kind in ["live", "vod"] {
            let s = stream(kind, &[("all", 1.0, 2.0)]);
            let g = StreamGame::new(&s).unwrap();
            let xbar = g.xbar();
            let fluid = fluid_shapley(&g, &xbar).unwrap().provider_per_user;
            let gap = |n: usize| {
                let e = exact_by_classes(&g, &[n], &[xbar[0]]).unwrap();
                (e.provider / n as f64 - fluid).abs() / fluid
            };
            let (g100, g1000) = (gap(100), gap(1000));
            assert!(g100 < 1e-2 && g1000 < 1e-3, "{kind}: {g100:e} {g1000:e}");
            assert!(g1000 < g100 / 5.0, "{kind}: {g100:e} {g1000:e}");
        }
    }
}
