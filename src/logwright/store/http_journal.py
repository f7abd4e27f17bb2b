"""The client's local journal of write batches the tracking server has not acknowledged.

When a batch cannot be sent (server down, network gone), the HTTP store writes it
here, fsynced, and returns: the training loop never waits for the server and memory
stays bounded. From then on every new batch goes behind it, so batches reach the
server in order. A sender thread replays the files oldest first with backoff, and
deletes each once the server acknowledged it (the server applies a batch once, by
the client id and sequence number inside it, so a replay after a lost answer adds
nothing).

Layout: ``<cache>/logwright/journal/<server hash>/<client id>/<seq>-<ops>.batch``, one
folder per client store, held with an exclusive ``flock`` while its process lives.
A store that opens finds the folders of processes that died with batches unsent,
takes them over and replays them too.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable

_logger = logging.getLogger(__name__)

JOURNAL_ENV = "LOGWRIGHT_JOURNAL_DIR"


def journal_root(url: str) -> str:
    """The folder holding the journals of every client store of the server at ``url``."""
    base = os.environ.get(JOURNAL_ENV)
    if not base:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(cache, "logwright", "journal")
    return os.path.join(base, hashlib.sha1(url.encode()).hexdigest()[:16])


class Journal:
    """Unsent batches of one client store, and the thread that sends them.

    Args:
        url: the server's URL (for the folder and messages).
        client_id: this store's client id (its folder name).
        send: posts one batch body; raises on failure (retried with backoff).
    """

    def __init__(self, url: str, client_id: str, send: Callable[[bytes], None]) -> None:
        self.url = url
        self.root = journal_root(url)
        self.folder = os.path.join(self.root, client_id)
        self._send = send
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._files: list[str] = []  # unsent batches, oldest first (this store's and adopted ones)
        self._ops = 0
        self._thread: threading.Thread | None = None
        self._held: list[int] = []
        self._held_paths: set[str] = set()
        self.failing: str | None = None
        self._pid = os.getpid()

    # -- producers -------------------------------------------------------------------

    def active(self) -> bool:
        """True while batches wait here: new batches must queue behind them."""
        return bool(self._files)

    def append(self, seq: int, nops: int, body: bytes) -> None:
        """Keep one batch on disk (fsynced) and have the sender thread deliver it."""
        self._hold(self.folder)
        os.makedirs(self.folder, exist_ok=True)
        path = os.path.join(self.folder, f"{seq:012d}-{nops}.batch")
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        with self._lock:
            self._files.append(path)
            self._ops += nops
        self._start()
        self._wake.set()

    def pending_ops(self) -> int:
        """Operations in batches not yet acknowledged by the server."""
        return self._ops

    def wait(self, timeout: float) -> bool:
        """Wait until every batch is delivered; False when ``timeout`` seconds passed first."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._files:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.set()
                self._idle.wait(min(left, 0.5))
        return True

    # -- taking over the journals of dead processes ------------------------------------

    def adopt_orphans(self) -> int:
        """Queue the batches of client stores whose process died before sending them; returns how many."""
        if not os.path.isdir(self.root):
            return 0
        found = 0
        for name in sorted(os.listdir(self.root)):
            folder = os.path.join(self.root, name)
            if folder == self.folder or not os.path.isdir(folder) or not self._try_hold(folder):
                continue
            batches = sorted(f for f in os.listdir(folder) if f.endswith(".batch"))
            if not batches:  # left as it is: its process may be just starting to write there
                continue
            with self._lock:
                for f in batches:
                    self._files.append(os.path.join(folder, f))
                    self._ops += _ops_of(f)
            found += len(batches)
        if found:
            _logger.warning("logwright: sending %d batches (%d operations) an earlier process left unsent to %s",
                            found, self._ops, self.url)
            self._start()
            self._wake.set()
        return found

    def _hold(self, folder: str) -> None:
        if not self._try_hold(folder):
            raise OSError(f"journal folder {folder} is held by another process")

    def _try_hold(self, folder: str) -> bool:
        """Take the folder's lock (kept while this process lives); False when another process has it."""
        import fcntl

        if self._pid != os.getpid():  # a forked child holds nothing of its parent's
            self._held, self._held_paths, self._pid = [], set(), os.getpid()
        key = os.path.realpath(folder)
        if key in self._held_paths:
            return True
        os.makedirs(folder, exist_ok=True)
        fd = os.open(os.path.join(folder, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._held.append(fd)
        self._held_paths.add(key)
        return True

    # -- the sender thread -------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._loop, name="logwright-journal", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        delay = 0.2
        while True:
            with self._lock:
                path = self._files[0] if self._files else None
            if path is None:
                self._wake.wait(5.0)
                self._wake.clear()
                continue
            try:
                with open(path, "rb") as fh:
                    body = fh.read()
                self._send(body)
            except FileNotFoundError:
                pass  # delivered by an earlier try whose answer came late
            except ValueError as exc:  # the server refused it as malformed: retrying cannot help
                _logger.warning("logwright: tracking server %s refused a spooled batch (%s); it is kept as %s",
                                self.url, exc, path + ".refused")
                with contextlib.suppress(OSError):
                    os.replace(path, path + ".refused")
            except Exception as exc:  # noqa: BLE001 - the server is still away: wait and retry
                if self.failing is None:
                    self.failing = str(exc)
                self._wake.wait(delay)
                self._wake.clear()
                delay = min(delay * 2, 10.0)
                continue
            delay = 0.2
            with contextlib.suppress(OSError):
                os.remove(path)
            with self._idle:
                if self._files and self._files[0] == path:
                    self._files.pop(0)
                    self._ops -= _ops_of(os.path.basename(path))
                if not self._files:
                    if self.failing is not None:
                        _logger.warning("logwright: %s answers again; every spooled batch was delivered", self.url)
                    self.failing = None
                    self._idle.notify_all()


def _ops_of(name: str) -> int:
    try:
        return int(name.split("-", 1)[1].split(".", 1)[0])
    except (IndexError, ValueError):
        return 0
