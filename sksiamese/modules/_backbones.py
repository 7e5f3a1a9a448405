"""The MLP and the ConvNet, with the output side every backbone shares."""

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from ..utils.validation import check_input_shape
from ._sparse import SparseInputLinear

# the sizes embedding_dim="auto" chooses from: wide enough that the residual
# MLP's untrained start keeps the input's cosines (see MLP), small enough for
# nearest-neighbour search on the embeddings
_AUTO_DIMS = (128, 512)


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

    With ``residual=True`` the network is instead a linear input map
    ``z = W x`` to ``embedding_dim`` values plus a residual branch of the
    hidden layers on ``z`` whose last layer starts at zero:
    ``embedding = z + branch(z)``. Until training moves it, the network is
    then the input map alone, and :meth:`initialize_from` sets that map to
    the input's own geometry: the untrained network compares rows as their
    input features do, and training starts from there rather than from a
    random projection. No batch normalisation follows the embedding in this
    form (it would rescale each embedding dimension on its own and distort
    that geometry); ``batch_norm`` applies to the hidden layers of the
    branch, or, without hidden layers, to the embedding as before.

    In the plain form the first layer starts as a random isometry when it has
    at least as many outputs as inputs (orthonormal weight columns): a linear
    embedding (``hidden_layer_sizes=()``) then compares rows, before any
    training, exactly as their features do (its batch normalisation is the
    identity until it has seen data). With fewer outputs than inputs it keeps
    torch's default random init, a random projection.

    Sparse rows stay sparse: the first layer (the input map in the residual
    form) is a :class:`~sksiamese.modules._sparse.SparseInputLinear`, which
    takes torch sparse
    tensors as they are (``accepts_sparse = True``), so the estimators pass
    it the batches of a scipy sparse input (a TF-IDF encoder's output) without
    densifying them; its cost grows with the nonzeros, not the features.

    Parameters
    ----------
    n_features : int
        Input dimension.
    hidden_layer_sizes : tuple of int, default=(256,)
        Width of each hidden layer; ``()`` gives a linear embedding.
    embedding_dim : int or "auto", default="auto"
        Output dimension. "auto": ``n_features``, at least 128 and at most
        512: in the residual form, an input map that keeps the input's
        geometry exactly up to 512 features, and within the error of a
        512-dimensional random projection beyond (cosines off by about
        ``1 / sqrt(512)``, 0.04; at 128 dimensions, by about 0.09, which
        loses much of a TF-IDF similarity).
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    batch_norm : bool, default=True
        Batch normalisation after each hidden linear layer, and of the
        embedding when there is no residual branch.
    normalize : bool, default=False
        L2-normalise the output (embeddings on the unit sphere).
    residual : bool, default=False
        The residual form above (the estimators' default backbone).

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

    In the residual form, the untrained network initialised from the data
    keeps the cosine similarities of its input rows:

    >>> X = torch.randn(50, 6)
    >>> net = MLP(n_features=6, embedding_dim=8, residual=True)
    >>> net.initialize_from(X.numpy())
    >>> _ = net.eval()
    >>> sim = torch.nn.functional.cosine_similarity
    >>> out = net(X)
    >>> bool(torch.allclose(sim(out[:1], out[1:]), sim(X[:1], X[1:]), atol=1e-5))
    True
    >>> rows = torch.randn(5, 6).relu()
    >>> bool(torch.allclose(net(rows.to_sparse()), net(rows), atol=1e-6))
    True
    """

    accepts_sparse = True

    def __init__(
        self,
        n_features,
        hidden_layer_sizes=(256,),
        embedding_dim="auto",
        dropout=0.0,
        batch_norm=True,
        normalize=False,
        residual=False,
    ):
        super().__init__()
        embedding_dim = auto_embedding_dim(n_features, embedding_dim)
        self.residual = residual
        hidden = tuple(hidden_layer_sizes)
        if residual:
            self.input_map = SparseInputLinear(n_features, embedding_dim)
            width = embedding_dim
        else:
            width = n_features
        layers = []
        # the first layer takes sparse rows as they are
        linear = nn.Linear if residual else SparseInputLinear
        for size in hidden:
            layers.append(linear(width, size))
            linear = nn.Linear
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        if residual and hidden:
            last = nn.Linear(width, embedding_dim)
            # the branch adds nothing until training moves it
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            layers.append(last)
            self.normalize = normalize
        elif residual:
            if batch_norm:
                layers.append(nn.BatchNorm1d(embedding_dim))
            self.normalize = normalize
        else:
            layers += self._output_layers(
                width, embedding_dim, batch_norm, normalize, linear
            )
        self.layers = nn.Sequential(*layers)
        self._has_branch = residual and bool(hidden)
        if not residual:
            _orthonormal_start(layers[0])

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
        if not self.residual:
            return self._finish(self.layers(X))
        z = self.input_map(X)
        return self._finish(z + self.layers(z) if self._has_branch else self.layers(z))

    @torch.no_grad()
    def initialize_from(self, X):
        """Start the residual form's input map at the geometry of the rows ``X``.

        The input map becomes a random map divided by the root mean square
        of its outputs on ``X``, its bias zero. With at least as many outputs
        as features it is a random rotation into the output space, so the
        untrained network compares rows exactly as their features do
        (cosines and distance ranks); with fewer, a Gaussian random
        projection, which keeps every inner product of the rows
        approximately (as in the Johnson-Lindenstrauss lemma), and keeps it
        better for sparse high-dimensional rows such as TF-IDF than their
        top principal directions do. The common scale makes any overall
        scale of the input (``X * 1e6``) give the same network. The plain
        form (``residual=False``) starts its first layer as a random
        isometry instead, from no data (see the class docstring).

        Parameters
        ----------
        X : ndarray or scipy.sparse matrix of shape (n_rows, n_features)
            Training rows (a sample of them is enough).
        """
        if not self.residual:
            return
        layer = self.input_map
        out, n_features = layer.weight.shape
        # the seed of the fit draws it: torch's generator, like other weights
        if out >= n_features:
            q, _ = torch.linalg.qr(torch.randn(out, n_features, dtype=torch.float64))
            weight = q.numpy()
        else:
            # Gaussian rows: as good a random projection as orthonormal ones
            # when the features far outnumber them, without the cost of
            # orthonormalising (a TF-IDF's 50,000 x 512 map)
            weight = torch.randn(out, n_features).numpy()
        outputs = X @ weight.T if sp.issparse(X) else np.asarray(X, float) @ weight.T
        scale = float(np.sqrt(np.mean(np.square(outputs))))
        if not np.isfinite(scale) or scale <= 0:
            scale = 1.0  # all-zero rows: any scale keeps their geometry
        layer.weight.copy_(torch.as_tensor(weight / scale, dtype=layer.weight.dtype))
        layer.bias.zero_()


def _orthonormal_start(layer):
    """Start ``layer`` as a random isometry when it has at least as many
    outputs as inputs: orthonormal weight columns (torch's ``orthogonal_``)
    keep every distance and inner product of its input rows, where torch's
    default uniform init distorts them. With fewer outputs the default init
    stays: a random projection, and orthonormalising a TF-IDF-wide map would
    cost more than it keeps."""
    out, n_inputs = layer.weight.shape
    if out >= n_inputs:
        nn.init.orthogonal_(layer.weight)


def auto_embedding_dim(n_features, embedding_dim="auto"):
    """``embedding_dim``, or for "auto" ``n_features`` clipped to [128, 512]
    (see :class:`MLP`)."""
    if isinstance(embedding_dim, str) and embedding_dim == "auto":
        return int(np.clip(n_features, _AUTO_DIMS[0], _AUTO_DIMS[1]))
    return embedding_dim


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
        self.input_shape = check_input_shape(input_shape, n_features)
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
