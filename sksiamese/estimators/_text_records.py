"""Records with a pretrained text backbone as ``module``.

A backbone that embeds raw text (``takes_raw_items``, such as
:class:`~sksiamese.modules.SentenceTransformerBackbone`) given pairs of
records becomes the field twin
(:class:`~sksiamese.modules._record_text.FieldwiseText`): it embeds each
text field of a record on its own, with one set of weights for every field
and both records. Numeric-like fields (prices, percentages, durations) are
not embedded: the comparison head compares them as numbers, as it does on
the TF-IDF fields. The items of the tuples are the record dicts themselves.

The comparison head reads the per-field cosines of the encoder *as
pretrained*: those of fine-tuned twins fit the training pairs that the
forest learns from, and would be trusted too much on new pairs (the
leakage that ``head="twins"`` avoids by cross-fitting).
"""

import weakref

import numpy as np
import torch

from .._engine.record_tuples import record_fields, records_frame
from .._engine.threads import torch_threads
from ..modules._record_text import FieldwiseText
from ..utils.fields import field_text, located_in_tuples
from ..utils.record_values import numeric_like

# The field that tells records apart, as RecordEncoder's default id_field,
# where no encoder names one (a text backbone's records, the head, the
# record-disjoint hold-out): an id is no text to compare
_ID_FIELD = "id"
# Records embedded at a time for the head's per-field cosines
_CHUNK = 1024
# The encoder as pretrained, built once per fitted net whose twins trained
# (the net is not pickled with it: the entry goes with the net)
_PRETRAINED = weakref.WeakKeyDictionary()


def text_fields(records, fields):
    """The fields of ``records`` (dicts) that the pretrained encoder embeds:
    all but the id and the numeric-like ones."""
    return [
        f
        for f in fields
        if f != _ID_FIELD and not numeric_like([r.get(f) for r in records])
    ]


class _TextRecords:
    """What the tuple estimators add for records with a text backbone."""

    def _on_text_records(self):
        """Whether the estimator embeds records with a text backbone."""
        return self._takes_raw_items() and self._on_records()

    def _check_text_records(self, flat, reset):
        """Check the record dicts ``flat`` (the members of the tuples, in
        order) and return them as the items; on ``reset``, read the fields."""
        cls = type(self).__name__
        if reset:
            if self.encoder is not None:
                raise ValueError(
                    f"{cls} got an encoder and a module that embeds raw text "
                    f"({type(self.module).__name__}): with records the module "
                    "embeds each text field itself; set encoder=None, or use a "
                    "backbone of numeric rows with the encoder."
                )
            fields = record_fields(flat)
            texts = text_fields(flat, fields)
            if not texts:
                raise ValueError(
                    f"{cls}: the records hold no text field for "
                    f"{type(self.module).__name__} to embed (fields {fields}; "
                    f"{_ID_FIELD!r} and numeric-like fields are not embedded). "
                    "Use the default module (module=None), which compares "
                    "numeric fields as numbers."
                )
            self.record_fields_, self._text_fields_ = fields, texts
        # clear errors for a field absent from the records or bytes that are
        # not UTF-8, named by tuple and side
        frame = records_frame(list(flat), self.record_fields_)
        with located_in_tuples(self._arity, self._tuple_name[:-1]):
            for field in self._text_fields_:
                field_text(frame[field])
        items = np.empty(len(flat), dtype=object)
        items[:] = list(flat)
        return items

    def _text_record_items(self, X):
        """Single records (a DataFrame or dicts) as the items ``embed``
        reads."""
        frame = records_frame(X, self.record_fields_)
        flat = np.empty(len(frame), dtype=object)
        flat[:] = frame.to_dict("records")
        return self._check_text_records(flat, reset=False)

    def _text_module_spec(self, module, kwargs):
        """The field twin around the backbone ``module`` built with the
        ``module__*`` ``kwargs`` (see ``backbone_spec``)."""
        params = {k[len("module__") :]: v for k, v in kwargs.items()}
        params.pop("n_features", None)
        return FieldwiseText, {
            "module__backbone": module,
            "module__backbone_params": params,
            "module__fields": list(self._text_fields_),
        }

    def _pretrained_fields(self):
        """The field twin as pretrained: the fitted one when it trained no
        epoch, else a fresh one built from the same parameters."""
        net = self.net_
        if len(net.history) == 0:
            return net.module_
        if net not in _PRETRAINED:
            module, kwargs = self._module_spec(None)
            # seeded: a backbone with a random layer on top builds it the
            # same whenever it is built (after loading a pickled model)
            with self._torch_seeded(0):
                kwargs = {k[len("module__") :]: v for k, v in kwargs.items()}
                _PRETRAINED[net] = module(**kwargs).to(self.device)
        return _PRETRAINED[net]

    def _pretrained_field_slices(self):
        """The columns of each text field in :meth:`_pretrained_rows` (the
        twins' layout)."""
        return list(self.net_.module_.field_slices.values())

    def _pretrained_rows(self, items, tuples):
        """``(rows, tuples)``: the pretrained field embeddings of the items of
        ``tuples`` (each record once), and the tuples as indices of them."""
        used, inverse = np.unique(tuples.ravel(), return_inverse=True)
        module = self._pretrained_fields()
        was_training = module.training
        module.eval()
        chunks = []
        try:
            with torch.no_grad(), torch_threads(self._n_threads(self.net_)):
                for start in range(0, len(used), _CHUNK):
                    batch = items[used[start : start + _CHUNK]]
                    chunks.append(module(batch).float().cpu().numpy())
        finally:
            module.train(was_training)
        rows = np.concatenate(chunks) if chunks else np.zeros((0, 1), np.float32)
        return rows, inverse.reshape(tuples.shape)
