//! The interpreter: evaluates every value of a program, forward and adjoint.
//!
//! Each right-hand side is compiled once into a small tree whose reads are
//! resolved to strided offsets, then run as a loop over the value's index
//! space. A reduction whose body is a product of reads (a contraction such as
//! `sum(i, w[j, i] * x[i])`) runs as a strided dot-product loop with four
//! accumulators. A value can also be recomputed over a region only (some
//! left-hand indices fixed), which is what makes the gradient check's probes cheap.

use crate::ir::{
    BinOp, Expr, Extreme, Func, Program, Recurrence, Reduction, Step, Sub, Value, ValueId,
    ValueKind,
};

/// The data of every value, row-major, indexed by `ValueId`.
pub type Tensors = Vec<Vec<f64>>;

/// Evaluates a program. `given` holds the data of each input and param (by
/// `ValueId`, row-major, of the declared length); the result holds every value.
pub fn run(program: &Program, given: &[Option<Vec<f64>>]) -> Tensors {
    Compiled::new(program).run(given)
}

/// Row-major strides of a value.
pub fn strides(v: &Value) -> Vec<usize> {
    let mut s = vec![1usize; v.rank()];
    for m in (0..v.rank().saturating_sub(1)).rev() {
        s[m] = s[m + 1] * v.shape[m + 1].size;
    }
    s
}

/// The subscripts `[i, j, ...]` of a flat row-major position in a value, as
/// text: `2, 1`.
pub fn subscripts(v: &Value, mut flat: usize) -> String {
    let at: Vec<String> = strides(v)
        .iter()
        .map(|s| {
            let i = flat / s;
            flat %= s;
            i.to_string()
        })
        .collect();
    at.join(", ")
}

/// The values a caller gives: inputs and params, in declaration order.
pub fn given_values(program: &Program) -> impl Iterator<Item = ValueId> + '_ {
    program
        .ids()
        .filter(|v| matches!(program.value(*v).kind, ValueKind::Input | ValueKind::Param))
}

/// The stack left below which [`Compiled::compute`] moves to a fresh one:
/// far more than the deepest expression needs.
const RED_ZONE: usize = 1 << 20;

/// Which elements of a value to compute: per left-hand dimension, one
/// position (`Some`) or all of them (`None`).
pub type Region = [Option<usize>];

/// A program compiled for evaluation: one kernel per right-hand side.
pub struct Compiled {
    /// Per slot: the values', then the residuals'.
    shapes: Vec<Vec<usize>>,
    kernels: Vec<Option<Kernel>>,
    /// Per value: the slot of its residual, for a logsumexp that a
    /// difference reads (`crate::lse`). Residual slots follow the values'.
    residual: Vec<Option<usize>>,
    /// The order of evaluation (`Program::schedule`).
    schedule: Vec<Step>,
    /// Per recurrence: its members, and its number of steps.
    recurrences: Vec<(Vec<ValueId>, usize)>,
}

/// One right-hand side: the compiled body and its index table's size.
struct Kernel {
    indices: usize,
    body: Node,
}

/// A read resolved to memory: `data[value][base + sum of env[var] * stride]`.
#[derive(Debug, Clone)]
struct Access {
    value: usize,
    base: usize,
    /// (index variable, stride), one entry per variable (a repeated
    /// variable, as in `w[i, i]`, has the sum of its strides).
    terms: Vec<(usize, usize)>,
}

impl Access {
    /// A negative coefficient (`x[N - 1 - i]`, `x[i - 1]`) is its two's
    /// complement stride: the wrapping sum is the offset, which sema proved
    /// in bounds.
    fn offset(&self, env: &[usize]) -> usize {
        self.terms.iter().fold(self.base, |o, &(var, stride)| {
            o.wrapping_add(env[var].wrapping_mul(stride))
        })
    }

    /// How far the offset moves when `var` grows by one.
    fn step(&self, var: usize) -> usize {
        self.terms
            .iter()
            .find(|(v, _)| *v == var)
            .map_or(0, |(_, s)| *s)
    }
}

#[derive(Debug, Clone, Copy)]
enum Idx {
    Var(usize),
    Lit(usize),
    Affine(crate::ir::Affine),
}

impl Idx {
    fn get(self, env: &[usize]) -> i64 {
        match self {
            Idx::Var(v) => env[v] as i64,
            Idx::Lit(n) => n as i64,
            Idx::Affine(a) => a.eval(env),
        }
    }
}

