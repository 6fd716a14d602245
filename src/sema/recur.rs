//! Recurrences: definitions that read each other at earlier steps of their
//! first index, found as strongly connected components of the read graph
//! (lag reads included), and checked.
//!
//! The components are found on the syntax, before any right-hand side is
//! lowered, so that lowering knows which reads are reads of the reader's
//! own recurrence: those are at the same step (`h[t, j]`, an ordinary read
//! of an earlier definition) or at an earlier one (`h[t - k, j]`, a lag
//! read, which may name the definition itself or a later one). Lag reads
//! are lowered with a placeholder value and resolved once every definition
//! is known ([`Sema::finish_recurrences`]).

use std::collections::HashMap;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use super::{Sema, Symbol};
use crate::diag::{Code, Diagnostic, Span};
use crate::ir::{self, Expr, Extent, Sub, ValueId, ValueKind};
use crate::syntax::ast::{self, ExprKind};

/// How a read of a definition subscripts the reader's time index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// `h[t, ...]`: the same step.
    Same,
    /// `h[t - k, ...]`, k >= 1: k steps earlier.
    Lag(usize),
    /// `h[t + k, ...]`, k >= 1: a later step.
    Later(usize),
    /// Anything else (`h[j, t]`, `h[t - K]`, `h`).
    Other,
}

/// The step a read's subscripts reach, relative to the reader's first
/// left-hand index `time`.
pub(super) fn step_of(subs: Option<&[ast::Expr]>, time: Option<&str>) -> Step {
    let (Some(first), Some(time)) = (subs.and_then(<[_]>::first), time) else {
        return Step::Other;
    };
    let is_time =
        |e: &ast::Expr| matches!(&e.kind, ExprKind::Read { name, subs: None } if name.name == time);
    let positive = |e: &ast::Expr| match &e.kind {
        ExprKind::Number { text, .. } => text.parse::<usize>().ok().filter(|k| *k > 0),
        _ => None,
    };
    match &first.kind {
        _ if is_time(first) => Step::Same,
        ExprKind::Binary { op, lhs, rhs } if is_time(lhs) => match (op, positive(rhs)) {
            (ast::BinOp::Sub, Some(k)) => Step::Lag(k),
            (ast::BinOp::Add, Some(k)) => Step::Later(k),
            _ => Step::Other,
        },
        _ => Step::Other,
    }
}

/// One read of a definition by a definition, as written.
#[derive(Debug, Clone)]
struct Read {
    span: Span,
    /// The first subscript's span (the whole read without one).
    step_span: Span,
    step: Step,
}

/// The recurrences of a file, found on its syntax.
#[derive(Debug, Default)]
pub(super) struct Recurrences {
    /// The recurrence of each recurrent definition, by name.
    group_of: HashMap<String, usize>,
    /// Per recurrence, its members' names in source order.
    pub(super) groups: Vec<Vec<String>>,
    /// Each definition's rank as written (left-hand indices), by name.
    rank: HashMap<String, usize>,
    /// Where each definition is written, by name.
    defined_at: HashMap<String, Span>,
    /// The starts of the reads already reported here, which lowering skips.
    reported: Vec<usize>,
}

impl Recurrences {
    /// The recurrence `name` belongs to.
    pub(super) fn group(&self, name: &str) -> Option<usize> {
        self.group_of.get(name).copied()
    }

    /// The number of left-hand indices of a definition.
    pub(super) fn rank(&self, name: &str) -> Option<usize> {
        self.rank.get(name).copied()
    }

    /// Whether the read starting at `span` was reported by [`find`].
    pub(super) fn reported(&self, span: Span) -> bool {
        self.reported.binary_search(&span.start).is_ok()
    }
}

