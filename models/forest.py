"""IsolationForest and an exact, fast scorer that walks its fitted trees from flat arrays.

scikit-learn's ``score_samples`` spends ~3 ms per call on per-tree dispatch, whatever the number
of rows. :class:`FlatForest` copies the fitted trees into padded numpy arrays once and walks all
trees together, reproducing sklearn's arithmetic step by step (float32 inputs, depth plus the
average path length correction at the leaf, summed tree by tree) so the score is bit-for-bit
the one ``score_samples`` returns.

Sign convention: sklearn's ``score_samples`` is lower = more abnormal. Here
:meth:`FlatForest.anomaly` returns ``-score_samples`` (in (0, 1], higher = more anomalous);
this is the one place the sign flips.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

# scikit-learn is imported where a forest is fitted or flattened, not here: the API process
# only scores, from the flat arrays, and leaving sklearn (with the SciPy and pandas it pulls
# in) to the trainer process keeps ~170 MB out of the API's memory.


def _load_walker():
    """The compiled walk (``models/_walk.c``, built by ``make``), or None: numpy then."""
    try:
        # PyDLL keeps the GIL for the call: a walk takes microseconds, and giving the GIL up
        # and taking it back costs the ingest thread a wait behind the event loop each time.
        lib = ctypes.PyDLL(str(Path(__file__).with_name("_walk.so")))
        fn, one = lib.forest_depths, lib.forest_depth_one
    except (OSError, AttributeError):  # not built, or built from an older _walk.c
        return None
    # Addresses as plain integers: the cheapest call ctypes offers (one POST /event).
    pointer, count = ctypes.c_void_p, ctypes.c_int64
    fn.argtypes = [pointer, count, count] + [pointer] * 5 + [count, pointer]
    fn.restype = None
    # The row goes in as bytes: ctypes passes their buffer, cheaper than numpy's .ctypes.
    one.argtypes = [ctypes.c_char_p] + [pointer] * 5 + [count]
    one.restype = ctypes.c_double
    return fn, one


_WALK, _WALK_ONE = _load_walker() or (None, None)
BACKEND = "c" if _WALK is not None else "numpy"


def fit_forest(X: np.ndarray, seed: int = 0, n_estimators: int = 100):
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(
        n_estimators=n_estimators, max_samples=min(256, len(X)), random_state=seed
    )
    return forest.fit(X)


class FlatForest:
    """The trees of a fitted IsolationForest as flat arrays, walked for many rows at once.

    It pickles as its arrays alone (a few MB), so a process can score without scikit-learn.
    """

    _ARRAYS = ("feature", "threshold", "children", "leaf_value", "roots")

    def __init__(self, forest):
        from sklearn.ensemble._iforest import _average_path_length

        trees = [est.tree_ for est in forest.estimators_]
        width = max(t.node_count for t in trees)
        n_trees = len(trees)
        feature = np.zeros((n_trees, width), dtype=np.intp)
        threshold = np.zeros((n_trees, width), dtype=np.float64)
        children = np.zeros((n_trees, width, 2), dtype=np.intp)
        leaf_value = np.zeros((n_trees, width), dtype=np.float64)
        max_depth = 0
        for i, (tree, features) in enumerate(zip(trees, forest.estimators_features_, strict=True)):
            n = tree.node_count
            is_leaf = tree.children_left[:n] == -1
            own = np.arange(n) + i * width
            # Map each tree's own feature subset back to the full row; leaves loop to themselves.
            feature[i, :n] = np.where(is_leaf, 0, np.asarray(features)[tree.feature[:n].clip(0)])
            threshold[i, :n] = np.where(is_leaf, np.inf, tree.threshold[:n])
            children[i, :n, 0] = np.where(is_leaf, own, tree.children_left[:n] + i * width)
            children[i, :n, 1] = np.where(is_leaf, own, tree.children_right[:n] + i * width)
            # sklearn counts the root as depth 1; same expression as its _compute_score_samples.
            depths = tree.compute_node_depths()[:n]
            leaf_value[i, :n] = depths + _average_path_length(tree.n_node_samples[:n]) - 1.0
            max_depth = max(max_depth, int(depths.max()))
        self.n_features = forest.n_features_in_
        self.feature = feature.ravel()
        self.threshold = threshold.ravel()
        self.children = children.ravel()
        self.leaf_value = leaf_value.ravel()
        self.max_depth = max_depth
        self.roots = np.arange(n_trees, dtype=np.intp) * width
        self.denominator = n_trees * _average_path_length([forest._max_samples])

        self._ready()

    def _ready(self) -> None:
        self._denominator_one = np.float64(np.ravel(self.denominator)[0])
        # Addresses for the compiled walk, taken once (the arrays above never change).
        self._addresses = tuple(getattr(self, name).ctypes.data for name in self._ARRAYS)

    def __getstate__(self) -> dict:
        names = self._ARRAYS + ("n_features", "max_depth", "denominator")
        return {name: getattr(self, name) for name in names}

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            if name in self._ARRAYS:  # the compiled walk reads them as plain C arrays
                value = np.ascontiguousarray(value)
            setattr(self, name, value)
        self._ready()

    def anomaly(self, X: np.ndarray, backend: str = BACKEND) -> np.ndarray:
        """Anomaly score per row in (0, 1], higher = more anomalous (== -score_samples)."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float32)).astype(np.float64)
        if backend == "c" and len(X) == 1:
            return self._one_c(X[0])
        depths = self._depths_c(X) if backend == "c" else self._depths_numpy(X)
        return 2 ** (
            -np.divide(
                depths, self.denominator, out=np.ones_like(depths), where=self.denominator != 0
            )
        )

    def _depths_c(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X)
        out = np.empty(len(X), dtype=np.float64)
        feature, threshold, children, leaf_value, roots = self._addresses
        n_trees = len(self.roots)
        _WALK(X.ctypes.data, len(X), X.shape[1], feature, threshold, children, leaf_value,
              roots, n_trees, out.ctypes.data)  # fmt: skip
        return out

    def _one_c(self, row: np.ndarray) -> np.ndarray:
        """One row: ~8 µs less numpy around the walk; the same arithmetic as the batch."""
        feature, threshold, children, leaf_value, roots = self._addresses
        depth = _WALK_ONE(
            row.tobytes(), feature, threshold, children, leaf_value, roots, len(self.roots)
        )
        if self._denominator_one == 0:
            return np.array([0.5])
        # Array arithmetic, as in the batch: numpy's pow on arrays may differ in the last bit
        # from its scalar pow, and sklearn's score is the array one.
        return 2 ** -(np.array([depth]) / self._denominator_one)

    def _depths_numpy(self, X: np.ndarray) -> np.ndarray:
        n_rows = len(X)
        flat_x = X.ravel()
        row_base = (np.arange(n_rows, dtype=np.intp) * X.shape[1])[:, None]
        node = np.broadcast_to(self.roots, (n_rows, len(self.roots))).copy()
        for _ in range(self.max_depth - 1):
            value = flat_x.take(row_base + self.feature.take(node))
            go_right = value > self.threshold.take(node)
            node = self.children.take(node * 2 + go_right)
        # Sequential sum in tree order, exactly as sklearn accumulates depths.
        return np.cumsum(self.leaf_value.take(node), axis=1)[:, -1]
