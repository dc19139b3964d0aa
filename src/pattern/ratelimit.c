/*
 * ratelimit.c — goc_limiter, the token bucket of golang.org/x/time/rate,
 * with its arithmetic (float64 tokens, the same roundings) so that Go's
 * own test cases hold exactly.
 *
 * The state (limit, burst, tokens at instant `last`, last_event) is
 * changed under a spin lock, held for a few dozen instructions and never
 * across a block. It is also published through a sequence count so that
 * allow_n can refuse without the lock: a refusal changes nothing in Go's
 * algorithm, so a caller that computes "refused" from a consistent
 * snapshot may return at once. Under overload, when a limiter matters,
 * most calls are refusals, and those then only read the limiter's cache
 * line instead of bouncing it between processors.
 *
 * Invariants:
 *  - seq is odd exactly while a writer (holding lock) changes the state;
 *    every field below it is written only then, with release stores, and
 *    read by lock-free readers with acquire loads between two reads of
 *    seq that must agree and be even.
 *  - last == NEVER until the first update: the bucket is full then, as
 *    Go's zero time.Time makes it.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../sched/runtime.h"

#define NEVER INT64_MIN

struct goc_limiter {
	goc__spinlock lock;
	uint32_t seq;       /* atomic, see the invariants */
	uint64_t limit;     /* a double's bits: events per second; +inf: no limit */
	int burst;          /* bucket size */
	uint64_t tokens;    /* a double's bits: tokens at instant last */
	int64_t last;       /* when tokens was last brought up to date */
	int64_t last_event; /* the latest time_to_act handed out, past or future */
};

/* The snapshot one computation works on. */
struct state {
	double limit;
	int burst;
	double tokens;
	int64_t last, last_event;
};

/* Field accesses: a store is a release so that the odd seq stored before
 * it is seen first; a load is an acquire so that a later load of seq is
 * not done before it. */
#define LOAD(field) goc__load_acquire(&(field))
#define STORE(field, v) goc__store_release(&(field), (v))

static double load_double(uint64_t *p)
{
	uint64_t bits = goc__load_acquire(p);
	double v;
	memcpy(&v, &bits, sizeof v);
	return v;
}

static void store_double(uint64_t *p, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof bits);
	goc__store_release(p, bits);
}

/* Reads the state; lim->lock held, or seq checked around the call (the
 * acquire loads keep the second read of seq after them: free on x86, and
 * TSan understands them where it does not understand fences). */
static struct state state_read(goc_limiter *lim)
{
	return (struct state){load_double(&lim->limit), LOAD(lim->burst), load_double(&lim->tokens),
			      LOAD(lim->last), LOAD(lim->last_event)};
}

/* Takes the lock and opens a write section. */
static struct state write_begin(goc_limiter *lim)
{
	goc__spinlock_acquire(&lim->lock);
	STORE(lim->seq, lim->seq + 1);
	return state_read(lim);
}

/* Stores s, closes the write section and drops the lock. */
static void write_end(goc_limiter *lim, const struct state *s)
{
	store_double(&lim->limit, s->limit);
	STORE(lim->burst, s->burst);
	store_double(&lim->tokens, s->tokens);
	STORE(lim->last, s->last);
	STORE(lim->last_event, s->last_event);
	goc__store_release(&lim->seq, lim->seq + 1);
	goc__spinlock_release(&lim->lock);
}

/* The state, read under the lock. */
static struct state state_locked_read(goc_limiter *lim)
{
	goc__spinlock_acquire(&lim->lock);
	struct state s = state_read(lim);
	goc__spinlock_release(&lim->lock);
	return s;
}

/* ---- Go's arithmetic ---- */

static int64_t duration_from_tokens(double limit, double tokens)
{
	if (limit <= 0)
		return GOC_INF_DURATION;
	double d = tokens / limit * 1e9;
	if (d >= 9.2233720368547748e18)
		return GOC_INF_DURATION;
	return (int64_t)d;
}

static double tokens_from_duration(double limit, int64_t d)
{
	/* d == 0 as well: 0 * inf would be NaN. */
	if (limit <= 0 || d == 0)
		return 0;
	return (double)d / 1e9 * limit;
}

/* a - b, saturating as Go's Time.Sub. */
static int64_t sub_sat(int64_t a, int64_t b)
{
	int64_t d;
	if (__builtin_sub_overflow(a, b, &d))
		return a > b ? INT64_MAX : INT64_MIN;
	return d;
}

