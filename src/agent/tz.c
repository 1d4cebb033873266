/* tz.c - IANA zone offsets from TZif files and POSIX TZ rules, without tzset.
 *
 * The C library's local-time machinery reads the TZ environment variable, which cannot be
 * changed safely while other threads run; the tools need a zone per call.  So this reads the
 * zone's TZif file itself: the transition table gives the offset for instants it covers, the
 * POSIX footer for later ones.  It does not handle leap-second tables or the Jn / n day
 * forms of POSIX rules (zones in use today have only Mm.w.d).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osr/config.h"
#include "osr/tz.h"

#define TZ_FILE_MAX (1024 * 1024)

static int64_t be_int(const unsigned char *p, int size)
{
    uint64_t v = 0;
    for (int i = 0; i < size; i++)
        v = (v << 8) | p[i];
    if (size == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian; m 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t year_of(int64_t unix_s)
{
    int64_t z = (unix_s >= 0 ? unix_s : unix_s - 86399) / 86400 + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    return yoe + era * 400 + (m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* --- POSIX TZ strings ------------------------------------------------------------------------ */

struct cursor {
    const char *p;
};

static bool parse_name(struct cursor *c, char *out, size_t cap)
{
    size_t n = 0;
    if (*c->p == '<') {
        c->p++;
        while (*c->p && *c->p != '>') {
            if (n + 1 < cap)
                out[n++] = *c->p;
            c->p++;
        }
        if (*c->p != '>')
            return false;
        c->p++;
    } else {
        while ((*c->p >= 'A' && *c->p <= 'Z') || (*c->p >= 'a' && *c->p <= 'z')) {
            if (n + 1 < cap)
                out[n++] = *c->p;
            c->p++;
        }
    }
    if (cap)
        out[n < cap ? n : cap - 1] = '\0';
    return n >= 3 || (n > 0 && cap > 0);
}

/* [+-]hh[:mm[:ss]] -> seconds (sign as written). */
static bool parse_hms(struct cursor *c, int *out, int max_hours)
{
    int sign = 1;
    if (*c->p == '+' || *c->p == '-')
        sign = *c->p++ == '-' ? -1 : 1;
    int parts[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            if (*c->p != ':')
                break;
            c->p++;
        }
        int digits = 0, v = 0;
        while (*c->p >= '0' && *c->p <= '9' && digits < 3) {
            v = v * 10 + (*c->p++ - '0');
            digits++;
        }
        if (!digits)
            return false;
        parts[i] = v;
    }
    if (parts[0] > max_hours || parts[1] > 59 || parts[2] > 59)
        return false;
    *out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return true;
}

struct rule {
    int month, week, wday; /* Mm.w.d */
    int time;              /* seconds after local midnight, default 2:00 */
};

static bool parse_rule(struct cursor *c, struct rule *r)
{
    if (*c->p != 'M')
        return false;
    c->p++;
    char *end = NULL;
    long m = strtol(c->p, &end, 10);
    if (end == c->p || *end != '.')
        return false;
    c->p = end + 1;
    long w = strtol(c->p, &end, 10);
    if (end == c->p || *end != '.')
        return false;
    c->p = end + 1;
    long d = strtol(c->p, &end, 10);
    if (end == c->p)
        return false;
    c->p = end;
    if (m < 1 || m > 12 || w < 1 || w > 5 || d < 0 || d > 6)
        return false;
    r->month = (int)m;
    r->week = (int)w;
    r->wday = (int)d;
    r->time = 7200;
    if (*c->p == '/') {
        c->p++;
        if (!parse_hms(c, &r->time, 167))
            return false;
    }
    return true;
}

