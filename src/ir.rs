//! The IR shared by every stage after sema: tensor values, and scalar
//! expressions in index notation over indexed reads of other values.
//!
//! A value's right-hand side computes one element `v[i, j, ...]`; its index
//! variables (left-hand side first, then one per reduction) live in a table
//! owned by the value, so expressions refer to them by `IndexId`.

use std::fmt;

use crate::diag::Span;

/// A value of the program: its position in `Program::values` and the
/// `NodeIndex` of its node in the DAG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ValueId(pub u32);

impl ValueId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// An index variable of one value (an index into `Value::indices`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IndexId(pub u32);

impl IndexId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A size: its value, and the dim name it was written with, if any.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Extent {
    pub size: usize,
    pub dim: Option<String>,
}

impl fmt::Display for Extent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.dim {
            Some(d) => f.write_str(d),
            None => write!(f, "{}", self.size),
        }
    }
}

/// An index variable: its name as the user wrote it and its range `0..extent.size`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexVar {
    pub name: String,
    pub extent: Extent,
}

/// One subscript of a read: an index variable, a constant position, or an
/// integer affine form of index variables (`S * i + di`, `t - 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sub {
    Var(IndexId),
    Lit(usize),
    /// Never a lone variable with coefficient 1 and no offset (that is a
    /// `Var`), nor a constant at least 0 (a `Lit`): see [`Affine::sub`].
    Affine(Affine),
}

impl Sub {
    /// The subscript as an affine form.
    pub fn affine(self) -> Affine {
        match self {
            Sub::Var(v) => Affine::new(0, &[(v, 1)]).expect("one term"),
            Sub::Lit(n) => Affine::new(n as i64, &[]).expect("no terms"),
            Sub::Affine(a) => a,
        }
    }

    /// Calls `f` on every index variable the subscript reads.
    pub fn for_each_var(&self, mut f: impl FnMut(IndexId)) {
        match self {
            Sub::Var(v) => f(*v),
            Sub::Lit(_) => {}
            Sub::Affine(a) => a.terms().iter().for_each(|(v, _)| f(*v)),
        }
    }

    /// The same subscript with each index variable replaced by a subscript.
    pub fn substitute(self, f: impl Fn(IndexId) -> Sub) -> Sub {
        match self {
            Sub::Var(v) => f(v),
            Sub::Lit(_) => self,
            Sub::Affine(a) => {
                let mut out = Affine::new(a.constant(), &[]).expect("no terms");
                for (v, c) in a.terms() {
                    out = out.add(&f(v).affine().scale(c));
                }
                out.sub()
            }
        }
    }
}

/// The most index variables one affine subscript may combine.
pub const MAX_AFFINE_TERMS: usize = 2;

/// `constant + Σ coefficient · index`: an integer affine form of index
/// variables, in canonical form (terms sorted by index, no zero
/// coefficient, unused slots zeroed) so that equal forms compare equal.
/// Packed into 12 bytes, so that `Sub` stays `Copy` and as small as a
/// literal subscript (reads hold many): at most [`MAX_AFFINE_TERMS`]
/// variables, coefficients within ±[`MAX_COEFFICIENT`], the constant within
/// ±`i32::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Affine {
    constant: i32,
    vars: [u16; MAX_AFFINE_TERMS],
    coefficients: [i16; MAX_AFFINE_TERMS],
}

/// The largest coefficient of an affine subscript, in magnitude.
pub const MAX_COEFFICIENT: i64 = i16::MAX as i64;

/// The terms of an affine form, as a slice.
#[derive(Debug, Clone, Copy)]
pub struct Terms {
    items: [(IndexId, i64); MAX_AFFINE_TERMS],
    len: usize,
}

impl std::ops::Deref for Terms {
    type Target = [(IndexId, i64)];
    fn deref(&self) -> &[(IndexId, i64)] {
        &self.items[..self.len]
    }
}

impl IntoIterator for Terms {
    type Item = (IndexId, i64);
    type IntoIter = std::iter::Take<std::array::IntoIter<(IndexId, i64), MAX_AFFINE_TERMS>>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter().take(self.len)
    }
}

