"""SiamesePairClassifier: verification of labelled pairs."""

from numbers import Real

import numpy as np
import torch
from sklearn.base import (
    ClassifierMixin,
    _fit_context,
)
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import (
    column_or_1d,
)

from .._engine.record_tuples import stored
from .._engine.selection_scores import pair_auc
from ..modules import FieldwiseMLP
from ..utils.validation import (
    check_class_labels,
    check_label_kind,
)
from ._base import _init_index
from ._comparison_head import _HeadMixin
from ._docstrings import fill_doc
from ._label_guard import conventional_positive, warn_if_labels_inverted
from ._params import is_auto
from ._transaction import transactional
from ._tuple_base import (
    _as_records,
    _concat,
    _take,
    _TupleBase,
)
from ._verification import _REPLAY_PAIRS, _Verification

# Replayed pairs per feedback pair in partial_fit: a few reported mistakes are
# learned without pulling the rest of the model after them (measured on
# standardised digits pairs, 20 mistakes, 8 seeds, threshold re-learned on
# the held-out pairs: 1 replayed pair each cost 0.049 of held-out accuracy,
# 20 each 0.001 (worst 0.015), 50 each none (+0.002, worst -0.008)).
_FEEDBACK_REPLAY = 50
# Twin epochs with the comparison head and max_epochs="auto": the head does
# not read the twins (their cosines of training pairs are too sure for it),
# so they serve embed only; on Amazon-Google the blocking recall at 5
# candidates of 2 epochs is no lower than that of twins trained to early
# stopping, in a fifth of the fit time (bench_deepmatcher).
_HEAD_TWIN_EPOCHS = 2
# Twin epochs with the head on records with a pretrained text backbone and
# max_epochs="auto": none. The head reads the encoder as pretrained; the
# fine-tuned twins, cross-fitted into the head (head="twins"), tied the
# frozen head on Beer's and iTunes-Amazon's valid pairs (F1 84.8, 96.4) in
# 15-26x the fit time, lost in Beer's cross-validation (88.8 against 93.1)
# and won only on Amazon-Google's valid pairs (71.0 against 66.8) in 22x
# the fit time (bench_pretrained_fields)
_PRETRAINED_HEAD_EPOCHS = 0


