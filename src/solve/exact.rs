//! Exact integration of a piecewise-affine model.
//!
//! State is split into the dynamic part `p` (feeds back), the forcing generator `w` (from the
//! arrival profile, `w[0] ≡ 1`) and the running integrals `c`. In a regime,
//! `d/dt [p; w] = Mq [p; w]` and `dc/dt = Mc [p; w]`, so over a step h
//!
//! ```text
//! exp( [[Mq, 0], [Mc, 0]] h ) = [[E, 0], [F, I]],   [p; w](t+h) = E [p; w](t),   c(t+h) = c(t) + F [p; w](t)
//! ```
//!
//! `E` and `F` are computed once per (regime, forcing segment) with nalgebra's Padé matrix
//! exponential and reused for every step. Steps are kept to `ρh ≤ 4` (ρ = ‖Mq‖∞), so that when a
//! guard may change sign inside a step, the solution over the step is also available as a
//! 32-term Taylor series (truncation < 1e-15): the first sign change is found by scanning the
//! series and refined by bisection to machine precision, the state is moved to that instant,
//! and the new regime is chosen by the direction of motion.

use nalgebra::{DMatrix, DVector};

use super::{SolveStats, SolverSettings, Trajectory};
use crate::error::SolveError;
use crate::model::{ForcingSegment, FluidModel, PiecewiseAffine, State};

/// Taylor terms for in-step evaluation (ρh ≤ 4 ⇒ 4^33/33! < 1e-16).
const TAYLOR_TERMS: usize = 33;
/// Largest ρh of one step.
const RHO_H_MAX: f64 = 4.0;
/// Samples per step when scanning for the first sign change of a guard.
const SCAN: usize = 32;
/// Regime switches allowed in one solve before we call it chattering.
const MAX_SWITCHES: usize = 100_000;

struct Piece {
    mq: DMatrix<f64>,
    mc: DMatrix<f64>,
    rho: f64,
    guards: Vec<DVector<f64>>,
    guard_rates: Vec<DVector<f64>>,
    /// (h, E, F) for the standard sub-step.
    standard: Option<(f64, DMatrix<f64>, DMatrix<f64>)>,
}

impl Piece {
    fn new(pa: &dyn PiecewiseAffine, seg: &ForcingSegment, r: usize, nd: usize, nc: usize) -> Self {
        let af = pa.affine(r);
        let m = seg.w0.len();
        let q = nd + m;
        let mut mq = DMatrix::zeros(q, q);
        let mut mc = DMatrix::zeros(nc, q);
        for i in 0..nd + nc {
            let row: &mut [f64] = &mut vec![0.0; q];
            for j in 0..nd {
                row[j] = af.a[(i, j)];
            }
            row[nd] += af.b[i];
            for j in 0..m {
                row[nd + j] += af.arrival[i] * seg.lambda[j];
            }
            for (j, v) in row.iter().enumerate() {
                if i < nd {
                    mq[(i, j)] = *v;
                } else {
                    mc[(i - nd, j)] = *v;
                }
            }
        }
        mq.view_mut((nd, nd), (m, m)).copy_from(&seg.generator);
        let guards: Vec<DVector<f64>> = pa
            .guards(r)
            .into_iter()
            .map(|g| {
                let mut v = DVector::zeros(q);
                v.rows_mut(0, nd).copy_from(&g.w.rows(0, nd));
                v[nd] += g.w0;
                v
            })
            .collect();
        let guard_rates = guards.iter().map(|g| mq.transpose() * g).collect();
        // Step bound from the diagonal blocks (the dynamics and the forcing generator); the
        // coupling column only scales the series, it does not slow its convergence.
        let block_norm = |r: std::ops::Range<usize>| {
            r.clone()
                .map(|i| r.clone().map(|j| mq[(i, j)].abs()).sum::<f64>())
                .fold(0.0, f64::max)
        };
        let rho = block_norm(0..nd).max(block_norm(nd..q));
        Self {
            mq,
            mc,
            rho,
            guards,
            guard_rates,
            standard: None,
        }
    }

    fn h_max(&self) -> f64 {
        if self.rho > 0.0 {
            RHO_H_MAX / self.rho
        } else {
            f64::INFINITY
        }
    }

    /// exp of the augmented matrix over h: (E, F).
    fn exponential(&self, h: f64) -> (DMatrix<f64>, DMatrix<f64>) {
        let (q, nc) = (self.mq.nrows(), self.mc.nrows());
        let mut aug = DMatrix::zeros(q + nc, q + nc);
        aug.view_mut((0, 0), (q, q)).copy_from(&(&self.mq * h));
        aug.view_mut((q, 0), (nc, q)).copy_from(&(&self.mc * h));
        let ex = aug.exp();
        (
            ex.view((0, 0), (q, q)).into_owned(),
            ex.view((q, 0), (nc, q)).into_owned(),
        )
    }
}

/// Taylor data of one step from state p: V_k = Mq^k p.
struct Series {
    v: Vec<DVector<f64>>,
}

