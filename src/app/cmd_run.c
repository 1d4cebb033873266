/* cmd_run.c - `osaurus run [--agent A] [--model M] [--folder DIR] [--yes] "prompt"`: one agent
 * task in the terminal, or, without a prompt, an interactive chat with the agent.
 *
 * The run happens in this process: the same stack `osaurus serve` builds (models, providers,
 * tools, MCP providers) without the HTTP server, and the same loop (agent_loop.h).  The
 * model's text goes to standard output as it comes; the plan, the tool calls and their
 * outcomes go to standard error, so `osaurus run ... > out.txt` keeps just the answer.
 *
 * Tools whose policy is "ask" are put to the user on the terminal (/dev/tty), or allowed by
 * --yes; with no terminal and no --yes they are refused.  Ctrl-C cancels the run (the loop
 * stops between tokens and before the next tool); a second Ctrl-C ends the process.  When the
 * agent asks a question (clarify), the user's answer continues the same conversation.
 *
 * Not here: the loop, the tools, HTTP.
 */
#include <ctype.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "osr/agent_loop.h"
#include "osr/agents.h"
#include "osr/buf.h"
#include "osr/cli.h"
#include "osr/cli_run.h"
#include "osr/config.h"
#include "osr/json.h"
#include "osr/log.h"
#include "osr/serve_stack.h"
#include "osr/uuid.h"

#define LINE_MAX_BYTES 65536
#define SHOWN_ARGS 160

static const char run_usage[] =
    "usage: osaurus run [options] [PROMPT]\n"
    "Runs an agent on PROMPT in this terminal; without PROMPT, chats with the agent until\n"
    "end of input or /exit.\n"
    "options:\n"
    "  --agent ID|NAME     the agent (default: the built-in default agent)\n"
    "  --model MODEL       the model (default: the agent's default model)\n"
    "  --folder DIR        the working folder for the file, shell and git tools\n"
    "  --max-iterations N  stop after N model turns (default 30)\n"
    "  --yes               allow tools that ask for approval without asking\n"
    "  --quiet             print only the answer (no plan or tool lines)\n"
    "  --home DIR          use DIR instead of $OSAURUS_HOME or ~/.osaurus\n";

struct args {
    const char *home, *agent, *model, *folder;
    long max_iterations;
    bool yes, quiet;
    struct osr_buf prompt;
};

static atomic_int interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    if (atomic_fetch_add(&interrupted, 1) > 0)
        _exit(130);
}

static bool run_cancelled(void *ctx)
{
    (void)ctx;
    return atomic_load(&interrupted) != 0;
}

/* Returns -1 to go on, else an exit code. */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"home", required_argument, NULL, 'H'},  {"agent", required_argument, NULL, 'a'},
        {"model", required_argument, NULL, 'm'}, {"folder", required_argument, NULL, 'f'},
        {"max-iterations", required_argument, NULL, 'i'},
        {"yes", no_argument, NULL, 'y'},         {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "hy", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            a->home = optarg;
            break;
        case 'a':
            a->agent = optarg;
            break;
        case 'm':
            a->model = optarg;
            break;
        case 'f':
            a->folder = optarg;
            break;
        case 'i':
            a->max_iterations = strtol(optarg, &end, 10);
            if (*end || a->max_iterations < 1 || a->max_iterations > OSR_AGENT_MAX_ITERATIONS_CAP) {
                fprintf(stderr, "osaurus run: --max-iterations must be 1..%d\n",
                        OSR_AGENT_MAX_ITERATIONS_CAP);
                return OSR_EXIT_USAGE;
            }
            break;
        case 'y':
            a->yes = true;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'h':
            fputs(run_usage, stdout);
            return OSR_EXIT_OK;
        default:
            fputs(run_usage, stderr);
            return OSR_EXIT_USAGE;
        }
    }
    for (int i = optind; i < argc; i++)
        if ((a->prompt.len && osr_buf_putc(&a->prompt, ' ')) || osr_buf_puts(&a->prompt, argv[i])) {
            fprintf(stderr, "osaurus run: the prompt is too long\n");
            return OSR_EXIT_USAGE;
        }
    return -1;
}

