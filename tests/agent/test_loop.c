/* test_loop.c - the agent loop driven by a scripted model (script_model.h): planning with
 * todo, tool calls in order, complete (and a refused placeholder summary), clarify and resume,
 * a denied tool, a tool the agent turned off, invalid arguments, a model error, budgets,
 * cancellation from the caller and from a vanished consumer, artifacts, and the checks behind
 * todo and complete. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "agent/script_model.h"
#include "osr/agent_loop.h"
#include "osr/config.h"
#include "osr/json.h"
#include "osr/log.h"

static const char *const script_json =
    "{"
    "\"plan\":["
    " {\"text\":\"Let me plan.\",\"calls\":[{\"name\":\"todo\",\"arguments\":{\"markdown\":"
    "   \"- [ ] add numbers\\n- [ ] report\"}}]},"
    " {\"calls\":[{\"name\":\"calculator\",\"arguments\":{\"expression\":\"2+3\"}},"
    "             {\"name\":\"todo\",\"arguments\":{\"markdown\":\"- [x] add numbers\\n- [ ] "
    "report\"}}]},"
    " {\"calls\":[{\"name\":\"complete\",\"arguments\":{\"summary\":\"done\"}}]},"
    " {\"calls\":[{\"name\":\"complete\",\"arguments\":{\"summary\":\"Added 2 and 3 with the "
    "calculator tool and got 5; the checklist is up to date.\"}},"
    "             {\"name\":\"calculator\",\"arguments\":{\"expression\":\"1+1\"}}]}"
    "],"
    "\"ask\":["
    " {\"calls\":[{\"name\":\"clarify\",\"arguments\":{\"question\":\"Which file?\",\"options\":"
    "   [\"a.txt\",\"b.txt\"]}}]},"
    " {\"calls\":[{\"name\":\"complete\",\"arguments\":{\"summary\":\"Used the file the user "
    "chose after asking which one was meant.\"}}]}"
    "],"
    "\"bad\":["
    " {\"calls\":[{\"name\":\"calculator\",\"arguments\":{\"expr\":\"1\"}},"
    "             {\"name\":\"calculator\",\"raw\":\"{not json\"},"
    "             {\"name\":\"no_such_tool\",\"arguments\":{}}]},"
    " {\"text\":\"I give up.\"}"
    "],"
    "\"answer\":[{\"reasoning\":\"easy\",\"text\":\"Paris is the capital.\"}],"
    "\"loop\":[{\"calls\":[{\"name\":\"current_time\",\"arguments\":{}}]},"
    "          {\"calls\":[{\"name\":\"current_time\",\"arguments\":{}}]},"
    "          {\"calls\":[{\"name\":\"current_time\",\"arguments\":{}}]},"
    "          {\"calls\":[{\"name\":\"current_time\",\"arguments\":{}}]}],"
    "\"broken\":[{\"error\":\"upstream exploded\"}],"
    "\"slow\":[{\"calls\":[{\"name\":\"current_time\",\"arguments\":{}}]},"
    "          {\"delay_ms\":5000,\"text\":\"late\"}],"
    "\"share\":["
    " {\"calls\":[{\"name\":\"share_artifact\",\"arguments\":{\"content\":\"# Report\\nall "
    "good\\n\",\"filename\":\"../report.md\",\"description\":\"the report\"}},"
    "             {\"name\":\"share_artifact\",\"arguments\":{\"path\":\"../outside.txt\"}},"
    "             {\"name\":\"share_artifact\",\"arguments\":{\"path\":\"notes.txt\"}}]},"
    " {\"calls\":[{\"name\":\"complete\",\"arguments\":{\"summary\":\"Shared the report and "
    "the notes file as artifacts for the user.\"}}]}"
    "],"
    "\"files\":["
    " {\"calls\":[{\"name\":\"todo\",\"arguments\":{\"markdown\":\"- [ ] read\\n- [ ] fix\\n- [ ] "
    "check\"}}]},"
    " {\"calls\":[{\"name\":\"file_read\",\"arguments\":{\"path\":\"greet.sh\"}}]},"
    " {\"calls\":[{\"name\":\"file_edit\",\"arguments\":{\"path\":\"greet.sh\",\"old_string\":"
    "   \"helo\",\"new_string\":\"hello\"}},"
    "             {\"name\":\"file_read\",\"arguments\":{\"path\":\"../outside.txt\"}}]},"
    " {\"calls\":[{\"name\":\"shell_run\",\"arguments\":{\"command\":\"sh greet.sh > out.txt && "
    "cat out.txt\"}}]},"
    " {\"calls\":[{\"name\":\"complete\",\"arguments\":{\"summary\":\"Fixed the typo in greet.sh "
    "and ran it: it prints hello world now.\"}}]}"
    "],"
    "\"sleepy\":[{\"calls\":[{\"name\":\"shell_run\",\"arguments\":{\"command\":\"sleep 30\"}}]},"
    "            {\"text\":\"never\"}]"
    "}";

static struct osr_chat_service *svc;
static struct script_backend *sb;
static struct osr_tools *tools;
static char home[256];

/* A sink that writes one line per event: KIND name|text. */
struct rec {
    struct osr_sink sink;
    struct osr_buf log;
    int stop_after; /* refuse events after this many (0: never) */
    int n;
};

