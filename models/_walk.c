/* Walk the trees of models/forest.py (FlatForest) for many rows, or for one.
 *
 * The same arithmetic as the numpy walk and as scikit-learn's score_samples: each row's
 * values were cast to float32 and back by the caller; a node sends a row right when its
 * value is above the threshold; each row's depth is the sum of its leaves' values in tree
 * order (float64, one addition per tree, in that order), so the result is bit-for-bit the
 * same. Built by `make` (cc -O2 -ffp-contract=off); without a compiler the numpy walk is used.
 *
 * The nodes come packed 16 bytes each (FlatForest._pack), four to a cache line, so a whole
 * forest fits in a core's L2 cache: one expense's walk runs with the cache cold (the server
 * did other work in between), and from the numpy walk's four 8-byte-per-node arrays it took
 * three to four times as long as the same walk repeated. The threshold is kept as the
 * largest float32 not above scikit-learn's float64 one: for a float32 value x, x > t exactly
 * when x > that float32, so the walk goes the same way.
 */
#include <stdint.h>

typedef struct {
    union {
        struct {
            float threshold; /* an inner node */
            int32_t left;
        } split;
        double leaf; /* a leaf: its depth plus the average path length correction */
    } at;
    int32_t feature; /* -1 at a leaf */
    int32_t right;
} node_t;

static double depth_of(const double *row, const node_t *nodes, int64_t n_trees, int64_t width)
{
    double depth = 0.0;
    for (int64_t t = 0; t < n_trees; t++) {
        const node_t *node = nodes + t * width;
        while (node->feature >= 0)
            node = nodes + (row[node->feature] > (double)node->at.split.threshold
                                ? node->right
                                : node->at.split.left);
        depth += node->at.leaf;
    }
    return depth;
}

void forest_depths_16(const double *x, int64_t n_rows, int64_t n_cols, const node_t *nodes,
                      int64_t n_trees, int64_t width, double *out)
{
    for (int64_t r = 0; r < n_rows; r++)
        out[r] = depth_of(x + r * n_cols, nodes, n_trees, width);
}

/* One row (a POST /event): the depth returned directly. */
double forest_depth_one_16(const double *row, const node_t *nodes, int64_t n_trees, int64_t width)
{
    return depth_of(row, nodes, n_trees, width);
}