/* The agent named by id or (case-insensitively) by name; NULL with a message when unknown. */
static struct json_object *find_agent(struct osr_agents *st, const char *want)
{
    struct json_object *doc = NULL;
    if (osr_agents_get(st, want ? want : OSR_AGENT_DEFAULT_ID, &doc, NULL) == OSR_OK)
        return doc;
    struct json_object *all = NULL;
    if (want && osr_agents_list(st, &all, NULL) == OSR_OK) {
        for (size_t i = 0; i < json_object_array_length(all); i++) {
            struct json_object *a = json_object_array_get_idx(all, i), *name = NULL;
            if (json_object_object_get_ex(a, "name", &name) &&
                strcasecmp(json_object_get_string(name), want) == 0) {
                doc = json_object_get(a);
                break;
            }
        }
    }
    json_object_put(all);
    if (!doc)
        fprintf(stderr, "osaurus run: no agent '%s' (see `osaurus agents list`)\n",
                want ? want : OSR_AGENT_DEFAULT_ID);
    return doc;
}

/* ---------------------------------------------------------------- the terminal sink */

struct term {
    struct osr_sink sink;
    bool quiet;
    bool mid_line; /* stdout has text without a final newline */
    bool broke;    /* end_line ended the text's line early: one leading newline is owed */
};

static void end_line(struct term *t)
{
    if (t->mid_line) {
        fputc('\n', stdout);
        fflush(stdout);
        t->mid_line = false;
        t->broke = true;
    }
}

static void show_todo(const char *json, size_t n)
{
    struct json_object *o = NULL;
    if (osr_json_parse(json, n, &o, NULL) != OSR_OK)
        return;
    struct json_object *items = json_object_object_get(o, "items");
    fprintf(stderr, "plan:\n");
    for (size_t i = 0; items && i < json_object_array_length(items); i++) {
        struct json_object *it = json_object_array_get_idx(items, i);
        fprintf(stderr, "  [%c] %s\n",
                json_object_get_boolean(json_object_object_get(it, "done")) ? 'x' : ' ',
                json_object_get_string(json_object_object_get(it, "text")));
    }
    json_object_put(o);
}

static void show_done(const struct osr_event *ev)
{
    struct json_object *env = NULL;
    const char *msg = "";
    if (ev->is_error && osr_json_parse(ev->text.p, ev->text.n, &env, NULL) == OSR_OK) {
        struct json_object *m = json_object_object_get(env, "message");
        msg = m ? json_object_get_string(m) : "";
    }
    fprintf(stderr, "  %s %.*s (%lld ms)%s%s\n", ev->is_error ? "failed:" : "ok:", (int)ev->name.n,
            ev->name.p, (long long)ev->duration_ms, msg[0] ? ": " : "", msg);
    json_object_put(env);
}

static int term_emit(struct osr_sink *s, const struct osr_event *ev)
{
    struct term *t = s->ctx;
    switch (ev->kind) {
    case OSR_EV_TEXT_DELTA: {
        struct osr_str text = ev->text;
        if (t->broke && text.n && text.p[0] == '\n') {
            text.p++;
            text.n--;
        }
        if (text.n) {
            t->broke = false;
            fwrite(text.p, 1, text.n, stdout);
            fflush(stdout);
            t->mid_line = text.p[text.n - 1] != '\n';
        }
        break;
    }
    case OSR_EV_TOOL_STARTED:
        if (t->quiet)
            break;
        end_line(t);
        fprintf(stderr, "-> %.*s %.*s%s\n", (int)ev->name.n, ev->name.p,
                (int)(ev->text.n > SHOWN_ARGS ? SHOWN_ARGS : ev->text.n), ev->text.p,
                ev->text.n > SHOWN_ARGS ? "..." : "");
        break;
    case OSR_EV_TOOL_DONE:
        if (!t->quiet)
            show_done(ev);
        break;
    case OSR_EV_TODO:
        if (!t->quiet) {
            end_line(t);
            show_todo(ev->text.p, ev->text.n);
        }
        break;
    case OSR_EV_ARTIFACT:
        if (!t->quiet)
            fprintf(stderr, "  shared %.*s\n", (int)ev->id.n, ev->id.p);
        break;
    case OSR_EV_ERROR:
        end_line(t);
        fprintf(stderr, "osaurus run: %.*s\n", (int)ev->text.n, ev->text.p);
        break;
    case OSR_EV_FINISH:
        end_line(t);
        break;
    default:
        break;
    }
    return 0;
}

