"""bench.augment_profile: its stage rows are the library's batch, split (what, not how fast)."""
import json

from bench.augment_profile import main


def test_augment_profile_reports_both_sides_with_wall_and_cpu_per_stage(capsys):
    # main asserts that its step-by-step batch equals Variant.make_batch's
    assert main(["--image-size", "32", "--batch-size", "2", "--iters", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["output_images"] == 6 and out["threads"] == 1
    for side in ("batched", "pil"):
        assert out[f"{side}_total"]["cpu_ms"] > 0 and out[f"{side}_total"]["images_per_second_wall"] > 0
    assert any(r["stage"].startswith("base ColorJitter: hue") for r in out["pil"])
    assert out["batched"]["aten_ops"] and all(r["wall_ms"] >= 0 for r in out["batched"]["stages"])
