//! The expression DAG: repeated subterms hoisted into temporaries, and one
//! petgraph edge per read occurrence.
//!
//! Node `i` of the graph is `ValueId(i)` of the program, and the program's
//! values are in topological order, so node order is deterministic: inputs,
//! params and definitions in source order, each temporary just before the
//! first value that reads it.

use std::collections::{HashMap, HashSet};

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

/// Builds the DAG: hoists repeated subterms, and splits long right-hand
/// sides into pieces of at most about `MAX_PIECE` nodes, then adds the edges.
pub fn build(program: Program) -> Dag {
    connect(hoist_with(program, MAX_PIECE).0)
}

/// The largest right-hand side, in expression nodes, that autodiff sees
/// whole (a piece has at most `2 * MAX_PIECE + 1`, `3 * MAX_PIECE + 1` for a
/// `where` with three large operands). The partial derivative
/// of one read copies the siblings along its path to the root, so one
/// right-hand side of n nodes costs up to n^3 (a power tower `w^w^...^w`);
/// split into pieces, each a temporary with an adjoint of its own, the cost
/// is linear. No right-hand side of the examples and test programs is this
/// large, so splitting changes nothing for them.
pub const MAX_PIECE: usize = 32;

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
        Expr::Num(_) | Expr::Delta(..) | Expr::Index(_) => {}
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
        Expr::At { pos, .. } => add_edges(pos, reader, occurrence, enclosing, g),
        // The solved index is fixed, not summed: no enclosing reduction.
        Expr::Solve { body, .. } => add_edges(body, reader, occurrence, enclosing, g),
        Expr::Where { cond, then, els } => {
            add_edges(cond, reader, occurrence, enclosing, g);
            add_edges(then, reader, occurrence, enclosing, g);
            add_edges(els, reader, occurrence, enclosing, g);
        }
    }
}

/// One distinct subterm up to the renaming of its index variables, over the
/// ids of its children: hash-consing is bottom-up, so a key is a few words and
/// never a copy of the subterm. A subterm's free index variables are numbered
/// in order of first appearance (preorder), and each key says how its
/// children's numbers map to its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Node {
    Num(u64),
    /// A variable subscript is its number among the read's free variables, and its range.
    Read(ValueId, Box<[KeySub]>),
    Delta(KeySub, KeySub),
    Unary(Func, u32),
    /// The right operand's free variable `k` is the node's variable `map[k]`;
    /// the left operand's keep their numbers.
    Binary(BinOp, u32, u32, Box<[u32]>),
    /// The reduction's range, and the number of its index among the body's
    /// free variables (`u32::MAX` when the body does not use it).
    Reduce(Reduction, usize, u32, u32),
    /// `At`: the index variable, and the position's node; the position's
    /// free variable `k` is the node's variable `map[k]`.
    At(KeySub, u32, Box<[u32]>),
    /// `Solve`: the scale, the solved index's range, the value, the body's
    /// node, the number of the index among the body's free variables
    /// (`u32::MAX` if unused), and the body's other free variables' numbers.
    Solve(i64, usize, KeySub, u32, u32, Box<[u32]>),
    /// `Where`: the three operands' nodes; the branches' free variables map
    /// to the node's as for `Binary` (the condition's keep their numbers).
    Where(u32, u32, u32, Box<[u32]>, Box<[u32]>),
    /// `Index`: an index variable as a number.
    Index(KeySub),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeySub {
    Var(u32, usize),
    Lit(usize),
    /// An affine subscript: its constant and (variable number, range,
    /// coefficient) terms; boxed, so that keys stay as small as before.
    Affine(Box<AffineKey>),
}

/// An affine subscript's key: its constant, and (variable number, range,
/// coefficient) per term.
type AffineKey = (i64, Vec<(u32, usize, i64)>);

/// The interned subterms: a node's id is its index, and children come before
/// their parents, so decreasing ids are a topological order.
#[derive(Default)]
struct Interner {
    ids: HashMap<Node, u32>,
    nodes: Vec<Facts>,
}

