"""Command line: ``python -m trainables.export BUNDLE --out model.onnx``.

Writes a trial's bundle (``python -m trainables.run ... --save BUNDLE``, or a study's
``<results>/models/<study>/<key>/``) as one ONNX graph (``trainables.deploy.export``): uint8
NHWC images in, ``score`` out (and ``anomaly_map`` for patch-level variants), the threshold and
what it promises in the metadata. Prints the threshold, the normals behind it and its FPR bound.
"""
from __future__ import annotations

import argparse
import sys

from trainables.deploy.bundle import BundleError
from trainables.deploy.export import OPSET, DensityExportError, export_bundle
from trainables.deploy.metadata import read_metadata
from trainables.deploy.threshold import describe, too_few_warning


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trainables.export", description=__doc__.splitlines()[0])
    ap.add_argument("bundle", help="a bundle folder (bundle.json, encoder.pt, density.npz)")
    ap.add_argument("--out", default="model.onnx", help="the ONNX file to write (default: model.onnx)")
    args = ap.parse_args(argv)
    try:
        done = export_bundle(args.bundle, args.out)
    except (BundleError, DensityExportError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    meta = read_metadata(done.path)
    s = meta["image_size"]
    print(f"wrote {done.path} (opset {OPSET}): {meta['category']}/{meta['variant']}, trial {meta['trial_key']}, "
          f"dataset {meta['dataset']}")
    print(f"input  images: uint8 [N, {s}, {s}, 3] RGB (NHWC), each resized to {s} x {s} with PIL bilinear")
    print(f"output {', '.join(done.outputs)} (float64; higher = more anomalous)")
    print(f"check  ONNX Runtime vs PyTorch on 2 random images: max relative difference {done.max_relative_error:.2g}")
    for note in done.notes:
        print(f"note   {note}")
    if meta.get("threshold") is None:
        print("no threshold: the trial had no held-out normals (val_fraction 0); set one with "
              "python -m trainables.predict --calibrate DIR")
        return 0
    print(describe(meta["threshold"], meta["threshold_source"], meta["threshold_fpr"], meta["threshold_normals"]))
    warning = too_few_warning(meta["threshold_fpr"], meta["threshold_normals"])
    if warning:
        print(warning, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
