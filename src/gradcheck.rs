//! Checking the symbolic gradient against central finite differences.
//!
//! The program is evaluated once; each probe then changes one element of an
//! input or param and recomputes only the elements downstream of it.

use crate::autodiff::Gradient;
use crate::eval::{self, Tensors};
use crate::ir::{Expr, Program, Reduction, Sub, ValueId};

/// The check of one value's gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    /// Elements checked, and elements in all.
    pub checked: usize,
    pub len: usize,
    /// The worst relative error, `|g - fd| / max(1, |g|, |fd|)`, and where.
    pub worst: f64,
    pub worst_at: usize,
    /// Evaluations of the loss (or of the terms of it that a probe changes)
    /// made: two per element when the fixed step was good enough, about two
    /// dozen when the extrapolation ran too.
    pub evaluations: usize,
}

/// Elements of one value checked at most; beyond that, a seeded sample.
pub const MAX_CHECKED: usize = 48;

/// Elements checked in all, at most, by a sampled check: with more than 32
/// values differentiated against, each gets an equal share (at least one).
/// A probe re-evaluates everything downstream of its element, so without
/// this bound a chain of L layers, each with a param, cost L x 48 probes of
/// up to L layers each: quadratic in the program (256 layers of 8 x 8,
/// 12.4 s).
pub const MAX_PROBED: usize = 32 * MAX_CHECKED;

/// A deterministic generator (splitmix64), so a seed names the same values
/// on every machine and in every version.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn signed_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// Random values for every input and param, uniform in [-1, 1).
pub fn random_values(program: &Program, seed: u64) -> Vec<Option<Vec<f64>>> {
    let mut rng = Rng::new(seed);
    let mut given = vec![None; program.values.len()];
    for id in eval::given_values(program) {
        given[id.index()] = Some(
            (0..program.value(id).len())
                .map(|_| rng.signed_unit())
                .collect(),
        );
    }
    given
}

/// Reports the progress of a long computation (the gradient check's
/// probes), so that a caller can show it; the library itself prints nothing.
pub trait Progress {
    /// The work starts: `total` steps in all.
    fn start(&mut self, total: u64);
    /// `n` more steps are done.
    fn advance(&mut self, n: u64);
    /// The work is over.
    fn finish(&mut self);
}

/// No progress reported.
impl Progress for () {
    fn start(&mut self, _: u64) {}
    fn advance(&mut self, _: u64) {}
    fn finish(&mut self) {}
}

/// Which elements of each value are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// Every element.
    All,
    /// Every element of a value with at most this many; otherwise this many,
    /// drawn with the seed.
    AtMost(usize),
}

/// The loss at the point checked is not finite, so there is nothing to compare.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NotFinite {
    pub loss: f64,
}

/// Compares the symbolic gradient with central differences at `given`, for
/// every value differentiated against, on a sample of at most
/// [`MAX_CHECKED`] elements per value (and [`MAX_PROBED`] in all), whatever
/// the loss.
pub fn check(g: &Gradient, given: &[Option<Vec<f64>>], seed: u64) -> Vec<Check> {
    crate::on_own_stack(|| {
        let compiled = eval::Compiled::new(&g.dag.program);
        let data = compiled.run(given);
        checks(
            g,
            &compiled,
            &data,
            seed,
            Sample::AtMost(MAX_CHECKED),
            &mut (),
        )
    })
}

/// [`check`] with a choice of sample and a progress report: the program is
/// evaluated once, and if the loss is not finite nothing is checked.
pub fn check_with(
    g: &Gradient,
    given: &[Option<Vec<f64>>],
    seed: u64,
    sample: Sample,
    progress: &mut dyn Progress,
) -> Result<Vec<Check>, NotFinite> {
    crate::on_own_stack(|| {
        let compiled = eval::Compiled::new(&g.dag.program);
        let data = compiled.run(given);
        let loss = data[g.dag.program.loss.index()][0];
        if !loss.is_finite() {
            return Err(NotFinite { loss });
        }
        Ok(checks(g, &compiled, &data, seed, sample, progress))
    })
}

