//! The closed form of an affine regime whose dynamic block splits into 2 × 2 blocks, one per
//! swarm class (leechers b, seeds k + b), that read no other class's state, except at most one
//! block that may read all the others (it is driven by them). Several swarm classes give both:
//! while every class downloads at its cap (regimes "peers-suffice" and "server-tops-up") each
//! class feels no other (`x_i' = λ_i − (θ_i + c_i) x_i`, `y_i' = c_i x_i − γ_i y_i`); when one
//! class takes what the others leave of the upload, that class is driven by the others, which
//! still evolve on their own. Forcing states are exponentials (constant arrivals, a decaying
//! crowd, a constant trace segment).
//!
//! The solution is a sum of modes, `p(τ) = Re Σ_n V_n e^{z_n τ}` and
//! `c(τ) = c(0) + Re Σ_n (Mc V_n) (e^{z_n τ} − 1)/z_n`: one mode per forcing rate, with each
//! block's particular solution; one per eigenpair of each free-running block, with the driven
//! block's particular response to it; and the driven block's own eigenmodes, fitted to the
//! state at τ = 0. Each shifted 2 × 2 system is solved by Cramer's rule; a resonance (a rate equal
//! to a block's eigenvalue) or a (nearly) repeated eigenvalue has no such form.
//!
//! A guard (a linear form over every class) is then `G(τ) = Σ a_n e^{r_n τ} + Σ Re(C_n e^{z_n τ})`.
//! A real term is monotone, so on `[s, t]` it lies between its values at s and t (and so does
//! its derivative); an oscillating term lies within its modulus, and within its value at s
//! plus or minus its largest slope times `t − s`. The first sign change is found by a
//! left-to-right scan that accepts `[s, t]` when the lower bound of G is positive (no root), or
//! when `G′` has one sign on it (G monotone: a root is located by Illinois, or there is none),
//! and halves `t − s` otherwise. A simple root or a positive guard is certified in a few dozen
//! evaluations; a tangency (a double root) exhausts a budget and the caller steps instead. As in
//! the one-class form, nothing here is a tolerance on the solution: a stretch that is not
//! certified is never jumped.

use nalgebra::Complex;

use super::modal::{illinois, phi};

type C = Complex<f64>;

/// Most scan intervals per guard before the closed form gives up (a tangency, or terms whose
/// bounds cancel badly): the caller steps instead.
const SCAN_BUDGET: usize = 400;

/// Eigenvalues, unit eigenvectors (`v[i]` belongs to `lam[i]`) and the rows of V⁻¹ of one
/// class's 2 × 2 block, with the block itself.
pub(super) struct Block2 {
    pub(super) a: [f64; 4],
    pub(super) lam: [C; 2],
    pub(super) v: [[C; 2]; 2],
    pub(super) vinv: [[C; 2]; 2],
}

/// One block of the forcing generator (indices among the forcing states).
enum Forcing {
    /// w_j' = g w_j.
    One { j: usize, g: f64 },
    /// (w_j, w_{j+1})' = G (w_j, w_{j+1}), G with distinct eigenvalues (a rotation: ±iω).
    Pair { j: usize, eig: Block2 },
}

/// The eigen-structure of one affine regime of K ≥ 1 classes.
pub(super) struct Blocks {
    k: usize,
    q: usize,
    nc: usize,
    /// Row-major Mq (q × q), and Mc (nc × q) by columns as its nonzero (row, value) pairs
    /// (a running integral reads one to three states).
    mq: Vec<f64>,
    mc_cols: Vec<Vec<(usize, f64)>>,
    blocks: Vec<Block2>,
    /// The block that reads other classes' states, if any.
    driven: Option<usize>,
    /// The forcing generator's blocks: a state with its own rate (constant, decay), or a
    /// pair that rotates (a daily cycle), each with its eigen-structure.
    forcing: Vec<Forcing>,
    /// The regime's guards (q long: dynamic part, then forcing part).
    guards: Vec<Vec<f64>>,
}

/// The closed-form solution from one state: `p(τ) = Re Σ_n V_n e^{z_n τ}`,
/// `c(τ) = c(0) + Re Σ_n W_n φ(z_n, τ)` with `W_n = Mc V_n`.
pub(super) struct Path {
    q: usize,
    z: Vec<C>,
    /// V_n, index n·q + j.
    v: Vec<C>,
    /// W_n, index n·nc + r.
    w: Vec<C>,
    c0: Vec<f64>,
}

