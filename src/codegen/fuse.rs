//! Loop fusion, a rewrite of a core function's [`Definition`]s between
//! lowering and printing (the printer sees only the result).
//!
//! **The rule.** Two consecutive definitions whose loop nests start with
//! the same loop (`for k in 0..K`, the same variable, not blocked) run in
//! one loop, the second's body after the first's, when that cannot change
//! what either computes: the second reads what the first writes in that
//! loop only at the element the first stores in the same iteration (an
//! elementwise consumer: `_t1[k] = y[k] - t[k]` after `y[k] = ... + b[k]`),
//! never through a row slice or an accumulator still being summed, and
//! the first's statements after its loop (a sum's `let E = -acc;`) are
//! read by neither loop; they move after the fused loop. Each definition
//! keeps its own statements, in order, so every sum adds its terms in the
//! same order as before: fusion changes no result.
//!
//! Then an array that only its fused loop reads, at the element stored in
//! the same iteration, becomes a local of that loop (`let y = acc1 + b[k];`
//! and `y - t[k]`): no store, no load, no allocation.
//!
//! A loop that calls a transcendental function (exp, ln, tanh, sigmoid,
//! ...) is never fused: on its own, its calls are independent of each
//! other and overlap in the core (or vectorise, for the module's own
//! functions); fused, each iteration would be one dependent chain of calls.
//!
//! The `// schedule:` comment of a definition run in the loop before it
//! says so (`fused into the loop over k above`), as does that of an array
//! that became a local (`y a local of the loop, not stored`).

use std::collections::HashMap;

use super::affine::Affine;
use super::loops::{AccInit, AssignOp, Definition, Loop, Place, Start, Stmt};
use super::scalar::Scalar;

/// Every access a list of statements makes, nested loops included.
#[derive(Default, Debug)]
struct Touch {
    /// `array[offset]` loads.
    loads: Vec<(String, Affine)>,
    /// Scalars read by name (locals, accumulators, parameters).
    vars: Vec<String>,
    /// Element stores: array, offset, operation.
    stores: Vec<(String, Affine, AssignOp)>,
    /// Scalars written by name (accumulators, locals, `*grad`).
    written: Vec<String>,
    /// Arrays used otherwise: sliced rows, filled, passed to the kernel.
    whole: Vec<String>,
    /// Arrays written through a mutable row slice.
    sliced_mut: Vec<String>,
    /// Names declared (`let`).
    declared: Vec<String>,
}

fn scalar(s: &Scalar, t: &mut Touch) {
    match s {
        Scalar::Num(_) | Scalar::Count(_) | Scalar::Delta(..) | Scalar::Index(_) => {}
        Scalar::Select(c, x, y) => {
            scalar(c, t);
            scalar(x, t);
            scalar(y, t);
        }
        Scalar::At(_, pos) => scalar(pos, t),
        Scalar::Var(v) => t.vars.push(v.clone()),
        Scalar::Load(a) => t.loads.push((a.array.clone(), a.offset.clone())),
        Scalar::Unary(_, x) | Scalar::Powi(x, _) | Scalar::Shifted(x) => scalar(x, t),
        Scalar::Binary(_, x, y) => {
            scalar(x, t);
            scalar(y, t);
        }
    }
}

