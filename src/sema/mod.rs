//! Semantic analysis: names, dims, shapes and index ranges; AST to a checked `ir::Program`.
//!
//! Every semantic error of the language is found here, all of them in one run.

mod affine;
mod consts;
mod expr;
mod recur;

use std::collections::HashMap;

use crate::diag::{Code, Diagnostic, Span};
use crate::ir::{self, Extent, Program, Sizes, Value, ValueId, ValueKind};
use crate::syntax::ast;

/// Reserved words: keywords, reductions and function names.
pub const RESERVED: &[&str] = &[
    "dim",
    "input",
    "param",
    "const",
    "loss",
    "output",
    "sum",
    "mean",
    "logsumexp",
    "in",
    "exp",
    "log",
    "sqrt",
    "tanh",
    "sigmoid",
    "relu",
    "softplus",
    "sin",
    "cos",
    "abs",
    "pow",
    "max",
    "min",
    "where",
    "and",
    "or",
    "not",
    "init",
];

/// The most scalars one value, or one dimension, may hold (2^26, 512 MiB of f64).
pub const MAX_ELEMENTS: usize = 1 << 26;

/// The most scalars all inputs, params and definitions may hold together
/// (2^27, 1 GiB of f64): the interpreter and generated code keep them all.
pub const MAX_TOTAL_ELEMENTS: usize = 1 << 27;

/// Checks a parsed file. `source_len` places "no loss" at the end of the
/// file. Run-time dims take `DEFAULT_RUNTIME_SIZE`.
pub fn check(file: &ast::File, source_len: usize) -> Result<Program, Vec<Diagnostic>> {
    check_sized(file, source_len, &Sizes::new())
}

/// Checks a parsed file with its run-time dims instantiated at `sizes`
/// (`DEFAULT_RUNTIME_SIZE` for those it does not name; names that are not
/// run-time dims are ignored: `crate::resolve_sizes` reports them). The
/// checks that compare sizes treat a run-time dim symbolically, so a file
/// checks at one size exactly when it checks at every size, up to the
/// limits on scalars and the constant parts of definitions.
pub fn check_sized(
    file: &ast::File,
    source_len: usize,
    sizes: &Sizes,
) -> Result<Program, Vec<Diagnostic>> {
    let mut s = Sema {
        sizes: sizes.clone(),
        ..Sema::default()
    };
    if file.items.is_empty() {
        let end = Span::new(source_len, source_len);
        return Err(vec![Diagnostic::error(
            Code::EmptyFile,
            end,
            "the file has no statements",
        )
        .label("nothing to compile")
        .help(
            "declare dims, inputs and params, define values, and end with `loss E = ...`",
        )]);
    }
    s.collect_names(file);
    s.recur = recur::find(file, &s.declared, &s.misdeclared, &mut s.diags);
    for item in &file.items {
        s.item(item);
    }
    let recurrences = s.finish_recurrences();
    let loss = s.finish_loss(source_len);
    let outputs = s.outputs(file);
    let errors = s.diags.iter().any(Diagnostic::is_error);
    match loss {
        Some(loss) if !errors => Ok(Program {
            dims: s.dims,
            consts: s.consts,
            values: s.values,
            loss,
            outputs,
            recurrences,
        }),
        _ => {
            crate::diag::sort(&mut s.diags);
            Err(s.diags)
        }
    }
}

/// What a global name refers to once it is defined.
#[derive(Debug, Clone, Copy)]
enum Symbol {
    Dim(usize),
    Const(usize),
    Value(ValueId),
}

