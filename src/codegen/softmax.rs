//! The softmax from its logsumexp's exponentials: where a definition reads
//! `exp(x[.., c, ..] - lse)` and `lse = logsumexp(k, x[.., k, ..])` (of
//! rank 0, the same `x` with the same other subscripts), the logsumexp's
//! loop keeps each `exp(x[k] - max)` in an array and the reader computes
//! `exp(x[c] - lse)` as `e[c] * scale`, `scale = 1 / Σ_k e[k]`: one
//! exponential per class instead of two (softmax regression's gradient,
//! one-sample classifiers' `p - t`).
//!
//! `exp(x[c] - max) / Σ_k exp(x[k] - max)` is `exp(x[c] - lse)` up to
//! rounding (two roundings more, far inside the 1e-12 the tests hold
//! generated code to), and stays shifted by the max, so no exponential
//! overflows. Where the max is not finite the logsumexp is the max and
//! `exp(x[c] - max)` is already `exp(x[c] - lse)` (0 or NaN), so the scale
//! is 1 there: the same values as without the array, infinities and NaN
//! included.
//!
//! A logsumexp of rank 1 or more (one per sample of a batch) keeps its
//! exponentials nowhere: that would take an array of the batch's size.
//! Nor does one over more than [`MAX_KEPT`] terms: its array is on the
//! stack, outside the function's `STACK_BUDGET`, so it is kept small.

use super::affine::{Access, Affine};
use super::scalar::{Binary, Scalar};
use super::Generator;
use crate::ir::{BinOp, Expr, Func, IndexId, Reduction, Sub, ValueId};

/// The most terms of a logsumexp whose exponentials are kept (8 KiB of
/// f64 on the stack); a larger one computes them twice, as it would
/// without this module.
pub(super) const MAX_KEPT: usize = 1024;

/// A logsumexp that keeps its exponentials: the array `exps`, and the
/// local `scale` (1 / their sum, or 1 where the max is not finite).
#[derive(Debug, Clone)]
pub(super) struct Kept {
    pub(super) lse: ValueId,
    pub(super) exps: String,
    pub(super) scale: String,
}

impl Generator<'_> {
    /// The logsumexps among `need` that some needed definition reads as a
    /// softmax, `exp(x[c] - lse)`, in order.
    pub(super) fn softmax_sources(&self, need: &[bool]) -> Vec<ValueId> {
        let mut kept = Vec::new();
        // A residual's own formula is no softmax the code computes.
        for id in self
            .p
            .ids()
            .filter(|id| need[id.index()] && !self.is_residual[id.index()])
        {
            if let Some(rhs) = &self.p.value(id).rhs {
                self.find_softmax(rhs, &mut kept);
            }
        }
        kept.sort();
        kept.dedup();
        kept.retain(|&lse| self.terms(lse) <= MAX_KEPT);
        kept
    }

    /// The number of terms of the logsumexp `lse`.
    fn terms(&self, lse: ValueId) -> usize {
        let v = self.p.value(lse);
        match &v.rhs {
            Some(Expr::Reduce { index, .. }) => v.indices[index.index()].extent.size,
            _ => unreachable!("a softmax source is a logsumexp"),
        }
    }

    fn find_softmax(&self, e: &Expr, kept: &mut Vec<ValueId>) {
        if let Some((lse, _)) = self.softmax_of(e) {
            kept.push(lse);
            return;
        }
        match e {
            Expr::Unary { arg, .. } => self.find_softmax(arg, kept),
            Expr::Binary { lhs, rhs, .. } => {
                self.find_softmax(lhs, kept);
                self.find_softmax(rhs, kept);
            }
            Expr::Reduce { body, .. } => self.find_softmax(body, kept),
            _ => {}
        }
    }

    /// For `exp(x[.., c, ..] - lse)` with `lse = logsumexp(k, x[.., k, ..])`
    /// of rank 0: the logsumexp and the subscript `c` its `k` takes.
    pub(super) fn softmax_of(&self, e: &Expr) -> Option<(ValueId, Sub)> {
        let Expr::Unary {
            func: Func::Exp,
            arg,
        } = e
        else {
            return None;
        };
        let Expr::Binary {
            op: BinOp::Sub,
            lhs,
            rhs,
        } = &**arg
        else {
            return None;
        };
        // `exp((x[c] - lse) - lo)`, where lse keeps its residual
        // (`crate::lse`): the kept exponential over the sum is that.
        let (lhs, rhs, lo) = match (&**lhs, &**rhs) {
            (
                Expr::Binary {
                    op: BinOp::Sub,
                    lhs,
                    rhs,
                },
                Expr::Read { value: lo, .. },
            ) if self.is_residual[lo.index()] => (lhs, rhs, Some(*lo)),
            _ => (lhs, rhs, None),
        };
        let (Expr::Read { value: x, subs: at }, Expr::Read { value: lse, subs }) = (&**lhs, &**rhs)
        else {
            return None;
        };
        let l = self.p.value(*lse);
        if !subs.is_empty() || l.rank() != 0 || lo != self.residual[lse.index()] {
            return None;
        }
        let Some(Expr::Reduce {
            op: Reduction::LogSumExp,
            index,
            body,
        }) = &l.rhs
        else {
            return None;
        };
        let Expr::Read {
            value: y,
            subs: over,
        } = &**body
        else {
            return None;
        };
        if y != x || over.len() != at.len() {
            return None;
        }
        // The reduction's index in one place, the same literals elsewhere.
        let mut c = None;
        for (o, a) in over.iter().zip(at) {
            match o {
                Sub::Var(i) if *i == *index => {
                    if c.is_some() {
                        return None;
                    }
                    c = Some(*a);
                }
                Sub::Lit(n) if *a == Sub::Lit(*n) => {}
                _ => return None,
            }
        }
        c.map(|c| (*lse, c))
    }

    /// The logsumexps among `keep` that `e` reads as a softmax term.
    pub(super) fn kept_softmax_reads(&self, keep: &[ValueId], e: &Expr) -> Vec<ValueId> {
        let mut found = Vec::new();
        self.find_softmax(e, &mut found);
        found.sort();
        found.dedup();
        found.retain(|l| keep.contains(l));
        found
    }

    /// `e[c] * scale` for a softmax term whose logsumexp kept its
    /// exponentials, in the reader's index names.
    pub(super) fn softmax_term(&self, kept: &[Kept], e: &Expr, names: &[String]) -> Option<Scalar> {
        let (lse, c) = self.softmax_of(e)?;
        let k = kept.iter().find(|k| k.lse == lse)?;
        let offset = match c {
            Sub::Var(i) => Affine::var(&names[i.index()]),
            Sub::Lit(n) => Affine::constant(n),
            Sub::Affine(_) => Self::sub_affine(&c, names),
        };
        Some(Scalar::binary(
            Binary::Mul,
            Scalar::Load(Access {
                array: k.exps.clone(),
                offset,
            }),
            Scalar::Var(k.scale.clone()),
        ))
    }
}

/// Whether `rhs` is exactly a logsumexp over `index` (the whole right-hand
/// side of the value whose exponentials are kept).
pub(super) fn is_rank0_logsumexp(rhs: Option<&Expr>, index: IndexId) -> bool {
    matches!(rhs, Some(Expr::Reduce { op: Reduction::LogSumExp, index: i, .. }) if *i == index)
}
