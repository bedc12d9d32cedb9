// zlib's inflate, for gzip-compressed data files. Exactly one Swift file (Data/Gzip.swift) imports it.
#ifndef RNNKIT_CINFLATE_H
#define RNNKIT_CINFLATE_H
#include <zlib.h>
#endif