/// What is known of one distinct subterm.
struct Facts {
    children: [Option<u32>; 3],
    /// Whether it computes something from a value: only such terms are worth a node.
    reads: bool,
    /// A condition (a comparison, `and`, `or`, `not`): cheap, and never
    /// hoisted on its own, so that a `where` keeps its condition in sight.
    condition: bool,
    /// It reads a value at an affine subscript that is in bounds only
    /// where an enclosing `where` condition holds (`where(i >= P, x[i - P],
    /// 0)`): never hoisted, since a temporary is computed over its indices'
    /// whole ranges (`refine::reads_in_bounds`).
    guarded: bool,
    leaf: bool,
    /// Occurrences as the whole right-hand side of a value.
    roots: usize,
    /// A logsumexp inside a larger expression gets a node of its own, so that
    /// its derivative, exp(x - lse), reads the value instead of recomputing
    /// it; so does a max or min reduction, whose derivative reads the
    /// position of its extreme, a value made from the reduction's own.
    forced: bool,
}

/// Every subterm occurrence of one right-hand side, in postorder: its node,
/// the size of its subtree (to find its children) and its free variables.
#[derive(Default)]
struct Occurrences {
    node: Vec<u32>,
    size: Vec<u32>,
    /// `free[free_at[p]..free_at[p + 1]]` are occurrence p's free variables in canonical order.
    free_at: Vec<u32>,
    free: Vec<IndexId>,
}

impl Occurrences {
    fn free(&self, p: usize) -> &[IndexId] {
        &self.free[self.free_at[p] as usize..self.free_at[p + 1] as usize]
    }

    fn root(&self) -> usize {
        self.node.len() - 1
    }

    /// The two children of a binary occurrence `p`.
    fn operands(&self, p: usize) -> (usize, usize) {
        let r = p - 1;
        (r - self.size[r] as usize, r)
    }

    /// The three children of a `where` occurrence `p`.
    fn operands3(&self, p: usize) -> (usize, usize, usize) {
        let (t, e) = self.operands(p);
        let c = t - self.size[t] as usize;
        (c, t, e)
    }
}

