//! Folding of constant expressions, with a diagnostic for every operation outside its domain.

use crate::diag::{Code, Diagnostic, Span};
use crate::ir::{BinOp, Func};

/// Applies `func` to a constant, or explains why it is undefined or infinite.
pub fn unary(func: Func, x: f64, span: Span) -> Result<f64, Diagnostic> {
    let y = func.apply(x);
    if y.is_finite() || !x.is_finite() {
        return Ok(y);
    }
    let name = func.name();
    let why = match func {
        Func::Log if x == 0.0 => "log(0) is minus infinity".to_string(),
        Func::Log => format!("log is defined only for positive numbers, and {x} is not"),
        Func::Sqrt => format!("sqrt is defined only for numbers >= 0, and {x} is not"),
        _ => format!("{name}({x}) overflows an f64"),
    };
    Err(domain(span, why))
}

/// Applies `op` to constants, or explains why the result is undefined or infinite.
pub fn binary(op: BinOp, a: f64, b: f64, span: Span) -> Result<f64, Diagnostic> {
    let y = op.apply(a, b);
    if y.is_finite() || !a.is_finite() || !b.is_finite() {
        return Ok(y);
    }
    let why = match op {
        BinOp::Div if b == 0.0 => "division by zero".to_string(),
        BinOp::Pow if a < 0.0 && b.fract() != 0.0 => {
            format!("a negative number ({a}) to a fractional power ({b}) is not a real number")
        }
        BinOp::Pow if a == 0.0 && b < 0.0 => format!("0 to a negative power ({b}) is infinite"),
        _ => "the result overflows an f64".to_string(),
    };
    Err(domain(span, why))
}

/// `x / 0` where the divisor is a constant but `x` is not.
pub fn division_by_zero(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::ConstDomain,
        span,
        "division by zero: the divisor is the constant 0",
    )
    .label("divided by 0")
    .help("the result would be infinite or NaN at every point")
}

fn domain(span: Span, why: String) -> Diagnostic {
    Diagnostic::error(
        Code::ConstDomain,
        span,
        format!("constant expression is undefined: {why}"),
    )
    .label("evaluated at compile time")
}
