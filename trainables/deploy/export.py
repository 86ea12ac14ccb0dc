"""Export a bundle as one ONNX graph (``python -m trainables.export BUNDLE --out model.onnx``).

The graph is ``trainables.deploy.graph``'s: uint8 NHWC images at the bundle's image size in,
``score`` (float64, higher = more anomalous) out, and for patch-level variants ``anomaly_map``
(float64 ``[N, S, S]``, the trial's receptive-field upsampled window scores). Traced with
torch's TorchScript-based exporter at opset 17 with a dynamic batch axis; the bundle's threshold,
the normals behind it and its FPR bound, the image size, trial key, dataset, metrics and code
version go into the metadata (``trainables.deploy.metadata``). The export is checked on two
random images against the same modules in PyTorch before it is kept.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from trainables.deploy.bundle import Bundle, code_version, load_bundle
from trainables.deploy.graph import (DensityExportError, Features, GaussianScore, GradCamGraph, ImageGraph, PatchGraph,
                                     density_module)
from trainables.deploy.metadata import FORMAT, INPUT, MAP, SCORE, write_metadata
from trainables.models.backbones import STAGES, EfficientNetLevels, ResNet18Encoder, deepest

OPSET = 17


@dataclass(frozen=True)
class Exported:
    path: Path
    outputs: tuple[str, ...]
    max_relative_error: float      # ONNX Runtime against PyTorch on the check images
    notes: tuple[str, ...]         # what the graph does not reproduce (a bf16 trial, GradCAM maps)


def build_graph(bundle: Bundle) -> tuple[nn.Module, tuple[str, ...], list[str]]:
    """The module to trace, its output names, and notes on what it leaves out."""
    cfg, info, notes = bundle.config, bundle.manifest, []
    pre = info["preprocessing"]
    features = Features(bundle.encoder(), cfg.feature_layer_list, pre["mean"], pre["std"])
    dens = info["density"]
    density = density_module(dens["kind"], bundle.density)
    if info.get("precision") == "bf16":
        notes.append("the trial evaluated under bf16 autocast; the graph computes in fp32, so its scores differ "
                     "slightly from the row's (train with precision=fp32 for exact parity)")
    if dens["level"] == "patch":
        graph = PatchGraph(features, density, cfg.image_size, dens["patch_size"], dens["patch_stride"],
                           tuple(dens["windows"]))
        return graph.eval(), (SCORE, MAP), notes
    if cfg.gradcam:
        plan = gradcam_plan(features.encoder, cfg.feature_layer_list)
        if isinstance(plan, str) or not isinstance(density, GaussianScore):
            notes.append(f"GradCAM maps are not exported ({plan if isinstance(plan, str) else 'a Gaussian density only'}):"
                         " image scores only")
        else:
            graph = GradCamGraph(features, density, plan[0], plan[1], cfg.image_size)
            return graph.eval(), (SCORE, MAP), notes
    return ImageGraph(features, density).eval(), (SCORE,), notes


def gradcam_plan(encoder: nn.Module, layers: list[str]) -> tuple[str, list[tuple[int, int]]] | str:
    """The map GradCAM weights (the trial's choice: ``layer4`` when the encoder computes it, else
    the last feature layer) and the slices of the pooled features that pool it; or why the
    gradient cannot be written out: a feature layer computed from that map."""
    if isinstance(encoder, EfficientNetLevels):
        point = encoder._index.__getitem__
    elif isinstance(encoder, ResNet18Encoder):
        point = STAGES.index
    else:
        return f"{type(encoder).__name__} does not say where its stages sit"
    acts = "layer4" if point(deepest(layers)) == point("layer4") else layers[-1]
    slices, start = [], 0
    for name in layers:
        width = encoder.stage_dims[name]
        if point(name) == point(acts):
            slices.append((start, start + width))
        elif point(name) > point(acts):
            return f"feature layer {name} is computed from the GradCAM map {acts}"
        start += width
    return acts, slices


def metadata(bundle: Bundle, outputs: tuple[str, ...]) -> dict:
    info, thr = bundle.manifest, bundle.manifest["threshold"]
    s = info["preprocessing"]["image_size"]
    return {
        "format": FORMAT, "image_size": s, "outputs": ",".join(outputs),
        "input": f"{INPUT}: uint8 [N, {s}, {s}, 3], RGB, NHWC; resize each image to {s} x {s} with PIL bilinear",
        "threshold": thr["value"], "threshold_source": thr["source"], "threshold_fpr": thr["fpr"],
        "threshold_normals": thr["normals"], "threshold_fpr_bound": thr["fpr_bound"],
        "threshold_confidence": thr["confidence"], "threshold_heldout_fpr": thr["heldout_fpr"],
        "trial_key": info["trial_key"], "dataset": info["dataset"], "category": info["category"],
        "variant": info["variant"], "density": info["density"]["kind"], "precision": info.get("precision"),
        "code_version": info.get("code_version"), "exported_with": code_version(),
        "metrics": info["metrics"], "config": info["config"],
    }


def _check(graph: nn.Module, path: Path, image_size: int, outputs: tuple[str, ...]) -> float:
    """Largest relative difference between ONNX Runtime and PyTorch on two random images."""
    x = np.random.default_rng(0).integers(0, 256, (2, image_size, image_size, 3), dtype=np.uint8)
    with torch.inference_mode():
        want = graph(torch.from_numpy(x))
    want = [w.numpy() for w in (want if isinstance(want, tuple) else (want,))]
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(list(outputs), {INPUT: x})
    # scores elementwise; a map relative to its largest value (a pixel where ReLU cuts to 0 in one
    # runtime may be 1e-9 in the other)
    return max(float(np.max(np.abs(g - w) / np.maximum(np.abs(w) if name == SCORE else np.abs(w).max(), 1e-12)))
               for name, g, w in zip(outputs, got, want))


def export_bundle(bundle_dir: str | Path, out: str | Path) -> Exported:
    """Write the bundle at ``bundle_dir`` as an ONNX model at ``out`` (renamed into place)."""
    bundle = load_bundle(bundle_dir)
    graph, outputs, notes = build_graph(bundle)
    s = bundle.config.image_size
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    try:
        with warnings.catch_warnings():      # the TorchScript exporter's deprecation notice
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(graph, (torch.zeros(1, s, s, 3, dtype=torch.uint8),), str(tmp), dynamo=False,
                              opset_version=OPSET, input_names=[INPUT], output_names=list(outputs),
                              dynamic_axes={INPUT: {0: "batch"}, **{o: {0: "batch"} for o in outputs}})
        write_metadata(tmp, metadata(bundle, outputs))
        err = _check(graph, tmp, s, outputs)
        if not err < 1e-4:
            raise RuntimeError(f"the exported graph disagrees with PyTorch: relative error {err:.3g} > 1e-4")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return Exported(out, outputs, err, tuple(notes))


__all__ = ["DensityExportError", "Exported", "OPSET", "build_graph", "export_bundle"]
