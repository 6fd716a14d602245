#!/bin/sh
# Instructions per call of the generated loss_flat and gradient_flat_in of a
# lenet-like network (a batch of N = 64 images) and of the hand-written
# reference (benches/src/hand_lenet.rs, `loss` / `gradient`, or `valid_*`),
# counted by callgrind.
#
#   benches/callgrind/lenet.sh NET [NETGRAD] [OUTDIR]
#
# NET is examples/lenet.net (hand_lenet's `loss` / `gradient`), or, with
# VALID=1, the unpadded lenet on 14 x 14 images (hand_lenet's `valid_*`
# functions; its .net file is in BENCHMARKS.md); NETGRAD defaults to target/release/netgrad (build it
# first), OUTDIR to target/callgrind-lenet. Each function is called 10 times
# behind an #[inline(never)] wrapper; the table gives instructions per call.
# With ANNOTATE=1 it also writes OUTDIR/gen_gradient.txt, callgrind_annotate's
# per-line profile of the generated gradient.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
net=$1
hand=hand_lenet::
[ "${VALID:-0}" = 1 ] && hand=hand_lenet::valid_
netgrad=${2:-$root/target/release/netgrad}
out=${3:-$root/target/callgrind-lenet}
calls=10
mkdir -p "$out"
"$netgrad" compile "$net" -o "$out/lenet.rs"
cp "$root/benches/src/hand_lenet.rs" "$out/hand_lenet.rs"
{
    echo '#![allow(dead_code, clippy::all)]'
    echo 'mod hand_lenet;'
    cat "$here/main.rs"
    cat <<RS
mod lenet { include!("lenet.rs"); }
#[inline(never)]
fn gen_loss(d: &lenet::Dims, i: &[f64], p: &[f64]) -> f64 { lenet::loss_flat(d, i, p) }
#[inline(never)]
fn hand_loss(d: &lenet::Dims, i: &[f64], p: &[f64]) -> f64 { ${hand}loss(d.N, i, p) }
#[inline(never)]
fn gen_gradient(ws: &mut lenet::Workspace, d: &lenet::Dims, i: &[f64], p: &[f64], g: &mut [f64]) -> f64 {
    lenet::gradient_flat_in(ws, d, i, p, g)
}
#[inline(never)]
fn hand_gradient(d: &lenet::Dims, i: &[f64], p: &[f64], g: &mut [f64]) -> f64 { ${hand}gradient(d.N, i, p, g) }
fn main() {
    let d = lenet::Dims { N: 64 };
    let (i, p) = (values(d.n_inputs(), 1), values(lenet::N_PARAMS, 2));
    let mut g = vec![0.0; lenet::N_PARAMS];
    let mut ws = lenet::Workspace::new(&d);
    let mut sink = 0.0;
    for _ in 0..$calls {
        sink += gen_loss(&d, std::hint::black_box(&i), std::hint::black_box(&p));
        sink += hand_loss(&d, std::hint::black_box(&i), std::hint::black_box(&p));
        sink += gen_gradient(&mut ws, &d, std::hint::black_box(&i), std::hint::black_box(&p), std::hint::black_box(&mut g));
        sink += hand_gradient(&d, std::hint::black_box(&i), std::hint::black_box(&p), std::hint::black_box(&mut g));
    }
    println!("{sink}");
}
RS
} > "$out/main.rs"
rustc --edition 2021 -C opt-level=3 -C debuginfo=1 -o "$out/cg" "$out/main.rs" 2>&1 | grep -v '^$' || true
printf '| N = 64 | generated | hand | ratio |\n|---|---|---|---|\n'
for f in loss gradient; do
    for who in gen hand; do
        valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$out/cg_${who}_$f.out" \
            --toggle-collect="main::${who}_$f" "$out/cg" >/dev/null 2>&1
        n=$(callgrind_annotate "$out/cg_${who}_$f.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
        eval "${who}=$(( n / calls ))"
    done
    echo "| $f | $gen | $hand | $(echo "scale=2; $gen / $hand" | bc) |"
done
if [ "${ANNOTATE:-0}" = 1 ]; then
    callgrind_annotate --auto=yes "$out/cg_gen_gradient.out" > "$out/gen_gradient.txt" 2>/dev/null
fi
