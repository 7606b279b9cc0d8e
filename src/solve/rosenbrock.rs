//! RODAS4: a linearly implicit (Rosenbrock) method of order 4 with an embedded order-3 error
//! estimate and an order-3 dense output, for stiff piecewise-smooth models with an analytic
//! Jacobian ([`PiecewiseSmooth`]); the swarm with several classes.
//!
//! Why a Rosenbrock method: the swarm is stiff when seeds linger (eigenvalues ~ −c and ~ −γ,
//! 50× and more apart), so an explicit method's steps are bounded by stability, not accuracy.
//! A Rosenbrock method is L-stable like an implicit Runge–Kutta method but needs no Newton
//! iteration: one Jacobian and one LU factorisation per step, then one linear solve per stage.
//! Coefficients: Hairer & Wanner, *Solving ODEs II*, §VI.4 (RODAS, "RODAS4" set), in the
//! transformed form `(1/(hγ) − J) u_i = f(t + α_i h, y + Σ a_ij u_j) + Σ (c_ij/h) u_j + γ_i h f_t`,
//! `y1 = y + Σ m_j u_j`. The tests below check the Rosenbrock order conditions to order 4
//! (main), 3 (embedded) and 3 (dense output, at several θ) from these numbers.
//!
//! Structure used:
//! * The running integrals (bytes, completions, …) do not feed back, so the Jacobian is
//!   `[[J_dd, 0], [J_qd, 0]]`: one LU of the small dynamic block, and the integrals' stage
//!   values follow from one mat-vec (`u_q = hγ (r_q + J_qd u_d)`). They are part of the error
//!   norm, so they meet the same tolerance.
//! * Kinks: the right-hand side is smooth while no guard changes sign. After each accepted
//!   step the guards are checked at its end and at 8 points of the dense output; at a sign
//!   change the first crossing is bisected on the dense output and the step is redone to end
//!   there, so no step straddles a kink. Time kinks of the forcing (trace breakpoints) are
//!   step ends.
//! * Outputs on the grid come from the dense output; no step is shortened to hit a grid time.

// Small dense linear algebra (LU, triangular solves, coefficient tables) reads best with
// explicit indices.
#![allow(clippy::needless_range_loop)]

use super::{SolveStats, SolverSettings, Trajectory, ROSENBROCK_TOL};
use crate::error::SolveError;
use crate::model::{FluidModel, PiecewiseSmooth, State};

/// Stages.
const S: usize = 6;
/// γ (diagonal of the method).
const GAMMA: f64 = 0.25;
/// α_i: stage times.
const ALPHA: [f64; S] = [0.0, 0.386, 0.21, 0.63, 1.0, 1.0];
/// γ_i: weights of ∂f/∂t.
const GAMMA_T: [f64; S] = [0.25, -0.1043, 0.1035, -0.0362, 0.0, 0.0];
/// a_ij (transformed), row i, j < i.
const A: [[f64; S - 1]; S] = [
    [0.0; S - 1],
    [1.544, 0.0, 0.0, 0.0, 0.0],
    [
        0.946_678_528_081_582_6,
        0.255_701_169_898_328_4,
        0.0,
        0.0,
        0.0,
    ],
    [
        3.314_825_187_068_521,
        2.896_124_015_972_201,
        0.998_641_913_997_781_7,
        0.0,
        0.0,
    ],
    [
        1.221_224_509_226_641,
        6.019_134_481_288_629,
        12.537_083_329_320_87,
        -0.687_886_036_105_895,
        0.0,
    ],
    [
        1.221_224_509_226_641,
        6.019_134_481_288_629,
        12.537_083_329_320_87,
        -0.687_886_036_105_895,
        1.0,
    ],
];
/// c_ij (transformed), row i, j < i.
const C: [[f64; S - 1]; S] = [
    [0.0; S - 1],
    [-5.6688, 0.0, 0.0, 0.0, 0.0],
    [
        -2.430_093_356_833_875,
        -0.206_359_915_709_191_5,
        0.0,
        0.0,
        0.0,
    ],
    [
        -0.107_352_905_815_137_5,
        -9.594_562_251_023_355,
        -20.470_286_148_096_16,
        0.0,
        0.0,
    ],
    [
        7.496_443_313_967_647,
        -10.246_804_314_643_52,
        -33.999_903_528_199_05,
        11.708_908_932_061_6,
        0.0,
    ],
    [
        8.083_246_795_921_522,
        -7.981_132_988_064_893,
        -31.521_594_328_743_71,
        16.319_305_431_231_36,
        -6.058_818_238_834_054,
    ],
];
/// Dense output: y(θ) = y0 + θ (Δ + (1 − θ)(Σ d2_j u_j + θ Σ d3_j u_j)), Δ = y1 − y0.
const D2: [f64; S - 1] = [
    10.126_235_083_445_86,
    -7.487_995_877_610_167,
    -34.800_918_615_557_47,
    -7.992_771_707_568_823,
    1.025_137_723_295_662,
];
const D3: [f64; S - 1] = [
    -0.676_280_339_280_125_3,
    6.087_714_651_680_015,
    16.430_843_208_924_78,
    24.767_225_114_183_86,
    -6.594_389_125_716_872,
];