/// A compiled scalar expression.
#[derive(Debug, Clone)]
enum Node {
    Num(f64),
    Read(Access),
    Delta(Idx, Idx),
    /// `Expr::At`: the index variable, and the position.
    At(usize, Box<Node>),
    /// `Expr::Solve`: the index variable, its range, the scale, the value and the body.
    Solve {
        index: usize,
        n: usize,
        scale: i64,
        value: Idx,
        body: Box<Node>,
    },
    /// A lag read `h[t - lag, ...]` of the reader's own recurrence: the
    /// read where `t >= lag`, else the init value of step `t - lag`
    /// (`inits[lag - t - 1]`), at the other subscripts.
    Lag {
        read: Access,
        time: usize,
        lag: usize,
        inits: Vec<Access>,
    },
    /// `Expr::Where`: only the branch taken is evaluated.
    Where(Box<Node>, Box<Node>, Box<Node>),
    /// `Expr::Index`: an index variable as a number.
    Index(usize),
    Unary(Func, Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    Reduce {
        op: Reduction,
        index: usize,
        n: usize,
        body: Box<Node>,
    },
    /// `sum` or `mean` over `index` of the product of `reads`, left to right.
    Dot {
        index: usize,
        n: usize,
        mean: bool,
        reads: Vec<Access>,
    },
}

impl Compiled {
    /// Compiles every right-hand side of a program.
    pub fn new(program: &Program) -> Compiled {
        crate::on_own_stack(|| {
            let mut shapes: Vec<Vec<usize>> = program
                .values
                .iter()
                .map(|v| v.shape.iter().map(|e| e.size).collect())
                .collect();
            let mut all_strides: Vec<Vec<usize>> = program.values.iter().map(strides).collect();
            let mut residual = vec![None; shapes.len()];
            for (v, carries) in crate::lse::carriers(program).into_iter().enumerate() {
                if carries {
                    residual[v] = Some(shapes.len());
                    shapes.push(shapes[v].clone());
                    all_strides.push(all_strides[v].clone());
                }
            }
            let mut recurrence_of = vec![None; program.values.len()];
            for r in &program.recurrences {
                for m in &r.members {
                    recurrence_of[m.index()] = Some(r);
                }
            }
            let mut kernels: Vec<Option<Kernel>> = program
                .values
                .iter()
                .zip(&recurrence_of)
                .map(|(v, &recurrence)| {
                    let at = Slots {
                        strides: &all_strides,
                        residual: &residual,
                        recurrence,
                    };
                    v.rhs.as_ref().map(|rhs| Kernel {
                        indices: v.indices.len(),
                        body: compile(v, rhs, &at),
                    })
                })
                .collect();
            kernels.resize_with(shapes.len(), || None);
            Compiled {
                shapes,
                kernels,
                residual,
                schedule: program.schedule(),
                recurrences: program
                    .recurrences
                    .iter()
                    .map(|r| (r.members.clone(), r.steps.size))
                    .collect(),
            }
        })
    }

    /// Evaluates every value; `given` as for [`run`].
    pub fn run(&self, given: &[Option<Vec<f64>>]) -> Tensors {
        crate::on_own_stack(|| self.run_here(given))
    }

    fn run_here(&self, given: &[Option<Vec<f64>>]) -> Tensors {
        // Every slot first (a logsumexp writes its residual's too), then the
        // definitions in order, each reading only earlier ones.
        let values = self.residual.len();
        let mut data: Tensors = Vec::with_capacity(self.shapes.len());
        for (i, shape) in self.shapes.iter().enumerate() {
            let len = shape.iter().product();
            if i < values && self.kernels[i].is_none() {
                let d = given.get(i).cloned().flatten().unwrap_or_default();
                assert_eq!(d.len(), len, "value {i} needs {len} scalars");
                data.push(d);
            } else {
                data.push(vec![0.0; len]);
            }
        }
        for step in &self.schedule {
            match *step {
                Step::Value(id) => {
                    let all = vec![None; self.shapes[id.index()].len()];
                    self.compute(id, &mut data, &all);
                }
                // Forward in time: at each step, the members in order, each
                // reading the same step of earlier members and earlier steps.
                Step::Recurrence(r) => {
                    let (members, steps) = &self.recurrences[r];
                    let mut buf = Vec::new();
                    for t in 0..*steps {
                        for m in members {
                            self.compute_step(*m, t, &mut data, &mut buf);
                        }
                    }
                }
            }
        }
        data
    }

