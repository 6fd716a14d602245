//! The derivation, step by step, as a textbook writes backpropagation: the
//! forward definitions, then each adjoint from the loss down with the uses it
//! sums over, the chain rule, the local partials, and the result.

use crate::autodiff::{Gradient, Term};
use crate::ir::{Expr, IndexId, Program, Reduction, Sub, Value, ValueId, ValueKind};
use crate::pretty::index_in;
use crate::pretty::{expr_brief, expr_in, read_brief, read_in, Notation};

/// The output formats of `netgrad explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Plain text with Unicode math.
    Text,
    /// A LaTeX fragment (needs amsmath): `\input` it into a document.
    Latex,
    /// Markdown with `$...$` and `$$...$$` math.
    Markdown,
}

/// Explains the derivation of `g`, a gradient of the file `source`.
pub fn explain(g: &Gradient, source: &str, format: Format) -> String {
    crate::on_own_stack(|| explain_here(g, source, format, false))
}

/// The same, and under each simplified adjoint the chain of named rewrites
/// from the chain rule's form to the simplified one (egg's explanation).
pub fn explain_with_steps(g: &Gradient, source: &str, format: Format) -> String {
    crate::on_own_stack(|| explain_here(g, source, format, true))
}

/// The most rewrite steps `--steps` prints for one definition; the rest are
/// counted, and the simplified result follows.
pub const MAX_STEPS: usize = 40;

fn explain_here(g: &Gradient, source: &str, format: Format, steps: bool) -> String {
    let mut w = Writer {
        g,
        p: &g.dag.program,
        format,
        steps,
        out: String::new(),
    };
    w.document(source);
    w.out
}

/// The derivation of one adjoint in Unicode text, for comments in generated
/// code: the uses it sums over, then the chain-rule sum.
pub fn derivation(g: &Gradient, adj: ValueId) -> Vec<String> {
    let w = Writer {
        g,
        p: &g.dag.program,
        format: Format::Text,
        steps: false,
        out: String::new(),
    };
    let a = w.p.value(adj);
    let crate::ir::Origin::Adjoint { of, .. } = a.origin else {
        return Vec::new();
    };
    let u = w.p.value(of);
    let subs: Vec<Sub> = (0..u.rank() as u32).map(|i| Sub::Var(IndexId(i))).collect();
    let u_head = read_brief(Notation::Unicode, w.p, a, u, &subs);
    let terms = &g.terms[adj.index() - g.forward_len];
    if terms.is_empty() {
        return vec![format!(
            "{u_head} does not affect the loss: its gradient is 0."
        )];
    }
    let uses = w.uses(a, &u_head, terms);
    if terms.len() == 1 && terms[0].reader == w.p.loss {
        // The loss reads u directly: the chain rule is the local partial itself.
        let partial = expr_brief(Notation::Unicode, w.p, a, &terms[0].partial);
        let mut lines = vec![uses, format!("{} = {partial}", w.head(a))];
        if let Some(simplified) = raw(g, adj).and(a.rhs.as_ref()) {
            lines.push(format!(
                "{} = {} (simplified)",
                w.head(a),
                expr_brief(Notation::Unicode, w.p, a, simplified)
            ));
        }
        return lines;
    }
    let chain: Vec<String> = terms.iter().map(|t| w.chain_term(a, u, t, terms)).collect();
    let mut lines = vec![uses, format!("{} = {}", w.head(a), chain.join(" + "))];
    if let Some(simplified) = raw(g, adj).and(a.rhs.as_ref()) {
        lines.push(format!(
            "{} = {} (simplified)",
            w.head(a),
            expr_brief(Notation::Unicode, w.p, a, simplified)
        ));
    }
    lines
}

struct Writer<'a> {
    g: &'a Gradient,
    p: &'a Program,
    format: Format,
    /// Whether to list the rewrites of each simplification.
    steps: bool,
    out: String,
}