/// Step-size controller (Hairer's defaults for RODAS): safety factor and growth bounds.
const SAFETY: f64 = 0.9;
const GROW_MAX: f64 = 6.0;
const SHRINK_MAX: f64 = 0.2;
/// Accepted plus rejected steps before giving up.
const MAX_STEPS: usize = 1_000_000;
/// Guard samples per step (on the dense output) when looking for a sign change.
const GUARD_SAMPLES: usize = 8;
/// Bisection steps on a crossing (2^-40 of the step).
const BISECTIONS: usize = 40;
/// A crossing this close to the start of a step (fraction of the step) is the kink the step
/// started on: the step is kept.
const THETA_MIN: f64 = 1e-6;

/// Work space: every buffer the loop touches, allocated once per solve.
struct Work {
    n: usize,
    nd: usize,
    /// Jacobian, n × nd row-major.
    jac: Vec<f64>,
    dfdt: Vec<f64>,
    /// LU of (1/(hγ) − J_dd), nd × nd row-major, and its pivots.
    lu: Vec<f64>,
    piv: Vec<usize>,
    /// Stage increments u_i, S × n.
    u: Vec<f64>,
    arg: State,
    fz: State,
    rhs: Vec<f64>,
    y1: Vec<f64>,
    /// Dense output: Δ, Σ d2 u, Σ d3 u.
    delta: Vec<f64>,
    p2: Vec<f64>,
    p3: Vec<f64>,
    /// Guards: at the step end, and scratch.
    g_end: Vec<f64>,
    g_tmp: Vec<f64>,
    zd: Vec<f64>,
    out: Vec<f64>,
}

impl Work {
    fn new(n: usize, nd: usize, ng: usize) -> Self {
        Self {
            n,
            nd,
            jac: vec![0.0; n * nd],
            dfdt: vec![0.0; n],
            lu: vec![0.0; nd * nd],
            piv: vec![0; nd],
            u: vec![0.0; S * n],
            arg: State::zeros(n),
            fz: State::zeros(n),
            rhs: vec![0.0; n],
            y1: vec![0.0; n],
            delta: vec![0.0; n],
            p2: vec![0.0; n],
            p3: vec![0.0; n],
            g_end: vec![0.0; ng],
            g_tmp: vec![0.0; ng],
            zd: vec![0.0; nd],
            out: vec![0.0; n],
        }
    }

    /// LU-factorise 1/(hγ) − J_dd with partial pivoting; false if singular.
    fn factor(&mut self, h: f64) -> bool {
        let nd = self.nd;
        let fac = 1.0 / (h * GAMMA);
        for i in 0..nd {
            for j in 0..nd {
                self.lu[i * nd + j] = -self.jac[i * nd + j];
            }
            self.lu[i * nd + i] += fac;
        }
        let a = &mut self.lu;
        for k in 0..nd {
            let mut p = k;
            let mut best = a[k * nd + k].abs();
            for i in k + 1..nd {
                let v = a[i * nd + k].abs();
                if v > best {
                    best = v;
                    p = i;
                }
            }
            if best.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || !best.is_finite() {
                return false;
            }
            self.piv[k] = p;
            if p != k {
                for j in 0..nd {
                    a.swap(k * nd + j, p * nd + j);
                }
            }
            let inv = 1.0 / a[k * nd + k];
            for i in k + 1..nd {
                let l = a[i * nd + k] * inv;
                a[i * nd + k] = l;
                if l != 0.0 {
                    for j in k + 1..nd {
                        a[i * nd + j] -= l * a[k * nd + j];
                    }
                }
            }
        }
        true
    }