    /// Recomputes the elements of definition `id` in `region` from the values
    /// before it in `data`. Does nothing for an input or param.
    pub fn compute(&self, id: ValueId, data: &mut Tensors, region: &Region) {
        let i = id.index();
        let Some(kernel) = &self.kernels[i] else {
            return;
        };
        let mut out = std::mem::take(&mut data[i]);
        // Evaluation recurses as deep as the expression (bounded by
        // `syntax::MAX_DEPTH`); a fresh stack only when this one runs low,
        // since the gradient check calls this for every probe.
        let mut lo = self.residual[i].map(|r| std::mem::take(&mut data[r]));
        stacker::maybe_grow(RED_ZONE, crate::STACK_SIZE, || match &mut lo {
            Some(lo) => for_each_in(&self.shapes[i], region, kernel.indices, |flat, env| {
                (out[flat], lo[flat]) = kernel.body.logsumexp(data, env);
            }),
            None => for_each_in(&self.shapes[i], region, kernel.indices, |flat, env| {
                out[flat] = kernel.body.eval(data, env);
            }),
        });
        if let (Some(r), Some(lo)) = (self.residual[i], lo) {
            data[r] = lo;
        }
        data[i] = out;
    }

    /// Computes the elements of recurrence member `id` at step `t` (its
    /// first index). Unlike [`Compiled::compute`], the member's own data
    /// stays readable (its lag reads read earlier steps of it): the step's
    /// elements go to `buf` first, then into place.
    fn compute_step(&self, id: ValueId, t: usize, data: &mut Tensors, buf: &mut Vec<(f64, f64)>) {
        let i = id.index();
        let Some(kernel) = &self.kernels[i] else {
            return;
        };
        let mut region = vec![None; self.shapes[i].len()];
        region[0] = Some(t);
        buf.clear();
        let keeps_residual = self.residual[i].is_some();
        stacker::maybe_grow(RED_ZONE, crate::STACK_SIZE, || {
            for_each_in(&self.shapes[i], &region, kernel.indices, |_, env| {
                buf.push(if keeps_residual {
                    kernel.body.logsumexp(data, env)
                } else {
                    (kernel.body.eval(data, env), 0.0)
                });
            });
        });
        // The step's elements are one contiguous row, in order.
        let row = buf.len();
        for (k, &(x, lo)) in buf.iter().enumerate() {
            data[i][t * row + k] = x;
            if let Some(r) = self.residual[i] {
                data[r][t * row + k] = lo;
            }
        }
    }

    /// For a definition whose right-hand side is a sum or mean (of sums or
    /// means, ...) of a body: the sum of only those terms of the body where
    /// each outer reduction index `pins` fixes (by index variable: one
    /// position or all) is at its position, divided as each mean divides.
    /// The gradient check differences this instead of the whole value, so
    /// the terms a probe leaves alone neither cost time nor swamp the
    /// difference with rounding. Reductions under anything else are whole.
    pub fn partial_reduction(&self, id: ValueId, data: &Tensors, pins: &[Option<usize>]) -> f64 {
        let Some(kernel) = &self.kernels[id.index()] else {
            return data[id.index()][0];
        };
        let mut env = vec![0; kernel.indices.max(self.shapes[id.index()].len())];
        stacker::maybe_grow(RED_ZONE, crate::STACK_SIZE, || {
            kernel.body.partial(data, &mut env, pins)
        })
    }

    /// The slot of `id`'s residual in the data, if it is a logsumexp that
    /// keeps one (`crate::lse`); such slots come after every value's.
    pub fn residual_slot(&self, id: ValueId) -> Option<usize> {
        self.residual[id.index()]
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.residual.len()
    }

