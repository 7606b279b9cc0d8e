//! The server load of a stream's audience: what the origin must send (bit/s) so that `n`
//! viewers of a live stream or of a video-on-demand title or catalogue all watch at the
//! bitrate, from the stream models (`streaming`: Kumar, Liu & Ross; `vod`: Huang, Li & Ross).
//! Cards: `models/streaming.md`, `models/vod.md`.
//!
//! * live: s = max{r, n r − Σ_k u_k n_k} (fluid audience; min{n, 1}·r below one viewer);
//! * vod with prefetching: E[(Σ_i (r − U_i))^+] for a Poisson(n) audience of each title, plus
//!   what a viewer cannot upload to itself (`vod::SelfService`);
//! * vod without prefetching: the ordered load E\[S_seq\] (Spitzer's identity), or its lower
//!   bound E[1{N>0} max(r, Σ_i (r − U_i))] beyond the work budget (flagged);
//! * audiences too large for the exact lattice: the Gaussian view of the compound-Poisson
//!   deficit (flagged).
//!
//! `run::video` tabulates this over the audience of a run; `incentive::stream` prices the
//! viewers' upload with it (the Shapley game of a stream).

use crate::error::VideoError;
use crate::model::{streaming, vod};

/// Popularity of each title (Zipf with exponent `a`, sums to 1), as `vod::zipf_catalogue`.
pub fn zipf_shares(titles: u32, a: f64) -> Vec<f64> {
    let w: Vec<f64> = (1..=titles).map(|i| (i as f64).powf(-a)).collect();
    let total: f64 = w.iter().sum();
    w.into_iter().map(|x| x / total).collect()
}

/// Standard normal density and complementary CDF (Press et al.'s Chebyshev fit of erfc,
/// fractional error < 1.2e-7), for the Gaussian fallback of very large VoD audiences.
fn normal_pdf_sf(z: f64) -> (f64, f64) {
    let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    let erfc = if x >= 0.0 { erfc } else { 2.0 - erfc };
    (pdf, 0.5 * erfc)
}

/// E[X^+] for X Gaussian with mean `mu` and standard deviation `sigma` > 0.
fn gaussian_positive_mean(mu: f64, sigma: f64) -> f64 {
    let z = mu / sigma;
    let (pdf, sf) = normal_pdf_sf(-z);
    // Φ(z) = 1 − Q(z) = Q(−z).
    mu * sf + sigma * pdf
}

/// How the content is delivered: a live stream, or video on demand.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delivery {
    /// Everybody watches the same point of the stream.
    Live,
    /// Titles watched at each viewer's own time.
    Vod {
        /// Viewers with spare upload prefetch (pooled load); `false`: ordered load.
        prefetch: bool,
        /// Titles in the catalogue (1 = a single video).
        titles: u32,
        /// Zipf exponent of the catalogue's popularity.
        zipf: f64,
    },
}

/// How a title's load was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The exact sum (pooled, or ordered by Spitzer's identity).
    Exact,
    /// An approximation: the Gaussian view (pooled) or the lower bound (ordered, flagged).
    Approximate,
}

/// The load of one audience: the rate, whether an approximation was used, and the method
/// of each title (smallest audience first), which [`ServerLoad::load_with`] can impose.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// Server rate, bit/s.
    pub rate: f64,
    /// Whether some title took an approximation (or an incomplete self-service sum).
    pub approximated: bool,
    /// Method per title, from the least to the most popular (empty for live).
    pub methods: Vec<Method>,
}

/// Server load (bit/s) for an audience of `n` viewers, for one stream and its viewers'
/// upload classes.
#[derive(Debug, Clone)]
pub struct ServerLoad {
    delivery: Delivery,
    /// Bitrate r, bit/s.
    rate: f64,
    /// (upload bit/s, share) per class, uploads on the lattice for VoD.
    classes: Vec<(f64, f64)>,
    /// Upload distribution of a viewer (VoD), on the lattice of the exact sums.
    uploads: Option<vod::UploadDistribution>,
    /// The same, as given (not snapped to a lattice): the moments of the Gaussian view.
    given: Option<vod::UploadDistribution>,
    /// What viewers cannot upload to themselves, on the lattice and as given (VoD with
    /// prefetching; `vod::SelfService`).
    self_service: Option<(vod::SelfService, vod::SelfService)>,
    /// The step the deficits were moved onto, when any upload moved.
    rounding: Option<f64>,
}

