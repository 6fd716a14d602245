// Template: `select` at compile time, for no_std or `TargetFeatures::Native`. See mod.rs.
// This comment is not emitted.

/// The micro-kernel the crate is compiled for: AVX2+FMA if both are enabled (as by `-C
/// target-cpu=native` on such a CPU), else the portable one.
fn select() -> Kernel {
    #[cfg(target_arch = "x86_64")]
    if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
        return Kernel::Avx2;
    }
    Kernel::Portable
}
