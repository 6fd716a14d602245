//! The expression DAG: repeated subterms hoisted into temporaries, and one
//! petgraph edge per read occurrence.
//!
//! Node `i` of the graph is `ValueId(i)` of the program, and the program's
//! values are in topological order, so node order is deterministic: inputs,
//! params and definitions in source order, each temporary just before the
//! first value that reads it.

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::ir::{
    BinOp, Expr, Func, IndexId, IndexVar, Origin, Program, Reduction, Sub, Value, ValueId,
    ValueKind,
};

/// One read occurrence of a value in another's right-hand side: an edge of the DAG.
#[derive(Debug, Clone, PartialEq)]
pub struct Use {
    /// The occurrence's position among the reads of the right-hand side, in
    /// preorder (`Expr::for_each_read`).
    pub occurrence: u32,
    /// Its subscripts, in the reader's index variables.
    pub subs: Vec<Sub>,
    /// The reductions around it, outermost first: `(op, index)`.
    pub enclosing: Vec<(Reduction, IndexId)>,
}

/// A checked program with its DAG.
#[derive(Debug, Clone)]
pub struct Dag {
    pub program: Program,
    pub graph: DiGraph<ValueId, Use>,
}

impl Dag {
    /// The uses of `v` (its out-edges), by reader then occurrence.
    pub fn uses(&self, v: ValueId) -> Vec<(ValueId, &Use)> {
        let mut uses: Vec<(ValueId, &Use)> = self
            .graph
            .edges_directed(NodeIndex::new(v.index()), Direction::Outgoing)
            .map(|e| (self.graph[e.target()], e.weight()))
            .collect();
        uses.sort_by_key(|(reader, u)| (*reader, u.occurrence));
        uses
    }
}

/// Builds the DAG: hoists repeated subterms, then adds the edges.
pub fn build(program: Program) -> Dag {
    connect(hoist(program).0)
}

/// Builds the DAG of a program as it is: one node per value, one edge per read.
pub fn connect(program: Program) -> Dag {
    let mut graph = DiGraph::with_capacity(program.values.len(), 0);
    for id in program.ids() {
        graph.add_node(id);
    }
    for reader in program.ids() {
        let Some(rhs) = &program.value(reader).rhs else {
            continue;
        };
        let mut occurrence = 0;
        let mut enclosing = Vec::new();
        add_edges(rhs, reader, &mut occurrence, &mut enclosing, &mut graph);
    }
    Dag { program, graph }
}

fn add_edges(
    e: &Expr,
    reader: ValueId,
    occurrence: &mut u32,
    enclosing: &mut Vec<(Reduction, IndexId)>,
    g: &mut DiGraph<ValueId, Use>,
) {
    match e {
        Expr::Num(_) | Expr::Delta(..) => {}
        Expr::Read { value, subs } => {
            let u = Use {
                occurrence: *occurrence,
                subs: subs.clone(),
                enclosing: enclosing.clone(),
            };
            *occurrence += 1;
            g.add_edge(
                NodeIndex::new(value.index()),
                NodeIndex::new(reader.index()),
                u,
            );
        }
        Expr::Unary { arg, .. } => add_edges(arg, reader, occurrence, enclosing, g),
        Expr::Binary { lhs, rhs, .. } => {
            add_edges(lhs, reader, occurrence, enclosing, g);
            add_edges(rhs, reader, occurrence, enclosing, g);
        }
        Expr::Reduce { op, index, body } => {
            enclosing.push((*op, *index));
            add_edges(body, reader, occurrence, enclosing, g);
            enclosing.pop();
        }
    }
}

/// A subterm up to the renaming of its index variables: variables are
/// numbered in order of first appearance, and carry their range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Num(u64),
    Read(ValueId, Vec<KeySub>),
    Unary(Func, Box<Key>),
    Binary(BinOp, Box<Key>, Box<Key>),
    Reduce(Reduction, usize, Box<Key>),
    Delta(KeySub, KeySub),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeySub {
    Var(u32, usize),
    Lit(usize),
}

/// The canonical form of a subterm of `owner`, and its free index variables
/// in canonical order.
fn canon(e: &Expr, owner: &Value) -> (Key, Vec<IndexId>) {
    let mut names: Vec<IndexId> = Vec::new();
    let mut bound: Vec<IndexId> = Vec::new();
    let key = canon_rec(e, owner, &mut names, &mut bound);
    let free = names.into_iter().filter(|v| !bound.contains(v)).collect();
    (key, free)
}

