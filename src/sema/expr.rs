//! Checking and lowering of right-hand sides: names, subscripts, calls, and index ranges.

use super::affine::{AffineRead, Range};
use super::{consts, suggest, unknown, Sema, Symbol, RESERVED};
use crate::diag::{Code, Diagnostic, Span};
use crate::ir::{
    self, BinOp, Expr, Extent, Func, IndexId, IndexVar, Reduction, Sub, Value, ValueId, ValueKind,
};
use crate::syntax::ast::{self, Arg, ExprKind};

/// An index variable being checked: where it is bound and every size it must have.
struct IndexInfo {
    name: String,
    span: Span,
    is_lhs: bool,
    explicit: Option<(Extent, Span)>,
    /// The sizes of the dimensions it subscripts, with the subscripts' spans.
    uses: Vec<(Extent, Span, String)>,
    /// Whether its scope mentions it at all, or mentions an unbound index
    /// (presumably this one, misspelt): then a missing range is the echo of
    /// another error, not a mistake of its own.
    mentioned: bool,
    /// Whether it is used as a number in a condition (`where(k < 2, ...)`),
    /// which gives it no range: a mention that does not excuse a missing one.
    as_number: bool,
    /// The reduction that binds it (`sum`, `max`, ...), for hints.
    reduction: &'static str,
    /// The affine subscripts it appears in, which give it no range.
    affine_uses: Vec<Span>,
}

/// The state of one right-hand side: its index variables and those in scope.
#[derive(Default)]
pub(super) struct Ctx {
    indices: Vec<IndexInfo>,
    scope: Vec<IndexId>,
    /// In a `const`, only numbers, dims, consts and functions are allowed.
    const_only: bool,
    /// Unbound index names already reported in this right-hand side.
    unbound: Vec<String>,
    /// Subscripts in error so far: a left-hand or reduction index that its
    /// scope does not use was probably meant in one of them.
    bad_subscripts: usize,
    /// Reads at affine subscripts, checked once the ranges are known.
    affine_reads: Vec<AffineRead>,
    /// Index variables that subscript a lag read of the reader's own
    /// recurrence (`h[t - 1, i]`), which gives no range while lowering.
    pub(super) lag_uses: Vec<IndexId>,
    /// Inside the condition of a `where` (not in its branches): comparisons,
    /// `and`, `or` and `not` are allowed, and index variables are numbers.
    in_condition: bool,
    /// What the conditions of the `where` branches being lowered guarantee
    /// (`netgrad::refine`), and how many branches deep the lowering is.
    pub(super) facts: Vec<crate::refine::Form>,
    pub(super) branches: usize,
}

impl Ctx {
    /// Records that `v` appears in an affine subscript.
    pub(super) fn affine_use(&mut self, v: IndexId, span: Span) {
        self.indices[v.index()].affine_uses.push(span);
    }

    /// Records a plain use of `v`, which must range over `extent`.
    pub(super) fn plain_use(&mut self, v: IndexId, extent: &Extent, span: Span, what: String) {
        self.indices[v.index()]
            .uses
            .push((extent.clone(), span, what));
    }

    /// Notes an unbound index name; whether it is its first occurrence.
    pub(super) fn note_unbound(&mut self, name: &str) -> bool {
        if self.unbound.iter().any(|n| n == name) {
            return false;
        }
        self.unbound.push(name.to_string());
        true
    }

    pub(super) fn lookup(&self, name: &str) -> Option<IndexId> {
        self.scope
            .iter()
            .rev()
            .copied()
            .find(|id| self.indices[id.index()].name == name)
    }
}

/// The result of lowering: the expression, and its value when it is constant.
type Lowered = (Expr, Option<f64>);

fn placeholder() -> Lowered {
    (Expr::Num(f64::NAN), None)
}

impl Sema {
    /// Folds the right-hand side of a `const`.
    pub(super) fn const_value(&mut self, e: &ast::Expr) -> Option<f64> {
        let mut cx = Ctx {
            const_only: true,
            ..Ctx::default()
        };
        self.lower(e, &mut cx).1
    }

    /// Checks a definition and adds its value; returns it unless the name was unusable.
    pub(super) fn definition(&mut self, def: &ast::Def, kind: ValueKind) -> Option<ValueId> {
        let lag_reads = self.lag_reads.len();
        let value = self.lower_definition(def, kind);
        if self.declared.get(&def.name.name) != Some(&def.name.span) {
            return None; // a duplicate or reserved name, already reported
        }
        let id = self.push_value(value);
        for r in &mut self.lag_reads[lag_reads..] {
            r.reader = Some(id);
        }
        self.define(&def.name, Symbol::Value(id));
        Some(id)
    }