impl Interner {
    /// Interns every subterm of `e`, an expression of `owner`, appending its
    /// occurrences; returns the position of `e`.
    fn walk(
        &mut self,
        program: &Program,
        e: &Expr,
        owner: &Value,
        occ: &mut Occurrences,
        root: bool,
    ) -> usize {
        let size_of = |v: IndexId| owner.indices[v.index()].extent.size;
        let mut free: Vec<IndexId> = Vec::new();
        let number = |v: IndexId, free: &mut Vec<IndexId>| match free.iter().position(|f| *f == v) {
            Some(k) => k as u32,
            None => {
                free.push(v);
                (free.len() - 1) as u32
            }
        };
        let key_sub = |s: &Sub, free: &mut Vec<IndexId>| match s {
            Sub::Var(v) => KeySub::Var(number(*v, free), size_of(*v)),
            Sub::Lit(n) => KeySub::Lit(*n),
            Sub::Affine(a) => KeySub::Affine(Box::new((
                a.constant(),
                a.terms()
                    .into_iter()
                    .map(|(v, c)| (number(v, free), size_of(v), c))
                    .collect(),
            ))),
        };
        let (node, children) = match e {
            Expr::Num(x) => (Node::Num(x.to_bits()), [None, None, None]),
            Expr::Delta(a, b) => {
                let a = key_sub(a, &mut free);
                (Node::Delta(a, key_sub(b, &mut free)), [None, None, None])
            }
            Expr::Index(v) => (
                Node::Index(key_sub(&Sub::Var(*v), &mut free)),
                [None, None, None],
            ),
            Expr::Read { value, subs } => {
                let subs = subs.iter().map(|s| key_sub(s, &mut free)).collect();
                (Node::Read(*value, subs), [None, None, None])
            }
            Expr::Unary { func, arg } => {
                let a = self.walk(program, arg, owner, occ, false);
                free.extend_from_slice(occ.free(a));
                (
                    Node::Unary(*func, occ.node[a]),
                    [Some(occ.node[a]), None, None],
                )
            }
            Expr::Binary { op, lhs, rhs } => {
                let l = self.walk(program, lhs, owner, occ, false);
                let r = self.walk(program, rhs, owner, occ, false);
                free.extend_from_slice(occ.free(l));
                let map = occ
                    .free(r)
                    .iter()
                    .map(|v| match free.iter().position(|f| f == v) {
                        Some(k) => k as u32,
                        None => {
                            free.push(*v);
                            (free.len() - 1) as u32
                        }
                    })
                    .collect();
                let (l, r) = (occ.node[l], occ.node[r]);
                (Node::Binary(*op, l, r, map), [Some(l), Some(r), None])
            }
            Expr::Reduce { op, index, body } => {
                let b = self.walk(program, body, owner, occ, false);
                let inner = occ.free(b);
                let at = inner.iter().position(|f| f == index);
                free.extend(inner.iter().filter(|f| *f != index));
                let at = at.map_or(u32::MAX, |k| k as u32);
                let b = occ.node[b];
                (
                    Node::Reduce(*op, size_of(*index), b, at),
                    [Some(b), None, None],
                )
            }
            Expr::At { index, pos } => {
                let k = key_sub(&Sub::Var(*index), &mut free);
                let p = self.walk(program, pos, owner, occ, false);
                let map = occ
                    .free(p)
                    .iter()
                    .map(|v| match free.iter().position(|f| f == v) {
                        Some(k) => k as u32,
                        None => {
                            free.push(*v);
                            (free.len() - 1) as u32
                        }
                    })
                    .collect();
                let p = occ.node[p];
                (Node::At(k, p, map), [Some(p), None, None])
            }
            Expr::Where { cond, then, els } => {
                let c = self.walk(program, cond, owner, occ, false);
                let t = self.walk(program, then, owner, occ, false);
                let e = self.walk(program, els, owner, occ, false);
                free.extend_from_slice(occ.free(c));
                let map_of = |p: usize, free: &mut Vec<IndexId>| -> Box<[u32]> {
                    occ.free(p)
                        .iter()
                        .map(|v| match free.iter().position(|f| f == v) {
                            Some(k) => k as u32,
                            None => {
                                free.push(*v);
                                (free.len() - 1) as u32
                            }
                        })
                        .collect()
                };
                let mt = map_of(t, &mut free);
                let me = map_of(e, &mut free);
                let (c, t, e) = (occ.node[c], occ.node[t], occ.node[e]);
                (Node::Where(c, t, e, mt, me), [Some(c), Some(t), Some(e)])
            }
            Expr::Solve {
                index,
                scale,
                value,
                body,
            } => {
                let k = key_sub(value, &mut free);
                let b = self.walk(program, body, owner, occ, false);
                let inner = occ.free(b);
                let at = inner.iter().position(|f| f == index);
                let map = inner
                    .iter()
                    .filter(|f| *f != index)
                    .map(|v| number(*v, &mut free))
                    .collect();
                let at = at.map_or(u32::MAX, |k| k as u32);
                let b = occ.node[b];
                (
                    Node::Solve(*scale, size_of(*index), k, b, at, map),
                    [Some(b), None, None],
                )
            }
        };
        let leaf = children[0].is_none();
        let id = match self.ids.get(&node) {
            Some(id) => *id,
            None => {
                let id = self.nodes.len() as u32;
                let reads = matches!(node, Node::Read(..))
                    || children
                        .iter()
                        .flatten()
                        .any(|c| self.nodes[*c as usize].reads);
                let condition = matches!(
                    node,
                    Node::Binary(op, ..) if op.is_condition()
                ) || matches!(node, Node::Unary(Func::Not, _));
                // A read, or a `where`, is checked by itself; anything
                // else is guarded when a part is.
                let guarded = match e {
                    Expr::Read { .. } | Expr::Where { .. } => {
                        !crate::refine::reads_in_bounds(program, owner, e)
                    }
                    _ => children
                        .iter()
                        .flatten()
                        .any(|c| self.nodes[*c as usize].guarded),
                };
                self.nodes.push(Facts {
                    children,
                    reads,
                    condition,
                    guarded,
                    leaf,
                    roots: 0,
                    forced: false,
                });
                self.ids.insert(node, id);
                id
            }
        };
        let facts = &mut self.nodes[id as usize];
        if root {
            facts.roots += 1;
        }
        if matches!(
            e,
            Expr::Reduce {
                op: Reduction::LogSumExp | Reduction::Max | Reduction::Min,
                ..
            }
        ) && !root
        {
            facts.forced = true;
        }
        // Children were pushed just before: the last position is the last child.
        let last = occ.node.len().wrapping_sub(1);
        let size = match e {
            Expr::Binary { .. } => {
                let r_size = occ.size[last];
                1 + r_size + occ.size[last - r_size as usize]
            }
            Expr::Unary { .. } | Expr::Reduce { .. } | Expr::At { .. } | Expr::Solve { .. } => {
                1 + occ.size[last]
            }
            Expr::Where { .. } => {
                let e_size = occ.size[last];
                let t_last = last - e_size as usize;
                let t_size = occ.size[t_last];
                1 + e_size + t_size + occ.size[t_last - t_size as usize]
            }
            _ => 1,
        };
        occ.node.push(id);
        occ.size.push(size);
        occ.free.extend_from_slice(&free);
        occ.free_at.push(occ.free.len() as u32);
        occ.node.len() - 1
    }

