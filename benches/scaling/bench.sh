#!/bin/sh
# Usage: bench.sh NETGRAD — prints "kind scale command seconds KB" rows.
B=$1
gen() {
case $1 in
sums) python3 -c "print('param w');[print(f'a{d} = {d+1}*w'+' + w'*249) for d in range(10*$2)];print('loss E = a0')";;
fan) python3 -c "print('param w\nh0 = w');[print(f'h{i} = tanh(h{i-1}) + w') for i in range(1,50*$2)];print(f'loss E = h{50*$2-1}')";;
pow) python3 -c "print('param w\nloss E = ' + '^'.join(['w']*(15*$2)))";;
prod) python3 -c "print('param w\nloss E = ' + '*'.join(['w']*(15*$2)))";;
esac; }
for k in sums fan pow prod; do for s in 1 4 16; do gen $k $s > $k$s.net
for c in check compile; do
/usr/bin/time -f "$k $s $c %e %M" timeout 300 taskset -c 0 $B $c $k$s.net >/dev/null 2>/tmp/err_$k$s$c || echo "$k $s $c FAILED"; tail -1 /tmp/err_$k$s$c
done; done; done
