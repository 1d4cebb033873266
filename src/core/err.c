/* err.c - error codes, their descriptions and the diagnostics struct. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/err.h"

const char *osr_strerror(int rc)
{
    switch (rc) {
    case OSR_OK:
        return "success";
    case OSR_EINVAL:
        return "invalid argument";
    case OSR_ENOMEM:
        return "out of memory";
    case OSR_ETOOBIG:
        return "too large";
    case OSR_EPROTO:
        return "protocol error";
    case OSR_ENOTFOUND:
        return "not found";
    case OSR_ECANCELED:
        return "cancelled";
    case OSR_ETIMEOUT:
        return "timed out";
    case OSR_EIO:
        return "input/output error";
    case OSR_EEXIST:
        return "already exists";
    case OSR_EPERM:
        return "not permitted";
    case OSR_EBUSY:
        return "busy";
    case OSR_ECLOSED:
        return "closed";
    case OSR_EUNSUPPORTED:
        return "not supported";
    case OSR_EAUTH:
        return "authentication failed";
    case OSR_ECONFIG:
        return "invalid configuration";
    case OSR_ECORRUPT:
        return "data corrupted";
    }
    return "unknown error";
}

int osr_diag_set(struct osr_diag *diag, int rc, const char *fmt, ...)
{
    if (diag) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
        va_end(ap);
    }
    return rc;
}

void osr_diag_set_param(struct osr_diag *diag, const char *param)
{
    if (diag)
        snprintf(diag->param, sizeof(diag->param), "%s", param ? param : "");
}

void osr_diag_clear(struct osr_diag *diag)
{
    if (diag) {
        diag->msg[0] = '\0';
        diag->param[0] = '\0';
    }
}

void osr_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "osaurus: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
