"""Backbones: the shared twin network that maps one item to one embedding."""

import torch.nn.functional as F
from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """Multi-layer perceptron embedding network.

    ``Linear -> [BatchNorm] -> ReLU -> [Dropout]`` per hidden layer, then a
    linear embedding head, optionally L2-normalised.

    Parameters
    ----------
    n_features : int
        Input dimension.
    hidden_layer_sizes : tuple of int, default=(128,)
        Width of each hidden layer; ``()`` gives a linear embedding.
    embedding_dim : int, default=32
        Output dimension.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    batch_norm : bool, default=True
        Batch normalisation after each hidden linear layer.
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
    """

    def __init__(
        self,
        n_features,
        hidden_layer_sizes=(128,),
        embedding_dim=32,
        dropout=0.0,
        batch_norm=True,
        normalize=False,
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
        self.layers = nn.Sequential(*layers)
        self.normalize = normalize

    def forward(self, X):
        """Embed a batch of rows."""
        out = self.layers(X)
        return F.normalize(out, dim=1) if self.normalize else out
