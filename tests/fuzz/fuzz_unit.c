/*
 * fuzz_unit.c - libFuzzer target over what a snapshot restore reads from a
 * unit: its header, its pickles and the C calls they make (classes from
 * images, functions, fills, strings of code, reads and witnesses).
 *
 * The target embeds CPython and runs unit_harness.py, which restores each
 * input as a unit of one module of a small package into a fresh module
 * object (the checksum put back first, so that mutations get past it).
 * pycds's extension is the one installed in the interpreter's virtual
 * environment, built with coverage and the sanitizers (scripts/fuzz.sh),
 * so libFuzzer follows its branches.  Environment:
 *   FUZZ_UNIT_PYTHON   that environment's python (its prefix and packages)
 *   FUZZ_UNIT_SEEDS    unit_seeds.py's directory (the package, modules.txt)
 *   FUZZ_UNIT_HARNESS  the directory holding unit_harness.py
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static PyObject *run_one; /* unit_harness.run */

static void fail(const char *what)
{
    if (PyErr_Occurred())
        PyErr_Print();
    fprintf(stderr, "fuzz_unit: %s\n", what);
    exit(2);
}

static const char *required(const char *name)
{
    const char *value = getenv(name);
    if (!value || !*value) {
        fprintf(stderr, "fuzz_unit: set %s (scripts/fuzz.sh does)\n", name);
        exit(2);
    }
    return value;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *python = required("FUZZ_UNIT_PYTHON");
    const char *seeds = required("FUZZ_UNIT_SEEDS");
    const char *harness = required("FUZZ_UNIT_HARNESS");

    /* The system allocator, so that the sanitizer sees every object. */
    PyPreConfig pre;
    PyPreConfig_InitIsolatedConfig(&pre);
    pre.allocator = PYMEM_ALLOCATOR_MALLOC;
    if (PyStatus_Exception(Py_PreInitialize(&pre)))
        fail("pre-initialization failed");
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    /* As that python: its virtual environment's prefix and packages. */
    PyStatus status =
        PyConfig_SetBytesString(&config, &config.program_name, python);
    if (!PyStatus_Exception(status))
        status = PyConfig_SetBytesString(&config, &config.executable, python);
    if (!PyStatus_Exception(status))
        status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status))
        fail("initialization failed");

    PyObject *path = PySys_GetObject("path"); /* borrowed */
    PyObject *where = PyUnicode_DecodeFSDefault(harness);
    if (!path || !where || PyList_Insert(path, 0, where) < 0)
        fail("cannot set sys.path");
    Py_DECREF(where);
    PyObject *module = PyImport_ImportModule("unit_harness");
    if (!module)
        fail("cannot import unit_harness");
    PyObject *done = PyObject_CallMethod(module, "setup", "s", seeds);
    if (!done)
        fail("unit_harness.setup failed");
    Py_DECREF(done);
    if (!(run_one = PyObject_GetAttrString(module, "run")))
        fail("no unit_harness.run");
    Py_DECREF(module);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    PyObject *input = PyBytes_FromStringAndSize((const char *)data, size);
    PyObject *result = input ? PyObject_CallOneArg(run_one, input) : NULL;
    Py_XDECREF(input);
    if (!result) /* run() keeps every exception of a restore */
        fail("unit_harness.run raised");
    Py_DECREF(result);
    return 0;
}