/// Finds the recurrences of a file and reports the mistakes visible on the
/// syntax alone: a read of a later step (E0704), a read of the recurrence
/// that is at neither `t` nor `t - k` (E0705), and a cycle at the same step
/// (E0703).
/// Only definitions whose names are declared once, by them, take part
/// (`declared`, `misdeclared`: see `Sema`): a name in error is reported
/// as such, not as a recurrence too.
pub(super) fn find(
    file: &ast::File,
    declared: &HashMap<String, Span>,
    misdeclared: &[String],
    diags: &mut Vec<Diagnostic>,
) -> Recurrences {
    let mut defs: Vec<&ast::Def> = Vec::new();
    let mut out = Recurrences::default();
    for item in &file.items {
        if let ast::Item::Def(d) | ast::Item::Loss(d) = item {
            let own = declared.get(&d.name.name) == Some(&d.name.span)
                && !misdeclared.contains(&d.name.name);
            if own && !out.rank.contains_key(&d.name.name) {
                out.rank.insert(d.name.name.clone(), d.indices.len());
                out.defined_at.insert(d.name.name.clone(), d.name.span);
                defs.push(d);
            }
        }
    }
    let node_of: HashMap<&str, usize> = defs
        .iter()
        .enumerate()
        .map(|(k, d)| (d.name.name.as_str(), k))
        .collect();
    let mut graph: DiGraph<usize, Read> = DiGraph::new();
    for k in 0..defs.len() {
        graph.add_node(k);
    }
    for (k, d) in defs.iter().enumerate() {
        let time = d.indices.first().map(|b| b.name.name.as_str());
        let bound: Vec<&str> = d.indices.iter().map(|b| b.name.name.as_str()).collect();
        reads(&d.rhs, &mut |name, subs, span| {
            let Some(&target) = node_of.get(name.name.as_str()) else {
                return;
            };
            if subs.is_none() && bound.contains(&name.name.as_str()) {
                return; // an index variable as a number
            }
            let step_span = subs.and_then(<[_]>::first).map_or(span, |s| s.span);
            let read = Read {
                span,
                step_span,
                step: step_of(subs, time),
            };
            graph.add_edge(NodeIndex::new(target), NodeIndex::new(k), read);
        });
    }
    // Components in source order of their first member, members in source order.
    let mut components: Vec<Vec<usize>> = tarjan_scc(&graph)
        .into_iter()
        .map(|c| {
            let mut c: Vec<usize> = c.into_iter().map(NodeIndex::index).collect();
            c.sort_unstable();
            c
        })
        .filter(|c| c.len() > 1 || graph.contains_edge(NodeIndex::new(c[0]), NodeIndex::new(c[0])))
        .collect();
    components.sort();
    let mut group_at = vec![None; defs.len()];
    for (g, members) in components.iter().enumerate() {
        for &m in members {
            group_at[m] = Some(g);
            out.group_of.insert(defs[m].name.name.clone(), g);
        }
        out.groups
            .push(members.iter().map(|&m| defs[m].name.name.clone()).collect());
    }
    // Reads within a recurrence, by reader and position.
    let mut inner: Vec<(usize, usize, Read)> = graph
        .edge_references()
        .filter(|e| {
            let (s, t) = (e.source().index(), e.target().index());
            group_at[s].is_some() && group_at[s] == group_at[t]
        })
        .map(|e| (e.target().index(), e.source().index(), e.weight().clone()))
        .collect();
    inner.sort_by_key(|(reader, _, r)| (*reader, r.span.start));
    for (reader, target, read) in &inner {
        let (reader, target) = (defs[*reader], defs[*target]);
        let time = reader.indices.first().map(|b| b.name.name.as_str());
        let d = match read.step {
            Step::Same | Step::Lag(_) => continue,
            Step::Later(k) => {
                let t = time.unwrap_or("t");
                let mut d = Diagnostic::error(
                    Code::LaterStep,
                    read.step_span,
                    format!(
                        "`{}` reads `{}` at step {t} + {k}, a later step of its own recurrence",
                        reader.name.name, target.name.name
                    ),
                )
                .label("a later step");
                let why = if reader.name.name == target.name.name {
                    format!("`{}` is computed one step at a time", reader.name.name)
                } else {
                    d = d.with(
                        target.name.span,
                        format!(
                            "`{}` reads `{}` (the same recurrence)",
                            target.name.name, reader.name.name
                        ),
                    );
                    format!(
                        "`{}` and `{}` read each other, so they are computed one step at a time",
                        reader.name.name, target.name.name
                    )
                };
                d.help(format!(
                    "{why}, and step {t} + {k} is not computed yet at step {t}: read an earlier step, `{}`",
                    at_step(target, &format!("{t} - 1"))
                ))
            }
            Step::Other => {
                let message = match time {
                    Some(t) => format!(
                        "`{}` reads `{}` of its own recurrence, so the first subscript must be `{t}` (the same step) or `{t} - k` with k a positive integer (an earlier step)",
                        reader.name.name, target.name.name
                    ),
                    None => format!(
                        "`{}` reads `{}` of its own recurrence, but has no index for the steps",
                        reader.name.name, target.name.name
                    ),
                };
                let help = match time {
                    Some(t) => format!(
                        "a recurrence is computed one step of its first index at a time: `{}` reads the previous step",
                        at_step(target, &format!("{t} - 1"))
                    ),
                    None => format!(
                        "a recurrent definition is indexed by its steps first: `{}[t, ...] = ... {}[t - 1, ...] ...`",
                        reader.name.name, target.name.name
                    ),
                };
                Diagnostic::error(Code::RecurrentSubscript, read.step_span, message)
                    .label("not a step of the recurrence")
                    .help(help)
            }
        };
        out.reported.push(read.span.start);
        diags.push(d);
    }
    same_step_cycles(&defs, &components, &inner, &mut out, diags);
    out.reported.sort_unstable();
    out
}

