#!/usr/bin/env bash
# The checks to run when a GPU is at hand, in one go, within about eleven minutes:
#   OUT=results/gpu FRECORE_DATA=../shared/data bash bench/gpu_check.sh
# 1. CUDA speed, each bench alone on the GPU (ratios measured in one process), members side by side
#    included (bench/ensemble.py, with the projected paper-profile times).
# 2. Paper-profile learning curves of the rows the CPU quick profile cannot finish, trained side
#    by side (each is launch-bound, the GPU mostly idle): their accuracies are the check, their
#    times are not clean timings. Each is `python -m frecore run ... --budget`: a run that ends is
#    recorded in $OUT/store (the results store, paper profile); one cut by TRAIN_S is not, its
#    epochs are in $OUT/<name>.log as they end and its checkpoint in $OUT/store/.checkpoints
#    continues it. Rows run their default reading (the authors' code where its saved output is the
#    paper's number): Table 1 Conv Ours (CNN_EP_MNIST) and Table 2's 10- and 20-layer residual nets
#    (the graph model), beside the plain 10-layer chain. TF32 is off: frecore turns it off on CUDA (full
#    float32, as on the CPU).
set -u
OUT=${OUT:?set OUT to the folder for the results}
TRAIN_S=${TRAIN_S:-420}
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:-.}
mkdir -p "$OUT"
nvidia-smi -L | tee "$OUT/device.txt"
python3 -c "import torch; print('torch', torch.__version__)" | tee -a "$OUT/device.txt"
git rev-parse HEAD 2>/dev/null | tee -a "$OUT/device.txt"

for b in ep_vs_bp table1_ratios graph_step; do
  echo "== bench/$b.py --device cuda" | tee -a "$OUT/bench.txt"
  timeout 120 python3 bench/$b.py --device cuda 2>&1 | tee -a "$OUT/bench.txt"
done
# members side by side vs one after another (issue 12's GPU targets: ratio >= 5 for the 10HL-64
# residual and Table S1 cases) and the paper-profile time of Tables 1, 2 and S1 projected on this GPU
echo "== bench/ensemble.py --device cuda --tables" | tee -a "$OUT/bench.txt"
timeout 150 python3 bench/ensemble.py --device cuda --fraction 0.02 --repeats 2 --tables 2>&1 | tee -a "$OUT/bench.txt"

run_row() {  # name experiment row; the hard timeout backs up --budget (a first epoch always runs)
  timeout $((TRAIN_S + 120)) python3 -m frecore run "$2" --profile paper --rows "$3" --seeds 0 --device cuda \
    --budget "${TRAIN_S}s" --out-dir "$OUT/store" > "$OUT/$1.log" 2>&1
}
run_row conv_ours table1 "Conv Ours (hard-sigmoid)" &
run_row res10 table2 "MNIST 10-symm Ours-Residual" &
run_row res20 table2 "MNIST 20-symm Ours-Residual" &
run_row plain10 table2 "MNIST 10-symm Ours" &
wait
for f in "$OUT"/*.log; do  # progress bars end lines with \r: split on it before reading the epochs
  echo "== $f"; tr '\r' '\n' < "$f" | grep -a "^epoch [0-9]*:" | tail -n 3; tr '\r' '\n' < "$f" | tail -n 2 | cut -c1-300
done
