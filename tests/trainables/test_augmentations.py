import math

import pytest
import torch

from trainables.augment import PixelStore, confetti as confetti_ops, ops
import torch.nn.functional as F

from trainables.augment.variants import (AUGMENTATIONS, FCDD_MVTEC_SIDE, VARIANTS, confetti_noise, create_variant,
                                      cutpaste_edit, scar_edit, source_batch)
from trainables.config import ConfigError, TrialConfig

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
    assert tuple(name for name, _ in v.class_transforms) == ("normal", "cutpaste", "cutpaste_scar")
    assert [t for _, t in v.class_transforms[1:]] == [AUGMENTATIONS["cutpaste"], AUGMENTATIONS["cutpaste_scar"]]
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


@pytest.mark.parametrize("name", ["cutpaste_3way", "confetti"])
def test_augmentation_kernel_count_does_not_grow_with_batch_size(name):
    from torch.profiler import ProfilerActivity, profile
    cfg = TrialConfig(image_size=SIZE, variant=name)
    store = coordinate_store()
    v = create_variant(name)

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


# ------------------------------------------------------------------ scar size in patch variants
def test_patch_variant_scar_covers_the_same_share_of_its_crop_as_of_a_full_image():
    """Scar sizes are given at 256 px: a patch variant scales them to its crop, not the image."""
    full_size, crop, n = 128, 64, 600
    gen = torch.Generator().manual_seed(5)
    store = PixelStore(torch.randint(0, 255, (4, 3, full_size, full_size), dtype=torch.uint8, generator=gen))
    sources = torch.randint(0, 4, (n,), generator=gen)

    def share(cfg, crop=None):
        pb = source_batch(store, sources, cfg, gen, crop=crop)
        _, inside = scar_edit(pb, cfg)
        return inside.flatten(1).float().mean(1).mean().item()

    image_cfg = TrialConfig(image_size=full_size, variant="cutpaste_3way", translate=0.0, jitter=0.0)
    patch_cfg = TrialConfig(image_size=full_size, variant="cutpaste_3way_patch", patch_size=crop,
                            translate=0.0, jitter=0.0)
    assert patch_cfg.scar_scale() == crop / 256 and image_cfg.scar_scale() == full_size / 256
    expected = (2 + 16) / 2 * (10 + 25) / 2 / 256**2          # mean width x mean length at 256 px
    full, patch = share(image_cfg), share(patch_cfg, crop=crop)
    assert full == pytest.approx(expected, rel=0.12)
    assert patch == pytest.approx(full, rel=0.12), (patch, full)
    # (sized for the full image, the scar would cover (128/64)^2 = 4x that share of the crop)


# ------------------------------------------------------------------ confetti (FCDD)
def fcdd_cfg(**kw) -> TrialConfig:
    return plain_cfg(variant="confetti", **kw)


def confetti_pair(cfg, seed, b=B, store=None, transform=True):
    """(input images, confetti output, blob parameters, blurred noise) of one seeded batch."""
    store = store or coordinate_store()
    outs = []
    for _ in range(2):           # the same seed twice: once for the transform, once for its parts
        gen = torch.Generator().manual_seed(seed)
        pb = source_batch(store, torch.arange(b) % store.n, cfg, gen)
        outs.append((pb, gen))
    (pb, _), (pb2, _) = outs
    out = AUGMENTATIONS["confetti"](pb, cfg) if transform else None
    noise, p = confetti_noise(pb2, cfg)
    return pb2.normal(), out, p, noise


def dense_blobs(p, h, w):
    return confetti_ops.confetti_blob_mask(p, torch.arange(h).view(1, 1, h, 1), torch.arange(w).view(1, 1, 1, w))


def test_confetti_changes_the_image_only_in_and_around_its_blobs():
    cfg = fcdd_cfg()
    x, out, p, _ = confetti_pair(cfg, seed=11)
    blobs = dense_blobs(p, SIZE, SIZE).any(1)                                   # [B,H,W]
    k = round(cfg.confetti_blur_kernel * SIZE / FCDD_MVTEC_SIDE)
    r = (k if k % 2 else k - 1) // 2                                            # blur reach
    near = F.max_pool2d(blobs.float().unsqueeze(1), 2 * r + 1, stride=1, padding=r)[:, 0] > 0
    changed = (out != x).any(1)
    assert not changed[~near].any(), "confetti touched pixels away from every blob"
    assert changed.flatten(1).any(1).all(), "every image gets confetti"
    # the blob cores (away from the soft edge) are clearly changed
    core = -F.max_pool2d(-blobs.float().unsqueeze(1), 2 * r + 1, stride=1, padding=r)[:, 0] > 0
    assert (out - x).abs().amax(1)[core].mean() > 0.2
    # soft edges: a blurred blob has intermediate values, not just its colour and zero
    assert 0.3 < (changed & ~blobs).sum() / changed.sum() < 0.95


