//! The private `mod ops` of helper functions, written only when used.

use std::collections::HashSet;

use super::schedule::Order;
use super::{Core, Generator, Writer};
use crate::ir::{BinOp, Expr, Func};

impl Generator<'_> {
    /// The functions the generated code calls, with the language's conventions.
    pub(super) fn ops_module(&self, w: &mut Writer, real: &str) {
        let mut uses = self.uses_ops();
        if !self.no_std {
            // std's `powi` is a method; only no_std needs the helper.
            uses.remove("powi");
        }
        if uses.is_empty() {
            return;
        }
        w.line("");
        w.line("/// The elementwise functions of the .net language, with its conventions");
        w.line("/// at kinks and ties.");
        w.line("#[allow(dead_code)]");
        w.open("mod ops {");
        let f = |w: &mut Writer, doc: &str, sig: &str, body: &[&str]| {
            w.line(&format!("/// {doc}"));
            w.open(&format!("pub fn {sig} {{"));
            for line in body {
                w.line(line);
            }
            w.close();
        };
        let sig1 = |name: &str| format!("{name}(x: {real}) -> {real}");
        let sig2 = |name: &str| format!("{name}(a: {real}, b: {real}) -> {real}");
        let mut first = true;
        let mut sep = |w: &mut Writer| {
            if !first {
                w.line("");
            }
            first = false;
        };
        if uses.contains("sigmoid") && self.own_math {
            sep(w);
            let abs = self.call("abs", "x", "x");
            let exp = self.call("exp", &format!("(-{abs})"), &format!("-{abs}"));
            f(
                w,
                "1 / (1 + e^-x), without overflow on either side: e^-|x| / (1 + e^-|x|) below 0.",
                &sig1("sigmoid"),
                &[
                    &format!("let e = {exp};"),
                    "let above = if x >= 0.0 { 1.0 } else { e };",
                    "above / (1.0 + e)",
                ],
            );
        } else if uses.contains("sigmoid") {
            sep(w);
            let (exp_neg, exp) = (self.call("exp", "(-x)", "-x"), self.call("exp", "x", "x"));
            f(
                w,
                "1 / (1 + e^-x), without overflow on either side.",
                &sig1("sigmoid"),
                &[
                    "if x >= 0.0 {",
                    &format!("    1.0 / (1.0 + {exp_neg})"),
                    "} else {",
                    &format!("    let e = {exp};"),
                    "    e / (1.0 + e)",
                    "}",
                ],
            );
        }
        if uses.contains("softplus") {
            sep(w);
            let abs = self.call("abs", "x", "x");
            let exp = self.call("exp", &format!("(-{abs})"), &format!("-{abs}"));
            let ln_1p = self.call("ln_1p", &exp, &exp);
            f(
                w,
                "log(1 + e^x), without overflow.",
                &sig1("softplus"),
                &[&format!("x.max(0.0) + {ln_1p}")],
            );
        }
        if self.no_std && uses.contains("powi") {
            sep(w);
            f(
                w,
                "x^n by repeated squaring, as std's `powi` computes it.",
                &format!("powi(x: {real}, n: i32) -> {real}"),
                &[
                    "let (mut base, mut k, mut acc) = (x, n.unsigned_abs(), 1.0);",
                    "while k > 0 {",
                    "    if k & 1 == 1 {",
                    "        acc *= base;",
                    "    }",
                    "    base *= base;",
                    "    k >>= 1;",
                    "}",
                    "if n < 0 {",
                    "    1.0 / acc",
                    "} else {",
                    "    acc",
                    "}",
                ],
            );
        }
        if uses.contains("relu") {
            sep(w);
            f(
                w,
                "max(x, 0).",
                &sig1("relu"),
                &["if x > 0.0 {", "    x", "} else {", "    0.0", "}"],
            );
        }
        if uses.contains("step") {
            sep(w);
            f(
                w,
                "1 if x > 0, else 0: relu', and max' and min'.",
                &sig1("step"),
                &["if x > 0.0 {", "    1.0", "} else {", "    0.0", "}"],
            );
        }
        if uses.contains("sign") {
            sep(w);
            f(
                w,
                "The sign of x, 0 at 0: abs'.",
                &sig1("sign"),
                &[
                    "if x > 0.0 {",
                    "    1.0",
                    "} else if x < 0.0 {",
                    "    -1.0",
                    "} else {",
                    "    0.0",
                    "}",
                ],
            );
        }
        if uses.contains("max") {
            sep(w);
            f(
                w,
                "The larger of a and b; a on ties.",
                &sig2("max"),
                &["if a >= b {", "    a", "} else {", "    b", "}"],
            );
        }
        if uses.contains("min") {
            sep(w);
            f(
                w,
                "The smaller of a and b; a on ties.",
                &sig2("min"),
                &["if a <= b {", "    a", "} else {", "    b", "}"],
            );
        }
        if uses.contains("xlogy") {
            sep(w);
            let ln = self.call("ln", "b", "b");
            f(
                w,
                "a * log(b), 0 where a is 0: d(w^p)/dp, 0 at w = 0.",
                &sig2("xlogy"),
                &[
                    "if a == 0.0 {",
                    "    0.0",
                    "} else {",
                    &format!("    a * {ln}"),
                    "}",
                ],
            );
        }
        if uses.contains("lanes") {
            sep(w);
            f(
                w,
                "The sum of a reduction's accumulators, pairwise in a fixed order.",
                &format!("lanes<const L: usize>(mut acc: [{real}; L]) -> {real}"),
                &[
                    "let mut width = L;",
                    "while width > 1 {",
                    "    width /= 2;",
                    "    let (low, high) = acc.split_at_mut(width);",
                    "    for (a, b) in low.iter_mut().zip(high.iter()) {",
                    "        *a += *b;",
                    "    }",
                    "}",
                    "acc[0]",
                ],
            );
        }
        if uses.contains("at") {
            sep(w);
            f(
                w,
                "1 where the index is at the position `pos` (a whole number, the first max or min of a range), else 0.",
                &format!("at(i: usize, pos: {real}) -> {real}"),
                &[&format!("if pos == i as {real} {{"), "    1.0", "} else {", "    0.0", "}"],
            );
        }
        if uses.contains("solve") {
            sep(w);
            f(
                w,
                "The one index a constraint `scale * i = value` leaves in `0..n`: `value / scale` where that is a whole number in range.",
                "solve(value: isize, scale: isize, n: usize) -> Option<usize>",
                &[
                    "if value >= 0 && value % scale == 0 && ((value / scale) as usize) < n {",
                    "    Some((value / scale) as usize)",
                    "} else {",
                    "    None",
                    "}",
                ],
            );
        }
        if uses.contains("delta") {
            sep(w);
            f(
                w,
                "The Kronecker delta.",
                &format!("delta(a: usize, b: usize) -> {real}"),
                &["if a == b {", "    1.0", "} else {", "    0.0", "}"],
            );
        }
        w.close();
    }

    /// A float function in a helper's body: `atom.f()` in std, where `atom`
    /// binds tightly, and `libm::f(plain)` without std.
    fn call(&self, f: &'static str, atom: &str, plain: &str) -> String {
        if self.own(f) {
            return format!("super::math::{f}({plain})");
        }
        if self.no_std {
            let name = super::lower::libm_name(f, self.float);
            self.math.borrow_mut().insert(name);
            format!("libm::{name}({plain})")
        } else {
            self.math.borrow_mut().insert(f);
            format!("{atom}.{f}()")
        }
    }

    /// Whether the code calls its own `f` (from `mod math`, see
    /// [`super::kernels::math_module`]); if so, the module will carry `mod math`.
    pub(super) fn own(&self, f: &str) -> bool {
        let own = super::kernels::MATH.iter().find(|&&g| g == f);
        match own {
            Some(g)
                if self.own_math && (self.no_std || !super::kernels::STD_FASTER.contains(g)) =>
            {
                self.own_math_used.borrow_mut().insert(g);
                true
            }
            _ => false,
        }
    }

    /// The helper functions the program needs.
    pub(super) fn uses_ops(&self) -> HashSet<&'static str> {
        fn walk(e: &Expr, out: &mut HashSet<&'static str>) {
            match e {
                Expr::Num(_) | Expr::Read { .. } | Expr::Index(_) => {}
                Expr::Where { cond, then, els } => {
                    walk(cond, out);
                    walk(then, out);
                    walk(els, out);
                }
                Expr::Delta(..) => {
                    out.insert("delta");
                }
                Expr::Unary { func, arg } => {
                    if matches!(
                        func,
                        Func::Sigmoid | Func::Relu | Func::Softplus | Func::Step | Func::Sign
                    ) {
                        out.insert(func.name());
                    }
                    walk(arg, out);
                }
                Expr::Binary { op, lhs, rhs } => {
                    match op {
                        BinOp::Pow if super::lower::integer_exponent(rhs).is_some() => {
                            out.insert("powi");
                        }
                        BinOp::Max => {
                            out.insert("max");
                        }
                        BinOp::Min => {
                            out.insert("min");
                        }
                        BinOp::XLogY => {
                            out.insert("xlogy");
                        }
                        _ => {}
                    }
                    walk(lhs, out);
                    walk(rhs, out);
                }
                Expr::Reduce { body, .. } => walk(body, out),
                Expr::At { pos, .. } => {
                    out.insert("at");
                    walk(pos, out);
                }
                Expr::Solve { body, .. } => {
                    out.insert("solve");
                    walk(body, out);
                }
            }
        }
        // Only what the functions compute: an unused helper is dead code.
        let mut targets = self.targets(Core::Gradient);
        targets.extend(&self.p.outputs);
        let need = self.needed(&targets);
        let mut out = HashSet::new();
        for id in self.p.ids().filter(|id| need[id.index()]) {
            if let Some(rhs) = &self.p.value(id).rhs {
                let mut used = HashSet::new();
                walk(rhs, &mut used);
                // A spread loops over the solved indices: no `solve`.
                if matches!(self.schedule[id.index()].order, Order::Spread(_)) {
                    used.remove("solve");
                }
                out.extend(used);
            }
            if self.schedule[id.index()].lanes.iter().any(|&l| l > 1) {
                out.insert("lanes");
            }
        }
        out
    }
}
