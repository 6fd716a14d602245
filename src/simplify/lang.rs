//! The e-graph language of right-hand sides, and conversion to and from the IR.

use std::fmt;
use std::str::FromStr;

use egg::{define_language, Id, RecExpr};

use crate::ir::{Affine, BinOp, Expr, Func, IndexId, Reduction, Sub, ValueId};

/// A number as an e-graph leaf: ordered and hashed by its bits. Checked
/// programs never hold a NaN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Number(u64);

impl Number {
    pub fn new(x: f64) -> Number {
        // One zero: -0 and 0 are the same number to every rule.
        Number(if x == 0.0 {
            0.0f64.to_bits()
        } else {
            x.to_bits()
        })
    }

    pub fn value(self) -> f64 {
        f64::from_bits(self.0)
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.value())
    }
}

impl FromStr for Number {
    type Err = String;
    fn from_str(s: &str) -> Result<Number, String> {
        // Only text that reads as a number with a digit in it: not `inf` or `NaN`.
        if !s.bytes().any(|b| b.is_ascii_digit()) {
            return Err(format!("not a number: {s}"));
        }
        s.parse::<f64>().map(Number::new).map_err(|e| e.to_string())
    }
}

/// A leaf that is not a number: a value, an index variable, or a literal subscript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Leaf {
    /// `v3`: the value read.
    Value(u32),
    /// `i2`: an index variable of the definition.
    Var(u32),
    /// `#4`: a literal subscript.
    Lit(usize),
    /// `@-1+2i0+1i3`: an affine subscript, its constant then its terms.
    Affine(Affine),
}

