"""The parameter and attribute entries the estimators' docstrings share, and
the one function that fills them in.

A class docstring holds a placeholder line such as ``    {training}``; the
estimator module ends with ``Cls.__doc__ = fill_doc(Cls.__doc__, k=2, ...)``,
which puts the entry of that name in place of the line and then the keyword
values in place of ``{k}``-style fields inside the entries (imbalanced-learn's
``Substitution`` does the same job).
"""

import re

# the learning-rate schedule and weight decay entries of every estimator
_SCHEDULE = """\
    lr_schedule : {"cosine", "warmup_linear", "auto"} or None, default="auto"
        Cosine annealing of the learning rate over ``max_epochs``;
        "warmup_linear": linear warm-up over the first 10 % of the training
        steps, then linear decay to 0 (for pretrained backbones); "auto":
        "cosine" (or the backbone's).
    weight_decay : float or "auto", default="auto"
        Weight decay of the optimizer; "auto": 1e-4 (or the backbone's)."""

_NETWORK = """\
    module : None, torch.nn.Module class or instance, default=None
        Backbone shared by the twins; None builds an
        :class:`~sksiamese.modules.MLP` from ``hidden_layer_sizes``,
        ``embedding_dim``, ``dropout`` and ``batch_norm``, in its residual
        form: a linear input map that starts at the principal directions of
        the training items (``MLP.initialize_from``), plus the hidden layers
        as a branch that starts at zero, so the untrained network compares
        items as their features do (on records with the default encoder,
        :class:`SiamesePairClassifier` builds a
        :class:`~sksiamese.modules.FieldwiseMLP` instead, its field weights
        started from the labelled pairs). A class is
        instantiated with the ``module__*`` parameters, ``n_features`` and
        those of ``hidden_layer_sizes``, ``embedding_dim``, ``dropout`` and
        ``batch_norm`` that its constructor takes (an explicit ``module__*``
        wins); one of these set away from its default that the backbone
        cannot take raises a ``ValueError`` in ``fit``. An instance is copied
        at each fit. A backbone that embeds raw items itself, such as
        :class:`~sksiamese.modules.SentenceTransformerBackbone` for text,
        takes ``(n, {k})`` raw items without an ``encoder``; given as an
        instance, its ``training_defaults()`` fill in the training parameters
        left at "auto".
    encoder : scikit-learn transformer or None, default=None
        Turns raw items (strings, dicts, rows) into feature vectors: it is
        cloned and fitted on the items of the training tuples (wrap a fitted
        encoder in :class:`sklearn.frozen.FrozenEstimator` to keep it as is).
        For records (rows of named fields, see ``fit``), it receives a
        DataFrame of records with the plain field names, so a
        :class:`~sklearn.compose.ColumnTransformer` over the fields works.
        A sparse output (a ``TfidfVectorizer``'s) stays sparse through the
        backbone's first layer (see ``optimizer``). None: ``X`` is numeric,
        of shape (n, {k}, n_features), or records, then encoded by a
        :class:`~sksiamese.RecordEncoder`.
    hidden_layer_sizes : tuple of int, default=(256,)
        Hidden layers of the backbone.
    embedding_dim : int or "auto", default="auto"
        Size of the backbone's embeddings (the output of :meth:`embed`).
        "auto": the backbone's own default; the default MLP then has as many
        dimensions as the input has features, at least 128 and at most
        512, so that its untrained start keeps the input's cosines exactly
        (up to 512 features) or within about 0.04 (a random projection of
        wider, e.g. TF-IDF, rows: see :class:`~sksiamese.modules.MLP`).
    dropout : float, default=0.1
        Dropout of the backbone (after each hidden layer of the MLP).
    batch_norm : bool, default=True
        Batch normalisation in the backbone.
    projection_dim : int or None, default={projection}
        Output size of a projection head (``ReLU -> Linear``) on top of any
        backbone, which only the loss sees; distances are measured on the
        embeddings before it. The head takes up what is special to the
        training items and classes, so the embeddings keep more of the
        input's geometry: items of classes never seen in training are told
        apart better, new pairs of the training classes less well, and
        structure far from the input's (synonyms that share no word) is
        learned more slowly. None (no head) learns the similarity itself.
        The pair estimators default to None (pairs often link items, such as
        duplicates or records, rather than classes); the triplet estimator,
        whose triplets usually come from class labels, to 64 (the user
        guide's "The projection head" has the measurements)."""

