"""What every Siamese estimator shares: hyper-parameters -> skorch net, seeding,
batched embedding."""

import copy
import inspect
import re
import sys
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
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
    PrintLog,
    ProgressBar,
)
from skorch.helper import predefined_split
from torch import nn

from .._data import RowsDataset
from .._net import NonFiniteLossError, SiameseNet, WarmupLinearLR
from ..distances import DISTANCES
from ..modules import MLP
from ..persistence import _finish_load, _load_state, _save_state
from ..utils.validation import check_raw_items, check_rows

_ROUTED_PREFIXES = ("module__", "optimizer__")
_MAX_SEED = 2**31 - 1


class SiameseBase(BaseEstimator):
    """Hyper-parameter handling and skorch plumbing shared by the estimators.

    Subclasses declare their ``__init__`` with explicit keyword arguments (as
    scikit-learn requires) and pass extra ``module__*`` / ``optimizer__*``
    keywords to :meth:`_set_routed`; those are routed to skorch the way skorch
    routes them and take part in ``get_params`` / ``set_params`` / ``clone``.
    """

    _parameter_constraints = {
        "module": [None, type, nn.Module],
        "hidden_layer_sizes": ["array-like"],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "projection_dim": [None, Interval(Integral, 1, None, closed="left")],
        "margin": [None, Interval(Real, 0, None, closed="neither")],
        "distance": [StrOptions(set(DISTANCES)), HasMethods(["pairwise", "paired"])],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [type],
        "lr_schedule": [None, StrOptions({"cosine", "warmup_linear"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "clip_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "augment": [None, callable],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [None, list],
        "warm_start": ["boolean"],
    }

    # -- routed parameters (module__*, optimizer__*) ----------------------------

    def _set_routed(self, kwargs):
        for key, value in kwargs.items():
            if not key.startswith(_ROUTED_PREFIXES):
                raise TypeError(
                    f"{type(self).__name__}.__init__() got an unexpected keyword "
                    f"argument {key!r}; only parameters prefixed with "
                    f"{' or '.join(_ROUTED_PREFIXES)} are routed to skorch."
                )
            setattr(self, key, value)

    def _routed_params(self, prefix=""):
        return {
            key: value
            for key, value in vars(self).items()
            if key.startswith(_ROUTED_PREFIXES) and key.startswith(prefix)
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
        """Set hyper-parameters, routed ``module__*`` / ``optimizer__*`` included.

        Parameters
        ----------
        **params : dict
            Parameter names mapped to their new values; ``module__*`` and
            ``optimizer__*`` names are routed to skorch at the next ``fit``.

        Returns
        -------
        self : estimator
            The estimator.
        """
        routed = {k: v for k, v in params.items() if k.startswith(_ROUTED_PREFIXES)}
        for key, value in routed.items():
            setattr(self, key, value)
        return super().set_params(
            **{k: v for k, v in params.items() if k not in routed}
        )

    # -- persistence (see sksiamese.persistence) ----------------------------------

    def __getstate__(self):
        return _save_state(self, dict(super().__getstate__()))

    def __setstate__(self, state):
        super().__setstate__(_load_state(self, dict(state)))
        _finish_load(self)

    # -- building blocks ---------------------------------------------------------

    def _takes_raw_items(self):
        """Whether the backbone embeds raw items (e.g. strings) itself, so the
        input is passed through as an object array instead of numeric rows."""
        return bool(getattr(self.module, "takes_raw_items", False))

    def _training_params(self):
        """lr, weight_decay, lr_schedule, max_epochs and batch_size for a fit.

        A backbone instance with ``training_defaults()`` (a pretrained one)
        replaces those the user left at the estimator's defaults.
        """
        names = ("lr", "weight_decay", "lr_schedule", "max_epochs", "batch_size")
        params = {name: getattr(self, name) for name in names}
        hook = getattr(self.module, "training_defaults", None)
        if not isinstance(self.module, nn.Module) or hook is None:
            return params
        signature = inspect.signature(type(self).__init__).parameters
        for name, value in hook().items():
            if params[name] == signature[name].default:
                params[name] = value
        return params

    def _module_spec(self, n_features):
        """Return (module, kwargs) as skorch takes them."""
        routed = {k: v for k, v in self._routed_params("module__").items()}
        if self.module is None:
            defaults = {
                "n_features": n_features,
                "hidden_layer_sizes": tuple(self.hidden_layer_sizes),
                "embedding_dim": self.embedding_dim,
                "dropout": self.dropout,
                "batch_norm": self.batch_norm,
                "projection_dim": self.projection_dim,
            }
            defaults = {f"module__{k}": v for k, v in defaults.items()}
            return MLP, {**defaults, **routed}
        if isinstance(self.module, nn.Module):
            # never train the user's instance in place: fit must not change params
            return copy.deepcopy(self.module), routed
        if "n_features" in inspect.signature(self.module).parameters:
            routed = {"module__n_features": n_features, **routed}
        return self.module, routed

    def _criterion_params(self):
        """The skorch ``criterion`` and ``criterion__*`` parameters."""
        raise NotImplementedError

    def _net_params(self):
        """Estimator-specific parameters of :class:`SiameseNet` (batching)."""
        raise NotImplementedError

    def _callbacks(self, valid, training):
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
        if valid and self.early_stopping:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_loss",
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
            if self.lr_schedule is not None and isinstance(callback[1], LRScheduler):
                # two schedulers would both set the learning rate at each epoch
                raise ValueError(
                    f"callbacks holds an LRScheduler while lr_schedule="
                    f"{self.lr_schedule!r} also schedules the learning rate; set "
                    "lr_schedule=None to use your own schedule."
                )
            callbacks.append((callback[0], copy.deepcopy(callback[1])))
        return callbacks

    def _build_net(self, n_features, seed, valid_dataset=None, scheduled=True):
        _check_device(self.device)
        module, module_kwargs = self._module_spec(n_features)
        training = self._training_params()
        optimizer_kwargs = {"optimizer__weight_decay": training["weight_decay"]}
        optimizer_kwargs.update(self._routed_params("optimizer__"))
        callbacks = self._callbacks(valid=valid_dataset is not None, training=training)
        if not scheduled:
            callbacks = [c for c in callbacks if c[0] != "lr_schedule"]
        return SiameseNet(
            module=module,
            optimizer=self.optimizer,
            lr=training["lr"],
            max_epochs=training["max_epochs"],
            batch_size=training["batch_size"],
            train_split=None
            if valid_dataset is None
            else predefined_split(valid_dataset),
            callbacks=callbacks,
            # skorch's own way to replace a default callback
            callbacks__print_log=_PrintLog(),
            device=self.device,
            verbose=self.verbose,
            seed=seed,
            # a stateful augmentation (own seeded generator) restarts at each fit
            augment=copy.deepcopy(self.augment),
            predict_batch_size=max(training["batch_size"], 1024),
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
        weights and a copy of the history: a cosine schedule has annealed the
        learning rate to zero and cannot simply be resumed on new data, and
        a failed continuation must not leave epochs in the old history.
        """
        net = self._build_net(n_features, seed, scheduled=False)
        with self._torch_seeded(seed):  # leave the global torch RNG alone
            net.initialize()
        net.module_.load_state_dict(self.net_.module_.state_dict())
        net.history = copy.deepcopy(self.net_.history)
        return net

    def _train(self, net, dataset, seed, initialize):
        """Run ``net`` on ``dataset``; turn a non-finite loss into a clear error."""
        with self._torch_seeded(seed):
            if initialize:
                net.initialize()
            try:
                net.partial_fit(dataset)
            except NonFiniteLossError as exc:
                raise FloatingPointError(str(exc)) from None
        self.n_training_calls_ = getattr(self, "n_training_calls_", 0) + 1
        return net

    # -- inference ---------------------------------------------------------------

    def __sklearn_is_fitted__(self):
        # n_features_in_ alone (left by a failed fit) does not make a model
        return hasattr(self, "net_")

    def _check_X(self, X):
        """Validate rows for a fitted estimator that embeds rows."""
        check_is_fitted(self)
        if self._takes_raw_items():
            return check_raw_items(X, type(self).__name__)
        return check_rows(self, X, reset=False)

    def _iter_embed(self, X):
        """Yield float32 numpy embeddings of ``X`` batch by batch."""
        check_is_fitted(self, "net_")
        for chunk in self.net_.forward_iter(RowsDataset(X)):
            yield chunk.numpy()

    def _embed(self, X):
        out = None
        start = 0
        for chunk in self._iter_embed(X):
            if out is None:
                out = np.empty((X.shape[0], chunk.shape[1]), dtype=np.float32)
            out[start : start + len(chunk)] = chunk
            start += len(chunk)
        return out


def _silent(*args, **kwargs):
    pass


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class _PrintLog(PrintLog):
    """skorch's epoch table, without its colour codes when stdout is not a
    terminal (a file, a pipe, a notebook), where they show as ``^[[36m``."""

    def format_row(self, row, key, color):
        formatted = super().format_row(row, key, color)
        stream = sys.stdout
        if isinstance(formatted, str) and not getattr(stream, "isatty", bool)():
            formatted = _ANSI_ESCAPE.sub("", formatted)
        return formatted


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
