"""SiameseOutlierDetector: self-supervised contrastive embeddings for novelty and
outlier detection."""

import copy
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    ClassNamePrefixFeaturesOutMixin,
    OutlierMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    check_is_fitted,
)

from .._engine.criteria import ViewsCriterion
from .._engine.data import FixedShuffledBatches, ShuffledBatches
from ..distances import EuclideanDistance
from ..losses import SupConLoss
from ..utils.validation import check_labels, check_rows
from ._base import SiameseBase
from ._docstrings import fill_doc
from ._neighbor_scores import _NeighborScoring
from ._transaction import transactional
from ._views import _mean_scale, _ScaledRows, _ScarfViews, _Standardized

# label shared by known anomalies in the contrastive loss (normal rows get their
# own row index, >= 0)
_ANOMALY = -1


class SiameseOutlierDetector(
    ClassNamePrefixFeaturesOutMixin,
    OutlierMixin,
    TransformerMixin,
    _NeighborScoring,
    SiameseBase,
):
    """Outlier and novelty detection on self-supervised Siamese embeddings.

    ``fit`` learns an embedding without labels, contrastively: two corrupted
    views of each training row are a positive pair and the other rows of the
    batch are negatives (NT-Xent / InfoNCE loss on a projection head, as in
    SimCLR). A view replaces a random ``corruption`` share of a row's features
    by values drawn from each feature's empirical marginal (SCARF, Bahri et
    al., 2022), so the network has to learn which feature values make up a
    row of a kind and embeds rows of one kind together. Rows whose values
    are each ordinary but do not go together stand out less in the
    embedding than in plain distances (see Notes). Rows are scored
    by their distances to the k-th nearest normal training row at several
    neighbourhood sizes k, from 4 rows up to ``n_neighbors`` (by default
    1/24 of the training rows), each compared with what is usual for the
    training rows at that size; the most unusual size counts (see
    :meth:`score_samples`). Distances are measured on the embedding next to
    the standardised input features (weighted by ``input_weight``), so that
    what the embedding adds comes on top of what plain distances already
    see. Inputs are standardised internally.

    Parameters
    ----------
    module : None, torch.nn.Module class or instance, default=None
        Backbone. None builds an :class:`~sksiamese.modules.MLP` from
        ``hidden_layer_sizes``, ``embedding_dim``, ``dropout`` and
        ``batch_norm``. A class is instantiated with the ``module__*``
        parameters, ``n_features`` and those of ``hidden_layer_sizes``,
        ``embedding_dim``, ``dropout`` and ``batch_norm`` that its
        constructor takes (an explicit ``module__*`` wins); one of these set
        away from its default that the backbone cannot take raises a
        ``ValueError`` in ``fit``. An instance is copied at each fit.
    hidden_layer_sizes : tuple of int, default=(256, 256)
        Hidden layers of the backbone.
    embedding_dim : int, default=64
        Size of the embedding (the output of ``transform``).
    dropout : float, default=0.0
        Dropout of the backbone (after each hidden layer of the MLP).
    batch_norm : bool, default=True
        Batch normalisation in the backbone.
    projection_dim : int or None, default=64
        Output size of the projection head (on top of any backbone) that the
        loss sees; ``transform`` and the scores use the embeddings before
        the head. None: no head.
    corruption : float in [0, 1), default=0.3
        Share of the features replaced in each view (SCARF's corruption
        rate). The default is milder than SCARF's 0.6: each view keeps more
        of its row (the user guide compares the two rates).
    temperature : float, default=0.5
        Temperature of the NT-Xent loss
        (:class:`~sksiamese.losses.SupConLoss`).
    max_samples : int, default=4096
        Normal training rows kept as the reference that rows are compared
        with: a random sample of this many when there are more. Scoring
        costs time proportional to it.
    n_neighbors : "auto", int or float in (0, 1), default="auto"
        Largest neighbourhood: distances are measured to the k-th nearest
        reference row for k = 4, 8, 16, ... below it and for k equal to it.
        A float is a share of the reference rows, "auto" 1/24 of them;
        capped at the number of reference rows less one. A group of
        anomalies in the training data smaller than the largest
        neighbourhood cannot hide its members (masking, see Notes), so the
        default suits unlabelled training data that hold up to about 4 %
        anomalies of one kind. On training data known to be clean (novelty
        detection), a small value such as 8 sees finer, local anomalies, but
        on training data that hold groups of anomalies it lets them hide
        each other.
    input_weight : float, default=1.0
        Weight of the standardised input features next to the embedding in
        the distances of the scores. The embedding is divided by its root
        mean squared norm over the training rows, the standardised input by
        the square root of the number of features (its root mean squared
        norm when no feature is constant), and the input part is then
        multiplied by ``input_weight``: 1 weighs them about equally, 0
        scores on the embedding alone and keeps no input rows (the scores
        keep the input of the ``max_samples_`` reference rows; sparse input
        stays sparse).
    contamination : "auto" or float in (0, 0.5], default="auto"
        Expected share of outliers in the training data, which sets
        ``offset_``. A float makes ``offset_`` that percentile of the
        training scores, as in :class:`~sklearn.ensemble.IsolationForest`,
        so ``fit_predict`` flags that share of the training rows. "auto"
        assumes no share: ``offset_ = -2``, so a row is an outlier when, at
        some neighbourhood size, its log distance lies more than two
        interquartile ranges above the training rows' median (Tukey's fence
        ``Q3 + 1.5 * IQR`` for a symmetric distribution). The share flagged
        is then however many rows stand out that far; like
        IsolationForest's "auto" (a fixed offset of its own score), it can
        be more or less than the true share (the user guide has measured
        rates).
    max_epochs : int or "auto", default="auto"
        Training epochs (passes over the training rows). "auto", as for
        ``batch_size``, ``lr``, ``lr_schedule`` and ``weight_decay``: the
        value of the backbone instance's ``training_defaults()`` when it has
        one, else the standard value (here 20).
    batch_size : int or "auto", default="auto"
        Rows per training batch (each gives two views); "auto": 256 (or the
        backbone's).
    lr : float or "auto", default="auto"
        Learning rate; "auto": 1e-3 (or the backbone's).
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Optimizer; ``optimizer__*`` parameters are routed to it. Adam and
        AdamW take torch's fused kernel (``fused=True``) on CPU and CUDA
        where this torch has it, unless ``optimizer__fused``,
        ``optimizer__foreach`` (or ``differentiable`` / ``capturable``) is
        given.
    {schedule}
    clip_grad_norm : float or None, default=None
        Clip the gradient norm to this value.
    augment : callable or None, default=None
        Extra augmentation, applied to the stacked views (a float32 tensor of
        shape ``(2 * batch, n_features)``) after the corruption.
    device : str or torch.device, default="cpu"
        Device for training and inference.
    {n_jobs}
    random_state : int, RandomState instance or None, default=None
        Seeds weights, batches and corruption; an int makes fits repeatable.
        The global torch and numpy random states are not used.
    verbose : int, default=0
        0 is silent; 1 prints skorch's epoch log.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks.
    **kwargs
        ``module__*`` and ``optimizer__*`` parameters, routed as in skorch.
        The loss is fixed (NT-Xent on two views of each row, tuned by
        ``temperature``) and there is no miner, so ``loss__*`` and
        ``miner__*`` parameters raise a TypeError.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained skorch network.
    distance_ : EuclideanDistance
        The distance the scores measure, on the embedding and the
        standardised input together.
    mean_, scale_ : ndarray of shape (`n_features_in_`,)
        Standardisation of the input.
    reference_ : ndarray of shape (`max_samples_`, embedding_dim)
        Embeddings (float64) of the reference rows: the normal training
        rows, or a random sample of ``max_samples`` of them.
    reference_input_ : ndarray or sparse matrix of shape (`max_samples_`, \
            `n_features_in_`), or None
        The same rows of the input, standardised (sparse rows only divided
        by ``scale_``), float32; None when ``input_weight=0``.
    embedding_scale_ : float
        Root mean squared norm of ``reference_``, which the embedding part
        of the distances is divided by.
    max_samples_ : int
        Number of reference rows.
    n_neighbors_ : int
        Largest neighbourhood actually used.
    neighbor_scales_ : ndarray of shape (n_scales,)
        Neighbourhood sizes k at which distances are measured.
    log_distance_center_, log_distance_spread_ : ndarray of shape (n_scales,)
        Median and interquartile range, over the normal training rows, of
        the log distance to the k-th nearest reference row, per scale.
    distance_floor_ : float
        Distances below it count as it (a millionth of the median distance
        at the largest scale), so duplicates get finite log distances.
    offset_ : float
        ``decision_function = score_samples - offset_``; -2 with
        ``contamination="auto"``.
    history_ : skorch.History
        Per-epoch training record.
    n_iter_ : int
        Number of epochs trained.
    {training_spec}
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the input features, when given as a DataFrame.

    See Also
    --------
    sklearn.ensemble.IsolationForest : Tree-based outlier detection.
    sklearn.neighbors.LocalOutlierFactor : Density-based outlier detection.

    Notes
    -----
    Why distances at several scales: the distance to the k-th nearest
    training row is small where the data are dense. A small k sees fine,
    local structure, but anomalies in the training data often come in groups
    (a faulty batch, a rare class), and a member of a group of m rows finds
    its own kind among its k < m nearest neighbours and looks normal
    (masking). A k larger than the group
    reaches past it. Each scale's log distance is standardised by its median
    and interquartile range over the training rows, and a row's score is
    minus the largest of these: a row is as anomalous as it looks at its
    most telling scale, so isolated anomalies show at small k and grouped
    ones at large k, with no scale to tune per data set. A single scale
    loses one kind or the other: a large one blurs isolated anomalies next
    to the normal rows, a small one lets a group mask itself; the maximum
    over scales keeps both. The idea follows multi-scale neighbour scores such
    as LOCI (Papadimitriou et al., 2003) and distance-to-measure
    (Chazal et al., 2011).

    Why not the cosine distance the contrastive loss uses: a ReLU network is
    close to positively homogeneous far from the data, so rows with extreme
    values along one direction get embeddings of one direction and larger
    norm. Cosine neighbours then put such anomalies next to each other and
    rank them as *more* normal than the normal rows. Euclidean distances
    keep the norm.

    Why the input features too: the embedding learns which features go
    together, but it can also blur differences that plain distances see.
    Measured on both, the score follows the better of the two on most data.

    Where plain distances do better: anomalies whose values are each
    ordinary but come from different rows (ADBench's "dependency"
    anomalies, drawn from the product of the marginals) are placed among
    the normal rows by the embedding more often than by plain distances, at
    any ``corruption`` rate; 5-nearest-neighbour distances on standardised
    features or :class:`~sklearn.neighbors.LocalOutlierFactor` rank them
    better. On anomalies that form groups or whole rare classes the
    embedding is what wins. When the anomalies sought are isolated points
    and the training data are clean, ``n_neighbors=8`` or a larger
    ``input_weight`` moves the scores toward plain nearest-neighbour
    distances. The user guide's "Anomaly detection" section has the
    measurements behind these statements.

    A row is never compared with itself: the nearest reference row, when at
    (numerically) zero distance, is left out, so a training row is scored as
    a new row would be (leave-one-out); its duplicates still count as
    neighbours. With a float ``contamination``, ``offset_`` comes from
    these scores of the training rows, so ``fit_predict`` flags that share
    of the training data, and ``predict`` about that share of new data from
    the same distribution.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.estimators.outlier import SiameseOutlierDetector
    >>> rng = np.random.RandomState(0)
    >>> t = rng.uniform(-3, 3, size=(300, 1))
    >>> X = np.hstack([np.sin(t), np.cos(t), t]) + 0.05 * rng.normal(size=(300, 3))
    >>> det = SiameseOutlierDetector(max_epochs=5, random_state=0).fit(X)
    >>> det.predict([[0.0, 1.0, 0.0], [1.0, -1.0, 0.0]])
    array([ 1, -1])
    >>> det.transform(X[:2]).shape
    (2, 64)
    """

    # its tuned backbone is the plain MLP, trained from random weights
    _residual_backbone = False

    _parameter_constraints = {
        **SiameseBase._parameter_constraints,
        "corruption": [Interval(Real, 0, 1, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "max_samples": [Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
        ],
        "input_weight": [Interval(Real, 0, None, closed="left")],
        "contamination": [
            StrOptions({"auto"}),
            Interval(Real, 0, 0.5, closed="right"),
        ],
    }
    _standard_training = {
        **SiameseBase._standard_training,
        "max_epochs": 20,
        "batch_size": 256,
    }

    def __init__(
        self,
        module=None,
        *,
        hidden_layer_sizes=(256, 256),
        embedding_dim=64,
        dropout=0.0,
        batch_norm=True,
        projection_dim=64,
        corruption=0.3,
        temperature=0.5,
        max_samples=4096,
        n_neighbors="auto",
        input_weight=1.0,
        contamination="auto",
        max_epochs="auto",
        batch_size="auto",
        lr="auto",
        optimizer=torch.optim.AdamW,
        lr_schedule="auto",
        weight_decay="auto",
        clip_grad_norm=None,
        augment=None,
        device="cpu",
        n_jobs=None,
        random_state=None,
        verbose=0,
        callbacks=None,
        **kwargs,
    ):
        self.module = module
        self.hidden_layer_sizes = hidden_layer_sizes
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.projection_dim = projection_dim
        self.corruption = corruption
        self.temperature = temperature
        self.max_samples = max_samples
        self.n_neighbors = n_neighbors
        self.input_weight = input_weight
        self.contamination = contamination
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.lr_schedule = lr_schedule
        self.weight_decay = weight_decay
        self.clip_grad_norm = clip_grad_norm
        self.augment = augment
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self._set_routed(kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _criterion_params(self, training):
        return {
            "criterion": ViewsCriterion,
            "criterion__loss": SupConLoss(temperature=self.temperature),
        }

    def _net_params(self, training):
        return {
            "iterator_train": ShuffledBatches,
            "iterator_valid": FixedShuffledBatches,
        }

    # -- fitting -------------------------------------------------------------------

    @transactional
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the embedding and the reference set of normal rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows, mostly normal.
        y : None or array-like of shape (n_samples,), default=None
            Optional labels in scikit-learn's outlier convention: -1 marks
            known anomalies; every other value (1 for normal rows, or any
            label of unlabelled rows) counts as normal. 0/1 labels with
            1 = anomaly are *not* understood: without any -1 all rows count
            as normal (a warning says so when y holds 0). Known anomalies
            are excluded from the reference set the scores compare with,
            and share one label in the contrastive loss: they are pulled
            together into one region and, as negatives of every normal row,
            pushed away from the normal data.

        Returns
        -------
        self : SiameseOutlierDetector
            The fitted estimator.
        """
        with self._fitting() as (_, training):
            X = check_rows(self, X, reset=True)
            anomalous = self._check_y(X, y)
            self._fit_rows(training, X, anomalous)
        return self

    def _fit_rows(self, training, X, anomalous):
        self.mean_, self.scale_ = _mean_scale(X)
        labels = np.arange(X.shape[0], dtype=np.int64)
        labels[anomalous] = _ANOMALY
        seed = self._next_seed()
        dataset = _ScaledRows(X, self.mean_, self.scale_, labels)
        views = _ScarfViews(
            dataset, self.corruption, seed, then=copy.deepcopy(training.augment)
        )
        net = self._build_net(training, X.shape[1], seed, augment=views)
        try:
            self._train(net, dataset, seed, initialize=True, training=training)
        finally:
            views.release()  # the views keep a reference to the training data
        self._fit_scores(X, anomalous, seed)

    def _check_y(self, X, y):
        """Boolean mask of the known anomalies."""
        if y is None:
            return np.zeros(X.shape[0], dtype=bool)
        y = check_labels(y, X.shape[0])
        anomalous = np.asarray(y) == -1
        if not anomalous.any() and np.any(np.asarray(y) == 0):
            warnings.warn(
                f"y has no -1: {type(self).__name__} treats every row as normal. "
                "Known anomalies are marked with y=-1 (scikit-learn's outlier "
                "convention), not with 1 as in 0/1 labels where 1 = anomaly.",
                UserWarning,
                stacklevel=5,
            )
        if anomalous.all():
            raise ValueError(
                "y marks every row as an anomaly (-1); at least one normal row "
                "(y=1) is needed as reference."
            )
        return anomalous

    # -- inference -------------------------------------------------------------------

    def _iter_embed(self, X):
        return self._forward_chunks(_ScaledRows(X, self.mean_, self.scale_))

    @property
    def distance_(self):
        """The Euclidean distance, in which the neighbour distances are measured.

        On the embedding and the standardised input together (see
        ``input_weight``).

        Examples
        --------
        >>> import numpy as np
        >>> from sksiamese import SiameseOutlierDetector
        >>> X = np.random.RandomState(0).normal(size=(100, 3))
        >>> SiameseOutlierDetector(max_epochs=1, random_state=0).fit(X).distance_
        EuclideanDistance()
        """
        check_is_fitted(self)
        return EuclideanDistance()

    def embedding_module(self):
        """Return a copy of the fitted torch module that computes ``transform``.

        The standardisation (``mean_``, ``scale_``) then the network: it maps
        raw rows, a float32 tensor of shape ``(n_rows, n_features_in_)``, to
        the embeddings of :meth:`transform`. A copy on the CPU in evaluation
        mode; the nearest-neighbour scoring stays outside.

        Returns
        -------
        module : torch.nn.Module

        Examples
        --------
        >>> import numpy as np
        >>> import torch
        >>> from sksiamese import SiameseOutlierDetector
        >>> X = np.random.RandomState(0).normal(5, 3, size=(200, 4))
        >>> X = X.astype(np.float32)
        >>> detector = SiameseOutlierDetector(max_epochs=2, random_state=0).fit(X)
        >>> with torch.no_grad():
        ...     embeddings = detector.embedding_module()(torch.from_numpy(X))
        >>> bool(np.allclose(embeddings.numpy(), detector.transform(X), atol=1e-5))
        True
        """
        module = super().embedding_module()
        return _Standardized(module, self.mean_, self.scale_).eval()

    def transform(self, X):
        """Embed rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to embed.

        Returns
        -------
        X_new : ndarray of shape (n_samples, embedding_dim), dtype float32
            Embeddings (before the projection head), not normalised.
        """
        return self._embed(self._check_X(X))

    @property
    def _n_features_out(self):
        return self.reference_.shape[1]

    def score_samples(self, X):
        """Normality score of each row: higher means more normal.

        For each neighbourhood size k in ``neighbor_scales_``, the log
        Euclidean distance from a row to its k-th nearest reference row is
        standardised by its median and interquartile range over the normal
        training rows; the score is minus the largest of these over the
        scales. Distances are measured on the embedding and the
        standardised input features together (see ``input_weight``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Higher means more normal; typical training rows score near 0,
            anomalies far below.
        """
        return self._scores(self._check_X(X))

    def decision_function(self, X):
        """Shifted score: negative for outliers, positive for inliers.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Whether each row is an inlier (1) or an outlier (-1).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to classify.

        Returns
        -------
        is_inlier : ndarray of shape (n_samples,)
            1 for inliers, -1 for outliers.
        """
        return np.where(self.decision_function(X) < 0, -1, 1)


SiameseOutlierDetector.__doc__ = fill_doc(SiameseOutlierDetector.__doc__)


__all__ = ["SiameseOutlierDetector"]
