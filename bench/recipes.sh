#!/usr/bin/env bash
# The poem model's recipes at equal tokens (docs/model.md, "Recipes"): each from scratch at one size, the same
# steps of ~3,072 tokens, the same seed and data order; dev perplexity at the end (and of the averaged weights
# where averaging is on). Niced: it runs beside other work. Usage: bench/recipes.sh OUT_DIR [STEPS] [EMBED] [HIDDEN]
# RECIPES="layers3 song-pretrain song-then-tang" runs only those (the others' results are in OUT_DIR already).
set -euo pipefail
out=${1:?usage: bench/recipes.sh OUT_DIR [STEPS] [EMBED] [HIDDEN]}
steps=${2:-1200}
embed=${3:-128}
hidden=${4:-256}
mkdir -p "$out"
train() { nice -n 10 node bin/tangshi.js train --embed "$embed" --hidden "$hidden" --dropout 0.3 --lr 0.003 --save-every 1000 "$@"; }
run() { local name=$1; shift; [[ -z "${RECIPES:-}" || " $RECIPES " == *" $name "* ]] || return 0; echo "== $name: $*"; train --out "$out/$name" "$@" 2>&1 | grep -E 'dev perplexity|saved|model:' | tee "$out/$name.log"; }
run baseline --layers 2 --max-steps "$steps" --average-from 0.5
run tied --layers 2 --tied --max-steps "$steps"
run layers3 --layers 3 --max-steps "$steps"
# Tang + Song for three quarters of the tokens, then Tang alone (the optimizer's state carried over)
run song-pretrain --layers 2 --song --max-steps $((steps * 3 / 4))
run song-then-tang --from "$out/song-pretrain" --max-steps $((steps / 4))
