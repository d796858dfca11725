/* Walk the flat IsolationForest arrays of models/forest.py (FlatForest) for many rows.
 *
 * The same arithmetic as the numpy walk and as scikit-learn's score_samples: each row's
 * values were cast to float32 and back by the caller; a node sends a row right when its
 * value is above the threshold; a leaf points to itself; each row's depth is the sum of its
 * leaves' values in tree order (float64, one addition per tree, in that order), so the
 * result is bit-for-bit the same. Built by `make` (cc -O2 -ffp-contract=off); without a
 * compiler the numpy walk is used.
 */
#include <stddef.h>
#include <stdint.h>

void forest_depths(const double *x, int64_t n_rows, int64_t n_cols, const intptr_t *feature,
                   const double *threshold, const intptr_t *children, const double *leaf_value,
                   const intptr_t *roots, int64_t n_trees, double *out)
{
    for (int64_t r = 0; r < n_rows; r++) {
        const double *row = x + r * n_cols;
        double depth = 0.0;
        for (int64_t t = 0; t < n_trees; t++) {
            intptr_t node = roots[t];
            for (;;) {
                intptr_t left = children[2 * node];
                if (left == node) break; /* a leaf */
                node = children[2 * node + (row[feature[node]] > threshold[node])];
            }
            depth += leaf_value[node];
        }
        out[r] = depth;
    }
}

/* One row (a POST /event): the same walk, the depth returned directly. */
double forest_depth_one(const double *row, const intptr_t *feature, const double *threshold,
                        const intptr_t *children, const double *leaf_value,
                        const intptr_t *roots, int64_t n_trees)
{
    double depth = 0.0;
    for (int64_t t = 0; t < n_trees; t++) {
        intptr_t node = roots[t];
        for (;;) {
            intptr_t left = children[2 * node];
            if (left == node) break;
            node = children[2 * node + (row[feature[node]] > threshold[node])];
        }
        depth += leaf_value[node];
    }
    return depth;
}