impl ServerLoad {
    /// The load of a stream of `rate` bit/s watched by viewers of `classes` (upload bit/s,
    /// share; shares summing to 1).
    ///
    /// # Errors
    ///
    /// [`VideoError::OutOfRange`] for shares or uploads the stream models refuse.
    pub fn new(delivery: Delivery, rate: f64, classes: &[(f64, f64)]) -> Result<Self, VideoError> {
        let mut classes = classes.to_vec();
        let (mut uploads, mut given, mut self_service, mut rounding) = (None, None, None, None);
        if let Delivery::Vod { prefetch, .. } = delivery {
            let as_given = vod::UploadDistribution::new(
                classes.iter().map(|c| c.0).collect(),
                classes.iter().map(|c| c.1).collect(),
            )?;
            let (dist, step) = lattice_uploads(rate, &mut classes)?;
            rounding = step;
            if prefetch {
                self_service = Some((
                    vod::SelfService::new(rate, &dist)?,
                    vod::SelfService::new(rate, &as_given)?,
                ));
            }
            uploads = Some(dist);
            given = Some(as_given);
        }
        Ok(Self {
            delivery,
            rate,
            classes,
            uploads,
            given,
            self_service,
            rounding,
        })
    }

    /// (upload bit/s, share) per class, as the sums use them (VoD: on the lattice).
    pub fn classes(&self) -> &[(f64, f64)] {
        &self.classes
    }

    /// The upload distribution of the exact sums (VoD), `None` for live.
    pub fn uploads(&self) -> Option<&vod::UploadDistribution> {
        self.uploads.as_ref()
    }

    /// The step (bit/s) the deficits r − u were moved onto, when any upload moved.
    pub fn rounding(&self) -> Option<f64> {
        self.rounding
    }

    /// Server rate for `n` viewers and whether an approximation was used, with the exact
    /// sums spent within the work budgets ([`EXACT_WORK`] per title, [`CATALOGUE_WORK`] per
    /// catalogue).
    ///
    /// # Errors
    ///
    /// [`VideoError`] from the stream models.
    pub fn server(&self, n: f64) -> Result<(f64, bool), VideoError> {
        self.load_with(n, None).map(|l| (l.rate, l.approximated))
    }

