"""Where an augmented batch's time goes: the batched augmentation stage by stage, the PIL reference op by op.

``python -m bench.augment_profile --image-size 256 --batch-size 32 --threads 1`` times one
cutpaste_3way batch of ``--batch-size`` source images (3 x that many output images) both ways:

- batched (``trainables.augment``, on the CPU with ``--threads`` intra-op threads): the steps
  ``Variant.make_batch`` takes, in its order, with ``PixelBatch.render`` split into its four
  steps (recomputed here and checked equal to ``render``'s output), plus the ATen operators
  that take the most self CPU time (``torch.profiler``);
- the PIL reference (``bench.reference_pil``, one thread): each op of its ``__call__`` for
  the same number of source images, ColorJitter split into its four adjustments.

Every row is wall and process CPU milliseconds per batch (process CPU counts all threads,
OpenMP's spin-waits included). ``ATEN_CPU_CAPABILITY=avx2`` before the command emulates a CPU
without AVX-512 for ATen's own kernels (not for MKL's or PIL's).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from contextlib import contextmanager

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image

from bench.common import synthetic_images
from bench.reference_pil import _NORMALISE, PilCutPaste3Way
from trainables.augment import PixelStore, create_variant, source_batch
from trainables.augment.ops import jitter_affine
from trainables.augment.variants import cutpaste_edit, scar_edit
from trainables.config import TrialConfig


class Clock:
    """Wall and process CPU seconds summed per stage name, in first-seen order."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, name: str):
        w, c = time.perf_counter(), time.process_time()
        yield
        self.wall[name] += time.perf_counter() - w
        self.cpu[name] += time.process_time() - c

    def rows(self, per: int) -> list[dict]:
        return [{"stage": k, "wall_ms": 1e3 * self.wall[k] / per, "cpu_ms": 1e3 * self.cpu[k] / per}
                for k in self.wall]


def _render_steps(pb, index, inside, patch_colour, clock: Clock):
    """``PixelBatch.render``, step by step (same ops, same result)."""
    b, h, w = pb.b, pb.h, pb.w
    with clock("  render: gather packed pixels (take)"):
        packed = pb.store.packed.take(index.reshape(-1))
    with clock("  render: unpack RGBA -> float [B,3,HW]"):
        px = packed.view(torch.uint8).view(b, h * w, 4).permute(0, 2, 1)[:, :3].contiguous().float()
    with clock("  render: base colour (baddbmm, clamp)"):
        out = torch.baddbmm(pb.colour.off.unsqueeze(2), pb.colour.mat * (1 / 255), px).clamp_(0, 1)
    if inside is not None:
        with clock("  render: patch colour on the whole image (baddbmm, clamp)"):
            patched = torch.baddbmm(patch_colour.off.unsqueeze(2), patch_colour.mat, out).clamp_(0, 1)
        with clock("  render: select patch pixels (where)"):
            out = torch.where(inside.reshape(b, 1, h * w), patched, out)
    return out.view(b, 3, h, w)


def profile_batched(cfg: TrialConfig, iters: int, top: int = 12) -> dict:
    """Stage table and top ATen ops of ``iters`` cutpaste_3way batches on the CPU."""
    device = torch.device("cpu")
    variant = create_variant("cutpaste_3way")
    store = PixelStore(synthetic_images(64, cfg.image_size, device))
    clock, gen = Clock(), torch.Generator().manual_seed(0)
    check = torch.Generator().manual_seed(0)
    for i in range(iters + 1):
        if i == 1:
            clock = Clock()                      # the first batch is the warm-up
        with clock("draw source indices"):
            src = torch.randint(0, 64, (cfg.batch_size,), generator=gen)
        with clock("source batch: translation, base jitter, base index map"):
            pb = source_batch(store, src, cfg, gen)
        with clock("normal"):
            normal = _render_steps(pb, pb.base_index, None, None, clock)
        pb._normal = normal
        pasted = []
        for name, what, edit in (("cutpaste", "boxes + index map + mask", cutpaste_edit),
                                 ("scar", "sizes + window index map + scatter", scar_edit)):
            with clock(f"{name}: {what}"):
                index, inside = edit(pb, cfg)
            with clock(f"{name}: patch jitter parameters"):
                colour = pb.patch_colour(cfg.patch_jitter)
            with clock(name):
                pasted.append(_render_steps(pb, index, inside, colour, clock))
        with clock("cat the 3 classes"):
            images = torch.cat([normal, *pasted])
        if i == 0:                               # the same tensors as the library's make_batch
            src2 = torch.randint(0, 64, (cfg.batch_size,), generator=check)
            ref, _ = variant.make_batch(source_batch(store, src2, cfg, check), cfg)
            assert torch.equal(images, ref), "the profiled steps differ from make_batch"
        with clock("(apart) base jitter parameters alone"):
            jitter_affine(pb.mean_rgb, cfg.jitter, torch.Generator().manual_seed(i))
        with clock("(apart) base index map alone"):
            pb.pointer(torch.arange(pb.h).view(1, -1, 1), torch.arange(pb.w).view(1, 1, -1))
    rows = clock.rows(iters)
    for r in rows:                               # a render stage's total includes its steps
        if r["stage"] in ("normal", "cutpaste", "scar"):
            r["stage"] += ": render (total of the steps below)"
    gen = torch.Generator().manual_seed(1)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(iters):
            src = torch.randint(0, 64, (cfg.batch_size,), generator=gen)
            variant.make_batch(source_batch(store, src, cfg, gen), cfg)
    ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:top]
    return {"stages": rows, "aten_ops": [{"op": e.key, "calls_per_batch": e.count / iters,
                                          "self_cpu_ms": e.self_cpu_time_total / 1e3 / iters} for e in ops]}