/// One guard along the closed form: real terms `a e^{rτ}` and oscillating terms `Re(C e^{zτ})`.
struct Terms {
    a: Vec<f64>,
    r: Vec<f64>,
    cc: Vec<C>,
    cz: Vec<C>,
}

impl Terms {
    fn value(&self, tau: f64) -> f64 {
        let real: f64 = self
            .a
            .iter()
            .zip(&self.r)
            .map(|(a, r)| a * (r * tau).exp())
            .sum();
        let osc: f64 = self
            .cc
            .iter()
            .zip(&self.cz)
            .map(|(c, z)| (c * (z * tau).exp()).re)
            .sum();
        real + osc
    }

    fn slope(&self, tau: f64) -> f64 {
        let real: f64 = self
            .a
            .iter()
            .zip(&self.r)
            .map(|(a, r)| a * r * (r * tau).exp())
            .sum();
        let osc: f64 = self
            .cc
            .iter()
            .zip(&self.cz)
            .map(|(c, z)| (c * z * (z * tau).exp()).re)
            .sum();
        real + osc
    }
}

/// One guard's terms evaluated at the scan's left end s and at its probe t.
struct Ends {
    /// Real terms a e^{rτ} at s and at t.
    real_s: Vec<f64>,
    real_t: Vec<f64>,
    /// e^{zτ} of the oscillating terms at s and at t.
    osc_s: Vec<C>,
    osc_t: Vec<C>,
    /// e^{Re z τ} at s and at t.
    mag_s: Vec<f64>,
    mag_t: Vec<f64>,
    /// |C|, |C z|, |C z²| of the oscillating terms.
    norms: Vec<[f64; 3]>,
    g_s: f64,
    g_t: f64,
    tol: f64,
}

impl Ends {
    fn new(t: &Terms, g0: f64, tol: f64) -> Self {
        let one = C::new(1.0, 0.0);
        Self {
            real_s: t.a.clone(),
            real_t: vec![0.0; t.a.len()],
            osc_s: vec![one; t.cc.len()],
            osc_t: vec![one; t.cc.len()],
            mag_s: vec![1.0; t.cc.len()],
            mag_t: vec![1.0; t.cc.len()],
            norms: t
                .cc
                .iter()
                .zip(&t.cz)
                .map(|(c, z)| [c.norm(), (c * z).norm(), (c * z * z).norm()])
                .collect(),
            g_s: g0,
            g_t: g0,
            tol,
        }
    }

    /// Evaluate at t (h = t − s): the lower bound of G on [s, t], the bounds of G′ there, and
    /// G(t) (kept in `g_t`).
    fn probe(&mut self, terms: &Terms, t: f64, h: f64) -> (f64, f64, f64) {
        let (mut lower, mut d_lo, mut d_hi) = (0.0, 0.0, 0.0);
        let mut g_t = 0.0;
        for (((v, x), a), r) in self
            .real_t
            .iter_mut()
            .zip(&self.real_s)
            .zip(&terms.a)
            .zip(&terms.r)
        {
            *v = a * (r * t).exp();
            g_t += *v;
            lower += x.min(*v);
            let (p, q) = (x * r, *v * r);
            d_lo += p.min(q);
            d_hi += p.max(q);
        }
        for (j, ((c, z), n)) in terms.cc.iter().zip(&terms.cz).zip(&self.norms).enumerate() {
            let (sin, cos) = (z.im * t).sin_cos();
            let mag = (z.re * t).exp();
            let et = C::new(mag * cos, mag * sin);
            (self.osc_t[j], self.mag_t[j]) = (et, mag);
            g_t += (c * et).re;
            // Within the modulus, and within the value at s plus or minus the largest slope
            // times h (the same for the derivative).
            let es = self.osc_s[j];
            let big = self.mag_s[j].max(mag);
            let (val, der) = ((c * es).re, (c * z * es).re);
            lower += (-n[0] * big).max(val - n[1] * big * h);
            d_lo += (-n[1] * big).max(der - n[2] * big * h);
            d_hi += (n[1] * big).min(der + n[2] * big * h);
        }
        self.g_t = g_t;
        (lower, d_lo, d_hi)
    }

    /// Move the left end to the probe.
    fn accept(&mut self) {
        std::mem::swap(&mut self.real_s, &mut self.real_t);
        std::mem::swap(&mut self.osc_s, &mut self.osc_t);
        std::mem::swap(&mut self.mag_s, &mut self.mag_t);
        self.g_s = self.g_t;
    }
}

