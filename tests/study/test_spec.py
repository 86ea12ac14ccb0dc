import pytest

from study.spec import SpecError, expand, load_spec, trial_key

CATS = ["bottle", "carpet"]


def write(tmp_path, text):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return str(p)


# (trained settings, controls) per category: one control per seed serves every column
@pytest.mark.parametrize("name,settings,controls", [
    ("demo", 1, 1), ("table1", 6 * 5, 5), ("table4_cutout", 5 * 5, 5), ("table5_heads", 4 * 5, 5),
    ("table7_optim", 8 * 5, 5), ("table8_aug", 7 * 5, 5), ("sweep_optim", 20 * 5, 5), ("sweep_aug", 16 * 5, 5),
    ("table2_localization", 2 * 5, 2 * 5)])
def test_builtin_specs_expand_to_the_paper_grid(name, settings, controls):
    from study.controls import is_control
    trials = expand(load_spec(name), ["bottle"])
    assert sum(not is_control(t.config) for t in trials) == settings
    assert sum(is_control(t.config) for t in trials) == controls
    assert len({t.trial_key for t in trials}) == len(trials)


def test_tables_7_and_8_vary_one_parameter_at_a_time_as_the_paper_does():
    t7 = [t.config for t in expand(load_spec("table7_optim"), ["bottle"], seeds=1, budget="paper")
          if t.config["steps"] > 0]
    assert sorted({(c["lr"], c["steps"] // 256) for c in t7}) == sorted(
        [(0.1, 256), (0.03, 256), (0.01, 256), (0.003, 256), (0.03, 128), (0.03, 192), (0.03, 320), (0.03, 384)])
    t8 = [t.config for t in expand(load_spec("table8_aug"), ["bottle"], seeds=1, budget="paper")
          if t.config["steps"] > 0]
    assert sorted({(c["jitter"], c["area_ratio_max"]) for c in t8}) == sorted(
        [(0.0, 0.15), (0.1, 0.15), (0.2, 0.15), (0.3, 0.15), (0.1, 0.1), (0.1, 0.2), (0.1, 0.3)])


def test_relative_steps_follow_the_budget():
    from trainables.budgets import budget_defaults
    smoke = expand(load_spec("table7_optim"), ["bottle"], seeds=1, budget="smoke")
    base_steps = budget_defaults("smoke", {"pretrained": "none"})["steps"]
    assert {t.config["steps"] for t in smoke if t.config["lr"] == 0.01} == {base_steps}
    assert sorted({t.config["steps"] for t in smoke} - {0}) == sorted(
        {round(base_steps * f) for f in (0.5, 0.75, 1, 1.25, 1.5)})


def test_a_budget_never_changes_the_model(tmp_path):
    from study.controls import is_control
    for budget in ("smoke", "reduced", "paper"):
        trials = expand(load_spec("table1"), ["bottle"], budget=budget)
        assert {(t.config["backbone"], t.config["pretrained"]) for t in trials} == {("resnet18", "none")}
        assert {t.config["steps"] > 0 for t in trials if not is_control(t.config)} == {True}
    demo = expand(load_spec("demo"), ["bottle"], budget="smoke")
    assert [(t.config["backbone"], t.config["pretrained"]) for t in demo] == [
        ("efficientnet_lite0", "finetune"), ("efficientnet_lite0", "frozen")]


def test_a_control_keeps_model_data_and_seed_and_trains_nothing():
    trials = expand(load_spec("table1"), ["bottle", "carpet"], seeds=2, budget="smoke")
    controls = [t.config for t in trials if t.config["steps"] == 0]
    assert len(controls) == 2 * 2
    trained = next(t.config for t in trials if t.config["category"] == "carpet" and t.config["seed"] == 1
                   and t.config["steps"] > 0)
    ctl = next(c for c in controls if c["category"] == "carpet" and c["seed"] == 1)
    for k in ("backbone", "pretrained", "image_size", "feature_layers", "density"):
        assert ctl[k] == trained[k]
    assert not expand(load_spec("table1"), ["bottle"], seeds=1, controls=False)[-1].config["steps"] == 0


def test_spec_fields_controls_table_and_relative_values_are_validated(tmp_path):
    with pytest.raises(SpecError, match=r"'controls'"):
        load_spec(write(tmp_path, "name: x\ncontrols: maybe\n"))
    with pytest.raises(SpecError, match=r"'table'"):
        load_spec(write(tmp_path, "name: x\ntable: 11\n"))
    with pytest.raises(SpecError, match=r"one_at_a_time\.steps.*x<positive factor>"):
        load_spec(write(tmp_path, "name: x\none_at_a_time: {steps: [x-1]}\n"))


def test_table1_at_paper_budget_is_450_trials_on_15_categories():
    cats = [f"c{i}" for i in range(15)]
    trials = expand(load_spec("table1"), cats, budget="paper")
    assert len(trials) == 450 + 75 and len({t.trial_key for t in trials}) == 525
    assert [t.config["steps"] for t in trials].count(65536) == 450


def test_typo_in_a_spec_key_names_file_and_field(tmp_path):
    with pytest.raises(SpecError, match=r"s\.yaml.*'bugdet'.*did you mean 'budget'"):
        load_spec(write(tmp_path, "name: x\nbugdet: smoke\n"))
    with pytest.raises(SpecError, match=r"s\.yaml.*'base\.lrr'.*did you mean 'lr'"):
        load_spec(write(tmp_path, "name: x\nbase: {lrr: 0.1}\n"))


def test_unknown_variant_in_a_spec_is_named_with_the_known_ones(tmp_path):
    with pytest.raises(SpecError, match=r"s\.yaml.*variant.*cutpaste_3way"):
        load_spec(write(tmp_path, "name: x\naxes: {variant: [cutpaste, cutpasta]}\n"))


def test_trial_key_is_stable_and_changes_with_any_parameter():
    a = expand(load_spec("demo"), CATS)
    b = expand(load_spec("demo"), CATS)
    assert [t.trial_key for t in a] == [t.trial_key for t in b]
    assert len({t.trial_key for t in a}) == 4       # 2 categories x (trained + control)
    cfg = dict(a[0].config)
    assert trial_key("demo", cfg) == a[0].trial_key
    assert trial_key("demo", {**cfg, "lr": cfg["lr"] * 2}) != a[0].trial_key
    assert trial_key("other", cfg) != a[0].trial_key


def test_overrides_reach_every_trial_and_change_its_key():
    base = expand(load_spec("demo"), CATS)
    over = expand(load_spec("demo"), CATS, overrides={"steps": 7})
    assert all(t.config["steps"] == 7 for t in over if t.config["pretrained"] != "frozen")
    trained = lambda ts: {t.trial_key for t in ts if t.config["pretrained"] != "frozen"}
    assert not trained(base) & trained(over)
    # training length cannot change a frozen control: its trials (and keys) are shared
    assert {t.trial_key for t in base} - trained(base) == {t.trial_key for t in over} - trained(over)


def test_a_field_added_at_its_neutral_default_keeps_older_trial_keys():
    """Results written before ``pixel_resolution`` existed keep their keys (no retraining);
    the non-default value still makes a new key."""
    from study.spec import trial_key
    old = {"variant": "cutpaste_3way", "category": "bottle", "seed": 0, "lr": 0.03}
    assert trial_key("s", {**old, "pixel_resolution": "image"}) == trial_key("s", old)
    assert trial_key("s", {**old, "pixel_resolution": "native"}) != trial_key("s", old)
