/*
 * symbolize.c — from a program counter to "function, file:line".
 *
 * With libdw (elfutils; GOC_HAVE_LIBDW) one Dwfl session describes the
 * process: the modules mapped in it (dwfl_linux_proc_report, from
 * /proc/self/maps), their symbol tables — static functions included, so
 * programs need no -rdynamic — and their DWARF line tables, loaded on the
 * first lookup in each module (the executable's own or a separate
 * debuginfo file found by build id). A lookup that finds no module reports
 * the maps again (a library dlopened since), at most once a second.
 * Without libdw (a cross build without the target's elfutils), dladdr gives
 * exported function names and the object file.
 *
 * Lookups run on a thread of their own (the symbolizer, started on first
 * use with an 8 MiB stack): libdw's first lookup in a
 * module parses DWARF with deep frames, more than a goroutine's 64 KiB
 * stack holds (and a goroutine reporting its own overflow has none left).
 * The caller posts a pc in `request`, wakes the thread and waits on a
 * futex for the answer, copied into fixed buffers.
 *
 * Invariants: the session is created on first use and lives as long as
 * the process, touched only by the symbolizer thread; sym_lock serialises
 * requests (one at a time) and is a leaf lock. None of this is signal-safe
 * except goc__raw_location, which reads a table of modules taken at
 * start-up (goc__symbolize_init).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "debug.h"

#ifdef GOC_HAVE_LIBDW
#include <elfutils/libdwfl.h>
#endif

/* ---- the module table for signal handlers ---- */

#define RAW_MODULES_MAX 64
#define RAW_NAMES_BYTES 8192

struct raw_module {
	uintptr_t lo, hi; /* the module's loaded segments */
	uintptr_t base;   /* load bias: file offsets are pc - base */
	const char *name;
};

static struct raw_module raw_modules[RAW_MODULES_MAX];
static int nraw_modules;
static char raw_names[RAW_NAMES_BYTES];
static size_t raw_names_used;

static const char *raw_name_copy(const char *s)
{
	size_t n = strlen(s) + 1;
	if (raw_names_used + n > sizeof raw_names)
		return "?";
	char *d = raw_names + raw_names_used;
	memcpy(d, s, n);
	raw_names_used += n;
	return d;
}

static int raw_module_add(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	if (nraw_modules == RAW_MODULES_MAX)
		return 1;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (hi == 0)
		return 0;
	const char *name = info->dlpi_name;
	static char exe[512];
	if (!name || !*name) {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		exe[n > 0 ? n : 0] = 0;
		name = exe;
	}
	raw_modules[nraw_modules++] = (struct raw_module){
		.lo = lo, .hi = hi, .base = info->dlpi_addr, .name = raw_name_copy(name)};
	return 0;
}

void goc__symbolize_init(void)
{
	dl_iterate_phdr(raw_module_add, NULL);
}

void goc__raw_location(goc__buf *b, uintptr_t pc)
{
	for (int i = 0; i < nraw_modules; i++) {
		const struct raw_module *m = &raw_modules[i];
		if (pc >= m->lo && pc < m->hi) {
			goc__buf_str(b, m->name);
			goc__buf_str(b, "+");
			goc__buf_hex(b, pc - m->base);
			goc__buf_str(b, " ");
			break;
		}
	}
	goc__buf_str(b, "pc=");
	goc__buf_hex(b, pc);
}

/* ---- lookups ---- */

static goc__lock sym_lock = GOC_LOCK_INIT;

/* What libdw says about one pc; strings valid until the next lookup. */
struct sym_info {
	const char *func;
	uintptr_t func_offset; /* pc - the function's entry */
	const char *file;
	int line;
	const char *module;
	uintptr_t module_offset;
};

/* One lookup, as the caller gets it: strings copied. */
struct sym_text {
	bool found;
	char func[256]; /* "" if unknown */
	uintptr_t func_offset;
	char file[512]; /* "" if unknown */
	int line;
	char module[512]; /* "" if unknown */
	uintptr_t module_offset;
};

