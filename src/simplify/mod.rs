//! Simplification by equality saturation (egg): one e-graph per definition,
//! sound rewrites, a cost weighted by operation and trip count.

pub mod analysis;
pub mod cost;
pub mod lang;
pub mod rules;

use std::time::Duration;

use egg::{Extractor, Runner};

use crate::autodiff::Gradient;
use crate::ir::{Expr, Program, Value, ValueId, ValueKind};

/// The bounds of one definition's saturation. The node and iteration limits
/// stop it first, so the result does not depend on timing; the time limit is
/// a safety net that the examples never reach.
pub const ITERATIONS: usize = 16;
pub const NODES: usize = 20_000;
pub const TIME_LIMIT: Duration = Duration::from_secs(5);

/// A bounded runner for one right-hand side of a definition with these index extents.
fn runner(extents: &[usize], fixed: &[bool]) -> Runner<lang::Node, analysis::Facts> {
    Runner::new(analysis::Facts {
        extents: extents.to_vec(),
        fixed: fixed.to_vec(),
    })
    .with_iter_limit(ITERATIONS)
    .with_node_limit(NODES)
    .with_time_limit(TIME_LIMIT)
}

/// Simplifies one right-hand side of `owner`, never making it more
/// expensive. Comparisons of index variables do not fold, since it is not
/// known which ranges are fixed: see `expression_in`. Without the program,
/// the sizes of the values read are unknown, so an expression with an
/// affine read inside a `where` branch (in bounds perhaps only where the
/// branch is taken) is left as it is: see `expression_in`.
pub fn expression(e: &Expr, owner: &Value) -> Expr {
    if guarded_affine_read(e, false) {
        return e.clone();
    }
    simplify_with(e, owner, &vec![false; owner.indices.len()])
}

/// Whether `e` has an affine read inside a branch of a `where`.
fn guarded_affine_read(e: &Expr, inside: bool) -> bool {
    match e {
        Expr::Read { subs, .. } => {
            inside && subs.iter().any(|s| matches!(s, crate::ir::Sub::Affine(_)))
        }
        Expr::Num(_) | Expr::Delta(..) | Expr::Index(_) => false,
        Expr::Unary { arg, .. } => guarded_affine_read(arg, inside),
        Expr::Binary { lhs, rhs, .. } => {
            guarded_affine_read(lhs, inside) || guarded_affine_read(rhs, inside)
        }
        Expr::Reduce { body, .. } | Expr::Solve { body, .. } => guarded_affine_read(body, inside),
        Expr::At { pos, .. } => guarded_affine_read(pos, inside),
        Expr::Where { cond, then, els } => {
            guarded_affine_read(cond, inside)
                || guarded_affine_read(then, true)
                || guarded_affine_read(els, true)
        }
    }
}

/// For each index variable of `owner`, whether its range is fixed (not a
/// run-time dim, whose size the program is only instantiated at).
fn fixed_ranges(program: &Program, owner: &Value) -> Vec<bool> {
    owner
        .indices
        .iter()
        .map(|v| !program.is_runtime(&v.extent))
        .collect()
}

/// `expression`, for a value of `program`: comparisons of an index
/// variable of a fixed range with a constant fold where the range decides
/// them (`i < N` over `i in N`).
///
/// No rewrite may take a read out of the `where` branch that keeps it in
/// bounds (`where(i >= P, x[i - P], 0)`): the rules are sound on the reals,
/// but an e-graph class holds `where(c, a * b, 0)` and `a * where(c, b, 0)`
/// alike, and extraction could pick the one that reads `a` everywhere. So
/// the result is kept only if every read in it is proved in bounds where it
/// is evaluated (`refine::reads_in_bounds`); else the expression stays as it is.
pub fn expression_in(program: &Program, e: &Expr, owner: &Value) -> Expr {
    let simpler = simplify_with(e, owner, &fixed_ranges(program, owner));
    if simpler != *e && !crate::refine::reads_in_bounds(program, owner, &simpler) {
        return e.clone();
    }
    simpler
}

