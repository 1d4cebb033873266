/* test_json.c - strict parsing, the typed getters' contract and messages, string escaping. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "osr/json.h"

static int parses(const char *s, size_t n)
{
    struct json_object *o = NULL;
    struct osr_diag d;
    osr_diag_clear(&d);
    int rc = osr_json_parse(s, n, &o, &d);
    if (rc == OSR_OK) {
        json_object_put(o);
        return 1;
    }
    /* Every rejection says where. */
    if (strncmp(d.msg, "invalid JSON", 12) != 0)
        fprintf(stderr, "unexpected message: %s\n", d.msg);
    return strncmp(d.msg, "invalid JSON", 12) == 0 ? 0 : -1;
}
#define P(lit) parses(lit, sizeof(lit) - 1)

static void test_parse_accepts(void)
{
    CHECK(P("{}") == 1);
    CHECK(P("[]") == 1);
    CHECK(P(" \t\r\n{\"a\":[1,2.5,-0,1e5,1E+2,-3.25e-2,true,false,null,\"x\"]} \n") == 1);
    CHECK(P("123") == 1); /* a bare number at the very end of input */
    CHECK(P("-0") == 1);
    CHECK(P("true") == 1);
    CHECK(P("\"abc\"") == 1);
    CHECK(P("\"\\u00e9\\ud83d\\ude00\\n\\/\"") == 1);
    CHECK(P("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"") == 1); /* é € 😀 */
    CHECK(P("18446744073709551615") == 1);
    CHECK(P("-9223372036854775808") == 1);
    CHECK(P("{\"a\":{\"b\":{}},\"c\":[[],[{}]]}") == 1);

    struct json_object *o = (struct json_object *)1;
    CHECK_INT_EQ(osr_json_parse("null", 4, &o, NULL), OSR_OK);
    CHECK(o == NULL);
    /* Input need not be NUL-terminated: only n bytes are read. */
    CHECK_INT_EQ(osr_json_parse("[1]]]]", 3, &o, NULL), OSR_OK);
    CHECK(json_object_is_type(o, json_type_array));
    json_object_put(o);
}

static void test_parse_rejects(void)
{
    CHECK(P("") == 0);
    CHECK(P("   ") == 0);
    CHECK(P("{\"a\":1} x") == 0);
    CHECK(P("{\"a\":1}{}") == 0);
    CHECK(P("1 2") == 0);
    CHECK(P("{}\0") == 0);
    CHECK(P("/* c */ {}") == 0);
    CHECK(P("{} // c") == 0);
    CHECK(P("{\"a\":1 /* c */}") == 0);
    CHECK(P("{'a':1}") == 0);
    CHECK(P("['a']") == 0);
    CHECK(P("[1,2,]") == 0);
    CHECK(P("{\"a\":1,}") == 0);
    CHECK(P("{a:1}") == 0);
    CHECK(P("NaN") == 0);
    CHECK(P("[Infinity]") == 0);
    CHECK(P("[-Infinity]") == 0);
    CHECK(P("01") == 0);
    CHECK(P("1.") == 0);
    CHECK(P(".5") == 0);
    CHECK(P("+1") == 0);
    CHECK(P("1e") == 0);
    CHECK(P("0x10") == 0);
    CHECK(P("tru") == 0);
    CHECK(P("nul") == 0);
    CHECK(P("\"abc") == 0);
    CHECK(P("\"\t\"") == 0); /* raw control character in a string */
    CHECK(P("\"a\nb\"") == 0);
    CHECK(P("\"\\x41\"") == 0);
    CHECK(P("\"\\u12\"") == 0);
    CHECK(P("\"\\u12G4\"") == 0);
    CHECK(P("\"\xff\"") == 0);             /* invalid UTF-8 */
    CHECK(P("\"\xc0\xaf\"") == 0);         /* overlong */
    CHECK(P("\"\xed\xa0\x80\"") == 0);     /* an encoded surrogate */
    CHECK(P("\"\xe2\x82\"") == 0);         /* truncated sequence */
    CHECK(P("\"\xf4\x90\x80\x80\"") == 0); /* past U+10FFFF */
    CHECK(P("\xef\xbb\xbf{}") == 0);       /* byte order mark */
    CHECK(P("\f{}") == 0);                 /* not JSON whitespace */
    CHECK(P("18446744073709551616") == 0);
    CHECK(P("-9223372036854775809") == 0);
    CHECK(P("[99999999999999999999999]") == 0);
    CHECK(P("{\"a\" 1}") == 0);
    CHECK(P("{\"a\":}") == 0);
    CHECK(P("[1 2]") == 0);
    CHECK(P("{,}") == 0);
    CHECK(P("]") == 0);

    struct osr_diag d;
    struct json_object *o;
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_json_parse("{\"a\":1} x", 9, &o, &d), OSR_EINVAL);
    CHECK(o == NULL);
    CHECK(strstr(d.msg, "byte 8") != NULL);
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_json_parse("[1,\"\xff\"]", 6, &o, &d), OSR_EINVAL);
    CHECK(strstr(d.msg, "byte 4") != NULL);
    CHECK(strstr(d.msg, "UTF-8") != NULL);
}

