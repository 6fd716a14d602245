//! Compiles every example, in f64 and in f32, through `netgrad::Builder`, and
//! writes a table of their flat functions for the tests to iterate over.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let examples = PathBuf::from("../../examples");
    println!("cargo:rerun-if-changed={}", examples.display());
    let mut nets: Vec<String> = std::fs::read_dir(&examples)
        .expect("the examples folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "net"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    nets.sort();
    // The run-time dims of each example: those with any go into a table of
    // their own, whose functions take the sizes (`RunTimeNet`).
    let mut run_time: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for net in &nets {
        let text = std::fs::read_to_string(examples.join(format!("{net}.net")))?;
        if let Ok(dag) = netgrad::front_end(&text) {
            let dims: Vec<String> = dag.program.runtime_dims().map(|d| d.name.clone()).collect();
            if !dims.is_empty() {
                run_time.insert(net.clone(), dims);
            }
        }
    }
    let mut table = String::new();
    for (float, suffix) in [(netgrad::Float::F64, ""), (netgrad::Float::F32, "_f32")] {
        for net in &nets {
            let module = format!("{net}{suffix}");
            // On errors, `?` prints the diagnostics as `netgrad check` does.
            netgrad::Builder::new()
                .float(float)
                .module_name(&module)
                .compile(examples.join(format!("{net}.net")))?;
            writeln!(table, "pub mod {module} {{\n    include!(concat!(env!(\"OUT_DIR\"), \"/{module}.rs\"));\n}}")?;
        }
    }
    for (suffix, real) in [("", "F64"), ("_f32", "F32")] {
        writeln!(
            table,
            "pub const {real}: &[Net<{}>] = &[",
            real.to_lowercase()
        )?;
        for net in nets.iter().filter(|n| !run_time.contains_key(*n)) {
            let m = format!("{net}{suffix}");
            writeln!(
                table,
                "    Net {{ name: \"{net}\", n_inputs: {m}::N_INPUTS, n_params: {m}::N_PARAMS, n_outputs: {m}::N_OUTPUTS, loss_flat: {m}::loss_flat, gradient_flat: {m}::gradient_flat, forward_flat: {m}::forward_flat }},"
            )?;
        }
        writeln!(table, "];")?;
        writeln!(
            table,
            "pub const RUN_TIME_{real}: &[RunTimeNet<{}>] = &[",
            real.to_lowercase()
        )?;
        for (net, dims) in &run_time {
            let m = format!("{net}{suffix}");
            let fields: Vec<String> = dims
                .iter()
                .enumerate()
                .map(|(k, d)| format!("{d}: s[{k}]"))
                .collect();
            let dims_value = format!("{m}::Dims {{ {} }}", fields.join(", "));
            let d = format!("&{dims_value}");
            writeln!(
                table,
                "    RunTimeNet {{ name: \"{net}\", dims: &{dims:?}, n_inputs: |s| {dims_value}.n_inputs(), n_params: {m}::N_PARAMS, n_outputs: |s| {dims_value}.n_outputs(), loss_flat: |s, i, p| {m}::loss_flat({d}, i, p), gradient_flat: |s, i, p, g| {m}::gradient_flat({d}, i, p, g), forward_flat: |s, i, p, o| {m}::forward_flat({d}, i, p, o) }},"
            )?;
        }
        writeln!(table, "];")?;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    std::fs::write(out.join("nets.rs"), table)?;
    kernels(&out)?;
    Ok(())
}

/// The GEMM module of generated code (`netgrad::codegen::kernels`) for every float, target
/// features and std or not, and `kernels.rs`, which includes each as a module of its own and
/// lists them (`F64_VARIANTS`, `F32_VARIANTS`: name, `gemm`, `pack_len`); and,
/// for tests/kernels.rs to call each micro-kernel explicitly, the Dispatch module's body (the
/// text without its first line, `mod gemm {`, its docs and its last, `}`).
fn kernels(out: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    use netgrad::codegen::kernels::{gemm_module, TargetFeatures};
    println!("cargo:rerun-if-changed=../../src/codegen/kernels");
    let mut table = String::new();
    for (float, real) in [(netgrad::Float::F64, "f64"), (netgrad::Float::F32, "f32")] {
        let mut variants = String::new();
        for features in [
            TargetFeatures::Portable,
            TargetFeatures::Native,
            TargetFeatures::Dispatch,
        ] {
            for no_std in [false, true] {
                let name = format!("{real}_{features:?}{}", if no_std { "_no_std" } else { "" })
                    .to_lowercase();
                let text = gemm_module(float, features, no_std);
                std::fs::write(out.join(format!("gemm_{name}.rs")), &text)?;
                writeln!(table, "pub mod {name} {{\n    include!(concat!(env!(\"OUT_DIR\"), \"/gemm_{name}.rs\"));\n    pub use gemm::{{gemm, pack_len}};\n}}")?;
                let gemm = format!("|[m, n, k], a, b, c, acc, pack| {name}::gemm(m, n, k, a.0, a.1, a.2, b.0, b.1, b.2, c.0, c.1, c.2, acc, pack)");
                writeln!(variants, "    (\"{name}\", {gemm}, {name}::pack_len),")?;
            }
        }
        let upper = real.to_uppercase();
        writeln!(
            table,
            "pub const {upper}_VARIANTS: &[(&str, Gemm<{real}>, PackLen)] = &[\n{variants}];"
        )?;
        let text = gemm_module(float, TargetFeatures::Dispatch, false);
        let start = text.find("mod gemm {\n").ok_or("no `mod gemm {`")? + "mod gemm {\n".len();
        let body = text[start..]
            .strip_suffix("}\n")
            .ok_or("no closing brace")?;
        std::fs::write(out.join(format!("gemm_{real}_body.rs")), body)?;
    }
    std::fs::write(out.join("kernels.rs"), table)?;
    Ok(())
}