/// The first τ in (0, span] where any guard turns negative; `Err` when one is at zero and
/// falling at τ = 0 (the regime is being left now), already negative, or the scan does not
/// close. All guards share one scan (see the module docs): `[s, t]` is accepted when every
/// guard is clear on it, and a guard with a single root there is refined only when no other
/// guard is undecided, so the scan stops at the first crossing of any of them.
fn first_negative(guards: &[Terms], span: f64) -> Result<Option<f64>, ()> {
    let growth = guards
        .iter()
        .flat_map(|t| t.r.iter().copied().chain(t.cz.iter().map(|z| z.re)))
        .fold(0.0, f64::max);
    // Beyond e^700 a growing term overflows: search no further.
    if growth > 0.0 && span > 700.0 / growth {
        return match first_negative(guards, 700.0 / growth)? {
            Some(t) => Ok(Some(t)),
            None => Err(()),
        };
    }
    let mut ends = Vec::with_capacity(guards.len());
    // The first probe's length: where the earliest falling guard would cross if it kept its
    // initial slope (a guard that is left soon is then found in a few probes instead of by
    // halving down from the whole span), else the span.
    let mut first = span;
    for t in guards {
        let size: f64 =
            t.a.iter().map(|a| a.abs()).sum::<f64>() + t.cc.iter().map(|c| c.norm()).sum::<f64>();
        if !size.is_finite() {
            return Err(());
        }
        let tol = 1e-11 * size;
        let g0 = t.value(0.0);
        let d0 = t.slope(0.0);
        if !g0.is_finite() || g0 < -tol || (g0 <= tol && d0 <= 0.0) {
            return Err(());
        }
        if d0 < 0.0 && g0 > tol {
            first = first.min(g0 / -d0);
        }
        ends.push(Ends::new(t, g0, tol));
    }
    // An undamped oscillation (a daily cycle in the arrivals) is scanned a few dozen
    // intervals per period: the budget grows with the periods in the span.
    let omega = guards
        .iter()
        .flat_map(|t| t.cz.iter().map(|z| z.im.abs()))
        .fold(0.0, f64::max);
    let periods = (span * omega / std::f64::consts::TAU).min(1e5);
    let budget = SCAN_BUDGET + (64.0 * periods) as usize;
    let (mut s, mut h) = (0.0, first);
    for _ in 0..budget {
        let t = (s + h).min(span);
        let mut undecided = false;
        let mut falling = Vec::new();
        for (j, (e, terms)) in ends.iter_mut().zip(guards).enumerate() {
            let (lower, d_lo, d_hi) = e.probe(terms, t, t - s);
            if !(lower.is_finite() && d_lo.is_finite() && d_hi.is_finite() && e.g_t.is_finite()) {
                return Err(());
            }
            // No root on (s, t]: positive throughout, or rising from a non-negative start,
            // or falling to a positive end.
            if lower > e.tol || d_lo > 0.0 || (d_hi < 0.0 && e.g_t > 0.0) {
                continue;
            }
            if d_hi < 0.0 && e.g_s > 0.0 {
                falling.push(j); // the one root of this guard on (s, t]
            } else {
                undecided = true;
            }
        }
        if !undecided && falling.is_empty() {
            if t >= span {
                return Ok(None);
            }
            ends.iter_mut().for_each(Ends::accept);
            s = t;
            h *= 2.0;
            continue;
        }
        if !undecided {
            let mut first = f64::INFINITY;
            for j in falling {
                let e = &ends[j];
                let root = illinois(|x| guards[j].value(x), s, e.g_s, t, e.g_t).ok_or(())?;
                first = first.min(root);
            }
            return Ok(Some(first));
        }
        h *= 0.5;
        if h <= 1e-13 * t.max(f64::MIN_POSITIVE) {
            return Err(());
        }
    }
    Err(())
}

