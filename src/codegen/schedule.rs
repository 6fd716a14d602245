//! The schedule: how each definition's loop nest runs, decided from the
//! simplified program before anything is printed (the algorithm stays the
//! program's; this pass only chooses loop order and accumulation, as
//! Halide keeps schedules apart from algorithms). The printer (`lower.rs`)
//! follows these decisions and names them in a comment per loop nest.
//!
//! Four decisions, each exact up to the order of a sum's terms (and, in
//! the AVX2 kernel, FMA's single rounding):
//! - **Matrix products.** A definition of rank 2 whose one sum is the
//!   product of two rank-2 reads, large enough (`GEMM_MIN_WORK`), is one
//!   call of the module's packed GEMM kernel (`kernels/`), with each
//!   operand's strides, then the rest of its formula in place.
//! - **Order.** A definition that is one sum, `v[J, j] = Σ_r body`, whose
//!   reads walk memory with a larger stride along `r` than along its last
//!   index `j` (a matrix read transposed, as `∂E/∂z1[j] = Σ_k δ[k] w2[k, j]`)
//!   runs in scatter form: loops over `J`, then `r`, then `j`, each term
//!   added into the zeroed output row, so the innermost loop has stride 1.
//!   Each element still sums its terms in the order `r = 0, 1, ...`; four
//!   of them per pass over the row.
//! - **Blocks.** A gather nest over a matrix-matrix shape whose one sum runs
//!   in lanes computes `BLOCK` rows of its largest operand together (the
//!   block loop outermost), so each load of the other operand serves four
//!   sums and the block's rows stay in L1.
//! - **Lanes.** A sum over the innermost loop keeps several independent
//!   accumulators ([`lanes`] of them, term `r` into lane `r mod lanes`, the
//!   remainder into the first lanes, then a fixed pairwise combine), so that
//!   LLVM vectorises it without fast-math; reads with the summed index last
//!   are sliced to their row first, so no bounds check stays in the loop.
//!
//! With run-time dims (`dim N`), each decision that needs a size takes it
//! only where it is fixed: a sum over a run-time extent is sequential and
//! not unrolled, a nest is blocked only over a fixed index, and a product
//! with a run-time stride stays a loop nest. A run-time size of a matrix
//! product counts as [`GEMM_RUNTIME_SIDE`] towards `GEMM_MIN_WORK` (and
//! as enough terms): a batch of 1 may call the kernel, which is exact,
//! only slower by the call's fixed cost.

use super::Float;
use crate::ir::{BinOp, Expr, IndexId, Program, Reduction, Sub, Value, ValueId};

/// How the loops of one definition run.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Order {
    /// Row-major loops over the left-hand indices; each element computes
    /// its own value, sums included.
    Gather,
    /// `v[J, j] = Σ_r body`: loops over `J`, the summed index `r`, then the
    /// last left-hand index `j`; each term is added into the output,
    /// `unroll` terms per pass over the row.
    Scatter { index: IndexId, unroll: usize },
    /// `v[p, q] = Σ_r A[p, r] B[r, q]` (either operand's subscripts in
    /// either order), possibly inside an elementwise formula: one call of
    /// the generated module's packed, cache-blocked matrix product (`mod
    /// gemm`), then, if the formula is more than the sum, a pass over `v`
    /// that applies the rest in place.
    Gemm(Gemm),
    /// `v[J, p] = Σ_r Σ_{i : s·i = p + e(r)} body`, the adjoint of a read
    /// at an affine subscript (`x[s·i - e(r)]`) in gather form: loops over
    /// `J`, `r` and `i` instead, each term added into `v[J, s·i - e(r)]`,
    /// so no iteration searches for its `i`.
    Spread(Spread),
    /// `v[J, j] = f(Σ_r1 ... Σ_rk body)`, whose reads walk rows along the
    /// last left-hand index `j` (a convolution, `Σ_di Σ_dj k[c, di, dj]
    /// x[n, i + di, j + dj]`): loops over `J`, then the sums, then `j`, each
    /// term added into a row of accumulators, one per `j` (the tap's weight
    /// broadcast over the row), then `v[J, j] = f(row[j])`.
    Taps(Vec<IndexId>),
}

