// Template: the float of an f32 module. See mod.rs. This comment is not emitted.

/// The float of this module.
type F = f32;

/// Lanes of one AVX2 vector (256 bits) of `F`.
const LANES: usize = 8;
