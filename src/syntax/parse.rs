//! The only module that knows pest: text to `ast::File`, with syntax diagnostics.

use pest::iterators::Pair;
use pest::Parser as _;

use super::ast::{Arg, BinOp, Binder, Decl, Def, Expr, ExprKind, Extent, File, Ident, Init, Item};
use super::prescan;
use crate::diag::{Code, Diagnostic, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/net.pest"]
struct NetParser;

/// The deepest expression tree accepted (`a + b + ... ` with 256 terms is 256
/// deep). Later passes recurse over expressions; this bound keeps them all
/// far from a stack overflow.
pub const MAX_DEPTH: usize = 256;

/// At most this many syntax errors are reported for one file.
const MAX_SYNTAX_ERRORS: usize = 20;

/// Parses a whole file. Returns the AST and every syntax diagnostic found;
/// the AST is complete only when there are no errors.
pub fn parse(source: &str) -> (File, Vec<Diagnostic>) {
    if let Some(d) = prescan::check_nesting(source) {
        return (File::default(), vec![d]);
    }
    let mut diags = Vec::new();
    let mut offset = 0;
    loop {
        match NetParser::parse(Rule::file, &source[offset..]) {
            Ok(mut pairs) => {
                let mut b = Builder {
                    offset,
                    diags: Vec::new(),
                    too_deep: false,
                };
                let file = pairs.next().map(|p| b.file(p)).unwrap_or_default();
                diags.extend(b.diags);
                return (file, diags);
            }
            Err(e) => {
                let pos = offset
                    + match e.location {
                        pest::error::InputLocation::Pos(p) => p,
                        pest::error::InputLocation::Span((s, _)) => s,
                    };
                diags.push(syntax_error(source, pos, &e.variant));
                if diags.len() >= MAX_SYNTAX_ERRORS {
                    return (File::default(), diags);
                }
                match resync(source, offset, pos) {
                    Some(next) => offset = next,
                    None => return (File::default(), diags),
                }
            }
        }
    }
}

/// After an error at `pos`, finds the start of the next line on which a
/// whole statement parses, so that later errors are reported too.
fn resync(source: &str, offset: usize, pos: usize) -> Option<usize> {
    // When the error is at the first token of its line, that line may itself
    // start a statement (the one before it did not end): try it first.
    let line_start = source[..pos].rfind('\n').map_or(0, |i| i + 1);
    if line_start > offset
        && source[line_start..pos].trim().is_empty()
        && NetParser::parse(Rule::stmt_probe, &source[line_start..]).is_ok()
    {
        return Some(line_start);
    }
    let mut at = pos;
    while let Some(nl) = source[at..].find('\n') {
        at += nl + 1;
        let rest = &source[at..];
        let trimmed = rest.trim_start_matches([' ', '\t', '\r']);
        if trimmed.is_empty() || trimmed.starts_with('\n') || trimmed.starts_with('#') {
            continue;
        }
        if NetParser::parse(Rule::stmt_probe, rest).is_ok() {
            return Some(at);
        }
    }
    None
}

fn syntax_error(source: &str, pos: usize, variant: &pest::error::ErrorVariant<Rule>) -> Diagnostic {
    let (found_span, found) = token_at(source, pos);
    let expected = match variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => describe(positives),
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    if !found.starts_with('`') && found != "end of file" || is_foreign(&found) {
        return Diagnostic::error(
            Code::Syntax,
            found_span,
            format!("unexpected character {found}"),
        )
        .label("not part of the language")
        .help("the operators are + - * / ^, and `#` starts a comment");
    }
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {expected}, found {found}")
    };
    let mut d =
        Diagnostic::error(Code::Syntax, found_span, message).label(if expected.is_empty() {
            "unexpected here".to_string()
        } else {
            format!("expected {expected}")
        });
    // A line that ends in an operator continues on the next one, so a
    // statement there is read as the rest of an expression: say so.
    let line_start = source[..found_span.start].rfind('\n').map_or(0, |i| i + 1);
    let first_on_line = source[line_start..found_span.start].trim().is_empty();
    let before = source[..line_start].trim_end();
    let last_line = before.rsplit('\n').next().unwrap_or("");
    let dangling = before
        .chars()
        .last()
        .filter(|c| "+-*/^(,[".contains(*c) && !last_line.contains('#'));
    if let Some(op) = dangling.filter(|_| first_on_line || found == "`=`") {
        d = d.help(format!(
            "the line before ends with `{op}`, so this line was read as the rest of its expression"
        ));
    } else if found == "`=`" && expected.contains("a statement") {
        d = d.help("a definition is `NAME = EXPR` or `NAME[i, ...] = EXPR`");
    } else if found == "`*`" && source[..found_span.start].trim_end().ends_with('*') {
        d = d.help("netgrad writes powers as `x ^ 2`, not `x ** 2`");
    } else if found == "`.`" && source[..found_span.start].ends_with(|c: char| c.is_ascii_digit()) {
        d = d.help("a number with a point needs digits after it: `3.0` or `3`");
    }
    d
}