fn touch(stmts: &[Stmt], t: &mut Touch) {
    for s in stmts {
        match s {
            Stmt::Blank | Stmt::Comment(_) | Stmt::Index { .. } => {}
            Stmt::Alloc { name, .. } => t.declared.push(name.clone()),
            Stmt::Fill(a) => t.whole.push(a.clone()),
            Stmt::Let { name, value, .. } => {
                scalar(value, t);
                t.declared.push(name.clone());
            }
            Stmt::Slice { name, row, mutable } => {
                t.whole.push(row.array.clone());
                if *mutable {
                    t.sliced_mut.push(row.array.clone());
                }
                t.declared.push(name.clone());
            }
            Stmt::Acc { name, init } => {
                if let AccInit::From(x) = init {
                    scalar(x, t);
                }
                t.declared.push(name.clone());
            }
            Stmt::Combine(acc) => {
                t.vars.push(acc.clone());
                t.declared.push(acc.clone());
            }
            Stmt::IfFinite {
                name,
                test,
                then,
                otherwise,
            } => {
                t.vars.push(test.clone());
                scalar(then, t);
                scalar(otherwise, t);
                t.declared.push(name.clone());
            }
            Stmt::Store { place, op, value } => {
                scalar(value, t);
                match place {
                    Place::Var(v) | Place::Deref(v) => t.written.push(v.clone()),
                    Place::Elem(a) => t.stores.push((a.array.clone(), a.offset.clone(), *op)),
                }
            }
            Stmt::Loop(l) => touch(&l.body, t),
            Stmt::Branch {
                name,
                cond,
                then,
                a,
                els,
                b,
            } => {
                scalar(cond, t);
                touch(then, t);
                touch(els, t);
                for x in a.iter().chain(b) {
                    scalar(x, t);
                }
                t.declared.extend(name.clone());
            }
            Stmt::Mean {
                name,
                sum,
                rescue,
                rescued,
                ..
            } => {
                t.vars.push(sum.clone());
                touch(rescue, t);
                scalar(rescued, t);
                t.declared.push(name.clone());
                t.written.push(name.clone());
            }
            Stmt::Gemm(g) => {
                for m in [&g.a, &g.b, &g.c] {
                    t.whole.push(m.name.clone());
                }
                t.whole.push(g.pack.0.clone());
            }
            Stmt::Extreme {
                acc, value, pos, ..
            } => {
                t.vars.push(value.clone());
                t.vars.push(acc.clone());
                t.written.push(acc.clone());
                if let Some((pos, _)) = pos {
                    t.written.push(pos.clone());
                }
            }
        }
    }
}

/// A definition (or definitions already fused) as prelude, one loop and
/// the statements after it.
struct Nest {
    prelude: Vec<Stmt>,
    lp: Loop,
    after: Vec<Stmt>,
}

/// `stmts` as a prelude of declarations and comments, one loop that is not
/// blocked and starts at 0, and the statements after it; or `None`.
fn split(stmts: Vec<Stmt>) -> Result<Nest, Vec<Stmt>> {
    let at = stmts.iter().position(|s| matches!(s, Stmt::Loop(_)));
    let Some(at) = at else { return Err(stmts) };
    let prelude_ok = stmts[..at].iter().all(|s| {
        matches!(
            s,
            Stmt::Blank
                | Stmt::Comment(_)
                | Stmt::Alloc { .. }
                | Stmt::Fill(_)
                | Stmt::Acc {
                    init: AccInit::Identity { .. },
                    ..
                }
        )
    });
    // After the loop: scalar statements only (a sum's result, a gradient's
    // `*d = acc`), no second loop.
    let after_ok = stmts[at + 1..].iter().all(|s| match s {
        Stmt::Let { .. } | Stmt::Combine(_) | Stmt::IfFinite { .. } => true,
        Stmt::Store { place, .. } => !matches!(place, Place::Elem(_)),
        _ => false,
    });
    let plain = matches!(&stmts[at], Stmt::Loop(l) if l.block == 1 && l.start == Start::Zero && l.solve.is_none());
    if !(prelude_ok && after_ok && plain) {
        return Err(stmts);
    }
    let mut stmts = stmts;
    let after = stmts.split_off(at + 1);
    let Some(Stmt::Loop(lp)) = stmts.pop() else {
        unreachable!("the loop is at `at`")
    };
    Ok(Nest {
        prelude: stmts,
        lp,
        after,
    })
}

