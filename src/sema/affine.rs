//! Affine subscripts (`x[S * i + di]`, `x[i - 1]`): their lowering to
//! `ir::Affine`, and the proof that every read lies in bounds at every point
//! of its indices' ranges.
//!
//! The proof is a function of each index variable's range `lo..=hi`
//! ([`Range`]), today `0..=size - 1`; a construct that narrows a range (a
//! `where` condition) gives narrower ranges to the same proof. Sizes may be
//! run-time dims: a bound is a constant plus multiples of run-time dims, and
//! a read passes only when it is in bounds at every size of them.

use std::collections::BTreeMap;

use super::expr::Ctx;
use super::{Sema, Symbol};
use crate::diag::{Code, Diagnostic, Span};
use crate::ir::{self, Extent, IndexId, Sub};
use crate::syntax::ast::{self, ExprKind};

/// `k + Σ multiple · D` over run-time dims `D` (each at least 1). Wide, so
/// that a coefficient times a size never overflows.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Bound {
    k: i128,
    dims: BTreeMap<String, i128>,
}

impl Bound {
    fn constant(k: i64) -> Bound {
        Bound {
            k: k.into(),
            dims: BTreeMap::new(),
        }
    }

    /// `size - 1` of an extent: its last position.
    fn last(sema: &Sema, e: &Extent) -> Bound {
        match &e.dim {
            Some(d) if sema.is_runtime(e) => Bound {
                k: -1,
                dims: BTreeMap::from([(d.clone(), 1)]),
            },
            _ => Bound {
                k: e.size as i128 - 1,
                dims: BTreeMap::new(),
            },
        }
    }

    fn add_scaled(&mut self, other: &Bound, c: i64) {
        let c = i128::from(c);
        self.k += c * other.k;
        for (d, m) in &other.dims {
            *self.dims.entry(d.clone()).or_insert(0) += c * m;
        }
        self.dims.retain(|_, m| *m != 0);
    }

    /// Whether it is at least 0 at every size of its run-time dims.
    fn nonnegative(&self) -> bool {
        self.dims.values().all(|m| *m >= 0) && self.k + self.dims.values().sum::<i128>() >= 0
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
            hi: Bound::last(sema, e),
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
    /// indices' ranges (`ranges`, by index variable).
    pub(super) fn check_affine_reads(
        &mut self,
        reads: &[AffineRead],
        ranges: &[Range],
        names: &[(String, Extent)],
    ) {
        for read in reads {
            let Sub::Affine(a) = read.subs[read.pos] else {
                continue;
            };
            if read.extent.size == 0 || a.terms().iter().any(|(v, _)| names[v.index()].1.size == 0)
            {
                continue; // sizes in error, reported already
            }
            // The largest and smallest value of the subscript.
            let mut max = Bound::constant(a.constant());
            let mut min = Bound::constant(a.constant());
            for (v, c) in a.terms() {
                let r = &ranges[v.index()];
                let (up, down) = if c > 0 {
                    (&r.hi, &r.lo)
                } else {
                    (&r.lo, &r.hi)
                };
                max.add_scaled(up, c);
                min.add_scaled(down, c);
            }
            let last = Bound::last(self, &read.extent);
            let mut slack = last.clone();
            slack.add_scaled(&max, -1);
            let high = !slack.nonnegative();
            let low = !min.nonnegative();
            if !(high || low) {
                continue;
            }
            let text = read_text(&read.owner, &read.subs, names);
            let (at, reasons) = if high {
                (max.clone(), self.reasons(&a, ranges, names, true))
            } else {
                (min.clone(), self.reasons(&a, ranges, names, false))
            };
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
            d = if high {
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

    /// `i reaches 26 (OH = 27) and di reaches 2 (KH = 3)`: how each index
    /// pushes the subscript to its extreme, the largest (`high`) or smallest.
    fn reasons(
        &self,
        a: &ir::Affine,
        ranges: &[Range],
        names: &[(String, Extent)],
        high: bool,
    ) -> String {
        let parts: Vec<String> = a
            .terms()
            .iter()
            .map(|&(v, c)| {
                let (name, extent) = &names[v.index()];
                let r = &ranges[v.index()];
                let at = if (c > 0) == high { &r.hi } else { &r.lo };
                let verb = if *at == r.lo { "starts at" } else { "reaches" };
                format!("{name} {verb} {at} ({})", self.extent_text(extent))
            })
            .collect();
        parts.join(" and ")
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
