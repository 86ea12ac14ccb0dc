"""The straightforward reference: per-image PIL CutPaste 3-way, as common reproductions do it.

Used only as a yardstick by the benchmarks (``bench.throughput``, ``bench.end_to_end``): one
PIL image in, three normalised tensors out (normal, CutPaste, CutPaste-Scar), with the same
parameter ranges as the batched implementation. Never used for training.
"""
from __future__ import annotations

import math
import random

import torch
from PIL import Image
from torchvision import transforms

_NORMALISE = transforms.Compose([
    transforms.ToTensor(),
    transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
])


class PilCutPaste3Way:
    def __init__(self, jitter: float = 0.1, area=(0.02, 0.15), aspect=0.3,
                 scar_width=(2, 16), scar_length=(10, 25), rotation=45, seed: int = 0) -> None:
        self.base = transforms.ColorJitter(jitter, jitter, jitter, jitter)
        self.patch_jitter = transforms.ColorJitter(0.1, 0.1, 0.1, 0.1)
        self.area, self.aspect = area, aspect
        self.scar_width, self.scar_length, self.rotation = scar_width, scar_length, rotation
        self.rng = random.Random(seed)

    def _cutpaste(self, img: Image.Image) -> Image.Image:
        w, h = img.size
        area = self.rng.uniform(*self.area) * w * h
        ratio = math.exp(self.rng.uniform(math.log(self.aspect), math.log(1 / self.aspect)))
        pw, ph = int(round(math.sqrt(area * ratio))), int(round(math.sqrt(area / ratio)))
        pw, ph = max(1, min(pw, w - 1)), max(1, min(ph, h - 1))
        x, y = self.rng.randint(0, w - pw), self.rng.randint(0, h - ph)
        patch = self.patch_jitter(img.crop((x, y, x + pw, y + ph)))
        out = img.copy()
        out.paste(patch, (self.rng.randint(0, w - pw), self.rng.randint(0, h - ph)))
        return out

    def _scar(self, img: Image.Image) -> Image.Image:
        w, h = img.size
        sw = int(self.rng.uniform(*self.scar_width))
        sl = int(self.rng.uniform(*self.scar_length))
        x, y = self.rng.randint(0, w - sw), self.rng.randint(0, h - sl)
        patch = self.patch_jitter(img.crop((x, y, x + sw, y + sl))).convert("RGBA")
        patch = patch.rotate(self.rng.uniform(-self.rotation, self.rotation), expand=True)
        pw, ph = patch.size
        out = img.copy()
        out.paste(patch, (self.rng.randint(0, w - pw), self.rng.randint(0, h - ph)), mask=patch.split()[-1])
        return out

    def __call__(self, img: Image.Image) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        img = self.base(img)
        return _NORMALISE(img), _NORMALISE(self._cutpaste(img)), _NORMALISE(self._scar(img))
