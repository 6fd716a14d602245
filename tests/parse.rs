//! The grammar: precedence, associativity, literals, and spans, checked on
//! the AST printed with every parenthesis.

use netgrad::syntax::ast::{Arg, BinOp, Expr, ExprKind, Item};

fn show(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Number { value, .. } => format!("{value}"),
        ExprKind::Read { name, subs: None } => name.name.clone(),
        ExprKind::Read {
            name,
            subs: Some(s),
        } => format!(
            "{}[{}]",
            name.name,
            s.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        ExprKind::Neg(a) => format!("(-{})", show(a)),
        ExprKind::Binary { op, lhs, rhs } => {
            let op = match op {
                BinOp::Add => "+",
                BinOp::Sub => "-",
                BinOp::Mul => "*",
                BinOp::Div => "/",
                BinOp::Pow => "^",
            };
            format!("({} {op} {})", show(lhs), show(rhs))
        }
        ExprKind::Call { func, args } => {
            let args: Vec<String> = args
                .iter()
                .map(|a| match a {
                    Arg::Expr(e) => show(e),
                    Arg::Binder(b, _) => format!("{} in ?", b.name.name),
                })
                .collect();
            format!("{}({})", func.name, args.join(", "))
        }
        ExprKind::Compare { op, lhs, rhs } => format!("({} {op} {})", show(lhs), show(rhs)),
        ExprKind::Logic { and, lhs, rhs } => {
            let op = if *and { "and" } else { "or" };
            format!("({} {op} {})", show(lhs), show(rhs))
        }
        ExprKind::Not(a) => format!("(not {})", show(a)),
    }
}

/// The right-hand side of `loss E = <src>`, fully parenthesised.
fn parse(src: &str) -> String {
    let text = format!("loss E = {src}");
    let (file, diags) = netgrad::syntax::parse(&text);
    assert!(diags.is_empty(), "{src}: {diags:?}");
    match &file.items[..] {
        [Item::Loss(d)] => show(&d.rhs),
        other => panic!("{src}: {other:?}"),
    }
}

#[test]
fn precedence_and_associativity() {
    let cases = [
        ("a + b * c", "(a + (b * c))"),
        ("a * b + c", "((a * b) + c)"),
        ("a - b - c", "((a - b) - c)"),
        ("a / b / c", "((a / b) / c)"),
        ("a / b * c", "((a / b) * c)"),
        ("a ^ b ^ c", "(a ^ (b ^ c))"),
        ("a ^ -b", "(a ^ (-b))"),
        ("a ^ -b ^ c", "(a ^ (-(b ^ c)))"),
        ("-x ^ 2", "(-(x ^ 2))"),
        ("- -x", "(-(-x))"),
        ("-a * b", "((-a) * b)"),
        ("2 * -x", "(2 * (-x))"),
        ("a - -b", "(a - (-b))"),
        ("(a + b) * c", "((a + b) * c)"),
        ("2 ^ x ^ 2 * 3", "((2 ^ (x ^ 2)) * 3)"),
        ("exp(-x) ^ 2", "(exp((-x)) ^ 2)"),
    ];
    for (src, want) in cases {
        assert_eq!(parse(src), want, "{src}");
    }
}

#[test]
fn number_literals() {
    for (src, want) in [
        ("3", 3.0),
        ("0.5", 0.5),
        (".5", 0.5),
        ("1e-3", 1e-3),
        ("2.5E+4", 2.5e4),
        ("7e2", 700.0),
    ] {
        let (file, diags) = netgrad::syntax::parse(&format!("loss E = {src}"));
        assert!(diags.is_empty());
        let Item::Loss(d) = &file.items[0] else {
            panic!()
        };
        assert!(
            matches!(d.rhs.kind, ExprKind::Number { value, .. } if value == want),
            "{src}"
        );
    }
}

#[test]
fn calls_reductions_and_subscripts() {
    assert_eq!(parse("sum(i, j, x[i, j])"), "sum(i, j, x[i, j])");
    assert_eq!(parse("mean(n in N, y[n, 0])"), "mean(n in ?, y[n, 0])");
    assert_eq!(parse("max(a, b) + pow(x, 2)"), "(max(a, b) + pow(x, 2))");
    assert_eq!(parse("x[i + 1]"), "x[(i + 1)]");
    assert_eq!(parse("a < b"), "(a < b)");
}