    /// [`Self::server`] with every title's method, optionally imposed: `Some(methods)` (as a
    /// previous [`Loaded::methods`] returned them) computes each title by the same method
    /// whatever the budgets say, so that the load is a smooth function of the viewers'
    /// uploads (the Shapley game of a stream integrates along it). An imposed exact sum that
    /// needs more than [`IMPOSED_WORK_FACTOR`] times its budget takes the approximation.
    ///
    /// # Errors
    ///
    /// [`VideoError`] from the stream models.
    pub fn load_with(&self, n: f64, imposed: Option<&[Method]>) -> Result<Loaded, VideoError> {
        let r = self.rate;
        if n <= 0.0 {
            return Ok(Loaded {
                rate: 0.0,
                approximated: false,
                methods: Vec::new(),
            });
        }
        let (prefetch, titles, zipf) = match self.delivery {
            Delivery::Live => {
                // Below one viewer (a fractional fluid audience) the server sends the stream
                // only in proportion: min{n, 1}·r, so it never sends more than is watched.
                if n < 1.0 {
                    return Ok(Loaded {
                        rate: n * r,
                        approximated: false,
                        methods: Vec::new(),
                    });
                }
                let peers: Vec<(f64, f64)> =
                    self.classes.iter().map(|&(u, sh)| (u, sh * n)).collect();
                return Ok(Loaded {
                    rate: streaming::min_server_rate(r, &peers)?,
                    approximated: false,
                    methods: Vec::new(),
                });
            }
            Delivery::Vod {
                prefetch,
                titles,
                zipf,
            } => (prefetch, titles, zipf),
        };
        let (Some(uploads), Some(given)) = (&self.uploads, &self.given) else {
            return Ok(Loaded {
                rate: 0.0,
                approximated: false,
                methods: Vec::new(),
            });
        };
        // One title's load at audience ρ, whether it was approximated, the exact sum's work
        // (`budget` multiply-adds at most) and the method.
        let one = |rho: f64, budget: u64| -> Result<(f64, bool, u64, Method), VideoError> {
            let too_large = rho > EXACT_AUDIENCE_MAX || (!prefetch && rho > EXACT_NESTED_MAX);
            let exact = if too_large || budget == 0 {
                Err(VideoError::TooLarge {
                    what: "audience".into(),
                    size: rho as u64,
                    limit: if prefetch {
                        EXACT_AUDIENCE_MAX
                    } else {
                        EXACT_NESTED_MAX
                    } as u64,
                    hint: "Gaussian view".into(),
                })
            } else if prefetch {
                vod::pooled_server_load_within(r, rho, uploads, budget)
                    .map(|p| (p.mean(), p.work()))
            } else {
                // In arrival order (Spitzer's identity on the lattice), exact within the work
                // budget; beyond it the lower bound E[1{N>0} max(r, Σ(r − U))], flagged.
                match vod::ordered_mean_load(r, rho, uploads, budget) {
                    Ok(done) => Ok(done),
                    Err(VideoError::TooLarge { .. }) => {
                        let classes: Vec<(f64, f64)> =
                            self.classes.iter().map(|&(u, sh)| (u, sh * rho)).collect();
                        let bound = streaming::expected_server_load(r, f64::INFINITY, &classes)?;
                        return Ok((bound.value, true, 0, Method::Approximate));
                    }
                    Err(e) => Err(e),
                }
            };
            // With prefetching the pooled formula lets a viewer's upload serve itself; what a
            // viewer uploads reaches only the others (`vod::self_service_correction`). The
            // ordered sum without prefetching already feeds each viewer from earlier ones.
            let served = |v: f64, lattice: bool| -> (f64, bool) {
                match (&self.self_service, prefetch) {
                    (Some((on_lattice, as_given)), true) => {
                        let which = if lattice { on_lattice } else { as_given };
                        let (extra, complete) = which.correction(rho);
                        (v + extra, complete)
                    }
                    _ => (v, true),
                }
            };
            match exact {
                Ok((v, work)) => {
                    let (v, complete) = served(v, true);
                    Ok((v, !complete, work, Method::Exact))
                }
                Err(VideoError::TooLarge { .. }) => {
                    // An audience too large for the exact lattice: the pooled deficit is a
                    // compound Poisson sum, Gaussian to within O(1/sqrt(ρ)).
                    let mean = rho * (r - given.mean());
                    let sd = (rho * given.mean_squared_deficit(r))
                        .sqrt()
                        .max(f64::MIN_POSITIVE);
                    let pooled = gaussian_positive_mean(mean, sd);
                    let v = if prefetch {
                        served(pooled, false).0
                    } else {
                        pooled.max(r)
                    };
                    Ok((v, true, 0, Method::Approximate))
                }
                Err(e) => Err(e),
            }
        };
        // The budget of title i: the shared budget left, or the method imposed.
        let budget_of = |i: usize, left: u64, single: u64| -> u64 {
            match imposed.and_then(|m| m.get(i)) {
                Some(Method::Exact) => single.saturating_mul(IMPOSED_WORK_FACTOR),
                Some(Method::Approximate) => 0,
                None => left.min(single),
            }
        };
        if titles <= 1 {
            let (v, a, _, m) = one(n, budget_of(0, EXACT_WORK, EXACT_WORK))?;
            return Ok(Loaded {
                rate: v,
                approximated: a,
                methods: vec![m],
            });
        }
        // A catalogue: the titles share one budget of exact work per audience (so a catalogue
        // of large audiences costs seconds, not minutes), spent from the smallest audience
        // up, where the Gaussian view is least accurate. The work grows with the audience, so
        // once one title is beyond the budget every larger one is too: those take the
        // Gaussian view without building their Poisson windows (that alone took minutes for
        // 2,000 titles of ~10^5 viewers at 65 audiences).
        let shares = zipf_shares(titles, zipf);
        let mut left = CATALOGUE_WORK;
        let mut total = 0.0;
        let mut approx = false;
        let mut methods = Vec::with_capacity(shares.len());
        for (i, p) in shares.iter().rev().enumerate() {
            let budget = if imposed.is_none() && approx {
                0
            } else {
                budget_of(i, left, EXACT_WORK)
            };
            let (v, a, work, m) = one(n * p, budget)?;
            left = left.saturating_sub(work);
            total += v;
            approx |= a;
            methods.push(m);
        }
        Ok(Loaded {
            rate: total,
            approximated: approx,
            methods,
        })
    }
}

