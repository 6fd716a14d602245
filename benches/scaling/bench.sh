#!/usr/bin/env bash
# Usage: benches/scaling/bench.sh NETGRAD [KIND...]
# Time and peak memory of every command on large programs at 1x, 4x and 16x,
# with growth exponents (log4 of the ratio between neighbouring sizes: 1 is
# linear). Each cell is `/usr/bin/time -f "%e %M" netgrad COMMAND FILE`,
# pinned to one core (taskset -c 0), seconds and peak RSS in KB. Prints a
# Markdown table (BENCHMARKS.md, "Scaling of large programs").
#
# sums, fan, pow, prod are the bombs of issue 13 (items 1 and 2); chain, wide,
# defs, prod2, pow2, mlp are the shapes of tests/large_programs.rs (keep the
# two in step), run through every command.
set -euo pipefail
B=$(realpath "$1"); shift
kinds=${*:-sums fan pow prod chain wide defs prod2 pow2 mlp}
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
gen() { python3 - "$1" "$2" <<'PY'
import sys
kind, s = sys.argv[1], int(sys.argv[2])
out = []
p = out.append
if kind == "sums":     # 10s definitions of 250 terms (the 40-definition bomb is 4x)
    p("param w")
    for d in range(10 * s): p(f"a{d} = {d+1}*w" + " + w" * 249)
    p("loss E = a0")
elif kind == "fan":    # a value used 50s times (the 800-use bomb is 16x)
    n = 50 * s; p("param w\nh0 = w")
    for i in range(1, n): p(f"h{i} = tanh(h{i-1}) + w")
    p(f"loss E = h{n-1}")
elif kind == "pow":    # w^w^...^w, 15s w's
    p("param w\nloss E = " + "^".join(["w"] * (15 * s)))
elif kind == "prod":   # w*w*...*w, 15s factors
    p("param w\nloss E = " + "*".join(["w"] * (15 * s)))
elif kind == "chain":  # 100s definitions, each reading the one before
    n = 100 * s; p("param w\ninput x\nh0 = w")
    for i in range(1, n): p(f"h{i} = sin(h{i-1}) * x + w")
    p(f"loss E = h{n-1}")
elif kind == "wide":   # one sum of 15s distinct terms
    p("param w\nloss E = " + " + ".join(f"sin(w * {k})" for k in range(1, 15 * s + 1)))
elif kind == "defs":   # 50s tensor definitions
    n = 50 * s; p("dim N = 4\nparam w[N]\ninput x[N]\na0[i] = w[i] * x[i]")
    for d in range(1, n): p(f"a{d}[i] = tanh(a{d-1}[i]) * w[i] + x[i] * {d}")
    p(f"loss E = sum(i, a{n-1}[i]^2)")
elif kind == "prod2":  # a product of 15s distinct factors
    p("param w\nloss E = " + " * ".join(f"(1 + w / {k})" for k in range(1, 15 * s + 1)))
elif kind == "pow2":   # a tower of 15s sigmoids
    p("param w\nloss E = " + "^".join(["sigmoid(w)"] * (15 * s)))
elif kind == "mlp":    # 4s layers of 8x8 weights
    n = 4 * s; p("dim D = 8\ninput x[D]\nh0[j] = x[j]")
    for l in range(1, n + 1):
        p(f"param W{l}[D, D]\nh{l}[j] = tanh(sum(k, W{l}[j, k] * h{l-1}[k]))")
    p(f"loss E = sum(j, h{n}[j]^2)")
print("\n".join(out))
PY
}
cmds() { case $1 in sums|fan|pow|prod) echo check compile;; *) echo check eval explain compile graph;; esac; }
echo "| input | command | seconds 1x / 4x / 16x | time exponents | peak KB 1x / 4x / 16x | memory exponents |"
echo "|---|---|---|---|---|---|"
for k in $kinds; do
  for s in 1 4 16; do
    gen "$k" "$s" > "$dir/$k$s.net"
    "$B" values "$dir/$k$s.net" -o "$dir/$k$s.json"
  done
  for c in $(cmds "$k"); do
    row=()
    for s in 1 4 16; do
      args=("$c" "$dir/$k$s.net")
      [ "$c" = eval ] && args+=(--values "$dir/$k$s.json")
      if /usr/bin/time -o "$dir/t" -f "%e %M" timeout 300 taskset -c 0 "$B" "${args[@]}" >/dev/null 2>"$dir/err"; then
        row+=("$(cat "$dir/t")")
      else
        row+=("FAILED FAILED"); tail -3 "$dir/err" >&2
      fi
    done
    printf '%s\n' "${row[@]}" | awk -v k="$k" -v c="$c" '
      { t[NR] = $1; m[NR] = $2 }
      function e(a, b) { return (a > 0 && b > 0) ? sprintf("%.2f", log(b / a) / log(4)) : "-" }
      END { printf "| %s | %s | %s / %s / %s | %s, %s | %s / %s / %s | %s, %s |\n", k, c,
            t[1], t[2], t[3], e(t[1], t[2]), e(t[2], t[3]), m[1], m[2], m[3], e(m[1], m[2]), e(m[2], m[3]) }'
  done
done