/// The sums of an [`Order::Spread`].
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Spread {
    /// The sums around the solved ones, outermost first.
    pub(super) sums: Vec<IndexId>,
    /// Each solved sum, in the order of the left-hand index it solves: that
    /// index's position, the solved index, and where the term lands along
    /// the left-hand index (`s·i - e(r)`, in the value's index variables).
    pub(super) solved: Vec<(usize, IndexId, crate::ir::Affine)>,
}

/// A matrix product as the kernel takes it: C (m × n) = A (m × k) · B
/// (k × n), each operand a value read with its row and column strides.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Gemm {
    /// The summed index.
    pub(super) index: IndexId,
    /// Rows, columns and terms per element.
    pub(super) m: usize,
    pub(super) n: usize,
    pub(super) k: usize,
    /// The operand indexed by the row index `p`, and its strides along `p`
    /// and along the summed index.
    pub(super) a: (ValueId, usize, usize),
    /// The operand indexed by the column index `q`, and its strides along
    /// the summed index and along `q`.
    pub(super) b: (ValueId, usize, usize),
    /// Whether the right-hand side is more than the sum.
    pub(super) epilogue: bool,
    /// The run-time dim of `m`, `n` and `k`, where it is one (its size
    /// above is then [`RUNTIME_BOUND`], for the packing buffer's length).
    pub(super) runtime: [Option<String>; 3],
}

/// What a run-time size counts as towards [`GEMM_MIN_WORK`]: the side of
/// its cube, so that a product whose fixed sizes alone make a square of
/// 16 × 16 (`a2[n, k] = Σ_j w2[k, j] z1[n, j]`, 10 × 128) calls the kernel
/// as it would at N = 16 with N fixed.
pub(super) const GEMM_RUNTIME_SIDE: usize = 16;

/// The size a run-time dim stands at in the packing buffer's length: more
/// than any of the kernel's blocks, so the length holds at every size.
pub(super) const RUNTIME_BOUND: usize = 1 << 20;

/// Multiply-adds below which a matrix product stays a loop nest: a call of
/// the kernel costs 130 to 180 ns before any work (packing, dispatch), so it
/// pays from about 8 × 8 × 8 against a plain triple loop (benches/benches/kernel.rs).
/// This schedule's own loops are faster than that triple loop, and were not
/// measured against the kernel at small sizes; 16 × 16 × 16 leaves a margin.
pub(super) const GEMM_MIN_WORK: usize = 16 * 16 * 16;

/// Terms per element below which a matrix product stays a loop nest: an
/// outer product or a sum of a few terms is a pass or two over memory,
/// which packing would only repeat.
pub(super) const GEMM_MIN_TERMS: usize = 4;

/// The schedule of one value's loop nest.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Nest {
    pub(super) order: Order,
    /// The number of accumulators of each sum, by the index it sums over
    /// (the value's index table); 1 for a sequential sum or no sum.
    pub(super) lanes: Vec<usize>,
    /// A gather nest whose one sum runs in lanes may be register-blocked:
    /// this left-hand index, looped over outermost, advances `BLOCK` at a
    /// time, and the `BLOCK` sums share one loop, so that reads not indexed
    /// by it are loaded once for all of them (a row of `x` for four rows
    /// of `w1`).
    pub(super) block: Option<IndexId>,
    /// Sums whose terms go straight into the lanes of the innermost sum of
    /// their chain (`Σ_n Σ_i Σ_j body`, each sum the whole body of the one
    /// around it): one accumulator for the whole chain, declared before
    /// its outermost loop and combined after it, instead of one per row.
    pub(super) chain: Vec<IndexId>,
}

/// Rows computed together by a register-blocked nest.
pub(super) const BLOCK: usize = 4;

/// Terms a scatter adds into the output row per pass over it, in order
/// (the summed index advances this many at a time).
pub(super) const UNROLL: usize = 4;

/// Independent accumulators of a vectorised sum: four vectors of two f64
/// (SSE2, the default target) or of four f32, which hides the latency of
/// the adds.
pub(super) fn lanes(float: Float) -> usize {
    match float {
        Float::F64 => 8,
        Float::F32 => 16,
    }
}

