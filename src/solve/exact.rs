//! Exact integration of a piecewise-affine model.
//!
//! State is split into the dynamic part `p` (feeds back, with the forcing generator `w`
//! appended, `w[0] ≡ 1`) and the running integrals `c`. In a regime,
//! `dp/dt = Mq p` and `dc/dt = Mc p`, so over a step h
//!
//! ```text
//! exp( [[Mq, 0], [Mc, 0]] h ) = [[E, 0], [F, I]],   p(t+h) = E p(t),   c(t+h) = c(t) + F p(t)
//! ```
//!
//! `E` and `F` are computed once per (regime, forcing segment) with nalgebra's Padé matrix
//! exponential and reused for every step of that regime. The first few steps in a regime use
//! the Taylor series below instead, so a regime crossed briefly never pays for an exponential.
//!
//! Steps are kept to `ρh ≤ 4` (ρ = the larger ∞-norm of the dynamic and forcing diagonal blocks
//! of Mq), so the solution over any step is also a 33-term Taylor series (truncation < 1e-15).
//! When a guard may change sign inside a step (its end value is negative, or its derivative
//! changes sign with too little margin), the series is scanned at 32 points for the first sign
//! change, which is refined by bisection to machine precision; the state moves to that instant
//! and the new regime is chosen by the direction of motion.

use nalgebra::{DMatrix, DVector};

use super::{SolveStats, SolverSettings, Trajectory};
use crate::error::SolveError;
use crate::model::{FluidModel, ForcingSegment, PiecewiseAffine};

/// Taylor terms for in-step evaluation (ρh ≤ 4 ⇒ 4^33/33! < 1e-16).
const TAYLOR_TERMS: usize = 33;
/// Largest ρh of one step.
const RHO_H_MAX: f64 = 4.0;
/// Samples per step when scanning for the first sign change of a guard.
const SCAN: usize = 32;
/// Regime switches allowed in one solve before we call it chattering.
const MAX_SWITCHES: usize = 100_000;
/// Standard steps taken by Taylor series in a regime before its exponential is computed.
const LAZY_STEPS: usize = 2;

