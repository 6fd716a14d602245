// Template: the float-independent part of the emitted `mod gemm`: the blocking constants,
// `pack_len`, `gemm`, the blocked loops, packing and the portable micro-kernel. It uses `F`
// and `LANES` (from f64.rs or f32.rs), and `Kernel`, `select` and `tile` (from portable.rs,
// or x86.rs with dispatch.rs or native.rs). See mod.rs. This comment is not emitted.

/// Rows of a micro-tile: the micro-kernel keeps an `MR` × `NR` tile of C in registers. With
/// AVX2 that is 6 × 2 = 12 vector accumulators of the 16 registers, which leaves one for
/// each of the two vectors of a row of B and one for an element of A: 12 independent FMA
/// chains hide the FMA latency (4 to 5 cycles, 2 per cycle).
const MR: usize = 6;

/// Columns of a micro-tile: two vectors. The micro-kernels store rows of a tile, so `gemm`
/// arranges for C's columns to be the closer ones.
const NR: usize = 2 * LANES;

/// Depth of a block: a packed `KC` × `NR` panel of B (16 KiB) stays in the L1 cache while
/// the micro-kernel streams every `MR` × `KC` panel of the block of A past it.
const KC: usize = 256;

/// Rows of a block of A: a packed `MC` × `KC` block (192 KiB of 8-byte floats) stays in the
/// L2 cache while every panel of the block of B comes by. A multiple of `MR`.
const MC: usize = 96;

/// Columns of a block of B: a packed `KC` × `NC` block (2 MiB of 8-byte floats) stays in
/// the L3 cache for all the blocks of A. A multiple of `NR`.
const NC: usize = 1024;

/// Scratch `gemm` needs for these sizes: a packed block of A and one of B, for the product
/// as given or transposed (`gemm` computes Cᵀ = Bᵀ·Aᵀ when C is column-major), and room to
/// start B's on a cache line. None for an empty product.
pub const fn pack_len(m: usize, n: usize, k: usize) -> usize {
    if m == 0 || n == 0 || k == 0 {
        return 0;
    }
    let depth = if k < KC { k } else { KC };
    let straight = panels(m, MR, MC) + panels(n, NR, NC);
    let swapped = panels(n, MR, MC) + panels(m, NR, NC);
    let most = if straight > swapped {
        straight
    } else {
        swapped
    };
    depth * most + NR - 1
}

/// `len` rounded up to whole panels of `width`, or `max` (a multiple of `width`) if that
/// is less: the most lines a packed block holds.
const fn panels(len: usize, width: usize, max: usize) -> usize {
    let whole = len.div_ceil(width) * width;
    if whole < max {
        whole
    } else {
        max
    }
}

/// C = A·B (`accumulate` false) or C += A·B, where A is `m` × `k` with element (i, p) at
/// `a[i * rsa + p * csa]`, B is `k` × `n` with element (p, j) at `b[p * rsb + j * csb]`, and
/// C is `m` × `n` with element (i, j) at `c[i * rsc + j * csc]`. `pack` is scratch of at
/// least `pack_len(m, n, k)` elements; its contents on entry do not matter.
///
/// # Panics
/// If an operand's slice is too short for its sizes and strides, or `pack` is too short.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[F],
    rsa: usize,
    csa: usize,
    b: &[F],
    rsb: usize,
    csb: usize,
    c: &mut [F],
    rsc: usize,
    csc: usize,
    accumulate: bool,
    pack: &mut [F],
) {
    let a = Matrix {
        data: a,
        rs: rsa,
        cs: csa,
    };
    let b = Matrix {
        data: b,
        rs: rsb,
        cs: csb,
    };
    run(select(), [m, n, k], a, b, (c, rsc, csc), accumulate, pack);
}

/// An operand A or B: element (r, s) at `data[r * rs + s * cs]`.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    data: &'a [F],
    rs: usize,
    cs: usize,
}

impl Matrix<'_> {
    /// The transpose, in the same memory.
    fn t(self) -> Self {
        Matrix {
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }
}

