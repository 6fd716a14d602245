//! Rust code generation: one self-contained module with the loss, the
//! forward pass and the gradient as loops over the differentiated program,
//! for `std` or, with `no_std`, for `core` and the `libm` crate.
//!
//! The code is written the way rustfmt would write it, so that it is stable
//! under rustfmt: reductions become an accumulator and a loop, and long
//! expressions are split into `let` temporaries.

mod affine;
mod api;
mod emit;
mod fuse;
pub mod kernels;
mod loops;
mod lower;
mod ops;
mod runtime;
mod scalar;
mod schedule;
mod softmax;
mod writer;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashSet};

pub use kernels::{MathFunctions, TargetFeatures};
use writer::Writer;

use crate::autodiff::Gradient;
use crate::ir::{Program, Value, ValueId, ValueKind};

/// The floating-point type of the generated code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Float {
    F64,
    F32,
}

impl Float {
    fn name(self) -> &'static str {
        match self {
            Float::F64 => "f64",
            Float::F32 => "f32",
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub float: Float,
    /// The source file, as the stamp names it (a relative path).
    pub source: String,
    /// Compute subterms shared across definitions once (part of
    /// simplification; off for `--no-simplify`).
    pub share: bool,
    /// Code for `#![no_std]` crates: transcendental functions from the
    /// `libm` crate, and large tensors in a caller's scratch buffer instead
    /// of a `Vec`.
    pub no_std: bool,
    /// The instruction sets the matrix-product kernel may use (see
    /// [`TargetFeatures`]).
    pub features: TargetFeatures,
    /// Whose exp, ln, tanh, abs and ln_1p the code calls: its own (`mod math`) or std's
    /// (see [`MathFunctions`]).
    pub math: MathFunctions,
}

/// Tensors with more scalars than this live on the heap (a `Vec` per call),
/// or with `no_std` in the caller's scratch buffer; smaller ones are arrays
/// on the stack while the function's [`STACK_BUDGET`] lasts.
pub const STACK_LIMIT: usize = 4096;

/// Bytes of arrays one generated function keeps on its stack, at most: the
/// tensors that fit, in the order they are computed; every later one goes
/// where a tensor above [`STACK_LIMIT`] goes. 64 KiB leaves room on a
/// spawned thread's 2 MiB stack, and on smaller embedded stacks, for the
/// caller and the rest of the frame.
pub const STACK_BUDGET: usize = 64 * 1024;

/// Expressions longer than this are split into `let` temporaries, so that no
/// line reaches rustfmt's limit of 100 columns.
const MAX_EXPR: usize = 40;

/// How a source path is named in the stamp: relative to the current
/// directory when it lies below it, so the output does not depend on where
/// the project is checked out.
pub fn stamp_path(path: &std::path::Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            path.strip_prefix(cwd)
                .ok()
                .map(std::path::Path::to_path_buf)
        })
        .unwrap_or_else(|| path.to_path_buf());
    relative.display().to_string().replace('\\', "/")
}

/// The first finite constant of the program that f32 cannot hold (it would
/// become infinite, and rustc rejects such a literal).
fn beyond_f32(g: &Gradient) -> Option<f64> {
    let mut found = None;
    crate::on_own_stack(|| {
        for v in &g.dag.program.values {
            if let Some(rhs) = &v.rhs {
                rhs.for_each_num(&mut |x| {
                    if found.is_none() && x.is_finite() && (x as f32).is_infinite() {
                        found = Some(x);
                    }
                });
            }
        }
    });
    found
}

/// A number of the program computed from run-time sizes (`1 / N`, a
/// mean's partial, constants folded with them): `value` where the program
/// was instantiated, `factor · Π dim^power` at every size. The generated
/// code computes it from `Dims` (`lib::derive_symbolic` finds them).
#[derive(Debug, Clone, PartialEq)]
pub struct SizeNumber {
    pub value: f64,
    pub factor: f64,
    /// Run-time dims by name, each with its power (never 0).
    pub powers: Vec<(String, i32)>,
}

/// Generates the module for a gradient. The gradient must be taken with
/// respect to params only: the flat API returns dE/dparams.
pub fn generate(g: &Gradient, options: &Options) -> Result<String, String> {
    generate_sized(g, options, &[])
}

