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

// ---------------------------------------------------------------------
// Facts: what a condition guarantees, as linear inequalities, and the
// proof that an affine read is in bounds under them. The bounds check of
// affine subscripts (sema, symbolic in run-time dims) and the later stages'
// check that a rewrite keeps every read in bounds (`reads_in_bounds`, on
// the program instantiated at concrete sizes) share it.
// ---------------------------------------------------------------------

use std::collections::BTreeMap;

use crate::ir::{Program, Sub, Value};

/// `k + Σ multiple · D` over run-time dims `D` (each at least 1). Wide, so
/// that a coefficient times a size never overflows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bound {
    pub k: i128,
    pub dims: BTreeMap<String, i128>,
}

impl Bound {
    pub fn constant(k: i128) -> Bound {
        Bound {
            k,
            dims: BTreeMap::new(),
        }
    }

    /// A run-time dim's size, `D`.
    pub fn dim(name: &str) -> Bound {
        Bound {
            k: 0,
            dims: BTreeMap::from([(name.to_string(), 1)]),
        }
    }

    /// `self += c · other`.
    pub fn add_scaled(&mut self, other: &Bound, c: i128) {
        self.k += c * other.k;
        for (d, m) in &other.dims {
            *self.dims.entry(d.clone()).or_insert(0) += c * m;
        }
        self.dims.retain(|_, m| *m != 0);
    }

    /// `c · self`.
    pub fn scaled(&self, c: i128) -> Bound {
        let mut out = Bound::default();
        out.add_scaled(self, c);
        out
    }

    /// Whether it is at least 0 at every size of its run-time dims.
    pub fn nonnegative(&self) -> bool {
        self.dims.values().all(|m| *m >= 0) && self.k + self.dims.values().sum::<i128>() >= 0
    }

    /// Its value, when it uses no run-time dim.
    pub fn known(&self) -> Option<i128> {
        self.dims.is_empty().then_some(self.k)
    }
}

impl std::fmt::Display for Bound {
    /// `26`, `T - 1`, `2·T + 3`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::new();
        for (d, m) in &self.dims {
            let term = if m.abs() == 1 {
                d.clone()
            } else {
                format!("{}·{d}", m.abs())
            };
            match (out.is_empty(), *m < 0) {
                (true, false) => out.push_str(&term),
                (true, true) => out.push_str(&format!("-{term}")),
                (false, false) => out.push_str(&format!(" + {term}")),
                (false, true) => out.push_str(&format!(" - {term}")),
            }
        }
        match (out.is_empty(), self.k) {
            (true, k) => out = k.to_string(),
            (false, 0) => {}
            (false, k) if k < 0 => out.push_str(&format!(" - {}", -k)),
            (false, k) => out.push_str(&format!(" + {k}")),
        }
        f.write_str(&out)
    }
}

/// `Σ coefficient · index + constant`, an integer linear form of index
/// variables; as a fact, it is at least 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    /// Sorted by index variable, no zero coefficient.
    pub terms: Vec<(IndexId, i128)>,
    pub constant: Bound,
}

impl Form {
    pub fn constant(b: Bound) -> Form {
        Form {
            terms: Vec::new(),
            constant: b,
        }
    }

    pub fn var(v: IndexId) -> Form {
        Form {
            terms: vec![(v, 1)],
            constant: Bound::default(),
        }
    }

    /// An affine subscript as a form.
    pub fn of_sub(s: Sub) -> Form {
        let a = s.affine();
        Form {
            terms: a.terms().iter().map(|&(v, c)| (v, i128::from(c))).collect(),
            constant: Bound::constant(a.constant().into()),
        }
    }

    /// `self + c · other`.
    pub fn plus(&self, other: &Form, c: i128) -> Form {
        let mut out = self.clone();
        out.constant.add_scaled(&other.constant, c);
        for &(v, k) in &other.terms {
            match out.terms.iter_mut().find(|(w, _)| *w == v) {
                Some((_, m)) => *m += c * k,
                None => out.terms.push((v, c * k)),
            }
        }
        out.terms.retain(|(_, m)| *m != 0);
        out.terms.sort();
        out
    }

