//! Printing IR expressions in three notations with one precedence logic: the
//! `.net` source syntax, Unicode math for terminals, and LaTeX.
//!
//! What users read (`check`, `explain`, DOT) never names a compiler
//! temporary: a read of one is written out as the subterm it stands for, in
//! the reader's index variables (`expr_in`, `read_in`, `shown_definition`).
//! Only `expr` and `definition`, for generated code, keep the internal names.

use std::cell::RefCell;

use crate::ir::{BinOp, Expr, Func, IndexId, Origin, Program, Reduction, Sub, Value, ValueKind};

/// How expressions are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notation {
    /// The `.net` syntax: `sum(i, w[j, i] * x[i])`.
    Source,
    /// Math for terminals: `Σ_i w[j, i] · x[i]`.
    Unicode,
    /// LaTeX math mode: `\sum_{i} w_{j,i} \cdot x_{i}`.
    Latex,
}

/// Formats a number the same way everywhere: integers without a fraction,
/// other numbers in the shortest form that reads back exactly.
pub fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x:?}")
    }
}

/// `expr` in the `.net` syntax, in `owner`'s index variables, temporaries
/// by their internal names: for generated code.
pub fn expr(program: &Program, owner: &Value, e: &Expr) -> String {
    let mut out = String::new();
    Printer::new(Notation::Source, program, owner, false).write(e, 0, &mut out);
    out
}

/// `expr` in a notation, in `owner`'s index variables, temporaries written out.
pub fn expr_in(notation: Notation, program: &Program, owner: &Value, e: &Expr) -> String {
    let mut out = String::new();
    Printer::new(notation, program, owner, true).write(e, 0, &mut out);
    out
}

/// `a1[j] = sum(i, w1[j, i] * x[i]) + b1[j]`, temporaries by their internal
/// names: for comments in generated code.
pub fn definition(program: &Program, v: &Value) -> String {
    match &v.rhs {
        Some(rhs) => format!("{} = {}", v.head(), expr(program, v, rhs)),
        None => v.declared(),
    }
}

/// A definition as users read it: `a1[j] = sum(i, w1[j, i] * x[i]) + b1[j]`,
/// temporaries written out, an adjoint named `∂E/∂v[j]`. A temporary itself
/// is shown as the subterm it stands for.
pub fn shown_definition(program: &Program, v: &Value) -> String {
    let subs: Vec<Sub> = (0..v.rank() as u32).map(|i| Sub::Var(IndexId(i))).collect();
    match (&v.rhs, v.kind) {
        (Some(rhs), ValueKind::Temp) => expr_in(Notation::Source, program, v, rhs),
        (Some(rhs), _) => format!(
            "{} = {}",
            read_in(Notation::Source, program, v, v, &subs),
            expr_in(Notation::Source, program, v, rhs)
        ),
        (None, _) => v.declared(),
    }
}

/// [`expr_in`], but a temporary written out inside another one that is
/// written out is `…` unless it is small (see [`SHOWN_NESTED`]): explain's
/// backward section names the adjoint of a piece of a long expression by the
/// piece, and writing every piece out with all the pieces inside it would
/// make its text grow with the square of the expression's depth. The forward
/// definitions show everything.
pub fn expr_brief(notation: Notation, program: &Program, owner: &Value, e: &Expr) -> String {
    let mut out = String::new();
    let mut p = Printer::new(notation, program, owner, true);
    p.brief = true;
    p.write(e, 0, &mut out);
    out
}

/// [`read_in`] with [`expr_brief`]'s elision.
pub fn read_brief(
    notation: Notation,
    program: &Program,
    owner: &Value,
    value: &Value,
    subs: &[Sub],
) -> String {
    let mut p = Printer::new(notation, program, owner, true);
    p.brief = true;
    p.read_named(value, subs)
}

/// The most expression nodes a temporary written out inside another one may
/// have and still be shown in brief (when it reads no temporary itself).
pub const SHOWN_NESTED: usize = 16;

