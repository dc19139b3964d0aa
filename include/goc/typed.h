/*
 * goc/typed.h — typed channels: the element type checked by the compiler.
 * Included by goc.h; include <goc.h>, not this file.
 *
 * goc_chan carries elements as bytes: goc_chan_send(c, &v) with an int on
 * a channel of int64_t compiles and sends four stray bytes. A typed channel
 * is a goc_chan with its element type attached, and the macros below check
 * every send and receive against it at compile time, at no cost at run
 * time (each is the goc_chan call itself):
 *
 *     typedef GOC_CHAN(int64_t) int64_chan;      // Go's chan int64
 *
 *     int64_chan results = goc_tchan_make(int64_chan, 16);
 *     goc_tchan_send(results, 42);               // a value, converted to int64_t
 *     int64_t v;
 *     goc_tchan_recv(results, &v);               // &v must be int64_t *
 *     int w;
 *     goc_tchan_recv(results, &w);               // error: element type mismatch
 *
 * A send takes a value of (or convertible to) the element type, as an
 * assignment would, and so never sends the wrong number of bytes; a
 * receive takes a pointer to exactly the element type. goc_tchan_raw gives
 * the goc_chan for goc_select, goc_signal_notify and the other calls that
 * take one. Each GOC_CHAN(T) spelling is a type of its own: declare it once
 * with typedef and use the name.
 *
 * Needs typeof (GCC, Clang, or C23).
 */
#ifndef GOC_TYPED_H
#define GOC_TYPED_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/typed.h>"
#endif

/* A channel of T. `elem` is never read or written: it carries the type. */
#define GOC_CHAN(T)            \
	struct {               \
		goc_chan *raw; \
		T *elem;       \
	}

/* goc_chan_make for the typed channel type TC (a typedef of GOC_CHAN(T)).
 * raw is NULL when goc_chan_make fails. */
#define goc_tchan_make(TC, cap) ((TC){.raw = goc_chan_make(sizeof *((TC *)0)->elem, (cap))})

/* The goc_chan underneath (for goc_select cases and the like). */
#define goc_tchan_raw(tc) ((tc).raw)

/* A pointer to a copy of v converted to tc's element type. */
#define goc__tchan_value(tc, v) ((__typeof__(*(tc).elem)[1]){(v)})

/* p itself, after a compile-time check that it points to tc's element type. */
#define goc__tchan_ptr(tc, p)                                                                \
	((void)sizeof(struct {                                                               \
		 _Static_assert(_Generic((p), __typeof__((tc).elem) : 1, default : 0),       \
				"goc: element type mismatch: receive into a pointer to the " \
				"channel's element type");                                   \
		 int unused;                                                                 \
	 }),                                                                                 \
	 (p))

#define goc_tchan_send(tc, v) goc_chan_send((tc).raw, goc__tchan_value(tc, v))
#define goc_tchan_try_send(tc, v) goc_chan_try_send((tc).raw, goc__tchan_value(tc, v))
#define goc_tchan_send_ctx(tc, v, ctx) goc_chan_send_ctx((tc).raw, goc__tchan_value(tc, v), (ctx))
#define goc_tchan_recv(tc, p) goc_chan_recv((tc).raw, goc__tchan_ptr(tc, p))
#define goc_tchan_try_recv(tc, p) goc_chan_try_recv((tc).raw, goc__tchan_ptr(tc, p))
#define goc_tchan_recv_ctx(tc, p, ctx) goc_chan_recv_ctx((tc).raw, goc__tchan_ptr(tc, p), (ctx))
#define goc_tchan_close(tc) goc_chan_close((tc).raw)
#define goc_tchan_release(tc) goc_chan_release((tc).raw)
#define goc_tchan_len(tc) goc_chan_len((tc).raw)
#define goc_tchan_cap(tc) goc_chan_cap((tc).raw)

#endif /* GOC_TYPED_H */