fn canon_rec(e: &Expr, owner: &Value, names: &mut Vec<IndexId>, bound: &mut Vec<IndexId>) -> Key {
    let number = |v: IndexId, names: &mut Vec<IndexId>| match names.iter().position(|n| *n == v) {
        Some(p) => p as u32,
        None => {
            names.push(v);
            (names.len() - 1) as u32
        }
    };
    match e {
        Expr::Num(x) => Key::Num(x.to_bits()),
        Expr::Delta(a, b) => {
            let mut key_sub = |s: &Sub| match s {
                Sub::Var(v) => KeySub::Var(number(*v, names), owner.indices[v.index()].extent.size),
                Sub::Lit(n) => KeySub::Lit(*n),
            };
            let a = key_sub(a);
            Key::Delta(a, key_sub(b))
        }
        Expr::Read { value, subs } => Key::Read(
            *value,
            subs.iter()
                .map(|s| match s {
                    Sub::Var(v) => {
                        KeySub::Var(number(*v, names), owner.indices[v.index()].extent.size)
                    }
                    Sub::Lit(n) => KeySub::Lit(*n),
                })
                .collect(),
        ),
        Expr::Unary { func, arg } => {
            Key::Unary(*func, Box::new(canon_rec(arg, owner, names, bound)))
        }
        Expr::Binary { op, lhs, rhs } => {
            let l = canon_rec(lhs, owner, names, bound);
            let r = canon_rec(rhs, owner, names, bound);
            Key::Binary(*op, Box::new(l), Box::new(r))
        }
        Expr::Reduce { op, index, body } => {
            number(*index, names);
            bound.push(*index);
            let size = owner.indices[index.index()].extent.size;
            Key::Reduce(*op, size, Box::new(canon_rec(body, owner, names, bound)))
        }
    }
}

/// What is known of one distinct subterm.
struct Seen {
    count: usize,
    size: usize,
    /// Program-order position of its first occurrence, to break ties.
    first: usize,
    /// The keys of its proper subterms, with multiplicity.
    inner: Vec<Key>,
}

/// Hoists every subterm that occurs more than once (up to renaming of index
/// variables, across all definitions) into a temporary, or into the
/// definition whose whole right-hand side it is, when that comes first.
/// Returns the new program and where each old value went.
pub fn hoist(mut program: Program) -> (Program, Vec<ValueId>) {
    let mut seen: HashMap<Key, Seen> = HashMap::new();
    let mut position = 0;
    for v in &program.values {
        if let Some(rhs) = &v.rhs {
            count(rhs, v, &mut seen, &mut position);
        }
    }
    // Largest first: hoisting a term leaves one copy of the terms inside it.
    let mut repeated: Vec<(&Key, &Seen)> = seen
        .iter()
        .filter(|(k, s)| s.count > 1 && hoistable(k))
        .collect();
    repeated.sort_by_key(|(_, s)| (std::cmp::Reverse(s.size), s.first));
    let order: Vec<Key> = repeated.into_iter().map(|(k, _)| k.clone()).collect();
    let mut hoisted: HashMap<Key, Option<Home>> = HashMap::new();
    for k in order {
        let c = seen[&k].count;
        if c < 2 {
            continue;
        }
        for inner in seen[&k].inner.clone() {
            if let Some(s) = seen.get_mut(&inner) {
                s.count -= c - 1;
            }
        }
        hoisted.insert(k, None);
    }
    // A logsumexp inside a larger expression gets a node of its own, so that
    // its derivative, exp(x - lse), reads the value instead of recomputing it.
    for v in &program.values {
        if let Some(rhs) = &v.rhs {
            nested_logsumexps(rhs, v, true, &mut |k| {
                hoisted.entry(k).or_insert(None);
            });
        }
    }
    if hoisted.is_empty() {
        let identity = program.ids().collect();
        return (program, identity);
    }

    // Rewriting works in the old id space, where temporary k is `n + k`, so
    // that keys stay comparable; one remap at the end gives the final order.
    let n = program.values.len();
    let names: Vec<String> = program.values.iter().map(|v| v.name.clone()).collect();
    let old = std::mem::take(&mut program.values);
    let mut h = Hoister {
        hoisted,
        first_temp: n,
        temps: Vec::new(),
        order: Vec::with_capacity(n),
        names,
    };
    for (i, mut v) in old.into_iter().enumerate() {
        if let Some(rhs) = v.rhs.take() {
            let (key, free) = canon(&rhs, &v);
            let whole = h.hoisted.get(&key).is_some_and(Option::is_none)
                && v.rank() == free.len()
                && free.iter().all(|f| f.index() < v.rank());
            if whole {
                // This definition is the first occurrence: later ones read it.
                let map = free.iter().map(|f| f.index()).collect();
                h.hoisted.insert(
                    key,
                    Some(Home {
                        value: ValueId(i as u32),
                        map,
                    }),
                );
                v.rhs = Some(h.rewrite_inside(rhs, &v));
            } else {
                v.rhs = Some(h.rewrite(rhs, &v));
            }
        }
        h.order.push(Slot::Original(v));
    }
    // Final ids: position in `order`.
    let mut remap = vec![ValueId(0); n + h.temps.len()];
    let mut originals = 0..n;
    let mut values = Vec::with_capacity(remap.len());
    for slot in h.order {
        let (old_id, v) = match slot {
            Slot::Original(v) => (originals.next().expect("each original is placed once"), v),
            Slot::Temp(k) => (
                n + k,
                h.temps[k].take().expect("each temporary is placed once"),
            ),
        };
        remap[old_id] = ValueId(values.len() as u32);
        values.push(v);
    }
    for v in &mut values {
        if let Origin::Adjoint { of, uses } = &mut v.origin {
            *of = remap[of.index()];
            for (reader, _) in uses.iter_mut() {
                *reader = remap[reader.index()];
            }
        }
        if let Some(rhs) = v.rhs.take() {
            v.rhs = Some(map_expr(rhs, &mut |e| match e {
                Expr::Read { value, subs } => Expr::Read {
                    value: remap[value.index()],
                    subs,
                },
                other => other,
            }));
        }
    }
    program.loss = remap[program.loss.index()];
    program.outputs = program.outputs.iter().map(|o| remap[o.index()]).collect();
    program.values = values;
    remap.truncate(n);
    (program, remap)
}

