# goc-gdb.py — gdb commands that know goc's goroutines.
#
# Load it with one line (or put the line in ~/.gdbinit); `make install`
# puts it in PREFIX/share/goc:
#     source /usr/local/share/goc/goc-gdb.py
#
#   info goroutines      every goroutine: id, state or wait reason, where
#                        it is (the innermost frame outside goc's own
#                        sources, as function file:line; a function that
#                        ended in a tail call into goc is shown as the
#                        goroutine's start function) and who created it
#   goroutine N bt       the backtrace of goroutine N; for one that is not
#                        running, gdb's own unwinder runs from its saved
#                        context (see below); for a running one, use the
#                        thread it runs on
#
# How it finds goroutines: like the runtime's dumps, it walks the
# descriptor regions of src/sched/gpool.c (`regions`, `nregions`) and skips
# free and finished descriptors. A parked goroutine's saved stack pointer
# points at goc__cpuctx_switch's frame (src/arch/switch_<cpu>.S): the frame
# pointer and the return address sit at fixed offsets in it. `goroutine N
# bt` points the selected thread's sp, frame pointer and pc at that frame
# for the time of one `bt`, then puts them back; it needs a live process
# (or a core gdb can write registers of). The program needs goc's debug
# information (-g) and frame pointers.
import gdb

STATES = {1: "runnable", 2: "running", 3: "waiting", 4: "dead"}
G_FREE, G_RUNNING, G_WAITING, G_DEAD = 0, 2, 3, 4
G_FLAG_MAIN = 1 << 2  # src/sched/runtime.h


def _arch():
    name = gdb.selected_frame().architecture().name()
    if "aarch64" in name:
        return {"fp_off": 80, "pc_off": 88, "frame": 176, "sp": "$sp", "fp": "$x29",
                "pc": "$pc"}
    return {"fp_off": 48, "pc_off": 56, "frame": 64, "sp": "$rsp", "fp": "$rbp", "pc": "$rip"}


def _goroutines():
    regions = gdb.parse_and_eval("'gpool.c'::regions")
    n = int(gdb.parse_and_eval("'gpool.c'::nregions"))
    for r in range(n):
        region = regions[r]
        base = region["base"]
        for i in range(int(region["used"])):
            g = base[i]
            state = int(g["state"])
            if state not in (G_FREE, G_DEAD):
                yield g


def _state_word(g):
    state = int(g["state"])
    if state == G_WAITING:
        reason = gdb.parse_and_eval("'names.c'::wait_reasons")[int(g["wait_reason"])]
        return reason.string()
    return STATES.get(state, str(state))


def _read_word(addr):
    ptr = gdb.lookup_type("unsigned long").pointer()
    return int(gdb.Value(addr).cast(ptr).dereference())


def _saved_chain(g):
    """Return addresses of a goroutine that is not running, innermost first."""
    sp = int(g["sp"])
    if not sp:
        return []
    a = _arch()
    lo = int(g["stack_lo"])
    hi = lo + int(g["stack_size"])
    pcs = [_read_word(sp + a["pc_off"])]
    fp = _read_word(sp + a["fp_off"])
    above = lo - 1
    while above < fp <= hi - 16 and fp % 8 == 0 and len(pcs) < 64:
        nxt, ret = _read_word(fp), _read_word(fp + 8)
        if nxt == 0:
            # The runtime's entry (g_entry), as the dumps drop it.
            if len(pcs) > 1:
                pcs.pop()
            break
        if ret == 0:
            break
        pcs.append(ret)
        above, fp = fp, nxt
    return pcs


def _function_at(pc):
    """The gdb.Symbol of the function holding pc, or None."""
    block = gdb.block_for_pc(pc)
    while block is not None and block.function is None:
        block = block.superblock
    return block.function if block is not None else None