impl Series {
    fn new(piece: &Piece, p: &DVector<f64>) -> Self {
        let mut v = Vec::with_capacity(TAYLOR_TERMS);
        v.push(p.clone());
        for k in 1..TAYLOR_TERMS {
            let next = &piece.mq * &v[k - 1];
            v.push(next);
        }
        Self { v }
    }
    /// Guard value at τ: Σ (ĝ·V_k) τ^k / k!.
    fn guard(&self, g: &DVector<f64>, tau: f64) -> f64 {
        let mut sum = 0.0;
        let mut coef = 1.0;
        for (k, vk) in self.v.iter().enumerate() {
            if k > 0 {
                coef *= tau / k as f64;
            }
            sum += coef * g.dot(vk);
        }
        sum
    }
    /// State at τ: (p(τ), c(τ) − c(0)).
    fn state(&self, piece: &Piece, tau: f64) -> (DVector<f64>, DVector<f64>) {
        let q = self.v[0].len();
        let mut p = DVector::zeros(q);
        let mut integral = DVector::zeros(q);
        let mut coef = 1.0; // τ^k / k!
        for (k, vk) in self.v.iter().enumerate() {
            if k > 0 {
                coef *= tau / k as f64;
            }
            p.axpy(coef, vk, 1.0);
            integral.axpy(coef * tau / (k + 1) as f64, vk, 1.0);
        }
        (p, &piece.mc * integral)
    }
}

struct Solver<'a> {
    pa: &'a dyn PiecewiseAffine,
    segs: Vec<ForcingSegment>,
    nd: usize,
    nc: usize,
    regimes: usize,
    pieces: Vec<Option<Piece>>,
    stats: SolveStats,
}

impl Solver<'_> {
    fn piece(&mut self, seg: usize, r: usize) -> &mut Piece {
        let i = seg * self.regimes + r;
        if self.pieces[i].is_none() {
            self.pieces[i] = Some(Piece::new(self.pa, &self.segs[seg], r, self.nd, self.nc));
        }
        // Invariant: filled just above.
        self.pieces[i].as_mut().expect("piece was just built")
    }

    /// The regime in force at p, decided by the guards and, on a boundary, by the direction of
    /// motion (the vector field is continuous, so the rate of a boundary guard is the same in
    /// every adjacent regime; its second derivative breaks ties).
    fn pick_regime(&mut self, seg: usize, p: &DVector<f64>) -> usize {
        let mut best = (f64::NEG_INFINITY, 0);
        let mut first_candidate = None;
        for r in 0..self.regimes {
            if !self.pa.regime_available(r) {
                continue;
            }
            let piece = self.piece(seg, r);
            let mut worst = f64::INFINITY;
            let mut consistent = true;
            for (g, gr) in piece.guards.iter().zip(&piece.guard_rates) {
                let scale: f64 = g.iter().zip(p.iter()).map(|(a, b)| (a * b).abs()).sum();
                let tol = 1e-11 * scale.max(f64::MIN_POSITIVE);
                let val = g.dot(p);
                worst = worst.min(val / scale.max(f64::MIN_POSITIVE));
                if val < -tol {
                    consistent = false;
                    break;
                }
                if val <= tol {
                    let mp = &piece.mq * p;
                    let rate = gr.dot(p);
                    let rate_scale: f64 =
                        g.iter().zip(mp.iter()).map(|(a, b)| (a * b).abs()).sum();
                    let rtol = 1e-11 * rate_scale.max(f64::MIN_POSITIVE);
                    if rate < -rtol {
                        consistent = false;
                        break;
                    }
                    if rate <= rtol && gr.dot(&mp) < 0.0 {
                        consistent = false;
                        break;
                    }
                }
            }
            if consistent {
                if first_candidate.is_none() {
                    first_candidate = Some(r);
                }
                if worst > 0.0 {
                    return r;
                }
            }
            if worst > best.0 {
                best = (worst, r);
            }
        }
        first_candidate.unwrap_or(best.1)
    }
}