static int64_t add_sat(int64_t t, int64_t d)
{
	int64_t r;
	if (__builtin_add_overflow(t, d, &r))
		return d > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* The tokens the bucket holds at t (Go's advance). */
static double advance(const struct state *s, int64_t t)
{
	int64_t last = s->last;
	if (last != NEVER && t < last)
		last = t;
	int64_t elapsed = last == NEVER ? INT64_MAX : sub_sat(t, last);
	double tokens = s->tokens + tokens_from_duration(s->limit, elapsed);
	if (tokens > (double)s->burst)
		tokens = (double)s->burst;
	return tokens;
}

/* Go's reserveN: decides on n tokens at t with at most max_wait of wait,
 * updating *s when granted. */
static goc_reservation reserve(goc_limiter *lim, struct state *s, int64_t t, int n,
			       int64_t max_wait)
{
	goc_reservation r = {.lim = lim, .limit = s->limit};
	if (isinf(s->limit)) {
		r.ok = true;
		r.tokens = n;
		r.time_to_act = t;
		return r;
	}
	if (s->limit == 0) {
		if (s->burst >= n) {
			r.ok = true;
			s->burst -= n;
		}
		r.tokens = s->burst;
		r.time_to_act = t;
		return r;
	}
	double tokens = advance(s, t) - n;
	int64_t wait = tokens < 0 ? duration_from_tokens(s->limit, -tokens) : 0;
	r.ok = n <= s->burst && wait <= max_wait;
	if (r.ok) {
		r.tokens = n;
		r.time_to_act = add_sat(t, wait);
		s->last = t;
		s->tokens = tokens;
		s->last_event = r.time_to_act;
	}
	return r;
}

/* ---- the API ---- */

double goc_rate_every(int64_t interval)
{
	if (interval <= 0)
		return GOC_RATE_INF;
	return 1e9 / (double)interval;
}

goc_limiter *goc_limiter_new(double limit, int burst)
{
	if (limit < 0 || isnan(limit) || burst < 0)
		goc__panic("goc_limiter_new: negative or NaN limit (%g) or burst (%d)", limit,
			   burst);
	goc_limiter *lim = calloc(1, sizeof *lim);
	if (!lim)
		return NULL;
	store_double(&lim->limit, limit);
	lim->burst = burst;
	lim->last = NEVER;
	lim->last_event = NEVER;
	return lim;
}

void goc_limiter_free(goc_limiter *lim)
{
	free(lim);
}

static goc_limiter *checked(goc_limiter *lim, const char *what)
{
	if (!lim)
		goc__panic("%s: nil limiter", what);
	return lim;
}

double goc_limiter_limit(goc_limiter *lim)
{
	struct state s = state_locked_read(checked(lim, "goc_limiter_limit"));
	return s.limit;
}

int goc_limiter_burst(goc_limiter *lim)
{
	struct state s = state_locked_read(checked(lim, "goc_limiter_burst"));
	return s.burst;
}

double goc_limiter_tokens_at(goc_limiter *lim, int64_t t)
{
	struct state s = state_locked_read(checked(lim, "goc_limiter_tokens_at"));
	return advance(&s, t);
}

/*
 * Whether reserve(t, n, 0) would refuse, judged from a snapshot taken
 * without the lock; false also when no consistent snapshot was had (the
 * caller then asks under the lock). A refusal found here is one the lock
 * would have found at an instant during the call: the snapshot was the
 * state between two writers.
 */
static bool refused_lock_free(goc_limiter *lim, int64_t t, int n)
{
	uint32_t seq = goc__load_acquire(&lim->seq);
	if (seq & 1)
		return false;
	struct state s = state_read(lim);
	if (goc__load_relaxed(&lim->seq) != seq)
		return false;
	goc_reservation r = reserve(lim, &s, t, n, 0);
	return !r.ok;
}

bool goc_limiter_allow_n(goc_limiter *lim, int64_t t, int n)
{
	checked(lim, "goc_limiter_allow_n");
	if (refused_lock_free(lim, t, n))
		return false;
	struct state s = write_begin(lim);
	goc_reservation r = reserve(lim, &s, t, n, 0);
	write_end(lim, &s);
	return r.ok;
}

bool goc_limiter_allow(goc_limiter *lim)
{
	return goc_limiter_allow_n(lim, goc_now(), 1);
}

static goc_reservation reserve_locked_call(goc_limiter *lim, int64_t t, int n, int64_t max_wait)
{
	struct state s = write_begin(lim);
	goc_reservation r = reserve(lim, &s, t, n, max_wait);
	write_end(lim, &s);
	return r;
}

goc_reservation goc_limiter_reserve_n(goc_limiter *lim, int64_t t, int n)
{
	checked(lim, "goc_limiter_reserve_n");
	return reserve_locked_call(lim, t, n, GOC_INF_DURATION);
}

int64_t goc_reservation_delay_from(const goc_reservation *r, int64_t t)
{
	if (!r->ok)
		return GOC_INF_DURATION;
	int64_t delay = sub_sat(r->time_to_act, t);
	return delay < 0 ? 0 : delay;
}

void goc_reservation_cancel_at(goc_reservation *r, int64_t t)
{
	if (!r->ok || r->tokens == 0)
		return;
	goc_limiter *lim = checked(r->lim, "goc_reservation_cancel_at");
	struct state s = write_begin(lim);
	if (isinf(s.limit) || r->time_to_act < t) {
		write_end(lim, &s);
		return;
	}
	/* Tokens reserved after r (up to last_event) are not given back:
	 * later reservations already count on r having used them. */
	double restore =
		r->tokens - tokens_from_duration(r->limit, sub_sat(s.last_event, r->time_to_act));
	if (restore > 0) {
		double tokens = advance(&s, t) + restore;
		if (tokens > (double)s.burst)
			tokens = (double)s.burst;
		s.last = t;
		s.tokens = tokens;
		if (r->time_to_act == s.last_event) {
			int64_t prev = add_sat(r->time_to_act,
					       duration_from_tokens(r->limit, (double)-r->tokens));
			if (prev >= t)
				s.last_event = prev;
		}
	}
	write_end(lim, &s);
	r->tokens = 0;
}

goc_status goc_limiter_wait_n(goc_limiter *lim, goc_ctx *ctx, int n)
{
	checked(lim, "goc_limiter_wait_n");
	struct state s = state_locked_read(lim);
	if (n > s.burst && !isinf(s.limit))
		return -EINVAL;
	if (ctx) {
		goc_status err = goc_ctx_err(ctx);
		if (err != GOC_OK)
			return err;
	}
	int64_t t = goc_now();
	int64_t max_wait = GOC_INF_DURATION, deadline;
	if (ctx && goc_ctx_deadline(ctx, &deadline))
		max_wait = sub_sat(deadline, t);
	goc_reservation r = reserve_locked_call(lim, t, n, max_wait);
	if (!r.ok)
		return GOC_TIMEOUT;
	int64_t delay = goc_reservation_delay_from(&r, t);
	if (delay == 0)
		return GOC_OK;
	goc_timer *timer = goc_timer_new(delay);
	if (!timer) {
		goc_reservation_cancel_at(&r, goc_now());
		return -ENOMEM;
	}
	goc_select_case cases[2] = {
		{.chan = goc_timer_chan(timer), .dir = GOC_SELECT_RECV},
		{.chan = ctx ? goc_ctx_done(ctx) : NULL, .dir = GOC_SELECT_RECV},
	};
	int which = goc_select(cases, 2, GOC_NO_TIMEOUT);
	goc_timer_free(timer);
	if (which == 0)
		return GOC_OK;
	goc_reservation_cancel_at(&r, goc_now());
	return goc_ctx_err(ctx);
}

goc_status goc_limiter_wait(goc_limiter *lim, goc_ctx *ctx)
{
	return goc_limiter_wait_n(lim, ctx, 1);
}

void goc_limiter_set_limit_at(goc_limiter *lim, int64_t t, double limit)
{
	if (limit < 0 || isnan(limit))
		goc__panic("goc_limiter_set_limit_at: negative or NaN limit (%g)", limit);
	struct state s = write_begin(checked(lim, "goc_limiter_set_limit_at"));
	s.tokens = advance(&s, t);
	s.last = t;
	s.limit = limit;
	write_end(lim, &s);
}

void goc_limiter_set_burst_at(goc_limiter *lim, int64_t t, int burst)
{
	if (burst < 0)
		goc__panic("goc_limiter_set_burst_at: negative burst (%d)", burst);
	struct state s = write_begin(checked(lim, "goc_limiter_set_burst_at"));
	s.tokens = advance(&s, t);
	s.last = t;
	s.burst = burst;
	write_end(lim, &s);
}

void goc_limiter_set_limit(goc_limiter *lim, double limit)
{
	goc_limiter_set_limit_at(lim, goc_now(), limit);
}

void goc_limiter_set_burst(goc_limiter *lim, int burst)
{
	goc_limiter_set_burst_at(lim, goc_now(), burst);
}