/// The length a slice needs for a `rows` × `cols` matrix with these strides (0 when it is
/// empty); `usize::MAX` when that overflows, which no slice has.
fn span(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        return 0;
    }
    let last = (rows - 1)
        .saturating_mul(rs)
        .saturating_add((cols - 1).saturating_mul(cs));
    last.saturating_add(1)
}

/// `gemm` with a chosen micro-kernel.
fn run(
    kernel: Kernel,
    [m, n, k]: [usize; 3],
    a: Matrix<'_>,
    b: Matrix<'_>,
    (c, rsc, csc): (&mut [F], usize, usize),
    accumulate: bool,
    pack: &mut [F],
) {
    let too_short = "gemm: slice too short for its sizes and strides:";
    assert!(
        span(m, k, a.rs, a.cs) <= a.data.len(),
        "{too_short} a (m × k, rsa, csa)"
    );
    assert!(
        span(k, n, b.rs, b.cs) <= b.data.len(),
        "{too_short} b (k × n, rsb, csb)"
    );
    assert!(
        span(m, n, rsc, csc) <= c.len(),
        "{too_short} c (m × n, rsc, csc)"
    );
    assert!(
        pack.len() >= pack_len(m, n, k),
        "gemm: pack is shorter than pack_len(m, n, k)"
    );
    if m == 0 || n == 0 {
        // Nothing to write.
    } else if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    c[i * rsc + j * csc] = 0.0;
                }
            }
        }
    } else if csc > rsc {
        // The micro-kernels store rows of a tile: Cᵀ = Bᵀ·Aᵀ has C's columns as its rows.
        let c = Out {
            c,
            rsc: csc,
            csc: rsc,
            accumulate,
        };
        loops(kernel, [n, m, k], b.t(), a.t(), c, pack);
    } else {
        loops(
            kernel,
            [m, n, k],
            a,
            b,
            Out {
                c,
                rsc,
                csc,
                accumulate,
            },
            pack,
        );
    }
}

/// The part of C a call writes, and whether it adds to it.
struct Out<'a> {
    c: &'a mut [F],
    rsc: usize,
    csc: usize,
    accumulate: bool,
}

/// Where a micro-kernel puts its tile: C's element (i, j) of the tile is `c[i * rsc + j *
/// csc]`, and only the first `rows` × `cols` of the `MR` × `NR` tile lie in C.
struct Tile<'a> {
    c: &'a mut [F],
    rsc: usize,
    csc: usize,
    rows: usize,
    cols: usize,
    accumulate: bool,
}

impl Tile<'_> {
    /// Writes the tile's part in C (or adds it to C).
    fn store(self, acc: &[[F; NR]; MR]) {
        for (i, row) in acc.iter().enumerate().take(self.rows) {
            if self.csc == 1 {
                let dst = &mut self.c[i * self.rsc..][..self.cols];
                for (d, &x) in dst.iter_mut().zip(row) {
                    *d = if self.accumulate { *d + x } else { x };
                }
            } else {
                for (j, &x) in row.iter().enumerate().take(self.cols) {
                    let d = &mut self.c[i * self.rsc + j * self.csc];
                    *d = if self.accumulate { *d + x } else { x };
                }
            }
        }
    }
}

/// The size of the blocks that cut `len` into pieces of at most `max`, as equal as whole
/// multiples of `unit` allow (so that no thin last block wastes a pass over C).
fn block(len: usize, max: usize, unit: usize) -> usize {
    len.div_ceil(len.div_ceil(max)).div_ceil(unit) * unit
}

