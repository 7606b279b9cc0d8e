//! The closed form of an affine regime whose dynamic block splits into independent 2 × 2
//! blocks with real eigenvalues: several swarm classes while every class downloads at its cap
//! (regimes "peers-suffice" and "server-tops-up": class i's leechers and seeds feel no other
//! class, `x_i' = λ_i − (θ_i + c_i) x_i`, `y_i' = c_i x_i − γ_i y_i`), under forcing states
//! that are exponentials (constant arrivals, a decaying crowd, a constant trace segment).
//!
//! Each block is solved as in [`super::modal`]; a guard (a linear form over every class) is
//! then a sum of real exponentials `G(τ) = Σ_n a_n e^{r_n τ}`, one term per eigenmode and per
//! forcing rate. Each term is monotone, so on `[s, t]` it lies between its values at s and t;
//! the same holds for the terms of `G′`. The first sign change is found by a left-to-right scan
//! that accepts `[s, t]` when the sum of the terms' lower ends is positive (no root), or when
//! `G′` has one sign on it (G monotone: a root is located by Illinois, or there is none), and
//! halves `t − s` otherwise. A simple root or a positive guard is certified in a few dozen
//! evaluations; a tangency (a double root) exhausts a budget and the caller steps instead. As
//! in the one-class form, nothing here is a tolerance on the solution: a stretch that is not
//! certified is never jumped.

use super::modal::{illinois, phi_real};

/// Most scan intervals per guard before the closed form gives up (a tangency, or terms whose
/// bounds cancel badly): the caller steps instead.
const SCAN_BUDGET: usize = 400;

/// The eigen-structure of one affine regime of K ≥ 2 decoupled classes.
pub(super) struct Blocks {
    /// Classes; dynamic state b is class b's leechers and k + b its seeds.
    k: usize,
    /// Eigenvalues and unit eigenvectors of each block (`v[b][i]` belongs to `lam[b][i]`),
    /// and the rows of V⁻¹.
    lam: Vec<[f64; 2]>,
    v: Vec<[[f64; 2]; 2]>,
    vinv: Vec<[[f64; 2]; 2]>,
    /// Forcing rates g_j and each block's particular solutions u_{b,j} (index b·m + j).
    g: Vec<f64>,
    u: Vec<[f64; 2]>,
    /// Row-major Mc (nc × q).
    mc: Vec<f64>,
    nc: usize,
    /// The regime's guards (q long: dynamic part, then forcing part).
    guards: Vec<Vec<f64>>,
}

/// The closed-form solution from one state, evaluated at any τ ≥ 0.
pub(super) struct Path {
    k: usize,
    /// α_i v_i of each block (index 2b + i) and its eigenvalue.
    modes: Vec<[f64; 2]>,
    lam: Vec<f64>,
    /// u_{b,j} w_j(0) (index b·m + j), w_j(0) and g_j.
    x_forced: Vec<[f64; 2]>,
    w0: Vec<f64>,
    g: Vec<f64>,
    /// Integrals: c(0), Mc applied to each mode (index (2b + i)·nc + r), and to each forcing
    /// state's particular solution (index j·nc + r).
    c0: Vec<f64>,
    c_modes: Vec<f64>,
    c_forced: Vec<f64>,
}

/// One guard along the closed form: Σ_n a_n e^{r_n τ}.
struct Terms {
    a: Vec<f64>,
    r: Vec<f64>,
}

impl Terms {
    fn value(&self, tau: f64) -> f64 {
        self.a
            .iter()
            .zip(&self.r)
            .map(|(a, r)| a * (r * tau).exp())
            .sum()
    }

    fn slope(&self, tau: f64) -> f64 {
        self.a
            .iter()
            .zip(&self.r)
            .map(|(a, r)| a * r * (r * tau).exp())
            .sum()
    }

