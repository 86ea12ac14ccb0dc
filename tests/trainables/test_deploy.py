"""Bundles, the ONNX export and torch-free prediction: parity with the trial's own numbers."""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

from trainables.deploy.graph import DensityExportError, MixtureScore, density_module
from trainables.deploy.threshold import fpr_bound, normals_in, too_few_warning

REPO = Path(__file__).resolve().parents[2]
TINY = {"image_size": 32, "batch_size": 4, "steps": 3, "embedding_sample": 4, "threads": 1, "precision": "fp32"}
# a subprocess in which `import torch` fails: what predict must live with
NO_TORCH = """
import runpy, sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, _NoTorch())
sys.argv = ["trainables.predict"] + sys.argv[1:]
runpy.run_module("trainables.predict", run_name="__main__")
"""


def _run(args: list[str], *, no_torch: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", NO_TORCH] if no_torch else [sys.executable, "-m"]
    return subprocess.run(cmd + args, capture_output=True, text=True, cwd=REPO, env=os.environ.copy(), timeout=900)


def _labels(paths: list[str]) -> np.ndarray:
    return np.array([0 if Path(p).parent.name == "good" else 1 for p in paths])


def _read_csv(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def saved_trial(small_dataset, tmp_path_factory):
    """``trainables.run --save`` on a tiny image-level trial, then ``trainables.export``."""
    d = tmp_path_factory.mktemp("deploy")
    sets = sum([["--set", f"{k}={v}"] for k, v in TINY.items()], [])
    run = _run(["trainables.run", "--data-root", str(small_dataset), "--category", "bottle", "--variant",
                "cutpaste", "--json", "--save", str(d / "bundle")] + sets)
    assert run.returncode == 0, run.stderr
    exported = _run(["trainables.export", str(d / "bundle"), "--out", str(d / "model.onnx")])
    assert exported.returncode == 0, exported.stderr
    return {"dir": d, "row": json.loads(run.stdout.strip().splitlines()[-1]), "export": exported,
            "model": d / "model.onnx", "bundle": d / "bundle"}


def test_bundle_holds_the_documented_files_and_threshold_record(saved_trial):
    b = saved_trial["bundle"]
    assert sorted(p.name for p in b.iterdir()) == ["bundle.json", "density.npz", "encoder.pt"]
    info = json.loads((b / "bundle.json").read_text())
    assert info["metrics"]["image_auc"] == saved_trial["row"]["image_auc"]
    thr = info["threshold"]
    assert thr["value"] == saved_trial["row"]["threshold"] and thr["normals"] == normals_in(thr["source"]) == 1
    assert thr["fpr_bound"] == pytest.approx(1 - 0.05 ** (1 / 1))
    assert info["preprocessing"]["image_size"] == 32 and info["density"] == {"kind": "ledoit_wolf", "level": "image"}


def test_export_prints_the_threshold_its_normals_and_bound_and_warns_when_too_few(saved_trial):
    out = saved_trial["export"]
    assert "set on 1 normal images" in out.stdout and "95% confidence" in out.stdout
    assert "--calibrate DIR" in out.stderr


def test_predict_without_torch_on_the_test_folder_gives_the_rows_image_auc(saved_trial, small_dataset):
    csv_path = saved_trial["dir"] / "predictions.csv"
    done = _run(["--model", str(saved_trial["model"]), str(small_dataset / "bottle" / "test"),
                 "--out", str(csv_path)], no_torch=True)
    assert done.returncode == 0, done.stderr
    assert "--calibrate DIR" in done.stderr                     # 1 normal < 1/fpr = 100
    rows = _read_csv(csv_path)
    assert len(rows) == 15
    auc = roc_auc_score(_labels([r["path"] for r in rows]), [float(r["score"]) for r in rows])
    assert auc == pytest.approx(saved_trial["row"]["image_auc"], abs=1e-6)
    t = saved_trial["row"]["threshold"]
    assert all(int(r["anomalous"]) == (float(r["score"]) >= t) for r in rows)


def test_predict_names_an_unreadable_image_writes_the_others_and_exits_nonzero(saved_trial, small_dataset, tmp_path):
    good = tmp_path / "good"
    shutil.copytree(small_dataset / "bottle" / "test" / "good", good)
    (good / "broken.png").write_bytes(b"")
    done = _run(["trainables.predict", "--model", str(saved_trial["model"]), str(good), "--out",
                 str(tmp_path / "p.csv"), "--threshold", "1e9"])
    assert done.returncode == 1
    assert "broken.png" in done.stderr
    rows = _read_csv(tmp_path / "p.csv")
    assert len(rows) == 6 and not any("broken" in r["path"] for r in rows)
    assert all(r["anomalous"] == "0" and float(r["threshold"]) == 1e9 for r in rows)   # --threshold overrides


def test_calibrate_on_200_good_images_flags_at_most_the_fpr_share(saved_trial, tmp_path):
    from trainables.deploy.metadata import read_metadata
    from trainables.deploy.predict import find_images, load_model, predict
    rng = np.random.default_rng(0)
    folder = tmp_path / "line_good"
    folder.mkdir()
    base = rng.integers(60, 200, (1, 1, 3))
    for i in range(200):          # one "product": a flat colour with mild noise, as a line's normals
        img = np.clip(base + rng.normal(0, 12, (32, 32, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{i:03d}.png")
    model = tmp_path / "model.onnx"
    shutil.copy(saved_trial["model"], model)
    done = _run(["trainables.predict", "--model", str(model), "--calibrate", str(folder)])
    assert done.returncode == 0, done.stderr
    meta = read_metadata(model)                                    # written in place
    assert meta["threshold_normals"] == 200 and meta["threshold_source"] == "calibrate:200"
    assert meta["threshold_history"][0]["threshold"] == saved_trial["row"]["threshold"]
    scores = np.array([p.score for p in predict(load_model(model), find_images([str(folder)])[0])])
    assert np.mean(scores >= meta["threshold"]) <= meta["threshold_fpr"]
    assert meta["threshold_fpr_bound"] == pytest.approx(fpr_bound(200, 0.01))
    assert "--calibrate" not in done.stderr                        # 200 >= 1/fpr: no warning


def test_the_fpr_bound_is_the_order_statistics_beta_quantile():
    from scipy.stats import beta
    # k = floor(n fpr) = 0: the threshold is just above the maximum; P(FPR <= B) = 1 - (1 - B)^n
    assert fpr_bound(8, 0.01) == pytest.approx(1 - 0.05 ** (1 / 8), abs=1e-9)     # 31.2%
    # k = 2 of 200 at 1%: the 3rd highest; FPR ~ Beta(k + 1, n - k)
    assert fpr_bound(200, 0.01) == pytest.approx(beta.ppf(0.95, 3, 198), abs=1e-9)
    assert fpr_bound(1000, 0.05) == pytest.approx(beta.ppf(0.95, 51, 950), abs=1e-9)
    assert too_few_warning(0.01, 99) is not None and too_few_warning(0.01, 100) is None


def test_a_kde_density_cannot_be_exported_and_the_error_names_it():
    with pytest.raises(DensityExportError, match="'kde'.*KernelDensity"):
        density_module("kde", {})


def test_the_mixture_graph_is_sklearns_negative_log_density():
    import torch
    from sklearn.mixture import GaussianMixture
    x = np.random.default_rng(0).normal(size=(80, 5))
    gmm = GaussianMixture(3, covariance_type="full", reg_covar=1e-3, random_state=0).fit(x)
    got = MixtureScore(gmm.weights_, gmm.means_, gmm.precisions_cholesky_)(torch.from_numpy(x[:7])).numpy()
    assert np.allclose(got, -gmm.score_samples(x[:7]), rtol=1e-10)


def _normalised_transposed_convolution(scores: np.ndarray, image_size: int, p: int, stride: int) -> np.ndarray:
    """The map's definition (FCDD's receptive-field upsampling): window scores through a transposed
    convolution with the 2D Gaussian kernel, over the same of ones; a border no window reaches
    replicates the last covered row and column."""
    import torch
    import torch.nn.functional as F
    from trainables.evaluate.patches import gaussian_weights
    g = torch.from_numpy(gaussian_weights(p))
    kernel = torch.outer(g, g).view(1, 1, p, p)
    s = torch.from_numpy(scores)[:, None]
    out = F.conv_transpose2d(s, kernel, stride=stride) / F.conv_transpose2d(torch.ones_like(s[:1]), kernel, stride=stride)
    pad = image_size - out.shape[-1]
    return F.pad(out, (0, pad, 0, pad), mode="replicate")[:, 0].numpy()


# windows that tile the image, that leave a border, and three windows over a pixel
UPSAMPLING_CASES = [(40, 16, 8), (42, 16, 8), (37, 12, 5)]


@pytest.mark.parametrize("image_size,patch,stride", UPSAMPLING_CASES)
def test_the_map_upsampling_is_the_normalised_transposed_convolution_with_exact_ties(image_size, patch, stride):
    from trainables.config import TrialConfig
    from trainables.evaluate.patches import upsample_window_scores, window_grid
    cfg = TrialConfig(image_size=image_size, patch_size=patch, patch_stride=stride, variant="cutpaste_3way_patch")
    gh, gw = window_grid(image_size, cfg)
    scores = np.random.default_rng(1).random((3, gh, gw)) * 100
    got = upsample_window_scores(scores.reshape(3, -1), image_size, cfg)
    assert np.allclose(got, _normalised_transposed_convolution(scores, image_size, patch, stride), rtol=1e-12, atol=0)
    # pixels equal in exact arithmetic are equal: the band one window covers along y (x alike) is
    # the same row repeated, its corner is that window's score, and equal windows give their score
    assert (got[:, :stride] == got[:, :1]).all() and (got[:, :, :stride] == got[:, :, :1]).all()
    assert (got[:, 0, 0] == scores[:, 0, 0]).all()
    flat = upsample_window_scores(np.full((1, gh * gw), 0.1 * 3), image_size, cfg)
    assert (flat == 0.1 * 3).all()


def test_onnx_runtime_upsamples_window_scores_to_the_trials_map_bit_for_bit(tmp_path):
    import onnxruntime as ort
    import torch
    from trainables.config import TrialConfig
    from trainables.evaluate.patches import WindowUpsampling, upsample_window_scores, window_grid
    for image_size, patch, stride in UPSAMPLING_CASES:
        cfg = TrialConfig(image_size=image_size, patch_size=patch, patch_stride=stride, variant="cutpaste_3way_patch")
        grid = window_grid(image_size, cfg)
        scores = np.random.default_rng(2).lognormal(5, 1, (4, *grid))
        scores[1] = scores[1, 0, 0]                                   # one image of equal windows
        path = tmp_path / f"up{image_size}.onnx"
        with warnings.catch_warnings():                               # the TorchScript exporter's notices
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(WindowUpsampling(grid, image_size, patch, stride), (torch.from_numpy(scores),), str(path),
                              dynamo=False, opset_version=17, input_names=["s"], output_names=["m"],
                              dynamic_axes={"s": {0: "n"}, "m": {0: "n"}})
        got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["m"], {"s": scores})[0]
        assert np.array_equal(got, upsample_window_scores(scores.reshape(4, -1), image_size, cfg))


def _trial_to_predictions(cfg: dict, data_root: Path, out: Path, heatmaps: bool) -> tuple:
    """Train in-process, save the bundle, export it, predict on the test folder (CLI main)."""
    from trainables.deploy.bundle import save_bundle
    from trainables.deploy.export import export_bundle
    from trainables.predict import main as predict_main
    from trainables.trial import run_trial
    result = run_trial(cfg, data_root=data_root)
    export_bundle(save_bundle(result, out / "bundle"), out / "model.onnx")
    args = ["--model", str(out / "model.onnx"), str(data_root / cfg["category"] / "test"), "--out", str(out / "p.csv")]
    assert predict_main(args + (["--heatmaps", str(out / "maps")] if heatmaps else [])) == 0
    return result, _read_csv(out / "p.csv")


def test_a_patch_level_trial_exports_its_maps_and_gives_the_rows_pixel_auc(small_dataset, tmp_path):
    from trainables.data import load_category
    from trainables.deploy.predict import map_name
    from trainables.metrics import pixel_auc
    cfg = {"category": "bottle", "variant": "cutpaste_3way_patch", "patch_size": 16, "patch_stride": 8, **TINY}
    result, rows = _trial_to_predictions(cfg, small_dataset, tmp_path, heatmaps=True)
    auc = roc_auc_score(_labels([r["path"] for r in rows]), [float(r["score"]) for r in rows])
    assert auc == pytest.approx(result.metrics["image_auc"], abs=1e-6)
    data = load_category(small_dataset, "bottle", 32)
    base = (small_dataset / "bottle" / "test").resolve()
    maps = np.stack([np.load(tmp_path / "maps" / f"{map_name(small_dataset / p, base)}.npy") for p in data.test_paths])
    assert maps.shape == (15, 32, 32) and (tmp_path / "maps" / "good__000.png").is_file()
    # the maps equal the trial's own (its functions on its model and density) to 1e-4 of their largest
    # value: ONNX Runtime's fp32 convolutions against PyTorch's channels-last ones (measured 3e-6 to 1.5e-5)
    import torch
    from trainables.evaluate.patches import dense_window_features, upsample_window_scores
    feats = dense_window_features(result.model, data.test, result.config, torch.device("cpu"), False)
    trial_maps = upsample_window_scores(result.density.score(feats), 32, result.config)
    assert np.abs(maps - trial_maps).max() <= 1e-4 * np.abs(trial_maps).max()
    # pixel AUC to 1e-6 (docs/deploy.md, Parity): trial and graph upsample with the same module, so
    # pixels tied in exact arithmetic are tied in both (the other upsampling tests). What is left
    # is the window scores' fp32 convolutions in two runtimes (1e-5 relative, up to 1e-4), which
    # reorders near-tied pixels of different windows: 0 here (seed 0), 5.6e-7, 1.1e-6 and 8.9e-6
    # on seeds 1 to 3, which this bound would fail (2-core AMD EPYC, ORT 1.32, torch 2.14)
    assert pixel_auc(maps, data.test_masks.numpy()) == pytest.approx(result.metrics["pixel_auc"], abs=1e-6)
    scores = {Path(r["path"]).relative_to(small_dataset).as_posix(): float(r["score"]) for r in rows}
    assert all(math.isclose(scores[p], s, rel_tol=1e-4) for p, s in zip(result.scores["image_path"], result.scores["score"]))
    assert all(float(r["map_max"]) <= float(r["score"]) + 1e-9 for r in rows)


def test_a_finetuned_lite0_exports_with_the_rows_image_auc(small_dataset, tmp_path):
    cfg = {"category": "carpet", "variant": "cutpaste", "backbone": "efficientnet_lite0", "pretrained": "finetune",
           "head_steps": 2, **{**TINY, "steps": 2}}
    result, rows = _trial_to_predictions(cfg, small_dataset, tmp_path, heatmaps=False)
    auc = roc_auc_score(_labels([r["path"] for r in rows]), [float(r["score"]) for r in rows])
    assert auc == pytest.approx(result.metrics["image_auc"], abs=1e-6)
    scores = {Path(r["path"]).relative_to(small_dataset).as_posix(): float(r["score"]) for r in rows}
    ref = dict(zip(result.scores["image_path"], result.scores["score"]))
    assert all(math.isclose(scores[p], s, rel_tol=1e-4) for p, s in ref.items())


def test_gradcam_maps_of_an_image_level_trial_export_with_the_rows_pixel_auc(small_dataset, tmp_path):
    from trainables.data import load_category
    from trainables.deploy.predict import map_name
    from trainables.metrics import pixel_auc
    # 128 px: ResNet-18's last stage is 4 x 4 (at 1 x 1 GradCAM of an L2-normalised feature is 0)
    cfg = {"category": "bottle", "variant": "cutpaste", "gradcam": True, **{**TINY, "image_size": 128, "steps": 2}}
    result, rows = _trial_to_predictions(cfg, small_dataset, tmp_path, heatmaps=True)
    auc = roc_auc_score(_labels([r["path"] for r in rows]), [float(r["score"]) for r in rows])
    assert auc == pytest.approx(result.metrics["image_auc"], abs=1e-6)
    data = load_category(small_dataset, "bottle", 128)
    base = (small_dataset / "bottle" / "test").resolve()
    maps = np.stack([np.load(tmp_path / "maps" / f"{map_name(small_dataset / p, base)}.npy") for p in data.test_paths])
    # the graph's GradCAM is float64, the trial's float32 autograd: the pixel AUCs differed by 4e-6
    assert pixel_auc(maps, data.test_masks.numpy()) == pytest.approx(result.metrics["pixel_auc"], abs=1e-5)
