"""Figures: every figure is written, non-trivial, and the notebook runs top to bottom."""
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


def test_figures_cli_writes_every_figure_for_the_studies_present(results_dir, small_dataset, tmp_path):
    r = subprocess.run([sys.executable, "-m", "analysis", "figures", "--results", str(results_dir),
                        "--out", str(tmp_path), "--data-root", str(small_dataset)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr + r.stdout
    expected = ["table1_bars", "table1_roc", "table1_tsne", "table1_cd", "table7_optim_bars", "table7_optim_ablation",
                "table7_optim_roc", "table2_localization_heatmaps", "table2_localization_bars", "samples",
                "learning_curve_learning_curve"]
    for name in expected:
        for ext in ("png", "pdf"):
            f = tmp_path / f"{name}.{ext}"
            assert f.exists(), f"{f.name} missing; made: {sorted(p.name for p in tmp_path.iterdir())}"
            assert f.stat().st_size > 10_000, f"{f.name} is nearly empty"
    # table1 sweeps only the variant (its control's steps = 0 is no sweep): no ablation curve
    assert not (tmp_path / "table1_ablation.png").exists()
    # two columns (table7 has two lrs, no control): no critical-difference diagram
    assert not (tmp_path / "table7_optim_cd.png").exists()


def test_sample_grid_shows_real_augmentations_that_differ_from_the_normal_image(small_dataset):
    import numpy as np
    from analysis.figures.per_image import SAMPLE_AUGMENTATIONS, sample_grid
    fig = sample_grid(small_dataset, ["carpet", "bottle"], image_size=64)
    axes = fig.axes
    assert len(axes) == 2 * (2 + len(SAMPLE_AUGMENTATIONS))
    normal = axes[0].get_images()[0].get_array()
    for ax in axes[2:2 + len(SAMPLE_AUGMENTATIONS)]:
        img = ax.get_images()[0].get_array()
        assert np.abs(np.asarray(img) - np.asarray(normal)).max() > 0.05, ax.get_title()


def test_trials_store_an_embedding_sample_of_each_kind(results_dir):
    from study.results.sink import read_embeddings
    emb = read_embeddings(str(results_dir))
    counts = emb.groupby(["trial_key", "kind"]).size().unstack()
    assert set(counts.columns) == {"normal", "defect", "cutpaste", "scar"}
    assert (counts.min(axis=1) >= 3).all()
    assert len({len(v) for v in emb["vector"]}) == 1


def test_results_notebook_runs_top_to_bottom(results_dir, small_dataset, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(REPO / "notebooks" / "results.ipynb", as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert params, "the notebook needs a cell tagged 'parameters'"
    params[0].source = (f"RESULTS = {str(results_dir)!r}\nOUT = {str(tmp_path / 'fig')!r}\n"
                        f"DATA_ROOT = {str(small_dataset)!r}")
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert (tmp_path / "fig" / "table1_bars.png").exists()
    assert (tmp_path / "fig" / "samples.png").exists()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]


def test_a_trial_with_non_finite_embeddings_is_left_out_of_the_tsne_with_a_warning(results_dir):
    # seen once in a full run: one patch-level trial's image-level features came back NaN (bf16 CPU,
    # not reproduced alone); the figure should still draw the others and name the broken trial
    import numpy as np
    from analysis.figures.per_image import tsne_embeddings
    emb = pd.read_parquet(results_dir / "embeddings")
    trials = pd.read_parquet(results_dir / "trials")
    keys = list(dict.fromkeys(emb["trial_key"]))[:2]
    emb = emb[emb["trial_key"].isin(keys)].copy()
    emb["vector"] = [np.full(len(v), np.nan) if k == keys[0] else v for k, v in zip(emb["trial_key"], emb["vector"])]
    with pytest.warns(UserWarning, match=keys[0]):
        fig = tsne_embeddings(emb, trials)
    assert len(fig.axes) == 1 and trials.set_index("trial_key").loc[keys[1], "category"] in fig.axes[0].get_title()