    /// The first τ in (0, span] where the sum turns negative; `Err` when it is at zero and
    /// falling at τ = 0 (the regime is being left now), already negative, or the scan does
    /// not close (see the module docs).
    fn first_negative(&self, span: f64) -> Result<Option<f64>, ()> {
        let growth = self.r.iter().copied().fold(0.0, f64::max);
        // Beyond e^700 a growing term overflows: search no further.
        if growth > 0.0 && span > 700.0 / growth {
            return match self.first_negative(700.0 / growth)? {
                Some(t) => Ok(Some(t)),
                None => Err(()),
            };
        }
        let size: f64 = self.a.iter().map(|a| a.abs()).sum();
        if !size.is_finite() {
            return Err(());
        }
        let tol = 1e-11 * size;
        let g0 = self.value(0.0);
        if !g0.is_finite() || g0 < -tol || (g0 <= tol && self.slope(0.0) <= 0.0) {
            return Err(());
        }
        let n = self.a.len();
        // Each term's value at s (kept from the last accepted interval) and at t.
        let mut at_s: Vec<f64> = self.a.clone();
        let mut at_t = vec![0.0; n];
        let (mut s, mut g_s) = (0.0, g0);
        let mut h = span;
        for _ in 0..SCAN_BUDGET {
            let t = (s + h).min(span);
            for ((v, a), r) in at_t.iter_mut().zip(&self.a).zip(&self.r) {
                *v = a * (r * t).exp();
            }
            let lower: f64 = at_s.iter().zip(&at_t).map(|(x, y)| x.min(*y)).sum();
            let (mut d_lo, mut d_hi) = (0.0, 0.0);
            for ((x, y), r) in at_s.iter().zip(&at_t).zip(&self.r) {
                let (p, q) = (x * r, y * r);
                d_lo += p.min(q);
                d_hi += p.max(q);
            }
            let g_t: f64 = at_t.iter().sum();
            if !(lower.is_finite() && d_lo.is_finite() && d_hi.is_finite()) {
                return Err(());
            }
            // No root on (s, t]: positive throughout, or rising from a non-negative start,
            // or falling to a positive end.
            let clear = lower > tol || d_lo > 0.0 || (d_hi < 0.0 && g_t > 0.0);
            if clear {
                if t >= span {
                    return Ok(None);
                }
                (s, g_s) = (t, g_t);
                std::mem::swap(&mut at_s, &mut at_t);
                h *= 2.0;
                continue;
            }
            if d_hi < 0.0 && g_s > 0.0 {
                // Falling throughout to a non-positive end: the one root on (s, t].
                return illinois(|x| self.value(x), s, g_s, t, g_t)
                    .map(Some)
                    .ok_or(());
            }
            h *= 0.5;
            if h <= 1e-13 * t.max(f64::MIN_POSITIVE) {
                return Err(());
            }
        }
        Err(())
    }
}

/// Eigenvalues, eigenvectors and the rows of V⁻¹ of a 2 × 2 block.
type Eigen2 = ([f64; 2], [[f64; 2]; 2], [[f64; 2]; 2]);

/// Eigenvalues (larger magnitude first) and unit eigenvectors of a real 2 × 2 matrix with
/// distinct real eigenvalues, with V⁻¹ by rows; `None` for a complex or (nearly) repeated pair.
fn eig2(
    a11: f64,
    a12: f64,
    a21: f64,
    a22: f64,
) -> Option<Eigen2> {
    let scale = a11.abs().max(a12.abs()).max(a21.abs()).max(a22.abs());
    if !scale.is_finite() || scale <= 0.0 {
        return None;
    }
    let half_tr = 0.5 * (a11 + a22);
    let disc = 0.25 * (a11 - a22).powi(2) + a12 * a21;
    if disc < 0.0 {
        return None;
    }
    let root = disc.sqrt();
    if root <= 1e-7 * scale {
        return None;
    }
    let big = half_tr + root.copysign(half_tr);
    let det = a11 * a22 - a12 * a21;
    let small = if big != 0.0 {
        det / big
    } else {
        half_tr - root
    };
    let lam = [big, small];
    let v = lam.map(|l| {
        let r1 = [a12, l - a11];
        let r2 = [l - a22, a21];
        let n = |r: &[f64; 2]| r[0] * r[0] + r[1] * r[1];
        let r = if n(&r1) >= n(&r2) { r1 } else { r2 };
        let len = n(&r).sqrt();
        [r[0] / len, r[1] / len]
    });
    let det_v = v[0][0] * v[1][1] - v[1][0] * v[0][1];
    if det_v.abs() < 1e-6 {
        return None;
    }
    let vinv = [
        [v[1][1] / det_v, -v[1][0] / det_v],
        [-v[0][1] / det_v, v[0][0] / det_v],
    ];
    Some((lam, v, vinv))
}

