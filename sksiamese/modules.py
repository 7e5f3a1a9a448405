"""Backbones: the shared twin network that maps one item to one embedding.

A backbone may define ``project(embeddings)``: a projection head that only
the training loss sees (as in SimCLR and SupCon). ``transform`` returns the
backbone output before the head, which keeps information the loss would
discard and so generalises better to classes never seen in training.
"""

import torch.nn.functional as F
from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
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
        layers.append(nn.Linear(width, embedding_dim))
        if batch_norm:
            layers.append(nn.BatchNorm1d(embedding_dim))
        self.layers = nn.Sequential(*layers)
        self.normalize = normalize
        self.head = None
        if projection_dim is not None:
            self.head = nn.Sequential(
                nn.ReLU(), nn.Linear(embedding_dim, projection_dim)
            )

    def forward(self, X):
        """Embed a batch of rows."""
        out = self.layers(X)
        return F.normalize(out, dim=1) if self.normalize else out

    def project(self, embeddings):
        """Map embeddings to the space the loss sees (identity without a head)."""
        return embeddings if self.head is None else self.head(embeddings)
