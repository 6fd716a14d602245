//! Affine subscripts (`x[S * i + di]`, `x[i - 1]`): their lowering to
//! `ir::Affine`, and the proof that every read lies in bounds at every point
//! of its indices' ranges.
//!
//! The proof is a function of each index variable's range `lo..=hi`
//! ([`Range`]), today `0..=size - 1`; a construct that narrows a range (a
//! `where` condition) gives narrower ranges to the same proof. Sizes may be
//! run-time dims: a bound is a constant plus multiples of run-time dims, and
//! a read passes only when it is in bounds at every size of them.

use super::expr::Ctx;
use super::{Sema, Symbol};
use crate::diag::{Code, Diagnostic, Span};
use crate::ir::{self, Extent, IndexId, Sub};
use crate::refine::{self, Bound, Form};
use crate::syntax::ast::{self, ExprKind};

/// `size - 1` of an extent: its last position.
fn last(sema: &Sema, e: &Extent) -> Bound {
    match &e.dim {
        Some(d) if sema.is_runtime(e) => {
            let mut b = Bound::dim(d);
            b.add_scaled(&Bound::constant(1), -1);
            b
        }
        _ => Bound::constant(e.size as i128 - 1),
    }
}

/// The range `lo..=hi` of one index variable, as the bounds proof sees it.
#[derive(Debug, Clone)]
pub(super) struct Range {
    pub(super) lo: Bound,
    pub(super) hi: Bound,
}

impl Range {
    /// The whole range of an extent, `0..=size - 1`.
    pub(super) fn whole(sema: &Sema, e: &Extent) -> Range {
        Range {
            lo: Bound::constant(0),
            hi: last(sema, e),
        }
    }
}

/// A read with an affine subscript, kept until the ranges are known.
#[derive(Debug, Clone)]
pub(super) struct AffineRead {
    /// The value read, and all its subscripts (for the message).
    pub(super) owner: String,
    pub(super) subs: Vec<Sub>,
    /// Which subscript is affine, its span, and the dimension it indexes.
    pub(super) pos: usize,
    pub(super) span: Span,
    pub(super) extent: Extent,
    /// What the conditions of the `where` branches around it guarantee,
    /// and whether there is one.
    pub(super) facts: Vec<Form>,
    pub(super) guarded: bool,
}

/// Why a subscript is not an affine form.
type Fail = Option<Diagnostic>;

impl Sema {
    /// A subscript that is an expression (`S * i + di`, `K - 1`): its affine
    /// form as a `Sub`, or `None` after reporting why it is not one.
    pub(super) fn affine_subscript(
        &mut self,
        s: &ast::Expr,
        extent: &Extent,
        owner: &str,
        pos: usize,
        cx: &mut Ctx,
    ) -> Option<Sub> {
        let (constant, terms) = match self.linear(s, cx) {
            Ok(form) => form,
            Err(d) => {
                if let Some(d) = d {
                    self.error(d);
                }
                return None;
            }
        };
        let Some(affine) = ir::Affine::new(constant, &terms) else {
            let d = if ir::Affine::distinct_vars(&terms) > ir::MAX_AFFINE_TERMS {
                Diagnostic::error(
                    Code::NonAffineSubscript,
                    s.span,
                    format!(
                        "a subscript combining more than {} index variables is not supported yet",
                        ir::MAX_AFFINE_TERMS
                    ),
                )
                .label("too many index variables")
            } else {
                Diagnostic::error(
                    Code::NonAffineSubscript,
                    s.span,
                    format!(
                        "a subscript with a coefficient beyond {} or an offset beyond {} is not supported",
                        ir::MAX_COEFFICIENT,
                        i32::MAX
                    ),
                )
                .label("too large")
            };
            self.error(d);
            return None;
        };
        if affine.terms().is_empty() {
            return self.constant_subscript(constant, s.span, extent, owner, pos);
        }
        // `x[i + 0]` is `x[i]`: a plain use, which gives `i` its range.
        if let Sub::Var(v) = affine.sub() {
            cx.plain_use(
                v,
                extent,
                s.span,
                format!("dimension {} of `{owner}`", pos + 1),
            );
            return Some(Sub::Var(v));
        }
        // Its uses are recorded once the whole read is lowered
        // (`read_value`), so that a read in error cascades into nothing.
        Some(affine.sub())
    }

