"""A stand-in for a pretrained backbone, shared by the few-shot tests: a
linear map that names its own training defaults (a ``min_steps`` budget among
them), as :class:`~sksiamese.modules.SentenceTransformerBackbone` does."""

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


def pretrained_backbone(defaults, embedding_dim):
    """A backbone class whose ``training_defaults()`` are ``defaults``."""

    class Pretrained(nn.Module):
        pretrained = True

        def __init__(self, n_features, embedding_dim=embedding_dim):
            super().__init__()
            self.embedding_dim = embedding_dim
            self.layer = nn.Linear(n_features, embedding_dim)

        @classmethod
        def class_training_defaults(cls, **params):
            return dict(defaults)

        def training_defaults(self):
            return self.class_training_defaults()

        def forward(self, X):
            return self.layer(X)

    return Pretrained
