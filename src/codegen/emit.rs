//! The printer of the loop-nest IR (`loops.rs`): the only place that
//! writes Rust statements and expressions for loop nests, in rustfmt's
//! layout, through the indenting [`Writer`]. It decides nothing: names,
//! temporaries and loop order come from lowering.

use super::affine::{Affine, Row, Size};
use super::loops::{AccInit, AssignOp, Extent, Gemm, Matrix, Pass, Place, Reduce, Start, Stmt};
use super::scalar::{Binary, Scalar, Unary};
use super::{Generator, Writer};

/// A generated expression and how tightly it binds.
pub(super) struct Operand {
    pub(super) text: String,
    pub(super) strength: u8,
}

pub(super) const ADD: u8 = 1;
pub(super) const MUL: u8 = 2;
pub(super) const NEG: u8 = 3;
pub(super) const ATOM: u8 = 4;

impl Operand {
    pub(super) fn atom(text: String) -> Operand {
        Operand {
            text,
            strength: ATOM,
        }
    }

    /// The text, parenthesised if it binds less tightly than `min`.
    pub(super) fn at(&self, min: u8) -> String {
        if self.strength < min {
            format!("({})", self.text)
        } else {
            self.text.clone()
        }
    }
}

impl std::fmt::Display for Affine {
    /// `n * 784 + i`, `i_block * 4 + 1`, `i - 16`, `0`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let term = |name: &str, stride: &Size| {
            if stride.is_one() {
                name.to_string()
            } else {
                format!("{name} * {stride}")
            }
        };
        // Additions first, then subtractions: in `usize` every partial
        // result is at least the final value, itself at least 0.
        let mut terms: Vec<String> = self
            .terms
            .iter()
            .filter(|(_, stride)| stride.factor > 0)
            .map(|(name, stride)| term(name, stride))
            .collect();
        if self.constant > 0 || terms.is_empty() {
            let c = if self.terms.is_empty() {
                self.constant
            } else {
                self.constant.max(0)
            };
            terms.push(c.to_string());
        }
        write!(f, "{}", terms.join(" + "))?;
        for (name, stride) in self.terms.iter().filter(|(_, s)| s.factor < 0) {
            write!(f, " - {}", term(name, &stride.abs()))?;
        }
        if self.constant < 0 && !self.terms.is_empty() {
            write!(f, " - {}", self.constant.unsigned_abs())?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Size {
    /// `784`, `N`, `N * T * 3`: a product, which binds as tightly as `*`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = self.dims.clone();
        if self.factor != 1 || parts.is_empty() {
            parts.push(self.factor.to_string());
        }
        write!(f, "{}", parts.join(" * "))
    }
}

impl std::fmt::Display for Row {
    /// `x[n * 784..n * 784 + 784]`, or `x[0..784]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (array, start, n) = (&self.array, self.start.to_string(), &self.len);
        if start == "0" {
            write!(f, "{array}[0..{n}]")
        } else {
            write!(f, "{array}[{start}..{start} + {n}]")
        }
    }
}