fn simplify_with(e: &Expr, owner: &Value, fixed: &[bool]) -> Expr {
    let extents: Vec<usize> = owner.indices.iter().map(|v| v.extent.size).collect();
    let before = cost::of(e, &extents);
    let rec = lang::to_rec(e);
    let runner = runner(&extents, fixed).with_expr(&rec).run(&rules::rules());
    let extractor = Extractor::new(
        &runner.egraph,
        cost::Weighted {
            egraph: &runner.egraph,
        },
    );
    let (_, best) = extractor.find_best(runner.roots[0]);
    match lang::from_rec(&best) {
        Some(simpler) if cost::of(&simpler, &extents) < before => simpler,
        _ => e.clone(),
    }
}

/// The weighted op count of one definition before and after simplification:
/// the cost of one element times the number of elements.
#[derive(Debug, Clone, PartialEq)]
pub struct Count {
    pub value: ValueId,
    pub before: f64,
    pub after: f64,
}

/// Op counts of every definition, forward and adjoint.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stats {
    pub counts: Vec<Count>,
}

/// The cost of all of a value's elements.
pub fn weighted(e: &Expr, v: &Value) -> f64 {
    let extents: Vec<usize> = v.indices.iter().map(|x| x.extent.size).collect();
    cost::of(e, &extents) * v.len() as f64
}

/// Simplifies every definition of a gradient, forward and adjoint, in
/// order. A value that simplifies to a number is a constant for the values
/// after it (`∂E/∂u = 1` makes `∂E/∂u · h` just `h`).
pub fn gradient(mut g: Gradient) -> (Gradient, Stats) {
    crate::on_own_stack(move || {
        let mut stats = Stats::default();
        let n = g.dag.program.values.len();
        let mut constants: Vec<Option<f64>> = vec![None; n];
        let mut unsimplified = vec![None; n];
        for id in g.dag.program.ids() {
            let v = g.dag.program.value(id);
            let Some(rhs) = v.rhs.clone() else { continue };
            let known = substitute(&rhs, &constants);
            let simpler = expression_in(&g.dag.program, &known, v);
            if let Expr::Num(c) = simpler {
                constants[id.index()] = Some(c);
            }
            stats.counts.push(Count {
                value: id,
                before: weighted(&rhs, v),
                after: weighted(&simpler, v),
            });
            unsimplified[id.index()] = Some(rhs);
            g.dag.program.values[id.index()].rhs = Some(simpler);
        }
        g.dag = crate::graph::connect(std::mem::take(&mut g.dag.program));
        g.unsimplified = unsimplified;
        (g, stats)
    })
}

/// Reads of values known to be constants replaced by their numbers.
fn substitute(e: &Expr, constants: &[Option<f64>]) -> Expr {
    match e {
        Expr::Read { value, .. } => match constants[value.index()] {
            Some(c) => Expr::Num(c),
            None => e.clone(),
        },
        Expr::Num(_) | Expr::Delta(..) | Expr::Index(_) => e.clone(),
        Expr::Unary { func, arg } => Expr::unary(*func, substitute(arg, constants)),
        Expr::Where { cond, then, els } => Expr::select(
            substitute(cond, constants),
            substitute(then, constants),
            substitute(els, constants),
        ),
        Expr::Binary { op, lhs, rhs } => {
            Expr::binary(*op, substitute(lhs, constants), substitute(rhs, constants))
        }
        Expr::Reduce { op, index, body } => Expr::Reduce {
            op: *op,
            index: *index,
            body: Box::new(substitute(body, constants)),
        },
        Expr::At { index, pos } => Expr::At {
            index: *index,
            pos: Box::new(substitute(pos, constants)),
        },
        Expr::Solve {
            index,
            scale,
            value,
            body,
        } => Expr::Solve {
            index: *index,
            scale: *scale,
            value: *value,
            body: Box::new(substitute(body, constants)),
        },
    }
}

impl Stats {
    /// The op counts of a gradient left as it is.
    pub fn unchanged(g: &Gradient) -> Stats {
        let counts = g
            .dag
            .program
            .ids()
            .filter_map(|id| {
                let v = g.dag.program.value(id);
                let w = weighted(v.rhs.as_ref()?, v);
                Some(Count {
                    value: id,
                    before: w,
                    after: w,
                })
            })
            .collect();
        Stats { counts }
    }

