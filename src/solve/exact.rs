//! Exact integration of a piecewise-affine model, with Taylor series in its nonlinear regimes.
//!
//! State is split into the dynamic part `p` (feeds back, with the forcing generator `w`
//! appended, `w[0] ≡ 1`) and the running integrals `c`. In an affine regime,
//! `dp/dt = Mq p` and `dc/dt = Mc p`, so over a step h
//!
//! ```text
//! exp( [[Mq, 0], [Mc, 0]] h ) = [[E, 0], [F, I]],   p(t+h) = E p(t),   c(t+h) = c(t) + F p(t)
//! ```
//!
//! `E` and `F` are computed once per (regime, forcing segment) by scaling and squaring a Taylor
//! series and reused for every step of that regime. The first few steps in a regime use the
//! Taylor series below instead, so a regime crossed briefly never pays for an exponential.
//!
//! Steps are kept to `ρh ≤ 4` (ρ = the larger ∞-norm of the dynamic and forcing diagonal blocks
//! of Mq), so the solution over any step is also a 33-term Taylor series (truncation < 1e-15).
//! The fast path takes these standard steps by one mat-vec each, any number of them per output
//! interval (so one output costs no more than five hundred), and once a step leaves the state
//! unchanged to rounding (a fixed point of an affine regime with constant forcing) it stops
//! stepping: the running integrals then grow linearly to every later output, so a settled
//! swarm costs nothing more however long the horizon.
//! When a guard may change sign inside a step (its end value is negative, or its derivative
//! changes sign with too little margin), the series is scanned at 32 points for the first sign
//! change, and between samples for a dip (a minimum of the guard found as a root of its
//! derivative); the first crossing is refined to machine precision, the state moves to that
//! instant and the new regime is chosen by the direction of motion.
//!
//! One class under constant arrivals never gets this far: at each fast-path entry the
//! regime's closed form (`super::modal`) either locates the first guard crossing exactly
//! (the state jumps there) or certifies that none comes before the forcing segment ends
//! (every remaining output is written from it), so such a solve costs a few closed-form steps
//! whatever its horizon or its fastest rate. The stepping below is for what the closed form
//! cannot tell: several classes, daily cycles and ramps, ill-conditioned modes.
//!
//! A regime that is not affine (several swarm classes sharing the upload at a common level, a
//! ratio of linear forms) gives the normalised Taylor coefficients of its solution to order
//! [`NL_ORDER`] (`PiecewiseAffine::taylor`, by automatic differentiation); each step is as
//! long as the last two coefficients allow for a truncation error of [`NL_TOL`] relative to
//! the state, and guards are found on the same series as in affine regimes.

use super::modal::{Form, Next};
use super::{SolveStats, SolverSettings, Trajectory};
use crate::error::SolveError;
use crate::model::{FluidModel, ForcingSegment, PiecewiseAffine};

/// Taylor terms for in-step evaluation (ρh ≤ 4 ⇒ 4^33/33! < 1e-16).
const TAYLOR_TERMS: usize = 33;
/// Largest ρh of one step.
const RHO_H_MAX: f64 = 4.0;
/// Samples per step when scanning for the first sign change of a guard.
const SCAN: usize = 32;
/// Steps allowed in one solve (well under a second of work at 7–20 ns a standard step):
/// beyond, the solve stops with `SolveError::WorkBudget` instead of running for hours (a tiny
/// file at a fast download rate under a trace's ramps, which have no closed form here, or a
/// regime the closed forms cannot tell).
pub const MAX_STEPS: usize = 50_000_000;
/// What to change when a solve exceeds [`MAX_STEPS`].
const BUDGET_HINT: &str = "a swarm this fast for this long is out of the exact method's range: \
     check `content.size` against the download rate (a file of a few bytes at Mbps rates), or give \
     a shorter `horizon` (a seed residence of years settles over centuries)";
/// Regime switches allowed in one solve before we call it chattering.
const MAX_SWITCHES: usize = 100_000;
/// Standard steps taken by Taylor series in a regime before its exponential is computed.
const LAZY_STEPS: usize = 2;
/// Order of the Taylor series in regimes that are not affine.
const NL_ORDER: usize = 16;
/// Truncation error allowed per Taylor step in those regimes, relative to the largest state
/// (floored at [`NL_FLOOR`] peers).
const NL_TOL: f64 = 1e-13;
/// Smallest state scale of the Taylor step control, in peers (an empty swarm filling up).
const NL_FLOOR: f64 = 1e-3;
/// A Taylor span that moves the state by less than this, relative to the largest state, is
/// "quiet": its length was set by fast modes that have died out (stiffness).
const NL_QUIET: f64 = 1e-3;
/// Quiet spans allowed per solve before the exact method gives a nonlinear regime up as too
/// stiff (`Method::Auto` then uses Rosenbrock).
const NL_QUIET_MAX: usize = 50;
/// Longest span of one Taylor series, seconds (τ^24 stays far from overflow).
const NL_SPAN_MAX: f64 = 1e9;
/// Taylor expansions allowed per solve in regimes that are not affine; beyond, the regime is
/// too stiff for an explicit series and the solve stops with `SeriesUnavailable`.
const NL_MAX_STEPS: usize = 20_000;

/// y = A x for a row-major `rows × x.len()` matrix (fixed-size fast paths for small x).
fn matvec(a: &[f64], x: &[f64], y: &mut [f64]) {
    match x.len() {
        2 => matvec_n::<2>(a, x, y),
        3 => matvec_n::<3>(a, x, y),
        4 => matvec_n::<4>(a, x, y),
        5 => matvec_n::<5>(a, x, y),
        6 => matvec_n::<6>(a, x, y),
        7 => matvec_n::<7>(a, x, y),
        8 => matvec_n::<8>(a, x, y),
        9 => matvec_n::<9>(a, x, y),
        10 => matvec_n::<10>(a, x, y),
        11 => matvec_n::<11>(a, x, y),
        n => {
            for (yi, row) in y.iter_mut().zip(a.chunks_exact(n)) {
                *yi = dot(row, x);
            }
        }
    }
}

fn matvec_n<const N: usize>(a: &[f64], x: &[f64], y: &mut [f64]) {
    let Ok(x) = <&[f64; N]>::try_from(x) else {
        return;
    };
    for (yi, row) in y.iter_mut().zip(a.chunks_exact(N)) {
        let mut acc = 0.0;
        for j in 0..N {
            acc += row[j] * x[j];
        }
        *yi = acc;
    }
}

/// Σ |a_i b_i|, at least the smallest positive number: the scale a dot product's rounding
/// is judged against.
fn magnitude(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x * y).abs())
        .sum::<f64>()
        .max(f64::MIN_POSITIVE)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Regime r's guards as rows over the dynamic and forcing states (m forcing states; the
/// constant term on the first).
fn guard_vectors(pa: &dyn PiecewiseAffine, r: usize, nd: usize, m: usize) -> Vec<Vec<f64>> {
    pa.guards(r)
        .into_iter()
        .map(|g| {
            let mut v = vec![0.0; nd + m];
            v[..nd].copy_from_slice(&g.w.as_slice()[..nd]);
            v[nd] += g.w0;
            v
        })
        .collect()
}

struct Piece {
    /// False for a regime that gives Taylor series instead of a matrix (then `mq_rows`,
    /// `mc_rows` and `guard_rates` are empty).
    affine: bool,
    /// Dynamic states plus forcing states, and running integrals.
    q: usize,
    nc: usize,
    /// Row-major Mq (q × q) and Mc (nc × q).
    mq_rows: Vec<f64>,
    mc_rows: Vec<f64>,
    rho: f64,
    guards: Vec<Vec<f64>>,
    guard_rates: Vec<Vec<f64>>,
    /// Standard sub-step length.
    h_std: f64,
    /// Once computed: rows [E; F; ĝ_jᵀE …; ṙ_jᵀE …] (row-major, q columns), so that one
    /// mat-vec gives p(t+h), the integral increments, and every guard value and rate at t+h.
    step: Vec<f64>,
    uses: usize,
    /// The regime's closed form (one class, exponential forcing), built on first use
    /// (`Some(None)`: it has none).
    modal: Option<Option<Form>>,
}