static void test_depth(void)
{
    char buf[2 * (OSR_JSON_MAX_DEPTH + 1) + 1];
    size_t depth = OSR_JSON_MAX_DEPTH;
    for (size_t i = 0; i < depth; i++) {
        buf[i] = '[';
        buf[2 * depth - 1 - i] = ']';
    }
    CHECK(parses(buf, 2 * depth) == 1);
    depth++;
    for (size_t i = 0; i < depth; i++) {
        buf[i] = '[';
        buf[2 * depth - 1 - i] = ']';
    }
    struct osr_diag d;
    struct json_object *o;
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_json_parse(buf, 2 * depth, &o, &d), OSR_EINVAL);
    CHECK(strstr(d.msg, "too deep") != NULL);

    /* Objects count too, and deep garbage far past the cap fails without recursion. */
    static char deep[200000];
    for (size_t i = 0; i < sizeof(deep); i++)
        deep[i] = "{\"k\":"[i % 5]; /* {"k":{"k":{"k":... */
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_json_parse(deep, sizeof(deep), &o, &d), OSR_EINVAL);
    CHECK(strstr(d.msg, "too deep") != NULL);
    /* Exactly at the cap with objects: accepted. */
    struct osr_buf ob;
    osr_buf_init(&ob, 4096);
    for (int i = 0; i < OSR_JSON_MAX_DEPTH; i++)
        osr_buf_puts(&ob, i + 1 < OSR_JSON_MAX_DEPTH ? "{\"k\":" : "{");
    for (int i = 0; i < OSR_JSON_MAX_DEPTH; i++)
        osr_buf_putc(&ob, '}');
    CHECK(parses(ob.data, ob.len) == 1);
    osr_buf_release(&ob);
    memset(deep, '[', sizeof(deep));
    CHECK(parses(deep, sizeof(deep)) == 0);
}

static struct json_object *doc(const char *s)
{
    struct json_object *o = NULL;
    if (osr_json_parse(s, strlen(s), &o, NULL) != OSR_OK)
        return NULL;
    return o;
}

