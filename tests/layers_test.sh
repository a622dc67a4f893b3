#!/usr/bin/env bash
# The house's rule: each folder under src/ is a layer that uses only the layers before it in
# docs/ARCHITECTURE.md's table. Reads that order from the table, then every `#include "DIR/..."`
# in src/, and fails on an include that points up the order, or a folder the table does not list.
# usage: tests/layers_test.sh [REPO]
set -u
REPO=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$REPO" || exit 1
mapfile -t order < <(grep -o '^| [^|]* | `src/[a-z_]*/`' docs/ARCHITECTURE.md | sed 's/.*`src\/\([a-z_]*\)\/`/\1/')
[ ${#order[@]} -ge 2 ] || { echo "not ok - no layer table in docs/ARCHITECTURE.md"; echo "0 passed, 1 failed"; exit 1; }
declare -A rank
for i in "${!order[@]}"; do rank[${order[$i]}]=$i; done
echo "# layers, bottom up: ${order[*]}"
pass=0 fail=0
for d in src/*/; do
    d=${d#src/}; d=${d%/}
    if [ -z "${rank[$d]+x}" ]; then echo "not ok - src/$d/ is not in docs/ARCHITECTURE.md's layer table"; fail=$((fail + 1)); fi
done
while IFS=: read -r file line inc; do
    from=${file#src/}; from=${from%%/*}
    to=$(sed 's/.*#include "\([a-z_]*\)\/.*/\1/' <<< "$inc")
    [ -n "${rank[$to]+x}" ] && [ -n "${rank[$from]+x}" ] || continue
    if [ "${rank[$to]}" -gt "${rank[$from]}" ]; then
        echo "not ok - $file:$line includes $to/ (layer ${rank[$to]}) from $from/ (layer ${rank[$from]}): an arrow up"
        fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
done < <(grep -n '#include "[a-z_]*/' src/*/*.[ch])
echo "ok - $pass includes point down or sideways"
echo "$((fail == 0 ? 1 : 0)) passed, $fail failed"
[ "$fail" -eq 0 ]