enum { SYM_IDLE, SYM_ASKED, SYM_ANSWERED };

/* The request slot: written by the caller holding sym_lock while idle,
 * by the symbolizer while asked. */
static struct {
	uint32_t state; /* atomic: SYM_IDLE -> ASKED -> ANSWERED -> IDLE */
	uintptr_t pc;
	bool exact;
	struct sym_text answer;
} request;
static bool symbolizer_started;    /* sym_lock */
static int32_t symbolizer_threads; /* atomic: 0 or 1 */

#ifdef GOC_HAVE_LIBDW

static Dwfl *session;
static int64_t last_report;

static const Dwfl_Callbacks session_callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
};

/* (Re)describes the process's modules; sym_lock held. */
static void session_report(void)
{
	last_report = goc__prim_nanotime();
	dwfl_report_begin(session);
	dwfl_linux_proc_report(session, getpid());
	dwfl_report_end(session, NULL, NULL);
}

/* On the symbolizer thread. */
static bool lookup_locked(uintptr_t pc, bool exact, struct sym_info *out)
{
	memset(out, 0, sizeof *out);
	if (!session) {
		session = dwfl_begin(&session_callbacks);
		if (!session)
			return false;
		session_report();
	}
	/* A return address may be the first byte after the call's function
	 * (a call to a noreturn function ends it): look up the call. */
	uintptr_t at = exact ? pc : pc - 1;
	Dwfl_Module *mod = dwfl_addrmodule(session, at);
	if (!mod && goc__prim_nanotime() - last_report > GOC_SECOND) {
		session_report();
		mod = dwfl_addrmodule(session, at);
	}
	if (!mod)
		return false;
	Dwarf_Addr start;
	out->module = dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
	out->module_offset = pc - start;
	GElf_Off offset;
	GElf_Sym sym;
	out->func = dwfl_module_addrinfo(mod, at, &offset, &sym, NULL, NULL, NULL);
	if (out->func)
		out->func_offset = offset + (pc - at);
	Dwfl_Line *line = dwfl_module_getsrc(mod, at);
	if (line)
		out->file = dwfl_lineinfo(line, NULL, &out->line, NULL, NULL, NULL);
	return true;
}

#else

/* On the symbolizer thread. */
static bool lookup_locked(uintptr_t pc, bool exact, struct sym_info *out)
{
	memset(out, 0, sizeof *out);
	uintptr_t at = exact ? pc : pc - 1;
	Dl_info info;
	if (!dladdr((void *)at, &info))
		return false;
	out->module = info.dli_fname;
	out->module_offset = pc - (uintptr_t)info.dli_fbase;
	if (info.dli_sname) {
		out->func = info.dli_sname;
		out->func_offset = pc - (uintptr_t)info.dli_saddr;
	}
	return true;
}

#endif

static void copy_str(char *to, size_t size, const char *from)
{
	size_t n = from ? strnlen(from, size - 1) : 0;
	memcpy(to, from ? from : "", n);
	to[n] = 0;
}

static void *symbolizer_main(void *arg)
{
	(void)arg;
	for (;;) {
		while (goc__load_acquire(&request.state) != SYM_ASKED)
			goc__prim_futex_wait(&request.state, SYM_IDLE, 0);
		struct sym_info s;
		struct sym_text *t = &request.answer;
		t->found = lookup_locked(request.pc, request.exact, &s);
		copy_str(t->func, sizeof t->func, s.func);
		t->func_offset = s.func_offset;
		copy_str(t->file, sizeof t->file, s.file);
		t->line = s.line;
		copy_str(t->module, sizeof t->module, s.module);
		t->module_offset = s.module_offset;
		goc__store_release(&request.state, SYM_ANSWERED);
		goc__prim_futex_wake(&request.state, 1);
	}
	return NULL;
}

/* libdw's line-table parser keeps large arrays on the stack (more than
 * the 256 KiB of runtime threads under TSan): the thread gets 8 MiB. */