static int rec_emit(struct osr_sink *s, const struct osr_event *ev)
{
    struct rec *r = s->ctx;
    r->n++;
    if (r->stop_after && r->n > r->stop_after)
        return 1;
    osr_buf_appendf(&r->log, "%s", osr_event_kind_name(ev->kind));
    if (ev->name.n)
        osr_buf_appendf(&r->log, " %.*s", (int)ev->name.n, ev->name.p);
    if (ev->kind == OSR_EV_TEXT_DELTA || ev->kind == OSR_EV_REASONING_DELTA)
        osr_buf_appendf(&r->log, " %.*s", (int)ev->text.n, ev->text.p);
    if (ev->kind == OSR_EV_TOOL_DONE)
        osr_buf_appendf(&r->log, " %s", ev->is_error ? "error" : "ok");
    if (ev->kind == OSR_EV_FINISH)
        osr_buf_appendf(&r->log, " %s", osr_finish_name(ev->finish));
    osr_buf_putc(&r->log, '\n');
    return 0;
}

static void rec_init(struct rec *r)
{
    memset(r, 0, sizeof(*r));
    r->sink.emit = rec_emit;
    r->sink.ctx = r;
    osr_buf_init(&r->log, 1u << 20);
}

static void user_request(struct osr_chat_request *req, const char *text)
{
    osr_chat_request_init(req, OSR_CHAT_ARENA_MAX);
    struct osr_message *m = osr_chat_request_add_message(req, OSR_ROLE_USER);
    osr_chat_message_add_text(req, m, text, strlen(text));
}

static struct osr_agent_run_opts opts_for(const char *model)
{
    struct osr_agent_run_opts o = {.svc = svc, .tools = tools, .home = home, .model = model};
    return o;
}

static void test_setup(void)
{
    osr_log_set_level(OSR_LOG_ERROR);
    const char *tmp = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr_loop_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(home) != NULL);
    svc = osr_chat_service_new();
    sb = script_backend_new(script_json);
    osr_chat_service_add_backend(svc, &sb->b);
    tools = osr_tools_new();
    REQUIRE(osr_tools_add_builtins(tools, NULL) == OSR_OK);
}