impl Affine {
    /// The canonical form of `constant + Σ terms`; `None` when it does not
    /// fit (more than [`MAX_AFFINE_TERMS`] variables, a coefficient beyond
    /// [`MAX_COEFFICIENT`], a constant beyond `i32::MAX`): see
    /// [`Affine::distinct_vars`] for which.
    pub fn new(constant: i64, terms: &[(IndexId, i64)]) -> Option<Affine> {
        let merged = Affine::merged(terms);
        let fits = merged.len() <= MAX_AFFINE_TERMS
            && merged
                .iter()
                .all(|(v, c)| c.abs() <= MAX_COEFFICIENT && v.0 < u32::from(u16::MAX))
            && constant.abs() <= i64::from(i32::MAX);
        if !fits {
            return None;
        }
        let mut out = Affine {
            constant: constant as i32,
            vars: [0; MAX_AFFINE_TERMS],
            coefficients: [0; MAX_AFFINE_TERMS],
        };
        for (k, (v, c)) in merged.into_iter().enumerate() {
            out.vars[k] = v.0 as u16;
            out.coefficients[k] = c as i16;
        }
        Some(out)
    }

    /// The terms with each variable once, zero coefficients dropped, sorted.
    fn merged(terms: &[(IndexId, i64)]) -> Vec<(IndexId, i64)> {
        let mut merged: Vec<(IndexId, i64)> = Vec::new();
        for &(v, c) in terms {
            match merged.iter_mut().find(|(w, _)| *w == v) {
                // Saturates: such a coefficient does not fit.
                Some((_, d)) => *d = d.saturating_add(c),
                None => merged.push((v, c)),
            }
        }
        merged.retain(|(_, c)| *c != 0);
        merged.sort();
        merged
    }

    /// How many distinct variables `terms` combine (after merging), to tell
    /// why [`Affine::new`] refused them.
    pub fn distinct_vars(terms: &[(IndexId, i64)]) -> usize {
        Affine::merged(terms).len()
    }

    pub fn constant(&self) -> i64 {
        i64::from(self.constant)
    }

    /// The terms, sorted by index variable, every coefficient nonzero.
    pub fn terms(&self) -> Terms {
        let mut t = Terms {
            items: [(IndexId(0), 0); MAX_AFFINE_TERMS],
            len: 0,
        };
        for k in 0..MAX_AFFINE_TERMS {
            if self.coefficients[k] != 0 {
                t.items[t.len] = (
                    IndexId(u32::from(self.vars[k])),
                    i64::from(self.coefficients[k]),
                );
                t.len += 1;
            }
        }
        t
    }

    /// The coefficient of `v` (0 when it does not appear).
    pub fn coefficient(&self, v: IndexId) -> i64 {
        self.terms()
            .iter()
            .find(|(w, _)| *w == v)
            .map_or(0, |(_, c)| *c)
    }

    /// The sum of two forms. Sums made by autodiff stay within
    /// [`MAX_AFFINE_TERMS`] variables: a solved subscript has no more
    /// variables than the read it comes from.
    pub fn add(&self, other: &Affine) -> Affine {
        let terms: Vec<(IndexId, i64)> = self.terms().into_iter().chain(other.terms()).collect();
        Affine::new(self.constant() + other.constant(), &terms)
            .expect("a sum of subscripts made by autodiff fits: see Affine::add")
    }

    /// The form times an integer.
    pub fn scale(&self, k: i64) -> Affine {
        let terms: Vec<(IndexId, i64)> = self.terms().iter().map(|&(v, c)| (v, c * k)).collect();
        Affine::new(self.constant() * k, &terms).expect("a scaled subscript made by autodiff fits")
    }

    /// Its value at the index variables' values `env`.
    pub fn eval(&self, env: &[usize]) -> i64 {
        self.terms()
            .into_iter()
            .fold(self.constant(), |acc, (v, c)| {
                acc + c * env[v.index()] as i64
            })
    }

    /// The subscript it is: a `Var` or a `Lit` where it is one.
    pub fn sub(self) -> Sub {
        match *self.terms() {
            [] if self.constant >= 0 => Sub::Lit(self.constant as usize),
            [(v, 1)] if self.constant == 0 => Sub::Var(v),
            _ => Sub::Affine(self),
        }
    }