    /// Checks a definition (or an init, whose name is not declared) and
    /// makes its value.
    pub(super) fn lower_definition(&mut self, def: &ast::Def, kind: ValueKind) -> Value {
        let mut cx = Ctx::default();
        let mut lhs = Vec::new();
        for b in &def.indices {
            let id = self.bind(&mut cx, b, true);
            cx.scope.push(id);
            lhs.push(id);
        }
        self.defining = Some(def.name.name.clone());
        let first_diag = self.diags.len();
        let (rhs, _) = self.lower(&def.rhs, &mut cx);
        self.defining = None;
        self.suggest_unused_lhs_index(def, &lhs, &cx, first_diag);
        for id in &lhs {
            let info = &mut cx.indices[id.index()];
            info.mentioned =
                (mentions(&def.rhs, &info.name) && !info.as_number) || cx.bad_subscripts > 0;
        }

        let extents: Vec<Extent> = (0..cx.indices.len())
            .map(|k| self.range_of(&cx.indices[k]))
            .collect();
        self.lag_only_ranges(&cx, &extents);
        let ranges: Vec<Range> = extents.iter().map(|e| Range::whole(self, e)).collect();
        let names: Vec<(String, Extent)> = cx
            .indices
            .iter()
            .zip(&extents)
            .map(|(info, e)| (info.name.clone(), e.clone()))
            .collect();
        self.check_affine_reads(&cx.affine_reads, &ranges, &names);
        let shape: Vec<Extent> = lhs.iter().map(|id| extents[id.index()].clone()).collect();
        if shape.iter().all(|e| e.size > 0) {
            self.check_size(&shape, def.span);
        }
        let indices = cx
            .indices
            .iter()
            .zip(extents)
            .map(|(info, extent)| IndexVar {
                name: info.name.clone(),
                extent,
            })
            .collect();
        Value {
            name: def.name.name.clone(),
            kind,
            shape,
            indices,
            rhs: Some(rhs),
            origin: ir::Origin::Source(def.span),
        }
    }

    /// Introduces an index variable (left-hand side or reduction); always
    /// returns an id, even after an error, so its uses do not cascade.
    fn bind(&mut self, cx: &mut Ctx, b: &ast::Binder, is_lhs: bool) -> IndexId {
        let name = &b.name;
        if RESERVED.contains(&name.name.as_str()) {
            self.check_reserved(name);
        } else if let Some(first) = self.declared.get(&name.name).copied() {
            self.error(
                Diagnostic::error(
                    Code::DuplicateName,
                    name.span,
                    format!("index variable `{}` has the same name as a declared value", name.name),
                )
                .label("index variable")
                .with(first, "declared here")
                .help("dims, consts, inputs, params, definitions and index variables share one namespace"),
            );
        } else if let Some(prev) = cx.lookup(&name.name) {
            let prev_span = cx.indices[prev.index()].span;
            let msg = if is_lhs {
                format!("index `{}` appears twice on the left-hand side", name.name)
            } else {
                format!(
                    "`{}` is already bound; a reduction cannot shadow an index variable",
                    name.name
                )
            };
            self.error(
                Diagnostic::error(Code::DuplicateIndex, name.span, msg)
                    .label("bound again here")
                    .with(prev_span, "first bound here")
                    .help("use another name for this index"),
            );
            // Its uses count for the first binding, so no "range unknown" follows.
            return prev;
        }
        let explicit = b
            .range
            .as_ref()
            .map(|r| (self.extent(r).unwrap_or_else(unknown), r.span()));
        let id = IndexId(cx.indices.len() as u32);
        cx.indices.push(IndexInfo {
            name: name.name.clone(),
            span: name.span,
            is_lhs,
            explicit,
            uses: Vec::new(),
            mentioned: false,
            as_number: false,
            reduction: "sum",
            affine_uses: Vec::new(),
        });
        id
    }

    /// The range of an index variable: all the sizes it subscripts agree, and
    /// agree with its explicit range.
    fn range_of(&mut self, info: &IndexInfo) -> Extent {
        let mut sizes: Vec<(Extent, Span, String)> = Vec::new();
        if let Some((e, span)) = &info.explicit {
            sizes.push((e.clone(), *span, "its explicit range".into()));
        }
        sizes.extend(info.uses.iter().cloned());
        sizes.retain(|(e, _, _)| e.size > 0);
        let Some((first, first_span, first_what)) = sizes.first().cloned() else {
            // Uses of unknown size come from earlier errors: say nothing more.
            if info.explicit.is_none() && info.uses.is_empty() && !info.mentioned {
                self.missing_range(info);
            } else if info.explicit.is_none() && info.uses.is_empty() {
                if let Some(span) = info.affine_uses.first() {
                    self.affine_only_range(info, *span);
                }
            }
            return unknown();
        };
        // A run-time dim is symbolic: it agrees only with itself, whatever
        // size the program is instantiated at.
        let same = |a: &Extent, b: &Extent| match (self.is_runtime(a), self.is_runtime(b)) {
            (false, false) => a.size == b.size,
            (true, true) => a.dim == b.dim,
            _ => false,
        };
        if let Some((other, span, what)) = sizes.iter().find(|(e, _, _)| !same(e, &first)) {
            let help = if self.is_runtime(&first) || self.is_runtime(other) {
                "an index variable must range over one size everywhere it is used; a run-time dim agrees only with itself"
            } else {
                "an index variable must range over one size everywhere it is used"
            };
            let (a, b) = (self.size_text(&first), self.size_text(other));
            let (la, lb) = (self.shown_size(&first), self.shown_size(other));
            self.error(
                Diagnostic::error(
                    Code::ConflictingRange,
                    *span,
                    format!(
                        "index `{}` ranges over dimensions of different sizes, {a} and {b}",
                        info.name
                    ),
                )
                .label(format!("{what} has size {lb}"))
                .with(first_span, format!("{first_what} has size {la}"))
                .help(help),
            );
        }
        // Prefer a dim name for display, from whichever place gives one.
        let dim = sizes.iter().find_map(|(e, _, _)| e.dim.clone());
        Extent {
            size: first.size,
            dim,
        }
    }