    fn coefficient(&self, v: IndexId) -> i128 {
        self.terms
            .iter()
            .find(|(w, _)| *w == v)
            .map_or(0, |(_, c)| *c)
    }
}

/// A condition as the refinement sees it: comparisons of linear forms
/// (`Cmp(op, f)` is `f op 0`), `and`, `or`, `not`; anything else (a
/// comparison of values, a non-integer number) is `Opaque` and says nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Cmp(BinOp, Form),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Opaque,
}

impl Cond {
    /// `lhs op rhs`, when both sides are linear forms.
    pub fn compare(op: BinOp, lhs: Option<Form>, rhs: Option<Form>) -> Cond {
        match (lhs, rhs) {
            (Some(l), Some(r)) => Cond::Cmp(op, l.plus(&r, -1)),
            _ => Cond::Opaque,
        }
    }
}

/// The facts (forms at least 0) that hold wherever `cond` holds (`holds`)
/// or fails. Only what is sure: `a or b` keeps a bound both sides imply
/// (the weaker one), `!=` says nothing, a value comparison nothing.
pub fn facts(cond: &Cond, holds: bool) -> Vec<Form> {
    match cond {
        Cond::Opaque => Vec::new(),
        Cond::Not(a) => facts(a, !holds),
        Cond::And(a, b) | Cond::Or(a, b) if matches!(cond, Cond::And(..)) == holds => {
            let mut out = facts(a, holds);
            for f in facts(b, holds) {
                if !out.contains(&f) {
                    out.push(f);
                }
            }
            out
        }
        // One side holds (fails), not known which: what both imply.
        Cond::And(a, b) | Cond::Or(a, b) => {
            let (fa, fb) = (facts(a, holds), facts(b, holds));
            let mut out: Vec<Form> = Vec::new();
            for x in &fa {
                for y in &fb {
                    if x.terms != y.terms {
                        continue;
                    }
                    let mut gap = x.constant.clone();
                    gap.add_scaled(&y.constant, -1);
                    // The weaker of `T + cx >= 0` and `T + cy >= 0`: the larger constant.
                    let weaker = if gap.nonnegative() {
                        x.clone()
                    } else if gap.scaled(-1).nonnegative() {
                        y.clone()
                    } else {
                        continue;
                    };
                    if !out.contains(&weaker) {
                        out.push(weaker);
                    }
                }
            }
            out
        }
        Cond::Cmp(op, f) => {
            let op = if holds { *op } else { negate(*op) };
            let one = Form::constant(Bound::constant(1));
            let neg = Form::default().plus(f, -1);
            // Integers: f > 0 is f - 1 >= 0.
            match op {
                BinOp::Ge => vec![f.clone()],
                BinOp::Gt => vec![f.plus(&one, -1)],
                BinOp::Le => vec![neg],
                BinOp::Lt => vec![neg.plus(&one, -1)],
                BinOp::Eq => vec![f.clone(), neg],
                _ => Vec::new(),
            }
        }
    }
}

/// A bound of an index variable, and whether a fact (not its range) gave it.
pub type Known = (Bound, bool);

/// The most combinations of candidate bounds one proof tries.
const MAX_COMBINATIONS: usize = 4096;

/// The lower and upper bounds known of index variable `v`: its range's,
/// then those of the facts about it alone, each with whether a fact gave it.
pub fn candidates(
    v: IndexId,
    ranges: &[(Bound, Bound)],
    facts: &[Form],
) -> (Vec<Known>, Vec<Known>) {
    let (lo, hi) = ranges[v.index()].clone();
    let (mut lower, mut upper) = (vec![(lo, false)], vec![(hi, false)]);
    for f in facts {
        let [(w, a)] = f.terms[..] else { continue };
        if w != v {
            continue;
        }
        // a·v + B >= 0: v >= -B / a (a > 0) or v <= B / -a (a < 0).
        let b = &f.constant;
        let bound = match (a, b.known()) {
            (1, _) => Some(b.scaled(-1)),
            (-1, _) => Some(b.clone()),
            (a, Some(k)) if a > 0 => Some(Bound::constant(-(k.div_euclid(a)))),
            (a, Some(k)) => Some(Bound::constant(k.div_euclid(-a))),
            _ => None,
        };
        if let Some(bound) = bound {
            if a > 0 {
                lower.push((bound, true));
            } else {
                upper.push((bound, true));
            }
        }
    }
    (lower, upper)
}

