"""The learned comparison of SiamesePairClassifier on records.

The head decides on a pair from per-field comparisons of the two records,
as the one-shot Siamese network of Koch et al. (2015) ends in a trained
layer on the component-wise distances of its twins' outputs instead of a
fixed threshold on one similarity. Per pair it reads:

- per field, the cosine of the two records' blocks of the encoder's output
  (the shared character n-gram twin, the same map for both records);
- per field, cheap agreement signals of the raw values
  (:func:`sksiamese.utils.field_signals.field_signals`): equal words, shared
  words, a shared code such as a model number, the Indel and Jaro-Winkler
  similarities of the characters, the token-set and Monge-Elkan
  similarities of the words, their 3-gram overlap and length ratio, the
  relative difference of numbers parsed from prices, percentages,
  durations or dates, a missing value;
- the text signals of the whole records (every field's value joined), which
  still agree when a value sits in another field in one of the two records
  (a brand pasted into the title, as in DeepMatcher's dirty sets).

It does not read the trained twins' cosines: the twins fit the training
pairs that the forest then learns from, so on those pairs their cosines
separate matches better than on new pairs, and the forest trusts them too
much and scores new pairs worse (measured in the user guide's "Entity
matching"). The trained twins give ``embed``, for blocking and search.

With ``head="twins"`` it also reads the trained twins' cosine of each pair,
out of fold: on a training pair, from twins trained on the other folds of
the training pairs (cross-fitting), so that the forest learns how much the
twins are worth on pairs they have not fitted; on new pairs, from the
estimator's own twins, trained on every training pair.

A random forest on these learns how they interact ("same model number,
different title wording" is a match; "similar wording, another code" is
not), which a weighted mean of per-field cosines cannot express. Missing
comparisons stay NaN, which the forest routes as unknown.
"""

import copy

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold

from .._engine.record_tuples import record_tuples
from ..utils.field_signals import field_signals
from ..utils.record_values import is_missing, numeric_like
from ..utils.rows import row_cosines, row_products
from ._text_records import _ID_FIELD
from ._tuple_base import _as_records, _concat

# Trees of the head's forest: its votes are the pair score that the threshold
# and calibration are learned on, so finer steps need more trees.
_N_TREES = 300
# Least pairs in a leaf: a leaf of one pair memorises it, and the held-out
# pairs then see over-confident scores
_MIN_LEAF = 2
# Folds of the cross-fitted twins of head="twins": each trains on 2/3 of the
# training pairs (their cosines then stand for the full twins' on new pairs)
# and each fold costs one more training of the twins
_TWIN_FOLDS = 3


def _block_cosines(A, B, slices):
    """Cosine of the two rows' columns of each block, one column per block
    (0 where a block is all zero)."""
    return [row_cosines(*row_products(A[:, s], B[:, s])) for s in slices]


def _joined(records, fields):
    """Each record's present values of ``fields``, joined by spaces."""
    return [
        " ".join(str(r.get(f)) for f in fields if not is_missing(r.get(f)))
        for r in records
    ]