impl Piece {
    fn new(
        pa: &dyn PiecewiseAffine,
        seg: &ForcingSegment,
        r: usize,
        nd: usize,
        nc: usize,
        grid_h: f64,
        guards: Vec<Vec<f64>>,
    ) -> Self {
        let m = seg.w0.len();
        let q = nd + m;
        if !pa.regime_is_affine(r) {
            return Self {
                affine: false,
                q,
                nc,
                mq_rows: Vec::new(),
                mc_rows: Vec::new(),
                rho: 0.0,
                guards,
                guard_rates: Vec::new(),
                h_std: grid_h,
                step: Vec::new(),
                uses: 0,
                modal: Some(None),
            };
        }
        let af = pa.affine(r);
        // Row-major Mq (q × q) and Mc (nc × q).
        let mut mq_rows = vec![0.0; q * q];
        let mut mc_rows = vec![0.0; nc * q];
        for i in 0..nd + nc {
            let row = if i < nd {
                &mut mq_rows[i * q..(i + 1) * q]
            } else {
                &mut mc_rows[(i - nd) * q..(i - nd + 1) * q]
            };
            for (j, v) in row.iter_mut().enumerate().take(nd) {
                *v += af.a[(i, j)];
            }
            row[nd] += af.b[i];
            for j in 0..m {
                row[nd + j] += af.arrival[i] * seg.lambda[j];
            }
        }
        for i in 0..m {
            for j in 0..m {
                mq_rows[(nd + i) * q + nd + j] = seg.generator[(i, j)];
            }
        }
        // ṙ = gᵀ Mq
        let guard_rates = guards
            .iter()
            .map(|g| {
                let mut rate = vec![0.0; q];
                for (gi, row) in g.iter().zip(mq_rows.chunks_exact(q)) {
                    for (rj, mij) in rate.iter_mut().zip(row) {
                        *rj += gi * mij;
                    }
                }
                rate
            })
            .collect();
        // Step bound from the dynamic block and the forcing generator; the coupling column only
        // scales the series, it does not slow its convergence.
        let dyn_norm = mq_rows
            .chunks_exact(q)
            .take(nd)
            .map(|row| row[..nd].iter().map(|v| v.abs()).sum::<f64>())
            .fold(0.0, f64::max);
        // The forcing generator enters by its spectral size, bounded by √‖G²‖∞: 0 for a ramp
        // (nilpotent, its series ends after two terms), ω for the daily cycle, 1/τ for decay.
        let g = &seg.generator;
        let g_size = (0..m)
            .map(|i| {
                (0..m)
                    .map(|j| (0..m).map(|l| g[(i, l)] * g[(l, j)]).sum::<f64>().abs())
                    .sum::<f64>()
            })
            .fold(0.0, f64::max)
            .sqrt();
        let rho = dyn_norm.max(g_size);
        let h_max = if rho > 0.0 {
            RHO_H_MAX / rho
        } else {
            f64::INFINITY
        };
        let h_std = grid_h / (grid_h / h_max).ceil().max(1.0);
        Self {
            affine: true,
            q,
            nc,
            mq_rows,
            mc_rows,
            rho,
            guards,
            guard_rates,
            h_std,
            step: Vec::new(),
            uses: 0,
            modal: None,
        }
    }

    /// What the regime's closed form says about the next `span` seconds from (p, c).
    fn next(&mut self, nd: usize, p: &[f64], c: &[f64], span: f64) -> Next {
        if self.modal.is_none() {
            self.modal = Some(Form::new(
                &self.mq_rows,
                &self.mc_rows,
                self.q,
                nd,
                &self.guards,
            ));
        }
        let out = match self.modal.as_ref() {
            Some(Some(m)) => m.next(p, c, span),
            _ => Next::Unknown,
        };
        out
    }

    fn h_max(&self) -> f64 {
        if self.rho > 0.0 {
            RHO_H_MAX / self.rho
        } else {
            f64::INFINITY
        }
    }

    /// Compute the step matrix for the standard step: E = exp(Mq h) and F = Mc ∫_0^h exp(Mq s) ds
    /// by scaling and squaring a Taylor series (‖Mq τ‖∞ ≤ 1/2, 18 terms: truncation < 1e-21) on
    /// stack matrices up to 5 × 5 (one class with any arrival profile),
    /// using [[E, 0], [F, I]]² = [[E², 0], [F (E + I), I]].
    /// Horner: Ψ = Σ A^k/(k+1)! = I + A/2 (I + A/3 (I + …)), then ∫_0^τ = τΨ and E = I + AΨ.
    fn exponential(&mut self) {
        const TERMS: usize = 18;
        const QMAX: usize = 5;
        let (q, nc, h) = (self.q, self.nc, self.h_std);
        if q > QMAX {
            return self.exponential_general();
        }
        type M = [[f64; QMAX]; QMAX];
        let mul = |a: &M, b: &M| -> M {
            let mut c = [[0.0; QMAX]; QMAX];
            for i in 0..q {
                for k in 0..q {
                    let aik = a[i][k];
                    for j in 0..q {
                        c[i][j] += aik * b[k][j];
                    }
                }
            }
            c
        };
        let squarings = if self.rho * h > 0.5 {
            (self.rho * h / 0.5).log2().ceil() as i32
        } else {
            0
        };
        let tau = h / 2f64.powi(squarings);
        let mut a: M = [[0.0; QMAX]; QMAX];
        for (row, src) in a.iter_mut().zip(self.mq_rows.chunks_exact(q)) {
            for (x, y) in row.iter_mut().zip(src) {
                *x = y * tau;
            }
        }
        // I + scale·X, on the q × q block.
        let shifted = |x: &M, scale: f64| -> M {
            let mut out = [[0.0; QMAX]; QMAX];
            for (i, (row, src)) in out.iter_mut().zip(x).enumerate().take(q) {
                for (o, v) in row.iter_mut().zip(src).take(q) {
                    *o = v * scale;
                }
                row[i] += 1.0;
            }
            out
        };
        let mut psi = shifted(&[[0.0; QMAX]; QMAX], 0.0);
        for k in (1..TERMS).rev() {
            // Ψ ← I + A Ψ / (k + 1)
            psi = shifted(&mul(&a, &psi), 1.0 / (k + 1) as f64);
        }
        let mut e = shifted(&mul(&a, &psi), 1.0);
        // F = Mc τ Ψ
        let mut f = vec![[0.0; QMAX]; nc];
        for (r, fr) in f.iter_mut().enumerate() {
            for j in 0..q {
                fr[j] = tau
                    * (0..q)
                        .map(|k| self.mc_rows[r * q + k] * psi[k][j])
                        .sum::<f64>();
            }
        }
        for _ in 0..squarings {
            let mut e_plus_i = e;
            for (i, row) in e_plus_i.iter_mut().enumerate().take(q) {
                row[i] += 1.0;
            }
            for fr in f.iter_mut() {
                let old = *fr;
                for j in 0..q {
                    fr[j] = (0..q).map(|k| old[k] * e_plus_i[k][j]).sum();
                }
            }
            e = mul(&e, &e);
        }
        let mut step = Vec::with_capacity((q + nc + 2 * self.guards.len()) * q);
        for row in e.iter().take(q) {
            step.extend_from_slice(&row[..q]);
        }
        for fr in &f {
            step.extend_from_slice(&fr[..q]);
        }
        for rows in [&self.guards, &self.guard_rates] {
            for g in rows {
                step.extend((0..q).map(|j| (0..q).map(|k| g[k] * e[k][j]).sum::<f64>()));
            }
        }
        self.step = step;
    }

