"""Faces held out of training, so that the output stage can measure reconstruction on faces never seen.

The choice depends only on the keys (a stable hash), so training and evaluation agree without a file.
"""

import zlib

HELD_OUT_SHARE = 0.05
MIN_FACES = 10  # below this every face is needed for training, and none is held out


def held_out_keys(keys: list[str], share: float = HELD_OUT_SHARE) -> set[str]:
    """The ``share`` of keys (at least one, from ``MIN_FACES`` keys up) with the smallest CRC-32."""
    if len(keys) < MIN_FACES:
        return set()
    count = max(1, round(len(keys) * share))
    return set(sorted(keys, key=lambda key: (zlib.crc32(key.encode()), key))[:count])