#[derive(Default)]
struct Sema {
    diags: Vec<Diagnostic>,
    /// Every global name of the file and where it is declared, for "used before its definition".
    declared: HashMap<String, Span>,
    /// The global names defined so far.
    scope: HashMap<String, Symbol>,
    /// The name whose definition is being checked, for recurrences.
    defining: Option<String>,
    dims: Vec<ir::Dim>,
    consts: Vec<ir::Const>,
    values: Vec<Value>,
    losses: Vec<(ValueId, Span)>,
    /// Names of the (unsupported) user-defined functions, whose calls are not reported again.
    user_functions: Vec<String>,
    /// Names declared in error (reserved words, second declarations), whose
    /// uses are not reported again.
    misdeclared: Vec<String>,
    /// Whether the file writes a `loss` at all, usable name or not.
    loss_written: bool,
    /// Scalars of the values checked so far, and whether their limit was reported.
    total_elements: usize,
    total_reported: bool,
    /// The sizes run-time dims are instantiated at.
    sizes: Sizes,
    /// The recurrences, found on the syntax before lowering.
    recur: recur::Recurrences,
    /// Lag reads lowered so far, resolved at the end.
    lag_reads: Vec<recur::LagRead>,
    /// The `init` statements checked so far.
    inits: Vec<recur::InitInfo>,
    /// While lowering an `init`: its recurrence.
    in_init: Option<usize>,
    /// The recurrent definitions an `init` in error was for.
    failed_inits: Vec<String>,
    /// The recurrent definitions a lag read in error was of.
    failed_lag_reads: Vec<String>,
}

impl Sema {
    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// First pass: every declared name, so a later pass can tell "unknown" from
    /// "used before its definition"; also duplicates and reserved words.
    fn collect_names(&mut self, file: &ast::File) {
        for item in &file.items {
            let names: Vec<&ast::Ident> = match item {
                ast::Item::Dim { name, .. } | ast::Item::Const { name, .. } => vec![name],
                ast::Item::Input(ds) | ast::Item::Param(ds) => ds.iter().map(|d| &d.name).collect(),
                ast::Item::Def(d) | ast::Item::Loss(d) => vec![&d.name],
                ast::Item::FnDef { .. } | ast::Item::Output(_) | ast::Item::Init(_) => vec![],
            };
            for name in names {
                if !self.check_reserved(name) {
                    continue;
                }
                if let Some(first) = self.declared.get(&name.name) {
                    let first = *first;
                    self.misdeclared.push(name.name.clone());
                    self.error(
                        Diagnostic::error(
                            Code::DuplicateName,
                            name.span,
                            format!("`{}` is declared twice", name.name),
                        )
                        .label("declared again here")
                        .with(first, "first declared here")
                        .help("every name is declared or defined once; choose another name"),
                    );
                } else {
                    self.declared.insert(name.name.clone(), name.span);
                }
            }
        }
    }

    /// Reports a reserved word used as a name; returns whether the name is usable.
    fn check_reserved(&mut self, name: &ast::Ident) -> bool {
        if RESERVED.contains(&name.name.as_str()) {
            self.error(
                Diagnostic::error(
                    Code::ReservedWord,
                    name.span,
                    format!(
                        "`{}` is a reserved word and cannot be used as a name",
                        name.name
                    ),
                )
                .label("reserved"),
            );
            self.misdeclared.push(name.name.clone());
            return false;
        }
        true
    }

    /// Makes a name visible to the statements after it, unless it was a duplicate.
    fn define(&mut self, name: &ast::Ident, sym: Symbol) {
        if self.declared.get(&name.name) == Some(&name.span) {
            self.scope.insert(name.name.clone(), sym);
        }
    }