    /// Which subterms to hoist: every one that reads a value and still occurs
    /// more than once when each hoisted term above it is counted once; then,
    /// bottom-up, every one whose right-hand side, with hoisted subterms as
    /// reads, would exceed `max_piece` nodes.
    fn hoisted(&self, max_piece: usize) -> Vec<bool> {
        let n = self.nodes.len();
        let mut count: Vec<usize> = self.nodes.iter().map(|f| f.roots).collect();
        let mut hoisted = vec![false; n];
        // Parents have larger ids than their children: every count is final
        // when its node is reached.
        for id in (0..n).rev() {
            let facts = &self.nodes[id];
            hoisted[id] =
                count[id] > 1 && facts.reads && !facts.leaf && !facts.condition && !facts.guarded;
            let passed = if hoisted[id] { 1 } else { count[id] };
            for c in facts.children.iter().flatten() {
                count[*c as usize] += passed;
            }
            hoisted[id] |= facts.forced && !facts.guarded;
        }
        if max_piece == usize::MAX {
            return hoisted;
        }
        // Children come first: each piece is at most 1 + 2 * max_piece nodes
        // (1 + 3 * max_piece for a `where`),
        // since only leaves that read nothing (numbers) are never hoisted.
        let mut piece = vec![0usize; n];
        for id in 0..n {
            let facts = &self.nodes[id];
            piece[id] = 1 + facts
                .children
                .iter()
                .flatten()
                .map(|c| {
                    if hoisted[*c as usize] {
                        1
                    } else {
                        piece[*c as usize]
                    }
                })
                .sum::<usize>();
            if piece[id] > max_piece && facts.reads && !facts.guarded {
                hoisted[id] = true;
            }
        }
        hoisted
    }
}

/// Hoists every subterm that occurs more than once (up to renaming of index
/// variables, across all definitions) into a temporary, or into the
/// definition whose whole right-hand side it is, when that comes first.
/// Returns the new program and where each old value went.
///
/// Time and memory are linear in the size of the program (times the number
/// of free index variables of a subterm): subterms are hash-consed bottom-up.
pub fn hoist(program: Program) -> (Program, Vec<ValueId>) {
    hoist_with(program, usize::MAX)
}