/// E0703: a cycle of reads at the same step, drawn with every read in it.
/// One error per component of such reads.
fn same_step_cycles(
    defs: &[&ast::Def],
    components: &[Vec<usize>],
    inner: &[(usize, usize, Read)],
    out: &mut Recurrences,
    diags: &mut Vec<Diagnostic>,
) {
    for members in components {
        let mut g: DiGraph<usize, usize> = DiGraph::new();
        let local: HashMap<usize, NodeIndex> =
            members.iter().map(|&m| (m, g.add_node(m))).collect();
        for (k, (reader, target, read)) in inner.iter().enumerate() {
            if read.step == Step::Same && local.contains_key(reader) && local.contains_key(target) {
                g.add_edge(local[target], local[reader], k);
            }
        }
        let mut cyclic: Vec<Vec<NodeIndex>> = tarjan_scc(&g)
            .into_iter()
            .filter(|c| c.len() > 1 || g.contains_edge(c[0], c[0]))
            .map(|mut c| {
                c.sort_by_key(|n| g[*n]);
                c
            })
            .collect();
        cyclic.sort_by_key(|c| g[c[0]]);
        for c in cyclic {
            // Walk from the first member (in source order) along reads
            // within the component, in source order, until back at it.
            let start = c[0];
            let mut path: Vec<usize> = Vec::new(); // indices into `inner`
            let mut at = start;
            let mut seen = vec![start];
            loop {
                // `at` is read by someone in the component: follow the
                // first read (of `at`, by a member of c) in source order.
                let mut next: Vec<(usize, NodeIndex)> = g
                    .edges(at)
                    .filter(|e| c.contains(&e.target()))
                    .map(|e| (*e.weight(), e.target()))
                    .collect();
                next.sort();
                let back = next.iter().find(|(_, n)| *n == start).copied();
                let (k, n) = match back {
                    Some(b) if !path.is_empty() || g[at] == g[start] => b,
                    _ => match next.iter().find(|(_, n)| !seen.contains(n)) {
                        Some(x) => *x,
                        None => match next.first() {
                            Some(x) => *x,
                            None => break,
                        },
                    },
                };
                path.push(k);
                if n == start {
                    break;
                }
                seen.push(n);
                at = n;
                if path.len() > c.len() {
                    break;
                }
            }
            let name = |m: usize| defs[m].name.name.as_str();
            let head = |m: usize| {
                let d = defs[m];
                match d.indices.first() {
                    Some(t) => format!("{}[{}]", d.name.name, t.name.name),
                    None => d.name.name.clone(),
                }
            };
            let mut drawn = vec![head(g[start])];
            for &k in &path {
                drawn.push(head(inner[k].0));
            }
            // The cycle is drawn in the direction of the data: each value
            // feeds the next; the labels are on the reads.
            let first = &inner[path[0]];
            let mut d = Diagnostic::error(
                Code::SameStepCycle,
                first.2.span,
                format!(
                    "`{}` depends on itself at the same step: {}",
                    name(g[start]),
                    drawn.join(" → ")
                ),
            )
            .label(format!(
                "`{}` reads `{}` at the same step",
                name(first.0),
                name(first.1)
            ));
            for &k in &path[1..] {
                let (reader, target, read) = &inner[k];
                d = d.with(
                    read.span,
                    format!(
                        "`{}` reads `{}` at the same step",
                        name(*reader),
                        name(*target)
                    ),
                );
            }
            let time = defs[first.0]
                .indices
                .first()
                .map_or("t", |b| b.name.name.as_str());
            d = d.help(format!(
                "within one step, each value is computed from values computed before it; make one of these reads an earlier step, `{}`",
                at_step(defs[first.1], &format!("{time} - 1"))
            ));
            for &k in &path {
                out.reported.push(inner[k].2.span.start);
            }
            diags.push(d);
        }
    }
}