/// Whether a found token is a character that no token of the language starts with.
fn is_foreign(found: &str) -> bool {
    let inner = found.trim_start_matches('`').trim_end_matches('`');
    let mut chars = inner.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => !(c.is_ascii_alphanumeric() || "_()[],;=+-*/^<>!#.".contains(c)),
        _ => false,
    }
}

/// The token at `pos` (after whitespace and comments), for "found ...".
fn token_at(source: &str, pos: usize) -> (Span, String) {
    let bytes = source.as_bytes();
    let mut i = pos.min(bytes.len());
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < bytes.len() && bytes[i] == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        break;
    }
    if i >= bytes.len() {
        return (Span::new(bytes.len(), bytes.len()), "end of file".into());
    }
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
    let end = if word(bytes[i]) {
        let mut j = i;
        while j < bytes.len() && word(bytes[j]) && j - i < 40 {
            j += 1;
        }
        j
    } else {
        let c = source[i..].chars().next().map_or(1, char::len_utf8);
        i + c
    };
    let text = &source[i..end];
    let shown = if text.chars().all(|c| !c.is_control()) {
        format!("`{text}`")
    } else {
        format!("{text:?}")
    };
    (Span::new(i, end), shown)
}

/// Turns pest's expected rules into words, collapsing long lists.
fn describe(positives: &[Rule]) -> String {
    let mut words: Vec<&str> = Vec::new();
    let statement_start = [
        Rule::kw_dim,
        Rule::kw_const,
        Rule::kw_input,
        Rule::kw_param,
        Rule::kw_loss,
        Rule::kw_output,
        Rule::kw_init,
    ];
    let starts_statement = positives.iter().any(|r| statement_start.contains(r));
    let starts_expr = positives.contains(&Rule::number) && positives.contains(&Rule::lparen);
    for r in positives {
        let w = match r {
            _ if starts_statement && (statement_start.contains(r) || *r == Rule::ident) => {
                "a statement"
            }
            Rule::number | Rule::lparen | Rule::neg | Rule::ident if starts_expr => "an expression",
            Rule::ident | Rule::lhs | Rule::decl_item => "a name",
            Rule::number => "a number",
            Rule::extent => "a size (a dim name or an integer)",
            Rule::binder | Rule::binder_arg => "an index variable",
            Rule::kw_in => "`in`",
            Rule::kw_and | Rule::kw_or => "an operator",
            Rule::add_op => "an operator",
            Rule::mul_op | Rule::pow_op | Rule::cmp_op => "an operator",
            Rule::neg => "`-`",
            Rule::assign => "`=`",
            Rule::semi => "`;`",
            Rule::comma => "`,`",
            Rule::lparen => "`(`",
            Rule::rparen => "`)`",
            Rule::lbracket => "`[`",
            Rule::rbracket => "`]`",
            Rule::EOI => "end of file",
            Rule::expr
            | Rule::conj
            | Rule::negation
            | Rule::compare
            | Rule::kw_not
            | Rule::sum
            | Rule::product
            | Rule::unary
            | Rule::power
            | Rule::paren
            | Rule::call
            | Rule::read
            | Rule::arg => "an expression",
            _ => "a statement",
        };
        if !words.contains(&w) {
            words.push(w);
        }
    }
    match words.len() {
        0 => String::new(),
        1 => words[0].to_string(),
        n => format!("{} or {}", words[..n - 1].join(", "), words[n - 1]),
    }
}

/// Builds the AST from pest's pairs, shifting spans by `offset` and bounding depth.
struct Builder {
    offset: usize,
    diags: Vec<Diagnostic>,
    /// Whether the current statement has already been reported as too deep.
    too_deep: bool,
}

impl Builder {
    fn span(&self, p: &Pair<Rule>) -> Span {
        let s = p.as_span();
        Span::new(s.start() + self.offset, s.end() + self.offset)
    }

