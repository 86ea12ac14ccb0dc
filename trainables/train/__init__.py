"""Training one trial's model: the loop (``loop``: phases, optimizer, one SGD step, the
``Trainer``) and where it runs (``devices``: the device and precision a trial uses)."""
from trainables.train.devices import device_label, prepare_model, resolve_device, synchronize, use_bf16
from trainables.train.loop import Trainer, train_step, training_phases

__all__ = ["Trainer", "device_label", "prepare_model", "resolve_device", "synchronize", "train_step",
           "training_phases", "use_bf16"]