    /// `y[i] = w[j]`: an unbound index in a definition whose left-hand side
    /// has an index the right-hand side never mentions is most likely that
    /// index misspelt, so the hint of each such E0203 says so first.
    fn suggest_unused_lhs_index(
        &mut self,
        def: &ast::Def,
        lhs: &[IndexId],
        cx: &Ctx,
        first_diag: usize,
    ) {
        let unused: Vec<&str> = lhs
            .iter()
            .map(|id| cx.indices[id.index()].name.as_str())
            .filter(|name| !mentions(&def.rhs, name))
            .collect();
        let [only] = unused[..] else {
            return;
        };
        for d in &mut self.diags[first_diag..] {
            if d.code != Code::UnboundIndex {
                continue;
            }
            if let Some(name) = cx
                .unbound
                .iter()
                .find(|n| d.message.contains(&format!("`{n}`")))
            {
                d.help = Some(format!(
                    "did you mean `{only}`, the left-hand index that the right-hand side does not use? Or sum over `{name}` with `sum({name}, ...)`"
                ));
            }
        }
    }

    /// `y[i in O] = sum(j, x[i + j])`: `j` appears only in an affine
    /// subscript, which gives no range.
    fn affine_only_range(&mut self, info: &IndexInfo, span: Span) {
        let (code, before, after) = if info.is_lhs {
            (
                Code::BroadcastWithoutRange,
                format!("{} in", info.name),
                String::new(),
            )
        } else {
            (
                Code::IndexNeedsRange,
                format!("{}({} in", info.reduction, info.name),
                ", ...)".to_string(),
            )
        };
        let help = self.range_help(&before, &after);
        self.error(
            Diagnostic::error(
                code,
                info.span,
                format!(
                    "index `{}` is used only in affine subscripts, which give it no range",
                    info.name
                ),
            )
            .label("range unknown")
            .with(span, "an affine subscript does not set a range")
            .help(help),
        );
    }

    fn missing_range(&mut self, info: &IndexInfo) {
        let d = if info.is_lhs {
            Diagnostic::error(
                Code::BroadcastWithoutRange,
                info.span,
                if info.as_number {
                    format!(
                        "index `{}` is only compared on the right-hand side, not used as a subscript, so its range is unknown",
                        info.name
                    )
                } else {
                    format!(
                        "index `{}` is not used on the right-hand side, so its range is unknown",
                        info.name
                    )
                },
            )
            .label("range unknown")
            .help(self.range_help(&format!("{} in", info.name), ""))
        } else {
            Diagnostic::error(
                Code::IndexNeedsRange,
                info.span,
                if info.as_number {
                    format!(
                        "index `{}` is only compared, and subscripts nothing, so its range is unknown",
                        info.name
                    )
                } else {
                    format!(
                        "index `{}` subscripts nothing, so its range is unknown",
                        info.name
                    )
                },
            )
            .label("range unknown")
            .help(self.range_help(&format!("{}({} in", info.reduction, info.name), ", ...)"))
        };
        self.error(d);
    }

    /// A left-hand index that only lag reads subscript (`h[t, j] = 0.5 *
    /// h[t - 1, j]`) has no range: an error, as for an index the
    /// right-hand side does not use. A reduction index takes its range from
    /// the dimension it subscripts once that is known
    /// (`Sema::finish_recurrences`).
    fn lag_only_ranges(&mut self, cx: &Ctx, extents: &[Extent]) {
        for (k, info) in cx.indices.iter().enumerate() {
            let silent = extents[k].size == 0
                && info.explicit.is_none()
                && info.uses.is_empty()
                && info.affine_uses.is_empty()
                && info.is_lhs
                && cx.lag_uses.contains(&IndexId(k as u32));
            if silent {
                self.error(
                    Diagnostic::error(
                        Code::BroadcastWithoutRange,
                        info.span,
                        format!(
                            "index `{}` subscripts only reads of earlier steps, so its range is unknown",
                            info.name
                        ),
                    )
                    .label("range unknown")
                    .help(self.range_help(&format!("{} in", info.name), "")),
                );
            }
        }
    }

    /// "give it a range: `j in D`" with a dim of this file, or with an integer
    /// size when the file has no dims: a hint never names a dim that does not exist.
    fn range_help(&self, before: &str, after: &str) -> String {
        let dims: Vec<&ir::Dim> = self.dims.iter().filter(|d| d.size > 0).collect();
        match dims.as_slice() {
            [] => format!("give it a range, a size written as an integer: `{before} 4{after}`"),
            [d] if d.runtime => format!(
                "give it a range: `{before} {}{after}` (given at run time)",
                d.name
            ),
            [d] => format!(
                "give it a range: `{before} {}{after}` (size {})",
                d.name, d.size
            ),
            [first, ..] => {
                let all: Vec<String> = dims
                    .iter()
                    .map(|d| {
                        if d.runtime {
                            format!("{} given at run time", d.name)
                        } else {
                            format!("{} = {}", d.name, d.size)
                        }
                    })
                    .collect();
                format!(
                    "give it a range, one of this file's dims ({}): `{before} {}{after}`",
                    all.join(", "),
                    first.name
                )
            }
        }
    }

