//! Symbolic reverse mode: one adjoint definition per value, each the explicit
//! sum of one chain-rule product per use (PRML 5.55), with Kronecker deltas
//! eliminated symbolically.
//!
//! For a use of `u` in `v[I] = RHS`, read as `u[s]` inside reductions `R`:
//!
//! ```text
//! contribution[J] = sum over I and R of  adj_v[I] * dRHS/du[s] * prod_m delta(s_m, J_m)
//! ```
//!
//! A summed index equal to some `s_m` is substituted by `J_m` and its sum
//! removed; what remains is a `Delta` (a literal or a repeated subscript) or a
//! sum over indices `u` does not carry (PRML 5.56).
//!
//! An affine subscript (`x[S * i + di]`) leaves the constraint
//! `S * i + di = J_m`. It is solved for one summed index (the one of the
//! largest range, so that the sums left are the short ones): that sum
//! becomes an `Expr::Solve`, which visits the at most one value of the index
//! the constraint allows, so the adjoint costs what the forward read costs
//! (a convolution's input adjoint: outputs × taps, not outputs × inputs).

use crate::graph::{self, Dag, Use};
use crate::ir::{
    BinOp, Expr, Extent, Func, IndexId, IndexVar, Origin, Program, Reduction, Sub, Value, ValueId,
    ValueKind,
};

/// A program with its adjoints: forward values first, then one adjoint per
/// value that lies between a `wrt` value and the loss.
#[derive(Debug, Clone)]
pub struct Gradient {
    pub dag: Dag,
    /// Each value differentiated against, with the adjoint that is its gradient.
    pub wrt: Vec<(ValueId, ValueId)>,
    /// For each forward value, its adjoint, if it has one.
    pub adjoint_of: Vec<Option<ValueId>>,
    /// The number of forward values (adjoints start here).
    pub forward_len: usize,
    /// For each adjoint (by position after `forward_len`), its chain-rule
    /// terms, one per use, for explaining the derivation.
    pub terms: Vec<Vec<Term>>,
    /// Once simplified: every value's right-hand side as autodiff made it
    /// (by `ValueId`); empty when not simplified.
    pub unsimplified: Vec<Option<Expr>>,
}

/// One chain-rule product of an adjoint, all in the adjoint's index variables:
/// `sum over summed of adj_reader[reader_subs] * d reader[reader_subs] / d u[read_subs] * deltas`.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub reader: ValueId,
    /// The read's occurrence number in the reader's right-hand side.
    pub occurrence: u32,
    /// The indices summed over: those of the reader that the read does not fix.
    pub summed: Vec<IndexId>,
    pub reader_subs: Vec<Sub>,
    pub read_subs: Vec<Sub>,
    /// The local partial derivative of the reader's right-hand side.
    pub partial: Expr,
    /// Kronecker deltas left by literal or repeated subscripts.
    pub deltas: Vec<Expr>,
}

/// Differentiates the loss with respect to `wrt` (inputs or params).
pub fn differentiate(dag: Dag, wrt: &[ValueId]) -> Gradient {
    // The derivation recurses over expressions: on the compiler's own stack.
    crate::on_own_stack(|| differentiate_here(dag, wrt))
}