/// A read of `value[subs]` in a notation: `w1[j, i]`, `w1_{j,i}`, and for an
/// adjoint in LaTeX `\frac{\partial E}{\partial w1_{j,i}}`. A temporary is
/// the subterm it stands for, in parentheses unless it is an atom:
/// `(1 − y[n])`, `∂E/∂(1 − y[n])`.
pub fn read_in(
    notation: Notation,
    program: &Program,
    owner: &Value,
    value: &Value,
    subs: &[Sub],
) -> String {
    let p = Printer::new(notation, program, owner, true);
    p.read_named(value, subs)
}

/// An index variable, literal or affine subscript of `owner`, in a notation.
pub fn index_in(notation: Notation, owner: &Value, s: &Sub) -> String {
    match (s, notation) {
        (Sub::Var(v), Notation::Latex) => latex_name(&owner.indices[v.index()].name),
        (Sub::Var(v), _) => owner.indices[v.index()].name.clone(),
        (Sub::Lit(n), _) => n.to_string(),
        (Sub::Affine(a), _) => affine_in(notation, a, |v| index_in(notation, owner, &Sub::Var(v))),
    }
}

/// `2 * i + di - 1` in source, `2·i + di − 1` in Unicode, `2 i + di - 1`
/// in LaTeX; a variable's name in parentheses where it is itself a sum.
fn affine_in(
    notation: Notation,
    a: &crate::ir::Affine,
    name: impl Fn(IndexId) -> String,
) -> String {
    let (times, minus) = match notation {
        Notation::Source => (" * ", "-"),
        Notation::Unicode => ("·", "−"),
        Notation::Latex => (" ", "-"),
    };
    a.show(
        |v| {
            let n = name(v);
            if n.contains(' ') {
                format!("({n})")
            } else {
                n
            }
        },
        times,
        minus,
    )
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
    notation: Notation,
    /// Whether a read of a temporary is written out as its subterm.
    inline: bool,
    /// The owner's index variables as written, in the notation: their names,
    /// or, for a temporary written out, the reader's subscripts first.
    names: Vec<String>,
    /// The index names bound where the printer is: the left-hand side's, then
    /// the enclosing reductions'. A temporary written out here renames its
    /// own reduction indices away from them.
    scope: RefCell<Vec<String>>,
    /// Whether a large temporary inside a temporary written out is `…`.
    brief: bool,
}

/// Text that goes into a one-line comment of generated output (the
/// `// @generated` stamp of generated Rust, the `%` header of LaTeX): control
/// characters (a newline would end the comment) are written as `\u{..}`
/// escapes, and `*/` as `*\/`, so no text can leave the comment.
pub fn comment_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}') {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.replace("*/", "*\\/")
}

/// A size in the notation: a dim's name (escaped in LaTeX) or the number.
pub fn extent_in(notation: Notation, e: &crate::ir::Extent) -> String {
    match (&e.dim, notation) {
        (Some(d), Notation::Latex) => latex_name(d),
        _ => e.to_string(),
    }
}

/// A name in LaTeX: one letter as it is, a longer name upright-italic as a word.
fn latex_name(name: &str) -> String {
    let escaped = name.replace('_', "\\_");
    if name.chars().count() == 1 {
        escaped
    } else {
        format!("\\mathit{{{escaped}}}")
    }
}

impl<'a> Printer<'a> {
    fn new(notation: Notation, program: &'a Program, owner: &'a Value, inline: bool) -> Self {
        let names: Vec<String> = (0..owner.indices.len() as u32)
            .map(|i| index_in(notation, owner, &Sub::Var(IndexId(i))))
            .collect();
        let scope = RefCell::new(names[..owner.rank().min(names.len())].to_vec());
        Printer {
            program,
            owner,
            notation,
            inline,
            names,
            scope,
            brief: false,
        }
    }

    fn index(&self, s: &Sub) -> String {
        match s {
            Sub::Var(v) => self.names[v.index()].clone(),
            Sub::Lit(n) => n.to_string(),
            Sub::Affine(a) => affine_in(self.notation, a, |v| self.names[v.index()].clone()),
        }
    }