/// `h[t - 1]` or `h[t - 1, ...]`: a read of `def` at `step`.
fn at_step(def: &ast::Def, step: &str) -> String {
    let rest = if def.indices.len() > 1 { ", ..." } else { "" };
    format!("{}[{step}{rest}]", def.name.name)
}

/// Calls `f(name, subs, span)` on every read of `e`, in source order.
fn reads<'a>(e: &'a ast::Expr, f: &mut impl FnMut(&'a ast::Ident, Option<&'a [ast::Expr]>, Span)) {
    match &e.kind {
        ExprKind::Number { .. } => {}
        ExprKind::Read { name, subs } => {
            f(name, subs.as_deref(), e.span);
            for s in subs.iter().flatten() {
                reads(s, f);
            }
        }
        ExprKind::Neg(a) | ExprKind::Not(a) => reads(a, f),
        ExprKind::Binary { lhs, rhs, .. }
        | ExprKind::Compare { lhs, rhs, .. }
        | ExprKind::Logic { lhs, rhs, .. } => {
            reads(lhs, f);
            reads(rhs, f);
        }
        ExprKind::Call { args, .. } => {
            for a in args {
                if let ast::Arg::Expr(x) = a {
                    reads(x, f);
                }
            }
        }
    }
}

/// A lag read lowered with a placeholder value, resolved once every
/// definition is known.
#[derive(Debug, Clone)]
pub(super) struct LagRead {
    /// The reader, once its value is made.
    pub(super) reader: Option<ValueId>,
    pub(super) target: ast::Ident,
    pub(super) lag: usize,
    /// The subscripts after the first, lowered, with their spans.
    pub(super) subs: Vec<(Sub, Span)>,
    pub(super) span: Span,
}

/// The most steps a lag read may reach back (`h[t - 4096]`); each one
/// needs an `init`.
pub const MAX_LAG: i64 = 4096;

/// The first value id used as a placeholder: lag read `k` is `PLACEHOLDER - k`.
pub(super) const PLACEHOLDER: u32 = u32::MAX;

/// An `init` statement once checked.
#[derive(Debug, Clone)]
pub(super) struct InitInfo {
    pub(super) name: String,
    pub(super) lag: usize,
    pub(super) value: ValueId,
    pub(super) span: Span,
}

impl Sema {
    /// Where a recurrent definition is written.
    pub(super) fn recur_defined_at(&self, name: &str) -> Span {
        self.recur.defined_at.get(name).copied().unwrap_or_default()
    }

    /// Checks `init NAME[-k, j, ...] = EXPR` and makes its value.
    pub(super) fn init(&mut self, init: &ast::Init) {
        let errors = self.diags.len();
        self.check_init(init);
        if self.diags.len() > errors {
            // A missing init that this one was meant to be is not reported again.
            let meant = match self.recur.group(&init.name.name) {
                Some(_) => Some(init.name.name.clone()),
                None => {
                    let recurrent = self.recur.group_of.keys().map(String::as_str);
                    super::suggest(&init.name.name, recurrent).map(str::to_string)
                }
            };
            self.failed_inits.extend(meant);
        }
    }