    /// Solve (1/(hγ) − J) u = r for the stage `i` (r in `self.rhs`), block-triangularly.
    fn solve_into(&mut self, i: usize, h: f64) {
        let (n, nd) = (self.n, self.nd);
        let r = &mut self.rhs;
        // Dynamic block: P L U.
        for k in 0..nd {
            let p = self.piv[k];
            if p != k {
                r.swap(k, p);
            }
        }
        for row in 1..nd {
            let mut acc = r[row];
            for j in 0..row {
                acc -= self.lu[row * nd + j] * r[j];
            }
            r[row] = acc;
        }
        for row in (0..nd).rev() {
            let mut acc = r[row];
            for j in row + 1..nd {
                acc -= self.lu[row * nd + j] * r[j];
            }
            r[row] = acc / self.lu[row * nd + row];
        }
        let hg = h * GAMMA;
        let (ud, uq) = self.u[i * n..(i + 1) * n].split_at_mut(nd);
        ud.copy_from_slice(&r[..nd]);
        // Integrals: u_q = hγ (r_q + J_qd u_d).
        for (q, uqv) in uq.iter_mut().enumerate() {
            let row = &self.jac[(nd + q) * nd..(nd + q + 1) * nd];
            let mut acc = r[nd + q];
            for (a, b) in row.iter().zip(ud.iter()) {
                acc += a * b;
            }
            *uqv = hg * acc;
        }
    }

    /// One RODAS4 step of size h from (t, y0) with the Jacobian already in `jac`/`dfdt`:
    /// fills `u`, `y1`; returns false if the matrix is singular. Stage arguments are formed for
    /// the dynamic states only: the right-hand side does not read the running integrals.
    fn step(&mut self, model: &dyn FluidModel, t: f64, y0: &[f64], h: f64) -> bool {
        if !self.factor(h) {
            return false;
        }
        let (n, nd) = (self.n, self.nd);
        for i in 0..S {
            {
                let arg = &mut self.arg.as_mut_slice()[..nd];
                arg.copy_from_slice(&y0[..nd]);
                for (j, &a) in A[i].iter().enumerate().take(i) {
                    let uj = &self.u[j * n..j * n + nd];
                    for (x, v) in arg.iter_mut().zip(uj) {
                        *x += a * v;
                    }
                }
            }
            model.rhs(t + ALPHA[i] * h, &self.arg, &mut self.fz);
            let gt = GAMMA_T[i] * h;
            for ((r, f), d) in self.rhs.iter_mut().zip(self.fz.iter()).zip(&self.dfdt) {
                *r = f + gt * d;
            }
            for (j, &c) in C[i].iter().enumerate().take(i) {
                let cj = c / h;
                let uj = &self.u[j * n..(j + 1) * n];
                for (r, v) in self.rhs.iter_mut().zip(uj) {
                    *r += cj * v;
                }
            }
            self.solve_into(i, h);
        }
        // y1 = y0 + Σ m_j u_j with m = (a_S1, …, a_S(S−1), 1): the last stage's argument plus
        // u_S (stiffly accurate).
        let last = &self.u[(S - 1) * n..];
        for c in 0..nd {
            self.y1[c] = self.arg[c] + last[c];
        }
        for c in nd..n {
            let mut acc = y0[c] + last[c];
            for (j, &a) in A[S - 1].iter().enumerate() {
                acc += a * self.u[j * n + c];
            }
            self.y1[c] = acc;
        }
        true
    }

    /// Scaled RMS norm of the error estimate u_S.
    fn error(&self, y0: &[f64], rtol: f64, atol: f64) -> f64 {
        let n = self.n;
        let e = &self.u[(S - 1) * n..];
        let sum: f64 = e
            .iter()
            .zip(y0)
            .zip(&self.y1)
            .map(|((ei, a), b)| {
                let sc = atol + rtol * a.abs().max(b.abs());
                (ei / sc) * (ei / sc)
            })
            .sum();
        (sum / n as f64).sqrt()
    }