/// Generates the module for a gradient whose program may have run-time
/// dims: `numbers` says which of its numbers come from their sizes (see
/// `lib::derive_symbolic`). Every extent of a run-time dim is read from
/// `Dims` at run time, whatever size the program was instantiated at.
pub fn generate_sized(
    g: &Gradient,
    options: &Options,
    numbers: &[SizeNumber],
) -> Result<String, String> {
    let p = &g.dag.program;
    if let Some((w, _)) = g
        .wrt
        .iter()
        .find(|(w, _)| p.value(*w).kind != ValueKind::Param)
    {
        return Err(format!(
            "compile: --wrt takes params only (`{}` is an input); `netgrad eval` gives input gradients",
            p.value(*w).name
        ));
    }
    if options.float == Float::F32 {
        if let Some(x) = beyond_f32(g) {
            return Err(format!(
                "--float f32: the constant {x:e} (as written, or folded from the file's constants) is beyond the range of f32, whose largest number is about 3.4e38; compile with --float f64, or rescale the formula"
            ));
        }
    }
    Ok(crate::on_own_stack(|| {
        // Subterms shared across definitions, the gradient's included, are
        // computed once: hoisted into temporaries of the code's own program.
        let (program, remap) = if options.share {
            crate::graph::hoist(g.dag.program.clone())
        } else {
            (g.dag.program.clone(), g.dag.program.ids().collect())
        };
        // Logsumexps keep their rounding error for the differences that
        // read them (`crate::lse`).
        let (program, moved, residual) = crate::lse::with_residuals(program);
        let remap: Vec<ValueId> = remap.iter().map(|r| moved[r.index()]).collect();
        let mut original = vec![None; program.values.len()];
        for (old, new) in remap.iter().enumerate() {
            original[new.index()] = Some(ValueId(old as u32));
        }
        let wrt: Vec<(ValueId, ValueId)> = g
            .wrt
            .iter()
            .map(|(w, a)| (remap[w.index()], remap[a.index()]))
            .collect();
        let mut generator = Generator::new(g, &program, wrt, original, options);
        generator.numbers = numbers.to_vec();
        generator.is_residual = vec![false; program.values.len()];
        for r in residual.iter().flatten() {
            generator.is_residual[r.index()] = true;
        }
        generator.residual = residual;
        generator.off_stack =
            [Core::Loss, Core::Forward, Core::Gradient].map(|c| generator.off_stack(c));
        generator.module()
    }))
}

/// Rust's keywords, strict and reserved: a name among them gets a `_` appended.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "gen", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield", "union",
];

/// Names the generated functions use for themselves.
const OWN_NAMES: &[&str] = &[
    "inputs", "params", "outputs", "grad", "scratch", "ops", "lengths", "libm", "math",
];

/// Names of the module's own items, and of the prelude and primitive types
/// the code mentions: a user name equal to one would be read as that item
/// (`let Ok = ...` is a pattern), so it gets a suffix.
const ITEM_NAMES: &[&str] = &[
    "N_INPUTS",
    "N_PARAMS",
    "N_OUTPUTS",
    "SCRATCH_LEN",
    "Inputs",
    "Params",
    "Outputs",
    "Gradients",
    "loss",
    "gradient",
    "forward",
    "loss_flat",
    "gradient_flat",
    "forward_flat",
    "loss_core",
    "forward_core",
    "gradient_core",
    "Ok",
    "Err",
    "Some",
    "None",
    "Option",
    "Result",
    "Vec",
    "Box",
    "String",
    "f32",
    "f64",
    "usize",
    "core",
    "std",
];

/// The three computations of the module, each one private core function.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Core {
    // The order indexes `Generator::off_stack`.
    /// The loss alone (`loss_core`).
    Loss,
    /// The loss and every output (`forward_core`).
    Forward,
    /// The loss and the gradient (`gradient_core`).
    Gradient,
}

/// Where a value lives in the generated functions.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Store {
    /// A scalar local.
    Scalar,
    /// A local array (stack) or `Vec` (heap).
    Local,
    /// A large tensor in the caller's scratch buffer (`no_std`).
    Scratch,
    /// A tensor of a run-time size, or one too large for the stack, in the
    /// caller's `Workspace` (a module with run-time dims).
    Work,
    /// A param's gradient, written straight into the caller's slice.
    Grad(ValueId),
    /// A tensor output, written straight into the caller's slice.
    Out,
}

