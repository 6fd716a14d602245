#!/bin/sh
# Instructions per call of the generated loss_flat and gradient_flat of the
# small examples and of their hand-written references (benches/src/hand_small.rs),
# counted by callgrind: deterministic, unlike times on a shared machine.
#
#   benches/callgrind/run.sh [NETGRAD] [OUTDIR]
#
# NETGRAD defaults to target/release/netgrad (build it first), OUTDIR to
# target/callgrind. Each function is called 1,000 times behind an
# #[inline(never)] wrapper; the table gives instructions per call.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
netgrad=${1:-$root/target/release/netgrad}
out=${2:-$root/target/callgrind}
nets="softmax_regression xor weight_decay tied_autoencoder bishop fanout batch_mlp maxpool huber_regression conv1d"
mkdir -p "$out"
for net in $nets; do
    "$netgrad" compile "$root/examples/$net.net" -o "$out/$net.rs"
done
cp "$root/benches/src/hand_small.rs" "$out/hand_small.rs"
{
    echo '#![allow(dead_code, clippy::all)]'
    echo 'mod hand_small;'
    cat "$here/main.rs"
    for net in $nets; do
        cat <<RS
mod $net { include!("$net.rs"); }
#[inline(never)]
fn gen_loss_$net(i: &[f64], p: &[f64]) -> f64 { $net::loss_flat(i, p) }
#[inline(never)]
fn hand_loss_$net(i: &[f64], p: &[f64]) -> f64 { hand_small::${net}_loss(i, p) }
#[inline(never)]
fn gen_gradient_$net(i: &[f64], p: &[f64], g: &mut [f64]) -> f64 { $net::gradient_flat(i, p, g) }
#[inline(never)]
fn hand_gradient_$net(i: &[f64], p: &[f64], g: &mut [f64]) -> f64 { hand_small::${net}_gradient(i, p, g) }
RS
    done
    echo 'fn main() {'
    echo '    let mut sink = 0.0;'
    for net in $nets; do
        cat <<RS
    {
        let (i, p) = (values($net::N_INPUTS, 1), values($net::N_PARAMS, 2));
        let mut g = vec![0.0; $net::N_PARAMS];
        for _ in 0..1000 {
            sink += gen_loss_$net(std::hint::black_box(&i), std::hint::black_box(&p));
            sink += hand_loss_$net(std::hint::black_box(&i), std::hint::black_box(&p));
            sink += gen_gradient_$net(std::hint::black_box(&i), std::hint::black_box(&p), std::hint::black_box(&mut g));
            sink += hand_gradient_$net(std::hint::black_box(&i), std::hint::black_box(&p), std::hint::black_box(&mut g));
        }
    }
RS
    done
    echo '    println!("{sink}");'
    echo '}'
} > "$out/main.rs"
rustc --edition 2021 -C opt-level=3 -C debuginfo=1 -o "$out/cg" "$out/main.rs" 2>&1 | grep -v '^$' || true
printf '| net | generated loss | hand loss | ratio | generated gradient | hand gradient | ratio |\n|---|---|---|---|---|---|---|\n'
for net in $nets; do
    row="| $net"
    for f in loss gradient; do
        for who in gen hand; do
            valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" \
                --toggle-collect="main::${who}_${f}_$net" "$out/cg" >/dev/null 2>&1
            n=$(callgrind_annotate "$out/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
            eval "${who}_$f=$(( n / 1000 ))"
        done
        eval "g=\$gen_$f; h=\$hand_$f"
        row="$row | $g | $h | $(echo "scale=2; $g / $h" | bc)"
    done
    echo "$row |"
done
