/* types: type names, values, calendar arithmetic, parsing, formatting,
 * casts, ordering and hashing. */
#include "base.c"
#include "types.h"

/* ---------------------------------------------------------------- types */

SPKDEF spk_type spk_type_of(spk_type_id id) {
    spk_type t = {(uint8_t)id, 0, 0};
    if (id == SPK_TYPE_DECIMAL) t.precision = 10; /* Spark's default DECIMAL(10,0) */
    return t;
}

SPKDEF spk_type spk_type_decimal(int precision, int scale) {
    spk_type t = {SPK_TYPE_DECIMAL, 0, 0};
    /* Out-of-range arguments give a type that spk_type_valid rejects. */
    t.precision = (uint8_t)(precision < 0 || precision > 255 ? 255 : precision);
    t.scale = (uint8_t)(scale < 0 || scale > 255 ? 255 : scale);
    return t;
}

SPKDEF bool spk_type_valid(spk_type t) {
    if (t.id >= SPK_TYPE_COUNT) return false;
    if (t.id == SPK_TYPE_DECIMAL)
        return t.precision >= 1 && t.precision <= SPK_DECIMAL_MAX_PRECISION && t.scale <= t.precision;
    return t.precision == 0 && t.scale == 0;
}

SPKDEF bool spk_type_equal(spk_type a, spk_type b) {
    return a.id == b.id && a.precision == b.precision && a.scale == b.scale;
}

static const char *const spk__type_names[SPK_TYPE_COUNT][3] = {
    /*               TREE         SIMPLE       SQL */
    [SPK_TYPE_NULL] = {"void", "void", "VOID"},
    [SPK_TYPE_BOOLEAN] = {"boolean", "boolean", "BOOLEAN"},
    [SPK_TYPE_INT32] = {"integer", "int", "INT"},
    [SPK_TYPE_INT64] = {"long", "bigint", "BIGINT"},
    [SPK_TYPE_DOUBLE] = {"double", "double", "DOUBLE"},
    [SPK_TYPE_DECIMAL] = {"decimal", "decimal", "DECIMAL"},
    [SPK_TYPE_STRING] = {"string", "string", "STRING"},
    [SPK_TYPE_DATE] = {"date", "date", "DATE"},
    [SPK_TYPE_TIMESTAMP] = {"timestamp", "timestamp", "TIMESTAMP"},
};

SPKDEF size_t spk_type_format(spk_type t, spk_type_style style, char *buf, size_t cap) {
    int n;
    if (t.id >= SPK_TYPE_COUNT || (unsigned)style > SPK_TYPE_SQL)
        n = snprintf(buf, cap, "?");
    else if (t.id == SPK_TYPE_DECIMAL)
        n = snprintf(buf, cap, "%s(%d,%d)", spk__type_names[t.id][style], t.precision, t.scale);
    else
        n = snprintf(buf, cap, "%s", spk__type_names[t.id][style]);
    return n < 0 ? 0 : (size_t)n;
}

/* "DECIMAL(10,2)", for messages. */
typedef struct spk__type_text { char s[24]; } spk__type_text;
static spk__type_text spk__type_sql(spk_type t) {
    spk__type_text r;
    spk_type_format(t, SPK_TYPE_SQL, r.s, sizeof r.s);
    return r;
}

static void spk__skip_space(const char *s, size_t len, size_t *pos) {
    while (*pos < len && spk__is_space((unsigned char)s[*pos])) (*pos)++;
}

/* Reads an unsigned integer of at most 9 digits at *pos. */
static bool spk__read_small_uint(const char *s, size_t len, size_t *pos, int *out) {
    size_t start = *pos;
    long v = 0;
    while (*pos < len && spk__is_digit((unsigned char)s[*pos]) && *pos - start < 9)
        v = v * 10 + (s[(*pos)++] - '0');
    if (*pos == start) return false;
    *out = (int)v;
    return true;
}

/* Parses a type name at *pos of s[0..len). On failure records a message and
 * leaves *pos at the offending byte, so callers can point a caret at it. */
static spk_status spk__type_parse_at(const char *s, size_t len, size_t *pos, spk_type *out) {
    spk__skip_space(s, len, pos);
    size_t start = *pos;
    while (*pos < len && spk__is_ident_char((unsigned char)s[*pos])) (*pos)++;
    const char *w = s + start;
    size_t wl = *pos - start;
    if (wl == 0) {
        return spk__fail(SPK_ERR_PARSE, "expected a data type");
    }
    static const struct { const char *name; spk_type_id id; } plain[] = {
        {"boolean", SPK_TYPE_BOOLEAN}, {"bool", SPK_TYPE_BOOLEAN},   {"int", SPK_TYPE_INT32},
        {"integer", SPK_TYPE_INT32},   {"bigint", SPK_TYPE_INT64},   {"long", SPK_TYPE_INT64},
        {"double", SPK_TYPE_DOUBLE},   {"string", SPK_TYPE_STRING},  {"date", SPK_TYPE_DATE},
        {"timestamp", SPK_TYPE_TIMESTAMP}, {"void", SPK_TYPE_NULL},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        if (spk__word_is(w, wl, plain[i].name)) {
            *out = spk_type_of(plain[i].id);
            return SPK_OK;
        }
    }
    bool is_decimal = spk__word_is(w, wl, "decimal") || spk__word_is(w, wl, "dec") ||
                      spk__word_is(w, wl, "numeric");
    bool is_char = spk__word_is(w, wl, "varchar") || spk__word_is(w, wl, "char");
    if (is_decimal || is_char) {
        int p = 10, sc = 0;
        size_t after = *pos;
        spk__skip_space(s, len, &after);
        if (after < len && s[after] == '(') {
            *pos = after + 1;
            spk__skip_space(s, len, pos);
            if (!spk__read_small_uint(s, len, pos, &p))
                return spk__fail(SPK_ERR_PARSE, "expected a number in %.*s(...)", (int)wl, w);
            spk__skip_space(s, len, pos);
            if (is_decimal && *pos < len && s[*pos] == ',') {
                (*pos)++;
                spk__skip_space(s, len, pos);
                if (!spk__read_small_uint(s, len, pos, &sc))
                    return spk__fail(SPK_ERR_PARSE, "expected a scale in %.*s(p, s)", (int)wl, w);
                spk__skip_space(s, len, pos);
            }
            if (*pos >= len || s[*pos] != ')')
                return spk__fail(SPK_ERR_PARSE, "expected ')' to close %.*s(", (int)wl, w);
            (*pos)++;
        } else if (is_char) {
            return spk__fail(SPK_ERR_PARSE, "%.*s needs a length, as in %.*s(10)", (int)wl, w,
                             (int)wl, w);
        }
        if (is_char) {
            *out = spk_type_of(SPK_TYPE_STRING); /* Spark reads VARCHAR(n)/CHAR(n) as STRING */
            return SPK_OK;
        }
        if (p < 1 || p > SPK_DECIMAL_MAX_PRECISION || sc > p) {
            *pos = start;
            return spk__fail(SPK_ERR_PARSE,
                             "DECIMAL(%d,%d) is not supported: precision must be 1..%d and scale 0..precision",
                             p, sc, SPK_DECIMAL_MAX_PRECISION);
        }
        *out = spk_type_decimal(p, sc);
        return SPK_OK;
    }
    static const char *const unsupported[] = {"tinyint", "byte", "smallint", "short", "float",
                                              "real", "binary", "array", "map", "struct",
                                              "interval", "timestamp_ntz"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        if (spk__word_is(w, wl, unsupported[i])) {
            *pos = start;
            return spk__fail(SPK_ERR_UNSUPPORTED,
                             "data type %.*s is not supported yet (use BOOLEAN, INT, BIGINT, DOUBLE, "
                             "DECIMAL(p,s), STRING, DATE or TIMESTAMP)",
                             (int)wl, w);
        }
    }
    *pos = start;
    return spk__fail(SPK_ERR_PARSE, "[UNSUPPORTED_DATATYPE] unknown data type \"%.*s\"", (int)wl, w);
}

