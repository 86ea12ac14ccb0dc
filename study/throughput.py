"""The measured throughput table behind ``study.launch --dry-run`` cost projections.

``python -m bench --save`` records, per device, the aggregate trained images/s
at an image size with K trials packed on the device. A projection uses the best packing
measured for the size asked; for a size never measured on that device it scales the
nearest measured size by pixel count and says that it is extrapolating. Nothing here is
assumed: a device with no measurement is reported as "not measured".
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

DEFAULT_TABLE = Path(__file__).with_name("throughput.json")


@dataclass(frozen=True)
class Device:
    """A device type of the table, as a projection uses it."""
    type: str                 # the table's key prefix and ``python -m bench --device``
    label: str                # how a projection names it
    unit: str                 # what its cost is counted in
    resource: str | None      # the spec's resource trials share it by (gpu: 0.25 -> four per device)

    def packing(self, resources: Mapping[str, float]) -> int | None:
        """The most trials the spec runs on one device: the cap on the measurements a projection
        may use (None: any; a CPU is not shared by a fractional request)."""
        if self.resource is None:
            return None
        share = resources.get(self.resource, 0)
        return max(1, int(round(1 / share))) if 0 < share < 1 else 1


CUDA = Device("cuda", "a GPU (the spec asks for one)", "GPU-hours", "gpu")
CPU = Device("cpu", "CPU", "machine-hours", None)


def projection_devices(resources: Mapping[str, float]) -> tuple[Device, ...]:
    """What a spec's trials are projected on, its own device first: a GPU where it asks for one
    (and the CPU beside it, for comparison), else the CPU."""
    return (CUDA, CPU) if resources.get(CUDA.resource, 0) > 0 else (CPU,)


def table_path() -> Path:
    return Path(os.environ.get("CUTPASTE_THROUGHPUT", DEFAULT_TABLE))


def load_table(path: Path | None = None) -> dict:
    path = path or table_path()
    if not path.is_file():
        return {"devices": {}}
    return json.loads(path.read_text())


def device_key(device_type: str, name: str) -> str:
    return f"{device_type}:{name}"


def record(device_type: str, name: str, image_size: int, k: int, images_per_second: float,
           variant: str, memory_per_trial_mb: float | None = None, path: Path | None = None) -> Path:
    """Add or replace one measurement (same device, size, K and variant)."""
    path = path or table_path()
    table = load_table(path)
    entries = table["devices"].setdefault(device_key(device_type, name), [])
    entries[:] = [e for e in entries if (e["image_size"], e["k"], e["variant"]) != (image_size, k, variant)]
    entries.append({"image_size": image_size, "k": k, "variant": variant,
                    "images_per_second": round(images_per_second, 2),
                    "memory_per_trial_mb": None if memory_per_trial_mb is None else round(memory_per_trial_mb, 1),
                    "measured_at": dt.date.today().isoformat()})
    entries.sort(key=lambda e: (e["image_size"], e["k"], e["variant"]))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(table, indent=2) + "\n")
    tmp.replace(path)
    return path


def rate_for(device_type: str, image_size: int, table: dict | None = None,
             max_k: int | None = None) -> tuple[float, str, str] | None:
    """(images/s, device name, how it was obtained) for the best packing on a device of that type.

    ``max_k`` caps the packing at what the spec actually asks for: a spec with ``gpu: 0.25``
    runs four trials per GPU, so a K = 8 measurement must not make its projection cheaper.
    """
    table = table or load_table()
    best = None
    for key, entries in table["devices"].items():
        kind, _, name = key.partition(":")
        if kind != device_type:
            continue
        entries = [e for e in entries if max_k is None or e["k"] <= max_k]
        same = [e for e in entries if e["image_size"] == image_size]
        if same:
            e = max(same, key=lambda e: e["images_per_second"])
            cand = (e["images_per_second"], name, f"measured {e['measured_at']}, {e['k']} trial(s) per device")
        elif entries:
            near = min(entries, key=lambda e: abs(e["image_size"] - image_size))
            near_best = max((e for e in entries if e["image_size"] == near["image_size"]),
                            key=lambda e: e["images_per_second"])
            rate = near_best["images_per_second"] * (near_best["image_size"] / image_size) ** 2
            cand = (rate, name, f"EXTRAPOLATED from {near_best['image_size']}px by pixel count")
        else:
            continue
        if best is None or cand[0] > best[0]:
            best = cand
    return best
