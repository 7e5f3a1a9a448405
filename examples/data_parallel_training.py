"""
=====================================================
Data-parallel training over processes with torchrun
=====================================================

One fit can train over several processes, one per GPU (or a few per
machine on CPU), when the data outgrow one: launch the same script once per
process with ``torchrun``, torch's own launcher, and fit inside
:func:`sksiamese.distributed.data_parallel`::

    # CPU: two processes on this machine, gloo
    torchrun --nproc_per_node=2 examples/data_parallel_training.py
    # CUDA: one process per GPU, NCCL (set DEVICE=cuda below)
    torchrun --nproc_per_node=4 examples/data_parallel_training.py
    # several machines: the same on each, with their rank and the first's address
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=4 \\
        --master_addr=10.0.0.1 --master_port=29500 examples/data_parallel_training.py

Every process loads the same data and builds the same estimator, with an
int ``random_state``. Inside the scope, each training batch of ``batch_size``
rows per process is one process's slice of a global batch of
``world_size * batch_size`` rows (whole classes of it: the batches stay
class-balanced per process), torch's ``DistributedDataParallel`` averages
the gradients, and with ``gather=True`` (the default) the loss and the miner
see the embeddings of every process: ``N`` processes at ``batch_size=B``
train as one process at ``batch_size=N * B``, at about ``1 / N`` of its
time per epoch when the processes have their own cores or GPUs. The
held-out score that selects the model is computed on rank 0 and shared, so
early stopping agrees on every process.

The fitted estimator is an ordinary one: rank 0 saves it, and any process
loads it and predicts without a process group. Run without a launcher (as
here, in the documentation build), the script is a world of one and the fit
is a plain fit.
"""

import os
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier

from sksiamese import SiameseTransformer
from sksiamese.distributed import data_parallel, is_main_process

QUICK = bool(os.environ.get("SKSIAMESE_QUICK"))
DEVICE = "cpu"  # "cuda" under torchrun on GPUs: each process uses its own

# %%
# Every process: the same data, the same estimator
# ------------------------------------------------
# Digits 0-6 train the embedding; digits 7-9 are classes it never sees.

X, y = load_digits(return_X_y=True)
X = X / 16.0
seen = y <= 6
model = SiameseTransformer(
    batch_size=64,  # per process: the global batch is world_size * 64
    max_epochs=2 if QUICK else 20,
    device=DEVICE,
    random_state=0,  # the same on every process: the same split and batches
)

# %%
# Fit together
# ------------
# ``data_parallel`` joins the process group ``torchrun`` describes (and
# leaves it at the end); it yields the number of processes.

with data_parallel(gather=True) as world_size:
    start = time.perf_counter()
    model.fit(X[seen], y[seen])
    seconds = time.perf_counter() - start

# %%
# Rank 0 saves and reports
# ------------------------
# Every process holds the same fitted model; one of them writes it. Loaded
# in a plain process, it embeds exactly as the model that was trained; the
# figure shows its training curve and its embedding of the unseen digits.

if is_main_process():
    path = Path(tempfile.mkdtemp()) / "model.pkl"
    with open(path, "wb") as f:
        pickle.dump(model, f)
    with open(path, "rb") as f:
        loaded = pickle.load(f)
    same = np.array_equal(loaded.transform(X), model.transform(X))
    new = ~seen
    knn = KNeighborsClassifier(3).fit(loaded.transform(X[new][::2]), y[new][::2])
    accuracy = knn.score(loaded.transform(X[new][1::2]), y[new][1::2])
    print(
        f"{world_size} process(es), global batch {world_size * model.batch_size}: "
        f"fit in {seconds:.1f} s over {model.n_iter_} epochs "
        f"(best epoch {model.best_epoch_})"
    )
    print(f"loaded model embeds as the trained one: {same}")
    print(f"3-NN accuracy on the unseen digits 7-9: {accuracy:.3f}")

    import matplotlib.pyplot as plt

    from sksiamese.plotting import EmbeddingDisplay, TrainingCurveDisplay

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    TrainingCurveDisplay.from_estimator(
        loaded, ax=left, name=f"{world_size} process(es)"
    )
    EmbeddingDisplay.from_estimator(loaded, X[new], y[new], ax=right)
    right.set_title("unseen digits 7-9")
    fig.tight_layout()
    plt.show()