#define SYMBOLIZER_STACK ((size_t)8 << 20)

static bool symbolizer_start(void)
{
	pthread_attr_t attr;
	pthread_t tid;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, SYMBOLIZER_STACK);
	int saved = errno;
	goc__prim_sigmask mask;
	goc__prim_thread_sigmask_enter(&mask);
	int r = pthread_create(&tid, &attr, symbolizer_main, NULL);
	goc__prim_thread_sigmask_leave(&mask);
	pthread_attr_destroy(&attr);
	errno = saved;
	return r == 0;
}

/* Looks pc up on the symbolizer thread; false if unknown or if the thread
 * cannot be started. */
static bool lookup(uintptr_t pc, bool exact, struct sym_text *out)
{
	memset(out, 0, sizeof *out);
	goc__lock_acquire(&sym_lock);
	if (!symbolizer_started) {
		goc__store_seqcst(&symbolizer_threads, 1);
		symbolizer_started = symbolizer_start();
		if (!symbolizer_started) {
			goc__store_seqcst(&symbolizer_threads, 0);
			goc__lock_release(&sym_lock);
			return false;
		}
	}
	request.pc = pc;
	request.exact = exact;
	goc__store_release(&request.state, SYM_ASKED);
	goc__prim_futex_wake(&request.state, 1);
	while (goc__load_acquire(&request.state) != SYM_ANSWERED)
		goc__prim_futex_wait(&request.state, SYM_ASKED, 0);
	*out = request.answer;
	goc__store_relaxed(&request.state, SYM_IDLE);
	goc__lock_release(&sym_lock);
	return out->found;
}

int goc__symbolizer_threads(void)
{
	return goc__load_seqcst(&symbolizer_threads);
}

/* Copies a function's name without the suffix GCC gives the copies it
 * specialises (g_switch.constprop.0.isra.0): C names have no dots. */
static void copy_name(char *to, size_t size, const char *name)
{
	size_t n = strcspn(name, ".");
	if (n >= size)
		n = size - 1;
	memcpy(to, name, n);
	to[n] = 0;
}

void goc__symbolize_func(goc__buf *b, uintptr_t pc, bool exact)
{
	char name[256];
	goc__symbolize_name(pc, exact, name, sizeof name);
	goc__buf_str(b, name[0] ? name : "?");
}

void goc__symbolize_location(goc__buf *b, uintptr_t pc, bool exact)
{
	struct sym_text t;
	bool found = lookup(pc, exact, &t);
	if (t.file[0]) {
		goc__buf_str(b, t.file);
		goc__buf_str(b, ":");
		goc__buf_int(b, t.line);
		goc__buf_str(b, " +");
		goc__buf_hex(b, t.func[0] ? t.func_offset : t.module_offset);
	} else if (found && t.module[0]) {
		goc__buf_str(b, t.module);
		goc__buf_str(b, "+");
		goc__buf_hex(b, t.module_offset);
		goc__buf_str(b, " pc=");
		goc__buf_hex(b, pc);
	} else {
		goc__buf_str(b, "? pc=");
		goc__buf_hex(b, pc);
	}
}

bool goc__symbolize_name(uintptr_t pc, bool exact, char *name, size_t size)
{
	struct sym_text t;
	name[0] = 0;
	lookup(pc, exact, &t);
	if (t.func[0] && size > 0)
		copy_name(name, size, t.func);
	return name[0] != 0;
}

bool goc__symbolize_frame(uintptr_t pc, bool exact, goc__frame_symbol *out)
{
	struct sym_text t;
	bool found = lookup(pc, exact, &t);
	uintptr_t call_back = exact ? 0 : 1;
	out->pc = pc - call_back;
	out->func_offset = t.func[0] ? t.func_offset - call_back : 0;
	copy_name(out->func, sizeof out->func, t.func);
	copy_str(out->file, sizeof out->file, t.file);
	out->line = t.line;
	return found && t.func[0];
}