def test_confetti_blob_counts_and_sizes_are_fcdds():
    n = 2000
    cfg = fcdd_cfg()
    scale = SIZE / FCDD_MVTEC_SIDE
    _, _, p, _ = confetti_pair(cfg, seed=3, b=n, transform=False)
    counts = p["counts"]                                            # [n, 2]: coloured, white
    assert counts.min() >= 1 and counts.max() <= cfg.confetti_max_blobs
    for kind, mean in enumerate((cfg.confetti_colored_blobs, cfg.confetti_white_blobs)):
        # FCDD: Bernoulli blob centres, at least one blob: Poisson(mean) given >= 1
        assert counts[:, kind].float().mean().item() == pytest.approx(mean / (1 - math.exp(-mean)), rel=0.05)
        assert (counts[:, kind] == 1).float().mean().item() == pytest.approx(
            mean * math.exp(-mean) / (1 - math.exp(-mean)), abs=0.03)
    assert torch.equal(p["active"].sum(1), counts.sum(1))
    side = p["side"][p["active"]]
    assert side.min() >= 8 * scale and side.max() <= 54 * scale
    assert side.min() < 10 * scale and side.max() > 52 * scale      # the whole range is used
    assert p["angle"].abs().max() <= math.radians(45) and p["angle"].abs().max() > math.radians(40)
    # the drawn squares have their side: area ~ side^2 for blobs wholly inside the image
    few = {k: v[:200] for k, v in p.items()}
    masks = dense_blobs(few, SIZE, SIZE)                            # [200,S,H,W]
    half_diag = few["side"] / math.sqrt(2)
    inner = few["active"] & (few["cx"] > half_diag) & (few["cx"] < SIZE - half_diag) \
        & (few["cy"] > half_diag) & (few["cy"] < SIZE - half_diag)
    area = masks.flatten(2).sum(2).float()[inner]
    want = few["side"][inner] ** 2
    assert ((area - want).abs() <= 4 * few["side"][inner] + 4).all()


def test_confetti_counts_and_sizes_follow_the_config():
    cfg = fcdd_cfg(confetti_max_blobs=2, confetti_size_min=30, confetti_size_max=40, confetti_white_blobs=0.0)
    _, _, p, _ = confetti_pair(cfg, seed=4, b=500, transform=False)
    scale = SIZE / FCDD_MVTEC_SIDE
    assert p["counts"][:, 0].max() == 2 and p["counts"][:, 0].min() == 1 and p["counts"][:, 1].max() == 0
    side = p["side"][p["active"]]
    assert side.min() >= 30 * scale and side.max() <= 40 * scale


def test_confetti_blobs_have_their_own_random_colours():
    cfg = fcdd_cfg(confetti_blur_sigma=0.0, confetti_white_blobs=0.0, confetti_colored_blobs=3.0)
    x, out, p, noise = confetti_pair(cfg, seed=8, b=64)
    colours = p["colour"][:, :cfg.confetti_max_blobs][p["active"][:, :cfg.confetti_max_blobs]]     # [n,3]
    assert len(colours) > 100
    assert (colours.std(0) > 0.2).all(), "colours vary across blobs"
    assert (colours.amax(1) - colours.amin(1)).mean() > 0.2, "and are not grey"
    assert torch.equal(p["colour"][:, cfg.confetti_max_blobs:], torch.ones_like(p["colour"][:, cfg.confetti_max_blobs:]))
    # unblurred, a pixel covered by exactly one blob carries that blob's colour
    masks = dense_blobs(p, SIZE, SIZE)                                           # [B,S,H,W]
    single = masks.sum(1) == 1
    owner = masks.float().argmax(1)                                              # [B,H,W]
    want = p["colour"].gather(1, owner.flatten(1).unsqueeze(2).expand(-1, -1, 3))     # [B,HW,3]
    got = noise.flatten(2).transpose(1, 2)
    assert torch.allclose(got[single.flatten(1)], want[single.flatten(1)])
    # within one image, two blobs differ in colour
    two = [b for b in range(64) if p["active"][b, :cfg.confetti_max_blobs].sum() >= 2]
    assert two and all(not torch.allclose(p["colour"][b, 0], p["colour"][b, 1]) for b in two)


def test_confetti_adds_its_noise_and_inverts_it_on_white_images():
    cfg = fcdd_cfg()
    x, out, p, noise = confetti_pair(cfg, seed=9)
    assert torch.allclose(out, (x + noise).clamp(0, 1))              # FCDD adds the noise
    white = PixelStore(torch.full((2, 3, SIZE, SIZE), 255, dtype=torch.uint8))
    x, out, p, noise = confetti_pair(cfg, seed=9, b=4, store=white)
    assert torch.allclose(out, (x - noise).clamp(0, 1)) and (out < 1).any()


def test_confetti_is_deterministic_given_the_generator():
    cfg = fcdd_cfg()
    _, a, _, _ = confetti_pair(cfg, seed=21)
    _, b, _, _ = confetti_pair(cfg, seed=21)
    _, c, _, _ = confetti_pair(cfg, seed=22)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_confetti_sizes_scale_with_the_image():
    small = fcdd_cfg()
    large = TrialConfig(variant="confetti", image_size=2 * SIZE, jitter=0.0, translate=0.0)
    store_large = PixelStore(torch.zeros(2, 3, 2 * SIZE, 2 * SIZE, dtype=torch.uint8))
    _, _, p_small, _ = confetti_pair(small, seed=1, b=100, transform=False)
    _, _, p_large, _ = confetti_pair(large, seed=1, b=100, store=store_large, transform=False)
    assert torch.allclose(p_large["side"], 2 * p_small["side"])


def test_confetti_config_is_validated_by_field():
    with pytest.raises(ConfigError, match="confetti_size_max"):
        TrialConfig(confetti_size_min=60, confetti_size_max=54)
    with pytest.raises(ConfigError, match="confetti_rotation"):
        TrialConfig(confetti_rotation=120)
    with pytest.raises(ConfigError, match="confetti_max_blobs"):
        TrialConfig(confetti_max_blobs=0)
    with pytest.raises(ConfigError, match="confetti_colored_blobs"):
        TrialConfig(confetti_colored_blobs=0, confetti_white_blobs=0)
    with pytest.raises(ConfigError, match="confetti_blur_sigma"):
        TrialConfig(confetti_blur_sigma=-1)
