//! The summary `netgrad check` prints: sizes, values, definitions, and the values used more than once.

use std::fmt::Write as _;

use crate::graph::{Dag, Use};
use crate::ir::{Program, Sub, Value, ValueId, ValueKind};
use crate::pretty;

/// A plain-text summary of a checked program; deterministic.
pub fn summary(dag: &Dag) -> String {
    let p = &dag.program;
    let mut out = String::new();
    let mut row = |label: &str, lines: Vec<String>| {
        let lines = if lines.is_empty() {
            vec!["none".to_string()]
        } else {
            lines
        };
        for (i, line) in lines.iter().enumerate() {
            let _ = writeln!(out, "{:<13}{line}", if i == 0 { label } else { "" });
        }
    };
    let dims: Vec<String> = p
        .dims
        .iter()
        .map(|d| {
            if d.runtime {
                format!("{} (given at run time; here {})", d.name, d.size)
            } else {
                format!("{} = {}", d.name, d.size)
            }
        })
        .collect();
    row(
        "dims",
        if dims.is_empty() {
            vec![]
        } else {
            vec![dims.join(", ")]
        },
    );
    let consts: Vec<String> = p
        .consts
        .iter()
        .map(|c| format!("{} = {}", c.name, pretty::number(c.value)))
        .collect();
    row(
        "consts",
        if consts.is_empty() {
            vec![]
        } else {
            vec![consts.join(", ")]
        },
    );
    for (label, kind) in [("inputs", ValueKind::Input), ("params", ValueKind::Param)] {
        let vs: Vec<&Value> = p.values.iter().filter(|v| v.kind == kind).collect();
        let total: usize = vs.iter().map(|v| v.len()).sum();
        let width = vs
            .iter()
            .map(|v| v.declared().len())
            .max()
            .unwrap_or(0)
            .max(5);
        let digits = total.to_string().len();
        let line = |name: &str, n: usize| {
            format!(
                "{name:<width$}  {n:>digits$} {}",
                if n == 1 { "scalar" } else { "scalars" }
            )
        };
        let mut lines: Vec<String> = vs.iter().map(|v| line(&v.declared(), v.len())).collect();
        if vs.len() > 1 {
            lines.push(line("total", total));
        }
        row(label, lines);
    }
    let defs = |kind: ValueKind| -> Vec<String> {
        p.values
            .iter()
            .filter(|v| v.kind == kind)
            .map(|v| pretty::shown_definition(p, v))
            .collect()
    };
    row("definitions", defs(ValueKind::Def));
    // Subterms computed once (compiler temporaries), shown as what they compute.
    row("subterms", defs(ValueKind::Temp));
    row("loss", vec![pretty::shown_definition(p, p.value(p.loss))]);
    row(
        "outputs",
        if p.outputs.is_empty() {
            vec![]
        } else {
            vec![p
                .outputs
                .iter()
                .map(|o| p.value(*o).name.clone())
                .collect::<Vec<_>>()
                .join(", ")]
        },
    );
    let multi: Vec<String> = p.ids().filter_map(|v| multi_use(dag, v)).collect();
    out.push_str(
        "\nused more than once (each adjoint is a sum of one chain-rule product per use):\n",
    );
    if multi.is_empty() {
        out.push_str("  none\n");
    }
    for line in multi {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// The index variables in scope at a use that its subscripts do not mention:
/// the use repeats for every value of each (PRML 5.56).
pub fn repeated_over(p: &Program, reader: ValueId, u: &Use) -> Vec<String> {
    let r = p.value(reader);
    let mut scope: Vec<_> = (0..r.rank() as u32).map(crate::ir::IndexId).collect();
    scope.extend(u.enclosing.iter().map(|(_, i)| *i));
    scope
        .into_iter()
        .filter(|i| !u.subs.contains(&Sub::Var(*i)))
        .map(|i| {
            let var = &r.indices[i.index()];
            format!("{} in {}", var.name, var.extent)
        })
        .collect()
}

/// `z1   by y, for every k in K`, for a value read more than once.
fn multi_use(dag: &Dag, v: ValueId) -> Option<String> {
    let p = &dag.program;
    // A read in the condition of a `where` has no derivative: it is no
    // chain-rule product of the adjoint.
    let mut uses = dag.uses(v);
    uses.retain(|(r, u)| {
        let rhs = p
            .value(*r)
            .rhs
            .as_ref()
            .expect("a reader has a right-hand side");
        !crate::autodiff::condition_reads(rhs)[u.occurrence as usize]
    });
    let per_use: Vec<(ValueId, Vec<String>)> = uses
        .iter()
        .map(|(r, u)| (*r, repeated_over(p, *r, u)))
        .collect();
    if uses.len() < 2 && per_use.iter().all(|(_, every)| every.is_empty()) {
        return None;
    }
    let parts = grouped(per_use.iter().map(|(reader, every)| {
        let mut text = shown_name(p, *reader);
        if !every.is_empty() {
            let _ = write!(text, " for every {}", every.join(", "));
        }
        text
    }));
    Some(format!("{:<8} by {}", shown_name(p, v), parts.join("; ")))
}

/// A value's name as users read it: a temporary is the subterm it computes,
/// in its own index variables, `(1 - y[n])`.
fn shown_name(p: &Program, v: ValueId) -> String {
    let value = p.value(v);
    if value.kind != ValueKind::Temp {
        return value.name.clone();
    }
    shown_head(p, value)
}

/// `a1[j]`, `∂E/∂a1[j]`; a temporary is the subterm it computes, `(1 - y[n])`.
fn shown_head(p: &Program, value: &Value) -> String {
    let subs: Vec<Sub> = (0..value.rank() as u32)
        .map(|i| Sub::Var(crate::ir::IndexId(i)))
        .collect();
    pretty::read_in(pretty::Notation::Source, p, value, value, &subs)
}

/// Consecutive equal items once each, counted: `u (twice)`, `v (3 times)`.
pub fn grouped(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut runs: Vec<(String, usize)> = Vec::new();
    for item in items {
        match runs.last_mut() {
            Some((last, n)) if *last == item => *n += 1,
            _ => runs.push((item, 1)),
        }
    }
    runs.into_iter()
        .map(|(t, n)| match n {
            1 => t,
            2 => format!("{t} (twice)"),
            n => format!("{t} ({n} times)"),
        })
        .collect()
}

/// The report of `netgrad check`'s gradient check.
pub fn gradient_check(
    p: &Program,
    checks: &[crate::gradcheck::Check],
    seed: u64,
    sample: crate::gradcheck::Sample,
) -> String {
    let elements = match sample {
        crate::gradcheck::Sample::All => "every element".to_string(),
        crate::gradcheck::Sample::AtMost(n) => {
            format!("every element, or {n} sampled of a larger value")
        }
    };
    let mut out = format!("\ngradient check (seed {seed}; central differences at {elements}; relative error |g - fd| / max(1, |g|, |fd|)):\n");
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in checks {
        let v = p
            .ids()
            .map(|id| p.value(id))
            .find(|v| v.name == c.name)
            .expect("a checked value exists");
        let at = position(v, c.worst_at);
        let sampled = match (c.checked, c.len) {
            (_, 1) => "1 element".to_string(),
            (k, n) if k < n => format!("{k} of {n} elements"),
            (_, n) => format!("all {n} elements"),
        };
        let _ = writeln!(
            out,
            "  {:<width$}  worst {:.1e}{at}   ({sampled})",
            c.name, c.worst
        );
    }
    out
}

/// `[2, 1]` for a flat row-major index of a tensor; nothing for a scalar.
fn position(v: &Value, flat: usize) -> String {
    if v.rank() == 0 {
        return String::new();
    }
    format!(" at [{}]", crate::eval::subscripts(v, flat))
}

/// The weighted op count of every definition before and after
/// simplification, and the totals of the forward and gradient programs.
pub fn op_counts(g: &crate::autodiff::Gradient, stats: &crate::simplify::Stats) -> String {
    let p = &g.dag.program;
    let mut out = String::from("\nweighted op counts (cost of one element times elements), before -> after simplification:\n");
    let width = stats
        .counts
        .iter()
        .map(|c| shown_head(p, p.value(c.value)).chars().count())
        .max()
        .unwrap_or(0);
    for c in &stats.counts {
        let head = shown_head(p, p.value(c.value));
        let pad = width - head.chars().count();
        let _ = writeln!(
            out,
            "  {head}{}  {:>10} -> {:>10}",
            " ".repeat(pad),
            c.before,
            c.after
        );
    }
    let (fb, fa, gb, ga) = stats.totals(g);
    let _ = writeln!(out, "  forward program   {fb:>10} -> {fa:>10}");
    let _ = writeln!(out, "  gradient program  {gb:>10} -> {ga:>10}");
    out
}
