//! Checking the symbolic gradient against central finite differences.

use crate::autodiff::Gradient;
use crate::eval;
use crate::ir::{Program, ValueId};

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
}

/// Elements of one value checked at most; beyond that, a seeded sample.
pub const MAX_CHECKED: usize = 48;

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

/// Compares the symbolic gradient with central differences at `given`, for
/// every value differentiated against.
pub fn check(g: &Gradient, given: &[Option<Vec<f64>>], seed: u64) -> Vec<Check> {
    let program = &g.dag.program;
    let forward = Program {
        values: program.values[..g.forward_len].to_vec(),
        ..program.clone()
    };
    let symbolic = eval::run(program, given);
    let loss_at = |given: &[Option<Vec<f64>>]| eval::run(&forward, given)[program.loss.index()][0];
    let mut rng = Rng::new(seed ^ 0x5eed);
    g.wrt
        .iter()
        .map(|&(w, adj)| {
            let len = program.value(w).len();
            let elements = sample(len, &mut rng);
            let mut worst = (f64::NEG_INFINITY, 0);
            for &k in &elements {
                let sym = symbolic[adj.index()][k];
                let mut err = relative_error(sym, central_difference(&loss_at, given, w, k));
                // A strongly curved loss defeats one fixed step; then the
                // derivative is also extrapolated to step 0 (Ridders) from
                // three starting steps. Extrapolation in turn suffers near a
                // kink, which the small fixed step avoids. A wrong gradient
                // disagrees with every estimate; it is judged by the closest.
                if err > CHEAP_ENOUGH {
                    for start in [1e-2, 1e-4, 1e-6] {
                        err = err.min(relative_error(sym, ridders(&loss_at, given, w, k, start)));
                    }
                }
                let err = if err.is_nan() { f64::INFINITY } else { err };
                if err > worst.0 {
                    worst = (err, k);
                }
            }
            Check {
                name: program.value(w).name.clone(),
                checked: elements.len(),
                len,
                worst: worst.0,
                worst_at: worst.1,
            }
        })
        .collect()
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

/// Every element, or `MAX_CHECKED` distinct ones drawn by `rng`, sorted.
fn sample(len: usize, rng: &mut Rng) -> Vec<usize> {
    if len <= MAX_CHECKED {
        return (0..len).collect();
    }
    let mut picked: Vec<usize> = Vec::with_capacity(MAX_CHECKED);
    while picked.len() < MAX_CHECKED {
        let k = (rng.next_u64() % len as u64) as usize;
        if !picked.contains(&k) {
            picked.push(k);
        }
    }
    picked.sort_unstable();
    picked
}

/// dE/dw[k] by central differences, with a step of cbrt(machine epsilon),
/// scaled by the value: it balances truncation (h^2) against rounding (eps/h).
fn central_difference(
    loss_at: &impl Fn(&[Option<Vec<f64>>]) -> f64,
    given: &[Option<Vec<f64>>],
    w: ValueId,
    k: usize,
) -> f64 {
    let x = given[w.index()].as_ref().expect("every wrt value is given")[k];
    central(loss_at, given, w, k, f64::EPSILON.cbrt() * x.abs().max(1.0))
}

fn central(
    loss_at: &impl Fn(&[Option<Vec<f64>>]) -> f64,
    given: &[Option<Vec<f64>>],
    w: ValueId,
    k: usize,
    h: f64,
) -> f64 {
    let x = given[w.index()].as_ref().expect("every wrt value is given")[k];
    let mut shifted = given.to_vec();
    let mut at = |dx: f64| {
        shifted[w.index()].as_mut().expect("given")[k] = x + dx;
        loss_at(&shifted)
    };
    let plus = at(h);
    let minus = at(-h);
    (plus - minus) / (2.0 * h)
}

/// dE/dw[k] by Ridders' method from the step `start * max(1, |x|)`: central
/// differences at steps shrinking by 1.4, extrapolated to step 0 in a
/// Richardson tableau, the entry with the smallest error estimate winning
/// (Numerical Recipes, 3rd ed., 5.7).
fn ridders(
    loss_at: &impl Fn(&[Option<Vec<f64>>]) -> f64,
    given: &[Option<Vec<f64>>],
    w: ValueId,
    k: usize,
    start: f64,
) -> f64 {
    let x = given[w.index()].as_ref().expect("every wrt value is given")[k];
    ridders_from(loss_at, given, w, k, start * x.abs().max(1.0)).0
}

/// Ridders' tableau from the step `h`: the estimate and its error estimate.
fn ridders_from(
    loss_at: &impl Fn(&[Option<Vec<f64>>]) -> f64,
    given: &[Option<Vec<f64>>],
    w: ValueId,
    k: usize,
    mut h: f64,
) -> (f64, f64) {
    const SHRINK: f64 = 1.4;
    const STEPS: usize = 12;
    let mut table = vec![vec![0.0; STEPS]; STEPS];
    table[0][0] = central(loss_at, given, w, k, h);
    let (mut best, mut best_err) = (table[0][0], f64::INFINITY);
    for i in 1..STEPS {
        h /= SHRINK;
        table[0][i] = central(loss_at, given, w, k, h);
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
