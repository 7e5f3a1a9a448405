"""What every Siamese estimator shares: hyper-parameters -> skorch net, seeding,
the opening and the end of a fit, batched embedding."""

import copy
import functools
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
)
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import (
    EarlyStopping,
    GradientNormClipping,
    LRScheduler,
    ProgressBar,
)
from torch import nn

from .._callbacks import HeldOutScore, PlainPrintLog, WarmupLinearLR
from .._data import RowsDataset
from .._net import NonFiniteLossError, SiameseNet
from .._threads import resolve_threads, torch_threads
from ..distances import DISTANCES
from ..modules import MLP, ConvNet, FieldwiseMLP
from ..utils.validation import check_raw_items, check_rows
from ._backbone_spec import backbone_spec
from ._fewshot import selection_line
from ._pickling import _NetPickling

_ROUTED_PREFIXES = ("module__", "optimizer__")
_MAX_SEED = 2**31 - 1
# estimator parameters that reach the backbone's constructor when it takes them
# training parameters that may be "auto", resolved once per fit
# Rows a backbone's data-dependent initialisation sees at most.
_INIT_ROWS = 4096
_TRAINING_PARAMS = ("lr", "weight_decay", "lr_schedule", "max_epochs", "batch_size")
_AUTO = StrOptions({"auto"})


