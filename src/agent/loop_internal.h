/* loop_internal.h - what loop.c and loop_tools.c share: the state of one agent run that the
 * loop tools need.  Private to src/agent. */
#ifndef OSR_AGENT_LOOP_INTERNAL_H
#define OSR_AGENT_LOOP_INTERNAL_H

#include "osr/agent_loop.h"
#include "osr/tools.h"
#include "osr/uuid.h"

#define OSR_AGENT_ARTIFACT_MAX ((size_t)16 * 1024 * 1024)

struct osr_agent_loop_state {
    const char *home;   /* or NULL */
    const char *folder; /* the working folder, or NULL */
    char session_id[OSR_UUID_STRLEN + 64];
};

/* Adds todo, complete, clarify and share_artifact (share_artifact's ctx is st, borrowed). */
int osr_agent_loop_tools_add(struct osr_tools *reg, struct osr_agent_loop_state *st,
                             struct osr_diag *diag);

#endif
