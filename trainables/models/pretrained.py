"""Registry of the pretrained modes: how a trial's encoder starts and which phases train it.

``TrialConfig.pretrained`` names one of ``PRETRAINED_MODES``; everything that depends on the
mode (the encoder's initial weights, the training phases, how many steps a config trains,
what its control trial is, how plans and tables describe it) asks the mode object here
instead of comparing the name:

- ``none``: from scratch (paper Sec. 4): one phase of ``steps`` at ``lr``, every layer and
  BatchNorm statistic trained. Its control is the same network untrained (``steps=0``).
- ``finetune``: ImageNet weights, then App. A's two phases: ``head_steps`` of the head alone at
  ``lr``, then ``steps`` of all layers at ``finetune_lr`` with BatchNorm statistics frozen. Its
  control is the ImageNet encoder frozen (``frozen``).
- ``frozen``: ImageNet weights, no training: the features of the pretrained encoder + GDE
  (Table 3's "pretrain" rows). It is a control itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Phase:
    """A stretch of training with one optimizer: what trains, at which lr, for how long."""
    name: str
    steps: int
    lr: float
    train_backbone: bool
    freeze_bn: bool


@dataclass(frozen=True)
class PretrainedMode:
    name: str                  # the value of TrialConfig.pretrained
    label: str                 # how plans and tables describe a model of this mode
    imagenet: bool             # starts from ImageNet weights (the backbone must have them)
    trains: bool               # has training phases at all (else it is a control whatever its steps)
    head_first: bool           # App. A: head-only steps at lr before the all-layer steps
    control: tuple[tuple[str, Any], ...] = ()   # the config values of its control trial (none: it is one)

    @property
    def is_control(self) -> bool:
        """Trains nothing whatever the config's steps (a config of another mode is a control
        when its steps are 0: ``trainables.config.steps_trained``)."""
        return not self.trains

    @property
    def control_label(self) -> str:
        """What a control's encoder is when it has this mode: ImageNet's, or an untrained one."""
        return "ImageNet-frozen" if self.imagenet else "untrained"

    def phases(self, steps: int, head_steps: int, lr: float, finetune_lr: float) -> tuple[Phase, ...]:
        """The training phases, in order (phases of no steps left out)."""
        if not self.trains:
            return ()
        if self.head_first:
            return tuple(p for p in (Phase("head", head_steps, lr, False, True),
                                     Phase("all", steps, finetune_lr, True, True)) if p.steps > 0)
        return (Phase("all", steps, lr, True, False),)


PRETRAINED_MODES: dict[str, PretrainedMode] = {m.name: m for m in (
    PretrainedMode("none", "trained from scratch", imagenet=False, trains=True, head_first=False,
                   control=(("pretrained", "none"), ("steps", 0))),
    PretrainedMode("frozen", "ImageNet-frozen", imagenet=True, trains=False, head_first=False),
    PretrainedMode("finetune", "fine-tuned from ImageNet", imagenet=True, trains=True, head_first=True,
                   control=(("pretrained", "frozen"), ("steps", 0), ("head_steps", 0))),
)}


def pretrained_mode(name: str) -> PretrainedMode:
    """The mode called ``name``; an unknown name raises, listing the known ones."""
    try:
        return PRETRAINED_MODES[name]
    except KeyError:
        raise ValueError(f"unknown pretrained mode {name!r}; known modes: {list(PRETRAINED_MODES)}") from None
