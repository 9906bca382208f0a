/*
 * PyEval_CallObject for durable-rules 2.0.28 on Python 3.13+.
 *
 * durable-rules' extension module (durable_rules_engine, built from its
 * src/rulespy/rules.c) calls PyEval_CallObject, a macro that Python 3.13
 * removed from the C API. Built against 3.13's headers the call compiles as
 * an implicitly declared function, and importing the module fails with
 * "undefined symbol: PyEval_CallObject". highseas.compile.compat loads this
 * library with RTLD_GLOBAL before durable-rules is imported: the symbol then
 * resolves and the module loads.
 *
 * The five calls sit in durable-rules' persistence callbacks (store, delete
 * and queue messages, queued messages, idle state), which highseas never
 * registers. Compiled without a declaration, their callers take the result
 * as an int and sign-extend it to a pointer, so a real object cannot come
 * back through this call: it refuses with RuntimeError and returns NULL
 * rather than hand durable-rules a pointer cut to 32 bits. A durable-rules
 * built with CPPFLAGS=-DPyEval_CallObject=PyObject_CallObject calls the
 * real function and never reaches this one (docs/python-versions.md).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX >= 0x030D0000 && defined(__GNUC__)
/* CPPFLAGS=-DPyEval_CallObject=PyObject_CallObject, meant for durable-rules'
 * build, must not turn this definition into one of PyObject_CallObject. */
#undef PyEval_CallObject
__attribute__((visibility("default"))) PyObject *
PyEval_CallObject(PyObject *callable, PyObject *args)
{
    (void)callable;
    (void)args;
    PyErr_SetString(PyExc_RuntimeError,
                    "durable-rules' persistence callbacks do not work on Python 3.13+ "
                    "unless durable-rules is built with "
                    "CPPFLAGS=-DPyEval_CallObject=PyObject_CallObject");
    return NULL;
}
#endif

static struct PyModuleDef compat_module = {
    PyModuleDef_HEAD_INIT, "_compat313",
    "PyEval_CallObject for durable-rules on Python 3.13+ (loaded with ctypes).",
    0, NULL,
};

PyMODINIT_FUNC
PyInit__compat313(void)
{
    return PyModuleDef_Init(&compat_module);
}
