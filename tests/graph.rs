//! The expression DAG: one edge per read occurrence, topological node order,
//! and repeated subterms hoisted into temporaries.

mod common;

use netgrad::graph::Dag;
use netgrad::ir::{IndexId, Reduction, Sub, ValueId, ValueKind};

fn dag(src: &str) -> Dag {
    netgrad::front_end(src)
        .unwrap_or_else(|d| panic!("{}", netgrad::diag::render("t.net", src, &d)))
}

fn id(dag: &Dag, name: &str) -> ValueId {
    dag.program
        .ids()
        .find(|v| dag.program.value(*v).name == name)
        .unwrap_or_else(|| panic!("no value {name}"))
}

fn readers(dag: &Dag, name: &str) -> Vec<String> {
    dag.uses(id(dag, name))
        .iter()
        .map(|(r, _)| dag.program.value(*r).name.clone())
        .collect()
}

const FANOUT: &str = "param w\ninput x\nh = tanh(w * x)\nu = h * h\nv = sin(h)\nloss E = u + v\n";

#[test]
fn one_edge_per_read_occurrence() {
    let d = dag(FANOUT);
    assert_eq!(readers(&d, "h"), ["u", "u", "v"]);
    assert_eq!(readers(&d, "u"), ["E"]);
    assert_eq!(d.graph.edge_count(), 7);
    let occurrences: Vec<u32> = d
        .uses(id(&d, "h"))
        .iter()
        .map(|(_, u)| u.occurrence)
        .collect();
    assert_eq!(occurrences, [0, 1, 0]);
}

#[test]
fn nodes_are_in_topological_order() {
    for path in common::net_files("examples") {
        let text = std::fs::read_to_string(path).unwrap();
        let d = dag(&text);
        assert_eq!(d.graph.node_count(), d.program.values.len());
        for e in d.graph.raw_edges() {
            assert!(
                e.source() < e.target(),
                "edge {:?} -> {:?} goes backwards",
                e.source(),
                e.target()
            );
        }
        assert_eq!(d.program.value(d.program.loss).kind, ValueKind::Loss);
    }
}

#[test]
fn a_use_records_its_subscripts_and_the_reductions_around_it() {
    let d = dag(&std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/bishop.net"
    ))
    .unwrap());
    let uses = d.uses(id(&d, "x"));
    assert_eq!(uses.len(), 1);
    let (reader, u) = &uses[0];
    let a1 = d.program.value(*reader);
    assert_eq!(a1.name, "a1");
    // a1[j] = sum(i, w1[j, i] * x[i]) + b1[j]: j is index 0, i index 1.
    assert_eq!(a1.indices[0].name, "j");
    assert_eq!(a1.indices[1].name, "i");
    assert_eq!(u.subs, [Sub::Var(IndexId(1))]);
    assert_eq!(u.enclosing, [(Reduction::Sum, IndexId(1))]);
}

#[test]
fn repeated_subterms_become_one_temporary_up_to_index_names() {
    let d = dag("dim K = 3\ninput t[K]\nparam y[K]\nloss E = sum(k, (y[k] - t[k])^2) + sum(m, abs(y[m] - t[m]))\n");
    let temps: Vec<_> = d
        .program
        .values
        .iter()
        .filter(|v| v.kind == ValueKind::Temp)
        .collect();
    assert_eq!(temps.len(), 1);
    let text = netgrad::pretty::definition(&d.program, temps[0]);
    assert_eq!(text, "_t1[k] = y[k] - t[k]");
    assert_eq!(readers(&d, "_t1"), ["E", "E"]);
    let e = d.program.value(d.program.loss);
    assert_eq!(
        netgrad::pretty::definition(&d.program, e),
        "E = sum(k, _t1[k]^2) + sum(m, abs(_t1[m]))"
    );
}

#[test]
fn a_definition_that_is_the_first_occurrence_is_reused() {
    let d = dag("dim K = 3\ninput b[K]\nparam y[K]\na[j] = tanh(b[j])\nc = sum(k, tanh(b[k]) * y[k])\nloss E = c\n");
    assert!(d.program.values.iter().all(|v| v.kind != ValueKind::Temp));
    assert_eq!(
        netgrad::pretty::definition(&d.program, d.program.value(id(&d, "c"))),
        "c = sum(k, a[k] * y[k])"
    );
}

#[test]
fn subterms_over_different_ranges_are_not_merged() {
    let d = dag("dim A = 2\ndim B = 3\nparam x[A], y[B]\nloss E = sum(i, exp(x[i] * 2)) + sum(j, exp(y[j] * 2)) + sum(i, exp(x[i] * 3))\n");
    assert!(d.program.values.iter().all(|v| v.kind != ValueKind::Temp));
}

#[test]
fn a_temporary_is_defined_before_its_first_reader_and_nests() {
    let d = dag("param w\ninput x\na = exp(tanh(w * x)) + 1\nb = exp(tanh(w * x)) * tanh(w * x)\nloss E = a + b\n");
    let names: Vec<&str> = d.program.values.iter().map(|v| v.name.as_str()).collect();
    // tanh(w * x) is inside exp(tanh(w * x)) and also used alone.
    assert_eq!(names, ["w", "x", "_t1", "_t2", "a", "b", "E"]);
    let t2 = d.program.value(id(&d, "_t2"));
    assert_eq!(
        netgrad::pretty::definition(&d.program, t2),
        "_t2 = exp(_t1)"
    );
    assert_eq!(
        netgrad::pretty::definition(&d.program, d.program.value(id(&d, "b"))),
        "b = _t2 * _t1"
    );
}

#[test]
fn temporary_names_never_collide_with_user_names() {
    let d = dag("param _t1\ninput x\nloss E = exp(_t1 * x) + exp(_t1 * x)\n");
    let names: Vec<&str> = d.program.values.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["_t1", "x", "_t2", "E"]);
}
