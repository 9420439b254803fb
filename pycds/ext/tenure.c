/*
 * tenure.c - the collector while a restore works: the objects a snapshot
 * unit makes go straight to its oldest generation (tenure.h says why),
 * and no collection starts by itself inside a restore's short windows.
 * Likewise what a module body run from archived code leaves alive goes to
 * the middle generation when the body returns.
 *
 * The collector keeps each generation as a circular doubly linked list of
 * PyGC_Head, its head in the interpreter's GC state; tracking an object
 * appends it to the youngest list.  So an empty list made (and tracked)
 * first marks where the young list stood: what follows it when the
 * function returns was made meanwhile and is still alive.  That run is
 * unlinked and appended to the oldest list in one step, as the collector
 * itself merges lists (and its tuples of untracked items untracked, as a
 * collection does).  It is moved only when the marker is still in the
 * youngest list: a collection that ran meanwhile has moved the marker
 * with the rest, and then nothing is touched.
 */
#include "tenure.h"

#include <limits.h>

#include "error.h"

/* Whether a collection would untrack the tuple: it holds no object the
 * collector tracks or may track later (CPython's own rule for tuples). */
static int untrackable_tuple(PyObject *op)
{
    if (!PyTuple_CheckExact(op))
        return 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(op); i++) {
        PyObject *item = PyTuple_GET_ITEM(op, i);
        if (!item)
            return 0;
        if (PyObject_IS_GC(item) &&
            (!PyTuple_CheckExact(item) || _PyObject_GC_IS_TRACKED(item)))
            return 0;
    }
    return 1;
}

/* Whether `mark` is in the youngest list, looked for from its end: the
 * walk is never longer than that list (after gc.freeze(), or a
 * collection, the mark is elsewhere). */
static int in_youngest(struct _gc_runtime_state *gc, PyGC_Head *mark)
{
    PyGC_Head *young = gc->generation0;
    PyGC_Head *node = _PyGCHead_PREV(young);
    while (node != young && node != mark)
        node = _PyGCHead_PREV(node);
    return node == mark;
}

/* Move what follows `from` in the youngest list to the end of the list
 * at `to`, untracking tuples as a collection would, and take it off the
 * youngest generation's count (of objects allocated since its last
 * collection, less those freed: these no longer wait there); how many
 * are still tracked in `to`. */
static Py_ssize_t leave_youngest(struct _gc_runtime_state *gc, PyGC_Head *from,
                                 PyGC_Head *to)
{
    PyGC_Head *young = gc->generation0;
    Py_ssize_t left = 0, untracked = 0;
    for (PyGC_Head *node = _PyGCHead_NEXT(from), *next; node != young;
         node = next) {
        next = _PyGCHead_NEXT(node);
        left++;
        PyObject *op = (PyObject *)(node + 1); /* the object follows its
                                                  head in every version */
        if (untrackable_tuple(op)) {
            PyObject_GC_UnTrack(op);
            untracked++;
        }
    }
    gc->generations[0].count -=
        left < gc->generations[0].count ? left : gc->generations[0].count;
    PyGC_Head *first = _PyGCHead_NEXT(from);
    if (first == young)
        return 0;
    PyGC_Head *last = _PyGCHead_PREV(young);
    _PyGCHead_SET_NEXT(from, young);
    _PyGCHead_SET_PREV(young, from);
    PyGC_Head *tail = _PyGCHead_PREV(to);
    _PyGCHead_SET_NEXT(tail, first);
    _PyGCHead_SET_PREV(first, tail);
    _PyGCHead_SET_NEXT(last, to);
    _PyGCHead_SET_PREV(to, last);
    return left - untracked;
}

/* A unit's objects, made after `marker`, to the oldest generation.  As
 * survivors of a middle collection, they wait for a full one. */
static void move_to_oldest(struct _gc_runtime_state *gc, PyObject *marker)
{
    PyGC_Head *mark = _Py_AS_GC(marker);
    if (!_PyObject_GC_IS_TRACKED(marker) || !in_youngest(gc, mark))
        return;
    gc->long_lived_pending +=
        leave_youngest(gc, mark, &gc->generations[NUM_GENERATIONS - 1].head);
}

/* Out of reach of any count, the youngest generation's threshold starts
 * no collection.  (Setting the collector's `collecting` flag instead made
 * gc.collect() in other threads return 0 without collecting.) */
