//! Statement lowering: definitions to loop nests, reductions to
//! accumulators, long expressions to `let` temporaries.

use super::schedule::{self, mentions, Order};
use super::{sanitize, unique, Body, Core, Generator, Store, MAX_EXPR};
use crate::ir::{BinOp, Expr, Func, IndexId, Reduction, Sub, Value, ValueId, ValueKind};

/// A generated expression and how tightly it binds.
pub(super) struct Operand {
    pub(super) text: String,
    strength: u8,
}

const ADD: u8 = 1;
const MUL: u8 = 2;
const NEG: u8 = 3;
const ATOM: u8 = 4;

impl Operand {
    pub(super) fn atom(text: String) -> Operand {
        Operand {
            text,
            strength: ATOM,
        }
    }

    /// The text, parenthesised if it binds less tightly than `min`.
    pub(super) fn at(&self, min: u8) -> String {
        if self.strength < min {
            format!("({})", self.text)
        } else {
            self.text.clone()
        }
    }
}

impl Generator<'_> {
    /// Computes every needed definition, in order. Inputs and params are the
    /// core function's parameters.
    pub(super) fn values(&self, body: &mut Body, need: &[bool], core: Core) {
        // One packing buffer for every matrix product of the function,
        // allocated once per call (without std: a piece of the scratch
        // buffer, split off in the function's head).
        if let Some(len) = self.pack_len(need).filter(|_| !self.no_std) {
            let pack = self.internal("pack");
            body.w
                .line("// The matrix products' packed panels (`gemm::pack_len`, the largest).");
            body.w.line(&format!("let mut {pack} = vec![0.0; {len}];"));
            self.heap.set(true);
        }
        for id in self.p.ids() {
            if need[id.index()]
                && !matches!(self.p.value(id).kind, ValueKind::Input | ValueKind::Param)
            {
                self.definition(body, id, core);
            }
        }
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
        let need = self.needed(&self.targets(core));
        self.p
            .ids()
            .filter(|id| {
                need[id.index()]
                    && !matches!(self.p.value(*id).kind, ValueKind::Input | ValueKind::Param)
                    && self.store(*id, core) == Store::Scratch
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
    pub(super) fn definition(&self, body: &mut Body, id: ValueId, core: Core) {
        let v = self.p.value(id);
        let ident = self.idents[id.index()].clone();
        let real = self.float.name();
        let rhs = v.rhs.as_ref().expect("a definition has a right-hand side");
        body.w.blank();
        if v.kind == ValueKind::Adjoint {
            let derivation =
                self.original[id.index()].map(|old| crate::explain::derivation(self.g, old));
            for line in derivation.unwrap_or_default() {
                body.w.line(&format!("// {line}"));
            }
        } else {
            body.w
                .line(&format!("// {}", crate::pretty::definition(self.p, v)));
        }
        let names = self.index_idents(v);
        let store = self.store(id, core);
        let out = match store {
            Store::Grad(param) => self.grad_name(param),
            _ => ident.clone(),
        };
        let nest = &self.schedule[id.index()];
        if let Some(text) = schedule::describe(nest, v, &out, &names) {
            body.w.line(&format!("// {text}"));
        }
        if v.rank() == 0 {
            let value = self.lower(body, rhs, v, &names);
            match store {
                Store::Grad(param) => {
                    body.w
                        .line(&format!("*{} = {};", self.grad_name(param), value.text))
                }
                _ => body
                    .w
                    .line(&format!("let {ident}: {real} = {};", value.text)),
            }
            if core == Core::Forward && self.p.outputs.contains(&id) {
                body.w.line(&format!("*{} = {ident};", self.out_name(id)));
            }
            return;
        }
        match store {
            Store::Local if self.off_stack[core as usize][id.index()] => {
                self.heap.set(true);
                body.w
                    .line(&format!("let mut {ident} = vec![0.0; {}];", v.len()))
            }
            Store::Local => body
                .w
                .line(&format!("let mut {ident} = [0.0; {}];", v.len())),
            _ => {}
        }
        if let Order::Gemm(gemm) = &nest.order {
            self.gemm(body, (id, core), gemm, store, &names, &out);
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
            body.w
                .open(&format!("for {} in 0..{} {{", names[m], extent.size));
        }
        self.element(body, v, rhs, &names, &out);
        for _ in 0..v.rank() {
            body.w.close();
        }
    }

    /// One element of a gather nest: its value, stored at `out[own indices]`.
    fn element(&self, body: &mut Body, v: &Value, rhs: &Expr, names: &[String], out: &str) {
        let value = self.lower(body, rhs, v, names);
        let own: Vec<Sub> = (0..v.rank() as u32).map(|i| Sub::Var(IndexId(i))).collect();
        let at = self.flat_index(v, &own, names);
        body.w.line(&format!("{out}[{at}] = {};", value.text));
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
        let operand = |u: ValueId| {
            let name = &self.idents[u.index()];
            match self.p.value(u).kind {
                ValueKind::Input | ValueKind::Param => name.clone(),
                _ if self.store(u, core) == Store::Local => format!("&{name}"),
                _ => name.clone(),
            }
        };
        let target = match store {
            Store::Local => format!("&mut {out}"),
            _ => out.to_string(),
        };
        let pack = self.internal("pack");
        let (m, n, k) = (gemm.m, gemm.n, gemm.k);
        let (a, rsa, csa) = gemm.a;
        let (b, rsb, csb) = gemm.b;
        let args = [
            m.to_string(),
            n.to_string(),
            k.to_string(),
            operand(a),
            rsa.to_string(),
            csa.to_string(),
            operand(b),
            rsb.to_string(),
            csb.to_string(),
            target,
            n.to_string(),
            "1".to_string(),
            "false".to_string(),
            if self.no_std {
                pack
            } else {
                format!("&mut {pack}")
            },
        ];
        body.w.simple_call("gemm::gemm", &args);
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
            body.w
                .open(&format!("for {} in 0..{} {{", names[m], extent.size));
        }
        // `c += b1[j]` where the rest is one operation on the product.
        let assign = match &rest {
            Expr::Binary { op, lhs, rhs } if **lhs == product => {
                let sign = match op {
                    BinOp::Add => Some("+="),
                    BinOp::Sub => Some("-="),
                    BinOp::Mul => Some("*="),
                    BinOp::Div => Some("/="),
                    _ => None,
                };
                sign.map(|s| (s, &**rhs))
            }
            Expr::Binary { op, lhs, rhs } if **rhs == product => match op {
                BinOp::Add => Some(("+=", &**lhs)),
                BinOp::Mul => Some(("*=", &**lhs)),
                _ => None,
            },
            _ => None,
        };
        match assign {
            Some((sign, other)) => {
                let value = self.lower(body, other, v, names);
                let at = self.flat_index(v, &own, names);
                body.w.line(&format!("{out}[{at}] {sign} {};", value.text));
            }
            None => self.element(body, v, &rest, names, out),
        }
        for _ in 0..v.rank() {
            body.w.close();
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
        body.w
            .open(&format!("for {block} in 0..{} {{", size / count));
        let mut variants = Vec::new();
        let mut taken: Vec<String> = names.to_vec();
        for u in 0..count {
            let name = self.fresh_name(body, &format!("{base}{u}"), &taken);
            taken.push(name.clone());
            let offset = if u == 0 {
                String::new()
            } else {
                format!(" + {u}")
            };
            body.w
                .line(&format!("let {name} = {block} * {count}{offset};"));
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
            body.w
                .open(&format!("for {} in 0..{} {{", names[*m], v.shape[*m].size));
        }
        let lanes = self.schedule[self.id_of(v).index()].lanes[index.index()];
        self.lanes(body, index, inner, v, &variants, lanes);
        for (vn, acc) in &variants {
            body.done = Some((index, acc.clone()));
            self.element(body, v, rhs, vn, out);
        }
        body.done = None;
        for _ in 0..=others.len() {
            body.w.close();
        }
        if whole < size {
            body.w
                .open(&format!("for {} in {whole}..{size} {{", names[b]));
            for m in &others {
                body.w
                    .open(&format!("for {} in 0..{} {{", names[*m], v.shape[*m].size));
            }
            self.element(body, v, rhs, names, out);
            for _ in 0..=others.len() {
                body.w.close();
            }
        }
    }

    /// `j * 3 + i`: the row-major offset of `value[subs]`, in the reader's names.
    pub(super) fn flat_index(&self, value: &Value, subs: &[Sub], names: &[String]) -> String {
        let strides = crate::eval::strides(value);
        let mut constant = 0;
        let mut terms = Vec::new();
        for (s, stride) in subs.iter().zip(strides) {
            match s {
                Sub::Lit(n) => constant += n * stride,
                Sub::Var(v) if stride == 1 => terms.push(names[v.index()].clone()),
                Sub::Var(v) => terms.push(format!("{} * {stride}", names[v.index()])),
            }
        }
        if constant > 0 || terms.is_empty() {
            terms.push(constant.to_string());
        }
        terms.join(" + ")
    }

    /// A float literal of the generated type.
    pub(super) fn literal(&self, x: f64) -> Operand {
        let real = self.float.name();
        let text = if x.is_infinite() {
            format!(
                "{real}::{}",
                if x > 0.0 { "INFINITY" } else { "NEG_INFINITY" }
            )
        } else if x.is_nan() {
            format!("{real}::NAN")
        } else {
            format!("{x:?}_{real}")
        };
        if x.is_sign_negative() && x.is_finite() {
            Operand {
                text,
                strength: NEG,
            }
        } else {
            Operand::atom(text)
        }
    }

    /// Binds a long operand to a temporary, so that lines stay short.
    pub(super) fn short(&self, body: &mut Body, op: Operand) -> Operand {
        if op.text.len() <= MAX_EXPR {
            return op;
        }
        body.fresh += 1;
        let name = self.internal(&format!("t{}", body.fresh));
        body.w.line(&format!("let {name} = {};", op.text));
        Operand::atom(name)
    }

    /// Binds the longer operand, then if need be the other, to temporaries
    /// until the two fit on one line together.
    pub(super) fn fit(&self, body: &mut Body, l: Operand, r: Operand) -> (Operand, Operand) {
        let bind = |body: &mut Body, op: Operand| {
            body.fresh += 1;
            let name = self.internal(&format!("t{}", body.fresh));
            body.w.line(&format!("let {name} = {};", op.text));
            Operand::atom(name)
        };
        let (mut l, mut r) = (l, r);
        if l.text.len() + r.text.len() > MAX_EXPR {
            if l.text.len() >= r.text.len() {
                l = bind(body, l);
            } else {
                r = bind(body, r);
            }
        }
        if l.text.len() + r.text.len() > MAX_EXPR {
            if l.strength == ATOM && l.text.len() < r.text.len() {
                r = bind(body, r);
            } else {
                l = bind(body, l);
            }
        }
        (l, r)
    }

    /// Lowers an expression of `owner` to statements and a final operand.
    pub(super) fn lower(
        &self,
        body: &mut Body,
        e: &Expr,
        owner: &Value,
        names: &[String],
    ) -> Operand {
        let op = match e {
            Expr::Num(x) => self.literal(*x),
            Expr::Read { value, subs } => {
                let v = self.p.value(*value);
                let ident = &self.idents[value.index()];
                let row = match body.row_index {
                    Some((index, n)) if v.rank() > 0 && schedule::row(subs, index) => {
                        let key = self.row_key(*value, subs, n, names);
                        body.rows.iter().find(|(k, _)| *k == key).cloned()
                    }
                    _ => None,
                };
                if let Some((_, slice)) = row {
                    let Some(Sub::Var(last)) = subs.last() else {
                        unreachable!("a row is walked by its last subscript");
                    };
                    Operand::atom(format!("{slice}[{}]", names[last.index()]))
                } else if v.rank() == 0 {
                    Operand::atom(ident.clone())
                } else {
                    Operand::atom(format!("{ident}[{}]", self.flat_index(v, subs, names)))
                }
            }
            Expr::Delta(a, b) => {
                let s = |s: &Sub| match s {
                    Sub::Var(v) => names[v.index()].clone(),
                    Sub::Lit(n) => n.to_string(),
                };
                Operand::atom(format!("ops::delta({}, {})", s(a), s(b)))
            }
            Expr::Unary { func, arg } => {
                let a = self.lower(body, arg, owner, names);
                let a = self.short(body, a);
                match func {
                    Func::Neg => Operand {
                        text: format!("-{}", a.at(NEG + 1)),
                        strength: NEG,
                    },
                    Func::Exp | Func::Sqrt | Func::Tanh | Func::Sin | Func::Cos | Func::Abs => {
                        self.math(func.name(), &a, None)
                    }
                    Func::Log => self.math("ln", &a, None),
                    Func::Sigmoid | Func::Relu | Func::Softplus | Func::Step | Func::Sign => {
                        Operand::atom(format!("ops::{}({})", func.name(), a.text))
                    }
                }
            }
            Expr::Binary { op, lhs, rhs } => {
                let l = self.lower(body, lhs, owner, names);
                let r = self.lower(body, rhs, owner, names);
                let (l, r) = self.fit(body, l, r);
                match op {
                    BinOp::Add => Operand {
                        text: format!("{} + {}", l.at(ADD), r.at(ADD + 1)),
                        strength: ADD,
                    },
                    BinOp::Sub => Operand {
                        text: format!("{} - {}", l.at(ADD), r.at(ADD + 1)),
                        strength: ADD,
                    },
                    BinOp::Mul => Operand {
                        text: format!("{} * {}", l.at(MUL), r.at(MUL + 1)),
                        strength: MUL,
                    },
                    BinOp::Div => Operand {
                        text: format!("{} / {}", l.at(MUL), r.at(MUL + 1)),
                        strength: MUL,
                    },
                    BinOp::Pow => match integer_exponent(rhs) {
                        Some(n) => self.math("powi", &l, Some(&n.to_string())),
                        None => self.math("powf", &l, Some(&r.text)),
                    },
                    BinOp::Max => Operand::atom(format!("ops::max({}, {})", l.text, r.text)),
                    BinOp::Min => Operand::atom(format!("ops::min({}, {})", l.text, r.text)),
                    BinOp::XLogY => Operand::atom(format!("ops::xlogy({}, {})", l.text, r.text)),
                }
            }
            Expr::Reduce {
                op,
                index,
                body: inner,
            } => self.reduce(body, *op, *index, inner, owner, names),
        };
        op
    }

    /// A call of a float function `f` named as std's method: the method in
    /// std (`x.exp()`), the `libm` function without std (`libm::exp(x)`),
    /// with `powi` an `ops` helper since `libm` has none.
    pub(super) fn math(&self, f: &'static str, x: &Operand, arg: Option<&str>) -> Operand {
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
    ) -> Operand {
        if op == Reduction::Mean {
            return self.mean(body, index, inner, owner, names);
        }
        let real = self.float.name();
        let size = owner.indices[index.index()].extent.size;
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
        match op {
            Reduction::Sum | Reduction::Mean if done.is_some() || lanes > 1 => {
                let acc = match done {
                    Some(acc) => acc,
                    None => {
                        let variants = [(names.to_vec(), acc)];
                        self.lanes(body, index, inner, owner, &variants, lanes);
                        let [(_, acc)] = variants;
                        acc
                    }
                };
                summed(op, acc, size)
            }
            Reduction::Sum | Reduction::Mean => {
                body.w.line(&format!("let mut {acc}: {real} = 0.0;"));
                body.w.open(&format!("for {i} in 0..{size} {{"));
                let x = self.lower(body, inner, owner, names);
                body.w.line(&format!("{acc} += {};", x.text));
                body.w.close();
                summed(op, acc, size)
            }
            Reduction::LogSumExp => {
                let max = format!("{acc}_max");
                body.w
                    .line(&format!("let mut {max} = {real}::NEG_INFINITY;"));
                body.w.open(&format!("for {i} in 0..{size} {{"));
                let x = self.lower(body, inner, owner, names);
                body.w.line(&format!("{max} = {max}.max({});", x.text));
                body.w.close();
                body.w.line(&format!("let mut {acc}: {real} = 0.0;"));
                body.w.open(&format!("for {i} in 0..{size} {{"));
                let x = self.lower(body, inner, owner, names);
                let shifted = Operand {
                    text: format!("{} - {max}", x.at(ADD + 1)),
                    strength: ADD,
                };
                let e = self.math("exp", &shifted, None);
                body.w.line(&format!("{acc} += {};", e.text));
                body.w.close();
                let lse = format!("{acc}_lse");
                body.w.open(&format!("let {lse} = if {max}.is_finite() {{"));
                let ln = self.math("ln", &Operand::atom(acc.clone()), None);
                body.w.line(&format!("{max} + {}", ln.text));
                body.w.level -= 1;
                body.w.open("} else {");
                body.w.line(&max);
                body.w.level -= 1;
                body.w.line("};");
                Operand::atom(lse)
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
    ) -> Operand {
        let size = owner.indices[index.index()].extent.size;
        let sum = self.reduce(body, Reduction::Sum, index, inner, owner, names);
        let pow2 = size.next_power_of_two();
        let mean = format!("{}_mean", sum.text);
        body.w
            .line(&format!("let mut {mean} = {} / {size}.0;", sum.text));
        body.w.open(&format!("if !{}.is_finite() {{", sum.text));
        let done = body.done.take();
        let scaled = Expr::binary(BinOp::Mul, inner.clone(), Expr::Num(1.0 / pow2 as f64));
        let rescued = self.reduce(body, Reduction::Sum, index, &scaled, owner, names);
        body.done = done;
        body.w.line(&format!(
            "{mean} = {} / {size}.0 * {pow2}.0;",
            rescued.at(MUL)
        ));
        body.w.close();
        Operand::atom(mean)
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
            body.w.line(&format!("{out}.fill(0.0);"));
        }
        let last = v.rank() - 1;
        for (name, extent) in names.iter().zip(&v.shape[..last]) {
            body.w.open(&format!("for {name} in 0..{} {{", extent.size));
        }
        let size = v.indices[index.index()].extent.size;
        let r = &names[index.index()];
        // The terms that the unrolled passes add; the rest, one per pass.
        let whole = if unroll > 1 {
            size / unroll * unroll
        } else {
            0
        };
        if unroll > 1 {
            // Four terms per pass over the row, added in the order r, r + 1,
            // ...: the same sums as one term per pass, a quarter of the
            // loads and stores of the output row.
            let (variants, taken) = self.unrolled(body, names, index.index(), size, unroll);
            self.scatter_row(body, v, inner, &variants, out, &taken);
        }
        if whole < size {
            body.w.open(&format!("for {r} in {whole}..{size} {{"));
            self.scatter_row(body, v, inner, &[names.to_vec()], out, names);
        }
        for _ in 0..last {
            body.w.close();
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
        let n = v.shape[last].size;
        let row = self.fresh_name(body, &format!("{out}_row"), taken);
        let range = range(&self.flat_index(v, &own, names), n);
        body.w.line(&format!("let {row} = &mut {out}[{range}];"));
        body.rows.push((format!("{out}[{range}]"), row.clone()));
        for vn in variants {
            self.slice_rows(body, inner, IndexId(last as u32), n, vn);
        }
        let j = &names[last];
        body.w.open(&format!("for {j} in 0..{n} {{"));
        if let [vn] = variants {
            let value = self.lower(body, inner, v, vn);
            body.w.line(&format!("{row}[{j}] += {};", value.text));
        } else {
            body.fresh += 1;
            let acc = self.internal(&format!("acc{}", body.fresh));
            body.w.line(&format!("let mut {acc} = {row}[{j}];"));
            for vn in variants {
                let value = self.lower(body, inner, v, vn);
                body.w.line(&format!("{acc} += {};", value.text));
            }
            body.w.line(&format!("{row}[{j}] = {acc};"));
        }
        body.w.close();
        self.end_rows(body);
        body.w.close();
    }

    /// A sum over the innermost loop with `lanes` independent accumulators
    /// (the array `acc`, combined into the scalar `acc` in a fixed order):
    /// term `i` goes into lane `i mod lanes`, so LLVM can vectorise it. Each
    /// variant (index names, accumulator) is one such sum; a blocked nest's
    /// share the loop.
    fn lanes(
        &self,
        body: &mut Body,
        index: IndexId,
        inner: &Expr,
        owner: &Value,
        variants: &[(Vec<String>, String)],
        lanes: usize,
    ) {
        let real = self.float.name();
        let size = owner.indices[index.index()].extent.size;
        let names = &variants[0].0;
        let i = &names[index.index()];
        let (chunks, whole) = (size / lanes, size / lanes * lanes);
        for (names, acc) in variants {
            body.w.line(&format!(
                "let mut {acc}: [{real}; {lanes}] = [0.0; {lanes}];"
            ));
            self.slice_rows(body, inner, index, size, names);
        }
        let every: Vec<String> = variants.iter().flat_map(|(n, _)| n.clone()).collect();
        let chunk = self.fresh_name(body, &format!("{i}_chunk"), &every);
        let lane = self.fresh_name(body, &format!("{i}_lane"), &every);
        body.w.open(&format!("for {chunk} in 0..{chunks} {{"));
        body.w.open(&format!("for {lane} in 0..{lanes} {{"));
        body.w
            .line(&format!("let {i} = {chunk} * {lanes} + {lane};"));
        for (names, acc) in variants {
            let x = self.lower(body, inner, owner, names);
            body.w.line(&format!("{acc}[{lane}] += {};", x.text));
        }
        body.w.close();
        body.w.close();
        if whole < size {
            body.w.open(&format!("for {i} in {whole}..{size} {{"));
            for (names, acc) in variants {
                let x = self.lower(body, inner, owner, names);
                body.w.line(&format!("{acc}[{i} - {whole}] += {};", x.text));
            }
            body.w.close();
        }
        self.end_rows(body);
        for (_, acc) in variants {
            body.w.line(&format!("let {acc} = ops::lanes({acc});"));
        }
    }

    /// Slices each read of `e` that walks one row along `index` (extent `n`)
    /// to that row, before the loop over `index`, so the loop indexes a slice
    /// of known length and keeps no bounds check. Reads of the same row
    /// share one slice.
    fn slice_rows(&self, body: &mut Body, e: &Expr, index: IndexId, n: usize, names: &[String]) {
        body.row_index = Some((index, n));
        let mut reads = Vec::new();
        e.for_each_read(&mut |u, subs| {
            if self.p.value(u).rank() > 0 && schedule::row(subs, index) {
                reads.push((u, subs.to_vec()));
            }
        });
        for (u, subs) in reads {
            let key = self.row_key(u, &subs, n, names);
            if body.rows.iter().any(|(k, _)| *k == key) {
                continue;
            }
            let ident = &self.idents[u.index()];
            let row = self.fresh_name(body, &format!("{ident}_row"), names);
            body.w.line(&format!("let {row} = &{key};"));
            body.rows.push((key, row));
        }
    }

    /// The row a read walks, as written: `x[n * 784..n * 784 + 784]`.
    fn row_key(&self, u: ValueId, subs: &[Sub], n: usize, names: &[String]) -> String {
        let mut start = subs.to_vec();
        *start.last_mut().expect("a row has a subscript") = Sub::Lit(0);
        let range = range(&self.flat_index(self.p.value(u), &start, names), n);
        format!("{}[{range}]", self.idents[u.index()])
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
fn summed(op: Reduction, acc: String, size: usize) -> Operand {
    if op == Reduction::Mean {
        Operand {
            text: format!("{acc} / {size}.0"),
            strength: MUL,
        }
    } else {
        Operand::atom(acc)
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

/// `start..start + n`, or `0..n`.
fn range(start: &str, n: usize) -> String {
    if start == "0" {
        format!("0..{n}")
    } else {
        format!("{start}..{start} + {n}")
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
