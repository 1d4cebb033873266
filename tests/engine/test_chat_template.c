/* test_chat_template.c - unit tests of the chat-template interpreter: language features
 * (expected outputs are what Python's Jinja2 3.1 renders for the same template and
 * variables), error kinds and positions, caps on hostile templates, the fallback template and
 * the API contract. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "osr/chat_template.h"
#include "osr/json.h"

static const char VARS[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"Be nice.\"}, {\"role\": \"user\", "
    "\"content\": \"Hi Z\xc3\xbcrich\"}, {\"role\": \"assistant\", \"content\": null, "
    "\"tool_calls\": [{\"id\": \"a\", \"function\": {\"name\": \"f\", \"arguments\": {\"x\": 1, "
    "\"y\": [1, 2.5, \"s\"]}}}]}], \"n\": 5, \"f\": 2.5, \"s\": \"  Hello World  \", \"l\": [3, 1, "
    "2], \"d\": {\"b\": 1, \"a\": [1, {\"c\": null}]}, \"t\": true, \"e\": \"\", \"u8\": "
    "\"h\xc3\xa9llo w\xc3\xb6rld\"}";

struct render_result {
    int rc;
    char *text; /* heap; NULL on error */
    struct osr_chat_template_error err;
};

static struct render_result render_opts(const char *tpl, const char *vars_json,
                                        const struct osr_chat_template_opts *opts)
{
    struct render_result res = {0};
    struct json_object *vars = NULL;
    if (vars_json && osr_json_parse(vars_json, strlen(vars_json), &vars, NULL) != OSR_OK) {
        res.rc = -100;
        return res;
    }
    struct osr_chat_template *t = NULL;
    struct osr_diag diag;
    res.rc = osr_chat_template_compile(tpl, strlen(tpl), &t, &res.err, &diag);
    if (res.rc == OSR_OK) {
        struct osr_buf out;
        osr_buf_init(&out, 1u << 20);
        res.rc = osr_chat_template_render(t, vars, opts, &out, &res.err, &diag);
        if (res.rc == OSR_OK)
            res.text = osr_buf_detach(&out, NULL);
        if (res.rc == OSR_OK && !res.text)
            res.text = calloc(1, 1);
        osr_buf_release(&out);
        if (res.rc != OSR_OK) /* the diag carries "line L, column C: Kind: msg" */
            CHECK(strstr(diag.msg, res.err.msg) != NULL);
    }
    osr_chat_template_free(t);
    json_object_put(vars);
    return res;
}

static struct render_result render(const char *tpl)
{
    struct osr_chat_template_opts opts = {.has_fixed_time = true, .fixed_time = 1740130200};
    return render_opts(tpl, VARS, &opts);
}

struct golden_case {
    const char *tpl, *want;
};

