"""Helpers shared by the benchmark scripts: data folder, tables and result files,
and the untrained-input and classical references of bench_defaults."""

import os
import platform
import re
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import paired_cosine_distances
from sklearn.neighbors import NeighborhoodComponentsAnalysis
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# Measure the checkout these scripts live in: ``python benchmarks/x.py`` puts
# benchmarks/, not the project root, first on sys.path, so ``import sksiamese``
# would otherwise find whichever copy is installed (e.g. another worktree's
# editable install) and the commit in the result header would not be the code
# that ran.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sksiamese.metrics import select_threshold  # noqa: E402
from sksiamese.pairs import pair_train_test_split  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def data_dir(arg):
    """The data folder: ``arg``, else ``$SKSIAMESE_DATA``, else
    ``<project root>/../shared/data``."""
    if arg:
        return Path(arg)
    if os.environ.get("SKSIAMESE_DATA"):
        return Path(os.environ["SKSIAMESE_DATA"])
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def read_stsb(folder, split):
    """STS-B's ``split``: sentence pairs as an (n, 2) object array of str, and
    their 0-5 scores."""
    with open(Path(folder) / "stsb" / f"sts-{split}.csv", encoding="utf-8") as f:
        # tab-separated, no header, no quoting; some lines carry extra columns
        rows = [line.rstrip("\n").split("\t")[:7] for line in f]
    pairs = np.array([[row[5], row[6]] for row in rows], dtype=object)
    return pairs, np.array([float(row[4]) for row in rows])


def format_table(headers, rows):
    """Return a Markdown table with columns padded to their widest cell."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine():
    import torch

    return (
        f"python {sys.version.split()[0]}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {platform.machine()}"
    )


def report(name, text):
    """Print ``text`` and write it to ``benchmarks/results/<name>.md``."""
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text(text + "\n")


def provenance(argv=None):
    """Header lines naming the git commit and the command that made a result
    file, so it can be rerun on the same code."""
    import shlex
    import subprocess
    import time

    def git(*args):
        try:
            out = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return ""
        return out.stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    # uncommitted changes to the package itself make the commit not the code run
    if git("status", "--porcelain", "--", "sksiamese"):
        commit += " (with uncommitted changes to sksiamese/)"
    argv = sys.argv[1:] if argv is None else list(argv)
    threads = os.environ.get("OMP_NUM_THREADS")
    env = f"OMP_NUM_THREADS={threads} " if threads else ""
    script = Path(sys.argv[0]).name
    command = f"{env}python benchmarks/{script} {shlex.join(argv)}".rstrip()
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    import sksiamese

    package = Path(sksiamese.__file__).resolve().parent
    return [
        f"Commit: `{commit}`, {stamp}; sksiamese from `{package}`.",
        f"Command: `{command}`",
    ]


# -- the untrained input and classical references (bench_defaults) ----------

# seed of every estimator and split of the references
SEED = 0


class UntrainedInput(TransformerMixin, BaseEstimator):
    """The representation an estimator starts from, before any training.

    ``encoder`` (cloned and fitted on the training items, as the estimators
    fit theirs) or, when None, the input rows themselves.
    """

    def __init__(self, encoder=None):
        self.encoder = encoder

    def fit(self, X, y=None):
        self.encoder_ = None if self.encoder is None else clone(self.encoder).fit(X)
        return self

    def transform(self, X):
        return X if self.encoder_ is None else self.encoder_.transform(X)


def _items(X):
    """Items as the encoders take them: a list for raw items (strings)."""
    X = np.asarray(X)
    return list(X) if X.dtype == object else X


def paired_cosine(A, B):
    """Cosine similarity of row i of ``A`` and row i of ``B`` (dense or sparse)."""
    if not sp.issparse(A):
        A, B = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64)
    return 1.0 - paired_cosine_distances(A, B)


def untrained_similarity(encoder, train_items, pairs):
    """Cosine similarity of the two items of each pair in the untrained input,
    ``UntrainedInput(encoder)`` fitted on ``train_items``."""
    space = UntrainedInput(encoder).fit(_items(train_items))
    pairs = np.asarray(pairs)
    return paired_cosine(
        space.transform(_items(pairs[:, 0])), space.transform(_items(pairs[:, 1]))
    )


def untrained_threshold(encoder, pairs, y, groups):
    """The accuracy-maximising threshold of the untrained input's similarity,
    chosen on item-disjoint held-out pairs (a third of ``pairs``, the encoder
    fitted on the items of the others), as a threshold for new items should."""
    inner, held_out, _, _ = pair_train_test_split(
        np.arange(len(y)), y, test_size=0.3, groups=groups, random_state=SEED
    )
    score = untrained_similarity(encoder, pair_items(pairs[inner]), pairs[held_out])
    return select_threshold(y[held_out], score, "accuracy")


def pair_items(pairs):
    """The items of pairs (or triplets), one after the other."""
    pairs = np.asarray(pairs)
    return pairs.reshape(-1, *pairs.shape[2:])


def pair_features(A, B):
    """``|a - b|`` and ``a * b``: the symmetric pair features of a logistic
    regression on pairs."""
    return np.hstack([np.abs(A - B), A * B])


def logistic_on_pairs(X_train, y_train, X_test):
    """P(similar) of a logistic regression on :func:`pair_features`."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    model.fit(pair_features(X_train[:, 0], X_train[:, 1]), y_train)
    return model.predict_proba(pair_features(X_test[:, 0], X_test[:, 1]))[:, 1]


