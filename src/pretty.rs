//! Printing IR expressions in the user's notation, with as few parentheses as the grammar allows.

use crate::ir::{BinOp, Expr, Func, Program, Reduction, Sub, Value};

/// Formats a number the same way everywhere: integers without a fraction,
/// other numbers in the shortest form that reads back exactly.
pub fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x:?}")
    }
}

/// `expr` as the user would write it, in `owner`'s index variables.
pub fn expr(program: &Program, owner: &Value, e: &Expr) -> String {
    let mut out = String::new();
    Printer { program, owner }.write(e, 0, &mut out);
    out
}

/// `a1[j] = sum(i, w1[j, i] * x[i]) + b1[j]`.
pub fn definition(program: &Program, v: &Value) -> String {
    match &v.rhs {
        Some(rhs) => format!("{} = {}", v.head(), expr(program, v, rhs)),
        None => v.declared(),
    }
}

/// Binding strength: higher binds tighter.
const ADD: u8 = 1;
const MUL: u8 = 2;
const NEG: u8 = 3;
const POW: u8 = 4;
const ATOM: u8 = 5;

struct Printer<'a> {
    program: &'a Program,
    owner: &'a Value,
}

impl Printer<'_> {
    fn index(&self, s: &Sub) -> String {
        match s {
            Sub::Var(v) => self.owner.indices[v.index()].name.clone(),
            Sub::Lit(n) => n.to_string(),
        }
    }

    fn strength(e: &Expr) -> u8 {
        match e {
            Expr::Num(x) if *x < 0.0 || x.is_sign_negative() => NEG,
            Expr::Unary {
                func: Func::Neg, ..
            } => NEG,
            Expr::Binary {
                op: BinOp::Add | BinOp::Sub,
                ..
            } => ADD,
            Expr::Binary {
                op: BinOp::Mul | BinOp::Div,
                ..
            } => MUL,
            Expr::Binary { op: BinOp::Pow, .. } => POW,
            _ => ATOM,
        }
    }

    /// Writes `e`, parenthesised if it binds less tightly than `min`.
    fn write(&self, e: &Expr, min: u8, out: &mut String) {
        let paren = Self::strength(e) < min;
        if paren {
            out.push('(');
        }
        self.write_bare(e, out);
        if paren {
            out.push(')');
        }
    }

    fn write_bare(&self, e: &Expr, out: &mut String) {
        match e {
            Expr::Num(x) => out.push_str(&number(*x)),
            Expr::Delta(a, b) => {
                out.push_str(&format!("δ({}, {})", self.index(a), self.index(b)));
            }
            Expr::Read { value, subs } => {
                out.push_str(&self.program.value(*value).name);
                if !subs.is_empty() {
                    let subs: Vec<String> = subs.iter().map(|s| self.index(s)).collect();
                    out.push('[');
                    out.push_str(&subs.join(", "));
                    out.push(']');
                }
            }
            Expr::Unary {
                func: Func::Neg,
                arg,
            } => {
                out.push('-');
                // `-(-x)` and `-(a + b)` keep their parentheses; `-x^2` needs none.
                self.write(arg, POW, out);
            }
            Expr::Unary { func, arg } => {
                out.push_str(func.name());
                out.push('(');
                self.write(arg, 0, out);
                out.push(')');
            }
            Expr::Binary { op, lhs, rhs } => {
                let (sym, strength) = match op {
                    BinOp::Add => (" + ", ADD),
                    BinOp::Sub => (" - ", ADD),
                    BinOp::Mul => (" * ", MUL),
                    BinOp::Div => (" / ", MUL),
                    BinOp::Pow => ("^", POW),
                    BinOp::Max | BinOp::Min => {
                        out.push_str(if *op == BinOp::Max { "max(" } else { "min(" });
                        self.write(lhs, 0, out);
                        out.push_str(", ");
                        self.write(rhs, 0, out);
                        out.push(')');
                        return;
                    }
                };
                if *op == BinOp::Pow {
                    // Right-associative; the exponent may be a negation.
                    self.write(lhs, ATOM, out);
                    out.push_str(sym);
                    self.write(rhs, NEG, out);
                } else {
                    // Left-associative: the tree's shape is kept exactly.
                    self.write(lhs, strength, out);
                    out.push_str(sym);
                    self.write(rhs, strength + 1, out);
                }
            }
            Expr::Reduce { op, .. } => {
                // `sum(i, sum(j, e))` prints as `sum(i, j, e)`.
                let mut binders = Vec::new();
                let mut body = e;
                while let Expr::Reduce {
                    op: inner,
                    index,
                    body: b,
                } = body
                {
                    if inner != op {
                        break;
                    }
                    binders.push(self.owner.indices[index.index()].name.clone());
                    body = b;
                }
                out.push_str(Reduction::name(*op));
                out.push('(');
                out.push_str(&binders.join(", "));
                out.push_str(", ");
                self.write(body, 0, out);
                out.push(')');
            }
        }
    }
}
