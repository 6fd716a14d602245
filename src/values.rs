//! The JSON contract of `netgrad eval`: values in, loss, gradient and outputs out.
//!
//! A tensor is nested arrays in row-major nesting (`w[M, D]` is M arrays of D
//! numbers); a scalar is a bare number, in the input and in the output.

use serde_json::{Map, Value as Json};

use crate::autodiff::Gradient;
use crate::eval::{self, Tensors};
use crate::ir::{Program, Sizes, Value, ValueId};

/// Reads values.json: every input and param, each of its declared shape.
/// Returns the data by `ValueId`, or every problem found, one per line.
pub fn parse(program: &Program, text: &str) -> Result<Vec<Option<Vec<f64>>>, String> {
    // serde_json keeps the last of two equal keys: read once to find them.
    let mut de = serde_json::Deserializer::from_str(text);
    serde::Deserialize::deserialize(&mut de)
        .and_then(|UniqueKeys| de.end())
        .map_err(|e| format!("values are not valid JSON: {e}"))?;
    let json: Json =
        serde_json::from_str(text).map_err(|e| format!("values are not valid JSON: {e}"))?;
    let Json::Object(map) = json else {
        return Err(
            "values must be a JSON object mapping each input and param to its value".into(),
        );
    };
    let mut given = vec![None; program.values.len()];
    let mut problems = Vec::new();
    for id in eval::given_values(program) {
        let v = program.value(id);
        match map.get(&v.name) {
            None => problems.push(format!(
                "`{}` is missing: expected {}",
                v.name,
                expected(v, 0)
            )),
            Some(j) => {
                let mut flat = Vec::with_capacity(v.len());
                match flatten(v, j, 0, &v.name, &mut flat) {
                    Ok(()) => given[id.index()] = Some(flat),
                    Err(p) => problems.push(p),
                }
            }
        }
    }
    for key in map.keys() {
        if !eval::given_values(program).any(|id| program.value(id).name == *key) {
            problems.push(format!("`{key}` is not an input or param of this file"));
        }
    }
    if problems.is_empty() {
        Ok(given)
    } else {
        Err(problems.join("\n"))
    }
}

/// The sizes of the run-time dims that values.json implies: each from the
/// length of the arrays of every input with that dim in its shape, and from
/// `given` (`--dim`). The error, as `error: ...` paragraphs, names the two
/// inputs (or the input and `--dim`) that disagree, a dim that would be 0,
/// and a dim that no input can tell. Text that is not a JSON object implies
/// nothing: `parse` reports it.
pub fn runtime_sizes(program: &Program, text: &str, given: &Sizes) -> Result<Sizes, String> {
    let map = match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(map)) => map,
        _ => return Ok(given.clone()),
    };
    let mut sizes = Sizes::new();
    let mut problems = String::new();
    for dim in program.runtime_dims() {
        // (size, who says so), the first being the reference.
        let mut implied: Vec<(usize, String)> = Vec::new();
        if let Some(n) = given.get(&dim.name) {
            implied.push((*n, format!("`--dim {}={n}`", dim.name)));
        }
        let mut users = Vec::new();
        for id in eval::given_values(program) {
            let v = program.value(id);
            for (pos, e) in v.shape.iter().enumerate() {
                if e.dim.as_deref() != Some(dim.name.as_str()) {
                    continue;
                }
                users.push(format!("`{}`", v.name));
                if let Some(n) = map.get(&v.name).and_then(|j| length_at(j, pos)) {
                    let what = if v.rank() == 1 {
                        format!("`{}` has {n} element{}", v.name, plural(n))
                    } else {
                        format!(
                            "`{}` has {n} element{} along dimension {} ({})",
                            v.name,
                            plural(n),
                            pos + 1,
                            v.declared()
                        )
                    };
                    implied.push((n, what));
                }
            }
        }
        users.dedup();
        let name = &dim.name;
        let Some((first, first_why)) = implied.first().cloned() else {
            let why = if users.is_empty() {
                format!("no input has `{name}` in its shape")
            } else {
                format!(
                    "no input with `{name}` in its shape ({}) is given as an array",
                    users.join(", ")
                )
            };
            problems.push_str(&format!(
                "error: the size of the run-time dim `{name}` cannot be told from values.json: {why}\n  = help: give it with `--dim {name}=SIZE`\n"
            ));
            continue;
        };
        for (n, why) in &implied[1..] {
            if *n != first {
                problems.push_str(&format!(
                    "error: the run-time dim `{name}` has two sizes: {first_why}, so {name} = {first}, but {why}, so {name} = {n}\n"
                ));
            }
        }
        if first == 0 {
            problems.push_str(&format!(
                "error: the run-time dim `{name}` would be 0: {first_why}\n  = help: a size is at least 1\n"
            ));
        } else if first > crate::sema::MAX_ELEMENTS {
            problems.push_str(&format!(
                "error: the run-time dim `{name}` would be {first}, more than {}\n",
                crate::sema::MAX_ELEMENTS
            ));
        }
        sizes.insert(name.clone(), first);
    }
    if problems.is_empty() {
        Ok(sizes)
    } else {
        Err(problems)
    }
}

