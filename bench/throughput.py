"""Throughput of the pieces, each alone: batched augmentation, one training step, the PIL reference.

Augmentation counts output images (a 3-way batch of 32 source images counts 96); training
counts trained images of a full step (augmentation + forward + backward + SGD); the per-image
PIL CutPaste 3-way reference runs on one core, ToTensor and normalisation included.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from bench.common import synthetic_images, timed
from bench.reference_pil import PilCutPaste3Way
from trainables.augment import PixelStore, create_variant, source_batch
from trainables.config import TrialConfig
from trainables.models import build_model
from trainables.train import prepare_model, train_step


def bench_augmentation(cfg: TrialConfig, device: torch.device, seconds: float) -> float:
    """Augmented output images/s of ``cfg.variant`` on the device."""
    variant = create_variant(cfg.variant)
    store = PixelStore(synthetic_images(64, cfg.image_size, device))
    gen = torch.Generator(device=device).manual_seed(0)
    out = {"n": 0}

    def step():
        src = torch.randint(0, 64, (cfg.batch_size,), generator=gen, device=device)
        images, _ = variant.make_batch(source_batch(store, src, cfg, gen), cfg)
        out["n"] = images.shape[0]

    dt, iters = timed(step, seconds, 3, device)
    return out["n"] * iters / dt


def bench_training(cfg: TrialConfig, device: torch.device, seconds: float) -> float:
    """Trained images/s of whole training steps (the trial's own ``train_step``)."""
    variant = create_variant(cfg.variant)
    store = PixelStore(synthetic_images(64, cfg.image_size, device))
    gen = torch.Generator(device=device).manual_seed(0)
    model = build_model(cfg, variant.num_classes).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    model, amp = prepare_model(model, cfg, device)
    out = {"n": 0}

    def step():
        out["n"] = train_step(model, opt, variant, store, cfg, gen, amp)[1]

    dt, iters = timed(step, seconds, 2, device)
    return out["n"] * iters / dt


def bench_pil_reference(cfg: TrialConfig, seconds: float) -> float:
    """Per-image PIL CutPaste 3-way (ToTensor and normalisation included) on one core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        store = synthetic_images(16, cfg.image_size, torch.device("cpu")).permute(0, 2, 3, 1).numpy()
        images = [Image.fromarray(np.ascontiguousarray(a)) for a in store]
        aug = PilCutPaste3Way(jitter=cfg.jitter)
        i = {"k": 0}

        def step():
            aug(images[i["k"] % len(images)])
            i["k"] += 1

        dt, iters = timed(step, seconds, 10, torch.device("cpu"))
        return 3 * iters / dt
    finally:
        torch.set_num_threads(threads)
