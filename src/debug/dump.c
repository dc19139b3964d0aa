/*
 * dump.c — printing goroutines: one (crash reports, panics) or all (the
 * deadlock report), in Go's format:
 *
 *   goroutine 17 [chan receive, 3 minutes]:
 *   	name "worker"
 *   created by main_worker+0x2c in goroutine 1
 *
 * All goroutines are found by walking the descriptor regions (gpool.c). Output goes through goc_buf,
 * so this works with a broken heap; symbol names come from dladdr, which
 * knows the program's dynamic symbols (link with -rdynamic to see static
 * binaries' functions).
 */
#define _GNU_SOURCE
#include <dlfcn.h>

#include "../sched/runtime.h"

static const char *state_word(const goc_g *g, uint32_t st)
{
	switch (st) {
	case G_RUNNABLE:
		return "runnable";
	case G_RUNNING:
		return "running";
	case G_WAITING:
		return goc_wait_reason_string((goc_wait_reason)g->wait_reason);
	case G_DEAD:
		return "dead";
	default:
		return "idle";
	}
}

static void buf_symbol(goc_buf *b, void *pc)
{
	Dl_info info;
	if (pc && dladdr(pc, &info) && info.dli_sname) {
		goc_buf_str(b, info.dli_sname);
		goc_buf_str(b, "+");
		goc_buf_hex(b, (uint64_t)((char *)pc - (char *)info.dli_saddr));
	} else {
		goc_buf_hex(b, (uint64_t)(uintptr_t)pc);
		if (pc && dladdr(pc, &info) && info.dli_fname) {
			goc_buf_str(b, " in ");
			goc_buf_str(b, info.dli_fname);
		}
	}
}

static void print_creation(int fd, const goc_g *g)
{
	goc_buf b = {.fd = fd};
	if (g->flags & G_FLAG_MAIN) {
		goc_buf_str(&b, "main goroutine, started by goc_main from ");
		buf_symbol(&b, g->create_pc);
	} else {
		goc_buf_str(&b, "created by ");
		buf_symbol(&b, g->create_pc);
		if (g->parent_id) {
			goc_buf_str(&b, " in goroutine ");
			goc_buf_int(&b, g->parent_id);
		} else {
			goc_buf_str(&b, " on a thread that is not a goroutine");
		}
	}
	goc_buf_str(&b, "\n");
	goc_buf_flush(&b);
}

void goc_dump_g(int fd, goc_g *g, int64_t now)
{
	goc_buf b = {.fd = fd};
	uint32_t st = __atomic_load_n(&g->state, __ATOMIC_ACQUIRE);
	goc_buf_str(&b, "goroutine ");
	goc_buf_int(&b, g->id);
	goc_buf_str(&b, " [");
	goc_buf_str(&b, state_word(g, st));
	if (st == G_WAITING && g->wait_since) {
		int64_t secs = (now - g->wait_since) / GOC_SECOND;
		if (secs < 0)
			secs = 0;
		goc_buf_str(&b, ", ");
		if (secs >= 60) {
			goc_buf_int(&b, secs / 60);
			goc_buf_str(&b, secs / 60 == 1 ? " minute" : " minutes");
		} else {
			goc_buf_int(&b, secs);
			goc_buf_str(&b, secs == 1 ? " second" : " seconds");
		}
	}
	goc_buf_str(&b, "]:\n");
	if (g->name[0]) {
		goc_buf_str(&b, "\tname \"");
		goc_buf_str(&b, g->name);
		goc_buf_str(&b, "\"\n");
	}
	goc_buf_flush(&b);
	print_creation(fd, g);
	goc_buf_str(&b, "\n");
	goc_buf_flush(&b);
}

struct dump_ctx {
	int fd;
	int64_t now;
};

static void dump_one(goc_g *g, void *arg)
{
	struct dump_ctx *c = arg;
	goc_dump_g(c->fd, g, c->now);
}

void goc_dump_all(int fd)
{
	struct dump_ctx c = {.fd = fd, .now = prim_nanotime()};
	goc_g_for_each(dump_one, &c);
}