    /// The same for larger blocks (several classes), on flat row-major matrices.
    fn exponential_general(&mut self) {
        const TERMS: usize = 18;
        let (q, nc, h) = (self.q, self.nc, self.h_std);
        let mul = |a: &[f64], b: &[f64]| -> Vec<f64> {
            let mut c = vec![0.0; q * q];
            for (ci, ai) in c.chunks_exact_mut(q).zip(a.chunks_exact(q)) {
                for (aik, bk) in ai.iter().zip(b.chunks_exact(q)) {
                    for (cij, bkj) in ci.iter_mut().zip(bk) {
                        *cij += aik * bkj;
                    }
                }
            }
            c
        };
        // I + scale·X
        let shifted = |x: &[f64], scale: f64| -> Vec<f64> {
            let mut out: Vec<f64> = x.iter().map(|v| v * scale).collect();
            for i in 0..q {
                out[i * q + i] += 1.0;
            }
            out
        };
        let squarings = if self.rho * h > 0.5 {
            (self.rho * h / 0.5).log2().ceil() as i32
        } else {
            0
        };
        let tau = h / 2f64.powi(squarings);
        let a: Vec<f64> = self.mq_rows.iter().map(|v| v * tau).collect();
        let mut psi = shifted(&vec![0.0; q * q], 0.0);
        for k in (1..TERMS).rev() {
            psi = shifted(&mul(&a, &psi), 1.0 / (k + 1) as f64);
        }
        let mut e = shifted(&mul(&a, &psi), 1.0);
        // F = Mc τ Ψ
        let mut f = vec![0.0; nc * q];
        for (fr, mr) in f.chunks_exact_mut(q).zip(self.mc_rows.chunks_exact(q)) {
            for (mk, pk) in mr.iter().zip(psi.chunks_exact(q)) {
                for (fj, pkj) in fr.iter_mut().zip(pk) {
                    *fj += tau * mk * pkj;
                }
            }
        }
        for _ in 0..squarings {
            let e_plus_i = shifted(&e, 1.0);
            let mut g = vec![0.0; nc * q];
            for (gr, fr) in g.chunks_exact_mut(q).zip(f.chunks_exact(q)) {
                for (fk, ek) in fr.iter().zip(e_plus_i.chunks_exact(q)) {
                    for (gj, ekj) in gr.iter_mut().zip(ek) {
                        *gj += fk * ekj;
                    }
                }
            }
            f = g;
            e = mul(&e, &e);
        }
        let mut step = Vec::with_capacity((q + nc + 2 * self.guards.len()) * q);
        step.extend_from_slice(&e);
        step.extend_from_slice(&f);
        for rows in [&self.guards, &self.guard_rates] {
            for g in rows {
                step.extend((0..q).map(|j| (0..q).map(|k| g[k] * e[k * q + j]).sum::<f64>()));
            }
        }
        self.step = step;
    }
}

/// Taylor data of one step from state p, normalised (v_k = p⁽ᵏ⁾/k!) and stored flat
/// (k-major); in a regime that is not affine also the running integrals' coefficients `c`
/// (same layout, row 0 zero). In an affine regime `c` is empty and the integrals come from
/// `Mc ∫p`.
struct Series {
    q: usize,
    /// Rows in use (the rest are zero).
    terms: usize,
    v: Vec<f64>,
    c: Vec<f64>,
    /// In a regime that is not affine: the stretch of time this series covers, so that the
    /// steps to the next outputs reuse it instead of expanding again.
    span: Option<Span>,
    /// The integrals' increments from the span's start to the end of the last step taken on
    /// it (where the next step on it starts).
    dc_from: Vec<f64>,
    /// Expansions made in regimes that are not affine (the Taylor steps of the statistics).
    expansions: usize,
    /// Of those, expansions whose whole span moved the state by less than `NL_QUIET`.
    quiet: usize,
}

/// Where a Taylor series was expanded and how far it holds.
#[derive(Debug, Clone, Copy)]
struct Span {
    /// Time of the expansion.
    t0: f64,
    /// Length of validity (the step-size rule).
    h: f64,
    seg: usize,
    regime: usize,
    /// First guard crossing in (0, h], from t0.
    crossing: Option<f64>,
    /// End of the last step taken on it: only a step that starts there continues on it.
    t_last: f64,
}

impl Series {
    /// Room for the series of an affine regime (see [`Series::set_affine`]).
    fn for_affine(q: usize) -> Self {
        Self {
            q,
            terms: 0,
            v: vec![0.0; q * TAYLOR_TERMS],
            c: Vec::new(),
            span: None,
            dc_from: Vec::new(),
            expansions: 0,
            quiet: 0,
        }
    }

    /// The series of an affine regime from p: v_k = Mq v_{k−1} / k (reuses the buffer).
    fn set_affine(&mut self, piece: &Piece, p: &[f64]) {
        let q = p.len();
        self.q = q;
        self.terms = TAYLOR_TERMS;
        self.v.resize(q * TAYLOR_TERMS, 0.0);
        let v = &mut self.v;
        v[..q].copy_from_slice(p);
        for k in 1..TAYLOR_TERMS {
            let (prev, next) = v.split_at_mut(k * q);
            let next = &mut next[..q];
            matvec(&piece.mq_rows, &prev[(k - 1) * q..], next);
            let inv = 1.0 / k as f64;
            for x in next.iter_mut() {
                *x *= inv;
            }
        }
    }

    /// Room for the series of a regime that is not affine (orders up to [`NL_ORDER`]).
    fn empty(q: usize, nc: usize) -> Self {
        Self {
            q,
            terms: 0,
            v: vec![0.0; q * (NL_ORDER + 1)],
            c: vec![0.0; nc * (NL_ORDER + 1)],
            span: None,
            dc_from: vec![0.0; nc],
            expansions: 0,
            quiet: 0,
        }
    }

    /// The series to `order` of the non-affine regime `r` at p (dynamic states, then the
    /// forcing generator's state), from the model's recursion; false when it has none here.
    fn fill(
        &mut self,
        pa: &dyn PiecewiseAffine,
        seg: &ForcingSegment,
        r: usize,
        p: &[f64],
        order: usize,
    ) -> bool {
        let (q, m) = (self.q, seg.w0.len());
        let nd = q - m;
        let order = order.min(NL_ORDER);
        self.span = None;
        self.v[..q].copy_from_slice(p);
        let mut lambda = [0.0; TAYLOR_TERMS];
        for k in 0..order {
            let (prev, next) = self.v.split_at_mut((k + 1) * q);
            let w = &prev[k * q + nd..(k + 1) * q];
            lambda[k] = seg.lambda.iter().zip(w).map(|(a, b)| a * b).sum();
            let inv = 1.0 / (k + 1) as f64;
            for (i, out) in next[nd..q].iter_mut().enumerate() {
                *out = (0..m).map(|j| seg.generator[(i, j)] * w[j]).sum::<f64>() * inv;
            }
        }
        self.terms = order + 1;
        pa.taylor(r, &lambda[..order], &mut self.v, q, &mut self.c, order)
    }

