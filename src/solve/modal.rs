//! The closed form of an affine regime with two dynamic states (one swarm class: leechers and
//! seeds) under forcing states that are exponentials (constant arrivals, a decaying flash
//! crowd, a constant stretch of a trace), used by the exact method to finish a solve once no
//! guard can change sign again.
//!
//! With `A` the 2 × 2 dynamic block, `B_j` the column of forcing state `w_j(τ) = w_j(0) e^{g_j τ}`
//! and `(A − g_j I) u_j = −B_j`,
//!
//! ```text
//! x(τ) = Σ_j u_j w_j(τ) + e^{Aτ} δ,   δ = x(0) − Σ_j u_j w_j(0),   e^{Aτ} δ = Σ_i α_i v_i e^{λ_i τ}
//! c(τ) = c(0) + Mc_x ∫_0^τ x + Mc_w ∫_0^τ w,   ∫_0^τ e^{zs} ds = (e^{zτ} − 1)/z
//! ```
//!
//! with `λ_i`, `v_i` the eigenpairs of `A` (real, or a complex pair). A guard is then a sum of
//! exponentials `Σ_i c_i e^{λ_i τ} + Σ_j e_j e^{g_j τ}`; each real term is monotone, so on
//! `[0, T]` it lies between its values at 0 and T, and a complex pair stays within its modulus
//! (times `max(1, e^{Re λ T})`). When the sum of the lower ends is positive the guard cannot
//! reach zero before T: the regime holds to T, and every output up to T is written from the
//! closed form at a cost that does not depend on T. That is the certificate. It is exact
//! arithmetic on the model's own matrices, not a tolerance on the solution: a regime that could
//! be left is never certified, it is stepped.

use nalgebra::Complex;

use super::blocks::{eig2, Block2, Blocks, Path};

type C = Complex<f64>;

/// Largest number of forcing states handled (a flash crowd has two: 1 and its decay).
const M_MAX: usize = 3;

/// The eigen-structure of one affine regime (built once per regime and forcing segment).
pub(super) struct Modal {
    /// Eigenvalues of the dynamic block and its eigenvectors (`v[i]` belongs to `lam[i]`).
    lam: [C; 2],
    v: [[C; 2]; 2],
    /// Rows of V⁻¹.
    vinv: [[C; 2]; 2],
    /// Whether the eigenvalues are a complex pair.
    complex: bool,
    /// Forcing rates g_j and particular solutions u_j.
    g: Vec<f64>,
    u: Vec<[f64; 2]>,
    /// Mc split into its dynamic columns (nc × 2) and forcing columns (nc × m).
    mc_x: Vec<[f64; 2]>,
    mc_w: Vec<f64>,
    /// The regime's guards (q long: dynamic part, then forcing part).
    guards: Vec<Vec<f64>>,
}

/// Largest number of running integrals handled (one class has 7).
const NC_MAX: usize = 8;

/// The closed-form solution from one state, ready to be evaluated at any τ ≥ 0 (fixed-size
/// arrays: no allocation, and the evaluation unrolls).
pub(super) struct Settled {
    m: usize,
    nc: usize,
    /// α_i v_i.
    modes: [[C; 2]; 2],
    /// Mc_x α_i v_i.
    c_modes: [[C; NC_MAX]; 2],
    /// u_j w_j(0) and w_j(0).
    x_forced: [[f64; 2]; M_MAX],
    w0: [f64; M_MAX],
    /// Mc_x u_j w_j(0) + Mc_w[·, j] w_j(0).
    c_forced: [[f64; NC_MAX]; M_MAX],
    c0: [f64; NC_MAX],
    lam: [C; 2],
    g: [f64; M_MAX],
}

/// The outcome of [`Form::next`].
pub(super) enum Next {
    /// No guard turns negative within the span.
    Holds(Solution),
    /// The first guard turns negative τ seconds on.
    Leaves(f64, Solution),
    /// The closed form cannot say; step instead.
    Unknown,
}

/// A closed-form solution from one state, ready to be evaluated at any τ ≥ 0.
// The one-class variant is a fixed-size array record (no allocation on the path every
// one-class sweep point takes); it is built once per jump and never copied in a loop.
#[allow(clippy::large_enum_variant)]
pub(super) enum Solution {
    /// One class.
    One(Settled),
    /// Several decoupled classes ([`super::blocks`]).
    Blocks(Path),
}