/// The eigen-structure of a real 2 × 2 block with distinct eigenvalues (real, or a complex
/// pair); `None` when they (nearly) coincide or the eigenvectors are nearly parallel.
pub(super) fn eig2(a: [f64; 4]) -> Option<Block2> {
    let [a11, a12, a21, a22] = a;
    let scale = a11.abs().max(a12.abs()).max(a21.abs()).max(a22.abs());
    if !scale.is_finite() {
        return None;
    }
    if scale == 0.0 {
        // A block that does not move (no arrivals, no departures): a double zero eigenvalue
        // with a full set of eigenvectors.
        let (one, zero) = (C::new(1.0, 0.0), C::new(0.0, 0.0));
        return Some(Block2 {
            a,
            lam: [zero, zero],
            v: [[one, zero], [zero, one]],
            vinv: [[one, zero], [zero, one]],
        });
    }
    let half_tr = 0.5 * (a11 + a22);
    let disc = 0.25 * (a11 - a22).powi(2) + a12 * a21;
    let root = disc.abs().sqrt();
    if root <= 1e-7 * scale {
        return None;
    }
    let lam = if disc < 0.0 {
        [C::new(half_tr, root), C::new(half_tr, -root)]
    } else {
        let big = half_tr + root.copysign(half_tr);
        let det = a11 * a22 - a12 * a21;
        let small = if big != 0.0 {
            det / big
        } else {
            half_tr - root
        };
        [C::new(big, 0.0), C::new(small, 0.0)]
    };
    let re = |x: f64| C::new(x, 0.0);
    let v = lam.map(|l| {
        let r1 = [re(a12), l - a11];
        let r2 = [l - a22, re(a21)];
        let n = |r: &[C; 2]| r[0].norm_sqr() + r[1].norm_sqr();
        let r = if n(&r1) >= n(&r2) { r1 } else { r2 };
        let len = n(&r).sqrt();
        [r[0] / len, r[1] / len]
    });
    let det_v = v[0][0] * v[1][1] - v[1][0] * v[0][1];
    if det_v.norm() < 1e-6 {
        return None;
    }
    let vinv = [
        [v[1][1] / det_v, -v[1][0] / det_v],
        [-v[0][1] / det_v, v[0][0] / det_v],
    ];
    Some(Block2 { a, lam, v, vinv })
}

/// y with (A − zI) y = −d for a 2 × 2 block A; `None` at (near) resonance. When z is an
/// eigenvalue of A but d has no component along its eigenvector (a class whose seeds leave at
/// once: its seed row is zero, eigenvalue 0, and constant arrivals do not drive it), the
/// system is singular but consistent: that component of y is taken as 0.
fn solve_shifted(bl: &Block2, z: C, d: [C; 2]) -> Option<[C; 2]> {
    let a = &bl.a;
    let (p11, p22) = (C::new(a[0], 0.0) - z, C::new(a[3], 0.0) - z);
    let off = a[1] * a[2];
    let det = p11 * p22 - off;
    let size = p11.norm() * p22.norm() + off.abs();
    if det.norm() > 1e-9 * size && det.norm() > 0.0 {
        return Some([
            (-d[0] * p22 + d[1] * a[1]) / det,
            (-p11 * d[1] + d[0] * a[2]) / det,
        ]);
    }
    // In the eigenbasis: (λ_i − z) u_i = −(V⁻¹ d)_i.
    let scale = a.iter().fold(z.norm(), |m, v| m.max(v.abs()));
    let d_size = d[0].norm().max(d[1].norm());
    let mut u = [C::new(0.0, 0.0); 2];
    for (i, ui) in u.iter_mut().enumerate() {
        let e = bl.vinv[i][0] * d[0] + bl.vinv[i][1] * d[1];
        let den = bl.lam[i] - z;
        if den.norm() > 1e-9 * scale {
            *ui = -e / den;
        } else if e.norm() > 1e-14 * d_size {
            return None; // driven at its own rate: resonance
        }
    }
    Some([
        bl.v[0][0] * u[0] + bl.v[1][0] * u[1],
        bl.v[0][1] * u[0] + bl.v[1][1] * u[1],
    ])
}

