"""study.plan: what a study will run, before Ray starts; and how long each trial trains."""
import pytest

from study.controls import is_control
from study.plan import make_plan, trained_images
from study.tune.search import asha_max_t
from trainables.config import TrialConfig, steps_trained

FINETUNE = {"category": "bottle", "backbone": "efficientnet_lite0", "pretrained": "finetune",
            "head_steps": 100, "steps": 200, "eval_interval": 50}


@pytest.mark.parametrize("values,steps", [
    ({"pretrained": "none", "steps": 300}, 300),
    ({"pretrained": "finetune", "head_steps": 100, "steps": 200}, 300),
    ({"pretrained": "frozen", "steps": 200}, 0),
    ({"pretrained": "none", "steps": 0}, 0),
])
def test_steps_trained_counts_a_fine_tune_head_phase_and_nothing_when_frozen(values, steps):
    cfg = TrialConfig.from_dict({"category": "bottle", "backbone": "efficientnet_lite0", **values})
    assert steps_trained(cfg) == steps_trained(cfg.to_dict()) == steps
    assert is_control(cfg.to_dict()) == (steps == 0)


def test_a_fine_tune_search_max_t_includes_head_steps():
    cfg = TrialConfig.from_dict(FINETUNE).to_dict()
    # 300 steps evaluated every 50: 6 reports, plus one of slack; steps alone would give 4 + 1
    assert asha_max_t(cfg) == 300 // 50 + 1
    scratch = TrialConfig.from_dict({"category": "bottle", "steps": 160, "eval_interval": 40}).to_dict()
    assert asha_max_t(scratch) == 160 // 40 + 1
    once = TrialConfig.from_dict({**FINETUNE, "eval_interval": 0}).to_dict()
    assert asha_max_t(once) == 2


def test_the_cost_projection_counts_the_head_steps_of_a_fine_tune():
    cfg = TrialConfig.from_dict({**FINETUNE, "variant": "cutpaste_3way", "batch_size": 8}).to_dict()
    assert trained_images(cfg) == 300 * 8 * 3
    assert trained_images({**cfg, "pretrained": "frozen"}) == 0


def test_a_search_plans_one_base_per_category_whatever_the_seeds(small_dataset):
    plan = make_plan("hpo_cutpaste", data_root=str(small_dataset), seeds=3)
    assert plan.is_search and len(plan.trials) == 2
    assert {t.config["category"] for t in plan.trials} == {"carpet", "bottle"}
    assert {t.config["seed"] for t in plan.trials} == {0} and not any(is_control(t.config) for t in plan.trials)
    assert len(plan.projected_trials()) == 2 * plan.spec.search.num_samples


def test_a_grid_plan_keeps_every_trial_and_control(small_dataset):
    plan = make_plan("table5_heads", data_root=str(small_dataset), categories="bottle", seeds=2, budget="smoke",
                     sets=["steps=4"])
    assert not plan.is_search and plan.count() == "10 trials"   # 4 heads x 2 seeds + 2 controls
    assert {t.config["steps"] for t in plan.trials} == {4, 0}
