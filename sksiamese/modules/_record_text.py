"""The field twin of records for a pretrained text backbone: one encoder
embeds every text field of both records of a pair."""

import torch
import torch.nn.functional as F
from torch import nn

from ..utils.record_values import is_missing


def _text(value):
    """A field value as the text the encoder reads; None when missing."""
    if is_missing(value):
        return None
    if isinstance(value, bytes):
        # the estimator refused bytes that are not UTF-8 before training
        value = value.decode("utf-8")
    text = str(value).strip()
    return text or None


class FieldwiseText(nn.Module):
    """A text backbone applied to each text field of a record.

    The backbone (e.g. :class:`~sksiamese.modules.SentenceTransformerBackbone`)
    embeds the value of each of ``fields`` on its own, with the same weights
    for every field and for both records of a pair (the field twin); the
    record's embedding is the concatenation of the fields' L2-normalised
    embeddings, one block per field, so the cosine of two records is the
    mean of their fields' cosines over the fields both have (each block is
    one field's cosine). A missing value (None, NaN, "", "-" ...) is a block
    of zeros: its cosine is 0, as a missing field's block of the TF-IDF
    record encoder. Equal strings of a batch are embedded once.

    Parameters
    ----------
    backbone : torch.nn.Module or type
        The text backbone: an instance, or a class built with
        ``backbone_params``. It takes a list of strings and has an
        ``embedding_dim``.
    fields : list of str
        The record fields it embeds, in block order.
    backbone_params : dict, default=None
        Constructor parameters of a backbone class.

    Attributes
    ----------
    field_slices : dict of str to slice
        The columns of each field's block in the output.
    embedding_dim : int
        Width of the output: the backbone's width times the fields.
    """

    takes_raw_items = True

    def __init__(self, backbone, fields, backbone_params=None):
        super().__init__()
        if not isinstance(backbone, nn.Module):
            backbone = backbone(**(backbone_params or {}))
        self.backbone = backbone
        self.fields = list(fields)
        width = int(backbone.embedding_dim)
        self.field_slices = {
            f: slice(i * width, (i + 1) * width) for i, f in enumerate(self.fields)
        }
        self.embedding_dim = width * len(self.fields)

    def forward(self, X):
        """Embed a batch of records.

        Parameters
        ----------
        X : sequence of dict
            The records of the batch (field -> value).

        Returns
        -------
        embeddings : torch.Tensor of shape (n_records, embedding_dim)
        """
        records = list(X)
        texts, index = {}, []
        for record in records:
            if not isinstance(record, dict):
                raise ValueError(
                    "FieldwiseText embeds records (dicts of field -> value); got "
                    f"an item of type {type(record).__name__}."
                )
            row = []
            for field in self.fields:
                text = _text(record.get(field))
                row.append(-1 if text is None else texts.setdefault(text, len(texts)))
            index.append(row)
        width = self.embedding_dim // max(len(self.fields), 1)
        device = next(self.parameters()).device
        if texts:
            emb = F.normalize(self.backbone(list(texts)), dim=1)
        else:
            emb = torch.zeros(0, width, device=device)
        # index -1 (a missing value) reads the appended row of zeros
        emb = torch.cat([emb, emb.new_zeros(1, width)])
        index = torch.as_tensor(index, dtype=torch.long, device=device)
        return emb[index.reshape(-1)].reshape(len(records), self.embedding_dim)