impl Blocks {
    /// The closed form of a regime given by row-major `mq` (q × q, q = nd + m, nd = 2K) and
    /// `mc` (nc × q); `None` unless at most one class's rows read other classes' states,
    /// every block has distinct eigenvalues, the forcing generator is diagonal, and no forcing
    /// rate or free-running eigenvalue equals an eigenvalue of the block it drives.
    pub(super) fn new(
        mq: &[f64],
        mc: &[f64],
        q: usize,
        nd: usize,
        guards: &[Vec<f64>],
    ) -> Option<Self> {
        if nd < 2 || !nd.is_multiple_of(2) || q <= nd || mq.len() != q * q {
            return None;
        }
        if !mc.len().is_multiple_of(q) {
            return None;
        }
        let k = nd / 2;
        let at = |i: usize, j: usize| mq[i * q + j];
        let mut driven = None;
        for i in 0..q {
            for j in 0..q {
                if at(i, j) == 0.0 {
                    continue;
                }
                if i >= nd {
                    // The forcing generator: its own rate, or a pair with a neighbour.
                    if j < nd || (j != i && j + 1 != i && i + 1 != j) {
                        return None;
                    }
                } else if j < nd && j % k != i % k {
                    match driven {
                        None => driven = Some(i % k),
                        Some(f) if f == i % k => {}
                        Some(_) => return None, // two blocks read others
                    }
                }
            }
        }
        let blocks = (0..k)
            .map(|b| eig2([at(b, b), at(b, k + b), at(k + b, b), at(k + b, k + b)]))
            .collect::<Option<Vec<_>>>()?;
        let mut forcing = Vec::new();
        let mut i = nd;
        while i < q {
            let paired = i + 1 < q && (at(i, i + 1) != 0.0 || at(i + 1, i) != 0.0);
            if paired {
                if i + 2 < q && (at(i + 1, i + 2) != 0.0 || at(i + 2, i + 1) != 0.0) {
                    return None; // a chain of three (a ramp on a cycle): no such form here
                }
                let eig = eig2([at(i, i), at(i, i + 1), at(i + 1, i), at(i + 1, i + 1)])?;
                forcing.push(Forcing::Pair { j: i - nd, eig });
                i += 2;
            } else {
                forcing.push(Forcing::One {
                    j: i - nd,
                    g: at(i, i),
                });
                i += 1;
            }
        }
        Some(Self {
            k,
            q,
            nc: mc.len() / q,
            mq: mq.to_vec(),
            mc_cols: (0..q)
                .map(|j| {
                    (0..mc.len() / q)
                        .filter(|&r| mc[r * q + j] != 0.0)
                        .map(|r| (r, mc[r * q + j]))
                        .collect()
                })
                .collect(),
            blocks,
            driven,
            forcing,
            guards: guards.to_vec(),
        })
    }

    fn usable(&self, p: &[f64], span: f64) -> bool {
        p.len() == self.q && !span.is_nan() && span >= 0.0 && p.iter().all(|x| x.is_finite())
    }

    /// Block b's particular response y to a mode with rate z and state vector `vn` (its own
    /// entries ignored): (A_b − zI) y = −(Mq rows of b) · vn over the other columns.
    fn respond(&self, b: usize, z: C, vn: &[C]) -> Option<[C; 2]> {
        let (k, q) = (self.k, self.q);
        let mut d = [C::new(0.0, 0.0); 2];
        for (di, row) in d.iter_mut().zip([b, k + b]) {
            for (j, x) in vn.iter().enumerate() {
                if j != b && j != k + b && (x.re != 0.0 || x.im != 0.0) {
                    *di += x * self.mq[row * q + j];
                }
            }
        }
        solve_shifted(&self.blocks[b], z, d)
    }

