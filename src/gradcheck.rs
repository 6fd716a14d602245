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
                let fd = central_difference(&loss_at, given, w, k);
                let sym = symbolic[adj.index()][k];
                let err = (sym - fd).abs() / 1f64.max(sym.abs()).max(fd.abs());
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
    let h = f64::EPSILON.cbrt() * x.abs().max(1.0);
    let mut shifted = given.to_vec();
    let mut at = |dx: f64| {
        shifted[w.index()].as_mut().expect("given")[k] = x + dx;
        loss_at(&shifted)
    };
    let plus = at(h);
    let minus = at(-h);
    (plus - minus) / (2.0 * h)
}
