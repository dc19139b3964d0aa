/*
 * goc/ratelimit.h — goc_limiter, Go's golang.org/x/time/rate token bucket.
 * Included by goc.h; include <goc.h>, not this file.
 *
 * A limiter lets events happen at rate `limit` per second on average, with
 * bursts of up to `burst` events: a bucket of `burst` tokens that refills at
 * `limit` tokens per second and starts full. Each event takes one token (n
 * for allow_n and friends). Three ways to ask, as in Go:
 *
 *     if (!goc_limiter_allow(lim)) reply_429();          // drop the event
 *     goc_limiter_wait_n(lim, ctx, 1);                   // wait for a token
 *     goc_reservation r = goc_limiter_reserve_n(lim, goc_now(), 1);
 *     goc_sleep(goc_reservation_delay_from(&r, goc_now()));  // plan ahead
 *
 * Times are goc_now() instants (nanoseconds); the _n forms take the
 * instant explicitly, as Go's AllowN(t, n) does, so tests can use their
 * own clock. A limit of GOC_RATE_INF allows every event (burst ignored);
 * a limit of 0 allows `burst` events in all and then none. Safe from any
 * number of goroutines and plain threads.
 */
#ifndef GOC_RATELIMIT_H
#define GOC_RATELIMIT_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/ratelimit.h>"
#endif

typedef struct goc_limiter goc_limiter;

/* The infinite rate (Go's rate.Inf), and the infinite duration (Go's
 * InfDuration) that delays report when an event can never happen. */
#define GOC_RATE_INF __builtin_inf()
#define GOC_INF_DURATION INT64_MAX

/* The rate of one event every interval nanoseconds (Go's rate.Every);
 * interval <= 0 gives GOC_RATE_INF. */
double goc_rate_every(int64_t interval);

/* A limiter with a full bucket; NULL if memory ran out (never parks). A
 * negative limit or burst panics. */
goc_limiter *goc_limiter_new(double limit, int burst);
void goc_limiter_free(goc_limiter *lim);

double goc_limiter_limit(goc_limiter *lim);
int goc_limiter_burst(goc_limiter *lim);
/* The tokens the bucket would hold at t (negative while reservations are
 * outstanding). */
double goc_limiter_tokens_at(goc_limiter *lim, int64_t t);

/* Whether n events may happen at t; if so their tokens are taken. */
bool goc_limiter_allow_n(goc_limiter *lim, int64_t t, int n);
/* goc_limiter_allow_n(lim, goc_now(), 1). */
bool goc_limiter_allow(goc_limiter *lim);

/* A promise of n tokens at time_to_act (Go's rate.Reservation). A value
 * the caller keeps; it refers to its limiter. */
typedef struct goc_reservation {
	goc_limiter *lim;
	bool ok;             /* false: n exceeds the burst; nothing was taken */
	int tokens;          /* tokens taken */
	int64_t time_to_act; /* when the events may happen */
	double limit;        /* the limit when it was made */
} goc_reservation;

/* Takes n tokens at t, borrowing from the future if the bucket lacks
 * them; the reservation says when the events may happen. Not ok (and
 * nothing taken) if n exceeds the burst, unless the limit is infinite. */
goc_reservation goc_limiter_reserve_n(goc_limiter *lim, int64_t t, int n);
/* How long after t the holder must wait: 0 if time_to_act has passed,
 * GOC_INF_DURATION if the reservation is not ok. */
int64_t goc_reservation_delay_from(const goc_reservation *r, int64_t t);
/* The holder will not act: gives back, at t, the tokens that no later
 * reservation has come to depend on. Does nothing once time_to_act has
 * passed, for a reservation that is not ok, or twice. */
void goc_reservation_cancel_at(goc_reservation *r, int64_t t);

/*
 * Waits until n events may happen and takes their tokens. GOC_OK;
 * -EINVAL at once if n exceeds the burst (with a finite limit);
 * GOC_TIMEOUT at once if the wait would end after ctx's deadline (Go's
 * "would exceed context deadline"); ctx's error if ctx is done on entry
 * or ends while waiting (the reservation is cancelled then, so the tokens
 * return to the others); -ENOMEM if no timer could be had. Sleeps on a goc
 * timer. ctx NULL: no deadline.
 */
goc_status goc_limiter_wait_n(goc_limiter *lim, goc_ctx *ctx, int n);
/* goc_limiter_wait_n(lim, ctx, 1). */
goc_status goc_limiter_wait(goc_limiter *lim, goc_ctx *ctx);

/* Change the limit or the burst from instant t on; tokens accumulated
 * until t count at the old settings. */
void goc_limiter_set_limit_at(goc_limiter *lim, int64_t t, double limit);
void goc_limiter_set_burst_at(goc_limiter *lim, int64_t t, int burst);
void goc_limiter_set_limit(goc_limiter *lim, double limit);
void goc_limiter_set_burst(goc_limiter *lim, int burst);

#endif /* GOC_RATELIMIT_H */
