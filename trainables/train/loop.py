"""The training loop of one trial: phases, optimizer, one SGD step, and training up to a step.

A trial trains in *phases*, which its pretrained mode decides (``trainables.models.pretrained``:
one for a model from scratch, App. A's head-only then all-layer phases when fine-tuning, none
for the frozen control); each phase has its own SGD optimizer with a cosine schedule. :class:`Trainer` holds where training is (step, phase, optimizer,
generator) and trains up to a given step; checkpointing and evaluation are the caller's.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from trainables.augment import PixelStore, Variant, source_batch
from trainables.config import TrialConfig
from trainables.models.net import freeze_backbone, freeze_batchnorm_stats
from trainables.models.pretrained import Phase, pretrained_mode


def training_phases(cfg: TrialConfig) -> list[Phase]:
    """The config's pretrained mode's phases. Scratch: one. Frozen: none (the pretrained
    control). Finetune: App. A's two."""
    return list(pretrained_mode(cfg.pretrained).phases(cfg.steps, cfg.head_steps, cfg.lr, cfg.finetune_lr))


def phase_at(phases: list[Phase], step: int) -> tuple[int, int]:
    """(phase index, first global step of that phase) for a global step."""
    start = 0
    for i, p in enumerate(phases):
        if step < start + p.steps:
            return i, start
        start += p.steps
    return len(phases) - 1, start - (phases[-1].steps if phases else 0)


def make_optimizer(model, cfg: TrialConfig, phase: Phase):
    """SGD over what ``phase`` trains, and its cosine schedule over the phase's steps."""
    freeze_backbone(model, not phase.train_backbone)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=phase.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(phase.steps, 1))


def set_train_mode(model, phase: Phase) -> None:
    """Train mode, except a frozen backbone (eval) or its BatchNorm statistics when fine-tuning."""
    model.train()
    if not phase.train_backbone:
        model.encoder.eval()
    elif phase.freeze_bn:
        freeze_batchnorm_stats(model.encoder)


def train_step(model, opt, variant: Variant, store: PixelStore, cfg: TrialConfig, gen: torch.Generator,
               amp: bool) -> tuple[torch.Tensor, int, torch.Tensor]:
    """One SGD step: draw source images, augment them on the device, forward, backward.

    Returns the (un-synchronised) loss tensor, the number of trained images and how many of
    them the head classified right (a device tensor too: the learning curve's accuracy on the
    self-supervised task, read only at a curve point so the loop never waits for the device).
    """
    sources = torch.randint(0, store.n, (cfg.batch_size,), generator=gen, device=store.device)
    crop = cfg.patch_size if variant.patch_level else None
    images, labels = variant.make_batch(source_batch(store, sources, cfg, gen, crop=crop), cfg)
    if amp:
        images = images.contiguous(memory_format=torch.channels_last)
    with torch.autocast(store.device.type, dtype=torch.bfloat16, enabled=amp):
        logits = model(images)
        loss = F.cross_entropy(logits, labels)
    correct = (logits.detach().argmax(dim=1) == labels).sum()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss, images.shape[0], correct


class Trainer:
    """Where a trial's training is: model, phases, the current phase's optimizer, step, generator.

    Built at ``step`` (0, or a checkpoint's step once the model and generator hold its state),
    with the optimizer of the phase that step falls in. ``train_until`` switches phases as it
    crosses them; ``loss`` is the last step's and ``trained_images`` counts this run's images.
    Loss and accuracy are summed on the device step by step and read (one wait for the device)
    only by :meth:`curve_point`, every ``log_interval`` steps.
    """

    def __init__(self, model, cfg: TrialConfig, variant: Variant, store: PixelStore, gen: torch.Generator,
                 amp: bool, step: int = 0) -> None:
        self.model, self.cfg, self.variant, self.store, self.gen, self.amp = model, cfg, variant, store, gen, amp
        self.phases = training_phases(cfg)
        self.total_steps = sum(p.steps for p in self.phases)
        self.step = step
        self.phase_idx, _ = phase_at(self.phases, step)
        self.opt = self.sched = None
        if self.phases:
            self.opt, self.sched = make_optimizer(model, cfg, self.phases[self.phase_idx])
        self.step_model = torch.compile(model) if cfg.compile else model
        self.loss: torch.Tensor | None = None
        self.trained_images = 0
        self.lr = self.phases[self.phase_idx].lr if self.phases else 0.0   # the last step's
        self._loss_sum: torch.Tensor | None = None     # since the last curve point, on the device
        self._correct: torch.Tensor | None = None
        self._steps = self._images = 0

    @property
    def phase_name(self) -> str:
        return self.phases[self.phase_idx].name if self.phases else "none"

    def curve_point(self) -> dict[str, float | None]:
        """Mean training loss and accuracy over the steps since the last point, and the lr of
        the last step (None where no step was trained since); resets the sums."""
        if not self._steps:
            return {"loss": None, "accuracy": None, "lr": None}
        loss, correct = float(self._loss_sum), float(self._correct)   # the one device sync
        point = {"loss": loss / self._steps, "accuracy": correct / self._images, "lr": self.lr}
        self._loss_sum = self._correct = None
        self._steps = self._images = 0
        return point

    def train_until(self, stop_at: int) -> None:
        """Train step by step up to global step ``stop_at`` (nothing when already there)."""
        while self.step < stop_at:
            idx, start = phase_at(self.phases, self.step)
            if idx != self.phase_idx:
                self.phase_idx = idx
                self.opt, self.sched = make_optimizer(self.model, self.cfg, self.phases[idx])
            set_train_mode(self.model, self.phases[idx])
            run_until = min(stop_at, start + self.phases[idx].steps)
            while self.step < run_until:
                self.loss, n_images, correct = train_step(self.step_model, self.opt, self.variant, self.store,
                                                          self.cfg, self.gen, self.amp)
                self.lr = self.opt.param_groups[0]["lr"]    # what this step used, before the schedule moves
                self.sched.step()
                self.step += 1
                self.trained_images += n_images
                loss = self.loss.detach()
                self._loss_sum = loss if self._loss_sum is None else self._loss_sum + loss
                self._correct = correct if self._correct is None else self._correct + correct
                self._steps += 1
                self._images += n_images
