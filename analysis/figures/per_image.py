"""The paper's figures of scores, images and features (functions take DataFrames and
return Figures; the charts of a table's numbers are in ``analysis.figures.charts``).

- ``roc_curves``: per-category ROC curves from the stored per-image scores.
- ``sample_grid``: Figure 2: a normal image, a real defect, and each augmentation applied
  to the same normal images by the project's own augmentation code.
- ``tsne_embeddings``: Figure 3: t-SNE of normal, defective, CutPaste and scar features.
- ``heatmap_grid``: Figure 4: input, ground truth, patch heatmap and GradCAM rows.
Every title names the dataset, so a figure of generated data is never taken for MVTec.
"""
from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from analysis.tables.columns import with_defaults  # noqa: E402
from analysis.stats.summary import category_order  # noqa: E402
from analysis.tables.build import describe_dataset  # noqa: E402
from study.results.schema import OK, C  # noqa: E402


def roc_curves(trials: pd.DataFrame, scores: pd.DataFrame, study: str) -> Figure | None:
    """One panel per category, one curve per configuration (its lowest seed)."""
    ok = trials[(trials[C.study] == study) & (trials[C.status] == OK)]
    ok = ok[ok[C.trial_key].isin(set(scores[C.trial_key]))] if not scores.empty else ok.iloc[:0]
    if ok.empty:
        return None
    from analysis.tables.columns import assign_columns
    ok = assign_columns(with_defaults(ok))[0]
    ok = ok.assign(config_label=ok["tcol"])
    first = ok.sort_values(C.seed).drop_duplicates(["config_label", C.category])
    cats = category_order(first[C.category])
    ncol = min(5, len(cats))
    nrow = -(-len(cats) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 3.0 * nrow), squeeze=False)
    by_key = {k: g for k, g in scores[scores[C.trial_key].isin(set(first[C.trial_key]))].groupby(C.trial_key)}
    for ax, cat in zip(axes.flat, cats):
        for r in first[first[C.category] == cat].itertuples():
            s = by_key[r.trial_key]
            fpr, tpr, _ = roc_curve(s[C.label], s[C.score])
            ax.plot(fpr, tpr, label=f"{r.config_label} ({100 * r.image_auc:.1f})")
        ax.plot([0, 1], [0, 1], ls=":", color="grey")
        ax.set_title(cat, fontsize=9)
        ax.set_xlabel("false positive rate", fontsize=8)
        ax.set_ylabel("true positive rate", fontsize=8)
        ax.legend(fontsize=6, loc="lower right")
    for ax in list(axes.flat)[len(cats):]:
        ax.axis("off")
    dataset, _ = describe_dataset(ok)
    fig.suptitle(f"Study '{study}': ROC curves per category (AUC % in legend), dataset {dataset}", fontsize=10)
    fig.tight_layout()
    return fig


SAMPLE_AUGMENTATIONS = ("cutout", "rotation", "scar", "cutpaste", "cutpaste_scar", "confetti")


def sample_grid(data_root, categories: list[str], image_size: int = 128, seed: int = 0,
                dataset: str = "") -> Figure:
    """Figure 2: per category, a normal image, a defect, and each augmentation of that normal image."""
    import torch

    from trainables.augment import PixelStore, create_variant, source_batch
    from trainables.config import TrialConfig
    from trainables.data import load_category

    cfg = TrialConfig(image_size=image_size, seed=seed, translate=0.0, jitter=0.0)
    cols = ["normal", "real defect"] + list(SAMPLE_AUGMENTATIONS)
    fig, axes = plt.subplots(len(categories), len(cols), figsize=(1.7 * len(cols), 1.8 * len(categories)),
                             squeeze=False)
    for row, cat in zip(axes, categories):
        data = load_category(data_root, cat, image_size)
        store = PixelStore(data.train)
        defect_idx = int(np.flatnonzero(np.asarray(data.test_labels) == 1)[0])
        panels = [data.train[0].float() / 255, data.test[defect_idx].float() / 255]
        for name in SAMPLE_AUGMENTATIONS:
            gen = torch.Generator().manual_seed(seed)
            images, labels = create_variant(name).make_batch(source_batch(store, torch.tensor([0]), cfg, gen), cfg)
            pick = int(torch.nonzero(labels != 0)[0]) if name != "rotation" else int(torch.nonzero(labels == 1)[0])
            panels.append(images[pick])
        for ax, img, title in zip(row, panels, cols):
            ax.imshow(img.permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title, fontsize=8)
        row[0].set_ylabel(cat, fontsize=9)
    fig.suptitle(f"Augmentations on the same normal images (project code), dataset {dataset}", fontsize=10)
    fig.tight_layout()
    return fig


KIND_STYLE = {"normal": ("tab:blue", "o"), "defect": ("tab:red", "x"),
              "cutpaste": ("tab:green", "^"), "scar": ("tab:purple", "s")}


