#!/usr/bin/env python3
"""Writes the seed corpus of RNNKit's fuzz targets (Fuzz/Corpus/TARGET/): small valid files of each
format, from which libFuzzer mutates. Run from anywhere: python3 Fuzz/make_corpus.py"""
import gzip, json, os, struct

here = os.path.dirname(os.path.abspath(__file__))

def put(target, name, data):
    os.makedirs(os.path.join(here, "Corpus", target), exist_ok=True)
    with open(os.path.join(here, "Corpus", target, name), "wb") as f:
        f.write(data)

def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)

images = idx([3, 4, 2], [(i * 37) % 256 for i in range(24)])
labels = idx([3], [0, 7, 9])
put("FuzzIDX", "images-idx3-ubyte", images)
put("FuzzIDX", "labels-idx1-ubyte", labels)
put("FuzzIDX", "images-idx3-ubyte.gz", gzip.compress(images, mtime=0))
put("FuzzIDX", "two-members.gz", gzip.compress(labels[:5], mtime=0) + gzip.compress(labels[5:], mtime=0))
put("FuzzIDX", "rank4", idx([1, 2, 1, 2], [1, 2, 3, 4]))

def safetensors(tensors, metadata=None):
    header, blob = {}, b""
    for name, (dtype, shape, values) in tensors.items():
        fmt = {"F32": "<f", "F64": "<d"}[dtype]
        data = b"".join(struct.pack(fmt, v) for v in values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blob

put("FuzzSafeTensors", "f32.safetensors",
    safetensors({"w": ("F32", [2, 3], [0.5, -1, 2, 3.25, 0, 1e-3]), "b": ("F32", [3], [1, 2, 3])}, {"format": "pt"}))
put("FuzzSafeTensors", "f64-scalar-empty.safetensors",
    safetensors({"s": ("F64", [], [1.5]), "e": ("F64", [0, 4], [])}))
for folder in ["classifier", "charlm"]:
    for file in ["model.safetensors", "training_state.safetensors"]:
        with open(os.path.join(here, "Folders", folder, file), "rb") as f:
            put("FuzzSafeTensors", f"{folder}-{file}", f.read())
    with open(os.path.join(here, "Folders", folder, "config.json"), "rb") as f:
        put("FuzzCheckpoint", f"{folder}-config.json", f.read())

put("FuzzText", "english.txt", b"The quick brown fox jumps over the lazy dog.\n")
put("FuzzText", "tang.txt", "床前明月光，疑是地上霜。\n".encode())
put("FuzzText", "ansi.txt", b"\x1b[31mred\x1b[0m and \x1b(B plain\n")
put("FuzzText", "emoji.txt", "👍🏽 🇫🇷 e\u0301 ñ\n".encode())
put("FuzzTS", "univariate.ts", b"@problemName T\n@univariate true\n@equalLength true\n@seriesLength 3\n@classLabel true a b\n@data\n1,2,3:a\n4,5,6:b\n")
put("FuzzTS", "multivariate.ts", b"# c\r\n@PROBLEMNAME T\r\n@Dimensions 2\r\n@ClassLabel true x y\r\n@data\r\n1,?,3:4,5,6:x\r\n7,8:9,10:y\r\n")
put("FuzzTS", "regression.ts", b"@problemName R\n@targetLabel true\n@data\n0.5,1.5:2.0\n1e3,-2:-1.25\n")
put("FuzzTS", "timestamps.ts", b"@timeStamps true\n@classLabel true a\n@data\n(0,1),(1,2):a\n")
put("FuzzTS", "unlabelled.ts", b"@problemName U\n@classLabel false\n@data\n1,2\n3\n")

fixtures = os.path.join(here, "..", "Tests", "RNNKitTests", "Fixtures", "numpy")
for name in ["f4.npy", "f8_big.npy", "f8_fortran.npy", "i2_big.npy", "unicode.npy", "v2.npy", "sequences.npz", "tagging.npz"]:
    with open(os.path.join(fixtures, name), "rb") as f:
        put("FuzzNumPy", name, f.read())
put("FuzzCSV", "long.csv", b"id,t,a,b,label\ns2,1,5,6,up\ns1,2,3,,down\ns1,1,1,2,down\ns2,0,7,8,up\n")
put("FuzzCSV", "quoted-crlf.csv", b'\xef\xbb\xbfid,"a,b",y\r\n"x",1.5,"p"\r\n"x","2e3",p\r\n')
put("FuzzCSV", "tags.csv", b"s,x,tag\nq0,0.5,pos\nq0,-1,neg\nq1,NA,pos\n")
put("FuzzCSV", "numbers.csv", b"id,v,target\n1,2,0.25\n2,3,-1e3\n")
put("FuzzForecast", "dates-missing.csv", b"day,v\n2024-01-02,2\n2024-01-01,1\n2024-01-03,\n" + b"".join(b"2024-01-%02d,%d\n" % (d, d) for d in range(4, 10)))
put("FuzzForecast", "groups.csv", b"t,v,g\n" + b"".join(b"%d,%s,%s\n" % (t, b"NA" if t == 3 else b"%d" % (t * 2 + k), g) for t in range(1, 8) for k, g in enumerate([b"a", b"b"])))
put("FuzzForecast", "hours.csv", b"time,temp\n" + b"".join(b"2010/01/01 %02d:00,%.1f\n" % (h, 39.4 - 0.2 * h) for h in range(8)))
put("FuzzForecast", "months-text.csv", b"month,price\nJan 1 2000,39.81\nFeb 1 2000,36.35\nMar 1 2000,43.22\nApr 1 2000,28.37\nMay 1 2000,25.45\nJun 1 2000,32.54\n")
put("FuzzPairs", "translation.tsv", "我英语不好\tmy English is poor\nGo.\tVe.\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\r\n\n我英语不好\tmy English is bad\n".encode())
put("FuzzPairs", "addition.tsv", b"535+61\t596\n7+8\t15\n")
put("FuzzPairs", "couplets.tsv", "床前明月光\t疑是地上霜\n兰叶春葳蕤\t桂华秋皎洁\n".encode())
put("FuzzPairs", "words.tsv", b"a  b c\t x y \n  \nd\te\n")
put("FuzzLexicon", "festival.out", b'MNCL\n("a" dt (((ax) 0)))\n("a" n (((ey) 1)))\n("aardvark" nil (((aa r d) 1) ((v aa r k) 1)))\n')
put("FuzzLexicon", "cmudict.txt", b";;; comment\nWORD  W ER1 D\nWORD(2)  W ER0 D\nO'BRIEN  OW0 B R AY1 AH0 N\n")
put("FuzzLexicon", "cmudict.dict", b"read r eh1 d # past\nread(2) r iy1 d\n")
put("FuzzLexicon", "festival-crlf.out", b'("abbreviate" v (((ax) 0) ((b r iy) 1) ((v iy) 0) ((ey t) 1)))\r\n; comment\r\n')
