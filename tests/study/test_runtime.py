"""study.tune.runtime and study.results.paths: one options object, one place that normalises locations."""
import os

from study.results.paths import filesystem, location
from study.tune.runtime import RunOptions, fit_resources, job


def test_results_and_data_paths_are_made_absolute_once_and_uris_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opts = RunOptions(results="res", data_root="~/data")
    assert opts.results == str(tmp_path.resolve() / "res")
    assert opts.data_root == str((tmp_path / "x").home().resolve() / "data")
    assert RunOptions(results="s3://bucket/run1").results == "s3://bucket/run1"
    assert RunOptions().data_root is None      # the generated dataset: each node makes its own
    assert location(opts.results) == opts.results   # idempotent
    fs, base = filesystem("res")
    assert base == opts.results


def test_a_trial_job_carries_the_options_data_root_and_the_cpu_share(tmp_path):
    opts = RunOptions(results=str(tmp_path), data_root=str(tmp_path))
    j = job(opts, {"cpu": 2, "gpu": 0}, "s", {"category": "bottle"}, trial_key="k", budget="smoke")
    assert (j.trial_key, j.study, j.data_root, j.cpus, j.budget) == ("k", "s", str(tmp_path.resolve()), 2, "smoke")


def test_local_resources_shrink_to_this_machine():
    fitted = fit_resources({"cpu": 10_000, "gpu": 0})
    assert fitted["cpu"] == (os.cpu_count() or 1)
