/* test_agent_run.c - the agent routes end to end: `osaurus serve`'s stack in-process over a
 * temporary home whose providers/remote.json points at the scripted model server
 * (script_upstream.h), so every model turn crosses the real provider client.
 *   POST /agents/{id}/run   streamed (content, osaurus_agent_tool chunks, [DONE]) and buffered;
 *                           the agent's default model; unknown agent/model; a bad body
 *   POST /agents/{id}/dispatch + GET /tasks/{id} + POST /tasks/{id}/clarify + DELETE
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "agent/script_upstream.h"
#include "check.h"
#include "net/http_test_client.h"
#include "osr/api_agent_run.h"
#include "osr/json.h"
#include "osr/log.h"
#include "osr/serve_stack.h"

static const char *const script_json =
    "{"
    "\"plan\":["
    " {\"text\":\"Planning.\",\"calls\":[{\"name\":\"todo\",\"arguments\":{\"markdown\":"
    "   \"- [ ] add\\n- [ ] report\"}}]},"
    " {\"calls\":[{\"name\":\"calculator\",\"arguments\":{\"expression\":\"6*7\",\"api_key\":"
    "   \"sk-hidden\"}}]},"
    " {\"calls\":[{\"name\":\"calculator\",\"arguments\":{\"expression\":\"6*7\"}}]},"
    " {\"calls\":[{\"name\":\"complete\",\"arguments\":{\"summary\":\"Multiplied six by seven "
    "with the calculator and got 42.\"}}]}"
    "],"
    "\"ask\":["
    " {\"calls\":[{\"name\":\"clarify\",\"arguments\":{\"question\":\"Which colour?\"}}]},"
    " {\"calls\":[{\"name\":\"complete\",\"arguments\":{\"summary\":\"Painted it in the colour "
    "the user picked after asking.\"}}]}"
    "],"
    "\"files\":["
    " {\"calls\":[{\"name\":\"todo\",\"arguments\":{\"markdown\":\"- [ ] read\\n- [ ] fix\\n- [ ] "
    "run\"}}]},"
    " {\"calls\":[{\"name\":\"file_read\",\"arguments\":{\"path\":\"greet.sh\"}}]},"
    " {\"calls\":[{\"name\":\"file_edit\",\"arguments\":{\"path\":\"greet.sh\",\"old_string\":"
    "   \"helo\",\"new_string\":\"hello\"}}]},"
    " {\"calls\":[{\"name\":\"shell_run\",\"arguments\":{\"command\":\"sh greet.sh > out.txt\"}},"
    "             {\"name\":\"git_commit\",\"arguments\":{\"message\":\"x\"}}]},"
    " {\"calls\":[{\"name\":\"complete\",\"arguments\":{\"summary\":\"Fixed the typo in greet.sh "
    "and ran it into out.txt.\"}}]}"
    "],"
    "\"slow\":[{\"calls\":[{\"name\":\"current_time\",\"arguments\":{}}]},"
    "          {\"delay_ms\":20000,\"text\":\"late\"}]"
    "}";

static char home[256];
static char base[64];
static struct script_upstream su;
static struct osr_server_config cfg;
static struct osr_http_server *srv;
static struct osr_serve_stack stack;
static char agent_id[64];

static struct test_resp post(const char *path, const char *body)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", base, path);
    const char *h[] = {"Content-Type: application/json", NULL};
    return test_request(NULL, "POST", url, body, strlen(body), h);
}

static struct test_resp get(const char *path)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", base, path);
    return test_request(NULL, "GET", url, NULL, 0, NULL);
}

static struct json_object *json_of(const struct test_resp *r)
{
    struct json_object *o = NULL;
    if (osr_json_parse(osr_buf_str(&r->body), r->body.len, &o, NULL) != OSR_OK)
        return NULL;
    return o;
}

static const char *str_at(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static void test_setup(void)
{
    osr_log_set_level(OSR_LOG_ERROR);
    const char *tmp = getenv("TMPDIR");
    snprintf(home, sizeof(home), "%s/osr_agent_run_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(home) != NULL);
    setenv("HOME", home, 1);
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_HOME");
    unsetenv("OLLAMA_MODELS");
    unsetenv("OSU_MODELS_DIR");
    unsetenv("http_proxy");
    unsetenv("all_proxy");
    REQUIRE(script_upstream_start(&su, script_json) == 0);
    REQUIRE(script_upstream_write_remote(&su, home) == 0);
    osr_server_config_defaults(&cfg);
    srv = osr_http_server_new(&cfg, 0);
    osr_serve_stack_init(&stack, srv, home, &cfg);
    REQUIRE(osr_http_server_start(srv, NULL) == OSR_OK);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", osr_http_server_port(srv));

    struct test_resp r = post("/agents", "{\"name\":\"Calc\",\"system_prompt\":\"You are Calc.\","
                                         "\"default_model\":\"fake/plan\"}");
    CHECK_INT_EQ(r.status, 201);
    struct json_object *o = json_of(&r);
    REQUIRE(str_at(o, "id"));
    snprintf(agent_id, sizeof(agent_id), "%s", str_at(o, "id"));
    json_object_put(o);
    test_resp_release(&r);
}

/* The data: payloads of an SSE body, parsed. */
static struct json_object *sse_events(const char *body)
{
    struct json_object *all = json_object_new_array();
    const char *p = body;
    while ((p = strstr(p, "data: ")) != NULL) {
        p += 6;
        const char *end = strstr(p, "\n\n");
        if (!end)
            break;
        if (strncmp(p, "[DONE]", 6) == 0) {
            json_object_array_add(all, json_object_new_string("[DONE]"));
        } else {
            struct json_object *o = NULL;
            if (osr_json_parse(p, (size_t)(end - p), &o, NULL) == OSR_OK)
                json_object_array_add(all, o);
        }
        p = end;
    }
    return all;
}

