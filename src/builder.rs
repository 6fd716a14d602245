//! Compiling `.net` files from a build script, as prost-build and lalrpop do:
//! the generated module is written to `OUT_DIR` and `include!`d by the crate.
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     netgrad::Builder::new().compile("nets/xor.net")?;
//!     Ok(())
//! }
//! ```
//!
//! ```ignore
//! // src/main.rs: `netgrad::include_net!("xor")` (with netgrad in
//! // [dependencies] too), or the `include!` it expands to:
//! mod xor {
//!     include!(concat!(env!("OUT_DIR"), "/xor.rs"));
//! }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use crate::codegen::{Float, MathFunctions, Options, TargetFeatures};

/// Options for compiling `.net` files to Rust.
#[derive(Debug, Clone)]
pub struct Builder {
    float: Float,
    wrt: Vec<String>,
    out_dir: Option<PathBuf>,
    module_name: Option<String>,
    cargo: bool,
    simplify: bool,
    no_std: bool,
    features: TargetFeatures,
    math: MathFunctions,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

/// A `.net` file that could not be compiled: the rendered diagnostics, as
/// `netgrad check` prints them, or the I/O error, ready to print.
///
/// `Debug` shows the same text as `Display`, so that a build script's
/// `.unwrap()` or `?` prints readable diagnostics, not one line of escapes.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // On its own line: `unwrap` and `main` write a prefix first.
        write!(f, "\n{}", self.message)
    }
}

impl std::error::Error for Error {}

impl Builder {
    /// f64 code, the gradient with respect to every param, written to
    /// `OUT_DIR`, with cargo's `rerun-if-changed` printed.
    pub fn new() -> Builder {
        Builder {
            float: Float::F64,
            wrt: Vec::new(),
            out_dir: None,
            module_name: None,
            cargo: true,
            simplify: true,
            no_std: false,
            features: TargetFeatures::Dispatch,
            math: MathFunctions::Fast,
        }
    }

    /// The floating-point type of the generated code.
    pub fn float(mut self, float: Float) -> Builder {
        self.float = float;
        self
    }

    /// Differentiate with respect to these params only (default: every param).
    pub fn wrt(mut self, names: &[&str]) -> Builder {
        self.wrt = names.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Write here instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.out_dir = Some(dir.into());
        self
    }

    /// The generated file's name without `.rs` (default: the `.net` file's stem).
    pub fn module_name(mut self, name: &str) -> Builder {
        self.module_name = Some(name.to_string());
        self
    }

    /// Whether to print `cargo:rerun-if-changed=FILE` (default: yes). Off
    /// for use outside build scripts.
    pub fn cargo_metadata(mut self, on: bool) -> Builder {
        self.cargo = on;
        self
    }

    /// Whether to simplify the derivatives with egg first (default: yes).
    pub fn simplify(mut self, on: bool) -> Builder {
        self.simplify = on;
        self
    }

    /// Whether to write code for `#![no_std]` crates (default: no): it needs
    /// only `core` and the `libm` crate, allocates nothing, and every
    /// function takes a last `scratch: &mut [f64]` of at least `SCRATCH_LEN`
    /// scalars for the tensors too large for the stack.
    pub fn no_std(mut self, on: bool) -> Builder {
        self.no_std = on;
        self
    }

    /// The instruction sets the generated matrix-product kernel may use:
    /// [`TargetFeatures::Dispatch`] (the default) picks AVX2+FMA at run time
    /// when the CPU has them; [`TargetFeatures::Native`] decides at compile
    /// time from the crate's own target features (`-C target-cpu=native`);
    /// [`TargetFeatures::Portable`] is plain Rust without `unsafe`, for
    /// crates that forbid it. See docs/codegen.md, "Matrix products".
    pub fn target_features(mut self, features: TargetFeatures) -> Builder {
        self.features = features;
        self
    }

    /// Whose exp, ln (log), tanh, abs and softplus's ln_1p the code calls:
    /// [`MathFunctions::Fast`] (the default), per function the faster of its
    /// own (within an ulp or two of std's) and std's; [`MathFunctions::Std`], std's float
    /// methods (or the `libm` crate's functions with [`Builder::no_std`]),
    /// bit-identical to the interpreter. See docs/codegen.md, "Elementwise functions".
    pub fn math(mut self, math: MathFunctions) -> Builder {
        self.math = math;
        self
    }

    /// Compiles one `.net` file; returns the path of the generated module.
    /// Nothing is written when the file has errors.
    pub fn compile(&self, file: impl AsRef<Path>) -> Result<PathBuf, Error> {
        let file = file.as_ref();
        let name = file.display().to_string();
        if self.cargo {
            println!("cargo:rerun-if-changed={name}");
        }
        let error = |message: String| Error { message };
        let bytes = std::fs::read(file)
            .map_err(|e| error(format!("error: cannot read `{name}`: {e}\n")))?;
        let text = crate::decode(bytes)
            .map_err(|e| error(crate::diag::report(&name, &e.lossy, &[e.diagnostic], false)))?;
        let dag = crate::front_end(&text)
            .map_err(|d| error(crate::diag::report(&name, &text, &d, false)))?;
        let recurrent = crate::recurrence_unsupported(&dag.program, "generated code");
        if !recurrent.is_empty() {
            return Err(error(crate::diag::report(&name, &text, &recurrent, false)));
        }
        let unsupported = crate::codegen_unsupported(&dag.program, self.no_std);
        if !unsupported.is_empty() {
            return Err(error(crate::diag::report(
                &name,
                &text,
                &unsupported,
                false,
            )));
        }
        // A file with run-time dims is instantiated at several sizes to find
        // the numbers computed from them; one without, once.
        let (gradient, numbers) = if dag.program.runtime_dims().next().is_some() {
            match crate::derive_symbolic(&text, &self.wrt, self.simplify) {
                Ok((g, _, numbers)) => (g, numbers),
                Err(crate::SymbolicError::Diagnostics(d)) => {
                    return Err(error(crate::diag::report(&name, &text, &d, false)))
                }
                Err(crate::SymbolicError::Message(e)) => {
                    return Err(error(format!("error: {name}: {e}\n")))
                }
            }
        } else {
            let (g, _) = crate::derive(dag, &self.wrt, self.simplify)
                .map_err(|e| error(format!("error: {name}: {e}\n")))?;
            (g, Vec::new())
        };
        let options = Options {
            float: self.float,
            source: crate::codegen::stamp_path(file),
            share: self.simplify,
            no_std: self.no_std,
            features: self.features,
            math: self.math,
        };
        let code = crate::codegen::generate_sized(&gradient, &options, &numbers)
            .map_err(|e| error(format!("error: {name}: {e}\n")))?;
        let dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => PathBuf::from(std::env::var_os("OUT_DIR").ok_or_else(|| {
                error(
                    "error: OUT_DIR is not set: call from a build script, or set out_dir\n".into(),
                )
            })?),
        };
        let module = match &self.module_name {
            Some(m) => m.clone(),
            None => file
                .file_stem()
                .map_or_else(|| "net".to_string(), |s| s.to_string_lossy().into_owned()),
        };
        let out = dir.join(format!("{module}.rs"));
        // Unchanged output is not rewritten, so cargo does not rebuild for nothing.
        if std::fs::read_to_string(&out).ok().as_deref() != Some(code.as_str()) {
            std::fs::write(&out, code)
                .map_err(|e| error(format!("error: cannot write `{}`: {e}\n", out.display())))?;
        }
        Ok(out)
    }
}