    /// `2·i + di - 1`, `t - 1`, `-i + 3`, with `name` naming each variable
    /// and `times` the multiplication sign.
    pub fn show(&self, name: impl Fn(IndexId) -> String, times: &str, minus: &str) -> String {
        let mut out = String::new();
        for (k, &(v, c)) in self.terms().iter().enumerate() {
            let (sign, mag) = (c < 0, c.unsigned_abs());
            match (k, sign) {
                (0, true) => out.push('-'),
                (0, false) => {}
                (_, true) => out.push_str(&format!(" {minus} ")),
                (_, false) => out.push_str(" + "),
            }
            if mag != 1 {
                out.push_str(&format!("{mag}{times}"));
            }
            out.push_str(&name(v));
        }
        match (out.is_empty(), self.constant()) {
            (true, c) => out = c.to_string(),
            (false, 0) => {}
            (false, c) if c < 0 => out.push_str(&format!(" {minus} {}", c.unsigned_abs())),
            (false, c) => out.push_str(&format!(" + {c}")),
        }
        out
    }
}

/// Elementwise functions of one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Func {
    Neg,
    Exp,
    Log,
    Sqrt,
    Tanh,
    Sigmoid,
    Relu,
    Softplus,
    Sin,
    Cos,
    Abs,
    /// 1 if x > 0, else 0: the derivative of relu, and of max and min. Made
    /// by autodiff; not callable by name.
    Step,
    /// -1, 0 or 1: the derivative of abs, 0 at 0. Made by autodiff; not callable by name.
    Sign,
    /// `not c`: 1 where `c` is 0, else 0. Only in the condition of a `where`.
    Not,
}

impl Func {
    /// Every function callable by name, with its name.
    pub const NAMED: &'static [(&'static str, Func)] = &[
        ("exp", Func::Exp),
        ("log", Func::Log),
        ("sqrt", Func::Sqrt),
        ("tanh", Func::Tanh),
        ("sigmoid", Func::Sigmoid),
        ("relu", Func::Relu),
        ("softplus", Func::Softplus),
        ("sin", Func::Sin),
        ("cos", Func::Cos),
        ("abs", Func::Abs),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Func::Neg => "-",
            Func::Step => "step",
            Func::Sign => "sign",
            Func::Not => "not",
            _ => Func::NAMED
                .iter()
                .find(|(_, f)| *f == self)
                .map_or("?", |(n, _)| n),
        }
    }

    /// The value of the function; the one place its numerics are defined.
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Func::Neg => -x,
            Func::Exp => x.exp(),
            Func::Log => x.ln(),
            Func::Sqrt => x.sqrt(),
            Func::Tanh => x.tanh(),
            Func::Sigmoid => {
                // Stable on both sides: never exp of a large positive number.
                if x >= 0.0 {
                    1.0 / (1.0 + (-x).exp())
                } else {
                    let e = x.exp();
                    e / (1.0 + e)
                }
            }
            Func::Relu => {
                if x > 0.0 {
                    x
                } else {
                    0.0
                }
            }
            Func::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
            Func::Sin => x.sin(),
            Func::Cos => x.cos(),
            Func::Abs => x.abs(),
            Func::Step => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Func::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            Func::Not => truth(x == 0.0),
        }
    }
}

/// Binary operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    /// `max(a, b)`: `a` on ties.
    Max,
    /// `min(a, b)`: `a` on ties.
    Min,
    /// `xlogy(a, b)`: `a * log(b)`, and 0 where `a` is 0 (even where
    /// `log(b)` is infinite). The derivative of `w^p` with respect to `p`,
    /// `w^p * log(w)`, is 0 at `w = 0` for `p > 0` (`0^p` is 0 on both
    /// sides), where `0 * log(0)` would be NaN. Made by autodiff; not
    /// callable by name.
    XLogY,
    /// The comparisons `<`, `<=`, `>`, `>=`, `==`, `!=`: 1 where they hold,
    /// else 0 (false with a NaN operand, except `!=`). Only in the
    /// condition of a `where`, as are `And` and `Or`.
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    /// `a and b`, `a or b` of conditions (0 is false, anything else true).
    And,
    Or,
}