/* Template -> what Jinja2 renders with VARS (trim_blocks, lstrip_blocks, loopcontrols). */
static const struct golden_case CASES[] = {
    {"{{ n + 1 }} {{ n / 2 }} {{ n // 2 }} {{ n % 3 }} {{ -n // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ "
     "f * 2 }} {{ 1e20 }} {{ 0.1 + 0.2 }} {{ 1.5e-7 }} {{ 100.0 }}",
     "6 2.5 2 2 -3 2 1024 5.0 1e+20 0.30000000000000004 1.5e-07 100.0"},
    {"{{ s|trim }}|{{ s|upper }}|{{ s|lower }}|{{ s|title }}|{{ \"hello WORLD\"|capitalize }}|{{ "
     "s|length }}|{{ u8|length }}|{{ u8|upper }}",
     "Hello World|  HELLO WORLD  |  hello world  |  Hello World  |Hello world|15|11|HÉLLO WÖRLD"},
    {"{{ l|sort }} {{ l|sort(reverse=true) }} {{ l|first }} {{ l|last }} {{ l|join(',') }} {{ "
     "l|list }} {{ l|sum }} {{ l|max }} {{ l|min }} {{ l|length }}",
     "[1, 2, 3] [3, 2, 1] 3 2 3,1,2 [3, 1, 2] 6 3 1 3"},
    {"{{ d }} {{ d|tojson }} {{ d|tojson(indent=2) }} {{ d.items()|list }} {{ d.keys()|list }} {{ "
     "d.get('zz', 'def') }} {{ d.get('b') }}",
     "{'b': 1, 'a': [1, {'c': None}]} {\"b\": 1, \"a\": [1, {\"c\": null}]} {\n  \"b\": 1,\n  "
     "\"a\": [\n    1,\n    {\n      \"c\": null\n    }\n  ]\n} [('b', 1), ('a', [1, {'c': "
     "None}])] ['b', 'a'] def 1"},
    {"{{ none }} {{ True }} {{ [1, 'a', none, true, 1.0] }} {{ (1,) }} {{ (1, 2) }} {{ {'a': "
     "\"it's\"} }} {{ \"a\\nb\" }} {{ ['x\"y', \"z'w\", 'q\"r\\'s'] }}",
     "None True [1, 'a', None, True, 1.0] (1,) (1, 2) {'a': \"it's\"} a\nb ['x\"y', \"z'w\", "
     "'q\"r\\'s']"},
    {"{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.first }}{{ "
     "loop.last }}{{ loop.length }}|{% endfor %}",
     "103TrueFalse3|212FalseFalse3|321FalseTrue3|"},
    {"{% for x in l if x > 1 %}{{ x }}{{ loop.last }}{% else %}empty{% endfor %}{% for x in [] "
     "%}{% else %}E{% endfor %}",
     "3False2TrueE"},
    {"{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}",
     "b=1;a=[1, {'c': None}];ba"},
    {"{% set x = 1 %}{% for i in l %}{% set x = i %}{{ x }}{% endfor %}{{ x }}", "3121"},
    {"{% set ns = namespace(c=0) %}{% for i in l %}{% set ns.c = ns.c + i %}{% endfor %}{{ ns.c }}",
     "6"},
    {"{% macro m(a, b=2, c='z') %}[{{ a }}{{ b }}{{ c }}{{ varargs }}{{ kwargs }}]{% endmacro %}{{ "
     "m(1) }}{{ m(1, 3) }}{{ m(1, c=5) }}{{ m(1,2,3,4) }}",
     "[12z(){}][13z(){}][125(){}][123(4,){}]"},
    {"{{ s[2:5] }}|{{ s[::-1] }}|{{ l[-1] }}|{{ l[1:] }}|{{ u8[1:4] }}|{{ l[::2] }}|{{ s[-3:] "
     "}}|{{ l[5:] }}",
     "Hel|  dlroW olleH  |2|[1, 2]|éll|[3, 2]|d  |[]"},
    {"{{ \"a\" ~ 1 ~ none ~ undefined_var }}|{{ undefined_var }}|{{ undefined_var|default('D') "
     "}}|{{ e|default('D', true) }}|{{ undefined_var is defined }}",
     "a1None||D|D|False"},
    {"{{ \"abc\" in \"xabcx\" }} {{ 2 in l }} {{ 'b' in d }} {{ 5 not in l }} {{ 1 < 2 < 3 }} {{ 3 "
     "> 2 > 5 }} {{ 'a' < 'b' }} {{ [1,2] < [1,3] }}",
     "True True True True True False True True"},
    {"{{ x if t else 'no' }}|{{ 'yes' if t }}|{{ 'y' if not t }}|{{ n and 'A' }}|{{ e or 'B' }}|{{ "
     "0 or e }}",
     "|yes||A|B|"},
    {"{{ s.strip() }}|{{ s.split() }}|{{ \"a,b,,c\".split(',') }}|{{ \"a,b,c\".split(',', 1) }}|{{ "
     "s.startswith('  H') }}|{{ \"x.y\".endswith(('.y','.z')) }}|{{ s.lstrip() }}|{{ s.rstrip() "
     "}}|{{ \"xxaxx\".strip('x') }}",
     "Hello World|['Hello', 'World']|['a', 'b', '', 'c']|['a', 'b,c']|True|True|Hello World  |  "
     "Hello World|a"},
    {"{{ \"Hello\"|replace(\"l\", \"L\") }}|{{ \"aaa\"|replace(\"a\", \"b\", 2) }}|{{ \"hello "
     "world\"|title }}|{{ \"hello-world foo(bar\"|title }}|{{ \"hEllO wOrld\".title() }}",
     "HeLLo|bba|Hello World|Hello-World Foo(Bar|Hello World"},
    {"{{ l|map('string')|join('-') }}|{{ messages|map(attribute='role')|list }}|{{ "
     "messages|selectattr('role', 'equalto', 'user')|list|length }}|{{ "
     "messages|rejectattr('content')|map(attribute='role')|first }}",
     "3-1-2|['system', 'user', 'assistant']|1|assistant"},
    {"{{ [1,2,3,4]|select('odd')|list }}|{{ [1,2,3,4]|reject('even')|list }}|{{ "
     "['a','A','b']|unique|list }}|{{ [0,1,'',none,'x']|select|list }}",
     "[1, 3]|[1, 3]|['a', 'b']|[1, 'x']"},
    {"{{ \"  a\\n b\\n\\nc\"|indent }}|{{ \"a\\nb\"|indent(2, true) }}|{{ \"a\\n\\nb\"|indent(2, "
     "blank=true) }}|{{ \"x\"|indent('>>') }}",
     "  a\n     b\n\n    c|  a\n  b|a\n  \n  b|x"},
    {"{{ \"3\"|int + 1 }} {{ \"3.7\"|int }} {{ \"abc\"|int }} {{ 3.9|int }} {{ \"2.5\"|float }} {{ "
     "5|float }} {{ -3|abs }} {{ 2.567|round(2) }} {{ 2.5|round }} {{ 3.5|round }}",
     "4 3 0 3 2.5 5.0 3 2.57 2.0 4.0"},
    {"{{ n is number }} {{ n is integer }} {{ f is float }} {{ t is boolean }} {{ s is string }} "
     "{{ d is mapping }} {{ l is iterable }} {{ l is sequence }} {{ none is none }} {{ n is odd }} "
     "{{ n is divisibleby 5 }} {{ n is eq 5 }} {{ n is gt 3 }} {{ 'a' is in 'abc' }} {{ t is true "
     "}} {{ m is defined }}",
     "True True True True True True True True True True True True True True True False"},
    {"{% if n > 3 %}big{% elif n > 1 %}mid{% else %}small{% endif %}{% if e %}E{% elif not e "
     "%}NE{% endif %}",
     "bigNE"},
    {"{%- set y -%}\n  block {{ n }}\n{%- endset -%}\n[{{ y }}]{% filter upper %}up {{ s }}{% "
     "endfilter %}",
     "[block 5]UP   HELLO WORLD  "},
    {"a\n  {% if t %}\n    yes\n  {% endif %}\nb {# comment #}\n  {# c2 #}\nc {%+ if t %}X{% endif "
     "%}\n{%- if t -%}   Y   {%- endif %}\nd{{ n -}}   z   {{- n }}",
     "a\n    yes\nb c XYd5z5"},
    {"{% for i in range(3) %}{{ i }}{% endfor %}{{ range(2, 10, 3)|list }}{{ range(5, 0, -2)|list "
     "}}",
     "012[2, 5, 8][5, 3, 1]"},
    {"{% for i in l %}{% if i == 1 %}{% break %}{% endif %}{{ i }}{% endfor %}|{% for i in l %}{% "
     "if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}",
     "3|32"},
    {"{{ \"%s\"|format(1) if false else \"ok\" }} {{ \"x\" * 3 }} {{ [1] * 2 }} {{ 3 * \"ab\" }} "
     "{{ l + [9] }} {{ \"a\" + \"b\" }}",
     "ok xxx [1, 1] ababab [3, 1, 2, 9] ab"},
    {"{{ messages[2].tool_calls[0].function.arguments|tojson }} {{ "
     "messages[2]['tool_calls'][0]['function']['arguments']['y'][1] }}",
     "{\"x\": 1, \"y\": [1, 2.5, \"s\"]} 2.5"},
    {"{{ \"é\"|tojson }} {{ \"é\"|tojson(ensure_ascii=true) }} {{ \"a\\tb\\u0001\\\"\\\\/\"|tojson "
     "}} {{ {\"a\": 1, 2: 3, none: true}|tojson(sort_keys=false) }} {{ "
     "[1,2]|tojson(separators=(',', ':')) }}",
     "\"é\" \"\\u00e9\" \"a\\tb\\u0001\\\"\\\\/\" {\"a\": 1, \"2\": 3, \"null\": true} [1,2]"},
    {"{{ l|tojson(indent=2) }}{{ []|tojson(indent=2) }}{{ {}|tojson(indent=2) }}{{ "
     "[[]]|tojson(indent=1) }}",
     "[\n  3,\n  1,\n  2\n][]{}[\n []\n]"},
    {"{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = (a, b) %}{{ c }}{% with q = 5 %}{{ q }}{% "
     "endwith %}{{ q }}",
     "12(1, 2)5"},
    {"{{ loop }}{% for a in [1] %}{% for b in [2,3] %}{{ loop.index }}{% endfor %}{{ loop.index "
     "}}{% endfor %}",
     "121"},
    {"{% for m in messages %}{{ loop.previtem.role if loop.previtem else '-' }}>{{ "
     "loop.nextitem.role if loop.nextitem else '-' }} {% endfor %}",
     "->user system>assistant user>- "},
    {"{{ 'x'|safe + '<a>' }} {{ '<a>' + 'x'|safe }} {{ ('x'|safe + '\"')|length }} {{ '<b>'|escape "
     "}}",
     "x&lt;a&gt; &lt;a&gt;x 6 &lt;b&gt;"},
    {"{{ \"{}\" }}{{ '{{' }}{% raw %}{{ not parsed }}{% endraw %}", "{}{{{{ not parsed }}"},
    {"{{ d|dictsort }} {{ {'b': 2, 'A': 1}|dictsort }} {{ l|reverse|list }} {{ \"abc\"|reverse }} "
     "{{ \"one two  three\"|wordcount }} {{ \"x\"|center(5) }}|",
     "[('a', [1, {'c': None}]), ('b', 1)] [('A', 1), ('b', 2)] [2, 1, 3] cba 3   x  |"},
    {"{{ d['a'][1]['c'] is none }} {{ d.a.1.c }} {{ l.0 }} {{ l[0:2]|join }} {{ "
     "('a','b')|join('|') }}",
     "True None 3 31 a|b"},
    {"{{ 10 // 3 }} {{ -10 // 3 }} {{ 10 % -3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 2 ** -1 }} {{ 2 "
     "** 0.5 }} {{ 10 / 4 }} {{ 1 == 1.0 }} {{ true == 1 }}",
     "3 -4 -2 3.0 0.5 0.5 1.4142135623730951 2.5 True True"},
    {"{{ messages[0] == {\"role\": \"system\", \"content\": \"Be nice.\"} }} {{ [1,2] == [1,2] }} "
     "{{ (1,2) == [1,2] }} {{ none == none }} {{ undefined_var == undefined_var }}\n",
     "True True False True True"},
    {"{{ \"tab\\there\" }}|{{ '\\x41\\u00e9\\U0001F600\\101\\q' }}|{{ \"multi\nline\" }}|{{ "
     "'it''s' }}|{{ \"a\" \"b\" }}",
     "tab\there|Aé😀A\\q|multi\nline|its|ab"},
    {"{{ none|trim }}|{{ none|string }}|{{ none|lower }}|{{ undefined_var|trim }}|{{ "
     "undefined_var|length }}|{{ undefined_var|list }}|{{ undefined_var|join }}",
     "None|None|none||0|[]|"},
    {"{{ undefined_var|items|list }}", "[]"},
    {"{{ l[10] }}|{{ d['zz'] }}|{{ d.zz }}|{{ s.nope }}", "|||"},
    {"{{ none.x }}|{{ (none.x) is defined }}", "|False"},
    {"{{ l|map(attribute='x')|list }}", "[Undefined, Undefined, Undefined]"},
    {"{{ (messages|selectattr('role','equalto','nobody')) is defined }}{% if "
     "messages|selectattr('role','equalto','nobody') %}T{% endif %}",
     "TrueT"},
    {"{% macro f() %}{{ caller() }}{% endmacro %}{% call f() %}inside{% endcall %}", "inside"},
    {"{% macro f(x) %}{{ caller(x * 2) }}{% endmacro %}{% call(y) f(4) %}got {{ y }}{% endcall %}",
     "got 8"},
    {"{% set ns = namespace() %}{% set ns.a = 1 %}{{ ns.a }}{{ ns.b }}{{ ns }}",
     "1<Namespace {'a': 1}>"},
    {"{{ dict(a=1, b=2) }} {{ namespace(a=1).a }}", "{'a': 1, 'b': 2} 1"},
    {"{{ [1, 2, 3][1:2] }}{{ \"abc\"[5] }}|{{ \"abc\"[-1] }}", "[2]|c"},
    {"{{ x }}{% set x = 5 %}{{ x }}", "5"},
    {"{% macro m() %}{{ x }}{% endmacro %}{% set x = 1 %}{{ m() }}{% set x = 2 %}{{ m() }}", "12"},
    {"{% for i in [1,2] %}{% if i == 1 %}{% set z = 'set' %}{% endif %}{{ z }};{% endfor %}",
     "set;;"},
    {"{% if true %}{% set w = 1 %}{% endif %}{{ w }}", "1"},
    {"  {%- if true %}\n  x\n  {% endif -%}\n  y", "  x\ny"},
    {"{% for i in [1,2] -%}\n    {{ i }}\n{% endfor %}", "1\n2\n"},
    {"{% for i in [1,2] %}\n    {{ i }}\n{%- endfor %}", "    1    2"},
    {"text   {# comment -#}   after", "text   after"},
    {"  {{ n }}  {{- n }}  {{+ n }}", "  55  5"},
    {"{{ \"x\"|join }}|{{ [1,[2,3]]|join(', ') }}|{{ messages|join(attribute='role', d='/') }}",
     "x|1, [2, 3]|system/user/assistant"},
    {"{{ 5|string + 'a' }}|{{ 1.0|string }}|{{ [1.5, 2e-5]|string }}|{{ 1e16 }}|{{ 123456789.123 "
     "}}|{{ -0.0 }}",
     "5a|1.0|[1.5, 2e-05]|1e+16|123456789.123|-0.0"},
    {"{{ \"abc\".upper().lower() }}|{{ \"a b\".split(\" \")[1] }}|{{ \" \".join([\"a\",\"b\"]) "
     "}}|{{ \"abcabc\".count(\"b\") }}|{{ \"abc\".find(\"c\") }}|{{ \"x\\ny\".splitlines() }}",
     "abc|b|a b|2|2|['x', 'y']"},
    {"{% if not undefined_var is defined %}ND{% endif %}{% if undefined_var is not defined %}ND2{% "
     "endif %}{% if n is not none and n is not string %}ok{% endif %}",
     "NDND2ok"},
    {"{{ messages[0]['role']|upper if messages else 'none' }}", "SYSTEM"},
    {"{{ -n }} {{ +n }} {{ not n }} {{ -f }} {{ - - n }}", "-5 5 False -2.5 5"},
    {"{{ 1 if 0 else 2 if 0 else 3 }}", "3"},
    {"{{ '' * 1000000000000000000 }}|{{ () * 3 }}|{{ [] * 5 }}|{{ 0.9 ** 2 }}|{{ 2 ** 62 }}|{{ "
     "(-2) ** 3 }}|{{ 4 ** 0.5 }}",
     "|()|[]|0.81|4611686018427387904|-8|2.0"},
    {"{% for x in l %}{{ loop.cycle('a', 'b') }}{% endfor %}", "aba"},
    {"{% macro outer() %}{% macro inner() %}I{{ n }}{% endmacro %}{{ inner() }}O{% endmacro %}{{ "
     "outer() }}",
     "I5O"},
    {"{% set x = 1 %}{% macro m() %}{% set x = 2 %}{{ x }}{% endmacro %}{{ m() }}{{ x }}", "21"},
    {"{% for i in l %}{% set ns2 = namespace(v=i) %}{% endfor %}{{ ns2 is defined }}", "False"},
    {"{% set out = [] %}{% for m in messages %}{% set out = out + [m.role] %}{% endfor %}{{ out }}",
     "[]"},
    {"{{ messages|selectattr('content')|map(attribute='content')|map('upper')|join(' / ') }}",
     "BE NICE. / HI ZÜRICH"},
    {"{{ messages|selectattr('tool_calls', 'defined')|list|length }}|{{ "
     "messages|rejectattr('tool_calls', 'defined')|map(attribute='role')|list }}",
     "1|['system', 'user']"},
    {"{{ l|map('string')|map('int')|sum }}|{{ ['b','a','C']|sort }}|{{ "
     "['b','a','C']|sort(case_sensitive=true) }}|{{ "
     "messages|sort(attribute='role')|map(attribute='role')|list }}",
     "6|['a', 'b', 'C']|['C', 'a', 'b']|['assistant', 'system', 'user']"},
    {"{{ \"A-b c\"|lower|title }}|{{ \"don't stop\"|title }}|{{ \"don't stop\".title() }}|{{ \"ǅ "
     "x\".upper() }}",
     "A-B C|Don't Stop|Don'T Stop|Ǆ X"},
    {"{% if d %}Y{% endif %}{% if {} %}N{% endif %}{% if [] %}N{% endif %}{% if \"0\" %}Y{% endif "
     "%}{% if 0.0 %}N{% endif %}{% if none %}N{% endif %}",
     "YY"},
    {"{{ \"%.2f\"|format(1.5) if false else 'skip' }}|{{ l|batch(2)|list if false else 'skip' }}",
     "skip|skip"},
    {"{%- for m in messages -%}\n  {%- if m.role == 'user' -%}\n    U: {{ m.content }}\n  {% elif "
     "m.role == 'system' %}\n    S: {{ m.content }}\n  {% else -%}\n    O\n  {%- endif %}\n{% "
     "endfor -%}\nEND",
     "    S: Be nice.\nU: Hi Zürich\nOEND"},
    {"  {% macro x() -%}\n    inside\n  {%- endmacro %}\n[{{ x() }}]", "[inside]"},
    {"{% set a = 'x' %}{% set b %}{{ a }}-{{ a }}{% endset %}{{ b|length }}{{ b }}", "3x-x"},
    {"{{ 'abc'[::-1] }}{{ 'abc'[-10:10] }}{{ [1,2,3][::-2] }}{{ [1,2,3][5:1:-1] }}{{ 'héllo'[::-1] "
     "}}",
     "cbaabc[3, 1][3]olléh"},
    {"{{ 1 in [1.0] }} {{ 'a' in ['a'] }} {{ [1] in [[1]] }} {{ none in [none] }} {{ 'x' in {'x': "
     "1} }}",
     "True True True True True"},
    {"{{ l is not defined }} {{ l is not none }} {{ none is not none }} {{ not none is none }}",
     "False True False False"},
    {"{{ true and 'x' or 'y' }} {{ false and 'x' or 'y' }} {{ none or [] or 0 }} {{ 1 and 2 and 3 "
     "}}",
     "x y 0 3"},
    {"{{ -1|abs }} {{ (-1)|abs }} {{ 5 - -3 }} {{ 2 * -1 }} {{ not 1 == 2 }}", "1 1 8 -2 True"},
    {"{{ 1.0 }} {{ 3.14159 }} {{ 1/3 }} {{ 2.0 ** 70 }} {{ 1e-5 }} {{ 0.0001 }} {{ "
     "12345678901234567.0 }} {{ -1.5e300 * 1e10 }} {{ 1.5 // 0.4 }}",
     "1.0 3.14159 0.3333333333333333 1.1805916207174113e+21 1e-05 0.0001 1.2345678901234568e+16 "
     "-inf 3.0"},
    {"{% set t2 = (1, 'a') %}{{ t2[0] }}{{ t2|length }}{{ t2 + (2,) }}{{ t2|list }}",
     "12(1, 'a', 2)[1, 'a']"},
    {"{{ \"a|b\"|replace(\"|\", \"\\\\|\") }} {{ 'line1\\nline2'|indent(3) }} {{ \"  x  \"|trim('x "
     "') }}",
     "a\\|b line1\n   line2 "},
    {"{{ \"x\"|tojson(indent=2) }} {{ none|tojson }} {{ 1.0|tojson }} {{ true|tojson }} {{ "
     "'é\\u2028'|tojson }} {{ {'a': (1, 2)}|tojson }}",
     "\"x\" null 1.0 true \"é \" {\"a\": [1, 2]}"},
    {"{% for a in l %}{% for b in l %}{% if b == 2 %}{% break %}{% endif %}{{ a }}{{ b }},{% "
     "endfor %}{% endfor %}",
     "33,31,13,11,23,21,"},
    {"{{ namespace(a=1, b=[1]) }}", "<Namespace {'a': 1, 'b': [1]}>"},
    {"a\n   {%+ if t %}x{% endif +%}\nb", "a\n   x\nb"},
    {"a\n  {# c #}  \n  {#- d -#}\n  {#+ e +#}\nf", "a\n\nf"},
    {"  {%- raw -%}  {{ a }}  {%- endraw -%}  \nx", "{{ a }}x"},
    {"\t{% if t %}tab{% endif %}\n \t {{ n }}", "tab \t 5"},
    {"{% if t %}\n\ntwo{% endif %}\n\n", "\ntwo"},
    {"x {% if t -%}\n{%- endif %} y", "x  y"},
    {"{%- for i in l %}\n  {{- i }}\n{%- endfor %}", "312"},
    {"{{ n }}\n{{ n }}\n", "5\n5"},
    {"{% set x -%}\n  a\n{%- endset %}[{{ x }}]", "[a]"},
    {"{{- n -}}\n   text   \n{{- n -}}", "5text5"},
    {"{%    if     t    %}  spaced  {%    endif    %}", "  spaced  "},
    {"{% for i in l %}{{ i }}{% if not loop.last %},\n{% endif %}{% endfor %}", "3,\n1,\n2"},
    {"line1 {{ {'a': {'b': 1}} }} {{ [[1]] }}\n", "line1 {'a': {'b': 1}} [[1]]"},
    {"{%- set budget = {0: 0, 512: 128, 1024: 256, 16384: 1024} -%}{%- set ns = namespace(interval "
     "= None) -%}{%- for k, v in budget | dictsort -%}{%- if ns.interval is none and 600 <= k "
     "-%}{%- set ns.interval = v -%}{%- endif -%}{%- endfor -%}{{ ns.interval }}{{ budget[16384] "
     "}}{{ budget|dictsort }}",
     "2561024[(0, 0), (512, 128), (1024, 256), (16384, 1024)]"},
    {"{{ messages[2].tool_calls[0].function | tojson | string }}|{{ "
     "'a<think>b</think>c'.split('</think>')[0].split('<think>')|last }}|{{ "
     "\"\\nx\\n\".strip('\\n') }}",
     "{\"name\": \"f\", \"arguments\": {\"x\": 1, \"y\": [1, 2.5, \"s\"]}}|b|x"},
    {"{%- if n == 5\n   and t\n   and l | length > 0 %}multi{% endif %}|{{ 'string' in "
     "(\"number\", \"integer\") }}|{% set bos_token = 'override' %}{{ bos_token }}",
     "multi|False|override"},
    {"{# ----------‑‑‑ special ‑‑‑---------- #}\n{%- set tok   = '<minimax:tool_call>'         "
     "-%}\n{{ tok }}\n{%- for k, v in messages[2].tool_calls[0].function.arguments|items %}\n{{- "
     "'<parameter name=\"' + k + '\">' }}\n{{- v | tojson | string if v is not string else v "
     "}}\n{%- endfor %}",
     "<minimax:tool_call><parameter name=\"x\">1<parameter name=\"y\">[1, 2.5, \"s\"]"},
    {"{%- macro py_type(t) -%}\n    {%- if t == \"string\" -%}str\n    {%- elif t in (\"number\", "
     "\"integer\") -%}int\n    {%- else -%}Any{%- endif -%}\n{%- endmacro -%}\n[{{ "
     "py_type(\"string\") }}|{{ py_type(\"integer\") }}|{{ py_type(none) }}]",
     "[str|int|Any]"},
    {"{%- for item in [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": "
     "{\"properties\": {\"a\": {\"type\": \"string\", \"description\": \"d\"}}, \"required\": "
     "[\"a\"]}}}] if item.type == \"function\" %}\n\n\nFunction:\ndef {{ item.function.name "
     "}}(\n{%- for name, spec in item.function.parameters.properties.items() %}\n        {{- name "
     "}}: {{ spec.type }}{% if not loop.last %},{% endif %}\n{%- endfor %}):\n    \"\"\"\n    {%- "
     "if item.function.parameters.properties %}\n    Args:\n    {%- for name, spec in "
     "item.function.parameters.properties.items() %}\n\n    - {{ name }}\n      {%- if name in "
     "item.function.parameters.required %} [必填]{% else %} [选填]{% endif %}:\n      {{- \" \" ~ "
     "(spec.description or \"\") }}\n    {%- endfor %}\n    {%- endif %}\n    \"\"\"\n{%- endfor "
     "%}\n",
     "\n\nFunction:\ndef f(a: string):\n    \"\"\"    Args:\n    - a [必填]: d    \"\"\""},
    {"{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, b=3) }}",
     "1(2,){'b': 3}"},
    {"{% macro m(a) %}{{ a }}{% endmacro %}{{ m() }}|{{ m(a=4) }}", "|4"},
    {"{% macro m() %}[{{ caller() }}]{% endmacro %}{% call m() %}in{% endcall %}\n", "[in]"},
    {"{%- macro a(x) -%}{{ b(x) }}{%- endmacro -%}{%- macro b(x, k=True) -%}[{{ x }}{{ k }}]{%- "
     "endmacro -%}{{ a(1) }}{{ b(2, k=False) }}",
     "[1True][2False]"},
    {"{{ {'b': 1, 'A': 2, 'a': 3, 'C': 0}|dictsort }}|{{ {'b': 1, 'A': 2}|dictsort(true) }}|{{ "
     "{'x': 2, 'y': 1}|dictsort(by='value') }}|{{ ['B','a']|map('upper')|list }}",
     "[('A', 2), ('a', 3), ('b', 1), ('C', 0)]|[('A', 2), ('b', 1)]|[('y', 1), ('x', 2)]|['B', "
     "'A']"},
    {"{%- for key, value in {'type': 'x', 'zeta': {'description': 'd', 'type': ['string', "
     "'null']}} | dictsort -%}\n{%- set add_comma = false -%}\n{%- if key not in ['type'] -%}{{ "
     "key }}:{\n{%- if value['description'] -%}description:<|\"|>{{ value['description'] "
     "}}<|\"|>{%- set add_comma = true -%}{%- endif -%}\n{%- set value_type = value['type'] if "
     "value['type'] is string else value['type'][0] -%}\n{%- if add_comma %},{%- else -%} {%- set "
     "add_comma = true -%} {% endif -%}\ntype:<|\"|>{{ value_type | upper }}<|\"|>}\n{%- endif "
     "-%}\n{%- endfor -%}",
     "zeta:{description:<|\"|>d<|\"|>,type:<|\"|>STRING<|\"|>}"},
    {"{{ \"%s-%d-%5.2f|%-4s|%04d|%x|%o|%#x|%#o|%e|%g|%r|%%|%c\" % (\"a\", 3, 3.14159, \"b\", 42, "
     "255, 8, 255, 8, 12345.678, 0.0001, \"q\", 65) }}",
     "a-3- 3.14|b   |0042|ff|10|0xff|0o10|1.234568e+04|0.0001|'q'|%|A"},
    {"{{ \"%(a)s and %(b)d\" % {\"a\": \"x\", \"b\": 2} }}|{{ \"%s\" % none }}|{{ \"%s\" % [1, 2] "
     "}}|{{ \"%.2s\" % \"abcdef\" }}|{{ \"%5s|%-5s|\" % (\"ab\", \"cd\") }}|{{ \"%+d % d\" % (5, "
     "5) }}|{{ \"%d\" % 3.9 }}|{{ \"%s\" % {'k': 1} }}",
     "x and 2|None|[1, 2]|ab|   ab|cd   ||+5  5|3|{'k': 1}"},
    {"{{ \"hello %s\"|format(\"w\") }}|{{ \"%(x)s!\"|format(x=1) }}|{{ \"%s and %s\"|format(1, 2) "
     "}}",
     "hello w|1!|1 and 2"},
    {"{{ \"{} {}\".format(\"a\", 1) }}|{{ \"{1}{0}\".format(\"a\", \"b\") }}|{{ "
     "\"{name}!\".format(name=\"n\") }}|{{ \"{{}} {}\".format(2) }}|{{ "
     "\"{:>5}|{:<5}|{:^5}|\".format(\"a\", \"b\", \"c\") }}|{{ \"{:.2f} {:5d} {:05d} "
     "{:x}\".format(3.14159, 42, 42, 255) }}|{{ \"{!r}\".format(\"s\") }}|{{ \"{0[a]} "
     "{0.a}\".format({\"a\": 1}) }}|{{ \"{}\".format(1.5) }}|{{ \"{}\".format(none) }}|{{ "
     "\"{:*^9}\".format(\"mid\") }}|{{ \"{:.1%}\".format(0.256) }}",
     "a 1|ba|n!|{} 2|    a|b    |  c  ||3.14    42 00042 ff|'s'|1 1|1.5|None|***mid***|25.6%"},
};

