//! Comparisons and `where`: the gradient against central differences (a
//! Huber loss, a causal mask, `and`, `or`, `not`, reductions in a branch and
//! in a condition), which branch a point exactly on the boundary takes, no
//! derivative through a condition, the simplifier's folds (sound, and never
//! by a run-time dim's size), range refinement, and what users read.
//! examples/huber_regression.net is checked with every example besides.

mod common;

use netgrad::autodiff::Gradient;
use netgrad::ir::{BinOp, Expr, Func, Origin, ValueKind};

use common::{given_by_name as given, gradient_wrt as gradient, loss_and_gradients as run};

/// A causal mask before a softmax over the keys (attention's scores).
pub const MASK: &str = "dim T = 4\ndim D = 3\ninput q[T, D], k[T, D], v[T, D]\nparam wq[D, D]\n\
    s[i, j] = sum(d, sum(e, wq[d, e] * q[i, e]) * k[j, d])\n\
    m[i, j] = where(j <= i, s[i, j], -1e9)\n\
    a[i, j] = exp(m[i, j] - logsumexp(j2, m[i, j2]))\n\
    o[i, d] = sum(j, a[i, j] * v[j, d])\n\
    loss E = sum(i, d, o[i, d]^2)\noutput m\n";

/// `and`, `or` and `not`, an index compared with a literal, a condition on
/// params, nested `where`s.
pub const LOGIC: &str = "dim N = 5\ninput x[N]\nparam w[N], c\n\
    h[i] = where((x[i] > 0 and i != 2) or not w[i] < c, w[i] * x[i], c * w[i]^2)\n\
    g[i] = where(i < 2 or i >= N - 1, where(w[i] >= 0, w[i], -2 * w[i]), sin(w[i]))\n\
    loss E = sum(i, h[i] + g[i]^2) + where(c >= 0.5, c^2, -c)\noutput h\n";

/// Reductions inside a branch and inside a condition.
pub const REDUCTIONS: &str = "dim K = 4\nparam w[K], b\n\
    loss E = where(sum(k, w[k]) > b, sum(k, w[k]^2), mean(k, exp(w[k]))) + sum(k, where(w[k] < max(j, w[j]), w[k] * b, b^2))\n";

/// A `where` used several times, hoisted into a value of its own, nested in
/// another, and summed inside a branch.
pub const SHARED: &str = "dim N = 3\ninput x[N]\nparam w[N], c\n\
    a[i] = where(x[i] > c, w[i] * x[i], sin(w[i]))^2 + where(x[i] > c, w[i] * x[i], sin(w[i]))\n\
    b[i] = where(i == 1, where(x[i] > c, w[i] * x[i], sin(w[i])), c)\n\
    loss E = sum(i, a[i] * b[i]) + where(c < 0, sum(i, where(x[i] > c, w[i] * x[i], sin(w[i]))), c)\n";

fn huber() -> String {
    std::fs::read_to_string(common::root().join("examples/huber_regression.net")).unwrap()
}

fn programs() -> Vec<(&'static str, String)> {
    vec![
        ("huber", huber()),
        ("mask", MASK.to_string()),
        ("logic", LOGIC.to_string()),
        ("reductions", REDUCTIONS.to_string()),
        ("shared", SHARED.to_string()),
    ]
}

#[test]
fn where_agrees_with_central_differences() {
    for (name, text) in programs() {
        let probe = netgrad::front_end(&text).unwrap();
        let all: Vec<String> = netgrad::eval::given_values(&probe.program)
            .map(|v| probe.program.value(v).name.clone())
            .collect();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let raw = gradient(&text, &all);
        let simplified = netgrad::simplify::gradient(raw.clone()).0;
        for g in [&raw, &simplified] {
            for seed in 1..=4 {
                let given = netgrad::gradcheck::random_values(&g.dag.program, seed);
                for c in netgrad::gradcheck::check(g, &given, seed) {
                    assert!(
                        c.worst <= 1e-6,
                        "{name}: {} off by {:e} (seed {seed})",
                        c.name,
                        c.worst
                    );
                }
            }
        }
    }
}

