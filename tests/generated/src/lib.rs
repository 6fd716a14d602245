//! Every example's generated module, compiled by build.rs through
//! `netgrad::Builder`, and tables of their flat functions: `F64` and `F32`
//! for the examples of fixed size, `RUN_TIME_F64` and `RUN_TIME_F32` for
//! those with run-time dims.

/// One compiled network's flat API.
pub struct Net<R: 'static> {
    pub name: &'static str,
    pub n_inputs: usize,
    pub n_params: usize,
    pub n_outputs: usize,
    pub loss_flat: fn(&[R], &[R]) -> R,
    pub gradient_flat: fn(&[R], &[R], &mut [R]) -> R,
    pub forward_flat: fn(&[R], &[R], &mut [R]) -> R,
}

/// One compiled network with run-time dims: its flat API, each function
/// taking the sizes first (one per run-time dim, in the order of `dims`).
pub struct RunTimeNet<R: 'static> {
    pub name: &'static str,
    pub dims: &'static [&'static str],
    pub n_inputs: fn(&[usize]) -> usize,
    pub n_params: usize,
    pub n_outputs: fn(&[usize]) -> usize,
    pub loss_flat: fn(&[usize], &[R], &[R]) -> R,
    pub gradient_flat: SizedWrite<R>,
    pub forward_flat: SizedWrite<R>,
}

/// A flat function at run-time sizes that writes a slice (the gradient, the
/// outputs) and returns the loss.
pub type SizedWrite<R> = fn(&[usize], &[R], &[R], &mut [R]) -> R;

include!(concat!(env!("OUT_DIR"), "/nets.rs"));