    /// The closed form from state p and integrals c; `None` at a resonance or if an
    /// intermediate term is not finite (the caller steps instead).
    fn path(&self, p: &[f64], c: &[f64]) -> Option<Path> {
        let (k, q, nc) = (self.k, self.q, self.nc);
        let (nd, m) = (2 * k, q - 2 * k);
        if p.len() != q || c.len() != nc {
            return None;
        }
        let modes = m + nd;
        let zero = C::new(0.0, 0.0);
        let mut z = vec![zero; modes];
        let mut v = vec![zero; modes * q];
        let order: Vec<usize> = (0..k)
            .filter(|&b| Some(b) != self.driven)
            .chain(self.driven)
            .collect();
        // Forcing modes: w_j(0) e^{g_j τ} and every block's particular solution, the driven
        // block last (it reads the others').
        // A rotating pair gives two modes (its eigenvectors, fitted to w(0)).
        for f in &self.forcing {
            let parts: [(usize, C, [C; 2]); 2] = match f {
                Forcing::One { j, g } => [
                    (*j, C::new(*g, 0.0), [C::new(p[nd + j], 0.0), zero]),
                    (usize::MAX, zero, [zero; 2]),
                ],
                Forcing::Pair { j, eig } => {
                    let w = [C::new(p[nd + j], 0.0), C::new(p[nd + j + 1], 0.0)];
                    let mode = |i: usize| {
                        let alpha = eig.vinv[i][0] * w[0] + eig.vinv[i][1] * w[1];
                        (
                            j + i,
                            eig.lam[i],
                            [eig.v[i][0] * alpha, eig.v[i][1] * alpha],
                        )
                    };
                    [mode(0), mode(1)]
                }
            };
            for (n, rate, w) in parts {
                if n == usize::MAX {
                    continue;
                }
                z[n] = rate;
                let vn = &mut v[n * q..(n + 1) * q];
                match f {
                    Forcing::One { j, .. } => vn[nd + j] = w[0],
                    Forcing::Pair { j, .. } => {
                        vn[nd + j] = w[0];
                        vn[nd + j + 1] = w[1];
                    }
                }
                for &b in &order {
                    let y = self.respond(b, z[n], vn)?;
                    (vn[b], vn[k + b]) = (y[0], y[1]);
                }
            }
        }
        // Each block's own modes, fitted to what the modes before it leave of p; a
        // free-running block's modes drive the driven block.
        for &b in &order {
            let mut delta = [p[b], p[k + b]];
            for n in 0..modes {
                delta[0] -= v[n * q + b].re;
                delta[1] -= v[n * q + k + b].re;
            }
            let bl = &self.blocks[b];
            for i in 0..2 {
                let alpha = bl.vinv[i][0] * delta[0] + bl.vinv[i][1] * delta[1];
                let n = m + 2 * b + i;
                z[n] = bl.lam[i];
                let vn = &mut v[n * q..(n + 1) * q];
                vn[b] = bl.v[i][0] * alpha;
                vn[k + b] = bl.v[i][1] * alpha;
                if let Some(f) = self.driven.filter(|&f| f != b) {
                    let y = self.respond(f, z[n], vn)?;
                    (vn[f], vn[k + f]) = (y[0], y[1]);
                }
            }
        }
        let mut w = vec![zero; modes * nc];
        for n in 0..modes {
            for (x, col) in v[n * q..(n + 1) * q].iter().zip(&self.mc_cols) {
                if x.re == 0.0 && x.im == 0.0 {
                    continue;
                }
                for &(r, m) in col {
                    w[n * nc + r] += x * m;
                }
            }
        }
        let finite = |x: &C| x.re.is_finite() && x.im.is_finite();
        let ok = v.iter().all(finite) && w.iter().all(finite) && c.iter().all(|x| x.is_finite());
        ok.then(|| Path {
            q,
            z,
            v,
            w,
            c0: c.to_vec(),
        })
    }

    /// Guard `gv` along a path.
    fn terms(&self, gv: &[f64], path: &Path) -> Terms {
        let q = self.q;
        let mut t = Terms {
            a: Vec::new(),
            r: Vec::new(),
            cc: Vec::new(),
            cz: Vec::new(),
        };
        for (n, z) in path.z.iter().enumerate() {
            let coef: C = gv
                .iter()
                .zip(&path.v[n * q..(n + 1) * q])
                .map(|(g, x)| x * g)
                .sum();
            if coef.re == 0.0 && coef.im == 0.0 {
                continue;
            }
            if z.im == 0.0 {
                t.a.push(coef.re);
                t.r.push(z.re);
            } else {
                t.cc.push(coef);
                t.cz.push(*z);
            }
        }
        t
    }

