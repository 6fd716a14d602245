//! The rewrite rules, grouped by theme. Each is sound on the reals wherever
//! its left side is defined; none changes where an expression is defined
//! (no `x / x -> 1`, no `sqrt(x^2) -> x`, no `exp(log x) -> x`). There is no
//! blanket commutativity or associativity: constants move left, and like
//! terms are collected, by rules of their own.

use egg::{rewrite as rw, Id, Rewrite, Subst, Var};

use super::analysis::{index_var, Facts, Graph};
use super::lang::Node;

pub type Rule = Rewrite<Node, Facts>;

fn var(name: &str) -> Var {
    name.parse().expect("a pattern variable")
}

/// `?v` is a folded constant.
fn is_const(v: &str) -> impl Fn(&mut Graph, Id, &Subst) -> bool {
    let v = var(v);
    move |egraph, _, subst| egraph[subst[v]].data.constant.is_some()
}

/// `?v` is not a folded constant.
fn not_const(v: &str) -> impl Fn(&mut Graph, Id, &Subst) -> bool {
    let v = var(v);
    move |egraph, _, subst| egraph[subst[v]].data.constant.is_none()
}

/// No member of `?c` uses the index variable `?i`.
fn free_of(c: &str, i: &str) -> impl Fn(&mut Graph, Id, &Subst) -> bool {
    let (c, i) = (var(c), var(i));
    move |egraph, _, subst| match index_var(egraph, subst[i]) {
        Some(v) => !egraph[subst[c]].data.free.contains(&v),
        None => false,
    }
}

/// `?r` is the constant 1 / N, N the size of the index variable `?i`.
fn recip_size(r: &str, i: &str) -> impl Fn(&mut Graph, Id, &Subst) -> bool {
    let (r, i) = (var(r), var(i));
    move |egraph, _, subst| {
        let n = index_var(egraph, subst[i])
            .and_then(|v| egraph.analysis.extents.get(v as usize).copied());
        match (n, egraph[subst[r]].data.constant) {
            (Some(n), Some(c)) => c == 1.0 / n as f64,
            _ => false,
        }
    }
}

/// Every rule, in a fixed order (the order is part of determinism).
pub fn rules() -> Vec<Rule> {
    let mut rules = Vec::new();
    rules.extend(identities());
    rules.extend(signs());
    rules.extend(constants());
    rules.extend(like_terms());
    rules.extend(reductions());
    rules.extend(stable_forms());
    rules.extend(conditions());
    rules
}

/// Identities: what the chain rule leaves behind (products with 1, sums with 0).
pub fn identities() -> Vec<Rule> {
    vec![
        // x + 0 = x
        rw!("add-zero"; "(+ ?a 0.0)" => "?a"),
        // 0 + x = x
        rw!("zero-add"; "(+ 0.0 ?a)" => "?a"),
        // x - 0 = x
        rw!("sub-zero"; "(- ?a 0.0)" => "?a"),
        // 0 - x = -x
        rw!("zero-sub"; "(- 0.0 ?a)" => "(neg ?a)"),
        // x * 1 = x
        rw!("mul-one"; "(* ?a 1.0)" => "?a"),
        // 1 * x = x
        rw!("one-mul"; "(* 1.0 ?a)" => "?a"),
        // x * 0 = 0 (on the reals, where x is defined)
        rw!("mul-zero"; "(* ?a 0.0)" => "0.0"),
        // 0 * x = 0
        rw!("zero-mul"; "(* 0.0 ?a)" => "0.0"),
        // x / 1 = x
        rw!("div-one"; "(/ ?a 1.0)" => "?a"),
        // x^1 = x
        rw!("pow-one"; "(pow ?a 1.0)" => "?a"),
        // x - x = 0
        rw!("sub-self"; "(- ?a ?a)" => "0.0"),
    ]
}

/// Signs: negations gathered and cancelled.
pub fn signs() -> Vec<Rule> {
    vec![
        // -1 * x = -x
        rw!("minus-one-mul"; "(* -1.0 ?a)" => "(neg ?a)"),
        // --x = x
        rw!("neg-neg"; "(neg (neg ?a))" => "?a"),
        // x + -y = x - y
        rw!("add-neg"; "(+ ?a (neg ?b))" => "(- ?a ?b)"),
        // -x + y = y - x
        rw!("neg-add"; "(+ (neg ?a) ?b)" => "(- ?b ?a)"),
        // x - -y = x + y
        rw!("sub-neg"; "(- ?a (neg ?b))" => "(+ ?a ?b)"),
        // (-x) * y = -(x * y)
        rw!("neg-mul"; "(* (neg ?a) ?b)" => "(neg (* ?a ?b))"),
        // x * (-y) = -(x * y)
        rw!("mul-neg"; "(* ?a (neg ?b))" => "(neg (* ?a ?b))"),
    ]
}