impl Solution {
    /// The state (dynamic, then forcing) and the integrals τ seconds after the start.
    pub(super) fn at(&self, tau: f64, p: &mut [f64], c: &mut [f64]) {
        match self {
            Solution::One(s) => s.at(tau, p, c),
            Solution::Blocks(b) => b.at(tau, p, c),
        }
    }
}

/// The closed form of an affine regime, when it has one: one class ([`Modal`]) or several
/// classes that do not interact in this regime ([`Blocks`]).
pub(super) enum Form {
    One(Modal),
    Blocks(Blocks),
}

impl Form {
    /// The closed form of the regime (row-major `mq`, q × q, and `mc`, nc × q, with `nd`
    /// dynamic states), if it has one.
    pub(super) fn new(
        mq: &[f64],
        mc: &[f64],
        q: usize,
        nd: usize,
        guards: &[Vec<f64>],
    ) -> Option<Self> {
        // One class: its own closed form, or the block form where that has none (seeds that
        // leave at once: a zero seed row the block form handles).
        let one = (nd == 2)
            .then(|| Modal::new(mq, mc, q, nd, guards))
            .flatten();
        one.map(Form::One)
            .or_else(|| Blocks::new(mq, mc, q, nd, guards).map(Form::Blocks))
    }

    /// See [`Modal::next`] and [`Blocks::next`].
    pub(super) fn next(&self, p: &[f64], c: &[f64], span: f64) -> Next {
        match self {
            Form::One(m) => m.next(p, c, span),
            Form::Blocks(b) => match b.next(p, c, span) {
                Ok((None, path)) => Next::Holds(Solution::Blocks(path)),
                Ok((Some(tau), path)) => Next::Leaves(tau, Solution::Blocks(path)),
                Err(()) => Next::Unknown,
            },
        }
    }

    /// Whether no guard can turn negative within the next `span` seconds from `p`.
    pub(super) fn holds(&self, p: &[f64], span: f64) -> bool {
        match self {
            Form::One(m) => m.holds(p, span),
            Form::Blocks(b) => b.holds(p, span),
        }
    }

    /// The step matrix of an interval h, rows [E; F] (q columns).
    pub(super) fn transfer(&self, h: f64) -> Option<Vec<f64>> {
        match self {
            Form::One(m) => m.transfer(h),
            Form::Blocks(b) => b.transfer(h),
        }
    }
}

/// One guard along the closed form with constant forcing: `G(τ) = e + 2 Re(c₀ e^{λ₀τ})` for a
/// complex pair, `e + c₀ e^{λ₀τ} + c₁ e^{λ₁τ}` for real modes.
struct Guard {
    e: f64,
    c: [C; 2],
    lam: [C; 2],
    complex: bool,
}

impl Guard {
    fn value(&self, tau: f64) -> f64 {
        if self.complex {
            let (a, b) = (self.lam[0].re, self.lam[0].im);
            let (p, q) = (2.0 * self.c[0].re, -2.0 * self.c[0].im);
            self.e + (a * tau).exp() * (p * (b * tau).cos() + q * (b * tau).sin())
        } else {
            self.e
                + self.c[0].re * (self.lam[0].re * tau).exp()
                + self.c[1].re * (self.lam[1].re * tau).exp()
        }
    }

    fn slope(&self, tau: f64) -> f64 {
        if self.complex {
            let (a, b) = (self.lam[0].re, self.lam[0].im);
            let (p, q) = (2.0 * self.c[0].re, -2.0 * self.c[0].im);
            (a * tau).exp()
                * ((a * p + b * q) * (b * tau).cos() + (a * q - b * p) * (b * tau).sin())
        } else {
            self.c[0].re * self.lam[0].re * (self.lam[0].re * tau).exp()
                + self.c[1].re * self.lam[1].re * (self.lam[1].re * tau).exp()
        }
    }

