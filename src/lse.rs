//! A logsumexp carries its own rounding error into the differences that
//! read it.
//!
//! `lse = logsumexp(k, a[k])` is computed as `m + ln(s)`, with `m` the max and
//! `s = Σ_k exp(a[k] - m)`, and stored rounded. Where it is then subtracted
//! from something of its own size, the rounding is all that is left: at
//! logits `[1e16, 1e16]` the exact logsumexp is `1e16 + ln 2`, which rounds to
//! `1e16`, so the softmax `exp(a[k] - lse)` comes out as `[1, 1]` instead of
//! `[0.5, 0.5]` and the cross-entropy `lse - a[0]` as 0 instead of `ln 2`. At
//! logits of a few thousand the same loss costs the last four digits.
//!
//! So every evaluator (the interpreter and the generated code) keeps, next
//! to each such logsumexp, its residual `lo = (m - lse) + ln(s)`: `lse + lo`
//! is the logsumexp to about twice the working precision (`m - lse` is exact
//! where `lse` is near `m`, the only case where the rounding matters). A
//! difference with a logsumexp operand adds the residual after subtracting:
//! `x - lse` is computed as `(x - lse) - lo`, `lse - x` as `(lse - x) + lo`.
//! Where `x` is near the logsumexp, `x - lse` is exact, so the difference is
//! right to the last bit that matters; elsewhere the residual is below
//! the difference's own rounding.
//!
//! This is a matter of evaluation only: the program, its derivatives,
//! `explain` and the simplifier see `exp(a[k] - lse)` as before.

use std::collections::HashSet;

use crate::ir::{
    BinOp, Expr, Func, IndexId, Origin, Program, Reduction, Sub, Value, ValueId, ValueKind,
};

/// Per value: whether it is a logsumexp (its whole right-hand side) that
/// some right-hand side reads as an operand of a difference, and so needs
/// its residual kept.
pub fn carriers(program: &Program) -> Vec<bool> {
    let is_lse: Vec<bool> = program
        .values
        .iter()
        .map(|v| {
            matches!(
                v.rhs,
                Some(Expr::Reduce {
                    op: Reduction::LogSumExp,
                    ..
                })
            )
        })
        .collect();
    let mut carries = vec![false; program.values.len()];
    for v in &program.values {
        if let Some(rhs) = &v.rhs {
            crate::on_own_stack(|| mark(rhs, &is_lse, &mut carries));
        }
    }
    carries
}

fn mark(e: &Expr, is_lse: &[bool], carries: &mut [bool]) {
    match e {
        Expr::Num(_) | Expr::Read { .. } | Expr::Delta(..) | Expr::Index(_) => {}
        Expr::Unary { arg, .. } => mark(arg, is_lse, carries),
        Expr::Where { cond, then, els } => {
            mark(cond, is_lse, carries);
            mark(then, is_lse, carries);
            mark(els, is_lse, carries);
        }
        Expr::Binary { op, lhs, rhs } => {
            if *op == BinOp::Sub {
                for side in [lhs, rhs] {
                    if let Some(v) = operand(side, is_lse) {
                        carries[v] = true;
                    }
                }
            }
            mark(lhs, is_lse, carries);
            mark(rhs, is_lse, carries);
        }
        Expr::Reduce { body, .. } => mark(body, is_lse, carries),
        Expr::At { pos, .. } => mark(pos, is_lse, carries),
        Expr::Solve { body, .. } => mark(body, is_lse, carries),
    }
}

/// The logsumexp `e` reads, if it is a read of one (by index into
/// `is_lse`).
pub fn operand(e: &Expr, is_lse: &[bool]) -> Option<usize> {
    match e {
        Expr::Read { value, .. } if is_lse[value.index()] => Some(value.index()),
        _ => None,
    }
}

/// The residual of a logsumexp computed as `lse = max + ln(sum)`, with
/// `ln_sum = ln(sum)`: 0 where the max or the logsumexp is not finite (the
/// logsumexp is then the max, exactly, or overflowed).
pub fn residual(max: f64, lse: f64, ln_sum: f64) -> f64 {
    if max.is_finite() && lse.is_finite() {
        (max - lse) + ln_sum
    } else {
        0.0
    }
}