/// Whether the facts contradict each other on some variable's bounds: a
/// branch that is never taken.
fn contradictory(vars: &[IndexId], ranges: &[(Bound, Bound)], facts: &[Form]) -> bool {
    vars.iter().any(|&v| {
        let (lower, upper) = candidates(v, ranges, facts);
        lower.iter().any(|(l, _)| {
            upper.iter().any(|(u, _)| {
                let mut gap = l.clone();
                gap.add_scaled(u, -1);
                gap.add_scaled(&Bound::constant(1), -1);
                gap.nonnegative()
            })
        })
    })
}

/// Whether `goal >= 0` at every point of the ranges where the facts hold:
/// each variable replaced by one of its bounds (the lower where its
/// coefficient is positive), or first one variable eliminated with a fact
/// of several (`p·goal = q·fact + rest`, p and q positive).
pub fn prove(goal: &Form, ranges: &[(Bound, Bound)], facts: &[Form]) -> bool {
    if separable(goal, ranges, facts) {
        return true;
    }
    for f in facts.iter().filter(|f| f.terms.len() > 1) {
        for &(v, c) in &goal.terms {
            let a = f.coefficient(v);
            if a == 0 || (a > 0) != (c > 0) {
                continue;
            }
            let rest = goal.scaled_form(a.abs()).plus(f, -c.abs());
            if separable(&rest, ranges, facts) {
                return true;
            }
        }
    }
    let mut vars: Vec<IndexId> = facts
        .iter()
        .flat_map(|f| f.terms.iter().map(|(v, _)| *v))
        .collect();
    vars.sort();
    vars.dedup();
    contradictory(&vars, ranges, facts)
}

impl Form {
    fn scaled_form(&self, c: i128) -> Form {
        Form::default().plus(self, c)
    }
}

/// `goal >= 0` with each variable at one of its own bounds.
fn separable(goal: &Form, ranges: &[(Bound, Bound)], facts: &[Form]) -> bool {
    let choices: Vec<(i128, Vec<Bound>)> = goal
        .terms
        .iter()
        .map(|&(v, c)| {
            let (lower, upper) = candidates(v, ranges, facts);
            let side = if c > 0 { lower } else { upper };
            (c, side.into_iter().map(|(b, _)| b).collect())
        })
        .collect();
    let combinations = choices
        .iter()
        .try_fold(1usize, |n, (_, b)| n.checked_mul(b.len()))
        .unwrap_or(usize::MAX);
    // Too many: each variable at its range's bound only.
    let limit = if combinations > MAX_COMBINATIONS {
        1
    } else {
        usize::MAX
    };
    fn go(k: usize, acc: Bound, choices: &[(i128, Vec<Bound>)], limit: usize) -> bool {
        let Some((c, bounds)) = choices.get(k) else {
            return acc.nonnegative();
        };
        bounds.iter().take(limit).any(|b| {
            let mut next = acc.clone();
            next.add_scaled(b, *c);
            go(k + 1, next, choices, limit)
        })
    }
    go(0, goal.constant.clone(), &choices, limit)
}