    /// The totals of the forward program and of the gradient (the adjoints,
    /// and the positions of the extremes of max and min reductions, which
    /// only the gradient computes):
    /// `(forward before, forward after, gradient before, gradient after)`.
    pub fn totals(&self, g: &Gradient) -> (f64, f64, f64, f64) {
        let mut t = (0.0, 0.0, 0.0, 0.0);
        for c in &self.counts {
            let v = g.dag.program.value(c.value);
            let position = matches!(
                v.rhs,
                Some(Expr::Reduce {
                    op: crate::ir::Reduction::ArgMax | crate::ir::Reduction::ArgMin,
                    ..
                })
            );
            if v.kind == ValueKind::Adjoint || position {
                t.2 += c.before;
                t.3 += c.after;
            } else {
                t.0 += c.before;
                t.1 += c.after;
            }
        }
        t
    }
}

/// The largest expression (in e-graph nodes) whose simplification `steps`
/// explains.
pub const MAX_EXPLAINED: usize = 400;

/// One step of a simplification: the rule applied and the expression after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The rule's name, with ", backwards" when applied right to left;
    /// `constant-fold` for arithmetic done at compile time; `constants` for
    /// values known to be numbers put in.
    pub rule: String,
    pub expr: Expr,
}

/// The named rewrites that take a value's right-hand side, as autodiff made
/// it, to its simplified form (egg's explanation, flattened); `None` if the
/// value was not simplified, or the equivalence is not found within the bounds.
pub fn steps(g: &Gradient, id: ValueId) -> Option<Vec<Step>> {
    crate::on_own_stack(|| {
        let p = &g.dag.program;
        let v = p.value(id);
        let raw = g.unsimplified.get(id.index())?.as_ref()?;
        let target = v.rhs.as_ref()?;
        let constants: Vec<Option<f64>> = p
            .values
            .iter()
            .map(|x| match x.rhs {
                Some(Expr::Num(c)) => Some(c),
                _ => None,
            })
            .collect();
        let known = substitute(raw, &constants);
        let mut steps = Vec::new();
        if known != *raw {
            steps.push(Step {
                rule: "constants".to_string(),
                expr: known.clone(),
            });
        }
        if known == *target {
            return Some(steps);
        }
        let extents: Vec<usize> = v.indices.iter().map(|x| x.extent.size).collect();
        let start = lang::to_rec(&known);
        let goal = lang::to_rec(target);
        // egg's explanations grow much faster than the expressions they
        // explain: past this size, explaining would take minutes.
        if start.as_ref().len() > MAX_EXPLAINED || goal.as_ref().len() > MAX_EXPLAINED {
            return None;
        }
        // The run stops as soon as the goal is in the start's class: the
        // plain run that found the goal went on to the node limit looking
        // for cheaper forms, which, with explanations on, is the expensive
        // part (and 20x slower under a fuzzer's instrumentation).
        let reached = goal.clone();
        let mut runner = runner(&extents, &fixed_ranges(p, v))
            .with_explanations_enabled()
            .with_expr(&start)
            .with_hook(move |r| match r.egraph.lookup_expr(&reached) {
                Some(id) if r.egraph.find(id) == r.egraph.find(r.roots[0]) => {
                    Err("the goal is reached".to_string())
                }
                _ => Ok(()),
            })
            .run(&rules::rules());
        let goal_id = runner.egraph.add_expr(&goal);
        if runner.egraph.find(goal_id) != runner.egraph.find(runner.roots[0]) {
            return None;
        }
        let mut explanation = runner.explain_equivalence(&start, &goal);
        for term in explanation.make_flat_explanation().iter().skip(1) {
            let rule = rule_of(term).unwrap_or_else(|| "congruence".to_string());
            steps.push(Step {
                rule,
                expr: lang::from_rec(&term.get_recexpr())?,
            });
        }
        Some(steps)
    })
}

/// The rule that produced a term of a flat explanation.
fn rule_of(term: &egg::FlatTerm<lang::Node>) -> Option<String> {
    if let Some(rule) = term.forward_rule {
        return Some(rule.to_string());
    }
    if let Some(rule) = term.backward_rule {
        return Some(format!("{rule}, backwards"));
    }
    term.children.iter().find_map(rule_of)
}