    fn item(&mut self, item: &ast::Item) {
        match item {
            ast::Item::Dim { name, size, .. } => self.dim(name, size.as_ref()),
            ast::Item::Const { name, value, .. } => {
                let v = self.const_value(value);
                let id = self.consts.len();
                self.consts.push(ir::Const {
                    name: name.name.clone(),
                    value: v.unwrap_or(f64::NAN),
                    span: name.span,
                });
                self.define(name, Symbol::Const(id));
            }
            ast::Item::Input(decls) => self.decls(decls, ValueKind::Input),
            ast::Item::Param(decls) => self.decls(decls, ValueKind::Param),
            ast::Item::Def(def) => {
                self.definition(def, ValueKind::Def);
            }
            ast::Item::Loss(def) => {
                self.loss_written = true;
                if !def.indices.is_empty() {
                    let span = def.indices[0]
                        .name
                        .span
                        .to(def.indices.last().map_or(def.name.span, |b| b.name.span));
                    self.error(
                        Diagnostic::error(
                            Code::NonScalarLoss,
                            span,
                            format!("the loss `{}` must be a scalar", def.name.name),
                        )
                        .label("the loss has indices")
                        .help({
                            let idx: Vec<&str> =
                                def.indices.iter().map(|b| b.name.name.as_str()).collect();
                            format!(
                                "reduce it to a scalar, e.g. `loss {} = sum({}, ...)` or `mean({}, ...)`",
                                def.name.name,
                                idx.join(", "),
                                idx.join(", ")
                            )
                        }),
                    );
                }
                if let Some(id) = self.definition(def, ValueKind::Loss) {
                    self.losses.push((id, def.name.span));
                }
            }
            ast::Item::Output(_) => {}
            ast::Item::Init(init) => self.init(init),
            ast::Item::FnDef { name, span } => {
                self.user_functions.push(name.name.clone());
                self.error(
                    Diagnostic::error(
                        Code::UserFunction,
                        *span,
                        "user-defined functions are not supported yet",
                    )
                    .label("a function definition")
                    .help(format!(
                        "write the expression out where `{}` is called, or define a value of it, `NAME[i] = EXPR`",
                        name.name
                    )),
                );
            }
        }
    }

    fn dim(&mut self, name: &ast::Ident, size: Option<&ast::Expr>) {
        let runtime = size.is_none();
        let size = match size {
            None => Some(
                self.sizes
                    .get(&name.name)
                    .copied()
                    .unwrap_or(ir::DEFAULT_RUNTIME_SIZE),
            ),
            Some(size) => self.dim_size(name, size),
        };
        let id = self.dims.len();
        // A dim with a bad size is still defined, with size 0 (unknown), so
        // that its uses do not cascade into more errors.
        self.dims.push(ir::Dim {
            name: name.name.clone(),
            size: size.unwrap_or(0),
            span: name.span,
            runtime,
        });
        self.define(name, Symbol::Dim(id));
    }

    fn dim_size(&mut self, name: &ast::Ident, size: &ast::Expr) -> Option<usize> {
        if let ast::ExprKind::Number { text, .. } = &size.kind {
            return self.size_literal(text, size.span);
        }
        // Size arithmetic: `dim OH = H - KH + 1`.
        let value = self.size_expr(name, size)?;
        if value < 1 {
            self.error(
                Diagnostic::error(
                    Code::ZeroDim,
                    size.span,
                    format!("dim `{}` would have size {value}", name.name),
                )
                .label(format!("this is {value}"))
                .help("a size must be at least 1"),
            );
            return None;
        }
        if value > MAX_ELEMENTS as i128 {
            self.error(
                Diagnostic::error(
                    Code::BadSize,
                    size.span,
                    format!(
                        "dim `{}` would have size {value}, which is too large",
                        name.name
                    ),
                )
                .label(format!("at most {MAX_ELEMENTS}"))
                .help("one value holds at most 2^26 scalars (512 MiB of f64)"),
            );
            return None;
        }
        Some(value as usize)
    }