_TRAINING = """\
    max_epochs : int or "auto", default="auto"
        Passes over the training tuples. "auto", as for ``batch_size``,
        ``lr``, ``lr_schedule`` and ``weight_decay``: the value of the
        backbone instance's ``training_defaults()`` when it has one, else the
        standard value (here 30).
    batch_size : int or "auto", default="auto"
        Tuples per training batch; "auto": 128 (or the backbone's).
    lr : float or "auto", default="auto"
        Learning rate; "auto": 1e-3 (or the backbone's).
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Optimizer; ``optimizer__*`` parameters are routed to it. Adam and
        AdamW take torch's fused kernel (``fused=True``) on CPU and CUDA
        where this torch has it, unless ``optimizer__fused``,
        ``optimizer__foreach`` (or ``differentiable`` / ``capturable``) is
        given. Sparse rows
        stay sparse: an encoder's sparse output (a ``TfidfVectorizer``'s)
        reaches a backbone that declares ``accepts_sparse`` (the default
        MLP) as torch sparse batches, and its first layer computes from the
        nonzeros only.
        {lazy_update}
    {schedule}
    clip_grad_norm : float or None, default=None
        Clip the gradient norm to this value.
    early_stopping : bool, default=True
        Model selection on the held-out tuples (see
        ``validation_fraction``): their score ({score}) is measured before
        training and after each epoch (``validation_scores_``); training
        stops when it has not improved for ``n_iter_no_change`` epochs (a
        tie with the best counts as progress: a small held-out set
        saturates while training still widens the margins), and the latest
        best weights are kept. The untrained network is one of the
        candidates, kept unless the best epoch beat it by more than the
        standard error of the gain (the one-standard-error rule; the gain is
        paired, both networks scored on the same held-out tuples), so a fit
        that only memorises its training tuples ends where it started (with
        the default backbone: the input's own geometry). False trains every
        epoch. Without held-out tuples (tiny data), every epoch is trained.
    validation_fraction : float, default=0.1
        Share of the tuples held out ({holdout}), to judge the model on
        items it was not trained on: no item of a held-out tuple occurs in a
        training tuple. For the pair classifier (similar pairs) and the
        triplet estimator (anchor and positive), whole identities are held
        out when there are many: the groups of items that similar tuples
        link (a person, an entity, a class), when no identity holds more
        than a twentieth of the items, so the held-out tuples are of
        identities never seen in training ("identity-disjoint"). With fewer,
        larger identities, as below. Items are the same when their numeric rows are
        identical, their raw items equal, or their ids in ``fit``'s
        ``groups`` equal. Groups of tuples linked by shared items are held
        out whole; when one group holds most tuples (densely linked pairs of
        few items), a random share of the items is held out and the tuples
        that straddle the split are left out of both parts (about 38 % of
        them at 0.1). When that leaves fewer than 20 held-out tuples (small
        data), or raw items cannot be compared, a random share of the tuples
        is held out instead; under 2 tuples, none. ``holdout_`` says which.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    augment : callable or None, default=None
        Applied to each training batch of stacked items (a float32 tensor).
    device : str or torch.device, default="cpu"
        Device for training and inference.
    {n_jobs}
    random_state : int, RandomState instance or None, default=None
        Seeds weights, batches and dropout; an int makes fits repeatable.
    verbose : int, default=0
        0 is silent; 1 prints skorch's epoch log and a progress bar.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks.
    warm_start : bool, default=False
        Continue from the fitted network at the next ``fit``.
    **kwargs
        ``module__*`` and ``optimizer__*`` parameters, routed as in skorch,
        and ``loss__*`` parameters of a loss given by name (e.g.
        ``loss__scale=30`` for "mnrl" or "cosent"); with a loss instance
        they raise a ValueError: set them on the instance."""

# the spec of the last fit, what every estimator keeps
_TRAINING_SPEC = """\
    training_ : TrainingSpec
        The training parameters of the last fit with every "auto" resolved
        (learning rate, epochs, batch size, loss, projection head, ...), as
        the skorch net was built from them."""

