/* err.h - the project-wide error codes and the diagnostics struct.
 *
 * Fallible functions return an enum osr_err (OSR_OK or a negative code) and write results
 * through out-parameters.  Human-readable detail travels in an optional struct osr_diag,
 * worded like git's messages: lower case, the subject quoted.
 *
 * Thread rules: osr_strerror is thread-safe; a struct osr_diag belongs to its caller.
 */
#ifndef OSR_ERR_H
#define OSR_ERR_H

#include <stddef.h>

enum osr_err {
    OSR_OK = 0,
    OSR_EINVAL = -1,        /* invalid argument or malformed input */
    OSR_ENOMEM = -2,        /* out of memory */
    OSR_ETOOBIG = -3,       /* a size cap was hit */
    OSR_EPROTO = -4,        /* a peer broke its protocol */
    OSR_ENOTFOUND = -5,     /* no such thing */
    OSR_ECANCELED = -6,     /* the consumer went away or the work was cancelled */
    OSR_ETIMEOUT = -7,      /* a deadline passed */
    OSR_EIO = -8,           /* an operating-system call failed (see errno in the diag) */
    OSR_EEXIST = -9,        /* already exists */
    OSR_EPERM = -10,        /* not allowed */
    OSR_EBUSY = -11,        /* in use */
    OSR_ECLOSED = -12,      /* the object was closed */
    OSR_EUNSUPPORTED = -13, /* valid but not supported here */
    OSR_EAUTH = -14,        /* authentication failed */
    OSR_ECONFIG = -15,      /* invalid configuration */
    OSR_ECORRUPT = -16,     /* stored data is damaged */
};

/* Returns a static, lower-case description of rc ("unknown error" for codes we do not know). */
const char *osr_strerror(int rc);

#define OSR_DIAG_MAX 512

struct osr_diag {
    char msg[OSR_DIAG_MAX]; /* empty string when nothing was said */
    char param[64];         /* the offending field, when there is one ("messages[0].role") */
};

/* Formats a message into diag (no-op when diag is NULL) and returns rc, so an error path reads
 * `return osr_diag_set(d, OSR_EINVAL, "'%s' must be a string", key);`. */
int osr_diag_set(struct osr_diag *diag, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the offending field's name (no-op when diag is NULL). */
void osr_diag_set_param(struct osr_diag *diag, const char *param);

/* Clears diag (no-op when NULL). */
void osr_diag_clear(struct osr_diag *diag);

/* Internal invariant check; stays on in release builds.  Never used on untrusted input. */
#define OSR_ASSERT(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            osr_assert_fail(#cond, __FILE__, __LINE__);                                            \
    } while (0)

_Noreturn void osr_assert_fail(const char *expr, const char *file, int line);

#endif