    fn check_init(&mut self, init: &ast::Init) {
        let name = &init.name;
        let Some(group) = self.recur.group(&name.name) else {
            self.init_not_recurrent(init);
            return;
        };
        // It comes before the recurrence it starts.
        let first = self.recur.groups[group][0].clone();
        if self.scope.contains_key(&first) {
            let at = self.recur.defined_at[&first];
            self.error(
                Diagnostic::error(
                    Code::InitOrder,
                    init.span,
                    format!("the init of `{}` comes after the definition of `{first}`, in its recurrence", name.name),
                )
                .label("too late")
                .with(at, "the recurrence starts here")
                .help("write each `init` before the definitions of its recurrence"),
            );
            return;
        }
        let Some(lag) = self.init_step(init) else {
            return;
        };
        let rank = self.recur.rank(&name.name).unwrap_or(0);
        if init.indices.len() + 1 != rank {
            let written = init.indices.len() + 1;
            self.error(
                Diagnostic::error(
                    Code::InitShape,
                    init.span,
                    format!(
                        "`init {}` has {written} {}, but `{}` has {rank}",
                        name.name,
                        if written == 1 { "subscript" } else { "subscripts" },
                        name.name
                    ),
                )
                .label(format!("{rank} expected"))
                .with(self.recur.defined_at[&name.name], format!("`{}` is defined here", name.name))
                .help(format!(
                    "an init gives the step first, then an index for each other dimension: `init {}[-1{}] = ...`",
                    name.name,
                    ", j".repeat(rank.saturating_sub(1))
                )),
            );
            return;
        }
        if let Some(first) = self
            .inits
            .iter()
            .find(|i| i.name == name.name && i.lag == lag)
        {
            let first = first.span;
            self.error(
                Diagnostic::error(
                    Code::DuplicateInit,
                    init.span,
                    format!("`{}` at step -{lag} is given twice", name.name),
                )
                .label("given again here")
                .with(first, "first given here")
                .help("each step before the start has one `init`"),
            );
            return;
        }
        let def = ast::Def {
            name: ast::Ident {
                name: format!("{}[-{lag}]", name.name),
                span: name.span,
            },
            indices: init.indices.clone(),
            rhs: init.rhs.clone(),
            span: init.span,
        };
        self.in_init = Some(group);
        let value = self.lower_definition(&def, ValueKind::Init);
        self.in_init = None;
        let id = self.push_value(value);
        self.inits.push(InitInfo {
            name: name.name.clone(),
            lag,
            value: id,
            span: init.span,
        });
    }

    /// The `k` of an init's step `-k`, or an E0707.
    fn init_step(&mut self, init: &ast::Init) -> Option<usize> {
        let step = init.step.as_ref();
        let k = step.and_then(|s| match &s.kind {
            ExprKind::Neg(n) => match &n.kind {
                ExprKind::Number { text, .. } => text.parse::<usize>().ok().filter(|k| *k > 0),
                _ => None,
            },
            _ => None,
        });
        if k.is_none() {
            let span = step.map_or(init.name.span, |s| s.span);
            self.error(
                Diagnostic::error(
                    Code::InitShape,
                    span,
                    format!("the first subscript of `init {}` must be a step before the start: -1, -2, ...", init.name.name),
                )
                .label(if step.is_some() { "not a step before the start" } else { "no step" })
                .help({
                    let rest = if self.recur.rank(&init.name.name).unwrap_or(0) > 1 { ", ..." } else { "" };
                    format!("`init {0}[-1{rest}] = EXPR` gives `{0}` at the step before its first, which `{0}[t - 1{rest}]` reads at t = 0", init.name.name)
                }),
            );
        }
        k
    }

    /// E0700, or E0100 for a name declared nowhere.
    fn init_not_recurrent(&mut self, init: &ast::Init) {
        let name = &init.name;
        if !self.declared.contains_key(&name.name) {
            let mut d = Diagnostic::error(
                Code::UnknownName,
                name.span,
                format!("unknown name `{}`", name.name),
            )
            .label("not defined");
            let recurrent = self.recur.group_of.keys().map(String::as_str);
            if let Some(s) = super::suggest(&name.name, recurrent) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            self.error(d);
            return;
        }
        let what = match self.recur.rank.contains_key(&name.name) {
            true => "a definition that does not read itself at an earlier step".to_string(),
            false => match self.scope.get(&name.name) {
                Some(sym) => self.describe(*sym),
                None => "not a definition".to_string(),
            },
        };
        self.error(
            Diagnostic::error(
                Code::InitNotRecurrent,
                name.span,
                format!("`{}` has an init, but it is not recurrent", name.name),
            )
            .label(what)
            .help(format!(
                "an init gives the steps before the start of a recurrence, which reads itself: `{0}[t, ...] = ... {0}[t - 1, ...] ...`",
                name.name
            )),
        );
    }

    /// Lowers a lag read `h[t - k, ...]` of the reader's own recurrence: the
    /// first subscript is `t - k` of the reader's first index; the others
    /// index variables or integers, checked against `h`'s shape once it is
    /// known. The read's value is a placeholder until then.
    pub(super) fn lag_read(
        &mut self,
        name: &ast::Ident,
        subs: &[ast::Expr],
        lag: usize,
        span: Span,
        cx: &mut super::expr::Ctx,
    ) -> Option<Expr> {
        let read = self.lower_lag_read(name, subs, lag, span, cx);
        if read.is_none() {
            // Its inits are not reported as unread.
            self.failed_lag_reads.push(name.name.clone());
        }
        read
    }