impl Blocks {
    /// The closed form of a regime given by row-major `mq` (q × q, q = nd + m, nd = 2K) and
    /// `mc` (nc × q); `None` unless K ≥ 2, the dynamic block couples only a class's leechers
    /// and seeds (state b with k + b), every block has distinct real eigenvalues, the forcing
    /// generator is diagonal, and no forcing rate equals an eigenvalue.
    pub(super) fn new(
        mq: &[f64],
        mc: &[f64],
        q: usize,
        nd: usize,
        guards: &[Vec<f64>],
    ) -> Option<Self> {
        if nd < 4 || !nd.is_multiple_of(2) || q <= nd || mq.len() != q * q {
            return None;
        }
        if !mc.len().is_multiple_of(q) {
            return None;
        }
        let (k, m) = (nd / 2, q - nd);
        let at = |i: usize, j: usize| mq[i * q + j];
        for i in 0..q {
            for j in 0..q {
                let allowed = if i < nd {
                    j >= nd || j % k == i % k
                } else {
                    j == i
                };
                if !allowed && at(i, j) != 0.0 {
                    return None;
                }
            }
        }
        let g: Vec<f64> = (nd..q).map(|i| at(i, i)).collect();
        let mut lam = Vec::with_capacity(k);
        let mut v = Vec::with_capacity(k);
        let mut vinv = Vec::with_capacity(k);
        let mut u = Vec::with_capacity(k * m);
        for b in 0..k {
            let (a11, a12, a21, a22) = (at(b, b), at(b, k + b), at(k + b, b), at(k + b, k + b));
            let (l, vb, vi) = eig2(a11, a12, a21, a22)?;
            lam.push(l);
            v.push(vb);
            vinv.push(vi);
            for (j, &gj) in g.iter().enumerate() {
                let (b1, b2) = (at(b, nd + j), at(k + b, nd + j));
                let (p11, p22) = (a11 - gj, a22 - gj);
                let det = p11 * p22 - a12 * a21;
                if det == 0.0 || det.abs() <= 1e-9 * (p11.abs() * p22.abs() + (a12 * a21).abs()) {
                    return None; // resonance
                }
                u.push([(-b1 * p22 + a12 * b2) / det, (-p11 * b2 + a21 * b1) / det]);
            }
        }
        Some(Self {
            k,
            lam,
            v,
            vinv,
            g,
            u,
            mc: mc.to_vec(),
            nc: mc.len() / q,
            guards: guards.to_vec(),
        })
    }

    fn m(&self) -> usize {
        self.g.len()
    }

    /// α_i v_i of each block's deviation from the forced solution at p (index 2b + i).
    fn modes(&self, p: &[f64]) -> Vec<[f64; 2]> {
        let (k, m) = (self.k, self.m());
        let w = &p[2 * k..];
        let mut out = Vec::with_capacity(2 * k);
        for b in 0..k {
            let mut d = [p[b], p[k + b]];
            for (uj, wj) in self.u[b * m..(b + 1) * m].iter().zip(w) {
                d[0] -= uj[0] * wj;
                d[1] -= uj[1] * wj;
            }
            for i in 0..2 {
                let alpha = self.vinv[b][i][0] * d[0] + self.vinv[b][i][1] * d[1];
                out.push([self.v[b][i][0] * alpha, self.v[b][i][1] * alpha]);
            }
        }
        out
    }

    /// Guard `gv` along the closed form from p (with its modes).
    fn terms(&self, gv: &[f64], p: &[f64], modes: &[[f64; 2]]) -> Terms {
        let (k, m) = (self.k, self.m());
        let nd = 2 * k;
        let mut a = Vec::with_capacity(2 * k + m);
        let mut r = Vec::with_capacity(2 * k + m);
        for (j, &gj) in self.g.iter().enumerate() {
            let mut e = gv[nd + j];
            for b in 0..k {
                let uj = self.u[b * m + j];
                e += gv[b] * uj[0] + gv[k + b] * uj[1];
            }
            a.push(e * p[nd + j]);
            r.push(gj);
        }
        for b in 0..k {
            for i in 0..2 {
                let md = modes[2 * b + i];
                let c = gv[b] * md[0] + gv[k + b] * md[1];
                if c != 0.0 {
                    a.push(c);
                    r.push(self.lam[b][i]);
                }
            }
        }
        Terms { a, r }
    }

