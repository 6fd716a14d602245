#!/bin/sh
# Instructions per call of the generated loss and gradient of the small
# examples and of the examples with run-time dims, and of their hand-written
# references (benches/src/hand_small.rs, benches/src/hand_runtime.rs),
# counted by callgrind: deterministic, unlike times on a shared machine.
#
#   benches/callgrind/run.sh [NETGRAD] [OUTDIR] [NET...]
#
# NETGRAD defaults to target/release/netgrad (build it first), OUTDIR to
# target/callgrind; NET... narrows the table to those examples (all by
# default). Each function is called 1,000 times behind an #[inline(never)]
# wrapper; the table gives instructions per call. For an example with a
# run-time dim, "generated loss" is `loss_flat` (which makes a `Workspace`
# per call: the module has no loss function that takes one) and "generated
# gradient" is `gradient_flat_in` in one reused workspace.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
netgrad=${1:-$root/target/release/netgrad}
out=${2:-$root/target/callgrind}
[ $# -ge 2 ] && shift 2 || shift $#
nets="softmax_regression xor weight_decay tied_autoencoder bishop fanout batch_mlp maxpool conv1d"
# The examples with run-time dims, one a line: NAME DIM=SIZE[,DIM=SIZE...]
# HAND_MODULE (a file of benches/src whose NAME_loss and NAME_gradient take
# the sizes first, one per run-time dim in declaration order). The sizes
# are those of netgrad_benches::for_each_run_time_example!.
runtime="
causal_attention T=32 hand_runtime
huber_regression N=64 hand_runtime
lenet N=64 hand_lenet
"
if [ $# -gt 0 ]; then
    wanted=" $* "
    keep=""
    for net in $nets; do
        case "$wanted" in *" $net "*) keep="$keep $net" ;; esac
    done
    nets=$keep
    keep=""
    while read -r net sizes hand; do
        [ -n "$net" ] || continue
        case "$wanted" in *" $net "*) keep="$keep
$net $sizes $hand" ;; esac
    done <<EOT
$runtime
EOT
    runtime=$keep
fi
mkdir -p "$out"
for net in $nets; do
    "$netgrad" compile "$root/examples/$net.net" -o "$out/$net.rs"
done
hands=""
while read -r net sizes hand; do
    [ -n "$net" ] || continue
    "$netgrad" compile "$root/examples/$net.net" -o "$out/$net.rs"
    case " $hands " in *" $hand "*) ;; *) hands="$hands $hand" ;; esac
done <<EOT
$runtime
EOT
cp "$root/benches/src/hand_small.rs" "$out/hand_small.rs"
for hand in $hands; do
    cp "$root/benches/src/$hand.rs" "$out/$hand.rs"
done
{
    echo '#![allow(dead_code, non_upper_case_globals, clippy::all)]'
    echo 'mod hand_small;'
    for hand in $hands; do
        echo "mod $hand;"
    done
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
    while read -r net sizes hand; do
        [ -n "$net" ] || continue
        # T=32,N=2 -> `T: 32, N: 2` (the Dims) and `32, 2, ` (the arguments).
        fields=$(echo "$sizes" | sed 's/=/: /g; s/,/, /g')
        args="$(echo "$sizes" | sed 's/[A-Za-z_][A-Za-z0-9_]*=//g; s/,/, /g'),"
        cat <<RS
mod $net { include!("$net.rs"); }
const DIMS_$net: $net::Dims = $net::Dims { $fields };
#[inline(never)]
fn gen_loss_$net(i: &[f64], p: &[f64]) -> f64 { $net::loss_flat(&DIMS_$net, i, p) }
#[inline(never)]
fn hand_loss_$net(i: &[f64], p: &[f64]) -> f64 { $hand::${net}_loss($args i, p) }
#[inline(never)]
fn gen_gradient_$net(ws: &mut $net::Workspace, i: &[f64], p: &[f64], g: &mut [f64]) -> f64 { $net::gradient_flat_in(ws, &DIMS_$net, i, p, g) }
#[inline(never)]
fn hand_gradient_$net(i: &[f64], p: &[f64], g: &mut [f64]) -> f64 { $hand::${net}_gradient($args i, p, g) }
RS
    done <<EOT
$runtime
EOT
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
    while read -r net sizes hand; do
        [ -n "$net" ] || continue
        cat <<RS
    {
        let (i, p) = (values(DIMS_$net.n_inputs(), 1), values($net::N_PARAMS, 2));
        let mut g = vec![0.0; $net::N_PARAMS];
        let mut ws = $net::Workspace::new(&DIMS_$net);
        for _ in 0..1000 {
            sink += gen_loss_$net(std::hint::black_box(&i), std::hint::black_box(&p));
            sink += hand_loss_$net(std::hint::black_box(&i), std::hint::black_box(&p));
            sink += gen_gradient_$net(std::hint::black_box(&mut ws), std::hint::black_box(&i), std::hint::black_box(&p), std::hint::black_box(&mut g));
            sink += hand_gradient_$net(std::hint::black_box(&i), std::hint::black_box(&p), std::hint::black_box(&mut g));
        }
    }
RS
    done <<EOT
$runtime
EOT
    echo '    println!("{sink}");'
    echo '}'
} > "$out/main.rs"
rustc --edition 2021 -C opt-level=3 -C debuginfo=1 -o "$out/cg" "$out/main.rs" 2>&1 | grep -v '^$' || true
printf '| net | generated loss | hand loss | ratio | generated gradient | hand gradient | ratio |\n|---|---|---|---|---|---|---|\n'
rows=$(printf '%s\n' $nets; echo "$runtime" | while read -r net sizes hand; do
    if [ -n "$net" ]; then echo "$net $sizes"; fi
done)
echo "$rows" | while read -r net sizes; do
    [ -n "$net" ] || continue
    row="| $net${sizes:+ ($sizes)}"
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