    fn lower_lag_read(
        &mut self,
        name: &ast::Ident,
        subs: &[ast::Expr],
        lag: usize,
        span: Span,
        cx: &mut super::expr::Ctx,
    ) -> Option<Expr> {
        let rank = self.recur.rank(&name.name).unwrap_or(0);
        if subs.len() != rank {
            self.error(
                Diagnostic::error(
                    Code::WrongSubscriptCount,
                    span,
                    format!(
                        "`{}` has {rank} {} but {} {} given",
                        name.name,
                        if rank == 1 { "dimension" } else { "dimensions" },
                        subs.len(),
                        if subs.len() == 1 {
                            "subscript is"
                        } else {
                            "subscripts are"
                        }
                    ),
                )
                .label(format!("{rank} expected"))
                .with(
                    self.recur.defined_at[&name.name],
                    format!("`{}` is defined here", name.name),
                ),
            );
            return None;
        }
        let time = ir::IndexId(0);
        cx.lag_uses.push(time);
        let Some(first) = i64::try_from(lag)
            .ok()
            .filter(|k| *k <= MAX_LAG)
            .and_then(|k| ir::Affine::new(-k, &[(time, 1)]))
        else {
            self.error(
                Diagnostic::error(
                    Code::RecurrentSubscript,
                    subs[0].span,
                    format!("a read {lag} steps back is more than the {MAX_LAG} steps a recurrence may reach back"),
                )
                .label("too far back")
                .help("each step before the start needs an `init`: read a few steps back at most"),
            );
            return None;
        };
        let first = first.sub();
        let mut lowered = vec![(first, subs[0].span)];
        for s in &subs[1..] {
            let sub = match &s.kind {
                ExprKind::Read {
                    name: i,
                    subs: None,
                } if cx.lookup(&i.name).is_some() => {
                    let id = cx.lookup(&i.name)?;
                    cx.lag_uses.push(id);
                    Sub::Var(id)
                }
                ExprKind::Number { text, .. } if text.parse::<usize>().is_ok() => {
                    Sub::Lit(text.parse().ok()?)
                }
                _ => {
                    self.error(
                        Diagnostic::error(
                            Code::BadSubscript,
                            s.span,
                            format!("in a read of an earlier step of `{}`, the other subscripts must be index variables or integers", name.name),
                        )
                        .label("not an index variable or an integer")
                        .help("read the earlier step into a definition of its own, or write the subscript as an index variable"),
                    );
                    return None;
                }
            };
            lowered.push((sub, s.span));
        }
        let k = self.lag_reads.len() as u32;
        self.lag_reads.push(LagRead {
            reader: None,
            target: name.clone(),
            lag,
            subs: lowered[1..].to_vec(),
            span,
        });
        Some(Expr::Read {
            value: ValueId(PLACEHOLDER - k),
            subs: lowered.into_iter().map(|(s, _)| s).collect(),
        })
    }