class SiameseBase(_NetPickling, BaseEstimator):
    """Hyper-parameter handling and skorch plumbing shared by the estimators.

    Subclasses declare their ``__init__`` with explicit keyword arguments (as
    scikit-learn requires) and pass extra ``module__*`` / ``optimizer__*``
    keywords to :meth:`_set_routed`; those are routed to skorch the way skorch
    routes them and take part in ``get_params`` / ``set_params`` / ``clone``.

    A fit opens with :meth:`_fitting`, which resolves the training parameters
    once (``_training_params_``, read by everything that builds or checks the
    net), and :meth:`_train` stores ``net_``, ``history_`` and ``n_iter_``.

    Subclasses with a loss or a miner to build add ``loss__`` / ``miner__``
    to ``_routed_prefixes``.
    """

    _routed_prefixes = _ROUTED_PREFIXES
    # the default MLP in its residual form, started from the input's geometry
    _residual_backbone = True

    # what "auto" training parameters become when the backbone has no
    # ``training_defaults()``
    _standard_training = {
        "lr": 1e-3,
        "weight_decay": 1e-4,
        "lr_schedule": "cosine",
        "max_epochs": 30,
        "batch_size": 128,
    }
    # what projection_dim="auto" becomes without a backbone's own
    _standard_projection = 64

    _parameter_constraints = {
        "module": [None, type, nn.Module],
        "hidden_layer_sizes": ["array-like"],
        "embedding_dim": [_AUTO, Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "projection_dim": [None, Interval(Integral, 1, None, closed="left")],
        "margin": [None, Interval(Real, 0, None, closed="neither")],
        "distance": [StrOptions(set(DISTANCES)), HasMethods(["pairwise", "paired"])],
        "max_epochs": [_AUTO, Interval(Integral, 1, None, closed="left")],
        "batch_size": [_AUTO, Interval(Integral, 2, None, closed="left")],
        "lr": [_AUTO, Interval(Real, 0, None, closed="neither")],
        "optimizer": [type],
        "lr_schedule": [None, StrOptions({"cosine", "warmup_linear", "auto"})],
        "weight_decay": [_AUTO, Interval(Real, 0, None, closed="left")],
        "clip_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "augment": [None, callable],
        "device": [str, torch.device],
        "n_jobs": [None, Integral],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [None, list],
        "warm_start": ["boolean"],
    }

    # -- routed parameters (module__*, optimizer__*) ----------------------------

    def _set_routed(self, kwargs):
        for key, value in kwargs.items():
            if not key.startswith(self._routed_prefixes):
                raise TypeError(
                    f"{type(self).__name__}.__init__() got an unexpected keyword "
                    f"argument {key!r}; only parameters prefixed with "
                    f"{' or '.join(self._routed_prefixes)} are routed."
                )
            setattr(self, key, value)

    def _routed_params(self, prefix=""):
        return {
            key: value
            for key, value in vars(self).items()
            if key.startswith(self._routed_prefixes) and key.startswith(prefix)
        }

    def get_params(self, deep=True):
        """Get the hyper-parameters, routed ``module__*`` / ``optimizer__*`` included.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators (such as an
            ``encoder``), as ``<name>__<parameter>``.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        params.update(self._routed_params())
        return params

    def set_params(self, **params):
        """Set hyper-parameters, routed ones (``module__*`` ...) included.

        Parameters
        ----------
        **params : dict
            Parameter names mapped to their new values; routed names (``module__*``,
            ``optimizer__*``, ``loss__*``, ``miner__*``) take effect at the next
            ``fit``.

        Returns
        -------
        self : estimator
            The estimator.
        """
        routed = {
            k: v for k, v in params.items() if k.startswith(self._routed_prefixes)
        }
        for key, value in routed.items():
            setattr(self, key, value)
        return super().set_params(
            **{k: v for k, v in params.items() if k not in routed}
        )

    # -- building blocks ---------------------------------------------------------

    def _takes_raw_items(self):
        """Whether the backbone embeds raw items (e.g. strings) itself, so the
        input is passed through as an object array instead of numeric rows."""
        return bool(getattr(self.module, "takes_raw_items", False))

    def _resolve_training(self):
        """lr, weight_decay, lr_schedule, max_epochs and batch_size for a fit.

        Each "auto" becomes the backbone instance's ``training_defaults()``
        value (a pretrained backbone's fine-tuning recipe) when it has one,
        else the estimator's standard value.
        """
        backbone = self._backbone_training_defaults()
        params = {}
        for name in _TRAINING_PARAMS:
            value = getattr(self, name)
            if isinstance(value, str) and value == "auto":
                value = backbone.get(name, self._standard_training[name])
            params[name] = value
        # the backbone's few-shot budget (SiameseTransformer reads it), and
        # the projection head where the estimator leaves it at "auto"
        if "min_steps" in backbone:
            params["min_steps"] = backbone["min_steps"]
        projection = getattr(self, "projection_dim", None)
        if isinstance(projection, str) and projection == "auto":
            default = backbone.get("projection_dim", self._standard_projection)
            params["projection_dim"] = default
        return params

    def _backbone_training_defaults(self):
        """The backbone's ``training_defaults()``: an instance's own, or for
        a class, its ``class_training_defaults(**module__ parameters)``, so
        that the class and an instance train alike."""
        if isinstance(self.module, nn.Module):
            hook = getattr(self.module, "training_defaults", None)
            return {} if hook is None else dict(hook())
        hook = getattr(self.module, "class_training_defaults", None)
        if hook is None:
            return {}
        routed = self._routed_params("module__")
        return dict(hook(**{k[len("module__") :]: v for k, v in routed.items()}))

    def _default_backbone(self):
        """The backbone class built when ``module`` is None."""
        return MLP

    def _module_spec(self, n_features):
        """Return (module, kwargs) as skorch takes them (see
        :func:`~sksiamese.estimators._backbone_spec.backbone_spec`)."""
        return backbone_spec(self, n_features)

    def _criterion_params(self):
        """The skorch ``criterion`` and ``criterion__*`` parameters."""
        raise NotImplementedError

    def _net_params(self):
        """Estimator-specific parameters of :class:`SiameseNet` (batching)."""
        raise NotImplementedError

    def _callbacks(self, scorer, training):
        callbacks = []
        if training["lr_schedule"] == "cosine":
            callbacks.append(
                (
                    "lr_schedule",
                    LRScheduler(
                        policy=torch.optim.lr_scheduler.CosineAnnealingLR,
                        T_max=training["max_epochs"],
                    ),
                )
            )
        elif training["lr_schedule"] == "warmup_linear":
            callbacks.append(("lr_schedule", WarmupLinearLR(training["max_epochs"])))
        if self.clip_grad_norm is not None:
            callbacks.append(
                (
                    "clip_grad_norm",
                    GradientNormClipping(gradient_clip_value=self.clip_grad_norm),
                )
            )
        if scorer is not None:
            # the held-out score first: early stopping reads it at each epoch
            callbacks.append(("valid_score", scorer))
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_score",
                        lower_is_better=False,
                        # a tie is progress: a small held-out set saturates
                        # (ROC AUC 1) while more epochs still widen margins
                        threshold=-1e-9,
                        threshold_mode="abs",
                        patience=self.n_iter_no_change,
                        load_best=True,
                        sink=print if self.verbose else _silent,
                    ),
                )
            )
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        for i, callback in enumerate(self.callbacks or []):
            if not isinstance(callback, tuple):
                callback = (f"user_callback_{i}", callback)
            schedule = training["lr_schedule"]
            if schedule is not None and isinstance(callback[1], LRScheduler):
                # two schedulers would both set the learning rate at each epoch
                raise ValueError(
                    f"callbacks holds an LRScheduler while lr_schedule="
                    f"{self.lr_schedule!r} ({schedule!r}) also schedules the "
                    "learning rate; set lr_schedule=None to use your own schedule."
                )
            callbacks.append((callback[0], copy.deepcopy(callback[1])))
        return callbacks

    def _build_net(self, n_features, seed, scorer=None, scheduled=True):
        """The skorch net of a fit, from the training parameters resolved at
        its start (``_training_params_``); ``scorer``: the
        :class:`~sksiamese._callbacks.HeldOutScore` that selects the model."""
        _check_device(self.device)
        module, module_kwargs = self._module_spec(n_features)
        training = self._training_params_
        routed = self._routed_params("optimizer__")
        optimizer_kwargs = {
            "optimizer__weight_decay": training["weight_decay"],
            **_fused_adam(self.optimizer, self.device, routed),
            **routed,
        }
        callbacks = self._callbacks(scorer, training=training)
        if not scheduled:
            callbacks = [c for c in callbacks if c[0] != "lr_schedule"]
        return SiameseNet(
            module=module,
            optimizer=self.optimizer,
            lr=training["lr"],
            max_epochs=training["max_epochs"],
            batch_size=training["batch_size"],
            # held-out data is scored by the HeldOutScore callback
            train_split=None,
            callbacks=callbacks,
            # skorch's own way to replace a default callback
            callbacks__print_log=PlainPrintLog(),
            device=self.device,
            verbose=self.verbose,
            seed=seed,
            # a stateful augmentation (own seeded generator) restarts at each fit
            augment=copy.deepcopy(self.augment),
            predict_batch_size=_predict_batch_size(training["batch_size"], n_features),
            # the loss side owns the projection head, sized to the backbone
            projection_dim=training.get("projection_dim", self.projection_dim),
            n_features=n_features,
            # net_.load_params never unpickles arbitrary objects, whatever
            # skorch's default
            torch_load_kwargs={"weights_only": True},
            **self._criterion_params(),
            **self._net_params(),
            **module_kwargs,
            **optimizer_kwargs,
        )

    # -- seeding and training -----------------------------------------------------

    def _next_seed(self):
        """A seed for the next training run, derived from ``random_state``.

        Successive calls on the same fitted estimator (``partial_fit``) get
        different but repeatable seeds.
        """
        rng = check_random_state(self.random_state)
        calls = getattr(self, "n_training_calls_", 0)
        return (int(rng.randint(_MAX_SEED)) + calls) % _MAX_SEED

    @contextmanager
    def _torch_seeded(self, seed):
        """Seed torch on a forked RNG so the caller's global state is untouched."""
        devices = []
        if str(self.device).startswith("cuda") and torch.cuda.is_available():
            devices = list(range(torch.cuda.device_count()))
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    @contextmanager
    def _fitting(self, partial=False):
        """Open a ``fit`` (or, with ``partial``, a ``partial_fit``).

        Yields whether the call continues from the fitted ``net_``: ``fit``
        does with ``warm_start``, ``partial_fit`` whenever the estimator is
        fitted. Runs inside :meth:`_fit_state`, and resolves the training
        parameters once for the call (``_training_params_``).
        """
        warm = partial or getattr(self, "warm_start", False)
        continuing = warm and hasattr(self, "net_")
        with self._fit_state(fresh=not continuing):
            self._training_params_ = self._resolve_training()
            yield continuing

    @contextmanager
    def _fit_state(self, fresh):
        """Leave no half-fitted estimator behind when fitting fails.

        ``fresh`` (``fit`` from scratch): the previous model is discarded
        first, as any ``fit`` replaces it, and a failure leaves the estimator
        unfitted, without a stale or partial fitted attribute. Otherwise
        (``warm_start``, ``partial_fit``), a failure restores the fitted
        model as it was before the call. A ``KeyboardInterrupt`` inside the
        training loop is not a failure: skorch stops at the interrupted epoch
        and the estimator is fitted with the weights trained so far.
        """
        saved = None if fresh else dict(vars(self))
        if fresh:
            self._clear_fitted()
        try:
            yield
        except BaseException:
            self._clear_fitted()
            vars(self).update(saved or {})
            raise

    def _clear_fitted(self):
        # fitted state is what ends with "_" (scikit-learn's convention)
        for attr in [a for a in vars(self) if a.endswith("_") and a[:2] != "__"]:
            del self.__dict__[attr]

    def _continued_net(self, n_features, seed):
        """A net at the constant rate ``lr`` that takes over ``net_``.

        A fresh net (no schedule, no early stopping) takes over the trained
        weights (the backbone's and the criterion's, projection head
        included) and a copy of the history: a cosine schedule has annealed
        the learning rate to zero and cannot simply be resumed on new data,
        and a failed continuation must not leave epochs in the old history.
        """
        net = self._build_net(n_features, seed, scheduled=False)
        with self._torch_seeded(seed):  # leave the global torch RNG alone
            net.initialize()
        net.module_.load_state_dict(self.net_.module_.state_dict())
        net.criterion_.load_state_dict(self.net_.criterion_.state_dict())
        net.history = copy.deepcopy(self.net_.history)
        return net

    def _train(self, net, dataset, seed, initialize, init_rows=None, init_pairs=None):
        """Run ``net`` on ``dataset`` and store it as ``net_`` (with
        ``history_`` and ``n_iter_``); turn a non-finite loss into a clear
        error.

        ``init_rows``: training rows (a sample, see :func:`_init_sample`) from
        which a fresh backbone with an ``initialize_from`` method starts (its
        input's geometry); ``init_pairs``: labelled training pairs ``(A, B,
        y)`` for one with an ``initialize_from_pairs`` method (after
        ``initialize_from``; e.g. :class:`~sksiamese.modules.FieldwiseMLP`'s
        field weights). With a
        held-out scorer, the untrained network is kept unless an epoch
        scored better by more than the standard error of the gain, measured
        on the same held-out tuples (paired)
        (``validation_scores_``, ``best_epoch_``, ``best_validation_score_``).
        """
        with self._torch_seeded(seed):
            if initialize:
                net.initialize()
                hook = getattr(net.module_, "initialize_from", None)
                if init_rows is not None and hook is not None:
                    hook(init_rows)
                hook = getattr(net.module_, "initialize_from_pairs", None)
                if init_pairs is not None and hook is not None:
                    hook(*init_pairs)
            try:
                with torch_threads(self._n_threads(net, dataset)):
                    net.partial_fit(dataset)
            except NonFiniteLossError as exc:
                raise FloatingPointError(str(exc)) from None
        self._select_start(net)
        self.n_training_calls_ = getattr(self, "n_training_calls_", 0) + 1
        self.net_ = net
        self.history_ = net.history
        self.n_iter_ = len(net.history)
        return net

    def _select_start(self, net):
        """Keep the untrained network unless an epoch clearly beat it on
        held-out data."""
        scorer = dict(net.callbacks_).get("valid_score")
        if not isinstance(scorer, HeldOutScore):
            return
        scores = [scorer.start_score_, *net.history[:, "valid_score"]]
        start, state = scores[0], scorer.start_state_
        scorer.start_state_ = None
        # the epoch whose weights early stopping restored (or the last)
        stopper = dict(net.callbacks_)["early_stopping"]
        self.best_epoch_ = int(getattr(stopper, "best_epoch_", len(scores) - 1))
        # the one-standard-error rule: leave the start only for a clear gain,
        # judged on the same held-out tuples (a paired difference)
        # (only fresh nets have a scorer: their history is this call's epochs)
        gain = scores[self.best_epoch_] - start
        error = scorer.gain_se_[self.best_epoch_ - 1] if self.best_epoch_ else 0.0
        if self.verbose:
            print(selection_line(self.best_epoch_, start, gain, error), flush=True)
        if self.best_epoch_ == 0 or gain <= error:
            self.best_epoch_ = 0
            net.module_.load_state_dict(state["module"])
            net.criterion_.load_state_dict(state["criterion"])
        self.validation_scores_ = scores
        self.best_validation_score_ = scores[self.best_epoch_]

    # -- inference ---------------------------------------------------------------

    @property
    def distance_(self):
        """The distance module the fitted model compares embeddings with.

        It has ``pairwise(a, b)``, ``paired(a, b)`` and ``similarity(d)``
        (see :mod:`sksiamese.distances`); ``similarity`` maps the distances
        of ``pair_distance`` to the scores the estimator reports.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sksiamese import SiameseTransformer
        >>> X, y = load_iris(return_X_y=True)
        >>> SiameseTransformer(max_epochs=1, random_state=0).fit(X, y).distance_
        CosineDistance()
        """
        check_is_fitted(self)
        return self.net_.criterion_.distance

    def embedding_module(self):
        """Return a copy of the fitted torch module that computes the embeddings.

        The module maps the estimator's preprocessed input to what
        ``transform`` (or ``embed``) returns, as a float32 tensor of shape
        ``(n_rows, n_features)``: the rows, the encoded items for an
        estimator with an ``encoder``, the raw items for a backbone that
        embeds them itself. Use it to serve or export the model with torch
        tooling (:func:`sksiamese.export.to_onnx` exports it). It is a copy
        on the CPU in evaluation mode: changing it leaves the estimator
        alone.

        Returns
        -------
        module : torch.nn.Module
            The network, with the preprocessing the estimator applies before
            it (e.g. a standardisation) included.

        Examples
        --------
        >>> import torch
        >>> from sklearn.datasets import load_iris
        >>> from sksiamese import SiameseTransformer
        >>> X, y = load_iris(return_X_y=True)
        >>> model = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
        >>> module = model.embedding_module()
        >>> with torch.no_grad():
        ...     embeddings = module(torch.as_tensor(X, dtype=torch.float32))
        >>> bool(torch.allclose(embeddings, torch.from_numpy(model.transform(X))))
        True
        """
        check_is_fitted(self)
        return copy.deepcopy(self.net_.module_).cpu().eval()

    def __sklearn_is_fitted__(self):
        # n_features_in_ alone (left by a failed fit) does not make a model
        return hasattr(self, "net_")

    def _check_X(self, X):
        """Validate rows for a fitted estimator that embeds rows."""
        check_is_fitted(self)
        if self._takes_raw_items():
            return check_raw_items(X, type(self).__name__)
        return check_rows(self, X, reset=False)

    def _n_threads(self, net, dataset=None):
        """Torch's intra-op threads for ``net`` on ``dataset`` under ``n_jobs``
        (see _threads); sparse rows that stay sparse cost by their nonzeros."""
        if self.n_jobs == 0:
            raise ValueError(
                f"n_jobs={self.n_jobs!r}: use None (the size-based policy), a "
                "positive number of threads, or -1 for one per core."
            )
        batch_size = getattr(self, "_training_params_", {}).get("batch_size", 128)
        rows = getattr(getattr(dataset, "items", dataset), "X", None)
        density = 1.0
        if sp.issparse(rows) and getattr(net.module_, "accepts_sparse", False):
            density = rows.nnz / max(rows.shape[0] * rows.shape[1], 1)
        return resolve_threads(self.n_jobs, net.module_, batch_size, density)

    def _forward_chunks(self, dataset):
        """Yield float32 numpy outputs of the net on ``dataset``, batch by batch.

        Each batch runs under the thread setting of ``n_jobs``; between batches
        (while the caller holds the generator) the caller's setting is back.
        """
        check_is_fitted(self, "net_")
        n_threads = self._n_threads(self.net_, dataset)
        batches = iter(self.net_.forward_iter(dataset))
        while True:
            with torch_threads(n_threads):
                chunk = next(batches, None)
            if chunk is None:
                return
            yield chunk.numpy()

    def _iter_embed(self, X):
        """Yield float32 numpy embeddings of ``X`` batch by batch."""
        # sksiamese's own backbones never write into their input, so they
        # may read the caller's rows in place; another module gets copies
        own = type(self.net_.module_) in _READ_ONLY_BACKBONES
        return self._forward_chunks(RowsDataset(X, share_rows=own))

    def _embed(self, X):
        out = None
        start = 0
        for chunk in self._iter_embed(X):
            if out is None:
                out = np.empty((X.shape[0], chunk.shape[1]), dtype=np.float32)
            out[start : start + len(chunk)] = chunk
            start += len(chunk)
        return out


# Inference batches: at least this many rows, and up to _MAX_PREDICT_ROWS
# while a batch holds at most _PREDICT_VALUES input values: narrow rows
# (tabular data) go in fewer, larger batches, whose per-batch Python work then
# costs little against the compute; wide ones (images) stay at the floor, so
# that their activations stay small
_MIN_PREDICT_ROWS, _MAX_PREDICT_ROWS, _PREDICT_VALUES = 1024, 8192, 2**22


def _predict_batch_size(batch_size, n_features):
    """Rows per inference batch for training batches of ``batch_size`` rows
    of ``n_features`` values (None: raw items, which the backbone batches)."""
    rows = _MIN_PREDICT_ROWS
    if n_features:
        rows = int(np.clip(_PREDICT_VALUES // n_features, rows, _MAX_PREDICT_ROWS))
    return max(batch_size, rows)


# Backbones whose forward never writes into its input rows
_READ_ONLY_BACKBONES = (MLP, ConvNet, FieldwiseMLP)

# Optimizer options that choose or exclude an implementation of the step
_IMPLEMENTATION = {
    "optimizer__fused",
    "optimizer__foreach",
    "optimizer__differentiable",
    "optimizer__capturable",
}


def _fused_adam(optimizer, device, routed):
    """``optimizer__fused=True`` for torch's Adam or AdamW on a device with
    its fused kernel, unless ``routed`` chooses an implementation: the same
    update in one pass over each parameter instead of one per operation
    (measured: a quarter of a small network's fit on CPU, where torch's
    default is the per-operation loop)."""
    if optimizer not in (torch.optim.Adam, torch.optim.AdamW):
        return {}
    if _IMPLEMENTATION & set(routed):
        return {}
    kind = torch.device(device).type
    if kind == "cuda" or (kind == "cpu" and _cpu_fused_adam()):
        return {"optimizer__fused": True}
    return {}


@functools.cache
def _cpu_fused_adam():
    """Whether this torch has the fused Adam kernel on CPU (2.4 and later)."""
    try:
        torch.optim.Adam([torch.zeros(1, requires_grad=True)], fused=True)
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def _init_sample(X, index, seed, size=_INIT_ROWS):
    """The rows ``X[index]``, at most ``size`` of them drawn at random: enough
    for the geometry a backbone starts from, and no copy of all the training
    rows on big data."""
    return X[_init_index(index, seed, size)]


def _init_index(index, seed, size=_INIT_ROWS):
    """``index``, or ``size`` of its entries drawn at random (in order)."""
    if len(index) > size:
        index = np.sort(np.random.RandomState(seed).choice(index, size, replace=False))
    return index


def _silent(*args, **kwargs):
    pass


def _n_features(X):
    """Features per row; None for raw items that the backbone embeds."""
    return None if X.ndim == 1 else X.shape[1]


def _check_device(device):
    """A clear error for an unknown device, or a CUDA device that is not there."""
    try:
        device = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(
            f"device must be a torch device such as 'cpu' or 'cuda', got {device!r}."
        ) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} but CUDA is not available here (torch "
            f"{torch.__version__}, built {'with' if torch.version.cuda else 'without'}"
            " CUDA); use device='cpu' or install a CUDA build of torch."
        )
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device={str(device)!r} but only {torch.cuda.device_count()} CUDA "
            "device(s) are visible."
        )
