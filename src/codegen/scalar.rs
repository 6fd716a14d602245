//! Elementwise expressions of the loop-nest IR: what one iteration
//! computes, with no loop and no reduction inside (a reduction is already
//! an accumulator, read as a [`Scalar::Var`]). The printer writes them
//! with the fewest parentheses (`emit.rs`); lowering splits long ones into
//! `let` temporaries first.

use super::affine::{Access, Affine, Size};

/// A scalar expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Scalar {
    /// A literal of the code's float type (`0.5_f64`, `f64::INFINITY`).
    Num(f64),
    /// A count as a float literal without suffix (`16.0`): a mean's
    /// divisor; a run-time one converted (`N as f64`).
    Count(Size),
    /// A scalar local or parameter: a value of rank 0, an accumulator, a
    /// temporary.
    Var(String),
    /// An element of a tensor, accumulator array or row.
    Load(Access),
    /// The Kronecker delta of two indices, `ops::delta(i, j)`.
    Delta(Affine, Affine),
    /// `ops::at(i, pos)`: 1 where the index is at the position `pos` (a
    /// whole number), else 0; the derivative of a max or min reduction.
    At(Affine, Box<Scalar>),
    Unary(Unary, Box<Scalar>),
    Binary(Binary, Box<Scalar>, Box<Scalar>),
    /// `x.powi(n)`: a power with a small integer exponent.
    Powi(Box<Scalar>, i32),
    /// An index variable as a number: `(i as f64)`.
    Index(Affine),
    /// `if cond { then } else { otherwise }`: the condition a comparison,
    /// `&&`, `||` or `!` (a `bool`), only the branch taken computed.
    Select(Box<Scalar>, Box<Scalar>, Box<Scalar>),
    /// The operand of a logsumexp's shift (`x - max`), parenthesised unless
    /// it binds at least as tightly as a product.
    Shifted(Box<Scalar>),
}

/// A function of one argument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Unary {
    Neg,
    /// A float function, by std's method name (`exp`, `ln`, `tanh`, ...):
    /// std's method or the `libm` function.
    Math(&'static str),
    /// A helper of the module's `ops` (`sigmoid`, `relu`, `step`, ...).
    Ops(&'static str),
    /// `!c`, of a condition bound to a local (`!t1`).
    Not,
}

/// An operation of two arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    /// `x.powf(y)`.
    Powf,
    /// `ops::max(x, y)`, `ops::min(x, y)`.
    Max,
    Min,
    /// `ops::xlogy(x, y)`: x · ln y, 0 where x is 0.
    XLogY,
    /// Conditions (`bool`): the comparisons of two numbers, and `&&`, `||`
    /// of two conditions.
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl Scalar {
    pub(super) fn unary(op: Unary, x: Scalar) -> Scalar {
        Scalar::Unary(op, Box::new(x))
    }

    pub(super) fn binary(op: Binary, x: Scalar, y: Scalar) -> Scalar {
        Scalar::Binary(op, Box::new(x), Box::new(y))
    }
}