/// The schedule of every value of the program, by id.
pub(super) fn program(p: &Program, float: Float) -> Vec<Nest> {
    p.values.iter().map(|v| nest(p, v, float)).collect()
}

/// The schedule of one value.
fn nest(p: &Program, v: &Value, float: Float) -> Nest {
    let mut lanes = vec![1; v.indices.len()];
    let Some(rhs) = &v.rhs else {
        return Nest {
            order: Order::Gather,
            lanes,
            block: None,
            chain: Vec::new(),
        };
    };
    let fixed = |e: &crate::ir::Extent| !p.is_runtime(e);
    if let Some(gemm) = gemm(p, v, rhs) {
        return Nest {
            order: Order::Gemm(gemm),
            lanes,
            block: None,
            chain: Vec::new(),
        };
    }
    if let Some(spread) = spread(p, v, rhs) {
        return Nest {
            order: Order::Spread(spread),
            lanes,
            block: None,
            chain: Vec::new(),
        };
    }
    let scatter_index = scatter(v, rhs);
    if let Some(sums) = taps(p, v, rhs).filter(|_| scatter_index.is_none()) {
        return Nest {
            order: Order::Taps(sums),
            lanes,
            block: None,
            chain: Vec::new(),
        };
    }
    if let Some(index) = scatter_index {
        // Several terms per pass where the row is long enough to vectorise.
        let last = &v.shape[v.rank() - 1];
        let long = fixed(last) && last.size >= 8;
        let extent = &v.indices[index.index()].extent;
        let unroll = if long && fixed(extent) && extent.size >= UNROLL {
            UNROLL
        } else {
            1
        };
        return Nest {
            order: Order::Scatter { index, unroll },
            lanes,
            block: None,
            chain: Vec::new(),
        };
    }
    let width = self::lanes(float);
    reductions(rhs, &mut |op, index, body| {
        let extent = &v.indices[index.index()].extent;
        let size = if fixed(extent) { extent.size } else { 0 };
        let summed = matches!(op, Reduction::Sum | Reduction::Mean);
        if summed && size >= width && innermost(body) && mentions(body, index) {
            lanes[index.index()] = width;
        }
    });
    let mut chain = Vec::new();
    chains(p, v, rhs, width, &mut lanes, &mut chain);
    let block = blocked(p, v, rhs, &lanes);
    if block.is_some() {
        // BLOCK sums of width / 2 lanes: 16 accumulators in f64, in 8 SSE2
        // registers, half of them.
        for l in lanes.iter_mut().filter(|l| **l > 1) {
            *l = width / 2;
        }
    }
    Nest {
        order: Order::Gather,
        lanes,
        block,
        chain,
    }
}

/// Finds the chains of sums in `e`: `Σ_a Σ_b ... Σ_z body`, each sum the
/// whole body of the one around it, `body` without a sum, `z` of a fixed
/// size of at least 2 (the weight gradient of a convolution, `Σ_n Σ_i Σ_j
/// δ[n, c, i, j] x[n, i + di, j + dj]`). The outer sums' indices go into
/// `chain`: their terms are added into the lanes of the innermost sum,
/// one accumulator for the whole chain, so no row pays for setting up and
/// combining lanes of its own. `z` gets `width` lanes, or, over fewer
/// terms (at least 4), the largest power of two of them (`ops::lanes`
/// combines a power of two); over 2 or 3 terms, one sequential accumulator.
fn chains(
    p: &Program,
    v: &Value,
    e: &Expr,
    width: usize,
    lanes: &mut [usize],
    chain: &mut Vec<IndexId>,
) {
    match e {
        Expr::Reduce {
            op: Reduction::Sum,
            index,
            body,
        } if matches!(
            &**body,
            Expr::Reduce {
                op: Reduction::Sum,
                ..
            }
        ) =>
        {
            let mut outer = vec![*index];
            let mut at = &**body;
            while let Expr::Reduce {
                op: Reduction::Sum,
                index,
                body,
            } = at
            {
                if !matches!(&**body, Expr::Reduce { .. }) {
                    let extent = &v.indices[index.index()].extent;
                    if innermost(body)
                        && mentions(body, *index)
                        && !p.is_runtime(extent)
                        && extent.size >= 2
                    {
                        // Lanes over at least 4 terms; over 2 or 3 the
                        // chain is one sequential accumulator (a chunk of 2
                        // lanes and a remainder cost more than they save,
                        // and a row slice would keep the loop from fusing).
                        let size = extent.size;
                        lanes[index.index()] = match size {
                            _ if size >= width => width,
                            4.. => 1 << size.ilog2(),
                            _ => 1,
                        };
                        chain.extend(outer);
                    }
                    return;
                }
                outer.push(*index);
                at = body;
            }
            chains(p, v, at, width, lanes, chain);
        }
        Expr::Unary { arg, .. } => chains(p, v, arg, width, lanes, chain),
        Expr::Binary { lhs, rhs, .. } => {
            chains(p, v, lhs, width, lanes, chain);
            chains(p, v, rhs, width, lanes, chain);
        }
        Expr::Reduce { body, .. } => chains(p, v, body, width, lanes, chain),
        _ => {}
    }
}