    fn usable(&self, p: &[f64], span: f64) -> bool {
        p.len() == 2 * self.k + self.m()
            && !span.is_nan()
            && span >= 0.0
            && p.iter().all(|x| x.is_finite())
    }

    /// Whether no guard can turn negative within the next `span` seconds from state `p`
    /// (every guard's sum of term lower ends on [0, span] is positive).
    pub(super) fn holds(&self, p: &[f64], span: f64) -> bool {
        if !self.usable(p, span) {
            return false;
        }
        let modes = self.modes(p);
        self.guards.iter().all(|gv| {
            let t = self.terms(gv, p, &modes);
            let lower: f64 =
                t.a.iter()
                    .zip(&t.r)
                    .map(|(a, r)| a.min(a * (r * span).exp()))
                    .sum();
            let size: f64 = t.a.iter().map(|a| a.abs()).sum();
            let at_p: f64 = gv.iter().zip(p).map(|(a, b)| (a * b).abs()).sum();
            lower.is_finite() && lower > 1e-9 * (size + at_p)
        })
    }

    /// What happens in the next `span` seconds from state `p` and integrals `c`: `Ok(None)`
    /// with the path if every guard holds, `Ok(Some(τ))` if one first turns negative τ seconds
    /// on, `Err` when the closed form cannot tell.
    pub(super) fn next(&self, p: &[f64], c: &[f64], span: f64) -> Result<(Option<f64>, Path), ()> {
        if !self.usable(p, span) || span <= 0.0 {
            return Err(());
        }
        let modes = self.modes(p);
        let mut first: Option<f64> = None;
        for gv in &self.guards {
            if let Some(tau) = self.terms(gv, p, &modes).first_negative(span)? {
                first = Some(first.map_or(tau, |f: f64| f.min(tau)));
            }
        }
        let path = self.path(p, modes, c).ok_or(())?;
        Ok((first, path))
    }

    /// The step matrix of an interval h, rows [E; F] (q columns), from the closed form
    /// applied to each unit state.
    pub(super) fn transfer(&self, h: f64) -> Option<Vec<f64>> {
        let q = 2 * self.k + self.m();
        let nc = self.nc;
        let mut rows = vec![0.0; (q + nc) * q];
        let (mut unit, zero) = (vec![0.0; q], vec![0.0; nc]);
        let (mut pj, mut cj) = (vec![0.0; q], vec![0.0; nc]);
        for j in 0..q {
            unit.fill(0.0);
            unit[j] = 1.0;
            let path = self.path(&unit, self.modes(&unit), &zero)?;
            path.at(h, &mut pj, &mut cj);
            for (r, v) in pj.iter().chain(&cj).enumerate() {
                rows[r * q + j] = *v;
            }
        }
        Some(rows)
    }

    /// The closed form from p (with its modes) and integrals c; `None` if an intermediate
    /// term is not finite (the caller steps instead).
    fn path(&self, p: &[f64], modes: Vec<[f64; 2]>, c: &[f64]) -> Option<Path> {
        let (k, m, nc) = (self.k, self.m(), self.nc);
        let (nd, q) = (2 * k, 2 * k + m);
        if c.len() != nc {
            return None;
        }
        let w0 = p[nd..].to_vec();
        let col = |r: usize, j: usize| self.mc[r * q + j];
        let mut c_modes = vec![0.0; 2 * k * nc];
        for b in 0..k {
            for i in 0..2 {
                let md = modes[2 * b + i];
                for r in 0..nc {
                    c_modes[(2 * b + i) * nc + r] = col(r, b) * md[0] + col(r, k + b) * md[1];
                }
            }
        }
        let mut x_forced = vec![[0.0; 2]; k * m];
        let mut c_forced = vec![0.0; m * nc];
        for (j, &wj) in w0.iter().enumerate() {
            for r in 0..nc {
                c_forced[j * nc + r] = col(r, nd + j) * wj;
            }
            for b in 0..k {
                let uj = self.u[b * m + j];
                let xf = [uj[0] * wj, uj[1] * wj];
                x_forced[b * m + j] = xf;
                for r in 0..nc {
                    c_forced[j * nc + r] += col(r, b) * xf[0] + col(r, k + b) * xf[1];
                }
            }
        }
        let lam = self.lam.iter().flatten().copied().collect();
        let path = Path {
            k,
            modes,
            lam,
            x_forced,
            w0,
            g: self.g.clone(),
            c0: c.to_vec(),
            c_modes,
            c_forced,
        };
        let finite = path.c0.iter().all(|v| v.is_finite())
            && path.c_modes.iter().all(|v| v.is_finite())
            && path.c_forced.iter().all(|v| v.is_finite())
            && path.modes.iter().flatten().all(|v| v.is_finite())
            && path.x_forced.iter().flatten().all(|v| v.is_finite());
        finite.then_some(path)
    }
}

