"""SiameseOutlierDetector: self-supervised contrastive embeddings for novelty and
outlier detection."""

import copy
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import (
    ClassNamePrefixFeaturesOutMixin,
    OutlierMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import (
    check_is_fitted,
)

from .._net import RowsDataset
from .._tuples import ViewsCriterion
from ..losses import SupConLoss
from ..utils.validation import check_labels, check_rows
from ._base import SiameseBase

# label shared by known anomalies in the contrastive loss (normal rows get their
# own row index, >= 0)
_ANOMALY = -1


class _ScaledRows(RowsDataset):
    """Rows standardised with fixed ``mean`` and ``scale``, densified per batch."""

    def __init__(self, X, mean, scale, y=None):
        super().__init__(X, y)
        self.mean = torch.from_numpy(mean.astype(np.float32))
        self.scale = torch.from_numpy(scale.astype(np.float32))

    def rows(self, index):
        return (super().rows(index) - self.mean) / self.scale


class _ScarfViews:
    """Two SCARF-corrupted views of each row of a training batch.

    In each view, ``round(corruption * n_features)`` randomly chosen features
    of a row are replaced by values of the same feature drawn from the
    empirical marginal: each value comes from a random row of a pool of
    training rows drawn anew for every batch (Bahri et al., 2022).
    """

    def __init__(self, dataset, corruption, seed, then=None):
        self.dataset = dataset
        self.corruption = corruption
        self.then = then
        self.rng = np.random.RandomState(seed)
        self.generator = torch.Generator().manual_seed(int(seed))

    def _view(self, Xb, pool):
        n, d = Xb.shape
        m = int(round(self.corruption * d))
        if m == 0:
            return Xb
        ranks = torch.rand(n, d, generator=self.generator).argsort(1).argsort(1)
        donors = torch.randint(len(pool), (n, d), generator=self.generator)
        return torch.where(ranks < m, pool.gather(0, donors), Xb)

    def __call__(self, Xb):
        n_pool = min(len(self.dataset), max(len(Xb), 64))
        index = np.sort(self.rng.choice(len(self.dataset), n_pool, replace=False))
        pool = self.dataset.rows(index)
        views = torch.cat([self._view(Xb, pool), self._view(Xb, pool)])
        return views if self.then is None else self.then(views)


class SiameseOutlierDetector(
    ClassNamePrefixFeaturesOutMixin, OutlierMixin, TransformerMixin, SiameseBase
):
    """Outlier and novelty detection on self-supervised Siamese embeddings.

    ``fit`` learns an embedding without labels, contrastively: two corrupted
    views of each training row are a positive pair and the other rows of the
    batch are negatives (NT-Xent / InfoNCE loss on a projection head, as in
    SimCLR). A view replaces a random ``corruption`` share of a row's features
    by values drawn from each feature's empirical marginal (SCARF, Bahri et
    al., 2022), so the network has to learn how features go together: a row
    that breaks the usual dependencies between features lands far from the
    training data even when every single value is ordinary. Rows are scored
    by their distance to the nearest training row in each of
    ``n_estimators`` small random subsets of the training rows
    (``max_samples`` rows each), averaged (see :meth:`score_samples`); the
    distance is measured on the embedding next to the standardised input
    features (weighted by ``input_weight``), so that what the embedding adds
    comes on top of what plain distances already see. Inputs are
    standardised internally.

    Parameters
    ----------
    module : None, torch.nn.Module class or instance, default=None
        Backbone. None builds an :class:`~sksiamese.modules.MLP` from
        ``hidden_layer_sizes``, ``embedding_dim``, ``dropout``,
        ``batch_norm`` and ``projection_dim``. A class is instantiated with
        the ``module__*`` parameters (and ``n_features`` when its constructor
        takes it); an instance is copied at each fit.
    hidden_layer_sizes : tuple of int, default=(256, 256)
        Hidden layers of the default MLP.
    embedding_dim : int, default=64
        Size of the embedding (the output of ``transform``).
    dropout : float, default=0.0
        Dropout after each hidden layer of the default MLP.
    batch_norm : bool, default=True
        Batch normalisation in the default MLP.
    projection_dim : int or None, default=64
        Output size of the projection head the loss sees; ``transform`` and
        the scores use the embeddings before the head. None: no head.
    corruption : float in [0, 1), default=0.6
        Share of the features replaced in each view (SCARF's corruption
        rate).
    temperature : float, default=0.5
        Temperature of the NT-Xent loss.
    n_estimators : int, default=200
        Number of random subsets of the training rows that a row is
        compared with.
    max_samples : int, default=16
        Training rows in each subset; capped at the number of normal
        training rows. Small subsets make the score robust to anomalies in
        the training data (outlier detection, see Notes); when the training
        data are known to be clean (novelty detection), larger subsets such
        as 256 see finer, local anomalies. On ADBench's 10 classical sets
        (``benchmarks/bench_adbench.py``, mean ROC AUC over 3 seeds), 16
        gives 0.922 when fitting on all rows, anomalies included (256:
        0.828), and 256 gives 0.980 when fitting on normal rows only (16:
        0.951).
    n_neighbors : int, default=1
        Nearest rows of each subset whose mean distance counts; capped at
        ``max_samples``.
    input_weight : float, default=1.0
        Weight of the standardised input features next to the embedding in
        the distances of the scores. The embedding is divided by its root
        mean squared norm over the training rows, the standardised input by
        the square root of the number of features (its root mean squared
        norm when no feature is constant), and the input part is then
        multiplied by ``input_weight``: 1 weighs them about equally, 0
        scores on the embedding alone and keeps no input rows (the scores
        keep the input of at most ``n_estimators * max_samples`` training
        rows; sparse input stays sparse).
    contamination : "auto" or float in (0, 0.5], default="auto"
        Expected share of outliers in the training data, which sets
        ``offset_``: a float makes ``offset_`` that percentile of the
        training scores, as in :class:`~sklearn.ensemble.IsolationForest`.
        "auto" uses Tukey's fence on the training scores,
        ``offset_ = Q1 - 1.5 * (Q3 - Q1)``: only rows scoring unusually low
        for the training data are outliers.
    max_epochs : int, default=20
        Training epochs (passes over the training rows).
    batch_size : int, default=256
        Rows per training batch (each gives two views).
    lr : float, default=1e-3
        Learning rate.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Optimizer; ``optimizer__*`` parameters are routed to it.
    lr_schedule : {"cosine", "warmup_linear"} or None, default="cosine"
        Cosine annealing of the learning rate over ``max_epochs``;
        "warmup_linear": linear warm-up over the first 10 % of the training
        steps, then linear decay to 0.
    weight_decay : float, default=1e-4
        Weight decay of the optimizer.
    clip_grad_norm : float or None, default=None
        Clip the gradient norm to this value.
    augment : callable or None, default=None
        Extra augmentation, applied to the stacked views (a float32 tensor of
        shape ``(2 * batch, n_features)``) after the corruption.
    device : str or torch.device, default="cpu"
        Device for training and inference.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, batches and corruption; an int makes fits repeatable.
        The global torch and numpy random states are not used.
    verbose : int, default=0
        0 is silent; 1 prints skorch's epoch log.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks.
    **kwargs
        ``module__*`` and ``optimizer__*`` parameters, routed as in skorch.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained skorch network.
    mean_, scale_ : ndarray of shape (`n_features_in_`,)
        Standardisation of the input.
    reference_ : ndarray of shape (n_reference, embedding_dim)
        Embeddings (float64) of the normal training rows that some subset
        holds.
    reference_input_ : ndarray or sparse matrix of shape (n_reference, \
            `n_features_in_`), or None
        The same rows of the input, standardised (sparse rows only divided
        by ``scale_``), float32; None when ``input_weight=0``.
    embedding_scale_ : float
        Root mean squared norm of ``reference_``, which the embedding part
        of the distances is divided by.
    subsets_ : ndarray of shape (n_estimators, `max_samples_`)
        Rows of ``reference_`` in each subset.
    max_samples_ : int
        Rows per subset actually used.
    n_neighbors_ : int
        Neighbours per subset actually used.
    offset_ : float
        ``decision_function = score_samples - offset_``.
    history_ : skorch.History
        Per-epoch training record.
    n_iter_ : int
        Number of epochs trained.
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
    Why subsets: anomalies in the training data often come in groups (a
    faulty batch, a rare class). Against all training embeddings, a member
    of such a group finds its own kind nearby and looks normal (masking:
    plain 5-nearest-neighbour scoring of the embeddings gets ROC AUC 0.23 on
    ADBench's musk set and 0.39 on shuttle). A subset of 16 rows rarely holds
    a member of a small group, so the distance to the subset's nearest row
    reflects the density of the bulk of the data; averaging over many
    subsets makes the score smooth. This is the nearest-neighbour ensemble
    of LeSiNN (Pang et al., 2015) and iNNE (Bandaragoda et al., 2018), the
    subsampling idea of :class:`~sklearn.ensemble.IsolationForest`, here in
    the learned embedding (musk 1.00, shuttle 0.99).

    Why not the cosine distance the contrastive loss uses: a ReLU network is
    close to positively homogeneous far from the data, so rows with extreme
    values along one direction get embeddings of one direction and larger
    norm. Cosine neighbours then put such anomalies next to each other (on
    ADBench's cardio, thyroid and WBC sets, cosine kNN ranks anomalies as
    *more* normal: ROC AUC 0.1-0.35). Euclidean distances keep the norm.

    Why the input features too: the embedding learns which features go
    together, but it can also blur differences that plain distances see
    (on ADBench's mnist and vowels sets, distances on the embedding alone
    rank anomalies worse than distances on the standardised features; on
    cardio and pendigits it is the other way round). Measured on both, the
    score follows the better of the two on most sets: over the 10 ADBench
    sets of ``benchmarks/bench_adbench.py`` (3 seeds, these subsets), mean
    ROC AUC 0.922, against 0.916 on the embedding alone (``input_weight=0``)
    and 0.920 on the standardised features alone.

    A row is never compared with itself: subset members at (numerically)
    zero distance are left out, so a training row is scored as a new row
    would be (leave-one-out), and an exact duplicate of a training row is
    scored against the other rows. ``offset_`` comes from these scores of
    the training rows, so ``fit_predict`` flags the ``contamination`` share
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

    _parameter_constraints = {
        **SiameseBase._parameter_constraints,
        "corruption": [Interval(Real, 0, 1, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "max_samples": [Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "input_weight": [Interval(Real, 0, None, closed="left")],
        "contamination": [
            StrOptions({"auto"}),
            Interval(Real, 0, 0.5, closed="right"),
        ],
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
        corruption=0.6,
        temperature=0.5,
        n_estimators=200,
        max_samples=16,
        n_neighbors=1,
        input_weight=1.0,
        contamination="auto",
        max_epochs=20,
        batch_size=256,
        lr=1e-3,
        optimizer=torch.optim.AdamW,
        lr_schedule="cosine",
        weight_decay=1e-4,
        clip_grad_norm=None,
        augment=None,
        device="cpu",
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
        self.n_estimators = n_estimators
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
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self._set_routed(kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _criterion_params(self):
        return {
            "criterion": ViewsCriterion,
            "criterion__loss": SupConLoss(margin=self.temperature),
        }

    def _net_params(self):
        return {"batching": "shuffled"}

    # -- fitting -------------------------------------------------------------------

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
        with self._fit_state(fresh=True):
            X = check_rows(self, X, reset=True)
            anomalous = self._check_y(X, y)
            self._fit_rows(X, anomalous)
        return self

    def _fit_rows(self, X, anomalous):
        self.mean_, self.scale_ = _mean_scale(X)
        labels = np.arange(X.shape[0], dtype=np.int64)
        labels[anomalous] = _ANOMALY
        seed = self._next_seed()
        dataset = _ScaledRows(X, self.mean_, self.scale_, labels)
        net = self._build_net(X.shape[1], seed)
        net.augment = _ScarfViews(
            dataset, self.corruption, seed, then=copy.deepcopy(self.augment)
        )
        try:
            self._train(net, dataset, seed, initialize=True)
        finally:
            net.augment = None  # the views keep a reference to the training data
        self.net_ = net
        self.history_ = net.history
        self.n_iter_ = len(net.history)
        normal = np.flatnonzero(~anomalous)
        rng = np.random.RandomState(seed)
        self.max_samples_ = min(self.max_samples, len(normal))
        self.n_neighbors_ = min(self.n_neighbors, self.max_samples_)
        subsets = np.stack(
            [
                rng.choice(len(normal), self.max_samples_, replace=False)
                for _ in range(self.n_estimators)
            ]
        )
        # only the rows some subset holds are embedded and kept
        rows, self.subsets_ = np.unique(subsets, return_inverse=True)
        self.subsets_ = self.subsets_.reshape(subsets.shape)
        self.reference_ = self._embed(X[normal[rows]]).astype(np.float64)
        self.embedding_scale_ = _rms_norm(self.reference_)
        self.reference_input_ = (
            self._scaled_input(X[normal[rows]], center=not sp.issparse(X))
            if self.input_weight > 0
            else None
        )
        scores = self._scores(X)
        if self.contamination == "auto":
            q1, q3 = np.percentile(scores, [25, 75])
            self.offset_ = float(q1 - 1.5 * (q3 - q1))
        else:
            self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))

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
                stacklevel=4,
            )
        if anomalous.all():
            raise ValueError(
                "y marks every row as an anomaly (-1); at least one normal row "
                "(y=1) is needed as reference."
            )
        return anomalous

    # -- inference -------------------------------------------------------------------

    def _iter_embed(self, X):
        check_is_fitted(self, "net_")
        dataset = _ScaledRows(X, self.mean_, self.scale_)
        for chunk in self.net_.forward_iter(dataset):
            yield chunk.numpy()

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

        The score is minus the Euclidean distance from a row to the nearest
        training row (the mean over the ``n_neighbors`` nearest) of each of
        the ``n_estimators`` random subsets of ``max_samples`` training
        rows, averaged over the subsets. Distances are measured on the
        embedding and the standardised input features together (see
        ``input_weight``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Non-positive; higher means more normal.
        """
        return self._scores(self._check_X(X))

    def _scaled_input(self, X, center):
        """Rows divided by ``scale_``, and centred when ``center``: the mean
        cancels in distances, so sparse training rows stay sparse (and
        uncentred), while dense ones are centred for precise distances."""
        inverse = 1.0 / self.scale_
        if sp.issparse(X):
            X = sp.csr_matrix(X.multiply(inverse), dtype=np.float32)
            return (
                X.toarray() - (self.mean_ * inverse).astype(np.float32) if center else X
            )
        return ((X - self.mean_ * center) * inverse).astype(np.float32)

    def _squared_distances(self, emb, X):
        """Squared distances of rows (embeddings ``emb`` of inputs ``X``) to
        ``reference_`` in the scoring space."""
        dist = (
            euclidean_distances(emb.astype(np.float64), self.reference_, squared=True)
            / self.embedding_scale_**2
        )
        if self.reference_input_ is not None:
            # standardised rows have a mean squared norm of n_features
            weight = self.input_weight**2 / self.n_features_in_
            center = not sp.issparse(self.reference_input_)
            dist += weight * euclidean_distances(
                self._scaled_input(X, center), self.reference_input_, squared=True
            )
        return dist

    def _scores(self, X):
        # a training row in a subset would be its own nearest neighbour and
        # look more normal than any new row: rows closer than float32
        # rounding are the row itself (or a duplicate) and are left out
        tol = 1e-10 * (1.0 + (self.reference_input_ is not None) * self.input_weight**2)
        parts = []
        start = 0
        for emb in self._iter_embed(X):
            stop = start + len(emb)
            # (n_rows, n_estimators, max_samples_): distances to each subset
            dist = self._squared_distances(emb, X[start:stop])[:, self.subsets_]
            start = stop
            k = self.n_neighbors_
            if self.max_samples_ > 1:
                dist[dist <= tol] = np.inf
                k = min(k, self.max_samples_ - 1)
            np.sqrt(dist, out=dist)
            if k == 1:
                nearest = dist.min(2)
            else:
                nearest = np.partition(dist, k - 1, axis=2)[:, :, :k].mean(2)
            parts.append(-nearest.mean(1))
        return np.concatenate(parts) if parts else np.empty(0)

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


def _rms_norm(rows):
    norm = float(np.sqrt(np.mean(np.sum(rows**2, axis=1))))
    return norm if norm > 0 else 1.0


def _mean_scale(X):
    if sp.issparse(X):
        mean, var = mean_variance_axis(X, axis=0)
    else:
        mean, var = X.mean(0), X.var(0)
    scale = np.sqrt(np.asarray(var, dtype=np.float64))
    scale[~(scale > 1e-12 * np.maximum(np.abs(mean), 1.0))] = 1.0
    return np.asarray(mean, dtype=np.float64), scale


__all__ = ["SiameseOutlierDetector"]
