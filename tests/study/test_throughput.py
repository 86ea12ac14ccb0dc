"""The throughput table behind --dry-run projections."""
from study.throughput import rate_for, record


def _table(tmp_path):
    path = tmp_path / "t.json"
    for k, rate in [(1, 100.0), (2, 150.0), (4, 180.0), (8, 190.0)]:
        record("cuda", "GPU X", 256, k, rate, "cutpaste_3way", 1000.0, path=path)
    import json
    return json.loads(path.read_text())


def test_projection_uses_no_more_packing_than_the_spec_asks(tmp_path):
    table = _table(tmp_path)
    assert rate_for("cuda", 256, table)[0] == 190.0
    rate, name, how = rate_for("cuda", 256, table, max_k=4)
    assert (rate, name) == (180.0, "GPU X") and "4 trial(s)" in how
    assert rate_for("cuda", 256, table, max_k=1)[0] == 100.0


def test_unmeasured_size_is_extrapolated_and_says_so(tmp_path):
    table = _table(tmp_path)
    rate, _, how = rate_for("cuda", 128, table, max_k=2)
    assert rate == 150.0 * 4 and how.startswith("EXTRAPOLATED")
    assert rate_for("cpu", 256, table) is None
