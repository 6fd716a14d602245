//! Every example's generated module, compiled by build.rs through
//! `netgrad::Builder`, and a table of their flat functions.

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

include!(concat!(env!("OUT_DIR"), "/nets.rs"));
