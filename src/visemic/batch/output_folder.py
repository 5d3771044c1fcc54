"""A batch's output folder: outputs written atomically, a journal of finished items, one writer.

Layout of OUTDIR::

    NAME.json, NAME.tsv, …           the outputs (file names from the item's output name)
    manifest.csv, failures.csv       written at the end of each run
    .visemic-batch/journal.jsonl     one line per finished item: name, content key, file hashes
    .visemic-batch/lock              held (flock) while a batch writes here

An item counts as done only once its line is in the journal, and a line is appended only after
all of the item's files are in place. The line records each file's SHA-256, so a file that was
torn, truncated or edited since is noticed and the item is made again. A batch killed at any
point (``kill -9`` included) therefore loses at most the items in flight; the temporary files it
leaves are removed when the next batch takes the folder.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from visemic.errors import VisemicError
from visemic.outputs import atomic

STATE_DIR = ".visemic-batch"
JOURNAL = "journal.jsonl"
LOCK = "lock"
MANIFEST = "manifest.csv"
FAILURES = "failures.csv"
RESERVED = frozenset({MANIFEST, FAILURES})

# Temporary files of visemic.outputs.atomic: ".STEM.XXXXXXXX.part.SUFFIX" (mkstemp's 8 random
# characters). Only these are removed when a new batch takes the folder.
_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.part(\.[^./]+)?$")


@dataclass(frozen=True)
class Record:
    key: str
    files: dict[str, str]  # file name relative to OUTDIR → SHA-256 of its bytes


class OutputFolder:
    """OUTDIR for the duration of one run (a context manager). Raises :class:`VisemicError`
    when the folder cannot be written or another batch is writing to it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.records: dict[str, Record] = {}
        self._lock: IO[bytes] | None = None
        self._journal: IO[str] | None = None

    def __enter__(self) -> OutputFolder:
        state = self.path / STATE_DIR
        try:
            state.mkdir(parents=True, exist_ok=True)
            self._lock = open(state / LOCK, "wb")
        except OSError as e:
            raise VisemicError(f"cannot write to {self.path}: {e.strerror or e}") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            self._lock = None
            raise VisemicError(f"{self.path}: another visemic batch is writing to this folder"
                               ) from None
        try:
            self._remove_temporaries()
            self._load_journal(state / JOURNAL)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    def _remove_temporaries(self) -> None:
        for dirpath, _dirnames, filenames in os.walk(self.path):
            for filename in filenames:
                if _TEMPORARY.match(filename):
                    try:
                        os.unlink(os.path.join(dirpath, filename))
                    except FileNotFoundError:
                        pass

    def _load_journal(self, path: Path) -> None:
        lines = 0
        torn = False
        if path.exists():
            raw = path.read_bytes()
            torn = bool(raw) and not raw.endswith(b"\n")
            for line in raw.splitlines():
                lines += 1
                try:
                    entry = json.loads(line)
                    record = Record(str(entry["key"]), {str(k): str(v)
                                                        for k, v in entry["files"].items()})
                    self.records[str(entry["name"])] = record
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a line torn by a kill: that item is simply made again
        if torn or lines > 2 * len(self.records) + 100:
            # Rewrite without the torn tail and superseded lines (atomically: a kill here leaves
            # the old journal, which is still valid).
            atomic.write_text(path, "".join(_line(n, r) for n, r in self.records.items()))
        self._journal = open(path, "a", encoding="utf-8")

    def is_current(self, name: str, key: str, files: Sequence[str]) -> bool:
        """Whether the item ``name`` was made from input ``key`` and its files are intact."""
        record = self.records.get(name)
        if record is None or record.key != key or set(record.files) != set(files):
            return False
        for file, digest in record.files.items():
            try:
                data = (self.path / file).read_bytes()
            except OSError:
                return False
            if hashlib.sha256(data).hexdigest() != digest:
                return False
        return True

    def write_item(self, name: str, key: str, files: dict[str, bytes]) -> None:
        """Write an item's files atomically, then record it in the journal."""
        for file, data in files.items():
            target = self.path / file
            try:
                with atomic.atomic_path(target) as tmp:
                    tmp.write_bytes(data)
            except OSError as e:
                raise VisemicError(f"cannot write {target}: {e.strerror or e}") from None
        record = Record(key, {f: hashlib.sha256(d).hexdigest() for f, d in files.items()})
        self.records[name] = record
        assert self._journal is not None
        self._journal.write(_line(name, record))
        self._journal.flush()

    def write_table(self, filename: str, header: Sequence[str],
                    rows: Iterable[Sequence[object]]) -> Path:
        """A CSV file in OUTDIR, written atomically."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        target = self.path / filename
        atomic.write_text(target, buf.getvalue())
        return target


def _line(name: str, record: Record) -> str:
    return json.dumps({"name": name, "key": record.key, "files": record.files},
                      ensure_ascii=False, sort_keys=True) + "\n"
