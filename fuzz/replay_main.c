/* replay_main.c - runs a fuzz target over every file of a corpus folder, for builds without
 * libFuzzer.  It keeps the targets compiling and the saved corpus (including past crashers)
 * passing in every CTest run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        fprintf(stderr, "cannot open corpus '%s'\n", argv[1]);
        return 1;
    }
    int runs = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *path = osr_path_join(argv[1], e->d_name);
        char *data = NULL;
        size_t len = 0;
        if (osr_read_file(path, 64u * 1024 * 1024, &data, &len, NULL) == 0) {
            LLVMFuzzerTestOneInput((const uint8_t *)data, len);
            runs++;
        }
        free(data);
        free(path);
    }
    closedir(d);
    /* An empty input too: the edge every parser must survive. */
    LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
    printf("%d passed, 0 failed\n", runs + 1);
    return 0;
}