    /// The temporary `t` read as `t[subs]`, written out: a printer for its
    /// right-hand side whose free index variables are the reader's
    /// subscripts, and whose own reduction indices are primed where they
    /// would clash with a name the reader uses.
    fn inlined(&self, t: &'a Value, subs: &[Sub]) -> Option<(Printer<'a>, &'a Expr)> {
        if self.elided(t).is_some() {
            return None; // `read_named` writes the `…`
        }
        let rhs = t
            .rhs
            .as_ref()
            .filter(|_| self.inline && t.kind == ValueKind::Temp)?;
        let mut names: Vec<String> = subs.iter().map(|s| self.index(s)).collect();
        let scope = self.scope.borrow().clone();
        for k in names.len()..t.indices.len() {
            let mut name = index_in(self.notation, t, &Sub::Var(IndexId(k as u32)));
            while scope.contains(&name) || names.contains(&name) {
                name.push('\'');
            }
            names.push(name);
        }
        let p = Printer {
            program: self.program,
            owner: t,
            notation: self.notation,
            inline: true,
            names,
            scope: RefCell::new(scope),
            brief: self.brief,
        };
        Some((p, rhs))
    }

    /// A read standing alone, as a name: a temporary written out is
    /// parenthesised unless it is an atom, and an adjoint of one is `∂E/∂(...)`.
    fn read_named(&self, value: &'a Value, subs: &[Sub]) -> String {
        if let Some(dots) = self.elided(value) {
            return dots.to_string();
        }
        if let Some((p, rhs)) = self.inlined(value, subs) {
            let mut out = String::new();
            p.write(rhs, ATOM, &mut out);
            return out;
        }
        match (&value.origin, value.kind) {
            (Origin::Adjoint { of, .. }, ValueKind::Adjoint)
                if self.inline && self.program.value(*of).kind == ValueKind::Temp =>
            {
                let loss = self.program.value(self.program.loss);
                let of = self.read_named(self.program.value(*of), subs);
                match self.notation {
                    Notation::Latex => format!(
                        "\\frac{{\\partial {}}}{{\\partial {of}}}",
                        latex_name(&loss.name)
                    ),
                    _ => format!("∂{}/∂{of}", loss.name),
                }
            }
            _ => self.read(value, subs),
        }
    }