/// The left-hand index a gather nest is blocked over, when the right-hand
/// side holds exactly one sum, in lanes: the index of the largest operand,
/// so that a block of its rows stays in L1 while the smaller operand streams
/// past (the block loop runs outermost). Some read of the sum must not use
/// the index, so that blocking shares it.
fn blocked(p: &Program, v: &Value, rhs: &Expr, lanes: &[usize]) -> Option<IndexId> {
    if v.rank() < 2 {
        return None;
    }
    let mut sums = Vec::new();
    reductions(rhs, &mut |_, index, body| sums.push((index, body.clone())));
    let [(index, body)] = sums.as_slice() else {
        return None;
    };
    if lanes[index.index()] == 1 {
        return None;
    }
    let mut best: Option<(usize, IndexId)> = None;
    for c in (0..v.rank() as u32).map(IndexId) {
        let (mut weight, mut shared) = (0, false);
        body.for_each_read(&mut |u, subs| {
            if subs.contains(&Sub::Var(c)) {
                weight += p.value(u).len();
            } else {
                shared = true;
            }
        });
        let extent = &v.shape[c.index()];
        let fits = !p.is_runtime(extent) && extent.size >= BLOCK && shared && weight > 0;
        if fits && best.is_none_or(|(w, _)| weight > w) {
            best = Some((weight, c));
        }
    }
    best.map(|(_, c)| c)
}

/// The matrix product a definition of rank 2 computes, when its right-hand
/// side holds exactly one sum, of the product of two reads of rank 2 whose
/// subscripts are the row index `p` or the column index `q` and the summed
/// index, large enough to be worth packing.
fn gemm(p: &Program, v: &Value, rhs: &Expr) -> Option<Gemm> {
    if v.rank() != 2 {
        return None;
    }
    let mut sums = Vec::new();
    reductions(rhs, &mut |op, index, body| {
        sums.push((op, index, body.clone()))
    });
    let [(Reduction::Sum, index, body)] = sums.as_slice() else {
        return None;
    };
    let Expr::Binary {
        op: BinOp::Mul,
        lhs,
        rhs: other,
    } = body
    else {
        return None;
    };
    let (Expr::Read { value: x, subs: sx }, Expr::Read { value: y, subs: sy }) = (&**lhs, &**other)
    else {
        return None;
    };
    // Each operand: its value, and its strides along `p` or `q` and along
    // the summed index.
    let operand = |value: ValueId, subs: &[Sub], other: IndexId| {
        let u = p.value(value);
        // A run-time dim other than the outermost makes a stride run-time.
        if u.shape[1..].iter().any(|e| p.is_runtime(e)) {
            return None;
        }
        let strides = crate::eval::strides(u);
        match subs {
            [Sub::Var(a), Sub::Var(b)] if (*a, *b) == (other, *index) => {
                Some((value, strides[0], strides[1]))
            }
            [Sub::Var(a), Sub::Var(b)] if (*a, *b) == (*index, other) => {
                Some((value, strides[1], strides[0]))
            }
            _ => None,
        }
    };
    let (row, col) = (IndexId(0), IndexId(1));
    let (a, b) = match (operand(*x, sx, row), operand(*y, sy, col)) {
        (Some(a), Some(b)) => (a, b),
        _ => (operand(*y, sy, row)?, operand(*x, sx, col)?),
    };
    let extents = [&v.shape[0], &v.shape[1], &v.indices[index.index()].extent];
    // The product's row stride is n: it must be fixed.
    if p.is_runtime(extents[1]) {
        return None;
    }
    let runtime = extents.map(|e| p.is_runtime(e).then(|| e.dim.clone()).flatten());
    let [m, n, k] = extents.map(|e| {
        if p.is_runtime(e) {
            GEMM_RUNTIME_SIDE
        } else {
            e.size
        }
    });
    let enough = m * n * k >= GEMM_MIN_WORK && (runtime[2].is_some() || k >= GEMM_MIN_TERMS);
    let [m, n, k] = extents.map(|e| {
        if p.is_runtime(e) {
            RUNTIME_BOUND
        } else {
            e.size
        }
    });
    // The kernel's B is indexed (summed, column): swap its strides.
    let b = (b.0, b.2, b.1);
    enough.then_some(Gemm {
        index: *index,
        m,
        n,
        k,
        a,
        b,
        epilogue: !matches!(rhs, Expr::Reduce { .. }),
        runtime,
    })
}