#[test]
fn conditions_bind_looser_than_arithmetic() {
    // or < and < not < a comparison < arithmetic.
    assert_eq!(parse("a + 1 < b * 2"), "((a + 1) < (b * 2))");
    assert_eq!(
        parse("a < b or c >= d and not e != f"),
        "((a < b) or ((c >= d) and (not (e != f))))"
    );
    assert_eq!(parse("not not a <= b"), "(not (not (a <= b)))");
    assert_eq!(parse("a == b or c"), "((a == b) or c)");
    assert_eq!(
        parse("(a < b or c < d) and e > f"),
        "(((a < b) or (c < d)) and (e > f))"
    );
    assert_eq!(
        parse("where(j <= i, s[i, j], -1e9)"),
        "where((j <= i), s[i, j], (-1000000000))"
    );
    // `and`, `or` and `not` are words of their own: `android` is a name.
    assert_eq!(parse("android + notes"), "(android + notes)");
}

#[test]
fn comparisons_do_not_chain_and_logical_words_are_not_names() {
    for src in [
        "a < b < c",
        "a == b != c",
        "and + 1",
        "x or",
        "not",
        "a and or b",
    ] {
        let text = format!("loss E = {src}\n");
        let (_, diags) = netgrad::syntax::parse(&text);
        assert!(
            diags.iter().any(|d| d.code == netgrad::diag::Code::Syntax),
            "{src} parsed"
        );
    }
}

#[test]
fn statements_separators_and_comments() {
    let src = "dim D = 3; dim K = 2 # two outputs\ninput x[D], t[K]\nparam w[K, D]\ny[k] = sum(i, w[k, i] * x[i]);\nloss E = sum(k, y[k])\noutput y\n";
    let (file, diags) = netgrad::syntax::parse(src);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(file.items.len(), 7);
    assert!(matches!(&file.items[6], Item::Output(names) if names[0].name == "y"));
}

#[test]
fn keywords_need_a_word_boundary() {
    // `dimension`, `inputs` and `lossy` are names, not keywords.
    let (file, diags) = netgrad::syntax::parse("dimension = 2\ninputs = 3\nlossy = 4\nloss E = 1");
    assert!(diags.is_empty(), "{diags:?}");
    assert!(file.items[..3].iter().all(|i| matches!(i, Item::Def(_))));
}

#[test]
fn spans_cover_what_was_written_without_trailing_space() {
    let src = "loss E = a +  b   # comment\n";
    let (file, _) = netgrad::syntax::parse(src);
    let Item::Loss(d) = &file.items[0] else {
        panic!()
    };
    assert_eq!(&src[d.rhs.span.start..d.rhs.span.end], "a +  b");
    assert_eq!(&src[d.span.start..d.span.end], "loss E = a +  b");
    let ExprKind::Binary { rhs, .. } = &d.rhs.kind else {
        panic!()
    };
    assert_eq!(&src[rhs.span.start..rhs.span.end], "b");
}

/// Size arithmetic (language version 2): a dim may be an integer expression
/// of integer literals and earlier dims, `+ - * /` and parentheses, division
/// exact; the sizes are folded before anything else sees them.
#[test]
fn dims_may_be_integer_expressions_of_earlier_dims() {
    let text = "\
dim H = 28
dim KH = 3
dim OH = H - KH + 1
dim P = (OH - 2) / 2 + 1
dim F = 2 * P * P
param w[F, OH], v[P]
loss E = sum(i, j, w[i, j]^2) + sum(p, v[p])
";
    let dag = netgrad::front_end(text).expect("valid sizes");
    let sizes: Vec<(String, usize)> = dag
        .program
        .dims
        .iter()
        .map(|d| (d.name.clone(), d.size))
        .collect();
    let want = [("H", 28), ("KH", 3), ("OH", 26), ("P", 13), ("F", 338)];
    assert_eq!(
        sizes,
        want.map(|(n, s)| (n.to_string(), s)).to_vec(),
        "sizes"
    );
    let w = dag.program.values.iter().find(|v| v.name == "w").unwrap();
    assert_eq!(w.len(), 338 * 26);
}
