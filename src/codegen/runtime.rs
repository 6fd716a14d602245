//! The public face of a module whose program has run-time dims (`dim N`):
//! `Dims` (the sizes given at call time), the `Workspace` that holds every
//! tensor whose size depends on them (and every one too large for the
//! stack), and the flat and typed entry points, each taking `dims` and
//! wrapping the same private core functions as a module of fixed sizes.
//! The loops read the sizes from locals bound from `dims` (`let N =
//! dims.N;`), so one module runs at every size.

use super::affine::Size;
use super::{Core, Generator, Store, Writer};
use crate::ir::{Value, ValueId, ValueKind};

/// A sum of sizes as code: `N * 3 + N + 4`, the numbers added up at the end.
fn sum_text(sizes: &[Size]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut constant = 0;
    for s in sizes {
        match s.constant() {
            Some(n) => constant += n,
            None => parts.push(s.to_string()),
        }
    }
    if constant > 0 || parts.is_empty() {
        parts.push(constant.to_string());
    }
    parts.join(" + ")
}

impl Generator<'_> {
    pub(super) fn runtime_module(&self) -> String {
        let mut w = Writer {
            out: String::new(),
            level: 0,
        };
        let real = self.float.name();
        self.dim_consts(&mut w);
        w.blank();
        self.dims_struct(&mut w);
        w.blank();
        w.line("/// The number of param scalars. The flat `params` slice holds, in declaration");
        w.line("/// order and row-major (the last index varies fastest):");
        let layout = self.layout(ValueKind::Param);
        if layout.is_empty() {
            w.line("/// nothing.");
        }
        for (k, item) in layout.iter().enumerate() {
            let end = if k + 1 == layout.len() { "." } else { "," };
            w.line(&format!("/// {item}{end}"));
        }
        w.line("#[allow(dead_code)]");
        w.line(&format!(
            "pub const N_PARAMS: usize = {};",
            self.total(ValueKind::Param)
        ));
        w.line("");
        self.structs(&mut w);
        w.blank();
        self.workspace(&mut w);
        w.blank();
        w.line("#[allow(dead_code)]");
        w.open(&format!(
            "fn lengths(dims: &Dims, inputs: &[{real}], params: &[{real}]) {{"
        ));
        w.line("dims.check();");
        Self::rt_check(
            &mut w,
            "inputs.len()",
            "dims.n_inputs()",
            "`inputs` holds {} scalars; dims.n_inputs() is {}",
        );
        Self::rt_check(
            &mut w,
            "params.len()",
            "N_PARAMS",
            "`params` holds {} scalars; N_PARAMS is {}",
        );
        w.close();
        w.line("");
        w.line("#[allow(dead_code)]");
        w.open("fn length(what: &str, len: usize, expected: usize) {");
        Self::rt_check(
            &mut w,
            "len == expected",
            "",
            "{} holds {} elements; the dims give {}",
        );
        w.close();
        w.line("");
        self.rt_loss_fns(&mut w);
        w.line("");
        self.rt_forward_fns(&mut w);
        w.line("");
        self.rt_gradient_fns(&mut w);
        self.finish(w)
    }

    /// `assert!(a == b, "netgrad: message", a, b);` in rustfmt's layout; with
    /// `b` empty, `a` is the condition and the message takes `what, len,
    /// expected`.
    fn rt_check(w: &mut Writer, a: &str, b: &str, message: &str) {
        w.open("assert!(");
        if b.is_empty() {
            w.line(&format!("{a},"));
            w.line(&format!("\"netgrad: {message}\","));
            w.line("what,");
            w.line("len,");
            w.line("expected");
        } else {
            w.line(&format!("{a} == {b},"));
            w.line(&format!("\"netgrad: {message}\","));
            w.line(&format!("{a},"));
            w.line(b);
        }
        w.level -= 1;
        w.line(");");
    }

    /// The run-time dims: (name as written, identifier).
    fn runtime_dims(&self) -> Vec<(&str, &str)> {
        self.p
            .dims
            .iter()
            .zip(&self.dim_idents)
            .filter(|(d, _)| d.runtime)
            .map(|(d, i)| (d.name.as_str(), i.as_str()))
            .collect()
    }

    /// `let N = dims.N;` for every run-time dim, so sizes read as in the file.
    fn bind_dims(&self, w: &mut Writer, dims: &str) {
        for (_, ident) in self.runtime_dims() {
            w.line(&format!("let {ident} = {dims}.{ident};"));
        }
    }

    /// The symbolic start and end of each value of `kind` in its flat slice.
    fn rt_offsets(&self, kind: ValueKind) -> Vec<(ValueId, String, String)> {
        let mut before: Vec<Size> = Vec::new();
        let mut out = Vec::new();
        for id in self.p.ids().filter(|id| self.p.value(*id).kind == kind) {
            let len = self.len_of(self.p.value(id));
            let start = sum_text(&before);
            before.push(len);
            out.push((id, start, sum_text(&before)));
        }
        out
    }

    /// `Dims`, with `n_inputs`, `n_outputs` and the check that no size is 0.
    fn dims_struct(&self, w: &mut Writer) {
        w.line("/// The sizes given at call time, one field per run-time dim of the .net file.");
        w.line("#[allow(dead_code, non_snake_case)]");
        w.line("#[derive(Debug, Clone, Copy, PartialEq, Eq)]");
        w.open("pub struct Dims {");
        for (name, ident) in self.runtime_dims() {
            w.line(&format!("/// The size of dim `{name}`, at least 1."));
            w.line(&format!("pub {ident}: usize,"));
        }
        w.close();
        w.line("");
        w.line("#[allow(dead_code, non_snake_case, unused_variables)]");
        w.open("impl Dims {");
        let groups = [
            (
                "n_inputs",
                "input",
                "inputs",
                self.rt_offsets(ValueKind::Input),
            ),
            ("n_outputs", "output", "outputs", self.rt_output_offsets()),
        ];
        for (k, (f, what, slice, layout)) in groups.into_iter().enumerate() {
            if k > 0 {
                w.line("");
            }
            w.line(&format!(
                "/// The number of {what} scalars. The flat `{slice}` slice holds, in declaration"
            ));
            w.line("/// order and row-major (the last index varies fastest):");
            if layout.is_empty() && f == "n_outputs" {
                w.line("/// nothing: the .net file has no `output`, so `forward` returns only the loss.");
            } else if layout.is_empty() {
                w.line("/// nothing.");
            }
            for (k, (id, start, end)) in layout.iter().enumerate() {
                let stop = if k + 1 == layout.len() { "." } else { "," };
                let declared = self.p.value(*id).declared();
                w.line(&format!("/// `{declared}` at {start}..{end}{stop}"));
            }
            w.open(&format!("pub fn {f}(&self) -> usize {{"));
            let lens: Vec<Size> = layout
                .iter()
                .map(|(id, _, _)| {
                    let len = self.len_of(self.p.value(*id));
                    Size {
                        factor: len.factor,
                        dims: len.dims.iter().map(|d| format!("self.{d}")).collect(),
                    }
                })
                .collect();
            w.line(&sum_text(&lens));
            w.close();
        }
        w.line("");
        w.line("/// Panics if a size is 0.");
        w.open("fn check(&self) {");
        for (_, ident) in self.runtime_dims() {
            w.line(&format!(
                "assert!(self.{ident} > 0, \"netgrad: `dims.{ident}` is 0; a size is at least 1\");"
            ));
        }
        w.close();
        w.close();
    }

    /// The start and end of each output in the flat `outputs` slice.
    fn rt_output_offsets(&self) -> Vec<(ValueId, String, String)> {
        let mut before: Vec<Size> = Vec::new();
        let mut out = Vec::new();
        for id in &self.p.outputs {
            let start = sum_text(&before);
            before.push(self.len_of(self.p.value(*id)));
            out.push((*id, start, sum_text(&before)));
        }
        out
    }

    /// The tensors a core keeps in the workspace.
    pub(super) fn in_work(&self, core: Core) -> Vec<ValueId> {
        self.stored_in(core, Store::Work)
    }

    /// The workspace's buffers, each once: (field, length).
    fn work_fields(&self) -> Vec<(String, String)> {
        let mut ids: Vec<ValueId> = [Core::Loss, Core::Forward, Core::Gradient]
            .iter()
            .flat_map(|c| self.in_work(*c))
            .collect();
        ids.sort();
        ids.dedup();
        let mut fields: Vec<(String, String)> = ids
            .into_iter()
            .map(|id| {
                let len = self.len_of(self.p.value(id)).to_string();
                (self.idents[id.index()].clone(), len)
            })
            .collect();
        if let Some(len) = self.work_pack() {
            fields.insert(0, (self.internal("pack"), len.to_string()));
        }
        fields
    }

    /// The matrix products' packing buffer, the largest any core needs.
    fn work_pack(&self) -> Option<usize> {
        [Core::Loss, Core::Forward, Core::Gradient]
            .iter()
            .filter_map(|c| self.pack_len(&self.needed(&self.targets(*c))))
            .max()
    }

    /// `Workspace` and `Workspace::new`.
    fn workspace(&self, w: &mut Writer) {
        let real = self.float.name();
        let fields = self.work_fields();
        w.line("/// Scratch memory for one `Dims`: every tensor whose size depends on them, or");
        w.line("/// too large for the stack. With it (`gradient_flat_in`), repeated calls");
        w.line("/// allocate nothing. Its contents between calls do not matter.");
        w.line("#[allow(dead_code, non_snake_case)]");
        w.open("pub struct Workspace {");
        w.line("dims: Dims,");
        for (name, _) in &fields {
            w.line(&format!("{name}: Vec<{real}>,"));
        }
        w.close();
        w.line("");
        w.line("#[allow(dead_code, non_snake_case, unused_variables)]");
        w.open("impl Workspace {");
        w.line("/// The workspace for `dims`.");
        w.line("///");
        w.line("/// # Panics");
        w.line("///");
        w.line("/// If a size is 0.");
        w.open("pub fn new(dims: &Dims) -> Workspace {");
        w.line("dims.check();");
        self.bind_dims(w, "dims");
        if fields.is_empty() {
            // Short enough for one line, where rustfmt puts it.
            w.line("Workspace { dims: *dims }");
        } else {
            w.open("Workspace {");
            w.line("dims: *dims,");
            for (name, len) in &fields {
                w.line(&format!("{name}: vec![0.0; {len}],"));
            }
            w.close();
        }
        w.close();
        w.close();
    }

    /// The typed API's structs' type of a tensor: nested arrays of fixed
    /// dims, a slice of rows when only the outermost dim is run-time, else
    /// a flat slice.
    pub(super) fn rt_array_type(&self, v: &Value) -> String {
        if !self.sized_at_run_time(v) {
            return self.array_type(v);
        }
        let real = self.float.name();
        if self.rows_only(v) {
            // The rows' type is the fixed dims' array type.
            let row = Value {
                shape: v.shape[1..].to_vec(),
                ..v.clone()
            };
            let inner = if row.rank() == 0 {
                real.to_string()
            } else {
                self.array_type(&row)
            };
            format!("[{inner}]")
        } else {
            format!("[{real}]")
        }
    }

    /// Whether the outermost dim of a tensor is its only run-time one.
    pub(super) fn rows_only(&self, v: &Value) -> bool {
        v.rank() > 0
            && self.p.is_runtime(&v.shape[0])
            && !v.shape[1..].iter().any(|e| self.p.is_runtime(e))
    }

    /// The doc line of a run-time tensor in the typed structs.
    pub(super) fn rt_doc(&self, v: &Value) -> Option<String> {
        if !self.sized_at_run_time(v) || self.rows_only(v) {
            return None;
        }
        Some(format!(
            "/// Flat, row-major: element `[{}]` at `[{}]`.",
            self.index_letters(v.rank()).join(", "),
            self.flat_index_text(v)
        ))
    }

    /// Letters for the indices of a tensor in doc comments.
    fn index_letters(&self, rank: usize) -> Vec<String> {
        let letters = ["i", "j", "k", "l", "m", "p", "q", "r", "s", "u"];
        (0..rank)
            .map(|m| letters.get(m).map_or(format!("i{m}"), |l| l.to_string()))
            .collect()
    }

    /// `i * N * 3 + j * 3 + k`: where element `v[i, j, k]` lies.
    fn flat_index_text(&self, v: &Value) -> String {
        let strides = self.strides(v);
        let letters = self.index_letters(v.rank());
        let terms: Vec<String> = strides
            .iter()
            .zip(letters)
            .map(|(s, i)| if s.is_one() { i } else { format!("{i} * {s}") })
            .collect();
        terms.join(" + ")
    }

    /// The length check of a typed argument: rows for a slice of rows, else
    /// scalars.
    fn typed_check(&self, w: &mut Writer, access: &str, v: &Value) {
        if !self.sized_at_run_time(v) {
            return;
        }
        let expected = if self.rows_only(v) {
            self.extent(&v.shape[0]).to_string()
        } else {
            self.len_of(v).to_string()
        };
        w.simple_call(
            "length",
            &[
                format!("\"`{access}`\""),
                format!("{access}.len()"),
                expected,
            ],
        );
    }

    /// A typed argument of a core: `inputs.x.as_flattened()`, `inputs.x`
    /// for a flat slice.
    fn rt_typed_arg(&self, owner: &str, id: ValueId, mutable: bool) -> String {
        let v = self.p.value(id);
        let ident = &self.idents[id.index()];
        if self.sized_at_run_time(v) && !self.rows_only(v) {
            return format!("{owner}.{ident}");
        }
        format!("{owner}.{ident}{}", Self::flatten(v, mutable))
    }

    /// `&inputs[N * 3..N * 3 + N]`, or `inputs[3]` for a scalar.
    fn rt_flat_arg(&self, id: ValueId) -> String {
        let v = self.p.value(id);
        let (slice, kind) = if v.kind == ValueKind::Input {
            ("inputs", ValueKind::Input)
        } else {
            ("params", ValueKind::Param)
        };
        let (_, start, end) = self
            .rt_offsets(kind)
            .into_iter()
            .find(|(u, _, _)| *u == id)
            .expect("an input or param");
        if v.rank() == 0 {
            format!("{slice}[{start}]")
        } else {
            format!("&{slice}[{start}..{end}]")
        }
    }

    /// A core's head: `dims` and `ws` first, the sizes bound, the
    /// workspace's buffers borrowed.
    pub(super) fn rt_core_head(&self, w: &mut Writer, core: Core, name: &str, params: Vec<String>) {
        let real = self.float.name();
        let mut all = vec!["dims: &Dims".to_string(), "ws: &mut Workspace".to_string()];
        all.extend(params);
        Self::allows(w);
        w.line("#[allow(unused_variables)]");
        w.line("#[inline(always)]");
        w.signature(&format!("fn {name}"), &all, real);
        self.bind_dims(w, "dims");
        let need = self.needed(&self.targets(core));
        if self.pack_len(&need).is_some() {
            let pack = self.internal("pack");
            w.line(&format!("let {pack} = &mut ws.{pack}[..];"));
        }
        for id in self.in_work(core) {
            let ident = &self.idents[id.index()];
            w.line(&format!("let {ident} = &mut ws.{ident}[..];"));
        }
    }

    /// An entry point's doc, attributes and signature.
    fn rt_entry(&self, w: &mut Writer, doc: &[&str], head: &str, params: Vec<String>) {
        let real = self.float.name();
        for line in doc {
            w.line(&format!(
                "///{}{line}",
                if line.is_empty() { "" } else { " " }
            ));
        }
        w.line("#[allow(dead_code, non_snake_case, unused_variables)]");
        w.signature(head, &params, real);
        self.bind_dims(w, "dims");
    }

    /// Checks that `ws` was made for `dims`.
    fn ws_check(w: &mut Writer) {
        w.open("assert!(");
        w.line("ws.dims == *dims,");
        w.line("\"netgrad: the workspace was made for {:?}, not {:?}\",");
        w.line("ws.dims,");
        w.line("dims");
        w.level -= 1;
        w.line(");");
    }

    fn rt_loss_fns(&self, w: &mut Writer) {
        let real = self.float.name();
        let mut need = self.needed(&self.targets(Core::Loss));
        let given = self.given(&need);
        self.rt_entry(
            w,
            &[
                "The loss at the sizes `dims`, given every input and param as a flat slice",
                "(see `Dims::n_inputs` and `N_PARAMS` for the layout).",
                "",
                "# Panics",
                "",
                "If a size is 0, or a slice's length is not `dims.n_inputs()` or `N_PARAMS`.",
            ],
            "pub fn loss_flat",
            vec![
                "dims: &Dims".to_string(),
                format!("inputs: &[{real}]"),
                format!("params: &[{real}]"),
            ],
        );
        w.line("lengths(dims, inputs, params);");
        w.line("let mut ws = Workspace::new(dims);");
        let mut args = vec!["dims".to_string(), "&mut ws".to_string()];
        args.extend(given.iter().map(|id| self.rt_flat_arg(*id)));
        tail_call(w, "loss_core", &args);
        w.close();

        w.blank();
        let (inputs, params) = self.typed_names(&given);
        self.rt_entry(
            w,
            &[
                "The loss at the sizes `dims`, given the inputs and params by name.",
                "",
                "# Panics",
                "",
                "If a size is 0, or an input's length disagrees with `dims`.",
            ],
            "pub fn loss",
            vec![
                "dims: &Dims".to_string(),
                format!("{inputs}: &Inputs"),
                format!("{params}: &Params"),
            ],
        );
        w.line("dims.check();");
        self.typed_checks(w, &given);
        w.line("let mut ws = Workspace::new(dims);");
        let mut args = vec!["dims".to_string(), "&mut ws".to_string()];
        args.extend(given.iter().map(|id| self.rt_given_arg(*id)));
        tail_call(w, "loss_core", &args);
        w.close();

        w.blank();
        let params: Vec<String> = given.iter().map(|id| self.core_param(*id)).collect();
        self.rt_core_head(w, Core::Loss, "loss_core", params);
        self.body_with_loss_last(w, &mut need, Core::Loss);
        w.close();
    }

    /// The length checks of the typed inputs among `given`.
    fn typed_checks(&self, w: &mut Writer, given: &[ValueId]) {
        for id in given {
            let v = self.p.value(*id);
            if v.kind == ValueKind::Input {
                let access = format!("inputs.{}", self.idents[id.index()]);
                self.typed_check(w, &access, v);
            }
        }
    }

    /// A typed input or param, as the core takes it.
    fn rt_given_arg(&self, id: ValueId) -> String {
        let owner = if self.p.value(id).kind == ValueKind::Input {
            "inputs"
        } else {
            "params"
        };
        self.rt_typed_arg(owner, id, false)
    }

    /// Splits the flat `outputs` into one piece per output.
    fn rt_split_outputs(&self, w: &mut Writer, outputs: &[(ValueId, String)]) -> Vec<String> {
        for (k, (id, name)) in outputs.iter().enumerate() {
            let rest = if k + 1 == outputs.len() {
                "_"
            } else {
                "outputs"
            };
            w.line(&format!(
                "let ({name}, {rest}) = outputs.split_at_mut({});",
                self.len_of(self.p.value(*id))
            ));
        }
        outputs
            .iter()
            .map(|(id, name)| {
                if self.p.value(*id).rank() == 0 {
                    format!("&mut {name}[0]")
                } else {
                    name.clone()
                }
            })
            .collect()
    }

    fn rt_forward_fns(&self, w: &mut Writer) {
        let real = self.float.name();
        let mut need = self.needed(&self.targets(Core::Forward));
        let given = self.given(&need);
        let outputs: Vec<(ValueId, String)> = self
            .p
            .outputs
            .iter()
            .map(|o| (*o, self.out_name(*o)))
            .collect();
        self.rt_entry(
            w,
            &[
                "Returns the loss at the sizes `dims` and writes every output into",
                "`outputs`, in the layout of `Dims::n_outputs`: inference, given every",
                "input and param as a flat slice.",
                "",
                "# Panics",
                "",
                "If a size is 0, or a slice's length is not `dims.n_inputs()`, `N_PARAMS`",
                "or `dims.n_outputs()`.",
            ],
            "pub fn forward_flat",
            vec![
                "dims: &Dims".to_string(),
                format!("inputs: &[{real}]"),
                format!("params: &[{real}]"),
                format!("outputs: &mut [{real}]"),
            ],
        );
        w.line("lengths(dims, inputs, params);");
        Self::rt_check(
            w,
            "outputs.len()",
            "dims.n_outputs()",
            "`outputs` holds {} scalars; dims.n_outputs() is {}",
        );
        w.line("let mut ws = Workspace::new(dims);");
        let mut args = vec!["dims".to_string(), "&mut ws".to_string()];
        args.extend(given.iter().map(|id| self.rt_flat_arg(*id)));
        args.extend(self.rt_split_outputs(w, &outputs));
        tail_call(w, "forward_core", &args);
        w.close();

        w.blank();
        let (inputs, params) = self.typed_names(&given);
        let outputs_name = if outputs.is_empty() {
            "_outputs"
        } else {
            "outputs"
        };
        self.rt_entry(
            w,
            &[
                "Returns the loss at the sizes `dims`, given the inputs and params by",
                "name, and writes every output into `outputs`.",
                "",
                "# Panics",
                "",
                "If a size is 0, or an input's or output's length disagrees with `dims`.",
            ],
            "pub fn forward",
            vec![
                "dims: &Dims".to_string(),
                format!("{inputs}: &Inputs"),
                format!("{params}: &Params"),
                format!("{outputs_name}: Outputs"),
            ],
        );
        w.line("dims.check();");
        self.typed_checks(w, &given);
        for (id, _) in &outputs {
            let access = format!("outputs.{}", self.idents[id.index()]);
            self.typed_check(w, &access, self.p.value(*id));
        }
        w.line("let mut ws = Workspace::new(dims);");
        let mut args = vec!["dims".to_string(), "&mut ws".to_string()];
        args.extend(given.iter().map(|id| self.rt_given_arg(*id)));
        args.extend(
            outputs
                .iter()
                .map(|(id, _)| self.rt_typed_arg("outputs", *id, true)),
        );
        tail_call(w, "forward_core", &args);
        w.close();

        w.blank();
        self.forward_core(w, &given, &outputs, &mut need, true);
    }

    fn rt_gradient_fns(&self, w: &mut Writer) {
        let real = self.float.name();
        let need = self.needed(&self.targets(Core::Gradient));
        let given = self.given(&need);
        let params = self.params();
        let grads: Vec<(ValueId, String)> =
            params.iter().map(|id| (*id, self.grad_name(*id))).collect();

        self.rt_entry(
            w,
            &[
                "Returns the loss at the sizes `dims` and writes its gradient with respect",
                "to the params into `grad`, in the layout of `params`. Allocates a",
                "`Workspace`; `gradient_flat_in` reuses one.",
                "",
                "# Panics",
                "",
                "If a size is 0, or a slice's length is not `dims.n_inputs()` or `N_PARAMS`.",
            ],
            "pub fn gradient_flat",
            vec![
                "dims: &Dims".to_string(),
                format!("inputs: &[{real}]"),
                format!("params: &[{real}]"),
                format!("grad: &mut [{real}]"),
            ],
        );
        w.line("let mut ws = Workspace::new(dims);");
        tail_call(
            w,
            "gradient_flat_in",
            &[
                "&mut ws".to_string(),
                "dims".to_string(),
                "inputs".to_string(),
                "params".to_string(),
                "grad".to_string(),
            ],
        );
        w.close();

        w.blank();
        self.rt_entry(
            w,
            &[
                "`gradient_flat` in a workspace made for `dims`: allocates nothing.",
                "",
                "# Panics",
                "",
                "If a size is 0, `ws` was made for other dims, or a slice's length is not",
                "`dims.n_inputs()` or `N_PARAMS`.",
            ],
            "pub fn gradient_flat_in",
            vec![
                "ws: &mut Workspace".to_string(),
                "dims: &Dims".to_string(),
                format!("inputs: &[{real}]"),
                format!("params: &[{real}]"),
                format!("grad: &mut [{real}]"),
            ],
        );
        w.line("lengths(dims, inputs, params);");
        Self::ws_check(w);
        Self::rt_check(
            w,
            "grad.len()",
            "N_PARAMS",
            "`grad` holds {} scalars; N_PARAMS is {}",
        );
        let mut args = vec!["dims".to_string(), "ws".to_string()];
        args.extend(given.iter().map(|id| self.rt_flat_arg(*id)));
        args.extend(self.split_grads(w, &grads));
        tail_call(w, "gradient_core", &args);
        w.close();

        w.blank();
        let (inputs, params_name) = self.typed_names(&given);
        self.rt_entry(
            w,
            &[
                "Returns the loss at the sizes `dims`, given the inputs and params by",
                "name, and writes its gradient with respect to each param into `grad`.",
                "",
                "# Panics",
                "",
                "If a size is 0, or an input's length disagrees with `dims`.",
            ],
            "pub fn gradient",
            vec![
                "dims: &Dims".to_string(),
                format!("{inputs}: &Inputs"),
                format!("{params_name}: &Params"),
                "grad: Gradients".to_string(),
            ],
        );
        w.line("dims.check();");
        self.typed_checks(w, &given);
        w.line("let mut ws = Workspace::new(dims);");
        let mut args = vec!["dims".to_string(), "&mut ws".to_string()];
        args.extend(given.iter().map(|id| self.rt_given_arg(*id)));
        args.extend(params.iter().map(|id| {
            let v = self.p.value(*id);
            format!("grad.{}{}", self.idents[id.index()], Self::flatten(v, true))
        }));
        tail_call(w, "gradient_core", &args);
        w.close();

        w.blank();
        self.gradient_core(w, &given, &params, &need, true);
    }

    /// Splits `grad` into one piece per param (params have fixed sizes).
    fn split_grads(&self, w: &mut Writer, grads: &[(ValueId, String)]) -> Vec<String> {
        for (k, (id, name)) in grads.iter().enumerate() {
            let rest = if k + 1 == grads.len() { "_" } else { "grad" };
            w.line(&format!(
                "let ({name}, {rest}) = grad.split_at_mut({});",
                self.p.value(*id).len()
            ));
        }
        grads
            .iter()
            .map(|(id, name)| {
                if self.p.value(*id).rank() == 0 {
                    format!("&mut {name}[0]")
                } else {
                    name.clone()
                }
            })
            .collect()
    }
}

/// A call as a tail expression, in rustfmt's layout: arguments of at most
/// 10 characters are packed into lines, longer ones one a line.
fn tail_call(w: &mut Writer, callee: &str, args: &[String]) {
    if args.iter().all(|a| a.len() <= 10) {
        w.packed_call(callee, args, "");
    } else {
        w.call(callee, args);
    }
}