/// 1 for true, 0 for false: the value of a condition.
pub fn truth(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

impl BinOp {
    /// The value of the operation; the one place its numerics are defined.
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            // A square is the one multiplication, correctly rounded, as the
            // generated code computes it (`powf` is the slowest operation
            // of the interpreter, and `x^2` the most common power).
            BinOp::Pow if b == 2.0 => a * a,
            BinOp::Pow => a.powf(b),
            BinOp::Max => {
                if a >= b {
                    a
                } else {
                    b
                }
            }
            BinOp::Min => {
                if a <= b {
                    a
                } else {
                    b
                }
            }
            BinOp::XLogY => {
                if a == 0.0 {
                    0.0
                } else {
                    a * b.ln()
                }
            }
            BinOp::Lt => truth(a < b),
            BinOp::Le => truth(a <= b),
            BinOp::Gt => truth(a > b),
            BinOp::Ge => truth(a >= b),
            BinOp::Eq => truth(a == b),
            BinOp::Ne => truth(a != b),
            BinOp::And => truth(a != 0.0 && b != 0.0),
            BinOp::Or => truth(a != 0.0 || b != 0.0),
        }
    }

    /// Whether it is a comparison, `and` or `or`: an operation of conditions,
    /// whose value is 1 or 0 and which has no derivative.
    pub fn is_condition(self) -> bool {
        matches!(
            self,
            BinOp::Lt
                | BinOp::Le
                | BinOp::Gt
                | BinOp::Ge
                | BinOp::Eq
                | BinOp::Ne
                | BinOp::And
                | BinOp::Or
        )
    }

    /// The comparison's symbol as written (`<=`), or `and`, `or`.
    pub fn condition_symbol(self) -> Option<&'static str> {
        Some(match self {
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "and",
            BinOp::Or => "or",
            _ => return None,
        })
    }
}

/// Reductions over one index variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reduction {
    Sum,
    Mean,
    LogSumExp,
    /// The largest value over the range (max pooling).
    Max,
    /// The smallest value over the range.
    Min,
    /// The position (0, 1, ...) of the first largest value, NaN counting as
    /// largest: what the derivative of `Max` reads. Made by autodiff; not
    /// callable by name.
    ArgMax,
    /// The position of the first smallest value, NaN counting as smallest.
    /// Made by autodiff; not callable by name.
    ArgMin,
}

impl Reduction {
    pub fn name(self) -> &'static str {
        match self {
            Reduction::Sum => "sum",
            Reduction::Mean => "mean",
            Reduction::LogSumExp => "logsumexp",
            Reduction::Max => "max",
            Reduction::Min => "min",
            Reduction::ArgMax => "argmax",
            Reduction::ArgMin => "argmin",
        }
    }

    /// For `Max` and `Min`, the reduction giving the position of the extreme.
    pub fn arg(self) -> Option<Reduction> {
        match self {
            Reduction::Max => Some(Reduction::ArgMax),
            Reduction::Min => Some(Reduction::ArgMin),
            _ => None,
        }
    }
}

/// A running extreme over a range, the one definition of max and min
/// reductions and their positions: a value replaces the best so far when it
/// is strictly better (so the first extreme wins ties), or when it is NaN
/// and the best is not (NaN propagates, at its first position). The
/// generated code compiles the same comparison.
#[derive(Debug, Clone, Copy)]
pub struct Extreme {
    pub best: f64,
    pub pos: usize,
    max: bool,
}

impl Extreme {
    /// The start of a max (`max`) or min reduction: -inf or +inf at position 0.
    pub fn new(max: bool) -> Extreme {
        Extreme {
            best: if max {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            },
            pos: 0,
            max,
        }
    }

    /// Whether `x` replaces `best`.
    pub fn better(max: bool, x: f64, best: f64) -> bool {
        let strictly = if max { x > best } else { x < best };
        strictly || (x.is_nan() && !best.is_nan())
    }

    /// Takes `x`, at position `pos`, into account.
    pub fn push(&mut self, x: f64, pos: usize) {
        if Extreme::better(self.max, x, self.best) {
            self.best = x;
            self.pos = pos;
        }
    }
}