static void test_plan_tools_complete(void)
{
    struct osr_chat_request req;
    user_request(&req, "add 2 and 3");
    struct rec r;
    rec_init(&r);
    struct json_object *agent = NULL;
    const char *aj = "{\"systemPrompt\":\"You are Calc.\",\"temperature\":0.25}";
    osr_json_parse(aj, strlen(aj), &agent, NULL);
    struct osr_agent_run_opts o = opts_for("script/plan");
    o.agent = agent;
    o.session_id = "s-plan";
    struct osr_agent_result res;
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_OK);
    CHECK_INT_EQ(res.status, OSR_AGENT_COMPLETED);
    CHECK_INT_EQ(res.iterations, 4);
    CHECK_INT_EQ(res.tool_calls, 5); /* todo, calculator, todo, complete (refused), complete */
    CHECK_STR_EQ(res.summary, "Added 2 and 3 with the calculator tool and got 5; the checklist "
                              "is up to date.");
    CHECK_STR_EQ(res.todo, "- [x] add numbers\n- [ ] report");
    CHECK_INT_EQ(res.usage.prompt_tokens, 400);
    CHECK_INT_EQ(res.usage.completion_tokens, 40);
    const char *log = osr_buf_str(&r.log);
    const char *head = "role\ntext Let me\ntext  plan.\ntool_started todo\n";
    CHECK(strncmp(log, head, strlen(head)) == 0);
    /* the calls in the model's order, each started then done */
    const char *a = strstr(log, "tool_started calculator\ntool_done calculator ok\n"
                                "tool_started todo\ntool_done todo ok\ntodo\n");
    CHECK(a != NULL);
    CHECK(strstr(log, "tool_done complete error\n") != NULL); /* "done" is a placeholder */
    /* after complete, the second calculator call is not run */
    CHECK(strstr(log, "tool_started complete\ntool_done complete ok\ntext \n\nAdded 2") !=
          NULL);
    CHECK(strstr(log, "calculator ok\ntool_started todo") != NULL);
    size_t n = strlen(log);
    CHECK(n > 20 && strcmp(log + n - 12, "finish stop\n") == 0);
    /* what the model saw last: the system prompt, its tools, the envelopes */
    char *dump = script_last_dump(sb);
    CHECK(strstr(dump, "You are Calc.") != NULL);
    CHECK(strstr(dump, "call `complete`") != NULL);
    CHECK(strstr(dump, "\"temperature\":0.25") != NULL);
    CHECK(strstr(dump, "\\\"value\\\":5,") != NULL);
    CHECK(strstr(dump, "placeholder") != NULL);
    CHECK_INT_EQ(sb->last_tools, 6); /* 4 loop tools + calculator + current_time */
    free(dump);
    /* the request grew by the turns: user, 4 assistants, 6 tool results, system */
    CHECK_INT_EQ(req.n_messages, 1 + 1 + 4 + 6);
    CHECK_INT_EQ(req.messages[0].role, OSR_ROLE_SYSTEM);
    CHECK_INT_EQ(req.messages[req.n_messages - 1].role, OSR_ROLE_TOOL);
    CHECK(strstr(req.messages[req.n_messages - 1].parts[0].text.p, "not run") != NULL);
    osr_agent_result_release(&res);
    osr_chat_request_release(&req);
    osr_buf_release(&r.log);
    json_object_put(agent);
}

static void test_clarify_and_resume(void)
{
    struct osr_chat_request req;
    user_request(&req, "edit the file");
    struct rec r;
    rec_init(&r);
    struct osr_agent_run_opts o = opts_for("script/ask");
    struct osr_agent_result res;
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_OK);
    CHECK_INT_EQ(res.status, OSR_AGENT_CLARIFY);
    CHECK_STR_EQ(res.question, "Which file?");
    REQUIRE(res.options && json_object_array_length(res.options) == 2);
    CHECK(strstr(osr_buf_str(&r.log), "text Which file?\n- a.txt\n- b.txt\nusage\n"
                                      "finish stop\n") != NULL);
    osr_agent_result_release(&res);
    /* the user answers; the same conversation goes on */
    struct osr_message *m = osr_chat_request_add_message(&req, OSR_ROLE_USER);
    osr_chat_message_add_text(&req, m, "b.txt", 5);
    osr_buf_reset(&r.log);
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_OK);
    CHECK_INT_EQ(res.status, OSR_AGENT_COMPLETED);
    CHECK_INT_EQ(res.iterations, 1);
    /* one system prompt, not two */
    int systems = 0;
    for (size_t i = 0; i < req.n_messages; i++)
        systems += req.messages[i].role == OSR_ROLE_SYSTEM;
    CHECK_INT_EQ(systems, 1);
    osr_agent_result_release(&res);
    osr_chat_request_release(&req);
    osr_buf_release(&r.log);
}