SPKDEF spk_status spk_type_parse(const char *text, spk_type *out) {
    if (!text || !out) return spk__fail(SPK_ERR_ARG, "spk_type_parse: NULL argument");
    size_t len = strlen(text), pos = 0;
    spk_status st = spk__type_parse_at(text, len, &pos, out);
    if (st == SPK_OK) {
        spk__skip_space(text, len, &pos);
        if (pos == len) return SPK_OK;
        st = spk__fail(SPK_ERR_PARSE, "unexpected text after the data type");
    }
    spk__fail_caret(text, pos);
    return st;
}

/* ---------------------------------------------------------------- values */

SPKDEF spk_value spk_value_null_of(spk_type t) {
    spk_value v;
    memset(&v, 0, sizeof v);
    v.type = t;
    v.is_null = true;
    return v;
}
SPKDEF spk_value spk_value_null(void) { return spk_value_null_of(spk_type_of(SPK_TYPE_NULL)); }

static spk_value spk__value_of(spk_type_id id) {
    spk_value v;
    memset(&v, 0, sizeof v);
    v.type = spk_type_of(id);
    return v;
}
SPKDEF spk_value spk_value_bool(bool x) { spk_value v = spk__value_of(SPK_TYPE_BOOLEAN); v.as.b = x; return v; }
SPKDEF spk_value spk_value_i32(int32_t x) { spk_value v = spk__value_of(SPK_TYPE_INT32); v.as.i32 = x; return v; }
SPKDEF spk_value spk_value_i64(int64_t x) { spk_value v = spk__value_of(SPK_TYPE_INT64); v.as.i64 = x; return v; }
SPKDEF spk_value spk_value_f64(double x) { spk_value v = spk__value_of(SPK_TYPE_DOUBLE); v.as.f64 = x; return v; }
SPKDEF spk_value spk_value_date(int32_t d) { spk_value v = spk__value_of(SPK_TYPE_DATE); v.as.i32 = d; return v; }
SPKDEF spk_value spk_value_timestamp(int64_t us) { spk_value v = spk__value_of(SPK_TYPE_TIMESTAMP); v.as.i64 = us; return v; }
SPKDEF spk_value spk_value_decimal(int64_t unscaled, int precision, int scale) {
    spk_value v = spk__value_of(SPK_TYPE_DECIMAL);
    v.type = spk_type_decimal(precision, scale);
    v.as.i64 = unscaled;
    return v;
}
SPKDEF spk_value spk_value_strn(const char *s, size_t len) {
    spk_value v = spk__value_of(SPK_TYPE_STRING);
    if (!s) return spk_value_null_of(v.type);
    v.as.str.ptr = s;
    v.as.str.len = len;
    return v;
}
SPKDEF spk_value spk_value_str(const char *s) { return spk_value_strn(s, s ? strlen(s) : 0); }

static bool spk__value_is_null(const spk_value *v) { return v->is_null || v->type.id == SPK_TYPE_NULL; }

/* ---------------------------------------------------------------- calendar
 * Days since 1970-01-01 from a proleptic Gregorian date and back, by counting
 * whole 400-year eras (146097 days each) from 0000-03-01, so that the leap
 * day falls at the end of each counted year. */

#define SPK__MICROS_PER_SECOND 1000000LL
#define SPK__MICROS_PER_DAY 86400000000LL