impl Writer<'_> {
    fn notation(&self) -> Notation {
        match self.format {
            Format::Text => Notation::Unicode,
            Format::Latex | Format::Markdown => Notation::Latex,
        }
    }

    fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    /// Inline math: as it is in text, `$...$` otherwise.
    fn math(&self, s: &str) -> String {
        match self.format {
            Format::Text => s.to_string(),
            Format::Latex | Format::Markdown => format!("${s}$"),
        }
    }

    /// Display math: indented in text, `\[...\]` in LaTeX, `$$...$$` in Markdown.
    fn display(&mut self, s: &str) {
        match self.format {
            Format::Text => self.line(&format!("  {s}")),
            Format::Latex => self.line(&format!("\\[ {s} \\]")),
            Format::Markdown => {
                self.line(&format!("$${s}$$"));
                self.line("");
            }
        }
    }

    fn heading(&mut self, s: &str) {
        match self.format {
            Format::Text => {
                self.line(s);
                self.line(&"=".repeat(s.chars().count()));
            }
            Format::Latex => self.line(&format!("\\paragraph{{{s}}}")),
            Format::Markdown => {
                self.line(&format!("## {s}"));
                self.line("");
            }
        }
    }

    fn paragraph(&mut self, s: &str) {
        self.line(s);
        self.line("");
    }

    fn document(&mut self, source: &str) {
        let source_text = match self.format {
            Format::Latex => format!("\\texttt{{{}}}", latex_text(source)),
            Format::Markdown => format!("`{source}`"),
            Format::Text => source.to_string(),
        };
        match self.format {
            Format::Latex => self.line(&format!(
                "% @generated by netgrad explain from {}\n% Needs \\usepackage{{amsmath,amssymb}}.",
                crate::pretty::comment_text(source)
            )),
            Format::Markdown => {
                self.line(&format!("# Backpropagation in {source_text}"));
                self.line("");
            }
            Format::Text => {}
        }
        self.heading("Forward");
        let p = self.p;
        let given: Vec<String> = p
            .values
            .iter()
            .filter(|v| matches!(v.kind, ValueKind::Input | ValueKind::Param))
            .map(|v| format!("{} {}", v.kind.describe(), self.math(&self.member(v))))
            .collect();
        self.paragraph(&format!("Given: {}.", given.join(", ")));
        let runtime: Vec<&crate::ir::Dim> = p.runtime_dims().collect();
        if !runtime.is_empty() {
            // Shapes and reductions name the dim; a dim used as a number
            // (`1 / N`) was folded at the size the program was checked at.
            let name = |d: &crate::ir::Dim| {
                let e = crate::ir::Extent {
                    size: d.size,
                    dim: Some(d.name.clone()),
                };
                crate::pretty::extent_in(self.notation(), &e)
            };
            let names: Vec<String> = runtime.iter().map(|d| self.math(&name(d))).collect();
            let at: Vec<String> = runtime
                .iter()
                .map(|d| self.math(&format!("{} = {}", name(d), d.size)))
                .collect();
            self.paragraph(&format!(
                "Sizes given at run time: {}; a number computed from one is shown at {}.",
                names.join(", "),
                at.join(", ")
            ));
        }
        for id in p.ids().take(self.g.forward_len) {
            let v = p.value(id);
            if v.kind == ValueKind::Temp {
                continue; // written out where it is read
            }
            if let Some(rhs) = raw(self.g, id).or(v.rhs.as_ref()) {
                let text = format!("{} = {}", self.head(v), expr_in(self.notation(), p, v, rhs));
                self.display(&text);
            }
        }
        if self.format == Format::Text {
            self.line("");
        }
        self.heading("Backward");
        let loss = self.math(&self.head(p.value(p.loss)));
        self.paragraph(&format!(
            "The adjoint of a value v is the derivative of the loss {loss} with respect to v, taken from the loss down. When v is used more than once, its adjoint is the sum of one chain-rule product per use (PRML 5.55); a use that ranges over an index v does not carry sums over it (PRML 5.56)."
        ));
        for (k, terms) in self.g.terms.iter().enumerate() {
            let adj = ValueId((self.g.forward_len + k) as u32);
            self.adjoint(adj, terms);
        }
    }

    /// `w1 ∈ ℝ^(M×D)`, in the notation.
    fn member(&self, v: &Value) -> String {
        let latex = self.notation() == Notation::Latex;
        let name = read_in(self.notation(), self.p, v, v, &[]);
        let dims: Vec<String> = v
            .shape
            .iter()
            .map(|e| crate::pretty::extent_in(self.notation(), e))
            .collect();
        match (dims.len(), latex) {
            (0, true) => format!("{name} \\in \\mathbb{{R}}"),
            (0, false) => format!("{name} ∈ ℝ"),
            (1, false) => format!("{name} ∈ ℝ^{}", dims[0]),
            (_, false) => format!("{name} ∈ ℝ^({})", dims.join("×")),
            (_, true) => format!("{name} \\in \\mathbb{{R}}^{{{}}}", dims.join(" \\times ")),
        }
    }

    /// `a1[j]`, in the notation.
    fn head(&self, v: &Value) -> String {
        let subs: Vec<Sub> = (0..v.rank() as u32).map(|i| Sub::Var(IndexId(i))).collect();
        read_brief(self.notation(), self.p, v, v, &subs)
    }

    /// One adjoint: its uses, the chain rule, the partials, the result.
    fn adjoint(&mut self, adj: ValueId, terms: &[Term]) {
        let p = self.p;
        let a = p.value(adj);
        let crate::ir::Origin::Adjoint { of, .. } = a.origin else {
            return;
        };
        let u = p.value(of);
        let lhs = self.head(a);
        let u_head = read_brief(
            self.notation(),
            p,
            a,
            u,
            &(0..u.rank() as u32)
                .map(|i| Sub::Var(IndexId(i)))
                .collect::<Vec<_>>(),
        );
        match self.format {
            Format::Text => self.line(&lhs),
            Format::Latex => self.line(&format!("\\subparagraph{{{}}}", self.math(&lhs))),
            Format::Markdown => {
                self.line(&format!("### {}", self.math(&lhs)));
                self.line("");
            }
        }
        let simplified = a.rhs.as_ref().expect("an adjoint has a right-hand side");
        let rhs = raw(self.g, adj).unwrap_or(simplified);
        if terms.is_empty() {
            let sentence = format!(
                "{} does not affect the loss, so its gradient is 0.",
                self.math(&u_head)
            );
            self.text_line(&sentence);
            self.display(&format!("{lhs} = 0"));
            self.end_block();
            return;
        }
        let uses = self.uses(a, &u_head, terms);
        self.text_line(&uses);
        let chain: Vec<String> = terms
            .iter()
            .map(|t| self.chain_term(a, u, t, terms))
            .collect();
        let single_direct = terms.len() == 1 && terms[0].reader == p.loss;
        if !single_direct {
            self.display(&format!("{lhs} = {}", chain.join(" + ")));
        }
        if single_direct {
            self.display(&format!(
                "{lhs} = {}",
                expr_brief(self.notation(), p, a, rhs)
            ));
            self.simplified(&lhs, a, rhs, simplified);
            self.end_block();
            return;
        }
        let partials: Vec<String> = terms
            .iter()
            .map(|t| {
                format!(
                    "{} = {}",
                    self.partial_symbol(a, u, t, terms),
                    expr_brief(self.notation(), p, a, &t.partial)
                )
            })
            .collect();
        let label = if partials.len() == 1 {
            "The local partial:"
        } else {
            "The local partials, one per use:"
        };
        self.text_line(label);
        for partial in partials {
            self.display(&partial);
        }
        let mut brackets = Vec::new();
        for t in terms {
            self.brackets(a, &t.partial, &mut brackets);
        }
        for sentence in brackets {
            self.text_line(&sentence);
        }
        self.text_line("So:");
        self.display(&format!(
            "{lhs} = {}",
            expr_brief(self.notation(), p, a, rhs)
        ));
        self.simplified(&lhs, a, rhs, simplified);
        self.end_block();
    }

    /// What each Iverson bracket of a max or min's partial in `e` means, in
    /// words, once per bracket.
    fn brackets(&self, a: &Value, e: &Expr, out: &mut Vec<String>) {
        match e {
            Expr::At { index, pos } => {
                let op = match &**pos {
                    Expr::Reduce { op, .. } => Some(*op),
                    Expr::Read { value, .. } => match &self.p.value(*value).rhs {
                        Some(Expr::Reduce { op, .. }) => Some(*op),
                        _ => None,
                    },
                    _ => None,
                };
                let what = if op == Some(Reduction::ArgMin) {
                    "minimum"
                } else {
                    "maximum"
                };
                let bracket = expr_brief(self.notation(), self.p, a, e);
                let name = index_in(self.notation(), a, &Sub::Var(*index));
                let sentence = format!(
                    "{} is 1 if {} is the first position of the {what} (ties go to the first), else 0.",
                    self.math(&bracket),
                    self.math(&name)
                );
                if !out.contains(&sentence) {
                    out.push(sentence);
                }
            }
            Expr::Num(_) | Expr::Read { .. } | Expr::Delta(..) | Expr::Index(_) => {}
            Expr::Where { cond, then, els } => {
                self.brackets(a, cond, out);
                self.brackets(a, then, out);
                self.brackets(a, els, out);
            }
            Expr::Unary { arg, .. } => self.brackets(a, arg, out),
            Expr::Binary { lhs, rhs, .. } => {
                self.brackets(a, lhs, out);
                self.brackets(a, rhs, out);
            }
            Expr::Reduce { body, .. } | Expr::Solve { body, .. } => self.brackets(a, body, out),
        }
    }

    /// "Simplified:" and the simplified right-hand side, when it differs.
    fn simplified(
        &mut self,
        lhs: &str,
        a: &Value,
        raw: &crate::ir::Expr,
        simplified: &crate::ir::Expr,
    ) {
        if raw == simplified {
            return;
        }
        if self.steps {
            let id = self
                .p
                .ids()
                .find(|id| std::ptr::eq(self.p.value(*id), a))
                .expect("a value of the program");
            match crate::simplify::steps(self.g, id) {
                Some(steps) => {
                    self.text_line("Simplified, step by step (each line names its rule):");
                    let shown = steps.len().min(MAX_STEPS);
                    for step in &steps[..shown] {
                        let expr = expr_brief(self.notation(), self.p, a, &step.expr);
                        let line = match self.format {
                            Format::Text => format!("= {expr}      [{}]", step.rule),
                            _ => format!("= {expr} \\quad \\text{{({})}}", latex_text(&step.rule)),
                        };
                        self.display(&line);
                    }
                    if steps.len() > shown {
                        self.text_line(&format!(
                            "… {} more steps (at most {MAX_STEPS} are shown per definition)",
                            steps.len() - shown
                        ));
                    } else {
                        return;
                    }
                }
                None => self.text_line(&format!(
                    "(No step-by-step explanation: the expressions are larger than {} nodes, \
                     or the rewrites are not found within the bounds. \
                     `netgrad explain --no-simplify` shows the chain rule's form.)",
                    crate::simplify::MAX_EXPLAINED
                )),
            }
        }
        self.text_line("Simplified:");
        let text = format!(
            "{lhs} = {}",
            expr_brief(self.notation(), self.p, a, simplified)
        );
        self.display(&text);
    }

    fn text_line(&mut self, s: &str) {
        match self.format {
            Format::Text => self.line(&format!("  {s}")),
            Format::Latex => self.line(&format!("{s}\n")),
            Format::Markdown => self.paragraph(s),
        }
    }

    fn end_block(&mut self) {
        if self.format != Format::Markdown {
            self.line("");
        }
    }

    /// `z1[j] is used by y[k], for every k in K.`
    fn uses(&self, a: &Value, u_head: &str, terms: &[Term]) -> String {
        let p = self.p;
        let described: Vec<String> = crate::summary::grouped(terms.iter().map(|t| {
            let r = p.value(t.reader);
            let mut s = self.math(&read_brief(self.notation(), p, a, r, &t.reader_subs));
            if !t.summed.is_empty() {
                let in_ = if self.notation() == Notation::Latex {
                    "\\in"
                } else {
                    "∈"
                };
                let every: Vec<String> = t
                    .summed
                    .iter()
                    .map(|i| {
                        self.math(&format!(
                            "{} {in_} {}",
                            index_in(self.notation(), a, &Sub::Var(*i)),
                            crate::pretty::extent_in(self.notation(), &a.indices[i.index()].extent)
                        ))
                    })
                    .collect();
                s.push_str(&format!(", for every {}", every.join(" and ")));
            }
            s
        }))
        .into_iter()
        .map(|s| format!("by {s}"))
        .collect();
        let u = self.math(u_head);
        let direct = if terms.iter().any(|t| t.reader == p.loss) && terms.len() > 1 {
            format!(" Here |direct marks the loss's own dependence on {u}, every other value held fixed.")
        } else {
            String::new()
        };
        match terms.len() {
            1 => format!("{u} is used once, {}.", described[0]),
            2 => format!("{u} is used twice: {}.{direct}", described.join("; ")),
            n => format!("{u} is used {n} times: {}.{direct}", described.join("; ")),
        }
    }

    /// `∂y[k]/∂z1[j]`, or for the loss itself the explicit dependence.
    fn partial_symbol(&self, a: &Value, u: &Value, t: &Term, terms: &[Term]) -> String {
        let p = self.p;
        let r = p.value(t.reader);
        let top = read_brief(self.notation(), p, a, r, &t.reader_subs);
        let bottom = read_brief(self.notation(), p, a, u, &t.read_subs);
        // The loss's own dependence, other values held fixed, next to the
        // total derivative of the same name.
        let direct = t.reader == p.loss && terms.len() > 1;
        match (self.notation(), direct) {
            (Notation::Latex, false) => format!("\\frac{{\\partial {top}}}{{\\partial {bottom}}}"),
            (Notation::Latex, true) => format!("\\left.\\frac{{\\partial {top}}}{{\\partial {bottom}}}\\right|_{{\\text{{direct}}}}"),
            (_, false) => format!("∂{top}/∂{bottom}"),
            (_, true) => format!("∂{top}/∂{bottom}|direct"),
        }
    }

    /// `Σ_k ∂E/∂y[k] · ∂y[k]/∂z1[j]`.
    fn chain_term(&self, a: &Value, u: &Value, t: &Term, terms: &[Term]) -> String {
        let p = self.p;
        let latex = self.notation() == Notation::Latex;
        let mut s = String::new();
        // An affine subscript's delta is the sum's constraint:
        // `Σ_{i, di : i + di = p}`.
        let (constraints, deltas): (Vec<&Expr>, Vec<&Expr>) = t
            .deltas
            .iter()
            .partition(|d| matches!(d, Expr::Delta(Sub::Affine(_), _)) && !t.summed.is_empty());
        if !t.summed.is_empty() {
            let names: Vec<String> = t
                .summed
                .iter()
                .map(|i| index_in(self.notation(), a, &Sub::Var(*i)))
                .collect();
            let mut under = names.join(if constraints.is_empty() { "," } else { ", " });
            let such: Vec<String> = constraints
                .iter()
                .map(|d| match d {
                    Expr::Delta(x, y) => format!(
                        "{} = {}",
                        index_in(self.notation(), a, x),
                        index_in(self.notation(), a, y)
                    ),
                    _ => unreachable!("partitioned on deltas"),
                })
                .collect();
            if !such.is_empty() {
                under = format!("{under} : {}", such.join(", "));
            }
            s.push_str(&match (latex, constraints.is_empty()) {
                (true, _) => format!("\\sum_{{{under}}} "),
                (false, true) => format!("Σ_{under} "),
                (false, false) => format!("Σ_{{{under}}} "),
            });
        }
        let partial = self.partial_symbol(a, u, t, terms);
        if t.reader == p.loss {
            s.push_str(&partial);
        } else {
            let upstream = self.g.adjoint_of[t.reader.index()]
                .expect("a reader on the loss path has an adjoint");
            s.push_str(&read_brief(
                self.notation(),
                p,
                a,
                p.value(upstream),
                &t.reader_subs,
            ));
            s.push_str(if latex { " \\cdot " } else { " · " });
            s.push_str(&partial);
        }
        for d in deltas {
            s.push_str(if latex { " \\cdot " } else { " · " });
            s.push_str(&expr_brief(self.notation(), p, a, d));
        }
        s
    }
}

/// A value's right-hand side as autodiff made it, when it was simplified since.
fn raw(g: &Gradient, id: ValueId) -> Option<&crate::ir::Expr> {
    g.unsimplified.get(id.index()).and_then(Option::as_ref)
}

/// Text for LaTeX's text mode: the special characters escaped.
fn latex_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '_' | '%' | '$' | '&' | '#' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '\\' => out.push_str("\\textbackslash{}"),
            c => out.push(c),
        }
    }
    out
}
