/*
 * chan_typed_mismatch.c — must NOT compile: a receive from a channel of
 * int64_t into an int (four stray bytes with goc_chan_recv). Compiled by
 * the test test_chan_typed_mismatch, which expects the compiler to name
 * the mismatch.
 */
#include <goc.h>

typedef GOC_CHAN(int64_t) int64_chan;

int receive_into_int(int64_chan c);
int receive_into_int(int64_chan c)
{
	int v = 0;
	goc_tchan_recv(c, &v);
	return v;
}
