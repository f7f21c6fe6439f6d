"""A progress bar over the run's time budget: tqdm when installed (the `bench` extra), else one
status line rewritten in place. Notes (trial verdicts) print above the bar."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, budget_s: float, enabled: bool = True) -> None:
        self.budget_s = budget_s
        self.enabled = enabled
        self.started = time.monotonic()
        self._label = ""
        self._bar = None
        if enabled:
            try:
                from tqdm import tqdm

                self._bar = tqdm(total=round(budget_s), unit="s", desc="bench", bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} s {postfix}")
            except ImportError:
                pass

    def label(self, text: str) -> None:
        self._label = text
        self.tick()

    def tick(self) -> None:
        if not self.enabled:
            return
        elapsed = min(self.budget_s, time.monotonic() - self.started)
        if self._bar is not None:
            self._bar.set_postfix_str(self._label, refresh=False)
            self._bar.update(round(elapsed) - self._bar.n)
        else:
            print(f"\rbench {elapsed:5.0f}/{self.budget_s:.0f} s  {self._label:<40}", end="", file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(text)
        else:
            print(f"\r{text:<70}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            print(file=sys.stderr)
