"""The terminal progress of ``nircolor train``: the rich front end of the training loop.

Like the CLI's other commands it shows its progress with
:func:`nircolor.cli.progress.progress_display` (a bar in a terminal, plain lines elsewhere);
a training run reports through the loop's plain :class:`~nircolor.train.nets.Reporter`
interface, drawn here.
Training itself never imports this module: the CLI passes a :class:`RichReporter` in.
"""

from __future__ import annotations

import numpy as np

from ..train.nets import Reporter


class RichReporter(Reporter):
    """A progress bar with the running loss, and one line per epoch with the metrics."""

    def __init__(self, console) -> None:
        from .progress import progress_display

        self.console = console
        self.progress = progress_display(console)
        self.task = None
        self.losses: list[float] = []
        self.stages: dict[str, object] = {}  # a bar per preparation step

    def stage(self, description, done, total) -> None:
        if description not in self.stages:
            self.progress.start()  # no-op once started
            self.stages[description] = self.progress.add_task(description, total=total)
        self.progress.update(self.stages[description], completed=done, total=total)

    def start(self, cfg, state, info) -> None:
        self.cfg = cfg
        self.console.print(
            f"training {cfg.arch} ({info['parameters']:,} parameters) on {info['n_train']} "
            f"pairs, validating on {info['n_val']}; {info['device']}, {info['threads']} threads",
            highlight=False,
        )
        self.progress.start()
        total = cfg.epochs * cfg.steps_per_epoch
        self.task = self.progress.add_task(cfg.arch, total=total, completed=state.step)

    def step(self, state, loss, lr) -> None:
        self.losses = (self.losses + [loss])[-50:]
        description = f"epoch {state.epoch + 1}/{self.cfg.epochs} loss {np.mean(self.losses):.4f}"
        self.progress.update(self.task, completed=state.step, description=description)

    def epoch(self, record) -> None:
        metrics = " ".join(f"{k} {v:.4f}" for k, v in record.items() if k.startswith("val_"))
        best = " (best)" if record.get("best") else ""
        self.progress.console.print(
            f"epoch {record['epoch']}: loss {record['loss']:.4f} {metrics}{best} "
            f"[{record['seconds']:.0f} s]",
            highlight=False,
        )

    def close(self) -> None:
        self.progress.stop()