int pycds_hold_collections(void)
{
    struct _gc_runtime_state *gc = &_PyInterpreterState_GET()->gc;
    int threshold = gc->generations[0].threshold;
    gc->generations[0].threshold = INT_MAX;
    return threshold;
}

void pycds_release_collections(int held)
{
    /* A threshold the program set meanwhile (gc.set_threshold) stays. */
    struct _gc_runtime_state *gc = &_PyInterpreterState_GET()->gc;
    if (gc->generations[0].threshold == INT_MAX)
        gc->generations[0].threshold = held;
}

PyObject *pycds_tenured(PyObject *module, PyObject *const *args,
                        Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2)
        return pycds_raise(PYCDS_ERROR_TYPE, "tenured(function, argument)");
    struct _gc_runtime_state *gc = &_PyInterpreterState_GET()->gc;
    if (gc->collecting) /* the lists are the collector's now */
        return PyObject_CallOneArg(args[0], args[1]);
    PyObject *marker = PyList_New(0);
    if (!marker)
        return NULL;
    /* The young list stays as it grows.  A collection a program asks for
     * (gc.collect(), in any thread: the call runs Python code, so other
     * threads run meanwhile) still runs: the marker then moves with the
     * rest, and nothing is moved below. */
    int held = pycds_hold_collections();
    PyObject *result = PyObject_CallOneArg(args[0], args[1]);
    pycds_release_collections(held);
    /* What a failed call made is garbage: young, a young collection frees
     * it (a class made and dropped leaves its bases' __subclasses__()). */
    if (result)
        move_to_oldest(gc, marker);
    Py_DECREF(marker);
    return result;
}

/* ---- A module body's survivors ----------------------------------------
 *
 * What a module body makes mostly lives as long as its module: a young
 * collection walks it, finds it alive and moves it to the middle
 * generation, and a middle collection walks it again before it reaches
 * the oldest.  During `import boto3` on 3.12 that is about 40 young and 4
 * middle collections, 7 ms.  When a body returns, what was made since it
 * started and is still in the youngest generation is moved to the middle
 * one in one step, as a young collection would leave it (a tuple that
 * holds nothing the collector tracks is untracked, as a collection
 * does), and no longer counts towards the next young collection.  What
 * changes is when garbage is found: a reference cycle the body left
 * behind (a class it replaced by another of the same name, with its
 * methods) is freed by the next middle collection rather than by a young
 * one, as a cycle that had survived a young collection would be; and
 * middle collections come later, having fewer young ones to count.
 * Nothing is moved while a collection runs (one in another thread that
 * started before the body and ended during it would leave objects made
 * before the body in the youngest list), with the collector disabled, or
 * when the body raised; nothing goes to the oldest generation. */

static Py_ssize_t collections_so_far(struct _gc_runtime_state *gc)
{
    Py_ssize_t total = 0;
    for (int i = 0; i < NUM_GENERATIONS; i++)
        total += gc->generation_stats[i].collections;
    return total;
}

void pycds_body_watch_start(pycds_body_watch *watch)
{
    struct _gc_runtime_state *gc = &_PyInterpreterState_GET()->gc;
    watch->marker = NULL;
    if (gc->collecting) /* see above: no watch */
        return;
    watch->collections = collections_so_far(gc);
    watch->marker = PyList_New(0); /* tracked: last in the youngest list */
    if (!watch->marker)
        PyErr_Clear(); /* the body runs as it would without a watch */
}

void pycds_body_watch_end(pycds_body_watch *watch, int succeeded)
{
    PyObject *marker = watch->marker;
    if (!marker)
        return;
    watch->marker = NULL;
    struct _gc_runtime_state *gc = &_PyInterpreterState_GET()->gc;
    if (succeeded && gc->enabled && !gc->collecting &&
        _PyObject_GC_IS_TRACKED(marker)) {
        PyGC_Head *young = gc->generation0;
        PyGC_Head *mark = _Py_AS_GC(marker);
        PyGC_Head *middle = &gc->generations[1].head;
        if (collections_so_far(gc) != watch->collections)
            /* A collection emptied the list meanwhile (the marker with
             * it): all it holds now was made after. */
            leave_youngest(gc, young, middle);
        else if (in_youngest(gc, mark)) /* not frozen meanwhile */
            leave_youngest(gc, mark, middle);
    }
    Py_DECREF(marker);
}
