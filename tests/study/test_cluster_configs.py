"""clusters/: manifests valid against the KubeRay and Ray launcher schemas, and locked down."""
import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLUSTERS = REPO / "clusters"
SCHEMAS = REPO.parent / "shared" / "schemas"


def unknown_keys(instance, schema, path=""):
    """Keys the schema does not declare (the schemas allow extras, so typos would pass validate)."""
    out = []
    if isinstance(instance, dict) and "properties" in schema:
        for k, v in instance.items():
            if k in schema["properties"]:
                out += unknown_keys(v, schema["properties"][k], f"{path}.{k}")
            elif "patternProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields") \
                    and not isinstance(schema.get("additionalProperties"), dict):
                out.append(f"{path}.{k}")
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(instance):
            out += unknown_keys(v, schema["items"], f"{path}[{i}]")
    return out


def load(name):
    return yaml.safe_load((CLUSTERS / name).read_text())


@pytest.mark.parametrize("name,schema", [("raycluster.yaml", "kuberay-raycluster-v1.schema.json"),
                                         ("rayjob.yaml", "kuberay-rayjob-v1.schema.json")])
def test_kuberay_manifests_validate_against_the_v1_schemas(name, schema):
    jsonschema = pytest.importorskip("jsonschema")
    if not (SCHEMAS / schema).exists():
        pytest.skip("../shared/schemas is not present")
    s = json.loads((SCHEMAS / schema).read_text())
    doc = load(name)
    jsonschema.validate(doc, s)
    assert unknown_keys(doc, s) == []


def test_rayjob_runs_table1_at_paper_budget_on_the_cluster():
    job = load("rayjob.yaml")["spec"]
    assert "python -m study.launch --cluster --study table1 --budget paper" in job["entrypoint"]
    assert job["shutdownAfterJobFinishes"] is True


def test_raycluster_has_a_cpu_head_and_an_autoscaling_gpu_group():
    spec = load("raycluster.yaml")["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    head_limits = spec["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert "nvidia.com/gpu" not in head_limits
    gpu = spec["workerGroupSpecs"][0]
    assert gpu["minReplicas"] == 0 and gpu["maxReplicas"] > gpu["minReplicas"]
    assert gpu["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"


@pytest.mark.parametrize("name", ["aws.yaml", "gcp.yaml"])
def test_launcher_configs_validate_against_rays_schema_and_have_gpu_workers(name):
    jsonschema = pytest.importorskip("jsonschema")
    import ray
    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    doc = load(name)
    jsonschema.validate(doc, schema)
    workers = [t for n, t in doc["available_node_types"].items() if n != doc["head_node_type"]]
    assert any(t["resources"].get("GPU", 0) >= 1 for t in workers)
    assert doc["available_node_types"][doc["head_node_type"]]["resources"]["CPU"] == 0


@pytest.mark.parametrize("name", sorted(p.name for p in CLUSTERS.glob("*.yaml")))
def test_no_config_exposes_ray_ports_or_holds_credentials(name):
    text = (CLUSTERS / name).read_text()
    doc = yaml.safe_load(text)
    flat = json.dumps(doc)
    assert "0.0.0.0/0" not in flat and "::/0" not in flat, "a port open to the whole internet"
    assert not re.search(r'"serviceType": "(LoadBalancer|NodePort)"', flat)
    assert "Ingress" not in flat and "enableIngress\": true" not in flat
    assert not re.search(r"AKIA[0-9A-Z]{16}|aws_secret_access_key|BEGIN [A-Z ]*PRIVATE KEY|\"password\"", text)
    if name.startswith("ray"):   # KubeRay: token auth on
        spec = doc["spec"].get("rayClusterSpec", doc["spec"])
        assert spec["authOptions"]["mode"] == "token"
        assert spec["headGroupSpec"]["serviceType"] == "ClusterIP"
    else:                        # launcher: dashboard on localhost only, token auth on, SSH-only ingress
        head = " ".join(doc["head_start_ray_commands"])
        assert "--dashboard-host=127.0.0.1" in head and "RAY_AUTH_MODE=token" in head
        for perm in doc["provider"].get("security_group", {}).get("IpPermissions", []):
            assert perm["FromPort"] == perm["ToPort"] == 22


def test_every_key_in_the_cluster_configs_is_commented():
    for path in CLUSTERS.glob("*.yaml"):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^(\s*)(- )?([A-Za-z][\w.-]*):", line)
            if not m:
                continue
            # a key is explained on its own line, or it sits in a block whose parent line explains it
            nearby = [lines[j] for j in range(max(0, i - 3), i + 1)]
            assert any("#" in l for l in nearby), f"{path.name}:{i + 1} '{m.group(3)}' has no comment near it"
