#!/usr/bin/env python3
"""MovieLens ratings as a Criteo-format click data set for the studies in bench/.

usage: movielens_to_criteo.py RATINGS.csv TRAIN.tsv EVAL.tsv

A rating >= 4 is a click; the user and movie ids are the first two categorical columns (hex
tokens), every other column empty. The rows are shuffled with a fixed seed and every tenth row
goes to EVAL.tsv.
"""
import random
import sys

rows = open(sys.argv[1]).read().splitlines()[1:]
random.Random(7).shuffle(rows)
with open(sys.argv[2], "w") as tr, open(sys.argv[3], "w") as ev:
    for i, r in enumerate(rows):
        user, movie, rating, _ = r.split(",")
        cols = ["1" if float(rating) >= 4 else "0"] + [""] * 13 + ["%x" % int(user), "%x" % int(movie)] + [""] * 24
        (ev if i % 10 == 0 else tr).write("\t".join(cols) + "\n")