/// The spread form of a definition that is sums around solved sums
/// (`Σ_d Σ_di Σ_dj Σ_{i : i = p - di} Σ_{j : j = q - dj} body`), when each
/// solved sum's constraint reads one left-hand index `p` (coefficient 1)
/// besides the outer sums' indices, no two the same, the body reads none of
/// those left-hand indices, and every target `s·i - e(r)` is in `p`'s
/// range over all the loops' values (so the spread form adds exactly the
/// terms the gather form finds, each element's in the same order of `r`).
fn spread(p: &Program, v: &Value, rhs: &Expr) -> Option<Spread> {
    let mut sums = Vec::new();
    let mut at = rhs;
    while let Expr::Reduce {
        op: Reduction::Sum,
        index,
        body,
    } = at
    {
        sums.push(*index);
        at = body;
    }
    let mut solved = Vec::new();
    while let Expr::Solve {
        index,
        scale,
        value,
        body,
    } = at
    {
        solved.push((*index, *scale, value.affine()));
        at = body;
    }
    if solved.is_empty() || !innermost(at) {
        return None;
    }
    let rank = v.rank() as u32;
    let fixed = |i: IndexId| {
        let e = &v.indices[i.index()].extent;
        (!p.is_runtime(e)).then_some(e.size as i64)
    };
    let mut out: Vec<(usize, IndexId, crate::ir::Affine)> = Vec::new();
    for (index, scale, value) in solved {
        // s·i = p + rest: one left-hand index `p`, the rest outer sums.
        let mut lhs = None;
        let mut rest = Vec::new();
        for (var, c) in value.terms() {
            if var.0 < rank {
                if lhs.is_some() || c != 1 {
                    return None;
                }
                lhs = Some(var);
            } else if sums.contains(&var) {
                rest.push((var, -c));
            } else {
                return None;
            }
        }
        let lhs = lhs?;
        if out.iter().any(|(m, ..)| *m == lhs.index()) || mentions(at, lhs) {
            return None;
        }
        // p = s·i - rest, in range for every i and every value of the sums.
        rest.push((index, scale));
        let target = crate::ir::Affine::new(-value.constant(), &rest)?;
        let (mut lo, mut hi) = (target.constant(), target.constant());
        for (var, c) in target.terms() {
            let n = fixed(var)?;
            let (a, b) = (0, c * (n - 1));
            lo += a.min(b);
            hi += a.max(b);
        }
        if lo < 0 || hi >= fixed(lhs)? {
            return None;
        }
        out.push((lhs.index(), index, target));
    }
    out.sort_by_key(|(m, ..)| *m);
    Some(Spread { sums, solved: out })
}

/// The longest row of accumulators of [`Order::Taps`].
pub(super) const TAPS_ROW: usize = 256;