/// y = A x for a row-major `rows × x.len()` matrix (fixed-size fast paths for small x).
fn matvec(a: &[f64], x: &[f64], y: &mut [f64]) {
    match x.len() {
        2 => matvec_n::<2>(a, x, y),
        3 => matvec_n::<3>(a, x, y),
        4 => matvec_n::<4>(a, x, y),
        5 => matvec_n::<5>(a, x, y),
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

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

struct Piece {
    mq: DMatrix<f64>,
    mc: DMatrix<f64>,
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
}

impl Piece {
    fn new(
        pa: &dyn PiecewiseAffine,
        seg: &ForcingSegment,
        r: usize,
        nd: usize,
        nc: usize,
        grid_h: f64,
    ) -> Self {
        let af = pa.affine(r);
        let m = seg.w0.len();
        let q = nd + m;
        let mut mq = DMatrix::zeros(q, q);
        let mut mc = DMatrix::zeros(nc, q);
        for i in 0..nd + nc {
            let mut put = |j: usize, v: f64| {
                if i < nd {
                    mq[(i, j)] += v;
                } else {
                    mc[(i - nd, j)] += v;
                }
            };
            for j in 0..nd {
                put(j, af.a[(i, j)]);
            }
            put(nd, af.b[i]);
            for j in 0..m {
                put(nd + j, af.arrival[i] * seg.lambda[j]);
            }
        }
        mq.view_mut((nd, nd), (m, m)).copy_from(&seg.generator);
        let guards: Vec<Vec<f64>> = pa
            .guards(r)
            .into_iter()
            .map(|g| {
                let mut v = vec![0.0; q];
                v[..nd].copy_from_slice(&g.w.as_slice()[..nd]);
                v[nd] += g.w0;
                v
            })
            .collect();
        let guard_rates = guards
            .iter()
            .map(|g| {
                (mq.transpose() * DVector::from_column_slice(g))
                    .as_slice()
                    .to_vec()
            })
            .collect();
        // Step bound from the dynamic block and the forcing generator; the coupling column only
        // scales the series, it does not slow its convergence.
        let block_norm = |r: std::ops::Range<usize>| {
            r.clone()
                .map(|i| r.clone().map(|j| mq[(i, j)].abs()).sum::<f64>())
                .fold(0.0, f64::max)
        };
        // The forcing generator enters by its spectral size, bounded by √‖G²‖∞: 0 for a ramp
        // (nilpotent, its series ends after two terms), ω for the daily cycle, 1/τ for decay.
        let g = seg.generator.clone();
        let g2 = &g * &g;
        let g_size = g2
            .row_iter()
            .map(|row| row.iter().map(|v| v.abs()).sum::<f64>())
            .fold(0.0, f64::max)
            .sqrt();
        let rho = block_norm(0..nd).max(g_size);
        let h_max = if rho > 0.0 {
            RHO_H_MAX / rho
        } else {
            f64::INFINITY
        };
        let h_std = grid_h / (grid_h / h_max).ceil().max(1.0);
        Self {
            mq_rows: mq.transpose().as_slice().to_vec(),
            mc_rows: mc.transpose().as_slice().to_vec(),
            mq,
            mc,
            rho,
            guards,
            guard_rates,
            h_std,
            step: Vec::new(),
            uses: 0,
        }
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
        let (q, nc, h) = (self.mq.nrows(), self.mc.nrows(), self.h_std);
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

    /// Fallback for large blocks: nalgebra's Padé exponential of the augmented matrix.
    fn exponential_general(&mut self) {
        let (q, nc, h) = (self.mq.nrows(), self.mc.nrows(), self.h_std);
        let mut aug = DMatrix::zeros(q + nc, q + nc);
        aug.view_mut((0, 0), (q, q)).copy_from(&(&self.mq * h));
        aug.view_mut((q, 0), (nc, q)).copy_from(&(&self.mc * h));
        let ex = aug.exp();
        let e = ex.view((0, 0), (q, q)).into_owned();
        let mut step: Vec<f64> = e.transpose().as_slice().to_vec();
        step.extend_from_slice(ex.view((q, 0), (nc, q)).transpose().as_slice());
        for rows in [&self.guards, &self.guard_rates] {
            for g in rows {
                let ge = e.transpose() * DVector::from_column_slice(g);
                step.extend_from_slice(ge.as_slice());
            }
        }
        self.step = step;
    }
}

/// 1/k! for k = 0..=TAYLOR_TERMS.
const INV_FACT: [f64; TAYLOR_TERMS + 1] = {
    let mut t = [1.0; TAYLOR_TERMS + 1];
    let mut k = 1;
    while k <= TAYLOR_TERMS {
        t[k] = t[k - 1] / k as f64;
        k += 1;
    }
    t
};

/// Taylor data of one step from state p: V_k = Mq^k p, stored flat (k-major).
struct Series {
    q: usize,
    v: Vec<f64>,
}

impl Series {
    fn new(piece: &Piece, p: &[f64]) -> Self {
        let q = p.len();
        let mut v = vec![0.0; q * TAYLOR_TERMS];
        v[..q].copy_from_slice(p);
        for k in 1..TAYLOR_TERMS {
            let (prev, next) = v.split_at_mut(k * q);
            matvec(&piece.mq_rows, &prev[(k - 1) * q..], &mut next[..q]);
        }
        Self { q, v }
    }
    /// Coefficients of the guard's Taylor polynomial: (ĝ·V_k)/k!.
    fn guard_poly(&self, g: &[f64]) -> [f64; TAYLOR_TERMS] {
        let mut a = [0.0; TAYLOR_TERMS];
        for (k, (ak, vk)) in a.iter_mut().zip(self.v.chunks_exact(self.q)).enumerate() {
            *ak = dot(g, vk) * INV_FACT[k];
        }
        a
    }
    /// p(τ) into `p`, c(τ) − c(0) into `dc`.
    fn state(&self, piece: &Piece, tau: f64, p: &mut [f64], dc: &mut [f64]) {
        let (mut stack, mut heap) = ([0.0; 16], Vec::new());
        let integral = scratch(&mut stack, &mut heap, self.q);
        p.fill(0.0);
        let mut pow = 1.0; // τ^k
        for (k, vk) in self.v.chunks_exact(self.q).enumerate() {
            let (a, b) = (pow * INV_FACT[k], pow * tau * INV_FACT[k + 1]);
            for ((pi, ii), x) in p.iter_mut().zip(integral.iter_mut()).zip(vk) {
                *pi += a * x;
                *ii += b * x;
            }
            pow *= tau;
        }
        matvec(&piece.mc_rows, integral, dc);
    }
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
    pa: &'a dyn PiecewiseAffine,
    segs: Vec<ForcingSegment>,
    nd: usize,
    nc: usize,
    regimes: usize,
    grid_h: f64,
    pieces: Vec<Option<Piece>>,
}

impl Solver<'_> {
    fn piece(&mut self, seg: usize, r: usize) -> &mut Piece {
        let i = seg * self.regimes + r;
        if self.pieces[i].is_none() {
            self.pieces[i] = Some(Piece::new(
                self.pa,
                &self.segs[seg],
                r,
                self.nd,
                self.nc,
                self.grid_h,
            ));
        }
        // Invariant: filled just above.
        self.pieces[i].as_mut().expect("piece was just built")
    }

    /// The regime in force at p, decided by the guards and, on a boundary, by the direction of
    /// motion (the vector field is continuous, so the rate of a boundary guard is the same in
    /// every adjacent regime; its second derivative breaks ties).
    fn pick_regime(&mut self, seg: usize, p: &[f64]) -> usize {
        let mut best = (f64::NEG_INFINITY, 0);
        let mut first_candidate = None;
        for r in 0..self.regimes {
            if !self.pa.regime_available(r) {
                continue;
            }
            let piece = self.piece(seg, r);
            let mut worst = f64::INFINITY;
            let mut consistent = true;
            let (mut stack, mut heap) = ([0.0; 16], Vec::new());
            let mp = scratch(&mut stack, &mut heap, p.len());
            matvec(&piece.mq_rows, p, mp);
            for (g, gr) in piece.guards.iter().zip(&piece.guard_rates) {
                let scale: f64 = g
                    .iter()
                    .zip(p)
                    .map(|(a, b)| (a * b).abs())
                    .sum::<f64>()
                    .max(f64::MIN_POSITIVE);
                let tol = 1e-11 * scale;
                let val = dot(g, p);
                worst = worst.min(val / scale);
                if val < -tol {
                    consistent = false;
                    break;
                }
                if val <= tol {
                    let rate = dot(gr, p);
                    let rate_scale: f64 = g
                        .iter()
                        .zip(mp.iter())
                        .map(|(a, b)| (a * b).abs())
                        .sum::<f64>()
                        .max(f64::MIN_POSITIVE);
                    let rtol = 1e-11 * rate_scale;
                    if rate < -rtol || (rate <= rtol && dot(gr, mp) < 0.0) {
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

/// The common case at full speed: one standard step per output interval, in one regime and one
/// forcing segment, while no guard could change sign. Fixed sizes let the compiler unroll the
/// mat-vecs. Advances `p`, `c`, the output index `i` and the trajectory; returns when the next
/// step is not such a step (the general loop then redoes it).
#[allow(clippy::too_many_arguments)] // the solver's loop state, passed explicitly
fn fast_steps<const Q: usize, const NC: usize>(
    piece: &Piece,
    p: &mut [f64],
    c: &mut [f64],
    i: &mut usize,
    points: usize,
    t_end: f64,
    seg_end: f64,
    nd: usize,
    traj: &mut Trajectory,
    steps: &mut usize,
) {
    let ng = piece.guards.len();
    if ng > 2 || p.len() != Q || c.len() != NC || piece.step.len() != (Q + NC + 2 * ng) * Q {
        return;
    }
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
    while *i <= points {
        let target = t_end * *i as f64 / points as f64;
        if target > seg_end {
            break;
        }
        let end: [f64; 4] =
            std::array::from_fn(|r| if r < 2 * ng { dotq(&ge[r], &pv) } else { 0.0 });
        let suspect = (0..ng).any(|j| {
            let (ga, gb, sa, sb) = (start[j], end[j], start[ng + j], end[ng + j]);
            gb < 0.0 || (sa < 0.0 && sb > 0.0 && ga.min(gb) < 0.5 * (sa.abs() + sb.abs()) * h)
        });
        if suspect {
            break;
        }
        let pn: [f64; Q] = std::array::from_fn(|r| dotq(&e[r], &pv));
        for (ci, fr) in cv.iter_mut().zip(&f) {
            *ci += dotq(fr, &pv);
        }
        // (Non-finite values are caught by the check over the whole trajectory at the end.)
        start = end;
        pv = pn;
        match nd {
            2 => {
                let head = [pv[0], pv[1 % Q]];
                traj.push_fixed::<2, NC>(target, &head, &cv);
            }
            _ => traj.push_parts(target, &pv[..nd], &cv),
        }
        *steps += 1;
        *i += 1;
    }
    p.copy_from_slice(&pv);
    c.copy_from_slice(&cv);
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
    let grid_h = s.t_end / s.points as f64;
    let mut sv = Solver {
        pa,
        pieces: (0..segs.len() * regimes).map(|_| None).collect(),
        segs,
        nd,
        nc,
        regimes,
        grid_h,
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
    let mut traj = Trajectory::with_capacity(n, s.points, SolveStats::default());
    traj.push_parts(0.0, &p[..nd], &c);
    let mut t = 0.0;

    let mut i = 1;
    while i <= s.points {
        // Fast path: aligned on the grid, standard step = one output interval, step matrix ready.
        {
            let seg_end = sv.segs.get(seg + 1).map_or(f64::INFINITY, |nx| nx.start);
            let piece = sv.piece(seg, regime);
            if !piece.step.is_empty() && (piece.h_std - grid_h).abs() <= 1e-12 * grid_h {
                let before = i;
                // One monomorphised fast loop per block size of a single class.
                macro_rules! fast {
                    ($q:literal) => {
                        fast_steps::<$q, 7>(
                            piece,
                            &mut p,
                            &mut c,
                            &mut i,
                            s.points,
                            s.t_end,
                            seg_end,
                            nd,
                            &mut traj,
                            &mut stats.steps,
                        )
                    };
                }
                match (p.len(), c.len()) {
                    (3, 7) => fast!(3),
                    (4, 7) => fast!(4),
                    (5, 7) => fast!(5),
                    _ => {}
                }
                if i > before {
                    t = s.t_end * (i - 1) as f64 / s.points as f64;
                    continue;
                }
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
            let piece = sv.piece(seg, regime);
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
            if standard && !piece.step.is_empty() {
                let (e, rest) = piece.step.split_at(q * q);
                let (f, g) = rest.split_at(q * nc);
                matvec(e, &p, &mut p_next);
                matvec(f, &p, &mut dc);
                matvec(g, &p, &mut ends[..2 * ng]);
                piece.uses += 1;
            } else {
                Series::new(piece, &p).state(piece, h, &mut p_next, &mut dc);
                for (j, (g, gr)) in piece.guards.iter().zip(&piece.guard_rates).enumerate() {
                    ends[j] = dot(g, &p_next);
                    ends[ng + j] = dot(gr, &p_next);
                }
                piece.uses += usize::from(standard);
            }
            stats.steps += 1;

            // Could a guard change sign inside (0, h]?
            let suspect =
                piece
                    .guards
                    .iter()
                    .zip(&piece.guard_rates)
                    .enumerate()
                    .any(|(j, (g, gr))| {
                        let (ga, gb) = (dot(g, &p), ends[j]);
                        let (sa, sb) = (dot(gr, &p), ends[ng + j]);
                        gb < 0.0
                            || (sa < 0.0
                                && sb > 0.0
                                && ga.min(gb) < 0.5 * (sa.abs() + sb.abs()) * h)
                    });
            let mut crossing = None;
            if suspect {
                let series = Series::new(piece, &p);
                let polys: Vec<[f64; TAYLOR_TERMS]> =
                    piece.guards.iter().map(|g| series.guard_poly(g)).collect();
                // All scan samples of a guard at once: SCAN independent Horner chains.
                let taus: [f64; SCAN] = std::array::from_fn(|j| h * (j + 1) as f64 / SCAN as f64);
                let first_negative = |a: &[f64; TAYLOR_TERMS]| -> Option<usize> {
                    let mut acc = [0.0; SCAN];
                    for c in a.iter().rev() {
                        for (v, t) in acc.iter_mut().zip(&taus) {
                            *v = *v * t + c;
                        }
                    }
                    acc.iter().position(|v| *v < 0.0)
                };
                let hit = polys
                    .iter()
                    .filter_map(|a| first_negative(a).map(|j| (j, a)))
                    .min_by_key(|(j, _)| *j);
                if let Some((j, a)) = hit {
                    let lo = if j == 0 { 0.0 } else { taus[j - 1] };
                    let root = refine_root(a, lo, taus[j]);
                    series.state(piece, root, &mut p_next, &mut dc);
                    crossing = Some(root);
                }
            }
            std::mem::swap(&mut p, &mut p_next);
            for (ci, d) in c.iter_mut().zip(&dc) {
                *ci += d;
            }
            match crossing {
                Some(tau) => {
                    t += tau;
                    stats.regime_switches += 1;
                    if stats.regime_switches > MAX_SWITCHES {
                        return Err(SolveError::TooManySwitches {
                            t,
                            switches: stats.regime_switches,
                            limit: MAX_SWITCHES,
                        });
                    }
                    regime = sv.pick_regime(seg, &p);
                }
                None => t += h,
            }
            if p.iter().chain(c.iter()).any(|v| !v.is_finite()) {
                return Err(SolveError::NonFinite { t });
            }
        }
        t = target;
        traj.push_parts(target, &p[..nd], &c);
        i += 1;
    }
    if let Some(i) = traj.states().position(|z| z.iter().any(|v| !v.is_finite())) {
        return Err(SolveError::NonFinite { t: traj.t[i] });
    }
    traj.stats = stats;
    Ok(traj)
}