    pub(super) fn lower(&mut self, e: &ast::Expr, cx: &mut Ctx) -> Lowered {
        match &e.kind {
            ExprKind::Number { value, .. } => (Expr::Num(*value), Some(*value)),
            ExprKind::Read { name, subs } => self.read(name, subs.as_deref(), e.span, cx),
            ExprKind::Neg(a) => {
                let a = self.lower(a, cx);
                self.fold_unary(Func::Neg, a, e.span)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let op = match op {
                    ast::BinOp::Add => BinOp::Add,
                    ast::BinOp::Sub => BinOp::Sub,
                    ast::BinOp::Mul => BinOp::Mul,
                    ast::BinOp::Div => BinOp::Div,
                    ast::BinOp::Pow => BinOp::Pow,
                };
                let a = self.lower(lhs, cx);
                let b = self.lower(rhs, cx);
                self.fold_binary(op, a, b, e.span)
            }
            ExprKind::Call { func, args } => self.call(func, args, e.span, cx),
            ExprKind::Compare { op, lhs, rhs } => {
                let outside = !cx.in_condition;
                if outside {
                    self.outside_condition(&format!("a comparison (`{op}`)"), e.span);
                    // Its operands are checked as in a condition all the same.
                    cx.in_condition = true;
                }
                let a = self.lower(lhs, cx);
                let b = self.lower(rhs, cx);
                if outside {
                    cx.in_condition = false;
                    return placeholder();
                }
                let op = match op.as_str() {
                    "<" => BinOp::Lt,
                    "<=" => BinOp::Le,
                    ">" => BinOp::Gt,
                    ">=" => BinOp::Ge,
                    "==" => BinOp::Eq,
                    _ => BinOp::Ne,
                };
                self.fold_binary(op, a, b, e.span)
            }
            ExprKind::Logic { and, lhs, rhs } => {
                if !cx.in_condition {
                    let word = if *and { "`and`" } else { "`or`" };
                    self.outside_condition(word, e.span);
                    return placeholder();
                }
                let a = self.condition(lhs, cx);
                let b = self.condition(rhs, cx);
                let op = if *and { BinOp::And } else { BinOp::Or };
                self.fold_binary(op, a, b, e.span)
            }
            ExprKind::Not(a) => {
                if !cx.in_condition {
                    self.outside_condition("`not`", e.span);
                    return placeholder();
                }
                let a = self.condition(a, cx);
                self.fold_unary(Func::Not, a, e.span)
            }
        }
    }

    /// E0600: a comparison, `and`, `or` or `not` where a number belongs.
    fn outside_condition(&mut self, what: &str, span: Span) {
        self.error(
            Diagnostic::error(
                Code::ConditionOutsideWhere,
                span,
                format!("{what} is allowed only in the condition of a `where`"),
            )
            .label("a condition, where a number belongs")
            .help("choose between two values with it: `where(a < b, THEN, ELSE)`"),
        );
    }

    /// An operand of `and`, `or` or `not`, or the condition of a `where`:
    /// a comparison, or `and`, `or`, `not` of conditions (E0601 otherwise).
    fn condition(&mut self, e: &ast::Expr, cx: &mut Ctx) -> Lowered {
        let saved = std::mem::replace(&mut cx.in_condition, true);
        let lowered = self.lower(e, cx);
        cx.in_condition = saved;
        let is_condition = matches!(
            e.kind,
            ExprKind::Compare { .. } | ExprKind::Logic { .. } | ExprKind::Not(_)
        );
        let failed = matches!(lowered.0, Expr::Num(x) if x.is_nan());
        if !is_condition && !failed {
            self.error(
                Diagnostic::error(
                    Code::NotACondition,
                    e.span,
                    "a condition must be a comparison, or `and`, `or`, `not` of comparisons",
                )
                .label("a number, not a condition")
                .help("compare it: `x > 0`, `x != 0`"),
            );
            return placeholder();
        }
        lowered
    }

    /// `where(COND, A, B)`: A where COND holds, else B.
    fn select(&mut self, args: &[Arg], span: Span, cx: &mut Ctx) -> Lowered {
        let exprs: Vec<&ast::Expr> = args
            .iter()
            .filter_map(|a| match a {
                Arg::Expr(e) => Some(e),
                Arg::Binder(..) => None,
            })
            .collect();
        let [cond, then, els] = exprs.as_slice() else {
            let binder = args.iter().find_map(|a| match a {
                Arg::Binder(_, s) => Some(*s),
                Arg::Expr(_) => None,
            });
            let d = match binder {
                Some(s) => {
                    Diagnostic::error(Code::WrongArity, s, "`where` does not bind index variables")
                        .label("an index binder")
                        .help("only sum, mean, logsumexp, max and min bind index variables")
                }
                None => Diagnostic::error(
                    Code::WrongArity,
                    span,
                    format!(
                        "`where` takes 3 arguments but {} {} given",
                        args.len(),
                        if args.len() == 1 { "is" } else { "are" }
                    ),
                )
                .label("expected `where(COND, THEN, ELSE)`"),
            };
            self.error(d);
            return placeholder();
        };
        let (c, known) = self.condition(cond, cx);
        // The branches are values: no comparison there, and index
        // variables are not numbers (unless in a `where` of their own).
        // Each branch's reads are checked where it is taken (`refine`).
        let saved = std::mem::replace(&mut cx.in_condition, false);
        let guard = self.guard(cond, cx);
        let (a, ka) = self.in_branch(then, &guard, true, cx);
        let (b, kb) = self.in_branch(els, &guard, false, cx);
        cx.in_condition = saved;
        if [&c, &a, &b]
            .iter()
            .any(|x| matches!(x, Expr::Num(v) if v.is_nan()))
        {
            return placeholder();
        }
        let value = match known {
            Some(k) if k != 0.0 => ka,
            Some(_) => kb,
            None => None,
        };
        (Expr::select(c, a, b), value)
    }