/// Integrate exactly; see the module docs.
pub(super) fn integrate(
    model: &dyn FluidModel,
    pa: &dyn PiecewiseAffine,
    s: &SolverSettings,
) -> Result<Trajectory, SolveError> {
    let n = model.dim();
    let nd = pa.dynamic_dim();
    let nc = n - nd;
    let segs = pa.arrival().forcing_segments();
    let regimes = pa.regime_count();
    let mut sv = Solver {
        pa,
        pieces: (0..segs.len() * regimes).map(|_| None).collect(),
        segs,
        nd,
        nc,
        regimes,
        stats: SolveStats {
            method: "exact",
            ..SolveStats::default()
        },
    };
    let z0 = model.initial_state();
    let join = |seg: &ForcingSegment, z: &State| {
        let mut p = DVector::zeros(nd + seg.w0.len());
        p.rows_mut(0, nd).copy_from(&z.rows(0, nd));
        p.rows_mut(nd, seg.w0.len()).copy_from(&seg.w0);
        p
    };
    let mut seg = 0;
    let mut p = join(&sv.segs[0], &z0);
    let mut c: DVector<f64> = z0.rows(nd, nc).into_owned();
    let mut regime = sv.pick_regime(seg, &p);
    let grid_h = s.t_end / s.points as f64;

    let record = |p: &DVector<f64>, c: &DVector<f64>| {
        let mut z = State::zeros(n);
        z.rows_mut(0, nd).copy_from(&p.rows(0, nd));
        z.rows_mut(nd, nc).copy_from(c);
        z
    };
    let mut ts = Vec::with_capacity(s.points + 1);
    let mut zs = Vec::with_capacity(s.points + 1);
    ts.push(0.0);
    zs.push(record(&p, &c));
    let mut t = 0.0;
    let mut p_next = p.clone();
    let mut c_inc = c.clone();

    for i in 1..=s.points {
        let target = s.t_end * i as f64 / s.points as f64;
        let snap = 1e-12 * target.max(grid_h);
        while target - t > snap {
            // Forcing segment boundary (trace breakpoints).
            if let Some(next) = sv.segs.get(seg + 1) {
                if next.start <= t + snap {
                    seg += 1;
                    let seg_ref = &sv.segs[seg];
                    let mut np = DVector::zeros(nd + seg_ref.w0.len());
                    np.rows_mut(0, nd).copy_from(&p.rows(0, nd));
                    np.rows_mut(nd, seg_ref.w0.len()).copy_from(&seg_ref.w0);
                    p = np;
                    p_next = p.clone();
                    regime = sv.pick_regime(seg, &p);
                    continue;
                }
            }
            let stop = sv.segs.get(seg + 1).map_or(target, |nx| target.min(nx.start));
            let piece = sv.piece(seg, regime);
            let h_sub = grid_h / (grid_h / piece.h_max()).ceil().max(1.0);
            let remaining = stop - t;
            let mut exps = 0;
            let h = if remaining >= h_sub * (1.0 - 1e-9) {
                if piece.standard.as_ref().is_none_or(|(hh, _, _)| {
                    (hh - h_sub).abs() > 1e-12 * h_sub
                }) {
                    let (e, f) = piece.exponential(h_sub);
                    piece.standard = Some((h_sub, e, f));
                    exps += 1;
                }
                // Invariant: set just above.
                let (_, e, f) = piece.standard.as_ref().expect("standard step cached");
                p_next.gemv(1.0, e, &p, 0.0);
                c_inc.gemv(1.0, f, &p, 0.0);
                h_sub.min(remaining)
            } else {
                let h = remaining.min(piece.h_max());
                let series = Series::new(piece, &p);
                let (pn, ci) = series.state(piece, h);
                p_next = pn;
                c_inc = ci;
                h
            };
            sv.stats.matrix_exponentials += exps;
            sv.stats.steps += 1;

            // Could a guard change sign inside (0, h]?
            let piece = sv.piece(seg, regime);
            let suspect = piece.guards.iter().zip(&piece.guard_rates).any(|(g, gr)| {
                let (ga, gb) = (g.dot(&p), g.dot(&p_next));
                let (sa, sb) = (gr.dot(&p), gr.dot(&p_next));
                gb < 0.0 || (sa < 0.0 && sb > 0.0 && ga.min(gb) < 0.5 * (sa.abs() + sb.abs()) * h)
            });
            let mut crossing = None;
            if suspect {
                let series = Series::new(piece, &p);
                // Scan for the first sample where some guard is negative.
                let mut lo = 0.0;
                'scan: for j in 1..=SCAN {
                    let tau = h * j as f64 / SCAN as f64;
                    for g in &piece.guards {
                        if series.guard(g, tau) < 0.0 {
                            // Bisect this guard on [lo, tau].
                            let (mut a, mut b) = (lo, tau);
                            for _ in 0..200 {
                                let m = 0.5 * (a + b);
                                if m <= a || m >= b {
                                    break;
                                }
                                if series.guard(g, m) < 0.0 {
                                    b = m;
                                } else {
                                    a = m;
                                }
                            }
                            crossing = Some((b, series.state(piece, b)));
                            break 'scan;
                        }
                    }
                    lo = tau;
                }
            }
            match crossing {
                Some((tau, (pn, ci))) => {
                    p = pn;
                    c += ci;
                    t += tau;
                    sv.stats.regime_switches += 1;
                    if sv.stats.regime_switches > MAX_SWITCHES {
                        return Err(SolveError::TooManySwitches {
                            t,
                            switches: sv.stats.regime_switches,
                            limit: MAX_SWITCHES,
                        });
                    }
                    regime = sv.pick_regime(seg, &p);
                    if std::env::var("PF_DEBUG").is_ok() { eprintln!("switch at t={t} -> regime {regime} p={:?}", p.as_slice()); }
                }
                None => {
                    std::mem::swap(&mut p, &mut p_next);
                    c += &c_inc;
                    t += h;
                }
            }
            if p.iter().chain(c.iter()).any(|v| !v.is_finite()) {
                return Err(SolveError::NonFinite { t });
            }
        }
        t = target;
        ts.push(target);
        zs.push(record(&p, &c));
    }
    Ok(Trajectory {
        t: ts,
        z: zs,
        stats: sv.stats,
    })
}
