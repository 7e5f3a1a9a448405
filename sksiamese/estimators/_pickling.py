"""Pickling of the estimators: the trained net as plain values and numpy arrays.

``pickle``, joblib and skops files of a fitted estimator then hold no torch
object: the net is rebuilt from the estimator's parameters at load time and
its weights (module and criterion) and history are put back.
"""

import warnings

import numpy as np
import torch

from .._engine.training import TrainingSpec
from ..utils.version import InconsistentVersionWarning, current_version

# Layout of ``net_`` in a pickled estimator: plain values and numpy arrays, so
# that pickle and skops files hold no torch object. v1 was written by
# sksiamese.persistence.dump before the estimators always saved this layout.
_NET_STATE = "sksiamese.net_state.v2"
_NET_STATE_V1 = "sksiamese.portable_net.v1"
# ``training_`` in a pickled estimator: a plain dict
_TRAINING_SPEC = "sksiamese.training_spec.v1"


class _NetPickling:
    """``__getstate__`` / ``__setstate__`` of :class:`SiameseBase`.

    The estimator provides ``_build_net``, ``_resolve_training``,
    ``_torch_seeded`` and ``device``. The fit's training spec
    (``training_``) is stored as a plain dict.
    """

    def __getstate__(self):
        state = dict(super().__getstate__())
        state["_sksiamese_version"] = current_version()
        net = state.get("net_")
        if net is not None and not isinstance(net, dict):
            state["net_"] = _net_state(net)
            # the net's history: rebuilt with it by __setstate__
            state.pop("history_", None)
        training = state.get("training_")
        if isinstance(training, TrainingSpec):
            state["training_"] = {"format": _TRAINING_SPEC, **training.as_dict()}
        return state

    def __setstate__(self, state):
        state = dict(state)
        saved = state.pop("_sksiamese_version", "unknown")
        if saved != current_version():
            warnings.warn(
                InconsistentVersionWarning(
                    type(self).__name__, current_version(), saved
                ),
                stacklevel=2,
            )
        training = state.get("training_")
        if isinstance(training, dict) and training.get("format") == _TRAINING_SPEC:
            state["training_"] = TrainingSpec(
                **{k: v for k, v in training.items() if k != "format"}
            )
        super().__setstate__(state)
        net = state.get("net_")
        if isinstance(net, dict) and net.get("format") in (_NET_STATE, _NET_STATE_V1):
            self.net_ = self._restore_net(net)
            self.history_ = self.net_.history

    def _restore_net(self, saved):
        """Rebuild the skorch net from its parameters, then load the weights."""
        from skorch.history import History

        device = self.device
        if _cuda_missing(device):
            # as skorch does with its own pickles: a GPU model still loads
            warnings.warn(
                f"{type(self).__name__} was saved with device={str(device)!r}, "
                "which is not available here: its network is loaded on the CPU. "
                "Call set_params(device='cpu') before fitting it again here.",
                UserWarning,
                stacklevel=3,
            )
            self.device = "cpu"
        if not hasattr(self, "training_"):
            # saved before the spec was kept: from its parameters as they
            # resolve now, with what the fit had resolved where it was saved
            legacy = vars(self).pop("_training_params_", {})
            names = set(TrainingSpec.__dataclass_fields__)
            self.training_ = self._resolve_training().replace(
                **{k: v for k, v in legacy.items() if k in names}
            )
        training = self.training_
        try:
            net = self._build_net(training, saved["n_features"], saved["seed"])
            with self._torch_seeded(saved["seed"]):
                net.initialize()
        finally:
            self.device = device
        if saved["format"] == _NET_STATE_V1:
            # the module alone; the loss side keeps its initial state
            parts = {"module": saved["weights"]}
        else:
            parts = {"module": saved["module"], "criterion": saved["criterion"]}
        for part, arrays in parts.items():
            weights = {k: torch.from_numpy(np.array(w)) for k, w in arrays.items()}
            try:
                getattr(net, f"{part}_").load_state_dict(weights)
            except RuntimeError as exc:
                raise ValueError(
                    f"The saved weights do not fit the network "
                    f"{type(self).__name__} builds from its parameters (saved by "
                    f"another version of sksiamese or of the backbone?): {exc}"
                ) from None
        net.history = History(saved["history"])
        return net


def _net_state(net):
    """What ``_restore_net`` needs to rebuild ``net``: plain values and arrays."""
    return {
        "format": _NET_STATE,
        # None for a backbone of raw items
        "n_features": net.n_features,
        "seed": int(net.seed),
        "module": _numpy_state(net.module_),
        # the criterion's own parameters (e.g. a projection head); often none
        "criterion": _numpy_state(net.criterion_),
        "history": [dict(epoch) for epoch in net.history],
    }


def _numpy_state(module):
    out = {}
    for key, value in module.state_dict().items():
        value = value.detach().cpu()
        try:
            out[key] = value.numpy()
        except TypeError:
            # a dtype numpy lacks (bfloat16): load_state_dict casts it back
            out[key] = value.float().numpy()
    return out


def _cuda_missing(device):
    """Whether ``device`` is a CUDA device this machine lacks."""
    device = torch.device(device)
    if device.type != "cuda":
        return False
    return not torch.cuda.is_available() or (
        (device.index or 0) >= torch.cuda.device_count()
    )
