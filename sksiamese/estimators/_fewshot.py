"""Few-shot fits of SiameseTransformer: when held-out rows can judge a fit,
how many epochs small data takes, and what a fit says it does."""

import numpy as np

# Same-class pairs the held-out rows must hold before they may judge a
# few-shot fit of a pretrained backbone (5 rows of each of 2 classes hold 20):
# with fewer, their ROC AUC moves by more than training changes it (CR with 8
# sentences per class held out 2 rows: no same-class pair at all in 4 of 10
# seeds), while the rows held out are a large share of what training could
# learn from. At 20, the selection rule's false accepts of noise and false
# rejects of a clear gain were measured in tests/test_fewshot.py.
MIN_SAME_CLASS_PAIRS = 20


def can_hold_out(valid_codes, few_shot_budget):
    """Whether held-out rows with class codes ``valid_codes`` can select a
    model.

    Never when they hold no same-class pair or a single class (they cannot
    be scored: the rows would only be lost to training). With a backbone's
    few-shot budget (``min_steps``: a pretrained encoder whose fine-tuning
    is known to help), only from :data:`MIN_SAME_CLASS_PAIRS` same-class
    pairs on. Without one, any scorable hold-out selects: the network may
    overfit a small training set (iris, 105 rows, all trained for 30 epochs:
    80 % against 100 % with the held-out selection), and keeping the start
    unless an epoch beats it is the do-no-harm rule.
    """
    counts = np.bincount(valid_codes)
    same = (counts * (counts - 1) // 2).sum()
    if same == 0 or np.count_nonzero(counts) < 2:
        return False
    return not few_shot_budget or same >= MIN_SAME_CLASS_PAIRS


def few_shot_epochs(max_epochs, min_steps, n_rows, batch_size):
    """Epochs that give at least ``min_steps`` optimizer steps over
    ``n_rows`` training rows (an epoch draws ``ceil(n_rows / batch_size)``
    batches), and never fewer than ``max_epochs``: large data keeps its
    epochs, few-shot data gets enough steps to move a pretrained encoder.

    Examples
    --------
    >>> from sksiamese.estimators._fewshot import few_shot_epochs
    >>> few_shot_epochs(3, 40, n_rows=16, batch_size=16)  # 1 batch an epoch
    40
    >>> few_shot_epochs(3, 40, n_rows=10000, batch_size=16)
    3
    """
    if min_steps is None:
        return max_epochs
    per_epoch = -(-n_rows // batch_size)
    return max(max_epochs, -(-min_steps // per_epoch))


def plan_training(estimator, training, n_rows, n_classes):
    """The spec ``training`` with few-shot data given the backbone's
    ``min_steps`` (with ``max_epochs="auto"``); with ``verbose``, print the
    plan."""
    if isinstance(estimator.max_epochs, str):
        training = training.replace(
            max_epochs=few_shot_epochs(
                training.max_epochs, training.min_steps, n_rows, training.batch_size
            )
        )
    if estimator.verbose:
        selection = SELECTIONS[estimator.model_selection_]
        line = plan_line(estimator, training, n_rows, n_classes, selection)
        print(line, flush=True)
    return training


def plan_line(estimator, training, n_rows, n_classes, selection):
    """The line ``verbose=1`` prints before training: the data, the budget
    (steps of how many rows, pairs per batch) and how the model is chosen."""
    epochs, batch_size = training.max_epochs, training.batch_size
    per_epoch = -(-n_rows // batch_size)
    per_class = training.samples_per_class
    classes = min(n_classes, max(1, batch_size // per_class))
    rows = classes * min(per_class, batch_size)
    return (
        f"{type(estimator).__name__}: {n_rows} training rows of {n_classes} "
        f"classes; {epochs} epochs x {per_epoch} steps = {epochs * per_epoch} "
        f"steps of {rows} rows ({classes} classes, {rows * (rows - 1) // 2} "
        f"pairs per batch); model selection: {selection}"
    )


SELECTIONS = {
    "held-out": "held-out rows (the untrained network kept unless beaten)",
    "too-few-rows": (
        "none, held-out rows could not be scored (no same-class pair) or, "
        f"for a few-shot budget, would hold fewer than {MIN_SAME_CLASS_PAIRS} "
        "same-class pairs: all rows train, every epoch is kept"
    ),
    "off": "none (early_stopping=False): all rows train, every epoch is kept",
}