def nca_cosine(X_train, y_train, pairs, n_pca=None):
    """Cosine similarity of pairs in an NCA embedding fitted on class labels
    (after PCA to ``n_pca`` dimensions for images)."""
    steps = [StandardScaler()] if n_pca is None else [PCA(n_pca, random_state=SEED)]
    model = make_pipeline(*steps, NeighborhoodComponentsAnalysis(random_state=SEED))
    model.fit(X_train, y_train)
    return paired_cosine(model.transform(pairs[:, 0]), model.transform(pairs[:, 1]))


def pca_cosine(X_train, pairs, n_components):
    pca = PCA(n_components, random_state=SEED).fit(X_train)
    return paired_cosine(pca.transform(pairs[:, 0]), pca.transform(pairs[:, 1]))


_WORD = re.compile(r"\w+")


def _tokens(text):
    return set(_WORD.findall(str(text).lower()))


def text_similarity_features(train_texts, pairs):
    """Word and character TF-IDF cosines, word Jaccard and length ratio of
    text pairs (the vectorisers fitted on ``train_texts``)."""
    columns = []
    for vectorizer in (
        TfidfVectorizer(),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True),
    ):
        vectorizer.fit(train_texts)
        columns.append(
            paired_cosine(
                vectorizer.transform(list(pairs[:, 0])),
                vectorizer.transform(list(pairs[:, 1])),
            )
        )
    jaccard, length = [], []
    for a, b in pairs:
        ta, tb = _tokens(a), _tokens(b)
        jaccard.append(len(ta & tb) / max(len(ta | tb), 1))
        la, lb = len(str(a)), len(str(b))
        length.append(min(la, lb) / max(la, lb, 1))
    return np.column_stack([*columns, jaccard, length])


def encode_pairs(space, pairs):
    """``(n_pairs, 2, n_components)`` encodings of string pairs."""
    return np.stack([space.transform(list(pairs[:, k])) for k in (0, 1)], axis=1)


def field_features(train_fields, pair_fields):
    """Per field: character TF-IDF cosine, token Jaccard and exact match (the
    similarity features of Magellan-style matchers)."""
    n_fields = len(train_fields[0])
    columns = []
    for f in range(n_fields):
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4))
        vectorizer.fit([r[f] for r in train_fields])
        a = [p[0][f] for p in pair_fields]
        b = [p[1][f] for p in pair_fields]
        columns.append(paired_cosine(vectorizer.transform(a), vectorizer.transform(b)))
        jaccard = [
            len(_tokens(x) & _tokens(y)) / max(len(_tokens(x) | _tokens(y)), 1)
            for x, y in zip(a, b)
        ]
        columns.append(np.array(jaccard))
        columns.append(np.array([float(x.lower() == y.lower()) for x, y in zip(a, b)]))
    return np.column_stack(columns)