    /// The span from a pair's first token to its last, without the trailing
    /// whitespace and comments that pest may include in a rule's span.
    fn span_of_tokens(&self, p: &Pair<Rule>) -> Span {
        let mut end = p.as_span().start();
        for t in p.clone().into_inner().flatten() {
            let is_token = t.clone().into_inner().next().is_none();
            if is_token {
                end = end.max(t.as_span().end());
            }
        }
        let start = p.as_span().start();
        Span::new(start + self.offset, end.max(start) + self.offset)
    }

    fn ident(&self, p: Pair<Rule>) -> Ident {
        Ident {
            name: p.as_str().to_string(),
            span: self.span(&p),
        }
    }

    fn file(&mut self, p: Pair<Rule>) -> File {
        let mut items = Vec::new();
        for stmt in p.into_inner() {
            self.too_deep = false;
            if let Some(item) = self.item(stmt) {
                items.push(item);
            }
        }
        File { items }
    }

    fn item(&mut self, p: Pair<Rule>) -> Option<Item> {
        let span = self.span_of_tokens(&p);
        let rule = p.as_rule();
        let mut inner = p.into_inner().filter(|q| !is_punct(q.as_rule()));
        Some(match rule {
            Rule::dim_decl => {
                let name = self.ident(inner.nth(1)?);
                let size = inner.next().map(|e| self.expr(e).0);
                Item::Dim { name, size, span }
            }
            Rule::const_decl => {
                let name = self.ident(inner.nth(1)?);
                let value = self.expr(inner.next()?).0;
                Item::Const { name, value, span }
            }
            Rule::input_decl | Rule::param_decl => {
                let decls = inner.skip(1).map(|d| self.decl(d)).collect();
                if rule == Rule::input_decl {
                    Item::Input(decls)
                } else {
                    Item::Param(decls)
                }
            }
            Rule::loss_def => {
                let lhs = inner.nth(1)?;
                let rhs = inner.next()?;
                Item::Loss(self.def(lhs, rhs, span))
            }
            Rule::definition => {
                let lhs = inner.next()?;
                let rhs = inner.next()?;
                Item::Def(self.def(lhs, rhs, span))
            }
            Rule::output_decl => Item::Output(inner.skip(1).map(|i| self.ident(i)).collect()),
            Rule::init_def => {
                let name = self.ident(inner.nth(1)?);
                let mut rest: Vec<Pair<Rule>> = inner.collect();
                let rhs = self.expr(rest.pop()?).0;
                let mut rest = rest.into_iter();
                let step = rest.next().map(|e| self.expr(e).0);
                let indices = rest.map(|b| self.binder(b)).collect();
                Item::Init(Init {
                    name,
                    step,
                    indices,
                    rhs,
                    span,
                })
            }
            Rule::fn_def => Item::FnDef {
                name: self.ident(inner.next()?),
                span,
            },
            // EOI and separators.
            _ => return None,
        })
    }

    fn decl(&mut self, p: Pair<Rule>) -> Decl {
        let span = self.span_of_tokens(&p);
        let mut inner = p.into_inner().filter(|q| !is_punct(q.as_rule()));
        let name = self.ident(inner.next().expect("grammar: decl_item starts with a name"));
        let shape = inner.map(|e| self.extent(e)).collect();
        Decl { name, shape, span }
    }

    fn extent(&mut self, p: Pair<Rule>) -> Extent {
        let q = p
            .into_inner()
            .next()
            .expect("grammar: extent has one token");
        match q.as_rule() {
            Rule::ident => Extent::Name(self.ident(q)),
            _ => Extent::Literal {
                text: q.as_str().to_string(),
                span: self.span(&q),
            },
        }
    }

    fn binder(&mut self, p: Pair<Rule>) -> Binder {
        let mut inner = p.into_inner().filter(|q| q.as_rule() != Rule::kw_in);
        let name = self.ident(inner.next().expect("grammar: a binder starts with a name"));
        let range = inner.next().map(|e| self.extent(e));
        Binder { name, range }
    }

    fn def(&mut self, lhs: Pair<Rule>, rhs: Pair<Rule>, span: Span) -> Def {
        let mut inner = lhs.into_inner().filter(|q| !is_punct(q.as_rule()));
        let name = self.ident(inner.next().expect("grammar: lhs starts with a name"));
        let indices = inner.map(|b| self.binder(b)).collect();
        let rhs = self.expr(rhs).0;
        Def {
            name,
            indices,
            rhs,
            span,
        }
    }

