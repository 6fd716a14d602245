//! Simplification with egg: every rule is sound numerically; simplifying
//! never changes a gradient; bishop.net's simplified gradient costs no more
//! than the textbook formulas; the fan-out example gives 2h + cos(h).

mod common;

use egg::{ENodeOrVar, Id, Language, RecExpr};
use netgrad::simplify::lang::{Leaf, Node, Number};
use netgrad::simplify::rules::rules;

/// Index variable 0 ranges over 3 values; value 0 is a vector over it, the
/// others are scalars.
const N: usize = 3;

thread_local! {
    /// Set when a term's evaluation passed through a subnormal number, where
    /// floats keep too few digits to compare with (`exp(-735)`).
    static SUBNORMAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Evaluates an e-graph term: `reads[v]` holds value v (a vector for v0).
fn eval(rec: &RecExpr<Node>, id: Id, reads: &[Vec<f64>], env: &mut [usize]) -> f64 {
    let x = eval_node(rec, id, reads, env);
    if x.is_subnormal() {
        SUBNORMAL.with(|s| s.set(true));
    }
    x
}

fn eval_node(rec: &RecExpr<Node>, id: Id, reads: &[Vec<f64>], env: &mut [usize]) -> f64 {
    let x = |id: Id, env: &mut [usize]| eval(rec, id, reads, env);
    let node = &rec[id];
    if let Some((f, a)) = node.func() {
        return f.apply(x(a, env));
    }
    if let Some((op, a, b)) = node.binary() {
        let l = x(a, env);
        return op.apply(l, x(b, env));
    }
    if let Some((op, i, body)) = node.reduction() {
        let Node::Leaf(Leaf::Var(v)) = rec[i] else {
            panic!("a binder")
        };
        let saved = env[v as usize];
        let values: Vec<f64> = (0..N)
            .map(|k| {
                env[v as usize] = k;
                x(body, env)
            })
            .collect();
        env[v as usize] = saved;
        let sum: f64 = values.iter().sum();
        return match op {
            netgrad::ir::Reduction::Sum => sum,
            netgrad::ir::Reduction::Mean => sum / N as f64,
            netgrad::ir::Reduction::LogSumExp => {
                let m = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                m + values.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
            }
            // No rule involves these; evaluated all the same, so that a
            // rule that matched one by mistake would be caught.
            netgrad::ir::Reduction::Max => values.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            netgrad::ir::Reduction::Min => values.iter().cloned().fold(f64::INFINITY, f64::min),
            netgrad::ir::Reduction::ArgMax | netgrad::ir::Reduction::ArgMin => {
                let max = op == netgrad::ir::Reduction::ArgMax;
                let mut best = 0;
                for (k, v) in values.iter().enumerate() {
                    if (max && *v > values[best]) || (!max && *v < values[best]) {
                        best = k;
                    }
                }
                best as f64
            }
        };
    }
    match node {
        Node::Num(n) => n.value(),
        Node::Size(_) => N as f64,
        Node::Where([c, a, b]) => {
            if x(*c, env) != 0.0 {
                x(*a, env)
            } else {
                x(*b, env)
            }
        }
        Node::Index(i) => {
            let Node::Leaf(Leaf::Var(v)) = rec[*i] else {
                panic!("an index variable")
            };
            env[v as usize] as f64
        }
        Node::Read(children) => {
            let Node::Leaf(Leaf::Value(v)) = rec[children[0]] else {
                panic!("a value")
            };
            let at = match children.get(1).map(|c| &rec[*c]) {
                Some(Node::Leaf(Leaf::Var(i))) => env[*i as usize],
                _ => 0,
            };
            reads[v as usize][at]
        }
        other => panic!("cannot evaluate {other:?}"),
    }
}

/// A pattern with its variables replaced: `?i` by index variable 0, a
/// variable that the rule requires constant (`?c`, `?c1`, ...) by a number,
/// `?f` by a read of value 0 at index 0 (it uses the index), `?r` by 1 / N
/// (the rules that use it require that), and any other by a read of a scalar
/// value of its own.
fn instantiate(
    pattern: &RecExpr<ENodeOrVar<Node>>,
    constants: &[(String, f64)],
    scalars: &[String],
) -> RecExpr<Node> {
    let mut out = RecExpr::default();
    let mut ids = Vec::new();
    for node in pattern.as_ref() {
        let id = match node {
            ENodeOrVar::ENode(n) => out.add(n.clone().map_children(|c| ids[usize::from(c)])),
            ENodeOrVar::Var(v) => {
                let name = v.to_string();
                if name == "?i" {
                    out.add(Node::Leaf(Leaf::Var(0)))
                } else if let Some((_, c)) = constants.iter().find(|(n, _)| *n == name) {
                    out.add(Node::Num(Number::new(*c)))
                } else if name == "?r" {
                    out.add(Node::Num(Number::new(1.0 / N as f64)))
                } else if name == "?f" {
                    let v = out.add(Node::Leaf(Leaf::Value(0)));
                    let i = out.add(Node::Leaf(Leaf::Var(0)));
                    out.add(Node::Read(vec![v, i].into_boxed_slice()))
                } else {
                    let k = 1 + scalars
                        .iter()
                        .position(|s| *s == name)
                        .expect("a scalar variable");
                    let v = out.add(Node::Leaf(Leaf::Value(k as u32)));
                    out.add(Node::Read(vec![v].into_boxed_slice()))
                }
            }
        };
        ids.push(id);
    }
    out
}

fn root(rec: &RecExpr<Node>) -> Id {
    Id::from(rec.as_ref().len() - 1)
}

#[test]
fn every_rule_is_sound_at_thousands_of_points() {
    let special = [0.0, 1.0, -1.0, 2.0, -0.5, 1e6, -1e6, 1e-6];
    let mut rng = netgrad::gradcheck::Rng::new(99);
    for rule in rules() {
        let lhs = rule
            .searcher
            .get_pattern_ast()
            .expect("a pattern rule")
            .clone();
        let rhs = rule
            .applier
            .get_pattern_ast()
            .expect("a pattern rule")
            .clone();
        let vars: Vec<String> = lhs
            .as_ref()
            .iter()
            .filter_map(|n| match n {
                ENodeOrVar::Var(v) => Some(v.to_string()),
                _ => None,
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let constant_vars: Vec<&String> = vars.iter().filter(|v| v.starts_with("?c")).collect();
        let scalars: Vec<String> = vars
            .iter()
            .filter(|v| !v.starts_with("?c") && !["?i", "?f", "?r"].contains(&v.as_str()))
            .cloned()
            .collect();
        let mut checked = 0;
        for point in 0..2000 {
            let mut draw = |k: usize| {
                if point < 64 {
                    special[(point + 3 * k) % special.len()]
                } else {
                    rng.signed_unit() * [1.0, 10.0, 1e4][point % 3]
                }
            };
            let constants: Vec<(String, f64)> = constant_vars
                .iter()
                .enumerate()
                .map(|(k, v)| (v.to_string(), draw(k)))
                .collect();
            let mut reads = vec![(0..N).map(|k| draw(10 + k)).collect::<Vec<f64>>()];
            reads.extend((0..scalars.len()).map(|k| vec![draw(20 + k)]));
            let l = instantiate(&lhs, &constants, &scalars);
            let r = instantiate(&rhs, &constants, &scalars);
            SUBNORMAL.with(|s| s.set(false));
            let lv = eval(&l, root(&l), &reads, &mut [0]);
            if !lv.is_finite() || SUBNORMAL.with(|s| s.get()) {
                // The rule speaks only where the left side is defined, and
                // floats say little where it passes through a subnormal.
                continue;
            }
            let rv = eval(&r, root(&r), &reads, &mut [0]);
            let err = (lv - rv).abs() / lv.abs().max(1.0);
            assert!(err <= 1e-9, "rule {}: {l} = {lv} but {r} = {rv}", rule.name);
            checked += 1;
        }
        assert!(
            checked >= 1000,
            "rule {} was defined at only {checked} points",
            rule.name
        );
    }
}

#[test]
fn every_rule_has_a_name_and_a_comment() {
    let source = std::fs::read_to_string(common::root().join("src/simplify/rules.rs")).unwrap();
    let lines: Vec<&str> = source.lines().collect();
    for rule in rules() {
        let needle = format!("rw!(\"{}\";", rule.name);
        let at = lines
            .iter()
            .position(|l| l.contains(&needle))
            .unwrap_or_else(|| panic!("no rw! for {}", rule.name));
        assert!(
            lines[at - 1].trim_start().starts_with("//"),
            "rule {} has no comment above it",
            rule.name
        );
    }
}

/// `start` simplifies to `goal` (both in .net syntax, in a one-definition program).
fn simplifies(decls: &str, start: &str, goal: &str) {
    let src = format!("{decls}\nr = {start}\nloss E = r\n");
    let dag = netgrad::front_end(&src)
        .unwrap_or_else(|d| panic!("{}", netgrad::diag::render("t.net", &src, &d)));
    let p = &dag.program;
    let id = p.ids().find(|v| p.value(*v).name == "r").unwrap();
    let v = p.value(id);
    let simpler = netgrad::simplify::expression(v.rhs.as_ref().unwrap(), v);
    assert_eq!(netgrad::pretty::expr(p, v, &simpler), goal, "from {start}");
}

#[test]
fn what_simplification_achieves() {
    let s = "dim N = 3\nparam x, y, v[N]";
    simplifies(s, "x * 1 + 0", "x");
    simplifies(s, "0.5 * (2 * (x - y))", "x - y");
    simplifies(s, "x + x", "2 * x");
    simplifies(s, "-1 * y + x", "x - y");
    simplifies(s, "x * y + x * v[0]", "x * (y + v[0])");
    simplifies(s, "sum(i, x * v[i])", "x * sum(i, v[i])");
    simplifies(s, "sum(i in N, x)", "3 * x");
    simplifies(s, "log(1 + exp(x))", "softplus(x)");
    simplifies(s, "1 / (1 + exp(-x))", "sigmoid(x)");
    simplifies(s, "mean(i, -(2 * v[i]))", "-(2 * mean(i, v[i]))");
    simplifies(s, "sum(i, v[i] / 3)", "mean(i, v[i])");
    simplifies(s, "sum(i, v[i] / 2)", "0.5 * sum(i, v[i])");
    simplifies(s, "x * (1 / y)", "x / y");
    // Not simplified, because it would change where it is defined.
    simplifies(s, "x / x", "x / x");
    simplifies(s, "exp(log(x))", "exp(log(x))");
}

#[test]
fn simplification_never_changes_a_gradient() {
    for path in common::net_files("examples") {
        let text = std::fs::read_to_string(&path).unwrap();
        let raw = common::gradient(&text);
        let (simple, _) = netgrad::simplify::gradient(raw.clone());
        for seed in 1..=3 {
            let given = netgrad::gradcheck::random_values(&raw.dag.program, seed);
            let before = netgrad::eval::run(&raw.dag.program, &given);
            let after = netgrad::eval::run(&simple.dag.program, &given);
            for (w, adj) in &raw.wrt {
                let adj_after = simple.wrt.iter().find(|(x, _)| x == w).unwrap().1;
                for (k, (b, a)) in before[adj.index()]
                    .iter()
                    .zip(&after[adj_after.index()])
                    .enumerate()
                {
                    assert!(
                        (b - a).abs() <= 1e-12 * b.abs().max(1.0),
                        "{}: element {k}: {b} vs {a}",
                        path.display()
                    );
                }
            }
            assert_eq!(
                before[raw.dag.program.loss.index()],
                after[simple.dag.program.loss.index()]
            );
        }
    }
}

#[test]
fn bishop_costs_no_more_than_the_textbook_formulas() {
    let text = std::fs::read_to_string(common::root().join("examples/bishop.net")).unwrap();
    let (g, stats) = netgrad::simplify::gradient(common::gradient(&text));
    let (_, _, _, ours) = stats.totals(&g);

    let book =
        std::fs::read_to_string(common::root().join("tests/textbook/bishop_backprop.net")).unwrap();
    let dag = netgrad::front_end(&book).unwrap();
    let p = &dag.program;
    let backward = ["dy", "db2", "dw2", "dz1", "da1", "dw1", "db1"];
    let textbook: f64 = p
        .values
        .iter()
        .filter(|v| backward.contains(&v.name.as_str()))
        .map(|v| netgrad::simplify::weighted(v.rhs.as_ref().unwrap(), v))
        .sum();
    eprintln!(
        "bishop gradient: {ours} weighted ops; textbook formulas: {textbook}; ratio {}",
        ours / textbook
    );
    assert!(ours <= textbook, "{ours} > {textbook}");
}

#[test]
fn fanout_simplifies_to_2h_plus_cos_h() {
    let text = std::fs::read_to_string(common::root().join("examples/fanout.net")).unwrap();
    let (g, _) = netgrad::simplify::gradient(common::gradient(&text));
    let p = &g.dag.program;
    let h = p.values.iter().find(|v| v.name == "∂E/∂h").unwrap();
    assert_eq!(netgrad::pretty::definition(p, h), "∂E/∂h = 2 * h + cos(h)");
}

#[test]
fn simplification_is_deterministic() {
    for path in common::net_files("examples") {
        let text = std::fs::read_to_string(&path).unwrap();
        let once = netgrad::simplify::gradient(common::gradient(&text)).0;
        let twice = netgrad::simplify::gradient(common::gradient(&text)).0;
        assert_eq!(once.dag.program, twice.dag.program, "{}", path.display());
    }
}

#[test]
fn every_explained_step_computes_the_same_values() {
    let mut steps_seen = 0;
    for path in common::net_files("examples") {
        let text = std::fs::read_to_string(&path).unwrap();
        let g = common::simplified(&text);
        let p = &g.dag.program;
        let given = netgrad::gradcheck::random_values(p, 21);
        let reference = netgrad::eval::run(p, &given);
        for id in p.ids() {
            let Some(steps) = netgrad::simplify::steps(&g, id) else {
                continue;
            };
            for step in steps {
                // The program with this value computed by the step's expression.
                let mut program = p.clone();
                program.values[id.index()].rhs = Some(step.expr.clone());
                let data = netgrad::eval::run(&program, &given);
                for (k, (a, b)) in reference[id.index()]
                    .iter()
                    .zip(&data[id.index()])
                    .enumerate()
                {
                    assert!(
                        (a - b).abs() <= 1e-12 * a.abs().max(1.0),
                        "{}: {} element {k}, after [{}]: {a} vs {b}",
                        path.display(),
                        p.value(id).name,
                        step.rule
                    );
                }
                steps_seen += 1;
            }
        }
    }
    assert!(steps_seen > 20, "only {steps_seen} steps explained");
}

#[test]
fn steps_name_the_rules() {
    let bishop = std::fs::read_to_string(common::root().join("examples/bishop.net")).unwrap();
    let text = netgrad::explain::explain_with_steps(
        &common::simplified(&bishop),
        "bishop.net",
        netgrad::explain::Format::Text,
    );
    for line in [
        "= 0.5 · 2 · (y[k] − t[k])      [const-mul-assoc]",
        "= 1 · (y[k] − t[k])      [constant-fold]",
        "= y[k] − t[k]      [one-mul]",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    let fanout = std::fs::read_to_string(common::root().join("examples/fanout.net")).unwrap();
    let text = netgrad::explain::explain_with_steps(
        &common::simplified(&fanout),
        "fanout.net",
        netgrad::explain::Format::Text,
    );
    assert!(
        text.contains("[constants]") && text.contains("[add-self]"),
        "{text}"
    );
}