impl Generator<'_> {
    /// A float literal of the generated type.
    pub(super) fn literal(&self, x: f64) -> Operand {
        let real = self.float.name();
        let text = if x.is_infinite() {
            format!(
                "{real}::{}",
                if x > 0.0 { "INFINITY" } else { "NEG_INFINITY" }
            )
        } else if x.is_nan() {
            format!("{real}::NAN")
        } else {
            format!("{x:?}_{real}")
        };
        if x.is_sign_negative() && x.is_finite() {
            Operand {
                text,
                strength: NEG,
            }
        } else {
            Operand::atom(text)
        }
    }

    /// An expression's text and how tightly it binds.
    pub(super) fn render(&self, e: &Scalar) -> Operand {
        match e {
            Scalar::Num(x) => self.literal(*x),
            Scalar::Count(n) => match n.constant() {
                Some(n) => Operand::atom(format!("{n}.0")),
                // `as` binds tighter than `*` and `/`, less than a method call.
                None if n.dims.len() == 1 && n.factor == 1 => Operand {
                    text: format!("{n} as {}", self.float.name()),
                    strength: NEG,
                },
                None => Operand {
                    text: format!("({n}) as {}", self.float.name()),
                    strength: NEG,
                },
            },
            Scalar::Var(name) => Operand::atom(name.clone()),
            Scalar::Load(a) => Operand::atom(format!("{}[{}]", a.array, a.offset)),
            Scalar::Delta(a, b) => Operand::atom(format!("ops::delta({a}, {b})")),
            Scalar::At(i, pos) => Operand::atom(format!("ops::at({i}, {})", self.render(pos).text)),
            Scalar::Index(i) => Operand::atom(format!("({i} as {})", self.float.name())),
            // A condition, and a choice: bound to locals by lowering, never
            // an operand of arithmetic.
            Scalar::Select(c, a, b) => Operand {
                text: format!(
                    "if {} {{ {} }} else {{ {} }}",
                    self.render(c).text,
                    self.render(a).text,
                    self.render(b).text
                ),
                strength: 0,
            },
            Scalar::Unary(op, arg) => {
                let a = self.render(arg);
                match op {
                    Unary::Neg => Operand {
                        text: format!("-{}", a.at(NEG + 1)),
                        strength: NEG,
                    },
                    Unary::Math(f) => self.math(f, &a, None),
                    Unary::Ops(f) => Operand::atom(format!("ops::{f}({})", a.text)),
                    Unary::Not => Operand::atom(format!("!{}", a.at(ATOM))),
                }
            }
            Scalar::Binary(op, lhs, rhs) => {
                let (l, r) = (self.render(lhs), self.render(rhs));
                let (sign, strength) = match op {
                    Binary::Add => ("+", ADD),
                    Binary::Sub => ("-", ADD),
                    Binary::Mul => ("*", MUL),
                    Binary::Div => ("/", MUL),
                    Binary::Powf => return self.math("powf", &l, Some(&r.text)),
                    Binary::Max => {
                        return Operand::atom(format!("ops::max({}, {})", l.text, r.text))
                    }
                    Binary::Min => {
                        return Operand::atom(format!("ops::min({}, {})", l.text, r.text))
                    }
                    Binary::XLogY => {
                        return Operand::atom(format!("ops::xlogy({}, {})", l.text, r.text))
                    }
                    // Conditions bind less tightly than arithmetic: a
                    // comparison's operands need no parentheses, `&&` and
                    // `||` parenthesise what is not a comparison or a local.
                    Binary::Lt | Binary::Le | Binary::Gt | Binary::Ge | Binary::Eq | Binary::Ne => {
                        let sign = match op {
                            Binary::Lt => "<",
                            Binary::Le => "<=",
                            Binary::Gt => ">",
                            Binary::Ge => ">=",
                            Binary::Eq => "==",
                            _ => "!=",
                        };
                        return Operand {
                            text: format!("{} {sign} {}", l.at(ADD), r.at(ADD)),
                            strength: 0,
                        };
                    }
                    Binary::And | Binary::Or => {
                        let sign = if *op == Binary::And { "&&" } else { "||" };
                        let side = |s: &Scalar, o: &Operand| match s {
                            Scalar::Binary(Binary::And | Binary::Or, ..) => format!("({})", o.text),
                            _ => o.text.clone(),
                        };
                        return Operand {
                            text: format!("{} {sign} {}", side(lhs, &l), side(rhs, &r)),
                            strength: 0,
                        };
                    }
                };
                Operand {
                    text: format!("{} {sign} {}", l.at(strength), r.at(strength + 1)),
                    strength,
                }
            }
            Scalar::Powi(x, n) => self.math("powi", &self.render(x), Some(&n.to_string())),
            Scalar::Shifted(x) => {
                let x = self.render(x);
                Operand {
                    text: x.at(ADD + 1),
                    strength: x.strength.max(ADD + 1),
                }
            }
        }
    }

    /// Prints statements.
    pub(super) fn emit(&self, w: &mut Writer, stmts: &[Stmt]) {
        let real = self.float.name();
        for stmt in stmts {
            match stmt {
                Stmt::Blank => w.blank(),
                Stmt::Comment(text) => w.line(&format!("// {text}")),
                Stmt::Alloc { name, len, heap } => {
                    if *heap {
                        w.line(&format!("let mut {name} = vec![0.0; {len}];"))
                    } else {
                        w.line(&format!("let mut {name} = [0.0; {len}];"))
                    }
                }
                Stmt::Fill(name) => w.line(&format!("{name}.fill(0.0);")),
                Stmt::Let {
                    name,
                    typed: false,
                    value: Scalar::Select(c, a, b),
                } => {
                    // rustfmt's layout: on one line when the `if` fits in
                    // 50 columns (after `=` on a line of its own when the
                    // line would pass 100), else over five.
                    let (c, a, b) = (
                        self.render(c).text,
                        self.render(a).text,
                        self.render(b).text,
                    );
                    let one = format!("if {c} {{ {a} }} else {{ {b} }}");
                    let line = format!("let {name} = {one};");
                    if one.len() <= 50 && w.level * 4 + line.len() <= 100 {
                        w.line(&line);
                    } else if one.len() <= 50 {
                        w.open(&format!("let {name} ="));
                        w.line(&format!("{one};"));
                        w.level -= 1;
                    } else {
                        w.open(&format!("let {name} = if {c} {{"));
                        w.line(&a);
                        w.level -= 1;
                        w.open("} else {");
                        w.line(&b);
                        w.level -= 1;
                        w.line("};");
                    }
                }
                Stmt::Let { name, typed, value } => {
                    let value = self.render(value).text;
                    if *typed {
                        assign(w, &format!("let {name}: {real} ="), &value)
                    } else {
                        assign(w, &format!("let {name} ="), &value)
                    }
                }
                Stmt::Index { name, value } => w.line(&format!("let {name} = {value};")),
                Stmt::Slice { name, row, mutable } => {
                    let borrow = if *mutable { "&mut " } else { "&" };
                    let mut line = format!("let {name} = {borrow}{row};");
                    let mut rest = format!("{borrow}{row};");
                    // A row that would pass 100 columns (deep in a
                    // convolution's loops) names its start once, in a
                    // local of the slice's name that the slice shadows:
                    // `let x_row = n * 196 + dj; let x_row = &x[x_row..x_row + 12];`
                    // (the same bounds check as the one-line form); then,
                    // as rustfmt lays it out, after `=` on a line of its
                    // own where that fits.
                    if w.level * 4 + line.len() > 100 {
                        w.line(&format!("let {name} = {};", row.start));
                        let short = format!("{}[{name}..{name} + {}]", row.array, row.len);
                        line = format!("let {name} = {borrow}{short};");
                        rest = format!("{borrow}{short};");
                    }
                    if w.level * 4 + line.len() > 100 && (w.level + 1) * 4 + rest.len() <= 100 {
                        w.open(&format!("let {name} ="));
                        w.line(&rest);
                        w.level -= 1;
                    } else {
                        w.line(&line);
                    }
                }
                Stmt::Acc { name, init } => w.line(&match init {
                    AccInit::Identity { op, lanes } => {
                        let zero = match op {
                            Reduce::Sum => "0.0".to_string(),
                            Reduce::Max => format!("{real}::NEG_INFINITY"),
                            Reduce::Min => format!("{real}::INFINITY"),
                        };
                        match (op, lanes) {
                            (Reduce::Sum, 1) => format!("let mut {name}: {real} = {zero};"),
                            (Reduce::Max | Reduce::Min, 1) => format!("let mut {name} = {zero};"),
                            (_, n) => format!("let mut {name}: [{real}; {n}] = [{zero}; {n}];"),
                        }
                    }
                    AccInit::From(x) => format!("let mut {name} = {};", self.render(x).text),
                }),
                Stmt::Combine(name) => w.line(&format!("let {name} = ops::lanes({name});")),
                Stmt::IfFinite {
                    name,
                    test,
                    then,
                    otherwise,
                } => {
                    w.open(&format!("let {name} = if {test}.is_finite() {{"));
                    w.line(&self.render(then).text);
                    w.level -= 1;
                    w.open("} else {");
                    w.line(&self.render(otherwise).text);
                    w.level -= 1;
                    w.line("};");
                }
                Stmt::Branch {
                    name,
                    cond,
                    then,
                    a,
                    els,
                    b,
                } => {
                    let cond = self.render(cond).text;
                    // Over five lines at least, as rustfmt lays out an
                    // `if` that is a block's value, however short.
                    match name {
                        Some(name) => w.open(&format!("let {name} = if {cond} {{")),
                        None => w.open(&format!("if {cond} {{")),
                    }
                    self.emit(w, then);
                    if let Some(a) = a {
                        w.line(&self.render(a).text);
                    }
                    w.level -= 1;
                    w.open("} else {");
                    self.emit(w, els);
                    if let Some(b) = b {
                        w.line(&self.render(b).text);
                    }
                    w.level -= 1;
                    w.line(if name.is_some() { "};" } else { "}" });
                }
                Stmt::Store { place, op, value } => {
                    let place = match place {
                        Place::Var(name) => name.clone(),
                        Place::Deref(name) => format!("*{name}"),
                        Place::Elem(a) => format!("{}[{}]", a.array, a.offset),
                    };
                    let value = self.render(value).text;
                    let sign = match op {
                        AssignOp::Set => "=",
                        AssignOp::Add => "+=",
                        AssignOp::Sub => "-=",
                        AssignOp::Mul => "*=",
                        AssignOp::Div => "/=",
                        AssignOp::Max => {
                            w.line(&format!("{place} = {place}.max({value});"));
                            continue;
                        }
                    };
                    assign(w, &format!("{place} {sign}"), &value);
                }
                Stmt::Loop(l) if l.solve.is_some() => {
                    let n = match &l.end {
                        Extent::Const(n) => n.to_string(),
                        Extent::Run(n) => n.to_string(),
                    };
                    let (value, scale) = l.solve.as_ref().expect("a solved loop");
                    w.open(&format!(
                        "if let Some({}) = ops::solve({}, {scale}, {n}) {{",
                        l.var,
                        value.signed()
                    ));
                    self.emit(w, &l.body);
                    w.close();
                }
                Stmt::Loop(l) => {
                    let (start, end) = match &l.end {
                        Extent::Const(n) => (
                            match l.start {
                                Start::Zero => 0,
                                Start::AfterBlocks(b) => n / b * b,
                            }
                            .to_string(),
                            (n / l.block).to_string(),
                        ),
                        Extent::Run(n) => (
                            match l.start {
                                Start::Zero => "0".to_string(),
                                Start::AfterBlocks(b) => format!("{n} / {b} * {b}"),
                            },
                            if l.block == 1 {
                                n.to_string()
                            } else {
                                format!("{n} / {}", l.block)
                            },
                        ),
                    };
                    w.open(&format!("for {} in {start}..{end} {{", l.var));
                    self.emit(w, &l.body);
                    w.close();
                }
                Stmt::Gemm(g) => gemm(w, g),
                Stmt::Extreme {
                    acc,
                    max,
                    value,
                    pos,
                } => {
                    let cmp = if *max { ">" } else { "<" };
                    w.open(&format!(
                        "if {value} {cmp} {acc} || ({value}.is_nan() && !{acc}.is_nan()) {{"
                    ));
                    w.line(&format!("{acc} = {value};"));
                    if let Some((pos, index)) = pos {
                        w.line(&format!("{pos} = {index} as {real};"));
                    }
                    w.close();
                }
                Stmt::Mean {
                    name,
                    sum,
                    size,
                    pow2,
                    rescue,
                    rescued,
                } => {
                    let (size, pow2) = (self.render(size), self.render(pow2));
                    w.line(&format!("let mut {name} = {sum} / {};", size.at(MUL + 1)));
                    w.open(&format!("if !{sum}.is_finite() {{"));
                    self.emit(w, rescue);
                    let rescued = self.render(rescued);
                    w.line(&format!(
                        "{name} = {} / {} * {};",
                        rescued.at(MUL),
                        size.at(MUL + 1),
                        pow2.at(MUL + 1)
                    ));
                    w.close();
                }
            }
        }
    }
}