    /// Dense-output coefficients of the dynamic states only (enough for the guards), or of all.
    fn dense_coefficients(&mut self, y0: &[f64], upto: usize) {
        let n = self.n;
        for c in 0..upto {
            self.delta[c] = self.y1[c] - y0[c];
            let (mut a, mut b) = (0.0, 0.0);
            for j in 0..S - 1 {
                let v = self.u[j * n + c];
                a += D2[j] * v;
                b += D3[j] * v;
            }
            self.p2[c] = a;
            self.p3[c] = b;
        }
    }

    /// y(θ) for components `..upto` into `out`.
    fn dense(&self, y0: &[f64], theta: f64, upto: usize, out: &mut [f64]) {
        let s1 = 1.0 - theta;
        for c in 0..upto {
            out[c] = y0[c] + theta * (self.delta[c] + s1 * (self.p2[c] + theta * self.p3[c]));
        }
    }

    /// Guards on the dense output at θ into `g_tmp`.
    fn guards_at(&mut self, ps: &dyn PiecewiseSmooth, y0: &[f64], theta: f64) {
        let nd = self.nd;
        let mut zd = std::mem::take(&mut self.zd);
        self.dense(y0, theta, nd, &mut zd);
        ps.guards(&zd, &mut self.g_tmp);
        self.zd = zd;
    }
}