static void test_language_matches_jinja2(void)
{
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        struct render_result r = render(CASES[i].tpl);
        if (r.rc != OSR_OK)
            fprintf(stderr, "case %zu: %s: %s\n", i, r.err.kind, r.err.msg);
        CHECK_STR_EQ(r.text, CASES[i].want);
        free(r.text);
    }
}

struct error_case {
    const char *tpl;
    int rc;
    const char *kind, *msg;
    int line, col;
};

static const struct error_case ERRORS[] = {
    {"{{ raise_exception('boom') }}", OSR_EINVAL, "TemplateError", "boom", 1, 4},
    {"a\n  {{ 1 + 'x' }}", OSR_EINVAL, "TypeError",
     "unsupported operand type(s) for +: 'int' and 'str'", 2, 8},
    {"{{ 'a' + none }}", OSR_EINVAL, "TypeError",
     "can only concatenate str (not \"NoneType\") to str", 1, 8},
    {"x\n\n   {{ foo(1) }}", OSR_EINVAL, "UndefinedError", "'foo' is undefined", 3, 7},
    {"{{ nope.attr }}", OSR_EINVAL, "UndefinedError", "'nope' is undefined", 1, 8},
    {"{{ d.zz.yy }}", OSR_EINVAL, "UndefinedError", "'dict object' has no attribute 'zz'", 1, 8},
    {"{{ l.append(4) }}", OSR_EINVAL, "SecurityError",
     "access to attribute 'append' of 'list' object is unsafe.", 1, 5},
    {"{{ 1 // 0 }}", OSR_EINVAL, "ZeroDivisionError", "integer division or modulo by zero", 1, 6},
    {"{{ l|map(attribute='x')|tojson }}", OSR_EINVAL, "TypeError",
     "Object of type generator is not JSON serializable", 1, 25},
    {"{% for a, b in [1] %}{% endfor %}", OSR_EINVAL, "TypeError",
     "cannot unpack non-iterable int object", 1, 4},
    {"{% if x %}\n{% endfor %}", OSR_EINVAL, "TemplateSyntaxError",
     "Encountered unknown tag 'endfor'. Jinja was looking for the following tags: 'elif' or "
     "'else' or 'endif'. The innermost block that needs to be closed is 'if'.",
     2, 4},
    {"ok\n\n  {{ 1 ? 2 }}", OSR_EINVAL, "TemplateSyntaxError", "unexpected char '?'", 3, 8},
    {"\xc3\xa9{{ 1 ? }}", OSR_EINVAL, "TemplateSyntaxError", "unexpected char '?'", 1, 7},
    {"{{ }}", OSR_EINVAL, "TemplateSyntaxError",
     "Expected an expression, got 'end of print statement'", 1, 4},
    {"{% break %}", OSR_EINVAL, "TemplateSyntaxError", "'break' outside of a loop", 1, 4},
    {"{% include 'x' %}", OSR_EINVAL, "TemplateSyntaxError", "Encountered unknown tag 'include'.",
     1, 4},
    {"{# open", OSR_EINVAL, "TemplateSyntaxError", "Missing end of comment tag", 1, 1},
    {"{{ 'open }}", OSR_EINVAL, "TemplateSyntaxError", "unexpected end of string literal", 1, 4},
    {"{% set d2 = {} %}{% set d2.a = 1 %}", OSR_EINVAL, "TemplateRuntimeError",
     "cannot assign attribute on non-namespace object", 1, 21},
    {"{{ x|nosuch }}", OSR_EINVAL, "TemplateAssertionError", "No filter named 'nosuch'.", 1, 6},
    {"{% set a, b = [1, 2, 3] %}", OSR_EINVAL, "ValueError",
     "too many values to unpack (expected 2)", 1, 4},
    {"{{ s.split(1) }}", OSR_EINVAL, "TypeError", "must be str or None, not int", 1, 5},
    {"{{ l[0]['x'] + 1 }}", OSR_EINVAL, "UndefinedError", "'int object' has no attribute 'x'", 1,
     14},
    {"{{ e[0]['x'] }}", OSR_EINVAL, "UndefinedError", "str object has no element 0", 1, 8},
    {"{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}", OSR_EINVAL, "TypeError",
     "macro 'm' takes not more than 1 argument(s)", 1, 41},
    {"{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, b=2) }}", OSR_EINVAL, "TypeError",
     "macro 'm' takes no keyword argument 'b'", 1, 41},
    {"{{ \"%s %s\" % (\"a\",) }}", OSR_EINVAL, "TypeError",
     "not enough arguments for format string", 1, 12},
    {"{{ \"{\".format(1) }}", OSR_EINVAL, "ValueError", "Single '{' encountered in format string",
     1, 7},
    {"{{ range(200000)|length }}", OSR_EINVAL, "OverflowError",
     "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).", 1, 4},
};