static int64_t spk__floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
static int64_t spk__floor_mod(int64_t a, int64_t b) {
    int64_t r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

static int64_t spk__days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = spk__floor_div(y, 400);
    int64_t year_of_era = y - era * 400;                              /* 0..399 */
    int64_t day_of_year = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* from March 1 */
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

static void spk__civil_from_days(int64_t days, int64_t *y, int *m, int *d) {
    days += 719468;
    int64_t era = spk__floor_div(days, 146097);
    int64_t day_of_era = days - era * 146097;
    int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t mp = (5 * day_of_year + 2) / 153;
    *d = (int)(day_of_year - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = year_of_era + era * 400 + (*m <= 2);
}

static bool spk__is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
static int spk__days_in_month(int64_t y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && spk__is_leap(y) ? 29 : days[m - 1];
}

/* Dates must fit in int32 days; Spark's own range (years -290308..294247) is narrower. */
#define SPK__MAX_YEAR 294247
#define SPK__MIN_YEAR -290308

SPKDEF bool spk_date_from_ymd(int year, int month, int day, int32_t *days) {
    if (year < SPK__MIN_YEAR || year > SPK__MAX_YEAR || month < 1 || month > 12 || day < 1 ||
        day > spk__days_in_month(year, month))
        return false;
    *days = (int32_t)spk__days_from_civil(year, month, day);
    return true;
}

SPKDEF void spk_date_to_ymd(int32_t days, int *year, int *month, int *day) {
    int64_t y;
    spk__civil_from_days(days, &y, month, day);
    *year = (int)y;
}

SPKDEF bool spk_timestamp_from_parts(int year, int month, int day, int hour, int minute,
                                     int second, int micros, int64_t *out) {
    int32_t days;
    if (!spk_date_from_ymd(year, month, day, &days) || hour < 0 || hour > 23 || minute < 0 ||
        minute > 59 || second < 0 || second > 59 || micros < 0 || micros > 999999)
        return false;
    *out = (int64_t)days * SPK__MICROS_PER_DAY +
           ((int64_t)hour * 3600 + minute * 60 + second) * SPK__MICROS_PER_SECOND + micros;
    return true;
}

/* ---------------------------------------------------------------- parsing
 * The spk__parse_* helpers read a whole trimmed span and return one of these;
 * `lenient` selects the forms Spark's CAST accepts on top of the strict ones. */
typedef enum { SPK__PARSED, SPK__MALFORMED, SPK__OVERFLOW } spk__parse_result;

static void spk__trim(const char **s, size_t *len) {
    while (*len && ((unsigned char)**s <= ' ')) (*s)++, (*len)--;
    while (*len && ((unsigned char)(*s)[*len - 1] <= ' ')) (*len)--;
}

/* [+-]digits; lenient also accepts a fraction, which is dropped (Spark's
 * cast of "1.9" to INT is 1). */
static spk__parse_result spk__parse_int64(const char *s, size_t len, bool lenient, int64_t *out) {
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i == len) return SPK__MALFORMED;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    bool overflow = false, digits = false;
    for (; i < len && spk__is_digit((unsigned char)s[i]); i++) {
        unsigned dgt = (unsigned)(s[i] - '0');
        if (v > (limit - dgt) / 10) overflow = true;
        else v = v * 10 + dgt;
        digits = true;
    }
    if (lenient && i < len && s[i] == '.') {
        i++;
        bool frac = false;
        while (i < len && spk__is_digit((unsigned char)s[i])) i++, frac = true;
        if (!digits && !frac) return SPK__MALFORMED;
        digits = true;
    }
    if (!digits || i != len) return SPK__MALFORMED;
    if (overflow) return SPK__OVERFLOW;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return SPK__PARSED;
}

static const int64_t spk__pow10[19] = {1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL,
    10000000LL, 100000000LL, 1000000000LL, 10000000000LL, 100000000000LL, 1000000000000LL,
    10000000000000LL, 100000000000000LL, 1000000000000000LL, 10000000000000000LL,
    100000000000000000LL, 1000000000000000000LL};

/* [+-]digits[.digits][e[+-]digits] rounded half-up to `scale` digits, then
 * checked against `precision`. Exact: no floating point involved. */
static spk__parse_result spk__parse_decimal(const char *s, size_t len, int precision, int scale,
                                            int64_t *out) {
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    size_t mant_start = i, int_digits = 0, frac_digits = 0;
    while (i < len && spk__is_digit((unsigned char)s[i])) i++, int_digits++;
    size_t dot = i;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && spk__is_digit((unsigned char)s[i])) i++, frac_digits++;
    }
    if (int_digits + frac_digits == 0) return SPK__MALFORMED;
    size_t mant_end = i;
    long exp10 = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        size_t es = i;
        while (i < len && spk__is_digit((unsigned char)s[i])) {
            if (exp10 < 100000) exp10 = exp10 * 10 + (s[i] - '0');
            i++;
        }
        if (i == es) return SPK__MALFORMED;
        if (eneg) exp10 = -exp10;
    }
    if (i != len) return SPK__MALFORMED;
    /* Digit k (0-based over all mantissa digits) has weight 10^(int_digits-1-k+exp10);
     * the unscaled result keeps weights >= 10^-scale. */
    uint64_t v = 0;
    bool overflow = false;
    int round_digit = 0;
    long k = 0;
    for (size_t j = mant_start; j < mant_end; j++) {
        if (j == dot) continue;
        long weight = (long)int_digits - 1 - k + exp10;
        int dgt = s[j] - '0';
        k++;
        if (weight >= -scale) {
            if (v > (UINT64_MAX - 9) / 10) overflow = true;
            else v = v * 10 + (uint64_t)dgt;
        } else if (weight == -scale - 1) {
            round_digit = dgt;
            break;
        } else {
            break;
        }
    }
    /* Digits of weight above the last mantissa digit are implied zeros. */
    long last_weight = (long)int_digits - (long)(int_digits + frac_digits) + exp10;
    for (long w = last_weight; w > -scale && !overflow && v != 0; w--) {
        if (v > UINT64_MAX / 10) overflow = true;
        else v *= 10;
    }
    if (round_digit >= 5) v++;
    if (overflow || v >= (uint64_t)spk__pow10[precision]) return SPK__OVERFLOW;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return SPK__PARSED;
}

/* Java/Spark double syntax: [+-]digits[.digits][e[+-]digits][dDfF], NaN,
 * [+-]Infinity and [+-]inf (case-insensitive). strtod does the correctly
 * rounded conversion, on a canonical copy "0.<digits>e<exp>" in the C
 * locale's decimal point. Correct rounding never needs more than 767
 * significant digits, so longer mantissas keep 800 digits plus a sticky 1
 * standing for whatever nonzero digits were dropped. */
#define SPK__DOUBLE_DIGITS 800
static spk__parse_result spk__parse_double(const char *s, size_t len, double *out) {
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    const char *w = s + i;
    size_t wl = len - i;
    if (spk__word_is(w, wl, "nan")) {
        *out = NAN;
        return SPK__PARSED;
    }
    if (spk__word_is(w, wl, "infinity") || spk__word_is(w, wl, "inf")) {
        *out = neg ? -INFINITY : INFINITY;
        return SPK__PARSED;
    }
    char buf[SPK__DOUBLE_DIGITS + 48];
    size_t nd = 0, int_digits = 0, leading_zeros = 0;
    bool any_digit = false, in_fraction = false, seen_nonzero = false, dropped = false;
    for (; i < len; i++) {
        char ch = s[i];
        if (ch == '.' && !in_fraction) {
            in_fraction = true;
            continue;
        }
        if (!spk__is_digit((unsigned char)ch)) break;
        any_digit = true;
        if (!in_fraction) int_digits++;
        if (!seen_nonzero && ch == '0') {
            leading_zeros++;
            continue;
        }
        seen_nonzero = true;
        if (nd < SPK__DOUBLE_DIGITS) buf[3 + nd++] = ch; /* after "-0." */
        else if (ch != '0') dropped = true;
    }
    if (!any_digit) return SPK__MALFORMED;
    long exp10 = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        size_t es = i;
        for (; i < len && spk__is_digit((unsigned char)s[i]); i++)
            if (exp10 < 1000000) exp10 = exp10 * 10 + (s[i] - '0');
        if (i == es) return SPK__MALFORMED;
        if (eneg) exp10 = -exp10;
    }
    if (i < len && (s[i] == 'd' || s[i] == 'D' || s[i] == 'f' || s[i] == 'F')) i++;
    if (i != len) return SPK__MALFORMED;
    if (nd == 0) {
        *out = neg ? -0.0 : 0.0;
        return SPK__PARSED;
    }
    if (dropped) buf[3 + nd++] = '1';
    /* value = 0.<digits> x 10^(int_digits - leading_zeros + exp10) */
    char probe[8];
    snprintf(probe, sizeof probe, "%.1f", 0.5);
    buf[0] = neg ? '-' : '+';
    buf[1] = '0';
    buf[2] = probe[1]; /* the locale's decimal point */
    snprintf(buf + 3 + nd, sizeof buf - 3 - nd, "e%ld", (long)int_digits - (long)leading_zeros + exp10);
    *out = strtod(buf, NULL);
    return SPK__PARSED;
}