    /// The first τ in (0, span] where G turns negative; `Err` when G is at zero and falling at
    /// τ = 0 (the regime is being left now) or the oscillation is too long to scan.
    fn first_negative(&self, span: f64) -> Result<Option<f64>, ()> {
        // Beyond e^700 a growing mode overflows and G is inf − inf: search no further, and say
        // "cannot tell" if there is no crossing before.
        let growth = self.lam.iter().map(|l| l.re).fold(0.0, f64::max);
        let reach = if growth > 0.0 {
            700.0 / growth
        } else {
            f64::INFINITY
        };
        if span > reach {
            return match self.first_negative(reach)? {
                Some(t) => Ok(Some(t)),
                None => Err(()),
            };
        }
        let size = self.e.abs() + 2.0 * (self.c[0].norm() + self.c[1].norm());
        let tol = 1e-11 * size;
        let g0 = self.value(0.0);
        if g0 <= tol && self.slope(0.0) <= 0.0 {
            return Err(());
        }
        // Check the monotone stretch [a, b]; G(a) > 0 except on the boundary at τ = 0 (then it
        // rises).
        // `Some(Ok(root))` for a sign change on [a, b], `Some(Err(()))` if its root did not
        // converge.
        let stretch = |a: f64, ga: f64, b: f64| -> Option<Result<f64, ()>> {
            let gb = self.value(b);
            if !gb.is_finite() {
                return Some(Err(()));
            }
            (ga > 0.0 && gb < 0.0).then(|| self.refine(a, ga, b, gb).ok_or(()))
        };
        if self.complex {
            let (a, b) = (self.lam[0].re, self.lam[0].im);
            let (p, q) = (2.0 * self.c[0].re, -2.0 * self.c[0].im);
            let amplitude = p.hypot(q);
            let chi = (a * q - b * p).atan2(a * p + b * q);
            let half = std::f64::consts::PI / b;
            // The first critical time after 0, then every half period.
            let mut k = ((-(chi + std::f64::consts::FRAC_PI_2) / b) / half).floor() + 1.0;
            let (mut lo, mut g_lo) = (0.0, g0.max(f64::MIN_POSITIVE));
            for _ in 0..10_000 {
                let t_k = (chi + std::f64::consts::FRAC_PI_2) / b + k * half;
                k += 1.0;
                if t_k <= lo {
                    continue;
                }
                let hi = t_k.min(span);
                if let Some(root) = stretch(lo, g_lo, hi) {
                    return root.map(Some);
                }
                if hi >= span {
                    return Ok(None);
                }
                (lo, g_lo) = (hi, self.value(hi));
                // Decaying: once the oscillation cannot reach zero any more, it never will.
                if a <= 0.0 && self.e - amplitude * (a * lo).exp() > tol {
                    return Ok(None);
                }
            }
            return Err(());
        }
        let (l0, l1) = (self.lam[0].re, self.lam[1].re);
        let (s0, s1) = (self.c[0].re * l0, self.c[1].re * l1);
        let mut cuts = [span; 2];
        if s0 != 0.0 && (l0 - l1).abs() > 0.0 {
            let ratio = -s1 / s0;
            if ratio > 0.0 {
                let tc = ratio.ln() / (l0 - l1);
                if tc > 0.0 && tc < span {
                    cuts[0] = tc;
                }
            }
        }
        let (mut lo, mut g_lo) = (0.0, g0.max(f64::MIN_POSITIVE));
        for hi in cuts {
            if hi <= lo {
                continue;
            }
            if let Some(root) = stretch(lo, g_lo, hi) {
                return root.map(Some);
            }
            (lo, g_lo) = (hi, self.value(hi));
        }
        Ok(None)
    }

    /// The root of G in [a, b] (G(a) > 0 > G(b), G monotone), to rounding. Returns the end
    /// where G is not positive (the crossing has happened there), or `None` if the bracket did
    /// not close.
    fn refine(&self, mut a: f64, mut ga: f64, mut b: f64, mut gb: f64) -> Option<f64> {
        // A bracket many time constants wide (a settled stretch to a far horizon): close it
        // first by doubling probes from its left end, so that Illinois starts near the root.
        let fastest = self.lam.iter().map(|l| l.norm()).fold(0.0, f64::max);
        if fastest > 0.0 {
            let mut step = 1.0 / fastest;
            while a + step < b && b - a > 8.0 / fastest {
                let x = a + step;
                let gx = self.value(x);
                if gx > 0.0 {
                    (a, ga) = (x, gx);
                    step *= 2.0;
                } else {
                    (b, gb) = (x, gx);
                    break;
                }
            }
        }
        illinois(|x| self.value(x), a, ga, b, gb)
    }
}