    fn fold_unary(&mut self, func: Func, (x, c): Lowered, span: Span) -> Lowered {
        let value = c.and_then(|c| consts::unary(func, c, span).map_err(|d| self.error(d)).ok());
        (Expr::unary(func, x), value)
    }

    fn fold_binary(
        &mut self,
        op: BinOp,
        (a, ca): Lowered,
        (b, cb): Lowered,
        span: Span,
    ) -> Lowered {
        let value = match (ca, cb) {
            (Some(x), Some(y)) => consts::binary(op, x, y, span)
                .map_err(|d| self.error(d))
                .ok(),
            // A divisor that folds to 0 is an error whatever it divides.
            (None, Some(y)) if op == BinOp::Div && y == 0.0 => {
                self.error(consts::division_by_zero(span));
                None
            }
            _ => None,
        };
        (Expr::binary(op, a, b), value)
    }

    fn read(
        &mut self,
        name: &ast::Ident,
        subs: Option<&[ast::Expr]>,
        span: Span,
        cx: &mut Ctx,
    ) -> Lowered {
        let lowered = self.read_checked(name, subs, span, cx);
        if matches!(lowered.0, Expr::Num(x) if x.is_nan()) {
            self.mark_used(subs.unwrap_or(&[]), cx);
        }
        lowered
    }

    /// After a read in error, its index variables still count as used (with
    /// an unknown size), so that the error does not cascade into "range unknown".
    fn mark_used(&mut self, subs: &[ast::Expr], cx: &mut Ctx) {
        for s in subs {
            if let ExprKind::Read { name, subs: None } = &s.kind {
                if let Some(id) = cx.lookup(&name.name) {
                    cx.indices[id.index()]
                        .uses
                        .push((unknown(), s.span, String::new()));
                }
            }
        }
    }

    fn read_checked(
        &mut self,
        name: &ast::Ident,
        subs: Option<&[ast::Expr]>,
        span: Span,
        cx: &mut Ctx,
    ) -> Lowered {
        if let (Some(id), None, true) = (cx.lookup(&name.name), subs, cx.in_condition) {
            // In a condition, an index variable is its value as a number.
            cx.indices[id.index()].as_number = true;
            return (Expr::Index(id), None);
        }
        if cx.lookup(&name.name).is_some() {
            let d = if subs.is_some() {
                Diagnostic::error(
                    Code::WrongKind,
                    span,
                    format!("`{}` is an index variable and has no elements", name.name),
                )
                .label("subscripted index variable")
            } else {
                Diagnostic::error(Code::IndexAsValue, name.span, format!("index variable `{}` cannot be used as a number", name.name))
                    .label("an index variable")
                    .help("index variables appear only in subscripts, and as numbers in the condition of a `where` (`where(j <= i, ...)`); a dim name used as a number is its size")
            };
            self.error(d);
            return placeholder();
        }
        if let Some(lowered) = self.recurrent_read(name, subs, span, cx) {
            return lowered;
        }
        let Some(sym) = self.resolve(name) else {
            return placeholder();
        };
        let (value, what) = match sym {
            Symbol::Dim(d) => (self.dims[d].size as f64, "a dim"),
            Symbol::Const(c) => (self.consts[c].value, "a const"),
            Symbol::Value(v) => return self.read_value(name, v, subs, span, cx),
        };
        if subs.is_some() {
            self.error(
                Diagnostic::error(
                    Code::WrongKind,
                    span,
                    format!(
                        "`{}` is {what}, a number; it cannot be subscripted",
                        name.name
                    ),
                )
                .label("subscripted"),
            );
            return placeholder();
        }
        // A dim of size 0 or a NaN const stands for an earlier error: not a known constant.
        let known = (value.is_finite() && !(what == "a dim" && value == 0.0)).then_some(value);
        (Expr::Num(value), known)
    }

    /// A read of a definition of the reader's own recurrence, or of an
    /// init's: `None` when it is an ordinary read (at the same step).
    fn recurrent_read(
        &mut self,
        name: &ast::Ident,
        subs: Option<&[ast::Expr]>,
        span: Span,
        cx: &mut Ctx,
    ) -> Option<Lowered> {
        if self.recur.reported(span) {
            return Some(placeholder());
        }
        let target = self.recur.group(&name.name)?;
        if self.in_init == Some(target) {
            let at = self.recur.groups[target][0].clone();
            self.error(
                Diagnostic::error(
                    Code::InitOrder,
                    span,
                    format!("an init cannot read `{}`, which is computed by its own recurrence", name.name),
                )
                .label("a member of the recurrence")
                .with(self.recur_defined_at(&at), "the recurrence starts here")
                .help("an init is the value before the first step: it may use inputs, params, consts and definitions outside the recurrence"),
            );
            return Some(placeholder());
        }
        let reader = self.defining.as_deref()?;
        if self.recur.group(reader) != Some(target) {
            return None;
        }
        let time = cx
            .indices
            .first()
            .filter(|i| i.is_lhs)
            .map(|i| i.name.clone());
        match super::recur::step_of(subs, time.as_deref()) {
            super::recur::Step::Lag(k) => {
                let read = self.lag_read(name, subs.unwrap_or(&[]), k, span, cx);
                Some(read.map_or_else(placeholder, |e| (e, None)))
            }
            _ => None,
        }
    }

