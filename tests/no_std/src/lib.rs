//! Every example, and nets/wide.net, compiled by netgrad for `#![no_std]`:
//! this library builds with `core` and the `libm` crate alone (no `std`, no
//! `alloc`), which is the test that the generated code needs nothing else.
//! The tests, which may use std, compare each function with the interpreter.
#![no_std]

// The tests (only they) use std, from the crate root so that every test
// module can name it.
#[cfg(test)]
extern crate std;

/// `gradient_flat` and `forward_flat`: inputs, params, what they write, scratch.
pub type Writes<R> = fn(&[R], &[R], &mut [R], &mut [R]) -> R;

/// One compiled network's flat API, without std: every function takes a
/// scratch buffer of at least `scratch_len` scalars last.
pub struct Net<R: 'static> {
    pub name: &'static str,
    /// The .net file, relative to this crate.
    pub path: &'static str,
    pub n_inputs: usize,
    pub n_params: usize,
    pub n_outputs: usize,
    pub scratch_len: usize,
    pub loss_flat: fn(&[R], &[R], &mut [R]) -> R,
    pub gradient_flat: Writes<R>,
    pub forward_flat: Writes<R>,
}

include!(concat!(env!("OUT_DIR"), "/nets.rs"));

#[cfg(test)]
mod tests;