/// The first θ in (0, 1] at which some guard's sign differs from `signs`, bracketed to
/// 2^-BISECTIONS on the dense output; returns the upper end of the bracket (on the far side).
fn first_crossing(
    w: &mut Work,
    ps: &dyn PiecewiseSmooth,
    y0: &[f64],
    signs: &[bool],
) -> Option<f64> {
    let differs = |g: &[f64]| g.iter().zip(signs).any(|(v, &s)| (*v >= 0.0) != s);
    let mut lo = 0.0;
    let mut hi = None;
    for k in 1..=GUARD_SAMPLES {
        let th = k as f64 / GUARD_SAMPLES as f64;
        w.guards_at(ps, y0, th);
        if differs(&w.g_tmp) {
            hi = Some(th);
            break;
        }
        lo = th;
    }
    let mut hi = hi?;
    for _ in 0..BISECTIONS {
        let mid = 0.5 * (lo + hi);
        w.guards_at(ps, y0, mid);
        if differs(&w.g_tmp) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// Integrate with RODAS4; see the module docs.
pub(super) fn integrate(
    model: &dyn FluidModel,
    ps: &dyn PiecewiseSmooth,
    s: &SolverSettings,
) -> Result<Trajectory, SolveError> {
    let n = model.dim();
    let nd = ps.dynamic_dim();
    let ng = ps.guard_count();
    let mut w = Work::new(n, nd, ng);
    let mut stats = SolveStats {
        method: "rosenbrock",
        ..SolveStats::default()
    };
    let mut traj = Trajectory::with_capacity(n, s.points, SolveStats::default());
    let mut y: Vec<f64> = model.initial_state().as_slice().to_vec();
    traj.push(0.0, &y);
    let (rtol, atol) = s.tolerances(ROSENBROCK_TOL);
    let t_end = s.t_end;
    let kinks: Vec<f64> = ps
        .time_kinks()
        .into_iter()
        .filter(|&k| k > 0.0 && k < t_end)
        .collect();
    let mut next_kink = 0;
    let mut signs = vec![false; ng];
    {
        ps.guards(&y[..nd], &mut w.g_end);
        for (s, g) in signs.iter_mut().zip(&w.g_end) {
            *s = *g >= 0.0;
        }
    }

    // Initial step (Hairer & Wanner's heuristic, order 4): from ‖f‖ and a finite-difference
    // estimate of ‖f'‖ in the error norm.
    let norm = |v: &[f64], y: &[f64]| -> f64 {
        let sum: f64 = v
            .iter()
            .zip(y)
            .map(|(a, b)| {
                let sc = atol + rtol * b.abs();
                (a / sc) * (a / sc)
            })
            .sum();
        (sum / n as f64).sqrt()
    };
    let mut h = {
        w.arg.as_mut_slice().copy_from_slice(&y);
        model.rhs(0.0, &w.arg, &mut w.fz);
        stats.rhs_evaluations += 1;
        let f0: Vec<f64> = w.fz.as_slice().to_vec();
        let (d0, d1) = (norm(&y, &y), norm(&f0, &y));
        let h0 = if d0 < 1e-5 || d1 < 1e-5 {
            1e-6 * t_end
        } else {
            0.01 * d0 / d1
        }
        .min(t_end);
        for ((a, yi), fi) in w.arg.as_mut_slice().iter_mut().zip(&y).zip(&f0) {
            *a = yi + h0 * fi;
        }
        model.rhs(h0, &w.arg, &mut w.fz);
        stats.rhs_evaluations += 1;
        let diff: Vec<f64> = w.fz.iter().zip(&f0).map(|(a, b)| (a - b) / h0).collect();
        let d2 = norm(&diff, &y);
        let h1 = if d1.max(d2) <= 1e-15 {
            (h0 * 1e-3).max(1e-6 * t_end)
        } else {
            (0.01 / d1.max(d2)).powf(0.2)
        };
        (100.0 * h0).min(h1).min(t_end)
    };

    let mut t = 0.0;
    let mut out_i = 1;
    let mut jac_fresh = false;
    let mut last_rejected = false;
    // Gustafsson's predictive controller state: previous accepted step and error.
    let mut prev: Option<(f64, f64)> = None;
    let mut attempts = 0;
    while out_i <= s.points {
        attempts += 1;
        if attempts > MAX_STEPS {
            return Err(SolveError::Integration {
                t,
                reason: format!("more than {MAX_STEPS} Rosenbrock steps"),
            });
        }
        // Step end: the horizon or the next kink of the forcing, whichever comes first.
        let stop = kinks.get(next_kink).copied().unwrap_or(t_end).min(t_end);
        let mut lands = false;
        if t + h >= stop - 1e-12 * stop.abs() || t + 1.01 * h > stop {
            h = stop - t;
            lands = true;
        }
        if h <= 1e-14 * t.abs().max(1e-300) || !h.is_finite() {
            return Err(SolveError::Integration {
                t,
                reason: format!("step size underflow (h = {h:e})"),
            });
        }
        if !jac_fresh {
            ps.jacobian(t, &y, &mut w.jac, &mut w.dfdt);
            jac_fresh = true;
        }
        if !w.step(model, t, &y, h) {
            h *= 0.25;
            stats.rejected_steps += 1;
            continue;
        }
        stats.rhs_evaluations += S;
        let err = w.error(&y, rtol, atol);
        if !err.is_finite() || err > 1.0 {
            let fac = if err.is_finite() {
                (SAFETY * err.powf(-0.25)).clamp(SHRINK_MAX, 1.0)
            } else {
                SHRINK_MAX
            };
            h *= fac;
            last_rejected = true;
            stats.rejected_steps += 1;
            continue;
        }
        // Next step size, from this attempt's error (Gustafsson's predictive controller).
        let e = err.max(1e-10);
        let mut fac = (SAFETY * e.powf(-0.25)).clamp(SHRINK_MAX, GROW_MAX);
        if let Some((h_prev, e_prev)) = prev {
            let gus = SAFETY * (h / h_prev) * (e_prev / (e * e)).powf(0.25);
            fac = fac.min(gus.clamp(SHRINK_MAX, GROW_MAX));
        }
        if last_rejected {
            fac = fac.min(1.0);
        }
        let h_next = h * fac;
        prev = Some((h, e.max(1e-2)));
        last_rejected = false;

        // Accepted by the error test; does a guard change sign inside the step?
        ps.guards(&w.y1[..nd], &mut w.g_end);
        w.dense_coefficients(&y, nd);
        let mut far_signs = None;
        if let Some(theta) = first_crossing(&mut w, ps, &y, &signs) {
            stats.regime_switches += 1;
            // Signs on the far side of the crossing, from this step's dense output.
            w.guards_at(ps, &y, theta);
            let far: Vec<bool> = w.g_tmp.iter().map(|g| *g >= 0.0).collect();
            if theta < 1.0 - 1e-9 && theta > THETA_MIN {
                // Redo the step up to the crossing, so that no step holds a kink.
                let hc = h * theta;
                if !w.step(model, t, &y, hc) {
                    h *= 0.25;
                    stats.rejected_steps += 1;
                    continue;
                }
                stats.rhs_evaluations += S;
                h = hc;
                lands = false;
            }
            // (θ ≤ THETA_MIN: the kink is where the step starts; θ = 1: where it ends.)
            far_signs = Some(far);
        }
        // Accept.
        stats.steps += 1;
        let t_new = if lands { stop } else { t + h };
        // Outputs inside (t, t_new].
        let mut have_full = false;
        while out_i <= s.points {
            let target = t_end * out_i as f64 / s.points as f64;
            if target > t_new * (1.0 + 1e-13) {
                break;
            }
            if out_i == s.points || (target - t_new).abs() <= 1e-13 * t_new {
                traj.push(target, &w.y1);
            } else {
                if !have_full {
                    w.dense_coefficients(&y, n);
                    have_full = true;
                }
                let theta = ((target - t) / h).clamp(0.0, 1.0);
                let mut out = std::mem::take(&mut w.out);
                w.dense(&y, theta, n, &mut out);
                traj.push(target, &out);
                w.out = out;
            }
            out_i += 1;
        }
        y.copy_from_slice(&w.y1);
        if y.iter().any(|v| !v.is_finite()) {
            return Err(SolveError::NonFinite { t: t_new });
        }
        match far_signs {
            Some(far) => signs.copy_from_slice(&far),
            None => {
                ps.guards(&y[..nd], &mut w.g_end);
                for (sg, g) in signs.iter_mut().zip(&w.g_end) {
                    *sg = *g >= 0.0;
                }
            }
        }
        if lands && kinks.get(next_kink).is_some_and(|&k| k <= t_new) {
            next_kink += 1;
        }
        t = t_new;
        jac_fresh = false;
        h = h_next;
    }
    traj.stats = stats;
    Ok(traj)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The coefficients are 16-digit decimals; the conditions hold to rounding.
    const COEFF_TOL: f64 = 1e-13;

    /// The untransformed method (Hairer & Wanner IV.7): Γ = (diag(1/γ) − C)⁻¹ (lower
    /// triangular, γ on the diagonal), α = a Γ, b = m Γ.
    struct Classical {
        gam: [[f64; S]; S],
        alpha: [[f64; S]; S],
    }

    fn classical() -> Classical {
        let mut ginv = [[0.0; S]; S];
        for i in 0..S {
            ginv[i][i] = 1.0 / GAMMA;
            for j in 0..i {
                ginv[i][j] = -C[i][j];
            }
        }
        // invert the lower-triangular matrix column by column
        let mut gam = [[0.0; S]; S];
        for col in 0..S {
            for i in 0..S {
                let e = if i == col { 1.0 } else { 0.0 };
                let acc: f64 = (0..i).map(|k| ginv[i][k] * gam[k][col]).sum();
                gam[i][col] = (e - acc) / ginv[i][i];
            }
        }
        let mut alpha = [[0.0; S]; S];
        for i in 0..S {
            for j in 0..S {
                alpha[i][j] = (0..i).map(|k| A[i][k] * gam[k][j]).sum();
            }
        }
        Classical { gam, alpha }
    }

    /// Residuals of the order conditions up to order `p` for weights `b` of a step θh
    /// (θ = 1: the step itself): Σb = θ, Σbβ' = θ²/2 − γθ, Σbα² = θ³/3,
    /// Σbββ' = θ³/6 − γθ² + γ²θ, and the four order-4 conditions at θ = 1.
    fn residuals(m: &[f64; S], theta: f64, p: usize) -> Vec<f64> {
        let cl = classical();
        let b: Vec<f64> = (0..S)
            .map(|l| (0..S).map(|j| m[j] * cl.gam[j][l]).sum())
            .collect();
        let al: Vec<f64> = (0..S).map(|i| cl.alpha[i].iter().sum()).collect();
        let beta = |i: usize, j: usize| cl.alpha[i][j] + if j < i { cl.gam[i][j] } else { 0.0 };
        let bp: Vec<f64> = (0..S).map(|i| (0..i).map(|j| beta(i, j)).sum()).collect();
        let g = GAMMA;
        let sum = |f: &dyn Fn(usize) -> f64| (0..S).map(f).sum::<f64>();
        let mut r = vec![
            sum(&|i| b[i]) - theta,
            sum(&|i| b[i] * bp[i]) - (theta * theta / 2.0 - g * theta),
        ];
        if p >= 3 {
            r.push(sum(&|i| b[i] * al[i] * al[i]) - theta.powi(3) / 3.0);
            r.push(
                sum(&|i| b[i] * sum(&|j| beta(i, j) * bp[j]))
                    - (theta.powi(3) / 6.0 - g * theta * theta + g * g * theta),
            );
        }
        if p >= 4 {
            r.push(sum(&|i| b[i] * al[i].powi(3)) - 0.25);
            r.push(sum(&|i| b[i] * al[i] * sum(&|j| cl.alpha[i][j] * bp[j])) - (0.125 - g / 3.0));
            r.push(sum(&|i| b[i] * sum(&|j| beta(i, j) * al[j] * al[j])) - (1.0 / 12.0 - g / 3.0));
            r.push(
                sum(&|i| b[i] * sum(&|j| beta(i, j) * sum(&|k| beta(j, k) * bp[k])))
                    - (1.0 / 24.0 - g / 2.0 + 1.5 * g * g - g.powi(3)),
            );
        }
        r
    }

    fn m_main() -> [f64; S] {
        let mut m = [1.0; S];
        m[..S - 1].copy_from_slice(&A[S - 1]);
        m
    }

    #[test]
    fn stage_times_and_time_weights_match_the_classical_form() {
        let cl = classical();
        for i in 0..S {
            let alpha: f64 = cl.alpha[i].iter().sum();
            let gamma: f64 = cl.gam[i].iter().sum();
            assert!((alpha - ALPHA[i]).abs() < COEFF_TOL, "α_{i}: {alpha}");
            assert!((gamma - GAMMA_T[i]).abs() < COEFF_TOL, "γ_{i}: {gamma}");
        }
    }

    #[test]
    fn main_method_has_order_four() {
        for (k, r) in residuals(&m_main(), 1.0, 4).iter().enumerate() {
            assert!(r.abs() < COEFF_TOL, "condition {k}: {r:e}");
        }
    }

    /// The embedded method (drops u_S) has order 3 but not 4: the estimate is a true
    /// O(h⁴) error.
    #[test]
    fn embedded_method_has_order_three_only() {
        let mut m = m_main();
        m[S - 1] = 0.0;
        let r = residuals(&m, 1.0, 4);
        for (k, v) in r[..4].iter().enumerate() {
            assert!(v.abs() < COEFF_TOL, "condition {k}: {v:e}");
        }
        assert!(r[4..].iter().any(|v| v.abs() > 1e-3), "{r:?}");
    }

    /// Dense output y(θ) = y0 + θ(Δ + (1 − θ)(P2 + θ P3)) has order 3 at every θ.
    #[test]
    fn dense_output_has_order_three() {
        let main = m_main();
        for theta in [0.1, 0.25, 0.5, 0.77, 1.0] {
            let mut m = [0.0; S];
            for j in 0..S {
                let (d2, d3) = if j < S - 1 {
                    (D2[j], D3[j])
                } else {
                    (0.0, 0.0)
                };
                m[j] = theta * main[j] + theta * (1.0 - theta) * (d2 + theta * d3);
            }
            for (k, r) in residuals(&m, theta, 3).iter().enumerate() {
                assert!(r.abs() < COEFF_TOL, "θ = {theta}, condition {k}: {r:e}");
            }
        }
    }

    /// L-stability: R(z) = 1 + z bᵀ(I − zB)⁻¹1 with B = α + Γ tends to 0 as z → −∞ (the method
    /// is stiffly accurate), and |R| ≤ 1 on the negative axis.
    #[test]
    fn stability_function_is_l_stable_on_the_negative_axis() {
        let cl = classical();
        let m = m_main();
        let b: Vec<f64> = (0..S)
            .map(|l| (0..S).map(|j| m[j] * cl.gam[j][l]).sum())
            .collect();
        for z in [-1e-2, -1.0, -10.0, -1e3, -1e8] {
            // (I − zB) v = 1 by forward substitution (B lower triangular)
            let mut v = [0.0; S];
            for i in 0..S {
                let acc: f64 = (0..i).map(|j| (cl.alpha[i][j] + cl.gam[i][j]) * v[j]).sum();
                v[i] = (1.0 + z * acc) / (1.0 - z * cl.gam[i][i]);
            }
            let r = 1.0 + z * (0..S).map(|i| b[i] * v[i]).sum::<f64>();
            assert!(r.abs() <= 1.0 + 1e-12, "R({z}) = {r}");
            if z < -1e7 {
                assert!(r.abs() < 1e-6, "R({z}) = {r}");
            }
        }
    }
}