static spk__parse_result spk__parse_bool(const char *s, size_t len, bool lenient, bool *out) {
    if (spk__word_is(s, len, "true") || (lenient && (spk__word_is(s, len, "t") || spk__word_is(s, len, "y") ||
                                                     spk__word_is(s, len, "yes") || spk__word_is(s, len, "1")))) {
        *out = true;
        return SPK__PARSED;
    }
    if (spk__word_is(s, len, "false") || (lenient && (spk__word_is(s, len, "f") || spk__word_is(s, len, "n") ||
                                                      spk__word_is(s, len, "no") || spk__word_is(s, len, "0")))) {
        *out = false;
        return SPK__PARSED;
    }
    return SPK__MALFORMED;
}

/* Reads 1..max digits at *i as an int. */
static bool spk__read_digits(const char *s, size_t len, size_t *i, int min, int max, int *out) {
    int n = 0, v = 0;
    while (*i < len && n < max && spk__is_digit((unsigned char)s[*i])) v = v * 10 + (s[(*i)++] - '0'), n++;
    if (n < min) return false;
    *out = v;
    return true;
}

/* yyyy-[m]m-[d]d (years of 4 to 6 digits, optionally signed). Lenient also
 * accepts yyyy and yyyy-[m]m, and ignores anything after a ' ' or 'T' that
 * follows the day, as Spark's cast does. On success *i is past the day. */
static spk__parse_result spk__parse_date_prefix(const char *s, size_t len, bool lenient, size_t *i,
                                                int32_t *out) {
    bool neg = false;
    if (*i < len && (s[*i] == '-' || s[*i] == '+')) neg = s[(*i)++] == '-';
    int year, month = 1, day = 1;
    if (!spk__read_digits(s, len, i, 4, 6, &year)) return SPK__MALFORMED;
    if (neg) year = -year;
    if (*i < len && s[*i] == '-') {
        (*i)++;
        if (!spk__read_digits(s, len, i, 1, 2, &month)) return SPK__MALFORMED;
        if (*i < len && s[*i] == '-') {
            (*i)++;
            if (!spk__read_digits(s, len, i, 1, 2, &day)) return SPK__MALFORMED;
        } else if (!lenient) {
            return SPK__MALFORMED;
        }
    } else if (!lenient) {
        return SPK__MALFORMED;
    }
    if (!spk_date_from_ymd(year, month, day, out)) return SPK__MALFORMED;
    return SPK__PARSED;
}

static spk__parse_result spk__parse_date(const char *s, size_t len, bool lenient, int32_t *out) {
    size_t i = 0;
    spk__parse_result r = spk__parse_date_prefix(s, len, lenient, &i, out);
    if (r != SPK__PARSED) return r;
    if (i == len) return SPK__PARSED;
    if (lenient && (s[i] == ' ' || s[i] == 'T')) return SPK__PARSED;
    return SPK__MALFORMED;
}

/* date[( |T)hh:mm[:ss[.fraction]]][zone], zone = Z | UTC | [+-]hh[:mm] | [+-]hhmm.
 * Fractions beyond microseconds are truncated, as Spark does. */
static spk__parse_result spk__parse_timestamp(const char *s, size_t len, int64_t *out) {
    size_t i = 0;
    int32_t days;
    if (spk__parse_date_prefix(s, len, false, &i, &days) != SPK__PARSED) return SPK__MALFORMED;
    int hour = 0, minute = 0, second = 0, micros = 0;
    if (i < len && (s[i] == ' ' || s[i] == 'T')) {
        i++;
        if (!spk__read_digits(s, len, &i, 1, 2, &hour) || i >= len || s[i] != ':') return SPK__MALFORMED;
        i++;
        if (!spk__read_digits(s, len, &i, 2, 2, &minute)) return SPK__MALFORMED;
        if (i < len && s[i] == ':') {
            i++;
            if (!spk__read_digits(s, len, &i, 2, 2, &second)) return SPK__MALFORMED;
            if (i < len && s[i] == '.') {
                i++;
                int n = 0;
                while (i < len && spk__is_digit((unsigned char)s[i])) {
                    if (n < 6) micros = micros * 10 + (s[i] - '0');
                    n++, i++;
                }
                if (n == 0) return SPK__MALFORMED;
                for (; n < 6; n++) micros *= 10;
            }
        }
        if (hour > 23 || minute > 59 || second > 59) return SPK__MALFORMED;
    }
    int64_t offset_seconds = 0;
    if (i < len) {
        if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
            i++;
        } else if (len - i == 3 && spk__word_is(s + i, 3, "utc")) {
            i = len;
        } else if (s[i] == '+' || s[i] == '-') {
            bool neg = s[i++] == '-';
            int oh, om = 0;
            if (!spk__read_digits(s, len, &i, 2, 2, &oh)) return SPK__MALFORMED;
            if (i < len && s[i] == ':') i++;
            if (i < len && !spk__read_digits(s, len, &i, 2, 2, &om)) return SPK__MALFORMED;
            if (oh > 18 || om > 59) return SPK__MALFORMED;
            offset_seconds = (oh * 3600 + om * 60) * (neg ? -1 : 1);
        }
        if (i != len) return SPK__MALFORMED;
    }
    /* Far-off dates pass the microsecond range: refused, never wrapped. A
     * time of day of the other sign folds into the day count first, so the
     * extreme timestamps (whose day alone would not fit) still read back. */
    int64_t d = days;
    int64_t within = ((int64_t)hour * 3600 + minute * 60 + second - offset_seconds) * SPK__MICROS_PER_SECOND + micros;
    if (d < 0 && within > 0) d++, within -= SPK__MICROS_PER_DAY;
    else if (d > 0 && within < 0) d--, within += SPK__MICROS_PER_DAY;
    if (d > INT64_MAX / SPK__MICROS_PER_DAY || d < INT64_MIN / SPK__MICROS_PER_DAY) return SPK__OVERFLOW;
    int64_t base = d * SPK__MICROS_PER_DAY;
    if ((base > 0 && within > INT64_MAX - base) || (base < 0 && within < INT64_MIN - base)) return SPK__OVERFLOW;
    *out = base + within;
    return SPK__PARSED;
}