def tsne_embeddings(embeddings: pd.DataFrame, trials: pd.DataFrame, max_trials: int = 4,
                    seed: int = 0) -> Figure | None:
    """Figure 3: one panel per trial (up to ``max_trials``), points coloured by image kind."""
    from sklearn.manifold import TSNE

    if embeddings.empty:
        return None
    keys = list(dict.fromkeys(embeddings[C.trial_key]))
    meta = trials.set_index(C.trial_key)
    finite = embeddings.groupby(C.trial_key)["vector"].agg(lambda v: bool(np.isfinite(np.stack(v.to_numpy())).all()))
    broken = [k for k in keys if not finite[k]]
    if broken:       # t-SNE cannot place them; the other trials' panels still get drawn
        warnings.warn(f"t-SNE figure: trial(s) {', '.join(broken)} have non-finite embedding vectors; "
                      "left out of the figure", stacklevel=2)
    keys = [k for k in keys if k in meta.index and finite[k]][:max_trials]
    if not keys:
        return None
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 4.0), squeeze=False)
    for ax, key in zip(axes[0], keys):
        part = embeddings[embeddings[C.trial_key] == key]
        x = np.stack(part["vector"].to_numpy()).astype(np.float64)
        x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
        xy = TSNE(n_components=2, perplexity=min(30, max(2, len(x) // 4)), random_state=seed,
                  init="pca").fit_transform(x)
        for kind, (colour, marker) in KIND_STYLE.items():
            m = (part[C.kind] == kind).to_numpy()
            if m.any():
                ax.scatter(xy[m, 0], xy[m, 1], s=12, c=colour, marker=marker, label=kind)
        t = meta.loc[key]
        ax.set_title(f"{t['category']} / {t['variant']} seed {t['seed']}", fontsize=9)
        ax.set_xlabel("t-SNE 1")
        ax.set_ylabel("t-SNE 2")
        ax.legend(fontsize=7)
    dataset, _ = describe_dataset(meta.loc[keys].reset_index())
    fig.suptitle(f"t-SNE of encoder features: normal, defective, CutPaste and scar images, dataset {dataset}",
                 fontsize=10)
    fig.tight_layout()
    return fig


def save(fig: Figure, out_dir, name: str) -> list[str]:
    from pathlib import Path
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        p = out / f"{name}.{ext}"
        fig.savefig(p, dpi=120, bbox_inches="tight")     # long labels grow the canvas, never clip
        paths.append(str(p))
    plt.close(fig)
    return paths


def heatmap_grid(heatmaps: pd.DataFrame, trials: pd.DataFrame, max_images: int = 6) -> Figure | None:
    """Figure 4: columns are defective test images; rows input, ground truth, then one heatmap
    row per localization method present (patch-level model, GradCAM)."""
    if heatmaps.empty:
        return None
    meta = trials.set_index(C.trial_key)
    h = heatmaps[heatmaps[C.trial_key].isin(meta.index)]
    if h.empty:
        return None
    h = h.assign(category=h[C.trial_key].map(meta[C.category]))
    # spread the columns over categories: the first image of each category, then the next...
    h = h.assign(_rank=h.groupby([C.category, C.kind]).cumcount()).sort_values(["_rank", C.category])
    paths = list(dict.fromkeys(h[C.image_path]))[:max_images]
    kinds = [k for k in ("patch", "gradcam") if k in set(h[C.kind])]
    rows = ["input", "ground truth"] + [f"{k} heatmap" for k in kinds]
    fig, axes = plt.subplots(len(rows), len(paths), figsize=(2.0 * len(paths), 2.0 * len(rows)), squeeze=False)
    for col, path in enumerate(paths):
        first = h[h[C.image_path] == path].iloc[0]
        s = int(first["size"])
        img = np.asarray(first["image"], dtype=np.uint8).reshape(s, s, 3)
        panels = [img, np.asarray(first["mask"], dtype=np.uint8).reshape(s, s)]
        for k in kinds:
            hit = h[(h[C.image_path] == path) & (h[C.kind] == k)]
            panels.append(np.asarray(hit.iloc[0]["heatmap"], dtype=np.float32).reshape(s, s) if len(hit) else None)
        for row, panel in enumerate(panels):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if panel is None:
                ax.axis("off")
                continue
            if row == 0:
                ax.imshow(panel)
                ax.set_title(f"{first['category']}\n{first['defect_type']}", fontsize=8)
            elif row == 1:
                ax.imshow(panel, cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(img)
                ax.imshow(panel, cmap="jet", alpha=0.5)
            if col == 0:
                ax.set_ylabel(rows[row], fontsize=9)
    dataset, _ = describe_dataset(meta.loc[list(dict.fromkeys(h[C.trial_key]))].reset_index())
    fig.suptitle(f"Localization heatmaps on defective test images, dataset {dataset}", fontsize=10)
    fig.tight_layout()
    return fig