static void test_run_stream(void)
{
    char path[128];
    snprintf(path, sizeof(path), "/agents/%s/run", agent_id);
    struct test_resp r = post(path, "{\"messages\":[{\"role\":\"user\",\"content\":\"6 times "
                                    "7?\"}],\"stream\":true,\"session_id\":\"s-run-1\"}");
    CHECK_INT_EQ(r.status, 200);
    struct json_object *ev = sse_events(osr_buf_str(&r.body));
    size_t n = json_object_array_length(ev);
    REQUIRE(n > 5);
    CHECK_STR_EQ(json_object_get_string(json_object_array_get_idx(ev, n - 1)), "[DONE]");
    struct osr_buf content, tools;
    osr_buf_init(&content, 1 << 20);
    osr_buf_init(&tools, 1 << 20);
    const char *finish = NULL;
    bool saw_redacted = false, saw_secret = false;
    for (size_t i = 0; i + 1 < n; i++) {
        struct json_object *c = json_object_array_get_idx(ev, i), *x = NULL, *ch = NULL;
        if (json_object_object_get_ex(c, "osaurus_agent_tool", &x)) {
            CHECK_INT_EQ(json_object_array_length(json_object_object_get(c, "choices")), 0);
            osr_buf_appendf(&tools, "%s:%s;", str_at(x, "phase"), str_at(x, "name"));
            const char *args = str_at(x, "arguments");
            if (args && strstr(args, "[redacted]"))
                saw_redacted = true;
            if (args && strstr(args, "sk-hidden"))
                saw_secret = true;
            if (strcmp(str_at(x, "phase"), "completed") == 0) {
                CHECK(json_object_object_get_ex(x, "duration_ms", NULL));
                CHECK(json_object_object_get_ex(x, "result", NULL));
            }
            continue;
        }
        if (json_object_object_get_ex(c, "choices", &ch) && json_object_array_length(ch) == 1) {
            struct json_object *c0 = json_object_array_get_idx(ch, 0), *delta = NULL;
            if (json_object_object_get_ex(c0, "delta", &delta) && str_at(delta, "content"))
                osr_buf_puts(&content, str_at(delta, "content"));
            CHECK(!json_object_object_get_ex(delta, "tool_calls", NULL));
            if (str_at(c0, "finish_reason"))
                finish = str_at(c0, "finish_reason");
        }
    }
    CHECK_STR_EQ(osr_buf_str(&tools),
                 "started:todo;completed:todo;started:calculator;completed:calculator;"
                 "started:calculator;completed:calculator;started:complete;completed:complete;");
    CHECK_STR_EQ(osr_buf_str(&content),
                 "Planning.\n\nMultiplied six by seven with the calculator and got 42.");
    CHECK_STR_EQ(finish, "stop");
    CHECK(saw_redacted);
    CHECK(!saw_secret);
    /* the extra api_key argument made the first calculator call invalid: the envelope said so */
    CHECK(strstr(osr_buf_str(&r.body), "invalid_args") != NULL);
    osr_buf_release(&content);
    osr_buf_release(&tools);
    json_object_put(ev);
    test_resp_release(&r);

    /* the run is in the chat history: session s-run-1, tagged with the agent and "http";
     * user, then per turn the assistant's calls and the tool results */
    REQUIRE(stack.history != NULL);
    struct osr_history_session hs;
    REQUIRE(osr_history_session_get(stack.history, "s-run-1", &hs, NULL) == OSR_OK);
    CHECK_STR_EQ(hs.agent, agent_id);
    CHECK_INT_EQ(hs.source, OSR_HISTORY_HTTP);
    CHECK_STR_EQ(hs.title, "6 times 7?");
    osr_history_session_release(&hs);
    struct osr_history_message *msgs = NULL;
    size_t nm = 0;
    REQUIRE(osr_history_messages_get(stack.history, "s-run-1", true, &msgs, &nm, NULL) == OSR_OK);
    CHECK_INT_EQ(nm, 1 + 4 + 4); /* user, 4 assistant turns, 4 tool results */
    if (nm == 9) {
        CHECK_STR_EQ(msgs[0].role, "user");
        CHECK_STR_EQ(msgs[1].role, "assistant");
        CHECK(msgs[1].tool_calls && strstr(msgs[1].tool_calls, "\"todo\"") != NULL);
        CHECK_STR_EQ(msgs[2].role, "tool");
        CHECK(msgs[2].tool_call_id != NULL);
        CHECK(strstr(msgs[8].content, "got 42") != NULL); /* complete's envelope holds it */
        CHECK(strstr(msgs[7].tool_calls, "complete") != NULL);
    }
    osr_history_messages_free(msgs, nm);
}

