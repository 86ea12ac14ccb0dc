"""End-to-end training throughput: this project's loop against the common reproduction.

Both run the same model, batch and number of steps on the same images, in one process,
one after the other:

- **ours**: the category's uint8 images live on the device; each step samples indices,
  augments the whole batch there (``trainables.augmentations``) and trains;
- **reference**: what popular CutPaste reproductions do: a ``Dataset`` of PIL images whose
  ``__getitem__`` runs per-image PIL CutPaste 3-way (``bench.reference_pil``), batched by
  a ``DataLoader`` with worker processes, then copied to the device and trained.

The clock runs from the first step to the last, including the DataLoader's worker start-up
(a real cost of that design, paid every epoch unless workers persist).
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from bench.reference_pil import PilCutPaste3Way
from trainables.augment_ops import PixelStore
from trainables.augmentations import create_variant
from trainables.config import TrialConfig
from trainables.devices import prepare_model, synchronize
from trainables.model import build_model
from trainables.training import train_step


def ours(cfg: TrialConfig, images_u8: torch.Tensor, steps: int, device: torch.device) -> float:
    """Trained images/s of the project's on-device loop."""
    variant = create_variant(cfg.variant)
    torch.manual_seed(cfg.seed)
    model, amp = prepare_model(build_model(cfg, variant.num_classes), cfg, device)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    store = PixelStore(images_u8.to(device))
    synchronize(device)
    t0, trained = time.perf_counter(), 0
    for _ in range(steps):
        trained += train_step(model, opt, variant, store, cfg, gen, amp)[1]
    synchronize(device)
    return trained / (time.perf_counter() - t0)


class _PilCutPasteDataset(Dataset):
    def __init__(self, images: list[Image.Image], cfg: TrialConfig) -> None:
        self.images, self.aug = images, PilCutPaste3Way(jitter=cfg.jitter, seed=cfg.seed)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.aug(self.images[i])


def reference(cfg: TrialConfig, images_u8: torch.Tensor, steps: int, device: torch.device,
              workers: int) -> float:
    """Trained images/s of per-image PIL CutPaste 3-way in DataLoader workers."""
    pil = [Image.fromarray(np.ascontiguousarray(a)) for a in images_u8.permute(0, 2, 3, 1).numpy()]
    loader = DataLoader(_PilCutPasteDataset(pil, cfg), batch_size=cfg.batch_size, shuffle=True,
                        num_workers=workers, drop_last=True, pin_memory=device.type == "cuda")
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, 3).to(device).train()   # plain fp32 NCHW, as the reproductions run it
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    synchronize(device)
    t0, trained, done = time.perf_counter(), 0, 0
    while done < steps:
        for normal, cutpaste, scar in loader:
            x = torch.cat([normal, cutpaste, scar]).to(device, non_blocking=True)
            y = torch.arange(3, device=device).repeat_interleave(normal.shape[0])
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            trained += x.shape[0]
            done += 1
            if done == steps:
                break
    synchronize(device)
    return trained / (time.perf_counter() - t0)