/// The root of `value` in [a, b] (`ga` = value(a) > 0 > `gb` = value(b), one sign change), to
/// rounding: the end where the value is not positive, or `None` if the bracket did not close.
/// Illinois (regula falsi that halves the weight of an end kept twice): superlinear, one
/// evaluation per iteration, never leaves the bracket; a bisection whenever the bracket fails to
/// halve in two iterations.
pub(super) fn illinois(
    value: impl Fn(f64) -> f64,
    mut a: f64,
    mut ga: f64,
    mut b: f64,
    mut gb: f64,
) -> Option<f64> {
    let mut side = 0i8;
    let mut width = b - a;
    for k in 0..200 {
        let mut x = (a * gb - b * ga) / (gb - ga);
        if k % 2 == 1 && b - a > 0.5 * width {
            x = 0.5 * (a + b);
        }
        if k % 2 == 1 {
            width = b - a;
        }
        if x.is_nan() || x <= a || x >= b {
            x = 0.5 * (a + b);
        }
        let gx = value(x);
        if gx > 0.0 {
            (a, ga) = (x, gx);
            if side == 1 {
                gb *= 0.5;
            }
            side = 1;
        } else if gx < 0.0 {
            (b, gb) = (x, gx);
            if side == -1 {
                ga *= 0.5;
            }
            side = -1;
        } else {
            return Some(x);
        }
        if b - a <= 4.0 * f64::EPSILON * b.abs() {
            return Some(b);
        }
    }
    None
}

/// (e^{zτ} − 1)/z without cancellation (τ when z = 0).
pub(super) fn phi(z: C, tau: f64) -> C {
    if z.im == 0.0 {
        return C::new(phi_real(z.re, tau), 0.0);
    }
    let (a, b) = (z.re * tau, z.im * tau);
    // e^{a+ib} − 1 = expm1(a) cos b + (cos b − 1) + i e^a sin b, with cos b − 1 = −2 sin²(b/2).
    let s = (0.5 * b).sin();
    let num = C::new(a.exp_m1() * b.cos() - 2.0 * s * s, a.exp() * b.sin());
    num / z
}

pub(super) fn phi_real(l: f64, tau: f64) -> f64 {
    if l == 0.0 {
        tau
    } else {
        (l * tau).exp_m1() / l
    }
}

impl Modal {
    /// The closed form of a regime given by row-major `mq` (q × q, q = 2 + m) and `mc`
    /// (nc × q); `None` when it has none that is well conditioned: more than two dynamic
    /// states, a forcing generator that is not diagonal (a daily cycle, a ramp), a repeated
    /// eigenvalue, or a forcing rate equal to an eigenvalue (resonance).
    pub(super) fn new(
        mq: &[f64],
        mc: &[f64],
        q: usize,
        nd: usize,
        guards: &[Vec<f64>],
    ) -> Option<Self> {
        let m = q.checked_sub(2)?;
        if nd != 2 || m == 0 || m > M_MAX || mq.len() != q * q || !mc.len().is_multiple_of(q) {
            return None;
        }
        let at = |i: usize, j: usize| mq[i * q + j];
        // Forcing generator: rows 2.., zero on the dynamic columns, diagonal.
        for i in 2..q {
            for j in 0..q {
                if j != i && at(i, j) != 0.0 {
                    return None;
                }
            }
        }
        let g: Vec<f64> = (2..q).map(|i| at(i, i)).collect();
        let (a11, a12, a21, a22) = (at(0, 0), at(0, 1), at(1, 0), at(1, 1));
        let scale = a11.abs().max(a12.abs()).max(a21.abs()).max(a22.abs());
        if !scale.is_finite() || scale <= 0.0 {
            return None;
        }
        // Eigenpairs (a (nearly) repeated pair or nearly parallel eigenvectors: no form).
        let Block2 { lam, v, vinv, .. } = eig2([a11, a12, a21, a22])?;
        let complex = lam[0].im != 0.0;
        let mut u = Vec::with_capacity(m);
        for (j, &gj) in g.iter().enumerate() {
            let (b1, b2) = (at(0, 2 + j), at(1, 2 + j));
            let (p11, p22) = (a11 - gj, a22 - gj);
            let det = p11 * p22 - a12 * a21;
            if det.abs() <= 1e-9 * (p11.abs() * p22.abs() + (a12 * a21).abs()) || det == 0.0 {
                return None; // resonance
            }
            // (A − gI) u = −B by Cramer's rule.
            u.push([(-b1 * p22 + a12 * b2) / det, (-p11 * b2 + a21 * b1) / det]);
        }
        let nc = mc.len() / q;
        let mc_x = (0..nc).map(|r| [mc[r * q], mc[r * q + 1]]).collect();
        let mc_w = (0..nc)
            .flat_map(|r| (0..m).map(move |j| mc[r * q + 2 + j]))
            .collect();
        Some(Self {
            lam,
            v,
            vinv,
            complex,
            g,
            u,
            mc_x,
            mc_w,
            guards: guards.to_vec(),
        })
    }

