/*
 * sizeclass.c — the size classes: every small request (up to 32 KiB) is
 * rounded up to one of 72 sizes, and each class has a span length in pages.
 *
 * The classes follow Go's rule (at most about 12.5% of an object lost to
 * rounding above 256 bytes: eight classes per doubling) with one change for
 * C: every class is a multiple of 16, alignof(max_align_t), because malloc
 * must return memory fit for any type, where Go's 8-, 24- and 40-byte
 * classes serve objects the compiler knows. Below 256 bytes the classes are
 * 16 bytes apart.
 *
 * A class's span length is the fewest 8 KiB pages, at least 8 (64 KiB) and
 * enough for 8 objects, whose tail (what is left after the last whole
 * object) is at most an eighth of the span. Go's spans are as short as one
 * page, because its mcache refills from a swept span in a few
 * instructions; here a cache trades its span through the central list when
 * it runs dry, and with one-page spans of 1 KiB objects that happened every
 * eight allocations (a refill per 8 mallocs in Larson's pattern). Pages are
 * carved a page at a time (mcache.c), so a long span costs address space,
 * not memory.
 *
 * The lookup tables give the class of a size in one load: by 16-byte steps
 * up to 1 KiB, by 128-byte steps above (every class above 1 KiB is a
 * multiple of 128).
 */
#include "alloc.h"

const uint32_t goc__class_size[GOC_ALLOC_NCLASSES] = {
	0,     16,    32,    48,    64,    80,    96,    112,   128,   144,   160,   176,   192,
	208,   224,   240,   256,   288,   320,   352,   384,   416,   448,   480,   512,   576,
	640,   704,   768,   832,   896,   960,   1024,  1152,  1280,  1408,  1536,  1664,  1792,
	1920,  2048,  2304,  2560,  2816,  3072,  3328,  3584,  3840,  4096,  4608,  5120,  5632,
	6144,  6656,  7168,  7680,  8192,  9216,  10240, 11264, 12288, 13312, 14336, 15360, 16384,
	18432, 20480, 22528, 24576, 26624, 28672, 30720, 32768,
};

const uint8_t goc__class_pages[GOC_ALLOC_NCLASSES] = {
	0, 8, 8, 8, 8, 8, 8, 8, 8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8, 8,
	8, 8, 8, 8, 8, 8, 8, 8, 8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8, 8,
	8, 8, 8, 8, 8, 8, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 26, 28, 30, 32,
};

const uint8_t goc__class_small_index[65] = {
	1,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 17, 18, 18, 19,
	19, 20, 20, 21, 21, 22, 22, 23, 23, 24, 24, 25, 25, 25, 25, 26, 26, 26, 26, 27, 27, 27,
	27, 28, 28, 28, 28, 29, 29, 29, 29, 30, 30, 30, 30, 31, 31, 31, 31, 32, 32, 32, 32,
};

const uint8_t goc__class_large_index[257] = {
	1,  8,  16, 20, 24, 26, 28, 30, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 41, 42, 42, 43,
	43, 44, 44, 45, 45, 46, 46, 47, 47, 48, 48, 49, 49, 49, 49, 50, 50, 50, 50, 51, 51, 51,
	51, 52, 52, 52, 52, 53, 53, 53, 53, 54, 54, 54, 54, 55, 55, 55, 55, 56, 56, 56, 56, 57,
	57, 57, 57, 57, 57, 57, 57, 58, 58, 58, 58, 58, 58, 58, 58, 59, 59, 59, 59, 59, 59, 59,
	59, 60, 60, 60, 60, 60, 60, 60, 60, 61, 61, 61, 61, 61, 61, 61, 61, 62, 62, 62, 62, 62,
	62, 62, 62, 63, 63, 63, 63, 63, 63, 63, 63, 64, 64, 64, 64, 64, 64, 64, 64, 65, 65, 65,
	65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 66, 66, 66, 66, 66, 66, 66, 66, 66,
	66, 66, 66, 66, 66, 66, 66, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67, 67,
	67, 68, 68, 68, 68, 68, 68, 68, 68, 68, 68, 68, 68, 68, 68, 68, 68, 69, 69, 69, 69, 69,
	69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 70, 70, 70, 70, 70, 70, 70, 70, 70, 70, 70,
	70, 70, 70, 70, 70, 71, 71, 71, 71, 71, 71, 71, 71, 71, 71, 71, 71, 71, 71, 71, 71, 72,
	72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72, 72,
};
