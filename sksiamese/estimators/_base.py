"""What every Siamese estimator shares: hyper-parameters -> skorch net, seeding,
the opening and the end of a fit, batched embedding."""

import copy
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
from skorch.callbacks import (
    GradientNormClipping,
    LRScheduler,
    ProgressBar,
)
from torch import nn

from .._engine.callbacks import PlainPrintLog, WarmupLinearLR
from .._engine.devices import check_device, fused_adam_kwargs
from .._engine.distributed import agreed_seed
from .._engine.net import NonFiniteLossError, SiameseNet
from .._engine.selection import ModelSelection
from .._engine.threads import torch_threads
from .._engine.training import TrainingSpec
from ..distances import DISTANCES
from ..modules import MLP
from ._backbone_spec import backbone_spec
from ._embedding import _Embedding, predict_batch_size
from ._params import _RoutedParams, is_auto
from ._pickling import _NetPickling
from ._transaction import architecture, check_same_network

_MAX_SEED = 2**31 - 1
# estimator parameters that reach the backbone's constructor when it takes them
# training parameters that may be "auto", resolved once per fit
# Rows a backbone's data-dependent initialisation sees at most.
_INIT_ROWS = 4096
_TRAINING_PARAMS = ("lr", "weight_decay", "lr_schedule", "max_epochs", "batch_size")
_AUTO = StrOptions({"auto"})


