"""``python -m bench --end-to-end``: the hot loop against its own limit (model-only rate, ratio).

Small sizes only (32 px, 2 source images, 2 steps): these check what is reported and how it
is computed, never how fast; timings belong to the benchmark itself (README).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.end_to_end import HotLoopRates, hot_loop
from bench.common import synthetic_images
from trainables.config import TrialConfig

REPO = Path(__file__).resolve().parents[2]


def test_end_to_end_json_reports_model_only_rate_and_their_quotient():
    r = subprocess.run([sys.executable, "-m", "bench", "--device", "cpu", "--image-size", "32", "--batch-size", "2",
                        "--end-to-end", "--steps", "2", "--images", "8", "--reference-workers", "0",
                        "--precision", "fp32", "--json"],
                       capture_output=True, text=True, cwd=REPO, timeout=300,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})   # no spinning threads on a shared CPU
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = json.loads(r.stdout)                       # stdout is the JSON alone under --json
    e2e, model_only, ratio = (out["end_to_end_images_per_second"], out["model_only_images_per_second"],
                              out["end_to_end_ratio"])
    assert e2e > 0 and model_only > 0
    assert ratio == pytest.approx(e2e / model_only, rel=1e-12)
    assert out["precision"] == "fp32" and out["bf16"] is False
    assert "model only" in r.stderr and "ratio" in r.stderr


def test_ratio_is_end_to_end_over_model_only():
    assert HotLoopRates(end_to_end=45.0, model_only=50.0).ratio == pytest.approx(0.9)


def test_hot_loop_trains_both_ways_on_the_same_model():
    cfg = TrialConfig(image_size=32, batch_size=2, device="cpu", precision="fp32")
    rates = hot_loop(cfg, synthetic_images(4, 32, torch.device("cpu")), steps=2, device=torch.device("cpu"),
                     blocks=2)
    assert rates.end_to_end > 0 and rates.model_only > 0
    assert rates.ratio == rates.end_to_end / rates.model_only
