"""Tables built at the smoke budget say what the photo learning curves showed for their models
(trainables.budgets.SMOKE_EVIDENCE), so a smoke table cannot pass for a training effect."""
import pandas as pd

from analysis.tables.build import build_table
from trainables.budgets import SMOKE_EVIDENCE, smoke_block


def trials(budget: str, pretrained: str = "finetune") -> pd.DataFrame:
    rows = []
    for cat, auc in (("carpet", 0.9), ("grid", 0.8), ("bottle", 0.95)):
        for seed in (0, 1):
            rows.append({"trial_key": f"{cat}-{seed}-{budget}", "study": "demo", "variant": "cutpaste_3way",
                         "category": cat, "seed": seed, "backbone": "efficientnet_lite0", "pretrained": pretrained,
                         "steps": 10, "dataset": "generated@abc", "budget": budget, "status": "ok",
                         "image_auc": auc + 0.01 * seed})
    return pd.DataFrame(rows)


def test_a_smoke_table_of_fine_tuning_says_it_cannot_show_a_training_effect():
    ev = SMOKE_EVIDENCE[smoke_block({"variant": "cutpaste_3way", "pretrained": "finetune"})]
    assert not ev.beats_control
    caption = build_table("demo", trials("smoke")).caption
    assert "Smoke-budget evidence" in caption
    assert "indistinguishable from its control" in caption
    assert f"{ev.trained:.3f} vs {ev.control:.3f}" in caption


def test_a_table_at_another_budget_quotes_no_smoke_evidence():
    assert "Smoke-budget evidence" not in build_table("demo", trials("reduced")).caption


def test_evidence_below_the_bar_is_never_called_a_win():
    for ev in SMOKE_EVIDENCE.values():
        assert ev.beats_control == (ev.trained - ev.control >= 0.02)
        assert ("did not beat" in ev.sentence()) == (not ev.beats_control)


def test_a_smoke_table_of_scratch_training_quotes_its_measurement_at_the_blocks_steps():
    ev = SMOKE_EVIDENCE[smoke_block({"variant": "cutpaste_3way", "pretrained": "none"})]
    assert ev.at_block_steps and ev.beats_control and ev.seeds == 3
    t = trials("smoke", pretrained="none").assign(backbone="resnet18", steps=1536)
    caption = build_table("demo", t).caption
    assert f"{ev.trained:.3f} vs {ev.control:.3f}" in caption
    assert "beat its control by 0.02" in caption and "did not beat" not in caption
    assert "indistinguishable from its control" not in caption and "not yet measured" not in caption