class SiameseBase(_RoutedParams, _Embedding, _NetPickling, BaseEstimator):
    """Hyper-parameter handling and skorch plumbing shared by the estimators.

    Subclasses declare their ``__init__`` with explicit keyword arguments (as
    scikit-learn requires) and pass extra ``module__*`` / ``optimizer__*``
    keywords to :meth:`_set_routed`; those are routed to skorch the way skorch
    routes them and take part in ``get_params`` / ``set_params`` / ``clone``.

    A fit opens with :meth:`_fitting`, which resolves the training parameters
    once into a :class:`~sksiamese._engine.training.TrainingSpec` that the fit
    passes to what builds and checks the net, and :meth:`_train` stores
    ``net_``, ``history_``, ``n_iter_`` and the spec (``training_``).

    Subclasses with a loss or a miner to build add ``loss__`` / ``miner__``
    to ``_routed_prefixes``.
    """

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

    # -- building blocks ---------------------------------------------------------

    def _takes_raw_items(self):
        """Whether the backbone embeds raw items (e.g. strings) itself, so the
        input is passed through as an object array instead of numeric rows."""
        return bool(getattr(self.module, "takes_raw_items", False))

    def _on_mlp(self):
        """Whether the backbone is the default :class:`~sksiamese.modules.MLP`
        (None, the class or an instance), whose start is the input's geometry."""
        module = self.module
        return module is None or module is MLP or isinstance(module, MLP)

    def _resolve_training(self):
        """The :class:`~sksiamese._engine.training.TrainingSpec` of a fit.

        Each "auto" of lr, weight_decay, lr_schedule, max_epochs and
        batch_size becomes the backbone's ``training_defaults()`` value (a
        pretrained backbone's fine-tuning recipe) when it has one, else the
        estimator's standard value. The loss, projection head, rows per
        class and augmentation are the estimator's; the "auto"s among them
        that read the data are resolved later in the fit (_data_defaults).
        """
        backbone = self._backbone_training_defaults()
        params = {}
        for name in _TRAINING_PARAMS:
            value = getattr(self, name)
            if is_auto(value):
                value = backbone.get(name, self._standard_training[name])
            params[name] = value
        # the backbone's projection head where the estimator leaves it at
        # "auto"
        projection = getattr(self, "projection_dim", None)
        if is_auto(projection) and "projection_dim" in backbone:
            projection = backbone["projection_dim"]
        return TrainingSpec(
            **params,
            projection_dim=projection,
            # the backbone's few-shot budget (SiameseTransformer reads it)
            min_steps=backbone.get("min_steps"),
            loss=getattr(self, "loss", None),
            samples_per_class=getattr(self, "samples_per_class", None),
            augment=self.augment,
        )

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

    def _criterion_params(self, training):
        """The skorch ``criterion`` and ``criterion__*`` parameters of a fit
        with the spec ``training``."""
        raise NotImplementedError

    def _net_params(self, training):
        """Estimator-specific parameters of :class:`SiameseNet` for the spec
        ``training``: its batch iterators (skorch's ``iterator_train`` /
        ``iterator_valid``)."""
        raise NotImplementedError

    def _callbacks(self, held_out, training):
        callbacks = []
        if training.lr_schedule == "cosine":
            callbacks.append(
                (
                    "lr_schedule",
                    LRScheduler(
                        policy=torch.optim.lr_scheduler.CosineAnnealingLR,
                        T_max=training.max_epochs,
                    ),
                )
            )
        elif training.lr_schedule == "warmup_linear":
            callbacks.append(("lr_schedule", WarmupLinearLR(training.max_epochs)))
        if self.clip_grad_norm is not None:
            callbacks.append(
                (
                    "clip_grad_norm",
                    GradientNormClipping(gradient_clip_value=self.clip_grad_norm),
                )
            )
        if held_out is not None:
            callbacks.append(
                (
                    "model_selection",
                    ModelSelection(held_out, patience=self.n_iter_no_change),
                )
            )
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        for i, callback in enumerate(self.callbacks or []):
            if not isinstance(callback, tuple):
                callback = (f"user_callback_{i}", callback)
            schedule = training.lr_schedule
            if schedule is not None and isinstance(callback[1], LRScheduler):
                # two schedulers would both set the learning rate at each epoch
                raise ValueError(
                    f"callbacks holds an LRScheduler while lr_schedule="
                    f"{self.lr_schedule!r} ({schedule!r}) also schedules the "
                    "learning rate; set lr_schedule=None to use your own schedule."
                )
            callbacks.append((callback[0], copy.deepcopy(callback[1])))
        return callbacks

    def _build_net(
        self,
        training,
        n_features,
        seed,
        held_out=None,
        scheduled=True,
        augment="spec",
        max_epochs=None,
    ):
        """The skorch net of a fit with the spec ``training``;
        ``held_out``: the :class:`~sksiamese._engine.selection.HeldOut`
        tuples that select the model; ``augment``: of the training batches,
        instead of the spec's; ``max_epochs``: instead of the spec's."""
        check_device(self.device)
        module, module_kwargs = self._module_spec(n_features)
        if isinstance(augment, str) and augment == "spec":
            augment = copy.deepcopy(training.augment)
        routed = self._routed_params("optimizer__")
        optimizer_kwargs = {
            "optimizer__weight_decay": training.weight_decay,
            **fused_adam_kwargs(self.optimizer, self.device, routed),
            **routed,
        }
        callbacks = self._callbacks(held_out, training=training)
        if not scheduled:
            callbacks = [c for c in callbacks if c[0] != "lr_schedule"]
        return SiameseNet(
            module=module,
            optimizer=self.optimizer,
            lr=training.lr,
            max_epochs=training.max_epochs if max_epochs is None else max_epochs,
            batch_size=training.batch_size,
            # held-out data is scored by the ModelSelection callback
            train_split=None,
            callbacks=callbacks,
            # skorch's own way to replace a default callback
            callbacks__print_log=PlainPrintLog(),
            device=self.device,
            verbose=self.verbose,
            seed=seed,
            iterator_train__seed=seed,
            # the same validation batches at every epoch, other than training's
            iterator_valid__seed=seed + 1,
            # a stateful augmentation (own seeded generator) restarts at each fit
            iterator_train__augment=augment,
            predict_batch_size=predict_batch_size(training.batch_size, n_features),
            # the loss side owns the projection head, sized to the backbone
            projection_dim=training.projection_dim,
            n_features=n_features,
            # net_.load_params never unpickles arbitrary objects, whatever
            # skorch's default
            torch_load_kwargs={"weights_only": True},
            **self._criterion_params(training),
            **self._net_params(training),
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
        # data-parallel ranks must draw the same split and global batches
        return agreed_seed((int(rng.randint(_MAX_SEED)) + calls) % _MAX_SEED)

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

        Yields ``(continuing, training)``: whether the call continues from
        the fitted ``net_`` (``fit`` does with ``warm_start``, ``partial_fit``
        whenever the estimator is fitted), and the call's
        :class:`~sksiamese._engine.training.TrainingSpec`, resolved once.
        Runs inside :meth:`_fit_state`.
        """
        warm = partial or getattr(self, "warm_start", False)
        continuing = warm and hasattr(self, "net_")
        with self._fit_state(fresh=not continuing):
            yield continuing, self._resolve_training()

    @contextmanager
    def _fit_state(self, fresh):
        """Start a fit on the shadow of a transaction (see
        :mod:`~sksiamese.estimators._transaction`).

        ``fresh`` (``fit`` from scratch): the shadow starts without the
        previous model, as any ``fit`` replaces it. The estimator itself
        keeps its model until the fit completes, and keeps it when the fit
        fails. A ``KeyboardInterrupt`` inside the training loop is not a
        failure: skorch stops at the interrupted epoch and the estimator is
        fitted with the weights trained so far (model selection applied to
        the epochs that ran).
        """
        if fresh:
            self._clear_fitted()
        yield

    def _clear_fitted(self):
        # fitted state is what ends with "_" (scikit-learn's convention)
        for attr in [a for a in vars(self) if a.endswith("_") and a[:2] != "__"]:
            del self.__dict__[attr]

    def _continued_net(self, training, n_features, seed, max_epochs=None):
        """A net at the constant rate ``lr`` that takes over ``net_``.

        A fresh net (no schedule, no early stopping) takes over the trained
        weights (the backbone's and the criterion's, projection head
        included) and a copy of the history: a cosine schedule has annealed
        the learning rate to zero and cannot simply be resumed on new data,
        and a failed continuation must not leave epochs in the old history.
        """
        net = self._build_net(
            training, n_features, seed, scheduled=False, max_epochs=max_epochs
        )
        with self._torch_seeded(seed):  # leave the global torch RNG alone
            net.initialize()
        check_same_network(self, net, self.net_)
        net.module_.load_state_dict(self.net_.module_.state_dict())
        net.criterion_.load_state_dict(self.net_.criterion_.state_dict())
        net.history = copy.deepcopy(self.net_.history)
        return net

    def _train(
        self,
        net,
        dataset,
        seed,
        initialize,
        training,
        init_rows=None,
        init_pairs=None,
    ):
        """Run ``net`` on ``dataset`` and store it as ``net_`` (with
        ``history_``, ``n_iter_`` and ``training_``, the spec it was built
        from); turn a non-finite loss into a clear error.

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
            # one thread: the start (an orthogonal init's QR, the row scales)
            # then rounds the same whatever the caller's thread setting, so a
            # seeded fit is the same in any process
            with torch_threads(1):
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
        if initialize:
            self._architecture_ = architecture(self)
        self.n_training_calls_ = getattr(self, "n_training_calls_", 0) + 1
        self.net_ = net
        self.training_ = training
        self.history_ = net.history
        self.n_iter_ = len(net.history)
        return net

    def _select_start(self, net):
        """Store what model selection kept (see
        :class:`~sksiamese._engine.selection.ModelSelection`)."""
        selection = dict(net.callbacks_).get("model_selection")
        if selection is None or not selection.active_:
            return
        self.validation_scores_ = list(selection.validation_scores_)
        self.best_epoch_ = selection.best_epoch_
        self.best_validation_score_ = selection.best_validation_score_


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


def _n_features(X):
    """Features per row; None for raw items that the backbone embeds."""
    return None if X.ndim == 1 else X.shape[1]
