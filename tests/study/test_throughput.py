"""The throughput table behind --dry-run projections."""
import pytest

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


@pytest.mark.parametrize("resources, devices, packing", [
    ({"cpu": 4, "gpu": 0.25}, ("cuda", "cpu"), (4, None)),     # four trials share a GPU
    ({"cpu": 4, "gpu": 1}, ("cuda", "cpu"), (1, None)),        # one trial per GPU: no K > 1 measurement
    ({"cpu": 1, "gpu": 0}, ("cpu",), (None,)),                 # a CPU spec projects on the CPU only
])
def test_a_spec_is_projected_on_its_own_device_packed_as_it_asks(resources, devices, packing):
    from study.throughput import projection_devices
    chosen = projection_devices(resources)
    assert tuple(d.type for d in chosen) == devices
    assert tuple(d.packing(resources) for d in chosen) == packing