/* ---------------------------------------------------------------- approvals and input */

/* Reads one line from f into out (without the newline).  Returns false at end of input. */
static bool read_line(FILE *f, struct osr_buf *out)
{
    osr_buf_reset(out);
    int c;
    bool any = false;
    while ((c = fgetc(f)) != EOF) {
        any = true;
        if (c == '\n')
            break;
        if (osr_buf_putc(out, (char)c))
            break; /* past the cap: the rest of the line is dropped */
    }
    return any;
}

struct approver {
    bool yes;
};

static bool approve(void *ctx, const char *tool, struct json_object *args)
{
    struct approver *ap = ctx;
    if (ap->yes)
        return true;
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty)
        return false;
    fprintf(tty, "allow %s %s? [y/N] ", tool,
            json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN));
    fflush(tty);
    struct osr_buf line;
    osr_buf_init(&line, LINE_MAX_BYTES);
    bool ok = read_line(tty, &line) && line.len > 0 && tolower((unsigned char)line.data[0]) == 'y';
    osr_buf_release(&line);
    fclose(tty);
    return ok;
}

/* ---------------------------------------------------------------- the command */

static int add_user(struct osr_chat_request *req, const char *text, size_t n)
{
    struct osr_message *m = osr_chat_request_add_message(req, OSR_ROLE_USER);
    return m ? osr_chat_message_add_text(req, m, text, n) : OSR_ETOOBIG;
}

static int exit_code(const struct osr_agent_result *res)
{
    switch (res->status) {
    case OSR_AGENT_COMPLETED:
    case OSR_AGENT_ANSWERED:
    case OSR_AGENT_CLARIFY:
        return OSR_EXIT_OK;
    case OSR_AGENT_CANCELLED:
        return 130;
    default:
        return OSR_EXIT_FAILURE;
    }
}

