"""bench.deploy: it times the exported graph and the same modules in PyTorch (what, not how fast): ONNX Runtime, eager, eager channels-last."""
import json

from bench.deploy import main


def test_deploy_bench_reports_both_runtimes_at_each_batch_size(capsys):
    assert main(["--image-size", "32", "--batches", "1,2", "--iterations", "1", "--seconds", "0",
                 "--threads", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out["batches"]) == {"1", "2"}
    for r in out["batches"].values():
        assert r["onnxruntime_images_per_second"] > 0 and r["torch_eager_images_per_second"] > 0
        assert r["torch_eager_channels_last_images_per_second"] > 0