#[test]
fn simplification_changes_no_value() {
    for (name, text) in programs() {
        let raw = gradient(&text, &[]);
        let simplified = netgrad::simplify::gradient(raw.clone()).0;
        for seed in 1..=8 {
            let a = run(
                &raw,
                &netgrad::gradcheck::random_values(&raw.dag.program, seed),
            );
            let b = run(
                &simplified,
                &netgrad::gradcheck::random_values(&simplified.dag.program, seed),
            );
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0);
            assert!(close(a.0, b.0), "{name}: loss {} vs {}", a.0, b.0);
            for (ga, gb) in a.1.iter().zip(&b.1) {
                for (x, y) in ga.iter().zip(gb) {
                    assert!(close(*x, *y), "{name}: gradient {x} vs {y} (seed {seed})");
                }
            }
        }
    }
}

/// At a point exactly on the boundary, `<=`, `>=` and `==` hold and `<`,
/// `>` and `!=` do not: the value and the derivative are those of the
/// branch the comparison selects.
#[test]
fn a_point_on_the_boundary_takes_the_branch_its_comparison_selects() {
    let text = "param x\nloss E = where(x <= 0, 2 * x, 3 * x) + where(x < 0, 5 * x, 7 * x)\
                + where(x == 0, 11 * x, 13 * x) + where(x != 0, 17 * x, 19 * x)\
                + where(x >= 0, 23 * x, 29 * x) + where(x > 0, 31 * x, 37 * x)\n";
    for g in [
        gradient(text, &[]),
        netgrad::simplify::gradient(gradient(text, &[])).0,
    ] {
        let at = |x: f64| run(&g, &given(&g, &[("x", &[x])]));
        // x = 0: <= (2), not < (7), == (11), not != (19), >= (23), not > (37).
        assert_eq!(
            at(0.0),
            (0.0, vec![vec![2.0 + 7.0 + 11.0 + 19.0 + 23.0 + 37.0]])
        );
        // Either side of it.
        assert_eq!(at(1.0).1, vec![vec![3.0 + 7.0 + 13.0 + 17.0 + 23.0 + 31.0]]);
        assert_eq!(
            at(-1.0).1,
            vec![vec![2.0 + 5.0 + 13.0 + 17.0 + 29.0 + 37.0]]
        );
    }
    // The Huber loss at |r| = delta exactly: the quadratic branch (`<=`),
    // whose derivative r is delta there, as is the linear branch's.
    let text = "param r\nloss E = where(abs(r) <= 1.5, 0.5 * r^2, 1.5 * (abs(r) - 0.75))\n";
    let g = netgrad::simplify::gradient(gradient(text, &[])).0;
    for (r, e, d) in [(1.5, 1.125, 1.5), (-1.5, 1.125, -1.5), (3.0, 3.375, 1.5)] {
        assert_eq!(run(&g, &given(&g, &[("r", &[r])])), (e, vec![vec![d]]));
    }
}

#[test]
fn a_comparison_with_nan_is_false_except_not_equal() {
    let nan = f64::NAN;
    for op in [BinOp::Lt, BinOp::Le, BinOp::Gt, BinOp::Ge, BinOp::Eq] {
        assert_eq!(op.apply(nan, 1.0), 0.0, "{op:?}");
        assert_eq!(op.apply(1.0, nan), 0.0, "{op:?}");
    }
    assert_eq!(BinOp::Ne.apply(nan, nan), 1.0);
    assert_eq!(Func::Not.apply(0.0), 1.0);
    assert_eq!(Func::Not.apply(-2.0), 0.0);
}

#[test]
fn the_causal_mask_hides_the_future() {
    let g = gradient(MASK, &[]);
    let given = netgrad::gradcheck::random_values(&g.dag.program, 3);
    let data = netgrad::eval::run(&g.dag.program, &given);
    let p = &g.dag.program;
    let m = p.ids().find(|v| p.value(*v).name == "m").unwrap();
    let s = p.ids().find(|v| p.value(*v).name == "s").unwrap();
    for i in 0..4 {
        for j in 0..4 {
            let want = if j <= i {
                data[s.index()][i * 4 + j]
            } else {
                -1e9
            };
            assert_eq!(data[m.index()][i * 4 + j], want, "m[{i}, {j}]");
        }
    }
    // The first row attends to itself only: its output is v's first row,
    // whatever the scores.
    let o = p.ids().find(|v| p.value(*v).name == "o").unwrap();
    let v = p.ids().find(|x| p.value(*x).name == "v").unwrap();
    for (got, want) in data[o.index()][..3].iter().zip(&data[v.index()][..3]) {
        assert!((got - want).abs() <= 1e-15, "{got} vs {want}");
    }
}