    /// Makes a node of the given depth, or a placeholder and one diagnostic per
    /// statement when the depth passes `MAX_DEPTH`.
    fn node(&mut self, kind: ExprKind, span: Span, depth: usize) -> (Expr, usize) {
        if depth > MAX_DEPTH {
            if !self.too_deep {
                self.too_deep = true;
                // Point at the piece that went one level too deep, not at
                // the whole (possibly enormous) expression.
                let blame = match &kind {
                    ExprKind::Binary { rhs, .. }
                    | ExprKind::Compare { rhs, .. }
                    | ExprKind::Logic { rhs, .. } => rhs.span,
                    ExprKind::Neg(_) | ExprKind::Not(_) => Span::new(span.start, span.start + 1),
                    ExprKind::Read { name, .. } | ExprKind::Call { func: name, .. } => name.span,
                    ExprKind::Number { .. } => span,
                };
                self.diags.push(
                    Diagnostic::error(
                        Code::TooDeep,
                        blame,
                        format!("expression is nested more than {MAX_DEPTH} levels deep"),
                    )
                    .label("too deep")
                    .help(
                        "split it into several definitions, or use a reduction such as sum(i, ...)",
                    ),
                );
            }
            let placeholder = ExprKind::Number {
                value: 0.0,
                text: "0".into(),
            };
            return (
                Expr {
                    kind: placeholder,
                    span,
                },
                1,
            );
        }
        (Expr { kind, span }, depth)
    }