_TUPLE_ATTRIBUTES = """\
    net_ : skorch.NeuralNet
        The trained skorch network.
    distance_ : distance module
        The distance the model compares the embeddings of a tuple with
        (see :mod:`sksiamese.distances`); ``similarity`` scores are its
        ``similarity`` of the distances.
    encoder_ : scikit-learn transformer
        The fitted encoder (only with ``encoder``, or records).
    record_fields_ : list of str
        The fields of the records seen in ``fit`` (only for records).
    history_ : skorch.History
        Per-epoch training record.
    holdout_ : {"identity-disjoint", "item-disjoint", "random"} or None
        How the held-out tuples were chosen (see ``validation_fraction``);
        None when none were.
    n_iter_ : int
        Number of epochs trained.
    {training_spec}
    validation_scores_ : list of float
        The held-out score before training, then after each epoch (with
        ``early_stopping`` and held-out tuples only).
    best_validation_score_ : float
        The best of them: that of the network kept.
    best_epoch_ : int
        The epoch after which the kept network was scored; 0 is the untrained
        network, which no epoch beat.
    n_features_in_ : int
        Number of features of each item (numeric input only)."""

_N_JOBS = """\
    n_jobs : int or None, default=None
        Torch's intra-op threads while the estimator trains and embeds; the
        caller's setting is restored when each call returns. None: one thread
        for a small network (a training batch under about 100 million
        floating-point operations, as for most tabular data), where more
        threads only add synchronisation and slow down badly when the cores
        are busy with other work; otherwise torch's current setting
        (convolutions, pretrained text encoders). It never exceeds torch's
        current setting, so the limits joblib, Dask and Ray give their
        workers hold. A positive int sets that many threads, -1 one per core.
        Threads change results only in the last bits of floating-point sums
        (which training can amplify over epochs)."""

# what the ``optimizer`` entry says of sparse rows
_LAZY_UPDATE = """\
        With Adam or AdamW that layer's weight is updated lazily, so that a
        step costs the features present in the batch, not all the features:
        only the weights of those features move, with their moments, ``lr``
        and its schedule, betas, eps, amsgrad and ``weight_decay`` as in the
        optimizer (a feature's weights decay at the steps where it is
        present). Any other optimizer trains that layer on its dense
        gradient, as for dense input. With ``augment``, training batches
        are densified."""

# SiameseTransformer's projection_dim, with the "auto" parameters that read
# the data (estimators/_data_defaults.py)
_DATA_AUTO = """\
    projection_dim : int, None or "auto", default="auto"
        Output size of a projection head (``ReLU -> Linear``) on top of any
        backbone, which only the loss sees: the loss is computed on the
        projected embeddings, ``transform`` returns the embeddings before the
        head (as in SimCLR / SupCon), which keep information the loss would
        discard. None: no head. "auto" reads the data, as ``loss``,
        ``samples_per_class``, ``augment``, ``batch_size`` and ``lr`` do:
        many classes of images (at least 256 training classes and a
        backbone with an ``input_shape``, such as
        :class:`~sksiamese.modules.ConvNet`) train prototypical-network
        style, with no head, the "supcon" loss, 4 rows of each of 64
        classes per batch, lr 3e-3 and a mild
        :class:`~sksiamese.augment.RandomAffine` on every batch (the head
        costs one-shot accuracy on unseen classes there: the user guide's
        "Images" has the measurements); all other data (tabular rows, a few
        dozen faces or writers) gets a 64-unit head, "contrastive", 8 rows
        per class, batches of 128, lr 1e-3 and no augmentation. A backbone
        whose ``training_defaults()`` names a ``projection_dim`` gets that
        instead: none for :class:`~sksiamese.modules.SentenceTransformerBackbone`,
        whose own embedding the loss then trains."""

ENTRIES = {
    "network": _NETWORK,
    "training": _TRAINING,
    "attributes": _TUPLE_ATTRIBUTES,
    "n_jobs": _N_JOBS,
    "schedule": _SCHEDULE,
    "training_spec": _TRAINING_SPEC,
    "lazy_update": _LAZY_UPDATE,
    "data_auto": _DATA_AUTO,
}

_PLACEHOLDER = re.compile(r"^ *\{(\w+)\}\n", re.M)


def fill_doc(text, **values):
    """``text`` with each placeholder line replaced by its entry of
    :data:`ENTRIES` (entries may hold placeholder lines of their own), then
    each ``{name}`` of ``values`` by its value.

    None stays None (``python -OO`` strips docstrings); an unknown
    placeholder line raises a ValueError.
    """
    if text is None:
        return None

    def entry(match):
        name = match.group(1)
        if name not in ENTRIES:
            raise ValueError(f"no shared docstring entry {name!r}")
        return ENTRIES[name] + "\n"

    while _PLACEHOLDER.search(text):
        text = _PLACEHOLDER.sub(entry, text)
    for name, value in values.items():
        text = text.replace(f"{{{name}}}", str(value))
    return text
