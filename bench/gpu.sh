#!/usr/bin/env bash
# One prepared, time-bounded throughput check for a lent GPU (well under 10 minutes).
# Prints the device, aggregate training throughput for K = 1, 2, 4, 8 trials sharing it at
# 256 px, memory per trial, the end-to-end speed-up over the PIL + DataLoader reference,
# and one short smoke trial's AUC. Without a GPU (or with --device cpu) it runs the same
# steps at small sizes on the CPU, so CI exercises it (its numbers mean nothing).
#   bash bench/gpu.sh               # auto: cuda if torch sees one, else the CPU fallback
#   bash bench/gpu.sh --device cpu  # force the CPU fallback
#   bash bench/gpu.sh --save        # also record the K figures for study.launch --dry-run
#   bash bench/gpu.sh --data-root D # the smoke trial on dataset D (default: the generated one,
#                                   # made once: 15 categories at 256 px, a minute or more on a CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
DEVICE=auto
SAVE=""
DATA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --save) SAVE="--save"; shift ;;
    --data-root) DATA=(--data-root "$2"); shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ "$DEVICE" = auto ]; then
  DEVICE=$($PY -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
fi
if [ "$DEVICE" = cuda ]; then
  SIZE=256; KS=1,2,4,8; SECONDS_PER=20; E2E_SIZE=256; E2E_STEPS=60; E2E_IMAGES=128; TRIAL_SETS=()
else   # small sizes that still run every step: 32 px, one second per K, 32 source images
  SIZE=32; KS=1,2; SECONDS_PER=1; E2E_SIZE=32; E2E_STEPS=2; E2E_IMAGES=32
  TRIAL_SETS=(--set image_size=32 --set steps=3 --set head_steps=2 --set batch_size=4)
fi
echo "== device"
$PY -c "import torch; print(torch.cuda.get_device_name(0) if '$DEVICE' == 'cuda' else 'cpu', '| torch', torch.__version__)"
echo "== packing: K trials sharing the device, ${SIZE}px, cutpaste_3way, batch 32"
timeout 400 $PY -m bench --device "$DEVICE" --image-size "$SIZE" --concurrent "$KS" --seconds "$SECONDS_PER" $SAVE
echo "== end to end: ours vs PIL + DataLoader reference, ${E2E_SIZE}px"
timeout 200 $PY -m bench --device "$DEVICE" --image-size "$E2E_SIZE" --end-to-end --steps "$E2E_STEPS" --images "$E2E_IMAGES"
echo "== smoke trial"
timeout 200 $PY -m trainables.run --category bottle --variant cutpaste_3way --budget smoke --set device="$DEVICE" "${DATA[@]}" "${TRIAL_SETS[@]}" | grep -E "image AUC|images/s"
