"""The training spec of a fit: what each "auto" training parameter became."""

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingSpec:
    """The effective training parameters of one fit, resolved once.

    An estimator resolves its "auto" parameters (from the backbone's
    ``training_defaults()``, then from the data) into one spec at the start
    of a fit and passes it to what builds the skorch net; nothing reads the
    estimator's parameters back while training. The fitted estimator keeps
    the spec of its last fit as ``training_``.

    Parameters
    ----------
    lr : float
        Learning rate.
    weight_decay : float
        The optimizer's weight decay.
    lr_schedule : {"cosine", "warmup_linear"} or None
        Learning-rate schedule over ``max_epochs``.
    max_epochs : int
        Epochs to train.
    batch_size : int
        Rows (or tuples) per batch.
    projection_dim : int or None, default=None
        Width of the projection head the loss sees; None: no head.
    min_steps : int or None, default=None
        Fewest optimizer steps a few-shot fit takes (a pretrained backbone's
        budget), or None.
    loss : str or loss object, default=None
        The loss the fit trains with.
    samples_per_class : int or None, default=None
        Rows per class in a class-balanced batch, where batches are built by
        class.
    augment : callable or None, default=None
        Augmentation of the training batches.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sksiamese import SiameseTransformer
    >>> X, y = load_iris(return_X_y=True)
    >>> est = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
    >>> est.training_.max_epochs, est.training_.batch_size, est.training_.loss
    (2, 128, 'contrastive')
    """

    lr: float
    weight_decay: float
    lr_schedule: str | None
    max_epochs: int
    batch_size: int
    projection_dim: int | None = None
    min_steps: int | None = None
    loss: object = None
    samples_per_class: int | None = None
    augment: object = None

    @property
    def few_shot_budget(self):
        """Whether the fit has a few-shot budget (``min_steps``): a
        pretrained backbone fine-tuned on few rows."""
        return self.min_steps is not None

    def replace(self, **changes):
        """A copy of the spec with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def as_dict(self):
        """The spec as a plain dict (how a pickled estimator stores it)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
