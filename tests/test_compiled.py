"""The Cython builds of the detector's per-expense modules: used, exact, never stale."""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
import sys
import sysconfig
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

import models.detector as detector
import models.evidence as evidence
import models.explain as explain
import models.features as features
from models.compiled import BUILD, build_name, take_over
from vigilante.history import event_key
from vigilante.simulate import Simulator

MODELS = Path(features.__file__).resolve().parent


def _as_python(*stems: str) -> list:
    """The modules run from their source as Python, beside the compiled ones in use; each
    imports the Python ones loaded before it (evidence gets the Python features)."""
    loaded, swapped = [], {}
    try:
        for stem in stems:
            spec = importlib.util.spec_from_file_location(f"python_{stem}", MODELS / f"{stem}.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses look their module up while it runs
            spec.loader.exec_module(module)
            del sys.modules[spec.name]
            swapped[f"models.{stem}"] = sys.modules[f"models.{stem}"]
            sys.modules[f"models.{stem}"] = module
            loaded.append(module)
    finally:
        sys.modules.update(swapped)
    return loaded


def _can_compile() -> bool:
    """Cython, a C compiler and Python's headers: what `make` needs to build the modules."""
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    cython = importlib.util.find_spec("Cython") is not None
    return cython and shutil.which("cc") is not None and headers.exists()


@pytest.mark.skipif(not _can_compile(), reason="no Cython, C compiler or Python headers")
def test_the_compiled_detector_is_built_and_used_where_a_compiler_exists():
    # `make` builds them; were they missing, every expense would cost twice the CPU.
    assert features.COMPILED and evidence.COMPILED and detector.COMPILED and explain.COMPILED
    assert type(features.SpenderHistory.features).__name__ == "cython_function_or_method"
    assert features.SpenderHistory.__module__ == "models.features"  # pickles by this name


def _stream(seed: int, **params):
    sim = Simulator(seed=seed, start=datetime(2026, 3, 1, tzinfo=UTC), **params)
    return [s.payload for s in sim.history(days=40)]


@pytest.mark.parametrize(
    "params",
    [
        {"accounts": 12},
        {"accounts": 10, "anomaly_rate": 0.1, "night_owls": 0.5, "hard_negative_rate": 3.0},
    ],
)
def test_compiled_detector_is_bit_identical_to_python(params):
    if not features.COMPILED:
        pytest.skip("not compiled here")
    python_features, python_evidence, python_detector, python_explain = _as_python(
        "features", "evidence", "detector", "explain"
    )
    assert python_evidence.t_density is python_features.t_density  # Python all the way down
    assert not python_features.COMPILED
    histories = [features.SpenderHistory(), python_features.SpenderHistory()]
    payloads = _stream(3, **params)
    assert len(payloads) > 1500
    added, vectors, weighed_all, python_weighed_all = [], [], [], []
    for n, p in enumerate(payloads):
        ts = int(datetime.fromisoformat(p["occurred_at"]).timestamp() * 1000)
        fields = (ts, round(p["amount"] * 100), event_key(p["category"]))
        events = [
            module.Event(*fields, event_key(p.get("merchant")), p.get("account", ""), id=n + 1)
            for module in (features, python_features)
        ]
        if n % 97 == 96:  # some feedback on an earlier expense: dismissed, confirmed patterns
            label = "legit" if n % 2 else "fraud"
            for history, event in zip(histories, added[-5], strict=True):
                event.feedback_repeat = n % 3 == 0  # as if flagged as a repeat: excuses repeats
                history.set_feedback(event, label)
        (vector, ctx), (py_vector, py_ctx) = (
            h.features(e) for h, e in zip(histories, events, strict=True)
        )
        assert vector.tobytes() == py_vector.tobytes(), n
        assert dataclasses.asdict(ctx) == dataclasses.asdict(py_ctx), n
        weighed, py_weighed = evidence.weigh(ctx), python_evidence.weigh(py_ctx)
        assert weighed.llr == py_weighed.llr, n
        assert [(e.code, e.llr, e.params) for e in weighed.evidence] == [
            (e.code, e.llr, e.params) for e in py_weighed.evidence
        ], n
        for history, event in zip(histories, events, strict=True):
            history.add(event)
        added.append(events)
        vectors.append(vector)
        weighed_all.append(weighed)
        python_weighed_all.append(py_weighed)

    # Verdicts (forest, threshold, severity, ranked evidence) and the reasons in both languages.
    fitted = detector.Detector.train(np.vstack(vectors), [w.llr for w in weighed_all], seed=1)
    fields = ("version", "samples", "flat", "forest_tail", "score_quantiles")
    python_fitted = python_detector.Detector(**{f: getattr(fitted, f) for f in fields})
    for rate in (0.01, 0.03):
        verdicts = fitted.verdicts(vectors, weighed_all, rate)
        python_verdicts = python_fitted.verdicts(vectors, python_weighed_all, rate)
        for n, (v, pv) in enumerate(zip(verdicts, python_verdicts, strict=True)):
            assert (v.score, v.is_anomaly, v.severity, v.explicit) == (
                pv.score, pv.is_anomaly, pv.severity, pv.explicit
            ), n  # fmt: skip
            assert [(e.code, e.llr) for e in v.evidence] == [(e.code, e.llr) for e in pv.evidence]
            for lang in ("pt-BR", "en"):
                assert explain.reasons(v.evidence, lang) == python_explain.reasons(
                    pv.evidence, lang
                )
    assert any(v.is_anomaly for v in verdicts)


def test_an_edited_source_runs_as_python_until_it_is_built_again(tmp_path):
    if not features.COMPILED:
        pytest.skip("not compiled here")
    same = tmp_path / "same" / "features.py"
    edited = tmp_path / "edited" / "features.py"
    for path in (same, edited):
        path.parent.mkdir()
        shutil.copyfile(MODELS / "features.py", path)
    edited.write_text(edited.read_text() + "\n# one more line\n")
    assert build_name(same) == build_name(MODELS / "features.py") != build_name(edited)
    namespace = {"__file__": str(edited), "__name__": "models.features"}
    assert take_over(namespace, BUILD) is False
    assert namespace == {"__file__": str(edited), "__name__": "models.features"}
    namespace = {"__file__": str(same), "__name__": "models.features"}
    assert take_over(namespace, BUILD) is True
    assert "SpenderHistory" in namespace and "take_over" in namespace