    /// Whether no guard can turn negative within the next `span` seconds from state `p`.
    pub(super) fn holds(&self, p: &[f64], span: f64) -> bool {
        self.safe_modes(p, span).is_some()
    }

    /// The modes α_i v_i from `p`, if every guard's lower bound on [0, span] is positive.
    fn safe_modes(&self, p: &[f64], span: f64) -> Option<[[C; 2]; 2]> {
        let m = self.g.len();
        if p.len() != 2 + m || span.is_nan() || span < 0.0 || p.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let w0 = &p[2..];
        let modes = self.modes(p);
        for gv in &self.guards {
            let mut lower = 0.0;
            let mut size = 0.0;
            // Forcing terms e_j e^{g_j τ}.
            for (j, (uj, wj)) in self.u.iter().zip(w0).enumerate() {
                let e = (gv[0] * uj[0] + gv[1] * uj[1] + gv[2 + j]) * wj;
                lower += e.min(e * (self.g[j] * span).exp());
                size += e.abs();
            }
            let ci = modes.map(|md| md[0] * gv[0] + md[1] * gv[1]);
            if self.complex {
                // c e^{λτ} + conj: twice the real part, at least −2|c| max(1, e^{Re λ T}).
                let r = 2.0 * ci[0].norm();
                lower -= r * (self.lam[0].re * span).exp().max(1.0);
                size += r;
            } else {
                for (c, l) in ci.iter().zip(&self.lam) {
                    lower += c.re.min(c.re * (l.re * span).exp());
                    size += c.re.abs();
                }
            }
            // A margin for the rounding of these sums and of the closed form.
            let at_p: f64 = gv.iter().zip(p).map(|(a, b)| (a * b).abs()).sum();
            if lower.is_nan() || lower <= 1e-9 * (size + at_p) {
                return None;
            }
        }
        Some(modes)
    }

    /// What happens in the next `span` seconds from state `p` and integrals `c`: the regime
    /// holds throughout, or a guard first turns negative after τ (located to rounding), or the
    /// closed form cannot tell (a boundary being left right now, or forcing that is not
    /// constant: the caller steps instead).
    ///
    /// With constant forcing a guard is `G(τ) = e + Σ_i c_i e^{λ_i τ}`, and its derivative
    /// vanishes at known times: once at most for two real modes (`e^{(λ₁−λ₂)τ} = −c₂λ₂/(c₁λ₁)`),
    /// and at `τ_k = (χ + π/2 + kπ)/ω` for a complex pair (`G′ = S e^{aτ} cos(ωτ − χ)`). Between
    /// two such times G is monotone, so its first sign change is bracketed exactly and refined
    /// by Illinois steps ([`illinois`]).
    pub(super) fn next(&self, p: &[f64], c: &[f64], span: f64) -> Next {
        if let Some(modes) = self.safe_modes(p, span) {
            return self
                .solution(p, modes, c)
                .map_or(Next::Unknown, |s| Next::Holds(Solution::One(s)));
        }
        if self.g.len() != 1
            || self.g[0].abs() > 0.0
            || p.len() != 3
            || span.is_nan()
            || span <= 0.0
        {
            return Next::Unknown;
        }
        if p.iter().any(|x| !x.is_finite()) {
            return Next::Unknown;
        }
        let modes = self.modes(p);
        let w = p[2];
        let mut first: Option<f64> = None;
        for gv in &self.guards {
            let e = (gv[0] * self.u[0][0] + gv[1] * self.u[0][1] + gv[2]) * w;
            let ci = modes.map(|md| md[0] * gv[0] + md[1] * gv[1]);
            let guard = Guard {
                e,
                c: ci,
                lam: self.lam,
                complex: self.complex,
            };
            if !(e.is_finite() && ci.iter().all(|z| z.re.is_finite() && z.im.is_finite())) {
                return Next::Unknown;
            }
            match guard.first_negative(span) {
                Err(()) => return Next::Unknown,
                Ok(Some(tau)) => first = Some(first.map_or(tau, |f: f64| f.min(tau))),
                Ok(None) => {}
            }
        }
        match (first, self.solution(p, modes, c)) {
            (_, None) => Next::Unknown,
            (None, Some(sol)) => Next::Holds(Solution::One(sol)),
            (Some(tau), Some(sol)) => Next::Leaves(tau, Solution::One(sol)),
        }
    }

