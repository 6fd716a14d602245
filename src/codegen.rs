//! Rust code generation: one self-contained module, needing only `core`, with
//! the loss and its gradient as loops over the differentiated program.
//!
//! The code is written the way rustfmt would write it, so that it is stable
//! under rustfmt: reductions become an accumulator and a loop, and long
//! expressions are split into `let` temporaries.

use std::collections::HashSet;

use crate::autodiff::Gradient;
use crate::ir::{BinOp, Expr, Func, IndexId, Program, Reduction, Sub, Value, ValueId, ValueKind};

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
}

/// Tensors with more scalars than this live on the heap (a `Vec` per call);
/// smaller ones are arrays on the stack.
pub const STACK_LIMIT: usize = 4096;

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

/// Generates the module for a gradient. The gradient must be taken with
/// respect to params only: the flat API returns dE/dparams.
pub fn generate(g: &Gradient, options: &Options) -> Result<String, String> {
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
    Ok(crate::on_own_stack(|| {
        // Subterms shared across definitions, the gradient's included, are
        // computed once: hoisted into temporaries of the code's own program.
        let (program, remap) = if options.share {
            crate::graph::hoist(g.dag.program.clone())
        } else {
            (g.dag.program.clone(), g.dag.program.ids().collect())
        };
        let mut original = vec![None; program.values.len()];
        for (old, new) in remap.iter().enumerate() {
            original[new.index()] = Some(ValueId(old as u32));
        }
        let wrt: Vec<(ValueId, ValueId)> = g
            .wrt
            .iter()
            .map(|(w, a)| (remap[w.index()], remap[a.index()]))
            .collect();
        Generator::new(g, &program, wrt, original, options).module()
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
const OWN_NAMES: &[&str] = &["inputs", "params", "grad", "ops", "lengths"];

/// Where a value lives in the generated functions.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Store {
    /// A scalar local.
    Scalar,
    /// A local array (stack) or `Vec` (heap).
    Local,
    /// A param's gradient, written straight into the caller's slice.
    Grad(ValueId),
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
    /// Offsets of inputs in `inputs` and params in `params`.
    offsets: Vec<usize>,
    /// The gradient (adjoint value) of each param, when it has one.
    grad_of: Vec<Option<ValueId>>,
}

/// Text being written, with its indentation level.
struct Writer {
    out: String,
    level: usize,
}

impl Writer {
    fn line(&mut self, s: &str) {
        if s.is_empty() {
            self.out.push('\n');
            return;
        }
        for _ in 0..self.level {
            self.out.push_str("    ");
        }
        self.out.push_str(s);
        self.out.push('\n');
    }

    /// A blank line, unless the text already ends in one or in an opening
    /// brace (rustfmt removes both).
    fn blank(&mut self) {
        if !self.out.ends_with("\n\n") && !self.out.ends_with("{\n") {
            self.out.push('\n');
        }
    }

    fn open(&mut self, s: &str) {
        self.line(s);
        self.level += 1;
    }

    fn close(&mut self) {
        self.level -= 1;
        self.line("}");
    }
}

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

/// A unique identifier: `base`, else `base_2`, `base_3`, ...
fn unique(base: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|c| !taken.contains(c))
        .expect("some suffix is free")
}

/// A generated expression and how tightly it binds.
struct Operand {
    text: String,
    strength: u8,
}

const ADD: u8 = 1;
const MUL: u8 = 2;
const NEG: u8 = 3;
const ATOM: u8 = 4;

impl Operand {
    fn atom(text: String) -> Operand {
        Operand {
            text,
            strength: ATOM,
        }
    }

    /// The text, parenthesised if it binds less tightly than `min`.
    fn at(&self, min: u8) -> String {
        if self.strength < min {
            format!("({})", self.text)
        } else {
            self.text.clone()
        }
    }
}

/// The state of one function being generated.
struct Body<'a> {
    w: &'a mut Writer,
    /// Counter for accumulators and temporaries.
    fresh: usize,
}

impl<'a> Generator<'a> {
    fn new(
        g: &'a Gradient,
        p: &'a Program,
        wrt: Vec<(ValueId, ValueId)>,
        original: Vec<Option<ValueId>>,
        options: &Options,
    ) -> Generator<'a> {
        let mut taken: HashSet<String> = OWN_NAMES.iter().map(|s| s.to_string()).collect();
        taken.extend(p.dims.iter().map(|d| d.name.clone()));
        let mut idents = Vec::with_capacity(p.values.len());
        for id in p.ids() {
            let v = p.value(id);
            let base = match (&v.origin, v.kind) {
                (crate::ir::Origin::Adjoint { of, .. }, ValueKind::Adjoint) => {
                    format!("d_{}", sanitize(&p.value(*of).name))
                }
                _ => sanitize(&v.name),
            };
            let ident = unique(&base, &taken);
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
            offsets,
            grad_of,
        }
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

    fn module(&self) -> String {
        let mut w = Writer {
            out: String::new(),
            level: 0,
        };
        let real = self.float.name();
        w.line(&format!("// @generated by netgrad from {}", self.source));
        w.line("// Do not edit: compile the .net file again instead.");
        w.line("");
        for d in &self.p.dims {
            w.line(&format!("/// The size of dim `{}`.", d.name));
            // An `include!`d module in a private `mod` must not warn about what it does not use.
            if d.name.chars().any(|c| c.is_ascii_lowercase()) {
                w.line("#[allow(dead_code, non_upper_case_globals)]");
            } else {
                w.line("#[allow(dead_code)]");
            }
            w.line(&format!("pub const {}: usize = {};", d.name, d.size));
        }
        for (kind, name, what) in [
            (ValueKind::Input, "N_INPUTS", "inputs"),
            (ValueKind::Param, "N_PARAMS", "params"),
        ] {
            w.blank();
            w.line(&format!(
                "/// The number of {} scalars. The flat `{what}` slice holds, in declaration",
                &what[..what.len() - 1]
            ));
            w.line("/// order and row-major (the last index varies fastest):");
            let layout = self.layout(kind);
            if layout.is_empty() {
                w.line("/// nothing.");
            }
            for (k, item) in layout.iter().enumerate() {
                let end = if k + 1 == layout.len() { "." } else { "," };
                w.line(&format!("/// {item}{end}"));
            }
            w.line("#[allow(dead_code)]");
            w.line(&format!("pub const {name}: usize = {};", self.total(kind)));
        }
        w.line("");
        self.structs(&mut w);
        w.blank();
        self.lengths_fn(&mut w);
        w.line("");
        self.loss_fns(&mut w);
        w.line("");
        self.gradient_fns(&mut w);
        self.ops_module(&mut w, real);
        w.out
    }

    fn lengths_fn(&self, w: &mut Writer) {
        let real = self.float.name();
        w.line("#[allow(dead_code)]");
        w.open(&format!(
            "fn lengths(inputs: &[{real}], params: &[{real}]) {{"
        ));
        for (slice, n) in [("inputs", "N_INPUTS"), ("params", "N_PARAMS")] {
            w.open("assert!(");
            w.line(&format!("{slice}.len() == {n},"));
            w.line(&format!(
                "\"netgrad: `{slice}` holds {{}} scalars; {n} is {{}}\","
            ));
            w.line(&format!("{slice}.len(),"));
            w.line(n);
            w.level -= 1;
            w.line(");");
        }
        w.close();
    }

    /// The lints that generated numeric code trips by design, allowed on
    /// each function: loops over index ranges, user names, `-1 * x` left by
    /// the chain rule, and whatever arithmetic the user wrote.
    fn allows(w: &mut Writer) {
        w.line("#[allow(dead_code, non_snake_case, clippy::needless_range_loop)]");
        w.line("#[allow(clippy::neg_multiply, clippy::eq_op, clippy::approx_constant)]");
        w.line("#[allow(clippy::too_many_lines, clippy::too_many_arguments)]");
        w.line("#[allow(clippy::manual_memcpy, clippy::excessive_precision)]");
        w.line("#[allow(clippy::identity_op)]");
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

    /// The name of each param's gradient slice in the core and the wrappers.
    fn grad_name(&self, param: ValueId) -> String {
        match self.grad_of[param.index()] {
            Some(adj) => self.idents[adj.index()].clone(),
            None => unique(&format!("d_{}", self.idents[param.index()]), &self.taken),
        }
    }

    /// `fn name(a: T, b: U) -> R {` on one line, or one parameter a line, as rustfmt does.
    fn signature(w: &mut Writer, head: &str, params: &[String], ret: &str) {
        let one = format!("{head}({}) -> {ret} {{", params.join(", "));
        if 4 * w.level + one.len() <= 100 {
            w.open(&one);
            return;
        }
        w.open(&format!("{head}("));
        for p in params {
            w.line(&format!("{p},"));
        }
        w.level -= 1;
        w.open(&format!(") -> {ret} {{"));
    }

    /// A call as a tail expression: on one line, or one argument a line.
    fn call(w: &mut Writer, callee: &str, args: &[String]) {
        let joined = args.join(", ");
        if joined.len() <= 60 && 4 * w.level + callee.len() + joined.len() + 2 <= 100 {
            w.line(&format!("{callee}({joined})"));
            return;
        }
        w.open(&format!("{callee}("));
        for a in args {
            w.line(&format!("{a},"));
        }
        w.level -= 1;
        w.line(")");
    }

    /// `&'a [[f64; D]; M]`: a tensor's type in the typed API.
    fn array_type(&self, v: &Value) -> String {
        v.shape
            .iter()
            .rev()
            .fold(self.float.name().to_string(), |inner, e| {
                let size = match &e.dim {
                    Some(d) if self.p.dims.iter().any(|x| x.name == *d) => d.clone(),
                    _ => e.size.to_string(),
                };
                format!("[{inner}; {size}]")
            })
    }

    /// `.as_flattened()` as often as the rank needs, to pass a nested array as a slice.
    fn flatten(v: &Value, mutable: bool) -> String {
        let call = if mutable {
            ".as_flattened_mut()"
        } else {
            ".as_flattened()"
        };
        call.repeat(v.rank().saturating_sub(1))
    }

    /// The typed API's structs: `Inputs`, `Params` and `Gradients`.
    fn structs(&self, w: &mut Writer) {
        let real = self.float.name();
        let groups = [
            ("Inputs", ValueKind::Input, "The inputs, by name: scalars by value, tensors by reference in their declared shape."),
            ("Params", ValueKind::Param, "The params, by name: scalars by value, tensors by reference in their declared shape."),
            ("Gradients", ValueKind::Param, "Where `gradient` writes dE/dparam for each param, in the param's shape."),
        ];
        for (name, kind, doc) in groups {
            let members: Vec<ValueId> = self
                .p
                .ids()
                .filter(|id| self.p.value(*id).kind == kind)
                .collect();
            let mutable = name == "Gradients";
            let lifetime = members
                .iter()
                .any(|id| mutable || self.p.value(*id).rank() > 0);
            w.blank();
            w.line(&format!("/// {doc}"));
            w.line("#[allow(dead_code, non_snake_case)]");
            if members.is_empty() {
                w.line(&format!("pub struct {name} {{}}"));
                continue;
            }
            w.open(&format!(
                "pub struct {name}{} {{",
                if lifetime { "<'a>" } else { "" }
            ));
            for id in members {
                let v = self.p.value(id);
                w.line(&format!("/// `{}`", v.declared()));
                let ty = match (v.rank(), mutable) {
                    (0, false) => real.to_string(),
                    (0, true) => format!("&'a mut {real}"),
                    (_, false) => format!("&'a {}", self.array_type(v)),
                    (_, true) => format!("&'a mut {}", self.array_type(v)),
                };
                w.line(&format!("pub {}: {ty},", self.idents[id.index()]));
            }
            w.close();
        }
    }

    fn loss_fns(&self, w: &mut Writer) {
        let real = self.float.name();
        let mut need = self.needed(&[self.p.loss]);
        let given = self.given(&need);

        w.line("/// The loss, given every input and param as a flat slice (see `N_INPUTS`");
        w.line("/// and `N_PARAMS` for the layout).");
        w.line("///");
        w.line("/// # Panics");
        w.line("///");
        w.line("/// If a slice's length is not `N_INPUTS` or `N_PARAMS`.");
        w.line("#[allow(dead_code, non_snake_case)]");
        w.open(&format!(
            "pub fn loss_flat(inputs: &[{real}], params: &[{real}]) -> {real} {{"
        ));
        w.line("lengths(inputs, params);");
        let args: Vec<String> = given.iter().map(|id| self.flat_arg(*id)).collect();
        Self::call(w, "loss_core", &args);
        w.close();

        w.blank();
        w.line("/// The loss, given the inputs and params by name.");
        w.line("#[allow(dead_code, non_snake_case)]");
        let (inputs, params) = self.typed_names(&given);
        w.open(&format!(
            "pub fn loss({inputs}: &Inputs, {params}: &Params) -> {real} {{"
        ));
        let args: Vec<String> = given.iter().map(|id| self.typed_arg(*id)).collect();
        Self::call(w, "loss_core", &args);
        w.close();

        w.blank();
        Self::allows(w);
        let params: Vec<String> = given.iter().map(|id| self.core_param(*id)).collect();
        Self::signature(w, "fn loss_core", &params, real);
        // The loss itself is the function's tail expression.
        need[self.p.loss.index()] = false;
        let mut body = Body { w, fresh: 0 };
        self.values(&mut body, &need, false);
        let loss = self.p.value(self.p.loss);
        body.w.blank();
        body.w
            .line(&format!("// {}", crate::pretty::definition(self.p, loss)));
        let names = self.index_idents(loss);
        let value = self.lower(
            &mut body,
            loss.rhs.as_ref().expect("the loss has a right-hand side"),
            loss,
            &names,
        );
        body.w.line(&value.text);
        w.close();
    }

    fn gradient_fns(&self, w: &mut Writer) {
        let real = self.float.name();
        let targets: Vec<ValueId> = std::iter::once(self.p.loss)
            .chain(self.wrt.iter().map(|(_, a)| *a))
            .collect();
        let need = self.needed(&targets);
        let given = self.given(&need);
        let params = self.params();

        w.line("/// Returns the loss and writes its gradient with respect to the params into");
        w.line("/// `grad`, in the layout of `params`.");
        w.line("///");
        w.line("/// # Panics");
        w.line("///");
        w.line("/// If a slice's length is not `N_INPUTS` or `N_PARAMS`.");
        w.line("#[allow(dead_code, non_snake_case)]");
        w.open(&format!("pub fn gradient_flat(inputs: &[{real}], params: &[{real}], grad: &mut [{real}]) -> {real} {{"));
        w.line("lengths(inputs, params);");
        w.open("assert!(");
        w.line("grad.len() == N_PARAMS,");
        w.line("\"netgrad: `grad` holds {} scalars; N_PARAMS is {}\",");
        w.line("grad.len(),");
        w.line("N_PARAMS");
        w.level -= 1;
        w.line(");");
        for (k, id) in params.iter().enumerate() {
            let rest = if k + 1 == params.len() { "_" } else { "grad" };
            w.line(&format!(
                "let ({}, {rest}) = grad.split_at_mut({});",
                self.grad_name(*id),
                self.p.value(*id).len()
            ));
        }
        let mut args: Vec<String> = given.iter().map(|id| self.flat_arg(*id)).collect();
        args.extend(params.iter().map(|id| {
            let d = self.grad_name(*id);
            if self.p.value(*id).rank() == 0 {
                format!("&mut {d}[0]")
            } else {
                d
            }
        }));
        Self::call(w, "gradient_core", &args);
        w.close();

        w.blank();
        w.line("/// Returns the loss, given the inputs and params by name, and writes its");
        w.line("/// gradient with respect to each param into `grad`.");
        w.line("#[allow(dead_code, non_snake_case)]");
        let (inputs, params_name) = self.typed_names(&given);
        w.open(&format!("pub fn gradient({inputs}: &Inputs, {params_name}: &Params, grad: Gradients) -> {real} {{"));
        let mut args: Vec<String> = given.iter().map(|id| self.typed_arg(*id)).collect();
        args.extend(params.iter().map(|id| {
            let v = self.p.value(*id);
            format!("grad.{}{}", self.idents[id.index()], Self::flatten(v, true))
        }));
        Self::call(w, "gradient_core", &args);
        w.close();

        w.blank();
        Self::allows(w);
        let mut core: Vec<String> = given.iter().map(|id| self.core_param(*id)).collect();
        core.extend(params.iter().map(|id| {
            let ty = if self.p.value(*id).rank() == 0 {
                format!("&mut {real}")
            } else {
                format!("&mut [{real}]")
            };
            format!("{}: {ty}", self.grad_name(*id))
        }));
        Self::signature(w, "fn gradient_core", &core, real);
        // Params that are not differentiated get a zero gradient.
        for id in &params {
            if self.grad_of[id.index()].is_none() {
                let d = self.grad_name(*id);
                if self.p.value(*id).rank() == 0 {
                    w.line(&format!("*{d} = 0.0;"));
                } else {
                    w.line(&format!("{d}.fill(0.0);"));
                }
            }
        }
        let mut body = Body { w, fresh: 0 };
        self.values(&mut body, &need, true);
        w.line(&self.idents[self.p.loss.index()].clone());
        w.close();
    }

    /// `inputs`/`params`, or `_inputs`/`_params` when the function reads none of them.
    fn typed_names(&self, given: &[ValueId]) -> (&'static str, &'static str) {
        let reads = |kind| given.iter().any(|id| self.p.value(*id).kind == kind);
        (
            if reads(ValueKind::Input) {
                "inputs"
            } else {
                "_inputs"
            },
            if reads(ValueKind::Param) {
                "params"
            } else {
                "_params"
            },
        )
    }

    /// `&inputs[0..3]`, or `inputs[3]` for a scalar.
    fn flat_arg(&self, id: ValueId) -> String {
        let v = self.p.value(id);
        let slice = if v.kind == ValueKind::Input {
            "inputs"
        } else {
            "params"
        };
        let start = self.offsets[id.index()];
        if v.rank() == 0 {
            format!("{slice}[{start}]")
        } else {
            format!("&{slice}[{}..{}]", start, start + v.len())
        }
    }

    /// `params.w1.as_flattened()`, `inputs.x`, or a scalar `params.b`.
    fn typed_arg(&self, id: ValueId) -> String {
        let v = self.p.value(id);
        let owner = if v.kind == ValueKind::Input {
            "inputs"
        } else {
            "params"
        };
        format!(
            "{owner}.{}{}",
            self.idents[id.index()],
            Self::flatten(v, false)
        )
    }

    /// `w1: &[f64]` or `b: f64`.
    fn core_param(&self, id: ValueId) -> String {
        let real = self.float.name();
        let v = self.p.value(id);
        let ty = if v.rank() == 0 {
            real.to_string()
        } else {
            format!("&[{real}]")
        };
        format!("{}: {ty}", self.idents[id.index()])
    }

    /// Computes every needed definition, in order. Inputs and params are the
    /// core function's parameters.
    fn values(&self, body: &mut Body, need: &[bool], gradient: bool) {
        for id in self.p.ids() {
            if need[id.index()]
                && !matches!(self.p.value(id).kind, ValueKind::Input | ValueKind::Param)
            {
                self.definition(body, id, gradient);
            }
        }
    }

    fn store(&self, id: ValueId, gradient: bool) -> Store {
        let v = self.p.value(id);
        if gradient {
            if let Some((w, _)) = self.wrt.iter().find(|(_, a)| *a == id) {
                return Store::Grad(*w);
            }
        }
        // Only definitions are stored: inputs and params are the core's parameters.
        if v.rank() == 0 {
            Store::Scalar
        } else {
            Store::Local
        }
    }

    /// The index variables of a value, as Rust identifiers unique in scope.
    fn index_idents(&self, v: &Value) -> Vec<String> {
        let mut used = self.taken.clone();
        v.indices
            .iter()
            .map(|var| {
                let ident = unique(&sanitize(&var.name.replace('\'', "_")), &used);
                used.insert(ident.clone());
                ident
            })
            .collect()
    }

    /// One definition, forward or adjoint: a comment, its storage, and loops
    /// over its left-hand indices.
    fn definition(&self, body: &mut Body, id: ValueId, gradient: bool) {
        let v = self.p.value(id);
        let ident = self.idents[id.index()].clone();
        let real = self.float.name();
        let rhs = v.rhs.as_ref().expect("a definition has a right-hand side");
        body.w.blank();
        if v.kind == ValueKind::Adjoint {
            let derivation =
                self.original[id.index()].map(|old| crate::explain::derivation(self.g, old));
            for line in derivation.unwrap_or_default() {
                body.w.line(&format!("// {line}"));
            }
        } else {
            body.w
                .line(&format!("// {}", crate::pretty::definition(self.p, v)));
        }
        let names = self.index_idents(v);
        let store = self.store(id, gradient);
        if v.rank() == 0 {
            let value = self.lower(body, rhs, v, &names);
            match store {
                Store::Grad(param) => {
                    body.w
                        .line(&format!("*{} = {};", self.grad_name(param), value.text))
                }
                _ => body
                    .w
                    .line(&format!("let {ident}: {real} = {};", value.text)),
            }
            return;
        }
        match store {
            Store::Local if v.len() > STACK_LIMIT => body
                .w
                .line(&format!("let mut {ident} = vec![0.0; {}];", v.len())),
            Store::Local => body
                .w
                .line(&format!("let mut {ident} = [0.0; {}];", v.len())),
            _ => {}
        }
        for (m, extent) in v.shape.iter().enumerate() {
            body.w
                .open(&format!("for {} in 0..{} {{", names[m], extent.size));
        }
        let value = self.lower(body, rhs, v, &names);
        let own: Vec<Sub> = (0..v.rank() as u32).map(|i| Sub::Var(IndexId(i))).collect();
        let at = self.flat_index(v, &own, &names);
        match store {
            Store::Grad(param) => body.w.line(&format!(
                "{}[{at}] = {};",
                self.grad_name(param),
                value.text
            )),
            _ => body.w.line(&format!("{ident}[{at}] = {};", value.text)),
        }
        for _ in 0..v.rank() {
            body.w.close();
        }
    }

    /// `j * 3 + i`: the row-major offset of `value[subs]`, in the reader's names.
    fn flat_index(&self, value: &Value, subs: &[Sub], names: &[String]) -> String {
        let strides = crate::eval::strides(value);
        let mut constant = 0;
        let mut terms = Vec::new();
        for (s, stride) in subs.iter().zip(strides) {
            match s {
                Sub::Lit(n) => constant += n * stride,
                Sub::Var(v) if stride == 1 => terms.push(names[v.index()].clone()),
                Sub::Var(v) => terms.push(format!("{} * {stride}", names[v.index()])),
            }
        }
        if constant > 0 || terms.is_empty() {
            terms.push(constant.to_string());
        }
        terms.join(" + ")
    }

    /// A float literal of the generated type.
    fn literal(&self, x: f64) -> Operand {
        let real = self.float.name();
        let text = if x.is_infinite() {
            format!(
                "{real}::{}",
                if x > 0.0 { "INFINITY" } else { "NEG_INFINITY" }
            )
        } else if x.is_nan() {
            format!("{real}::NAN")
        } else {
            format!("{x:?}_{real}")
        };
        if x.is_sign_negative() && x.is_finite() {
            Operand {
                text,
                strength: NEG,
            }
        } else {
            Operand::atom(text)
        }
    }

    /// Binds a long operand to a temporary, so that lines stay short.
    fn short(&self, body: &mut Body, op: Operand) -> Operand {
        if op.text.len() <= MAX_EXPR {
            return op;
        }
        body.fresh += 1;
        let name = unique(&format!("t{}", body.fresh), &self.taken);
        body.w.line(&format!("let {name} = {};", op.text));
        Operand::atom(name)
    }

    /// Binds the longer operand, then if need be the other, to temporaries
    /// until the two fit on one line together.
    fn fit(&self, body: &mut Body, l: Operand, r: Operand) -> (Operand, Operand) {
        let bind = |body: &mut Body, op: Operand| {
            body.fresh += 1;
            let name = unique(&format!("t{}", body.fresh), &self.taken);
            body.w.line(&format!("let {name} = {};", op.text));
            Operand::atom(name)
        };
        let (mut l, mut r) = (l, r);
        if l.text.len() + r.text.len() > MAX_EXPR {
            if l.text.len() >= r.text.len() {
                l = bind(body, l);
            } else {
                r = bind(body, r);
            }
        }
        if l.text.len() + r.text.len() > MAX_EXPR {
            if l.strength == ATOM && l.text.len() < r.text.len() {
                r = bind(body, r);
            } else {
                l = bind(body, l);
            }
        }
        (l, r)
    }

    /// Lowers an expression of `owner` to statements and a final operand.
    fn lower(&self, body: &mut Body, e: &Expr, owner: &Value, names: &[String]) -> Operand {
        let op = match e {
            Expr::Num(x) => self.literal(*x),
            Expr::Read { value, subs } => {
                let v = self.p.value(*value);
                let ident = &self.idents[value.index()];
                if v.rank() == 0 {
                    Operand::atom(ident.clone())
                } else {
                    Operand::atom(format!("{ident}[{}]", self.flat_index(v, subs, names)))
                }
            }
            Expr::Delta(a, b) => {
                let s = |s: &Sub| match s {
                    Sub::Var(v) => names[v.index()].clone(),
                    Sub::Lit(n) => n.to_string(),
                };
                Operand::atom(format!("ops::delta({}, {})", s(a), s(b)))
            }
            Expr::Unary { func, arg } => {
                let a = self.lower(body, arg, owner, names);
                let a = self.short(body, a);
                match func {
                    Func::Neg => Operand {
                        text: format!("-{}", a.at(NEG + 1)),
                        strength: NEG,
                    },
                    Func::Exp | Func::Sqrt | Func::Tanh | Func::Sin | Func::Cos | Func::Abs => {
                        Operand::atom(format!("{}.{}()", a.at(ATOM), func.name()))
                    }
                    Func::Log => Operand::atom(format!("{}.ln()", a.at(ATOM))),
                    Func::Sigmoid | Func::Relu | Func::Softplus | Func::Step | Func::Sign => {
                        Operand::atom(format!("ops::{}({})", func.name(), a.text))
                    }
                }
            }
            Expr::Binary { op, lhs, rhs } => {
                let l = self.lower(body, lhs, owner, names);
                let r = self.lower(body, rhs, owner, names);
                let (l, r) = self.fit(body, l, r);
                match op {
                    BinOp::Add => Operand {
                        text: format!("{} + {}", l.at(ADD), r.at(ADD + 1)),
                        strength: ADD,
                    },
                    BinOp::Sub => Operand {
                        text: format!("{} - {}", l.at(ADD), r.at(ADD + 1)),
                        strength: ADD,
                    },
                    BinOp::Mul => Operand {
                        text: format!("{} * {}", l.at(MUL), r.at(MUL + 1)),
                        strength: MUL,
                    },
                    BinOp::Div => Operand {
                        text: format!("{} / {}", l.at(MUL), r.at(MUL + 1)),
                        strength: MUL,
                    },
                    BinOp::Pow => match &**rhs {
                        Expr::Num(n) if n.fract() == 0.0 && n.abs() <= 64.0 => {
                            Operand::atom(format!("{}.powi({})", l.at(ATOM), *n as i32))
                        }
                        _ => Operand::atom(format!("{}.powf({})", l.at(ATOM), r.text)),
                    },
                    BinOp::Max => Operand::atom(format!("ops::max({}, {})", l.text, r.text)),
                    BinOp::Min => Operand::atom(format!("ops::min({}, {})", l.text, r.text)),
                }
            }
            Expr::Reduce {
                op,
                index,
                body: inner,
            } => self.reduce(body, *op, *index, inner, owner, names),
        };
        op
    }

    /// A reduction as an accumulator and a loop (two loops for logsumexp,
    /// which shifts the max out).
    fn reduce(
        &self,
        body: &mut Body,
        op: Reduction,
        index: IndexId,
        inner: &Expr,
        owner: &Value,
        names: &[String],
    ) -> Operand {
        let real = self.float.name();
        let size = owner.indices[index.index()].extent.size;
        // A body that does not use the index still runs once per value.
        let i = if mentions(inner, index) {
            names[index.index()].as_str()
        } else {
            "_"
        };
        body.fresh += 1;
        let acc = unique(&format!("acc{}", body.fresh), &self.taken);
        match op {
            Reduction::Sum | Reduction::Mean => {
                body.w.line(&format!("let mut {acc}: {real} = 0.0;"));
                body.w.open(&format!("for {i} in 0..{size} {{"));
                let x = self.lower(body, inner, owner, names);
                body.w.line(&format!("{acc} += {};", x.text));
                body.w.close();
                if op == Reduction::Mean {
                    Operand {
                        text: format!("{acc} / {size}.0"),
                        strength: MUL,
                    }
                } else {
                    Operand::atom(acc)
                }
            }
            Reduction::LogSumExp => {
                let max = format!("{acc}_max");
                body.w
                    .line(&format!("let mut {max} = {real}::NEG_INFINITY;"));
                body.w.open(&format!("for {i} in 0..{size} {{"));
                let x = self.lower(body, inner, owner, names);
                body.w.line(&format!("{max} = {max}.max({});", x.text));
                body.w.close();
                body.w.line(&format!("let mut {acc}: {real} = 0.0;"));
                body.w.open(&format!("for {i} in 0..{size} {{"));
                let x = self.lower(body, inner, owner, names);
                body.w
                    .line(&format!("{acc} += ({} - {max}).exp();", x.at(ADD + 1)));
                body.w.close();
                let lse = format!("{acc}_lse");
                body.w.open(&format!("let {lse} = if {max}.is_finite() {{"));
                body.w.line(&format!("{max} + {acc}.ln()"));
                body.w.level -= 1;
                body.w.open("} else {");
                body.w.line(&max);
                body.w.level -= 1;
                body.w.line("};");
                Operand::atom(lse)
            }
        }
    }

    /// The functions the generated code calls, with the language's conventions.
    fn ops_module(&self, w: &mut Writer, real: &str) {
        let uses = self.uses_ops();
        if uses.is_empty() {
            return;
        }
        w.line("");
        w.line("/// The elementwise functions of the .net language, with its conventions");
        w.line("/// at kinks and ties.");
        w.line("#[allow(dead_code)]");
        w.open("mod ops {");
        let f = |w: &mut Writer, doc: &str, sig: &str, body: &[&str]| {
            w.line(&format!("/// {doc}"));
            w.open(&format!("pub fn {sig} {{"));
            for line in body {
                w.line(line);
            }
            w.close();
        };
        let sig1 = |name: &str| format!("{name}(x: {real}) -> {real}");
        let sig2 = |name: &str| format!("{name}(a: {real}, b: {real}) -> {real}");
        let mut first = true;
        let mut sep = |w: &mut Writer| {
            if !first {
                w.line("");
            }
            first = false;
        };
        if uses.contains("sigmoid") {
            sep(w);
            f(
                w,
                "1 / (1 + e^-x), without overflow on either side.",
                &sig1("sigmoid"),
                &[
                    "if x >= 0.0 {",
                    "    1.0 / (1.0 + (-x).exp())",
                    "} else {",
                    "    let e = x.exp();",
                    "    e / (1.0 + e)",
                    "}",
                ],
            );
        }
        if uses.contains("softplus") {
            sep(w);
            f(
                w,
                "log(1 + e^x), without overflow.",
                &sig1("softplus"),
                &["x.max(0.0) + (-x.abs()).exp().ln_1p()"],
            );
        }
        if uses.contains("relu") {
            sep(w);
            f(
                w,
                "max(x, 0).",
                &sig1("relu"),
                &["if x > 0.0 {", "    x", "} else {", "    0.0", "}"],
            );
        }
        if uses.contains("step") {
            sep(w);
            f(
                w,
                "1 if x > 0, else 0: relu', and max' and min'.",
                &sig1("step"),
                &["if x > 0.0 {", "    1.0", "} else {", "    0.0", "}"],
            );
        }
        if uses.contains("sign") {
            sep(w);
            f(
                w,
                "The sign of x, 0 at 0: abs'.",
                &sig1("sign"),
                &[
                    "if x > 0.0 {",
                    "    1.0",
                    "} else if x < 0.0 {",
                    "    -1.0",
                    "} else {",
                    "    0.0",
                    "}",
                ],
            );
        }
        if uses.contains("max") {
            sep(w);
            f(
                w,
                "The larger of a and b; a on ties.",
                &sig2("max"),
                &["if a >= b {", "    a", "} else {", "    b", "}"],
            );
        }
        if uses.contains("min") {
            sep(w);
            f(
                w,
                "The smaller of a and b; a on ties.",
                &sig2("min"),
                &["if a <= b {", "    a", "} else {", "    b", "}"],
            );
        }
        if uses.contains("delta") {
            sep(w);
            f(
                w,
                "The Kronecker delta.",
                &format!("delta(a: usize, b: usize) -> {real}"),
                &["if a == b {", "    1.0", "} else {", "    0.0", "}"],
            );
        }
        w.close();
    }

    /// The helper functions the program needs.
    fn uses_ops(&self) -> HashSet<&'static str> {
        fn walk(e: &Expr, out: &mut HashSet<&'static str>) {
            match e {
                Expr::Num(_) | Expr::Read { .. } => {}
                Expr::Delta(..) => {
                    out.insert("delta");
                }
                Expr::Unary { func, arg } => {
                    if matches!(
                        func,
                        Func::Sigmoid | Func::Relu | Func::Softplus | Func::Step | Func::Sign
                    ) {
                        out.insert(func.name());
                    }
                    walk(arg, out);
                }
                Expr::Binary { op, lhs, rhs } => {
                    match op {
                        BinOp::Max => {
                            out.insert("max");
                        }
                        BinOp::Min => {
                            out.insert("min");
                        }
                        _ => {}
                    }
                    walk(lhs, out);
                    walk(rhs, out);
                }
                Expr::Reduce { body, .. } => walk(body, out),
            }
        }
        // Only what the two functions compute: an unused helper is dead code.
        let targets: Vec<ValueId> = std::iter::once(self.p.loss)
            .chain(self.wrt.iter().map(|(_, a)| *a))
            .collect();
        let need = self.needed(&targets);
        let mut out = HashSet::new();
        for id in self.p.ids().filter(|id| need[id.index()]) {
            if let Some(rhs) = &self.p.value(id).rhs {
                walk(rhs, &mut out);
            }
        }
        out
    }
}

/// Whether `e` uses the index variable `index`.
fn mentions(e: &Expr, index: IndexId) -> bool {
    let sub = |s: &Sub| *s == Sub::Var(index);
    match e {
        Expr::Num(_) => false,
        Expr::Read { subs, .. } => subs.iter().any(sub),
        Expr::Delta(a, b) => sub(a) || sub(b),
        Expr::Unary { arg, .. } => mentions(arg, index),
        Expr::Binary { lhs, rhs, .. } => mentions(lhs, index) || mentions(rhs, index),
        Expr::Reduce { body, .. } => mentions(body, index),
    }
}