static void test_bad_calls(void)
{
    struct osr_chat_request req;
    user_request(&req, "compute");
    struct rec r;
    rec_init(&r);
    struct osr_agent_run_opts o = opts_for("script/bad");
    struct osr_agent_result res;
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_OK);
    CHECK_INT_EQ(res.status, OSR_AGENT_ANSWERED);
    CHECK_STR_EQ(res.text, "I give up.");
    /* the three envelopes the model saw */
    REQUIRE(req.n_messages >= 6);
    const char *e1 = req.messages[3].parts[0].text.p;
    const char *e2 = req.messages[4].parts[0].text.p;
    const char *e3 = req.messages[5].parts[0].text.p;
    CHECK(strstr(e1, "\"kind\":\"invalid_args\"") != NULL);
    CHECK(strstr(e1, "\"field\":\"expr\"") != NULL || strstr(e1, "\"field\":\"expression\"") != NULL);
    CHECK(strstr(e2, "\"kind\":\"invalid_args\"") != NULL && strstr(e2, "not valid JSON") != NULL);
    CHECK(strstr(e3, "\"kind\":\"tool_not_found\"") != NULL);
    CHECK(req.messages[5].parts[0].result.is_error);
    CHECK_STR_EQ(req.messages[3].parts[0].result.call_id, "call_s0_0");
    osr_agent_result_release(&res);
    osr_chat_request_release(&req);
    osr_buf_release(&r.log);
}

static void test_denied_and_disabled(void)
{
    struct osr_chat_request req;
    user_request(&req, "compute");
    struct rec r;
    rec_init(&r);
    /* calculator denied by policy: the call is rejected */
    REQUIRE(osr_tools_set_policy(tools, "calculator", OSR_TOOL_POLICY_DENY) == OSR_OK);
    struct osr_agent_run_opts o = opts_for("script/plan");
    struct osr_agent_result res;
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_OK);
    CHECK_INT_EQ(res.status, OSR_AGENT_COMPLETED);
    REQUIRE(req.n_messages > 5 && req.messages[5].n_parts == 1);
    CHECK(strstr(req.messages[5].parts[0].text.p, "\"kind\":\"rejected\"") != NULL);
    osr_agent_result_release(&res);
    osr_chat_request_release(&req);
    REQUIRE(osr_tools_set_policy(tools, "calculator", OSR_TOOL_POLICY_AUTO) == OSR_OK);

    /* calculator turned off for the agent: not offered, not callable; complete stays */
    struct json_object *agent = NULL;
    const char *aj = "{\"enabledTools\":{\"calculator\":false,\"complete\":false}}";
    osr_json_parse(aj, strlen(aj), &agent, NULL);
    user_request(&req, "compute");
    o.agent = agent;
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_OK);
    CHECK_INT_EQ(res.status, OSR_AGENT_COMPLETED);
    CHECK_INT_EQ(sb->last_tools, 5);
    CHECK(osr_chat_request_find_tool(&req, "calculator") == NULL);
    CHECK(osr_chat_request_find_tool(&req, "complete") != NULL);
    REQUIRE(req.n_messages > 5 && req.messages[5].n_parts == 1);
    CHECK(strstr(req.messages[5].parts[0].text.p, "\"kind\":\"tool_not_found\"") != NULL);
    osr_agent_result_release(&res);
    osr_chat_request_release(&req);
    osr_buf_release(&r.log);
    json_object_put(agent);
}