/// The most statements a fused loop's body grows to: far more than fusion
/// gains anything from (the values of one iteration no longer fit in
/// registers), and the bound that keeps fusion linear in the number of
/// definitions, since each test of another nest reads the whole body so far.
const MAX_FUSED: usize = 256;

/// Whether `next`'s loop may run in `first`'s, its body after `first`'s.
fn fusable(first: &Nest, next: &Nest, transcendental: &dyn Fn(&Scalar) -> bool) -> bool {
    let (a, b) = (&first.lp, &next.lp);
    if a.var != b.var || a.var == "_" || a.end != b.end {
        return false;
    }
    if a.body.len() + b.body.len() > MAX_FUSED {
        return false;
    }
    // A loop that calls a transcendental function stays on its own: its
    // calls are independent of each other there, so they overlap (or
    // vectorise, for the module's own), where fused each iteration would
    // be one dependent chain of calls (xor: sigmoid, sigmoid, ln).
    if calls(&a.body, transcendental) || calls(&b.body, transcendental) {
        return false;
    }
    let mut t1 = Touch::default();
    touch(&first.lp.body, &mut t1);
    let mut prelude = Touch::default();
    touch(&first.prelude, &mut prelude);
    let mut after = Touch::default();
    touch(&first.after, &mut after);
    let mut t2 = Touch::default();
    touch(&next.lp.body, &mut t2);
    // Neither an accumulator the first loop is still adding to, nor what
    // the first's statements after its loop compute.
    let partial = |v: &String| t1.written.contains(v) || after.declared.contains(v);
    if t2.vars.iter().any(partial) {
        return false;
    }
    // No name the second reads from outside may be shadowed by a `let` of
    // the first's body.
    let shadowed = |n: &String| t1.declared.contains(n) && !t2.declared.contains(n);
    if t2
        .vars
        .iter()
        .chain(t2.loads.iter().map(|(a, _)| a))
        .any(shadowed)
    {
        return false;
    }
    // Arrays the first loop writes: read only at an element it stores with
    // `=` in the same iteration (its offset mentions the loop variable).
    let written: Vec<&String> = t1
        .stores
        .iter()
        .map(|(a, _, _)| a)
        .chain(&t1.sliced_mut)
        .collect();
    for array in written {
        if t2.whole.contains(array) || t2.stores.iter().any(|(a, _, _)| a == array) {
            return false;
        }
        if t1.sliced_mut.contains(array) {
            // Written through a row slice (a scatter, summed over the loop).
            if t2.loads.iter().any(|(a, _)| a == array) {
                return false;
            }
            continue;
        }
        for (_, offset) in t2.loads.iter().filter(|(a, _)| a == array) {
            let same = t1
                .stores
                .iter()
                .any(|(x, o, op)| x == array && o == offset && *op == AssignOp::Set);
            if !same || !offset.terms.iter().any(|(v, _)| *v == a.var) {
                return false;
            }
        }
    }
    // The second's prelude (its output's allocation, a zeroing `fill`)
    // moves before the first's loop: the first must not touch its arrays.
    let mut p2 = Touch::default();
    touch(&next.prelude, &mut p2);
    let names: Vec<&String> = p2.declared.iter().chain(&p2.whole).collect();
    let t1_uses = |n: &String| {
        t1.loads.iter().any(|(a, _)| a == n)
            || t1.vars.contains(n)
            || t1.whole.contains(n)
            || prelude.declared.contains(n)
    };
    !names.into_iter().any(t1_uses)
}

