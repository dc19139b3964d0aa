/*
 * goc/signal.h — Go's os/signal: signals delivered on channels, and a
 * context that ends with one.
 * Included by goc.h; include <goc.h>, not this file.
 *
 *     static const int stop_sigs[] = {SIGINT, SIGTERM};
 *     goc_ctx *ctx = goc_ctx_with_signals(goc_ctx_background(), stop_sigs, 2);
 *     ... serve until goc_ctx_done(ctx) is closed ...
 *     goc_ctx_cancel(ctx);   // Go's stop(): the signals kill again
 *     goc_ctx_release(ctx);
 *
 * A signal the program takes this way is caught by goc (a signalfd read by
 * a goroutine parked on the netpoller, and a handler for signals that land
 * on a thread of the program's own) and sent to every channel registered
 * for it with a non-blocking send, as Go does: give the channel room
 * (a buffer of 1 is enough for one signal at a time). While no channel
 * takes a signal, it does what it did before (by default SIGINT and
 * SIGTERM end the process).
 *
 * The signals that may be taken: SIGHUP, SIGINT, SIGTERM, SIGUSR1,
 * SIGUSR2, SIGWINCH, SIGALRM, SIGCHLD, SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT.
 * Every thread goc starts blocks them, so they never interrupt a
 * goroutine's system call; for their default action (or a handler of the
 * program's own) the process needs one thread that does not block them —
 * the thread waiting in goc_main is one. The others are the runtime's
 * (SIGQUIT's dump, SIGPROF, SIGURG) or are sent to the thread that caused
 * them (SIGSEGV, SIGPIPE, ...).
 *
 * Deadlock detection: while a channel is registered, a signal may still
 * wake the program, so — like a goroutine waiting for the network — no
 * deadlock is reported; once the last registration is stopped, detection
 * is as before. No thread of the program's own is involved.
 */
#ifndef GOC_SIGNAL_H
#define GOC_SIGNAL_H
#ifndef GOC_H_INSIDE
#error "include <goc.h> rather than <goc/signal.h>"
#endif

#include <signal.h>

/*
 * Go's signal.Notify: from now on each of the nsigs signals in sigs is
 * sent (as an int, the signal number) to c, a channel of int made by
 * goc_chan_make(sizeof(int), cap). Registering c again adds signals to
 * its set. goc holds a reference to c until goc_signal_stop(c). Returns
 * 0, or -EINVAL (c's element is not an int, nsigs is 0, a signal that
 * cannot be taken) or -ENOMEM; c NULL panics.
 */
int goc_signal_notify(goc_chan *c, const int *sigs, size_t nsigs);

/* Go's signal.Stop: no more signals are sent to c, and a signal no
 * channel takes any more gets its previous disposition back. Stopping a
 * channel that is not registered does nothing. */
void goc_signal_stop(goc_chan *c);

/*
 * Go's signal.NotifyContext: a child of parent cancelled (GOC_CANCELED)
 * when one of the nsigs signals arrives, or when parent is. goc_ctx_cancel
 * on it is Go's stop(): it ends the registration, after which the signals
 * act as before. A goroutine named "goc_ctx_with_signals" waits for the
 * signal meanwhile. NULL with errno = EINVAL (as goc_signal_notify) or
 * ENOMEM; parent NULL panics.
 */
goc_ctx *goc_ctx_with_signals(goc_ctx *parent, const int *sigs, size_t nsigs);

#endif /* GOC_SIGNAL_H */
