"""Command line: ``python -m trainables.predict --model model.onnx PATH... --out predictions.csv``.

Scores images with an exported model on ONNX Runtime alone (``trainables.deploy.predict``; torch is
never imported): files, folders (recursively) and glob patterns; one CSV row per image (``path,
score, threshold, anomalous``, and ``map_max``, ``heatmap`` for models with maps); ``--heatmaps DIR``
writes an overlay PNG and the raw map per image; ``--threshold T`` overrides the model's threshold;
``--calibrate DIR`` first re-fits the threshold on the known-good images in DIR and writes it into
the model file in place (``trainables.deploy.calibrate``). An unreadable image is named in a warning
and skipped; the exit status is then 1 (2 for a bad model or no images at all).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainables.deploy.calibrate import calibrate
from trainables.deploy.predict import find_images, load_model, write_predictions
from trainables.deploy.threshold import describe, too_few_warning


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m trainables.predict", description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", metavar="PATH", help="image files, folders or glob patterns")
    ap.add_argument("--model", required=True, help="an ONNX file from python -m trainables.export")
    ap.add_argument("--out", default="predictions.csv", help="the CSV to write (default: predictions.csv)")
    ap.add_argument("--heatmaps", default=None, metavar="DIR",
                    help="models with maps: an overlay PNG and the raw map (.npy) per image in DIR")
    ap.add_argument("--threshold", type=float, default=None, help="flag images with score >= T (not the model's)")
    ap.add_argument("--calibrate", default=None, metavar="DIR",
                    help="re-fit the threshold on the known-good images in DIR and store it in the model file")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: its default)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        model = load_model(args.model, args.threads)
    except Exception as e:   # onnxruntime and onnx raise several kinds for a missing or foreign file
        print(f"error: --model {args.model}: {e}", file=sys.stderr)
        return 2
    failures = 0
    if args.calibrate:
        try:
            model, cal = calibrate(model, args.calibrate, batch_size=args.batch_size)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        failures += len(cal.failed)
        print(f"calibrated on {cal.normals} good images in {args.calibrate}: threshold {cal.previous} -> "
              f"{cal.threshold:.6g}, flags {cal.flagged:.1%} of them (target {cal.fpr:.2%}); written into {model.path}")
    meta = model.meta
    if args.threshold is not None:
        threshold = args.threshold
        print(f"threshold {threshold:.6g} (--threshold; the model's is {meta.get('threshold')})")
    else:
        threshold = meta.get("threshold")
        if threshold is None:
            print("warning: the model has no threshold; scores only (give --threshold or --calibrate DIR)",
                  file=sys.stderr)
        else:
            print(describe(threshold, meta["threshold_source"], meta["threshold_fpr"], meta["threshold_normals"]))
            warning = too_few_warning(meta["threshold_fpr"], meta["threshold_normals"])
            if warning:
                print(warning, file=sys.stderr)
    if not args.paths:
        if args.calibrate:
            return 1 if failures else 0
        print("error: give images to score (files, folders or glob patterns), or --calibrate DIR", file=sys.stderr)
        return 2
    paths, empty = find_images(args.paths)
    for item in empty:
        print(f"warning: {item} matches no image file", file=sys.stderr)
    if not paths:
        print("error: no image files found", file=sys.stderr)
        return 2
    n, failed = write_predictions(model, paths, Path(args.out), threshold,
                                  Path(args.heatmaps) if args.heatmaps else None, args.batch_size)
    print(f"wrote {n} rows to {args.out}" + (f", maps in {args.heatmaps}" if args.heatmaps and model.has_maps else ""))
    if failed or empty:
        print(f"{len(failed)} image(s) could not be read: " + ", ".join(str(p) for p, _ in failed)
              if failed else f"{len(empty)} input(s) matched nothing", file=sys.stderr)
    return 1 if failed or empty or failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
