//! Lowering: definitions to the loop-nest IR (`loops.rs`), following the
//! schedule (`schedule.rs`): reductions to accumulators and loops, long
//! expressions to `let` temporaries, rows sliced before inner loops. The
//! printer (`emit.rs`) writes the statements out as each definition is
//! done.

use super::affine::{Access, Affine, Row, Size};
use super::emit::{Operand, ATOM};
use super::loops::{AccInit, AssignOp, Definition, Matrix, Pass, Place, Reduce, Stmt};
use super::scalar::{Binary, Scalar, Unary};
use super::schedule::{self, mentions, Order};
use super::{sanitize, unique, Body, Core, Generator, Store, MAX_EXPR};
use crate::ir::{BinOp, Expr, Func, IndexId, Reduction, Sub, Value, ValueId, ValueKind};

impl Generator<'_> {
    /// Computes every needed definition, in order. Inputs and params are the
    /// core function's parameters.
    pub(super) fn values(&self, body: &mut Body, need: &[bool], core: Core) {
        // One packing buffer for every matrix product of the function,
        // allocated once per call (without std: a piece of the scratch
        // buffer, split off in the function's head).
        if let Some(len) = self
            .pack_len(need)
            .filter(|_| !self.no_std && !self.runtime)
        {
            let pack = self.internal("pack");
            body.code.push(Stmt::Comment(
                "The matrix products' packed panels (`gemm::pack_len`, the largest).".into(),
            ));
            body.code.push(Stmt::Alloc {
                name: pack,
                len,
                heap: true,
            });
            self.heap.set(true);
        }
        let head = body.code.take();
        body.keep_exps = self.softmax_sources(need);
        // An array of a run-time number of exponentials would need the heap.
        body.keep_exps
            .retain(|lse| !self.sized_at_run_time_sum(*lse));
        body.residuals = self
            .p
            .ids()
            .filter(|id| need[id.index()] && self.is_residual[id.index()])
            .collect();
        body.kept.clear();
        // Every definition's loop nest, built before any is printed.
        let mut definitions = Vec::new();
        for id in self.p.ids() {
            // A residual is stored by its logsumexp's loops.
            if need[id.index()]
                && !matches!(self.p.value(id).kind, ValueKind::Input | ValueKind::Param)
                && !self.is_residual[id.index()]
            {
                self.definition(body, id, core);
                definitions.push(Definition {
                    value: id,
                    stmts: body.code.take(),
                });
            }
        }
        // Loop nests fused (`fuse.rs`), then printed.
        let mut later = Vec::new();
        if let Some(rhs) = body.tail.and_then(|id| self.p.value(id).rhs.as_ref()) {
            rhs.for_each_read(&mut |u, _| later.push(self.idents[u.index()].clone()));
        }
        // A transcendental function, a call of std's, libm's or the
        // module's own (`abs`, `sqrt` are an instruction each).
        let transcendental = |s: &Scalar| match s {
            Scalar::Unary(Unary::Math(f), _) => !matches!(*f, "abs" | "sqrt"),
            Scalar::Unary(Unary::Ops(f), _) => matches!(*f, "sigmoid" | "softplus"),
            Scalar::Binary(Binary::Powf, ..) => true,
            _ => false,
        };
        let definitions = super::fuse::fuse_loops(definitions, &later, &transcendental);
        self.emit(body.w, &head);
        for d in &definitions {
            self.emit(body.w, &d.stmts);
        }
    }

    /// Prints the statements built so far.
    fn flush(&self, body: &mut Body) {
        let stmts = body.code.take();
        self.emit(body.w, &stmts);
    }

    /// The scratch the matrix products among `need` take: the largest
    /// `gemm::pack_len` of them.
    pub(super) fn pack_len(&self, need: &[bool]) -> Option<usize> {
        self.p
            .ids()
            .filter(|id| need[id.index()])
            .filter_map(|id| match &self.schedule[id.index()].order {
                Order::Gemm(g) => Some(super::kernels::pack_len(self.float, g.m, g.n, g.k)),
                _ => None,
            })
            .max()
    }

    pub(super) fn store(&self, id: ValueId, core: Core) -> Store {
        let store = self.home(id, core);
        if store == Store::Local && self.no_std && self.off_stack[core as usize][id.index()] {
            Store::Scratch
        } else if store == Store::Local && self.runtime && self.off_stack[core as usize][id.index()]
        {
            Store::Work
        } else {
            store
        }
    }

    /// Where a value lives before the stack budget is applied: a local
    /// tensor may still move to the heap or the scratch buffer.
    pub(super) fn home(&self, id: ValueId, core: Core) -> Store {
        let v = self.p.value(id);
        if core == Core::Gradient {
            if let Some((w, _)) = self.wrt.iter().find(|(_, a)| *a == id) {
                return Store::Grad(*w);
            }
        }
        // Only definitions are stored: inputs and params are the core's parameters.
        if v.rank() == 0 {
            Store::Scalar
        } else if core == Core::Forward && self.p.outputs.contains(&id) {
            Store::Out
        } else {
            Store::Local
        }
    }

    /// The tensors a core function keeps in the scratch buffer, in order.
    pub(super) fn in_scratch(&self, core: Core) -> Vec<ValueId> {
        self.stored_in(core, Store::Scratch)
    }

    /// The definitions a core function needs that live in `store`, in order.
    pub(super) fn stored_in(&self, core: Core, store: Store) -> Vec<ValueId> {
        let need = self.needed(&self.targets(core));
        self.p
            .ids()
            .filter(|id| {
                need[id.index()]
                    && !matches!(self.p.value(*id).kind, ValueKind::Input | ValueKind::Param)
                    && self.store(*id, core) == store
            })
            .collect()
    }

    /// The index variables of a value, as Rust identifiers unique in scope.
    /// Only this value's own names are collected (a handful), never a copy of
    /// the scope's table, so lowering stays linear in the number of
    /// definitions.
    pub(super) fn index_idents(&self, v: &Value) -> Vec<String> {
        let mut own: Vec<String> = Vec::with_capacity(v.indices.len());
        for var in &v.indices {
            let base = sanitize(&var.name.replace('\'', "_"));
            let ident = unique(&base, |c| {
                self.taken.contains(c) || own.iter().any(|o| o == c)
            });
            own.push(ident);
        }
        own
    }

    /// One definition, forward or adjoint: a comment, its storage, and loops
    /// over its left-hand indices.
    fn definition(&self, body: &mut Body, id: ValueId, core: Core) {
        let v = self.p.value(id);
        let ident = self.idents[id.index()].clone();
        let rhs = v.rhs.as_ref().expect("a definition has a right-hand side");
        body.code.push(Stmt::Blank);
        if v.kind == ValueKind::Adjoint {
            let derivation =
                self.original[id.index()].map(|old| crate::explain::derivation(self.g, old));
            for line in derivation.unwrap_or_default() {
                body.code.push(Stmt::Comment(line));
            }
        } else {
            body.code
                .push(Stmt::Comment(crate::pretty::definition(self.p, v)));
        }
        let names = self.index_idents(v);
        let store = self.store(id, core);
        let out = match store {
            Store::Grad(param) => self.grad_name(param),
            _ => ident.clone(),
        };
        let nest = &self.schedule[id.index()];
        if let Some(mut text) = schedule::describe(nest, v, &out, &names) {
            if body.keep_exps.contains(&id) && v.rank() == 0 {
                text.push_str(", its exponentials kept for the softmax");
            }
            for lse in self.kept_softmax_reads(&body.keep_exps, rhs) {
                let lse = &self.idents[lse.index()];
                text.push_str(&format!(
                    "; exp(_ - {lse}) as {lse}'s kept exponential over their sum"
                ));
            }
            body.code.push(Stmt::Comment(text));
        }
        if let Some(r) = self.residual_needed(body, id) {
            body.code.push(Stmt::Comment(format!(
                "{}: the rounding error of {ident}, which differences with it add back",
                self.idents[r.index()]
            )));
        }
        if v.rank() == 0 {
            let value = self.scalar(body, rhs, v, &names);
            let residual = body.residual.take();
            body.code.push(match store {
                Store::Grad(param) => Stmt::Store {
                    place: Place::Deref(self.grad_name(param)),
                    op: AssignOp::Set,
                    value,
                },
                _ => Stmt::Let {
                    name: ident.clone(),
                    typed: true,
                    value,
                },
            });
            if let Some((r, value)) = residual {
                body.code.push(Stmt::Let {
                    name: self.idents[r.index()].clone(),
                    typed: true,
                    value,
                });
            }
            if core == Core::Forward && self.p.outputs.contains(&id) {
                body.code.push(Stmt::Store {
                    place: Place::Deref(self.out_name(id)),
                    op: AssignOp::Set,
                    value: Scalar::Var(ident),
                });
            }
            return;
        }
        self.alloc(body, id, core);
        if let Some(r) = self.residual_needed(body, id) {
            self.alloc(body, r, core);
        }
        if let Order::Gemm(gemm) = &nest.order {
            self.gemm(body, (id, core), gemm, store, &names, &out);
            return;
        }
        if let Order::Taps(sums) = &nest.order {
            self.taps(body, v, sums, &names, &out);
            return;
        }
        if let Order::Spread(spread) = &nest.order {
            // A local array or `Vec` starts at zero; the caller's slices and
            // the workspace do not.
            let zero = store != Store::Local;
            self.spread(body, v, spread, &names, &out, zero);
            return;
        }
        if let Order::Scatter { index, unroll } = nest.order {
            let Some(Expr::Reduce { body: inner, .. }) = &v.rhs else {
                unreachable!("a scatter is scheduled for a sum");
            };
            // A local array or `Vec` starts at zero; the caller's slices do not.
            let zero = store != Store::Local;
            self.scatter(body, v, (index, unroll), inner, &names, &out, zero);
            return;
        }
        if let Some(b) = nest.block {
            self.blocked(body, v, rhs, b.index(), &names, &out);
            return;
        }
        for (m, extent) in v.shape.iter().enumerate() {
            body.code.open(&names[m], self.extent(extent));
        }
        self.element(body, v, rhs, &names, &out);
        for _ in 0..v.rank() {
            body.code.close();
        }
    }

    /// The residual of the logsumexp `id`, if the function needs it.
    fn residual_needed(&self, body: &Body, id: ValueId) -> Option<ValueId> {
        self.residual[id.index()].filter(|r| body.residuals.contains(r))
    }

    /// The array of a local tensor: on the stack, or a `Vec` if it is off
    /// the stack (nothing for a tensor elsewhere).
    fn alloc(&self, body: &mut Body, id: ValueId, core: Core) {
        let heap = match self.store(id, core) {
            Store::Local => self.off_stack[core as usize][id.index()],
            _ => return,
        };
        if heap {
            self.heap.set(true);
        }
        body.code.push(Stmt::Alloc {
            name: self.idents[id.index()].clone(),
            len: self.p.value(id).len(),
            heap,
        });
    }

    /// One element of a gather nest: its value, stored at `out[own indices]`
    /// (and a logsumexp's residual at the same place of its own array).
    fn element(&self, body: &mut Body, v: &Value, rhs: &Expr, names: &[String], out: &str) {
        let value = self.scalar(body, rhs, v, names);
        let own: Vec<Sub> = (0..v.rank() as u32).map(|i| Sub::Var(IndexId(i))).collect();
        body.code.push(Stmt::Store {
            place: self.elem(out, v, &own, names),
            op: AssignOp::Set,
            value,
        });
        if let Some((r, value)) = body.residual.take() {
            body.code.push(Stmt::Store {
                place: self.elem(&self.idents[r.index()], v, &own, names),
                op: AssignOp::Set,
                value,
            });
        }
    }

    /// `out[at]`, `at` the flat offset of `subs` in `v`.
    fn elem(&self, out: &str, v: &Value, subs: &[Sub], names: &[String]) -> Place {
        Place::Elem(Access {
            array: out.to_string(),
            offset: self.flat_index(v, subs, names),
        })
    }

    /// A matrix product by the module's kernel, then the rest of the
    /// formula, if any, elementwise over the product in place.
    fn gemm(
        &self,
        body: &mut Body,
        (id, core): (ValueId, Core),
        gemm: &schedule::Gemm,
        store: Store,
        names: &[String],
        out: &str,
    ) {
        self.gemm_used.set(true);
        let operand = |(u, row_stride, col_stride): (ValueId, usize, usize)| {
            let pass = match self.p.value(u).kind {
                ValueKind::Input | ValueKind::Param => Pass::Slice,
                _ if self.store(u, core) == Store::Local => Pass::Borrow,
                _ => Pass::Slice,
            };
            Matrix {
                name: self.idents[u.index()].clone(),
                pass,
                row_stride,
                col_stride,
            }
        };
        let target = match store {
            Store::Local => Pass::BorrowMut,
            _ => Pass::Slice,
        };
        let pack = self.internal("pack");
        let n = gemm.n;
        // A run-time size is read from `Dims`.
        let v = self.p.value(id);
        let (index, _) = the_sum(v.rhs.as_ref().expect("a product is a definition"));
        let [m, k] = [&v.shape[0], &v.indices[index.index()].extent].map(|e| self.extent(e));
        body.code.push(Stmt::Gemm(super::loops::Gemm {
            m,
            n: n.into(),
            k,
            a: operand(gemm.a),
            b: operand(gemm.b),
            c: Matrix {
                name: out.to_string(),
                pass: target,
                row_stride: n,
                col_stride: 1,
            },
            accumulate: false,
            pack: (
                pack,
                if self.no_std || self.runtime {
                    Pass::Slice
                } else {
                    Pass::BorrowMut
                },
            ),
        }));
        if !gemm.epilogue {
            return;
        }
        let v = self.p.value(id);
        let own = vec![Sub::Var(IndexId(0)), Sub::Var(IndexId(1))];
        let product = Expr::Read {
            value: id,
            subs: own.clone(),
        };
        let rest = replace_sum(v.rhs.as_ref().expect("a product is a definition"), &product);
        for (m, extent) in v.shape.iter().enumerate() {
            body.code.open(&names[m], self.extent(extent));
        }
        // `c += b1[j]` where the rest is one operation on the product.
        let assign = match &rest {
            Expr::Binary { op, lhs, rhs } if **lhs == product => {
                let sign = match op {
                    BinOp::Add => Some(AssignOp::Add),
                    BinOp::Sub => Some(AssignOp::Sub),
                    BinOp::Mul => Some(AssignOp::Mul),
                    BinOp::Div => Some(AssignOp::Div),
                    _ => None,
                };
                sign.map(|s| (s, &**rhs))
            }
            Expr::Binary { op, lhs, rhs } if **rhs == product => match op {
                BinOp::Add => Some((AssignOp::Add, &**lhs)),
                BinOp::Mul => Some((AssignOp::Mul, &**lhs)),
                _ => None,
            },
            _ => None,
        };
        match assign {
            Some((op, other)) => {
                let value = self.scalar(body, other, v, names);
                body.code.push(Stmt::Store {
                    place: self.elem(out, v, &own, names),
                    op,
                    value,
                });
            }
            None => self.element(body, v, &rest, names, out),
        }
        for _ in 0..v.rank() {
            body.code.close();
        }
    }

    /// Opens `for {i}_block in 0..size / count` over index `at` (named
    /// `names[at]` = `i`) and binds its `count` consecutive values
    /// (`let i0 = i_block * 4;`, `let i1 = i_block * 4 + 1;`, ...). Returns
    /// one copy of `names` per value, with it at `at`, and every name now in
    /// scope.
    fn unrolled(
        &self,
        body: &mut Body,
        names: &[String],
        at: usize,
        size: usize,
        count: usize,
    ) -> (Vec<Vec<String>>, Vec<String>) {
        let base = &names[at];
        let block = self.fresh_name(body, &format!("{base}_block"), names);
        body.code.open_blocks(&block, size, count);
        let mut variants = Vec::new();
        let mut taken: Vec<String> = names.to_vec();
        for u in 0..count {
            let name = self.fresh_name(body, &format!("{base}{u}"), &taken);
            taken.push(name.clone());
            body.code.push(Stmt::Index {
                name: name.clone(),
                value: Affine {
                    terms: vec![(block.clone(), count.into())],
                    constant: u as isize,
                },
            });
            let mut vn = names.to_vec();
            vn[at] = name;
            variants.push(vn);
        }
        (variants, taken)
    }

    /// A register-blocked gather nest (`Nest::block`): the left-hand index
    /// `b`, outermost, advances `BLOCK` at a time, and the `BLOCK` elements'
    /// one sum runs in one loop, each in its own lanes; leftover rows run
    /// one by one. The other left-hand indices loop inside, in order.
    fn blocked(
        &self,
        body: &mut Body,
        v: &Value,
        rhs: &Expr,
        b: usize,
        names: &[String],
        out: &str,
    ) {
        const BLOCK: usize = schedule::BLOCK;
        let (index, inner) = the_sum(rhs);
        let size = v.shape[b].size;
        let whole = size / BLOCK * BLOCK;
        let others: Vec<usize> = (0..v.rank()).filter(|m| *m != b).collect();
        let (rows, _) = self.unrolled(body, names, b, size, BLOCK);
        let variants: Vec<(Vec<String>, String)> = rows
            .into_iter()
            .map(|vn| {
                body.fresh += 1;
                (vn, self.internal(&format!("acc{}", body.fresh)))
            })
            .collect();
        for m in &others {
            body.code.open(&names[*m], self.extent(&v.shape[*m]));
        }
        let lanes = self.schedule[self.id_of(v).index()].lanes[index.index()];
        self.lanes(body, index, inner, v, &variants, lanes, true);
        for (vn, acc) in &variants {
            body.done = Some((index, acc.clone()));
            self.element(body, v, rhs, vn, out);
        }
        body.done = None;
        for _ in 0..=others.len() {
            body.code.close();
        }
        if whole < size {
            body.code.open_rest(&names[b], size, BLOCK);
            for m in &others {
                body.code.open(&names[*m], self.extent(&v.shape[*m]));
            }
            self.element(body, v, rhs, names, out);
            for _ in 0..=others.len() {
                body.code.close();
            }
        }
    }

    /// The row-major offset of `value[subs]`, in the reader's names
    /// (`j * 3 + i`).
    pub(super) fn flat_index(&self, value: &Value, subs: &[Sub], names: &[String]) -> Affine {
        let strides = self.strides(value);
        let mut constant = 0;
        let mut terms: Vec<(String, Size)> = Vec::new();
        // Terms of one loop variable with strides of the same run-time dims
        // add up (`x[i, i + 1]`'s `i * 4 + i`), so that `i - i` cancels.
        let add = |terms: &mut Vec<(String, Size)>, name: &str, stride: Size| match terms
            .iter_mut()
            .find(|(n, s)| n == name && s.dims == stride.dims)
        {
            Some((_, s)) => s.factor += stride.factor,
            None => terms.push((name.to_string(), stride)),
        };
        for (s, stride) in subs.iter().zip(strides) {
            match (s, stride.constant()) {
                (Sub::Lit(n), Some(stride)) => constant += (n * stride) as isize,
                (Sub::Lit(0), None) => {}
                // A literal times a run-time stride: a term of its own (`1 * N`).
                (Sub::Lit(n), None) => terms.push((n.to_string(), stride)),
                (Sub::Var(v), _) => add(&mut terms, &names[v.index()], stride),
                (Sub::Affine(a), c) => {
                    match c {
                        Some(stride) => constant += a.constant() as isize * stride as isize,
                        // A constant times a run-time stride: a term of its own.
                        None if a.constant() > 0 => {
                            terms.push((a.constant().to_string(), stride.clone()))
                        }
                        None if a.constant() < 0 => {
                            terms.push((a.constant().unsigned_abs().to_string(), stride.scaled(-1)))
                        }
                        None => {}
                    }
                    for (v, c) in a.terms() {
                        add(&mut terms, &names[v.index()], stride.scaled(c as isize));
                    }
                }
            }
        }
        terms.retain(|(_, s)| s.factor != 0);
        Affine { terms, constant }
    }

    /// An affine subscript of `owner` in the reader's names.
    pub(super) fn sub_affine(s: &Sub, names: &[String]) -> Affine {
        let a = s.affine();
        Affine {
            terms: a
                .terms()
                .iter()
                .map(|&(v, c)| (names[v.index()].clone(), Size::from(1).scaled(c as isize)))
                .collect(),
            constant: a.constant() as isize,
        }
    }

    /// Binds a long expression to a temporary, so that lines stay short.
    pub(super) fn short(&self, body: &mut Body, e: Scalar) -> Scalar {
        if self.render(&e).text.len() <= MAX_EXPR {
            return e;
        }
        self.bind(body, e)
    }

    /// `let t1 = e;`, and `t1`.
    fn bind(&self, body: &mut Body, e: Scalar) -> Scalar {
        body.fresh += 1;
        let name = self.internal(&format!("t{}", body.fresh));
        body.code.push(Stmt::Let {
            name: name.clone(),
            typed: false,
            value: e,
        });
        Scalar::Var(name)
    }

    /// Binds the longer operand, then if need be the other, to temporaries
    /// until the two fit on one line together.
    pub(super) fn fit(&self, body: &mut Body, l: Scalar, r: Scalar) -> (Scalar, Scalar) {
        let len = |e: &Scalar| self.render(e).text.len();
        let (mut l, mut r) = (l, r);
        if len(&l) + len(&r) > MAX_EXPR {
            if len(&l) >= len(&r) {
                l = self.bind(body, l);
            } else {
                r = self.bind(body, r);
            }
        }
        if len(&l) + len(&r) > MAX_EXPR {
            if self.render(&l).strength == ATOM && len(&l) < len(&r) {
                r = self.bind(body, r);
            } else {
                l = self.bind(body, l);
            }
        }
        (l, r)
    }

    /// Lowers an expression of `owner` to statements, prints them, and
    /// returns the final operand.
    pub(super) fn lower(
        &self,
        body: &mut Body,
        e: &Expr,
        owner: &Value,
        names: &[String],
    ) -> Operand {
        let value = self.scalar(body, e, owner, names);
        self.flush(body);
        self.render(&value)
    }

    /// Lowers an expression of `owner` to statements and a final expression.
    fn scalar(&self, body: &mut Body, e: &Expr, owner: &Value, names: &[String]) -> Scalar {
        let op = match e {
            Expr::Num(x) => match &body.pow2_inv {
                Some((bits, var)) if *bits == x.to_bits() => Scalar::Var(var.clone()),
                _ => self.number(*x),
            },
            Expr::Read { value, subs } => {
                let v = self.p.value(*value);
                let ident = &self.idents[value.index()];
                let row = match &body.row_index {
                    Some((index, n)) if v.rank() > 0 && schedule::row(subs, *index) => {
                        let key = self.row_key(*value, subs, *index, n, names);
                        body.rows
                            .iter()
                            .find(|(k, _)| *k == key)
                            .map(|(_, slice)| (slice.clone(), *index))
                    }
                    _ => None,
                };
                if let Some((slice, index)) = row {
                    // The row starts where the walking index is 0.
                    Scalar::Load(Access {
                        array: slice,
                        offset: Affine::var(&names[index.index()]),
                    })
                } else if v.rank() == 0 {
                    Scalar::Var(ident.clone())
                } else {
                    Scalar::Load(Access {
                        array: ident.clone(),
                        offset: self.flat_index(v, subs, names),
                    })
                }
            }
            Expr::Delta(a, b) => {
                Scalar::Delta(Self::sub_affine(a, names), Self::sub_affine(b, names))
            }
            // A sum over the at most one index a constraint leaves.
            Expr::Solve {
                index,
                scale,
                value,
                body: inner,
            } => {
                let size = self.extent(&owner.indices[index.index()].extent);
                body.fresh += 1;
                let acc = self.internal(&format!("acc{}", body.fresh));
                body.code.push(Stmt::scalar_acc(&acc, Reduce::Sum));
                body.code.open_solve(
                    &names[index.index()],
                    Self::sub_affine(value, names),
                    *scale as usize,
                    size,
                );
                let x = self.scalar(body, inner, owner, names);
                body.code.push(Stmt::Store {
                    place: Place::Var(acc.clone()),
                    op: AssignOp::Add,
                    value: x,
                });
                body.code.close();
                Scalar::Var(acc)
            }
            Expr::At { index, pos } => {
                let pos = self.scalar(body, pos, owner, names);
                let pos = self.short(body, pos);
                Scalar::At(Affine::var(&names[index.index()]), Box::new(pos))
            }
            Expr::Index(v) => Scalar::Index(Affine::var(&names[v.index()])),
            // `let t = if c { a } else { b };`. Each branch is computed
            // only when taken, with whatever statements it needs (a long
            // subterm's `let`, a reduction's loop) inside it: a branch may
            // read out of bounds where it is not taken (`where(i >= P,
            // x[i - P], 0)`, `netgrad::refine`).
            Expr::Where { cond, then, els } => {
                let c = self.condition(body, cond, owner, names);
                let c = self.short(body, c);
                // A branch's value bound to a `let` last is the block's
                // value (clippy: `let_and_return`).
                let mut branch = |e: &Expr| {
                    body.code.open_branch();
                    let x = self.scalar(body, e, owner, names);
                    let x = self.short(body, x);
                    let mut stmts = body.code.close_branch();
                    let Scalar::Var(v) = &x else {
                        return (stmts, Some(x));
                    };
                    match stmts.pop() {
                        Some(Stmt::Let {
                            name,
                            typed: false,
                            value: Scalar::Select(c, a, b),
                        }) if name == *v => {
                            stmts.push(Stmt::Branch {
                                name: None,
                                cond: *c,
                                then: Vec::new(),
                                a: Some(*a),
                                els: Vec::new(),
                                b: Some(*b),
                            });
                            (stmts, None)
                        }
                        Some(Stmt::Let {
                            name,
                            typed: false,
                            value,
                        }) if name == *v => (stmts, Some(value)),
                        Some(Stmt::Branch {
                            name: Some(name),
                            cond,
                            then,
                            a,
                            els,
                            b,
                        }) if name == *v => {
                            stmts.push(Stmt::Branch {
                                name: None,
                                cond,
                                then,
                                a,
                                els,
                                b,
                            });
                            (stmts, None)
                        }
                        last => {
                            stmts.extend(last);
                            (stmts, Some(x))
                        }
                    }
                };
                let (then, a) = branch(then);
                let (els, b) = branch(els);
                if let (true, true, Some(a), Some(b)) = (then.is_empty(), els.is_empty(), &a, &b) {
                    let select =
                        Scalar::Select(Box::new(c), Box::new(a.clone()), Box::new(b.clone()));
                    return self.bind(body, select);
                }
                body.fresh += 1;
                let name = self.internal(&format!("t{}", body.fresh));
                body.code.push(Stmt::Branch {
                    name: Some(name.clone()),
                    cond: c,
                    then,
                    a,
                    els,
                    b,
                });
                Scalar::Var(name)
            }
            // A condition as a number (a condition hoisted into a value of
            // its own): 1 or 0.
            Expr::Binary { op, .. } if op.is_condition() => self.truth(body, e, owner, names),
            Expr::Unary {
                func: Func::Not, ..
            } => self.truth(body, e, owner, names),
            Expr::Unary { .. }
                if !body.kept.is_empty() && self.softmax_term(&body.kept, e, names).is_some() =>
            {
                self.softmax_term(&body.kept, e, names)
                    .expect("a softmax term")
            }
            Expr::Unary { func, arg } => {
                let a = self.scalar(body, arg, owner, names);
                let a = self.short(body, a);
                let op = match func {
                    Func::Neg => Unary::Neg,
                    Func::Exp | Func::Sqrt | Func::Tanh | Func::Sin | Func::Cos | Func::Abs => {
                        Unary::Math(func.name())
                    }
                    Func::Log => Unary::Math("ln"),
                    Func::Sigmoid | Func::Relu | Func::Softplus | Func::Step | Func::Sign => {
                        Unary::Ops(func.name())
                    }
                    Func::Not => unreachable!("a condition is lowered by `condition`"),
                };
                Scalar::unary(op, a)
            }
            Expr::Binary { op, lhs, rhs } => {
                let l = self.scalar(body, lhs, owner, names);
                let r = self.scalar(body, rhs, owner, names);
                let (l, r) = self.fit(body, l, r);
                let op = match op {
                    BinOp::Add => Binary::Add,
                    BinOp::Sub => Binary::Sub,
                    BinOp::Mul => Binary::Mul,
                    BinOp::Div => Binary::Div,
                    BinOp::Pow => match integer_exponent(rhs).filter(|_| !self.is_size_number(rhs))
                    {
                        Some(n) => return Scalar::Powi(Box::new(l), n),
                        None => Binary::Powf,
                    },
                    BinOp::Max => Binary::Max,
                    BinOp::Min => Binary::Min,
                    BinOp::XLogY => Binary::XLogY,
                    _ => unreachable!("a condition is lowered by `condition`"),
                };
                Scalar::binary(op, l, r)
            }
            Expr::Reduce {
                op,
                index,
                body: inner,
            } => self.reduce(body, *op, *index, inner, owner, names),
        };
        op
    }

    /// A condition of a `where` as a `bool`: comparisons of numbers, `&&`,
    /// `||`, and `!` of a local; any other expression is true where it is
    /// not 0.
    fn condition(&self, body: &mut Body, e: &Expr, owner: &Value, names: &[String]) -> Scalar {
        match e {
            Expr::Binary {
                op: op @ (BinOp::And | BinOp::Or),
                lhs,
                rhs,
            } => {
                let l = self.condition(body, lhs, owner, names);
                let r = self.condition(body, rhs, owner, names);
                let (l, r) = self.fit(body, l, r);
                let op = if *op == BinOp::And {
                    Binary::And
                } else {
                    Binary::Or
                };
                Scalar::binary(op, l, r)
            }
            Expr::Binary { op, lhs, rhs } if op.is_condition() => {
                let l = self.scalar(body, lhs, owner, names);
                let r = self.scalar(body, rhs, owner, names);
                let (l, r) = self.fit(body, l, r);
                let op = match op {
                    BinOp::Lt => Binary::Lt,
                    BinOp::Le => Binary::Le,
                    BinOp::Gt => Binary::Gt,
                    BinOp::Ge => Binary::Ge,
                    BinOp::Eq => Binary::Eq,
                    _ => Binary::Ne,
                };
                Scalar::binary(op, l, r)
            }
            // `!t`, of a local: clippy rejects `!(a < b)` on floats, which
            // is not `a >= b` (NaN).
            Expr::Unary {
                func: Func::Not,
                arg,
            } => {
                let c = self.condition(body, arg, owner, names);
                let c = match c {
                    Scalar::Var(_) => c,
                    c => self.bind(body, c),
                };
                Scalar::unary(Unary::Not, c)
            }
            other => {
                let x = self.scalar(body, other, owner, names);
                Scalar::binary(Binary::Ne, x, Scalar::Num(0.0))
            }
        }
    }

    /// A condition as a number: `if c { 1.0 } else { 0.0 }`.
    fn truth(&self, body: &mut Body, e: &Expr, owner: &Value, names: &[String]) -> Scalar {
        let c = self.condition(body, e, owner, names);
        let c = self.short(body, c);
        self.bind(
            body,
            Scalar::Select(
                Box::new(c),
                Box::new(Scalar::Num(1.0)),
                Box::new(Scalar::Num(0.0)),
            ),
        )
    }

    /// A max or min reduction, or the position of its extreme: the running
    /// extreme `acc` (and its position `acc_pos`), each term bound to a
    /// local and compared as the interpreter does (`Stmt::Extreme`).
    #[allow(clippy::too_many_arguments)]
    fn extreme(
        &self,
        body: &mut Body,
        op: Reduction,
        acc: String,
        i: &str,
        index: IndexId,
        inner: &Expr,
        owner: &Value,
        names: &[String],
    ) -> Scalar {
        let max = matches!(op, Reduction::Max | Reduction::ArgMax);
        let arg = matches!(op, Reduction::ArgMax | Reduction::ArgMin);
        let size = self.extent(&owner.indices[index.index()].extent);
        let init = if max { Reduce::Max } else { Reduce::Min };
        body.code.push(Stmt::scalar_acc(&acc, init));
        let pos = format!("{acc}_pos");
        if arg {
            body.code.push(Stmt::scalar_acc(&pos, Reduce::Sum));
        }
        // The position needs the loop variable even where the body does not.
        let i = if arg {
            names[index.index()].as_str()
        } else {
            i
        };
        body.code.open(i, size);
        let x = self.scalar(body, inner, owner, names);
        let value = match x {
            Scalar::Var(name) => name,
            x => match self.bind(body, x) {
                Scalar::Var(name) => name,
                _ => unreachable!("a bound term is a local"),
            },
        };
        body.code.push(Stmt::Extreme {
            acc: acc.clone(),
            max,
            value,
            pos: arg.then(|| (pos.clone(), i.to_string())),
        });
        body.code.close();
        Scalar::Var(if arg { pos } else { acc })
    }

    /// A call of a float function `f` named as std's method: the module's own
    /// (`math::exp(x)`) where it has one, else the method in std (`x.exp()`),
    /// the `libm` function without std (`libm::exp(x)`), with `powi` an `ops`
    /// helper since `libm` has none.
    pub(super) fn math(&self, f: &'static str, x: &Operand, arg: Option<&str>) -> Operand {
        if self.own(f) {
            return Operand::atom(format!("math::{f}({})", x.text));
        }
        let rest = arg.map_or(String::new(), |a| format!(", {a}"));
        if !self.no_std {
            self.math.borrow_mut().insert(f);
            let arg = arg.unwrap_or("");
            return Operand::atom(format!("{}.{f}({arg})", x.at(ATOM)));
        }
        if f == "powi" {
            return Operand::atom(format!("ops::powi({}{rest})", x.text));
        }
        let name = libm_name(f, self.float);
        self.math.borrow_mut().insert(name);
        Operand::atom(format!("libm::{name}({}{rest})", x.text))
    }

    /// A reduction as an accumulator and a loop (two loops for logsumexp,
    /// which shifts the max out).
    pub(super) fn reduce(
        &self,
        body: &mut Body,
        op: Reduction,
        index: IndexId,
        inner: &Expr,
        owner: &Value,
        names: &[String],
    ) -> Scalar {
        // The chain of a taps nest, already summed into its row.
        if let Some((i, x)) = &body.taps {
            if *i == index {
                return x.clone();
            }
        }
        if op == Reduction::Mean {
            return self.mean(body, index, inner, owner, names);
        }
        let size = self.extent(&owner.indices[index.index()].extent);
        // A body that does not use the index still runs once per value.
        let i = if mentions(inner, index) {
            names[index.index()].as_str()
        } else {
            "_"
        };
        body.fresh += 1;
        let acc = self.internal(&format!("acc{}", body.fresh));
        let lanes = self.schedule[self.id_of(owner).index()].lanes[index.index()];
        let done = match &body.done {
            Some((i, acc)) if *i == index => Some(acc.clone()),
            _ => None,
        };
        let add = |acc: &str, value| Stmt::Store {
            place: Place::Var(acc.to_string()),
            op: AssignOp::Add,
            value,
        };
        let nest = &self.schedule[self.id_of(owner).index()];
        if op == Reduction::Sum && nest.chain.contains(&index) {
            // A sum of a chain (`Schedule::chain`): its terms go into the
            // lanes of the chain's innermost sum, whose accumulator the
            // outermost sum declares and combines.
            let head = body.chain.is_none();
            if head {
                let end = chain_end(inner);
                let lanes = nest.lanes[end.index()];
                body.code.push(Stmt::Acc {
                    name: acc.clone(),
                    init: AccInit::Identity {
                        op: Reduce::Sum,
                        lanes,
                    },
                });
                body.chain = Some(acc.clone());
            }
            body.code.open(i, size);
            let _ = self.scalar(body, inner, owner, names);
            body.code.close();
            if head {
                body.chain = None;
                if nest.lanes[chain_end(inner).index()] > 1 {
                    body.code.push(Stmt::Combine(acc.clone()));
                }
                return Scalar::Var(acc);
            }
            return Scalar::Num(0.0);
        }
        if let (Reduction::Sum, Some(chain)) = (op, body.chain.clone()) {
            // The innermost sum of a chain, into the chain's accumulator.
            if lanes > 1 {
                self.lanes(
                    body,
                    index,
                    inner,
                    owner,
                    &[(names.to_vec(), chain)],
                    lanes,
                    false,
                );
            } else {
                body.code.open(i, size);
                let x = self.scalar(body, inner, owner, names);
                body.code.push(add(&chain, x));
                body.code.close();
            }
            return Scalar::Num(0.0);
        }
        match op {
            Reduction::Sum | Reduction::Mean if done.is_some() || lanes > 1 => {
                let acc = match done {
                    Some(acc) => acc,
                    None => {
                        let variants = [(names.to_vec(), acc)];
                        self.lanes(body, index, inner, owner, &variants, lanes, true);
                        let [(_, acc)] = variants;
                        acc
                    }
                };
                summed(op, acc, size)
            }
            Reduction::Sum | Reduction::Mean => {
                body.code.push(Stmt::scalar_acc(&acc, Reduce::Sum));
                body.code.open(i, size.clone());
                let x = self.scalar(body, inner, owner, names);
                body.code.push(add(&acc, x));
                body.code.close();
                summed(op, acc, size)
            }
            Reduction::Max | Reduction::Min | Reduction::ArgMax | Reduction::ArgMin => {
                self.extreme(body, op, acc, i, index, inner, owner, names)
            }
            Reduction::LogSumExp => {
                let max = format!("{acc}_max");
                body.code.push(Stmt::scalar_acc(&max, Reduce::Max));
                body.code.open(i, size.clone());
                let x = self.scalar(body, inner, owner, names);
                body.code.push(Stmt::Store {
                    place: Place::Var(max.clone()),
                    op: AssignOp::Max,
                    value: x,
                });
                body.code.close();
                // The exponentials kept for a softmax that reads them.
                let id = self.id_of(owner);
                let keep = body.keep_exps.contains(&id)
                    && owner.rank() == 0
                    && super::softmax::is_rank0_logsumexp(owner.rhs.as_ref(), index);
                let exps = format!("{acc}_exp");
                if keep {
                    body.code.push(Stmt::Alloc {
                        name: exps.clone(),
                        len: size
                            .constant()
                            .expect("kept exponentials have a fixed count"),
                        heap: false,
                    });
                }
                body.code.push(Stmt::scalar_acc(&acc, Reduce::Sum));
                body.code.open(i, size);
                let x = self.scalar(body, inner, owner, names);
                let shifted = Scalar::binary(
                    Binary::Sub,
                    Scalar::Shifted(Box::new(x)),
                    Scalar::Var(max.clone()),
                );
                let exp = Scalar::unary(Unary::Math("exp"), shifted);
                if keep {
                    let at = Access {
                        array: exps.clone(),
                        offset: Affine::var(i),
                    };
                    body.code.push(Stmt::Store {
                        place: Place::Elem(at.clone()),
                        op: AssignOp::Set,
                        value: exp,
                    });
                    body.code.push(add(&acc, Scalar::Load(at)));
                } else {
                    body.code.push(add(&acc, exp));
                }
                body.code.close();
                if keep {
                    let scale = format!("{acc}_scale");
                    body.code.push(Stmt::IfFinite {
                        name: scale.clone(),
                        test: max.clone(),
                        then: Scalar::binary(
                            Binary::Div,
                            Scalar::Num(1.0),
                            Scalar::Var(acc.clone()),
                        ),
                        otherwise: Scalar::Num(1.0),
                    });
                    body.kept.push(super::softmax::Kept {
                        lse: id,
                        exps,
                        scale,
                    });
                }
                let lse = format!("{acc}_lse");
                // The residual `(max - lse) + ln(sum)` (`crate::lse`), for
                // the value's definition to store, if a difference reads it;
                // then the logarithm is computed once, before both.
                let root = matches!(
                    &owner.rhs,
                    Some(Expr::Reduce { op: Reduction::LogSumExp, index: i, body: b })
                        if *i == index && std::ptr::eq(&**b, inner)
                );
                let residual = self.residual_needed(body, id).filter(|_| root);
                let mut ln_sum = Scalar::unary(Unary::Math("ln"), Scalar::Var(acc.clone()));
                if residual.is_some() {
                    let ln = format!("{acc}_ln");
                    body.code.push(Stmt::Let {
                        name: ln.clone(),
                        typed: false,
                        value: ln_sum,
                    });
                    ln_sum = Scalar::Var(ln);
                }
                body.code.push(Stmt::IfFinite {
                    name: lse.clone(),
                    test: max.clone(),
                    then: Scalar::binary(Binary::Add, Scalar::Var(max.clone()), ln_sum.clone()),
                    otherwise: Scalar::Var(max.clone()),
                });
                if let Some(r) = residual {
                    let lo = format!("{acc}_lo");
                    // The logsumexp is finite only where the max is.
                    body.code.push(Stmt::IfFinite {
                        name: lo.clone(),
                        test: lse.clone(),
                        then: Scalar::binary(
                            Binary::Add,
                            Scalar::binary(Binary::Sub, Scalar::Var(max), Scalar::Var(lse.clone())),
                            ln_sum,
                        ),
                        otherwise: Scalar::Num(0.0),
                    });
                    body.residual = Some((r, Scalar::Var(lo)));
                }
                Scalar::Var(lse)
            }
        }
    }

    /// A mean: the sum divided by the count where the sum is finite; where
    /// it overflowed, the terms again, each times 1 / 2^ceil(log2 n) (exact),
    /// so that a finite mean is never inf. As the interpreter's `mean_of`.
    fn mean(
        &self,
        body: &mut Body,
        index: IndexId,
        inner: &Expr,
        owner: &Value,
        names: &[String],
    ) -> Scalar {
        let size = self.extent(&owner.indices[index.index()].extent);
        let Scalar::Var(sum) = self.reduce(body, Reduction::Sum, index, inner, owner, names) else {
            unreachable!("a sum is read as its accumulator")
        };
        let name = format!("{sum}_mean");
        // The rescue is built apart, as the body of the `if`.
        let done = body.done.take();
        let outer = std::mem::take(&mut body.code);
        let (scale, pow2) = match size.constant() {
            Some(n) => {
                let pow2 = n.next_power_of_two();
                (1.0 / pow2 as f64, Scalar::Count(pow2.into()))
            }
            None => {
                // A run-time size: 2^ceil(log2 n) and its inverse as locals
                // of the rescue, the inverse standing for a number no
                // program holds (a NaN's payload).
                let real = self.float.name();
                let pow2 = format!("{name}_pow2");
                body.code.push(Stmt::Let {
                    name: pow2.clone(),
                    typed: false,
                    value: Scalar::Var(format!("{size}.next_power_of_two() as {real}")),
                });
                let inv = format!("{name}_scale");
                body.code.push(Stmt::Let {
                    name: inv.clone(),
                    typed: false,
                    value: Scalar::binary(Binary::Div, Scalar::Num(1.0), Scalar::Var(pow2.clone())),
                });
                let marker = f64::from_bits(0x7ff8_dead_beef_0001);
                body.pow2_inv = Some((marker.to_bits(), inv));
                (marker, Scalar::Var(pow2))
            }
        };
        let scaled = Expr::binary(BinOp::Mul, inner.clone(), Expr::Num(scale));
        let rescued = self.reduce(body, Reduction::Sum, index, &scaled, owner, names);
        body.pow2_inv = None;
        let rescue = std::mem::replace(&mut body.code, outer).take();
        body.done = done;
        body.code.push(Stmt::Mean {
            name: name.clone(),
            sum,
            size: Scalar::Count(size),
            pow2,
            rescue,
            rescued,
        });
        Scalar::Var(name)
    }

    /// A chain of sums in taps form (`Order::Taps`): loops over the
    /// left-hand indices but the last, `j`; a row of accumulators, one per
    /// `j`; the sums' loops, and inside them the loop over `j` that adds
    /// each term into its accumulator (reads sliced to their rows); then
    /// the loop over `j` that stores each element's formula, its sum the
    /// accumulator.
    fn taps(&self, body: &mut Body, v: &Value, sums: &[IndexId], names: &[String], out: &str) {
        let rhs = v.rhs.as_ref().expect("taps are a definition");
        let rank = v.rank();
        let last = IndexId(rank as u32 - 1);
        let len = v.shape[rank - 1].size;
        for (name, extent) in names.iter().zip(&v.shape[..rank - 1]) {
            body.code.open(name, self.extent(extent));
        }
        body.fresh += 1;
        let acc = self.internal(&format!("acc{}", body.fresh));
        body.code.push(Stmt::Acc {
            name: acc.clone(),
            init: AccInit::Identity {
                op: Reduce::Sum,
                lanes: len,
            },
        });
        let mut inner = rhs;
        while !matches!(inner, Expr::Reduce { .. }) {
            inner = match inner {
                Expr::Unary { arg, .. } => arg,
                Expr::Binary { lhs, rhs, .. } if has_sum(lhs) => lhs,
                Expr::Binary { rhs, .. } => rhs,
                _ => unreachable!("taps have a sum"),
            };
        }
        for r in sums {
            let Expr::Reduce { body: b, .. } = inner else {
                unreachable!("taps are a chain of sums");
            };
            inner = b;
            let name = if mentions(inner, *r) {
                names[r.index()].as_str()
            } else {
                "_"
            };
            body.code
                .open(name, self.extent(&v.indices[r.index()].extent));
        }
        let n = Size::from(len);
        self.slice_rows(body, inner, last, &n, names);
        let j = &names[last.index()];
        let at = Access {
            array: acc.clone(),
            offset: Affine::var(j),
        };
        body.code.open(j, len);
        let x = self.scalar(body, inner, v, names);
        body.code.push(Stmt::Store {
            place: Place::Elem(at.clone()),
            op: AssignOp::Add,
            value: x,
        });
        body.code.close();
        self.end_rows(body);
        for _ in sums {
            body.code.close();
        }
        body.code.open(j, len);
        body.taps = Some((sums[0], Scalar::Load(at)));
        self.element(body, v, rhs, names, out);
        body.taps = None;
        body.code.close();
        for _ in 0..rank - 1 {
            body.code.close();
        }
    }

    /// Sums around solved sums in spread form (`Order::Spread`): loops over
    /// the left-hand indices that no sum solves, the outer sums, then the
    /// solved indices, each term added into the element it belongs to
    /// (`out[n, c, i + di, j + dj] += ...`; zeroed first when `zero`).
    fn spread(
        &self,
        body: &mut Body,
        v: &Value,
        spread: &schedule::Spread,
        names: &[String],
        out: &str,
        zero: bool,
    ) {
        if zero {
            body.code.push(Stmt::Fill(out.to_string()));
        }
        let mut inner = v.rhs.as_ref().expect("a spread is a definition");
        while let Expr::Reduce { body, .. } | Expr::Solve { body, .. } = inner {
            inner = body;
        }
        let target = |m: usize| spread.solved.iter().find(|(at, ..)| *at == m);
        let used = |i: IndexId| {
            mentions(inner, i) || spread.solved.iter().any(|(.., t)| t.coefficient(i) != 0)
        };
        let mut loops = 0;
        for m in (0..v.rank()).filter(|m| target(*m).is_none()) {
            body.code.open(&names[m], self.extent(&v.shape[m]));
            loops += 1;
        }
        let subs: Vec<Sub> = (0..v.rank())
            .map(|m| match target(m) {
                Some((.., t)) => t.sub(),
                None => Sub::Var(IndexId(m as u32)),
            })
            .collect();
        let indices: Vec<IndexId> = spread
            .sums
            .iter()
            .chain(spread.solved.iter().map(|(_, i, _)| i))
            .copied()
            .collect();
        let (last, outer) = indices.split_last().expect("a spread solves a sum");
        for i in outer {
            let name = if used(*i) {
                names[i.index()].as_str()
            } else {
                "_"
            };
            body.code
                .open(name, self.extent(&v.indices[i.index()].extent));
            loops += 1;
        }
        // The innermost loop walks rows: of the reads, and of the output
        // where the innermost index lands with stride 1 in its last subscript
        // (`d_p1[n, c, i + di, j + dj]` along `j`), sliced before it.
        let n = self.extent(&v.indices[last.index()].extent);
        let mut place = self.elem(out, v, &subs, names);
        if schedule::row(&subs, *last) {
            let key = self.row_key_of(v, out, &subs, *last, &n, names);
            let row = self.fresh_name(body, &format!("{out}_row"), names);
            body.code.push(Stmt::Slice {
                name: row.clone(),
                row: key,
                mutable: true,
            });
            place = Place::Elem(Access {
                array: row,
                offset: Affine::var(&names[last.index()]),
            });
        }
        self.slice_rows(body, inner, *last, &n, names);
        let name = if used(*last) {
            names[last.index()].as_str()
        } else {
            "_"
        };
        body.code.open(name, n);
        let value = self.scalar(body, inner, v, names);
        body.code.push(Stmt::Store {
            place,
            op: AssignOp::Add,
            value,
        });
        body.code.close();
        self.end_rows(body);
        for _ in 0..loops {
            body.code.close();
        }
    }

    /// A sum in scatter form (`Order::Scatter`): loops over the left-hand
    /// indices but the last, then the summed index, then the last one, each
    /// term added into the output's row (zeroed first when `zero`).
    #[allow(clippy::too_many_arguments)]
    fn scatter(
        &self,
        body: &mut Body,
        v: &Value,
        (index, unroll): (IndexId, usize),
        inner: &Expr,
        names: &[String],
        out: &str,
        zero: bool,
    ) {
        if zero {
            body.code.push(Stmt::Fill(out.to_string()));
        }
        let last = v.rank() - 1;
        for (name, extent) in names.iter().zip(&v.shape[..last]) {
            body.code.open(name, self.extent(extent));
        }
        let size = self.extent(&v.indices[index.index()].extent);
        let r = &names[index.index()];
        // The terms that the unrolled passes add; the rest, one per pass.
        // (The schedule unrolls only a sum of a fixed number of terms.)
        let whole = match size.constant() {
            Some(size) if unroll > 1 => size / unroll * unroll,
            _ => 0,
        };
        if unroll > 1 {
            // Four terms per pass over the row, added in the order r, r + 1,
            // ...: the same sums as one term per pass, a quarter of the
            // loads and stores of the output row.
            let size = size.constant().expect("an unrolled sum has a fixed size");
            let (variants, taken) = self.unrolled(body, names, index.index(), size, unroll);
            self.scatter_row(body, v, inner, &variants, out, &taken);
        }
        if size.constant().is_none_or(|size| whole < size) {
            if unroll > 1 {
                body.code.open_rest(r, size, unroll);
            } else {
                body.code.open(r, size);
            }
            self.scatter_row(body, v, inner, &[names.to_vec()], out, names);
        }
        for _ in 0..last {
            body.code.close();
        }
    }

    /// The innermost loop of a scatter: each variant's term (one per value
    /// of the summed index) added, in order, into the output's row; closes
    /// the loop around it too.
    fn scatter_row(
        &self,
        body: &mut Body,
        v: &Value,
        inner: &Expr,
        variants: &[Vec<String>],
        out: &str,
        taken: &[String],
    ) {
        let names = &variants[0];
        let last = v.rank() - 1;
        let mut own: Vec<Sub> = (0..v.rank() as u32).map(|i| Sub::Var(IndexId(i))).collect();
        own[last] = Sub::Lit(0);
        let n = self.extent(&v.shape[last]);
        let row = self.fresh_name(body, &format!("{out}_row"), taken);
        let key = Row {
            array: out.to_string(),
            start: self.flat_index(v, &own, names),
            len: n.clone(),
        };
        body.code.push(Stmt::Slice {
            name: row.clone(),
            row: key.clone(),
            mutable: true,
        });
        body.rows.push((key, row.clone()));
        for vn in variants {
            self.slice_rows(body, inner, IndexId(last as u32), &n, vn);
        }
        let j = &names[last];
        let at = Place::Elem(Access {
            array: row.clone(),
            offset: Affine::var(j),
        });
        body.code.open(j, n);
        if let [vn] = variants {
            let value = self.scalar(body, inner, v, vn);
            body.code.push(Stmt::Store {
                place: at,
                op: AssignOp::Add,
                value,
            });
        } else {
            body.fresh += 1;
            let acc = self.internal(&format!("acc{}", body.fresh));
            body.code.push(Stmt::Acc {
                name: acc.clone(),
                init: AccInit::From(Scalar::Load(Access {
                    array: row.clone(),
                    offset: Affine::var(j),
                })),
            });
            for vn in variants {
                let value = self.scalar(body, inner, v, vn);
                body.code.push(Stmt::Store {
                    place: Place::Var(acc.clone()),
                    op: AssignOp::Add,
                    value,
                });
            }
            body.code.push(Stmt::Store {
                place: at,
                op: AssignOp::Set,
                value: Scalar::Var(acc),
            });
        }
        body.code.close();
        self.end_rows(body);
        body.code.close();
    }

    /// A sum over the innermost loop with `lanes` independent accumulators
    /// (the array `acc`, combined into the scalar `acc` in a fixed order):
    /// term `i` goes into lane `i mod lanes`, so LLVM can vectorise it. Each
    /// variant (index names, accumulator) is one such sum; a blocked nest's
    /// share the loop. With `fresh` false the accumulators are a chain's
    /// (`Nest::chain`), declared and combined around the chain's outer loops.
    #[allow(clippy::too_many_arguments)]
    fn lanes(
        &self,
        body: &mut Body,
        index: IndexId,
        inner: &Expr,
        owner: &Value,
        variants: &[(Vec<String>, String)],
        lanes: usize,
        fresh: bool,
    ) {
        let size = owner.indices[index.index()].extent.size;
        debug_assert!(!self.p.is_runtime(&owner.indices[index.index()].extent));
        let names = &variants[0].0;
        let i = &names[index.index()];
        let whole = size / lanes * lanes;
        for (names, acc) in variants {
            if fresh {
                body.code.push(Stmt::Acc {
                    name: acc.clone(),
                    init: AccInit::Identity {
                        op: Reduce::Sum,
                        lanes,
                    },
                });
            }
            self.slice_rows(body, inner, index, &size.into(), names);
        }
        let every: Vec<String> = variants.iter().flat_map(|(n, _)| n.clone()).collect();
        let chunk = self.fresh_name(body, &format!("{i}_chunk"), &every);
        let lane = self.fresh_name(body, &format!("{i}_lane"), &every);
        body.code.open_blocks(&chunk, size, lanes);
        body.code.open(&lane, lanes);
        body.code.push(Stmt::Index {
            name: i.clone(),
            value: Affine {
                terms: vec![(chunk.clone(), lanes.into()), (lane.clone(), 1.into())],
                constant: 0,
            },
        });
        let term = |acc: &str, offset: Affine, value| Stmt::Store {
            place: Place::Elem(Access {
                array: acc.to_string(),
                offset,
            }),
            op: AssignOp::Add,
            value,
        };
        for (names, acc) in variants {
            let x = self.scalar(body, inner, owner, names);
            body.code.push(term(acc, Affine::var(&lane), x));
        }
        body.code.close();
        body.code.close();
        if whole < size {
            body.code.open_rest(i, size, lanes);
            for (names, acc) in variants {
                let x = self.scalar(body, inner, owner, names);
                let offset = Affine {
                    terms: vec![(i.clone(), 1.into())],
                    constant: -(whole as isize),
                };
                body.code.push(term(acc, offset, x));
            }
            body.code.close();
        }
        self.end_rows(body);
        for (_, acc) in variants.iter().filter(|_| fresh) {
            body.code.push(Stmt::Combine(acc.clone()));
        }
    }

    /// Slices each read of `e` that walks one row along `index` (extent `n`)
    /// to that row, before the loop over `index`, so the loop indexes a slice
    /// of known length and keeps no bounds check. Reads of the same row
    /// share one slice.
    fn slice_rows(&self, body: &mut Body, e: &Expr, index: IndexId, n: &Size, names: &[String]) {
        body.row_index = Some((index, n.clone()));
        // The slice is taken before any `where` in `e`. A read at an affine
        // subscript inside a branch may be in bounds only where the branch
        // is taken (range refinement), so only unguarded ones are sliced; a
        // plain read (`x[n, j]`) is in bounds at every point of its
        // indices' ranges, in a branch or not.
        let mut reads = Vec::new();
        schedule::for_each_unguarded_read(e, &mut |u, subs| {
            if self.p.value(u).rank() > 0 && schedule::row(subs, index) {
                reads.push((u, subs.to_vec()));
            }
        });
        e.for_each_read(&mut |u, subs| {
            let plain = matches!(subs.last(), Some(Sub::Var(v)) if *v == index);
            if plain && self.p.value(u).rank() > 0 && schedule::row(subs, index) {
                reads.push((u, subs.to_vec()));
            }
        });
        for (u, subs) in reads {
            let key = self.row_key(u, &subs, index, n, names);
            if body.rows.iter().any(|(k, _)| *k == key) {
                continue;
            }
            let ident = &self.idents[u.index()];
            let row = self.fresh_name(body, &format!("{ident}_row"), names);
            body.code.push(Stmt::Slice {
                name: row.clone(),
                row: key.clone(),
                mutable: false,
            });
            body.rows.push((key, row));
        }
    }

    /// The row a read walks (`x[n * 784..n * 784 + 784]`).
    fn row_key(&self, u: ValueId, subs: &[Sub], index: IndexId, n: &Size, names: &[String]) -> Row {
        self.row_key_of(
            self.p.value(u),
            &self.idents[u.index()],
            subs,
            index,
            n,
            names,
        )
    }

    /// The row of `array`, a tensor of the shape of `v`, that `subs` walk
    /// along `index`.
    fn row_key_of(
        &self,
        v: &Value,
        array: &str,
        subs: &[Sub],
        index: IndexId,
        n: &Size,
        names: &[String],
    ) -> Row {
        let mut start = subs.to_vec();
        let last = start.last_mut().expect("a row has a subscript");
        // The subscript at index 0: `dj + j` starts at `dj`.
        let without = crate::ir::Affine::new(0, &[(index, -1)]).expect("one term");
        *last = last.affine().add(&without).sub();
        Row {
            array: array.to_string(),
            start: self.flat_index(v, &start, names),
            len: n.clone(),
        }
    }

    /// Forgets the rows sliced for the loop just closed.
    fn end_rows(&self, body: &mut Body) {
        body.rows.clear();
        body.row_index = None;
    }

    /// A name for a local of the innermost loops, unique among the
    /// function's names, the value's index variables and the rows in scope.
    fn fresh_name(&self, body: &Body, base: &str, names: &[String]) -> String {
        unique(base, |c| {
            self.taken.contains(c)
                || names.iter().any(|n| n == c)
                || body.rows.iter().any(|(_, r)| r == c)
        })
    }
}

