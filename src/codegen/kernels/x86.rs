// Template: the micro-kernel choice of a module with the AVX2+FMA kernel, for `select` from
// dispatch.rs or native.rs. See mod.rs. This comment is not emitted.

/// The micro-kernels this module carries. `Kernel::Avx2` is made only by `select`, which
/// makes sure that the CPU has AVX2 and FMA.
#[derive(Clone, Copy)]
enum Kernel {
    /// `tile_portable`.
    Portable,
    /// `avx2::tile`.
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

/// The blocked loops with the chosen micro-kernel.
fn loops(kernel: Kernel, dims: [usize; 3], a: Matrix, b: Matrix, c: Out, pack: &mut [F]) {
    match kernel {
        Kernel::Portable => blocked(kernel, dims, a, b, c, pack),
        // SAFETY: `Kernel::Avx2` exists only where the CPU has AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => unsafe { avx2::blocked(dims, a, b, c, pack) },
    }
}

/// One tile with the chosen micro-kernel.
fn tile(kernel: Kernel, kc: usize, a: &[F], b: &[F], out: Tile) {
    match kernel {
        Kernel::Portable => tile_portable(kc, a, b, out),
        // SAFETY: `Kernel::Avx2` exists only where the CPU has AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => unsafe { avx2::tile(kc, a, b, out) },
    }
}
