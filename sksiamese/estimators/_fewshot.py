"""Few-shot fits of SiameseTransformer: when held-out rows can judge a fit,
how many epochs small data takes, and what a fit says it does."""

import numpy as np
from sklearn.model_selection import train_test_split

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


def split_rows(codes, validation_fraction, few_shot_budget, seed):
    """Training and held-out rows of class codes ``codes``, and how the
    model is selected: ``"held-out"``, or ``"too-few-rows"`` when the
    held-out rows cannot select (:func:`can_hold_out`) and every row trains.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.estimators._fewshot import split_rows
    >>> codes = np.repeat([0, 1], 50)
    >>> train, valid, how = split_rows(codes, 0.1, False, seed=0)
    >>> len(train), len(valid), how
    (90, 10, 'held-out')
    >>> split_rows(codes[:8], 0.1, False, seed=0)[2]  # 1 held-out row
    'too-few-rows'
    """
    n_samples = len(codes)
    counts = np.bincount(codes)
    n_valid = int(np.ceil(validation_fraction * n_samples))
    stratify = codes if counts.min() >= 2 and n_valid >= len(counts) else None
    train, valid = train_test_split(
        np.arange(n_samples), test_size=n_valid, stratify=stratify, random_state=seed
    )
    if not can_hold_out(codes[valid], few_shot_budget):
        # too few held-out rows to tell a gain from noise: train on all
        return np.arange(n_samples), None, "too-few-rows"
    return train, valid, "held-out"


# The most passes over each row that ``min_steps`` asks for. At 16
# sentences (CR, 2 classes of 8) 40 steps were 40 passes over each, 2.5 times
# SetFit's fit time there; 16 passes scored as well: 77.0 and 78.0 % against
# 76.0 and 78.8 at 40, in 81 and 66 s against 178 and 185 s (2 samples of
# the CR training pool outside the benchmark's, scored on 400 other pool
# rows). Data of 40 rows or more (3 batches) never reaches the cap.
MAX_FEW_SHOT_EPOCHS = 16
# The fewest passes over few-shot data, while they take at most
# MAX_PASS_STEPS steps: 40 steps are only 4 passes over emotion's 172
# training rows at 32 sentences per class, and the encoder was still
# learning there: 55.1 % at 4 passes and 58.8 at 10 (mean of 4
# training-pool samples outside the benchmark's, logistic regression on the
# embeddings, 400 other pool rows each; the nearest class mean 56.0 and
# 56.9); on CR at 32 per class (64 rows, 10 passes at 40 steps) 16 passes
# scored 1.1 points below 10 (2 samples). Larger data take the passes that
# MAX_PASS_STEPS steps make, and from about 860 rows (54 batches of 16) the
# backbone's own 3 epochs.
MIN_FEW_SHOT_PASSES = 10
MAX_PASS_STEPS = 160


def few_shot_epochs(max_epochs, min_steps, n_rows, batch_size):
    """Epochs that give at least ``min_steps`` optimizer steps over
    ``n_rows`` training rows (an epoch draws ``ceil(n_rows / batch_size)``
    batches) and at least :data:`MIN_FEW_SHOT_PASSES` passes while those
    take at most :data:`MAX_PASS_STEPS` steps, but no more than
    :data:`MAX_FEW_SHOT_EPOCHS` passes, and never fewer than
    ``max_epochs``: large data keeps its epochs, few-shot data gets enough
    steps to move a pretrained encoder.

    Examples
    --------
    >>> from sksiamese.estimators._fewshot import few_shot_epochs
    >>> few_shot_epochs(3, 40, n_rows=48, batch_size=16)  # 3 batches an epoch
    14
    >>> few_shot_epochs(3, 40, n_rows=16, batch_size=16)  # at most 16 passes
    16
    >>> few_shot_epochs(3, 40, n_rows=192, batch_size=16)  # 10 passes
    10
    >>> few_shot_epochs(3, 40, n_rows=10000, batch_size=16)
    3
    """
    if min_steps is None:
        return max_epochs
    per_epoch = -(-n_rows // batch_size)
    steps = max(min_steps, min(MIN_FEW_SHOT_PASSES * per_epoch, MAX_PASS_STEPS))
    wanted = min(-(-steps // per_epoch), MAX_FEW_SHOT_EPOCHS)
    return max(max_epochs, wanted)


def few_shot_samples_per_class(batch_size, n_classes):
    """Rows of each class in a batch that holds as many classes as it can:
    2 (the fewest that make a positive pair) when the batch cannot hold more
    than 2 of every class, else an even share of the batch.

    A batch of 16 at 8 rows per class contrasts 2 classes. On 6-class
    emotion at 8 sentences per class (2 samples of the training pool outside
    the benchmark's, scored on 400 other pool rows), the logistic regression
    on the embeddings scored 43.4 % on average with 6 classes x 2 rows a
    batch, 42.2 with 4 x 4 and 41.9 with 2 x 8 (the nearest class mean 44.1,
    43.4 and 42.6), and a batch of 12 rows costs less than one of 16.

    Examples
    --------
    >>> from sksiamese.estimators._fewshot import few_shot_samples_per_class
    >>> few_shot_samples_per_class(16, 2)
    8
    >>> few_shot_samples_per_class(16, 6)  # 6 classes x 2 rows
    2
    """
    return max(2, batch_size // n_classes)


def plan_training(estimator, training, n_rows, n_classes):
    """The spec ``training`` with few-shot data given the backbone's
    ``min_steps`` (with ``max_epochs="auto"``) and, with
    ``samples_per_class="auto"`` and no held-out rows, batches of as many
    classes as they hold; with ``verbose``, print the plan."""
    # with held-out rows to judge it, training keeps its 8 rows of a class:
    # with 2 rows a class (emotion, 32 sentences per class, a training-pool
    # sample outside the benchmark's) the held-out AUC rose 0.528 -> 0.575 in
    # the 4 epochs such data gets and the untrained encoder was kept (45.2 %
    # accuracy on other pool rows); with 8 it rose to 0.614 and was kept (53.8)
    few_shot = training.few_shot_budget and estimator.model_selection_ != "held-out"
    if few_shot and isinstance(estimator.samples_per_class, str):
        training = training.replace(
            samples_per_class=few_shot_samples_per_class(training.batch_size, n_classes)
        )
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