    /// A subscript that folds to a number (`K - 1`): in range, like a literal.
    fn constant_subscript(
        &mut self,
        n: i64,
        span: Span,
        extent: &Extent,
        owner: &str,
        pos: usize,
    ) -> Option<Sub> {
        let bad = n < 0
            || (extent.size > 0 && n as u64 >= extent.size as u64)
            || (n > 0 && self.is_runtime(extent));
        if bad {
            let size = match &extent.dim {
                Some(d) if self.is_runtime(extent) => format!("{d}, given at run time"),
                Some(d) => format!("{} ({d})", extent.size),
                None => extent.size.to_string(),
            };
            self.error(
                Diagnostic::error(
                    Code::SubscriptOutOfRange,
                    span,
                    format!(
                        "subscript {n} is out of range for dimension {} of `{owner}`, of size {size}",
                        pos + 1
                    ),
                )
                .label(format!("this subscript is {n}"))
                .note("subscripts count from 0"),
            );
            return None;
        }
        Some(Sub::Lit(n as usize))
    }

    /// `constant + Σ coefficient · index` of an integer expression of
    /// index variables, integer literals and fixed dims.
    fn linear(&mut self, e: &ast::Expr, cx: &mut Ctx) -> Result<(i64, Vec<(IndexId, i64)>), Fail> {
        let not_affine = |what: &str, label: &str| {
            Some(
                Diagnostic::error(
                    Code::NonAffineSubscript,
                    e.span,
                    format!("{what} in a subscript is not supported yet"),
                )
                .label(label.to_string())
                .help("a subscript is an integer affine form of index variables: `i`, `i + 1`, `2 * i + di`, with integer literals and fixed dims as coefficients and offsets"),
            )
        };
        let too_large = || {
            Some(
                Diagnostic::error(
                    Code::BadSubscript,
                    e.span,
                    "a subscript's arithmetic overflows",
                )
                .label("too large"),
            )
        };
        match &e.kind {
            ExprKind::Number { text, .. } => match text.parse::<i64>() {
                Ok(n) => Ok((n, Vec::new())),
                Err(_) => Err(Some(
                    Diagnostic::error(
                        Code::BadSubscript,
                        e.span,
                        format!("a subscript must be an integer, not `{text}`"),
                    )
                    .label("not an integer"),
                )),
            },
            ExprKind::Read { name, subs: None } => {
                if let Some(id) = cx.lookup(&name.name) {
                    return Ok((0, vec![(id, 1)]));
                }
                if !self.scope.contains_key(&name.name) && !self.declared.contains_key(&name.name) {
                    if cx.note_unbound(&name.name) {
                        return Err(Some(
                            Diagnostic::error(
                                Code::UnboundIndex,
                                name.span,
                                format!("index variable `{}` is not bound", name.name),
                            )
                            .label("not bound by the left-hand side or a reduction")
                            .help(format!(
                                "did you mean `sum({0}, ...)`? Or add `{0}` to the left-hand side",
                                name.name
                            )),
                        ));
                    }
                    return Err(None);
                }
                match self.resolve(name) {
                    Some(Symbol::Dim(d)) if self.dims[d].runtime => Err(not_affine(
                        &format!("the run-time dim `{}`", name.name),
                        "a size given at run time",
                    )),
                    Some(Symbol::Dim(d)) if self.dims[d].size == 0 => Err(None),
                    Some(Symbol::Dim(d)) => Ok((self.dims[d].size as i64, Vec::new())),
                    Some(_) => Err(Some(
                        Diagnostic::error(
                            Code::BadSubscript,
                            name.span,
                            format!(
                                "`{}` is not an index variable or a dim; a subscript is an integer form of index variables",
                                name.name
                            ),
                        )
                        .label("not an index variable or a dim"),
                    )),
                    None => Err(None),
                }
            }
            ExprKind::Read { .. } => Err(not_affine(
                "a value read (a data-dependent subscript)",
                "a read of a value",
            )),
            ExprKind::Neg(a) => {
                let (c, t) = self.linear(a, cx)?;
                scale(c, &t, -1).ok_or_else(too_large)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (cl, tl) = self.linear(lhs, cx)?;
                let (cr, tr) = self.linear(rhs, cx)?;
                match op {
                    ast::BinOp::Add | ast::BinOp::Sub => {
                        let sign = if *op == ast::BinOp::Add { 1 } else { -1 };
                        let (cr, tr) = scale(cr, &tr, sign).ok_or_else(too_large)?;
                        let c = cl.checked_add(cr).ok_or_else(too_large)?;
                        Ok((c, tl.into_iter().chain(tr).collect()))
                    }
                    ast::BinOp::Mul if tl.is_empty() => scale(cr, &tr, cl).ok_or_else(too_large),
                    ast::BinOp::Mul if tr.is_empty() => scale(cl, &tl, cr).ok_or_else(too_large),
                    ast::BinOp::Mul => Err(not_affine(
                        "a product of index variables",
                        "not affine: both factors depend on an index",
                    )),
                    ast::BinOp::Div => Err(not_affine("a division", "a division")),
                    ast::BinOp::Pow => Err(not_affine("a power", "a power")),
                }
            }
            ExprKind::Call { .. } => Err(not_affine("a function call", "a call")),
            // A condition where a number belongs, as anywhere outside the
            // condition of a `where`.
            ExprKind::Compare { .. } | ExprKind::Logic { .. } | ExprKind::Not(_) => Err(Some(
                Diagnostic::error(
                    Code::ConditionOutsideWhere,
                    e.span,
                    "a condition is allowed only in the condition of a `where`, not in a subscript",
                )
                .label("a condition, where a number belongs"),
            )),
        }
    }