    fn read_value(
        &mut self,
        name: &ast::Ident,
        v: ValueId,
        subs: Option<&[ast::Expr]>,
        span: Span,
        cx: &mut Ctx,
    ) -> Lowered {
        let value = &self.values[v.index()];
        if cx.const_only {
            let what = format!(
                "{} {}",
                super::article(value.kind.describe()),
                value.kind.describe()
            );
            self.error(
                Diagnostic::error(
                    Code::WrongKind,
                    name.span,
                    format!(
                        "a const can use only numbers, dims and earlier consts, and `{}` is {what}",
                        name.name
                    ),
                )
                .label(what.clone())
                .help("define a scalar instead: `NAME = EXPR`"),
            );
            return placeholder();
        }
        let given = subs.map_or(0, <[_]>::len);
        if given != value.rank() {
            let declared = value.declared();
            let rank = value.rank();
            let mut d = Diagnostic::error(
                Code::WrongSubscriptCount,
                span,
                format!(
                    "`{}` has {} but {} {} given",
                    name.name,
                    plural(rank, "dimension"),
                    plural(given, "subscript"),
                    if given == 1 { "is" } else { "are" }
                ),
            )
            .label(format!("{} expected", plural(rank, "subscript")));
            d = if rank == 0 {
                d.help(format!(
                    "`{}` is a scalar: write it without brackets",
                    name.name
                ))
            } else if given == 0 && cx.in_condition {
                d.help(format!(
                    "a comparison is between numbers: compare one element of `{declared}` at a time, through an index (`where({}[i] > 0, ...)`)",
                    name.name
                ))
            } else {
                d.help(format!("`{}` is declared as `{declared}`", name.name))
            };
            self.error(d);
            return placeholder();
        }
        let shape = value.shape.clone();
        let owner = name.name.clone();
        let mut lowered = Vec::with_capacity(given);
        for (pos, (s, extent)) in subs.unwrap_or(&[]).iter().zip(&shape).enumerate() {
            match self.subscript(s, extent, &owner, pos, cx) {
                Some(sub) => lowered.push(sub),
                None => cx.bad_subscripts += 1,
            }
        }
        if lowered.len() != given {
            return placeholder();
        }
        for (pos, (s, extent)) in subs.unwrap_or(&[]).iter().zip(&shape).enumerate() {
            if let Sub::Affine(a) = lowered[pos] {
                for (v, _) in a.terms() {
                    cx.affine_use(v, s.span);
                }
                cx.affine_reads.push(AffineRead {
                    owner: owner.clone(),
                    subs: lowered.clone(),
                    pos,
                    span: s.span,
                    extent: extent.clone(),
                    facts: cx.facts.clone(),
                    guarded: cx.branches > 0,
                });
            }
        }
        (
            Expr::Read {
                value: v,
                subs: lowered,
            },
            None,
        )
    }

    /// One subscript: an index variable in scope, or an integer literal in range.
    fn subscript(
        &mut self,
        s: &ast::Expr,
        extent: &Extent,
        owner: &str,
        pos: usize,
        cx: &mut Ctx,
    ) -> Option<Sub> {
        match &s.kind {
            ExprKind::Read { name, subs: None } => {
                if let Some(id) = cx.lookup(&name.name) {
                    let what = format!("dimension {} of `{owner}`", pos + 1);
                    cx.indices[id.index()]
                        .uses
                        .push((extent.clone(), s.span, what));
                    return Some(Sub::Var(id));
                }
                if self.scope.contains_key(&name.name) || self.declared.contains_key(&name.name) {
                    let mut d = Diagnostic::error(
                        Code::BadSubscript,
                        s.span,
                        format!("`{}` is not an index variable; a subscript must be an index variable or an integer", name.name),
                    )
                    .label("not an index variable");
                    if let Some(Symbol::Dim(_)) = self.scope.get(&name.name) {
                        d = d.help(format!(
                            "to range over {0}, bind an index: `sum(i in {0}, ...)`",
                            name.name
                        ));
                    }
                    self.error(d);
                    return None;
                }
                if cx.unbound.contains(&name.name) {
                    return None; // reported at its first occurrence
                }
                cx.unbound.push(name.name.clone());
                let d = if cx.const_only {
                    Diagnostic::error(
                        Code::UnboundIndex,
                        s.span,
                        format!("index variable `{}` is not bound", name.name),
                    )
                    .label("a const has no index variables")
                } else {
                    Diagnostic::error(
                        Code::UnboundIndex,
                        s.span,
                        format!("index variable `{}` is not bound", name.name),
                    )
                    .label("not bound by the left-hand side or a reduction")
                    .help(format!(
                        "did you mean `sum({0}, ...)`? Or add `{0}` to the left-hand side",
                        name.name
                    ))
                };
                self.error(d);
                None
            }
            ExprKind::Number { text, .. } => {
                let Ok(n) = text.parse::<usize>() else {
                    self.error(
                        Diagnostic::error(
                            Code::BadSubscript,
                            s.span,
                            format!("a subscript must be an integer, not `{text}`"),
                        )
                        .label("not an integer"),
                    );
                    return None;
                };
                if n > 0 && self.is_runtime(extent) {
                    let dim = extent.dim.clone().unwrap_or_default();
                    self.error(
                        Diagnostic::error(
                            Code::SubscriptOutOfRange,
                            s.span,
                            format!("subscript {n} may be out of range for dimension {} of `{owner}`, of size {dim}, given at run time", pos + 1),
                        )
                        .label(format!("out of range when {dim} <= {n}"))
                        .help(format!("only subscript 0 is in range at every size of `{dim}`")),
                    );
                    return None;
                }
                if extent.size > 0 && n >= extent.size {
                    self.error(
                        Diagnostic::error(
                            Code::SubscriptOutOfRange,
                            s.span,
                            format!("subscript {n} is out of range for dimension {} of `{owner}`, of size {}", pos + 1, show_size(extent)),
                        )
                        .label(format!("must be less than {}", extent.size))
                        .note("subscripts count from 0"),
                    );
                    return None;
                }
                Some(Sub::Lit(n))
            }
            ExprKind::Neg(_)
            | ExprKind::Binary { .. }
            | ExprKind::Read { subs: Some(_), .. }
            | ExprKind::Call { .. }
            // A condition where a number belongs: E0600, as elsewhere.
            | ExprKind::Compare { .. }
            | ExprKind::Logic { .. }
            | ExprKind::Not(_) => self.affine_subscript(s, extent, owner, pos, cx),
        }
    }