fn differentiate_here(dag: Dag, wrt: &[ValueId]) -> Gradient {
    let program = &dag.program;
    let n = program.values.len();
    let loss = program.loss;

    // Values whose change reaches the loss, and values that depend on `wrt`.
    // A read in a condition is not a way to the loss: it has no derivative.
    let in_condition: Vec<Vec<bool>> = program
        .values
        .iter()
        .map(|v| v.rhs.as_ref().map_or_else(Vec::new, condition_reads))
        .collect();
    let mut reaches_loss = vec![false; n];
    for v in program.ids().rev() {
        reaches_loss[v.index()] = v == loss
            || dag.uses(v).iter().any(|(r, x)| {
                reaches_loss[r.index()] && !in_condition[r.index()][x.occurrence as usize]
            });
    }
    let mut depends = vec![false; n];
    for v in program.ids() {
        let mut d = wrt.contains(&v);
        if let Some(rhs) = &program.value(v).rhs {
            rhs.for_each_read(&mut |u, _| d |= depends[u.index()]);
        }
        depends[v.index()] = d;
    }

    // The position of the extreme of each max or min reduction that is
    // differentiated, a value of its own after the forward values, so that
    // the derivative reads it instead of searching the range again.
    let mut positions: Vec<Value> = Vec::new();
    let mut position_of: Vec<Option<ValueId>> = vec![None; n];
    for v in program.ids() {
        if !(reaches_loss[v.index()] && depends[v.index()]) {
            continue;
        }
        if let Some(position) = position_value(program, v, &positions) {
            position_of[v.index()] = Some(ValueId((n + positions.len()) as u32));
            positions.push(position);
        }
    }
    let forward_len = n + positions.len();

    let mut adjoint_of: Vec<Option<ValueId>> = vec![None; n];
    let mut adjoints: Vec<Value> = Vec::new();
    let mut terms: Vec<Vec<Term>> = Vec::new();
    for u in program.ids().rev() {
        let needed = reaches_loss[u.index()] && depends[u.index()] && u != loss;
        if !needed {
            continue;
        }
        let (adjoint, its_terms) =
            Builder::new(program, u, &adjoint_of, &position_of).build(&dag, &in_condition);
        adjoint_of[u.index()] = Some(ValueId((forward_len + adjoints.len()) as u32));
        adjoints.push(adjoint);
        terms.push(its_terms);
    }
    // A value differentiated against that does not reach the loss has a zero gradient.
    for &w in wrt {
        if adjoint_of[w.index()].is_none() {
            let adjoint = zero_adjoint(program, w);
            adjoint_of[w.index()] = Some(ValueId((forward_len + adjoints.len()) as u32));
            adjoints.push(adjoint);
            terms.push(Vec::new());
        }
    }
    let wrt = wrt
        .iter()
        .map(|w| {
            (
                *w,
                adjoint_of[w.index()].expect("every wrt value has an adjoint"),
            )
        })
        .collect();
    let mut program = dag.program;
    program.values.extend(positions);
    program.values.extend(adjoints);
    adjoint_of.resize(forward_len, None);
    Gradient {
        dag: graph::connect(program),
        wrt,
        adjoint_of,
        forward_len,
        terms,
        unsimplified: Vec::new(),
    }
}

/// The values to differentiate against: the named inputs and params, or
/// every param when no name is given.
pub fn resolve_wrt(program: &Program, names: &[String]) -> Result<Vec<ValueId>, String> {
    if names.is_empty() {
        return Ok(program
            .ids()
            .filter(|v| program.value(*v).kind == ValueKind::Param)
            .collect());
    }
    let mut ids = Vec::new();
    for name in names {
        match program.ids().find(|v| program.value(*v).name == *name) {
            Some(v) if matches!(program.value(v).kind, ValueKind::Input | ValueKind::Param) => {
                if !ids.contains(&v) {
                    ids.push(v);
                }
            }
            Some(v) => {
                return Err(format!(
                "--wrt: `{name}` is {} {}; only inputs and params can be differentiated against",
                if program.value(v).kind == ValueKind::Input {
                    "an"
                } else {
                    "a"
                },
                program.value(v).kind.describe()
            ))
            }
            None => {
                let candidates = program
                    .ids()
                    .map(|v| program.value(v))
                    .filter(|v| matches!(v.kind, ValueKind::Input | ValueKind::Param))
                    .map(|v| v.name.as_str());
                let hint = match crate::sema::suggest(name, candidates) {
                    Some(s) => format!("; did you mean `{s}`?"),
                    None => String::new(),
                };
                return Err(format!(
                    "--wrt: `{name}` is not an input or param of this file{hint}"
                ));
            }
        }
    }
    Ok(ids)
}

/// `∂E/∂u`: the adjoint's display name.
pub fn adjoint_name(program: &Program, u: ValueId) -> String {
    format!(
        "∂{}/∂{}",
        program.value(program.loss).name,
        program.value(u).name
    )
}

