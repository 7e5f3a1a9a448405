"""Backbones: the shared twin network that maps one item to one embedding.

A backbone is any ``torch.nn.Module`` that maps a batch of rows (or of raw
items) to a batch of embeddings. The projection head that only the training
loss sees (as in SimCLR and SupCon) is not part of the backbone: the
estimators' ``projection_dim`` puts it on the loss side, for any backbone,
and ``transform`` returns the backbone's output.
"""

from ._backbones import MLP, ConvNet
from ._fieldwise import FieldwiseMLP
from ._text import SentenceTransformerBackbone

# their public home: pickles, skops files and the docs name them here
for _cls in (MLP, ConvNet, FieldwiseMLP, SentenceTransformerBackbone):
    _cls.__module__ = __name__
del _cls

__all__ = [
    "MLP",
    "ConvNet",
    "FieldwiseMLP",
    "SentenceTransformerBackbone",
]