    /// Checks that each affine read is in bounds at every point of its
    /// indices' ranges (`ranges`, by index variable) where the facts of the
    /// `where` branches around it hold (`netgrad::refine`).
    pub(super) fn check_affine_reads(
        &mut self,
        reads: &[AffineRead],
        ranges: &[Range],
        names: &[(String, Extent)],
    ) {
        let bounds: Vec<(Bound, Bound)> = ranges
            .iter()
            .map(|r| (r.lo.clone(), r.hi.clone()))
            .collect();
        for read in reads {
            let Sub::Affine(a) = read.subs[read.pos] else {
                continue;
            };
            if read.extent.size == 0 || a.terms().iter().any(|(v, _)| names[v.index()].1.size == 0)
            {
                continue; // sizes in error, reported already
            }
            let last = last(self, &read.extent);
            let form = Form::of_sub(read.subs[read.pos]);
            let up = Form::constant(last.clone()).plus(&form, -1);
            let high = !refine::prove(&up, &bounds, &read.facts);
            let low = !high && !refine::prove(&form, &bounds, &read.facts);
            if !(high || low) {
                continue;
            }
            // The extreme value, each index at its tightest known bound.
            let mut at = Bound::constant(a.constant().into());
            let mut parts = Vec::new();
            let mut unrefined = Vec::new();
            for (v, c) in a.terms() {
                let (lower, upper) = refine::candidates(v, &bounds, &read.facts);
                let toward_max = (c > 0) == high;
                let side = if toward_max { upper } else { lower };
                let (b, by_fact) = tightest(side, toward_max);
                at.add_scaled(&b, c.into());
                let (name, extent) = &names[v.index()];
                let r = &ranges[v.index()];
                let verb = if b == r.lo { "starts at" } else { "reaches" };
                let why = if by_fact {
                    "within the condition of its `where`".to_string()
                } else {
                    if !read.facts.is_empty() || read.guarded {
                        unrefined.push(format!("`{name}`"));
                    }
                    self.extent_text(extent)
                };
                parts.push(format!("{name} {verb} {b} ({why})"));
            }
            let reasons = parts.join(" and ");
            let text = read_text(&read.owner, &read.subs, names);
            let dim = read.pos + 1;
            let extent = self.extent_text(&read.extent);
            let mut d = Diagnostic::error(
                Code::AffineOutOfBounds,
                read.span,
                format!(
                    "`{text}` reads position {at} of dimension {dim} of `{}`, which has positions 0..{last} ({extent}): {reasons}",
                    read.owner
                ),
            )
            .label(format!("reaches {at}"));
            if read.guarded && !unrefined.is_empty() {
                let side = if high { "above" } else { "below" };
                d = d.note(format!(
                    "the condition of the enclosing `where` does not bound {} from {side}",
                    unrefined.join(" or ")
                ));
            }
            d = if read.guarded {
                d.help("a read in a branch of a `where` must be in bounds wherever the branch is taken: bound the index on both sides in the condition, as `where(i >= P and i < N + P, x[i - P], 0)` does for an `x` of size N")
            } else if high {
                match self.size_hint(&a, names, &read.extent) {
                    Some(h) => d.help(h),
                    None => d.help("every point of the indices' ranges must read inside the dimension: narrow a range (`i in D`) or lower the offset"),
                }
            } else {
                d.help("index variables start at 0, so the subscript must be at least 0 there: raise the offset, or give the index a shorter range and shift it")
            };
            self.error(d);
        }
    }

