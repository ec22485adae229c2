"""Content-addressed thumbnail store: ``<media_root>/<sha1[:2]>/<sha1>.<ext>``.

The key is the *file's* sha1 from Commons (``imageinfo.sha1`` / ``img_sha1``), not a hash of
the stored bytes: thumbnails are re-encoded by Wikimedia's scalers, so their bytes differ
from the original's (and may change when the scaler does), while the file sha1 names the
image version.  An image used on many wikis, or under several names, is stored once.

Writes are atomic (a temp file named for this writer alone, fsync, rename), so a crash never
leaves a half image under a final name; :meth:`MediaStore.find` therefore treats "exists" as
"complete".  Several fetch tasks share one store (the ``commons_upload`` pool has 2 slots),
so :meth:`MediaStore.clean_temporaries` removes only temporary files older than a safe age,
never another writer's file in flight.  Per-shard resume markers live in ``<media_root>/_shards/``.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path

from wikivis.vocab import STAGED_GLOB, atomic_write_bytes

_SHA1_RE = re.compile(r"^[0-9a-f]{40}$")

#: extensions a stored thumbnail can have, most common first (lookup order of :meth:`find`)
EXTENSIONS = ("jpg", "png", "gif", "webp", "tif")

#: Pillow format → stored extension
FORMAT_EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "TIFF": "tif"}


def check_sha1(sha1: str) -> str:
    if not _SHA1_RE.fullmatch(sha1 or ""):
        raise ValueError(f"not a hex sha1: {sha1!r}")
    return sha1


class MediaStore:
    """The thumbnail store under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def shards_dir(self) -> Path:
        return self.root / "_shards"

    def relative_path(self, sha1: str, ext: str) -> str:
        check_sha1(sha1)
        return f"{sha1[:2]}/{sha1}.{ext}"

    def path(self, sha1: str, ext: str) -> Path:
        return self.root / self.relative_path(sha1, ext)

    def find(self, sha1: str) -> Path | None:
        """The stored file for ``sha1`` (any extension), or None."""
        check_sha1(sha1)
        folder = self.root / sha1[:2]
        for ext in EXTENSIONS:
            candidate = folder / f"{sha1}.{ext}"
            if candidate.is_file():
                return candidate
        return None

    def put(self, sha1: str, ext: str, data: bytes) -> Path:
        """Store ``data`` atomically; returns the final path."""
        if ext not in EXTENSIONS:
            raise ValueError(f"unsupported extension {ext!r}")
        final = self.path(sha1, ext)
        atomic_write_bytes(final, data)
        return final

    def clean_temporaries(self, min_age: timedelta = timedelta(hours=1)) -> int:
        """Remove temp files that crashed writers left more than ``min_age`` ago; returns how many.

        A younger temp file may belong to a writer that is still running in another process."""
        removed = 0
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - min_age.total_seconds()
        for folder in self.root.iterdir():
            if folder.is_dir() and len(folder.name) == 2:
                for tmp in folder.glob(STAGED_GLOB):
                    try:
                        if tmp.stat().st_mtime <= cutoff:
                            tmp.unlink()
                            removed += 1
                    except FileNotFoundError:  # its writer renamed or removed it meanwhile
                        continue
        return removed