    pub fn is_empty(&self) -> bool {
        self.residual.is_empty()
    }
}

/// Calls `f(flat offset, env)` for every element of `region` of a value of
/// `shape`, in row-major order; `env` has room for `indices` index variables.
pub(crate) fn for_each_in(
    shape: &[usize],
    region: &Region,
    indices: usize,
    mut f: impl FnMut(usize, &mut [usize]),
) {
    let rank = shape.len();
    let lo: Vec<usize> = (0..rank).map(|m| region[m].unwrap_or(0)).collect();
    let hi: Vec<usize> = (0..rank)
        .map(|m| region[m].map_or(shape[m], |p| p + 1))
        .collect();
    if (0..rank).any(|m| lo[m] >= hi[m]) {
        return;
    }
    let mut strides = vec![1usize; rank];
    for m in (0..rank.saturating_sub(1)).rev() {
        strides[m] = strides[m + 1] * shape[m + 1];
    }
    let mut env = vec![0usize; indices.max(rank)];
    env[..rank].copy_from_slice(&lo);
    loop {
        let flat = (0..rank).map(|m| env[m] * strides[m]).sum();
        f(flat, &mut env);
        // The odometer: the last dimension turns fastest.
        let mut m = rank;
        loop {
            if m == 0 {
                return;
            }
            m -= 1;
            env[m] += 1;
            if env[m] < hi[m] {
                break;
            }
            env[m] = lo[m];
        }
    }
}

/// Where reads go: every slot's strides, each value's residual slot, and
/// the recurrence of the value being compiled, if any.
struct Slots<'a> {
    strides: &'a [Vec<usize>],
    residual: &'a [Option<usize>],
    recurrence: Option<&'a Recurrence>,
}

impl Slots<'_> {
    /// A lag read `h[t - k, ...]` of the owner's recurrence, as a node.
    fn lag(&self, value: ValueId, subs: &[Sub]) -> Option<Node> {
        let r = self.recurrence?;
        let m = r.member(value)?;
        let Some(Sub::Affine(a)) = subs.first() else {
            return None;
        };
        let (time, lag) = match *a.terms() {
            [(time, 1)] if a.constant() < 0 => (time.index(), a.constant().unsigned_abs() as usize),
            _ => return None,
        };
        let inits = r.inits[m]
            .iter()
            .map(|init| access(*init, &subs[1..], self.strides))
            .collect();
        Some(Node::Lag {
            read: access(value, subs, self.strides),
            time,
            lag,
            inits,
        })
    }
}

impl Slots<'_> {
    /// The residual of the logsumexp `e` reads, if it keeps one.
    fn residual_of(&self, e: &Expr) -> Option<Node> {
        let Expr::Read { value, subs } = e else {
            return None;
        };
        let slot = self.residual[value.index()]?;
        Some(Node::Read(access(ValueId(slot as u32), subs, self.strides)))
    }
}

fn compile(owner: &Value, e: &Expr, at: &Slots) -> Node {
    let strides = at.strides;
    let idx = |s: &Sub| match s {
        Sub::Var(v) => Idx::Var(v.index()),
        Sub::Lit(n) => Idx::Lit(*n),
        Sub::Affine(a) => Idx::Affine(*a),
    };
    match e {
        Expr::Num(x) => Node::Num(*x),
        Expr::Read { value, subs } => at
            .lag(*value, subs)
            .unwrap_or_else(|| Node::Read(access(*value, subs, strides))),
        Expr::Delta(a, b) => Node::Delta(idx(a), idx(b)),
        Expr::At { index, pos } => Node::At(index.index(), Box::new(compile(owner, pos, at))),
        Expr::Solve {
            index,
            scale,
            value,
            body,
        } => Node::Solve {
            index: index.index(),
            n: owner.indices[index.index()].extent.size,
            scale: *scale,
            value: idx(value),
            body: Box::new(compile(owner, body, at)),
        },
        Expr::Index(v) => Node::Index(v.index()),
        Expr::Where { cond, then, els } => Node::Where(
            Box::new(compile(owner, cond, at)),
            Box::new(compile(owner, then, at)),
            Box::new(compile(owner, els, at)),
        ),
        Expr::Unary { func, arg } => Node::Unary(*func, Box::new(compile(owner, arg, at))),
        // A difference with a logsumexp adds its residual (`crate::lse`):
        // `(x - lse) - lo`, `(lse - x) + lo`.
        Expr::Binary {
            op: BinOp::Sub,
            lhs,
            rhs,
        } => {
            let mut node = Node::Binary(
                BinOp::Sub,
                Box::new(compile(owner, lhs, at)),
                Box::new(compile(owner, rhs, at)),
            );
            if let Some(lo) = at.residual_of(lhs) {
                node = Node::Binary(BinOp::Add, Box::new(node), Box::new(lo));
            }
            if let Some(lo) = at.residual_of(rhs) {
                node = Node::Binary(BinOp::Sub, Box::new(node), Box::new(lo));
            }
            node
        }
        Expr::Binary { op, lhs, rhs } => Node::Binary(
            *op,
            Box::new(compile(owner, lhs, at)),
            Box::new(compile(owner, rhs, at)),
        ),
        Expr::Reduce { op, index, body } => {
            let n = owner.indices[index.index()].extent.size;
            let mut reads = Vec::new();
            if matches!(op, Reduction::Sum | Reduction::Mean)
                && product_of_reads(body, &mut reads)
                && reads.len() <= MAX_DOT_READS
            {
                return Node::Dot {
                    index: index.index(),
                    n,
                    mean: *op == Reduction::Mean,
                    reads: reads
                        .into_iter()
                        .map(|(v, subs)| access(v, subs, strides))
                        .collect(),
                };
            }
            Node::Reduce {
                op: *op,
                index: index.index(),
                n,
                body: Box::new(compile(owner, body, at)),
            }
        }
    }
}