/// The sums of a definition that runs in taps form: the right-hand side
/// holds one chain of sums `Σ_r1 ... Σ_rk body` (and no `where`), `body`
/// reads the last left-hand index `j` only as the last subscript of a row
/// (`x[n, i + di, j + dj]`), `j` is fixed and has at least 4 values, and
/// no fewer than the innermost sum (so the innermost loop is the longer
/// one: a convolution's output row, not a weight gradient's taps).
fn taps(p: &Program, v: &Value, rhs: &Expr) -> Option<Vec<IndexId>> {
    let rank = v.rank();
    if rank == 0 || !plain(rhs) {
        return None;
    }
    let mut all = Vec::new();
    reductions(rhs, &mut |op, index, body| {
        all.push((op, index, body.clone()))
    });
    let (Reduction::Sum, _, _) = all.first()? else {
        return None;
    };
    if all.iter().any(|(op, ..)| *op != Reduction::Sum) {
        return None;
    }
    // A chain: each sum the whole body of the one before.
    for w in all.windows(2) {
        if !matches!(&w[0].2, Expr::Reduce { index, .. } if *index == w[1].1) {
            return None;
        }
    }
    let (_, end, body) = all.last()?;
    let last = IndexId(rank as u32 - 1);
    let out_row = &v.shape[rank - 1];
    let inner = &v.indices[end.index()].extent;
    if p.is_runtime(out_row) || out_row.size < 4 || out_row.size > TAPS_ROW || !innermost(body) {
        return None;
    }
    if !p.is_runtime(inner) && inner.size > out_row.size {
        return None;
    }
    let mut rows = true;
    body.for_each_read(&mut |_, subs| {
        if subs.iter().any(|s| sub_mentions(s, last)) && !row(subs, last) {
            rows = false;
        }
    });
    (rows && mentions(body, last)).then(|| all.iter().map(|(_, i, _)| *i).collect())
}

/// Whether `e` holds no `where` and no solved sum.
fn plain(e: &Expr) -> bool {
    match e {
        Expr::Num(_) | Expr::Read { .. } | Expr::Delta(..) | Expr::Index(_) => true,
        Expr::Where { .. } | Expr::Solve { .. } => false,
        Expr::Unary { arg, .. } => plain(arg),
        Expr::Binary { lhs, rhs, .. } => plain(lhs) && plain(rhs),
        Expr::Reduce { body, .. } => plain(body),
        Expr::At { pos, .. } => plain(pos),
    }
}

/// The summed index of a definition that runs faster in scatter form: a
/// single sum, with no sum inside, whose reads stride through memory along
/// the summed index more often than along the last left-hand index.
fn scatter(v: &Value, rhs: &Expr) -> Option<IndexId> {
    let Expr::Reduce {
        op: Reduction::Sum,
        index,
        body,
    } = rhs
    else {
        return None;
    };
    if v.rank() == 0 || !innermost(body) || !mentions(body, *index) {
        return None;
    }
    let last = IndexId(v.rank() as u32 - 1);
    (strided(body, last) < strided(body, *index)).then_some(*index)
}

/// How many reads of `e` would not walk memory with stride 1 if `index`
/// were the innermost loop: those that use it other than as their last
/// subscript.
fn strided(e: &Expr, index: IndexId) -> usize {
    let mut n = 0;
    e.for_each_read(&mut |_, subs| {
        let var = Sub::Var(index);
        let (last, rest) = match subs.split_last() {
            Some((last, rest)) => (*last, rest),
            None => return,
        };
        if rest.contains(&var) || (last != var && subs.contains(&var)) {
            n += 1;
        }
    });
    n
}

/// Whether a read of `subs` is one row walked by `index`: the index is the
/// last subscript and appears nowhere else, so the read can be sliced to
/// that row before the loop.
pub(super) fn row(subs: &[Sub], index: IndexId) -> bool {
    let last = match subs.last() {
        Some(Sub::Var(v)) => *v == index,
        // `x[n, i + di, j + dj]` walks a row along `j` from `x[n, i + di, dj]`.
        Some(Sub::Affine(a)) => a.coefficient(index) == 1,
        _ => false,
    };
    last && subs.iter().filter(|s| sub_mentions(s, index)).count() == 1
}