#[test]
fn a_condition_has_no_derivative_and_no_chain_rule_term() {
    // c is read only in conditions: its gradient is 0, and its adjoint has
    // no use at all (not a term times 0).
    let text = "param w, c\nd = c * c\nloss E = where(c > 0 and d < 4, w, 2 * w) + where(not w > c, w, 0)\n";
    let g = gradient(text, &["w", "c"]);
    let p = &g.dag.program;
    let c = p.ids().find(|v| p.value(*v).name == "c").unwrap();
    let adj = g.adjoint_of[c.index()].unwrap();
    assert!(matches!(&p.value(adj).origin, Origin::Adjoint { uses, .. } if uses.is_empty()));
    assert_eq!(p.value(adj).rhs, Some(Expr::Num(0.0)));
    for (w, c, dw) in [
        (1.0, 1.0, 1.0 + 1.0),
        (1.0, 3.0, 2.0 + 1.0),
        (2.0, 1.0, 1.0),
    ] {
        let (_, grads) = run(&g, &given(&g, &[("w", &[w]), ("c", &[c])]));
        assert_eq!(grads, [vec![dw], vec![0.0]], "w = {w}, c = {c}");
    }
}

fn forward_rhs(g: &Gradient, name: &str) -> Expr {
    let p = &g.dag.program;
    let id = p.ids().find(|v| p.value(*v).name == name).unwrap();
    p.value(id).rhs.clone().unwrap()
}

fn has_where(e: &Expr) -> bool {
    match e {
        Expr::Where { .. } => true,
        Expr::Unary { arg, .. } => has_where(arg),
        Expr::Binary { lhs, rhs, .. } => has_where(lhs) || has_where(rhs),
        Expr::Reduce { body, .. } => has_where(body),
        _ => false,
    }
}

#[test]
fn a_condition_known_at_compile_time_folds() {
    // Over i in N, `i < N` always holds and `i >= N` never does; `2 > 1`
    // is a constant; `i < 2` depends on i and stays.
    let text = "dim N = 4\nparam w[N]\n\
                a[i] = where(i < N, w[i], 0) + where(i >= N, 5, w[i]^2) + where(2 > 1, w[i], 7)\n\
                b[i] = where(i < 2, w[i], 0)\nloss E = sum(i, a[i] + b[i])\n";
    let raw = gradient(text, &[]);
    let g = netgrad::simplify::gradient(raw.clone()).0;
    assert!(
        !has_where(&forward_rhs(&g, "a")),
        "{:?}",
        forward_rhs(&g, "a")
    );
    assert!(has_where(&forward_rhs(&g, "b")));
    let given = given(&g, &[("w", &[1.0, -2.0, 3.0, 0.5])]);
    assert_eq!(run(&g, &given), run(&raw, &given));
    // A run-time dim's size is not known: `i < 3` over `i in N` stays, though
    // the program is instantiated at N = 3.
    let text = "dim N\nparam b\ninput x[N]\nloss E = sum(i, where(i < 3, x[i] * b, 0))\n";
    let g = netgrad::simplify::gradient(gradient(text, &[])).0;
    assert!(has_where(&forward_rhs(&g, "E")));
}

#[test]
fn the_chain_rule_factor_becomes_a_branch() {
    // adj * where(c, 1, 0) * x is where(c, adj * x, 0) once simplified.
    let text =
        "dim N = 3\ninput x[N]\nparam w[N]\nloss E = sum(i, where(x[i] > 0, w[i] * x[i], 0))\n";
    let g = netgrad::simplify::gradient(gradient(text, &[])).0;
    let p = &g.dag.program;
    let (_, adj) = g.wrt[0];
    let rhs = p.value(adj).rhs.as_ref().unwrap();
    assert!(
        matches!(rhs, Expr::Where { then, els, .. } if **els == Expr::Num(0.0) && !has_where(then)),
        "{}",
        netgrad::pretty::expr(p, p.value(adj), rhs)
    );
}