struct Generator<'a> {
    /// The gradient, for the derivations in comments.
    g: &'a Gradient,
    /// The program the code computes: the gradient's, with shared subterms hoisted.
    p: &'a Program,
    /// Each param differentiated against and its gradient, in `p`.
    wrt: Vec<(ValueId, ValueId)>,
    /// The gradient's id of each value of `p` (none for a new temporary).
    original: Vec<Option<ValueId>>,
    float: Float,
    source: String,
    /// The Rust identifier of each value.
    idents: Vec<String>,
    /// Every identifier of the functions' scope, so index variables avoid them.
    taken: HashSet<String>,
    /// The Rust identifier of each dim's const, by position in `p.dims`.
    dim_idents: Vec<String>,
    /// The identifiers index variables may take, which accumulators and
    /// temporaries avoid.
    index_names: HashSet<String>,
    /// Offsets of inputs in `inputs` and params in `params`.
    offsets: Vec<usize>,
    /// The gradient (adjoint value) of each param, when it has one.
    grad_of: Vec<Option<ValueId>>,
    /// Offsets of outputs in `outputs`.
    out_offsets: Vec<usize>,
    no_std: bool,
    /// The float methods (std) or `libm` functions the code calls, for the
    /// header that says what the module needs.
    math: RefCell<BTreeSet<&'static str>>,
    /// Whether the code calls its own elementwise functions (`mod math`) for
    /// those of [`kernels::MATH`] rather than std's or libm's.
    own_math: bool,
    /// The ones it calls, which `mod math` defines.
    own_math_used: RefCell<BTreeSet<&'static str>>,
    /// Whether the code allocates a `Vec` (std only).
    heap: Cell<bool>,
    /// Whether some definition calls the matrix-product kernel.
    gemm_used: Cell<bool>,
    features: TargetFeatures,
    /// The schedule of each value's loop nest (`schedule.rs`), by id.
    schedule: Vec<schedule::Nest>,
    /// For each core function (by `Core as usize`), the tensors that do not
    /// fit its stack budget and so live in a `Vec` or the scratch buffer
    /// (with run-time dims: in the `Workspace`).
    off_stack: [Vec<bool>; 3],
    /// Whether the program has run-time dims: the module takes `Dims`, and
    /// what does not fit the stack lives in a `Workspace`.
    runtime: bool,
    /// The numbers computed from run-time sizes.
    numbers: Vec<SizeNumber>,
    /// Per value: the residual a logsumexp keeps (`crate::lse`), computed in
    /// its own loops; and whether a value is such a residual.
    residual: Vec<Option<ValueId>>,
    is_residual: Vec<bool>,
}

/// Names the module of a program with run-time dims adds to its scope.
const RUNTIME_NAMES: &[&str] = &[
    "Dims",
    "Workspace",
    "gradient_flat_in",
    "n_inputs",
    "n_outputs",
    "dims",
    "ws",
];

fn sanitize(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s == "_" {
        s = "v_".to_string();
    }
    if KEYWORDS.contains(&s.as_str()) {
        s.push('_');
    }
    s
}

/// A unique identifier: `base`, else `base_2`, `base_3`, ..., the first
/// that `taken` does not claim. A predicate rather than a set, so callers
/// check their scope's tables in place instead of merging copies of them.
fn unique(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|c| !taken(c))
        .expect("some suffix is free")
}

impl Generator<'_> {
    /// A fresh name for an accumulator or temporary: `base`, or `base_2`, ...
    /// if a value, a dim or an index variable has that name.
    fn internal(&self, base: &str) -> String {
        (1..)
            .map(|n| {
                if n == 1 {
                    base.to_string()
                } else {
                    format!("{base}_{n}")
                }
            })
            .find(|c| !self.taken.contains(c) && !self.index_names.contains(c))
            .expect("some suffix is free")
    }

    /// The identifier of the dim named `name`.
    fn dim_ident(&self, name: &str) -> Option<&str> {
        let at = self.p.dims.iter().position(|d| d.name == name)?;
        Some(&self.dim_idents[at])
    }
}