/// An expression of a condition as a linear form: integers, index
/// variables, sums, differences and products with a constant.
pub fn form_of(e: &Expr) -> Option<Form> {
    match e {
        Expr::Num(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => {
            Some(Form::constant(Bound::constant(*x as i128)))
        }
        Expr::Index(v) => Some(Form::var(*v)),
        Expr::Unary {
            func: Func::Neg,
            arg,
        } => Some(form_of(arg)?.scaled_form(-1)),
        Expr::Binary { op, lhs, rhs } => {
            let (l, r) = (form_of(lhs)?, form_of(rhs)?);
            match op {
                BinOp::Add => Some(l.plus(&r, 1)),
                BinOp::Sub => Some(l.plus(&r, -1)),
                BinOp::Mul => match (l.terms.is_empty(), r.terms.is_empty()) {
                    (true, _) => Some(r.scaled_form(l.constant.known()?)),
                    (_, true) => Some(l.scaled_form(r.constant.known()?)),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

/// A condition of the IR (its numbers concrete) as a [`Cond`].
pub fn cond_of(e: &Expr) -> Cond {
    match e {
        Expr::Unary {
            func: Func::Not,
            arg,
        } => Cond::Not(Box::new(cond_of(arg))),
        Expr::Binary {
            op: op @ (BinOp::And | BinOp::Or),
            lhs,
            rhs,
        } => {
            let (l, r) = (Box::new(cond_of(lhs)), Box::new(cond_of(rhs)));
            if *op == BinOp::And {
                Cond::And(l, r)
            } else {
                Cond::Or(l, r)
            }
        }
        Expr::Binary { op, lhs, rhs } if op.is_condition() => {
            Cond::compare(*op, form_of(lhs), form_of(rhs))
        }
        _ => Cond::Opaque,
    }
}

/// Whether every read of `e`, an expression of `owner`, is in bounds
/// wherever it is evaluated: an affine subscript over its variables'
/// ranges, refined inside each branch of a `where` by its condition and
/// inside a `Solve` by its constraint. On the program at its concrete sizes:
/// the later stages' guard against moving a read guarded by a `where` out
/// of it (simplification, hoisting, generated code).
pub fn reads_in_bounds(program: &Program, owner: &Value, e: &Expr) -> bool {
    let ranges: Vec<(Bound, Bound)> = owner
        .indices
        .iter()
        .map(|v| {
            (
                Bound::constant(0),
                Bound::constant(v.extent.size as i128 - 1),
            )
        })
        .collect();
    walk(program, e, &ranges, &mut Vec::new())
}

fn walk(program: &Program, e: &Expr, ranges: &[(Bound, Bound)], facts: &mut Vec<Form>) -> bool {
    match e {
        Expr::Num(_) | Expr::Delta(..) | Expr::Index(_) => true,
        Expr::Read { value, subs } => {
            let shape = &program.value(*value).shape;
            subs.iter().zip(shape).all(|(s, extent)| {
                let Sub::Affine(_) = s else { return true };
                let f = Form::of_sub(*s);
                let last = Form::constant(Bound::constant(extent.size as i128 - 1));
                prove(&f, ranges, facts) && prove(&last.plus(&f, -1), ranges, facts)
            })
        }
        Expr::Unary { arg, .. } => walk(program, arg, ranges, facts),
        Expr::Binary { lhs, rhs, .. } => {
            walk(program, lhs, ranges, facts) && walk(program, rhs, ranges, facts)
        }
        Expr::Reduce { body, .. } => walk(program, body, ranges, facts),
        Expr::At { pos, .. } => walk(program, pos, ranges, facts),
        Expr::Solve {
            index,
            scale,
            value,
            body,
        } => {
            // scale · index = value.
            let f = Form::var(*index)
                .scaled_form((*scale).into())
                .plus(&Form::of_sub(*value), -1);
            let n = facts.len();
            facts.push(f.clone());
            facts.push(f.scaled_form(-1));
            let ok = walk(program, body, ranges, facts);
            facts.truncate(n);
            ok
        }
        Expr::Where { cond, then, els } => {
            if !walk(program, cond, ranges, facts) {
                return false;
            }
            let c = cond_of(cond);
            [(then, true), (els, false)]
                .into_iter()
                .all(|(branch, holds)| {
                    let n = facts.len();
                    facts.extend(self::facts(&c, holds));
                    let ok = walk(program, branch, ranges, facts);
                    facts.truncate(n);
                    ok
                })
        }
    }
}
