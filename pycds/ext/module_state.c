/*
 * module_state.c - the extension's process-wide objects (module_state.h):
 * data only, so that the files using them and module.c, which creates them,
 * never call each other.
 */
#include "module_state.h"

pycds_module_state pycds_state;
