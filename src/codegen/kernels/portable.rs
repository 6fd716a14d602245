// Template: the micro-kernel choice of a module with the portable kernel only. See mod.rs.
// This comment is not emitted.

/// The micro-kernels this module carries: the portable one only.
#[derive(Clone, Copy)]
enum Kernel {
    /// `tile_portable`.
    Portable,
}

/// The micro-kernel `gemm` uses.
fn select() -> Kernel {
    Kernel::Portable
}

/// The blocked loops with the chosen micro-kernel.
fn loops(kernel: Kernel, dims: [usize; 3], a: Matrix, b: Matrix, c: Out, pack: &mut [F]) {
    blocked(kernel, dims, a, b, c, pack);
}

/// One tile with the chosen micro-kernel.
fn tile(kernel: Kernel, kc: usize, a: &[F], b: &[F], out: Tile) {
    match kernel {
        Kernel::Portable => tile_portable(kc, a, b, out),
    }
}