/// Constants: moved to the left of a product and folded together.
pub fn constants() -> Vec<Rule> {
    vec![
        // x * c = c * x, for a constant c only
        rw!("const-left"; "(* ?a ?c)" => "(* ?c ?a)" if is_const("?c") if not_const("?a")),
        // c1 * (c2 * x) = (c1 * c2) * x, which folds
        rw!("const-mul-assoc"; "(* ?c1 (* ?c2 ?a))" => "(* (* ?c1 ?c2) ?a)" if is_const("?c1") if is_const("?c2")),
        // x / c = (1 / c) * x, for a constant c (folds; c is not 0 where x / c is defined)
        rw!("div-const"; "(/ ?a ?c)" => "(* (/ 1.0 ?c) ?a)" if is_const("?c")),
        // a * (1 / b) = a / b
        rw!("mul-recip"; "(* ?a (/ 1.0 ?b))" => "(/ ?a ?b)"),
    ]
}

/// Like terms collected: h + h = 2h, and common factors.
pub fn like_terms() -> Vec<Rule> {
    vec![
        // x + x = 2 * x
        rw!("add-self"; "(+ ?a ?a)" => "(* 2.0 ?a)"),
        // c * x + x = (c + 1) * x
        rw!("add-scaled-left"; "(+ (* ?c ?a) ?a)" => "(* (+ ?c 1.0) ?a)" if is_const("?c")),
        // x + c * x = (1 + c) * x
        rw!("add-scaled-right"; "(+ ?a (* ?c ?a))" => "(* (+ 1.0 ?c) ?a)" if is_const("?c")),
        // c1 * x + c2 * x = (c1 + c2) * x
        rw!("add-scaled"; "(+ (* ?c1 ?a) (* ?c2 ?a))" => "(* (+ ?c1 ?c2) ?a)" if is_const("?c1") if is_const("?c2")),
        // a * b + a * c = a * (b + c)
        rw!("factor-left"; "(+ (* ?a ?b) (* ?a ?c))" => "(* ?a (+ ?b ?c))"),
        // b * a + c * a = (b + c) * a
        rw!("factor-right"; "(+ (* ?b ?a) (* ?c ?a))" => "(* (+ ?b ?c) ?a)"),
    ]
}

/// Reductions: factors that do not use the summed index come out.
pub fn reductions() -> Vec<Rule> {
    vec![
        // sum(i, c * f) = c * sum(i, f), when c does not use i
        rw!("sum-factor-left"; "(sum ?i (* ?c ?f))" => "(* ?c (sum ?i ?f))" if free_of("?c", "?i")),
        // sum(i, f * c) = sum(i, f) * c, when c does not use i
        rw!("sum-factor-right"; "(sum ?i (* ?f ?c))" => "(* (sum ?i ?f) ?c)" if free_of("?c", "?i")),
        // sum(i, -f) = -sum(i, f)
        rw!("sum-neg"; "(sum ?i (neg ?f))" => "(neg (sum ?i ?f))"),
        // sum(i, c) = N * c, when c does not use i (N the size of i)
        rw!("sum-const"; "(sum ?i ?c)" => "(* (size ?i) ?c)" if free_of("?c", "?i")),
        // A mean stays a mean (not sum / N): computed as one, it cannot
        // overflow where the mean itself is finite (see eval and codegen).
        // mean(i, c * f) = c * mean(i, f), when c does not use i
        rw!("mean-factor-left"; "(mean ?i (* ?c ?f))" => "(* ?c (mean ?i ?f))" if free_of("?c", "?i")),
        // mean(i, f * c) = mean(i, f) * c, when c does not use i
        rw!("mean-factor-right"; "(mean ?i (* ?f ?c))" => "(* (mean ?i ?f) ?c)" if free_of("?c", "?i")),
        // mean(i, -f) = -mean(i, f)
        rw!("mean-neg"; "(mean ?i (neg ?f))" => "(neg (mean ?i ?f))"),
        // sum(i, (1 / N) * f) = mean(i, f), N the size of i: what the chain
        // rule makes of a mean (the adjoint of w in mean(i, x[i] * w)); the
        // cost model prefers the mean (see cost.rs)
        rw!("sum-mean"; "(sum ?i (* ?r ?f))" => "(mean ?i ?f)" if recip_size("?r", "?i")),
        // mean(i, c) = c, when c does not use i
        rw!("mean-const"; "(mean ?i ?c)" => "?c" if free_of("?c", "?i")),
    ]
}