/// For a value that is a max or min reduction, `v[I] = max(k, body)`, the
/// temporary `v'[I] = argmax(k, body)`: the position of its first extreme.
fn position_value(program: &Program, v: ValueId, made: &[Value]) -> Option<Value> {
    let value = program.value(v);
    let Some(Expr::Reduce { op, index, body }) = &value.rhs else {
        return None;
    };
    let arg = op.arg()?;
    let taken = |name: &str| program.values.iter().chain(made).any(|v| v.name == name);
    let mut name = format!("_{}_{}", arg.name(), value.name);
    while taken(&name) {
        name.push('_');
    }
    Some(Value {
        name,
        kind: ValueKind::Temp,
        shape: value.shape.clone(),
        indices: value.indices.clone(),
        rhs: Some(Expr::Reduce {
            op: arg,
            index: *index,
            body: body.clone(),
        }),
        origin: Origin::Hoisted(value.origin.span()),
    })
}

fn zero_adjoint(program: &Program, w: ValueId) -> Value {
    let value = program.value(w);
    let indices = value
        .shape
        .iter()
        .enumerate()
        .map(|(m, extent)| IndexVar {
            name: default_name(m),
            extent: extent.clone(),
        })
        .collect();
    Value {
        name: adjoint_name(program, w),
        kind: ValueKind::Adjoint,
        shape: value.shape.clone(),
        indices,
        rhs: Some(Expr::Num(0.0)),
        origin: Origin::Adjoint {
            of: w,
            uses: Vec::new(),
        },
    }
}

fn default_name(m: usize) -> String {
    const NAMES: [&str; 8] = ["i", "j", "k", "l", "m", "n", "p", "q"];
    NAMES
        .get(m)
        .map_or_else(|| format!("i{m}"), |s| s.to_string())
}

/// Builds the adjoint of one value.
struct Builder<'a> {
    program: &'a Program,
    u: ValueId,
    adjoint_of: &'a [Option<ValueId>],
    /// For each max or min reduction, the value holding its extreme's position.
    position_of: &'a [Option<ValueId>],
    /// The adjoint's index table: the left-hand side `J` first.
    table: Vec<IndexVar>,
}