static void test_run_buffered_and_errors(void)
{
    char path[128];
    snprintf(path, sizeof(path), "/agents/%s/run", agent_id);
    struct test_resp r = post(path, "{\"model\":\"fake/plan\",\"messages\":[{\"role\":\"user\","
                                    "\"content\":\"6 times 7?\"}]}");
    CHECK_INT_EQ(r.status, 200);
    struct json_object *o = json_of(&r);
    struct json_object *choices = json_object_object_get(o, "choices");
    REQUIRE(choices && json_object_array_length(choices) == 1);
    struct json_object *msg = json_object_object_get(json_object_array_get_idx(choices, 0), "message");
    const char *content = str_at(msg, "content");
    CHECK(content && strstr(content, "got 42") != NULL);
    CHECK(!json_object_object_get_ex(msg, "tool_calls", NULL));
    CHECK_STR_EQ(str_at(json_object_array_get_idx(choices, 0), "finish_reason"), "stop");
    json_object_put(o);
    test_resp_release(&r);

    r = post("/agents/6f1c1a52-0000-4000-8000-000000000000/run",
             "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    CHECK_INT_EQ(r.status, 404);
    o = json_of(&r);
    CHECK_STR_EQ(str_at(json_object_object_get(o, "error"), "code"), "agent_not_found");
    json_object_put(o);
    test_resp_release(&r);

    r = post(path, "{\"model\":\"fake/nope-not-here\",\"messages\":[{\"role\":\"user\","
                   "\"content\":\"x\"}]}");
    CHECK(r.status == 404 || r.status == 200); /* a provider model is tried upstream */
    test_resp_release(&r);
    r = post(path, "{\"model\":\"nowhere/none\",\"messages\":[]}");
    CHECK(r.status == 400 || r.status == 404);
    test_resp_release(&r);
    r = post(path, "[1,2]");
    CHECK_INT_EQ(r.status, 400);
    test_resp_release(&r);
    r = post(path, "{\"model\":\"nowhere/none\",\"messages\":[{\"role\":\"user\",\"content\":"
                   "\"x\"}]}");
    CHECK_INT_EQ(r.status, 404);
    o = json_of(&r);
    CHECK_STR_EQ(str_at(json_object_object_get(o, "error"), "code"), "model_not_found");
    json_object_put(o);
    test_resp_release(&r);
    /* the built-in agent has no default model */
    r = post("/agents/" OSR_AGENT_DEFAULT_ID "/run",
             "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    CHECK_INT_EQ(r.status, 400);
    test_resp_release(&r);
}

static struct json_object *poll_task(const char *id, const char *until)
{
    char path[128];
    snprintf(path, sizeof(path), "/tasks/%s", id);
    for (int i = 0; i < 1000; i++) {
        struct test_resp r = get(path);
        struct json_object *o = r.status == 200 ? json_of(&r) : NULL;
        test_resp_release(&r);
        const char *st = str_at(o, "status");
        if (st && strcmp(st, until) == 0)
            return o;
        json_object_put(o);
        osr_sleep_ms(20);
    }
    return NULL;
}

static void test_dispatch_clarify(void)
{
    char path[128];
    snprintf(path, sizeof(path), "/agents/%s/dispatch", agent_id);
    struct test_resp r = post(path, "{\"prompt\":\"paint the fence\",\"model\":\"fake/ask\"}");
    CHECK_INT_EQ(r.status, 202);
    struct json_object *o = json_of(&r);
    test_resp_release(&r);
    REQUIRE(str_at(o, "id"));
    char id[64];
    const char *tid = str_at(o, "id");
    snprintf(id, sizeof(id), "%s", tid ? tid : "");
    CHECK_STR_EQ(str_at(o, "status"), "running");
    char poll[128];
    snprintf(poll, sizeof(poll), "/v1/tasks/%s", id);
    CHECK_STR_EQ(str_at(o, "poll_url"), poll);
    json_object_put(o);

    o = poll_task(id, "awaiting_clarification");
    REQUIRE(o);
    CHECK_STR_EQ(str_at(o, "question"), "Which colour?");
    CHECK_STR_EQ(str_at(o, "title"), "paint the fence");
    json_object_put(o);

    char cpath[160];
    snprintf(cpath, sizeof(cpath), "/tasks/%s/clarify", id);
    r = post(cpath, "{}");
    CHECK_INT_EQ(r.status, 400);
    test_resp_release(&r);
    r = post(cpath, "{\"response\":\"green\"}");
    CHECK_INT_EQ(r.status, 200);
    test_resp_release(&r);
    o = poll_task(id, "completed");
    REQUIRE(o);
    CHECK_STR_EQ(str_at(o, "summary"), "Painted it in the colour the user picked after asking.");
    struct json_object *act = json_object_object_get(o, "activity");
    CHECK(act && json_object_array_length(act) >= 2);
    json_object_put(o);
    r = post(cpath, "{\"response\":\"red\"}");
    CHECK_INT_EQ(r.status, 409); /* not waiting any more */
    test_resp_release(&r);

    r = get("/tasks/00000000-0000-4000-8000-000000000000");
    CHECK_INT_EQ(r.status, 404);
    test_resp_release(&r);
    r = post(path, "{\"title\":\"no prompt\"}");
    CHECK_INT_EQ(r.status, 400);
    test_resp_release(&r);
}

static void test_dispatch_cancel(void)
{
    char path[128];
    snprintf(path, sizeof(path), "/agents/%s/dispatch", agent_id);
    struct test_resp r = post(path, "{\"prompt\":\"take your time\",\"model\":\"fake/slow\"}");
    CHECK_INT_EQ(r.status, 202);
    struct json_object *o = json_of(&r);
    test_resp_release(&r);
    REQUIRE(str_at(o, "id"));
    char id[64], tpath[256];
    snprintf(id, sizeof(id), "%s", str_at(o, "id"));
    json_object_put(o);
    snprintf(tpath, sizeof(tpath), "%s/tasks/%s", base, id);
    osr_sleep_ms(300);
    r = test_request(NULL, "DELETE", tpath, NULL, 0, NULL);
    CHECK_INT_EQ(r.status, 204);
    test_resp_release(&r);
    o = poll_task(id, "cancelled");
    CHECK(o != NULL);
    json_object_put(o);
}

/* An agent with a working folder does a file task through /run; tools.json allows shell_run
 * (nobody can approve over HTTP), git_commit stays "ask" and is refused. */
static void test_run_folder_task(void)
{
    char folder[512], path[700], body[1200];
    snprintf(folder, sizeof(folder), "%s/proj", home);
    REQUIRE(mkdir(folder, 0700) == 0);
    snprintf(path, sizeof(path), "%s/greet.sh", folder);
    REQUIRE(osr_write_file_atomic(path, "echo helo world\n", 16, 0600, NULL) == OSR_OK);
    snprintf(path, sizeof(path), "%s/config", home);
    REQUIRE(osr_mkdir_p(path, 0700, NULL) == OSR_OK);
    snprintf(path, sizeof(path), "%s/config/tools.json", home);
    const char *tj = "{\"policy\":{\"shell_run\":\"auto\"}}";
    REQUIRE(osr_write_file_atomic(path, tj, strlen(tj), 0600, NULL) == OSR_OK);
    snprintf(body, sizeof(body),
             "{\"name\":\"Fixer\",\"default_model\":\"fake/files\",\"working_folder_path\":\"%s\"}",
             folder);
    struct test_resp r = post("/agents", body);
    CHECK_INT_EQ(r.status, 201);
    struct json_object *o = json_of(&r);
    test_resp_release(&r);
    REQUIRE(str_at(o, "id"));
    char rpath[128];
    snprintf(rpath, sizeof(rpath), "/agents/%s/run", str_at(o, "id"));
    json_object_put(o);
    r = post(rpath, "{\"messages\":[{\"role\":\"user\",\"content\":\"fix it\"}],\"stream\":true}");
    CHECK_INT_EQ(r.status, 200);
    const char *sse = osr_buf_str(&r.body);
    CHECK(strstr(sse, "\"category\":\"terminal\"") != NULL);
    const char *order[] = {"\"name\":\"todo\"", "\"name\":\"file_read\"",
                           "\"name\":\"file_edit\"", "\"name\":\"shell_run\"",
                           "\"name\":\"complete\""};
    const char *at = sse;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && at; i++)
        at = strstr(at, order[i]); /* the tools ran in this order */
    CHECK(at != NULL);
    CHECK(strstr(sse, "this tool needs approval") != NULL); /* git_commit */
    CHECK(strstr(sse, "ran it into out.txt") != NULL);
    test_resp_release(&r);
    char *data = NULL;
    size_t n = 0;
    snprintf(path, sizeof(path), "%s/greet.sh", folder);
    CHECK(osr_read_file(path, 1024, &data, &n, NULL) == OSR_OK && strcmp(data, "echo hello world\n") == 0);
    free(data);
    snprintf(path, sizeof(path), "%s/out.txt", folder);
    CHECK(osr_read_file(path, 1024, &data, &n, NULL) == OSR_OK && strcmp(data, "hello world\n") == 0);
    free(data);
}

static void test_teardown(void)
{
    osr_http_server_free(srv);
    osr_serve_stack_release(&stack);
    osr_server_config_release(&cfg);
    script_upstream_stop(&su);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    CHECK(system(cmd) == 0);
}

TEST_MAIN(test_setup, test_run_stream, test_run_buffered_and_errors, test_dispatch_clarify,
          test_dispatch_cancel, test_run_folder_task, test_teardown)