static void test_errors_name_kind_and_position(void)
{
    for (size_t i = 0; i < sizeof(ERRORS) / sizeof(ERRORS[0]); i++) {
        const struct error_case *c = &ERRORS[i];
        struct render_result r = render(c->tpl);
        CHECK_INT_EQ(r.rc, c->rc);
        CHECK_STR_EQ(r.err.kind, c->kind);
        CHECK_STR_EQ(r.err.msg, c->msg);
        if (r.err.line != c->line || r.err.col != c->col)
            fprintf(stderr, "case %zu: at %d:%d, want %d:%d\n", i, r.err.line, r.err.col, c->line,
                    c->col);
        CHECK_INT_EQ(r.err.line, c->line);
        CHECK_INT_EQ(r.err.col, c->col);
        free(r.text);
    }
}

static void test_limits_stop_hostile_templates(void)
{
    struct osr_chat_template_opts opts = {.limits = {.max_steps = 100000}};
    struct render_result r = render_opts(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", NULL,
        &opts);
    CHECK_INT_EQ(r.rc, OSR_ETOOBIG);
    CHECK_STR_EQ(r.err.kind, "LimitError");
    free(r.text);

    r = render_opts("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", NULL, NULL);
    CHECK_INT_EQ(r.rc, OSR_ETOOBIG);
    CHECK_STR_EQ(r.err.msg, "macro calls nested too deeply");
    free(r.text);

    struct osr_chat_template_opts small = {.limits = {.max_output = 100}};
    r = render_opts("{% for i in range(1000) %}xxxxxxxxxx{% endfor %}", NULL, &small);
    CHECK_INT_EQ(r.rc, OSR_ETOOBIG);
    free(r.text);

    r = render_opts("{% set ns = namespace(s='x') %}{% for i in range(60) %}"
                    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
                    NULL, &small);
    CHECK_INT_EQ(r.rc, OSR_ETOOBIG);
    free(r.text);

    struct osr_chat_template_opts mem = {.limits = {.max_memory = 1u << 20}};
    r = render_opts("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}"
                    "{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|length }}",
                    NULL, &mem);
    CHECK_INT_EQ(r.rc, OSR_ETOOBIG);
    free(r.text);

    r = render_opts("{{ 'x' * 100000000000 }}", NULL, NULL);
    CHECK_INT_EQ(r.rc, OSR_ETOOBIG);
    free(r.text);

    /* long left-associative chains and deeply nested values do not exhaust the C stack */
    struct osr_buf chain;
    osr_buf_init(&chain, 1u << 20);
    osr_buf_puts(&chain, "{{ 1");
    for (int i = 0; i < 5000; i++)
        osr_buf_puts(&chain, "+1");
    osr_buf_puts(&chain, " }}{{ l");
    for (int i = 0; i < 3000; i++)
        osr_buf_puts(&chain, "|first");
    osr_buf_puts(&chain, " }}");
    r = render_opts(osr_buf_str(&chain), NULL, NULL);
    CHECK_INT_EQ(r.rc, OSR_ETOOBIG);
    CHECK_STR_EQ(r.err.msg, "expression nested too deeply to evaluate");
    free(r.text);
    osr_buf_release(&chain);
    r = render_opts("{% set ns = namespace(a=[], b=[]) %}{% for i in range(5000) %}"
                    "{% set ns.a = [ns.a] %}{% set ns.b = [ns.b] %}{% endfor %}"
                    "{{ ns.a < ns.b }}",
                    NULL, NULL);
    CHECK_INT_EQ(r.rc, OSR_EINVAL);
    CHECK_STR_EQ(r.err.kind, "RecursionError");
    free(r.text);

    /* nesting the parser refuses instead of recursing without bound */
    char deep[4096];
    size_t k = 0;
    k += (size_t)snprintf(deep + k, sizeof(deep) - k, "{{ ");
    for (int i = 0; i < 1000; i++)
        deep[k++] = '(';
    deep[k] = '\0';
    r = render_opts(deep, NULL, NULL);
    CHECK_INT_EQ(r.rc, OSR_EINVAL);
    CHECK_STR_EQ(r.err.kind, "TemplateSyntaxError");
    free(r.text);
}