/* Parses text as type t; lenient selects CAST's forms. A STRING result views `text`. */
static spk__parse_result spk__parse_value(spk_type t, const char *text, size_t len, bool lenient,
                                          spk_value *out) {
    if (t.id == SPK_TYPE_STRING) {
        *out = spk_value_strn(text, len);
        return SPK__PARSED;
    }
    const char *s = text;
    spk__trim(&s, &len);
    *out = spk_value_null_of(t);
    out->is_null = false;
    spk__parse_result r = SPK__MALFORMED;
    int64_t i64;
    switch ((spk_type_id)t.id) {
    case SPK_TYPE_BOOLEAN: r = spk__parse_bool(s, len, lenient, &out->as.b); break;
    case SPK_TYPE_INT32:
        r = spk__parse_int64(s, len, lenient, &i64);
        if (r == SPK__PARSED && (i64 < INT32_MIN || i64 > INT32_MAX)) r = SPK__OVERFLOW;
        out->as.i32 = (int32_t)(r == SPK__PARSED ? i64 : 0);
        break;
    case SPK_TYPE_INT64: r = spk__parse_int64(s, len, lenient, &out->as.i64); break;
    case SPK_TYPE_DOUBLE: r = spk__parse_double(s, len, &out->as.f64); break;
    case SPK_TYPE_DECIMAL: r = spk__parse_decimal(s, len, t.precision, t.scale, &out->as.i64); break;
    case SPK_TYPE_DATE: r = spk__parse_date(s, len, lenient, &out->as.i32); break;
    case SPK_TYPE_TIMESTAMP:
        r = spk__parse_timestamp(s, len, &out->as.i64);
        if (r == SPK__MALFORMED && lenient) { /* a bare date (or CAST's date forms) is midnight */
            int32_t d;
            if (spk__parse_date(s, len, true, &d) == SPK__PARSED) {
                out->as.i64 = (int64_t)d * SPK__MICROS_PER_DAY;
                r = SPK__PARSED;
            }
        }
        break;
    case SPK_TYPE_NULL:
    case SPK_TYPE_STRING:
    case SPK_TYPE_COUNT: break;
    }
    return r;
}

SPKDEF spk_status spk_value_parse(spk_type t, const char *text, size_t len, spk_value *out) {
    if (!out || (!text && len)) return spk__fail(SPK_ERR_ARG, "spk_value_parse: NULL argument");
    if (!spk_type_valid(t) || t.id == SPK_TYPE_NULL)
        return spk__fail(SPK_ERR_ARG, "spk_value_parse: cannot parse into type %s", spk__type_sql(t).s);
    if (!text) text = "";
    spk__parse_result r = spk__parse_value(t, text, len, false, out);
    if (r == SPK__PARSED) return SPK_OK;
    int shown = len > 64 ? 64 : (int)len;
    const char *more = len > 64 ? "..." : "";
    if (r == SPK__OVERFLOW)
        return spk__fail(SPK_ERR_RANGE, "value '%.*s%s' is out of range for %s", shown, text, more,
                         spk__type_sql(t).s);
    return spk__fail(SPK_ERR_PARSE, "cannot parse '%.*s%s' as %s", shown, text, more, spk__type_sql(t).s);
}

/* ---------------------------------------------------------------- formatting */

static size_t spk__copy_out(const char *src, size_t n, char *buf, size_t cap) {
    if (cap) {
        size_t k = n < cap - 1 ? n : cap - 1;
        memcpy(buf, src, k);
        buf[k] = '\0';
    }
    return n;
}

/* Java's Double.toString: the shortest digits that read back as the same
 * double; plain notation for 1e-3 <= |d| < 1e7, else d.dddE[-]n. */
static size_t spk__format_double(double d, char *out /* >= 32 bytes */) {
    if (isnan(d)) return (size_t)sprintf(out, "NaN");
    if (isinf(d)) return (size_t)sprintf(out, d < 0 ? "-Infinity" : "Infinity");
    if (d == 0) return (size_t)sprintf(out, signbit(d) ? "-0.0" : "0.0");
    char sci[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec - 1, d);
        if (strtod(sci, NULL) == d) break;
    }
    /* Java prints at least two significant digits in scientific notation and
     * picks the closest such pair (4.9E-324, not 5.0E-324). */
    double mag = fabs(d);
    bool scientific = mag < 1e-3 || mag >= 1e7;
    if (scientific && !strchr(sci, '.') && !strchr(sci, ','))
        snprintf(sci, sizeof sci, "%.1e", d);
    /* sci is "[-]d[<point>ddd]e[+-]xx": collect the digits and the exponent. */
    char digits[24];
    int nd = 0, exp10 = 0;
    const char *p = sci;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (spk__is_digit((unsigned char)*p) && nd < 20) digits[nd++] = *p;
    if (*p == 'e') exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    char *o = out;
    if (neg) *o++ = '-';
    if (!scientific) {
        if (exp10 >= 0) {
            for (int k = 0; k <= exp10; k++) *o++ = k < nd ? digits[k] : '0';
            *o++ = '.';
            if (nd > exp10 + 1)
                for (int k = exp10 + 1; k < nd; k++) *o++ = digits[k];
            else
                *o++ = '0';
        } else {
            *o++ = '0';
            *o++ = '.';
            for (int k = 0; k < -exp10 - 1; k++) *o++ = '0';
            for (int k = 0; k < nd; k++) *o++ = digits[k];
        }
    } else {
        *o++ = digits[0];
        *o++ = '.';
        if (nd > 1)
            for (int k = 1; k < nd; k++) *o++ = digits[k];
        else
            *o++ = '0';
        o += sprintf(o, "E%d", exp10);
    }
    *o = '\0';
    return (size_t)(o - out);
}

static size_t spk__format_decimal(int64_t unscaled, int scale, char *out /* >= 24 */) {
    uint64_t mag = unscaled < 0 ? 0 - (uint64_t)unscaled : (uint64_t)unscaled;
    char digits[24];
    int nd = 0;
    do {
        digits[nd++] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag);
    while (nd <= scale) digits[nd++] = '0'; /* at least one integer digit */
    char *o = out;
    if (unscaled < 0) *o++ = '-';
    for (int k = nd - 1; k >= 0; k--) {
        *o++ = digits[k];
        if (k == scale && scale > 0) *o++ = '.';
    }
    *o = '\0';
    return (size_t)(o - out);
}