class ComparisonHead:
    """The fitted head of one estimator: which fields it compares and how,
    and the forest that decides.

    Parameters
    ----------
    fields : list of str
        The record fields compared by their raw values.
    numeric_fields : list of str
        Those compared as numbers (numeric-like fields, see
        :func:`sksiamese.utils.record_values.numeric_like`).
    input_slices : list of slice
        The encoder's column blocks whose cosines the head reads.
    reads_twins : bool, default=False
        Whether the head also reads the twins' similarity of each pair.
    """

    def __init__(self, fields, numeric_fields, input_slices, reads_twins=False):
        self.fields = fields
        self.numeric_fields = numeric_fields
        self.input_slices = input_slices
        self.reads_twins = reads_twins

    @classmethod
    def for_estimator(cls, estimator, records):
        """The head of a fitted estimator on records (an ``(n, 2)`` array of
        record dicts): the fields and their kinds are those of the records."""
        encoder = getattr(estimator, "encoder_", None)
        if encoder is None:
            # a pretrained text backbone: its blocks of the text fields
            id_field, slices = _ID_FIELD, estimator._pretrained_field_slices()
        else:
            id_field = getattr(encoder, "id_field", None)
            slices = getattr(encoder, "field_slices_", {}).values()
        fields = [f for f in estimator.record_fields_ if f != id_field]
        flat = records.ravel()
        numeric = [f for f in fields if numeric_like([r.get(f) for r in flat])]
        # an encoder without field blocks (a user's): the whole row's cosine
        slices = [s for s in slices if s.stop > s.start] or [slice(None)]
        return cls(fields, numeric, slices, estimator.head == "twins")

    def features(self, records, items, tuples, twins=None):
        """The head's input: one row per pair (``twins``: the twins'
        similarity of each pair, read when ``reads_twins``)."""
        A, B = items[tuples[:, 0]], items[tuples[:, 1]]
        if hasattr(A, "tocsc"):
            A, B = A.tocsc(), B.tocsc()
        out = [np.column_stack(_block_cosines(A, B, self.input_slices))]
        for field in self.fields:
            left = [r.get(field) for r in records[:, 0]]
            right = [r.get(field) for r in records[:, 1]]
            out.append(field_signals(left, right, field in self.numeric_fields))
        if len(self.fields) > 1:
            # the whole records: a value moved to another field still agrees
            left, right = (_joined(records[:, i], self.fields) for i in (0, 1))
            out.append(field_signals(left, right, numeric=False))
        if self.reads_twins:
            out.append(np.asarray(twins, dtype=np.float64)[:, None])
        return np.hstack(out).astype(np.float64)

    def fit(self, features, y, seed):
        """Fit the forest; return ``(self, out-of-bag score of each pair)``,
        NaN for a pair that every tree saw."""
        # a column without any value in training gives the forest nothing
        self.kept_ = ~np.isnan(features).all(axis=0)
        self.forest_ = RandomForestClassifier(
            _N_TREES,
            min_samples_leaf=_MIN_LEAF,
            oob_score=True,
            n_jobs=1,
            random_state=seed,
        ).fit(features[:, self.kept_], y)
        oob = self.forest_.oob_decision_function_[:, 1]
        # only the score on new pairs is kept with the model
        del self.forest_.oob_decision_function_
        return self, oob

    # -- persistence: the forest's trees as plain arrays ------------------------
    # scikit-learn's Tree indexes its node arrays without bounds checks, so
    # skops trusts no Tree (a crafted file could read out of bounds). The head
    # stores each tree's nodes as plain arrays and rebuilds the trees on load
    # only after checking every child and feature index.

    def __getstate__(self):
        state = dict(self.__dict__)
        forest = state.get("forest_")
        if forest is None:
            return state
        forest = copy.copy(forest)
        trees, forest.estimators_ = [], []
        for estimator in self.forest_.estimators_:
            estimator = copy.copy(estimator)
            tree = estimator.__dict__.pop("tree_").__getstate__()
            nodes = tree.pop("nodes")
            tree.update({f"node_{name}": nodes[name] for name in nodes.dtype.names})
            trees.append(tree)
            forest.estimators_.append(estimator)
        state["forest_"], state["trees_"] = forest, trees
        return state

    def __setstate__(self, state):
        trees = state.pop("trees_", None)
        self.__dict__.update(state)
        if trees is None:
            return
        from sklearn.tree._tree import NODE_DTYPE, Tree

        for estimator, tree in zip(self.forest_.estimators_, trees, strict=True):
            n_features = estimator.n_features_in_
            count = int(tree["node_count"])
            nodes = np.empty(count, dtype=NODE_DTYPE)
            for name in NODE_DTYPE.names:
                nodes[name] = np.asarray(tree[f"node_{name}"])
            children = np.concatenate([nodes["left_child"], nodes["right_child"]])
            feature = nodes["feature"]
            values = np.asarray(tree["values"], dtype=np.float64)
            if (
                children.min(initial=-1) < -1
                or children.max(initial=-1) >= count
                or feature.min(initial=-2) < -2
                or feature.max(initial=-2) >= n_features
                or values.shape != (count, 1, 2)
            ):
                raise ValueError(
                    "The comparison head's stored trees index nodes or features "
                    "that do not exist: the file is damaged or was not written "
                    "by sksiamese."
                )
            rebuilt = Tree(n_features, np.array([2], dtype=np.intp), 1)
            rebuilt.__setstate__(
                {
                    "max_depth": int(tree["max_depth"]),
                    "node_count": count,
                    "nodes": nodes,
                    "values": values,
                }
            )
            estimator.tree_ = rebuilt

    def score(self, features):
        """The forest's probability that each pair matches."""
        return self.forest_.predict_proba(features[:, self.kept_])[:, 1]