    fn call(&mut self, func: &ast::Ident, args: &[Arg], span: Span, cx: &mut Ctx) -> Lowered {
        let reduction = match func.name.as_str() {
            "sum" => Some(Reduction::Sum),
            "mean" => Some(Reduction::Mean),
            "logsumexp" => Some(Reduction::LogSumExp),
            _ => None,
        };
        if let Some(op) = reduction {
            return self.reduction(op, args, span, cx);
        }
        if func.name == "where" {
            return self.select(args, span, cx);
        }
        let max_min = match func.name.as_str() {
            "max" => Some(BinOp::Max),
            "min" => Some(BinOp::Min),
            "pow" => Some(BinOp::Pow),
            _ => None,
        };
        if let Some(op @ (BinOp::Max | BinOp::Min)) = max_min {
            if self.looks_like_reduction(args, cx) {
                let op = if op == BinOp::Max {
                    Reduction::Max
                } else {
                    Reduction::Min
                };
                return self.reduction(op, args, span, cx);
            }
            if let Some((index, bound)) = bound_first_argument(args, cx) {
                self.error(
                    Diagnostic::error(
                        Code::IndexAsValue,
                        index.span,
                        format!("index variable `{}` cannot be used as a number", index.name),
                    )
                    .label(format!(
                        "already bound, so this is the elementwise `{}(a, b)`",
                        func.name
                    ))
                    .with(cx.indices[bound.index()].span, "bound here")
                    .help(format!(
                        "a {} over an index binds a fresh name: `{}(k2, EXPR)`",
                        func.name, func.name
                    )),
                );
                return placeholder();
            }
        }
        let unary = Func::NAMED
            .iter()
            .find(|(n, _)| *n == func.name)
            .map(|(_, f)| *f);
        let arity = match (unary, max_min) {
            (Some(_), _) => 1,
            (_, Some(_)) => 2,
            _ => {
                self.unknown_function(func);
                return placeholder();
            }
        };
        if args.len() != arity {
            let example = if arity == 1 {
                format!("{}(x)", func.name)
            } else {
                format!("{}(a, b)", func.name)
            };
            self.error(
                Diagnostic::error(
                    Code::WrongArity,
                    span,
                    format!(
                        "`{}` takes {} but {} {} given",
                        func.name,
                        plural(arity, "argument"),
                        plural(args.len(), "argument"),
                        if args.len() == 1 { "is" } else { "are" }
                    ),
                )
                .label(format!("expected `{example}`")),
            );
            return placeholder();
        }
        let mut lowered = Vec::new();
        for a in args {
            match a {
                Arg::Expr(e) => lowered.push(self.lower(e, cx)),
                Arg::Binder(_, s) => {
                    self.error(
                        Diagnostic::error(
                            Code::WrongArity,
                            *s,
                            format!("`{}` does not bind index variables", func.name),
                        )
                        .label("an index binder")
                        .help("only sum, mean, logsumexp, max and min bind index variables"),
                    );
                    return placeholder();
                }
            }
        }
        let mut it = lowered.into_iter();
        match (unary, max_min) {
            (Some(f), _) => self.fold_unary(f, it.next().expect("arity checked"), span),
            (_, Some(op)) => {
                let a = it.next().expect("arity checked");
                let b = it.next().expect("arity checked");
                self.fold_binary(op, a, b, span)
            }
            _ => placeholder(),
        }
    }

    /// `max(i, x[i])` or `max(i in D, ...)`: a max reduction, as opposed to
    /// the elementwise `max(a, b)`.
    fn looks_like_reduction(&self, args: &[Arg], cx: &Ctx) -> bool {
        match args.first() {
            Some(Arg::Binder(..)) => true,
            Some(Arg::Expr(ast::Expr {
                kind: ExprKind::Read { name, subs: None },
                ..
            })) => {
                // `max(wieght, 0)`, a name the body does not use, is the
                // elementwise max of a misspelt name.
                let used = match args {
                    [_, Arg::Expr(body)] => mentions(body, &name.name),
                    _ => true,
                };
                args.len() >= 2
                    && used
                    && cx.lookup(&name.name).is_none()
                    && !self.declared.contains_key(&name.name)
            }
            _ => false,
        }
    }