/// A scalar expression for one element of a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant (number literals, folded consts, dim sizes).
    Num(f64),
    /// `value[subs]`; a scalar value has no subscripts.
    Read {
        value: ValueId,
        subs: Vec<Sub>,
    },
    Unary {
        func: Func,
        arg: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// A reduction binding `index` (one of the owner's reduction indices) in `body`.
    Reduce {
        op: Reduction,
        index: IndexId,
        body: Box<Expr>,
    },
    /// The Kronecker delta: 1 when the two subscripts are equal, else 0. Made
    /// by autodiff for a literal subscript (`x[0]`) or a repeated one (`w[i, i]`).
    Delta(Sub, Sub),
    /// 1 where the index variable equals the position `pos` (a whole
    /// number), else 0: the derivative of a max or min reduction, `pos` a
    /// read of its argmax or argmin. Made by autodiff.
    At {
        index: IndexId,
        pos: Box<Expr>,
    },
    /// `sum(index, body * delta(scale * index, value))` computed without
    /// the loop: `body` with `index` set to `value / scale` where that is a
    /// whole number in `index`'s range, else 0. `scale` is at least 1 and
    /// `value` does not read `index`. Made by autodiff for a read at an
    /// affine subscript (`x[i + di]`), solving the subscript for one index.
    Solve {
        index: IndexId,
        scale: i64,
        value: Sub,
        body: Box<Expr>,
    },
    /// `where(cond, then, els)`: `then` where `cond` (an expression of
    /// comparisons, `and`, `or` and `not`, valued 1 or 0) is not 0, else
    /// `els`. Only the branch taken is computed; the condition has no derivative.
    Where {
        cond: Box<Expr>,
        then: Box<Expr>,
        els: Box<Expr>,
    },
    /// The value of an index variable as a number (0, 1, ...): only in the
    /// condition of a `where` (`j <= i`).
    Index(IndexId),
}

impl Expr {
    pub fn unary(func: Func, arg: Expr) -> Expr {
        Expr::Unary {
            func,
            arg: Box::new(arg),
        }
    }

    pub fn binary(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }

    pub fn select(cond: Expr, then: Expr, els: Expr) -> Expr {
        Expr::Where {
            cond: Box::new(cond),
            then: Box::new(then),
            els: Box::new(els),
        }
    }

    /// Calls `f` on every read, in preorder (left to right): the order that
    /// numbers the read occurrences of a right-hand side.
    pub fn for_each_read(&self, f: &mut impl FnMut(ValueId, &[Sub])) {
        match self {
            Expr::Num(_) | Expr::Delta(..) | Expr::Index(_) => {}
            Expr::Read { value, subs } => f(*value, subs),
            Expr::Unary { arg, .. } => arg.for_each_read(f),
            Expr::Binary { lhs, rhs, .. } => {
                lhs.for_each_read(f);
                rhs.for_each_read(f);
            }
            Expr::Reduce { body, .. } => body.for_each_read(f),
            Expr::At { pos, .. } => pos.for_each_read(f),
            Expr::Solve { body, .. } => body.for_each_read(f),
            Expr::Where { cond, then, els } => {
                cond.for_each_read(f);
                then.for_each_read(f);
                els.for_each_read(f);
            }
        }
    }

    /// Calls `f` on every constant, in preorder.
    pub fn for_each_num(&self, f: &mut impl FnMut(f64)) {
        match self {
            Expr::Num(x) => f(*x),
            Expr::Read { .. } | Expr::Delta(..) | Expr::Index(_) => {}
            Expr::Unary { arg, .. } => arg.for_each_num(f),
            Expr::Binary { lhs, rhs, .. } => {
                lhs.for_each_num(f);
                rhs.for_each_num(f);
            }
            Expr::Reduce { body, .. } => body.for_each_num(f),
            Expr::At { pos, .. } => pos.for_each_num(f),
            Expr::Solve { body, .. } => body.for_each_num(f),
            Expr::Where { cond, then, els } => {
                cond.for_each_num(f);
                then.for_each_num(f);
                els.for_each_num(f);
            }
        }
    }
}

/// What a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Data given at call time.
    Input,
    /// A parameter: differentiated by default.
    Param,
    /// A definition written by the user.
    Def,
    /// The loss (a scalar definition).
    Loss,
    /// A compiler temporary: a subterm used more than once, hoisted.
    Temp,
    /// The adjoint dE/dv of a value v: a sum of one chain-rule product per use.
    Adjoint,
    /// The value of a recurrent definition at a step before its first
    /// (`init h[-1, j] = EXPR`): the dimensions after the time index.
    Init,
}

impl ValueKind {
    pub fn describe(self) -> &'static str {
        match self {
            ValueKind::Input => "input",
            ValueKind::Param => "param",
            ValueKind::Def => "definition",
            ValueKind::Loss => "loss",
            ValueKind::Temp => "temporary",
            ValueKind::Adjoint => "adjoint",
            ValueKind::Init => "init",
        }
    }
}