static size_t spk__format_date(int32_t days, char *out) {
    int64_t y;
    int m, d;
    spk__civil_from_days(days, &y, &m, &d);
    if (y > 9999) return (size_t)sprintf(out, "+%lld-%02d-%02d", (long long)y, m, d);
    if (y < 0) return (size_t)sprintf(out, "-%04lld-%02d-%02d", (long long)-y, m, d);
    return (size_t)sprintf(out, "%04lld-%02d-%02d", (long long)y, m, d);
}

static size_t spk__format_timestamp(int64_t micros, char *out) {
    int64_t days = spk__floor_div(micros, SPK__MICROS_PER_DAY);
    int64_t rest = spk__floor_mod(micros, SPK__MICROS_PER_DAY);
    size_t n = spk__format_date((int32_t)days, out);
    int64_t secs = rest / SPK__MICROS_PER_SECOND, frac = rest % SPK__MICROS_PER_SECOND;
    n += (size_t)sprintf(out + n, " %02d:%02d:%02d", (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    if (frac) {
        int width = 6;
        while (frac % 10 == 0) frac /= 10, width--;
        n += (size_t)sprintf(out + n, ".%0*lld", width, (long long)frac);
    }
    return n;
}

SPKDEF size_t spk_value_format(const spk_value *v, char *buf, size_t cap) {
    char tmp[SPK_VALUE_TEXT_MAX];
    size_t n = 0;
    if (!v || spk__value_is_null(v)) return spk__copy_out("NULL", 4, buf, cap);
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_BOOLEAN: return spk__copy_out(v->as.b ? "true" : "false", v->as.b ? 4 : 5, buf, cap);
    case SPK_TYPE_INT32: n = (size_t)sprintf(tmp, "%ld", (long)v->as.i32); break;
    case SPK_TYPE_INT64: n = (size_t)sprintf(tmp, "%lld", (long long)v->as.i64); break;
    case SPK_TYPE_DOUBLE: n = spk__format_double(v->as.f64, tmp); break;
    case SPK_TYPE_DECIMAL:
        n = spk__format_decimal(v->as.i64, v->type.scale <= 18 ? v->type.scale : 18, tmp);
        break;
    case SPK_TYPE_STRING: return spk__copy_out(v->as.str.ptr, v->as.str.len, buf, cap);
    case SPK_TYPE_DATE: n = spk__format_date(v->as.i32, tmp); break;
    case SPK_TYPE_TIMESTAMP: n = spk__format_timestamp(v->as.i64, tmp); break;
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT: return spk__copy_out("?", 1, buf, cap);
    }
    return spk__copy_out(tmp, n, buf, cap);
}

/* ---------------------------------------------------------------- casts */

static bool spk__is_integral(spk_type_id id) { return id == SPK_TYPE_INT32 || id == SPK_TYPE_INT64; }
static bool spk__is_numeric(spk_type_id id) {
    return spk__is_integral(id) || id == SPK_TYPE_DOUBLE || id == SPK_TYPE_DECIMAL;
}

/* Integral value of an INT32/INT64/BOOLEAN value. */
static int64_t spk__as_int64(const spk_value *v) {
    switch (v->type.id) {
    case SPK_TYPE_BOOLEAN: return v->as.b;
    case SPK_TYPE_INT32: return v->as.i32;
    default: return v->as.i64;
    }
}

/* Scala's Double.toLong: truncation toward zero, saturating, NaN to 0. */
static int64_t spk__double_to_int64(double d) {
    if (isnan(d)) return 0;
    if (d >= 9223372036854775807.0) return INT64_MAX;
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}
static int32_t spk__double_to_int32(double d) {
    if (isnan(d)) return 0;
    if (d >= 2147483647.0) return INT32_MAX;
    if (d <= -2147483648.0) return INT32_MIN;
    return (int32_t)d;
}

/* Rescales an unscaled decimal from scale `from` to `to`, rounding half-up;
 * false if it no longer fits `precision`. */
static bool spk__decimal_rescale(int64_t v, int from, int to, int precision, int64_t *out) {
    if (to < from) {
        int64_t div = spk__pow10[from - to];
        int64_t q = v / div, r = v % div;
        if (r < 0 ? -r * 2 >= div : r * 2 >= div) q += v < 0 ? -1 : 1;
        v = q;
    } else if (to > from) {
        int64_t mul = spk__pow10[to - from];
        if (v > INT64_MAX / mul || v < -INT64_MAX / mul) return false;
        v *= mul;
    }
    if (v >= spk__pow10[precision] || v <= -spk__pow10[precision]) return false;
    *out = v;
    return true;
}

/* Exact double value of a decimal: through its text, which strtod rounds correctly. */
static double spk__decimal_to_double(int64_t unscaled, int scale) {
    char text[32];
    spk__format_decimal(unscaled, scale, text);
    double d = 0;
    spk__parse_double(text, strlen(text), &d);
    return d;
}

static spk_status spk__cast_error(const spk_value *in, spk_type to) {
    return spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH.CAST_WITHOUT_SUGGESTION] cannot cast %s to %s",
                     spk__type_sql(in->type).s, spk__type_sql(to).s);
}