impl Path {
    /// The state (dynamic, then forcing) and the integrals τ seconds after the path's start.
    pub(super) fn at(&self, tau: f64, p: &mut [f64], c: &mut [f64]) {
        let (k, m, nc) = (self.k, self.g.len(), self.c0.len());
        let nd = 2 * k;
        let eg: Vec<f64> = self.g.iter().map(|g| (g * tau).exp()).collect();
        c.copy_from_slice(&self.c0);
        for (j, g) in self.g.iter().enumerate() {
            p[nd + j] = self.w0[j] * eg[j];
            let pg = phi_real(*g, tau);
            for (cr, f) in c.iter_mut().zip(&self.c_forced[j * nc..(j + 1) * nc]) {
                *cr += f * pg;
            }
        }
        for b in 0..k {
            let mut xy = [0.0; 2];
            for (xf, e) in self.x_forced[b * m..(b + 1) * m].iter().zip(&eg) {
                xy[0] += xf[0] * e;
                xy[1] += xf[1] * e;
            }
            for i in 0..2 {
                let n = 2 * b + i;
                let l = self.lam[n];
                let e = (l * tau).exp();
                xy[0] += self.modes[n][0] * e;
                xy[1] += self.modes[n][1] * e;
                let ph = phi_real(l, tau);
                for (cr, f) in c.iter_mut().zip(&self.c_modes[n * nc..(n + 1) * nc]) {
                    *cr += f * ph;
                }
            }
            p[b] = xy[0];
            p[k + b] = xy[1];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes downloading at their caps (decoupled 2 × 2 blocks), constant arrivals and a
    /// decaying crowd; integrals of each leecher count and the total download rate.
    fn two_classes() -> (Vec<f64>, Vec<f64>, usize) {
        // states: x0, x1, y0, y1, w_const, w_decay
        let (th, c0, c1, g0, g1, lam0, lam1, beta) = (0.001, 1.0, 0.4, 0.02, 0.05, 0.6, 0.4, 0.01);
        let q = 6;
        let mut mq = vec![0.0; q * q];
        let mut set = |i: usize, j: usize, v: f64| mq[i * q + j] = v;
        set(0, 0, -(th + c0));
        set(1, 1, -(th + c1));
        set(2, 0, c0);
        set(2, 2, -g0);
        set(3, 1, c1);
        set(3, 3, -g1);
        set(0, 4, lam0);
        set(1, 4, lam1);
        set(0, 5, 2.0 * lam0);
        set(1, 5, 2.0 * lam1);
        set(5, 5, -beta);
        let mut mc = vec![0.0; 3 * q];
        mc[0] = 1.0;
        mc[q + 1] = 1.0;
        mc[2 * q] = c0;
        mc[2 * q + 1] = c1;
        (mq, mc, q)
    }

    /// A fine classical RK4 of dp/dt = Mq p, dc/dt = Mc p (the reference).
    fn rk4(
        mq: &[f64],
        mc: &[f64],
        q: usize,
        p0: &[f64],
        c0: &[f64],
        t: f64,
    ) -> (Vec<f64>, Vec<f64>) {
        let nc = c0.len();
        let f = |p: &[f64]| -> (Vec<f64>, Vec<f64>) {
            let dp = (0..q)
                .map(|i| (0..q).map(|j| mq[i * q + j] * p[j]).sum())
                .collect();
            let dc = (0..nc)
                .map(|i| (0..q).map(|j| mc[i * q + j] * p[j]).sum())
                .collect();
            (dp, dc)
        };
        let n = 100_000;
        let h = t / n as f64;
        let (mut p, mut c) = (p0.to_vec(), c0.to_vec());
        let add = |x: &[f64], d: &[f64], s: f64| -> Vec<f64> {
            x.iter().zip(d).map(|(a, b)| a + s * b).collect()
        };
        for _ in 0..n {
            let (k1, l1) = f(&p);
            let (k2, l2) = f(&add(&p, &k1, h / 2.0));
            let (k3, l3) = f(&add(&p, &k2, h / 2.0));
            let (k4, l4) = f(&add(&p, &k3, h));
            for i in 0..q {
                p[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
            }
            for i in 0..nc {
                c[i] += h / 6.0 * (l1[i] + 2.0 * l2[i] + 2.0 * l3[i] + l4[i]);
            }
        }
        (p, c)
    }

    fn close(a: &[f64], b: &[f64], rtol: f64) -> bool {
        a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= rtol * (1.0 + x.abs().max(y.abs())))
    }

    /// The closed form equals RK4 at step 4e-4 s (its error ~1e-15 here; tolerance 1e-9
    /// relative), and the step matrix of 0.5 s walked 80 times equals it to 1e-12.
    #[test]
    fn decoupled_classes_equal_a_fine_runge_kutta() {
        let (mq, mc, q) = two_classes();
        let b = Blocks::new(&mq, &mc, q, 4, &[]).expect("decoupled");
        let p0 = [0.3, 0.1, 2.0, 0.0, 1.0, 1.0];
        let c0 = [0.0, 1.0, 2.0];
        let (none, path) = b.next(&p0, &c0, 40.0).expect("no guards");
        assert!(none.is_none());
        let (mut p, mut c) = ([0.0; 6], [0.0; 3]);
        path.at(40.0, &mut p, &mut c);
        let (pr, cr) = rk4(&mq, &mc, q, &p0, &c0, 40.0);
        assert!(
            close(&p, &pr, 1e-9) && close(&c, &cr, 1e-9),
            "{p:?} {pr:?} {c:?} {cr:?}"
        );

        let rows = b.transfer(0.5).expect("step matrix");
        let (mut pw, mut cw) = (p0.to_vec(), c0.to_vec());
        for _ in 0..80 {
            let pn: Vec<f64> = (0..q)
                .map(|r| (0..q).map(|j| rows[r * q + j] * pw[j]).sum())
                .collect();
            for (r, cr) in cw.iter_mut().enumerate() {
                *cr += (0..q).map(|j| rows[(q + r) * q + j] * pw[j]).sum::<f64>();
            }
            pw = pn;
        }
        assert!(
            close(&pw, &p, 1e-12) && close(&cw, &c, 1e-12),
            "{pw:?} {p:?}"
        );
    }

    /// A guard over both classes that the transient drives through zero: the crossing is
    /// where the closed form's guard value changes sign (a fine scan brackets it), a span
    /// ending before it holds, and a coupled block has no decoupled form.
    #[test]
    fn the_first_crossing_of_a_cross_class_guard() {
        let (mq, mc, q) = two_classes();
        // Σ y − 3 (x0 + x1) ≥ 0 from seeds-rich, leecher-poor: the leechers fill up (rate
        // ~1/s) faster than seeds (~1/50 s), so the guard falls through zero once.
        let guard = vec![-3.0, -3.0, 1.0, 1.0, 0.0, 0.0];
        let b = Blocks::new(&mq, &mc, q, 4, std::slice::from_ref(&guard)).expect("decoupled");
        let p0 = [0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
        let c0 = [0.0; 3];
        let (tau, path) = b.next(&p0, &c0, 100.0).expect("closed form");
        let tau = tau.expect("crossing");
        let g = |t: f64| {
            let (mut p, mut c) = ([0.0; 6], [0.0; 3]);
            path.at(t, &mut p, &mut c);
            guard.iter().zip(&p).map(|(a, b)| a * b).sum::<f64>()
        };
        // First sign change on a 1e-4 s scan of [0, 100].
        let scan = (1..=1_000_000)
            .map(|i| i as f64 * 1e-4)
            .find(|&t| g(t) < 0.0)
            .expect("changes sign");
        assert!((tau - scan).abs() <= 1e-4, "{tau} vs {scan}");
        assert!(g(tau).abs() <= 1e-12, "{}", g(tau));
        assert!(b.holds(&p0, 0.5 * tau));
        assert!(!b.holds(&p0, tau * 1.01));
        let (none, _) = b.next(&p0, &c0, 0.9 * tau).expect("closed form");
        assert!(none.is_none());

        let mut coupled = mq.clone();
        coupled[1] = 0.1; // x0' depends on x1
        assert!(Blocks::new(&coupled, &mc, q, 4, &[]).is_none());
    }
}
