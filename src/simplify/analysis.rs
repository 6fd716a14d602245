//! What the e-graph knows of each class: its constant value, if folded, and
//! the index variables it may use.

use std::collections::BTreeSet;

use egg::{Analysis, DidMerge, EGraph, Id, Language};

use super::lang::{Leaf, Node, Number};
use crate::ir::BinOp;

/// The analysis, with the trip count of each index variable of the definition.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub extents: Vec<usize>,
    /// For each index variable, whether its range is fixed (not a run-time
    /// dim): only then does a comparison of it fold (`i < N` is true for
    /// every i of a fixed range 0..N).
    pub fixed: Vec<bool>,
}

/// The data of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    /// Its value, when every member folds to one constant.
    pub constant: Option<f64>,
    /// The index variables some member uses freely. Merging takes the union,
    /// so "does not use i" holds of every member: a term pulled out of a sum
    /// on that ground stays well scoped whichever member is extracted.
    pub free: BTreeSet<u32>,
}

pub type Graph = EGraph<Node, Facts>;

/// The index variable of a class made of a `Leaf(Var)`.
pub fn index_var(egraph: &Graph, id: Id) -> Option<u32> {
    egraph[id].nodes.iter().find_map(|n| match n {
        Node::Leaf(Leaf::Var(v)) => Some(*v),
        _ => None,
    })
}

fn leaf(egraph: &Graph, id: Id) -> Option<Leaf> {
    egraph[id].nodes.iter().find_map(|n| match n {
        Node::Leaf(l) => Some(*l),
        _ => None,
    })
}

/// The values a class may take, when known: a constant's, or an index
/// variable's range `0..=n-1` (a fixed one).
fn interval(egraph: &Graph, id: Id) -> Option<(f64, f64)> {
    if let Some(c) = egraph[id].data.constant {
        return Some((c, c));
    }
    egraph[id].nodes.iter().find_map(|n| match n {
        Node::Index(i) => {
            let v = index_var(egraph, *i)? as usize;
            let n = *egraph.analysis.extents.get(v)?;
            (n > 0 && *egraph.analysis.fixed.get(v)?).then(|| (0.0, (n - 1) as f64))
        }
        _ => None,
    })
}

/// A comparison decided by the ranges of its operands: 1 or 0, or `None`
/// when the ranges overlap so that both outcomes occur.
fn decide(op: BinOp, (a0, a1): (f64, f64), (b0, b1): (f64, f64)) -> Option<f64> {
    let yes = Some(1.0);
    let no = Some(0.0);
    match op {
        BinOp::Lt if a1 < b0 => yes,
        BinOp::Lt if a0 >= b1 => no,
        BinOp::Le if a1 <= b0 => yes,
        BinOp::Le if a0 > b1 => no,
        BinOp::Gt if a0 > b1 => yes,
        BinOp::Gt if a1 <= b0 => no,
        BinOp::Ge if a0 >= b1 => yes,
        BinOp::Ge if a1 < b0 => no,
        BinOp::Eq if a1 < b0 || b1 < a0 => no,
        BinOp::Ne if a1 < b0 || b1 < a0 => yes,
        _ => None,
    }
}

/// Keeps a folded constant only when it is a finite number.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl Analysis<Node> for Facts {
    type Data = Data;

    fn make(egraph: &mut Graph, enode: &Node, _id: Id) -> Data {
        let c = |i: &Id| egraph[*i].data.constant;
        let mut free: BTreeSet<u32> = BTreeSet::new();
        for child in enode.children() {
            free.extend(egraph[*child].data.free.iter().copied());
        }
        let constant = match enode {
            Node::Num(x) => Some(x.value()),
            Node::Leaf(Leaf::Var(v)) => {
                free.insert(*v);
                None
            }
            Node::Leaf(Leaf::Affine(a)) => {
                free.extend(a.terms().iter().map(|(v, _)| v.0));
                None
            }
            // The solved index is bound in the body.
            Node::Solve([i, _, _, _]) => {
                if let Some(v) = index_var(egraph, *i) {
                    free.remove(&v);
                }
                None
            }
            Node::Leaf(_) | Node::Read(_) => None,
            Node::Size(i) => index_var(egraph, *i)
                .and_then(|v| egraph.analysis.extents.get(v as usize))
                .map(|n| *n as f64),
            // A `where` whose condition is known is its branch (`modify`
            // merges the two); with the same constant in both branches, that.
            Node::Where([cond, t, e]) => match c(cond) {
                Some(x) if x != 0.0 => c(t),
                Some(_) => c(e),
                None => c(t).filter(|x| c(e) == Some(*x)),
            },
            Node::Delta([a, b]) => match (leaf(egraph, *a), leaf(egraph, *b)) {
                (Some(x), Some(y)) if x == y => Some(1.0),
                (Some(Leaf::Lit(x)), Some(Leaf::Lit(y))) => Some(f64::from(u8::from(x == y))),
                _ => None,
            },
            node => {
                if let Some((_, i, _)) = node.reduction() {
                    if let Some(v) = index_var(egraph, i) {
                        free.remove(&v);
                    }
                    None
                } else if let Some((func, a)) = node.func() {
                    c(&a).and_then(|x| finite(func.apply(x)))
                } else if let Some((op, a, b)) = node.binary() {
                    match (c(&a), c(&b)) {
                        (Some(x), Some(y)) => finite(op.apply(x, y)),
                        _ if op.is_condition() => {
                            match (interval(egraph, a), interval(egraph, b)) {
                                (Some(x), Some(y)) => decide(op, x, y),
                                _ => None,
                            }
                        }
                        _ => None,
                    }
                } else {
                    None
                }
            }
        };
        Data { constant, free }
    }

    fn merge(&mut self, a: &mut Data, b: Data) -> DidMerge {
        let mut merged = DidMerge(false, false);
        match (a.constant, b.constant) {
            (None, Some(x)) => {
                a.constant = Some(x);
                merged.0 = true;
            }
            (Some(_), None) => merged.1 = true,
            _ => {}
        }
        let before = a.free.len();
        a.free.extend(b.free.iter().copied());
        merged.0 |= a.free.len() != before;
        merged.1 |= a.free.len() != b.free.len();
        merged
    }

    fn modify(egraph: &mut Graph, id: Id) {
        // A `where` whose condition is known is the branch it takes.
        let taken = egraph[id].nodes.iter().find_map(|n| match n {
            Node::Where([cond, t, e]) => {
                egraph[*cond]
                    .data
                    .constant
                    .map(|x| if x != 0.0 { *t } else { *e })
            }
            _ => None,
        });
        if let Some(branch) = taken {
            if egraph.find(branch) != egraph.find(id) {
                egraph.union_trusted(id, branch, "where-known");
            }
        }
        let id = egraph.find(id);
        if let Some(c) = egraph[id].data.constant {
            let folded = egraph.add(Node::Num(Number::new(c)));
            // Named, so that explanations say where the number came from.
            egraph.union_trusted(id, folded, "constant-fold");
            // A number is its own best form: the other forms of a constant
            // class (`0 * x`, `0.5 * 0`, ...) are dropped, so that rules no
            // longer match through them. Kept, they let a definition with a
            // factor 0 grow to the node limit (0.8 s in a release build, 15 s
            // under a fuzzer's instrumentation; tests/fuzz_findings.rs).
            egraph[id].nodes.retain(|n| n.is_leaf());
        }
    }
}