    /// Whether no guard can turn negative within the next `span` seconds from state `p`.
    pub(super) fn holds(&self, p: &[f64], span: f64) -> bool {
        if !self.usable(p, span) {
            return false;
        }
        let zero = vec![0.0; self.nc];
        let Some(path) = self.path(p, &zero) else {
            return false;
        };
        self.guards.iter().all(|gv| {
            let t = self.terms(gv, &path);
            let real: f64 =
                t.a.iter()
                    .zip(&t.r)
                    .map(|(a, r)| a.min(a * (r * span).exp()))
                    .sum();
            let osc: f64 =
                t.cc.iter()
                    .zip(&t.cz)
                    .map(|(c, z)| -c.norm() * (z.re * span).exp().max(1.0))
                    .sum();
            let size: f64 = t.a.iter().map(|a| a.abs()).sum::<f64>()
                + t.cc.iter().map(|c| c.norm()).sum::<f64>();
            let at_p: f64 = gv.iter().zip(p).map(|(a, b)| (a * b).abs()).sum();
            let lower = real + osc;
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
        let path = self.path(p, c).ok_or(())?;
        let terms: Vec<Terms> = self.guards.iter().map(|gv| self.terms(gv, &path)).collect();
        Ok((first_negative(&terms, span)?, path))
    }

    /// The step matrix of an interval h, rows [E; F] (q columns), from the closed form
    /// applied to each unit state.
    pub(super) fn transfer(&self, h: f64) -> Option<Vec<f64>> {
        let (q, nc) = (self.q, self.nc);
        let mut rows = vec![0.0; (q + nc) * q];
        let (mut unit, zero) = (vec![0.0; q], vec![0.0; nc]);
        let (mut pj, mut cj) = (vec![0.0; q], vec![0.0; nc]);
        for j in 0..q {
            unit.fill(0.0);
            unit[j] = 1.0;
            self.path(&unit, &zero)?.at(h, &mut pj, &mut cj);
            for (r, v) in pj.iter().chain(&cj).enumerate() {
                rows[r * q + j] = *v;
            }
        }
        Some(rows)
    }
}

impl Path {
    /// The state (dynamic, then forcing) and the integrals τ seconds after the path's start.
    pub(super) fn at(&self, tau: f64, p: &mut [f64], c: &mut [f64]) {
        let (q, nc) = (self.q, self.c0.len());
        p.fill(0.0);
        c.copy_from_slice(&self.c0);
        for (n, z) in self.z.iter().enumerate() {
            let e = if z.im == 0.0 {
                C::new((z.re * tau).exp(), 0.0)
            } else {
                (z * tau).exp()
            };
            let ph = phi(*z, tau);
            for (pj, x) in p.iter_mut().zip(&self.v[n * q..(n + 1) * q]) {
                *pj += x.re * e.re - x.im * e.im;
            }
            for (cr, x) in c.iter_mut().zip(&self.w[n * nc..(n + 1) * nc]) {
                *cr += x.re * ph.re - x.im * ph.im;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::modal::tests::{close, rk4};
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

    /// The closed form from (p0, c0) at t equals the reference RK4 (1e-9 relative), and the
    /// step matrix of `h`, walked `steps` times (steps·h = t), equals it (1e-12); returns it.
    fn check_against_rk4(
        b: &Blocks,
        (mq, mc, q): (&[f64], &[f64], usize),
        (p0, c0): (&[f64], &[f64]),
        t: f64,
        (h, steps): (f64, usize),
    ) -> (Vec<f64>, Vec<f64>) {
        let (none, path) = b.next(p0, c0, t).expect("no guards");
        assert!(none.is_none());
        let (mut p, mut c) = (vec![0.0; q], vec![0.0; c0.len()]);
        path.at(t, &mut p, &mut c);
        let (pr, cr) = rk4(mq, mc, q, p0, c0, t);
        assert!(
            close(&p, &pr, 1e-9) && close(&c, &cr, 1e-9),
            "{p:?} {pr:?} {c:?} {cr:?}"
        );
        let rows = b.transfer(h).expect("step matrix");
        let (mut pw, mut cw) = (p0.to_vec(), c0.to_vec());
        for _ in 0..steps {
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
        (p, c)
    }

    /// The closed form equals RK4 at step 4e-4 s (its error ~1e-15 here; tolerance 1e-9
    /// relative), and the step matrix of 0.5 s walked 80 times equals it to 1e-12.
    #[test]
    fn decoupled_classes_equal_a_fine_runge_kutta() {
        let (mq, mc, q) = two_classes();
        let b = Blocks::new(&mq, &mc, q, 4, &[]).expect("decoupled");
        let p0 = [0.3, 0.1, 2.0, 0.0, 1.0, 1.0];
        let c0 = [0.0, 1.0, 2.0];
        check_against_rk4(&b, (&mq, &mc, q), (&p0, &c0), 40.0, (0.5, 80));
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
        coupled[1] = 0.1; // x0' reads x1
        coupled[q] = 0.1; // and x1' reads x0: two blocks read others
        assert!(Blocks::new(&coupled, &mc, q, 4, &[]).is_none());
    }

    /// A daily cycle in the arrivals (forcing states 1, cos, sin rotating at ω) drives both
    /// classes: the forcing pair's eigenmodes (±iω) give the particular solutions; the closed
    /// form equals RK4 over two periods (1e-9) and the step matrix walks it (1e-12).
    #[test]
    fn a_daily_cycle_in_the_arrivals_equals_a_fine_runge_kutta() {
        let (two, mc2, q2) = two_classes();
        // Rebuild with forcing (1, cos, sin) instead of (1, decay).
        let q = 7;
        let omega = 2.0 * std::f64::consts::PI / 10.0;
        let mut mq = vec![0.0; q * q];
        for i in 0..4 {
            for j in 0..5 {
                mq[i * q + j] = two[i * q2 + j];
            }
        }
        mq[5] = 0.5; // x1 reads cos: λ_1 (1 + 0.5 cos)
        mq[q + 5] = 0.2;
        mq[5 * q + 6] = -omega;
        mq[6 * q + 5] = omega;
        let mut mc = vec![0.0; 3 * q];
        for r in 0..3 {
            for j in 0..5 {
                mc[r * q + j] = mc2[r * q2 + j];
            }
        }
        let b = Blocks::new(&mq, &mc, q, 4, &[]).expect("cycle forcing");
        let p0 = [0.3, 0.1, 2.0, 0.5, 1.0, 0.6, -0.8];
        let c0 = [0.0, 1.0, 2.0];
        check_against_rk4(&b, (&mq, &mc, q), (&p0, &c0), 20.0, (0.25, 80));
    }

    /// One class driven by the other (it reads the other's leechers and seeds, as the class
    /// that takes what the others leave of the upload), with complex eigenvalues: the closed
    /// form equals RK4 (1e-9 relative), the step matrix walks it (1e-12), and a guard on the
    /// driven class's oscillation is crossed where a fine scan finds the sign change.
    #[test]
    fn a_driven_class_with_complex_modes_equals_a_fine_runge_kutta() {
        let (mut mq, mc, q) = two_classes();
        let mut set = |i: usize, j: usize, v: f64| mq[i * q + j] = v;
        // Class 1 (states 1 and 3): x1' = −0.3 x1 − 1.0 y1 + 0.5 x0 + 0.2 y0 + …,
        // y1' = 0.8 x1 − 0.2 y1 − 0.1 x0.
        set(1, 1, -0.3);
        set(1, 3, -1.0);
        set(1, 0, 0.5);
        set(1, 2, 0.2);
        set(3, 1, 0.8);
        set(3, 3, -0.2);
        set(3, 0, -0.1);
        let b = Blocks::new(&mq, &mc, q, 4, &[]).expect("one driven block");
        assert_eq!(b.driven, Some(1));
        assert!(b.blocks[1].lam[0].im != 0.0, "complex pair");
        let p0 = [0.3, 0.1, 2.0, 0.5, 1.0, 1.0];
        let c0 = [0.0, 1.0, 2.0];
        check_against_rk4(&b, (&mq, &mc, q), (&p0, &c0), 30.0, (0.25, 120));

        // x1 − level ≥ 0, the level halfway between x1(0) and the lowest x1 of the first 30 s:
        // the driven class's damped oscillation dips through it.
        let p0 = [0.3, 2.0, 2.0, 0.5, 1.0, 1.0];
        let (_, free) = b.next(&p0, &c0, 30.0).expect("no guards");
        let x1 = |t: f64| {
            let (mut p, mut c) = ([0.0; 6], [0.0; 3]);
            free.at(t, &mut p, &mut c);
            p[1]
        };
        let lowest = (0..=3000)
            .map(|i| x1(i as f64 * 0.01))
            .fold(f64::INFINITY, f64::min);
        assert!(lowest < p0[1] - 0.1, "x1 dips: {lowest}");
        let level = 0.5 * (p0[1] + lowest);
        let guard = vec![0.0, 1.0, 0.0, 0.0, -level, 0.0];
        let b = Blocks::new(&mq, &mc, q, 4, std::slice::from_ref(&guard)).expect("driven");
        let (tau, path) = b.next(&p0, &c0, 30.0).expect("closed form");
        let tau = tau.expect("crossing");
        let g = |t: f64| {
            let (mut p, mut c) = ([0.0; 6], [0.0; 3]);
            path.at(t, &mut p, &mut c);
            guard.iter().zip(&p).map(|(a, b)| a * b).sum::<f64>()
        };
        let scan = (1..=300_000)
            .map(|i| i as f64 * 1e-4)
            .find(|&t| g(t) < 0.0)
            .expect("changes sign");
        assert!((tau - scan).abs() <= 1e-4, "{tau} vs {scan}");
        assert!(g(tau).abs() <= 1e-12, "{}", g(tau));
    }
}
