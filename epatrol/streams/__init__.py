"""Camera sources, reconnect, the keyframe-aligned packet ring and frame sampling.

Owns wall-clock time. Knows nothing about models or violations."""
