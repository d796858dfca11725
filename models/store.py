"""Saving and loading detector versions, with the library versions and feature schema beside.

The API keeps versions in the database (:func:`dumps` / :func:`loads`, see
``vigilante.detection``); the folder functions serve offline tools.

A model saved by another scikit-learn or feature schema is refused (and retrained), never
half-loaded: unpickling across sklearn versions can silently change scores.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import pickle
import struct
import threading
import zlib
from datetime import datetime
from importlib.metadata import version as installed_version
from pathlib import Path

import numpy as np

from models.detector import Detector
from models.features import FEATURE_SCHEMA
from models.forest import FlatForest

log = logging.getLogger(__name__)
KEEP_VERSIONS = 5
# Read from the installed package, not by importing it: the API process never imports sklearn.
SKLEARN = installed_version("scikit-learn")


def _meta(detector: Detector) -> dict:
    return {
        "version": detector.version,
        "trained_at": detector.trained_at.isoformat(),
        "samples": detector.samples,
        "user_rows": detector.user_rows,
        "forest_tail": detector.forest_tail,
        "score_quantiles": detector.score_quantiles,
        "typical_row": detector.typical_row,
        "feature_schema": FEATURE_SCHEMA + FLAT_SCHEMA,
        "sklearn": SKLEARN,
        "numpy": np.__version__,
    }


def save(detector: Detector, folder: Path) -> Path:
    """Write ``<version>.joblib`` and ``<version>.json``, then point ``current.json`` at them."""
    import joblib

    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(detector.forest, folder / f"{detector.version}.joblib")
    (folder / f"{detector.version}.json").write_text(json.dumps(_meta(detector), indent=2))
    tmp = folder / f"current.json.{os.getpid()}.{threading.get_ident()}.tmp"
    tmp.write_text(json.dumps({"version": detector.version}))
    os.replace(tmp, folder / "current.json")  # atomic: a reader sees the old or the new one
    _prune(folder, keep=KEEP_VERSIONS)
    return folder / f"{detector.version}.joblib"


def _prune(folder: Path, keep: int) -> None:
    """Keep the newest ``keep`` versions on disk (and always the current one)."""
    current = current_version(folder)
    metas = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    metas = [p for p in metas if p.name != "current.json"]
    for meta in metas[keep:]:
        if meta.stem == current:
            continue
        for path in (meta, meta.with_suffix(".joblib")):
            with contextlib.suppress(OSError):
                path.unlink()


def current_version(folder: Path) -> str | None:
    """The version ``current.json`` points at, or None; cheap enough to poll."""
    try:
        return json.loads((folder / "current.json").read_text())["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


# Forest bytes in the database: ``FLAT_PREFIX``, the length of the flat trees' part (8 bytes,
# little-endian), that part, then the sklearn forest's part: each a pickle (protocol 5),
# compressed with zlib (level 1, in the trainer process). Loading reads only the flat trees,
# which score without scikit-learn; the sklearn forest stays beside them for offline tools.
# Compressed, a version of 20,000 expenses is ~0.5 MB instead of ~2.4: storing it held the
# write lock (every ingest waits for it) for ~25 ms, and five are kept per user.
# ``FLT1`` versions hold the same two pickles uncompressed. Older versions stored
# ``PICKLE_PREFIX`` + the sklearn pickle (the C pickler: ~8x faster than joblib, whose blobs,
# without a prefix, came before); those load by flattening the forest they hold (which
# imports scikit-learn).
FLAT_PREFIX = b"FLT2"
UNCOMPRESSED_PREFIX = b"FLT1"
FLAT_PREFIXES = (FLAT_PREFIX, UNCOMPRESSED_PREFIX)  # versions that load without scikit-learn
# Marked in the metadata too: code from before a format compares the feature schema, so a
# worker still running it (a rolling deploy, a rollback) refuses these versions and retrains,
# instead of failing on bytes it cannot read.
FLAT_SCHEMA = "|flt2"
_READABLE_SCHEMAS = ("", "|flt1", FLAT_SCHEMA)
PICKLE_PREFIX = b"PKL5"
_LENGTH = struct.Struct("<Q")


def dumps(detector: Detector) -> tuple[dict, bytes]:
    """The detector as (metadata, forest bytes): what the database keeps for each version."""
    flat = zlib.compress(pickle.dumps(detector.flat, protocol=5), 1)
    forest = zlib.compress(pickle.dumps(detector.forest, protocol=5), 1)
    return _meta(detector), FLAT_PREFIX + _LENGTH.pack(len(flat)) + flat + forest


def loads(meta: dict, blob: bytes) -> Detector | None:
    """The inverse of :func:`dumps`; None (logged) for another scikit-learn or feature schema."""
    if not _compatible(meta, meta.get("version")):
        return None
    prefix = bytes(blob[:4])
    if prefix in FLAT_PREFIXES:
        (length,) = _LENGTH.unpack_from(blob, 4)
        start = 4 + _LENGTH.size
        part = blob[start : start + length]
        flat = pickle.loads(zlib.decompress(part) if prefix == FLAT_PREFIX else part)
        if not isinstance(flat, FlatForest):
            raise ValueError("a stored version holds no flat forest")
        return _detector(meta, None, flat)
    if prefix == PICKLE_PREFIX:
        forest = pickle.loads(blob[len(PICKLE_PREFIX) :])
    else:
        import joblib

        forest = joblib.load(io.BytesIO(blob))
    return _detector(meta, forest)


def _compatible(meta: dict, version: str | None) -> bool:
    schema = meta.get("feature_schema")
    readable = [FEATURE_SCHEMA + mark for mark in _READABLE_SCHEMAS]
    if meta.get("sklearn") == SKLEARN and schema in readable:
        return True
    log.warning(
        "saved model %s was made with scikit-learn %s and features %s; this is %s and %s: "
        "it will be retrained",
        version,
        meta.get("sklearn"),
        meta.get("feature_schema"),
        SKLEARN,
        FEATURE_SCHEMA,
    )
    return False


def _detector(meta: dict, forest, flat: FlatForest | None = None) -> Detector:
    return Detector(
        version=meta["version"],
        trained_at=datetime.fromisoformat(meta["trained_at"]),
        samples=meta["samples"],
        user_rows=meta.get("user_rows", meta["samples"]),
        forest=forest,
        forest_tail=meta["forest_tail"],
        score_quantiles=meta["score_quantiles"],
        flat=flat,
        typical_row=meta.get("typical_row", []),  # versions stored before it: none
    )


def load_current(folder: Path) -> Detector | None:
    version = current_version(folder)
    if version is None:
        return None
    try:
        meta = json.loads((folder / f"{version}.json").read_text())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable saved model in %s: %s", folder, exc)
        return None
    if not _compatible(meta, version):
        return None
    import joblib

    return _detector(meta, joblib.load(folder / f"{version}.joblib"))