/// A place in the final order of values.
enum Slot {
    Original(Value),
    /// The k-th temporary, in creation order.
    Temp(usize),
}

/// Calls `f` with the key of every logsumexp in `e` that is not `e` itself.
fn nested_logsumexps(e: &Expr, owner: &Value, root: bool, f: &mut impl FnMut(Key)) {
    match e {
        Expr::Num(_) | Expr::Read { .. } | Expr::Delta(..) => {}
        Expr::Unary { arg, .. } => nested_logsumexps(arg, owner, false, f),
        Expr::Binary { lhs, rhs, .. } => {
            nested_logsumexps(lhs, owner, false, f);
            nested_logsumexps(rhs, owner, false, f);
        }
        Expr::Reduce { op, body, .. } => {
            if *op == Reduction::LogSumExp && !root {
                f(canon(e, owner).0);
            }
            nested_logsumexps(body, owner, false, f);
        }
    }
}

/// Only subterms that compute something from a value are worth a node.
fn hoistable(k: &Key) -> bool {
    fn reads(k: &Key) -> bool {
        match k {
            Key::Num(_) | Key::Delta(..) => false,
            Key::Read(..) => true,
            Key::Unary(_, a) | Key::Reduce(_, _, a) => reads(a),
            Key::Binary(_, a, b) => reads(a) || reads(b),
        }
    }
    !matches!(k, Key::Num(_) | Key::Read(..) | Key::Delta(..)) && reads(k)
}

/// Counts every subterm of `e`; returns its key and size.
fn count(
    e: &Expr,
    owner: &Value,
    seen: &mut HashMap<Key, Seen>,
    position: &mut usize,
) -> (Key, usize) {
    let mut inner = Vec::new();
    let mut size = 1;
    let mut child =
        |c: &Expr, seen: &mut HashMap<Key, Seen>, position: &mut usize, inner: &mut Vec<Key>| {
            let (k, s) = count(c, owner, seen, position);
            size += s;
            if let Some(ks) = seen.get(&k) {
                inner.extend(ks.inner.iter().cloned());
            }
            inner.push(k);
        };
    match e {
        Expr::Num(_) | Expr::Read { .. } | Expr::Delta(..) => {}
        Expr::Unary { arg, .. } => child(arg, seen, position, &mut inner),
        Expr::Binary { lhs, rhs, .. } => {
            child(lhs, seen, position, &mut inner);
            child(rhs, seen, position, &mut inner);
        }
        Expr::Reduce { body, .. } => child(body, seen, position, &mut inner),
    }
    let (key, _) = canon(e, owner);
    *position += 1;
    let first = *position;
    seen.entry(key.clone())
        .and_modify(|s| s.count += 1)
        .or_insert(Seen {
            count: 1,
            size,
            first,
            inner,
        });
    (key, size)
}

/// Where a hoisted subterm lives: its value, and for each of its canonical
/// free variables, the position of the value's index that it becomes.
#[derive(Clone)]
struct Home {
    value: ValueId,
    map: Vec<usize>,
}

struct Hoister {
    /// Every hoisted key, with its home once the first occurrence made one.
    hoisted: HashMap<Key, Option<Home>>,
    /// The old id of the first temporary (the number of original values).
    first_temp: usize,
    /// Temporaries in creation order, taken when placed.
    temps: Vec<Option<Value>>,
    order: Vec<Slot>,
    /// Names in use, so a temporary's name never collides with the user's.
    names: Vec<String>,
}