    /// A `where` condition as the refinement sees it (`refine::Cond`):
    /// comparisons of integer forms of index variables, integers and dims
    /// (a run-time dim symbolic). Reports nothing: the condition was
    /// checked already.
    pub(super) fn guard(&self, e: &ast::Expr, cx: &Ctx) -> refine::Cond {
        use refine::Cond;
        match &e.kind {
            ExprKind::Compare { op, lhs, rhs } => {
                let op = match op.as_str() {
                    "<" => ir::BinOp::Lt,
                    "<=" => ir::BinOp::Le,
                    ">" => ir::BinOp::Gt,
                    ">=" => ir::BinOp::Ge,
                    "==" => ir::BinOp::Eq,
                    _ => ir::BinOp::Ne,
                };
                Cond::compare(op, self.guard_form(lhs, cx), self.guard_form(rhs, cx))
            }
            ExprKind::Logic { and, lhs, rhs } => {
                let (l, r) = (Box::new(self.guard(lhs, cx)), Box::new(self.guard(rhs, cx)));
                if *and {
                    Cond::And(l, r)
                } else {
                    Cond::Or(l, r)
                }
            }
            ExprKind::Not(a) => Cond::Not(Box::new(self.guard(a, cx))),
            _ => Cond::Opaque,
        }
    }

