"""Which packets to decode: only as many frames as the detectors' sample rate needs.

Decoding a frame in the middle of a GOP means decoding every frame from the keyframe before
it, so the cheapest plan waits for the next keyframe whenever it arrives soon enough after
the sample is due (keyframes only, when the rate allows), and stops decoding a GOP as soon as
its last wanted frame is out."""

from __future__ import annotations


class FrameSampler:
    def __init__(self, interval_s: float, max_lateness_s: float | None = None) -> None:
        if interval_s <= 0:
            raise ValueError("sample interval must be > 0 s")
        self.interval_s = interval_s
        # A sample may come this late if that saves decoding a GOP (keyframe-only sampling).
        self.max_lateness_s = interval_s / 2 if max_lateness_s is None else max_lateness_s
        self._early_s = min(0.1 * interval_s, 0.1)
        self.reset()

    def set_interval(self, interval_s: float) -> None:
        """Sample at a new rate from now on (a camera whose fire gate fired samples densely for a
        while). A shorter interval brings the next sample forward; a longer one lets it wait."""
        if interval_s <= 0:
            raise ValueError("sample interval must be > 0 s")
        if interval_s == self.interval_s:
            return
        if self._due_s is not None:
            self._due_s += interval_s - self.interval_s
        if interval_s < self.interval_s and not self._skipped:
            self._decoding = True  # nothing of this GOP skipped yet: the decoder can go on from here
        self.interval_s = interval_s
        self.max_lateness_s = interval_s / 2
        self._early_s = min(0.1 * interval_s, 0.1)

    def reset(self) -> None:
        """Forget the stream (after a reconnect timestamps start again)."""
        self._due_s: float | None = None
        self._gop_s: float | None = None
        self._last_key_s: float | None = None
        self._decoding = False
        self._skipped = False  # a packet of this GOP was not decoded since the last sample

    def _next_key_close_enough(self) -> bool:
        if self._gop_s is None or self._last_key_s is None or self._due_s is None:
            return False
        return self._last_key_s + self._gop_s <= self._due_s + self.max_lateness_s

    def should_decode(self, time_s: float, is_keyframe: bool) -> bool:
        if is_keyframe:
            if self._last_key_s is not None and time_s > self._last_key_s:
                self._gop_s = time_s - self._last_key_s
            self._last_key_s = time_s
            self._decoding = self._is_due(time_s) or not self._next_key_close_enough()
            self._skipped = False
        if not self._decoding:
            self._skipped = True
        return self._decoding

    def _is_due(self, time_s: float) -> bool:
        return self._due_s is None or time_s >= self._due_s - self._early_s

    def take(self, frame_time_s: float) -> bool:
        """Called for each decoded frame: True when it becomes a sample."""
        if not self._is_due(frame_time_s):
            return False
        # Keep the cadence (no drift from early frames) but never schedule a burst to catch up.
        scheduled = frame_time_s if self._due_s is None else self._due_s
        self._due_s = max(scheduled + self.interval_s, frame_time_s + self.interval_s / 2)
        if self._next_key_close_enough():
            self._decoding = False  # the rest of this GOP is not needed
        return True
