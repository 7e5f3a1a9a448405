"""Field-aware backbone for records: one twin per field, learned field weights.

A record encoder (:class:`sksiamese.records.RecordEncoder`, or a
:class:`~sklearn.compose.ColumnTransformer`) lays each field's features out in
its own block of columns. :class:`FieldwiseMLP` embeds each block with its own
small network, so the distance of two records is a learned combination of
per-field similarities instead of the similarity of one embedding of the
whole record.
"""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from ..utils.rows import row_cosines, row_products

__all__ = ["FieldwiseMLP"]

# The field weights are exp(_WEIGHT_RATE * log_weights): a learning-rate
# multiplier for these few parameters, which would otherwise move by about
# lr per step (Adam) and stay near equal within a usual training run.
_WEIGHT_RATE = 10.0
# The least share a field keeps when the labelled pairs give it none: off in
# effect, with a weight that stays finite
_MIN_SHARE = 1e-3
# The inverse L2 strength of the logistic regression that starts the field
# weights (scikit-learn's C), as the estimators' probability calibration:
# a handful of weights, fitted on every training pair
_WEIGHTS_C = 100.0


class FieldwiseMLP(nn.Module):
    """Embed each field of a record separately and weigh the fields.

    The input row is an encoded record whose fields occupy disjoint column
    blocks (``fields``). Each field gets its own twin, the
    :class:`~sksiamese.modules.MLP` in its residual form (a linear input map
    started at the field's own geometry by :meth:`initialize_from`, plus the
    hidden layers as a branch that starts at zero), shared by the two records
    of a pair (as every backbone is) but not across
    fields. Each field's embedding is L2-normalised and multiplied by a
    learned positive weight ``w_f``; the output is their concatenation.

    So, for two records ``a`` and ``b`` with per-field cosine similarities
    ``cos_f(a, b)``, the cosine similarity of the outputs is the weighted
    mean ``sum_f w_f**2 cos_f(a, b) / sum_f w_f**2`` and their squared
    Euclidean distance is ``sum_f 2 w_f**2 (1 - cos_f(a, b))``: training
    learns how much a difference in each field counts (a changed phone number
    against a typo in a name), as entity-matching models that compare records
    attribute by attribute do. ``field_weights()`` returns the learned
    ``w_f**2 / sum_f w_f**2``.

    :class:`~sksiamese.SiamesePairClassifier` builds it by default on
    records encoded by its default :class:`~sksiamese.records.RecordEncoder`,
    and, whenever it is its backbone, starts the field weights from the
    labelled training pairs (:meth:`initialize_from_pairs`) before training;
    every estimator whose backbone it is calls :meth:`initialize_from`.

    With a sksiamese estimator, leave ``fields`` out (``module=FieldwiseMLP``):
    the estimator passes its fitted encoder's ``field_slices_`` (as
    :class:`~sksiamese.records.RecordEncoder` has; a
    :class:`~sklearn.compose.ColumnTransformer`'s ``output_indices_`` is used
    when the encoder has no ``field_slices_``, the last step's for a
    Pipeline); otherwise pass ``module__fields``. The estimator's
    ``hidden_layer_sizes``, ``embedding_dim``, ``dropout`` and ``batch_norm``
    reach every field's twin (its defaults then replace the ones below).

    A field left empty in both records (an all-zero block, e.g. a missing
    text) embeds to the same point in both, so it counts as agreeing; fill
    or drop such fields when a missing value should not look like a match.

    Parameters
    ----------
    n_features : int
        Input dimension (the encoder's output width).
    fields : dict of str to slice, or sequence of slice
        The columns of each field, as contiguous ``slice(start, stop)``
        within ``[0, n_features)``; fields must not overlap. Columns in no
        field are ignored. Empty slices (such as a ColumnTransformer's
        dropped ``remainder``) are skipped.
    hidden_layer_sizes : tuple of int, default=(64,)
        Width of each hidden layer of every field's twin; ``()`` gives a
        linear embedding per field.
    embedding_dim : int or "auto", default="auto"
        Embedding size *per field*; the output has ``n_fields *
        embedding_dim`` columns when it is an int. "auto": each field's twin
        sizes its embedding from the field's width, as
        :class:`~sksiamese.modules.MLP` does.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    batch_norm : bool, default=True
        Batch normalisation after each hidden linear layer.

    Attributes
    ----------
    field_names : list of str
        The fields, in output order (``"field0"``, ... for a sequence).
    field_slices : list of slice
        Their input columns.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.modules import FieldwiseMLP
    >>> net = FieldwiseMLP(10, {"name": slice(0, 6), "phone": slice(6, 10)},
    ...                    hidden_layer_sizes=(8,), embedding_dim=4)
    >>> out = net(torch.randn(5, 10))
    >>> out.shape
    torch.Size([5, 8])
    >>> {k: round(v, 2) for k, v in net.field_weights().items()}
    {'name': 0.5, 'phone': 0.5}

    With an estimator on record pairs, the field layout of its encoder (the
    default :class:`~sksiamese.records.RecordEncoder`) reaches the backbone:

    >>> import pandas as pd
    >>> from sksiamese import SiamesePairClassifier
    >>> names = ["ann lee", "anne lee", "bob ray", "rob ray", "cy young", "sy yung"]
    >>> phones = ["111", "111", "222", "222", "333", "333"]
    >>> pairs = [(i, j) for i in range(6) for j in range(i + 1, 6)]
    >>> X = pd.DataFrame({
    ...     "ltable_name": [names[i] for i, _ in pairs],
    ...     "ltable_phone": [phones[i] for i, _ in pairs],
    ...     "rtable_name": [names[j] for _, j in pairs],
    ...     "rtable_phone": [phones[j] for _, j in pairs]})
    >>> y = [int(i // 2 == j // 2) for i, j in pairs]
    >>> model = SiamesePairClassifier(
    ...     FieldwiseMLP, hidden_layer_sizes=(8,), embedding_dim=4, max_epochs=5,
    ...     random_state=0).fit(X, y)
    >>> model.net_.module_.field_names  # the encoder's whole-record block last
    ['name', 'phone', '__record__']
    >>> model.embed(pd.DataFrame({"name": names, "phone": phones})).shape
    (6, 12)
    """

    def __init__(
        self,
        n_features,
        fields,
        hidden_layer_sizes=(64,),
        embedding_dim="auto",
        dropout=0.0,
        batch_norm=True,
    ):
        super().__init__()
        names, slices = _check_fields(fields, n_features)
        self.field_names = names
        self.field_slices = slices
        # sksiamese.modules re-exports this class, so it imports here
        from ._backbones import MLP

        # each twin is the residual MLP: the untrained backbone compares the
        # records field by field as the encoder's output does
        self.twins = nn.ModuleList(
            MLP(
                s.stop - s.start,
                hidden_layer_sizes,
                embedding_dim,
                dropout,
                batch_norm,
                residual=True,
            )
            for s in slices
        )
        # log of w_f: exp keeps the weights positive; equal weights at start
        self.log_weights = nn.Parameter(torch.zeros(len(slices)))

    def forward(self, X):
        """Embed a batch of encoded records.

        Parameters
        ----------
        X : torch.Tensor of shape (n_rows, n_features)
            Encoded records.

        Returns
        -------
        embeddings : torch.Tensor of shape (n_rows, n_fields * embedding_dim)
            The weighted, per-field L2-normalised embeddings, field after field.
        """
        weights = (_WEIGHT_RATE * self.log_weights).exp()
        parts = [
            F.normalize(twin(X[:, s]), dim=1) * weights[i]
            for i, (twin, s) in enumerate(zip(self.twins, self.field_slices))
        ]
        return torch.cat(parts, dim=1)

    @torch.no_grad()
    def initialize_from(self, X):
        """Start each field's twin at the geometry of its columns of ``X``
        (see :meth:`MLP.initialize_from <sksiamese.modules.MLP.initialize_from>`):
        the untrained network's cosine of two records is then the mean of
        their per-field cosines.

        Parameters
        ----------
        X : ndarray or scipy.sparse matrix of shape (n_rows, n_features)
            Training rows (encoded records).
        """
        if hasattr(X, "tocsc"):
            X = X.tocsc()  # cheap column blocks
        for twin, s in zip(self.twins, self.field_slices):
            twin.initialize_from(X[:, s])

    @torch.no_grad()
    def initialize_from_pairs(self, A, B, y):
        """Start the field weights at what tells labelled pairs apart.

        A logistic regression of ``y`` on the per-field cosine similarities
        of the pairs, with non-negative coefficients (a field agreeing more
        can never make a match less likely), sets each field's share of the
        cosine similarity of two records to its coefficient's share (at
        least ``1e-3``). The untrained network then scores a pair as that
        regression's linear part does, up to scale and offset: as
        entity-matching tools weigh per-field comparisons (e.g. a matching
        phone number more than a matching city), before any training. The
        cosines are those of the columns of each field, which the twins
        reproduce after :meth:`initialize_from`. When no field gets a
        positive coefficient (no field tells the pairs apart) the weights
        stay equal.

        Parameters
        ----------
        A, B : ndarray or scipy.sparse matrix of shape (n_pairs, n_features)
            The encoded first and second records of the pairs.
        y : array-like of shape (n_pairs,)
            1 (or True) for a pair of the same entity, 0 otherwise; both
            must occur.

        Examples
        --------
        >>> import numpy as np
        >>> from sksiamese.modules import FieldwiseMLP
        >>> rng = np.random.RandomState(0)
        >>> A = rng.rand(40, 4)
        >>> y = np.arange(40) % 2
        >>> # the second field agrees in the matches only; the first at random
        >>> B = np.column_stack([rng.rand(40, 2),
        ...                      np.where(y[:, None] == 1, A[:, 2:], rng.rand(40, 2))])
        >>> net = FieldwiseMLP(4, {"name": slice(0, 2), "phone": slice(2, 4)})
        >>> net.initialize_from_pairs(A, B, y)
        >>> w = net.field_weights()
        >>> w["phone"] > 0.9
        True
        """
        y = np.asarray(y, dtype=float)
        if len(np.unique(y)) != 2:
            raise ValueError("y must hold both matching (1) and other (0) pairs.")
        if sp.issparse(A):
            A, B = A.tocsc(), B.tocsc()  # cheap column blocks
        cosines = np.column_stack(
            [row_cosines(*row_products(A[:, s], B[:, s])) for s in self.field_slices]
        )
        coef = _positive_logistic(cosines, y, _WEIGHTS_C)
        if coef.sum() <= 0:
            return
        share = np.maximum(coef / coef.sum(), _MIN_SHARE)
        # the cosine weighs field f by w_f**2, with w_f = exp(rate * log_w_f)
        log_weights = np.log(share / share.sum()) / (2 * _WEIGHT_RATE)
        self.log_weights.copy_(torch.as_tensor(log_weights, dtype=torch.float32))

    def field_weights(self):
        """The share of each field in the cosine similarity of two records.

        Returns
        -------
        weights : dict of str to float
            ``w_f**2 / sum_f w_f**2`` per field name; they sum to 1.

        Examples
        --------
        >>> from sksiamese.modules import FieldwiseMLP
        >>> net = FieldwiseMLP(4, [slice(0, 1), slice(1, 4)])
        >>> net.field_weights()
        {'field0': 0.5, 'field1': 0.5}
        """
        with torch.no_grad():
            share = torch.softmax(2 * _WEIGHT_RATE * self.log_weights, dim=0)
        return {n: float(w) for n, w in zip(self.field_names, share)}