    /// An operand of a comparison as a linear form, if it is one.
    fn guard_form(&self, e: &ast::Expr, cx: &Ctx) -> Option<Form> {
        let whole = |x: f64| (x.fract() == 0.0 && x.abs() < 9.0e15).then_some(x as i128);
        match &e.kind {
            ExprKind::Number { value, .. } => Some(Form::constant(Bound::constant(whole(*value)?))),
            ExprKind::Read { name, subs: None } => {
                if let Some(id) = cx.lookup(&name.name) {
                    return Some(Form::var(id));
                }
                match self.scope.get(&name.name)? {
                    Symbol::Dim(d) if self.dims[*d].size == 0 => None,
                    Symbol::Dim(d) if self.dims[*d].runtime => {
                        Some(Form::constant(Bound::dim(&name.name)))
                    }
                    Symbol::Dim(d) => {
                        Some(Form::constant(Bound::constant(self.dims[*d].size as i128)))
                    }
                    Symbol::Const(c) => Some(Form::constant(Bound::constant(whole(
                        self.consts[*c].value,
                    )?))),
                    Symbol::Value(_) => None,
                }
            }
            ExprKind::Neg(a) => Some(Form::default().plus(&self.guard_form(a, cx)?, -1)),
            ExprKind::Binary { op, lhs, rhs } => {
                let (l, r) = (self.guard_form(lhs, cx)?, self.guard_form(rhs, cx)?);
                match op {
                    ast::BinOp::Add => Some(l.plus(&r, 1)),
                    ast::BinOp::Sub => Some(l.plus(&r, -1)),
                    ast::BinOp::Mul if l.terms.is_empty() => {
                        Some(Form::default().plus(&r, l.constant.known()?))
                    }
                    ast::BinOp::Mul if r.terms.is_empty() => {
                        Some(Form::default().plus(&l, r.constant.known()?))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Lowers a branch of a `where` with the facts of its condition in force.
    pub(super) fn in_branch(
        &mut self,
        e: &ast::Expr,
        guard: &refine::Cond,
        holds: bool,
        cx: &mut Ctx,
    ) -> (ir::Expr, Option<f64>) {
        let before = cx.facts.len();
        for f in refine::facts(guard, holds) {
            if !cx.facts.contains(&f) {
                cx.facts.push(f);
            }
        }
        cx.branches += 1;
        let lowered = self.lower(e, cx);
        cx.branches -= 1;
        cx.facts.truncate(before);
        lowered
    }

    /// `OH = 27`, `T, given at run time`, `27`.
    fn extent_text(&self, e: &Extent) -> String {
        match &e.dim {
            Some(d) if self.is_runtime(e) => format!("{d}, given at run time"),
            Some(d) => format!("{d} = {}", e.size),
            None => e.size.to_string(),
        }
    }

    /// For `x[i + di]` with `i in OH`, `di in KH` into `x[H]`: "did you
    /// mean `dim OH = H - KH + 1`?", when that size would be at least 1.
    fn size_hint(
        &self,
        a: &ir::Affine,
        names: &[(String, Extent)],
        target: &Extent,
    ) -> Option<String> {
        let [(v, 1), (w, 1)] = *a.terms() else {
            return None;
        };
        if a.constant() != 0 {
            return None;
        }
        let (ev, ew) = (&names[v.index()].1, &names[w.index()].1);
        // The larger range is the output's, the smaller the kernel's.
        let (out, kernel) = if ev.size >= ew.size {
            (ev, ew)
        } else {
            (ew, ev)
        };
        let fixed = |e: &Extent| e.dim.is_some() && !self.is_runtime(e);
        if !(fixed(out) && fixed(kernel) && fixed(target)) || target.size < kernel.size {
            return None;
        }
        Some(format!(
            "did you mean `dim {} = {} - {} + 1`?",
            out.dim.as_deref()?,
            target.dim.as_deref()?,
            kernel.dim.as_deref()?,
        ))
    }
}

/// `c·(constant + Σ terms)`, or `None` on overflow.
fn scale(constant: i64, terms: &[(IndexId, i64)], c: i64) -> Option<(i64, Vec<(IndexId, i64)>)> {
    let terms = terms
        .iter()
        .map(|&(v, k)| k.checked_mul(c).map(|k| (v, k)))
        .collect::<Option<Vec<_>>>()?;
    Some((constant.checked_mul(c)?, terms))
}

/// `x[c, 2 * i + di]`, as the user wrote it up to spacing.
fn read_text(owner: &str, subs: &[Sub], names: &[(String, Extent)]) -> String {
    let subs: Vec<String> = subs
        .iter()
        .map(|s| match s {
            Sub::Var(v) => names[v.index()].0.clone(),
            Sub::Lit(n) => n.to_string(),
            Sub::Affine(a) => a.show(|v| names[v.index()].0.clone(), " * ", "-"),
        })
        .collect();
    format!("{owner}[{}]", subs.join(", "))
}

/// Of an index's bounds on one side (its range's first), the tightest that
/// compares with all the others (the smallest upper bound, `max`, or the
/// largest lower one), with whether a fact gave it; else its range's.
fn tightest(side: Vec<(Bound, bool)>, max: bool) -> (Bound, bool) {
    let beats = |a: &Bound, b: &Bound| {
        let mut gap = b.clone();
        gap.add_scaled(a, -1);
        if max {
            gap.nonnegative()
        } else {
            gap.scaled(-1).nonnegative()
        }
    };
    // A condition's bound first, where it ties with the range's.
    side.iter()
        .rev()
        .find(|(a, _)| side.iter().all(|(b, _)| beats(a, b)))
        .unwrap_or(&side[0])
        .clone()
}
