"""A stand-in for a pretrained backbone, shared by the few-shot tests: a
linear map that names its own training defaults (a ``min_steps`` budget among
them), as :class:`~sksiamese.modules.SentenceTransformerBackbone` does; and
a stand-in pretrained text encoder (:func:`text_backbone`)."""

import zlib

import torch
from torch import nn


def few_shot_defaults(min_steps):
    """Training defaults of a pretrained encoder with a ``min_steps`` budget."""
    return {
        "lr": 1e-2,
        "weight_decay": 0.0,
        "lr_schedule": None,
        "max_epochs": 2,
        "batch_size": 16,
        "min_steps": min_steps,
        "projection_dim": None,
    }


def _named_defaults(defaults):
    """A pretrained module base whose ``training_defaults()`` (of the class
    and of an instance) are ``defaults``."""

    class NamedDefaults(nn.Module):
        pretrained = True

        @classmethod
        def class_training_defaults(cls, **params):
            return dict(defaults)

        def training_defaults(self):
            return self.class_training_defaults()

    return NamedDefaults


def pretrained_backbone(defaults, embedding_dim):
    """A backbone class whose ``training_defaults()`` are ``defaults``."""

    class Pretrained(_named_defaults(defaults)):
        def __init__(self, n_features, embedding_dim=embedding_dim):
            super().__init__()
            self.embedding_dim = embedding_dim
            self.layer = nn.Linear(n_features, embedding_dim)

        def forward(self, X):
            return self.layer(X)

    return Pretrained


def text_backbone(synonyms, defaults, embedding_dim=16):
    """A backbone class that embeds strings as a pretrained sentence encoder
    would, knowing synonyms that share no character: each word is a fixed
    random vector (the same for every word of one group of ``synonyms``),
    a text the mean of its words', then a linear layer that starts as the
    identity; ``training_defaults()`` are ``defaults``."""
    concept = {w: group[0] for group in synonyms for w in group}

    class PretrainedText(_named_defaults(defaults)):
        takes_raw_items = True

        def __init__(self, embedding_dim=embedding_dim):
            super().__init__()
            self.embedding_dim = embedding_dim
            self.layer = nn.Linear(embedding_dim, embedding_dim)
            with torch.no_grad():
                self.layer.weight.copy_(torch.eye(embedding_dim))
                self.layer.bias.zero_()

        def _word(self, word):
            seed = zlib.crc32(concept.get(word, word).encode())
            generator = torch.Generator().manual_seed(seed)
            return torch.randn(self.embedding_dim, generator=generator)

        def forward(self, X):
            rows = []
            for text in X:
                if not isinstance(text, str):
                    raise ValueError(f"embeds strings; got {type(text).__name__}")
                words = text.lower().split() or ["<empty>"]
                rows.append(torch.stack([self._word(w) for w in words]).mean(0))
            return self.layer(torch.stack(rows))

    return PretrainedText