/// The state of one function being generated.
struct Body<'a> {
    w: &'a mut Writer,
    /// The statements of the definition being lowered, printed to `w` when
    /// it is done.
    code: loops::Builder,
    /// Counter for accumulators and temporaries.
    fresh: usize,
    /// Reads sliced to their row before the innermost loop: the row
    /// (`x[n * 784..n * 784 + 784]`) and the slice's name.
    rows: Vec<(affine::Row, String)>,
    /// The index of the innermost loop whose reads are sliced to rows.
    row_index: Option<(crate::ir::IndexId, affine::Size)>,
    /// A sum already computed (by a blocked nest): its index and the
    /// accumulator that holds it.
    done: Option<(crate::ir::IndexId, String)>,
    /// The accumulator of the chain of sums being lowered (`Nest::chain`).
    chain: Option<String>,
    /// The outermost sum of a taps nest (`Order::Taps`) and its element of
    /// the row of accumulators.
    taps: Option<(crate::ir::IndexId, scalar::Scalar)>,
    /// The logsumexps whose exponentials a softmax reads (`softmax.rs`),
    /// and those already lowered with their array.
    keep_exps: Vec<crate::ir::ValueId>,
    kept: Vec<softmax::Kept>,
    /// The residual value of the logsumexp being lowered (`crate::lse`)
    /// and its element, for the definition to store next to its own; and
    /// the residuals the function needs.
    residual: Option<(ValueId, scalar::Scalar)>,
    residuals: Vec<ValueId>,
    /// A value lowered after the definitions (the loss as the tail
    /// expression), whose reads fusion must leave in their arrays.
    tail: Option<crate::ir::ValueId>,
    /// While a mean over a run-time size builds its rescue: the number
    /// that stands for 1 / 2^ceil(log2 n) (by its bits) and the local that
    /// holds it.
    pow2_inv: Option<(u64, String)>,
}

impl<'w> Body<'w> {
    fn new(w: &'w mut Writer) -> Body<'w> {
        Body {
            w,
            code: loops::Builder::default(),
            fresh: 0,
            rows: Vec::new(),
            row_index: None,
            done: None,
            chain: None,
            taps: None,
            keep_exps: Vec::new(),
            kept: Vec::new(),
            residual: None,
            residuals: Vec::new(),
            tail: None,
            pow2_inv: None,
        }
    }
}

impl<'a> Generator<'a> {
    fn new(
        g: &'a Gradient,
        p: &'a Program,
        wrt: Vec<(ValueId, ValueId)>,
        original: Vec<Option<ValueId>>,
        options: &Options,
    ) -> Generator<'a> {
        let runtime = p.runtime_dims().next().is_some();
        let extra: &[&str] = if runtime { RUNTIME_NAMES } else { &[] };
        let mut taken: HashSet<String> = OWN_NAMES
            .iter()
            .chain(ITEM_NAMES)
            .chain(extra)
            .map(|s| s.to_string())
            .collect();
        let mut dim_idents = Vec::with_capacity(p.dims.len());
        for d in &p.dims {
            let ident = unique(&sanitize(&d.name), |c| taken.contains(c));
            taken.insert(ident.clone());
            dim_idents.push(ident);
        }
        // Accumulators and temporaries avoid every index variable's name too.
        let index_names: HashSet<String> = p
            .values
            .iter()
            .flat_map(|v| &v.indices)
            .map(|var| sanitize(&var.name.replace('\'', "_")))
            .collect();
        let mut idents = Vec::with_capacity(p.values.len());
        for id in p.ids() {
            let v = p.value(id);
            let base = match (&v.origin, v.kind) {
                (crate::ir::Origin::Adjoint { of, .. }, ValueKind::Adjoint) => {
                    format!("d_{}", sanitize(&p.value(*of).name))
                }
                _ => sanitize(&v.name),
            };
            let ident = unique(&base, |c| taken.contains(c));
            taken.insert(ident.clone());
            idents.push(ident);
        }
        let mut offsets = vec![0; p.values.len()];
        let (mut inputs, mut params) = (0, 0);
        for id in p.ids() {
            let v = p.value(id);
            match v.kind {
                ValueKind::Input => {
                    offsets[id.index()] = inputs;
                    inputs += v.len();
                }
                ValueKind::Param => {
                    offsets[id.index()] = params;
                    params += v.len();
                }
                _ => {}
            }
        }
        let mut out_offsets = vec![0; p.values.len()];
        let mut outputs = 0;
        for o in &p.outputs {
            out_offsets[o.index()] = outputs;
            outputs += p.value(*o).len();
        }
        let mut grad_of = vec![None; p.values.len()];
        for (w, adj) in &wrt {
            grad_of[w.index()] = Some(*adj);
        }
        Generator {
            g,
            p,
            wrt,
            original,
            float: options.float,
            source: options.source.clone(),
            idents,
            taken,
            dim_idents,
            index_names,
            offsets,
            grad_of,
            out_offsets,
            no_std: options.no_std,
            math: RefCell::new(BTreeSet::new()),
            own_math: options.math == MathFunctions::Fast,
            own_math_used: RefCell::new(BTreeSet::new()),
            heap: Cell::new(false),
            gemm_used: Cell::new(false),
            features: options.features,
            schedule: schedule::program(p, options.float),
            off_stack: Default::default(),
            runtime,
            numbers: Vec::new(),
            residual: vec![None; p.values.len()],
            is_residual: vec![false; p.values.len()],
        }
    }