    fn unknown_function(&mut self, func: &ast::Ident) {
        if self.user_functions.contains(&func.name) {
            return; // its definition was reported as not supported
        }
        if self.declared.contains_key(&func.name) {
            self.error(
                Diagnostic::error(
                    Code::WrongKind,
                    func.span,
                    format!("`{}` is not a function", func.name),
                )
                .label("called here")
                .help(format!("subscripts use brackets: `{}[i]`", func.name)),
            );
            return;
        }
        let names = Func::NAMED.iter().map(|(n, _)| *n).chain([
            "pow",
            "max",
            "min",
            "sum",
            "mean",
            "logsumexp",
        ]);
        let mut d = Diagnostic::error(
            Code::UnknownFunction,
            func.span,
            format!("unknown function `{}`", func.name),
        )
        .label("not a function of the language");
        d = match suggest(&func.name, names) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help("the functions are exp, log, sqrt, tanh, sigmoid, relu, softplus, sin, cos, abs, pow, max and min"),
        };
        self.error(d);
    }

    fn reduction(&mut self, op: Reduction, args: &[Arg], span: Span, cx: &mut Ctx) -> Lowered {
        let name = op.name();
        if cx.const_only {
            self.error(
                Diagnostic::error(
                    Code::WrongKind,
                    span,
                    format!("a const cannot contain a reduction (`{name}`)"),
                )
                .label("a reduction")
                .help("define a scalar instead: `NAME = EXPR`"),
            );
            return placeholder();
        }
        let Some((body, binders)) = args.split_last().filter(|(_, b)| !b.is_empty()) else {
            self.error(
                Diagnostic::error(
                    Code::WrongArity,
                    span,
                    format!("`{name}` takes index variables and a body"),
                )
                .label(format!("expected `{name}(i, EXPR)`")),
            );
            return placeholder();
        };
        let mut ids = Vec::new();
        for a in binders {
            let binder = match a {
                Arg::Binder(b, _) => b.clone(),
                Arg::Expr(ast::Expr {
                    kind: ExprKind::Read { name, subs: None },
                    ..
                }) => ast::Binder {
                    name: name.clone(),
                    range: None,
                },
                Arg::Expr(e) => {
                    self.error(
                        Diagnostic::error(Code::WrongArity, e.span, format!("expected an index variable, the arguments of `{name}` before its body bind indices"))
                            .label("not an index variable")
                            .help(format!("write `{name}(i, EXPR)` or `{name}(i in D, EXPR)`")),
                    );
                    continue;
                }
            };
            let id = self.bind(cx, &binder, false);
            if !cx.indices[id.index()].is_lhs {
                cx.indices[id.index()].reduction = name;
            }
            cx.scope.push(id);
            ids.push(id);
        }
        let body = match body {
            Arg::Expr(e) => {
                let bad_before = cx.bad_subscripts;
                let lowered = self.lower(e, cx).0;
                for id in &ids {
                    let info = &mut cx.indices[id.index()];
                    info.mentioned = (mentions(e, &info.name) && !info.as_number)
                        || cx.bad_subscripts > bad_before;
                }
                lowered
            }
            Arg::Binder(_, s) => {
                self.error(
                    Diagnostic::error(
                        Code::WrongArity,
                        *s,
                        format!("the last argument of `{name}` is its body, an expression"),
                    )
                    .label("a binder"),
                );
                for id in &ids {
                    cx.indices[id.index()].mentioned = true; // its body is the error
                }
                Expr::Num(f64::NAN)
            }
        };
        cx.scope.truncate(cx.scope.len() - ids.len());
        let expr = ids.into_iter().rev().fold(body, |acc, index| Expr::Reduce {
            op,
            index,
            body: Box::new(acc),
        });
        (expr, None)
    }
}

/// `max(k, a[k])` with `k` already bound: the first argument, an index
/// variable in scope, of what can only be the elementwise max.
fn bound_first_argument<'a>(args: &'a [Arg], cx: &Ctx) -> Option<(&'a ast::Ident, IndexId)> {
    match args {
        [Arg::Expr(ast::Expr {
            kind: ExprKind::Read { name, subs: None },
            ..
        }), _] => cx.lookup(&name.name).map(|id| (name, id)),
        _ => None,
    }
}

/// Whether `e` reads `name` anywhere, subscripts and call arguments included.
fn mentions(e: &ast::Expr, name: &str) -> bool {
    match &e.kind {
        ExprKind::Number { .. } => false,
        ExprKind::Read { name: n, subs } => {
            n.name == name || subs.iter().flatten().any(|s| mentions(s, name))
        }
        ExprKind::Neg(a) => mentions(a, name),
        ExprKind::Binary { lhs, rhs, .. }
        | ExprKind::Compare { lhs, rhs, .. }
        | ExprKind::Logic { lhs, rhs, .. } => mentions(lhs, name) || mentions(rhs, name),
        ExprKind::Not(a) => mentions(a, name),
        ExprKind::Call { args, .. } => args.iter().any(|a| match a {
            Arg::Expr(e) => mentions(e, name),
            Arg::Binder(..) => false,
        }),
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

impl Sema {
    /// A size in a message: the run-time dim's name, or the number.
    pub(super) fn size_text(&self, e: &Extent) -> String {
        match &e.dim {
            Some(d) if self.is_runtime(e) => d.clone(),
            _ => e.size.to_string(),
        }
    }

    /// A size in a label: `4 (K)`, `4`, or `N, given at run time`.
    pub(super) fn shown_size(&self, e: &Extent) -> String {
        match &e.dim {
            Some(d) if self.is_runtime(e) => format!("{d}, given at run time"),
            _ => show_size(e),
        }
    }
}

fn show_size(e: &Extent) -> String {
    match &e.dim {
        Some(d) => format!("{} ({d})", e.size),
        None => e.size.to_string(),
    }
}