/// Calls `f` on every read of `e` outside the branches and conditions of
/// a `where`, and outside a solved sum's body: the reads computed for every
/// value of the loop variables around them.
pub(super) fn for_each_unguarded_read(e: &Expr, f: &mut impl FnMut(ValueId, &[Sub])) {
    match e {
        Expr::Num(_) | Expr::Delta(..) | Expr::Index(_) | Expr::Solve { .. } => {}
        // A condition is evaluated at every point; its branches are not.
        Expr::Where { cond, .. } => for_each_unguarded_read(cond, f),
        Expr::Read { value, subs } => f(*value, subs),
        Expr::Unary { arg, .. } => for_each_unguarded_read(arg, f),
        Expr::Binary { lhs, rhs, .. } => {
            for_each_unguarded_read(lhs, f);
            for_each_unguarded_read(rhs, f);
        }
        Expr::Reduce { body, .. } => for_each_unguarded_read(body, f),
        Expr::At { pos, .. } => for_each_unguarded_read(pos, f),
    }
}

/// Whether a subscript reads the index variable `index`.
fn sub_mentions(s: &Sub, index: IndexId) -> bool {
    let mut found = false;
    s.for_each_var(|v| found |= v == index);
    found
}

/// Calls `f` on every reduction of `e`, outermost first.
fn reductions(e: &Expr, f: &mut impl FnMut(Reduction, IndexId, &Expr)) {
    match e {
        // A reduction inside a branch of a `where` runs as a plain loop,
        // inside the branch: no schedule of the nest is built around it.
        Expr::Num(_)
        | Expr::Read { .. }
        | Expr::Delta(..)
        | Expr::Index(_)
        | Expr::Where { .. } => {}
        Expr::Unary { arg, .. } => reductions(arg, f),
        Expr::Binary { lhs, rhs, .. } => {
            reductions(lhs, f);
            reductions(rhs, f);
        }
        Expr::Reduce { op, index, body } => {
            f(*op, *index, body);
            reductions(body, f);
        }
        Expr::At { pos, .. } => reductions(pos, f),
        // A sum inside a `Solve` runs in its loop of at most one
        // iteration: sequential, never blocked, laned or packed.
        Expr::Solve { .. } => {}
    }
}

/// Whether `e` holds no sum of its own: the body of an innermost loop.
fn innermost(e: &Expr) -> bool {
    match e {
        Expr::Num(_) | Expr::Read { .. } | Expr::Delta(..) | Expr::Index(_) => true,
        Expr::Where { cond, then, els } => innermost(cond) && innermost(then) && innermost(els),
        Expr::Unary { arg, .. } => innermost(arg),
        Expr::Binary { lhs, rhs, .. } => innermost(lhs) && innermost(rhs),
        Expr::Reduce { .. } => false,
        Expr::At { pos, .. } => innermost(pos),
        // A loop of its own, if of at most one iteration.
        Expr::Solve { .. } => false,
    }
}

/// Whether `e` uses the index variable `index`.
pub(super) fn mentions(e: &Expr, index: IndexId) -> bool {
    let sub = |s: &Sub| sub_mentions(s, index);
    match e {
        Expr::Num(_) => false,
        Expr::Index(i) => *i == index,
        Expr::Where { cond, then, els } => {
            mentions(cond, index) || mentions(then, index) || mentions(els, index)
        }
        Expr::Read { subs, .. } => subs.iter().any(sub),
        Expr::Delta(a, b) => sub(a) || sub(b),
        Expr::Unary { arg, .. } => mentions(arg, index),
        Expr::Binary { lhs, rhs, .. } => mentions(lhs, index) || mentions(rhs, index),
        Expr::Reduce { body, .. } => mentions(body, index),
        Expr::At { index: i, pos } => *i == index || mentions(pos, index),
        Expr::Solve { value, body, .. } => sub(value) || mentions(body, index),
    }
}

