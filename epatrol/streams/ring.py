"""The pre-roll: encoded packets of the last N seconds, always starting at a keyframe."""

from __future__ import annotations

from collections import deque

from epatrol.streams.packets import EncodedPacket


class PacketRing:
    """Holds at least `seconds` of packets back from the newest one.

    Trimming happens a whole GOP at a time, so the oldest packet kept is always a keyframe
    and a clip cut from the ring decodes from its first frame. The ring therefore holds
    between `seconds` and `seconds + one GOP` of video: a size anyone can predict from the
    config and the camera's GOP."""

    def __init__(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("ring length must be >= 0 seconds")
        self.seconds = seconds
        self._gops: deque[list[EncodedPacket]] = deque()

    def push(self, packet: EncodedPacket) -> None:
        if packet.is_keyframe:
            self._gops.append([packet])
        elif self._gops:
            self._gops[-1].append(packet)
        else:
            return  # before the first keyframe: undecodable in a clip, dropped
        self._trim(packet.time_s)

    def _trim(self, newest_s: float) -> None:
        # Drop the oldest GOP while the next one still starts early enough to cover the pre-roll.
        while len(self._gops) > 1 and self._gops[1][0].time_s <= newest_s - self.seconds:
            self._gops.popleft()

    def snapshot(self, since_s: float | None = None) -> list[EncodedPacket]:
        """Packets from the last keyframe at or before `since_s` (all held packets when None)."""
        gops = list(self._gops)
        if since_s is not None:
            starts = [i for i, g in enumerate(gops) if g[0].time_s <= since_s]
            gops = gops[starts[-1]:] if starts else gops
        return [p for g in gops for p in g]

    def clear(self) -> None:
        self._gops.clear()

    @property
    def duration_s(self) -> float:
        if not self._gops:
            return 0.0
        return self._gops[-1][-1].time_s - self._gops[0][0].time_s

    def __len__(self) -> int:
        return sum(len(g) for g in self._gops)