/// The value of a finished `sum` or `mean` accumulator `acc` over `size` terms.
fn summed(op: Reduction, acc: String, size: Size) -> Scalar {
    if op == Reduction::Mean {
        Scalar::binary(Binary::Div, Scalar::Var(acc), Scalar::Count(size))
    } else {
        Scalar::Var(acc)
    }
}

/// `e` with its one sum replaced by `by`.
fn replace_sum(e: &Expr, by: &Expr) -> Expr {
    match e {
        Expr::Reduce { .. } => by.clone(),
        Expr::Unary { func, arg } => Expr::unary(*func, replace_sum(arg, by)),
        Expr::Binary { op, lhs, rhs } => {
            Expr::binary(*op, replace_sum(lhs, by), replace_sum(rhs, by))
        }
        other => other.clone(),
    }
}

/// The innermost sum of a chain of sums (`Nest::chain`), `e` the body of
/// one of its outer sums.
fn chain_end(e: &Expr) -> IndexId {
    match e {
        Expr::Reduce { index, body, .. } if matches!(&**body, Expr::Reduce { .. }) => {
            chain_end(body)
        }
        Expr::Reduce { index, .. } => *index,
        _ => unreachable!("a chain ends in a sum"),
    }
}

/// The one sum of a right-hand side that a blocked nest computes: its
/// index and body.
fn the_sum(e: &Expr) -> (IndexId, &Expr) {
    match e {
        Expr::Reduce { index, body, .. } => (*index, body),
        Expr::Unary { arg, .. } => the_sum(arg),
        Expr::Binary { lhs, rhs, .. } => {
            if has_sum(lhs) {
                the_sum(lhs)
            } else {
                the_sum(rhs)
            }
        }
        _ => unreachable!("a blocked nest has a sum"),
    }
}

