import math

import pytest
import torch

from trainables import augment_ops as ops
from trainables.augment_ops import PixelStore
from trainables.augmentations import VARIANTS, create_variant, cutpaste_edit, scar_edit, source_batch
from trainables.config import TrialConfig

SIZE, N, B = 64, 8, 16


def coordinate_store() -> PixelStore:
    """Pixels that say where they come from: R = image id, G = row, B = column."""
    img = torch.zeros(N, 3, SIZE, SIZE, dtype=torch.uint8)
    img[:, 0] = torch.arange(N, dtype=torch.uint8).view(N, 1, 1)
    img[:, 1] = torch.arange(SIZE, dtype=torch.uint8).view(1, SIZE, 1)
    img[:, 2] = torch.arange(SIZE, dtype=torch.uint8).view(1, 1, SIZE)
    return PixelStore(img)


def plain_cfg(**kw) -> TrialConfig:
    return TrialConfig(image_size=SIZE, jitter=0.0, translate=0.0, patch_jitter=0.0, **kw)


def decode(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round().long()


def test_cutpaste_patch_area_aspect_in_range_and_cut_from_same_image():
    cfg = plain_cfg()
    gen = torch.Generator().manual_seed(1)
    store = coordinate_store()
    for _ in range(10):
        sources = torch.randint(0, N, (B,), generator=gen)
        pb = source_batch(store, sources, cfg, gen)
        index, inside = cutpaste_edit(pb, cfg)
        out = decode(pb.render(index, inside, pb.patch_colour(0.0)))
        for b in range(B):
            m = inside[b]
            rows, cols = m.any(1).nonzero().squeeze(1), m.any(0).nonzero().squeeze(1)
            h, w = len(rows), len(cols)
            assert m.sum() == h * w, "pasted region is a filled rectangle"
            area = h * w / SIZE**2
            assert 0.02 - 0.01 <= area <= 0.15 + 0.01  # rounding to whole pixels
            assert 0.3 * 0.8 <= w / h <= 3.3 / 0.8
            pasted = out[b][:, m]
            assert (pasted[0] == sources[b]).all(), "patch comes from the same image"
            # a rigid copy: every pasted pixel is moved by the same offset
            ys, xs = m.nonzero(as_tuple=True)
            assert len(set((pasted[1] - ys).tolist())) == 1
            assert len(set((pasted[2] - xs).tolist())) == 1
            assert (out[b][:, ~m][1:] == torch.stack(torch.meshgrid(
                torch.arange(SIZE), torch.arange(SIZE), indexing="ij"))[:, ~m]).all()


def test_scar_width_length_rotation_in_range_and_pasted_from_same_image():
    cfg = plain_cfg()
    gen = torch.Generator().manual_seed(2)
    s = cfg.scar_scale()
    p = ops.sample_scar(1000, SIZE, SIZE, (2 * s, 16 * s), (10 * s, 25 * s), 45.0, gen, "cpu")
    assert p["width"].min() >= 2 * s and p["width"].max() <= 16 * s
    assert p["length"].min() >= 10 * s and p["length"].max() <= 25 * s
    assert p["angle"].abs().max() <= math.radians(45)
    assert p["angle"].min() < math.radians(-35) and p["angle"].max() > math.radians(35)
    store = coordinate_store()
    big = TrialConfig(image_size=SIZE, jitter=0.0, translate=0.0, patch_jitter=0.0,
                      scar_width_min=24, scar_width_max=32, scar_length_min=60, scar_length_max=80)
    sources = torch.randint(0, N, (B,), generator=gen)
    pb = source_batch(store, sources, big, gen)
    index, inside = scar_edit(pb, big)
    out = decode(pb.render(index, inside, pb.patch_colour(0.0)))
    for b in range(B):
        area = inside[b].sum().item()
        assert 0.6 * 6 * 15 <= area <= 1.3 * 8 * 20  # width x length at 64 px, +- pixel rounding
        assert (out[b][0][inside[b]] == sources[b]).all()


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_makes_a_labelled_batch_in_range(name):
    cfg = TrialConfig(image_size=SIZE, variant=name)
    variant = create_variant(name)
    gen = torch.Generator().manual_seed(0)
    store = coordinate_store()
    images, labels = variant.make_batch(source_batch(store, torch.arange(N), cfg, gen), cfg)
    k = variant.num_classes
    assert images.shape == (k * N, 3, SIZE, SIZE)
    assert 0 <= images.min() and images.max() <= 1
    assert torch.equal(labels.bincount(), torch.full((k,), N))
    # every augmented class differs from the normal images
    for c in range(1, k):
        assert not torch.equal(images[c * N:(c + 1) * N], images[:N])


def test_3way_labels_are_normal_cutpaste_scar_in_equal_shares():
    v = create_variant("cutpaste_3way")
    assert v.class_names == ("normal", "cutpaste", "cutpaste_scar")
    cfg = TrialConfig(image_size=SIZE)
    gen = torch.Generator().manual_seed(0)
    _, labels = v.make_batch(source_batch(coordinate_store(), torch.arange(N), cfg, gen), cfg)
    assert labels.tolist() == [0] * N + [1] * N + [2] * N


def test_union_is_binary_and_mixes_cutpaste_and_scar():
    v = create_variant("cutpaste_union")
    assert v.num_classes == 2
    cfg = plain_cfg()
    gen = torch.Generator().manual_seed(3)
    store = coordinate_store()
    images, labels = v.make_batch(source_batch(store, torch.randint(0, N, (64,), generator=gen), cfg, gen), cfg)
    assert labels.tolist() == [0] * 64 + [1] * 64
    changed = (images[64:] != images[:64]).any(1)          # [64, H, W]
    areas = changed.flatten(1).sum(1).float() / SIZE**2
    # scars (<= 16x25 px at 256, scaled to 64) are far smaller than CutPaste patches (>= 2%)
    small = (areas < 0.012).sum().item()
    assert 10 <= small <= 54, f"union should mix both kinds, got {small}/64 scars"


def test_same_seed_gives_the_same_batch_and_another_seed_does_not():
    cfg = TrialConfig(image_size=SIZE)
    store = coordinate_store()

    def batch(seed):
        gen = torch.Generator().manual_seed(seed)
        src = torch.randint(0, N, (B,), generator=gen)
        return create_variant("cutpaste_3way").make_batch(source_batch(store, src, cfg, gen), cfg)[0]

    assert torch.equal(batch(7), batch(7))
    assert not torch.equal(batch(7), batch(8))


def test_augmentation_kernel_count_does_not_grow_with_batch_size():
    from torch.profiler import ProfilerActivity, profile
    cfg = TrialConfig(image_size=SIZE)
    store = coordinate_store()
    v = create_variant("cutpaste_3way")

    def count(b):
        gen = torch.Generator().manual_seed(0)
        src = torch.randint(0, N, (b,), generator=gen)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            v.make_batch(source_batch(store, src, cfg, gen), cfg)
        return sum(e.count for e in prof.key_averages())

    small, large = count(8), count(256)
    # a per-image loop would add hundreds of ops per extra image; allow only the odd
    # internal op that torch picks by size (e.g. one extra fill_ inside bmm)
    assert abs(large - small) <= 2, (small, large)


def test_unknown_variant_lists_the_known_ones():
    with pytest.raises(ValueError, match="cutpaste_3way"):
        create_variant("cutpast")
