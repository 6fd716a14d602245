//! The abstract syntax tree of a `.net` file: what was written, with a byte span on every node.

use crate::diag::Span;

/// A name as written, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A parsed file: its statements in source order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct File {
    pub items: Vec<Item>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `dim NAME = EXPR`; `size` is `None` for a runtime size (`dim N`).
    Dim {
        name: Ident,
        size: Option<Expr>,
        span: Span,
    },
    /// `const NAME = EXPR`.
    Const {
        name: Ident,
        value: Expr,
        span: Span,
    },
    /// `input NAME[SHAPE], ...`.
    Input(Vec<Decl>),
    /// `param NAME[SHAPE], ...`.
    Param(Vec<Decl>),
    /// `NAME[i, ...] = EXPR`.
    Def(Def),
    /// `loss NAME = EXPR`.
    Loss(Def),
    /// `output NAME, ...`.
    Output(Vec<Ident>),
    /// `init NAME[-k, j, ...] = EXPR`: a recurrence's value at step -k.
    Init(Init),
    /// `f(x, ...) = EXPR`: recognised only to be rejected (reserved).
    FnDef { name: Ident, span: Span },
}

/// One declared input or param.
#[derive(Debug, Clone, PartialEq)]
pub struct Decl {
    pub name: Ident,
    pub shape: Vec<Extent>,
    pub span: Span,
}

/// A size: a dim name or an integer literal (`w[M, 3]`, `j in M`).
#[derive(Debug, Clone, PartialEq)]
pub enum Extent {
    Name(Ident),
    Literal { text: String, span: Span },
}

impl Extent {
    pub fn span(&self) -> Span {
        match self {
            Extent::Name(id) => id.span,
            Extent::Literal { span, .. } => *span,
        }
    }
}

/// An index variable introduced by a left-hand side or a reduction, with an
/// optional explicit range (`j in M`).
#[derive(Debug, Clone, PartialEq)]
pub struct Binder {
    pub name: Ident,
    pub range: Option<Extent>,
}

/// A definition `NAME[binders] = rhs` (also used for the loss).
#[derive(Debug, Clone, PartialEq)]
pub struct Def {
    pub name: Ident,
    pub indices: Vec<Binder>,
    pub rhs: Expr,
    pub span: Span,
}

/// `init NAME[STEP, j, ...] = rhs`: the value of a recurrent definition at
/// the step before its first (`STEP` is `-1`, `-2`, ...; sema checks it).
#[derive(Debug, Clone, PartialEq)]
pub struct Init {
    pub name: Ident,
    /// The first subscript as written; `None` without brackets.
    pub step: Option<Expr>,
    /// The index variables of the other dimensions.
    pub indices: Vec<Binder>,
    pub rhs: Expr,
    pub span: Span,
}

/// An expression with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// Binary operators of the surface syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

/// The shapes of expression the parser recognises.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A number literal, with its text kept for integer checks (`dim`, subscripts).
    Number { value: f64, text: String },
    /// `NAME` or `NAME[e, ...]`; `subs` is `None` without brackets.
    Read {
        name: Ident,
        subs: Option<Vec<Expr>>,
    },
    /// Unary minus.
    Neg(Box<Expr>),
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `f(args)`: a function or a reduction; sema decides which.
    Call { func: Ident, args: Vec<Arg> },
    /// `a < b` and the like (`<`, `<=`, `>`, `>=`, `==`, `!=`): only in
    /// the condition of a `where` (sema).
    Compare {
        op: String,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `a and b` (`and` true), `a or b`: only in a condition.
    Logic {
        and: bool,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `not a`: only in a condition.
    Not(Box<Expr>),
}

/// A call argument: an expression, or a binder with a range (`i in D`).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Expr(Expr),
    Binder(Binder, Span),
}

impl Arg {
    pub fn span(&self) -> Span {
        match self {
            Arg::Expr(e) => e.span,
            Arg::Binder(_, s) => *s,
        }
    }
}
