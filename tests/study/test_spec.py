import pytest

from study.spec import SpecError, expand, load_spec, trial_key

CATS = ["bottle", "carpet"]


def write(tmp_path, text):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("name,count", [("demo", 1), ("table1", 6 * 5), ("table4_cutout", 5 * 5),
                                        ("table5_heads", 4 * 5), ("table7_optim", 20 * 5),
                                        ("table8_aug", 16 * 5)])
def test_builtin_specs_expand_to_the_paper_grid(name, count):
    spec = load_spec(name)
    assert len(expand(spec, ["bottle"])) == count


def test_table1_at_paper_budget_is_450_trials_on_15_categories():
    cats = [f"c{i}" for i in range(15)]
    trials = expand(load_spec("table1"), cats, budget="paper")
    assert len(trials) == 450 and len({t.trial_key for t in trials}) == 450
    assert {t.config["steps"] for t in trials} == {65536}


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
    assert len({t.trial_key for t in a}) == 2
    cfg = dict(a[0].config)
    assert trial_key("demo", cfg) == a[0].trial_key
    assert trial_key("demo", {**cfg, "lr": cfg["lr"] * 2}) != a[0].trial_key
    assert trial_key("other", cfg) != a[0].trial_key


def test_overrides_reach_every_trial_and_change_its_key():
    base = expand(load_spec("demo"), CATS)
    over = expand(load_spec("demo"), CATS, overrides={"steps": 7})
    assert all(t.config["steps"] == 7 for t in over)
    assert not {t.trial_key for t in base} & {t.trial_key for t in over}