SPKDEF spk_status spk_value_cast(const spk_value *in, spk_type to, spk_value *out, char *textbuf) {
    if (!in || !out) return spk__fail(SPK_ERR_ARG, "spk_value_cast: NULL argument");
    if (!spk_type_valid(to)) return spk__fail(SPK_ERR_ARG, "spk_value_cast: invalid target type");
    spk_type_id from = (spk_type_id)in->type.id;
    spk_value r = spk_value_null_of(to);
    if (spk__value_is_null(in)) {
        *out = r;
        return SPK_OK;
    }
    r.is_null = false;
    switch ((spk_type_id)to.id) {
    case SPK_TYPE_NULL: return spk__cast_error(in, to);
    case SPK_TYPE_STRING:
        if (from == SPK_TYPE_STRING) {
            r = *in;
        } else {
            if (!textbuf) return spk__fail(SPK_ERR_ARG, "spk_value_cast: casting to STRING needs a text buffer");
            size_t n = spk_value_format(in, textbuf, SPK_VALUE_TEXT_MAX);
            r = spk_value_strn(textbuf, n);
        }
        break;
    case SPK_TYPE_BOOLEAN:
        if (from == SPK_TYPE_STRING) {
            if (spk__parse_value(to, in->as.str.ptr, in->as.str.len, true, &r) != SPK__PARSED) r = spk_value_null_of(to);
        } else if (from == SPK_TYPE_BOOLEAN) {
            r.as.b = in->as.b;
        } else if (from == SPK_TYPE_DOUBLE) {
            r.as.b = in->as.f64 != 0;
        } else if (spk__is_integral(from)) {
            r.as.b = spk__as_int64(in) != 0;
        } else if (from == SPK_TYPE_DECIMAL) {
            r.as.b = in->as.i64 != 0;
        } else if (from == SPK_TYPE_TIMESTAMP) {
            r.as.b = in->as.i64 != 0;
        } else {
            return spk__cast_error(in, to);
        }
        break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_INT64: {
        int64_t x;
        if (from == SPK_TYPE_STRING) {
            spk_value tmp;
            if (spk__parse_value(to, in->as.str.ptr, in->as.str.len, true, &tmp) != SPK__PARSED) {
                r = spk_value_null_of(to);
                break;
            }
            x = to.id == SPK_TYPE_INT32 ? tmp.as.i32 : tmp.as.i64;
        } else if (from == SPK_TYPE_BOOLEAN || spk__is_integral(from)) {
            x = spk__as_int64(in);
        } else if (from == SPK_TYPE_DOUBLE) {
            if (to.id == SPK_TYPE_INT32) { r.as.i32 = spk__double_to_int32(in->as.f64); break; }
            x = spk__double_to_int64(in->as.f64);
        } else if (from == SPK_TYPE_DECIMAL) {
            x = in->as.i64 / spk__pow10[in->type.scale]; /* truncates toward zero */
        } else if (from == SPK_TYPE_TIMESTAMP) {
            x = spk__floor_div(in->as.i64, SPK__MICROS_PER_SECOND);
        } else {
            return spk__cast_error(in, to);
        }
        if (to.id == SPK_TYPE_INT32) r.as.i32 = (int32_t)(uint32_t)(uint64_t)x; /* wraps, as Spark */
        else r.as.i64 = x;
        break;
    }
    case SPK_TYPE_DOUBLE:
        if (from == SPK_TYPE_STRING) {
            if (spk__parse_value(to, in->as.str.ptr, in->as.str.len, true, &r) != SPK__PARSED) r = spk_value_null_of(to);
        } else if (from == SPK_TYPE_BOOLEAN || spk__is_integral(from)) {
            r.as.f64 = (double)spk__as_int64(in);
        } else if (from == SPK_TYPE_DOUBLE) {
            r.as.f64 = in->as.f64;
        } else if (from == SPK_TYPE_DECIMAL) {
            r.as.f64 = spk__decimal_to_double(in->as.i64, in->type.scale);
        } else if (from == SPK_TYPE_TIMESTAMP) {
            r.as.f64 = (double)in->as.i64 / 1e6;
        } else {
            return spk__cast_error(in, to);
        }
        break;
    case SPK_TYPE_DECIMAL: {
        int64_t x;
        bool ok;
        if (from == SPK_TYPE_STRING) {
            spk_value tmp;
            ok = spk__parse_value(to, in->as.str.ptr, in->as.str.len, true, &tmp) == SPK__PARSED;
            x = tmp.as.i64;
        } else if (from == SPK_TYPE_BOOLEAN || spk__is_integral(from)) {
            ok = spk__decimal_rescale(spk__as_int64(in), 0, to.scale, to.precision, &x);
        } else if (from == SPK_TYPE_DECIMAL) {
            ok = spk__decimal_rescale(in->as.i64, in->type.scale, to.scale, to.precision, &x);
        } else if (from == SPK_TYPE_DOUBLE || from == SPK_TYPE_TIMESTAMP) {
            /* Spark goes through the double's shortest decimal text. */
            double d = from == SPK_TYPE_DOUBLE ? in->as.f64 : (double)in->as.i64 / 1e6;
            char text[40];
            ok = !isnan(d) && !isinf(d);
            if (ok) {
                size_t n = spk__format_double(d, text);
                ok = spk__parse_decimal(text, n, to.precision, to.scale, &x) == SPK__PARSED;
            }
        } else {
            return spk__cast_error(in, to);
        }
        if (ok) r.as.i64 = x;
        else r = spk_value_null_of(to);
        break;
    }
    case SPK_TYPE_DATE:
        if (from == SPK_TYPE_STRING) {
            if (spk__parse_value(to, in->as.str.ptr, in->as.str.len, true, &r) != SPK__PARSED) r = spk_value_null_of(to);
        } else if (from == SPK_TYPE_DATE) {
            r.as.i32 = in->as.i32;
        } else if (from == SPK_TYPE_TIMESTAMP) {
            r.as.i32 = (int32_t)spk__floor_div(in->as.i64, SPK__MICROS_PER_DAY);
        } else {
            return spk__cast_error(in, to);
        }
        break;
    case SPK_TYPE_TIMESTAMP:
        if (from == SPK_TYPE_STRING) {
            if (spk__parse_value(to, in->as.str.ptr, in->as.str.len, true, &r) != SPK__PARSED) r = spk_value_null_of(to);
        } else if (from == SPK_TYPE_TIMESTAMP) {
            r.as.i64 = in->as.i64;
        } else if (from == SPK_TYPE_DATE) {
            /* Spark raises an ArithmeticException here even in non-ANSI mode. */
            if (in->as.i32 > INT64_MAX / SPK__MICROS_PER_DAY || in->as.i32 < INT64_MIN / SPK__MICROS_PER_DAY) {
                char text[SPK_VALUE_TEXT_MAX];
                spk_value_format(in, text, sizeof text);
                return spk__fail(SPK_ERR_RANGE, "DATE %s is out of the TIMESTAMP range", text);
            }
            r.as.i64 = (int64_t)in->as.i32 * SPK__MICROS_PER_DAY;
        } else if (spk__is_integral(from)) {
            int64_t secs = spk__as_int64(in); /* seconds since the epoch, saturating */
            r.as.i64 = secs > INT64_MAX / SPK__MICROS_PER_SECOND ? INT64_MAX
                     : secs < INT64_MIN / SPK__MICROS_PER_SECOND ? INT64_MIN
                     : secs * SPK__MICROS_PER_SECOND;
        } else if (from == SPK_TYPE_DOUBLE || from == SPK_TYPE_DECIMAL) {
            double d = from == SPK_TYPE_DOUBLE ? in->as.f64 : spk__decimal_to_double(in->as.i64, in->type.scale);
            if (isnan(d) || isinf(d)) r = spk_value_null_of(to);
            else r.as.i64 = spk__double_to_int64(d * 1e6);
        } else {
            return spk__cast_error(in, to);
        }
        break;
    case SPK_TYPE_COUNT: return spk__cast_error(in, to);
    }
    *out = r;
    return SPK_OK;
}