    /// The value of a size expression: `+ - * /` and parentheses over
    /// integer literals and earlier dims, division exact. `None` after an
    /// error (reported here), or when a dim it names has a bad size of its
    /// own (reported at that dim).
    fn size_expr(&mut self, dim: &ast::Ident, e: &ast::Expr) -> Option<i128> {
        // Far beyond any size: the limits are checked on the result.
        const HUGE: i128 = 1 << 100;
        let not_size = |what: &str| {
            Diagnostic::error(
                Code::BadSize,
                e.span,
                format!(
                    "the size of dim `{}` uses {what}; a size is an integer expression of integer literals and earlier dims",
                    dim.name
                ),
            )
        };
        let value = match &e.kind {
            ast::ExprKind::Number { text, .. } => {
                if !text.bytes().all(|b| b.is_ascii_digit()) {
                    self.error(not_size("a number that is not an integer").label("not an integer"));
                    return None;
                }
                match text.parse::<i128>() {
                    Ok(n) if n <= HUGE => n,
                    _ => HUGE + 1,
                }
            }
            ast::ExprKind::Read { name, subs: None } if name.name == dim.name => {
                self.error(
                    Diagnostic::error(
                        Code::BadSize,
                        name.span,
                        format!("the size of dim `{}` uses the dim itself", dim.name),
                    )
                    .label("the dim being defined")
                    .help("a size is an integer expression of integer literals and earlier dims"),
                );
                return None;
            }
            ast::ExprKind::Read { name, subs: None } => match self.resolve(name)? {
                Symbol::Dim(d) if self.dims[d].size == 0 => return None,
                Symbol::Dim(d) if self.dims[d].runtime => {
                    let def = self.dims[d].span;
                    self.error(
                        Diagnostic::error(
                            Code::BadSize,
                            name.span,
                            format!(
                                "the size of dim `{}` uses `{}`, which is given at run time",
                                dim.name, name.name
                            ),
                        )
                        .label("a run-time dim")
                        .with(def, "declared without a size here")
                        .help(format!(
                            "a size written in the file is an integer expression of literals and earlier fixed dims; to give `{}` at run time too, declare it `dim {}`",
                            dim.name, dim.name
                        )),
                    );
                    return None;
                }
                Symbol::Dim(d) => self.dims[d].size as i128,
                other => {
                    let what = self.describe(other);
                    self.error(not_size(&format!("`{}`, {what}", name.name)).label("not a dim"));
                    return None;
                }
            },
            ast::ExprKind::Neg(inner) => -self.size_expr(dim, inner)?,
            ast::ExprKind::Binary { op, lhs, rhs } => {
                let (a, b) = (self.size_expr(dim, lhs), self.size_expr(dim, rhs));
                let (a, b) = (a?, b?);
                match op {
                    ast::BinOp::Add => a + b,
                    ast::BinOp::Sub => a - b,
                    ast::BinOp::Mul => a.saturating_mul(b),
                    ast::BinOp::Div if b == 0 => {
                        self.error(
                            Diagnostic::error(
                                Code::SizeDivision,
                                rhs.span,
                                format!("the size of dim `{}` divides by 0", dim.name),
                            )
                            .label("this is 0"),
                        );
                        return None;
                    }
                    ast::BinOp::Div if a % b != 0 => {
                        self.error(
                            Diagnostic::error(
                                Code::SizeDivision,
                                e.span,
                                format!(
                                    "the size of dim `{}` divides {a} by {b}, which leaves {}",
                                    dim.name,
                                    a % b
                                ),
                            )
                            .label(format!("{a} / {b} is not a whole number"))
                            .help("sizes divide exactly: change the sizes, or write the size you mean as a number"),
                        );
                        return None;
                    }
                    ast::BinOp::Div => a / b,
                    ast::BinOp::Pow => {
                        self.error(not_size("a power").label("not + - * /"));
                        return None;
                    }
                }
            }
            ast::ExprKind::Read { .. } => {
                self.error(not_size("a subscripted name").label("not a dim"));
                return None;
            }
            ast::ExprKind::Call { .. } => {
                self.error(not_size("a function").label("not + - * /"));
                return None;
            }
            ast::ExprKind::Compare { .. } | ast::ExprKind::Logic { .. } | ast::ExprKind::Not(_) => {
                self.error(not_size("a condition").label("not + - * /"));
                return None;
            }
        };
        Some(value.clamp(-HUGE - 1, HUGE + 1))
    }