static void test_answer_error_budget(void)
{
    struct osr_chat_request req;
    struct rec r;
    struct osr_agent_result res;
    struct osr_agent_run_opts o = opts_for("script/answer");

    user_request(&req, "capital of France?");
    rec_init(&r);
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_OK);
    CHECK_INT_EQ(res.status, OSR_AGENT_ANSWERED);
    CHECK_STR_EQ(osr_buf_str(&r.log), "role\nreasoning easy\ntext Paris is t\n"
                                      "text he capital.\nusage\nfinish stop\n");
    osr_agent_result_release(&res);
    osr_chat_request_release(&req);
    osr_buf_release(&r.log);

    o.model = "script/broken";
    user_request(&req, "x");
    rec_init(&r);
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_OK);
    CHECK_INT_EQ(res.status, OSR_AGENT_FAILED);
    CHECK(res.error && strstr(res.error, "upstream exploded") != NULL);
    CHECK_STR_EQ(osr_buf_str(&r.log), "role\nerror\n");
    osr_agent_result_release(&res);
    osr_chat_request_release(&req);
    osr_buf_release(&r.log);

    o.model = "script/loop";
    o.max_iterations = 3;
    user_request(&req, "x");
    rec_init(&r);
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_OK);
    CHECK_INT_EQ(res.status, OSR_AGENT_MAX_ITERATIONS);
    CHECK_INT_EQ(res.iterations, 3);
    CHECK(strstr(osr_buf_str(&r.log), "iteration budget ran out") != NULL);
    CHECK(strstr(osr_buf_str(&r.log), "finish length\n") != NULL);
    osr_agent_result_release(&res);
    osr_chat_request_release(&req);
    osr_buf_release(&r.log);

    o.model = "script/nonexistent";
    o.max_iterations = 0;
    user_request(&req, "x");
    rec_init(&r);
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_ENOTFOUND);
    CHECK_INT_EQ(r.n, 0);
    osr_agent_result_release(&res);
    o.model = NULL; /* neither the caller nor the agent names one */
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_ENOTFOUND);
    osr_agent_result_release(&res);
    osr_chat_request_release(&req);
    osr_buf_release(&r.log);
}

static atomic_int cancel_flag;

static bool cancel_fn(void *ctx)
{
    (void)ctx;
    return atomic_load(&cancel_flag) != 0;
}

static void *cancel_later(void *arg)
{
    (void)arg;
    osr_sleep_ms(150);
    atomic_store(&cancel_flag, 1);
    return NULL;
}

static void test_cancel(void)
{
    struct osr_chat_request req;
    struct rec r;
    struct osr_agent_result res;
    struct osr_agent_run_opts o = opts_for("script/slow");
    struct osr_chat_cancel c = {.fn = cancel_fn};
    o.cancel = &c;
    user_request(&req, "x");
    rec_init(&r);
    atomic_store(&cancel_flag, 0);
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, NULL);
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_ECANCELED);
    pthread_join(th, NULL);
    CHECK_INT_EQ(res.status, OSR_AGENT_CANCELLED);
    CHECK(strstr(osr_buf_str(&r.log), "finish cancelled\n") != NULL);
    CHECK(strstr(osr_buf_str(&r.log), "late") == NULL);
    osr_agent_result_release(&res);
    osr_chat_request_release(&req);
    osr_buf_release(&r.log);

    /* the consumer goes away after the first tool started */
    o.cancel = NULL;
    o.model = "script/plan";
    user_request(&req, "x");
    rec_init(&r);
    r.stop_after = 4;
    int before = atomic_load(&sb->requests);
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_ECANCELED);
    CHECK_INT_EQ(res.status, OSR_AGENT_CANCELLED);
    CHECK_INT_EQ(atomic_load(&sb->requests) - before, 1); /* no second model turn */
    osr_agent_result_release(&res);
    osr_chat_request_release(&req);
    osr_buf_release(&r.log);
}