impl<'a> Builder<'a> {
    fn new(
        program: &'a Program,
        u: ValueId,
        adjoint_of: &'a [Option<ValueId>],
        position_of: &'a [Option<ValueId>],
    ) -> Builder<'a> {
        Builder {
            program,
            u,
            adjoint_of,
            position_of,
            table: Vec::new(),
        }
    }

    fn build(mut self, dag: &Dag, in_condition: &[Vec<bool>]) -> (Value, Vec<Term>) {
        let program = self.program;
        let u = program.value(self.u);
        let uses: Vec<(ValueId, &Use)> = dag
            .uses(self.u)
            .into_iter()
            .filter(|(r, _)| *r == program.loss || self.adjoint_of[r.index()].is_some())
            .filter(|(r, x)| !in_condition[r.index()][x.occurrence as usize])
            .collect();
        self.name_lhs(u, &uses);
        let mut sum: Option<Expr> = None;
        let mut terms = Vec::new();
        for (reader, u_use) in &uses {
            let (c, term) = self.contribution(*reader, u_use);
            terms.push(term);
            sum = Some(match sum {
                None => c,
                Some(acc) => Expr::binary(BinOp::Add, acc, c),
            });
        }
        let value = Value {
            name: adjoint_name(program, self.u),
            kind: ValueKind::Adjoint,
            shape: u.shape.clone(),
            indices: self.table,
            rhs: Some(sum.unwrap_or(Expr::Num(0.0))),
            origin: Origin::Adjoint {
                of: self.u,
                uses: uses.iter().map(|(r, x)| (*r, x.occurrence)).collect(),
            },
        };
        (value, terms)
    }

    /// Names the adjoint's left-hand indices after the first use's subscripts
    /// (`w1[j, i]` gives `∂E/∂w1[j, i]`), falling back to i, j, k, ...
    fn name_lhs(&mut self, u: &Value, uses: &[(ValueId, &Use)]) {
        for (m, extent) in u.shape.iter().enumerate() {
            let from_use = uses.first().and_then(|(r, x)| match x.subs.get(m) {
                Some(Sub::Var(v)) => Some(self.program.value(*r).indices[v.index()].name.clone()),
                // The position an affine subscript reads: `∂E/∂x[p]`.
                Some(Sub::Affine(_)) => Some("p".to_string()),
                _ => None,
            });
            let name = from_use.unwrap_or_else(|| default_name(m));
            self.fresh(&name, extent.clone());
        }
    }

    /// Adds an index variable, primed until its name is unique in the table.
    fn fresh(&mut self, name: &str, extent: Extent) -> IndexId {
        let mut name = name.to_string();
        while self.table.iter().any(|v| v.name == name) {
            name.push('\'');
        }
        self.table.push(IndexVar { name, extent });
        IndexId((self.table.len() - 1) as u32)
    }

    /// One chain-rule product: the use of `u` at `u_use` in `reader`.
    fn contribution(&mut self, reader: ValueId, u_use: &Use) -> (Expr, Term) {
        let program = self.program;
        let r = program.value(reader);
        let rhs = r.rhs.as_ref().expect("a reader has a right-hand side");
        let partial = Partial {
            program,
            reader,
            position: self.position_of[reader.index()],
        }
        .of(rhs, &mut 0, u_use.occurrence, true)
        .expect("the occurrence is in the reader's right-hand side");

        // Kronecker deltas: each subscript of the read is set equal to J_m.
        let mut map: Vec<Option<Sub>> = vec![None; r.indices.len()];
        let mut deltas = Vec::new();
        let mut affine = Vec::new();
        for (m, s) in u_use.subs.iter().enumerate() {
            let j = Sub::Var(IndexId(m as u32));
            match s {
                Sub::Var(x) => match map[x.index()] {
                    None => map[x.index()] = Some(j),
                    Some(earlier) => deltas.push(Expr::Delta(j, earlier)),
                },
                Sub::Lit(c) => deltas.push(Expr::Delta(j, Sub::Lit(*c))),
                // Once every variable is mapped.
                Sub::Affine(_) => affine.push((j, *s)),
            }
        }
        // The indices in scope that no subscript fixed are summed over.
        let scope = (0..r.rank() as u32)
            .map(IndexId)
            .chain(u_use.enclosing.iter().map(|(_, i)| *i));
        let mut summed = Vec::new();
        for x in scope {
            if map[x.index()].is_none() {
                let var = &r.indices[x.index()];
                let id = self.fresh(&var.name, var.extent.clone());
                map[x.index()] = Some(Sub::Var(id));
                summed.push(id);
            }
        }
        // Each affine subscript's constraint `A = J_m`, solved for a summed
        // index where one remains, else a delta.
        let mut solves = Vec::new();
        let mut product_deltas = deltas.clone();
        let mut left = summed.clone();
        for (j, s) in affine {
            let a = s
                .substitute(|x| map[x.index()].expect("every subscript is mapped"))
                .affine();
            deltas.push(Expr::Delta(a.sub(), j));
            let pick = a
                .terms()
                .into_iter()
                .filter(|(v, _)| left.contains(v))
                .max_by_key(|(v, _)| (self.table[v.index()].extent.size, std::cmp::Reverse(*v)));
            match pick {
                Some((x, c)) => {
                    // c·x + rest = J  ⇔  |c|·x = ±(J - rest).
                    let rest = a.add(&Sub::Var(x).affine().scale(-c));
                    let value = j.affine().add(&rest.scale(-1)).scale(c.signum());
                    left.retain(|v| *v != x);
                    solves.push((x, c.abs(), value.sub()));
                }
                None => product_deltas.push(Expr::Delta(a.sub(), j)),
            }
        }

        let upstream = if reader == program.loss {
            Expr::Num(1.0)
        } else {
            let adj = self.adjoint_of[reader.index()]
                .expect("a reader that reaches the loss has an adjoint");
            let subs = (0..r.rank())
                .map(|i| map[i].expect("every left-hand index is mapped"))
                .collect();
            Expr::Read { value: adj, subs }
        };
        let partial = self.translate(&partial, &mut map, r);
        let term = Term {
            reader,
            occurrence: u_use.occurrence,
            summed: summed.clone(),
            reader_subs: (0..r.rank())
                .map(|i| map[i].expect("every left-hand index is mapped"))
                .collect(),
            read_subs: u_use
                .subs
                .iter()
                .map(|s| s.substitute(|x| map[x.index()].expect("every subscript is mapped")))
                .collect(),
            partial: partial.clone(),
            deltas,
        };
        let mut product = mul(upstream, partial);
        for d in product_deltas {
            product = mul(product, d);
        }
        let product = solves
            .into_iter()
            .rev()
            .fold(product, |body, (index, scale, value)| Expr::Solve {
                index,
                scale,
                value,
                body: Box::new(body),
            });
        let expr = left
            .into_iter()
            .rev()
            .fold(product, |body, index| Expr::Reduce {
                op: Reduction::Sum,
                index,
                body: Box::new(body),
            });
        (expr, term)
    }

    /// Rewrites an expression of `r`'s index variables into the adjoint's.
    /// A reduction inside gets a fresh variable, bound only in its body.
    fn translate(&mut self, e: &Expr, map: &mut Vec<Option<Sub>>, r: &Value) -> Expr {
        let sub = |s: &Sub, map: &[Option<Sub>]| {
            s.substitute(|x| map[x.index()].expect("every free index of a partial is mapped"))
        };
        match e {
            Expr::Num(x) => Expr::Num(*x),
            Expr::Read { value, subs } => Expr::Read {
                value: *value,
                subs: subs.iter().map(|s| sub(s, map)).collect(),
            },
            Expr::Delta(a, b) => Expr::Delta(sub(a, map), sub(b, map)),
            // An index fixed by a literal subscript of the read is that number.
            Expr::Index(x) => {
                match map[x.index()].expect("every free index of a partial is mapped") {
                    Sub::Var(v) => Expr::Index(v),
                    Sub::Lit(n) => Expr::Num(n as f64),
                    // An index fixed by an affine subscript (`h[i + 1]`) is
                    // that form's value: `i + 1`.
                    Sub::Affine(a) => affine_number(&a),
                }
            }
            Expr::Where { cond, then, els } => {
                let c = self.translate(cond, map, r);
                let t = self.translate(then, map, r);
                let e = self.translate(els, map, r);
                Expr::select(c, t, e)
            }
            Expr::Unary { func, arg } => Expr::unary(*func, self.translate(arg, map, r)),
            Expr::Binary { op, lhs, rhs } => {
                let l = self.translate(lhs, map, r);
                let rr = self.translate(rhs, map, r);
                Expr::binary(*op, l, rr)
            }
            Expr::Reduce { op, index, body } => {
                let var = &r.indices[index.index()];
                let fresh = self.fresh(&var.name, var.extent.clone());
                let saved = map[index.index()].replace(Sub::Var(fresh));
                let body = self.translate(body, map, r);
                map[index.index()] = saved;
                Expr::Reduce {
                    op: *op,
                    index: fresh,
                    body: Box::new(body),
                }
            }
            Expr::At { index, pos } => {
                let index = match map[index.index()] {
                    Some(Sub::Var(v)) => v,
                    _ => unreachable!("a position is compared with an index variable"),
                };
                Expr::At {
                    index,
                    pos: Box::new(self.translate(pos, map, r)),
                }
            }
            // Only adjoints hold a `Solve`, and they are not differentiated;
            // translated all the same, as a reduction is.
            Expr::Solve {
                index,
                scale,
                value,
                body,
            } => {
                let var = &r.indices[index.index()];
                let fresh = self.fresh(&var.name, var.extent.clone());
                let value = sub(value, map);
                let saved = map[index.index()].replace(Sub::Var(fresh));
                let body = self.translate(body, map, r);
                map[index.index()] = saved;
                Expr::Solve {
                    index: fresh,
                    scale: *scale,
                    value,
                    body: Box::new(body),
                }
            }
        }
    }
}