/// The comment that names a loop nest's schedule, or none for a scalar
/// computed without a loop.
/// `names` are the index variables as the code names them.
pub(super) fn describe(nest: &Nest, v: &Value, output: &str, names: &[String]) -> Option<String> {
    let name = |i: usize| names[i].clone();
    let lhs: Vec<String> = (0..v.rank()).map(name).collect();
    let mut sums = Vec::new();
    // The outer sums of a chain (`Nest::chain`), named with its innermost.
    let mut chained: Vec<String> = Vec::new();
    if let Some(rhs) = &v.rhs {
        reductions(rhs, &mut |op, index, _| {
            if nest.chain.contains(&index) {
                chained.push(name(index.index()));
                return;
            }
            let what = match op {
                Reduction::LogSumExp => "logsumexp",
                Reduction::Mean => "mean",
                Reduction::Sum => "sum",
                Reduction::Max => "max",
                Reduction::Min => "min",
                Reduction::ArgMax => "argmax",
                Reduction::ArgMin => "argmin",
            };
            let how = match nest.lanes[index.index()] {
                1 => "sequential".to_string(),
                n => format!("in {n} lanes"),
            };
            if chained.is_empty() {
                sums.push(format!("{what} over {} {how}", name(index.index())));
            } else {
                chained.push(name(index.index()));
                sums.push(format!(
                    "{what} over {} {how} in one accumulator",
                    chained.join(", ")
                ));
                chained.clear();
            }
        });
    }
    let text = match &nest.order {
        Order::Scatter { index, unroll } => {
            let mut loops = lhs.clone();
            let last = loops.pop().expect("a scatter has a left-hand index");
            if *unroll > 1 {
                loops.push(format!("{} ({unroll} at a time)", name(index.index())));
            } else {
                loops.push(name(index.index()));
            }
            loops.push(last.clone());
            format!(
                "scatter, loops {}: each term added into rows of {output} (stride 1 in {last})",
                loops.join(", ")
            )
        }
        Order::Taps(taps) => {
            let mut loops = lhs.clone();
            let last = loops.pop().expect("taps have a left-hand index");
            loops.extend(taps.iter().map(|r| name(r.index())));
            loops.push(last.clone());
            format!(
                "taps, loops {}: each term added into a row of accumulators over {last} (the tap broadcast), then {output}'s row from them",
                loops.join(", ")
            )
        }
        Order::Spread(spread) => {
            let solved: Vec<usize> = spread.solved.iter().map(|(_, i, _)| i.index()).collect();
            let mut loops: Vec<String> = (0..v.rank())
                .filter(|m| !spread.solved.iter().any(|(at, ..)| at == m))
                .map(name)
                .collect();
            loops.extend(spread.sums.iter().map(|r| name(r.index())));
            loops.extend(solved.iter().map(|i| name(*i)));
            let at: Vec<String> = (0..v.rank())
                .map(|m| match spread.solved.iter().find(|(at, ..)| *at == m) {
                    Some((_, _, target)) => target.show(|i| name(i.index()), " * ", " - "),
                    None => name(m),
                })
                .collect();
            format!(
                "spread, loops {}: each term added into {output}[{}], no index solved",
                loops.join(", "),
                at.join(", ")
            )
        }
        Order::Gemm(g) => {
            let then = if g.epilogue {
                format!(", then the rest of the formula in place over {output}")
            } else {
                String::new()
            };
            let size = |i: usize, n: usize| g.runtime[i].clone().unwrap_or_else(|| n.to_string());
            format!(
                "matrix product ({} × {}, {} terms each, sum over {}) by the packed kernel of mod gemm{then}",
                size(0, g.m),
                size(1, g.n),
                size(2, g.k),
                name(g.index.index())
            )
        }
        Order::Gather if lhs.is_empty() && sums.is_empty() => return None,
        Order::Gather if lhs.is_empty() => sums.join("; "),
        Order::Gather if sums.is_empty() => format!("gather, loops {}", lhs.join(", ")),
        Order::Gather => {
            let mut loops = lhs.clone();
            if let Some(b) = nest.block {
                let block = loops.remove(b.index());
                loops.insert(0, format!("{block} (blocks of {BLOCK})"));
            }
            format!("gather, loops {}; {}", loops.join(", "), sums.join("; "))
        }
    };
    Some(format!("schedule: {text}"))
}
