"""Bad launcher input fails before Ray starts or anything is written, naming the input."""
import os

import pytest

from study.launch import main


def _snapshot(folder):
    return sorted((p.relative_to(folder), p.stat().st_size) for p in folder.rglob("*"))


@pytest.mark.parametrize("args,message", [
    (["--seeds", "0"], "--seeds 0: a study needs at least 1 seed"),
    (["--seeds", "-2"], "--seeds -2"),
    (["--categories", ","], "no blank entries"),
    (["--categories", "bottle,,carpet"], "no blank entries"),
    (["--categories", " "], "no blank entries"),
])
def test_bad_seeds_or_categories_fail_before_ray_and_write_nothing(tmp_path, capsys, args, message):
    import ray
    results = tmp_path / "results"
    before = _snapshot(tmp_path)
    assert main(["--results", str(results), *args]) == 2
    assert message in capsys.readouterr().err
    assert not ray.is_initialized() and _snapshot(tmp_path) == before and not results.exists()


def test_results_that_is_a_file_or_unwritable_fails_before_ray(tmp_path, capsys):
    import ray
    f = tmp_path / "results.txt"
    f.write_text("keep me")
    assert main(["--results", str(f)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert f.read_text() == "keep me" and not ray.is_initialized()
    if os.geteuid() != 0:                          # root may write anywhere: only a file can be refused
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert main(["--results", str(locked / "r")]) == 2
        assert "not writable" in capsys.readouterr().err
