"""The fast scorer gives exactly scikit-learn's score, bit for bit, on any input."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from models import forest as forest_module
from models.features import FEATURE_NAMES
from models.forest import FlatForest, fit_forest

WIDTH = len(FEATURE_NAMES)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(7)
    X = rng.standard_t(3, size=(3000, WIDTH))
    X[:, 7] = rng.random(3000) < 0.02  # a mostly-constant flag, like the duplicate feature
    forest = fit_forest(X, seed=3)
    return forest, FlatForest(forest)


BACKENDS = ["numpy"] + (["c"] if forest_module.BACKEND == "c" else [])


def same(forest, flat, X):
    """Every walk this machine has (numpy, and the compiled one) gives sklearn's exact score."""
    expected = -forest.score_samples(X)
    for backend in BACKENDS:
        got = flat.anomaly(X, backend=backend)
        assert got.dtype == expected.dtype
        assert np.array_equal(got, expected), (backend, np.max(np.abs(got - expected)))


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler: numpy walk only")
def test_the_compiled_walk_is_built_and_used_where_a_compiler_exists():
    # `make` builds models/_walk.so; were it missing, scoring would silently be 4x slower.
    assert forest_module.BACKEND == "c"


def test_random_rows_score_exactly_as_sklearn(fitted):
    rng = np.random.default_rng(11)
    same(*fitted, rng.normal(0, 3, size=(2000, WIDTH)))
    same(*fitted, rng.normal(0, 3, size=(1, WIDTH)))  # one row, as one POST /event


def test_rows_scored_one_at_a_time_match_sklearn_one_at_a_time(fitted):
    # One POST /event scores a single row, by a path of its own in the compiled walk. (numpy's
    # pow may differ in the last bit between a 1-row and a long array, so compare like with like.)
    rng = np.random.default_rng(13)
    rows = np.vstack(
        [rng.normal(0, 3, size=(120, WIDTH)), rng.choice([-1e30, 0.0, 1e30], (30, WIDTH))]
    )
    for row in rows:
        same(*fitted, row[None, :])


def test_extreme_rows_score_exactly_as_sklearn(fitted):
    big = np.finfo(np.float32).max
    rows = [
        np.zeros(WIDTH),
        np.full(WIDTH, big),
        np.full(WIDTH, -big),
        np.full(WIDTH, 1e-45),  # float32 denormal
    ]
    rng = np.random.default_rng(5)
    mixed = rng.choice([-big, big, 0.0, -1e-30, 1e30], size=(500, WIDTH))
    forest, flat = fitted
    X = np.vstack([np.vstack(rows), mixed])
    same(forest, flat, X)


def test_values_on_and_next_to_every_split_threshold(fitted):
    forest, flat = fitted
    rows = []
    rng = np.random.default_rng(9)
    for est, features in zip(forest.estimators_[:20], forest.estimators_features_, strict=False):
        tree = est.tree_
        for node in np.flatnonzero(tree.children_left != -1)[:15]:
            t = tree.threshold[node]
            for value in (t, np.nextafter(np.float32(t), np.float32(np.inf)), np.float32(t)):
                row = rng.normal(0, 2, WIDTH)
                row[features[tree.feature[node]]] = value
                rows.append(row)
    same(forest, flat, np.array(rows))


def test_a_forest_on_few_samples_with_shallow_trees(fitted):
    rng = np.random.default_rng(1)
    small = fit_forest(rng.normal(size=(60, WIDTH)), seed=0, n_estimators=25)
    same(small, FlatForest(small), rng.normal(0, 5, size=(300, WIDTH)))


def test_one_row_gets_the_same_forest_evidence_as_a_batch():
    from models.detector import Detector

    rng = np.random.default_rng(0)
    detector = Detector.train(rng.normal(size=(1500, WIDTH)), np.zeros(1500))
    rows = rng.normal(0, 2, size=(300, WIDTH))
    anomaly = np.concatenate([detector._flat.anomaly(rows), detector.forest_tail, [0.0, 1.0]])
    batch = detector.forest_llr(anomaly)
    one_by_one = [detector._forest_llr_list(anomaly[i : i + 1])[0] for i in range(len(anomaly))]
    assert np.array_equal(batch, np.array(one_by_one))
