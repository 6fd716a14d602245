//! Graphviz DOT of the expression DAG, with multi-use values marked; deterministic.

use std::fmt::Write as _;

use crate::graph::Dag;
use crate::ir::ValueKind;
use crate::pretty;
use crate::summary::repeated_over;

/// The DAG as a DOT digraph named `name`.
///
/// Nodes appear in DAG order and edges by reader then occurrence, so the
/// text is the same on every run. A value read more than once, or once for
/// every value of an index, is drawn with a double border in red.
pub fn dot(dag: &Dag, name: &str) -> String {
    let p = &dag.program;
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", escape(name));
    out.push_str("  rankdir=BT;\n  node [shape=box, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for id in p.ids() {
        let v = p.value(id);
        let uses = dag.uses(id);
        let fan_out = uses.len() > 1
            || uses
                .iter()
                .any(|(r, u)| !repeated_over(p, *r, u).is_empty());
        let mut label = match v.kind {
            ValueKind::Input | ValueKind::Param => {
                format!("{}\n{}", v.declared(), v.kind.describe())
            }
            ValueKind::Loss => format!("loss {}", pretty::shown_definition(p, v)),
            ValueKind::Temp => format!(
                "{}\n(subterm computed once)",
                pretty::shown_definition(p, v)
            ),
            ValueKind::Def | ValueKind::Adjoint => pretty::shown_definition(p, v),
            ValueKind::Init => format!("init {}", pretty::shown_definition(p, v)),
        };
        if uses.len() > 1 {
            let _ = write!(label, "\nused {} times", uses.len());
        }
        let mut attrs = format!("label=\"{}\"", escape(&label));
        attrs.push_str(match v.kind {
            ValueKind::Input => ", style=filled, fillcolor=\"#e3f2fd\"",
            ValueKind::Param => ", style=filled, fillcolor=\"#fff3e0\"",
            ValueKind::Loss => ", style=filled, fillcolor=\"#e8f5e9\"",
            ValueKind::Temp => ", style=dashed",
            ValueKind::Adjoint => ", style=filled, fillcolor=\"#f3e5f5\"",
            ValueKind::Def | ValueKind::Init => "",
        });
        if fan_out {
            attrs.push_str(", color=\"#c62828\", peripheries=2");
        }
        let _ = writeln!(out, "  v{} [{attrs}];", id.0);
    }
    for id in p.ids() {
        for (reader, u) in dag.uses(id) {
            let v = p.value(id);
            let r = p.value(reader);
            // A temporary is written out as its subterm, in the reader's indices.
            let mut label = pretty::read_in(pretty::Notation::Source, p, r, v, &u.subs);
            let every = repeated_over(p, reader, u);
            if !every.is_empty() {
                let _ = write!(label, "\nfor every {}", every.join(", "));
            }
            let _ = writeln!(
                out,
                "  v{} -> v{} [label=\"{}\"];",
                id.0,
                reader.0,
                escape(&label)
            );
        }
    }
    out.push_str("}\n");
    out
}

/// Escapes a DOT string: quotes and backslashes, and newlines as `\n`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}
