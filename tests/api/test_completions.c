/* test_completions.c - OpenAI legacy text completions: the fixture cases. */
#include "fixture.h"

#include "osr/api_openai_completions.h"

static void test_fixtures(void)
{
    CHECK(fixture_run_all("openai_completions", OSR_API_OPENAI_COMPLETIONS,
                          osr_openai_completions_decode) >= 10);
}

TEST_MAIN(test_fixtures)
