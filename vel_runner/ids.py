"""Random ids for runs and messages: 32 hex digits (128 bits) from the operating system's
random source, like ``uuid4().hex`` but cut from a buffer of random bytes read a few KiB at a
time, so a turn does not pay a system call and a UUID object for its id (about 2 µs of a
library turn that costs some 15).

The ids stay unguessable (a response id is all a client needs to read or delete a stored
response). Each thread draws from its own buffer, and a forked child starts a fresh one, so
no two callers ever share bytes.
"""

from __future__ import annotations

import os
import threading

_BUFFER = 4096  # bytes read at a time: 256 ids


class _Pool(threading.local):
    def __init__(self) -> None:
        self.bytes = b""
        self.at = 0


_pool = _Pool()


def _fresh_pool() -> None:
    global _pool
    _pool = _Pool()


os.register_at_fork(after_in_child=_fresh_pool)


def random_hex() -> str:
    """32 random hex digits."""
    pool = _pool
    at = pool.at
    if at + 16 > len(pool.bytes):
        pool.bytes, at = os.urandom(_BUFFER), 0
    pool.at = at + 16
    return pool.bytes[at : at + 16].hex()