/// Where a value comes from, so later stages can point back at the source.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Declared or defined in the source, at this span.
    Source(Span),
    /// A subterm hoisted by the compiler; the span of its first occurrence.
    Hoisted(Span),
    /// The adjoint of `of`: one chain-rule product per use, each use a
    /// reader and the read's occurrence number in the reader's right-hand side.
    Adjoint {
        of: ValueId,
        uses: Vec<(ValueId, u32)>,
    },
}

impl Origin {
    /// The source span it points back at; for an adjoint, none of its own.
    pub fn span(&self) -> Span {
        match self {
            Origin::Source(s) | Origin::Hoisted(s) => *s,
            Origin::Adjoint { .. } => Span::default(),
        }
    }
}

/// A tensor value: an input, a param, a definition, the loss or a temporary.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub name: String,
    pub kind: ValueKind,
    /// The sizes of its dimensions, row-major; empty for a scalar.
    pub shape: Vec<Extent>,
    /// Index variables: the first `shape.len()` are the left-hand side's, the
    /// rest are bound by reductions in `rhs`. Empty for inputs and params.
    pub indices: Vec<IndexVar>,
    /// The right-hand side, for definitions, the loss and temporaries.
    pub rhs: Option<Expr>,
    pub origin: Origin,
}

impl Value {
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// The number of scalars it holds.
    pub fn len(&self) -> usize {
        self.shape.iter().map(|e| e.size).product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `w1[M, D]`, or `E` for a scalar.
    pub fn declared(&self) -> String {
        if self.shape.is_empty() {
            return self.name.clone();
        }
        let dims: Vec<String> = self.shape.iter().map(|e| e.to_string()).collect();
        format!("{}[{}]", self.name, dims.join(", "))
    }

    /// `a1[j]`: the name with its left-hand index variables.
    pub fn head(&self) -> String {
        if self.shape.is_empty() || self.indices.len() < self.shape.len() {
            return self.declared();
        }
        let names: Vec<&str> = self.indices[..self.rank()]
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        format!("{}[{}]", self.name, names.join(", "))
    }
}

/// A dim: a named size. A run-time dim (`dim N`, no size written) is
/// symbolic in the language; a checked program is always instantiated at
/// one size of it (`size`), given by the caller or `DEFAULT_RUNTIME_SIZE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dim {
    pub name: String,
    pub size: usize,
    pub span: Span,
    /// Written without a size: given at run time.
    pub runtime: bool,
}

/// The sizes of run-time dims a program is instantiated at, by name.
pub type Sizes = std::collections::BTreeMap<String, usize>;

/// The size a run-time dim takes when none is given (`check`, `explain`,
/// `graph`): small, but more than 1, so that sums over it add several terms.
pub const DEFAULT_RUNTIME_SIZE: usize = 3;

/// A const, folded to its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Const {
    pub name: String,
    pub value: f64,
    pub span: Span,
}

/// A checked program: the output of sema, and the values of the DAG.
///
/// `values` is in a topological order: every value is read only by values
/// after it (declarations and definitions in source order, each temporary
/// just before its first reader).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Program {
    pub dims: Vec<Dim>,
    pub consts: Vec<Const>,
    pub values: Vec<Value>,
    pub loss: ValueId,
    pub outputs: Vec<ValueId>,
    /// The recurrences, in source order of their first members.
    pub recurrences: Vec<Recurrence>,
}

/// A recurrence: definitions that read each other at earlier steps of
/// their first index (`h[t - 1, i]`), a strongly connected component of
/// the read graph with those lag reads included. A lag read stays an
/// ordinary `Expr::Read` whose first subscript is the affine form `t - k`
/// of the reader's first index variable (`IndexId(0)`); what makes it a lag
/// read is that reader and value are members of one recurrence. At
/// `t - k < 0` it reads the member's init value for step `t - k` instead.
#[derive(Debug, Clone, PartialEq)]
pub struct Recurrence {
    /// The members in value order, which is their order within one step
    /// (a read at the same step is of an earlier member). Each one's first
    /// dimension is the time, over `steps`.
    pub members: Vec<ValueId>,
    /// The range of the time index.
    pub steps: Extent,
    /// For each member (by position in `members`), its init values:
    /// `inits[m][k - 1]` is the value at step `-k`, a value of kind
    /// `ValueKind::Init` whose shape is the member's without the time.
    /// There is one for every step a lag read reaches before the start.
    pub inits: Vec<Vec<ValueId>>,
    /// Where the recurrence is written: its first member's definition.
    pub span: Span,
}