impl fmt::Display for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Leaf::Value(v) => write!(f, "v{v}"),
            Leaf::Var(i) => write!(f, "i{i}"),
            Leaf::Lit(n) => write!(f, "#{n}"),
            Leaf::Affine(a) => {
                write!(f, "@{}", a.constant())?;
                for (v, c) in a.terms() {
                    write!(f, "{c:+}i{}", v.0)?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for Leaf {
    type Err = String;
    fn from_str(s: &str) -> Result<Leaf, String> {
        let bad = || format!("not a leaf: {s}");
        if let Some(rest) = s.strip_prefix('@') {
            return affine_leaf(rest).ok_or_else(bad);
        }
        let (tag, rest) = s.split_at(s.find(|c: char| c.is_ascii_digit()).ok_or_else(bad)?);
        match tag {
            "v" => rest.parse().map(Leaf::Value).map_err(|_| bad()),
            "i" => rest.parse().map(Leaf::Var).map_err(|_| bad()),
            "#" => rest.parse().map(Leaf::Lit).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

/// `-1+2i0+1i3`: the text of an affine leaf after its `@`.
fn affine_leaf(s: &str) -> Option<Leaf> {
    // Split before every sign but a leading one: `-1`, `+2i0`, `+1i3`.
    let mut parts: Vec<&str> = Vec::new();
    let mut from = 0;
    for (k, c) in s.char_indices() {
        if k > 0 && (c == '+' || c == '-') {
            parts.push(&s[from..k]);
            from = k;
        }
    }
    parts.push(&s[from..]);
    let constant = parts.first()?.parse::<i64>().ok()?;
    let mut terms = Vec::new();
    for part in &parts[1..] {
        let (c, v) = part.split_once('i')?;
        terms.push((IndexId(v.parse().ok()?), c.parse::<i64>().ok()?));
    }
    Affine::new(constant, &terms).map(Leaf::Affine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_leaves_print_and_parse_back() {
        for (c, terms) in [
            (-1, vec![(0, 2), (3, 1)]),
            (0, vec![(1, -1)]),
            (7, vec![(1, -3), (2, 4)]),
        ] {
            let terms: Vec<(IndexId, i64)> =
                terms.into_iter().map(|(v, k)| (IndexId(v), k)).collect();
            let leaf = Leaf::Affine(Affine::new(c, &terms).unwrap());
            let text = leaf.to_string();
            assert_eq!(text.parse::<Leaf>(), Ok(leaf), "{text}");
        }
        assert_eq!(
            Leaf::Affine(Affine::new(-1, &[(IndexId(0), 2)]).unwrap()).to_string(),
            "@-1+2i0"
        );
    }
}

define_language! {
    /// The operations of a right-hand side. `(sum ?i ?body)` binds the index
    /// variable `?i` in `?body`; `(read v s...)` reads value `v` at subscripts `s`.
    pub enum Node {
        "+" = Add([Id; 2]),
        "-" = Sub([Id; 2]),
        "*" = Mul([Id; 2]),
        "/" = Div([Id; 2]),
        "pow" = Pow([Id; 2]),
        "max" = Max([Id; 2]),
        "min" = Min([Id; 2]),
        "xlogy" = XLogY([Id; 2]),
        // Conditions: comparisons, `and`, `or` and `not`, valued 1 or 0.
        "<" = Lt([Id; 2]),
        "<=" = Le([Id; 2]),
        ">" = Gt([Id; 2]),
        ">=" = Ge([Id; 2]),
        "==" = Eq([Id; 2]),
        "!=" = Ne([Id; 2]),
        "and" = And([Id; 2]),
        "or" = Or([Id; 2]),
        "not" = Not(Id),
        // `where(cond, then, else)`.
        "where" = Where([Id; 3]),
        // `Expr::Index`: an index variable as a number.
        "index" = Index(Id),
        "neg" = Neg(Id),
        "exp" = Exp(Id),
        "log" = Log(Id),
        "sqrt" = Sqrt(Id),
        "tanh" = Tanh(Id),
        "sigmoid" = Sigmoid(Id),
        "relu" = Relu(Id),
        "softplus" = Softplus(Id),
        "sin" = Sin(Id),
        "cos" = Cos(Id),
        "abs" = Abs(Id),
        "step" = Step(Id),
        "sign" = Sign(Id),
        "sum" = Sum([Id; 2]),
        "mean" = Mean([Id; 2]),
        "logsumexp" = LogSumExp([Id; 2]),
        // Max and min reductions, named apart from the elementwise max and min.
        "max-over" = MaxOver([Id; 2]),
        "min-over" = MinOver([Id; 2]),
        "argmax" = ArgMax([Id; 2]),
        "argmin" = ArgMin([Id; 2]),
        "delta" = Delta([Id; 2]),
        // `Expr::At`: an index variable and a position.
        "at" = At([Id; 2]),
        // `Expr::Solve`: the index variable, the scale (a number), the
        // value (a subscript leaf), and the body, in which the index is bound.
        "solve" = Solve([Id; 4]),
        // The trip count of an index variable: a constant, made by rules only.
        "size" = Size(Id),
        "read" = Read(Box<[Id]>),
        Num(Number),
        Leaf(Leaf),
    }
}

impl Node {
    /// The elementwise function of a one-argument node.
    pub fn func(&self) -> Option<(Func, Id)> {
        Some(match self {
            Node::Neg(a) => (Func::Neg, *a),
            Node::Exp(a) => (Func::Exp, *a),
            Node::Log(a) => (Func::Log, *a),
            Node::Sqrt(a) => (Func::Sqrt, *a),
            Node::Tanh(a) => (Func::Tanh, *a),
            Node::Sigmoid(a) => (Func::Sigmoid, *a),
            Node::Relu(a) => (Func::Relu, *a),
            Node::Softplus(a) => (Func::Softplus, *a),
            Node::Sin(a) => (Func::Sin, *a),
            Node::Cos(a) => (Func::Cos, *a),
            Node::Abs(a) => (Func::Abs, *a),
            Node::Step(a) => (Func::Step, *a),
            Node::Sign(a) => (Func::Sign, *a),
            Node::Not(a) => (Func::Not, *a),
            _ => return None,
        })
    }

    /// The binary operation of a two-argument node.
    pub fn binary(&self) -> Option<(BinOp, Id, Id)> {
        Some(match self {
            Node::Add([a, b]) => (BinOp::Add, *a, *b),
            Node::Sub([a, b]) => (BinOp::Sub, *a, *b),
            Node::Mul([a, b]) => (BinOp::Mul, *a, *b),
            Node::Div([a, b]) => (BinOp::Div, *a, *b),
            Node::Pow([a, b]) => (BinOp::Pow, *a, *b),
            Node::Max([a, b]) => (BinOp::Max, *a, *b),
            Node::Min([a, b]) => (BinOp::Min, *a, *b),
            Node::XLogY([a, b]) => (BinOp::XLogY, *a, *b),
            Node::Lt([a, b]) => (BinOp::Lt, *a, *b),
            Node::Le([a, b]) => (BinOp::Le, *a, *b),
            Node::Gt([a, b]) => (BinOp::Gt, *a, *b),
            Node::Ge([a, b]) => (BinOp::Ge, *a, *b),
            Node::Eq([a, b]) => (BinOp::Eq, *a, *b),
            Node::Ne([a, b]) => (BinOp::Ne, *a, *b),
            Node::And([a, b]) => (BinOp::And, *a, *b),
            Node::Or([a, b]) => (BinOp::Or, *a, *b),
            _ => return None,
        })
    }

    /// The reduction of a binding node, with its index and body.
    pub fn reduction(&self) -> Option<(Reduction, Id, Id)> {
        Some(match self {
            Node::Sum([i, b]) => (Reduction::Sum, *i, *b),
            Node::Mean([i, b]) => (Reduction::Mean, *i, *b),
            Node::LogSumExp([i, b]) => (Reduction::LogSumExp, *i, *b),
            Node::MaxOver([i, b]) => (Reduction::Max, *i, *b),
            Node::MinOver([i, b]) => (Reduction::Min, *i, *b),
            Node::ArgMax([i, b]) => (Reduction::ArgMax, *i, *b),
            Node::ArgMin([i, b]) => (Reduction::ArgMin, *i, *b),
            _ => return None,
        })
    }
}

fn func_node(func: Func, a: Id) -> Node {
    match func {
        Func::Neg => Node::Neg(a),
        Func::Exp => Node::Exp(a),
        Func::Log => Node::Log(a),
        Func::Sqrt => Node::Sqrt(a),
        Func::Tanh => Node::Tanh(a),
        Func::Sigmoid => Node::Sigmoid(a),
        Func::Relu => Node::Relu(a),
        Func::Softplus => Node::Softplus(a),
        Func::Sin => Node::Sin(a),
        Func::Cos => Node::Cos(a),
        Func::Abs => Node::Abs(a),
        Func::Step => Node::Step(a),
        Func::Sign => Node::Sign(a),
        Func::Not => Node::Not(a),
    }
}

fn sub_leaf(s: &Sub) -> Leaf {
    match s {
        Sub::Var(v) => Leaf::Var(v.0),
        Sub::Lit(n) => Leaf::Lit(*n),
        Sub::Affine(a) => Leaf::Affine(*a),
    }
}

/// The IR expression as an e-graph term.
pub fn to_rec(e: &Expr) -> RecExpr<Node> {
    let mut rec = RecExpr::default();
    add(e, &mut rec);
    rec
}

fn add(e: &Expr, rec: &mut RecExpr<Node>) -> Id {
    match e {
        Expr::Num(x) => rec.add(Node::Num(Number::new(*x))),
        Expr::Read { value, subs } => {
            let mut children = vec![rec.add(Node::Leaf(Leaf::Value(value.0)))];
            children.extend(subs.iter().map(|s| rec.add(Node::Leaf(sub_leaf(s)))));
            rec.add(Node::Read(children.into_boxed_slice()))
        }
        Expr::Delta(a, b) => {
            let a = rec.add(Node::Leaf(sub_leaf(a)));
            let b = rec.add(Node::Leaf(sub_leaf(b)));
            rec.add(Node::Delta([a, b]))
        }
        Expr::Unary { func, arg } => {
            let a = add(arg, rec);
            rec.add(func_node(*func, a))
        }
        Expr::Binary { op, lhs, rhs } => {
            let a = add(lhs, rec);
            let b = add(rhs, rec);
            rec.add(match op {
                BinOp::Add => Node::Add([a, b]),
                BinOp::Sub => Node::Sub([a, b]),
                BinOp::Mul => Node::Mul([a, b]),
                BinOp::Div => Node::Div([a, b]),
                BinOp::Pow => Node::Pow([a, b]),
                BinOp::Max => Node::Max([a, b]),
                BinOp::Min => Node::Min([a, b]),
                BinOp::XLogY => Node::XLogY([a, b]),
                BinOp::Lt => Node::Lt([a, b]),
                BinOp::Le => Node::Le([a, b]),
                BinOp::Gt => Node::Gt([a, b]),
                BinOp::Ge => Node::Ge([a, b]),
                BinOp::Eq => Node::Eq([a, b]),
                BinOp::Ne => Node::Ne([a, b]),
                BinOp::And => Node::And([a, b]),
                BinOp::Or => Node::Or([a, b]),
            })
        }
        Expr::Reduce { op, index, body } => {
            let i = rec.add(Node::Leaf(Leaf::Var(index.0)));
            let b = add(body, rec);
            rec.add(match op {
                Reduction::Sum => Node::Sum([i, b]),
                Reduction::Mean => Node::Mean([i, b]),
                Reduction::LogSumExp => Node::LogSumExp([i, b]),
                Reduction::Max => Node::MaxOver([i, b]),
                Reduction::Min => Node::MinOver([i, b]),
                Reduction::ArgMax => Node::ArgMax([i, b]),
                Reduction::ArgMin => Node::ArgMin([i, b]),
            })
        }
        Expr::At { index, pos } => {
            let i = rec.add(Node::Leaf(Leaf::Var(index.0)));
            let p = add(pos, rec);
            rec.add(Node::At([i, p]))
        }
        Expr::Solve {
            index,
            scale,
            value,
            body,
        } => {
            let i = rec.add(Node::Leaf(Leaf::Var(index.0)));
            let s = rec.add(Node::Num(Number::new(*scale as f64)));
            let v = rec.add(Node::Leaf(sub_leaf(value)));
            let b = add(body, rec);
            rec.add(Node::Solve([i, s, v, b]))
        }
        Expr::Where { cond, then, els } => {
            let c = add(cond, rec);
            let t = add(then, rec);
            let e = add(els, rec);
            rec.add(Node::Where([c, t, e]))
        }
        Expr::Index(v) => {
            let i = rec.add(Node::Leaf(Leaf::Var(v.0)));
            rec.add(Node::Index(i))
        }
    }
}

/// An e-graph term back as an IR expression; `None` if it is not one (a
/// leaf where an expression belongs), which extraction never produces.
pub fn from_rec(rec: &RecExpr<Node>) -> Option<Expr> {
    let root = Id::from(rec.as_ref().len() - 1);
    back(rec, root)
}

fn sub_of(rec: &RecExpr<Node>, id: Id) -> Option<Sub> {
    match &rec[id] {
        Node::Leaf(Leaf::Var(v)) => Some(Sub::Var(IndexId(*v))),
        Node::Leaf(Leaf::Lit(n)) => Some(Sub::Lit(*n)),
        Node::Leaf(Leaf::Affine(a)) => Some(Sub::Affine(*a)),
        _ => None,
    }
}

fn back(rec: &RecExpr<Node>, id: Id) -> Option<Expr> {
    let node = &rec[id];
    if let Some((func, a)) = node.func() {
        return Some(Expr::unary(func, back(rec, a)?));
    }
    if let Some((op, a, b)) = node.binary() {
        return Some(Expr::binary(op, back(rec, a)?, back(rec, b)?));
    }
    if let Some((op, i, body)) = node.reduction() {
        let Some(Sub::Var(index)) = sub_of(rec, i) else {
            return None;
        };
        return Some(Expr::Reduce {
            op,
            index,
            body: Box::new(back(rec, body)?),
        });
    }
    match node {
        Node::Num(x) => Some(Expr::Num(x.value())),
        Node::Delta([a, b]) => Some(Expr::Delta(sub_of(rec, *a)?, sub_of(rec, *b)?)),
        Node::Where([c, t, e]) => {
            Some(Expr::select(back(rec, *c)?, back(rec, *t)?, back(rec, *e)?))
        }
        Node::Index(i) => match sub_of(rec, *i)? {
            Sub::Var(v) => Some(Expr::Index(v)),
            Sub::Lit(_) | Sub::Affine(_) => None,
        },
        Node::At([i, p]) => {
            let Some(Sub::Var(index)) = sub_of(rec, *i) else {
                return None;
            };
            Some(Expr::At {
                index,
                pos: Box::new(back(rec, *p)?),
            })
        }
        Node::Solve([i, s, v, b]) => {
            let (Some(Sub::Var(index)), Node::Num(scale)) = (sub_of(rec, *i), &rec[*s]) else {
                return None;
            };
            Some(Expr::Solve {
                index,
                scale: scale.value() as i64,
                value: sub_of(rec, *v)?,
                body: Box::new(back(rec, *b)?),
            })
        }
        Node::Read(children) => {
            let Node::Leaf(Leaf::Value(v)) = rec[children[0]] else {
                return None;
            };
            let subs = children[1..]
                .iter()
                .map(|c| sub_of(rec, *c))
                .collect::<Option<Vec<Sub>>>()?;
            Some(Expr::Read {
                value: ValueId(v),
                subs,
            })
        }
        _ => None,
    }
}