#[test]
fn a_condition_refines_the_ranges_of_its_branches() {
    use netgrad::refine::{ranges_of, refine};
    let text = "dim H = 8\ndim P = 2\nparam w[H]\n\
                a[i] = where(i >= P and i < H - P, w[i], 0)\n\
                b[i] = where(not (i < 3 or i > 5), w[i], 0)\n\
                c[i] = where(i < 2 or i == 6, w[i], 0)\n\
                d[i, j] = where(j <= i and i < 3, w[i] * w[j], 0)\n\
                e[i] = where(w[i] > 0 and i + 1 > 4, w[i], 0)\n\
                loss E = sum(i, a[i] + b[i] + c[i] + e[i] + sum(j, d[i, j]))\n";
    let dag = netgrad::front_end(text).unwrap();
    let p = &dag.program;
    let branches = |name: &str| {
        let v = p.value(p.ids().find(|v| p.value(*v).name == name).unwrap());
        let Some(Expr::Where { cond, .. }) = &v.rhs else {
            panic!("{name} is a where")
        };
        let all = ranges_of(v);
        (refine(cond, true, &all), refine(cond, false, &all))
    };
    assert_eq!(branches("a"), (vec![(2, 5)], vec![(0, 7)]));
    assert_eq!(branches("b"), (vec![(3, 5)], vec![(0, 7)]));
    // Neither i < 2 nor i == 6: i >= 2 (a hole at 6 is not a range).
    assert_eq!(branches("c"), (vec![(0, 6)], vec![(2, 7)]));
    // j <= i < 3: both below 3, in A; in B, nothing sure.
    assert_eq!(branches("d"), (vec![(0, 2), (0, 2)], vec![(0, 7), (0, 7)]));
    // A comparison of values says nothing of i; i + 1 > 4 does.
    assert_eq!(branches("e"), (vec![(4, 7)], vec![(0, 7)]));
    // A condition that never holds: an empty range.
    let (a, _) = {
        let dag =
            netgrad::front_end("dim N = 4\nparam w[N]\nloss E = sum(i, where(i > 9, w[i], 0))\n")
                .unwrap();
        let v = dag.program.value(dag.program.loss);
        let Some(Expr::Reduce { body, .. }) = &v.rhs else {
            panic!("a sum")
        };
        let Expr::Where { cond, .. } = &**body else {
            panic!("a where")
        };
        let all = ranges_of(v);
        (refine(cond, true, &all), ())
    };
    assert!(a[0].0 > a[0].1, "{a:?}");
}

#[test]
fn explain_writes_conditions_in_every_notation() {
    let g = netgrad::simplify::gradient(gradient(LOGIC, &[])).0;
    let p = &g.dag.program;
    let h = p.value(p.ids().find(|v| p.value(*v).name == "h").unwrap());
    let rhs = h.rhs.as_ref().unwrap();
    use netgrad::pretty::{expr_in, Notation};
    assert_eq!(
        expr_in(Notation::Source, p, h, rhs),
        "where(x[i] > 0 and i != 2 or not w[i] < c, w[i] * x[i], c * w[i]^2)"
    );
    assert_eq!(
        expr_in(Notation::Unicode, p, h, rhs),
        "where(x[i] > 0 ∧ i ≠ 2 ∨ ¬w[i] < c, w[i] · x[i], c · w[i]²)"
    );
    assert_eq!(
        expr_in(Notation::Latex, p, h, rhs),
        "\\operatorname{where}\\left(x_{i} > 0 \\land i \\neq 2 \\lor \\lnot w_{i} < c, w_{i} \\cdot x_{i}, c \\cdot w_{i}^{2}\\right)"
    );
    // The source form reads back as the same program.
    let again = format!(
        "dim N = 5\ninput x[N]\nparam w[N], c\nh[i] = {}\nloss E = sum(i, h[i])\n",
        expr_in(Notation::Source, p, h, rhs)
    );
    let back = netgrad::front_end(&again).unwrap();
    let bp = &back.program;
    let bh = bp.value(bp.ids().find(|v| bp.value(*v).name == "h").unwrap());
    assert_eq!(bh.rhs.as_ref(), Some(rhs));
}