impl Hoister {
    /// Replaces hoisted subterms of `e`, an expression of `owner`, by reads.
    fn rewrite(&mut self, e: Expr, owner: &Value) -> Expr {
        let (key, free) = canon(&e, owner);
        if !self.hoisted.contains_key(&key) {
            return self.rewrite_inside(e, owner);
        }
        let home = match self.hoisted[&key].clone() {
            Some(home) => home,
            None => {
                let home = self.make_temp(e, owner, &free);
                self.hoisted.insert(key, Some(home.clone()));
                home
            }
        };
        let mut subs = vec![Sub::Lit(0); home.map.len()];
        for (c, pos) in home.map.iter().enumerate() {
            subs[*pos] = Sub::Var(free[c]);
        }
        Expr::Read {
            value: home.value,
            subs,
        }
    }

    fn rewrite_inside(&mut self, e: Expr, owner: &Value) -> Expr {
        match e {
            Expr::Num(_) | Expr::Read { .. } | Expr::Delta(..) => e,
            Expr::Unary { func, arg } => Expr::unary(func, self.rewrite(*arg, owner)),
            Expr::Binary { op, lhs, rhs } => {
                let l = self.rewrite(*lhs, owner);
                let r = self.rewrite(*rhs, owner);
                Expr::binary(op, l, r)
            }
            Expr::Reduce { op, index, body } => Expr::Reduce {
                op,
                index,
                body: Box::new(self.rewrite(*body, owner)),
            },
        }
    }

    /// A new temporary `_tN[free...] = e`, pushed after any temporaries inside it.
    fn make_temp(&mut self, e: Expr, owner: &Value, free: &[IndexId]) -> Home {
        // The temporary's index table: its free variables, then the
        // reductions inside it, renumbered.
        let mut table: Vec<IndexId> = free.to_vec();
        collect_binders(&e, &mut table);
        let renumber = |v: IndexId| {
            IndexId(
                table
                    .iter()
                    .position(|t| *t == v)
                    .expect("every index of the subterm is in its table") as u32,
            )
        };
        let body = map_expr(e, &mut |e| match e {
            Expr::Read { value, subs } => Expr::Read {
                value,
                subs: subs
                    .into_iter()
                    .map(|s| match s {
                        Sub::Var(v) => Sub::Var(renumber(v)),
                        lit => lit,
                    })
                    .collect(),
            },
            Expr::Reduce { op, index, body } => Expr::Reduce {
                op,
                index: renumber(index),
                body,
            },
            other => other,
        });
        let indices: Vec<IndexVar> = table
            .iter()
            .map(|v| owner.indices[v.index()].clone())
            .collect();
        let mut temp = Value {
            name: String::new(), // named once placed, so names follow definition order
            kind: ValueKind::Temp,
            shape: free
                .iter()
                .map(|v| owner.indices[v.index()].extent.clone())
                .collect(),
            indices,
            rhs: None,
            origin: Origin::Hoisted(owner.origin.span()),
        };
        let body = self.rewrite_inside(body, &temp);
        temp.rhs = Some(body);
        temp.name = self.fresh_name();
        let k = self.temps.len();
        self.temps.push(Some(temp));
        self.order.push(Slot::Temp(k));
        let id = ValueId((self.first_temp + k) as u32);
        Home {
            value: id,
            map: (0..free.len()).collect(),
        }
    }

    fn fresh_name(&mut self) -> String {
        let mut n = self.temps.len();
        loop {
            n += 1;
            let name = format!("_t{n}");
            if !self.names.contains(&name) {
                self.names.push(name.clone());
                return name;
            }
        }
    }
}

fn collect_binders(e: &Expr, out: &mut Vec<IndexId>) {
    match e {
        Expr::Num(_) | Expr::Read { .. } | Expr::Delta(..) => {}
        Expr::Unary { arg, .. } => collect_binders(arg, out),
        Expr::Binary { lhs, rhs, .. } => {
            collect_binders(lhs, out);
            collect_binders(rhs, out);
        }
        Expr::Reduce { index, body, .. } => {
            out.push(*index);
            collect_binders(body, out);
        }
    }
}

/// Rebuilds an expression bottom-up, applying `f` to every node.
fn map_expr(e: Expr, f: &mut impl FnMut(Expr) -> Expr) -> Expr {
    let e = match e {
        Expr::Unary { func, arg } => Expr::unary(func, map_expr(*arg, f)),
        Expr::Binary { op, lhs, rhs } => {
            let l = map_expr(*lhs, f);
            let r = map_expr(*rhs, f);
            Expr::binary(op, l, r)
        }
        Expr::Reduce { op, index, body } => Expr::Reduce {
            op,
            index,
            body: Box::new(map_expr(*body, f)),
        },
        leaf => leaf,
    };
    f(e)
}