/* ---------------------------------------------------------------- ordering */

static int spk__cmp_i64(int64_t a, int64_t b) { return (a > b) - (a < b); }

/* Spark's double order: NaN above everything and equal to itself; -0.0 == 0.0. */
static int spk__cmp_f64(double a, double b) {
    bool na = isnan(a), nb = isnan(b);
    if (na || nb) return na - nb;
    return (a > b) - (a < b);
}

static int spk__cmp_bytes(const char *a, size_t la, const char *b, size_t lb) {
    size_t n = la < lb ? la : lb;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
}

/* Exact comparison of two scaled integers: integer parts, then fractions
 * brought to the larger scale (< 10^18, so no overflow). */
static int spk__cmp_scaled(int64_t a, int sa, int64_t b, int sb) {
    int64_t ia = spk__floor_div(a, spk__pow10[sa]), ib = spk__floor_div(b, spk__pow10[sb]);
    if (ia != ib) return spk__cmp_i64(ia, ib);
    int s = sa > sb ? sa : sb;
    int64_t fa = spk__floor_mod(a, spk__pow10[sa]) * spk__pow10[s - sa];
    int64_t fb = spk__floor_mod(b, spk__pow10[sb]) * spk__pow10[s - sb];
    return spk__cmp_i64(fa, fb);
}

/* Numeric value as (unscaled, scale) for exact comparison. */
static void spk__as_scaled(const spk_value *v, int64_t *x, int *scale) {
    if (v->type.id == SPK_TYPE_DECIMAL) {
        *x = v->as.i64;
        *scale = v->type.scale <= 18 ? v->type.scale : 18;
    } else {
        *x = spk__as_int64(v);
        *scale = 0;
    }
}

static double spk__as_double(const spk_value *v) {
    if (v->type.id == SPK_TYPE_DOUBLE) return v->as.f64;
    if (v->type.id == SPK_TYPE_DECIMAL) return spk__decimal_to_double(v->as.i64, v->type.scale);
    return (double)spk__as_int64(v);
}

SPKDEF int spk_value_compare(const spk_value *a, const spk_value *b, bool nulls_first) {
    bool an = spk__value_is_null(a), bn = spk__value_is_null(b);
    if (an || bn) {
        if (an && bn) return 0;
        return (an ? -1 : 1) * (nulls_first ? 1 : -1);
    }
    spk_type_id ta = (spk_type_id)a->type.id, tb = (spk_type_id)b->type.id;
    if (spk__is_numeric(ta) && spk__is_numeric(tb)) {
        if (ta == SPK_TYPE_DOUBLE || tb == SPK_TYPE_DOUBLE) {
            if (ta == tb) return spk__cmp_f64(a->as.f64, b->as.f64);
            /* A double against an exact number: compare as doubles, and break
             * ties exactly when both are integral (avoids 2^53+1 == 2^53). */
            int c = spk__cmp_f64(spk__as_double(a), spk__as_double(b));
            if (c == 0 && ta != SPK_TYPE_DECIMAL && tb != SPK_TYPE_DECIMAL) {
                double d = ta == SPK_TYPE_DOUBLE ? a->as.f64 : b->as.f64;
                int64_t i = ta == SPK_TYPE_DOUBLE ? spk__as_int64(b) : spk__as_int64(a);
                if (d >= -9.2e18 && d <= 9.2e18) {
                    int c2 = spk__cmp_i64((int64_t)d, i);
                    return ta == SPK_TYPE_DOUBLE ? c2 : -c2;
                }
            }
            return c;
        }
        int64_t xa, xb;
        int sa, sb;
        spk__as_scaled(a, &xa, &sa);
        spk__as_scaled(b, &xb, &sb);
        return sa == sb ? spk__cmp_i64(xa, xb) : spk__cmp_scaled(xa, sa, xb, sb);
    }
    if ((ta == SPK_TYPE_DATE || ta == SPK_TYPE_TIMESTAMP) && (tb == SPK_TYPE_DATE || tb == SPK_TYPE_TIMESTAMP)) {
        if (ta == tb) return ta == SPK_TYPE_DATE ? spk__cmp_i64(a->as.i32, b->as.i32) : spk__cmp_i64(a->as.i64, b->as.i64);
        /* A date is midnight of its day: compare days, then time of day,
         * without multiplying (which could overflow for far dates). */
        const spk_value *date = ta == SPK_TYPE_DATE ? a : b, *ts = ta == SPK_TYPE_DATE ? b : a;
        int64_t ts_day = spk__floor_div(ts->as.i64, SPK__MICROS_PER_DAY);
        int c = date->as.i32 != ts_day ? spk__cmp_i64(date->as.i32, ts_day)
                                       : spk__cmp_i64(0, spk__floor_mod(ts->as.i64, SPK__MICROS_PER_DAY));
        return ta == SPK_TYPE_DATE ? c : -c;
    }
    if (ta != tb) return ta < tb ? -1 : 1;
    switch (ta) {
    case SPK_TYPE_BOOLEAN: return (int)a->as.b - (int)b->as.b;
    case SPK_TYPE_STRING: return spk__cmp_bytes(a->as.str.ptr, a->as.str.len, b->as.str.ptr, b->as.str.len);
    default: return 0;
    }
}

SPKDEF bool spk_value_equal(const spk_value *a, const spk_value *b) {
    return spk_value_compare(a, b, true) == 0;
}

SPKDEF uint64_t spk_value_hash(const spk_value *v, uint64_t seed) {
    if (spk__value_is_null(v)) return spk_hash_u64(seed ^ 0x6e756c6cULL);
    uint64_t bits;
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_BOOLEAN: bits = v->as.b; break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: bits = (uint64_t)(int64_t)v->as.i32; break;
    case SPK_TYPE_DOUBLE: {
        double d = v->as.f64;
        if (d == 0) d = 0.0; /* -0.0 hashes as 0.0 */
        if (isnan(d)) bits = 0x7ff8000000000000ULL;
        else memcpy(&bits, &d, sizeof bits);
        break;
    }
    case SPK_TYPE_STRING: return spk_hash_bytes(v->as.str.ptr, v->as.str.len, seed);
    default: bits = (uint64_t)v->as.i64; break;
    }
    return spk_hash_u64(bits ^ spk_hash_u64(seed + v->type.id));
}
