// zlib's inflate, for gzip-compressed data files. Exactly one Swift file (Data/Gzip.swift) imports it.
#ifndef RNNKIT_CZLIB_H
#define RNNKIT_CZLIB_H
#include <zlib.h>
#endif
