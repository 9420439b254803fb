/*
 * tenure.c - the collector while a restore works: the objects a snapshot
 * unit makes go straight to its oldest generation (tenure.h says why),
 * and no collection starts by itself inside a restore's short windows.
 *
 * The collector keeps each generation as a circular doubly linked list of
 * PyGC_Head, its head in the interpreter's GC state; tracking an object
 * appends it to the youngest list.  So an empty list made (and tracked)
 * first marks where the young list stood: what follows it when the
 * function returns was made meanwhile and is still alive.  That run is
 * unlinked and appended to the oldest list in one step, as the collector
 * itself merges lists.  It is moved only when the walk from the marker
 * ends at the youngest list's head: a collection that ran meanwhile has
 * moved the marker with the rest, and then nothing is touched.
 */
#include "tenure.h"

#include <limits.h>

#include "error.h"

static int is_generation_head(struct _gc_runtime_state *gc, PyGC_Head *node)
{
    for (int i = 0; i < NUM_GENERATIONS; i++)
        if (node == &gc->generations[i].head)
            return 1;
    return node == &gc->permanent_generation.head;
}

static void move_to_oldest(struct _gc_runtime_state *gc, PyObject *marker)
{
    PyGC_Head *mark = _Py_AS_GC(marker);
    if (!_PyObject_GC_IS_TRACKED(marker))
        return;
    PyGC_Head *young = gc->generation0;
    Py_ssize_t count = 0;
    PyGC_Head *node = _PyGCHead_NEXT(mark);
    while (!is_generation_head(gc, node)) {
        count++;
        node = _PyGCHead_NEXT(node);
    }
    if (node != young || count == 0)
        return;
    PyGC_Head *first = _PyGCHead_NEXT(mark);
    PyGC_Head *last = _PyGCHead_PREV(young);
    _PyGCHead_SET_NEXT(mark, young);
    _PyGCHead_SET_PREV(young, mark);
    PyGC_Head *old = &gc->generations[NUM_GENERATIONS - 1].head;
    PyGC_Head *tail = _PyGCHead_PREV(old);
    _PyGCHead_SET_NEXT(tail, first);
    _PyGCHead_SET_PREV(first, tail);
    _PyGCHead_SET_NEXT(last, old);
    _PyGCHead_SET_PREV(old, last);
    /* The youngest generation's count is of objects allocated since its
     * last collection (less those freed): these no longer wait there.  As
     * survivors of a middle collection, they wait for a full one. */
    gc->generations[0].count -=
        count < gc->generations[0].count ? count : gc->generations[0].count;
    gc->long_lived_pending += count;
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
    move_to_oldest(gc, marker);
    Py_DECREF(marker);
    return result;
}
