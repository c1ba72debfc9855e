#!/usr/bin/env bash
# The campaign's GPU share (docs/campaign.md, docs/gpu.md): the queue's units the CPU cannot afford,
# trained by `python -m frecore campaign --device cuda`, one campaign process per unit side by side
# (each is launch-bound, the GPU mostly idle), every epoch checkpointed, under one budget:
#   OUT=/tmp/gpu FRECORE_DATA=../shared/data BUDGET=9m bash bench/gpu_campaign.sh
# Each process trains row d or an e unit (Table 2's b units are complete); the budget pauses what it
# does not finish. Before them, bench/rounding_probe.py on the GPU and the CPU (into device.txt). At most 8 files come back: the log, the device, the store's CSVs and
# timings packed in store.tgz, and each checkpoint written here as itself (a few MB; the next call's
# fresh copy of the working tree drops what this one wrote, which lost 35-42 GPU epochs on 2026-12-04).
# Bring them home at once:
#   mkdir -p /tmp/gpu && tar xzf store.tgz -C /tmp/gpu && mkdir -p /tmp/gpu/results/campaign/checkpoints
#   cp *.pt /tmp/gpu/results/campaign/checkpoints/ && python -m frecore merge /tmp/gpu/results
set -u
OUT=${OUT:?set OUT to the folder for the logs and packed results}
BUDGET=${BUDGET:-9m}
THREADS=${THREADS:-4}
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:-.}
mkdir -p "$OUT"
{ nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__)"; git rev-parse HEAD 2>/dev/null; date -u; } \
  > "$OUT/device.txt" 2>&1
# Why the plain 10-symm chain trains worse in a CPU's float32 (docs/readings.md): EP's float32 update
# against float64's, per weight, on this GPU and on this machine's CPU (seconds; appended to device.txt)
for dev in cuda cpu; do timeout 120 python3 bench/rounding_probe.py --device $dev >> "$OUT/device.txt" 2>&1; done
i=0
for entries in '^d:|^e: Table 1 3HL Ours' \
               '^e: Table 1 Conv Ours' \
               '^e: Table 2 20-symm Ours-Residual' \
               '^e: Table 2 10-asymm Ours-AGT'; do
  i=$((i + 1))
  python3 -m frecore campaign --device cuda --threads "$THREADS" --budget "$BUDGET" --entries "$entries" \
    --out-dir results --no-progress > "$OUT/campaign$i.log" 2>&1 &
done
wait
tar czf "$OUT/store.tgz" results/*.csv results/campaign/timings.csv 2>/dev/null
find results/campaign/checkpoints -name '*.pt' -newer "$OUT/device.txt" -exec cp {} "$OUT/" \;
for f in "$OUT"/campaign[0-9].log; do echo "== $f"; cat "$f"; done > "$OUT/campaign.log" && rm "$OUT"/campaign[0-9].log
ls -la "$OUT"; grep -E "^\[|^campaign:" "$OUT/campaign.log" || true
