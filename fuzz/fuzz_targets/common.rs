//! What both fuzz targets share: the bound on the interpreter's work.

/// Programs whose loop nests run more iterations than this are not
/// evaluated, nor their values written: the time and memory of that are
/// proportional to the declared sizes, which is not what the targets look
/// for (the limits on sizes are tested in tests/safety.rs).
pub const MAX_EVALUATED: usize = 1 << 16;

/// An upper bound on the interpreter's work: per value, the product of the
/// ranges of all its index variables (left-hand and reductions).
pub fn work(program: &netgrad::ir::Program) -> usize {
    program
        .values
        .iter()
        .map(|v| {
            v.indices
                .iter()
                .fold(1usize, |n, i| n.saturating_mul(i.extent.size))
        })
        .fold(0usize, usize::saturating_add)
}