/// The loops around the micro-kernel, in BLIS's order: blocks of B's columns (`NC`), of the
/// depth (`KC`: B's block packed once), of A's rows (`MC`: A's block packed once), then a
/// panel of B against every panel of A. Needs m, n, k > 0 and rsc ≥ csc. Always inlined, so
/// that a caller compiled for AVX2 gets packing vectorised for AVX2 and its micro-kernel
/// inlined.
#[inline(always)]
fn blocked(
    kernel: Kernel,
    [m, n, k]: [usize; 3],
    a: Matrix,
    b: Matrix,
    c: Out,
    pack: &mut [F],
) {
    let kc_max = block(k, KC, 1);
    let mc_max = block(m, MC, MR);
    let nc_max = block(n, NC, NR);
    // A row of a panel of B is NR elements, 64 bytes: on a cache line of its own when the
    // panel starts on one (the scratch has room to move).
    let line = pack
        .as_ptr()
        .align_offset(NR * core::mem::size_of::<F>())
        .min(NR - 1);
    let (pb, pa) = pack[line..].split_at_mut(nc_max * kc_max);
    for jc in (0..n).step_by(nc_max) {
        let nc = nc_max.min(n - jc);
        for pc in (0..k).step_by(kc_max) {
            let kc = kc_max.min(k - pc);
            pack_panels::<NR>(pb, b.t(), jc, pc, nc, kc);
            for ic in (0..m).step_by(mc_max) {
                let mc = mc_max.min(m - ic);
                pack_panels::<MR>(pa, a, ic, pc, mc, kc);
                for jr in (0..nc).step_by(NR) {
                    let bp = &pb[jr * kc..(jr + NR) * kc];
                    for ir in (0..mc).step_by(MR) {
                        let ap = &pa[ir * kc..(ir + MR) * kc];
                        let at = (ic + ir) * c.rsc + (jc + jr) * c.csc;
                        let out = Tile {
                            c: &mut c.c[at..],
                            rsc: c.rsc,
                            csc: c.csc,
                            rows: MR.min(mc - ir),
                            cols: NR.min(nc - jr),
                            // Later blocks of the depth add to what the first wrote.
                            accumulate: c.accumulate || pc > 0,
                        };
                        tile(kernel, kc, ap, bp, out);
                    }
                }
            }
        }
    }
}

/// Packs lines `first..first + len` of `src` (its rows), elements `from..from + depth` of
/// each, into panels of `W` lines: element p of line `l` goes to `dst[l / W * W * depth + p
/// * W + l % W]`, and the last panel is padded with zero lines.
#[inline(always)]
fn pack_panels<const W: usize>(
    dst: &mut [F],
    src: Matrix,
    first: usize,
    from: usize,
    len: usize,
    depth: usize,
) {
    let panels = dst.chunks_exact_mut(W * depth).take(len.div_ceil(W));
    for (panel, out) in panels.enumerate() {
        let lines = W.min(len - panel * W);
        let at = (first + panel * W) * src.rs + from * src.cs;
        if lines == W && src.rs == 1 {
            // The panel's lines lie side by side: W elements at a time.
            for (p, o) in out.chunks_exact_mut(W).enumerate() {
                o.copy_from_slice(&src.data[at + p * src.cs..][..W]);
            }
        } else if lines == W && src.cs == 1 {
            // Each line is contiguous: read the W of them side by side.
            let line: [&[F]; W] =
                core::array::from_fn(|l| &src.data[at + l * src.rs..][..depth]);
            for (p, o) in out.chunks_exact_mut(W).enumerate() {
                for (d, line) in o.iter_mut().zip(&line) {
                    *d = line[p];
                }
            }
        } else {
            for (p, o) in out.chunks_exact_mut(W).enumerate() {
                for (l, d) in o.iter_mut().enumerate() {
                    *d = if l < lines {
                        src.data[at + l * src.rs + p * src.cs]
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// The portable micro-kernel: the tile as plain arrays of accumulators, which LLVM keeps in
/// vector registers and unrolls, since their sizes are constants. It computes the tile in two
/// halves of `NR / 2` columns: the accumulators of a half fit in SSE2's 16 registers.
fn tile_portable(kc: usize, a: &[F], b: &[F], out: Tile) {
    let mut acc = [[0.0; NR]; MR];
    for half in [0, NR / 2] {
        let mut part = [[0.0; NR / 2]; MR];
        for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)).take(kc) {
            let bp = &bp[half..half + NR / 2];
            for (row, &x) in part.iter_mut().zip(ap) {
                for (s, &y) in row.iter_mut().zip(bp) {
                    *s += x * y;
                }
            }
        }
        for (row, part) in acc.iter_mut().zip(&part) {
            row[half..half + NR / 2].copy_from_slice(part);
        }
    }
    out.store(&acc);
}