static void test_get_string(void)
{
    struct json_object *o = doc("{\"model\":\"m\",\"n\":null,\"num\":3,\"e\":\"\"}");
    REQUIRE(o != NULL);
    struct osr_diag d;
    osr_diag_clear(&d);
    const char *s = "default";
    CHECK_INT_EQ(osr_json_get_string(o, "model", true, &s, &d), OSR_OK);
    CHECK_STR_EQ(s, "m");
    s = "default";
    CHECK_INT_EQ(osr_json_get_string(o, "absent", false, &s, &d), OSR_OK);
    CHECK_STR_EQ(s, "default");
    CHECK_INT_EQ(osr_json_get_string(o, "n", false, &s, &d), OSR_OK); /* null is absent */
    CHECK_STR_EQ(s, "default");
    CHECK_INT_EQ(osr_json_get_string(o, "e", false, &s, &d), OSR_OK);
    CHECK_STR_EQ(s, "");
    CHECK_STR_EQ(d.msg, "");

    CHECK_INT_EQ(osr_json_get_string(o, "x", true, &s, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "missing required parameter: 'x'");
    CHECK_STR_EQ(d.param, "x");
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_json_get_string(o, "n", true, &s, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "missing required parameter: 'n'");
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_json_get_string(o, "num", false, &s, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "'num' must be a string");
    CHECK_STR_EQ(d.param, "num");
    /* A NULL diag is allowed. */
    CHECK_INT_EQ(osr_json_get_string(o, "num", false, &s, NULL), OSR_EINVAL);
    json_object_put(o);

    /* Not an object. */
    o = doc("[1]");
    osr_diag_clear(&d);
    CHECK_INT_EQ(osr_json_get_string(o, "model", false, &s, &d), OSR_EINVAL);
    CHECK(d.msg[0] != '\0');
    json_object_put(o);
    CHECK_INT_EQ(osr_json_get_string(NULL, "model", false, &s, &d), OSR_EINVAL);
}

static void test_get_int(void)
{
    struct json_object *o =
        doc("{\"a\":5,\"f\":3.0,\"h\":3.5,\"s\":\"5\",\"b\":true,\"big\":18446744073709551615,"
            "\"neg\":-7,\"huge\":1e300,\"nul\":null,\"max\":9223372036854775807,"
            "\"e\":2e1,\"min\":-9223372036854775808}");
    REQUIRE(o != NULL);
    struct osr_diag d;
    osr_diag_clear(&d);
    int64_t v = 99;
    CHECK_INT_EQ(osr_json_get_int(o, "a", true, 0, 10, &v, &d), OSR_OK);
    CHECK_INT_EQ(v, 5);
    CHECK_INT_EQ(osr_json_get_int(o, "f", true, 0, 10, &v, &d), OSR_OK);
    CHECK_INT_EQ(v, 3);
    CHECK_INT_EQ(osr_json_get_int(o, "e", true, 0, 100, &v, &d), OSR_OK);
    CHECK_INT_EQ(v, 20);
    CHECK_INT_EQ(osr_json_get_int(o, "neg", true, -10, 10, &v, &d), OSR_OK);
    CHECK_INT_EQ(v, -7);
    CHECK_INT_EQ(osr_json_get_int(o, "max", true, INT64_MIN, INT64_MAX, &v, &d), OSR_OK);
    CHECK(v == INT64_MAX);
    CHECK_INT_EQ(osr_json_get_int(o, "min", true, INT64_MIN, INT64_MAX, &v, &d), OSR_OK);
    CHECK(v == INT64_MIN);
    v = 99;
    CHECK_INT_EQ(osr_json_get_int(o, "absent", false, 0, 10, &v, &d), OSR_OK);
    CHECK_INT_EQ(v, 99);
    CHECK_INT_EQ(osr_json_get_int(o, "nul", false, 0, 10, &v, &d), OSR_OK);
    CHECK_INT_EQ(v, 99);
    CHECK_STR_EQ(d.msg, "");

    CHECK_INT_EQ(osr_json_get_int(o, "h", true, 0, 10, &v, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "'h' must be an integer");
    CHECK_STR_EQ(d.param, "h");
    CHECK_INT_EQ(osr_json_get_int(o, "s", true, 0, 10, &v, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "'s' must be an integer");
    CHECK_INT_EQ(osr_json_get_int(o, "b", true, 0, 10, &v, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "'b' must be an integer");
    CHECK_INT_EQ(osr_json_get_int(o, "a", true, 6, 10, &v, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "'a' must be between 6 and 10");
    CHECK_STR_EQ(d.param, "a");
    CHECK_INT_EQ(osr_json_get_int(o, "neg", true, 0, 10, &v, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "'neg' must be between 0 and 10");
    /* Above INT64_MAX: json-c would clamp it to INT64_MAX, which must not pass. */
    CHECK_INT_EQ(osr_json_get_int(o, "big", true, INT64_MIN, INT64_MAX, &v, &d), OSR_EINVAL);
    CHECK(strstr(d.msg, "must be between") != NULL);
    CHECK_INT_EQ(osr_json_get_int(o, "huge", true, INT64_MIN, INT64_MAX, &v, &d), OSR_EINVAL);
    CHECK_INT_EQ(osr_json_get_int(o, "missing", true, 0, 1, &v, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "missing required parameter: 'missing'");
    CHECK_STR_EQ(d.param, "missing");
    CHECK_INT_EQ(v, 99); /* no failure touched it */
    json_object_put(o);
}

static void test_get_double(void)
{
    struct json_object *o = doc("{\"t\":0.7,\"i\":2,\"s\":\"0.5\",\"big\":1e400,\"n\":null}");
    REQUIRE(o != NULL);
    struct osr_diag d;
    osr_diag_clear(&d);
    double x = -1;
    CHECK_INT_EQ(osr_json_get_double(o, "t", false, 0, 2, &x, &d), OSR_OK);
    CHECK(fabs(x - 0.7) < 1e-12);
    CHECK_INT_EQ(osr_json_get_double(o, "i", false, 0, 2, &x, &d), OSR_OK);
    CHECK(x == 2.0);
    x = -1;
    CHECK_INT_EQ(osr_json_get_double(o, "absent", false, 0, 2, &x, &d), OSR_OK);
    CHECK(x == -1);
    CHECK_INT_EQ(osr_json_get_double(o, "n", false, 0, 2, &x, &d), OSR_OK);
    CHECK(x == -1);
    CHECK_INT_EQ(osr_json_get_double(o, "s", false, 0, 2, &x, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "'s' must be a number");
    CHECK_INT_EQ(osr_json_get_double(o, "t", false, 1, 2, &x, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "'t' must be between 1 and 2");
    CHECK_INT_EQ(osr_json_get_double(o, "big", false, -1e308, 1e308, &x, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.param, "big");
    CHECK(x == -1);
    CHECK_INT_EQ(osr_json_get_double(o, "temperature", true, 0, 2, &x, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "missing required parameter: 'temperature'");
    json_object_put(o);
}

static void test_get_bool_object_array(void)
{
    struct json_object *o =
        doc("{\"stream\":true,\"no\":false,\"one\":1,\"obj\":{\"k\":1},\"arr\":[1],\"n\":null}");
    REQUIRE(o != NULL);
    struct osr_diag d;
    osr_diag_clear(&d);
    bool b = false;
    CHECK_INT_EQ(osr_json_get_bool(o, "stream", false, &b, &d), OSR_OK);
    CHECK(b == true);
    CHECK_INT_EQ(osr_json_get_bool(o, "no", false, &b, &d), OSR_OK);
    CHECK(b == false);
    b = true;
    CHECK_INT_EQ(osr_json_get_bool(o, "n", false, &b, &d), OSR_OK);
    CHECK(b == true);
    CHECK_INT_EQ(osr_json_get_bool(o, "one", false, &b, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "'one' must be a boolean");

    struct json_object *v = NULL;
    CHECK_INT_EQ(osr_json_get_object(o, "obj", true, &v, &d), OSR_OK);
    CHECK(v != NULL && json_object_is_type(v, json_type_object));
    v = NULL;
    CHECK_INT_EQ(osr_json_get_object(o, "n", false, &v, &d), OSR_OK);
    CHECK(v == NULL);
    CHECK_INT_EQ(osr_json_get_object(o, "arr", false, &v, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "'arr' must be an object");
    CHECK_INT_EQ(osr_json_get_array(o, "arr", true, &v, &d), OSR_OK);
    CHECK(v != NULL && json_object_array_length(v) == 1);
    CHECK_INT_EQ(osr_json_get_array(o, "obj", false, &v, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "'obj' must be an array");
    CHECK_STR_EQ(d.param, "obj");
    CHECK_INT_EQ(osr_json_get_array(o, "messages", true, &v, &d), OSR_EINVAL);
    CHECK_STR_EQ(d.msg, "missing required parameter: 'messages'");
    json_object_put(o);
}

/* Escapes s and checks the exact output, then that it parses back to the same bytes (or to
 * want_back when the input was not valid UTF-8). */
static void check_escape(const char *s, size_t n, const char *want, const char *want_back,
                         size_t want_back_len)
{
    struct osr_buf b;
    osr_buf_init(&b, 1 << 16);
    CHECK_INT_EQ(osr_json_append_string(&b, s, n), OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&b), want);
    struct json_object *o = NULL;
    CHECK_INT_EQ(osr_json_parse(b.data, b.len, &o, NULL), OSR_OK);
    if (o) {
        CHECK(json_object_is_type(o, json_type_string));
        CHECK_INT_EQ(json_object_get_string_len(o), want_back_len);
        CHECK(memcmp(json_object_get_string(o), want_back, want_back_len) == 0);
    }
    json_object_put(o);
    osr_buf_release(&b);
}
#define ESC(lit, want) check_escape(lit, sizeof(lit) - 1, want, lit, sizeof(lit) - 1)

static void test_append_string(void)
{
    ESC("", "\"\"");
    ESC("plain", "\"plain\"");
    ESC("say \"hi\"", "\"say \\\"hi\\\"\"");
    ESC("a\\b", "\"a\\\\b\"");
    ESC("l1\nl2\r\t", "\"l1\\nl2\\r\\t\"");
    ESC("\x01\x1f\b\f", "\"\\u0001\\u001f\\u0008\\u000c\"");
    ESC("nul\0x", "\"nul\\u0000x\"");
    ESC("/ and \x7f", "\"/ and \x7f\"");
    ESC("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");

    /* Invalid bytes become U+FFFD, one per bad byte; valid neighbours survive. */
    check_escape("a\xff"
                 "b",
                 3,
                 "\"a\xef\xbf\xbd"
                 "b\"",
                 "a\xef\xbf\xbd"
                 "b",
                 5);
    check_escape("\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"", "\xef\xbf\xbd\xef\xbf\xbd", 6);
    check_escape("\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
                 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 9);
    check_escape("x\xe2\x82", 3, "\"x\xef\xbf\xbd\xef\xbf\xbd\"", "x\xef\xbf\xbd\xef\xbf\xbd", 7);
    check_escape("\xf4\x90\x80\x80", 4, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
                 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 12);
}

static void test_append_string_all_bytes(void)
{
    /* Every byte value, and random byte soup: the output always parses. */
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    struct osr_buf b;
    osr_buf_init(&b, 1 << 20);
    CHECK_INT_EQ(osr_json_append_string(&b, (const char *)all, sizeof(all)), OSR_OK);
    struct json_object *o = NULL;
    CHECK_INT_EQ(osr_json_parse(b.data, b.len, &o, NULL), OSR_OK);
    json_object_put(o);
    unsigned x = 12345;
    int bad = 0;
    for (int round = 0; round < 200; round++) {
        unsigned char soup[64];
        for (size_t i = 0; i < sizeof(soup); i++) {
            x = x * 1103515245u + 12345u;
            soup[i] = (unsigned char)(x >> 16);
        }
        osr_buf_reset(&b);
        if (osr_json_append_string(&b, (const char *)soup, sizeof(soup)) != OSR_OK ||
            osr_json_parse(b.data, b.len, &o, NULL) != OSR_OK)
            bad++;
        else
            json_object_put(o);
    }
    CHECK_INT_EQ(bad, 0);
    osr_buf_release(&b);
}

static void test_append_string_cap(void)
{
    struct osr_buf b;
    osr_buf_init(&b, 12);
    CHECK_INT_EQ(osr_buf_puts(&b, "[1,"), OSR_OK);
    /* Fits only in part: the buffer is left as it was, not holding half a string. */
    CHECK_INT_EQ(osr_json_append_string(&b, "abc\"defgh", 9), OSR_ETOOBIG);
    CHECK_STR_EQ(osr_buf_str(&b), "[1,");
    CHECK_INT_EQ(b.len, 3);
    CHECK_INT_EQ(osr_json_append_string(&b, "abcdefg", 7), OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&b), "[1,\"abcdefg\"");
    osr_buf_release(&b);
}

static void test_append_roundtrip(void)
{
    const char *src = "{\"s\":\"a/b \\\"q\\\" \\u0000 \\u00e9\",\"n\":[1,-2.5e3,true,null],"
                      "\"o\":{\"k\":{}}}";
    struct json_object *o = doc(src);
    REQUIRE(o != NULL);
    struct osr_buf b;
    osr_buf_init(&b, 4096);
    CHECK_INT_EQ(osr_json_append(&b, o), OSR_OK);
    CHECK(strstr(b.data, "a/b") != NULL); /* no slash escaping */
    CHECK(strchr(b.data, ' ') == NULL || strstr(b.data, "a/b ") != NULL);
    struct json_object *back = NULL;
    CHECK_INT_EQ(osr_json_parse(b.data, b.len, &back, NULL), OSR_OK);
    CHECK(back != NULL && json_object_equal(o, back));
    json_object_put(back);
    json_object_put(o);

    osr_buf_release(&b);
    osr_buf_init(&b, 5);
    o = doc("[1,2,3,4,5]");
    CHECK_INT_EQ(osr_json_append(&b, o), OSR_ETOOBIG);
    CHECK_INT_EQ(b.len, 0);
    json_object_put(o);
    osr_buf_release(&b);
}

static void test_new_string(void)
{
    struct json_object *s = osr_json_new_string("a\0b", 3);
    REQUIRE(s != NULL);
    CHECK_INT_EQ(json_object_get_string_len(s), 3);
    struct osr_buf b;
    osr_buf_init(&b, 100);
    CHECK_INT_EQ(osr_json_append(&b, s), OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&b), "\"a\\u0000b\"");
    osr_buf_release(&b);
    json_object_put(s);

    /* Raw bytes that are not UTF-8 (a token cut inside a character) still serialize to
     * valid JSON: each bad byte becomes U+FFFD, good characters stay. */
    struct json_object *arr = json_object_new_array();
    json_object_array_add(arr, osr_json_new_string("caf\xc3", 4));
    json_object_array_add(arr, osr_json_new_string("\xa9\xe2\x82\xac!", 5));
    osr_buf_init(&b, 100);
    CHECK_INT_EQ(osr_json_append(&b, arr), OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&b), "[\"caf\xef\xbf\xbd\",\"\xef\xbf\xbd\xe2\x82\xac!\"]");
    struct json_object *back = NULL;
    CHECK_INT_EQ(osr_json_parse(b.data, b.len, &back, NULL), OSR_OK);
    json_object_put(back);
    osr_buf_release(&b);
    osr_buf_init(&b, 12); /* too small: nothing is left behind */
    CHECK_INT_EQ(osr_json_append(&b, arr), OSR_ETOOBIG);
    CHECK_INT_EQ(b.len, 0);
    osr_buf_release(&b);
    json_object_put(arr);
}

TEST_MAIN(test_parse_accepts, test_parse_rejects, test_depth, test_get_string, test_get_int,
          test_get_double, test_get_bool_object_array, test_append_string,
          test_append_string_all_bytes, test_append_string_cap, test_append_roundtrip,
          test_new_string)