static void test_strftime_now_uses_injected_clock(void)
{
    struct render_result r = render("{{ strftime_now('%Y-%m-%d %H:%M %A %d %b %Y') }}");
    CHECK_STR_EQ(r.text, "2025-02-21 09:30 Friday 21 Feb 2025");
    free(r.text);
    /* without a fixed clock it is today's date: just check its shape */
    r = render_opts("{{ strftime_now('%Y')|length }}", NULL, NULL);
    CHECK_STR_EQ(r.text, "4");
    free(r.text);
}

static void test_fallback_template_is_chatml(void)
{
    const char *vars =
        "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", "
        "\"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": null, \"tool_calls\": "
        "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": {\"a\": 1}}}]},"
        " {\"role\": \"tool\", \"content\": \"R\"}], \"add_generation_prompt\": true}";
    struct render_result r = render_opts(osr_chat_template_fallback(), vars, NULL);
    CHECK_INT_EQ(r.rc, OSR_OK);
    CHECK_STR_EQ(r.text, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n"
                         "<|im_start|>assistant\n<tool_call>\n{\"name\": \"f\", \"arguments\": "
                         "{\"a\": 1}}\n</tool_call><|im_end|>\n<|im_start|>tool\nR<|im_end|>\n"
                         "<|im_start|>assistant\n");
    free(r.text);
}

static void test_api_contract(void)
{
    struct osr_chat_template *t = NULL;
    struct osr_chat_template_error err;
    struct osr_diag diag;
    /* invalid UTF-8 is refused at compile time */
    CHECK_INT_EQ(osr_chat_template_compile("a\xff", 2, &t, &err, &diag), OSR_EINVAL);
    CHECK(t == NULL);
    CHECK_STR_EQ(err.msg, "template is not valid UTF-8");
    /* the source need not be NUL-terminated */
    REQUIRE(osr_chat_template_compile("{{ 1 + 1 }}XYZ", 11, &t, NULL, NULL) == OSR_OK);
    struct osr_buf out;
    osr_buf_init(&out, 1024);
    osr_buf_puts(&out, "keep:");
    CHECK_INT_EQ(osr_chat_template_render(t, NULL, NULL, &out, NULL, NULL), OSR_OK);
    CHECK_STR_EQ(osr_buf_str(&out), "keep:2");
    osr_chat_template_free(t);

    /* a failed render leaves the caller's buffer as it was */
    REQUIRE(osr_chat_template_compile("partial{{ raise_exception('no') }}", 34, &t, NULL, NULL) ==
            OSR_OK);
    CHECK_INT_EQ(osr_chat_template_render(t, NULL, NULL, &out, &err, &diag), OSR_EINVAL);
    CHECK_STR_EQ(osr_buf_str(&out), "keep:2");
    CHECK_STR_EQ(diag.msg, "line 1, column 11: TemplateError: no");

    /* variables must be an object */
    struct json_object *arr = json_object_new_array();
    CHECK_INT_EQ(osr_chat_template_render(t, arr, NULL, &out, &err, NULL), OSR_EINVAL);
    CHECK_STR_EQ(err.kind, "TypeError");
    json_object_put(arr);
    osr_chat_template_free(t);
    osr_chat_template_free(NULL);
    osr_buf_release(&out);

    /* a template renders the same twice (compiled once, rendered many times) */
    struct render_result r1 = render("{% set x = l|sort %}{{ x }}{{ l }}");
    struct render_result r2 = render("{% set x = l|sort %}{{ x }}{{ l }}");
    CHECK_STR_EQ(r1.text, "[1, 2, 3][3, 1, 2]");
    CHECK_STR_EQ(r2.text, r1.text);
    free(r1.text);
    free(r2.text);
}

static void test_whitespace_control(void)
{
    struct render_result r = render("<ul>\n    {% for i in l %}\n    <li>{{ i }}</li>\n    "
                                    "{% endfor %}\n</ul>\n");
    CHECK_STR_EQ(r.text, "<ul>\n    <li>3</li>\n    <li>1</li>\n    <li>2</li>\n</ul>");
    free(r.text);
    r = render("a\r\nb {%- if t %} c {% endif -%}\r\n d");
    CHECK_STR_EQ(r.text, "a\nb c d");
    free(r.text);
    /* "-" and lstrip_blocks strip Unicode whitespace too (no-break space, em space) */
    r = render("a\xc2\xa0\xe3\x80\x80 {{- n -}} \xe2\x80\x83"
               "b|x\n\xc2\xa0 {% if t %}z{% endif %}");
    CHECK_STR_EQ(r.text, "a5b|x\nz");
    free(r.text);
    r = render("{% raw %}{{ x }}{% endraw %}");
    CHECK_STR_EQ(r.text, "{{ x }}");
    free(r.text);
    /* transformers' {% generation %} tag renders its body; sets inside stay inside */
    r = render("{% for m in messages %}{% if m.role == 'system' %}{% generation %}"
               "{% set q = 1 %}<{{ m.content }}>{% endgeneration %}{{ q is defined }}"
               "{% endif %}{% endfor %}");
    CHECK_STR_EQ(r.text, "<Be nice.>False");
    free(r.text);
}

TEST_MAIN(test_language_matches_jinja2, test_errors_name_kind_and_position,
          test_limits_stop_hostile_templates, test_strftime_now_uses_injected_clock,
          test_fallback_template_is_chatml, test_api_contract, test_whitespace_control)