    /// The closed form from state `p` (dynamic, then forcing) and integrals `c`, if no guard can
    /// turn negative within the next `span` seconds.
    #[cfg(test)]
    pub(super) fn certify(&self, p: &[f64], c: &[f64], span: f64) -> Option<Settled> {
        let modes = self.safe_modes(p, span)?;
        self.solution(p, modes, c)
    }

    /// The step matrix of an interval h, rows [E; F] (q columns): p(h) = E p, c(h) = c + F p,
    /// from the closed form applied to each unit state. `None` without a closed form.
    pub(super) fn transfer(&self, h: f64) -> Option<Vec<f64>> {
        let q = 2 + self.g.len();
        let nc = self.mc_x.len();
        let mut rows = vec![0.0; (q + nc) * q];
        let (mut unit, zero) = (vec![0.0; q], vec![0.0; nc]);
        let (mut pj, mut cj) = (vec![0.0; q], vec![0.0; nc]);
        for j in 0..q {
            unit.fill(0.0);
            unit[j] = 1.0;
            let sol = self.solution(&unit, self.modes(&unit), &zero)?;
            sol.at(h, &mut pj, &mut cj);
            for (r, v) in pj.iter().chain(&cj).enumerate() {
                rows[r * q + j] = *v;
            }
        }
        Some(rows)
    }

    /// The modes α_i v_i of the deviation from the forced solution at p.
    fn modes(&self, p: &[f64]) -> [[C; 2]; 2] {
        let mut delta = [p[0], p[1]];
        for (uj, wj) in self.u.iter().zip(&p[2..]) {
            delta[0] -= uj[0] * wj;
            delta[1] -= uj[1] * wj;
        }
        let d = [C::new(delta[0], 0.0), C::new(delta[1], 0.0)];
        let alpha = [
            self.vinv[0][0] * d[0] + self.vinv[0][1] * d[1],
            self.vinv[1][0] * d[0] + self.vinv[1][1] * d[1],
        ];
        [0, 1].map(|i| [self.v[i][0] * alpha[i], self.v[i][1] * alpha[i]])
    }

    /// The closed form from p (with its modes) and integrals c.
    fn solution(&self, p: &[f64], modes: [[C; 2]; 2], c: &[f64]) -> Option<Settled> {
        let m = self.g.len();
        let w0 = &p[2..];
        let nc = self.mc_x.len();
        if c.len() != nc || nc > NC_MAX {
            return None;
        }
        let mut out = Settled {
            m,
            nc,
            modes,
            c_modes: [[C::new(0.0, 0.0); NC_MAX]; 2],
            x_forced: [[0.0; 2]; M_MAX],
            w0: [0.0; M_MAX],
            c_forced: [[0.0; NC_MAX]; M_MAX],
            c0: [0.0; NC_MAX],
            lam: self.lam,
            g: [0.0; M_MAX],
        };
        out.c0[..nc].copy_from_slice(c);
        for (r, mr) in self.mc_x.iter().enumerate() {
            for (cm, md) in out.c_modes.iter_mut().zip(&modes) {
                cm[r] = md[0] * mr[0] + md[1] * mr[1];
            }
        }
        for (j, &wj) in w0.iter().enumerate().take(m) {
            let uj = self.u[j];
            out.g[j] = self.g[j];
            out.w0[j] = wj;
            out.x_forced[j] = [uj[0] * wj, uj[1] * wj];
            for (r, mr) in self.mc_x.iter().enumerate() {
                out.c_forced[j][r] = mr[0] * out.x_forced[j][0]
                    + mr[1] * out.x_forced[j][1]
                    + self.mc_w[r * m + j] * wj;
            }
        }
        // Intermediate terms beyond f64 (a huge arrival rate over a slow mode) would turn a
        // finite solution into inf − inf: then the caller steps instead.
        let finite = out.c0[..nc]
            .iter()
            .chain(out.c_forced[..m].iter().flat_map(|r| &r[..nc]))
            .chain(out.x_forced[..m].iter().flatten())
            .all(|v| v.is_finite())
            && out
                .modes
                .iter()
                .flatten()
                .all(|z| z.re.is_finite() && z.im.is_finite())
            && out
                .c_modes
                .iter()
                .flat_map(|r| &r[..nc])
                .all(|z| z.re.is_finite() && z.im.is_finite());
        finite.then_some(out)
    }
}

