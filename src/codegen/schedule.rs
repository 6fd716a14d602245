//! The schedule: how each definition's loop nest runs, decided from the
//! simplified program before anything is printed (the algorithm stays the
//! program's; this pass only chooses loop order and accumulation, as
//! Halide keeps schedules apart from algorithms). The printer (`lower.rs`)
//! follows these decisions and names them in a comment per loop nest.
//!
//! Two decisions, each exact up to the order of a sum's terms:
//! - **Order.** A definition that is one sum, `v[J, j] = Σ_r body`, whose
//!   reads walk memory with a larger stride along `r` than along its last
//!   index `j` (a matrix read transposed, as `∂E/∂z1[j] = Σ_k δ[k] w2[k, j]`)
//!   runs in scatter form: loops over `J`, then `r`, then `j`, each term
//!   added into the zeroed output row, so the innermost loop has stride 1.
//!   Each element still sums its terms in the order `r = 0, 1, ...`.
//! - **Lanes.** A sum over the innermost loop keeps several independent
//!   accumulators (`LANES` of them, term `r` into lane `r mod LANES`, the
//!   remainder into the first lanes, then a fixed pairwise combine), so that
//!   LLVM vectorises it without fast-math; reads with the summed index last
//!   are sliced to their row first, so no bounds check stays in the loop.

use super::Float;
use crate::ir::{Expr, IndexId, Program, Reduction, Sub, Value};

/// How the loops of one definition run.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Order {
    /// Row-major loops over the left-hand indices; each element computes
    /// its own value, sums included.
    Gather,
    /// `v[J, j] = Σ_r body`: loops over `J`, the summed index `r`, then the
    /// last left-hand index `j`; each term is added into the output.
    Scatter { index: IndexId },
}

/// The schedule of one value's loop nest.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Nest {
    pub(super) order: Order,
    /// The number of accumulators of each sum, by the index it sums over
    /// (the value's index table); 1 for a sequential sum or no sum.
    pub(super) lanes: Vec<usize>,
}

/// Independent accumulators of a vectorised sum: four vectors of two f64
/// (SSE2, the default target) or of four f32, which hides the latency of
/// the adds.
pub(super) fn lanes(float: Float) -> usize {
    match float {
        Float::F64 => 8,
        Float::F32 => 16,
    }
}

/// The schedule of every value of the program, by id.
pub(super) fn program(p: &Program, float: Float) -> Vec<Nest> {
    p.values.iter().map(|v| nest(v, float)).collect()
}

/// The schedule of one value.
fn nest(v: &Value, float: Float) -> Nest {
    let mut lanes = vec![1; v.indices.len()];
    let Some(rhs) = &v.rhs else {
        return Nest {
            order: Order::Gather,
            lanes,
        };
    };
    if let Some(index) = scatter(v, rhs) {
        return Nest {
            order: Order::Scatter { index },
            lanes,
        };
    }
    let width = self::lanes(float);
    reductions(rhs, &mut |op, index, body| {
        let size = v.indices[index.index()].extent.size;
        if op != Reduction::LogSumExp && size >= width && innermost(body) && mentions(body, index) {
            lanes[index.index()] = width;
        }
    });
    Nest {
        order: Order::Gather,
        lanes,
    }
}

/// The summed index of a definition that runs faster in scatter form: a
/// single sum, with no sum inside, whose reads stride through memory along
/// the summed index more often than along the last left-hand index.
fn scatter(v: &Value, rhs: &Expr) -> Option<IndexId> {
    let Expr::Reduce {
        op: Reduction::Sum,
        index,
        body,
    } = rhs
    else {
        return None;
    };
    if v.rank() == 0 || !innermost(body) || !mentions(body, *index) {
        return None;
    }
    let last = IndexId(v.rank() as u32 - 1);
    (strided(body, last) < strided(body, *index)).then_some(*index)
}