    /// A Taylor step length for this series (regimes that are not affine): the last two
    /// coefficients allow a truncation error of `NL_TOL` relative to the largest state.
    fn step_size(&self) -> f64 {
        let norm = |k: usize| {
            self.v[k * self.q..(k + 1) * self.q]
                .iter()
                .fold(0.0_f64, |m, x| m.max(x.abs()))
        };
        let eps = NL_TOL * norm(0).max(NL_FLOOR);
        let last = self.terms - 1;
        [last - 1, last]
            .into_iter()
            .filter(|&k| k > 0)
            .map(|k| {
                let nk = norm(k);
                if nk > 0.0 {
                    (eps / nk).powf(1.0 / k as f64)
                } else {
                    f64::INFINITY
                }
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// Coefficients of the guard's Taylor polynomial.
    fn guard_poly(&self, g: &[f64]) -> [f64; TAYLOR_TERMS] {
        let mut a = [0.0; TAYLOR_TERMS];
        for (ak, vk) in a
            .iter_mut()
            .zip(self.v.chunks_exact(self.q))
            .take(self.terms)
        {
            *ak = dot(g, vk);
        }
        a
    }

    /// p(τ) into `p`, c(τ) − c(0) into `dc`.
    fn state(&self, piece: &Piece, tau: f64, p: &mut [f64], dc: &mut [f64]) {
        p.fill(0.0);
        if !self.c.is_empty() {
            dc.fill(0.0);
            let nc = dc.len();
            let mut pow = 1.0; // τ^k
            for (vk, ck) in self
                .v
                .chunks_exact(self.q)
                .zip(self.c.chunks_exact(nc))
                .take(self.terms)
            {
                for (pi, x) in p.iter_mut().zip(vk) {
                    *pi += pow * x;
                }
                for (di, x) in dc.iter_mut().zip(ck) {
                    *di += pow * x;
                }
                pow *= tau;
            }
            return;
        }
        let (mut stack, mut heap) = ([0.0; 16], Vec::new());
        let integral = scratch(&mut stack, &mut heap, self.q);
        let mut pow = 1.0; // τ^k
        for (k, vk) in self.v.chunks_exact(self.q).enumerate().take(self.terms) {
            let b = pow * tau / (k + 1) as f64;
            for ((pi, ii), x) in p.iter_mut().zip(integral.iter_mut()).zip(vk) {
                *pi += pow * x;
                *ii += b * x;
            }
            pow *= tau;
        }
        matvec(&piece.mc_rows, integral, dc);
    }
}

/// The first time in (0, h] where a guard polynomial turns negative: it is sampled at `SCAN`
/// points (with its derivative), and between two samples where the derivative turns from
/// negative to positive the minimum is located (a root of the derivative) and checked too, so
/// that a narrow dip between samples is not missed. Refined to machine precision.
fn first_root(a: &[f64; TAYLOR_TERMS], terms: usize, h: f64) -> Option<f64> {
    let taus: [f64; SCAN] = std::array::from_fn(|j| h * (j + 1) as f64 / SCAN as f64);
    // Values and derivatives at every sample: SCAN independent Horner chains.
    let (mut val, mut der) = ([0.0; SCAN], [0.0; SCAN]);
    for c in a.iter().take(terms).rev() {
        for ((v, d), t) in val.iter_mut().zip(der.iter_mut()).zip(&taus) {
            *d = *d * t + *v;
            *v = *v * t + c;
        }
    }
    let mut deriv = [0.0; TAYLOR_TERMS];
    for k in 1..terms {
        deriv[k - 1] = -(k as f64) * a[k]; // −g′, so that a minimum is where it turns negative
    }
    let (mut lo, mut d_lo) = (0.0, a[1]);
    for j in 0..SCAN {
        if val[j] < 0.0 {
            return Some(refine_root(a, lo, taus[j]));
        }
        if d_lo < 0.0 && der[j] > 0.0 {
            let t_min = refine_root(&deriv, lo, taus[j]);
            let g_min = a.iter().take(terms).rev().fold(0.0, |v, c| v * t_min + c);
            if g_min < 0.0 {
                return Some(refine_root(a, lo, t_min));
            }
        }
        (lo, d_lo) = (taus[j], der[j]);
    }
    None
}

/// The first sign change of any guard on the series in (0, h].
fn first_crossing(series: &Series, guards: &[Vec<f64>], h: f64) -> Option<f64> {
    guards
        .iter()
        .filter_map(|g| first_root(&series.guard_poly(g), series.terms, h))
        .min_by(f64::total_cmp)
}

/// Whether a guard may change sign inside a step, from its values and rates at both ends:
/// negative at the end, or its rate turns from negative to positive with too little margin.
fn suspect(ga: f64, gb: f64, sa: f64, sb: f64, h: f64) -> bool {
    gb < 0.0 || (sa < 0.0 && sb > 0.0 && ga.min(gb) < 0.5 * (sa.abs() + sb.abs()) * h)
}

/// One Taylor step in a regime that is not affine, from p at t over at most `remaining`:
/// writes the state and the integrals' increments at its end, or at the first guard crossing.
/// A series covers as long a stretch as its step-size rule allows, often several output
/// intervals; a step that continues where the last one on it ended reuses it (the polynomial
/// is its own dense output). Returns the step length and whether it ends on a crossing;
/// `None` when the model has no series here.
#[allow(clippy::too_many_arguments)] // one step's inputs and outputs, passed explicitly
fn taylor_step(
    pa: &dyn PiecewiseAffine,
    seg: (usize, &ForcingSegment),
    r: usize,
    piece: &Piece,
    series: &mut Series,
    t: f64,
    p: &[f64],
    remaining: f64,
    p_next: &mut [f64],
    dc: &mut [f64],
) -> Option<(f64, bool)> {
    let continues = series.span.is_some_and(|sp| {
        // bit-identical: the loop advanced t by exactly the last step taken on this series
        sp.seg == seg.0
            && sp.regime == r
            && sp.t_last.to_bits() == t.to_bits()
            && t - sp.t0 < sp.h * (1.0 - 1e-12)
    });
    if !continues {
        if !series.fill(pa, seg.1, r, p, NL_ORDER) {
            return None;
        }
        series.expansions += 1;
        // (A series whose higher coefficients all vanish is a polynomial; cap its span so
        // that τ^k stays finite.)
        let h = series.step_size().min(NL_SPAN_MAX);
        // A span over which the state barely moves means its length is set by fast modes
        // that have died out: the regime is stiff for an explicit series.
        let (q, mut change, mut size, mut pow) = (series.q, 0.0_f64, NL_FLOOR, 1.0);
        let mut moved = [0.0; 64];
        for (k, vk) in series.v.chunks_exact(q).enumerate().take(series.terms) {
            for (i, x) in vk.iter().enumerate().take(moved.len()) {
                if k == 0 {
                    size = size.max(x.abs());
                } else {
                    moved[i] += pow * x;
                }
            }
            pow *= h;
        }
        for m in moved.iter().take(q) {
            change = change.max(m.abs());
        }
        if change < NL_QUIET * size {
            series.quiet += 1;
        }
        let horner = |a: &[f64; TAYLOR_TERMS]| {
            let (mut v, mut d) = (0.0, 0.0);
            for c in a.iter().take(series.terms).rev() {
                d = d * h + v;
                v = v * h + c;
            }
            (v, d)
        };
        // Only a guard that may change sign (`suspect`) is scanned, as when none may.
        let crossing = piece
            .guards
            .iter()
            .filter_map(|g| {
                let a = series.guard_poly(g);
                let (gb, sb) = horner(&a);
                suspect(a[0], gb, a[1], sb, h)
                    .then(|| first_root(&a, series.terms, h))
                    .flatten()
            })
            .min_by(f64::total_cmp);
        series.span = Some(Span {
            t0: t,
            h,
            seg: seg.0,
            regime: r,
            crossing,
            t_last: t,
        });
    }
    let sp = series.span?;
    let tau_a = t - sp.t0;
    let mut tau_b = (tau_a + remaining).min(sp.h);
    let crossed = match sp.crossing {
        Some(tc) if tc <= tau_b => {
            tau_b = tc;
            true
        }
        _ => false,
    };
    // The integrals' increment from t0 to τ_a was kept by the last step on this span.
    let mut dc_from = std::mem::take(&mut series.dc_from);
    if tau_a <= 0.0 {
        dc_from.fill(0.0);
    }
    series.state(piece, tau_b, p_next, dc);
    for (d, a) in dc.iter_mut().zip(dc_from.iter_mut()) {
        let from_t0 = *d;
        *d -= *a;
        *a = from_t0;
    }
    series.dc_from = dc_from;
    let h = tau_b - tau_a;
    series.span = if crossed {
        None
    } else {
        Some(Span {
            t_last: t + h,
            ..sp
        })
    };
    Some((h, crossed))
}

/// A zeroed work slice of length n: on the stack when it fits, else on the heap.
fn scratch<'a>(stack: &'a mut [f64; 16], heap: &'a mut Vec<f64>, n: usize) -> &'a mut [f64] {
    if n <= stack.len() {
        &mut stack[..n]
    } else {
        heap.resize(n, 0.0);
        heap
    }
}

/// The first root of the Taylor polynomial `a` in `(lo, hi]`, where `a(lo) ≥ 0 > a(hi)`:
/// safeguarded Newton (bisection whenever a Newton step leaves the bracket), to machine
/// precision. Returns the converged root (the regime picker decides sides within rounding by
/// the direction of motion), or the last point found with `a < 0`.
fn refine_root(a: &[f64; TAYLOR_TERMS], mut lo: f64, mut hi: f64) -> f64 {
    let mut x = hi;
    for _ in 0..100 {
        // value and derivative by one Horner pass
        let (mut v, mut d) = (0.0, 0.0);
        for c in a.iter().rev() {
            d = d * x + v;
            v = v * x + c;
        }
        if v < 0.0 {
            hi = x;
        } else {
            lo = x;
        }
        let newton = x - v / d;
        let next = if d != 0.0 && newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
        if (next - x).abs() <= 4.0 * f64::EPSILON * hi.abs() {
            return next;
        }
        if hi - lo <= 4.0 * f64::EPSILON * hi.abs() {
            return hi;
        }
        x = next;
    }
    hi
}

struct Solver<'a> {
    /// The dynamics of each phase (the model's time events split them, [`split_at_events`]).
    pas: Vec<&'a dyn PiecewiseAffine>,
    segs: Vec<ForcingSegment>,
    /// The phase of each forcing segment.
    phases: Vec<usize>,
    nd: usize,
    nc: usize,
    regimes: usize,
    grid_h: f64,
    pieces: Vec<Option<Piece>>,
    /// Each regime's guards (as in its piece), for `pick_regime` to rule regimes out without
    /// building their pieces.
    guards: Vec<Option<Vec<Vec<f64>>>>,
    /// Work space of the Taylor series in regimes that are not affine.
    series: Option<Series>,
    /// Work space of `motion`: its first and second coefficients.
    motion: (Vec<f64>, Vec<f64>),
}

impl<'a> Solver<'a> {
    /// The dynamics in force in forcing segment `seg`.
    fn pa(&self, seg: usize) -> &'a dyn PiecewiseAffine {
        self.pas[self.phases[seg]]
    }

    fn piece(&mut self, seg: usize, r: usize) -> &mut Piece {
        let i = seg * self.regimes + r;
        if self.pieces[i].is_none() {
            let guards = self.guards(seg, r).to_vec();
            self.pieces[i] = Some(Piece::new(
                self.pa(seg),
                &self.segs[seg],
                r,
                self.nd,
                self.nc,
                self.grid_h,
                guards,
            ));
        }
        // Invariant: filled just above.
        self.pieces[i].as_mut().expect("piece was just built")
    }

    /// Regime r's guard vectors in forcing segment `seg`, computed once per solve.
    fn guards(&mut self, seg: usize, r: usize) -> &[Vec<f64>] {
        let i = seg * self.regimes + r;
        let (pa, nd, m) = (self.pa(seg), self.nd, self.segs[seg].w0.len());
        self.guards[i].get_or_insert_with(|| guard_vectors(pa, r, nd, m))
    }

    /// The first and second Taylor coefficients of the motion from p in regime r (up to
    /// positive factors) into `self.motion`; false when a non-affine regime has no series there.
    fn motion(&mut self, seg: usize, r: usize, p: &[f64]) -> bool {
        let q = p.len();
        let nc = self.nc;
        self.piece(seg, r);
        let i = seg * self.regimes + r;
        let Some(piece) = self.pieces[i].as_ref() else {
            return false;
        };
        let (a1, a2) = &mut self.motion;
        a1.resize(q, 0.0);
        a2.resize(q, 0.0);
        if piece.affine {
            matvec(&piece.mq_rows, p, a1);
            matvec(&piece.mq_rows, a1, a2);
            return true;
        }
        let pa = self.pas[self.phases[seg]];
        let series = self.series.get_or_insert_with(|| Series::empty(q, nc));
        if !series.fill(pa, &self.segs[seg], r, p, 2) {
            return false;
        }
        a1.copy_from_slice(&series.v[q..2 * q]);
        a2.copy_from_slice(&series.v[2 * q..3 * q]);
        true
    }

    /// The regime in force at p, decided by the guards and, on a boundary, by the direction of
    /// motion (the vector field is continuous, so the rate of a boundary guard is the same in
    /// every adjacent regime; its second derivative breaks ties).
    fn pick_regime(&mut self, seg: usize, p: &[f64]) -> usize {
        // Regimes ruled out by a guard, by how far out: the least violated one is used when no
        // regime is consistent (a state a rounding error outside every regime).
        let mut out: Vec<(f64, usize)> = Vec::new();
        let mut first_candidate = None;
        for r in 0..self.regimes {
            if !self.pa(seg).regime_available(r) {
                continue;
            }
            // Guard values first: a regime with a guard clearly negative is out without
            // building its piece or computing its motion (a Taylor series where classes
            // share the upload).
            self.guards(seg, r);
            let i = seg * self.regimes + r;
            let mut worst = f64::INFINITY;
            let mut consistent = true;
            let mut boundary = false;
            for g in self.guards[i].iter().flatten() {
                let scale = magnitude(g, p);
                let tol = 1e-11 * scale;
                let val = dot(g, p);
                worst = worst.min(val / scale);
                if val < -tol {
                    consistent = false;
                    break;
                }
                boundary |= val <= tol;
            }
            // Once a regime is chosen, only one with p strictly inside can replace it: a later
            // regime with p on its boundary needs no motion.
            if first_candidate.is_some() && boundary {
                continue;
            }
            // On a boundary the direction of motion decides; a regime without a series at p
            // (no motion) is never chosen. Strictly inside a regime that is not affine the
            // series exists (the trait's contract), so its motion is not needed there.
            if consistent && boundary && !self.motion(seg, r, p) {
                continue;
            }
            if consistent && boundary {
                let (a1, a2) = &self.motion;
                let Some(piece) = self.pieces[seg * self.regimes + r].as_ref() else {
                    continue;
                };
                for g in &piece.guards {
                    let scale = magnitude(g, p);
                    if dot(g, p) > 1e-11 * scale {
                        continue;
                    }
                    let rate = dot(g, a1);
                    let rate_scale = magnitude(g, a1);
                    let rtol = 1e-11 * rate_scale;
                    if rate < -rtol || (rate <= rtol && dot(g, a2) < 0.0) {
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
            } else {
                out.push((worst, r));
            }
        }
        if let Some(r) = first_candidate {
            return r;
        }
        out.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (_, r) in out {
            if self.piece(seg, r).affine || self.motion(seg, r, p) {
                return r;
            }
        }
        0
    }
}

/// The common case at full speed: standard steps (a whole number of them per output interval)
/// in one regime and one forcing segment, while no guard could change sign. Fixed sizes let
/// the compiler unroll the mat-vecs. Advances `p`, `c`, the output index `i`, the time `t`
/// and the trajectory; returns when the next step is not such a step (the general loop then
/// takes it from `t`, which may lie between outputs).
///
/// Once a step leaves the state where it was (to rounding: every row changes by at most 4 ε
/// times the sum of its terms' magnitudes), the state is a fixed point of the regime with constant forcing: every
/// later step repeats it, so the remaining outputs of the segment are written without
/// stepping (the running integrals grow by the same increment each step). This makes the
/// cost of a settled swarm independent of the horizon.
#[allow(clippy::too_many_arguments)] // the solver's loop state, passed explicitly
fn fast_steps<const Q: usize, const NC: usize, const ND: usize>(
    piece: &Piece,
    p: &mut [f64],
    c: &mut [f64],
    i: &mut usize,
    t: &mut f64,
    points: usize,
    t_end: f64,
    seg_end: f64,
    nd: usize,
    traj: &mut Trajectory,
    steps: &mut usize,
    max_steps: usize,
) -> bool {
    let ng = piece.guards.len();
    if ng > 2
        || p.len() != Q
        || c.len() != NC
        || nd != ND
        || ND > Q
        || piece.step.len() != (Q + NC + 2 * ng) * Q
    {
        return false;
    }
    // The regime's closed form, when it has one: every 32nd step asks whether the guards are
    // now certain to hold to the end of the segment (then the caller finishes from the
    // closed form).
    let modal = piece.modal.as_ref().and_then(Option::as_ref);
    let span_end = seg_end.min(t_end);
    let mut certified = false;
    let row = |r: usize| -> [f64; Q] {
        let mut a = [0.0; Q];
        a.copy_from_slice(&piece.step[r * Q..(r + 1) * Q]);
        a
    };
    let e: [[f64; Q]; Q] = std::array::from_fn(row);
    let f: [[f64; Q]; NC] = std::array::from_fn(|r| row(Q + r));
    let ge: [[f64; Q]; 4] = std::array::from_fn(|r| {
        if r < 2 * ng {
            row(Q + NC + r)
        } else {
            [0.0; Q]
        }
    });
    let gv: [[f64; Q]; 4] = std::array::from_fn(|r| {
        let src = if r < ng {
            piece.guards.get(r)
        } else {
            piece.guard_rates.get(r.wrapping_sub(ng))
        };
        let mut a = [0.0; Q];
        if r < 2 * ng {
            if let Some(v) = src {
                a.copy_from_slice(v);
            }
        }
        a
    });
    let dotq = |a: &[f64; Q], b: &[f64; Q]| {
        let mut s = 0.0;
        for j in 0..Q {
            s += a[j] * b[j];
        }
        s
    };
    let mut pv = [0.0; Q];
    pv.copy_from_slice(p);
    let mut cv = [0.0; NC];
    cv.copy_from_slice(c);
    let h = piece.h_std;
    // Guard values and rates at the start of the step; each step's end values (ĝᵀE p) become
    // the next step's start values, so only two dot products per guard are needed.
    let mut start: [f64; 4] =
        std::array::from_fn(|r| if r < 2 * ng { dotq(&gv[r], &pv) } else { 0.0 });
    let mut fixed = false;
    // The integrals' increment of every step once at a fixed point (F p = Mc p h).
    let mut dcv = [0.0; NC];
    let mut done = false;
    // Standard steps per output interval (h divides it, `Piece::new`).
    let per_output = (t_end / points as f64 / h).round().max(1.0);
    // Whether t is an output time (then the next output is `per_output` steps away).
    // (Bit-equal: the loops set t to an output time by assignment, never by arithmetic.)
    let mut on_grid = *i > 0 && t.to_bits() == (t_end * (*i - 1) as f64 / points as f64).to_bits();
    while *i <= points && !done {
        let target = t_end * *i as f64 / points as f64;
        if target > seg_end {
            break;
        }
        // Whole standard steps from t to the output, and whether they land on it (after a
        // regime switch t is off the grid's lattice: the general loop takes the short rest).
        let (whole, lands) = if on_grid {
            (per_output, true)
        } else {
            let left = target - *t;
            let whole = (left / h + 1e-9).floor().max(0.0);
            (whole, (left - whole * h).abs() <= 1e-9 * h.max(*t))
        };
        let t0 = *t;
        let mut k = 0.0;
        while !fixed && k < whole {
            if *steps > max_steps {
                done = true;
                break;
            }
            if steps.is_multiple_of(32) {
                if let Some(m) = modal {
                    if m.holds(&pv, span_end - (t0 + k * h)) {
                        certified = true;
                        done = true;
                        break;
                    }
                }
            }
            let end: [f64; 4] =
                std::array::from_fn(|r| if r < 2 * ng { dotq(&ge[r], &pv) } else { 0.0 });
            let suspect = (0..ng).any(|j| {
                let (ga, gb, sa, sb) = (start[j], end[j], start[ng + j], end[ng + j]);
                gb < 0.0 || (sa < 0.0 && sb > 0.0 && ga.min(gb) < 0.5 * (sa.abs() + sb.abs()) * h)
            });
            if suspect {
                done = true;
                break;
            }
            let pn: [f64; Q] = std::array::from_fn(|r| dotq(&e[r], &pv));
            for (ci, fr) in cv.iter_mut().zip(&f) {
                *ci += dotq(fr, &pv);
            }
            // (A non-finite value persists through every later step and is caught at the end.)
            // Fixed to rounding: each row changes by no more than its own rounding error,
            // 4 ε Σ_k |E_jk p_k| (checked every 32nd step; a cheap test on the largest state
            // first).
            if steps.is_multiple_of(32) {
                let scale = pv.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
                fixed = pn
                    .iter()
                    .zip(&pv)
                    .all(|(a, b)| (a - b).abs() <= 4.0 * f64::EPSILON * scale)
                    && (0..Q).all(|r| {
                        let bound: f64 = (0..Q).map(|c| (e[r][c] * pv[c]).abs()).sum();
                        (pn[r] - pv[r]).abs() <= 4.0 * f64::EPSILON * bound
                    });
                if fixed {
                    // Every later step adds the same increment.
                    for (d, fr) in dcv.iter_mut().zip(&f) {
                        *d = dotq(fr, &pn);
                    }
                }
            }
            start = end;
            pv = pn;
            *steps += 1;
            k += 1.0;
        }
        *t = t0 + k * h;
        if done {
            break;
        }
        if fixed {
            // The state stays; the integrals grow linearly to the output.
            let rest = (target - *t) / h;
            for (ci, d) in cv.iter_mut().zip(&dcv) {
                *ci += rest * d;
            }
        } else if !lands {
            // The general loop takes the short step left to the output.
            break;
        }
        let head: [f64; ND] = std::array::from_fn(|r| pv[r]);
        traj.push_fixed::<ND, NC>(target, &head, &cv);
        *t = target;
        *i += 1;
        on_grid = true;
    }
    p.copy_from_slice(&pv);
    c.copy_from_slice(&cv);
    certified
}

/// Evenly spaced outputs i..=last by one step matrix `rows` = [E; F] (q columns): p ← E p,
/// c ← c + F p. Fixed sizes for one class (two dynamic states, seven integrals) let the
/// compiler unroll the products.
#[allow(clippy::too_many_arguments)] // the solver's loop state, passed explicitly
fn walk(
    rows: &[f64],
    p: &mut [f64],
    c: &mut [f64],
    i: &mut usize,
    last: usize,
    s: &SolverSettings,
    nd: usize,
    traj: &mut Trajectory,
) {
    fn fixed<const Q: usize, const NC: usize>(
        rows: &[f64],
        p: &mut [f64],
        c: &mut [f64],
        i: &mut usize,
        last: usize,
        s: &SolverSettings,
        traj: &mut Trajectory,
    ) {
        let row = |r: usize| -> [f64; Q] { std::array::from_fn(|j| rows[r * Q + j]) };
        let e: [[f64; Q]; Q] = std::array::from_fn(row);
        let f: [[f64; Q]; NC] = std::array::from_fn(|r| row(Q + r));
        let mut pv: [f64; Q] = std::array::from_fn(|j| p[j]);
        let mut cv: [f64; NC] = std::array::from_fn(|j| c[j]);
        while *i <= last {
            for (cr, fr) in cv.iter_mut().zip(&f) {
                *cr += (0..Q).map(|j| fr[j] * pv[j]).sum::<f64>();
            }
            pv = std::array::from_fn(|r| (0..Q).map(|j| e[r][j] * pv[j]).sum());
            let head: [f64; 2] = [pv[0], pv[1]];
            traj.push_fixed::<2, NC>(s.t_end * *i as f64 / s.points as f64, &head, &cv);
            *i += 1;
        }
        p.copy_from_slice(&pv);
        c.copy_from_slice(&cv);
    }
    match (p.len(), c.len(), nd) {
        (3, 7, 2) => fixed::<3, 7>(rows, p, c, i, last, s, traj),
        (4, 7, 2) => fixed::<4, 7>(rows, p, c, i, last, s, traj),
        (5, 7, 2) => fixed::<5, 7>(rows, p, c, i, last, s, traj),
        _ => {
            let q = p.len();
            let (e, f) = rows.split_at(q * q);
            let mut next = vec![0.0; q];
            let mut dc = vec![0.0; c.len()];
            while *i <= last {
                matvec(f, p, &mut dc);
                matvec(e, p, &mut next);
                p.copy_from_slice(&next);
                for (ci, d) in c.iter_mut().zip(&dc) {
                    *ci += d;
                }
                traj.push_parts(s.t_end * *i as f64 / s.points as f64, &p[..nd], c);
                *i += 1;
            }
        }
    }
}

/// If the state is not finite, the error at the first output row that is not (a non-finite
/// value cannot vanish through the dense products that produced the rows).
fn first_non_finite(p: &[f64], c: &[f64], traj: &Trajectory) -> Result<(), SolveError> {
    if p.iter().chain(c).all(|v| v.is_finite()) {
        return Ok(());
    }
    let k = traj
        .states()
        .position(|z| z.iter().any(|v| !v.is_finite()))
        .unwrap_or(traj.t.len() - 1);
    Err(SolveError::NonFinite { t: traj.t[k] })
}

/// Count a regime switch at t; past [`MAX_SWITCHES`] the solve is chattering.
fn count_switch(stats: &mut SolveStats, t: f64) -> Result<(), SolveError> {
    stats.regime_switches += 1;
    if stats.regime_switches > MAX_SWITCHES {
        return Err(SolveError::TooManySwitches {
            t,
            switches: stats.regime_switches,
            limit: MAX_SWITCHES,
        });
    }
    Ok(())
}

/// The forcing segments split at the model's time events (each event starts a segment whose
/// generator state is carried there, w(t_e) = exp(G (t_e − start)) w(start)), and the phase of
/// each segment (the number of events at or before its start). Without events: the segments
/// as they are, all in phase 0.
fn split_at_events(segs: Vec<ForcingSegment>, events: &[f64]) -> (Vec<ForcingSegment>, Vec<usize>) {
    if events.is_empty() {
        let n = segs.len();
        return (segs, vec![0; n]);
    }
    let mut out: Vec<ForcingSegment> = Vec::with_capacity(segs.len() + events.len());
    for (i, seg) in segs.iter().enumerate() {
        let end = segs.get(i + 1).map_or(f64::INFINITY, |nx| nx.start);
        out.push(seg.clone());
        for &te in events.iter().filter(|&&te| te > seg.start && te < end) {
            let w0 = (&seg.generator * (te - seg.start)).exp() * &seg.w0;
            out.push(ForcingSegment {
                start: te,
                generator: seg.generator.clone(),
                w0,
                lambda: seg.lambda.clone(),
            });
        }
    }
    let phases = out
        .iter()
        .map(|sg| events.iter().filter(|&&te| te <= sg.start).count())
        .collect();
    (out, phases)
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
    // A time event (the flash-crowd bound's gate) starts a forcing segment in its phase.
    let events = model.time_events();
    let (segs, phases) = split_at_events(pa.arrival().forcing_segments(), &events);
    let boxes: Vec<Option<Box<dyn PiecewiseAffine + '_>>> =
        (0..=events.len()).map(|p| pa.phase(p)).collect();
    let pas: Vec<&dyn PiecewiseAffine> = boxes
        .iter()
        .map(|b| match b {
            Some(b) => b.as_ref(),
            None => pa,
        })
        .collect();
    let regimes = pa.regime_count();
    let grid_h = s.t_end / s.points as f64;
    let mut sv = Solver {
        pas,
        phases,
        pieces: (0..segs.len() * regimes).map(|_| None).collect(),
        guards: vec![None; segs.len() * regimes],
        segs,
        nd,
        nc,
        regimes,
        grid_h,
        series: None,
        motion: (Vec::new(), Vec::new()),
    };
    let mut stats = SolveStats {
        method: "exact",
        ..SolveStats::default()
    };
    let z0 = model.initial_state();
    let mut seg = 0;
    let mut p: Vec<f64> = z0.as_slice()[..nd]
        .iter()
        .chain(sv.segs[0].w0.iter())
        .copied()
        .collect();
    let mut c: Vec<f64> = z0.as_slice()[nd..].to_vec();
    let mut regime = sv.pick_regime(seg, &p);
    let mut p_next = p.clone();
    let mut dc = c.clone();
    let mut aser = Series::for_affine(p.len());
    let mut traj = Trajectory::with_capacity(n, s.points, SolveStats::default());
    traj.push_parts(0.0, &p[..nd], &c);
    let mut t = 0.0;

    let mut i = 1;
    // Whether to try the fast path (at an output, or after a general standard step that the
    // step matrix took without a guard in sight).
    let mut try_fast = true;
    while i <= s.points {
        // Fast path: standard steps on the grid's lattice with the step matrix ready.
        if try_fast {
            try_fast = false;
            let seg_end = sv.segs.get(seg + 1).map_or(f64::INFINITY, |nx| nx.start);
            // Closed form (one class, exponential forcing): from here either no guard changes
            // sign before the segment ends, and every output up to there comes from it at a
            // cost that does not grow with the horizon, or the first guard crossing is located
            // on it and the state jumps there (one closed form per regime visited).
            let span_end = seg_end.min(s.t_end);
            let snap = 1e-12 * span_end.max(grid_h);
            let next = if span_end - t > snap {
                sv.piece(seg, regime).next(nd, &p, &c, span_end - t)
            } else {
                Next::Unknown
            };
            let jump = match next {
                Next::Holds(st) => Some((st, span_end, false)),
                Next::Leaves(tau, st) => Some((st, t + tau, true)),
                Next::Unknown => None,
            };
            if let Some((settled, upto, crossing)) = jump {
                let t0 = t;
                let dt = s.t_end / s.points as f64;
                let target_of = |k: usize| s.t_end * k as f64 / s.points as f64;
                let mut last = i - 1;
                while last < s.points && target_of(last + 1) <= upto + snap {
                    last += 1;
                }
                if i <= last {
                    // The first output from the closed form; the rest, evenly spaced, by the
                    // step matrix of one output interval (itself from the closed form).
                    let first = target_of(i);
                    settled.at(first - t0, &mut p, &mut c);
                    traj.push_parts(first, &p[..nd], &c);
                    t = first;
                    i += 1;
                    if i <= last {
                        let rows = sv
                            .piece(seg, regime)
                            .modal
                            .as_ref()
                            .and_then(Option::as_ref)
                            .and_then(|m| m.transfer(dt))
                            .ok_or(SolveError::NonFinite { t })?;
                        walk(&rows, &mut p, &mut c, &mut i, last, s, nd, &mut traj);
                        t = target_of(i - 1);
                    }
                    // Non-finite values persist through the products: the first row shows
                    // where they began.
                    first_non_finite(&p, &c, &traj)?;
                }
                stats.steps += 1;
                if crossing {
                    settled.at(upto - t0, &mut p, &mut c);
                    t = upto;
                    count_switch(&mut stats, t)?;
                    regime = sv.pick_regime(seg, &p);
                } else {
                    if i <= s.points && span_end - t > snap {
                        // The segment ends between outputs: the general loop changes segment
                        // there.
                        settled.at(span_end - t0, &mut p, &mut c);
                        t = span_end;
                    }
                    stats.settled += 1;
                }
                if p.iter().chain(c.iter()).any(|v| !v.is_finite()) {
                    return Err(SolveError::NonFinite { t });
                }
                try_fast = true;
                continue;
            }
            let piece = sv.piece(seg, regime);
            if !piece.step.is_empty() {
                let before = i;
                // One monomorphised fast loop per block size: one to four classes (running
                // integrals 4K + 3, dynamic states 2K, pushed as fixed-size rows) with each
                // arrival profile's generator (1 to 3 states).
                macro_rules! fast {
                    ($q:literal, $nc:literal, $nd:literal) => {
                        fast_steps::<$q, $nc, $nd>(
                            piece,
                            &mut p,
                            &mut c,
                            &mut i,
                            &mut t,
                            s.points,
                            s.t_end,
                            seg_end,
                            nd,
                            &mut traj,
                            &mut stats.steps,
                            s.max_steps,
                        )
                    };
                }
                let certified = match (p.len(), c.len()) {
                    (3, 7) => fast!(3, 7, 2),
                    (4, 7) => fast!(4, 7, 2),
                    (5, 7) => fast!(5, 7, 2),
                    (5, 11) => fast!(5, 11, 4),
                    (6, 11) => fast!(6, 11, 4),
                    (7, 11) => fast!(7, 11, 4),
                    (7, 15) => fast!(7, 15, 6),
                    (8, 15) => fast!(8, 15, 6),
                    (9, 15) => fast!(9, 15, 6),
                    (9, 19) => fast!(9, 19, 8),
                    (10, 19) => fast!(10, 19, 8),
                    (11, 19) => fast!(11, 19, 8),
                    _ => false,
                };
                if i > before || certified {
                    try_fast = true;
                    continue;
                }
                // Stopped inside an output interval, or not started: the general loop goes on
                // from t.
            }
        }
        let target = s.t_end * i as f64 / s.points as f64;
        let snap = 1e-12 * target.max(grid_h);
        while target - t > snap {
            // Forcing segment boundary (trace breakpoints): restart the generator state.
            if let Some(next) = sv.segs.get(seg + 1) {
                if next.start <= t + snap {
                    seg += 1;
                    p.truncate(nd);
                    p.extend(sv.segs[seg].w0.iter());
                    p_next = p.clone();
                    regime = sv.pick_regime(seg, &p);
                    continue;
                }
            }
            let stop = sv
                .segs
                .get(seg + 1)
                .map_or(target, |nx| target.min(nx.start));
            let remaining = stop - t;
            sv.piece(seg, regime);
            let piece_ix = seg * sv.regimes + regime;
            // Invariant: built just above.
            let piece = sv.pieces[piece_ix].as_mut().expect("piece was just built");
            let (h, crossing, by_matrix) =
                if !piece.affine {
                    let (expansions, quiet) = sv
                        .series
                        .as_ref()
                        .map_or((0, 0), |x| (x.expansions, x.quiet));
                    if expansions > NL_MAX_STEPS || quiet > NL_QUIET_MAX {
                        return Err(SolveError::SeriesUnavailable {
                            t,
                            reason: format!(
                                "{expansions} Taylor expansions in a nonlinear regime, {quiet} of \
                                 them over spans where the state barely moves (too stiff for an \
                                 explicit series)"
                            ),
                        });
                    }
                    let series = sv.series.get_or_insert_with(|| Series::empty(p.len(), nc));
                    let Some((h, crossed)) = taylor_step(
                        sv.pas[sv.phases[seg]],
                        (seg, &sv.segs[seg]),
                        regime,
                        piece,
                        series,
                        t,
                        &p,
                        remaining,
                        &mut p_next,
                        &mut dc,
                    ) else {
                        return Err(SolveError::SeriesUnavailable {
                            t,
                            reason: format!(
                                "no Taylor series in regime '{}' at this state",
                                sv.pa(seg).regime_label(regime)
                            ),
                        });
                    };
                    (h, crossed.then_some(h), false)
                } else {
                    let standard = remaining >= piece.h_std * (1.0 - 1e-9);
                    let h = if standard {
                        piece.h_std.min(remaining)
                    } else {
                        remaining.min(piece.h_max())
                    };
                    if standard && piece.step.is_empty() && piece.uses >= LAZY_STEPS {
                        piece.exponential();
                        stats.matrix_exponentials += 1;
                    }
                    let q = p.len();
                    let ng = piece.guards.len().min(4);
                    let mut ends = [0.0_f64; 8]; // guard values then rates at t + h (ng ≤ 4)
                    let by_matrix = standard && !piece.step.is_empty();
                    if by_matrix {
                        let (e, rest) = piece.step.split_at(q * q);
                        let (f, g) = rest.split_at(q * nc);
                        matvec(e, &p, &mut p_next);
                        matvec(f, &p, &mut dc);
                        matvec(g, &p, &mut ends[..2 * ng]);
                        piece.uses += 1;
                    } else {
                        aser.set_affine(piece, &p);
                        aser.state(piece, h, &mut p_next, &mut dc);
                        for (j, (g, gr)) in piece.guards.iter().zip(&piece.guard_rates).enumerate()
                        {
                            ends[j] = dot(g, &p_next);
                            ends[ng + j] = dot(gr, &p_next);
                        }
                        piece.uses += usize::from(standard);
                    }
                    // Could a guard change sign inside (0, h]?
                    let maybe = piece.guards.iter().zip(&piece.guard_rates).enumerate().any(
                        |(j, (g, gr))| suspect(dot(g, &p), ends[j], dot(gr, &p), ends[ng + j], h),
                    );
                    let mut crossing = None;
                    if maybe {
                        if by_matrix {
                            aser.set_affine(piece, &p);
                        }
                        if let Some(root) = first_crossing(&aser, &piece.guards, h) {
                            aser.state(piece, root, &mut p_next, &mut dc);
                            crossing = Some(root);
                        }
                    }
                    (h, crossing, by_matrix)
                };
            stats.steps += 1;
            if stats.steps > s.max_steps {
                let piece = sv.piece(seg, regime);
                return Err(SolveError::WorkBudget {
                    t,
                    t_end: s.t_end,
                    steps: stats.steps,
                    rate: piece.rho,
                    step: piece.h_max(),
                    hint: BUDGET_HINT,
                });
            }
            std::mem::swap(&mut p, &mut p_next);
            for (ci, d) in c.iter_mut().zip(&dc) {
                *ci += d;
            }
            match crossing {
                Some(tau) => {
                    t += tau;
                    count_switch(&mut stats, t)?;
                    regime = sv.pick_regime(seg, &p);
                }
                None => t += h,
            }
            if p.iter().chain(c.iter()).any(|v| !v.is_finite()) {
                return Err(SolveError::NonFinite { t });
            }
            if crossing.is_some() && target - t > snap {
                // A new regime: its closed form, if it has one, may take it from here.
                try_fast = true;
                break;
            }
            if by_matrix && crossing.is_none() && target - t > snap {
                // A standard step by the step matrix with no guard in sight: the fast path
                // may take the rest of the interval.
                try_fast = true;
                break;
            }
        }
        if target - t > snap {
            continue;
        }
        try_fast = true;
        t = target;
        traj.push_parts(target, &p[..nd], &c);
        i += 1;
    }
    // Every general step checks its state above. The fast path does not: there a non-finite
    // value cannot vanish again (each step is a dense product, and ±∞·0 is NaN), so it shows
    // in the final state, and only then is the trajectory searched for its first row.
    first_non_finite(&p, &c, &traj)?;
    let taylor_steps = sv.series.as_ref().map_or(0, |x| x.expansions);
    if taylor_steps > 0 {
        stats.method = "exact+taylor";
        stats.taylor_steps = taylor_steps;
    }
    traj.stats = stats;
    Ok(traj)
}