def _with_start(g, pcs):
    """pcs, ending with the goroutine's start function as the dumps show it:
    a function that ended in a tail call into a blocking call left no frame
    of its own, so it is added when the outermost frame lies elsewhere.
    Return addresses are looked up at pc - 1, so it is stored one past its
    entry."""
    fn = int(g["fn"])
    if not fn:
        return pcs
    if not pcs:
        return [fn + 1]
    outer = _function_at(pcs[-1] - 1)
    if outer is None or int(outer.value().address) != fn:
        pcs = pcs + [fn + 1]
    return pcs


def _runtime_root():
    sym = gdb.lookup_global_symbol("goc__park")
    if sym is None or sym.symtab is None:
        return None
    path = sym.symtab.fullname()
    cut = path.rfind("/src/sched/")
    return path[: cut + 1] if cut >= 0 else None


def _describe(pc):
    """'function file:line' of the call before return address pc."""
    sal = gdb.find_pc_line(pc - 1)
    func = _function_at(pc - 1)
    name = func.print_name if func is not None else hex(pc)
    path = sal.symtab.fullname() if sal.symtab is not None else "?"
    return "%s %s:%d" % (name, path, sal.line), path


def _where(g):
    """The innermost frame outside goc's sources: 'function file:line'."""
    if int(g["state"]) == G_RUNNING:
        return "(running on a thread: see info threads)"
    pcs = _with_start(g, _saved_chain(g))
    root = _runtime_root()
    shown = None
    for pc in pcs:
        shown, path = _describe(pc)
        if root is None or not path.startswith(root + "src/"):
            break
    return shown


def _created_by(g):
    pc = int(g["create_pc"])
    if not pc:
        return ""
    if int(g["flags"]) & G_FLAG_MAIN:
        return " main goroutine, started by goc_main from " + _describe(pc)[0]
    return " created by " + _describe(pc)[0]


class InfoGoroutines(gdb.Command):
    """List goc's goroutines: id, state or wait reason, where."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        for g in _goroutines():
            mark = "*" if int(g["state"]) == G_RUNNING else " "
            name = g["name"].string()
            label = ' "%s"' % name if name else ""
            gdb.write("%s %d [%s]%s %s%s\n" % (mark, int(g["id"]), _state_word(g), label,
                                               _where(g), _created_by(g)))


class Goroutine(gdb.Command):
    """goroutine N bt: the backtrace of goroutine N."""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        words = arg.split(None, 1)
        if len(words) != 2:
            raise gdb.GdbError("usage: goroutine N bt")
        gid = int(words[0])
        g = next((g for g in _goroutines() if int(g["id"]) == gid), None)
        if g is None:
            raise gdb.GdbError("no goroutine %d" % gid)
        if int(g["state"]) == G_RUNNING:
            raise gdb.GdbError("goroutine %d is running: select the thread of M %d"
                               % (gid, int(g["m"]["id"])))
        sp = int(g["sp"])
        if not sp:
            raise gdb.GdbError("goroutine %d has not run yet" % gid)
        # gdb's unwinder shows the runtime's entry where a function that
        # ended in a tail call left no frame: say what it started as.
        start = _function_at(int(g["fn"]))
        if start is not None:
            gdb.write("goroutine %d started in %s;%s\n" % (gid, start.print_name, _created_by(g)))
        a = _arch()
        gdb.newest_frame().select()
        saved = {r: int(gdb.parse_and_eval(a[r])) for r in ("sp", "fp", "pc")}
        try:
            gdb.execute("set %s = %d" % (a["fp"], _read_word(sp + a["fp_off"])))
            gdb.execute("set %s = %d" % (a["pc"], _read_word(sp + a["pc_off"])))
            gdb.execute("set %s = %d" % (a["sp"], sp + a["frame"]))
            gdb.execute(words[1], from_tty)
        finally:
            for r in ("sp", "fp", "pc"):
                gdb.execute("set %s = %d" % (a[r], saved[r]))


InfoGoroutines()
Goroutine()