    /// The size of an extent: its number, or the run-time dim's local.
    fn extent(&self, e: &crate::ir::Extent) -> affine::Size {
        match e.dim.as_deref() {
            Some(d) if self.p.is_runtime(e) => affine::Size {
                factor: 1,
                dims: vec![self.dim_ident(d).expect("a dim of the program").to_string()],
            },
            _ => e.size.into(),
        }
    }

    /// The number of scalars of a value, as a size.
    fn len_of(&self, v: &Value) -> affine::Size {
        v.shape
            .iter()
            .fold(1.into(), |acc: affine::Size, e| acc.times(&self.extent(e)))
    }

    /// Whether the reduction of a value (a logsumexp's) runs over a
    /// run-time number of terms.
    fn sized_at_run_time_sum(&self, id: ValueId) -> bool {
        let v = self.p.value(id);
        v.indices[v.rank()..]
            .iter()
            .any(|var| self.p.is_runtime(&var.extent))
    }

    /// Whether a value's size depends on a run-time dim.
    fn sized_at_run_time(&self, v: &Value) -> bool {
        v.shape.iter().any(|e| self.p.is_runtime(e))
    }

    /// The row-major strides of a value's dimensions, as sizes.
    fn strides(&self, v: &Value) -> Vec<affine::Size> {
        let mut strides = vec![affine::Size::from(1); v.rank()];
        for m in (0..v.rank().saturating_sub(1)).rev() {
            strides[m] = strides[m + 1].times(&self.extent(&v.shape[m + 1]));
        }
        strides
    }

    /// The code of a number of the program: its literal, or, for a number
    /// computed from run-time sizes, that computation (`1.0_f64 / N as f64`).
    fn number(&self, x: f64) -> scalar::Scalar {
        use scalar::{Binary, Scalar};
        let Some(n) = self
            .numbers
            .iter()
            .find(|n| n.value.to_bits() == x.to_bits())
        else {
            return Scalar::Num(x);
        };
        let count = |positive: bool| {
            let mut dims = Vec::new();
            for (d, k) in &n.powers {
                if (*k > 0) == positive {
                    let ident = self.dim_ident(d).expect("a dim of the program");
                    dims.extend(std::iter::repeat_n(
                        ident.to_string(),
                        k.unsigned_abs() as usize,
                    ));
                }
            }
            (!dims.is_empty()).then_some(Scalar::Count(affine::Size { factor: 1, dims }))
        };
        let mut e = Scalar::Num(n.factor);
        if let Some(up) = count(true) {
            e = Scalar::binary(Binary::Mul, e, up);
        }
        if let Some(down) = count(false) {
            e = Scalar::binary(Binary::Div, e, down);
        }
        e
    }