/// Collects the reads of `e`, left to right, if it is a product of reads.
fn product_of_reads<'e>(e: &'e Expr, reads: &mut Vec<(ValueId, &'e [Sub])>) -> bool {
    match e {
        // An affine subscript's stride may be negative: not for `dot`.
        Expr::Read { value, subs } if !subs.iter().any(|s| matches!(s, Sub::Affine(_))) => {
            reads.push((*value, subs));
            true
        }
        Expr::Binary {
            op: BinOp::Mul,
            lhs,
            rhs,
        } => product_of_reads(lhs, reads) && product_of_reads(rhs, reads),
        _ => false,
    }
}

fn access(value: ValueId, subs: &[Sub], strides: &[Vec<usize>]) -> Access {
    let mut base = 0usize;
    let mut terms: Vec<(usize, usize)> = Vec::new();
    for (s, stride) in subs.iter().zip(&strides[value.index()]) {
        match s {
            Sub::Lit(n) => base = base.wrapping_add(n * stride),
            Sub::Var(v) => match terms.iter_mut().find(|(var, _)| *var == v.index()) {
                Some((_, st)) => *st = st.wrapping_add(*stride),
                None => terms.push((v.index(), *stride)),
            },
            // Negative parts wrap: see `Access::offset`.
            Sub::Affine(a) => {
                base = base.wrapping_add((a.constant() as usize).wrapping_mul(*stride));
                for (v, c) in a.terms() {
                    let st = (c as usize).wrapping_mul(*stride);
                    match terms.iter_mut().find(|(var, _)| *var == v.index()) {
                        Some((_, s)) => *s = s.wrapping_add(st),
                        None => terms.push((v.index(), st)),
                    }
                }
            }
        }
    }
    Access {
        value: value.index(),
        base,
        terms,
    }
}

impl Node {
    /// [`Compiled::partial_reduction`] of this node.
    fn partial(&self, data: &Tensors, env: &mut [usize], pins: &[Option<usize>]) -> f64 {
        let pin = |index: usize| pins.get(index).copied().flatten();
        match self {
            Node::Reduce {
                op: op @ (Reduction::Sum | Reduction::Mean),
                index,
                n,
                body,
            } => {
                let range = pin(*index).map_or(0..*n, |p| p..p + 1);
                let mut sum = 0.0;
                for k in range.clone() {
                    env[*index] = k;
                    sum += body.partial(data, env, pins);
                }
                if *op == Reduction::Mean {
                    mean_of(sum, *n, |scale| {
                        let mut sum = 0.0;
                        for k in range {
                            env[*index] = k;
                            sum += body.partial(data, env, pins) * scale;
                        }
                        sum
                    })
                } else {
                    sum
                }
            }
            Node::Dot {
                index,
                n,
                mean,
                reads,
            } => {
                let scaled = |env: &mut [usize], scale: f64| match pin(*index) {
                    Some(p) => {
                        env[*index] = p;
                        reads
                            .iter()
                            .fold(scale, |prod, r| prod * data[r.value][r.offset(env)])
                    }
                    None => {
                        env[*index] = 0;
                        if scale == 1.0 {
                            dot(data, env, *index, *n, reads)
                        } else {
                            scaled_dot(data, env, *index, *n, reads, scale)
                        }
                    }
                };
                let sum = scaled(env, 1.0);
                if *mean {
                    mean_of(sum, *n, |scale| scaled(env, scale))
                } else {
                    sum
                }
            }
            _ => self.eval(data, env),
        }
    }

