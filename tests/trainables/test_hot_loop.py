"""The training hot loop, seen through the profiler: batched on the device, no per-image work.

A training step samples indices into the on-device image store and augments the whole
batch with a fixed number of tensor ops. So the ops it runs (augmentation and all) must
not grow with the batch size, and no image data is converted or copied between devices
or dtypes from a host-side source inside the step.
"""
from collections import Counter

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from trainables.augment import PixelStore, create_variant
from trainables.config import TrialConfig
from trainables.models import build_model
from trainables.train import train_step


def profiled_step(batch_size: int, variant: str = "cutpaste_3way"):
    cfg = TrialConfig(variant=variant, image_size=32, batch_size=batch_size, precision="fp32", patch_size=16)
    v = create_variant(variant)
    store = PixelStore(torch.randint(0, 255, (16, 3, 32, 32), dtype=torch.uint8))
    torch.manual_seed(0)
    model = build_model(cfg, v.num_classes).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(0)
    train_step(model, opt, v, store, cfg, gen, amp=False)          # warm-up
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        train_step(model, opt, v, store, cfg, gen, amp=False)
    return prof.events()


def op_counts(events) -> Counter:
    return Counter(e.name for e in events if e.name.startswith("aten::"))


@pytest.mark.parametrize("variant", ["cutpaste_3way", "cutpaste_union", "confetti", "cutpaste_3way_patch"])
def test_op_count_of_a_training_step_does_not_grow_with_batch_size(variant):
    small, large = op_counts(profiled_step(4, variant)), op_counts(profiled_step(32, variant))
    assert sum(small.values()) > 50            # the profiler saw the step
    # a per-image loop would multiply some op's count by 8 (4 -> 32 images); kernels may pick a
    # different internal path for a larger batch (an extra fill), which is not per-image work
    grew = {k: (small[k], large[k]) for k in set(small) | set(large) if large[k] > small[k] + 2}
    assert grew == {}
    assert sum(large.values()) <= 1.05 * sum(small.values())


def test_a_training_step_moves_no_image_data_between_devices_or_from_uint8():
    events = profiled_step(8)
    copies = [e for e in events if e.name in ("aten::to", "aten::_to_copy", "aten::copy_")]
    image_like = [(e.name, e.input_shapes) for e in copies
                  if any(len(s) == 4 and s[0] >= 8 and s[1] == 3 for s in e.input_shapes if s)]
    assert image_like == [], image_like
    # images come out of the packed store with one gather ("take") per rendered class
    assert op_counts(events)["aten::take"] == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_a_training_step_issues_no_host_to_device_memcpy():  # pragma: no cover - GPU only
    cfg = TrialConfig(image_size=64, batch_size=16, device="cuda")
    v = create_variant("cutpaste_3way")
    store = PixelStore(torch.randint(0, 255, (16, 3, 64, 64), dtype=torch.uint8, device="cuda"))
    model = build_model(cfg, 3).cuda().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    gen = torch.Generator(device="cuda").manual_seed(0)
    train_step(model, opt, v, store, cfg, gen, amp=True)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        train_step(model, opt, v, store, cfg, gen, amp=True)
        torch.cuda.synchronize()
    htod = [e.name for e in prof.events() if "HtoD" in e.name]
    assert htod == []