/// Whether `e` holds a sum.
fn has_sum(e: &Expr) -> bool {
    match e {
        Expr::Reduce { .. } => true,
        Expr::Unary { arg, .. } => has_sum(arg),
        Expr::Binary { lhs, rhs, .. } => has_sum(lhs) || has_sum(rhs),
        _ => false,
    }
}

/// The `libm` function for std's float method `f`.
pub(super) fn libm_name(f: &str, float: super::Float) -> &'static str {
    let (f64_name, f32_name) = match f {
        "exp" => ("exp", "expf"),
        "ln" => ("log", "logf"),
        "ln_1p" => ("log1p", "log1pf"),
        "tanh" => ("tanh", "tanhf"),
        "sqrt" => ("sqrt", "sqrtf"),
        "sin" => ("sin", "sinf"),
        "cos" => ("cos", "cosf"),
        "abs" => ("fabs", "fabsf"),
        "powf" => ("pow", "powf"),
        _ => unreachable!("no libm function for `{f}`"),
    };
    match float {
        super::Float::F64 => f64_name,
        super::Float::F32 => f32_name,
    }
}

/// The exponent of a power computed with `powi`: a small integer constant.
pub(super) fn integer_exponent(e: &Expr) -> Option<i32> {
    match e {
        Expr::Num(n) if n.fract() == 0.0 && n.abs() <= 64.0 => Some(*n as i32),
        _ => None,
    }
}