def _positive_logistic(X, y, C):
    """Coefficients of an L2-penalised logistic regression of ``y`` (0/1) on
    ``X`` whose coefficients are constrained non-negative (the intercept is
    free), with scikit-learn's objective ``||w||^2 / 2 + C * sum(log-loss)``."""
    from scipy.optimize import minimize
    from scipy.special import expit

    n_features = X.shape[1]
    sign = 2 * y - 1

    def objective(params):
        w, b = params[:-1], params[-1]
        margin = sign * (X @ w + b)
        grad = -C * sign * expit(-margin)
        value = 0.5 * w @ w + C * np.logaddexp(0, -margin).sum()
        return value, np.append(w + X.T @ grad, grad.sum())

    bounds = [(0, None)] * n_features + [(None, None)]
    start = np.zeros(n_features + 1)
    result = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return np.maximum(result.x[:-1], 0)


def _check_fields(fields, n_features):
    """Names and slices of ``fields``; a clear error for a bad layout."""
    if isinstance(fields, dict):
        items = list(fields.items())
    elif isinstance(fields, (list, tuple)):
        items = [(f"field{i}", s) for i, s in enumerate(fields)]
    else:
        raise TypeError(
            "fields must be a dict of field name to slice (as an encoder's "
            f"field_slices_) or a sequence of slices; got {type(fields).__name__}."
        )
    names, slices = [], []
    for name, s in items:
        if not isinstance(s, slice):
            raise TypeError(
                f"fields[{name!r}] must be a slice of columns such as slice(0, 10); "
                f"got {s!r}."
            )
        start, stop = s.start or 0, s.stop
        ints = all(isinstance(v, Integral) for v in (start, stop))
        if not ints or s.step not in (None, 1) or start < 0:
            raise ValueError(
                f"fields[{name!r}] = {s!r} must be a contiguous slice(start, stop) "
                "with non-negative integer bounds."
            )
        if stop > n_features:
            raise ValueError(
                f"fields[{name!r}] = {s!r} reaches past the {n_features} input "
                "columns; the fields must describe the encoder's output."
            )
        if stop <= start:
            continue  # an empty block (e.g. a dropped remainder) has no field
        names.append(str(name))
        slices.append(slice(int(start), int(stop)))
    if not slices:
        raise ValueError(f"fields holds no non-empty slice: {fields!r}.")
    order = sorted(range(len(slices)), key=lambda i: slices[i].start)
    for a, b in zip(order, order[1:]):
        if slices[b].start < slices[a].stop:
            raise ValueError(
                f"fields {names[a]!r} ({slices[a]}) and {names[b]!r} "
                f"({slices[b]}) overlap; each column belongs to one field at most."
            )
    return names, slices


def encoder_fields(encoder, module):
    """The ``fields`` of a field-aware backbone, from a fitted encoder.

    The encoder's ``field_slices_``, else its ``output_indices_`` (a fitted
    :class:`~sklearn.compose.ColumnTransformer`), for a Pipeline those of its
    last step; a ``ValueError`` saying to
    pass ``module__fields`` when there is neither.
    """
    name = getattr(module, "__name__", type(module).__name__)
    if hasattr(encoder, "steps"):
        # a Pipeline's output is its last step's
        encoder = encoder.steps[-1][1]
    for attr in ("field_slices_", "output_indices_"):
        slices = None if encoder is None else getattr(encoder, attr, None)
        if slices is not None:
            return dict(slices)
    where = (
        "there is no encoder"
        if encoder is None
        else f"the encoder {type(encoder).__name__} has no field_slices_ (nor a "
        "ColumnTransformer's output_indices_)"
    )
    raise ValueError(
        f"{name} takes the column slice of each field (fields), but {where}: pass "
        "module__fields={'name': slice(0, 10), ...} (or use an encoder with "
        "field_slices_, such as sksiamese.records.RecordEncoder)."
    )