/// Whether some expression of `stmts` satisfies `f`, at any depth.
fn calls(stmts: &[Stmt], f: &dyn Fn(&Scalar) -> bool) -> bool {
    fn any(s: &Scalar, f: &dyn Fn(&Scalar) -> bool) -> bool {
        f(s) || match s {
            Scalar::Unary(_, x) | Scalar::Powi(x, _) | Scalar::Shifted(x) | Scalar::At(_, x) => {
                any(x, f)
            }
            Scalar::Binary(_, x, y) => any(x, f) || any(y, f),
            Scalar::Select(c, x, y) => any(c, f) || any(x, f) || any(y, f),
            _ => false,
        }
    }
    stmts.iter().any(|s| match s {
        Stmt::Let { value, .. } | Stmt::Store { value, .. } => any(value, f),
        Stmt::Acc {
            init: AccInit::From(x),
            ..
        } => any(x, f),
        Stmt::IfFinite {
            then, otherwise, ..
        } => any(then, f) || any(otherwise, f),
        Stmt::Loop(l) => calls(&l.body, f),
        Stmt::Branch {
            cond,
            then,
            a,
            els,
            b,
            ..
        } => {
            any(cond, f) || calls(then, f) || calls(els, f) || a.iter().chain(b).any(|x| any(x, f))
        }
        Stmt::Mean {
            rescue, rescued, ..
        } => calls(rescue, f) || any(rescued, f),
        _ => false,
    })
}

/// Appends `note` to the first `// schedule:` comment of `stmts`.
fn note(stmts: &mut [Stmt], text: &str) {
    if let Some(Stmt::Comment(c)) = stmts
        .iter_mut()
        .find(|s| matches!(s, Stmt::Comment(c) if c.starts_with("schedule:")))
    {
        c.push_str(text);
    }
}

/// `next` run in `first`'s loop: its declarations before the loop, its
/// comments and body inside, after the first's body.
fn fuse(mut first: Nest, next: Nest) -> Nest {
    let var = first.lp.var.clone();
    let mut comments = Vec::new();
    for s in next.prelude {
        match s {
            Stmt::Blank | Stmt::Comment(_) => comments.push(s),
            other => first.prelude.push(other),
        }
    }
    note(
        &mut comments,
        &format!("; fused into the loop over {var} above"),
    );
    first.lp.body.extend(comments);
    first.lp.body.extend(next.lp.body);
    first.after.extend(next.after);
    first
}

/// Fuses consecutive loop nests of `defs` by the rule above, then turns
/// arrays that only their loop reads into locals; `later` are the arrays
/// that code after the definitions reads (the loss as a tail expression).
pub(super) fn fuse_loops(
    defs: Vec<Definition>,
    later: &[String],
    transcendental: &dyn Fn(&Scalar) -> bool,
) -> Vec<Definition> {
    let mut out: Vec<Definition> = Vec::new();
    let mut open: Option<(Definition, Nest)> = None;
    for d in defs {
        match split(d.stmts) {
            Ok(nest) => {
                open = Some(match open.take() {
                    Some((head, cur)) if fusable(&cur, &nest, transcendental) => {
                        (head, fuse(cur, nest))
                    }
                    Some((head, cur)) => {
                        out.push(close(head, cur));
                        (
                            Definition {
                                value: d.value,
                                stmts: Vec::new(),
                            },
                            nest,
                        )
                    }
                    None => (
                        Definition {
                            value: d.value,
                            stmts: Vec::new(),
                        },
                        nest,
                    ),
                });
            }
            Err(stmts) => {
                if let Some((head, cur)) = open.take() {
                    out.push(close(head, cur));
                }
                out.push(Definition {
                    value: d.value,
                    stmts,
                });
            }
        }
    }
    if let Some((head, cur)) = open.take() {
        out.push(close(head, cur));
    }
    // Per name, how many definitions mention it (an array another
    // definition mentions stays an array).
    let mut users: HashMap<String, usize> = HashMap::new();
    let snapshot: Vec<Touch> = out
        .iter()
        .map(|d| {
            let mut t = Touch::default();
            touch(&d.stmts, &mut t);
            let mut names: Vec<&String> = t
                .loads
                .iter()
                .map(|(a, _)| a)
                .chain(t.stores.iter().map(|(a, _, _)| a))
                .chain(&t.whole)
                .chain(&t.vars)
                .collect();
            names.sort();
            names.dedup();
            for n in names {
                *users.entry(n.clone()).or_default() += 1;
            }
            t
        })
        .collect();
    for (i, own) in snapshot.iter().enumerate() {
        let others = |array: &str| {
            users.get(array).copied().unwrap_or(0) > usize::from(mentions(own, array))
        };
        localise(&mut out, i, &others, later);
    }
    out
}

