/* secrets.h - secrets (provider API keys, secret headers) in an encrypted database.
 *
 * <home>/secrets/secrets.sqlite, a SQLCipher database under the storage key (created encrypted,
 * with a new key file when none exists yet, unless the storage posture says plaintext).  Each
 * secret is a (scope, name) -> value row; the providers keep one JSON object per provider
 * under scope "provider".  Values are never logged.
 *
 * The interim plaintext file providers/secrets.json (0600) is migrated here automatically: its
 * entries are copied in one transaction, then the file is overwritten with zeros, synced and
 * removed, so no plaintext copy of a key stays on disk.
 *
 * Thread rules: a struct osr_secrets belongs to one thread; open one per use.
 */
#ifndef OSR_SECRETS_H
#define OSR_SECRETS_H

#include <json-c/json.h>

#include "osr/err.h"

struct osr_secrets;

/* Opens (creating) the secrets database of home. */
int osr_secrets_open(struct osr_secrets **out, const char *home, struct osr_diag *diag);
void osr_secrets_close(struct osr_secrets *s);

/* Stores value (NUL-terminated) under (scope, name), replacing an older one. */
int osr_secrets_put(struct osr_secrets *s, const char *scope, const char *name, const char *value,
                    struct osr_diag *diag);
/* Returns OSR_OK and a heap copy in *value (the caller wipes and frees it), or OSR_ENOTFOUND. */
int osr_secrets_get(struct osr_secrets *s, const char *scope, const char *name, char **value,
                    struct osr_diag *diag);
int osr_secrets_delete(struct osr_secrets *s, const char *scope, const char *name,
                       struct osr_diag *diag);

/* Returns a new JSON object {name: parsed value, ...} of every secret in scope whose value is
 * JSON (the caller releases it with json_object_put). */
int osr_secrets_scope_json(struct osr_secrets *s, const char *scope, struct json_object **out,
                           struct osr_diag *diag);

/* Moves providers/secrets.json into the database (see above).  Returns the number of entries
 * moved (0 when there is no file), or a negative error; on error the file is left alone. */
int osr_secrets_migrate_providers(const char *home, struct osr_diag *diag);

#endif
