"""Backbones: the shared twin network that maps one item to one embedding.

A backbone may define ``project(embeddings)``: a projection head that only
the training loss sees (as in SimCLR and SupCon). ``transform`` returns the
backbone output before the head, which keeps information the loss would
discard and so generalises better to classes never seen in training.
"""

import math
from numbers import Integral

import torch.nn.functional as F
from torch import nn

__all__ = ["MLP", "ConvNet"]


class _Backbone(nn.Module):
    """The output side every backbone shares: embedding layer, optional L2
    normalisation, and the projection head only the loss sees."""

    def _output_layers(
        self, width, embedding_dim, batch_norm, normalize, projection_dim
    ):
        # created before the head: the initial weights drawn from the seed
        # stay those of the embedding layer first
        layers = [nn.Linear(width, embedding_dim)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(embedding_dim))
        self.normalize = normalize
        self.head = None
        if projection_dim is not None:
            self.head = nn.Sequential(
                nn.ReLU(), nn.Linear(embedding_dim, projection_dim)
            )
        return layers

    def _finish(self, out):
        return F.normalize(out, dim=1) if self.normalize else out

    def project(self, embeddings):
        """Map embeddings to the space the loss sees (identity without a head)."""
        return embeddings if self.head is None else self.head(embeddings)


class MLP(_Backbone):
    """Multi-layer perceptron embedding network with an optional projection head.

    ``Linear -> [BatchNorm] -> ReLU -> [Dropout]`` per hidden layer, then a
    linear embedding layer (batch-normalised when ``batch_norm``), optionally
    L2-normalised. ``project`` maps embeddings through ``ReLU -> Linear`` to
    the space the loss is computed in.

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
    projection_dim : int or None, default=None
        Output size of the projection head; None: the loss sees the
        embeddings themselves.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.modules import MLP
    >>> net = MLP(n_features=10, hidden_layer_sizes=(16,), embedding_dim=4,
    ...           normalize=True, projection_dim=3)
    >>> out = net(torch.randn(5, 10))
    >>> out.shape, net.project(out).shape
    (torch.Size([5, 4]), torch.Size([5, 3]))
    >>> bool(torch.allclose(out.norm(dim=1), torch.ones(5)))
    True
    """

    def __init__(
        self,
        n_features,
        hidden_layer_sizes=(256,),
        embedding_dim=128,
        dropout=0.0,
        batch_norm=True,
        normalize=False,
        projection_dim=None,
    ):
        super().__init__()
        layers = []
        width = n_features
        for size in hidden_layer_sizes:
            layers.append(nn.Linear(width, size))
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers += self._output_layers(
            width, embedding_dim, batch_norm, normalize, projection_dim
        )
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        """Embed a batch of rows.

        Parameters
        ----------
        X : torch.Tensor of shape (n_rows, n_features)
            Rows.

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
    averaged over space, passed through ``[Dropout] -> Linear`` to the
    embedding (batch-normalised when ``batch_norm``), optionally
    L2-normalised. ``project`` is the same optional ``ReLU -> Linear``
    projection head as in :class:`MLP`.

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
    projection_dim : int or None, default=None
        Output size of the projection head; None: the loss sees the
        embeddings themselves.
    pooling : {"avg", "flatten"}, default="avg"
        How the last feature maps become a vector: "avg" averages them over
        space (global average pooling: the embedding ignores where in the
        image a pattern appears), "flatten" keeps every position, so the
        embedding knows the layout of the image, at the price of a larger
        embedding layer. Layout matters for handwritten characters and
        aligned faces.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.modules import ConvNet
    >>> net = ConvNet(n_features=64, input_shape=(1, 8, 8), channels=(4, 8),
    ...               embedding_dim=5, projection_dim=3)
    >>> out = net(torch.randn(6, 64))
    >>> out.shape, net.project(out).shape
    (torch.Size([6, 5]), torch.Size([6, 3]))

    In an estimator, ``n_features`` is filled in from the data:

    >>> from sksiamese import SiameseTransformer
    >>> model = SiameseTransformer(module=ConvNet, module__input_shape=(1, 8, 8),
    ...                            module__channels=(16, 32))
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
        projection_dim=None,
        pooling="avg",
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
        embedding += self._output_layers(
            width, embedding_dim, batch_norm, normalize, projection_dim
        )
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