/// The partial derivative of a reader's right-hand side with respect to one
/// read occurrence: the product of the local derivatives along the path from
/// the root down to the occurrence, outermost first.
struct Partial<'a> {
    program: &'a Program,
    reader: ValueId,
    /// When the reader is a max or min reduction, the value holding the
    /// position of its extreme.
    position: Option<ValueId>,
}

impl Partial<'_> {
    /// `reader[I]`: the value being defined, for local derivatives that are
    /// best written with it (`z = tanh(a)` gives `1 - z^2`).
    fn itself(&self) -> Expr {
        let r = self.program.value(self.reader);
        Expr::Read {
            value: self.reader,
            subs: (0..r.rank() as u32).map(|i| Sub::Var(IndexId(i))).collect(),
        }
    }

    /// d e / d (read number `target`), counting reads in preorder from `*next`.
    fn of(&self, e: &Expr, next: &mut u32, target: u32, root: bool) -> Option<Expr> {
        match e {
            Expr::Num(_) | Expr::Delta(..) | Expr::Index(_) => None,
            Expr::Solve { .. } => {
                unreachable!("only adjoints hold a Solve, and adjoints are not differentiated")
            }
            // The branch taken: the partial of `then` is `where(cond, 1, 0)`
            // times the branch's own, of `els` `where(cond, 0, 1)` times it.
            // The condition has no derivative: its reads are counted, and
            // give no chain-rule term (`condition_reads`).
            Expr::Where { cond, then, els } => {
                let before = *next;
                cond.for_each_read(&mut |_, _| *next += 1);
                if (before..*next).contains(&target) {
                    unreachable!("a read in a condition has no chain-rule term")
                }
                // The partial inside the branch stays inside it,
                // `where(cond, inner, 0)` rather than `where(cond, 1, 0) *
                // inner`: its reads may be in bounds only where the branch
                // is taken (a zero-padded `x[i - P]`, `netgrad::refine`).
                if let Some(inner) = self.of(then, next, target, false) {
                    return Some(Expr::select((**cond).clone(), inner, Expr::Num(0.0)));
                }
                let inner = self.of(els, next, target, false)?;
                Some(Expr::select((**cond).clone(), Expr::Num(0.0), inner))
            }
            // Piecewise constant: no derivative, but its reads are counted.
            Expr::At { pos, .. } => {
                pos.for_each_read(&mut |_, _| *next += 1);
                None
            }
            Expr::Read { .. } => {
                let k = *next;
                *next += 1;
                (k == target).then_some(Expr::Num(1.0))
            }
            Expr::Unary { func, arg } => {
                let inner = self.of(arg, next, target, false)?;
                Some(mul(self.unary(*func, arg, root), inner))
            }
            Expr::Binary { op, lhs, rhs } => {
                if let Some(inner) = self.of(lhs, next, target, false) {
                    return Some(mul(self.binary(*op, lhs, rhs, root, true), inner));
                }
                let inner = self.of(rhs, next, target, false)?;
                Some(mul(self.binary(*op, lhs, rhs, root, false), inner))
            }
            Expr::Reduce { op, index, body } => {
                let inner = self.of(body, next, target, false)?;
                let local = match op {
                    Reduction::Sum => Expr::Num(1.0),
                    Reduction::Mean => {
                        let size = self.program.value(self.reader).indices[index.index()]
                            .extent
                            .size;
                        Expr::binary(BinOp::Div, Expr::Num(1.0), Expr::Num(size as f64))
                    }
                    // The softmax: exp(x - logsumexp). A logsumexp inside a
                    // larger expression was hoisted, so it is always a value.
                    Reduction::LogSumExp => {
                        let lse = if root { self.itself() } else { e.clone() };
                        Expr::unary(Func::Exp, Expr::binary(BinOp::Sub, (**body).clone(), lse))
                    }
                    // 1 at the first position of the extreme, else 0. A max
                    // or min inside a larger expression was hoisted, so the
                    // position is a value; the search is written out only
                    // should one not be.
                    Reduction::Max | Reduction::Min => {
                        let pos = match self.position.filter(|_| root) {
                            Some(p) => {
                                let r = self.program.value(self.reader);
                                Expr::Read {
                                    value: p,
                                    subs: (0..r.rank() as u32)
                                        .map(|i| Sub::Var(IndexId(i)))
                                        .collect(),
                                }
                            }
                            None => Expr::Reduce {
                                op: op.arg().expect("max and min have a position"),
                                index: *index,
                                body: body.clone(),
                            },
                        };
                        Expr::At {
                            index: *index,
                            pos: Box::new(pos),
                        }
                    }
                    // Positions are piecewise constant.
                    Reduction::ArgMax | Reduction::ArgMin => Expr::Num(0.0),
                };
                Some(mul(local, inner))
            }
        }
    }

    /// The derivative of `func(x)` with respect to x.
    fn unary(&self, func: Func, x: &Expr, root: bool) -> Expr {
        let x = x.clone();
        let value = |f: Func| {
            if root {
                self.itself()
            } else {
                Expr::unary(f, x.clone())
            }
        };
        let one_minus = |e: Expr| Expr::binary(BinOp::Sub, Expr::Num(1.0), e);
        match func {
            Func::Neg => Expr::Num(-1.0),
            Func::Exp => value(Func::Exp),
            Func::Log => Expr::binary(BinOp::Div, Expr::Num(1.0), x),
            Func::Sqrt => Expr::binary(
                BinOp::Div,
                Expr::Num(1.0),
                Expr::binary(BinOp::Mul, Expr::Num(2.0), value(Func::Sqrt)),
            ),
            Func::Tanh => one_minus(Expr::binary(BinOp::Pow, value(Func::Tanh), Expr::Num(2.0))),
            Func::Sigmoid => {
                let s = value(Func::Sigmoid);
                Expr::binary(BinOp::Mul, s.clone(), one_minus(s))
            }
            Func::Relu => Expr::unary(Func::Step, x),
            Func::Softplus => Expr::unary(Func::Sigmoid, x),
            Func::Sin => Expr::unary(Func::Cos, x),
            Func::Cos => Expr::unary(Func::Neg, Expr::unary(Func::Sin, x)),
            Func::Abs => Expr::unary(Func::Sign, x),
            // Piecewise constant: zero wherever the derivative exists.
            Func::Step | Func::Sign | Func::Not => Expr::Num(0.0),
        }
    }

    /// The derivative of `a op b` with respect to `a` (`left`) or `b`.
    fn binary(&self, op: BinOp, a: &Expr, b: &Expr, root: bool, left: bool) -> Expr {
        let (a, b) = (a.clone(), b.clone());
        let step = |x: Expr, y: Expr| Expr::unary(Func::Step, Expr::binary(BinOp::Sub, x, y));
        let one_minus = |e: Expr| Expr::binary(BinOp::Sub, Expr::Num(1.0), e);
        match (op, left) {
            (BinOp::Add, _) => Expr::Num(1.0),
            (BinOp::Sub, true) => Expr::Num(1.0),
            (BinOp::Sub, false) => Expr::Num(-1.0),
            (BinOp::Mul, true) => b,
            (BinOp::Mul, false) => a,
            (BinOp::Div, true) => Expr::binary(BinOp::Div, Expr::Num(1.0), b),
            (BinOp::Div, false) => Expr::unary(
                Func::Neg,
                Expr::binary(BinOp::Div, a, Expr::binary(BinOp::Pow, b, Expr::Num(2.0))),
            ),
            (BinOp::Pow, true) => match b {
                Expr::Num(c) => mul(Expr::Num(c), pow(a, c - 1.0)),
                b => Expr::binary(
                    BinOp::Mul,
                    b.clone(),
                    Expr::binary(BinOp::Pow, a, Expr::binary(BinOp::Sub, b, Expr::Num(1.0))),
                ),
            },
            (BinOp::Pow, false) => {
                let value = if root {
                    self.itself()
                } else {
                    Expr::binary(BinOp::Pow, a.clone(), b)
                };
                // w^p * log(w), 0 where w^p is 0: see `BinOp::XLogY`.
                Expr::binary(BinOp::XLogY, value, a)
            }
            // `a` on ties: d/da max(a, b) = 1 - step(b - a), d/db = step(b - a).
            (BinOp::Max, true) => one_minus(step(b, a)),
            (BinOp::Max, false) => step(b, a),
            (BinOp::Min, true) => one_minus(step(a, b)),
            (BinOp::Min, false) => step(a, b),
            // Only autodiff makes xlogy, and it does not differentiate its
            // own results; the derivative where a != 0 all the same.
            (BinOp::XLogY, true) => Expr::unary(Func::Log, b),
            (BinOp::XLogY, false) => Expr::binary(BinOp::Div, a, b),
            // Conditions are piecewise constant, and their reads have no
            // chain-rule term (`condition_reads`).
            (op, _) if op.is_condition() => Expr::Num(0.0),
            _ => unreachable!("every operation has a derivative"),
        }
    }
}