    fn expr(&mut self, p: Pair<Rule>) -> (Expr, usize) {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::expr | Rule::conj => {
                let mut inner = p.into_inner();
                let (mut acc, mut depth) =
                    self.expr(inner.next().expect("grammar: a chain has an operand"));
                while let (Some(op), Some(rhs)) = (inner.next(), inner.next()) {
                    let and = op.as_rule() == Rule::kw_and;
                    let (rhs, dr) = self.expr(rhs);
                    let span = acc.span.to(rhs.span);
                    let kind = ExprKind::Logic {
                        and,
                        lhs: Box::new(acc),
                        rhs: Box::new(rhs),
                    };
                    (acc, depth) = self.node(kind, span, depth.max(dr) + 1);
                }
                (acc, depth)
            }
            Rule::negation => {
                let mut nots = Vec::new();
                for q in p.into_inner() {
                    if q.as_rule() == Rule::kw_not {
                        nots.push(self.span(&q));
                    } else {
                        let (mut e, mut d) = self.expr(q);
                        for s in nots.into_iter().rev() {
                            let span = s.to(e.span);
                            (e, d) = self.node(ExprKind::Not(Box::new(e)), span, d + 1);
                        }
                        return (e, d);
                    }
                }
                unreachable!("grammar: negation ends with a comparison")
            }
            Rule::compare => {
                let mut inner = p.into_inner();
                let (lhs, dl) = self.expr(inner.next().expect("grammar: compare has a sum"));
                match (inner.next(), inner.next()) {
                    (Some(op), Some(rhs)) => {
                        let (rhs, dr) = self.expr(rhs);
                        let span = lhs.span.to(rhs.span);
                        let kind = ExprKind::Compare {
                            op: op.as_str().to_string(),
                            lhs: Box::new(lhs),
                            rhs: Box::new(rhs),
                        };
                        self.node(kind, span, dl.max(dr) + 1)
                    }
                    _ => (lhs, dl),
                }
            }
            Rule::sum | Rule::product => self.chain(p),
            Rule::unary => {
                let mut inner = p.into_inner();
                let mut negs = Vec::new();
                for q in inner.by_ref() {
                    if q.as_rule() == Rule::neg {
                        negs.push(self.span(&q));
                    } else {
                        let operand = self.expr(q);
                        return self.negate(negs, operand);
                    }
                }
                unreachable!("grammar: unary ends with a power")
            }
            Rule::power => self.power(p),
            Rule::paren => {
                let inner = p.into_inner().find(|q| q.as_rule() == Rule::expr);
                let (mut e, d) = self.expr(inner.expect("grammar: paren holds an expr"));
                e.span = span;
                (e, d)
            }
            Rule::number => {
                let text = p.as_str().to_string();
                let value: f64 = text.parse().unwrap_or(f64::INFINITY);
                if !value.is_finite() {
                    self.diags.push(
                        Diagnostic::error(Code::BadNumber, span, "number literal is too large")
                            .label("does not fit in an f64"),
                    );
                }
                (
                    Expr {
                        kind: ExprKind::Number { value, text },
                        span,
                    },
                    1,
                )
            }
            Rule::read => {
                // pest's span of `read` may end in whitespace that the failed
                // optional `[` consumed: the closing bracket ends the span.
                let close = p
                    .clone()
                    .into_inner()
                    .find(|q| q.as_rule() == Rule::rbracket)
                    .map(|q| self.span(&q));
                let mut inner = p.into_inner().filter(|q| !is_punct(q.as_rule()));
                let name = self.ident(inner.next().expect("grammar: read starts with a name"));
                let bracketed = close.is_some();
                let span = close.map_or(name.span, |c| name.span.to(c));
                let mut depth = 1;
                let subs: Vec<Expr> = inner
                    .map(|q| {
                        let (e, d) = self.expr(q);
                        depth = depth.max(d + 1);
                        e
                    })
                    .collect();
                let subs = bracketed.then_some(subs);
                self.node(ExprKind::Read { name, subs }, span, depth)
            }
            Rule::call => {
                let mut inner = p.into_inner().filter(|q| !is_punct(q.as_rule()));
                let func = self.ident(inner.next().expect("grammar: call starts with a name"));
                let mut depth = 1;
                let mut args = Vec::new();
                for a in inner {
                    let a_span = self.span(&a);
                    let q = a.into_inner().next().expect("grammar: arg has one child");
                    if q.as_rule() == Rule::binder_arg {
                        args.push(Arg::Binder(self.binder(q), a_span));
                    } else {
                        let (e, d) = self.expr(q);
                        depth = depth.max(d + 1);
                        args.push(Arg::Expr(e));
                    }
                }
                self.node(ExprKind::Call { func, args }, span, depth)
            }
            r => unreachable!("grammar: {r:?} is not an expression"),
        }
    }

    /// `a op b op c`, folded to the left.
    fn chain(&mut self, p: Pair<Rule>) -> (Expr, usize) {
        let mut inner = p.into_inner();
        let (mut acc, mut depth) = self.expr(inner.next().expect("grammar: chain has an operand"));
        while let (Some(op), Some(rhs)) = (inner.next(), inner.next()) {
            let op = match op.as_str() {
                "+" => BinOp::Add,
                "-" => BinOp::Sub,
                "*" => BinOp::Mul,
                _ => BinOp::Div,
            };
            let (rhs, dr) = self.expr(rhs);
            let span = acc.span.to(rhs.span);
            let kind = ExprKind::Binary {
                op,
                lhs: Box::new(acc),
                rhs: Box::new(rhs),
            };
            (acc, depth) = self.node(kind, span, depth.max(dr) + 1);
        }
        (acc, depth)
    }

    /// `a ^ -b ^ c` is `a ^ (-(b ^ c))`: right-associative, and each exponent
    /// may start with unary minus.
    fn power(&mut self, p: Pair<Rule>) -> (Expr, usize) {
        // Operands, each with the minus signs written before it.
        let mut operands: Vec<(Vec<Span>, (Expr, usize))> = Vec::new();
        let mut negs = Vec::new();
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::pow_op => {}
                Rule::neg => negs.push(self.span(&q)),
                _ => {
                    let e = self.expr(q);
                    operands.push((std::mem::take(&mut negs), e));
                }
            }
        }
        let (negs, mut acc) = operands.pop().expect("grammar: power has an operand");
        let mut pending = negs;
        while let Some((negs, (base, db))) = operands.pop() {
            let exponent = self.negate(std::mem::take(&mut pending), acc);
            let span = base.span.to(exponent.0.span);
            let kind = ExprKind::Binary {
                op: BinOp::Pow,
                lhs: Box::new(base),
                rhs: Box::new(exponent.0),
            };
            acc = self.node(kind, span, db.max(exponent.1) + 1);
            pending = negs;
        }
        debug_assert!(
            pending.is_empty(),
            "grammar: no minus before the base of a power"
        );
        acc
    }

    fn negate(&mut self, negs: Vec<Span>, (mut e, mut d): (Expr, usize)) -> (Expr, usize) {
        for s in negs.into_iter().rev() {
            let span = s.to(e.span);
            (e, d) = self.node(ExprKind::Neg(Box::new(e)), span, d + 1);
        }
        (e, d)
    }
}

fn is_punct(r: Rule) -> bool {
    matches!(
        r,
        Rule::assign
            | Rule::semi
            | Rule::comma
            | Rule::lparen
            | Rule::rparen
            | Rule::lbracket
            | Rule::rbracket
    )
}
