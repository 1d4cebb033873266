/* store_util.h - helpers shared by the storage tests: scratch homes, file snapshots, greps. */
#ifndef OSR_TEST_STORE_UTIL_H
#define OSR_TEST_STORE_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "osr/buf.h"
#include "osr/config.h"

/* Makes a fresh scratch home; the caller frees the path. */
static inline char *scratch_home(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof(tmpl), "%s/osr-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    char *d = mkdtemp(tmpl);
    if (!d) {
        perror("mkdtemp");
        exit(2);
    }
    return strdup(d);
}

static inline void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char *sub = osr_path_join(path, e->d_name);
                rm_rf(sub);
                free(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Reads a whole file (test files are small); returns NULL when missing. */
static inline unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct osr_buf b;
    osr_buf_init(&b, (size_t)1 << 30);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        osr_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    if (!b.data)
        return (unsigned char *)calloc(1, 1);
    return (unsigned char *)osr_buf_detach(&b, NULL);
}

/* Appends "<relative path> <size> <sha256>" for every file under dir, sorted by readdir order
 * of a sorted scandir, to out. */
static inline void snapshot_into(struct osr_buf *out, const char *dir, const char *rel)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        if (strcmp(name, ".") && strcmp(name, "..")) {
            char *full = osr_path_join(dir, name);
            char *r = rel[0] ? osr_path_join(rel, name) : strdup(name);
            struct stat st;
            if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
                snapshot_into(out, full, r);
            } else {
                size_t len = 0;
                unsigned char *data = slurp(full, &len);
                unsigned char md[32];
                unsigned int mdlen = 0;
                EVP_Digest(data ? data : (unsigned char *)"", len, md, &mdlen, EVP_sha256(), NULL);
                osr_buf_appendf(out, "%s %zu ", r, len);
                for (unsigned k = 0; k < mdlen; k++)
                    osr_buf_appendf(out, "%02x", md[k]);
                osr_buf_putc(out, '\n');
                free(data);
            }
            free(r);
            free(full);
        }
        free(list[i]);
    }
    free(list);
}

static inline char *snapshot(const char *dir)
{
    struct osr_buf b;
    osr_buf_init(&b, (size_t)1 << 24);
    snapshot_into(&b, dir, "");
    osr_buf_puts(&b, "");
    return osr_buf_detach(&b, NULL);
}

static inline bool mem_contains(const unsigned char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (m == 0 || n < m)
        return false;
    return memmem(hay, n, needle, m) != NULL;
}

/* Returns the number of files under dir whose raw bytes contain needle; names the first in
 * *first (caller frees) when non-NULL. */
static inline int grep_tree(const char *dir, const char *needle, char **first)
{
    int hits = 0;
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        if (strcmp(name, ".") && strcmp(name, "..")) {
            char *full = osr_path_join(dir, name);
            struct stat st;
            if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
                hits += grep_tree(full, needle, first);
            } else {
                size_t len = 0;
                unsigned char *data = slurp(full, &len);
                if (data && mem_contains(data, len, needle)) {
                    hits++;
                    if (first && !*first)
                        *first = strdup(full);
                }
                free(data);
            }
            free(full);
        }
        free(list[i]);
    }
    free(list);
    return hits;
}

static inline int count_files(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

#endif