/* Local seconds since the epoch (as if local were UTC) at which rule r fires in year y. */
static int64_t rule_local(const struct rule *r, int64_t y)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int dim = mdays[r->month - 1] + (r->month == 2 && is_leap(y));
    int64_t first = days_from_civil(y, r->month, 1);
    int first_wday = (int)(((first % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    int day = 1 + (r->wday - first_wday + 7) % 7 + (r->week - 1) * 7;
    while (day > dim)
        day -= 7;
    return (first + day - 1) * 86400 + r->time;
}

int osr_tz_posix_offset(const char *tzstr, int64_t unix_s, int *offset_s, char *abbr,
                        size_t abbr_cap)
{
    struct cursor c = {tzstr};
    char std_name[16], dst_name[16];
    int std_off = 0, dst_off = 0;
    if (!parse_name(&c, std_name, sizeof(std_name)) || !parse_hms(&c, &std_off, 24))
        return OSR_EINVAL;
    std_off = -std_off; /* POSIX offsets are west of UTC */
    if (*c.p == '\0') {
        *offset_s = std_off;
        snprintf(abbr, abbr_cap, "%s", std_name);
        return OSR_OK;
    }
    if (!parse_name(&c, dst_name, sizeof(dst_name)))
        return OSR_EINVAL;
    dst_off = std_off + 3600;
    if (*c.p && *c.p != ',') {
        if (!parse_hms(&c, &dst_off, 24))
            return OSR_EINVAL;
        dst_off = -dst_off;
    }
    struct rule start, end;
    if (*c.p != ',')
        return OSR_EINVAL; /* no rule: POSIX leaves it implementation-defined */
    c.p++;
    if (!parse_rule(&c, &start) || *c.p != ',')
        return OSR_EINVAL;
    c.p++;
    if (!parse_rule(&c, &end) || *c.p != '\0')
        return OSR_EINVAL;
    int64_t y = year_of(unix_s + std_off);
    int64_t s_utc = rule_local(&start, y) - std_off;
    int64_t e_utc = rule_local(&end, y) - dst_off;
    bool dst =
        s_utc < e_utc ? (unix_s >= s_utc && unix_s < e_utc) : !(unix_s >= e_utc && unix_s < s_utc);
    *offset_s = dst ? dst_off : std_off;
    snprintf(abbr, abbr_cap, "%s", dst ? dst_name : std_name);
    return OSR_OK;
}

/* --- TZif ------------------------------------------------------------------------------------ */

struct counts {
    uint32_t isut, isstd, leap, time, type, chars;
};

static bool read_header(const unsigned char *p, size_t len, struct counts *k, char *version)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    *version = (char)p[4];
    uint32_t v[6];
    for (int i = 0; i < 6; i++)
        v[i] = (uint32_t)be_int(p + 20 + 4 * i, 4);
    k->isut = v[0];
    k->isstd = v[1];
    k->leap = v[2];
    k->time = v[3];
    k->type = v[4];
    k->chars = v[5];
    /* Caps keep the size arithmetic below far from overflow. */
    return k->time <= 100000 && k->type >= 1 && k->type <= 256 && k->chars <= 4096 &&
           k->leap <= 10000 && k->isut <= 256 && k->isstd <= 256;
}

static size_t block_size(const struct counts *k, int tsize)
{
    return (size_t)k->time * (size_t)tsize + k->time + (size_t)k->type * 6 + k->chars +
           (size_t)k->leap * (size_t)(tsize + 4) + k->isstd + k->isut;
}

int osr_tz_offset_tzif(const unsigned char *data, size_t len, int64_t unix_s, int *offset_s,
                       char *abbr, size_t abbr_cap, struct osr_diag *diag)
{
    struct counts k;
    char version = 0;
    if (!read_header(data, len, &k, &version))
        return osr_diag_set(diag, OSR_ECORRUPT, "not a TZif file");
    const unsigned char *p = data + 44;
    size_t left = len - 44;
    int tsize = 4;
    size_t need = block_size(&k, 4);
    if (need > left)
        return osr_diag_set(diag, OSR_ECORRUPT, "truncated TZif file");
    if (version >= '2') {
        p += need;
        left -= need;
        if (!read_header(p, left, &k, &version))
            return osr_diag_set(diag, OSR_ECORRUPT, "bad second TZif header");
        p += 44;
        left -= 44;
        tsize = 8;
        need = block_size(&k, 8);
        if (need > left)
            return osr_diag_set(diag, OSR_ECORRUPT, "truncated TZif file");
    }
    const unsigned char *times = p;
    const unsigned char *idx = times + (size_t)k.time * (size_t)tsize;
    const unsigned char *types = idx + k.time;
    const unsigned char *chars = types + (size_t)k.type * 6;
    /* The footer (v2+): "\n<POSIX TZ>\n" after the data block. */
    char footer[128] = "";
    if (tsize == 8 && left > need + 1 && p[need] == '\n') {
        const unsigned char *f = p + need + 1;
        size_t fl = 0;
        while (need + 1 + fl < left && f[fl] != '\n' && fl + 1 < sizeof(footer))
            fl++;
        if (need + 1 + fl < left && f[fl] == '\n') {
            memcpy(footer, f, fl);
            footer[fl] = '\0';
        }
    }
    if (footer[0] &&
        (k.time == 0 || unix_s >= be_int(times + (size_t)(k.time - 1) * (size_t)tsize, tsize)) &&
        osr_tz_posix_offset(footer, unix_s, offset_s, abbr, abbr_cap) == OSR_OK)
        return OSR_OK;
    unsigned type = 0;
    size_t lo = 0, hi = k.time; /* first transition later than unix_s */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (be_int(times + mid * (size_t)tsize, tsize) <= unix_s)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0)
        type = idx[lo - 1];
    if (type >= k.type)
        return osr_diag_set(diag, OSR_ECORRUPT, "TZif transition names a missing type");
    const unsigned char *tt = types + (size_t)type * 6;
    int32_t off = (int32_t)be_int(tt, 4);
    if (off < -26 * 3600 || off > 26 * 3600)
        return osr_diag_set(diag, OSR_ECORRUPT, "TZif offset out of range");
    *offset_s = off;
    unsigned di = tt[5];
    size_t n = 0;
    if (abbr_cap) {
        while (di + n < k.chars && chars[di + n] && n + 1 < abbr_cap)
            n++;
        memcpy(abbr, chars + (di < k.chars ? di : 0), di < k.chars ? n : 0);
        abbr[di < k.chars ? n : 0] = '\0';
    }
    return OSR_OK;
}

static bool valid_zone(const char *z)
{
    size_t n = strlen(z);
    if (n == 0 || n > 64 || z[0] == '/' || z[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = z[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '+' || c == '/'))
            return false;
        if (c == '/' && (z[i + 1] == '.' || z[i + 1] == '/' || z[i + 1] == '\0'))
            return false;
    }
    return true;
}

int osr_tz_offset(const char *zone, int64_t unix_s, int *offset_s, char *abbr, size_t abbr_cap,
                  struct osr_diag *diag)
{
    if (!valid_zone(zone))
        return osr_diag_set(diag, OSR_EINVAL, "'%.64s' is not a time zone name", zone);
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", zone);
    char *data = NULL;
    size_t len = 0;
    if (osr_read_file(path, TZ_FILE_MAX, &data, &len, NULL) != OSR_OK)
        return osr_diag_set(diag, OSR_ENOTFOUND, "unknown time zone '%.64s'", zone);
    int rc = osr_tz_offset_tzif((const unsigned char *)data, len, unix_s, offset_s, abbr, abbr_cap,
                                diag);
    free(data);
    return rc;
}