static void test_artifacts(void)
{
    char folder[512], path[700];
    snprintf(folder, sizeof(folder), "%s/work", home);
    REQUIRE(mkdir(folder, 0700) == 0);
    snprintf(path, sizeof(path), "%s/notes.txt", folder);
    REQUIRE(osr_write_file_atomic(path, "note one\n", 9, 0600, NULL) == OSR_OK);
    snprintf(path, sizeof(path), "%s/outside.txt", home);
    REQUIRE(osr_write_file_atomic(path, "secret\n", 7, 0600, NULL) == OSR_OK);

    struct osr_chat_request req;
    struct rec r;
    struct osr_agent_result res;
    struct osr_agent_run_opts o = opts_for("script/share");
    o.folder = folder;
    o.session_id = "sess-1";
    user_request(&req, "share");
    rec_init(&r);
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_OK);
    CHECK_INT_EQ(res.status, OSR_AGENT_COMPLETED);
    const char *log = osr_buf_str(&r.log);
    CHECK(strstr(log, "artifact report.md\n") != NULL);
    CHECK(strstr(log, "artifact notes.txt\n") != NULL);
    CHECK(strstr(req.messages[4].parts[0].text.p, "\"kind\":\"rejected\"") != NULL);
    char *data = NULL;
    size_t n = 0;
    snprintf(path, sizeof(path), "%s/artifacts/sess-1/report.md", home);
    CHECK(osr_read_file(path, 1024, &data, &n, NULL) == OSR_OK && n == 18 &&
          memcmp(data, "# Report\nall good\n", 18) == 0);
    free(data);
    snprintf(path, sizeof(path), "%s/artifacts/sess-1/notes.txt", home);
    CHECK(osr_read_file(path, 1024, &data, &n, NULL) == OSR_OK && n == 9);
    free(data);
    snprintf(path, sizeof(path), "%s/artifacts/sess-1/outside.txt", home);
    CHECK(access(path, F_OK) != 0);
    osr_agent_result_release(&res);
    osr_chat_request_release(&req);
    osr_buf_release(&r.log);
}

static bool approve_all(void *ctx, const char *tool, struct json_object *args)
{
    (void)args;
    int *asked = ctx;
    (*asked)++;
    return strcmp(tool, "shell_run") == 0;
}

static bool refuse_all(void *ctx, const char *tool, struct json_object *args)
{
    (void)ctx;
    (void)tool;
    (void)args;
    return false;
}

static char *read_text(const char *dir, const char *name)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *data = NULL;
    size_t n = 0;
    if (osr_read_file(path, 1 << 20, &data, &n, NULL) != OSR_OK)
        return NULL;
    return data;
}

/* The multi-step file task: plan, read, edit, run, complete; checked on disk. */
static void test_folder_task(void)
{
    char folder[512], path[700], log[512];
    snprintf(folder, sizeof(folder), "%s/proj", home);
    REQUIRE(mkdir(folder, 0700) == 0);
    snprintf(path, sizeof(path), "%s/greet.sh", folder);
    REQUIRE(osr_write_file_atomic(path, "echo helo world\n", 16, 0600, NULL) == OSR_OK);
    snprintf(log, sizeof(log), "%s/logs/actions.jsonl", home);

    struct osr_chat_request req;
    struct rec r;
    struct osr_agent_result res;
    int asked = 0;
    struct osr_agent_run_opts o = opts_for("script/files");
    o.folder = folder;
    o.approve = approve_all;
    o.approve_ctx = &asked;
    o.folder_log = log;
    user_request(&req, "fix the greeting");
    rec_init(&r);
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_OK);
    CHECK_INT_EQ(res.status, OSR_AGENT_COMPLETED);
    CHECK_INT_EQ(asked, 1); /* shell_run asked; the file tools did not */
    CHECK(osr_chat_request_find_tool(&req, "file_edit") != NULL);
    CHECK(osr_chat_request_find_tool(&req, "git_status") != NULL);
    char *text = read_text(folder, "greet.sh");
    CHECK(text && strcmp(text, "echo hello world\n") == 0);
    free(text);
    text = read_text(folder, "out.txt");
    CHECK(text && strcmp(text, "hello world\n") == 0);
    free(text);
    const char *lg = osr_buf_str(&r.log);
    CHECK(strstr(lg, "tool_started file_edit\ntool_done file_edit ok\ntool_started file_read\n"
                     "tool_done file_read error\n") != NULL);
    CHECK(strstr(lg, "tool_done shell_run ok\n") != NULL);
    /* the envelope of the escape attempt, and the command's output, as the model saw them */
    bool rejected = false, ran = false;
    for (size_t i = 0; i < req.n_messages; i++) {
        const struct osr_message *m = &req.messages[i];
        if (m->role != OSR_ROLE_TOOL)
            continue;
        rejected |= strstr(m->parts[0].text.p, "\"kind\":\"rejected\"") != NULL;
        ran |= strstr(m->parts[0].text.p, "\"exit_code\":0") != NULL &&
               strstr(m->parts[0].text.p, "hello world") != NULL;
    }
    CHECK(rejected);
    CHECK(ran);
    text = read_text(home, "logs/actions.jsonl"); /* the edit and the command were logged */
    CHECK(text && strstr(text, "file_edit") != NULL && strstr(text, "shell_run") != NULL);
    free(text);
    osr_agent_result_release(&res);
    osr_chat_request_release(&req);
    osr_buf_release(&r.log);

    /* refused by the user: the model gets user_denied, nothing runs */
    REQUIRE(osr_write_file_atomic(path, "echo helo world\n", 16, 0600, NULL) == OSR_OK);
    snprintf(path, sizeof(path), "%s/out.txt", folder);
    unlink(path);
    o.approve = refuse_all;
    user_request(&req, "fix the greeting");
    rec_init(&r);
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_OK);
    CHECK(access(path, F_OK) != 0);
    bool denied = false;
    for (size_t i = 0; i < req.n_messages; i++)
        if (req.messages[i].role == OSR_ROLE_TOOL)
            denied |= strstr(req.messages[i].parts[0].text.p, "\"kind\":\"user_denied\"") != NULL;
    CHECK(denied);
    osr_agent_result_release(&res);
    osr_chat_request_release(&req);
    osr_buf_release(&r.log);

    /* a cancel stops a running command */
    o.model = "script/sleepy";
    o.approve = approve_all;
    struct osr_chat_cancel c = {.fn = cancel_fn};
    o.cancel = &c;
    atomic_store(&cancel_flag, 0);
    user_request(&req, "wait");
    rec_init(&r);
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, NULL);
    CHECK_INT_EQ(osr_agent_run(&o, &req, &r.sink, &res), OSR_ECANCELED);
    pthread_join(th, NULL);
    CHECK_INT_EQ(res.status, OSR_AGENT_CANCELLED);
    /* the command was stopped, not waited for: its envelope says so */
    REQUIRE(req.n_messages >= 4 && req.messages[req.n_messages - 1].role == OSR_ROLE_TOOL);
    CHECK(strstr(req.messages[req.n_messages - 1].parts[0].text.p, "the run was cancelled") != NULL);
    CHECK(strstr(osr_buf_str(&r.log), "tool_done shell_run error\n") != NULL);
    osr_agent_result_release(&res);
    osr_chat_request_release(&req);
    osr_buf_release(&r.log);
}