fn close(mut head: Definition, nest: Nest) -> Definition {
    head.stmts = nest.prelude;
    head.stmts.push(Stmt::Loop(nest.lp));
    head.stmts.extend(nest.after);
    head
}

/// In definition `i` (a prelude, a loop, statements after it): each array
/// it allocates that is stored once with `=` at the top of the loop's body
/// and loaded nowhere but later in that body, at the same element, becomes
/// a `let` there.
fn localise(defs: &mut [Definition], i: usize, elsewhere: &dyn Fn(&str) -> bool, later: &[String]) {
    let stmts = &defs[i].stmts;
    let Some(at) = stmts.iter().position(|s| matches!(s, Stmt::Loop(_))) else {
        return;
    };
    let allocs: Vec<String> = stmts[..at]
        .iter()
        .filter_map(|s| match s {
            Stmt::Alloc { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    for array in allocs {
        if later.contains(&array) || elsewhere(&array) {
            continue;
        }
        let stmts = &mut defs[i].stmts;
        let at = stmts
            .iter()
            .position(|s| matches!(s, Stmt::Loop(_)))
            .expect("the loop");
        let Stmt::Loop(lp) = &stmts[at] else {
            unreachable!()
        };
        // The one store, at the top level of the loop's body.
        let stores: Vec<usize> = lp
            .body
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                let mut t = Touch::default();
                touch(std::slice::from_ref(*s), &mut t);
                t.stores.iter().any(|(a, _, _)| *a == array)
            })
            .map(|(k, _)| k)
            .collect();
        let [k] = stores[..] else { continue };
        let Stmt::Store {
            place: Place::Elem(acc),
            op: AssignOp::Set,
            ..
        } = &lp.body[k]
        else {
            continue;
        };
        let offset = acc.offset.clone();
        let mut before = Touch::default();
        touch(&lp.body[..k], &mut before);
        let mut later = Touch::default();
        touch(&lp.body[k + 1..], &mut later);
        let mut outside = Touch::default();
        touch(&stmts[at + 1..], &mut outside);
        let loaded_only_here = !mentions(&before, &array)
            && !mentions(&outside, &array)
            && later.whole.iter().all(|a| *a != array)
            && later.stores.iter().all(|(a, _, _)| *a != array)
            && later
                .loads
                .iter()
                .filter(|(a, _)| *a == array)
                .all(|(_, o)| *o == offset)
            && !later.declared.contains(&array);
        if !loaded_only_here {
            continue;
        }
        let alloc = stmts[..at]
            .iter()
            .position(|s| matches!(s, Stmt::Alloc { name, .. } if *name == array))
            .expect("allocated");
        stmts.remove(alloc);
        let at = at - 1;
        let Stmt::Loop(lp) = &mut stmts[at] else {
            unreachable!()
        };
        let Stmt::Store { value, .. } = lp.body[k].clone() else {
            unreachable!()
        };
        lp.body[k] = Stmt::Let {
            name: array.clone(),
            typed: false,
            value,
        };
        for s in &mut lp.body[k + 1..] {
            load_to_var(s, &array);
        }
        // The comment of the definition that stored it: the last
        // `// schedule:` before the store in the body, else the prelude's.
        let text = format!("; {array} a local of the loop, not stored");
        let inside = lp.body[..k]
            .iter_mut()
            .rev()
            .find(|s| matches!(s, Stmt::Comment(c) if c.starts_with("schedule:")));
        match inside {
            Some(Stmt::Comment(c)) => c.push_str(&text),
            _ => {
                let mut prelude: Vec<&mut Stmt> = stmts[..at].iter_mut().collect();
                if let Some(Stmt::Comment(c)) = prelude
                    .iter_mut()
                    .rev()
                    .find(|s| matches!(s, Stmt::Comment(c) if c.starts_with("schedule:")))
                    .map(|s| &mut **s)
                {
                    c.push_str(&text);
                }
            }
        }
    }
}

fn mentions(t: &Touch, array: &str) -> bool {
    t.loads.iter().any(|(a, _)| a == array)
        || t.stores.iter().any(|(a, _, _)| a == array)
        || t.whole.iter().any(|a| a == array)
        || t.vars.iter().any(|a| a == array)
}

fn load_to_var(s: &mut Stmt, array: &str) {
    let fix = |x: &mut Scalar| scalar_to_var(x, array);
    match s {
        Stmt::Let { value, .. } | Stmt::Store { value, .. } => fix(value),
        Stmt::Acc {
            init: AccInit::From(x),
            ..
        } => fix(x),
        Stmt::IfFinite {
            then, otherwise, ..
        } => {
            fix(then);
            fix(otherwise);
        }
        Stmt::Loop(l) => {
            for s in &mut l.body {
                load_to_var(s, array);
            }
        }
        Stmt::Branch {
            cond,
            then,
            a,
            els,
            b,
            ..
        } => {
            fix(cond);
            for s in then.iter_mut().chain(els.iter_mut()) {
                load_to_var(s, array);
            }
            for x in a.iter_mut().chain(b) {
                fix(x);
            }
        }
        Stmt::Mean {
            rescue, rescued, ..
        } => {
            for s in rescue {
                load_to_var(s, array);
            }
            fix(rescued);
        }
        _ => {}
    }
}

fn scalar_to_var(x: &mut Scalar, array: &str) {
    match x {
        Scalar::Load(a) if a.array == array => *x = Scalar::Var(array.to_string()),
        Scalar::Unary(_, y) | Scalar::Powi(y, _) | Scalar::Shifted(y) | Scalar::At(_, y) => {
            scalar_to_var(y, array)
        }
        Scalar::Binary(_, y, z) => {
            scalar_to_var(y, array);
            scalar_to_var(z, array);
        }
        Scalar::Select(c, y, z) => {
            scalar_to_var(c, array);
            scalar_to_var(y, array);
            scalar_to_var(z, array);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::affine::Access;
    use super::super::loops::{Extent, Reduce};
    use super::super::scalar::{Binary, Unary};
    use super::*;
    use crate::ir::ValueId;

    fn load(array: &str, var: &str) -> Scalar {
        Scalar::Load(Access {
            array: array.into(),
            offset: Affine::var(var),
        })
    }

    fn store(array: &str, var: &str, value: Scalar) -> Stmt {
        Stmt::Store {
            place: Place::Elem(Access {
                array: array.into(),
                offset: Affine::var(var),
            }),
            op: AssignOp::Set,
            value,
        }
    }

    fn nest(id: u32, alloc: Option<&str>, body: Vec<Stmt>) -> Definition {
        let mut stmts = vec![Stmt::Comment("schedule: gather, loops n".into())];
        if let Some(name) = alloc {
            stmts.push(Stmt::Alloc {
                name: name.into(),
                len: 4,
                heap: false,
            });
        }
        stmts.push(Stmt::Loop(Loop {
            var: "n".into(),
            start: Start::Zero,
            end: Extent::Const(4),
            block: 1,
            solve: None,
            body,
        }));
        Definition {
            value: ValueId(id),
            stmts,
        }
    }

    fn no_vector(_: &Scalar) -> bool {
        false
    }

    /// `y[n] = sigmoid(x[n])`, `u[n] = 1 - y[n]`, `d[n] = u[n] * t[n]`:
    /// one loop, `y` and `u` locals of it, `d` (a caller's slice) stored.
    #[test]
    fn elementwise_chains_run_in_one_loop_with_locals() {
        let sig = Scalar::unary(Unary::Ops("sigmoid"), load("x", "n"));
        let one_minus = Scalar::binary(Binary::Sub, Scalar::Num(1.0), load("y", "n"));
        let times = Scalar::binary(Binary::Mul, load("u", "n"), load("t", "n"));
        let defs = vec![
            nest(0, Some("y"), vec![store("y", "n", sig)]),
            nest(1, Some("u"), vec![store("u", "n", one_minus)]),
            nest(2, None, vec![store("d", "n", times)]),
        ];
        let out = fuse_loops(defs, &[], &no_vector);
        assert_eq!(out.len(), 1, "{out:#?}");
        let stmts = &out[0].stmts;
        assert!(!stmts.iter().any(|s| matches!(s, Stmt::Alloc { .. })));
        let Some(Stmt::Loop(l)) = stmts.last() else {
            panic!("{stmts:#?}")
        };
        let lets: Vec<&str> = l
            .body
            .iter()
            .filter_map(|s| match s {
                Stmt::Let { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(lets, ["y", "u"]);
        let Some(Stmt::Store { value, .. }) = l.body.last() else {
            panic!("{l:#?}")
        };
        assert_eq!(
            *value,
            Scalar::binary(Binary::Mul, Scalar::Var("u".into()), load("t", "n"))
        );
        let Stmt::Comment(c) = &stmts[0] else {
            panic!()
        };
        assert!(c.ends_with("y a local of the loop, not stored"), "{c}");
    }

    /// A read of another element (`y[n + 1]`'s stand-in: `y` at a
    /// constant), a read of an accumulator still being summed, and a loop
    /// with a transcendental call: no fusion.
    #[test]
    fn dependences_across_iterations_keep_loops_apart() {
        let other = Scalar::Load(Access {
            array: "y".into(),
            offset: Affine::constant(0),
        });
        let defs = vec![
            nest(0, Some("y"), vec![store("y", "n", load("x", "n"))]),
            nest(1, None, vec![store("d", "n", other)]),
        ];
        assert_eq!(fuse_loops(defs, &[], &no_vector).len(), 2);

        let sum = Stmt::Store {
            place: Place::Var("acc".into()),
            op: AssignOp::Add,
            value: load("x", "n"),
        };
        let mut first = nest(0, None, vec![sum]);
        first.stmts.insert(
            0,
            Stmt::Acc {
                name: "acc".into(),
                init: AccInit::Identity {
                    op: Reduce::Sum,
                    lanes: 1,
                },
            },
        );
        let reads_acc = nest(1, None, vec![store("d", "n", Scalar::Var("acc".into()))]);
        assert_eq!(
            fuse_loops(vec![first.clone(), reads_acc], &[], &no_vector).len(),
            2
        );

        let tanh = Scalar::unary(Unary::Math("tanh"), load("x", "n"));
        let calls = nest(1, None, vec![store("z", "n", tanh)]);
        let own = |s: &Scalar| matches!(s, Scalar::Unary(Unary::Math("tanh"), _));
        assert_eq!(
            fuse_loops(vec![first.clone(), calls.clone()], &[], &own).len(),
            2
        );
        assert_eq!(fuse_loops(vec![first, calls], &[], &no_vector).len(), 1);
    }

    /// An array the loss's tail expression reads stays an array.
    #[test]
    fn arrays_read_after_the_definitions_stay_arrays() {
        let defs = vec![nest(0, Some("y"), vec![store("y", "n", load("x", "n"))])];
        let out = fuse_loops(defs, &["y".to_string()], &no_vector);
        assert!(out[0].stmts.iter().any(|s| matches!(s, Stmt::Alloc { .. })));
    }
}
