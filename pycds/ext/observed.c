/*
 * observed.c - whether something watches the code this thread runs
 * (observed.h says why a restore asks).
 */
#include "observed.h"

/* The tool ids sys.monitoring gives programs (0 to 5; 6 and 7 are the
 * interpreter's own, behind sys.setprofile and sys.settrace). */
#define PROGRAM_TOOL_IDS 6

static PyObject *monitoring_tool(void)
{
    PyObject *monitoring = PySys_GetObject("monitoring"); /* borrowed */
    if (!monitoring)                                      /* 3.11 */
        return Py_NewRef(Py_None);
    PyObject *get_tool = PyObject_GetAttrString(monitoring, "get_tool");
    if (!get_tool)
        return NULL;
    PyObject *found = Py_NewRef(Py_None);
    for (int id = 0; id < PROGRAM_TOOL_IDS; id++) {
        PyObject *name = PyObject_CallFunction(get_tool, "i", id);
        if (!name) {
            Py_SETREF(found, NULL);
            break;
        }
        if (name != Py_None) {
            Py_SETREF(found,
                      PyUnicode_FromFormat(
                          "sys.monitoring tool %d (%S) is in use", id, name));
            Py_DECREF(name);
            break;
        }
        Py_DECREF(name);
    }
    Py_DECREF(get_tool);
    return found;
}

PyObject *pycds_observer(PyObject *module, PyObject *unused)
{
    (void)module, (void)unused;
    PyThreadState *tstate = PyThreadState_Get();
    if (tstate->c_tracefunc)
        return PyUnicode_FromString("a trace function is set (sys.settrace)");
    if (tstate->c_profilefunc)
        return PyUnicode_FromString(
            "a profile function is set (sys.setprofile)");
    if (pycds_tracemalloc_tracing())
        return PyUnicode_FromString(
            "tracemalloc is tracing (it would see the restore make the "
            "objects)");
    return monitoring_tool();
}