/// Where a walk over the closed form stands: e^{zτ} and (e^{zτ} − 1)/z for each mode and
/// forcing rate at the current τ.
pub(super) struct Cursor {
    ez: [C; 2],
    pz: [C; 2],
    eg: [f64; M_MAX],
    pg: [f64; M_MAX],
}

impl Settled {
    /// The cursor at τ.
    pub(super) fn cursor(&self, tau: f64) -> Cursor {
        let mut eg = [0.0; M_MAX];
        let mut pg = [0.0; M_MAX];
        for (j, g) in self.g.iter().enumerate().take(self.m) {
            eg[j] = (g * tau).exp();
            pg[j] = phi_real(*g, tau);
        }
        Cursor {
            ez: self.lam.map(|l| (l * tau).exp()),
            pz: self.lam.map(|l| phi(l, tau)),
            eg,
            pg,
        }
    }

    /// The state (dynamic, then forcing) and the integrals at the cursor.
    pub(super) fn write(&self, cur: &Cursor, p: &mut [f64], c: &mut [f64]) {
        // Re(a b) = a.re b.re − a.im b.im, written out (the real case has zero imaginary
        // parts and costs the same few flops).
        let re = |a: C, b: C| a.re * b.re - a.im * b.im;
        for k in 0..2 {
            let mut x = re(self.modes[0][k], cur.ez[0]) + re(self.modes[1][k], cur.ez[1]);
            for (xf, eg) in self.x_forced.iter().zip(&cur.eg).take(self.m) {
                x += xf[k] * eg;
            }
            p[k] = x;
        }
        for j in 0..self.m {
            p[2 + j] = self.w0[j] * cur.eg[j];
        }
        for (r, cr) in c.iter_mut().enumerate().take(self.nc) {
            let mut v = self.c0[r];
            for j in 0..self.m {
                v += self.c_forced[j][r] * cur.pg[j];
            }
            v += re(self.c_modes[0][r], cur.pz[0]) + re(self.c_modes[1][r], cur.pz[1]);
            *cr = v;
        }
    }