/// `gemm::gemm(m, n, k, a, rsa, csa, b, rsb, csb, c, rsc, csc, accumulate, pack);`
fn gemm(w: &mut Writer, g: &Gemm) {
    let pass = |name: &str, how: Pass| match how {
        Pass::Slice => name.to_string(),
        Pass::Borrow => format!("&{name}"),
        Pass::BorrowMut => format!("&mut {name}"),
    };
    let mut args = vec![g.m.to_string(), g.n.to_string(), g.k.to_string()];
    for x in [&g.a, &g.b, &g.c] {
        let Matrix {
            name,
            pass: how,
            row_stride,
            col_stride,
        } = x;
        args.extend([
            pass(name, *how),
            row_stride.to_string(),
            col_stride.to_string(),
        ]);
    }
    args.push(g.accumulate.to_string());
    args.push(pass(&g.pack.0, g.pack.1));
    w.simple_call("gemm::gemm", &args);
}

/// `head value;` on one line, or, as rustfmt lays out a statement past 100
/// columns, with the value on the next line (deep loop nests of rank-4
/// tensors index with long offsets).
fn assign(w: &mut Writer, head: &str, value: &str) {
    let one = format!("{head} {value};");
    if 4 * w.level + one.len() <= 100 {
        w.line(&one);
    } else {
        w.open(head);
        w.line(&format!("{value};"));
        w.level -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::super::affine::{Affine, Row, Size};

    fn affine(terms: &[(&str, isize)], constant: isize) -> Affine {
        Affine {
            terms: terms
                .iter()
                .map(|(n, s)| (n.to_string(), Size::from(1).scaled(*s)))
                .collect(),
            constant,
        }
    }

    #[test]
    fn affine_forms_print_as_flat_offsets() {
        assert_eq!(affine(&[], 0).to_string(), "0");
        assert_eq!(affine(&[], 7).to_string(), "7");
        assert_eq!(affine(&[("i", 1)], 0).to_string(), "i");
        assert_eq!(
            affine(&[("n", 784), ("i", 1)], 0).to_string(),
            "n * 784 + i"
        );
        assert_eq!(affine(&[("i_block", 4)], 3).to_string(), "i_block * 4 + 3");
        assert_eq!(affine(&[("i", 1)], -16).to_string(), "i - 16");
        // Affine subscripts: additions first, so no `usize` step goes below 0.
        assert_eq!(affine(&[("j", -1), ("i", 1)], 4).to_string(), "i + 4 - j");
        assert_eq!(affine(&[("i", 1), ("di", 1)], -1).to_string(), "i + di - 1");
        assert_eq!(affine(&[("j", -2)], 9).to_string(), "9 - j * 2");
        assert_eq!(
            affine(&[("p", 1), ("di", -1)], 0).signed(),
            "p as isize - di as isize"
        );
        assert_eq!(affine(&[("i", -2)], 3).signed(), "-(i as isize * 2) + 3");
    }

    #[test]
    fn run_time_sizes_print_as_expressions() {
        let size = |factor, dims: &[&str]| Size {
            factor,
            dims: dims.iter().map(|d| d.to_string()).collect(),
        };
        assert_eq!(size(3, &[]).to_string(), "3");
        assert_eq!(size(1, &["N"]).to_string(), "N");
        assert_eq!(size(3, &["N", "T"]).to_string(), "N * T * 3");
        let strided = Affine {
            terms: vec![("t".into(), size(3, &["N"])), ("d".into(), 1.into())],
            constant: 0,
        };
        assert_eq!(strided.to_string(), "t * N * 3 + d");
        // An affine subscript's negative coefficient times a run-time
        // stride: subtracted last, in `usize`; signed in `ops::solve`.
        let reversed = Affine {
            terms: vec![
                ("i".into(), size(1, &["T"])),
                ("j".into(), size(-2, &["T"])),
            ],
            constant: 5,
        };
        assert_eq!(reversed.to_string(), "i * T + 5 - j * T * 2");
        assert_eq!(
            reversed.signed(),
            "i as isize * T as isize - j as isize * (T * 2) as isize + 5"
        );
    }

    #[test]
    fn rows_print_as_ranges() {
        let row = |start, len| Row {
            array: "x".into(),
            start,
            len: super::super::affine::Size::from(len),
        };
        assert_eq!(row(affine(&[], 0), 784).to_string(), "x[0..784]");
        assert_eq!(
            row(affine(&[("n", 784)], 0), 784).to_string(),
            "x[n * 784..n * 784 + 784]"
        );
    }
}
