//! A seeded generator of random well-formed `.net` programs: scalars and
//! small tensors, every function and reduction, fan-out within and across
//! definitions. Shared by the property tests of autodiff and of codegen.

use netgrad::gradcheck::Rng;

/// Sizes of the two dims, unless a test asks for others.
const A: usize = 2;
const B: usize = 3;

/// A value the generator may read: its name and its dims ("A", "B").
#[derive(Clone)]
pub struct Avail {
    name: String,
    dims: Vec<&'static str>,
}

pub struct Gen {
    rng: Rng,
    /// Index variables in scope: name and dim.
    scope: Vec<(String, &'static str)>,
    next_index: usize,
    /// The sizes of dims A and B.
    sizes: (usize, usize),
}

impl Gen {
    /// A generator of programs from a seed.
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: Rng::new(seed),
            scope: Vec::new(),
            next_index: 0,
            sizes: (A, B),
        }
    }

    /// A generator whose dims A and B have the given sizes (the code
    /// generator's schedules depend on them: odd sizes, size 1, sizes below
    /// and above the number of accumulators).
    #[allow(dead_code)]
    pub fn with_sizes(seed: u64, a: usize, b: usize) -> Gen {
        Gen {
            sizes: (a, b),
            ..Gen::new(seed)
        }
    }

    fn below(&mut self, n: usize) -> usize {
        (self.rng.next_u64() % n as u64) as usize
    }

    fn fresh_index(&mut self) -> String {
        self.next_index += 1;
        format!("i{}", self.next_index)
    }

    fn size(&self, dim: &str) -> usize {
        if dim == "A" {
            self.sizes.0
        } else {
            self.sizes.1
        }
    }

    /// A read of a random available value, subscripted by index variables in
    /// scope of the right dim where there are some, else by literals.
    fn read(&mut self, avail: &[Avail]) -> String {
        let v = avail[self.below(avail.len())].clone();
        if v.dims.is_empty() {
            return v.name;
        }
        let subs: Vec<String> = v
            .dims
            .iter()
            .map(|d| {
                let candidates: Vec<String> = self
                    .scope
                    .iter()
                    .filter(|(_, sd)| sd == d)
                    .map(|(n, _)| n.clone())
                    .collect();
                if !candidates.is_empty() && self.below(5) > 0 {
                    candidates[self.below(candidates.len())].clone()
                } else {
                    self.below(self.size(d)).to_string()
                }
            })
            .collect();
        format!("{}[{}]", v.name, subs.join(", "))
    }

    /// A random expression; `depth` bounds its height.
    fn expr(&mut self, avail: &[Avail], depth: usize) -> String {
        if depth == 0 {
            return match self.below(6) {
                0 => format!("{}", 0.5 + self.below(4) as f64 * 0.25),
                _ => self.read(avail),
            };
        }
        // Parenthesised, so that templates such as `{0} * {0}` keep their meaning.
        let sub = |g: &mut Gen| format!("({})", g.expr(avail, depth - 1));
        match self.below(17) {
            0 => format!("exp(tanh({}))", sub(self)),
            1 => format!("log({0} * {0} + 0.5)", sub(self)),
            2 => format!("sqrt({0} * {0} + 0.5)", sub(self)),
            3 => format!("tanh({})", sub(self)),
            4 => format!("sigmoid({})", sub(self)),
            5 => format!("relu({})", sub(self)),
            6 => format!("softplus({})", sub(self)),
            // The templates keep magnitudes moderate (tanh inside sin and cos,
            // a tanh factor in products, bounded bases and exponents in pow),
            // so that finite differences can resolve every derivative.
            7 => format!("sin(tanh({})) + cos(tanh({}))", sub(self), sub(self)),
            8 => format!("abs({})", sub(self)),
            9 => format!("-{}", sub(self)),
            10 => format!("({} + {}) * tanh({})", sub(self), sub(self), sub(self)),
            11 => format!("{} - {} / ({1} * {1} + 1)", sub(self), sub(self)),
            12 => format!("(tanh({}) + 0.5)^{}", sub(self), 2 + self.below(2)),
            13 => format!("pow(sigmoid({}) + 0.5, 2 * tanh({}))", sub(self), sub(self)),
            14 => format!(
                "max({}, {}) + min({}, {})",
                sub(self),
                sub(self),
                sub(self),
                sub(self)
            ),
            15 => {
                // Fan-out within one definition: the same subterm twice.
                let s = sub(self);
                format!("{s} * tanh({s})")
            }
            _ => {
                let op = ["sum", "mean", "logsumexp"][self.below(3)];
                let dim = ["A", "B"][self.below(2)];
                let i = self.fresh_index();
                self.scope.push((i.clone(), dim));
                let body = sub(self);
                self.scope.pop();
                format!("{op}({i} in {dim}, {body})")
            }
        }
    }

    /// A whole program: dims, values, definitions, and a loss that reads
    /// every definition (fan-out across definitions).
    pub fn program(&mut self) -> String {
        let mut avail = vec![
            Avail {
                name: "p0".into(),
                dims: vec![],
            },
            Avail {
                name: "p1".into(),
                dims: vec!["A"],
            },
            Avail {
                name: "p2".into(),
                dims: vec!["A", "B"],
            },
            Avail {
                name: "x".into(),
                dims: vec!["B"],
            },
        ];
        let mut src = format!(
            "dim A = {}\ndim B = {}\ninput x[B]\nparam p0, p1[A], p2[A, B]\n",
            self.sizes.0, self.sizes.1
        );
        let mut defs = Vec::new();
        for k in 0..2 + self.below(3) {
            let dims: Vec<&'static str> = match self.below(3) {
                0 => vec![],
                1 => vec!["A"],
                _ => vec!["A", "B"],
            };
            self.scope.clear();
            let mut lhs = Vec::new();
            for d in &dims {
                let i = self.fresh_index();
                lhs.push(format!("{i} in {d}"));
                self.scope.push((i, d));
            }
            let depth = 1 + self.below(3);
            let rhs = self.expr(&avail, depth);
            let name = format!("d{k}");
            if lhs.is_empty() {
                src.push_str(&format!("{name} = {rhs}\n"));
            } else {
                src.push_str(&format!("{name}[{}] = {rhs}\n", lhs.join(", ")));
            }
            defs.push(Avail {
                name: name.clone(),
                dims: dims.clone(),
            });
            avail.push(Avail { name, dims });
        }
        // The loss reduces every definition to a scalar, and adds a term in
        // the params so each of them reaches the loss.
        let terms: Vec<String> = defs
            .iter()
            .map(|d| {
                let idx: Vec<String> = d
                    .dims
                    .iter()
                    .enumerate()
                    .map(|(m, _)| format!("l{m}"))
                    .collect();
                if idx.is_empty() {
                    d.name.clone()
                } else {
                    let binders: Vec<String> = idx
                        .iter()
                        .zip(&d.dims)
                        .map(|(i, dim)| format!("{i} in {dim}"))
                        .collect();
                    format!(
                        "sum({}, {}[{}])",
                        binders.join(", "),
                        d.name,
                        idx.join(", ")
                    )
                }
            })
            .collect();
        src.push_str(&format!(
            "loss E = {} + 0.1 * (p0^2 + sum(a in A, p1[a]^2) + sum(a in A, b in B, p2[a, b]^2))\n",
            terms.join(" + ")
        ));
        src
    }
}
