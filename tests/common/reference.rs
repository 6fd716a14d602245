//! The interpreter's values of a `.net` file at seeded random values, laid
//! out as the generated flat API wants them: the reference that compiled code
//! is tested against. Shared by the workspace's test crates through
//! `#[path]`, so it names everything through `std::` (the no-std test crate
//! has no prelude macros).

use std::vec::Vec;

/// Flat inputs and params, and the interpreter's loss, gradient (every param)
/// and outputs there.
pub struct Reference {
    pub inputs: Vec<f64>,
    pub params: Vec<f64>,
    pub loss: f64,
    pub gradient: Vec<f64>,
    pub outputs: Vec<f64>,
}

/// The reference of the file at `path` at the random values of `seed`.
pub fn reference(path: &str, seed: u64) -> Reference {
    reference_sized(path, seed, &[])
}

/// The reference of the file at `path` with its run-time dims at `sizes`
/// (the default size for those not given).
pub fn reference_sized(path: &str, seed: u64, sizes: &[(&str, usize)]) -> Reference {
    let text = std::fs::read_to_string(path).unwrap();
    let sizes: netgrad::ir::Sizes = sizes
        .iter()
        .map(|(name, size)| (std::string::ToString::to_string(*name), *size))
        .collect();
    let dag = netgrad::front_end_sized(&text, &sizes).unwrap();
    let wrt = netgrad::autodiff::resolve_wrt(&dag.program, &[]).unwrap();
    let g = netgrad::autodiff::differentiate(dag, &wrt);
    let p = &g.dag.program;
    let given = netgrad::gradcheck::random_values(p, seed);
    let data = netgrad::eval::run(p, &given);
    let flat = |kind| -> Vec<f64> {
        p.ids()
            .filter(|id| p.value(*id).kind == kind)
            .flat_map(|id| given[id.index()].clone().unwrap())
            .collect()
    };
    Reference {
        inputs: flat(netgrad::ir::ValueKind::Input),
        params: flat(netgrad::ir::ValueKind::Param),
        loss: data[p.loss.index()][0],
        gradient: g
            .wrt
            .iter()
            .flat_map(|(_, adj)| data[adj.index()].clone())
            .collect(),
        outputs: p
            .outputs
            .iter()
            .flat_map(|o| data[o.index()].clone())
            .collect(),
    }
}

/// |a - b| relative to b, or absolute below 1.
pub fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1.0)
}