def profile_pil(cfg: TrialConfig, iters: int) -> list[dict]:
    """Op table of the PIL reference for ``iters`` batches of ``cfg.batch_size`` source images."""
    store = synthetic_images(16, cfg.image_size, torch.device("cpu")).permute(0, 2, 3, 1).numpy()
    images = [Image.fromarray(np.ascontiguousarray(a)) for a in store]
    aug, clock = PilCutPaste3Way(jitter=cfg.jitter), Clock()
    random.seed(0)
    torch.manual_seed(0)
    names = ("brightness", "contrast", "saturation", "hue")
    adjust = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    for i in range(cfg.batch_size * (iters + 1)):
        if i == cfg.batch_size:
            clock = Clock()
        img = images[i % len(images)]
        order, *factors = aug.base.get_params(aug.base.brightness, aug.base.contrast,
                                               aug.base.saturation, aug.base.hue)
        for k in order.tolist():                 # ColorJitter.forward, one adjustment at a time
            with clock(f"base ColorJitter: {names[k]} (whole image)"):
                img = adjust[k](img, factors[k])
        with clock("cutpaste: crop + patch jitter + copy + paste"):
            cut = aug._cutpaste(img)
        with clock("scar: crop + patch jitter + RGBA + rotate + copy + paste"):
            scar = aug._scar(img)
        for name, x in (("normal", img), ("cutpaste", cut), ("scar", scar)):
            with clock(f"ToTensor (uint8 HWC -> float CHW / 255), {name}"):
                t = TF.to_tensor(x)
            with clock(f"Normalize, {name}"):
                _NORMALISE.transforms[1](t)
    return clock.rows(iters)


def _print(title: str, rows: list[dict], out) -> None:
    print(f"\n{title}\n{'stage':<66}{'wall ms':>9}{'CPU ms':>9}", file=out)
    for r in rows:
        print(f"{r['stage']:<66}{r['wall_ms']:9.2f}{r['cpu_ms']:9.2f}", file=out)


def _total(rows: list[dict], key: str) -> float:
    """Sum of the top-level rows (not a render's steps, nor the ones timed apart)."""
    return sum(r[key] for r in rows if not r["stage"].startswith(("  ", "(apart)")))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.augment_profile", description=__doc__.splitlines()[0])
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32, help="source images per batch (3x that output)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads of the batched side")
    ap.add_argument("--iters", type=int, default=10, help="batches timed after one warm-up batch")
    ap.add_argument("--json", action="store_true", help="print only JSON on stdout")
    args = ap.parse_args(argv)
    cfg = TrialConfig(variant="cutpaste_3way", image_size=args.image_size, batch_size=args.batch_size,
                      device="cpu", precision="fp32")
    out = sys.stderr if args.json else sys.stdout
    torch.set_num_threads(args.threads)
    batched = profile_batched(cfg, args.iters)
    torch.set_num_threads(1)                     # as bench.throughput runs the reference
    pil = profile_pil(cfg, args.iters)
    n = 3 * cfg.batch_size
    result = {"image_size": cfg.image_size, "batch_size": cfg.batch_size, "output_images": n,
              "threads": args.threads, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
              "batched": batched, "pil": pil}
    for side, rows in (("batched", batched["stages"]), ("pil", pil)):
        wall, cpu = _total(rows, "wall_ms"), _total(rows, "cpu_ms")
        result[f"{side}_total"] = {"wall_ms": wall, "cpu_ms": cpu, "images_per_second_wall": 1e3 * n / wall,
                                   "images_per_cpu_second": 1e3 * n / cpu}
    title = (f"{n} output images ({cfg.batch_size} source), {cfg.image_size} px, "
             f"ATen {result['cpu_capability']}")
    _print(f"batched, {args.threads} thread(s), {title}", batched["stages"], out)
    print(f"\n{'top ATen ops (self CPU)':<66}{'calls':>9}{'CPU ms':>9}", file=out)
    for o in batched["aten_ops"]:
        print(f"{o['op']:<66}{o['calls_per_batch']:9.0f}{o['self_cpu_ms']:9.2f}", file=out)
    _print(f"PIL reference, 1 thread, {title}", pil, out)
    for side in ("batched", "pil"):
        t = result[f"{side}_total"]
        print(f"{side:8} total {t['wall_ms']:8.1f} ms wall {t['cpu_ms']:8.1f} ms CPU: "
              f"{t['images_per_second_wall']:6.0f} img/s wall, {t['images_per_cpu_second']:6.0f} img per CPU-s",
              file=out)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