    /// Whether a number is computed from run-time sizes.
    fn is_size_number(&self, e: &crate::ir::Expr) -> bool {
        matches!(e, crate::ir::Expr::Num(x) if self.numbers.iter().any(|n| n.value.to_bits() == x.to_bits()))
    }

    /// The local tensors of a core function that stay off its stack: those
    /// above [`STACK_LIMIT`] scalars, and those that come after the arrays
    /// before them have used up [`STACK_BUDGET`].
    fn off_stack(&self, core: Core) -> Vec<bool> {
        let need = self.needed(&self.targets(core));
        let bytes = match self.float {
            Float::F64 => 8,
            Float::F32 => 4,
        };
        let mut used = 0;
        let mut off = vec![false; self.p.values.len()];
        for id in self.p.ids() {
            let v = self.p.value(id);
            if !need[id.index()] || v.rank() == 0 || self.home(id, core) != Store::Local {
                continue;
            }
            if self.sized_at_run_time(v) {
                off[id.index()] = true;
            } else if v.len() <= STACK_LIMIT && used + v.len() * bytes <= STACK_BUDGET {
                used += v.len() * bytes;
            } else {
                off[id.index()] = true;
            }
        }
        off
    }

    /// The id of a value of the program, from a reference to it.
    fn id_of(&self, v: &Value) -> ValueId {
        let i = self
            .p
            .values
            .iter()
            .position(|u| std::ptr::eq(u, v))
            .expect("a value of the program");
        ValueId(i as u32)
    }

    fn total(&self, kind: ValueKind) -> usize {
        self.p
            .values
            .iter()
            .filter(|v| v.kind == kind)
            .map(Value::len)
            .sum()
    }

    /// `a[M, D] at 0..12` for the layout comments.
    fn layout(&self, kind: ValueKind) -> Vec<String> {
        self.p
            .ids()
            .filter(|id| self.p.value(*id).kind == kind)
            .map(|id| {
                let v = self.p.value(id);
                let start = self.offsets[id.index()];
                format!("`{}` at {}..{}", v.declared(), start, start + v.len())
            })
            .collect()
    }

    /// What a core function computes: the loss, and the outputs or the
    /// gradients.
    fn targets(&self, core: Core) -> Vec<ValueId> {
        let mut targets = vec![self.p.loss];
        match core {
            Core::Loss => {}
            Core::Forward => targets.extend(&self.p.outputs),
            Core::Gradient => targets.extend(self.wrt.iter().map(|(_, a)| *a)),
        }
        targets
    }

    /// The values `target` depends on, itself included.
    fn needed(&self, targets: &[ValueId]) -> Vec<bool> {
        let mut need = vec![false; self.p.values.len()];
        for t in targets {
            need[t.index()] = true;
        }
        for id in self.p.ids().rev() {
            if need[id.index()] {
                if let Some(rhs) = &self.p.value(id).rhs {
                    rhs.for_each_read(&mut |u, _| need[u.index()] = true);
                }
            }
        }
        need
    }

    /// The inputs and params among `need`, in declaration order.
    fn given(&self, need: &[bool]) -> Vec<ValueId> {
        self.p
            .ids()
            .filter(|id| {
                need[id.index()]
                    && matches!(self.p.value(*id).kind, ValueKind::Input | ValueKind::Param)
            })
            .collect()
    }

    fn params(&self) -> Vec<ValueId> {
        self.p
            .ids()
            .filter(|id| self.p.value(*id).kind == ValueKind::Param)
            .collect()
    }

    /// The name of an output in `forward_core` and its wrappers: the value's
    /// own for a tensor, which is written in place; `E_out` for a scalar,
    /// which is a local copied out.
    fn out_name(&self, id: ValueId) -> String {
        let ident = &self.idents[id.index()];
        if self.p.value(id).rank() == 0 {
            unique(&format!("{ident}_out"), |c| self.taken.contains(c))
        } else {
            ident.clone()
        }
    }

    /// The name of each param's gradient slice in the core and the wrappers.
    fn grad_name(&self, param: ValueId) -> String {
        match self.grad_of[param.index()] {
            Some(adj) => self.idents[adj.index()].clone(),
            None => unique(&format!("d_{}", self.idents[param.index()]), |c| {
                self.taken.contains(c)
            }),
        }
    }
}
