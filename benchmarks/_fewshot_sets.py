"""Text classification sets for bench_fewshot that nobody tuned on, built with a
fixed recipe from data in the shared folder (no download).

Each reader returns ``(pool, test)``: two DataFrames with columns ``text`` and
``label`` (int, 0..k-1), the training pool that few-shot samples are drawn from
and the test split, with no text in both.

* ``stsb_source``: the STS Benchmark's sentences (both sentences of every
  pair, deduplicated) labelled by where they come from: 0 image and video
  captions (MSRvid, images, track5), 1 news headlines, 2 MSR paraphrase-corpus
  news (MSRpar), 3 forum posts and answers (deft-forum, answers-forums,
  answer-answer). Pool: sts-train + sts-dev; test: sts-test (its official
  split), less any sentence the pool holds. deft-news (in sts-train only, no
  test rows) is left out.
* ``itunes_genre``: iTunes-Amazon's tableA songs, "song name - album name" ->
  the first genre listed, deduplicated by text, the 8 genres with at least 100
  distinct songs. Split by album (no album in both): a fixed 30 % of each
  genre's albums (seed 0) is the test split, so an album name cannot be
  learnt from its other songs.

Beer names -> a style family is not made: the Beer table holds 2 styles
(4,004 American Amber / Red Ale, 339 American Barleywine), too few and too
unbalanced for the protocol.
"""

import numpy as np
import pandas as pd

UNSEEN_SETS = ("stsb_source", "itunes_genre")

_STSB_SOURCE = {
    "MSRvid": 0,
    "images": 0,
    "track5.en-en": 0,
    "headlines": 1,
    "MSRpar": 2,
    "deft-forum": 3,
    "answers-forums": 3,
    "answer-answer": 3,
}


def _stsb_sentences(folder, split):
    with open(folder / "stsb" / f"sts-{split}.csv", encoding="utf-8") as f:
        # tab-separated, no header, no quoting; some lines carry extra columns
        rows = [line.rstrip("\n").split("\t")[:7] for line in f]
    frame = pd.DataFrame(
        [(text, row[1]) for row in rows for text in (row[5], row[6])],
        columns=["text", "source"],
    )
    frame = frame[frame.source.isin(list(_STSB_SOURCE))]
    frame["label"] = frame.source.map(_STSB_SOURCE)
    # a sentence that two sources share has no single label
    labels = frame.groupby("text").label.nunique()
    frame = frame[frame.text.map(labels) == 1]
    return frame.drop_duplicates("text")[["text", "label"]]


def read_stsb_source(folder):
    pool = pd.concat([_stsb_sentences(folder, s) for s in ("train", "dev")])
    pool = pool.drop_duplicates("text")
    pool = pool[pool.text.map(pool.groupby("text").label.nunique()) == 1]
    test = _stsb_sentences(folder, "test")
    test = test[~test.text.isin(set(pool.text))]
    return pool.reset_index(drop=True), test.reset_index(drop=True)


def read_itunes_genre(folder, min_rows=100, test_share=0.3):
    table = pd.read_csv(
        folder / "entity_matching" / "deepmatcher" / "iTunes-Amazon" / "tableA.csv",
        dtype=str,
        keep_default_na=False,
    )
    table["genre"] = table.Genre.str.split(",").str[0].str.strip()
    table["text"] = table.Song_Name.str.strip() + " - " + table.Album_Name.str.strip()
    table = table.drop_duplicates("text")
    counts = table.genre.value_counts()
    genres = sorted(counts.index[counts >= min_rows])
    table = table[table.genre.isin(genres)].copy()
    table["label"] = table.genre.map({g: i for i, g in enumerate(genres)})
    rng = np.random.RandomState(0)
    test_albums = set()
    for genre in genres:
        albums = np.array(sorted(set(table.Album_Name[table.genre == genre])))
        rng.shuffle(albums)
        test_albums.update(albums[: int(round(test_share * len(albums)))])
    in_test = table.Album_Name.isin(test_albums)
    pool, test = table[~in_test], table[in_test]
    return (
        pool[["text", "label"]].reset_index(drop=True),
        test[["text", "label"]].reset_index(drop=True),
    )


READERS = {"stsb_source": read_stsb_source, "itunes_genre": read_itunes_genre}