    /// The state and the integrals τ seconds after the certified state.
    pub(super) fn at(&self, tau: f64, p: &mut [f64], c: &mut [f64]) {
        self.write(&self.cursor(tau), p, c);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Integrates dp/dt = Mq p, dc/dt = Mc p by a fine classical RK4 (the reference).
    pub(in crate::solve) fn rk4(
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
        let n = 200_000;
        let h = t / n as f64;
        let (mut p, mut c) = (p0.to_vec(), c0.to_vec());
        for _ in 0..n {
            let add = |x: &[f64], d: &[f64], s: f64| -> Vec<f64> {
                x.iter().zip(d).map(|(a, b)| a + s * b).collect()
            };
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

    pub(in crate::solve) fn close(a: &[f64], b: &[f64], rtol: f64) -> bool {
        a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= rtol * (1.0 + x.abs().max(y.abs())))
    }

    /// Real modes with constant forcing (the download-limited Qiu–Srikant regime), complex
    /// modes with a decaying forcing state: the closed form equals RK4 at step 1e-4 s
    /// (its error is ~1e-16 per unit time here; tolerance 1e-9 relative).
    #[test]
    fn closed_form_equals_a_fine_runge_kutta() {
        // x' = λ − (θ + c) x, y' = c x − γ y; integrals x, y, c x.
        let (lam, th, c, gam) = (1.0, 0.001, 1.0, 0.02);
        let mq = [-(th + c), 0.0, lam, c, -gam, 0.0, 0.0, 0.0, 0.0];
        let mc = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, c, 0.0, 0.0];
        let m = Modal::new(&mq, &mc, 3, 2, &[]).expect("modal form");
        let p0 = [0.3, 2.0, 1.0];
        let c0 = [0.0, 1.0, 2.0];
        let s = m.certify(&p0, &c0, 20.0).expect("no guards: certified");
        let (mut p, mut cc) = ([0.0; 3], [0.0; 3]);
        s.at(20.0, &mut p, &mut cc);
        let (pr, cr) = rk4(&mq, &mc, 3, &p0, &c0, 20.0);
        assert!(
            close(&p, &pr, 1e-9) && close(&cc, &cr, 1e-9),
            "{p:?} {pr:?} {cc:?} {cr:?}"
        );

        // A rotation-like block (complex pair) and w = (1, e^{−t/5}).
        let mq = [
            -0.3, -1.0, 0.5, 2.0, //
            0.8, -0.2, 0.1, -1.0, //
            0.0, 0.0, 0.0, 0.0, //
            0.0, 0.0, 0.0, -0.2,
        ];
        let mc = [1.0, 2.0, 0.5, 0.0, 0.0, 1.0, 0.0, 3.0];
        let m = Modal::new(&mq, &mc, 4, 2, &[]).expect("modal form");
        assert!(m.complex);
        let p0 = [1.0, -0.5, 1.0, 1.0];
        let c0 = [0.5, 0.0];
        let s = m.certify(&p0, &c0, 13.0).expect("certified");
        let (mut p, mut cc) = ([0.0; 4], [0.0; 2]);
        s.at(13.0, &mut p, &mut cc);
        let (pr, cr) = rk4(&mq, &mc, 4, &p0, &c0, 13.0);
        assert!(
            close(&p, &pr, 1e-9) && close(&cc, &cr, 1e-9),
            "{p:?} {pr:?} {cc:?} {cr:?}"
        );
    }

    /// The step matrix of an interval, applied 500 times, equals the closed form at each
    /// multiple of the interval, to 1e-12 relative (rounding grows with the steps).
    #[test]
    fn the_step_matrix_walks_the_closed_form() {
        let mq = [
            -0.3, -1.0, 0.5, 2.0, 0.8, -0.2, 0.1, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.2,
        ];
        let mc = [1.0, 2.0, 0.5, 0.0, 0.0, 1.0, 0.0, 3.0];
        let m = Modal::new(&mq, &mc, 4, 2, &[]).expect("modal form");
        let p0 = [1.0, -0.5, 1.0, 1.0];
        let s = m.certify(&p0, &[0.5, 0.0], 100.0).expect("certified");
        let rows = m.transfer(0.2).expect("step matrix");
        let (mut p, mut c, mut pd, mut cd) = (p0, [0.5, 0.0], [0.0; 4], [0.0; 2]);
        for k in 1..=500 {
            let pn: Vec<f64> = (0..4)
                .map(|r| (0..4).map(|j| rows[r * 4 + j] * p[j]).sum())
                .collect();
            for (r, cr) in c.iter_mut().enumerate() {
                *cr += (0..4).map(|j| rows[(4 + r) * 4 + j] * p[j]).sum::<f64>();
            }
            p.copy_from_slice(&pn);
            s.at(0.2 * k as f64, &mut pd, &mut cd);
            assert!(
                close(&p, &pd, 1e-12) && close(&c, &cd, 1e-12),
                "step {k}: {p:?} {pd:?}"
            );
        }
    }

    /// A guard that a mode drives through zero is not certified over a span that reaches the
    /// crossing, and is over a span that ends before it.
    #[test]
    fn a_guard_that_can_turn_negative_is_not_certified() {
        // x' = −x + 1 from x = 3: x(τ) = 1 + 2e^{−τ}; y' = −2y, y = 0. Guard x − 2 ≥ 0 turns
        // negative at τ = ln 2.
        let mq = [-1.0, 0.0, 1.0, 0.0, -2.0, 0.0, 0.0, 0.0, 0.0];
        let mc = [1.0, 0.0, 0.0];
        let guard = vec![1.0, 0.0, -2.0];
        let m = Modal::new(&mq, &mc, 3, 2, &[guard]).expect("modal form");
        let p0 = [3.0, 0.0, 1.0];
        assert!(
            m.certify(&p0, &[0.0], 1.0).is_none(),
            "crossing at ln 2 < 1"
        );
        // Monotone term: over 0.5 s the lower end is 2e^{−0.5} − 1 = 0.213 > 0.
        assert!(
            m.certify(&p0, &[0.0], 0.5).is_some(),
            "no crossing before 0.5 s"
        );
        // A repeated eigenvalue has no modal form.
        let mq = [-1.0, 1.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0];
        assert!(Modal::new(&mq, &mc, 3, 2, &[]).is_none());
    }
}