impl Recurrence {
    /// The position of `v` among the members.
    pub fn member(&self, v: ValueId) -> Option<usize> {
        self.members.iter().position(|m| *m == v)
    }

    /// The same recurrence with every value id mapped through `f`.
    pub fn remap(&self, f: impl Fn(ValueId) -> ValueId) -> Recurrence {
        Recurrence {
            members: self.members.iter().map(|m| f(*m)).collect(),
            steps: self.steps.clone(),
            inits: self
                .inits
                .iter()
                .map(|i| i.iter().map(|v| f(*v)).collect())
                .collect(),
            span: self.span,
        }
    }
}

/// One item of the order of evaluation ([`Program::schedule`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A value outside every recurrence, computed whole.
    Value(ValueId),
    /// A recurrence (by position in `Program::recurrences`): for each step
    /// of time in ascending order, each member's elements at that step.
    Recurrence(usize),
}

impl Program {
    /// The order of evaluation: every value outside recurrences, and each
    /// recurrence as one item once every value it reads (its inits
    /// included) is computed, before any value that reads it. Values keep
    /// their order where the dependences allow; without recurrences this is
    /// the values in order.
    pub fn schedule(&self) -> Vec<Step> {
        if self.recurrences.is_empty() {
            return self.ids().map(Step::Value).collect();
        }
        let n = self.values.len();
        // Each value's node: its own, or its recurrence's (n + r).
        let mut node: Vec<usize> = (0..n).collect();
        for (r, rec) in self.recurrences.iter().enumerate() {
            for m in &rec.members {
                node[m.index()] = n + r;
            }
        }
        let nodes = n + self.recurrences.len();
        let mut succ: Vec<Vec<usize>> = vec![Vec::new(); nodes];
        let mut preds = vec![0usize; nodes];
        let mut edge = |from: usize, to: usize, succ: &mut Vec<Vec<usize>>| {
            if from != to {
                succ[from].push(to);
                preds[to] += 1;
            }
        };
        for (i, v) in self.values.iter().enumerate() {
            if let Some(rhs) = &v.rhs {
                rhs.for_each_read(&mut |u, _| edge(node[u.index()], node[i], &mut succ));
            }
        }
        for (r, rec) in self.recurrences.iter().enumerate() {
            for init in rec.inits.iter().flatten() {
                edge(node[init.index()], n + r, &mut succ);
            }
        }
        // Kahn's algorithm, the ready node of the smallest first value first.
        let first = |k: usize| {
            if k < n {
                k
            } else {
                self.recurrences[k - n].members[0].index()
            }
        };
        let mut ready: std::collections::BTreeSet<(usize, usize)> = (0..nodes)
            .filter(|&k| preds[k] == 0 && (k >= n || node[k] == k))
            .map(|k| (first(k), k))
            .collect();
        let mut out = Vec::with_capacity(nodes);
        while let Some((_, k)) = ready.pop_first() {
            out.push(if k < n {
                Step::Value(ValueId(k as u32))
            } else {
                Step::Recurrence(k - n)
            });
            for &s in &succ[k] {
                preds[s] -= 1;
                if preds[s] == 0 {
                    ready.insert((first(s), s));
                }
            }
        }
        out
    }

    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.index()]
    }

    pub fn ids(&self) -> impl DoubleEndedIterator<Item = ValueId> {
        (0..self.values.len() as u32).map(ValueId)
    }

    /// The run-time dims, in declaration order.
    pub fn runtime_dims(&self) -> impl Iterator<Item = &Dim> {
        self.dims.iter().filter(|d| d.runtime)
    }

    /// Whether an extent is a run-time dim.
    pub fn is_runtime(&self, e: &Extent) -> bool {
        e.dim
            .as_deref()
            .is_some_and(|n| self.dims.iter().any(|d| d.runtime && d.name == n))
    }

    /// The sizes this program's run-time dims were instantiated at.
    pub fn sizes(&self) -> Sizes {
        self.runtime_dims()
            .map(|d| (d.name.clone(), d.size))
            .collect()
    }
}