class SiamesePairClassifier(ClassifierMixin, _Verification, _HeadMixin, _TupleBase):
    """Siamese network that verifies pairs: similar or not.

    Trained with the contrastive loss on labelled pairs; the similarity of a
    new pair is computed from the distance between its two embeddings.
    ``predict`` compares it with a threshold learned on held-out training
    pairs, ``predict_proba`` is a logistic calibration of it fitted on the same
    pairs; these share no item with the pairs the network trains on (see
    ``validation_fraction``), so the threshold suits new items.

    Parameters
    ----------
    {network}
    loss : {"contrastive", "mnrl"} or torch.nn.Module, default="contrastive"
        Loss on the pairs of a batch, called as ``loss(embeddings, None,
        (a1, p, a2, n))`` with the rows of similar ``(a1, p)`` and dissimilar
        ``(a2, n)`` pairs in the stacked batch. "mnrl": the multiple-negatives
        ranking loss (:class:`~sksiamese.losses.MultipleNegativesRankingLoss`),
        which ranks each similar pair's second item above the second items of
        all other pairs of the batch (in-batch negatives, more with a bigger
        ``batch_size``): for mostly-similar pairs such as duplicate questions,
        and the usual loss to fine-tune a pretrained text backbone.
    margin : float, default=None
        Margin of the contrastive loss (1.0 when None), the same as
        ``loss__margin``: dissimilar pairs are pushed at least this far
        apart. "mnrl" has no margin and raises a ValueError unless it is
        None: its scale of the cosine similarities (20 by default) is
        ``loss__scale``. With a loss instance, the margin is set on its
        copy.
    distance : {"euclidean", "cosine"} or distance module, default="cosine"
        Distance between embeddings.
    in_batch_negatives : bool, default=False
        Also push each similar pair's first item away from the closest second
        item of the other pairs in its batch (hard negatives for free). Use it
        when the pairs of a batch rarely share a class, e.g. duplicate
        questions; leave it off when many pairs come from a few classes.
    pos_label : label or None, default=None
        The label meaning "similar". None takes it from a convention that
        fixes it: ``True`` of booleans, ``1`` of {0, 1} or of {-1, 1}; any
        other labels (strings such as "match" / "non-match", {1, 2} ...)
        raise a ``ValueError`` in ``fit`` asking for ``pos_label``, as
        scikit-learn's scorers do, since their order ("non-match" >
        "match") says nothing about which one is similar. Some data use the opposite
        convention (1 = dissimilar, as in Hadsell et al.'s contrastive loss):
        ``fit`` warns when the pairs labelled ``pos_label`` are clearly
        farther apart in the input than the others, i.e. when the ROC AUC of
        the input's own similarity for these labels (the better of the cosine
        similarity and minus the Euclidean distance, of the numeric rows or
        of the ``encoder``'s output) is below 0.35 and 3 standard errors
        below the 0.5 of labels unrelated to the input, over at least 20
        pairs. Pairs that the input ranks upside down on purpose (synonyms
        that share no characters, with a character encoder) warn as well.
        Not checked for backbones that embed raw items.
    threshold : "auto" or float, default="auto"
        Similarity at and above which a pair is predicted similar. "auto"
        learns the accuracy-maximising threshold on the held-out pairs,
        midway between the held-out similarities on either side of it (on
        every pair when model selection kept the untrained network, which
        learned from none); with a comparison head (``head``) on records,
        the threshold of the best F1 of the similar (matching) pairs
        instead, the measure entity matching is judged by, as matches are
        rare among candidate pairs; see also :meth:`calibrate_threshold`.
    head : {"auto", "forest", "twins"} or None, default="auto"
        What decides on a pair. None: its similarity (the cosine of the two
        embeddings) against ``threshold``. "forest": a learned per-field
        comparison of the records, for pairs of records only (see the user
        guide's "Entity matching"): a random forest, trained on the
        training pairs, on the cosine of each field's block of the
        encoder's output and cheap per-field agreement signals of the raw
        values (equal and shared words, a shared code such as a model
        number, Indel and Jaro-Winkler similarities, the relative
        difference of numbers read from prices, percentages, durations and
        dates, missing values); ``similarity`` is then the forest's score,
        which ``threshold`` and the calibration apply to, and ``embed``
        still returns the twins' embedding (for blocking), which then
        trains 2 epochs with ``max_epochs="auto"`` (its only use is
        blocking, whose recall more epochs do not raise). "twins": the
        forest also reads the trained twins' cosine of each pair, learned
        out of fold (twins trained on 2/3 of the training pairs score the
        other third, three times), as the twins' cosines on pairs they
        fitted would be trusted too much; it costs 3 more trainings of the
        twins (see the user guide for what it buys). "auto":
        "forest" on records (with the default or a user encoder, or a
        pretrained text backbone as ``module``), None otherwise. With a
        pretrained text backbone (e.g.
        :class:`~sksiamese.modules.SentenceTransformerBackbone`) on records,
        the twin embeds each text field on its own and the forest reads the
        per-field cosines of the encoder as pretrained (never of fine-tuned
        twins, which fit the training pairs); the twins are then not
        fine-tuned with ``max_epochs="auto"`` (set ``max_epochs`` to
        fine-tune them for ``embed``, or ``head="twins"``, whose forest
        also reads their cosine, cross-fitted).
    {training}

    Attributes
    ----------
    {attributes}
    classes_ : ndarray of shape (2,)
        The two labels.
    pos_label_ : label
        The label meaning "similar".
    threshold_ : float
        Similarity threshold of ``predict``.
    calibrator_ : LogisticRegression
        Maps the similarity to the probability of "similar".
    head_ : object or None
        The fitted comparison head (see ``head``), or None.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import SiamesePairClassifier
    >>> from sksiamese.pairs import make_pairs, pair_train_test_split
    >>> X, y = load_digits(return_X_y=True)
    >>> X_pairs, y_pairs, items = make_pairs(
    ...     X / 16, y, n_pairs=3000, random_state=0, return_indices=True
    ... )
    >>> X_pairs.shape
    (3000, 2, 64)
    >>> X_train, X_test, y_train, y_test = pair_train_test_split(
    ...     X_pairs, y_pairs, groups=items, random_state=0
    ... )
    >>> clf = SiamesePairClassifier(max_epochs=10, random_state=0)
    >>> clf.fit(X_train, y_train).score(X_test, y_test) > 0.8
    True
    """

    _parameter_constraints = {
        **_TupleBase._parameter_constraints,
        "loss": [StrOptions({"contrastive", "mnrl"}), HasMethods(["forward"])],
        "in_batch_negatives": ["boolean"],
        "pos_label": "no_validation",
        "threshold": [StrOptions({"auto"}), Real],
        "head": [StrOptions({"auto", "forest", "twins"}), None],
    }

    def __init__(
        self,
        module=None,
        *,
        encoder=None,
        hidden_layer_sizes=(256,),
        embedding_dim="auto",
        dropout=0.1,
        batch_norm=True,
        projection_dim=None,
        loss="contrastive",
        margin=None,
        distance="cosine",
        in_batch_negatives=False,
        pos_label=None,
        threshold="auto",
        head="auto",
        max_epochs="auto",
        batch_size="auto",
        lr="auto",
        optimizer=torch.optim.AdamW,
        lr_schedule="auto",
        weight_decay="auto",
        clip_grad_norm=None,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=5,
        augment=None,
        device="cpu",
        n_jobs=None,
        random_state=None,
        verbose=0,
        callbacks=None,
        warm_start=False,
        **kwargs,
    ):
        self.module = module
        self.encoder = encoder
        self.hidden_layer_sizes = hidden_layer_sizes
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.projection_dim = projection_dim
        self.loss = loss
        self.margin = margin
        self.distance = distance
        self.in_batch_negatives = in_batch_negatives
        self.pos_label = pos_label
        self.threshold = threshold
        self.head = head
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.lr_schedule = lr_schedule
        self.weight_decay = weight_decay
        self.clip_grad_norm = clip_grad_norm
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.augment = augment
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.warm_start = warm_start
        self._set_routed(kwargs)

    def _check_y(self, X, y, reset):
        y = check_class_labels(y, len(X), min_classes=0, estimator=self)
        if reset:
            classes = np.unique(y)
            if len(classes) != 2:
                raise ValueError(
                    f"{type(self).__name__} needs pairs labelled with exactly two "
                    f"labels (similar / dissimilar); got {len(classes)}: "
                    f"{classes.tolist()}."
                )
            pos = self.pos_label
            if pos is None:
                pos = conventional_positive(classes, type(self).__name__)
            if pos not in classes:
                raise ValueError(
                    f"pos_label={pos!r} is not one of the labels {classes.tolist()}."
                )
            self.classes_, self.pos_label_ = classes, pos
        else:
            check_label_kind(y, self.classes_, self)
            unknown = np.setdiff1d(y, self.classes_)
            if len(unknown):
                raise ValueError(
                    f"y contains labels {unknown.tolist()} not seen in fit "
                    f"({self.classes_.tolist()})."
                )
        return (y == self.pos_label_).astype(np.int64)

    @transactional
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, groups=None, validation_data=None):
        """Train on labelled pairs.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs of numeric rows; pairs of raw items (array, DataFrame with
            two columns, or list of 2-tuples) when ``encoder`` is set; or
            pairs of records (see the user guide's "Entity matching"): a
            DataFrame with ``ltable_<field>`` / ``rtable_<field>`` or
            ``left_<field>`` / ``right_<field>`` columns (other columns are
            ignored), a tuple ``(left, right)`` of two aligned DataFrames, or
            2-tuples of dicts or Series.
        y : array-like of shape (n_pairs,) or None, default=None
            Two labels: similar (``pos_label``) or not. None, only with
            ``loss="mnrl"``: every pair is similar (positive-only pairs such
            as duplicate questions, labelled 1); the held-out pairs that
            calibrate the threshold are then completed by dissimilar pairs
            made of each one's first item and another pair's second item,
            which assumes, like the loss, that distinct pairs are unrelated.
        groups : array-like of shape (n_pairs, 2), default=None
            Ids of the two items of each pair (e.g. the indices returned by
            :func:`~sksiamese.pairs.make_pairs`): the pairs that learn the
            threshold and the calibration share no item with the training
            pairs (see ``validation_fraction``). None: identical rows, or
            equal raw items, are the same item; records are the same when
            their ``id`` field (``RecordEncoder``'s ``id_field``) is, the
            left and right ids being apart (``ltable_id=5`` and
            ``rtable_id=5`` are two records), else when all their fields
            are equal.
        validation_data : tuple (X_valid, y_valid), default=None
            The user's own validation pairs (e.g. DeepMatcher's
            ``valid.csv``), in the form of ``X`` and ``y``: they select the
            model (``early_stopping``) and learn the threshold and the
            calibration, in place of the pairs that ``validation_fraction``
            holds out, and every pair of ``X`` trains. The encoder is fitted
            on ``X`` only. This is skorch's ``train_split=predefined_split(
            valid_ds)`` at the level of this estimator, which owns the
            encoding of the pairs and the threshold; ``holdout_`` is then
            ``"validation_data"``.

        Returns
        -------
        self : SiamesePairClassifier
            The fitted estimator.
        """
        X = _as_records(X, 2, type(self).__name__)
        if validation_data is not None:
            X_valid, y_valid = self._check_validation_data(validation_data)
        with self._fitting() as (continuing, training):
            inputs = self._read_tuples(X, reset=not continuing)
            items, tuples = inputs.items, inputs.tuples
            positive_only = y is None
            if positive_only:
                target = y = self._all_similar(tuples, reset=not continuing)
            else:
                target = self._check_y(tuples, y, reset=not continuing)
            # the share the threshold and calibration are set for; none for
            # positive-only pairs, whose dissimilar pairs are made up
            self._positive_rate_ = None if positive_only else float(target.mean())
            if not positive_only and not self._takes_raw_items():
                self._check_label_convention(items, tuples, target)
            if self._uses_head(positive_only) and is_auto(self.max_epochs):
                # the head decides from the encoder's fields, not the twins:
                # their epochs serve embed (blocking) only
                epochs = min(training.max_epochs, _HEAD_TWIN_EPOCHS)
                if self._on_text_records() and self.head != "twins":
                    # the head reads the pretrained fields as they are, and
                    # so does embed: no fine-tuning (_PRETRAINED_HEAD_EPOCHS)
                    epochs = _PRETRAINED_HEAD_EPOCHS
                training = training.replace(max_epochs=epochs)
            if validation_data is None:
                ids = inputs.ids(groups)
                train, calib = self._holdout(
                    target, stratify=True, ids=ids, similar=target == 1
                )
            else:
                inputs, X, y, target, train, calib = self._with_validation(
                    inputs, X, y, target, X_valid, y_valid
                )
                items, tuples = inputs.items, inputs.tuples
            valid = None if calib is None else (tuples[calib], target[calib])
            self._fit_tuples(
                training, items, tuples[train], target[train], valid, continuing
            )
            head_train = self._head_rows(len(target), train, calib)
            oob = self._fit_head(inputs, target, head_train, positive_only, training)
            if self.head_ is not None:
                calib_tuples, calib_target, score = self._head_calibration(
                    inputs, target, head_train, calib, oob
                )
                self._calibrate(score, calib_target)
            else:
                if (
                    calib is None
                    or self._untrained_kept()
                    or (not positive_only and len(np.unique(target[calib])) < 2)
                ):
                    calib = train if calib is None else np.concatenate([train, calib])
                calib_tuples, calib_target = tuples[calib], target[calib]
                if positive_only:
                    # the dissimilar pairs the ranking loss assumes: each first
                    # item with the second item of another pair
                    shifted = np.stack(
                        [calib_tuples[:, 0], np.roll(calib_tuples[:, 1], 1)], axis=1
                    )
                    calib_tuples = np.concatenate([calib_tuples, shifted])
                    calib_target = np.concatenate([calib_target, 0 * calib_target])
                self._calibrate(self._similarity(items, calib_tuples), calib_target)
            rng = np.random.RandomState(self._next_seed())
            self._keep_calibration(inputs, calib_tuples, calib_target, rng)
            # replay only training pairs: the held-out ones stay held out
            self._set_replay(_take(X, train), np.asarray(y)[train], rng)
        return self

    def _can_score(self, y):
        return len(np.unique(y)) == 2

    _selection_score = staticmethod(pair_auc)

    def _check_label_convention(self, items, tuples, target):
        """Warn when the "similar" pairs are clearly the farther ones in the
        input (see ``pos_label``)."""
        negative = self.classes_[self.classes_ != self.pos_label_][0]
        warn_if_labels_inverted(
            items, tuples, target, self.pos_label_, negative, stacklevel=6
        )

    def _all_similar(self, tuples, reset):
        """Labels for positive-only pairs (``y=None``)."""
        if self.loss != "mnrl":
            raise ValueError(
                "y=None (every pair similar) needs loss='mnrl', which takes the "
                "other pairs of a batch as negatives; with loss="
                f"{self.loss!r} pass the labels of similar and dissimilar pairs."
            )
        if len(tuples) < 2:
            raise ValueError(
                "y=None (every pair similar) needs at least 2 pairs: each "
                "pair's negatives are the other pairs' second items."
            )
        if reset:
            self.classes_, self.pos_label_ = np.array([0, 1]), 1
        return np.ones(len(tuples), dtype=np.int64)

    def _default_backbone(self):
        """FieldwiseMLP on records with the default RecordEncoder: the field
        weights start from the labelled pairs (``_init_pairs``)."""
        if self._on_records() and self.encoder is None:
            return FieldwiseMLP
        return super()._default_backbone()

    def _init_pairs(self, items, tuples, y, seed):
        """A sample of the training pairs, labelled similar or not, when both
        occur (for ``FieldwiseMLP.initialize_from_pairs``)."""
        similar = np.asarray(y) == 1
        if similar.all() or not similar.any():
            return None
        index = _init_index(np.arange(len(tuples)), seed)
        pairs = tuples[index]
        return items[pairs[:, 0]], items[pairs[:, 1]], similar[index]

    def _uses_encoder(self):
        encoded = self.encoder is not None or self._on_records()
        return encoded and not self._takes_raw_items()

    def _set_replay(self, X, y, rng):
        n = len(y)
        keep = np.sort(rng.permutation(n)[:_REPLAY_PAIRS])
        self._replay_X_ = stored(_take(X, keep))
        self._replay_y_ = np.asarray(y)[keep]

    @transactional
    def partial_fit(self, X, y):
        """Update the model on feedback pairs without forgetting the rest.

        Users report false accepts and false rejects; each call trains on
        those pairs mixed with 50 times as many pairs replayed from a memory
        of up to 2,000 earlier training pairs, at the constant rate ``lr``,
        for a tenth of ``max_epochs`` (at least one epoch): a few bounded
        steps that learn the feedback without pulling the rest of the model
        after it. The threshold (with ``threshold="auto"``) and the
        probability calibration are then re-learned on the held-out pairs of
        ``fit`` (up to 2,000 of them, kept with the model) together with the
        feedback, so a handful of pairs cannot move them far. The feedback
        pairs join the replay memory; the encoder is not refitted: its
        vocabulary stays that of the first fit.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            The feedback pairs.
        y : array-like of shape (n_pairs,)
            Their correct labels.

        Returns
        -------
        self : SiamesePairClassifier
            The updated estimator.
        """
        if not hasattr(self, "net_"):
            return self.fit(X, y)
        # as fit does: a set_params since may have left an invalid value
        self._validate_params()
        X = _as_records(X, 2, type(self).__name__)
        _, tuples = self._check_fitted_tuples(X)  # clear errors on the raw input
        self._check_y(tuples, y, reset=False)
        y = column_or_1d(y, warn=True)
        with self._fitting(partial=True) as (_, training):
            rng = np.random.RandomState(self._next_seed())
            replay = rng.permutation(len(self._replay_y_))
            replay = replay[: _FEEDBACK_REPLAY * len(y)]
            X_mix = _concat(X, _take(self._replay_X_, replay))
            y_mix = np.concatenate([y, self._replay_y_[replay]])
            items, tuples = self._check_fitted_tuples(X_mix)
            target = (y_mix == self.pos_label_).astype(np.int64)
            epochs = max(1, training.max_epochs // 10)
            self._fit_tuples(
                training, items, tuples, target, continuing=True, max_epochs=epochs
            )
            # the threshold and calibration suit the updated network: re-learn
            # them on the held-out pairs of fit and the feedback, never on the
            # feedback alone, nor on replayed (training) pairs
            score = self._similarity(items, tuples[: len(y)], self._head_records(X))
            target = target[: len(y)]
            if hasattr(self, "_calib_target_"):  # absent in models pickled before
                held = self._calibration_similarity()
                score = np.concatenate([held, score])
                target = np.concatenate([self._calib_target_, target])
            if len(np.unique(target)) == 2:
                self._calibrate(score, target)
            self._set_replay(
                _concat(self._replay_X_, X), np.concatenate([self._replay_y_, y]), rng
            )
        return self

    def similarity(self, X):
        """Similarity of each pair: higher means more similar.

        Cosine similarity of the two embeddings for ``distance="cosine"``,
        minus their distance otherwise.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs, in a form ``fit`` takes.

        Returns
        -------
        similarity : ndarray of shape (n_pairs,)
        """
        X = _as_records(X, 2, type(self).__name__)  # records are read once
        items, tuples = self._check_fitted_tuples(X)
        return self._similarity(items, tuples, self._head_records(X))

    def pair_distance(self, X):
        """Distance between the embeddings of the two items of each pair.

        Measured with ``distance_``; :meth:`similarity` is its
        ``similarity`` (``1 - d`` for the cosine distance, ``-d`` for the
        Euclidean one), so a pair is predicted similar when its distance is
        at most the distance of ``threshold_``.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs, in a form ``fit`` takes.

        Returns
        -------
        distances : ndarray of shape (n_pairs,), dtype float32

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_digits
        >>> from sksiamese import SiamesePairClassifier
        >>> from sksiamese.pairs import make_pairs
        >>> X, y = load_digits(return_X_y=True)
        >>> X_pairs, same = make_pairs(X / 16, y, n_pairs=600, random_state=0)
        >>> clf = SiamesePairClassifier(max_epochs=3, random_state=0)
        >>> clf = clf.fit(X_pairs, same)
        >>> d = clf.pair_distance(X_pairs)
        >>> bool(np.allclose(clf.similarity(X_pairs), 1 - d))  # cosine
        True
        """
        return self._tuple_distances(*self._check_fitted_tuples(X))[:, 0]


SiamesePairClassifier.__doc__ = fill_doc(
    SiamesePairClassifier.__doc__,
    k=2,
    holdout="to learn the threshold and calibration",
    score="their ROC AUC",
    projection="None",
)


__all__ = ["SiamesePairClassifier"]
