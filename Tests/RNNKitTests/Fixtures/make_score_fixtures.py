#!/usr/bin/env python3
"""Reference scores for RNNKit's SequenceScores, from implementations RNNKit shares no code with:
Levenshtein distance from NLTK (nltk.edit_distance), corpus BLEU-4 from sacreBLEU (the field's
reference implementation: tokenize="none", smooth_method="none"), and the error rates worked from
those distances against the closest reference (fewest edits, then the shorter).

(NLTK's corpus_bleu differs from sacreBLEU and Papineni et al. where a hypothesis is shorter than n:
it counts max(1, 0) n-grams in the denominator. RNNKit follows sacreBLEU.)

    python3 -m venv /tmp/scores && /tmp/scores/bin/pip install nltk sacrebleu
    /tmp/scores/bin/python Tests/RNNKitTests/Fixtures/make_score_fixtures.py   # writes score_fixtures.json
"""
import json, os, random, warnings
from nltk import edit_distance
from sacrebleu.metrics import BLEU

warnings.filterwarnings("ignore")
rng = random.Random(13)
WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "off", "red", "big"]


def sentence(vocabulary, low, high):
    return [rng.choice(vocabulary) for _ in range(rng.randint(low, high))]


def perturb(tokens, vocabulary):
    out = list(tokens)
    for _ in range(rng.randint(0, 3)):
        op = rng.random()
        if op < 0.4 and out:
            out[rng.randrange(len(out))] = rng.choice(vocabulary)
        elif op < 0.7 and len(out) > 1:
            del out[rng.randrange(len(out))]
        else:
            out.insert(rng.randrange(len(out) + 1), rng.choice(vocabulary))
    return out


def bleu(outputs, references):
    """sacreBLEU on space-joined tokens; streams of references padded with None."""
    width = max(len(r) for r in references)
    streams = [[" ".join(r[k]) if k < len(r) else None for r in references] for k in range(width)]
    metric = BLEU(tokenize="none", smooth_method="none", force=True)
    return metric.corpus_score([" ".join(o) for o in outputs], streams).score / 100


def case(vocabulary, n, low, high):
    outputs, references = [], []
    for _ in range(n):
        refs = [sentence(vocabulary, low, high) for _ in range(rng.randint(1, 3))]
        outputs.append(refs[0] if rng.random() < 0.3 else perturb(rng.choice(refs), vocabulary))
        references.append(refs)
    wrong = sum(1 for o, refs in zip(outputs, references) if o not in refs)
    edits = length = 0
    for o, refs in zip(outputs, references):
        d, r = min(((edit_distance(o, r), len(r)) for r in refs))
        edits += d
        length += r
    return {
        "outputs": outputs, "references": references,
        "sequence_error_rate": wrong / n, "token_error_rate": edits / length,
        "bleu": bleu(outputs, references),
        "distances": [edit_distance(o, refs[0]) for o, refs in zip(outputs, references)],
    }


cases = [case(WORDS, 40, 4, 12), case(WORDS, 25, 6, 15), case(list("abcdefg"), 30, 1, 8), case(WORDS[:4], 10, 1, 3)]
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "score_fixtures.json"), "w") as f:
    json.dump(cases, f, indent=0)
print("BLEU", [round(c["bleu"], 6) for c in cases], "SER", [c["sequence_error_rate"] for c in cases])