    /// After every statement: resolves the lag reads, checks each
    /// recurrence (one range of steps, an init for every step read before
    /// the start, the shapes of inits) and makes `ir::Recurrence`s.
    pub(super) fn finish_recurrences(&mut self) -> Vec<ir::Recurrence> {
        let lag_reads = std::mem::take(&mut self.lag_reads);
        // Resolve placeholders.
        let mut target_of: Vec<Option<ValueId>> = Vec::with_capacity(lag_reads.len());
        for r in &lag_reads {
            let target = match self.scope.get(&r.target.name) {
                Some(Symbol::Value(v)) => Some(*v),
                _ => None,
            };
            target_of.push(target);
            let (Some(reader), Some(target)) = (r.reader, target) else {
                continue;
            };
            self.check_lag_subs(r, reader, target);
        }
        for v in 0..self.values.len() {
            if let Some(rhs) = &mut self.values[v].rhs {
                patch(rhs, &|id| {
                    let k = (PLACEHOLDER - id.0) as usize;
                    target_of.get(k).copied().flatten().unwrap_or(ValueId(0))
                });
            }
        }
        let mut out = Vec::new();
        for members in self.recur.groups.clone() {
            let ids: Vec<ValueId> = members
                .iter()
                .filter_map(|m| match self.scope.get(m) {
                    Some(Symbol::Value(v)) => Some(*v),
                    _ => None,
                })
                .collect();
            if ids.len() != members.len() || ids.iter().any(|v| self.values[v.index()].rank() == 0)
            {
                continue; // a member in error, reported already
            }
            let steps = self.values[ids[0].index()].shape[0].clone();
            let mut consistent = true;
            for v in &ids[1..] {
                let other = self.values[v.index()].shape[0].clone();
                if !self.same_extent(&steps, &other) && steps.size > 0 && other.size > 0 {
                    consistent = false;
                    let (a, b) = (&self.values[ids[0].index()], &self.values[v.index()]);
                    self.error(
                        Diagnostic::error(
                            Code::StepRangeConflict,
                            b.origin.span(),
                            format!(
                                "`{}` and `{}` are one recurrence but range over different steps, {} and {}",
                                a.name, b.name, self.size_text(&steps), self.size_text(&other)
                            ),
                        )
                        .label(format!("`{}` ranges over {} steps", b.name, self.shown_size(&other)))
                        .with(a.origin.span(), format!("`{}` ranges over {} steps", a.name, self.shown_size(&steps)))
                        .help("the members of a recurrence read each other step by step, so they share the range of their first index"),
                    );
                    break;
                }
            }
            let mut inits: Vec<Vec<ValueId>> = vec![Vec::new(); ids.len()];
            for (m, &member) in ids.iter().enumerate() {
                let name = &members[m];
                let max_lag = lag_reads
                    .iter()
                    .zip(&target_of)
                    .filter(|(r, t)| **t == Some(member) && r.reader.is_some())
                    .map(|(r, _)| r.lag)
                    .max()
                    .unwrap_or(0);
                let mut missing = Vec::new();
                for k in 1..=max_lag {
                    match self.inits.iter().find(|i| i.name == *name && i.lag == k) {
                        Some(i) => inits[m].push(i.value),
                        None => missing.push(k),
                    }
                }
                let unread: Vec<InitInfo> = if self.failed_lag_reads.contains(name) {
                    Vec::new()
                } else {
                    self.inits
                        .iter()
                        .filter(|i| i.name == *name && i.lag > max_lag)
                        .cloned()
                        .collect()
                };
                for i in &unread {
                    consistent = false;
                    self.error(
                        Diagnostic::error(
                            Code::InitShape,
                            i.span,
                            format!("`{name}` is never read at step -{}", i.lag),
                        )
                        .label("an init no read reaches")
                        .help(format!(
                            "the earliest step read before the start is {}; an init for step -k serves a read `{name}[t - k, ...]` at t = 0",
                            if max_lag == 0 { "none".to_string() } else { format!("-{max_lag}") }
                        )),
                    );
                }
                if missing.is_empty() || self.failed_inits.contains(name) {
                    continue;
                }
                consistent = false;
                let read = lag_reads
                    .iter()
                    .zip(&target_of)
                    .filter(|(r, t)| {
                        **t == Some(member) && r.reader.is_some() && r.lag >= missing[0]
                    })
                    .map(|(r, _)| r)
                    .min_by_key(|r| r.span.start)
                    .expect("a read reaches the missing step");
                let v = &self.values[member.index()];
                let rest: String = v.indices[1..v.rank()]
                    .iter()
                    .map(|i| format!(", {}", i.name))
                    .collect();
                let wanted: Vec<String> = missing
                    .iter()
                    .map(|k| format!("`init {name}[-{k}{rest}] = ...`"))
                    .collect();
                self.error(
                    Diagnostic::error(
                        Code::MissingInit,
                        read.span,
                        format!(
                            "`{name}` is read before its first step, but has no init for step {}",
                            missing
                                .iter()
                                .map(|k| format!("-{k}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                    .label(format!("at t = 0 this reads step -{}", read.lag))
                    .help(format!(
                        "give its value{} before the start: {}",
                        if missing.len() == 1 { "" } else { "s" },
                        wanted.join(" and ")
                    )),
                );
            }
            // Each init's shape is its member's without the time.
            for (m, &member) in ids.iter().enumerate() {
                for &init in &inits[m] {
                    let want = self.values[member.index()].shape[1..].to_vec();
                    let have = self.values[init.index()].shape.clone();
                    if let Some(pos) = (0..want.len()).find(|&p| {
                        have[p].size > 0
                            && want[p].size > 0
                            && !self.same_extent(&want[p], &have[p])
                    }) {
                        consistent = false;
                        let at = self
                            .inits
                            .iter()
                            .find(|i| i.value == init)
                            .map_or(Span::default(), |i| i.span);
                        let (w, h) = (self.size_text(&want[pos]), self.size_text(&have[pos]));
                        let idx = self.values[init.index()].indices[pos].name.clone();
                        self.error(
                            Diagnostic::error(
                                Code::InitShape,
                                at,
                                format!("`init {}` ranges over {h} in its dimension {}, but dimension {} of `{}` has size {w}", self.values[init.index()].name, pos + 2, pos + 2, members[m]),
                            )
                            .label(format!("`{idx}` ranges over {h}"))
                            .with(self.values[member.index()].origin.span(), format!("`{}` is defined here", members[m]))
                            .help("an init has the shape of its definition without the first (time) dimension"),
                        );
                    }
                }
            }
            if consistent {
                let span = self.values[ids[0].index()].origin.span();
                out.push(ir::Recurrence {
                    members: ids,
                    steps,
                    inits,
                    span,
                });
            }
        }
        out
    }

    /// The other subscripts of a lag read against the shape of the value read.
    fn check_lag_subs(&mut self, r: &LagRead, reader: ValueId, target: ValueId) {
        let shape = self.values[target.index()].shape.clone();
        for (pos, (sub, span)) in r.subs.iter().enumerate() {
            let want = &shape[pos + 1];
            match sub {
                Sub::Var(i) => {
                    let reader_value = &mut self.values[reader.index()];
                    // A reduction index that only lag reads subscript
                    // ranges over the dimension it subscripts.
                    if reader_value.indices[i.index()].extent.size == 0
                        && i.index() >= reader_value.rank()
                        && want.size > 0
                    {
                        reader_value.indices[i.index()].extent = want.clone();
                    }
                    let have = self.values[reader.index()].indices[i.index()].clone();
                    if have.extent.size > 0
                        && want.size > 0
                        && !self.same_extent(&have.extent, want)
                    {
                        let (a, b) = (self.size_text(&have.extent), self.size_text(want));
                        self.error(
                            Diagnostic::error(
                                Code::ConflictingRange,
                                *span,
                                format!("index `{}` ranges over dimensions of different sizes, {a} and {b}", have.name),
                            )
                            .label(format!("dimension {} of `{}` has size {}", pos + 2, r.target.name, self.shown_size(want)))
                            .help("an index variable must range over one size everywhere it is used"),
                        );
                    }
                }
                Sub::Lit(n)
                    if want.size > 0 && (*n >= want.size || (*n > 0 && self.is_runtime(want))) =>
                {
                    self.error(
                        Diagnostic::error(
                            Code::SubscriptOutOfRange,
                            *span,
                            format!("subscript {n} is out of range for dimension {} of `{}`, of size {}", pos + 2, r.target.name, self.shown_size(want)),
                        )
                        .label(format!("must be less than {}", self.shown_size(want)))
                        .note("subscripts count from 0"),
                    );
                }
                _ => {}
            }
        }
    }

    /// Whether two extents are the same size, a run-time dim only itself.
    fn same_extent(&self, a: &Extent, b: &Extent) -> bool {
        match (self.is_runtime(a), self.is_runtime(b)) {
            (false, false) => a.size == b.size,
            (true, true) => a.dim == b.dim,
            _ => false,
        }
    }
}

/// Replaces every placeholder value id in `e` (`PLACEHOLDER - k`) by `f`'s.
fn patch(e: &mut Expr, f: &impl Fn(ValueId) -> ValueId) {
    match e {
        Expr::Num(_) | Expr::Delta(..) | Expr::Index(_) => {}
        Expr::Read { value, .. } => {
            if value.0 > PLACEHOLDER / 2 {
                *value = f(*value);
            }
        }
        Expr::Unary { arg, .. } => patch(arg, f),
        Expr::Binary { lhs, rhs, .. } => {
            patch(lhs, f);
            patch(rhs, f);
        }
        Expr::Reduce { body, .. } | Expr::Solve { body, .. } => patch(body, f),
        Expr::At { pos, .. } => patch(pos, f),
        Expr::Where { cond, then, els } => {
            patch(cond, f);
            patch(then, f);
            patch(els, f);
        }
    }
}