static void test_checks(void)
{
    CHECK(osr_agent_check_summary("done") != NULL);
    CHECK(osr_agent_check_summary("  Looks good! ") != NULL);
    CHECK(osr_agent_check_summary("Finished.") != NULL);
    CHECK(osr_agent_check_summary("short but not a placeholder") != NULL);
    CHECK(osr_agent_check_summary(NULL) != NULL);
    CHECK(osr_agent_check_summary("Renamed the function and updated both callers; tests pass.") ==
          NULL);
    struct json_object *t = osr_agent_parse_todo("# Plan\n- [ ] one\n  - [x] two\n* [X] three\n"
                                                 "        - [ ] too deep\n- [?] odd\n-[ ] tight\n"
                                                 "- [ ]\n");
    REQUIRE(json_object_array_length(t) == 3);
    CHECK_STR_EQ(json_object_get_string(
                     json_object_object_get(json_object_array_get_idx(t, 1), "text")),
                 "two");
    CHECK(json_object_get_boolean(json_object_object_get(json_object_array_get_idx(t, 2), "done")));
    CHECK(!json_object_get_boolean(json_object_object_get(json_object_array_get_idx(t, 0), "done")));
    json_object_put(t);
    t = osr_agent_parse_todo(NULL);
    CHECK_INT_EQ(json_object_array_length(t), 0);
    json_object_put(t);
}

static void test_teardown(void)
{
    osr_tools_free(tools);
    osr_chat_service_free(svc);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    CHECK(system(cmd) == 0);
}

TEST_MAIN(test_setup, test_plan_tools_complete, test_clarify_and_resume, test_bad_calls,
          test_denied_and_disabled, test_answer_error_budget, test_cancel, test_artifacts,
          test_folder_task, test_checks, test_teardown)
