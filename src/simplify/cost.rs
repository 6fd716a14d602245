//! The cost of an expression: operations weighted by kind, a reduction's body
//! multiplied by its trip count. The same weights price IR expressions (for
//! `--stats` and to keep the original when it is cheaper) and e-nodes (for
//! extraction).

use egg::{CostFunction, Id};

use super::analysis::{index_var, Graph};
use super::lang::Node;
use crate::ir::{BinOp, Expr, Func, Reduction};

/// A function's weight: transcendental functions cost more than arithmetic.
pub fn func_weight(f: Func) -> f64 {
    match f {
        Func::Neg | Func::Abs | Func::Relu | Func::Step | Func::Sign | Func::Not => 1.0,
        Func::Exp
        | Func::Log
        | Func::Sqrt
        | Func::Tanh
        | Func::Sigmoid
        | Func::Softplus
        | Func::Sin
        | Func::Cos => 10.0,
    }
}

pub fn binary_weight(op: BinOp) -> f64 {
    match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Max | BinOp::Min => 1.0,
        // A comparison, `and`, `or`.
        op if op.is_condition() => 1.0,
        BinOp::Div => 4.0,
        BinOp::Pow => 8.0,
        // A log and a multiplication.
        BinOp::XLogY => 11.0,
        _ => 1.0,
    }
}

/// A read from memory, and a Kronecker delta (a comparison).
pub const READ: f64 = 1.0;

/// The cost of a reduction over `n` values of a body of cost `body`.
pub fn reduction_cost(op: Reduction, n: f64, body: f64) -> f64 {
    match op {
        // One add per value.
        Reduction::Sum => n * (body + 1.0),
        // And one division by the count, priced below the multiplication by
        // 1 / N of the same sum written `(1 / N) * sum(...)`, so that a mean
        // is extracted as a mean: computed as one, it cannot overflow where
        // its value is finite (eval's `mean_of`, codegen's `mean`).
        Reduction::Mean => n * (body + 1.0) + 0.5,
        // Two passes (the max, then the sum of exps) and a log.
        Reduction::LogSumExp => {
            n * (2.0 * body + 1.0 + 1.0 + func_weight(Func::Exp)) + func_weight(Func::Log)
        }
        // One comparison per value (and a position kept, for argmax and argmin).
        Reduction::Max | Reduction::Min | Reduction::ArgMax | Reduction::ArgMin => n * (body + 1.0),
    }
}

/// The cost of one element of an IR expression; `extents` gives the trip
/// count of each index variable of its definition.
pub fn of(e: &Expr, extents: &[usize]) -> f64 {
    match e {
        Expr::Num(_) | Expr::Index(_) => 0.0,
        // A branch: priced as both branches, so that `where(c, x, 0)` is
        // cheaper than `x * where(c, 1, 0)`.
        Expr::Where { cond, then, els } => {
            1.0 + of(cond, extents) + of(then, extents) + of(els, extents)
        }
        Expr::Read { .. } | Expr::Delta(..) => READ,
        Expr::Unary { func, arg } => func_weight(*func) + of(arg, extents),
        Expr::Binary { op, lhs, rhs } => binary_weight(*op) + of(lhs, extents) + of(rhs, extents),
        Expr::Reduce { op, index, body } => {
            reduction_cost(*op, extents[index.index()] as f64, of(body, extents))
        }
        // A comparison, like a delta.
        Expr::At { pos, .. } => READ + of(pos, extents),
        // A range check, like a delta, then the body once.
        Expr::Solve { body, .. } => READ + of(body, extents),
    }
}

/// The same weights for extraction from an e-graph.
pub struct Weighted<'a> {
    pub egraph: &'a Graph,
}

impl CostFunction<Node> for Weighted<'_> {
    type Cost = f64;

    fn cost<C>(&mut self, enode: &Node, mut costs: C) -> f64
    where
        C: FnMut(Id) -> f64,
    {
        if let Some((func, a)) = enode.func() {
            return func_weight(func) + costs(a);
        }
        if let Some((op, a, b)) = enode.binary() {
            return binary_weight(op) + costs(a) + costs(b);
        }
        if let Some((op, i, body)) = enode.reduction() {
            let n = index_var(self.egraph, i)
                .and_then(|v| self.egraph.analysis.extents.get(v as usize))
                .copied()
                .unwrap_or(1);
            return reduction_cost(op, n as f64, costs(body));
        }
        match enode {
            Node::Num(_) | Node::Leaf(_) => 0.0,
            Node::Read(_) | Node::Delta(_) => READ,
            Node::At([_, p]) => READ + costs(*p),
            Node::Solve([_, _, _, b]) => READ + costs(*b),
            Node::Index(_) => 0.0,
            Node::Where([c, t, e]) => 1.0 + costs(*c) + costs(*t) + costs(*e),
            // Always folded to a number; never worth extracting.
            _ => 1e9,
        }
    }
}