/// `hoist`, and also every subterm whose right-hand side (hoisted subterms
/// counted as reads) exceeds `max_piece` nodes, so that no right-hand side is
/// much larger than that.
fn hoist_with(mut program: Program, max_piece: usize) -> (Program, Vec<ValueId>) {
    let mut interner = Interner::default();
    let mut occurrences = Vec::with_capacity(program.values.len());
    // The members of recurrences are computed one step at a time: a
    // temporary hoisted from one would have to join its recurrence, so
    // for now their right-hand sides stay whole (not split either).
    let mut recurrent = vec![false; program.values.len()];
    for m in program.recurrences.iter().flat_map(|r| &r.members) {
        recurrent[m.index()] = true;
    }
    for (v, &recurrent) in program.values.iter().zip(&recurrent) {
        let mut occ = Occurrences {
            free_at: vec![0],
            ..Occurrences::default()
        };
        if let (Some(rhs), false) = (&v.rhs, recurrent) {
            interner.walk(&program, rhs, v, &mut occ, true);
        }
        occurrences.push(occ);
    }
    let hoisted = interner.hoisted(max_piece);
    if !hoisted.contains(&true) {
        let identity = program.ids().collect();
        return (program, identity);
    }
    drop(interner);

    // Rewriting works in the old id space, where temporary k is `n + k`, so
    // that keys stay comparable; one remap at the end gives the final order.
    let n = program.values.len();
    let names: HashSet<String> = program.values.iter().map(|v| v.name.clone()).collect();
    let old = std::mem::take(&mut program.values);
    let mut h = Hoister {
        home: vec![None; hoisted.len()],
        hoisted,
        first_temp: n,
        temps: Vec::new(),
        order: Vec::with_capacity(n),
        names,
    };
    for ((i, mut v), occ) in old.into_iter().enumerate().zip(occurrences) {
        if recurrent[i] {
            h.order.push(Slot::Original(v));
            continue;
        }
        if let Some(rhs) = v.rhs.take() {
            let root = occ.root();
            let id = occ.node[root] as usize;
            let free = occ.free(root);
            let whole = h.hoisted[id]
                && h.home[id].is_none()
                && v.rank() == free.len()
                && free.iter().all(|f| f.index() < v.rank());
            if whole {
                // This definition is the first occurrence: later ones read it.
                let map = free.iter().map(|f| f.index()).collect();
                h.home[id] = Some(Home {
                    value: ValueId(i as u32),
                    map,
                });
                v.rhs = Some(h.rewrite_inside(rhs, root, &v, &occ));
            } else {
                v.rhs = Some(h.rewrite(rhs, root, &v, &occ));
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
    program.recurrences = program
        .recurrences
        .iter()
        .map(|r| r.remap(|v| remap[v.index()]))
        .collect();
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

/// Where a hoisted subterm lives: its value, and for each of its canonical
/// free variables, the position of the value's index that it becomes.
#[derive(Clone)]
struct Home {
    value: ValueId,
    map: Vec<usize>,
}

struct Hoister {
    /// Whether each interned subterm is hoisted, and its home once the
    /// first occurrence made one.
    hoisted: Vec<bool>,
    home: Vec<Option<Home>>,
    /// The old id of the first temporary (the number of original values).
    first_temp: usize,
    /// Temporaries in creation order, taken when placed.
    temps: Vec<Option<Value>>,
    order: Vec<Slot>,
    /// Names in use, so a temporary's name never collides with the user's.
    names: HashSet<String>,
}

impl Hoister {
    /// Replaces hoisted subterms of `e`, occurrence `p` of `occ`, an
    /// expression of `owner`, by reads.
    fn rewrite(&mut self, e: Expr, p: usize, owner: &Value, occ: &Occurrences) -> Expr {
        let id = occ.node[p] as usize;
        if !self.hoisted[id] {
            return self.rewrite_inside(e, p, owner, occ);
        }
        let free = occ.free(p);
        let home = match self.home[id].clone() {
            Some(home) => home,
            None => {
                let home = self.make_temp(e, p, owner, occ);
                self.home[id] = Some(home.clone());
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

    fn rewrite_inside(&mut self, e: Expr, p: usize, owner: &Value, occ: &Occurrences) -> Expr {
        match e {
            Expr::Num(_) | Expr::Read { .. } | Expr::Delta(..) | Expr::Index(_) => e,
            Expr::Unary { func, arg } => Expr::unary(func, self.rewrite(*arg, p - 1, owner, occ)),
            Expr::Where { cond, then, els } => {
                let (pc, pt, pe) = occ.operands3(p);
                let c = self.rewrite(*cond, pc, owner, occ);
                let t = self.rewrite(*then, pt, owner, occ);
                let e = self.rewrite(*els, pe, owner, occ);
                Expr::select(c, t, e)
            }
            Expr::Binary { op, lhs, rhs } => {
                let (pl, pr) = occ.operands(p);
                let l = self.rewrite(*lhs, pl, owner, occ);
                let r = self.rewrite(*rhs, pr, owner, occ);
                Expr::binary(op, l, r)
            }
            Expr::Reduce { op, index, body } => Expr::Reduce {
                op,
                index,
                body: Box::new(self.rewrite(*body, p - 1, owner, occ)),
            },
            Expr::At { index, pos } => Expr::At {
                index,
                pos: Box::new(self.rewrite(*pos, p - 1, owner, occ)),
            },
            Expr::Solve {
                index,
                scale,
                value,
                body,
            } => Expr::Solve {
                index,
                scale,
                value,
                body: Box::new(self.rewrite(*body, p - 1, owner, occ)),
            },
        }
    }

    /// A new temporary `_tN[free...] = e`, pushed after any temporaries inside it.
    fn make_temp(&mut self, e: Expr, p: usize, owner: &Value, occ: &Occurrences) -> Home {
        let free = occ.free(p);
        // The temporary's index table: its free variables, then the
        // reductions inside it, renumbered.
        let mut table: Vec<IndexId> = free.to_vec();
        collect_binders(&e, &mut table);
        // Temporaries inside are made in the owner's index space first.
        let body = self.rewrite_inside(e, p, owner, occ);
        let renumber = |v: IndexId| {
            IndexId(
                table
                    .iter()
                    .position(|t| *t == v)
                    .expect("every index of the subterm is in its table") as u32,
            )
        };
        let body = map_expr(body, &mut |e| match e {
            Expr::Read { value, subs } => Expr::Read {
                value,
                subs: subs
                    .into_iter()
                    .map(|s| s.substitute(|v| Sub::Var(renumber(v))))
                    .collect(),
            },
            Expr::Delta(a, b) => {
                let sub = |s: Sub| s.substitute(|v| Sub::Var(renumber(v)));
                Expr::Delta(sub(a), sub(b))
            }
            Expr::Solve {
                index,
                scale,
                value,
                body,
            } => Expr::Solve {
                index: renumber(index),
                scale,
                value: value.substitute(|v| Sub::Var(renumber(v))),
                body,
            },
            Expr::Reduce { op, index, body } => Expr::Reduce {
                op,
                index: renumber(index),
                body,
            },
            Expr::At { index, pos } => Expr::At {
                index: renumber(index),
                pos,
            },
            Expr::Index(v) => Expr::Index(renumber(v)),
            other => other,
        });
        let indices: Vec<IndexVar> = table
            .iter()
            .map(|v| owner.indices[v.index()].clone())
            .collect();
        let temp = Value {
            name: self.fresh_name(),
            kind: ValueKind::Temp,
            shape: free
                .iter()
                .map(|v| owner.indices[v.index()].extent.clone())
                .collect(),
            indices,
            rhs: Some(body),
            origin: Origin::Hoisted(owner.origin.span()),
        };
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
                self.names.insert(name.clone());
                return name;
            }
        }
    }
}

fn collect_binders(e: &Expr, out: &mut Vec<IndexId>) {
    match e {
        Expr::Num(_) | Expr::Read { .. } | Expr::Delta(..) | Expr::Index(_) => {}
        Expr::Unary { arg, .. } => collect_binders(arg, out),
        Expr::Where { cond, then, els } => {
            collect_binders(cond, out);
            collect_binders(then, out);
            collect_binders(els, out);
        }
        Expr::Binary { lhs, rhs, .. } => {
            collect_binders(lhs, out);
            collect_binders(rhs, out);
        }
        Expr::Reduce { index, body, .. } => {
            out.push(*index);
            collect_binders(body, out);
        }
        Expr::At { pos, .. } => collect_binders(pos, out),
        Expr::Solve { index, body, .. } => {
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
        Expr::At { index, pos } => Expr::At {
            index,
            pos: Box::new(map_expr(*pos, f)),
        },
        Expr::Solve {
            index,
            scale,
            value,
            body,
        } => Expr::Solve {
            index,
            scale,
            value,
            body: Box::new(map_expr(*body, f)),
        },
        Expr::Where { cond, then, els } => {
            let c = map_expr(*cond, f);
            let t = map_expr(*then, f);
            let e = map_expr(*els, f);
            Expr::select(c, t, e)
        }
        leaf => leaf,
    };
    f(e)
}
