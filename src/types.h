/* types: data types, values, parsing and formatting, casts, ordering, hashing. */

typedef enum spk_type_id {
    SPK_TYPE_NULL = 0, /* the type of an untyped NULL literal (Spark's NullType, "void") */
    SPK_TYPE_BOOLEAN,
    SPK_TYPE_INT32,     /* Spark IntegerType: int, integer */
    SPK_TYPE_INT64,     /* Spark LongType: bigint, long */
    SPK_TYPE_DOUBLE,
    SPK_TYPE_DECIMAL,   /* DECIMAL(p <= 18, s <= p), stored as a scaled int64 */
    SPK_TYPE_STRING,    /* UTF-8, any length */
    SPK_TYPE_DATE,      /* days since 1970-01-01 */
    SPK_TYPE_TIMESTAMP, /* microseconds since 1970-01-01 00:00:00 UTC */
    SPK_TYPE_COUNT
} spk_type_id;

typedef struct spk_type {
    uint8_t id;        /* spk_type_id */
    uint8_t precision; /* DECIMAL only: 1..18 */
    uint8_t scale;     /* DECIMAL only: 0..precision */
} spk_type;

#define SPK_DECIMAL_MAX_PRECISION 18

SPKDEF spk_type spk_type_of(spk_type_id id);            /* non-decimal types */
SPKDEF spk_type spk_type_decimal(int precision, int scale); /* check with spk_type_valid */
SPKDEF bool spk_type_valid(spk_type t);
SPKDEF bool spk_type_equal(spk_type a, spk_type b);

/* Type names in Spark's three spellings:
 *   TREE   printSchema's typeName:  boolean integer long double decimal(15,2) string date timestamp
 *   SIMPLE dtypes' simpleString:    boolean int bigint double decimal(15,2) string date timestamp
 *   SQL    DDL:                     BOOLEAN INT BIGINT DOUBLE DECIMAL(15,2) STRING DATE TIMESTAMP
 * Writes at most `cap` bytes (NUL included) and returns the full length, as snprintf. */
typedef enum spk_type_style { SPK_TYPE_TREE, SPK_TYPE_SIMPLE, SPK_TYPE_SQL } spk_type_style;
SPKDEF size_t spk_type_format(spk_type t, spk_type_style style, char *buf, size_t cap);

/* Parses a Spark type name, case-insensitive: boolean/bool, int/integer,
 * bigint/long, double, decimal/dec/numeric[(p[,s])] (default (10,0)), string,
 * varchar(n)/char(n) (as STRING), date, timestamp, void. */
SPKDEF spk_status spk_type_parse(const char *text, spk_type *out);

/* A value: a type, a null flag and a payload. Strings are borrowed views
 * (pointer + length, not NUL-terminated): the bytes belong to whoever produced
 * the value (a table, a parsed text, the caller) and stay valid as long as it. */
typedef struct spk_value {
    spk_type type;
    bool is_null;
    union {
        bool b;       /* BOOLEAN */
        int32_t i32;  /* INT32, DATE */
        int64_t i64;  /* INT64, DECIMAL (unscaled), TIMESTAMP */
        double f64;   /* DOUBLE */
        struct { const char *ptr; size_t len; } str; /* STRING */
    } as;
} spk_value;

SPKDEF spk_value spk_value_null(void);                 /* untyped NULL: fits any nullable column */
SPKDEF spk_value spk_value_null_of(spk_type t);        /* typed NULL */
SPKDEF spk_value spk_value_bool(bool x);
SPKDEF spk_value spk_value_i32(int32_t x);
SPKDEF spk_value spk_value_i64(int64_t x);
SPKDEF spk_value spk_value_f64(double x);
SPKDEF spk_value spk_value_decimal(int64_t unscaled, int precision, int scale);
SPKDEF spk_value spk_value_str(const char *s);          /* NUL-terminated; NULL gives a NULL string */
SPKDEF spk_value spk_value_strn(const char *s, size_t len);
SPKDEF spk_value spk_value_date(int32_t days);
SPKDEF spk_value spk_value_timestamp(int64_t micros);

/* Calendar helpers (proleptic Gregorian, as Spark 3). */
SPKDEF bool spk_date_from_ymd(int year, int month, int day, int32_t *days); /* false if invalid */
SPKDEF void spk_date_to_ymd(int32_t days, int *year, int *month, int *day);
SPKDEF bool spk_timestamp_from_parts(int year, int month, int day, int hour, int minute,
                                     int second, int micros, int64_t *out);

/* Strict parse of `len` bytes of text as type `t` (surrounding spaces are
 * trimmed): integers in range, decimals that fit the precision after rounding
 * half-up to the scale, doubles (also NaN, Infinity, inf), booleans
 * (true/false, case-insensitive), ISO dates "yyyy-mm-dd", timestamps
 * "yyyy-mm-dd[ T]hh:mm[:ss[.ffffff]][Z|+hh:mm]". A STRING result is a view
 * into `text`, untrimmed. Failure: SPK_ERR_PARSE (not a valid literal) or
 * SPK_ERR_RANGE (valid but out of range), with a message naming the text. */
SPKDEF spk_status spk_value_parse(spk_type t, const char *text, size_t len, spk_value *out);

/* Formats as Spark's show() does: NULL, true/false, integers, doubles as
 * Java's Double.toString (1.0, 1.0E7, 1.0E-4, NaN, Infinity), decimals with
 * exactly `scale` digits, dates yyyy-mm-dd, timestamps yyyy-mm-dd hh:mm:ss with
 * the fraction trimmed of trailing zeros. Strings are copied raw. snprintf
 * contract: returns the full length, writes at most cap bytes incl. NUL. */
SPKDEF size_t spk_value_format(const spk_value *v, char *buf, size_t cap);

/* Room that spk_value_format needs for any non-string value, NUL included. */
#define SPK_VALUE_TEXT_MAX 48

/* Casts with Spark's default (non-ANSI) semantics: an unparsable string gives
 * NULL, double to integer truncates toward zero and saturates (NaN gives 0),
 * integer narrowing wraps, a decimal that does not fit its precision gives
 * NULL, string to boolean accepts t/true/y/yes/1 and f/false/n/no/0.
 * Casting to STRING writes non-string text into `textbuf`, which must hold
 * SPK_VALUE_TEXT_MAX bytes and outlive the result. SPK_ERR_TYPE for casts
 * Spark rejects (e.g. DATE to INT, BOOLEAN to DATE). */
SPKDEF spk_status spk_value_cast(const spk_value *in, spk_type to, spk_value *out, char *textbuf);

/* Total order for sorting. NULLs sort first when nulls_first, else last;
 * doubles: -0.0 == 0.0, NaN above +Infinity and equal to itself; strings by
 * bytes (UTF-8 code point order); numeric types of different kinds compare by
 * value. Values of incomparable types order by type id. Returns <0, 0, >0. */
SPKDEF int spk_value_compare(const spk_value *a, const spk_value *b, bool nulls_first);

/* Grouping equality: NULL equals NULL, NaN equals NaN, -0.0 equals 0.0. */
SPKDEF bool spk_value_equal(const spk_value *a, const spk_value *b);

/* A 64-bit hash consistent with spk_value_equal for values of the same type. */
SPKDEF uint64_t spk_value_hash(const spk_value *v, uint64_t seed);