    fn eval(&self, data: &Tensors, env: &mut [usize]) -> f64 {
        match self {
            Node::Num(x) => *x,
            Node::Read(a) => data[a.value][a.offset(env)],
            Node::Lag {
                read,
                time,
                lag,
                inits,
            } => match env[*time].checked_sub(*lag) {
                Some(_) => data[read.value][read.offset(env)],
                None => {
                    let init = &inits[lag - env[*time] - 1];
                    data[init.value][init.offset(env)]
                }
            },
            Node::Delta(a, b) => f64::from(u8::from(a.get(env) == b.get(env))),
            Node::At(index, pos) => f64::from(u8::from(env[*index] as f64 == pos.eval(data, env))),
            Node::Solve {
                index,
                n,
                scale,
                value,
                body,
            } => {
                let v = value.get(env);
                if v < 0 || v % scale != 0 || v / scale >= *n as i64 {
                    return 0.0;
                }
                env[*index] = (v / scale) as usize;
                body.eval(data, env)
            }
            Node::Index(index) => env[*index] as f64,
            Node::Where(cond, then, els) => {
                if cond.eval(data, env) != 0.0 {
                    then.eval(data, env)
                } else {
                    els.eval(data, env)
                }
            }
            Node::Unary(func, arg) => func.apply(arg.eval(data, env)),
            Node::Binary(op, lhs, rhs) => {
                let a = lhs.eval(data, env);
                op.apply(a, rhs.eval(data, env))
            }
            Node::Dot {
                index,
                n,
                mean,
                reads,
            } => {
                env[*index] = 0;
                let sum = dot(data, env, *index, *n, reads);
                if *mean {
                    mean_of(sum, *n, |scale| {
                        scaled_dot(data, env, *index, *n, reads, scale)
                    })
                } else {
                    sum
                }
            }
            Node::Reduce { op, index, n, body } => {
                let (index, n) = (*index, *n);
                let each = |env: &mut [usize], f: &mut dyn FnMut(f64)| {
                    for k in 0..n {
                        env[index] = k;
                        f(body.eval(data, env));
                    }
                };
                match op {
                    Reduction::Sum => {
                        let mut sum = 0.0;
                        each(env, &mut |x| sum += x);
                        sum
                    }
                    Reduction::Mean => {
                        let mut sum = 0.0;
                        each(env, &mut |x| sum += x);
                        mean_of(sum, n, |scale| {
                            let mut sum = 0.0;
                            each(env, &mut |x| sum += x * scale);
                            sum
                        })
                    }
                    Reduction::LogSumExp => self.logsumexp(data, env).0,
                    Reduction::Max | Reduction::Min | Reduction::ArgMax | Reduction::ArgMin => {
                        let mut best =
                            Extreme::new(matches!(op, Reduction::Max | Reduction::ArgMax));
                        for k in 0..n {
                            env[index] = k;
                            best.push(body.eval(data, env), k);
                        }
                        match op {
                            Reduction::Max | Reduction::Min => best.best,
                            _ => best.pos as f64,
                        }
                    }
                }
            }
        }
    }
}

impl Node {
    /// A logsumexp node's value and its residual (`crate::lse`). The max is
    /// shifted out, so no exp overflows.
    fn logsumexp(&self, data: &Tensors, env: &mut [usize]) -> (f64, f64) {
        let Node::Reduce {
            op: Reduction::LogSumExp,
            index,
            n,
            body,
        } = self
        else {
            unreachable!("a residual is kept for a logsumexp only")
        };
        let mut max = f64::NEG_INFINITY;
        for k in 0..*n {
            env[*index] = k;
            max = max.max(body.eval(data, env));
        }
        if !max.is_finite() {
            return (max, 0.0);
        }
        let mut sum = 0.0;
        for k in 0..*n {
            env[*index] = k;
            sum += (body.eval(data, env) - max).exp();
        }
        let ln_sum = sum.ln();
        let lse = max + ln_sum;
        (lse, crate::lse::residual(max, lse, ln_sum))
    }
}

