//! The interpreter: evaluates every value of a program, forward and adjoint,
//! element by element, straight from the IR.

use crate::ir::{Expr, Program, Reduction, Sub, Value, ValueId, ValueKind};

/// The data of every value, row-major, indexed by `ValueId`.
pub type Tensors = Vec<Vec<f64>>;

/// Evaluates a program. `given` holds the data of each input and param (by
/// `ValueId`, row-major, of the declared length); the result holds every value.
pub fn run(program: &Program, given: &[Option<Vec<f64>>]) -> Tensors {
    crate::on_own_stack(|| {
        let strides: Vec<Vec<usize>> = program.values.iter().map(strides).collect();
        let mut data: Tensors = Vec::with_capacity(program.values.len());
        for (i, v) in program.values.iter().enumerate() {
            let values = match &v.rhs {
                None => {
                    let d = given.get(i).cloned().flatten().unwrap_or_default();
                    assert_eq!(d.len(), v.len(), "{} needs {} scalars", v.name, v.len());
                    d
                }
                Some(rhs) => {
                    let mut env = vec![0usize; v.indices.len()];
                    let mut out = Vec::with_capacity(v.len());
                    for flat in 0..v.len() {
                        let mut rest = flat;
                        for (m, s) in strides[i].iter().enumerate() {
                            env[m] = rest / s;
                            rest %= s;
                        }
                        let e = Eval {
                            owner: v,
                            data: &data,
                            strides: &strides,
                        };
                        out.push(e.expr(rhs, &mut env));
                    }
                    out
                }
            };
            data.push(values);
        }
        data
    })
}

/// Row-major strides of a value.
pub fn strides(v: &Value) -> Vec<usize> {
    let mut s = vec![1usize; v.rank()];
    for m in (0..v.rank().saturating_sub(1)).rev() {
        s[m] = s[m + 1] * v.shape[m + 1].size;
    }
    s
}

struct Eval<'a> {
    owner: &'a Value,
    data: &'a Tensors,
    strides: &'a [Vec<usize>],
}

impl Eval<'_> {
    fn sub(&self, s: &Sub, env: &[usize]) -> usize {
        match s {
            Sub::Var(v) => env[v.index()],
            Sub::Lit(n) => *n,
        }
    }

    fn expr(&self, e: &Expr, env: &mut Vec<usize>) -> f64 {
        match e {
            Expr::Num(x) => *x,
            Expr::Read { value, subs } => {
                let offset: usize = subs
                    .iter()
                    .zip(&self.strides[value.index()])
                    .map(|(s, st)| self.sub(s, env) * st)
                    .sum();
                self.data[value.index()][offset]
            }
            Expr::Delta(a, b) => f64::from(u8::from(self.sub(a, env) == self.sub(b, env))),
            Expr::Unary { func, arg } => func.apply(self.expr(arg, env)),
            Expr::Binary { op, lhs, rhs } => {
                let a = self.expr(lhs, env);
                op.apply(a, self.expr(rhs, env))
            }
            Expr::Reduce { op, index, body } => {
                let n = self.owner.indices[index.index()].extent.size;
                let saved = env[index.index()];
                let each = |env: &mut Vec<usize>, f: &mut dyn FnMut(f64)| {
                    for k in 0..n {
                        env[index.index()] = k;
                        f(self.expr(body, env));
                    }
                };
                let result = match op {
                    Reduction::Sum | Reduction::Mean => {
                        let mut sum = 0.0;
                        each(env, &mut |x| sum += x);
                        if *op == Reduction::Mean {
                            sum / n as f64
                        } else {
                            sum
                        }
                    }
                    // The max is shifted out, so no exp overflows.
                    Reduction::LogSumExp => {
                        let mut max = f64::NEG_INFINITY;
                        each(env, &mut |x| max = max.max(x));
                        if max.is_finite() {
                            let mut sum = 0.0;
                            each(env, &mut |x| sum += (x - max).exp());
                            max + sum.ln()
                        } else {
                            max
                        }
                    }
                };
                env[index.index()] = saved;
                result
            }
        }
    }
}

/// The values a caller gives: inputs and params, in declaration order.
pub fn given_values(program: &Program) -> impl Iterator<Item = ValueId> + '_ {
    program
        .ids()
        .filter(|v| matches!(program.value(*v).kind, ValueKind::Input | ValueKind::Param))
}
