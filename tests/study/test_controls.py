"""Control trials keep what their config marks kept (the model, the data, the evaluation)."""
import dataclasses

from study.controls import control_kind, control_of, control_values, is_control
from trainables.budgets import effective_config
from trainables.config import TrialConfig, kept, kept_by_controls


def test_a_new_evaluation_field_marked_kept_is_kept_by_the_control():
    extended = dataclasses.make_dataclass("Extended", [("new_eval_field", float, kept(0.5))],
                                          bases=(TrialConfig,), frozen=True)
    trained = {**TrialConfig().to_dict(), "new_eval_field": 0.25, "lr": 0.7, "steps": 9}
    assert "new_eval_field" in kept_by_controls(extended)
    values = control_values(trained, extended)
    assert values["new_eval_field"] == 0.25 and "lr" not in values and values["steps"] == 0


def test_a_control_keeps_the_kept_fields_and_resets_the_training():
    trained = effective_config({"category": "grid", "seed": 3, "lr": 0.7, "density": "full", "gradcam": True,
                                "variant": "cutpaste_scar"}, "smoke").to_dict()
    control = control_of(trained, "smoke")
    assert {k: control[k] for k in kept_by_controls()} == {k: trained[k] for k in kept_by_controls()}
    assert control["lr"] == effective_config({}, "smoke").lr and control["variant"] == "cutpaste_3way"
    assert is_control(control) and control_of(control, "smoke") is None
    assert control_kind(control) == "untrained"


def test_a_fine_tuned_model_gets_the_imagenet_frozen_encoder_as_its_control():
    trained = effective_config({"backbone": "efficientnet_lite0", "pretrained": "finetune"}, "smoke").to_dict()
    control = control_of(trained, "smoke")
    assert (control["pretrained"], control["steps"], control["head_steps"]) == ("frozen", 0, 0)
    assert control_kind(control) == "ImageNet-frozen"