/// Stable forms: the same function, computed without overflow.
pub fn stable_forms() -> Vec<Rule> {
    vec![
        // log(1 + exp(x)) = softplus(x)
        rw!("softplus"; "(log (+ 1.0 (exp ?x)))" => "(softplus ?x)"),
        // log(exp(x) + 1) = softplus(x)
        rw!("softplus-right"; "(log (+ (exp ?x) 1.0))" => "(softplus ?x)"),
        // 1 / (1 + exp(-x)) = sigmoid(x)
        rw!("sigmoid"; "(/ 1.0 (+ 1.0 (exp (neg ?x))))" => "(sigmoid ?x)"),
        // log(exp(x)) = x, for every real x
        rw!("log-exp"; "(log (exp ?x))" => "?x"),
        // The derivative of log(1 + exp(x)) as the chain rule writes it,
        // 1 / (1 + exp(x)) * exp(x) = sigmoid(x): NaN (0 * inf) once exp(x)
        // overflows, while sigmoid is 1 there. The forward is rewritten to
        // softplus above; this keeps its gradient finite too.
        rw!("softplus-grad"; "(* (/ 1.0 (+ 1.0 (exp ?x))) (exp ?x))" => "(sigmoid ?x)"),
        // 1 / (1 + exp(x)) * (exp(x) * a) = sigmoid(x) * a: the same with
        // the chain rule's next factor (the derivative of x) attached
        rw!("softplus-grad-chain"; "(* (/ 1.0 (+ 1.0 (exp ?x))) (* (exp ?x) ?a))" => "(* (sigmoid ?x) ?a)"),
        // 1 / (exp(x) + 1) * exp(x) = sigmoid(x): the same for log(exp(x) + 1)
        rw!("softplus-right-grad"; "(* (/ 1.0 (+ (exp ?x) 1.0)) (exp ?x))" => "(sigmoid ?x)"),
        // exp(x) / (1 + exp(x)) = sigmoid(x) (inf / inf once exp overflows)
        rw!("sigmoid-exp"; "(/ (exp ?x) (+ 1.0 (exp ?x)))" => "(sigmoid ?x)"),
    ]
}

/// Conditions: the chain rule's `where(c, 1, 0)` factors become branches.
/// (A `where` whose condition folds, to a constant or by the range of an
/// index variable, is its branch: `analysis.rs`, "where-known".)
pub fn conditions() -> Vec<Rule> {
    vec![
        // x * where(c, 1, 0) = where(c, x, 0)
        rw!("mul-where-one"; "(* ?a (where ?b 1.0 0.0))" => "(where ?b ?a 0.0)"),
        // where(c, 1, 0) * x = where(c, x, 0)
        rw!("where-one-mul"; "(* (where ?b 1.0 0.0) ?a)" => "(where ?b ?a 0.0)"),
        // x * where(c, 0, 1) = where(c, 0, x)
        rw!("mul-where-zero"; "(* ?a (where ?b 0.0 1.0))" => "(where ?b 0.0 ?a)"),
        // where(c, 0, 1) * x = where(c, 0, x)
        rw!("where-zero-mul"; "(* (where ?b 0.0 1.0) ?a)" => "(where ?b 0.0 ?a)"),
        // x * where(c, y, 0) = where(c, x * y, 0): the upstream adjoint
        // into the branch
        rw!("mul-into-where"; "(* ?a (where ?b ?d 0.0))" => "(where ?b (* ?a ?d) 0.0)"),
        // x * where(c, 0, y) = where(c, 0, x * y)
        rw!("mul-into-where-else"; "(* ?a (where ?b 0.0 ?d))" => "(where ?b 0.0 (* ?a ?d))"),
        // where(c, a, 0) + where(c, 0, b) = where(c, a, b): both branches' terms
        rw!("add-where"; "(+ (where ?b ?a 0.0) (where ?b 0.0 ?d))" => "(where ?b ?a ?d)"),
        // where(c, a, a) = a
        rw!("where-same"; "(where ?b ?a ?a)" => "?a"),
        // where(not c, a, b) = where(c, b, a)
        rw!("where-not"; "(where (not ?b) ?a ?d)" => "(where ?b ?d ?a)"),
    ]
}