static int run_session(struct osr_serve_stack *st, struct json_object *agent, struct args *a)
{
    struct osr_chat_cancel cancel = {.fn = run_cancelled};
    struct approver ap = {.yes = a->yes};
    struct term t = {.sink = {.emit = term_emit}, .quiet = a->quiet};
    t.sink.ctx = &t;
    char log[4096];
    snprintf(log, sizeof(log), "%s/logs/folder-actions.jsonl", st->home);
    struct osr_agent_run_opts o = {
        .svc = st->svc,
        .tools = st->tools,
        .home = st->home,
        .agent = agent,
        .model = a->model,
        .folder = a->folder,
        .max_iterations = (int)a->max_iterations,
        .approve = approve,
        .approve_ctx = &ap,
        .cancel = &cancel,
        .folder_log = log,
        .record = osr_serve_stack_record_run,
        .record_ctx = st,
    };
    const char *model = osr_agent_model(&o);
    struct osr_chat_backend *b;
    if (!model) {
        fprintf(stderr, "osaurus run: no model: pass --model or give the agent a default model "
                        "(see `osaurus models list` and `osaurus list`)\n");
        return OSR_EXIT_USAGE;
    }
    if (osr_chat_service_resolve(st->svc, model, &b, NULL) != OSR_OK) {
        fprintf(stderr, "osaurus run: model '%s' not found\n", model);
        return OSR_EXIT_FAILURE;
    }
    bool interactive = a->prompt.len == 0;
    bool tty_in = isatty(STDIN_FILENO);
    struct osr_chat_request req;
    osr_chat_request_init(&req, OSR_CHAT_ARENA_MAX);
    req.source = OSR_SOURCE_CHAT;
    char sid[OSR_UUID_STRLEN + 1];
    osr_uuid_v4(sid); /* one history session for the whole terminal conversation */
    req.session_id = osr_chat_request_strndup(&req, sid, strlen(sid));
    o.session_id = req.session_id;
    struct osr_buf line;
    osr_buf_init(&line, LINE_MAX_BYTES);
    int ec = OSR_EXIT_OK;
    if (!interactive && add_user(&req, a->prompt.data, a->prompt.len)) {
        ec = OSR_EXIT_USAGE;
        goto out;
    }
    for (;;) {
        if (interactive || req.n_messages == 0) {
            if (tty_in)
                fputs("> ", stderr);
            if (!read_line(stdin, &line))
                break;
            if (strcmp(osr_buf_str(&line), "/exit") == 0 || strcmp(osr_buf_str(&line), "/quit") == 0)
                break;
            if (line.len == 0)
                continue;
            if (add_user(&req, line.data, line.len)) {
                fprintf(stderr, "osaurus run: the conversation is too long\n");
                ec = OSR_EXIT_FAILURE;
                break;
            }
        }
        struct osr_agent_result res;
        osr_agent_run(&o, &req, &t.sink, &res);
        ec = exit_code(&res);
        enum osr_agent_status status = res.status;
        osr_agent_result_release(&res);
        if (status == OSR_AGENT_CANCELLED) {
            fprintf(stderr, "osaurus run: cancelled\n");
            break;
        }
        if (status == OSR_AGENT_CLARIFY && !interactive) {
            /* a one-shot run asks on the terminal when there is one */
            if (!tty_in) {
                fprintf(stderr, "osaurus run: the agent needs an answer; run it interactively\n");
                break;
            }
            fputs("answer> ", stderr);
            if (!read_line(stdin, &line) || line.len == 0 || add_user(&req, line.data, line.len))
                break;
            continue;
        }
        if (!interactive)
            break;
    }
out:
    osr_buf_release(&line);
    osr_chat_request_release(&req);
    return ec;
}

int osr_cmd_run(int argc, char **argv)
{
    struct args a = {0};
    osr_buf_init(&a.prompt, (size_t)1024 * 1024);
    int ec = parse_args(argc, argv, &a);
    if (ec >= 0) {
        osr_buf_release(&a.prompt);
        return ec;
    }
    char *home = osr_home_resolve(a.home);
    if (!home) {
        fprintf(stderr, "osaurus run: no home directory (set OSAURUS_HOME or HOME)\n");
        osr_buf_release(&a.prompt);
        return OSR_EXIT_FAILURE;
    }
    osr_log_set_level(OSR_LOG_ERROR); /* the terminal is for the run */
    struct osr_server_config cfg;
    struct osr_diag d;
    osr_diag_clear(&d);
    osr_server_config_defaults(&cfg);
    if (osr_server_config_load(&cfg, home, &d) != OSR_OK) {
        fprintf(stderr, "osaurus run: %s\n", d.msg);
        osr_server_config_release(&cfg);
        free(home);
        osr_buf_release(&a.prompt);
        return OSR_EXIT_CONFIG;
    }
    struct osr_serve_stack st;
    osr_serve_stack_init(&st, NULL, home, &cfg);
    struct json_object *agent = st.agents ? find_agent(st.agents, a.agent) : NULL;
    if (agent) {
        struct sigaction sa = {.sa_handler = on_sigint};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        ec = run_session(&st, agent, &a);
        signal(SIGINT, SIG_DFL);
    } else {
        ec = OSR_EXIT_FAILURE;
    }
    json_object_put(agent);
    osr_serve_stack_release(&st);
    osr_server_config_release(&cfg);
    free(home);
    osr_buf_release(&a.prompt);
    return ec;
}