    /// An integer literal used as a size: at least 1.
    fn size_literal(&mut self, text: &str, span: Span) -> Option<usize> {
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            self.error(
                Diagnostic::error(
                    Code::BadSize,
                    span,
                    format!("a size must be a positive integer, not `{text}`"),
                )
                .label("not an integer"),
            );
            return None;
        }
        match text.parse::<usize>() {
            Ok(0) => {
                self.error(
                    Diagnostic::error(Code::ZeroDim, span, "a size must be at least 1")
                        .label("size 0")
                        .help("an empty dimension holds no scalars; remove it"),
                );
                None
            }
            Ok(n) if n <= MAX_ELEMENTS => Some(n),
            _ => {
                self.error(
                    Diagnostic::error(Code::BadSize, span, format!("size {text} is too large"))
                        .label(format!("at most {MAX_ELEMENTS}"))
                        .help("one value holds at most 2^26 scalars (512 MiB of f64)"),
                );
                None
            }
        }
    }

    /// Resolves a size written as a dim name or an integer literal.
    fn extent(&mut self, e: &ast::Extent) -> Option<Extent> {
        match e {
            ast::Extent::Literal { text, span } => self
                .size_literal(text, *span)
                .map(|size| Extent { size, dim: None }),
            ast::Extent::Name(id) => match self.resolve(id)? {
                Symbol::Dim(d) if self.dims[d].size == 0 => None,
                Symbol::Dim(d) => Some(Extent {
                    size: self.dims[d].size,
                    dim: Some(self.dims[d].name.clone()),
                }),
                other => {
                    let what = self.describe(other);
                    self.error(
                        Diagnostic::error(
                            Code::WrongKind,
                            id.span,
                            format!("`{}` is {what}, not a dim", id.name),
                        )
                        .label("expected a dim name or an integer"),
                    );
                    None
                }
            },
        }
    }

    /// Checks that a value of this shape is not too large to hold.
    fn check_size(&mut self, shape: &[Extent], span: Span) -> bool {
        let total = shape
            .iter()
            .try_fold(1usize, |acc, e| acc.checked_mul(e.size));
        match total {
            Some(n) if n <= MAX_ELEMENTS => {
                self.total_elements += n;
                if self.total_elements > MAX_TOTAL_ELEMENTS && !self.total_reported {
                    self.total_reported = true;
                    self.error(
                        Diagnostic::error(
                            Code::TooManyScalars,
                            span,
                            "the file's values hold too many scalars in all",
                        )
                        .label(format!(
                            "this value brings the total to {} scalars",
                            self.total_elements
                        ))
                        .help(format!(
                            "inputs, params and definitions may hold at most {MAX_TOTAL_ELEMENTS} \
                             scalars together (1 GiB of f64): use smaller dims"
                        )),
                    );
                }
                true
            }
            _ => {
                self.error(
                    Diagnostic::error(Code::BadSize, span, "this value has too many scalars")
                        .label(format!("more than {MAX_ELEMENTS}"))
                        .help("one value holds at most 2^26 scalars (512 MiB of f64)"),
                );
                false
            }
        }
    }

    fn decls(&mut self, decls: &[ast::Decl], kind: ValueKind) {
        for d in decls {
            // An extent in error is kept as size 0 (unknown), so the value is
            // still defined and its uses do not cascade into more errors.
            let shape: Vec<Extent> = d
                .shape
                .iter()
                .map(|e| self.extent(e).unwrap_or_else(unknown))
                .collect();
            if kind == ValueKind::Param {
                self.fixed_param_shape(d, &shape);
            }
            if shape.iter().all(|e| e.size > 0) {
                self.check_size(&shape, d.span);
            }
            let id = self.push_value(Value {
                name: d.name.name.clone(),
                kind,
                shape,
                indices: Vec::new(),
                rhs: None,
                origin: ir::Origin::Source(d.span),
            });
            self.define(&d.name, Symbol::Value(id));
        }
    }

    /// A param's shape is part of the parameter layout, so it is fixed:
    /// a run-time dim in it is an error, once per param.
    fn fixed_param_shape(&mut self, d: &ast::Decl, shape: &[Extent]) {
        let Some((e, written)) = shape.iter().zip(&d.shape).find(|(e, _)| self.is_runtime(e))
        else {
            return;
        };
        let dim = e.dim.clone().unwrap_or_default();
        let declared = self
            .dims
            .iter()
            .find(|x| x.name == dim)
            .map_or(Span::default(), |x| x.span);
        self.error(
            Diagnostic::error(
                Code::RuntimeParam,
                written.span(),
                format!(
                    "param `{}` has the run-time dim `{dim}` in its shape",
                    d.name.name
                ),
            )
            .label("given at run time")
            .with(declared, "declared without a size here")
            .help(format!(
                "a param's shape is fixed (it is part of the parameter layout): give `{dim}` a size, or make `{}` an input",
                d.name.name
            )),
        );
    }

    /// Whether an extent is a run-time dim.
    fn is_runtime(&self, e: &Extent) -> bool {
        e.dim
            .as_deref()
            .is_some_and(|n| self.dims.iter().any(|d| d.runtime && d.name == n))
    }

    fn push_value(&mut self, v: Value) -> ValueId {
        let id = ValueId(self.values.len() as u32);
        self.values.push(v);
        id
    }

    /// Looks a global name up, reporting unknown names and uses before the
    /// definition. (A definition's reads of itself are recurrences, which
    /// `recur` handles before this.)
    fn resolve(&mut self, id: &ast::Ident) -> Option<Symbol> {
        if let Some(sym) = self.scope.get(&id.name) {
            return Some(*sym);
        }
        if RESERVED.contains(&id.name.as_str()) && self.misdeclared.contains(&id.name) {
            return None; // its declaration was reported as a reserved word
        }
        if let Some(def) = self.declared.get(&id.name) {
            let def = *def;
            self.error(
                Diagnostic::error(
                    Code::UseBeforeDef,
                    id.span,
                    format!("`{}` is used before its definition", id.name),
                )
                .label("used here")
                .with(def, "defined later here")
                .help("move the definition above its first use"),
            );
        } else {
            let mut d = Diagnostic::error(
                Code::UnknownName,
                id.span,
                format!("unknown name `{}`", id.name),
            )
            .label("not declared");
            if let Some(s) = suggest(&id.name, self.declared.keys().map(String::as_str)) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            self.error(d);
        }
        None
    }

    /// "a dim", "the param `w`", ... for messages.
    fn describe(&self, sym: Symbol) -> String {
        match sym {
            Symbol::Dim(_) => "a dim".into(),
            Symbol::Const(_) => "a const".into(),
            Symbol::Value(v) => format!(
                "{} {}",
                article(self.values[v.index()].kind.describe()),
                self.values[v.index()].kind.describe()
            ),
        }
    }

    /// Resolves the loss: exactly one.
    fn finish_loss(&mut self, source_len: usize) -> Option<ValueId> {
        match self.losses.as_slice() {
            // A loss whose name was in error is reported already.
            [] if self.loss_written => None,
            [] => {
                let end = Span::new(source_len, source_len);
                let help = self.loss_hint();
                self.error(
                    Diagnostic::error(Code::NoLoss, end, "the file defines no loss")
                        .label("the file ends without a `loss` definition")
                        .help(help),
                );
                None
            }
            [(id, _)] => Some(*id),
            [(_, first), rest @ ..] => {
                let first = *first;
                let extra: Vec<Span> = rest.iter().map(|(_, s)| *s).collect();
                for s in extra {
                    self.error(
                        Diagnostic::error(Code::TwoLosses, s, "the file defines more than one loss")
                            .label("another loss")
                            .with(first, "the first loss")
                            .help("several losses are not supported yet: add them into one, `loss E = E1 + E2`"),
                    );
                }
                None
            }
        }
    }

    /// "add the scalar objective, e.g. `loss E = sum(k, y[k])`", built from the
    /// file's last definition, so the hint names only what the file has.
    fn loss_hint(&self) -> String {
        let name = ["E", "L", "J", "objective"]
            .into_iter()
            .find(|n| !self.declared.contains_key(*n))
            .unwrap_or("objective");
        let last = self.values.iter().rev().find(|v| v.kind == ValueKind::Def);
        match last {
            Some(v) if v.indices.is_empty() || v.shape.is_empty() => {
                format!("add the scalar objective, e.g. `loss {name} = {}`", v.name)
            }
            // A definition in error (`d[k, k] = ...`, a repeated index)
            // may have fewer index variables than dimensions.
            Some(v) if v.indices.len() >= v.shape.len() => {
                let idx: Vec<&str> = v.indices[..v.shape.len()]
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect();
                format!(
                    "add the scalar objective, e.g. `loss {name} = sum({}, {}[{}])`",
                    idx.join(", "),
                    v.name,
                    idx.join(", ")
                )
            }
            _ => format!("add the scalar objective: `loss {name} = ...`"),
        }
    }

    /// An output that names nothing: the hint suggests only definitions,
    /// since nothing else can be an output.
    fn unknown_output(&mut self, name: &ast::Ident) {
        let definitions = self
            .values
            .iter()
            .filter(|v| matches!(v.kind, ValueKind::Def | ValueKind::Loss))
            .map(|v| v.name.as_str());
        let mut d = Diagnostic::error(
            Code::UnknownName,
            name.span,
            format!("unknown name `{}`", name.name),
        )
        .label("not defined");
        if let Some(s) = suggest(&name.name, definitions) {
            d = d.help(format!(
                "did you mean `{s}`? Only definitions can be outputs"
            ));
        }
        self.error(d);
    }

    /// Resolves `output` names: definitions, each listed once.
    fn outputs(&mut self, file: &ast::File) -> Vec<ValueId> {
        let mut out: Vec<(ValueId, Span)> = Vec::new();
        for item in &file.items {
            let ast::Item::Output(names) = item else {
                continue;
            };
            for name in names {
                if self.misdeclared.contains(&name.name) {
                    continue; // which declaration is meant is unclear; reported already
                }
                if !self.scope.contains_key(&name.name) && !self.declared.contains_key(&name.name) {
                    self.unknown_output(name);
                    continue;
                }
                let Some(sym) = self.resolve(name) else {
                    continue;
                };
                match sym {
                    Symbol::Value(v)
                        if matches!(
                            self.values[v.index()].kind,
                            ValueKind::Def | ValueKind::Loss
                        ) =>
                    {
                        if let Some((_, first)) = out.iter().find(|(o, _)| *o == v) {
                            let first = *first;
                            self.error(
                                Diagnostic::error(
                                    Code::BadOutput,
                                    name.span,
                                    format!("`{}` is listed as an output twice", name.name),
                                )
                                .label("listed again")
                                .with(first, "first listed here"),
                            );
                        } else {
                            out.push((v, name.span));
                        }
                    }
                    other => {
                        let what = self.describe(other);
                        self.error(
                            Diagnostic::error(
                                Code::BadOutput,
                                name.span,
                                format!(
                                    "`{}` is {what}; only definitions can be outputs",
                                    name.name
                                ),
                            )
                            .label("not a definition"),
                        );
                    }
                }
            }
        }
        out.into_iter().map(|(v, _)| v).collect()
    }
}

/// An extent whose size is unknown because of an earlier error: size 0, never
/// compared. It never leaves sema, since a file with errors yields no program.
fn unknown() -> Extent {
    Extent { size: 0, dim: None }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The closest candidate within a small edit distance, for "did you mean".
/// Ties are broken alphabetically, so the hint is deterministic.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.len() / 3).clamp(1, 2);
    // A candidate must keep something of the name: `q` for `E` (one letter
    // replaced by another) is noise, not a suggestion.
    candidates
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= limit && *d < name.len().max(c.len()))
        .min()
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: edits and adjacent transpositions
/// (`tahn` is one step from `tanh`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}