/// How many times its budget an exact sum imposed by [`ServerLoad::load_with`] may take
/// (the work of a title's sum changes with the viewers' uploads).
pub const IMPOSED_WORK_FACTOR: u64 = 8;

/// Largest audience of one title for the exact sums (`streaming::MAX_MEAN`); above, the
/// Gaussian view.
pub const EXACT_AUDIENCE_MAX: f64 = 1e8;
/// Most multiply-adds of one exact pooled sum (its lattice convolution): a run evaluates one
/// per output time (501 by default) or per title and catalogue grid point, so each must stay
/// in milliseconds (4·10⁶ take about 5 ms); above, the Gaussian view. Without it, 180,000
/// viewers of one title on a 477-step lattice took 0.15 s per output, 77 s a run.
pub const EXACT_WORK: u64 = 4_000_000;
/// Multiply-adds of exact pooled sums shared by a catalogue's titles at one audience (about
/// 25 ms; a catalogue is tabulated at `CATALOGUE_GRID` audiences). Beyond, the remaining
/// (largest) audiences take the Gaussian view, flagged as approximated. Issue 18: 2·10^4
/// arrivals/s on `vod-catalogue` ran past two minutes.
pub const CATALOGUE_WORK: u64 = 20_000_000;
/// Largest audience of one title for the exact nested sum without prefetching (its cost
/// grows with the square of the Poisson windows: about 10 ms a point here); above, the
/// Gaussian view.
pub const EXACT_NESTED_MAX: f64 = 2e4;

/// The viewers' upload distribution for the exact VoD sums. Those need the deficits r − u on
/// a common step, and their work grows with the number of steps: the uploads are moved to the
/// coarsest grid within `vod::SNAP_TOLERANCE` (0.005 % of the largest deficit,
/// `vod::snap_uploads`), and the step is returned when any upload moved.
fn lattice_uploads(
    r: f64,
    classes: &mut [(f64, f64)],
) -> Result<(vod::UploadDistribution, Option<f64>), VideoError> {
    let uploads: Vec<f64> = classes.iter().map(|c| c.0).collect();
    let snapped = vod::snap_uploads(r, &uploads);
    for (c, v) in classes.iter_mut().zip(&snapped.values) {
        c.0 = *v;
    }
    let dist = vod::UploadDistribution::new(
        classes.iter().map(|x| x.0).collect(),
        classes.iter().map(|x| x.1).collect(),
    )?;
    // The snapped deficits are on one grid by construction; check it anyway.
    vod::pooled_server_load(r, 1.0, &dist)?;
    Ok((dist, snapped.moved.then_some(snapped.step)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// E[X^+] for a standard normal is 1/sqrt(2π); for mean 1, sd 1 it is Φ(1) + φ(1) =
    /// 0.8413447 + 0.2419707 = 1.0833155 (normal tables); the erfc fit is good to 1.2e-7.
    #[test]
    fn gaussian_positive_part_matches_normal_tables() {
        assert!((gaussian_positive_mean(0.0, 1.0) - 0.398_942_28).abs() < 1e-7);
        assert!((gaussian_positive_mean(1.0, 1.0) - 1.083_315_5).abs() < 1e-6);
        assert!((gaussian_positive_mean(-1.0, 1.0) - 0.083_315_5).abs() < 1e-6);
        // Far in the deficit the positive part is the mean itself.
        assert!((gaussian_positive_mean(100.0, 1.0) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn zipf_shares_sum_to_one_and_fall() {
        let s = zipf_shares(100, 0.8);
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(s.windows(2).all(|w| w[0] > w[1]));
        assert!((s[0] / s[1] - 2f64.powf(0.8)).abs() < 1e-12);
    }
}