/// How many reads of `e` would not walk memory with stride 1 if `index`
/// were the innermost loop: those that use it other than as their last
/// subscript.
fn strided(e: &Expr, index: IndexId) -> usize {
    let mut n = 0;
    e.for_each_read(&mut |_, subs| {
        let var = Sub::Var(index);
        let (last, rest) = match subs.split_last() {
            Some((last, rest)) => (*last, rest),
            None => return,
        };
        if rest.contains(&var) || (last != var && subs.contains(&var)) {
            n += 1;
        }
    });
    n
}

/// Whether a read of `subs` is one row walked by `index`: the index is the
/// last subscript and appears nowhere else, so the read can be sliced to
/// that row before the loop.
pub(super) fn row(subs: &[Sub], index: IndexId) -> bool {
    let var = Sub::Var(index);
    subs.last() == Some(&var) && subs.iter().filter(|s| **s == var).count() == 1
}

/// Calls `f` on every reduction of `e`, outermost first.
fn reductions(e: &Expr, f: &mut impl FnMut(Reduction, IndexId, &Expr)) {
    match e {
        Expr::Num(_) | Expr::Read { .. } | Expr::Delta(..) => {}
        Expr::Unary { arg, .. } => reductions(arg, f),
        Expr::Binary { lhs, rhs, .. } => {
            reductions(lhs, f);
            reductions(rhs, f);
        }
        Expr::Reduce { op, index, body } => {
            f(*op, *index, body);
            reductions(body, f);
        }
    }
}

/// Whether `e` holds no sum of its own: the body of an innermost loop.
fn innermost(e: &Expr) -> bool {
    match e {
        Expr::Num(_) | Expr::Read { .. } | Expr::Delta(..) => true,
        Expr::Unary { arg, .. } => innermost(arg),
        Expr::Binary { lhs, rhs, .. } => innermost(lhs) && innermost(rhs),
        Expr::Reduce { .. } => false,
    }
}

/// Whether `e` uses the index variable `index`.
pub(super) fn mentions(e: &Expr, index: IndexId) -> bool {
    let sub = |s: &Sub| *s == Sub::Var(index);
    match e {
        Expr::Num(_) => false,
        Expr::Read { subs, .. } => subs.iter().any(sub),
        Expr::Delta(a, b) => sub(a) || sub(b),
        Expr::Unary { arg, .. } => mentions(arg, index),
        Expr::Binary { lhs, rhs, .. } => mentions(lhs, index) || mentions(rhs, index),
        Expr::Reduce { body, .. } => mentions(body, index),
    }
}

/// The comment that names a loop nest's schedule, or none for a scalar
/// computed without a loop.
/// `names` are the index variables as the code names them.
pub(super) fn describe(nest: &Nest, v: &Value, output: &str, names: &[String]) -> Option<String> {
    let name = |i: usize| names[i].clone();
    let lhs: Vec<String> = (0..v.rank()).map(name).collect();
    let mut sums = Vec::new();
    if let Some(rhs) = &v.rhs {
        reductions(rhs, &mut |op, index, _| {
            let what = match op {
                Reduction::LogSumExp => "logsumexp",
                Reduction::Mean => "mean",
                Reduction::Sum => "sum",
            };
            let how = match nest.lanes[index.index()] {
                1 => "sequential".to_string(),
                n => format!("in {n} lanes"),
            };
            sums.push(format!("{what} over {} {how}", name(index.index())));
        });
    }
    let text = match &nest.order {
        Order::Scatter { index } => {
            let mut loops = lhs.clone();
            let last = loops.pop().expect("a scatter has a left-hand index");
            loops.push(name(index.index()));
            loops.push(last.clone());
            format!(
                "scatter, loops {}: each term added into rows of {output} (stride 1 in {last})",
                loops.join(", ")
            )
        }
        Order::Gather if lhs.is_empty() && sums.is_empty() => return None,
        Order::Gather if lhs.is_empty() => sums.join("; "),
        Order::Gather if sums.is_empty() => format!("gather, loops {}", lhs.join(", ")),
        Order::Gather => format!("gather, loops {}; {}", lhs.join(", "), sums.join("; ")),
    };
    Some(format!("schedule: {text}"))
}