fn checks(
    g: &Gradient,
    compiled: &eval::Compiled,
    data: &Tensors,
    seed: u64,
    sample: Sample,
    progress: &mut dyn Progress,
) -> Vec<Check> {
    let program = &g.dag.program;
    let mut rng = Rng::new(seed ^ 0x5eed);
    let share = (MAX_PROBED / g.wrt.len().max(1)).max(1);
    let chosen: Vec<Vec<usize>> = g
        .wrt
        .iter()
        .map(|&(w, _)| {
            let len = program.value(w).len();
            match sample {
                Sample::All => (0..len).collect(),
                Sample::AtMost(n) => sample_of(len, n.min(share), &mut rng),
            }
        })
        .collect();
    progress.start(chosen.iter().map(|c| c.len() as u64).sum());
    let mut probe = Probe::new(g, compiled, data);
    let result = g
        .wrt
        .iter()
        .zip(&chosen)
        .map(|(&(w, adj), elements)| {
            let mut worst = (f64::NEG_INFINITY, 0);
            let evaluations_before = probe.evaluations;
            for &k in elements {
                let sym = data[adj.index()][k];
                let x = data[w.index()][k];
                let region = probe.dirty(w, k);
                let terms = probe.changed_terms(w, k, &region);
                let mut loss_at = |xk: f64| probe.loss_at(w, k, xk, &region, terms.as_deref());
                let mut err = relative_error(
                    sym,
                    central(&mut loss_at, x, f64::EPSILON.cbrt() * x.abs().max(1.0)),
                );
                // A strongly curved loss defeats one fixed step; then the
                // derivative is also extrapolated to step 0 (Ridders) from
                // three starting steps. Extrapolation in turn suffers near a
                // kink, which the small fixed step avoids. A wrong gradient
                // disagrees with every estimate; it is judged by the closest.
                // The starts are tried in turn until one is good enough: each
                // is a dozen evaluations of the loss.
                for start in [1e-2, 1e-4, 1e-6] {
                    if err <= CHEAP_ENOUGH {
                        break;
                    }
                    let estimate = ridders(&mut loss_at, x, start * x.abs().max(1.0)).0;
                    err = err.min(relative_error(sym, estimate));
                }
                let err = if err.is_nan() { f64::INFINITY } else { err };
                if err > worst.0 {
                    worst = (err, k);
                }
                progress.advance(1);
            }
            Check {
                name: program.value(w).name.clone(),
                checked: elements.len(),
                len: program.value(w).len(),
                worst: worst.0,
                worst_at: worst.1,
                evaluations: probe.evaluations - evaluations_before,
            }
        })
        .collect();
    progress.finish();
    result
}

/// Reads of an expression: the value read (by index) and the subscripts.
type Reads = Vec<(usize, Vec<Sub>)>;

/// The loss with one element of an input or param changed, recomputing only
/// the elements of the forward values that depend on it (and that the loss
/// depends on), then restoring them.
struct Probe<'a> {
    compiled: &'a eval::Compiled,
    program: &'a Program,
    /// The values at the point checked.
    base: &'a Tensors,
    /// The forward values, changed during a probe and restored after it.
    work: Tensors,
    /// The forward values the loss depends on.
    needed: Vec<bool>,
    /// For each forward value, its reads: the value read and the subscripts.
    reads: Vec<Vec<(usize, Vec<Sub>)>>,
    /// If the loss is a sum or mean (of sums or means, ...): the index
    /// variables those outer reductions bind, and the reads of their body.
    loss_terms: Option<(Vec<usize>, Reads)>,
    /// Evaluations of the loss so far.
    evaluations: usize,
}