class _HeadMixin:
    """What SiamesePairClassifier adds for the comparison head and a user's
    own validation pairs (kept here: the estimator's module is long)."""

    def _uses_head(self, positive_only):
        """Whether ``fit`` trains the comparison head (``head``)."""
        if self.head in ("forest", "twins") and not self._on_records():
            raise ValueError(
                f"head={self.head!r} compares the fields of records, but the pairs are "
                "not records; pass record pairs (a DataFrame with ltable_/rtable_ "
                "columns) or set head=None."
            )
        if self.head is None or not self._on_records() or positive_only:
            return False
        return self._uses_encoder() or self._on_text_records()

    @staticmethod
    def _head_rows(n_pairs, train, calib):
        """The pairs the head learns from: every pair not held out. The
        identity-disjoint hold-out drops the pairs that straddle it from the
        twins' training, so that the held-out entities stay new to the
        twins; the forest, whose threshold is learned out of bag, loses
        nothing by learning from them (a third of the pairs of the
        DeepMatcher sets straddle)."""
        if calib is None:
            return train
        return np.setdiff1d(np.arange(n_pairs), calib)

    def _fit_head(self, inputs, target, train, positive_only, training):
        """Fit ``head_`` on the training pairs of ``inputs`` (None when there
        is none); return the forest's out-of-bag score of each training
        pair."""
        self.head_ = None
        if not self._uses_head(positive_only) or len(np.unique(target[train])) < 2:
            return None
        records = inputs.records
        head = ComparisonHead.for_estimator(self, records)
        twins = None
        if head.reads_twins:
            twins = self._out_of_fold_twins(records[train], target[train], training)
        items, tuples = self._head_inputs(inputs.items, inputs.tuples[train])
        features = head.features(records[train], items, tuples, twins)
        self.head_, oob = head.fit(features, target[train], self._next_seed())
        return oob

    def _out_of_fold_twins(self, records, target, training):
        """The twins' similarity of each training pair, from twins trained
        (as this fit trains its own, without a head) on the other folds of
        the pairs. Twins score the pairs they fitted better than new ones,
        so the forest would trust their own twins' cosines too much."""
        n_folds = min(_TWIN_FOLDS, int(np.bincount(target).min()))
        seed = self._next_seed()
        out = np.empty(len(target))
        folds = StratifiedKFold(max(n_folds, 2), shuffle=True, random_state=seed)
        for k, (fit, held) in enumerate(folds.split(target, target)):
            twins = clone(self).set_params(
                head=None,
                pos_label=1,
                max_epochs=training.max_epochs,
                random_state=seed + k,
                verbose=0,
            )
            twins.fit(records[fit], target[fit])
            out[held] = twins.similarity(records[held])
        return out

    def _head_calibration(self, inputs, target, train, calib, oob):
        """The pairs, targets and head scores that the threshold and the
        calibration are learned on: the held-out pairs, scored by the head,
        and the training pairs by the trees that did not see them (the
        forest's out-of-bag score). The head learned from the training pairs,
        so its own score of them would be too sure; out of bag, every
        training pair is as good as a held-out one, and a small hold-out
        (Beer: 36 pairs) no longer decides the threshold alone."""
        seen = ~np.isnan(oob)
        parts = [train[seen]]
        scores = [oob[seen]]
        tuples = inputs.tuples
        if calib is not None:
            records = inputs.records[calib]
            parts.insert(0, calib)
            scores.insert(0, self._similarity(inputs.items, tuples[calib], records))
        index = np.concatenate(parts)
        return tuples[index], target[index], np.concatenate(scores)

    def _head_records(self, X):
        """The record pairs of ``X`` when the head reads them, else None."""
        if getattr(self, "head_", None) is None:
            return None
        return record_tuples(X, 2, type(self).__name__)

    def _head_inputs(self, items, tuples):
        """The rows whose per-field cosines the head reads, and the tuples
        as indices of them: the encoder's rows, or with a pretrained text
        backbone its field embeddings as pretrained (_text_records)."""
        if self._on_text_records():
            return self._pretrained_rows(items, tuples)
        return items, tuples

    def _embedding_similarity(self, items, tuples):
        """The similarity of the two embeddings of each pair."""
        return super()._similarity(items, tuples)

    def _similarity(self, items, tuples, records=None):
        if getattr(self, "head_", None) is None:
            return self._embedding_similarity(items, tuples)
        twins = None
        if getattr(self.head_, "reads_twins", False):
            twins = self._embedding_similarity(items, tuples)
        rows, tuples = self._head_inputs(items, tuples)
        features = self.head_.features(records, rows, tuples, twins)
        return self.head_.score(features)

    def _check_validation_data(self, validation_data):
        if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
            raise ValueError(
                "validation_data must be a tuple (X_valid, y_valid) of pairs and "
                f"their labels; got {type(validation_data).__name__}."
            )
        X_valid, y_valid = validation_data
        if y_valid is None:
            raise ValueError("validation_data needs the labels y_valid of its pairs.")
        return _as_records(X_valid, 2, type(self).__name__), y_valid

    def _with_validation(self, inputs, X, y, target, X_valid, y_valid):
        """Append the validation pairs to the training ones: they are the
        held-out part (``calib``), every training pair trains."""
        valid = self._read_tuples(X_valid, reset=False)
        target_v = self._check_y(valid.tuples, y_valid, reset=False)
        n = len(inputs.tuples)
        inputs = inputs.joined(valid)
        target = np.concatenate([target, target_v])
        X = _concat(X, X_valid)
        y = np.concatenate([np.asarray(y), np.asarray(y_valid)])
        self.holdout_ = "validation_data"
        train, calib = np.arange(n), np.arange(n, len(inputs.tuples))
        return inputs, X, y, target, train, calib