    /// `…` for a temporary that brief text does not write out: one read
    /// inside a temporary written out, that reads a temporary itself or has
    /// more than [`SHOWN_NESTED`] nodes.
    fn elided(&self, t: &Value) -> Option<&'static str> {
        if !(self.brief
            && self.inline
            && self.owner.kind == ValueKind::Temp
            && t.kind == ValueKind::Temp)
        {
            return None;
        }
        // Counts nodes up to the limit; a read of a temporary counts as many.
        fn count(p: &Program, e: &Expr, left: &mut usize) {
            if *left == 0 {
                return;
            }
            *left -= 1;
            match e {
                Expr::Num(_) | Expr::Delta(..) | Expr::Index(_) => {}
                Expr::Where { cond, then, els } => {
                    count(p, cond, left);
                    count(p, then, left);
                    count(p, els, left);
                }
                Expr::Read { value, .. } if p.value(*value).kind == ValueKind::Temp => *left = 0,
                Expr::Read { .. } => {}
                Expr::Unary { arg, .. } => count(p, arg, left),
                Expr::Binary { lhs, rhs, .. } => {
                    count(p, lhs, left);
                    count(p, rhs, left);
                }
                Expr::Reduce { body, .. } => count(p, body, left),
                Expr::At { pos, .. } => count(p, pos, left),
                Expr::Solve { body, .. } => count(p, body, left),
            }
        }
        let mut left = SHOWN_NESTED + 1;
        count(self.program, t.rhs.as_ref()?, &mut left);
        if left > 0 {
            return None;
        }
        Some(if self.notation == Notation::Latex {
            "\\ldots"
        } else {
            "…"
        })
    }

    fn read(&self, value: &Value, subs: &[Sub]) -> String {
        let subs: Vec<String> = subs.iter().map(|s| self.index(s)).collect();
        match self.notation {
            Notation::Source | Notation::Unicode => {
                if subs.is_empty() {
                    value.name.clone()
                } else {
                    format!("{}[{}]", value.name, subs.join(", "))
                }
            }
            Notation::Latex => {
                let sub = if subs.is_empty() {
                    String::new()
                } else {
                    format!("_{{{}}}", subs.join(","))
                };
                match (&value.origin, value.kind) {
                    (Origin::Adjoint { of, .. }, ValueKind::Adjoint) => {
                        let loss = latex_name(&self.program.value(self.program.loss).name);
                        let of = latex_name(&self.program.value(*of).name);
                        format!("\\frac{{\\partial {loss}}}{{\\partial {of}{sub}}}")
                    }
                    _ => format!("{}{sub}", latex_name(&value.name)),
                }
            }
        }
    }

    fn strength(&self, e: &Expr) -> u8 {
        match e {
            Expr::Read { value, subs } => match self.inlined(self.program.value(*value), subs) {
                Some((p, rhs)) => p.strength(rhs),
                None => ATOM,
            },
            Expr::Num(x) if x.is_sign_negative() => NEG,
            Expr::Unary {
                func: Func::Neg, ..
            } => NEG,
            Expr::Binary {
                op: BinOp::Add | BinOp::Sub,
                ..
            } => ADD,
            Expr::Binary { op: BinOp::Div, .. } if self.notation == Notation::Latex => ATOM,
            Expr::Binary {
                op: BinOp::Mul | BinOp::Div,
                ..
            } => MUL,
            Expr::Binary { op: BinOp::Pow, .. } => POW,
            // A condition binds less tightly than any arithmetic.
            Expr::Binary { op, .. } if op.is_condition() => 0,
            Expr::Unary {
                func: Func::Not, ..
            } => 0,
            _ => ATOM,
        }
    }

    /// Writes a condition (`j <= i and not x[i] > 0`), parenthesised if it
    /// binds less tightly than `min`: `or` (0), `and` (1), `not` (2), a
    /// comparison (3). Anything else is a number compared (`c != 0`).
    fn write_cond(&self, e: &Expr, min: u8, out: &mut String) {
        let latex = self.notation == Notation::Latex;
        let strength = match e {
            Expr::Binary { op: BinOp::Or, .. } => 0,
            Expr::Binary { op: BinOp::And, .. } => 1,
            Expr::Unary {
                func: Func::Not, ..
            } => 2,
            _ => 3,
        };
        let paren = strength < min;
        if paren {
            out.push_str(if latex { "\\left(" } else { "(" });
        }
        match e {
            Expr::Binary {
                op: op @ (BinOp::And | BinOp::Or),
                lhs,
                rhs,
            } => {
                let sym = match (op, self.notation) {
                    (BinOp::And, Notation::Source) => " and ",
                    (BinOp::And, Notation::Unicode) => " ∧ ",
                    (BinOp::And, Notation::Latex) => " \\land ",
                    (_, Notation::Source) => " or ",
                    (_, Notation::Unicode) => " ∨ ",
                    (_, Notation::Latex) => " \\lor ",
                };
                self.write_cond(lhs, strength, out);
                out.push_str(sym);
                self.write_cond(rhs, strength + 1, out);
            }
            Expr::Unary {
                func: Func::Not,
                arg,
            } => {
                out.push_str(match self.notation {
                    Notation::Source => "not ",
                    Notation::Unicode => "¬",
                    Notation::Latex => "\\lnot ",
                });
                self.write_cond(arg, 2, out);
            }
            Expr::Binary { op, lhs, rhs } if op.is_condition() => {
                let sym = match (op, self.notation) {
                    (BinOp::Lt, Notation::Latex) => " < ",
                    (BinOp::Gt, Notation::Latex) => " > ",
                    (BinOp::Le, Notation::Unicode) => " ≤ ",
                    (BinOp::Le, Notation::Latex) => " \\leq ",
                    (BinOp::Ge, Notation::Unicode) => " ≥ ",
                    (BinOp::Ge, Notation::Latex) => " \\geq ",
                    (BinOp::Eq, Notation::Unicode | Notation::Latex) => " = ",
                    (BinOp::Ne, Notation::Unicode) => " ≠ ",
                    (BinOp::Ne, Notation::Latex) => " \\neq ",
                    (op, _) => match op.condition_symbol() {
                        Some("<") => " < ",
                        Some(">") => " > ",
                        Some("<=") => " <= ",
                        Some(">=") => " >= ",
                        Some("==") => " == ",
                        _ => " != ",
                    },
                };
                self.write(lhs, ADD, out);
                out.push_str(sym);
                self.write(rhs, ADD, out);
            }
            // A number used as a condition: true where it is not 0.
            other => {
                self.write(other, ADD, out);
                out.push_str(match self.notation {
                    Notation::Source => " != 0",
                    Notation::Unicode => " ≠ 0",
                    Notation::Latex => " \\neq 0",
                });
            }
        }
        if paren {
            out.push_str(if latex { "\\right)" } else { ")" });
        }
    }

    /// Writes `e`, parenthesised if it binds less tightly than `min`.
    fn write(&self, e: &Expr, min: u8, out: &mut String) {
        let paren = self.strength(e) < min;
        let (open, close) = if self.notation == Notation::Latex {
            ("\\left(", "\\right)")
        } else {
            ("(", ")")
        };
        if paren {
            out.push_str(open);
        }
        self.write_bare(e, out);
        if paren {
            out.push_str(close);
        }
    }

    /// Writes the left operand of a binary operator. `Σ_i x` reaches as far
    /// right as the product it starts, as in textbooks: an operand that ends
    /// in a Σ is parenthesised before `·`, `/` or `^`, which it would swallow.
    fn write_left(&self, e: &Expr, min: u8, op: BinOp, out: &mut String) {
        let swallows = !matches!(op, BinOp::Add | BinOp::Sub)
            && self.notation != Notation::Source
            && self.ends_with_sum(e);
        self.write(e, if swallows { ATOM + 1 } else { min }, out);
    }

    fn call(&self, name: &str, args: &[&Expr], out: &mut String) {
        let latex = self.notation == Notation::Latex;
        out.push_str(name);
        out.push_str(if latex { "\\left(" } else { "(" });
        for (k, a) in args.iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            self.write(a, 0, out);
        }
        out.push_str(if latex { "\\right)" } else { ")" });
    }

    fn func_name(&self, func: Func) -> String {
        match self.notation {
            Notation::Source | Notation::Unicode => func.name().to_string(),
            Notation::Latex => match func {
                Func::Exp | Func::Log | Func::Tanh | Func::Sin | Func::Cos => {
                    format!("\\{}", func.name())
                }
                Func::Sigmoid => "\\sigma".to_string(),
                _ => format!("\\operatorname{{{}}}", func.name()),
            },
        }
    }

    fn write_bare(&self, e: &Expr, out: &mut String) {
        let latex = self.notation == Notation::Latex;
        match e {
            Expr::Num(x) => out.push_str(&number(*x)),
            Expr::Binary { op, .. } if op.is_condition() => self.write_cond(e, 0, out),
            Expr::Unary {
                func: Func::Not, ..
            } => self.write_cond(e, 0, out),
            Expr::Delta(a, b) => match self.notation {
                Notation::Latex => {
                    out.push_str(&format!("\\delta_{{{},{}}}", self.index(a), self.index(b)))
                }
                _ => out.push_str(&format!("δ({}, {})", self.index(a), self.index(b))),
            },
            Expr::Read { value, subs } => {
                let value = self.program.value(*value);
                match self.inlined(value, subs) {
                    Some((p, rhs)) => p.write_bare(rhs, out),
                    None => out.push_str(&self.read_named(value, subs)),
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
            Expr::Unary {
                func: Func::Sqrt,
                arg,
            } if latex => {
                out.push_str("\\sqrt{");
                self.write(arg, 0, out);
                out.push('}');
            }
            Expr::Unary {
                func: Func::Abs,
                arg,
            } if self.notation != Notation::Source => {
                out.push_str(if latex { "\\left|" } else { "|" });
                self.write(arg, 0, out);
                out.push_str(if latex { "\\right|" } else { "|" });
            }
            Expr::Unary { func, arg } => self.call(&self.func_name(*func), &[arg], out),
            Expr::Binary {
                op: op @ (BinOp::Max | BinOp::Min | BinOp::XLogY),
                lhs,
                rhs,
            } => {
                let name = match (op, latex) {
                    (BinOp::Max, true) => "\\max",
                    (BinOp::Max, false) => "max",
                    (BinOp::Min, true) => "\\min",
                    (BinOp::Min, false) => "min",
                    (_, true) => "\\operatorname{xlogy}",
                    (_, false) => "xlogy",
                };
                self.call(name, &[lhs, rhs], out);
            }
            Expr::Binary {
                op: BinOp::Div,
                lhs,
                rhs,
            } if latex => {
                out.push_str("\\frac{");
                self.write(lhs, 0, out);
                out.push_str("}{");
                self.write(rhs, 0, out);
                out.push('}');
            }
            Expr::Binary {
                op: BinOp::Pow,
                lhs,
                rhs,
            } => {
                // Right-associative; the exponent may be a negation.
                self.write_left(lhs, ATOM, BinOp::Pow, out);
                match (self.notation, &**rhs) {
                    (Notation::Latex, _) => {
                        out.push_str("^{");
                        self.write(rhs, 0, out);
                        out.push('}');
                    }
                    (Notation::Unicode, Expr::Num(x)) if *x == 2.0 => out.push('²'),
                    (Notation::Unicode, Expr::Num(x)) if *x == 3.0 => out.push('³'),
                    _ => {
                        out.push('^');
                        self.write(rhs, NEG, out);
                    }
                }
            }
            Expr::Binary { op, lhs, rhs } => {
                let (sym, strength) = match (op, self.notation) {
                    (BinOp::Add, _) => (" + ", ADD),
                    (BinOp::Sub, Notation::Unicode) => (" − ", ADD),
                    (BinOp::Sub, _) => (" - ", ADD),
                    (BinOp::Mul, Notation::Source) => (" * ", MUL),
                    (BinOp::Mul, Notation::Unicode) => (" · ", MUL),
                    (BinOp::Mul, Notation::Latex) => (" \\cdot ", MUL),
                    (_, _) => (" / ", MUL),
                };
                // Left-associative: the tree's shape is kept exactly.
                self.write_left(lhs, strength, *op, out);
                out.push_str(sym);
                self.write(rhs, strength + 1, out);
            }
            Expr::Index(v) => out.push_str(&self.index(&Sub::Var(*v))),
            Expr::Where { cond, then, els } => {
                out.push_str(if latex {
                    "\\operatorname{where}\\left("
                } else {
                    "where("
                });
                self.write_cond(cond, 0, out);
                out.push_str(", ");
                self.write(then, 0, out);
                out.push_str(", ");
                self.write(els, 0, out);
                out.push_str(if latex { "\\right)" } else { ")" });
            }
            Expr::Reduce { op, .. } => self.reduction(*op, e, out),
            // The Iverson bracket: 1 where the index is at the position.
            Expr::At { index, pos } => {
                out.push_str(if latex { "\\left[" } else { "[" });
                let name = self.index(&Sub::Var(*index));
                out.push_str(&name);
                out.push_str(" = ");
                // The index is in scope in the position: a reduction
                // written out there is primed where it would clash.
                let depth = self.scope.borrow().len();
                self.scope.borrow_mut().push(name);
                self.write(pos, 0, out);
                self.scope.borrow_mut().truncate(depth);
                out.push_str(if latex { "\\right]" } else { "]" });
            }
            // The one term of a sum that a constraint leaves:
            // `Σ_{i : i = p − di} body`.
            Expr::Solve {
                index,
                scale,
                value,
                body,
            } => {
                let name = self.index(&Sub::Var(*index));
                let lhs = if *scale == 1 {
                    name.clone()
                } else {
                    let times = match self.notation {
                        Notation::Source => " * ",
                        Notation::Unicode => "·",
                        Notation::Latex => " ",
                    };
                    format!("{scale}{times}{name}")
                };
                let constraint = format!("{name} : {lhs} = {}", self.index(value));
                match self.notation {
                    Notation::Source => out.push_str(&format!("sum({constraint}, ")),
                    Notation::Unicode => out.push_str(&format!("Σ_{{{constraint}}} ")),
                    Notation::Latex => out.push_str(&format!("\\sum_{{{constraint}}} ")),
                }
                let depth = self.scope.borrow().len();
                self.scope.borrow_mut().push(name);
                let strength = if self.notation == Notation::Source {
                    0
                } else {
                    MUL
                };
                self.write(body, strength, out);
                self.scope.borrow_mut().truncate(depth);
                if self.notation == Notation::Source {
                    out.push(')');
                }
            }
        }
    }

    fn reduction(&self, op: Reduction, e: &Expr, out: &mut String) {
        // `sum(i, sum(j, e))` prints as `sum(i, j, e)`.
        let mut binders = Vec::new();
        let mut body = e;
        let mut sizes = Vec::new();
        while let Expr::Reduce {
            op: inner,
            index,
            body: b,
        } = body
        {
            if *inner != op {
                break;
            }
            binders.push(self.index(&Sub::Var(*index)));
            sizes.push(extent_in(
                self.notation,
                &self.owner.indices[index.index()].extent,
            ));
            body = b;
        }
        let depth = self.scope.borrow().len();
        self.scope.borrow_mut().extend(binders.iter().cloned());
        self.reduction_with(op, &binders, &sizes, body, out);
        self.scope.borrow_mut().truncate(depth);
    }

    fn reduction_with(
        &self,
        op: Reduction,
        binders: &[String],
        sizes: &[String],
        body: &Expr,
        out: &mut String,
    ) {
        match (self.notation, op) {
            (Notation::Source, _) => {
                out.push_str(op.name());
                out.push('(');
                out.push_str(&binders.join(", "));
                out.push_str(", ");
                self.write(body, 0, out);
                out.push(')');
            }
            (Notation::Unicode, Reduction::Sum | Reduction::Mean) => {
                if op == Reduction::Mean {
                    out.push_str(&format!("(1/{}) ", sizes.join("·")));
                }
                out.push_str(&format!("Σ_{} ", binders.join(",")));
                self.write(body, MUL, out);
            }
            (Notation::Latex, Reduction::Sum | Reduction::Mean) => {
                if op == Reduction::Mean {
                    out.push_str(&format!("\\frac{{1}}{{{}}} ", sizes.join(" \\cdot ")));
                }
                out.push_str(&format!("\\sum_{{{}}} ", binders.join(",")));
                self.write(body, MUL, out);
            }
            // logsumexp, max, min, argmax, argmin: the name with the
            // binders below it, the body in parentheses.
            (Notation::Unicode, _) => {
                out.push_str(&format!("{}_{}(", op.name(), binders.join(",")));
                self.write(body, 0, out);
                out.push(')');
            }
            (Notation::Latex, _) => {
                let name = match op {
                    Reduction::Max => "\\max".to_string(),
                    Reduction::Min => "\\min".to_string(),
                    _ => format!("\\operatorname{{{}}}", op.name()),
                };
                out.push_str(&format!("{name}_{{{}}}\\left(", binders.join(",")));
                self.write(body, 0, out);
                out.push_str("\\right)");
            }
        }
    }
}

impl Printer<'_> {
    /// Whether the last thing written for `e` is a Σ, whose body would reach on.
    fn ends_with_sum(&self, e: &Expr) -> bool {
        match e {
            Expr::Reduce { op, .. } => matches!(op, Reduction::Sum | Reduction::Mean),
            Expr::Solve { .. } => self.notation != Notation::Source,
            Expr::Read { value, subs } => self
                .inlined(self.program.value(*value), subs)
                .is_some_and(|(p, rhs)| p.ends_with_sum(rhs)),
            Expr::Binary {
                op: BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div,
                rhs,
                ..
            } => self.ends_with_sum(rhs),
            Expr::Unary {
                func: Func::Neg,
                arg,
            } => self.ends_with_sum(arg),
            _ => false,
        }
    }
}