/// The program with a residual value after each logsumexp in
/// [`carriers`], and every difference with such a logsumexp operand
/// rewritten to add it: what the generated code computes. The residual's
/// right-hand side is the true one, `log(sum(k, exp(x[k] - lse)))` (which
/// is `lo` up to rounding), but code generation computes it in the
/// logsumexp's own loops, as `(max - lse) + ln(sum)`, like the interpreter.
///
/// Returns the program, where each old value went, and per new value the
/// residual value it carries, if any.
pub fn with_residuals(program: Program) -> (Program, Vec<ValueId>, Vec<Option<ValueId>>) {
    let carries = carriers(&program);
    if !carries.contains(&true) {
        let identity = program.ids().collect();
        let none = vec![None; program.values.len()];
        return (program, identity, none);
    }
    let mut names: HashSet<String> = program.values.iter().map(|v| v.name.clone()).collect();
    let mut remap = Vec::with_capacity(program.values.len());
    let mut next = 0u32;
    for &c in &carries {
        remap.push(ValueId(next));
        next += 1 + u32::from(c);
    }
    // The residual of old value `v`, in new ids.
    let residual_of: Vec<Option<ValueId>> = carries
        .iter()
        .zip(&remap)
        .map(|(&c, id)| c.then_some(ValueId(id.0 + 1)))
        .collect();
    let Program {
        dims,
        consts,
        values,
        loss,
        outputs,
        recurrences,
    } = program;
    let mut out = Vec::with_capacity(next as usize);
    let mut residual = Vec::with_capacity(next as usize);
    for (old, mut v) in values.into_iter().enumerate() {
        if let Some(rhs) = v.rhs.take() {
            v.rhs = Some(rewrite(rhs, &remap, &residual_of));
        }
        // An adjoint names its value and its uses' readers: in new ids too
        // (code generation names `d_x` after `of`).
        if let Origin::Adjoint { of, uses } = &mut v.origin {
            *of = remap[of.index()];
            for (reader, _) in uses {
                *reader = remap[reader.index()];
            }
        }
        let lo = residual_of[old].map(|_| {
            let mut name = format!("{}_lo", v.name);
            let mut n = 2;
            while names.contains(&name) {
                name = format!("{}_lo_{n}", v.name);
                n += 1;
            }
            names.insert(name.clone());
            let Some(Expr::Reduce { index, body, .. }) = &v.rhs else {
                unreachable!("a carrier is a logsumexp")
            };
            let own = Expr::Read {
                value: remap[old],
                subs: (0..v.rank() as u32).map(|i| Sub::Var(IndexId(i))).collect(),
            };
            let terms = Expr::Reduce {
                op: Reduction::Sum,
                index: *index,
                body: Box::new(Expr::unary(
                    Func::Exp,
                    Expr::binary(BinOp::Sub, (**body).clone(), own),
                )),
            };
            Value {
                name,
                kind: ValueKind::Temp,
                shape: v.shape.clone(),
                indices: v.indices.clone(),
                rhs: Some(Expr::unary(Func::Log, terms)),
                origin: match &v.origin {
                    Origin::Source(s) | Origin::Hoisted(s) => Origin::Hoisted(*s),
                    Origin::Adjoint { .. } => unreachable!("a logsumexp is no adjoint"),
                },
            }
        });
        residual.push(residual_of[old]);
        out.push(v);
        if let Some(lo) = lo {
            residual.push(None);
            out.push(lo);
        }
    }
    let program = Program {
        dims,
        consts,
        values: out,
        loss: remap[loss.index()],
        outputs: outputs.iter().map(|o| remap[o.index()]).collect(),
        recurrences: recurrences
            .iter()
            .map(|r| r.remap(|v| remap[v.index()]))
            .collect(),
    };
    (program, remap, residual)
}

/// `e` in new ids, its differences with a carrier adding the residual.
fn rewrite(e: Expr, remap: &[ValueId], residual_of: &[Option<ValueId>]) -> Expr {
    let lo = |e: &Expr| match e {
        Expr::Read { value, subs } => residual_of[value.index()].map(|r| Expr::Read {
            value: r,
            subs: subs.clone(),
        }),
        _ => None,
    };
    match e {
        Expr::Num(_) | Expr::Delta(..) | Expr::Index(_) => e,
        Expr::Read { value, subs } => Expr::Read {
            value: remap[value.index()],
            subs,
        },
        Expr::Where { cond, then, els } => Expr::select(
            rewrite(*cond, remap, residual_of),
            rewrite(*then, remap, residual_of),
            rewrite(*els, remap, residual_of),
        ),
        Expr::Unary { func, arg } => Expr::unary(func, rewrite(*arg, remap, residual_of)),
        Expr::Binary { op, lhs, rhs } => {
            let (lo_l, lo_r) = if op == BinOp::Sub {
                (lo(&lhs), lo(&rhs))
            } else {
                (None, None)
            };
            let mut e = Expr::binary(
                op,
                rewrite(*lhs, remap, residual_of),
                rewrite(*rhs, remap, residual_of),
            );
            if let Some(lo) = lo_l {
                e = Expr::binary(BinOp::Add, e, lo);
            }
            if let Some(lo) = lo_r {
                e = Expr::binary(BinOp::Sub, e, lo);
            }
            e
        }
        Expr::Reduce { op, index, body } => Expr::Reduce {
            op,
            index,
            body: Box::new(rewrite(*body, remap, residual_of)),
        },
        Expr::At { index, pos } => Expr::At {
            index,
            pos: Box::new(rewrite(*pos, remap, residual_of)),
        },
        Expr::Solve {
            index,
            scale,
            value,
            body,
        } => Expr::Solve {
            index,
            scale,
            value,
            body: Box::new(rewrite(*body, remap, residual_of)),
        },
    }
}