impl<'a> Probe<'a> {
    fn new(g: &'a Gradient, compiled: &'a eval::Compiled, base: &'a Tensors) -> Probe<'a> {
        let program = &g.dag.program;
        let n = g.forward_len;
        let reads: Vec<Reads> = program.values[..n]
            .iter()
            .map(|v| {
                let mut r = Vec::new();
                if let Some(rhs) = &v.rhs {
                    rhs.for_each_read(&mut |u, subs| r.push((u.index(), subs.to_vec())));
                }
                r
            })
            .collect();
        let mut needed = vec![false; n];
        needed[program.loss.index()] = true;
        for v in (0..n).rev() {
            if needed[v] {
                for (u, _) in &reads[v] {
                    needed[*u] = true;
                }
            }
        }
        let loss_terms = program.value(program.loss).rhs.as_ref().and_then(|rhs| {
            let mut outer = Vec::new();
            let mut body = rhs;
            while let Expr::Reduce {
                op: Reduction::Sum | Reduction::Mean,
                index,
                body: inner,
            } = body
            {
                outer.push(index.index());
                body = inner;
            }
            let mut r = Vec::new();
            body.for_each_read(&mut |u, subs| r.push((u.index(), subs.to_vec())));
            (!outer.is_empty()).then_some((outer, r))
        });
        Probe {
            compiled,
            program,
            base,
            work: {
                // The forward values, and after every value's place the
                // residuals some logsumexps keep (`eval::Compiled`).
                let mut work = base[..n].to_vec();
                work.resize_with(compiled.len(), Vec::new);
                work.extend_from_slice(&base[compiled.len()..]);
                work
            },
            needed,
            reads,
            loss_terms,
            evaluations: 0,
        }
    }

    /// When the loss is a sum or mean, the terms of it that change with
    /// element `k` of `w` (whose probe changes `dirty`): per index variable
    /// of the loss, one position or all (a superset); `None` when the whole
    /// loss is to be evaluated. A probe then differences these terms alone:
    /// the others are the same on both sides of the difference, and a loss
    /// of a million terms would otherwise round away the few that change.
    fn changed_terms(
        &self,
        w: ValueId,
        k: usize,
        dirty: &[(usize, Vec<Option<usize>>)],
    ) -> Option<Vec<Option<usize>>> {
        let (outer, body_reads) = self.loss_terms.as_ref()?;
        let point = self.position(w, k);
        let mut pins: Option<Vec<Option<usize>>> = None;
        for (u, subs) in body_reads {
            let changed = if *u == w.index() {
                &point
            } else {
                match dirty.iter().find(|(v, _)| v == u) {
                    Some((_, region)) => region,
                    None => continue,
                }
            };
            let Some(read_pins) = term_region(outer, subs, changed) else {
                continue;
            };
            pins = Some(match pins {
                None => read_pins,
                Some(old) => old
                    .iter()
                    .zip(&read_pins)
                    .map(|(a, b)| if a == b { *a } else { None })
                    .collect(),
            });
        }
        // No term reads what changed: the loss is evaluated whole, as before.
        let pins = pins?;
        let indices = self.program.value(self.program.loss).indices.len();
        let mut by_index = vec![None; indices];
        for (&i, p) in outer.iter().zip(pins) {
            by_index[i] = p;
        }
        Some(by_index)
    }

    /// The position of element `k` of `w`, per dimension.
    fn position(&self, w: ValueId, k: usize) -> Vec<Option<usize>> {
        let mut rest = k;
        eval::strides(self.program.value(w))
            .into_iter()
            .map(|s| {
                let at = rest / s;
                rest %= s;
                Some(at)
            })
            .collect()
    }

    /// The regions of the forward values that change with element `k` of
    /// `w`, in order: a superset, per dimension one position or all.
    fn dirty(&self, w: ValueId, k: usize) -> Vec<(usize, Vec<Option<usize>>)> {
        let n = self.needed.len();
        let mut boxes: Vec<Option<Vec<Option<usize>>>> = vec![None; n];
        boxes[w.index()] = Some(self.position(w, k));
        let mut out = Vec::new();
        for v in w.index() + 1..n {
            if !self.needed[v] {
                continue;
            }
            let rank = self.program.values[v].rank();
            let mut region: Option<Vec<Option<usize>>> = None;
            for (u, subs) in &self.reads[v] {
                let Some(changed) = &boxes[*u] else {
                    continue;
                };
                let Some(r) = read_region(rank, subs, changed) else {
                    continue;
                };
                region = Some(match region {
                    None => r,
                    Some(old) => old
                        .iter()
                        .zip(&r)
                        .map(|(a, b)| if a == b { *a } else { None })
                        .collect(),
                });
            }
            if let Some(r) = region {
                out.push((v, r.clone()));
                boxes[v] = Some(r);
            }
        }
        out
    }

    fn loss_at(
        &mut self,
        w: ValueId,
        k: usize,
        x: f64,
        dirty: &[(usize, Vec<Option<usize>>)],
        terms: Option<&[Option<usize>]>,
    ) -> f64 {
        self.evaluations += 1;
        self.work[w.index()][k] = x;
        let loss_id = self.program.loss;
        for (v, region) in dirty {
            if terms.is_some() && *v == loss_id.index() {
                continue;
            }
            self.compiled
                .compute(ValueId(*v as u32), &mut self.work, region);
        }
        let loss = match terms {
            Some(pins) => self.compiled.partial_reduction(loss_id, &self.work, pins),
            None => self.work[loss_id.index()][0],
        };
        self.work[w.index()][k] = self.base[w.index()][k];
        for (v, region) in dirty {
            let shape: Vec<usize> = self.program.values[*v]
                .shape
                .iter()
                .map(|e| e.size)
                .collect();
            let residual = self.compiled.residual_slot(ValueId(*v as u32));
            for slot in std::iter::once(*v).chain(residual) {
                let (base, work) = (&self.base[slot], &mut self.work[slot]);
                eval::for_each_in(&shape, region, 0, |flat, _| work[flat] = base[flat]);
            }
        }
        loss
    }
}

/// The region of a reader (of rank `rank`) that a read `u[subs]` changes
/// when `changed` is the changed region of u; `None` if it changes nothing.
fn read_region(rank: usize, subs: &[Sub], changed: &[Option<usize>]) -> Option<Vec<Option<usize>>> {
    let mut region = vec![None; rank];
    for (s, c) in subs.iter().zip(changed) {
        let Some(at) = c else { continue };
        match s {
            Sub::Lit(n) if n != at => return None,
            Sub::Lit(_) => {}
            // A left-hand index is pinned; a reduction's is not.
            Sub::Var(i) if i.index() < rank => match region[i.index()] {
                Some(p) if p != *at => return None,
                _ => region[i.index()] = Some(*at),
            },
            // A reduction index, or an affine subscript: every position, a superset.
            Sub::Var(_) | Sub::Affine(_) => {}
        }
    }
    Some(region)
}

/// The positions of the outer reduction indices `outer` (in order) at which
/// a read `u[subs]` reads the `changed` region of u (per dimension, one
/// position or all): one position or all per index, a superset; `None` if
/// the read never reads it.
fn term_region(
    outer: &[usize],
    subs: &[Sub],
    changed: &[Option<usize>],
) -> Option<Vec<Option<usize>>> {
    let mut pins = vec![None; outer.len()];
    for (s, c) in subs.iter().zip(changed) {
        let Some(at) = c else { continue };
        match s {
            Sub::Lit(n) if n != at => return None,
            Sub::Lit(_) => {}
            Sub::Var(i) => {
                let Some(slot) = outer.iter().position(|o| *o == i.index()) else {
                    continue;
                };
                match pins[slot] {
                    Some(p) if p != *at => return None,
                    _ => pins[slot] = Some(*at),
                }
            }
            // Not pinned: every position, a superset.
            Sub::Affine(_) => {}
        }
    }
    Some(pins)
}

/// Below this error the cheap central difference is trusted as it is.
const CHEAP_ENOUGH: f64 = 1e-8;

/// `|g - fd| / max(1, |g|, |fd|)`, with NaN as infinitely wrong.
fn relative_error(g: f64, fd: f64) -> f64 {
    let err = (g - fd).abs() / 1f64.max(g.abs()).max(fd.abs());
    if err.is_nan() {
        f64::INFINITY
    } else {
        err
    }
}

/// Every element, or `max` distinct ones drawn by `rng`, sorted.
fn sample_of(len: usize, max: usize, rng: &mut Rng) -> Vec<usize> {
    if len <= max {
        return (0..len).collect();
    }
    let mut picked: Vec<usize> = Vec::with_capacity(max);
    let mut taken = vec![false; len];
    while picked.len() < max {
        let k = (rng.next_u64() % len as u64) as usize;
        if !taken[k] {
            taken[k] = true;
            picked.push(k);
        }
    }
    picked.sort_unstable();
    picked
}

/// The central difference of `f` at `x` with step `h`. The step the check
/// starts with, cbrt(machine epsilon) scaled by the value, balances
/// truncation (h^2) against rounding (eps/h).
fn central(f: &mut impl FnMut(f64) -> f64, x: f64, h: f64) -> f64 {
    let plus = f(x + h);
    let minus = f(x + -h);
    (plus - minus) / (2.0 * h)
}

/// The derivative of `f` at `x` by Ridders' method from the step `h`:
/// central differences at steps shrinking by 1.4, extrapolated to step 0 in a
/// Richardson tableau, the entry with the smallest error estimate winning
/// (Numerical Recipes, 3rd ed., 5.7). The estimate and its error estimate.
fn ridders(f: &mut impl FnMut(f64) -> f64, x: f64, mut h: f64) -> (f64, f64) {
    const SHRINK: f64 = 1.4;
    const STEPS: usize = 12;
    let mut table = vec![vec![0.0; STEPS]; STEPS];
    table[0][0] = central(f, x, h);
    let (mut best, mut best_err) = (table[0][0], f64::INFINITY);
    for i in 1..STEPS {
        h /= SHRINK;
        table[0][i] = central(f, x, h);
        let mut factor = SHRINK * SHRINK;
        for j in 1..=i {
            table[j][i] = (table[j - 1][i] * factor - table[j - 1][i - 1]) / (factor - 1.0);
            factor *= SHRINK * SHRINK;
            let err = (table[j][i] - table[j - 1][i])
                .abs()
                .max((table[j][i] - table[j - 1][i - 1]).abs());
            if err <= best_err {
                best_err = err;
                best = table[j][i];
            }
        }
        // Past the best step, rounding makes the tableau worse: stop.
        if (table[i][i] - table[i - 1][i - 1]).abs() >= 2.0 * best_err {
            break;
        }
    }
    (best, best_err)
}
