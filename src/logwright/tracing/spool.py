"""The OTLP exporter's on-disk spool: traces waiting for a collector, kept across processes.

One folder per endpoint (``~/.cache/logwright/otlp-spool/<sha256 of the URL, 16 hex>/``,
or ``$LOGWRIGHT_OTLP_SPOOL/<hash>/``). Each file holds encoded traces as
length-prefixed records (4-byte big-endian length, then one trace's
``ExportTraceServiceRequest`` bytes). A file appears whole (written as ``.tmp`` and
renamed), is claimed by a sender with an atomic rename to ``.claimed-<pid>`` before
anything is sent, and is deleted once the collector acknowledged every record; so
two processes exporting to the same endpoint never send the same file. A claimed
file whose process died is claimed again by the next sender.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import time
from collections.abc import Iterable
from pathlib import Path

from logwright import config

_logger = logging.getLogger(__name__)

_LEN = struct.Struct(">I")
_SUFFIX = ".otlp"
_seq = [0]


def spool_dir(endpoint: str) -> Path:
    """The spool folder for ``endpoint`` (not created here)."""
    root = config.text(config.OTLP_SPOOL)
    if root:
        base = Path(root).expanduser()
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = Path(cache) / "logwright" / "otlp-spool"
    return base / hashlib.sha256(endpoint.encode()).hexdigest()[:16]


def write(folder: Path, records: Iterable[bytes]) -> Path | None:
    """Write encoded traces as one new spool file; returns its path (None for no records)."""
    chunks = []
    for record in records:
        chunks.append(_LEN.pack(len(record)))
        chunks.append(record)
    if not chunks:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    _seq[0] += 1
    name = f"{time.time_ns():020d}-{os.getpid()}-{_seq[0]}{_SUFFIX}"
    tmp = folder / (name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(b"".join(chunks))
        fh.flush()
        os.fsync(fh.fileno())
    final = folder / name
    os.replace(tmp, final)
    return final


def read(path: Path) -> list[bytes]:
    """The records of a spool file (a torn tail, from a crash mid-write, is left out)."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos + 4 <= len(data):
        (size,) = _LEN.unpack_from(data, pos)
        if pos + 4 + size > len(data):
            _logger.warning("logwright: spool file %s ends in a torn record; kept what is whole", path)
            break
        out.append(data[pos + 4:pos + 4 + size])
        pos += 4 + size
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def claim(folder: Path) -> Path | None:
    """Claim the oldest unclaimed (or orphaned) spool file by renaming it; None when none is left."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:  # not there yet, or not a folder
        return None
    me = os.getpid()
    for name in names:
        if name.endswith(_SUFFIX):
            source = folder / name
        elif ".claimed-" in name:
            owner = name.rsplit("-", 1)[-1]
            if not owner.isdigit() or int(owner) == me or _alive(int(owner)):
                continue
            source = folder / name
            name = name.split(".claimed-")[0]
        else:
            continue
        target = folder / f"{name}.claimed-{me}"
        try:
            os.rename(source, target)
        except FileNotFoundError:
            continue  # another process claimed it first
        return target
    return None


def count(folder: Path) -> int:
    """Spool files waiting in ``folder`` (claimed ones included)."""
    try:
        return sum(1 for n in os.listdir(folder) if n.endswith(_SUFFIX) or ".claimed-" in n)
    except OSError:
        return 0


def release(path: Path, records: list[bytes]) -> None:
    """Give back the unsent ``records`` of a claimed file: a new spool file, the claim deleted."""
    if records:
        write(path.parent, records)
    path.unlink(missing_ok=True)
