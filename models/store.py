"""Saving and loading detector versions, with the library versions and feature schema beside.

A model saved by another scikit-learn or feature schema is refused (and retrained), never
half-loaded: unpickling across sklearn versions can silently change scores.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path

import joblib
import numpy as np
import sklearn

from models.detector import Detector
from models.features import FEATURE_SCHEMA

log = logging.getLogger(__name__)


def _meta(detector: Detector) -> dict:
    return {
        "version": detector.version,
        "trained_at": detector.trained_at.isoformat(),
        "samples": detector.samples,
        "forest_quantiles": list(detector.forest_quantiles),
        "score_quantiles": detector.score_quantiles,
        "feature_schema": FEATURE_SCHEMA,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
    }


def save(detector: Detector, folder: Path) -> Path:
    """Write ``<version>.joblib`` and ``<version>.json``, then point ``current.json`` at them."""
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(detector.forest, folder / f"{detector.version}.joblib")
    (folder / f"{detector.version}.json").write_text(json.dumps(_meta(detector), indent=2))
    tmp = folder / "current.json.tmp"
    tmp.write_text(json.dumps({"version": detector.version}))
    os.replace(tmp, folder / "current.json")  # atomic: a reader sees the old or the new one
    return folder / f"{detector.version}.joblib"


def load_current(folder: Path) -> Detector | None:
    pointer = folder / "current.json"
    if not pointer.exists():
        return None
    try:
        version = json.loads(pointer.read_text())["version"]
        meta = json.loads((folder / f"{version}.json").read_text())
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable saved model in %s: %s", folder, exc)
        return None
    if meta.get("sklearn") != sklearn.__version__ or meta.get("feature_schema") != FEATURE_SCHEMA:
        log.warning(
            "saved model %s was made with scikit-learn %s and features %s; this is %s and %s: "
            "it will be retrained",
            version,
            meta.get("sklearn"),
            meta.get("feature_schema"),
            sklearn.__version__,
            FEATURE_SCHEMA,
        )
        return None
    forest = joblib.load(folder / f"{version}.joblib")
    return Detector(
        version=meta["version"],
        trained_at=datetime.fromisoformat(meta["trained_at"]),
        samples=meta["samples"],
        forest=forest,
        forest_quantiles=tuple(meta["forest_quantiles"]),
        score_quantiles=meta["score_quantiles"],
    )