/// The mask's derivation (huber_regression.net's is among the examples'
/// explain snapshots).
#[test]
fn explain_writes_the_masks_derivative_with_where() {
    let path = std::env::temp_dir().join(format!("netgrad-where-mask-{}.net", std::process::id()));
    std::fs::write(&path, MASK).unwrap();
    let out = common::netgrad(&["explain", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    let text = common::text(&out.stdout);
    assert!(!text.contains("_t"), "a temporary's name:\n{text}");
    for line in [
        "  m[i, j] = where(j ≤ i, s[i, j], -1000000000)",
        "  ∂m[i, j]/∂s[i, j] = where(j ≤ i, 1, 0)",
        "  ∂E/∂s[i, j] = ∂E/∂m[i, j] · where(j ≤ i, 1, 0)",
        "  ∂E/∂s[i, j] = where(j ≤ i, ∂E/∂m[i, j], 0)",
    ] {
        assert!(text.lines().any(|l| l == line), "no line {line:?}:\n{text}");
    }
}

#[test]
fn a_condition_of_values_keeps_its_kind() {
    // Conditions are values 1 or 0 only inside a `where`: the checked
    // program holds no condition outside one.
    let dag = netgrad::front_end(LOGIC).unwrap();
    fn outside(e: &Expr, inside: bool) -> bool {
        match e {
            Expr::Binary { op, lhs, rhs } => {
                (op.is_condition() && !inside) || outside(lhs, inside) || outside(rhs, inside)
            }
            Expr::Unary { func, arg } => (*func == Func::Not && !inside) || outside(arg, inside),
            Expr::Where { cond, then, els } => {
                outside(cond, true) || outside(then, false) || outside(els, false)
            }
            Expr::Reduce { body, .. } => outside(body, inside),
            _ => false,
        }
    }
    for v in &dag.program.values {
        if v.kind != ValueKind::Temp {
            if let Some(rhs) = &v.rhs {
                assert!(!outside(rhs, false), "{}", v.name);
            }
        }
    }
}

/// The simplifier decides a comparison of an index variable with a constant
/// from the variable's range: at every operator, on both sides, with
/// constants inside, on the edges of and outside the range 0..=3, the
/// simplified program computes what the original does.
#[test]
fn comparisons_decided_by_a_range_are_sound() {
    let mut terms = Vec::new();
    for op in ["<", "<=", ">", ">=", "==", "!="] {
        for c in ["-1", "0", "0.5", "2", "3", "3.5", "4", "5"] {
            terms.push(format!("where(i {op} {c}, w[i], 2 * w[i])"));
            terms.push(format!("where({c} {op} i, 3 * w[i], 5 * w[i])"));
        }
    }
    let text = format!(
        "dim N = 4\nparam w[N]\nloss E = sum(i, {})\n",
        terms.join(" + ")
    );
    let raw = gradient(&text, &[]);
    let g = netgrad::simplify::gradient(raw.clone()).0;
    // Most of them fold: the range decides all but those that split it.
    let folded = terms.len() - count_wheres(&forward_rhs(&g, "E"));
    assert!(folded >= terms.len() / 2, "only {folded} folded");
    let given = given(&g, &[("w", &[1.0, 10.0, 100.0, 1000.0])]);
    assert_eq!(run(&g, &given), run(&raw, &given));
}

fn count_wheres(e: &Expr) -> usize {
    match e {
        Expr::Where { cond, then, els } => {
            1 + count_wheres(cond) + count_wheres(then) + count_wheres(els)
        }
        Expr::Unary { arg, .. } => count_wheres(arg),
        Expr::Binary { lhs, rhs, .. } => count_wheres(lhs) + count_wheres(rhs),
        Expr::Reduce { body, .. } => count_wheres(body),
        _ => 0,
    }
}
