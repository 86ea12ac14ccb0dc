"""The dataset command line: ``python -m trainables.data fetch-<dataset> --to DIR`` downloads,
verifies and extracts a dataset's archive; ``python -m trainables.data generate --layout L``
builds one of the offline datasets (the procedural MVTec-named scenes, the photo categories, or
the procedural scenes in VisA's, MVTec LOCO AD's or MVTec AD 2's layout).
"""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from trainables.data import mvtec_ad, photo
from trainables.data.datasets import ARCHIVES
from trainables.data.errors import DatasetError
from trainables.data.fetch import fetch_archive
from trainables.data.generated import GENERATED_LAYOUTS, SynthSpec, generate_dataset, generate_layout
from trainables.data.identity import dataset_id

# generate --layout: what each builds (the MVTec AD layout is the procedural scenes)
GENERATORS = {mvtec_ad.NAME: generate_dataset, photo.NAME: photo.generate,
              **{name: partial(generate_layout, name) for name in GENERATED_LAYOUTS}}
_ROOT_NAMES = {mvtec_ad.NAME: "generated", photo.NAME: photo.NAME}   # their --data-root names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trainables.data",
                                 description="Dataset tools: fetch a dataset, generate the offline ones.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    commands = {a.command: a for a in ARCHIVES.values()}
    for cmd, archive in commands.items():
        f = sub.add_parser(cmd, help=f"download, verify (SHA-256) and extract {archive.name} (needs a network)")
        f.add_argument("--to", required=True, help="folder to extract into")
        f.add_argument("--url", default=archive.url)
        f.add_argument("--sha256", default=archive.sha256)
    g = sub.add_parser("generate", help="make a procedural dataset in a dataset's layout")
    g.add_argument("--layout", choices=list(GENERATORS), default=mvtec_ad.NAME,
                   help="mvtec_ad: the 15 MVTec names; photo: 5 categories cut from photographs that "
                        "scikit-learn and matplotlib install (MVTec layout); "
                        f"{' / '.join(GENERATED_LAYOUTS)}: a few categories each")
    g.add_argument("--to", default=None, help="folder (default: the cache)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--image-size", type=int, default=256)
    args = ap.parse_args(argv)
    if args.cmd in commands:
        name = commands[args.cmd].name
        try:
            out = fetch_archive(args.url, Path(args.to), sha256=args.sha256, dataset=name)
        except DatasetError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"{name} ready at {out} ({dataset_id(out)})")
        return 0
    out = GENERATORS[args.layout](Path(args.to) if args.to else None,
                                  SynthSpec(seed=args.seed, image_size=args.image_size))
    also = f" or --data-root {_ROOT_NAMES[args.layout]}" if args.layout in _ROOT_NAMES else ""
    print(f"generated {args.layout} at {out} ({dataset_id(out)}); use it with --data-root {out}{also}")
    return 0