/// The mean of `n` terms whose plain sum is `sum`. Where that sum overflowed
/// (or is otherwise not finite), the terms are summed again by `terms`, each
/// multiplied by `scale`, the power of two 1 / 2^ceil(log2 n): exact, so the
/// scaled sum is the plain one with its exponent moved down, and it cannot
/// overflow where the mean is finite (four terms of 1.7e308 have the mean
/// 1.7e308, not inf). A finite sum, the common case, costs one test.
fn mean_of(sum: f64, n: usize, terms: impl FnOnce(f64) -> f64) -> f64 {
    if sum.is_finite() {
        return sum / n as f64;
    }
    let pow2 = n.next_power_of_two() as f64;
    terms(1.0 / pow2) / n as f64 * pow2
}

/// [`dot`] with each product multiplied by `scale` (the slow path of a mean
/// whose plain sum overflowed).
fn scaled_dot(
    data: &Tensors,
    env: &mut [usize],
    index: usize,
    n: usize,
    reads: &[Access],
    scale: f64,
) -> f64 {
    let mut sum = 0.0;
    for k in 0..n {
        env[index] = k;
        sum += reads
            .iter()
            .fold(scale, |prod, r| prod * data[r.value][r.offset(env)]);
    }
    env[index] = 0;
    sum
}

/// The most reads a dot-product loop multiplies; a longer product is
/// evaluated as a tree.
const MAX_DOT_READS: usize = 8;

/// The sum over `index` in `0..n` of the product of `reads`; `env[index]` is 0.
/// Four independent accumulators let the loop overlap its additions; their
/// order differs from a left-to-right sum only by rounding.
fn dot(data: &Tensors, env: &[usize], index: usize, n: usize, reads: &[Access]) -> f64 {
    match reads {
        [a] => {
            let (x, mut i, s) = (&data[a.value], a.offset(env), a.step(index));
            let mut acc = [0.0; 4];
            let mut k = 0;
            while k + 4 <= n {
                acc[0] += x[i];
                acc[1] += x[i + s];
                acc[2] += x[i + 2 * s];
                acc[3] += x[i + 3 * s];
                i += 4 * s;
                k += 4;
            }
            finish(
                acc,
                (k..n).map(|_| {
                    let v = x[i];
                    i += s;
                    v
                }),
            )
        }
        [a, b] => {
            let (x, mut i, si) = (&data[a.value], a.offset(env), a.step(index));
            let (y, mut j, sj) = (&data[b.value], b.offset(env), b.step(index));
            if si == 1 && sj == 1 {
                return contiguous_dot(&x[i..i + n], &y[j..j + n]);
            }
            let mut acc = [0.0; 4];
            let mut k = 0;
            while k + 4 <= n {
                acc[0] += x[i] * y[j];
                acc[1] += x[i + si] * y[j + sj];
                acc[2] += x[i + 2 * si] * y[j + 2 * sj];
                acc[3] += x[i + 3 * si] * y[j + 3 * sj];
                i += 4 * si;
                j += 4 * sj;
                k += 4;
            }
            finish(
                acc,
                (k..n).map(|_| {
                    let v = x[i] * y[j];
                    i += si;
                    j += sj;
                    v
                }),
            )
        }
        _ => {
            let mut offsets = [(0usize, 0usize); MAX_DOT_READS];
            for (slot, a) in offsets.iter_mut().zip(reads) {
                *slot = (a.offset(env), a.step(index));
            }
            let mut acc = [0.0; 4];
            for k in 0..n {
                let mut p = 1.0;
                for (r, (o, s)) in reads.iter().zip(offsets.iter_mut()) {
                    p *= data[r.value][*o];
                    *o += *s;
                }
                acc[k % 4] += p;
            }
            finish(acc, std::iter::empty())
        }
    }
}

fn contiguous_dot(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (xc, yc) = (x.chunks_exact(4), y.chunks_exact(4));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        acc[0] += a[0] * b[0];
        acc[1] += a[1] * b[1];
        acc[2] += a[2] * b[2];
        acc[3] += a[3] * b[3];
    }
    finish(acc, xr.iter().zip(yr).map(|(a, b)| a * b))
}

fn finish(acc: [f64; 4], tail: impl Iterator<Item = f64>) -> f64 {
    tail.fold((acc[0] + acc[1]) + (acc[2] + acc[3]), |s, x| s + x)
}