/// For each read of `e` (in preorder), whether it is inside a condition: the
/// condition of a `where`, or an operand of a comparison, `and`, `or` or
/// `not` (a condition hoisted into a value of its own). Such a read has no
/// derivative, and so no chain-rule term.
pub fn condition_reads(e: &Expr) -> Vec<bool> {
    fn walk(e: &Expr, inside: bool, out: &mut Vec<bool>) {
        match e {
            Expr::Num(_) | Expr::Delta(..) | Expr::Index(_) => {}
            Expr::Read { .. } => out.push(inside),
            Expr::Unary { func, arg } => walk(arg, inside || *func == Func::Not, out),
            Expr::Binary { op, lhs, rhs } => {
                let inside = inside || op.is_condition();
                walk(lhs, inside, out);
                walk(rhs, inside, out);
            }
            Expr::Reduce { body, .. } => walk(body, inside, out),
            Expr::At { pos, .. } => walk(pos, inside, out),
            Expr::Solve { body, .. } => walk(body, inside, out),
            Expr::Where { cond, then, els } => {
                walk(cond, true, out);
                walk(then, inside, out);
                walk(els, inside, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(e, false, &mut out);
    out
}

/// The value of an affine form of index variables as a number, for a
/// condition: `i + 1`, `2 * o + dw - 1`.
fn affine_number(a: &crate::ir::Affine) -> Expr {
    let mut e: Option<Expr> = None;
    for (v, c) in a.terms() {
        let term = mul(Expr::Num(c as f64), Expr::Index(v));
        e = Some(match e {
            Some(e) => Expr::binary(BinOp::Add, e, term),
            None => term,
        });
    }
    match (e, a.constant()) {
        (Some(e), 0) => e,
        (Some(e), c) => Expr::binary(BinOp::Add, e, Expr::Num(c as f64)),
        (None, c) => Expr::Num(c as f64),
    }
}

/// A product, without the factors of 1 that the chain rule leaves.
fn mul(a: Expr, b: Expr) -> Expr {
    match (a, b) {
        (Expr::Num(1.0), b) => b,
        (a, Expr::Num(1.0)) => a,
        (Expr::Num(x), Expr::Num(y)) => Expr::Num(x * y),
        (a, b) => Expr::binary(BinOp::Mul, a, b),
    }
}

/// `x^c`, with `x^1 = x` and `x^0 = 1`.
fn pow(x: Expr, c: f64) -> Expr {
    if c == 1.0 {
        x
    } else if c == 0.0 {
        Expr::Num(1.0)
    } else {
        Expr::binary(BinOp::Pow, x, Expr::Num(c))
    }
}
