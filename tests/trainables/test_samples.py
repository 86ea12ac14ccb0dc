from types import SimpleNamespace

import numpy as np
import torch

import trainables.evaluate.samples as samples
from trainables.augment import PixelStore, create_variant, source_batch
from trainables.config import TrialConfig


def test_the_embedding_sample_embeds_only_the_augmented_images_it_keeps(monkeypatch):
    cfg = TrialConfig.from_dict({"image_size": 32, "embedding_sample": 4, "seed": 3})
    pixels = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    store = PixelStore(pixels)
    embedded = []

    def features(model, images_u8, cfg, device):   # one number per image: its pixel sum
        embedded.append(len(images_u8))
        return images_u8.double().sum(dim=(1, 2, 3)).numpy()[:, None]
    monkeypatch.setattr(samples, "extract_features", features)
    data = SimpleNamespace(test_labels=[0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    test_feats = np.arange(10.0)[:, None]
    out = samples.embedding_sample(None, data, store, test_feats, cfg, torch.device("cpu"))
    assert embedded == [8]                              # 4 cutpaste + 4 scar; not the 4 plain copies
    # the same draws as the whole 3-way batch: its classes 1 and 2
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    sources = torch.randint(0, store.n, (4,), generator=gen)
    images, classes = create_variant("cutpaste_3way").make_batch(source_batch(store, sources, cfg, gen), cfg)
    sums = images.mul(255).round().to(torch.uint8).double().sum(dim=(1, 2, 3)).numpy()
    np.testing.assert_array_equal(out["cutpaste"][:, 0], sums[classes.numpy() == 1])
    np.testing.assert_array_equal(out["scar"][:, 0], sums[classes.numpy() == 2])
    assert len(out["normal"]) == len(out["defect"]) == 4