/// The length of the arrays at nesting depth `depth`, following the first
/// element of each array above it; `None` where the JSON is not arrays that deep.
fn length_at(j: &Json, depth: usize) -> Option<usize> {
    let items = j.as_array()?;
    if depth == 0 {
        Some(items.len())
    } else {
        length_at(items.first()?, depth - 1)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// "a number", "an array of 3 numbers", "an array of 4 arrays of 3 numbers".
fn expected(v: &Value, depth: usize) -> String {
    let rest = &v.shape[depth..];
    if rest.is_empty() {
        return "a number".into();
    }
    let mut text = String::from("numbers");
    for (i, e) in rest.iter().enumerate().rev() {
        text = if i == 0 {
            format!("an array of {} {text}", e.size)
        } else {
            format!("arrays of {} {text}", e.size)
        };
    }
    text
}

fn flatten(
    v: &Value,
    j: &Json,
    depth: usize,
    path: &str,
    out: &mut Vec<f64>,
) -> Result<(), String> {
    if depth == v.rank() {
        return match j.as_f64() {
            Some(x) => {
                out.push(x);
                Ok(())
            }
            None => Err(format!("`{path}` must be a number, not {}", kind(j))),
        };
    }
    let want: Vec<usize> = v.shape[depth..].iter().map(|e| e.size).collect();
    let Some(items) = j.as_array() else {
        return Err(format!(
            "`{path}` must be {}, not {}",
            expected(v, depth),
            kind(j)
        ));
    };
    // A regular array of another shape is named by its shape, when a count
    // alone would mislead ([[1, 2, 3, 4]] for a 2 by 2 is not "1 element").
    if let Some(given) = shape_of(j) {
        if given != want && (given.len() != 1 || want.len() != 1) {
            return Err(format!(
                "`{path}` has shape {}; expected {} (`{}` is {})",
                brackets(&given),
                brackets(&want),
                v.name,
                v.declared()
            ));
        }
    }
    if items.len() != want[0] {
        return Err(format!(
            "`{path}` has {} element{}; expected {} (`{}` is {})",
            items.len(),
            if items.len() == 1 { "" } else { "s" },
            want[0],
            v.name,
            v.declared()
        ));
    }
    for (k, item) in items.iter().enumerate() {
        flatten(v, item, depth + 1, &format!("{path}[{k}]"), out)?;
    }
    Ok(())
}

/// The shape of nested arrays of numbers, if they are regular (every array
/// at one depth of the same length); a number has shape [].
fn shape_of(j: &Json) -> Option<Vec<usize>> {
    match j {
        Json::Number(_) => Some(Vec::new()),
        Json::Array(items) => {
            let inner = match items.first() {
                None => Vec::new(),
                Some(first) => shape_of(first)?,
            };
            for item in items.iter().skip(1) {
                if shape_of(item)? != inner {
                    return None;
                }
            }
            let mut shape = vec![items.len()];
            shape.extend(inner);
            Some(shape)
        }
        _ => None,
    }
}

/// `[2, 3]`.
fn brackets(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

fn kind(j: &Json) -> &'static str {
    match j {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Nests a value's row-major data as JSON arrays; a scalar is a number.
pub fn nest(v: &Value, data: &[f64]) -> Json {
    fn go(shape: &[usize], data: &[f64]) -> Json {
        match shape.split_first() {
            None => Json::from(data[0]),
            Some((n, rest)) => {
                let stride: usize = rest.iter().product();
                Json::Array(
                    (0..*n)
                        .map(|k| go(rest, &data[k * stride..(k + 1) * stride]))
                        .collect(),
                )
            }
        }
    }
    let shape: Vec<usize> = v.shape.iter().map(|e| e.size).collect();
    go(&shape, data)
}

/// `w[2, 1]`: the element at a flat row-major position.
fn element(v: &Value, flat: usize) -> String {
    format!("{}[{}]", v.name, eval::subscripts(v, flat))
}

/// The result of `netgrad eval`: loss, gradient of each `wrt` value, outputs;
/// or, if any of them holds a NaN or an infinity, which ones and where.
pub fn result(g: &Gradient, data: &Tensors) -> Result<String, String> {
    let p = &g.dag.program;
    let mut bad = Vec::new();
    // `of` names the elements: the value itself, or the one a gradient is of.
    let mut check = |what: String, id: ValueId, of: ValueId| {
        if let Some(k) = data[id.index()].iter().position(|x| !x.is_finite()) {
            let x = data[id.index()][k];
            let v = p.value(of);
            bad.push(if v.rank() == 0 {
                format!("{what} is {x}")
            } else {
                format!("{what} is {x} at {}", element(v, k))
            });
        }
    };
    check("the loss".into(), p.loss, p.loss);
    for (w, adj) in &g.wrt {
        check(format!("the gradient of `{}`", p.value(*w).name), *adj, *w);
    }
    for o in &p.outputs {
        check(format!("the output `{}`", p.value(*o).name), *o, *o);
    }
    if !bad.is_empty() {
        return Err(bad.join("\n"));
    }
    let mut out = Map::new();
    out.insert("loss".into(), Json::from(data[p.loss.index()][0]));
    let gradient: Map<String, Json> = g
        .wrt
        .iter()
        .map(|(w, adj)| {
            (
                p.value(*w).name.clone(),
                nest(p.value(*w), &data[adj.index()]),
            )
        })
        .collect();
    out.insert("gradient".into(), Json::Object(gradient));
    let outputs: Map<String, Json> = p
        .outputs
        .iter()
        .map(|o| {
            (
                p.value(*o).name.clone(),
                nest(p.value(*o), &data[o.index()]),
            )
        })
        .collect();
    out.insert("outputs".into(), Json::Object(outputs));
    let mut text = serde_json::to_string_pretty(&Json::Object(out)).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok(text)
}

/// What a values template holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Every scalar 0.
    Zeros,
    /// Uniform in [-1, 1) from this seed: the values `netgrad check --seed`
    /// uses.
    Random(u64),
}

/// A values.json for [`parse`]: every input and param in declaration order,
/// nested in its shape (a scalar as a bare number), one innermost array per line.
pub fn template(program: &Program, fill: Fill) -> String {
    let given = match fill {
        Fill::Zeros => {
            let mut given = vec![None; program.values.len()];
            for id in eval::given_values(program) {
                given[id.index()] = Some(vec![0.0; program.value(id).len()]);
            }
            given
        }
        Fill::Random(seed) => crate::gradcheck::random_values(program, seed),
    };
    let ids: Vec<ValueId> = eval::given_values(program).collect();
    let mut out = String::from("{");
    for (n, id) in ids.iter().enumerate() {
        let v = program.value(*id);
        let data = given[id.index()].as_deref().unwrap_or_default();
        out.push_str(if n == 0 { "\n" } else { ",\n" });
        out.push_str(&format!("  {}: ", Json::from(v.name.as_str())));
        let shape: Vec<usize> = v.shape.iter().map(|e| e.size).collect();
        write_nested(&mut out, &shape, data, 1);
    }
    out.push_str(if ids.is_empty() { "}\n" } else { "\n}\n" });
    out
}

/// Nested arrays, the innermost on one line, indented by two spaces a level.
fn write_nested(out: &mut String, shape: &[usize], data: &[f64], level: usize) {
    match shape {
        [] => out.push_str(&Json::from(data[0]).to_string()),
        [_] => {
            let numbers: Vec<String> = data.iter().map(|x| Json::from(*x).to_string()).collect();
            out.push('[');
            out.push_str(&numbers.join(", "));
            out.push(']');
        }
        [n, rest @ ..] => {
            let stride: usize = rest.iter().product();
            out.push_str("[\n");
            for k in 0..*n {
                out.push_str(&"  ".repeat(level + 1));
                write_nested(out, rest, &data[k * stride..(k + 1) * stride], level + 1);
                out.push_str(if k + 1 < *n { ",\n" } else { "\n" });
            }
            out.push_str(&"  ".repeat(level));
            out.push(']');
        }
    }
}

/// Any JSON in which no object has a key twice.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut keys = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }
}
