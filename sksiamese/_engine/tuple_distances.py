"""Distances within tuples of embedded items: from each tuple's first item to
its others."""

import torch

# How many more distances a distance matrix may hold than the tuples need,
# and still be faster to compute (a matrix product against row gathers)
_MATRIX_RATIO = 16


def first_to_others(distance, embeddings, tuples):
    """Distances from the first item of each tuple to each of its others.

    ``embeddings`` holds one row per item and ``tuples`` (n, k) the rows of
    each tuple's items; returns a tensor of shape (n, k - 1).
    """
    with torch.no_grad():
        n_rows, n_others = len(embeddings), tuples.shape[1] - 1
        if n_rows * n_rows <= _MATRIX_RATIO * len(tuples) * n_others:
            # few items in many tuples (all pairs of the held-out rows): one
            # distance matrix, a matrix product, costs less than gathering
            # and comparing the rows of every tuple
            matrix = distance.pairwise(embeddings, embeddings)
            index = torch.as_tensor(tuples)
            return matrix[index[:, :1], index[:, 1:]]
        first = embeddings[tuples[:, 0]]
        return torch.stack(
            [
                distance.paired(first, embeddings[tuples[:, j]])
                for j in range(1, tuples.shape[1])
            ],
            dim=1,
        )
