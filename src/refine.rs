//! Range refinement by the condition of a `where`: inside the branch taken
//! when the condition holds, the bounds it puts on index variables hold
//! (`where(i >= P and i < H + P, x[c, i - P], 0)` reads x only at rows
//! 0..H), and inside the other branch those of its negation. The bounds
//! check of affine subscripts is meant to read a branch's reads over these
//! ranges; it does not yet (docs/language.md, "Affine subscripts").
//!
//! Only what is sure is derived: a comparison of an index variable plus or
//! minus a constant with a constant, or with another such index variable
//! (`j <= i` bounds j by i's largest value); `and` intersects, `or` takes
//! the smallest range holding both sides'. Anything else leaves the ranges
//! as they are (a comparison of values, say), which is always sound.

use crate::ir::{BinOp, Expr, Func, IndexId};

/// An inclusive range of integers, `lo..=hi`; empty when `lo > hi` (the
/// branch is never taken).
pub type Range = (i64, i64);

/// The ranges of a value's index variables inside a branch of
/// `where(cond, A, B)`: A's when `holds`, B's otherwise. `ranges[i]` is
/// index variable i's range outside (`0..=size - 1`); the result is never
/// wider.
pub fn refine(cond: &Expr, holds: bool, ranges: &[Range]) -> Vec<Range> {
    let mut out = ranges.to_vec();
    // Twice, so that a bound learnt from one comparison reaches another
    // (`j <= i and i < 3`).
    for _ in 0..2 {
        out = implied(cond, holds, &out);
    }
    out
}

/// The ranges of the index variables of `owner`, from their extents.
pub fn ranges_of(owner: &crate::ir::Value) -> Vec<Range> {
    owner
        .indices
        .iter()
        .map(|v| (0, v.extent.size as i64 - 1))
        .collect()
}

fn implied(cond: &Expr, holds: bool, ranges: &[Range]) -> Vec<Range> {
    match cond {
        Expr::Unary {
            func: Func::Not,
            arg,
        } => implied(arg, !holds, ranges),
        // `a and b` holds: both hold; `a or b` fails: both fail.
        Expr::Binary {
            op: op @ (BinOp::And | BinOp::Or),
            lhs,
            rhs,
        } if (*op == BinOp::And) == holds => {
            let after_lhs = implied(lhs, holds, ranges);
            implied(rhs, holds, &after_lhs)
        }
        // `a or b` holds: one of them does; `a and b` fails: one fails.
        Expr::Binary {
            op: BinOp::And | BinOp::Or,
            lhs,
            rhs,
        } => hull(&implied(lhs, holds, ranges), &implied(rhs, holds, ranges)),
        Expr::Binary { op, lhs, rhs } if op.is_condition() => {
            let op = if holds { *op } else { negate(*op) };
            compare(op, lhs, rhs, ranges)
        }
        _ => ranges.to_vec(),
    }
}

/// The comparison that holds where `op` fails (the operands here are
/// integers and constants, never NaN).
fn negate(op: BinOp) -> BinOp {
    match op {
        BinOp::Lt => BinOp::Ge,
        BinOp::Le => BinOp::Gt,
        BinOp::Gt => BinOp::Le,
        BinOp::Ge => BinOp::Lt,
        BinOp::Eq => BinOp::Ne,
        BinOp::Ne => BinOp::Eq,
        other => other,
    }
}

/// Elementwise the smallest range holding both; an empty side gives the other.
fn hull(a: &[Range], b: &[Range]) -> Vec<Range> {
    let empty = |r: &[Range]| r.iter().any(|(lo, hi)| lo > hi);
    if empty(a) {
        return b.to_vec();
    }
    if empty(b) {
        return a.to_vec();
    }
    a.iter()
        .zip(b)
        .map(|((a0, a1), (b0, b1))| (*a0.min(b0), *a1.max(b1)))
        .collect()
}

/// An operand as `index + offset` or a constant.
#[derive(Clone, Copy)]
enum Term {
    Var(IndexId, f64),
    Const(f64),
}

fn term(e: &Expr) -> Option<Term> {
    match e {
        Expr::Num(c) => Some(Term::Const(*c)),
        Expr::Index(i) => Some(Term::Var(*i, 0.0)),
        Expr::Unary {
            func: Func::Neg,
            arg,
        } => match term(arg)? {
            Term::Const(c) => Some(Term::Const(-c)),
            Term::Var(..) => None,
        },
        Expr::Binary {
            op: op @ (BinOp::Add | BinOp::Sub),
            lhs,
            rhs,
        } => {
            let sign = if *op == BinOp::Add { 1.0 } else { -1.0 };
            match (term(lhs)?, term(rhs)?) {
                (Term::Const(a), Term::Const(b)) => Some(Term::Const(a + sign * b)),
                (Term::Var(i, p), Term::Const(c)) => Some(Term::Var(i, p + sign * c)),
                (Term::Const(c), Term::Var(i, p)) if *op == BinOp::Add => Some(Term::Var(i, p + c)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The ranges where `lhs op rhs` holds.
fn compare(op: BinOp, lhs: &Expr, rhs: &Expr, ranges: &[Range]) -> Vec<Range> {
    let mut out = ranges.to_vec();
    let (Some(a), Some(b)) = (term(lhs), term(rhs)) else {
        return out;
    };
    // `i + p op x`, x a real: the bounds on i.
    let mut bound = |i: IndexId, op: BinOp, x: f64| {
        let Some(r) = out.get_mut(i.index()) else {
            return;
        };
        let (lo, hi) = (r.0 as f64, r.1 as f64);
        let (lo, hi) = match op {
            BinOp::Lt => (lo, hi.min(x.ceil() - 1.0)),
            BinOp::Le => (lo, hi.min(x.floor())),
            BinOp::Gt => (lo.max(x.floor() + 1.0), hi),
            BinOp::Ge => (lo.max(x.ceil()), hi),
            BinOp::Eq if x.fract() == 0.0 => (lo.max(x), hi.min(x)),
            BinOp::Eq => (1.0, 0.0),
            _ => (lo, hi),
        };
        *r = (lo as i64, hi as i64);
    };
    let flip = |op: BinOp| match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::Le => BinOp::Ge,
        BinOp::Gt => BinOp::Lt,
        BinOp::Ge => BinOp::Le,
        other => other,
    };
    match (a, b) {
        (Term::Var(i, p), Term::Const(c)) => bound(i, op, c - p),
        (Term::Const(c), Term::Var(i, p)) => bound(i, flip(op), c - p),
        // i + p op j + q: i op j + q - p over j's range, and the mirror.
        (Term::Var(i, p), Term::Var(j, q)) if i != j => {
            let (Some(ri), Some(rj)) = (ranges.get(i.index()), ranges.get(j.index())) else {
                return out;
            };
            let (ri, rj) = (*ri, *rj);
            match op {
                BinOp::Lt | BinOp::Le => {
                    bound(i, op, rj.1 as f64 + q - p);
                    bound(j, flip(op), ri.0 as f64 + p - q);
                }
                BinOp::Gt | BinOp::Ge => {
                    bound(i, op, rj.0 as f64 + q - p);
                    bound(j, flip(op), ri.1 as f64 + p - q);
                }
                BinOp::Eq => {
                    bound(i, BinOp::Ge, rj.0 as f64 + q - p);
                    bound(i, BinOp::Le, rj.1 as f64 + q - p);
                    bound(j, BinOp::Ge, ri.0 as f64 + p - q);
                    bound(j, BinOp::Le, ri.1 as f64 + p - q);
                }
                _ => {}
            }
        }
        _ => {}
    }
    out
}
