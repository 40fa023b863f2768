/*
 * fp_model.c - the kinds of resource, their name rules, and the checks that explain a
 * refused name.
 *
 * One table holds, per kind, the kind name used in watch events, the URL segment of its
 * collection, its ARM type, the noun used in messages and its name rule; everything else
 * derives these from here. A name rule is data (lengths, which characters, what may
 * stand first and last), so the same row drives the check, the message that says what is
 * wrong, and the text and pattern shown to people (docs/resource-model.md, the OpenAPI
 * document, whose copy tests/unit/test_registry_model.c compares with this table).
 */
#include "fp_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Which characters a rule allows, and where. */
typedef enum name_chars {
    CHARS_LOWER,  /* a-z 0-9 and punct inside; first (and, with end_alnum, last) a-z 0-9 */
    CHARS_MIXED,  /* as CHARS_LOWER with A-Z too */
    CHARS_NUMBER, /* a positive decimal integer without leading zeros */
} name_chars;

typedef struct name_rule {
    fp_name_rule pub;
    name_chars chars;
    const char *punct; /* punctuation allowed after the first character */
    bool end_alnum;    /* the last character must be a letter or digit too */
} name_rule;

/* Azure's rules (stable API 2025-10-01), except schema versions: Azure takes any run of
 * digits, we take positive integers without leading zeros so that "1" and "01" cannot be
 * two versions of one schema. */
#define DNS_TEXT "lowercase letters, digits and '-', starting and ending with a letter or digit"
#define DNS_PATTERN "^[a-z0-9][a-z0-9-]*[a-z0-9]$"

static const name_rule k_rule_dns63 = {
    .pub = {3, 63, DNS_TEXT, DNS_PATTERN},
    .chars = CHARS_LOWER,
    .punct = "-",
    .end_alnum = true,
};
static const name_rule k_rule_dns64 = {
    .pub = {3, FP_MODEL_NAME_MAX, DNS_TEXT, DNS_PATTERN},
    .chars = CHARS_LOWER,
    .punct = "-",
    .end_alnum = true,
};
static const name_rule k_rule_device = {
    .pub = {3, 63, "letters, digits and '-', starting with a letter or digit",
            "^[0-9a-zA-Z][a-zA-Z0-9-]*$"},
    .chars = CHARS_MIXED,
    .punct = "-",
    .end_alnum = false,
};
static const name_rule k_rule_version = {
    .pub = {1, 10, "a positive integer without leading zeros", "^[1-9][0-9]{0,9}$"},
    .chars = CHARS_NUMBER,
    .punct = "",
    .end_alnum = false,
};
static const name_rule k_rule_secret = {
    .pub = {1, FP_MODEL_SECRET_NAME_MAX,
            "lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
            "^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$"},
    .chars = CHARS_LOWER,
    .punct = "-.",
    .end_alnum = true,
};

static const struct {
    const char *name, *collection, *arm_type, *noun;
    bool namespaced;
    const name_rule *rule;
} k_kinds[FP_KIND_COUNT] = {
    [FP_KIND_NAMESPACE] = {"Namespace", "namespaces", "Microsoft.DeviceRegistry/namespaces",
                           "namespace", false, &k_rule_dns64},
    [FP_KIND_DEVICE] = {"Device", "devices", "Microsoft.DeviceRegistry/namespaces/devices",
                        "device", true, &k_rule_device},
    [FP_KIND_ASSET] = {"Asset", "assets", "Microsoft.DeviceRegistry/namespaces/assets", "asset",
                       true, &k_rule_dns63},
    [FP_KIND_DISCOVERED_DEVICE] = {"DiscoveredDevice", "discoveredDevices",
                                   "Microsoft.DeviceRegistry/namespaces/discoveredDevices",
                                   "discovered device", true, &k_rule_dns63},
    [FP_KIND_DISCOVERED_ASSET] = {"DiscoveredAsset", "discoveredAssets",
                                  "Microsoft.DeviceRegistry/namespaces/discoveredAssets",
                                  "discovered asset", true, &k_rule_dns63},
    [FP_KIND_SCHEMA] = {"Schema", "schemas", "Microsoft.DeviceRegistry/namespaces/schemas",
                        "schema", true, &k_rule_dns64},
    [FP_KIND_SCHEMA_VERSION] = {"SchemaVersion", "versions",
                                "Microsoft.DeviceRegistry/namespaces/schemas/versions",
                                "schema version", true, &k_rule_version},
};

static bool known(fp_kind kind)
{
    return (unsigned)kind < FP_KIND_COUNT;
}

/* See fp_model.h. */
const char *fp_kind_name(fp_kind kind)
{
    return known(kind) ? k_kinds[kind].name : "Unknown";
}

/* See fp_model.h. */
const char *fp_kind_collection(fp_kind kind)
{
    if (kind == FP_KIND_SECRET)
        return "secrets";
    return known(kind) ? k_kinds[kind].collection : "";
}

/* See fp_model.h. */
const char *fp_kind_arm_type(fp_kind kind)
{
    return known(kind) ? k_kinds[kind].arm_type : "";
}

/* See fp_model.h. */
const char *fp_kind_noun(fp_kind kind)
{
    if (kind == FP_KIND_SECRET)
        return "secret";
    return known(kind) ? k_kinds[kind].noun : "resource";
}

/* See fp_model.h. */
bool fp_kind_namespaced(fp_kind kind)
{
    return known(kind) && k_kinds[kind].namespaced;
}

/* See fp_model.h. */
bool fp_kind_parse(const char *z, fp_kind *out)
{
    if (!z)
        return false;
    for (int k = 0; k < FP_KIND_COUNT; k++) {
        if (strcasecmp(z, k_kinds[k].name) == 0 || strcasecmp(z, k_kinds[k].collection) == 0) {
            *out = (fp_kind)k;
            return true;
        }
    }
    /* Azure's own segment for schema versions. */
    if (strcasecmp(z, "schemaVersions") == 0) {
        *out = FP_KIND_SCHEMA_VERSION;
        return true;
    }
    return false;
}

/* ---------------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------------- */

static const name_rule *rule_of(fp_kind kind)
{
    if (kind == FP_KIND_SECRET)
        return &k_rule_secret;
    return known(kind) ? k_kinds[kind].rule : NULL;
}

/* See fp_model.h. */
const fp_name_rule *fp_model_name_rule(fp_kind kind)
{
    const name_rule *r = rule_of(kind);
    return r ? &r->pub : NULL;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || is_digit(c);
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* A letter or digit the rule allows (first and last positions). */
static bool rule_alnum(const name_rule *r, char c)
{
    return r->chars == CHARS_MIXED ? is_alnum(c) : is_lower_alnum(c);
}

/* Any character the rule allows somewhere. */
static bool rule_char(const name_rule *r, char c)
{
    return rule_alnum(r, c) || (c != '\0' && strchr(r->punct, c) != NULL);
}

/* Names in messages: at most this many bytes of them, then "...". */
#define QUOTE_MAX 80

/* The name for a message: printable ASCII as it is, anything else (control characters,
 * quotes, backslashes, bytes beyond ASCII) as '?', cut after QUOTE_MAX bytes. A refused
 * name is untrusted input that ends up in logs and JSON answers. */
static void quote(const char *z, size_t n, char out[QUOTE_MAX + 4])
{
    size_t k = 0;

    for (size_t i = 0; i < n && i < QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)z[i];
        out[k++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
    }
    if (n > QUOTE_MAX) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

/* One character for a message: 'P', or byte 0x0a when it cannot be shown. */
static void char_text(char c, char out[16])
{
    unsigned char u = (unsigned char)c;

    if (u >= 0x20 && u < 0x7f && c != '\'' && c != '\\')
        snprintf(out, 16, "'%c'", c);
    else
        snprintf(out, 16, "byte 0x%02x", u);
}

/* Fill why (if any) with "<noun> name \"<name>\" <fmt...>" and return FP_ERR_INVALID. */
static fp_status refuse(char *why, size_t why_len, const char *noun, const char *z, size_t n,
                        const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static fp_status refuse(char *why, size_t why_len, const char *noun, const char *z, size_t n,
                        const char *fmt, ...)
{
    char shown[QUOTE_MAX + 4];
    va_list ap;
    int len;

    if (!why || why_len == 0)
        return FP_ERR_INVALID;
    quote(z, n, shown);
    len = snprintf(why, why_len, "%s name \"%s\" ", noun, shown);
    if (len >= 0 && (size_t)len < why_len) {
        va_start(ap, fmt);
        vsnprintf(why + len, why_len - (size_t)len, fmt, ap);
        va_end(ap);
    }
    return FP_ERR_INVALID;
}

/* The check itself, over n bytes at z (a secret reference checks a prefix). */
static fp_status check(const name_rule *r, const char *noun, const char *z, size_t n, char *why,
                       size_t why_len)
{
    char c_text[16];

    if (n < r->pub.min_len || n > r->pub.max_len) {
        if (r->pub.min_len == r->pub.max_len)
            return refuse(why, why_len, noun, z, n, "must be %zu characters long (it has %zu)",
                          r->pub.min_len, n);
        return refuse(why, why_len, noun, z, n, "must be %zu to %zu characters long (it has %zu)",
                      r->pub.min_len, r->pub.max_len, n);
    }
    if (r->chars == CHARS_NUMBER) {
        bool ok = z[0] >= '1' && z[0] <= '9';
        for (size_t i = 1; ok && i < n; i++)
            ok = is_digit(z[i]);
        return ok ? FP_OK : refuse(why, why_len, noun, z, n, "must be %s", r->pub.text);
    }
    for (size_t i = 0; i < n; i++) {
        if (!rule_char(r, z[i])) {
            char_text(z[i], c_text);
            return refuse(why, why_len, noun, z, n, "may hold only %s (not %s)",
                          r->chars == CHARS_MIXED ? "letters, digits and '-'"
                          : strchr(r->punct, '.') ? "lowercase letters, digits, '-' and '.'"
                                                  : "lowercase letters, digits and '-'",
                          c_text);
        }
    }
    if (!rule_alnum(r, z[0]))
        return refuse(why, why_len, noun, z, n, "must start with a %sletter or digit",
                      r->chars == CHARS_MIXED ? "" : "lowercase ");
    if (r->end_alnum && !rule_alnum(r, z[n - 1]))
        return refuse(why, why_len, noun, z, n, "must end with a %sletter or digit",
                      r->chars == CHARS_MIXED ? "" : "lowercase ");
    return FP_OK;
}

/* See fp_model.h. */
fp_status fp_model_name_check(fp_kind kind, const char *name, char *why, size_t why_len)
{
    const name_rule *r = rule_of(kind);

    if (why && why_len)
        why[0] = '\0';
    if (!r) {
        if (why && why_len)
            snprintf(why, why_len, "the kind of resource (%d) is unknown", (int)kind);
        return FP_ERR_INVALID;
    }
    if (!name)
        name = "";
    return check(r, fp_kind_noun(kind), name, strlen(name), why, why_len);
}

/* See fp_model.h. */
fp_status fp_model_secret_ref_check(const char *ref, char *why, size_t why_len)
{
    const char *slash, *key;
    size_t n_key;
    char shown[QUOTE_MAX + 4], c_text[16];

    if (why && why_len)
        why[0] = '\0';
    if (!ref)
        ref = "";
    slash = strchr(ref, '/');
    if (!slash)
        return check(&k_rule_secret, "secret", ref, strlen(ref), why, why_len);
    if (check(&k_rule_secret, "secret", ref, (size_t)(slash - ref), why, why_len) != FP_OK)
        return FP_ERR_INVALID;
    key = slash + 1;
    n_key = strlen(key);
    quote(key, n_key, shown);
    if (n_key < 1 || n_key > FP_MODEL_SECRET_KEY_MAX) {
        if (why && why_len)
            snprintf(why, why_len, "secret key \"%s\" must be 1 to %d characters long (it has %zu)",
                     shown, FP_MODEL_SECRET_KEY_MAX, n_key);
        return FP_ERR_INVALID;
    }
    for (size_t i = 0; i < n_key; i++) {
        if (!is_alnum(key[i]) && key[i] != '-' && key[i] != '.' && key[i] != '_') {
            char_text(key[i], c_text);
            if (why && why_len)
                snprintf(why, why_len,
                         "secret key \"%s\" may hold only letters, digits, '-', '_' and '.' "
                         "(not %s)",
                         shown, c_text);
            return FP_ERR_INVALID;
        }
    }
    return FP_OK;
}

/* ---------------------------------------------------------------------------
 * Endpoint types
 * ------------------------------------------------------------------------- */

static const fp_endpoint_type k_endpoint_types[] = {
    {FP_ENDPOINT_OPCUA, "OPC UA", "opc.tcp://192.168.1.20:4840", "opc.tcp"},
    {FP_ENDPOINT_ONVIF, "ONVIF camera", "http://192.168.1.30/onvif/device_service", "http https"},
    {FP_ENDPOINT_MEDIA, "Media (RTSP, snapshots)", "rtsp://192.168.1.30:554/stream1",
     "rtsp rtsps http https"},
    {FP_ENDPOINT_HTTP, "REST (HTTP)", "http://192.168.1.40:8080", "http https"},
    {FP_ENDPOINT_SSE, "Server-sent events", "http://192.168.1.40:8080/events", "http https"},
    {FP_ENDPOINT_MQTT, "MQTT", "mqtt://192.168.1.50:1883", "mqtt mqtts tcp ssl ws wss"},
    {FP_ENDPOINT_MODBUS, "Modbus (TCP, RTU)", "modbus-tcp://192.168.1.60:502",
     "modbus-tcp modbus-rtu"},
};

const fp_endpoint_type *fp_endpoint_types(size_t *n_out)
{
    *n_out = sizeof k_endpoint_types / sizeof k_endpoint_types[0];
    return k_endpoint_types;
}

const fp_endpoint_type *fp_endpoint_type_find(const char *type)
{
    for (size_t i = 0; type && i < sizeof k_endpoint_types / sizeof k_endpoint_types[0]; i++)
        if (strcasecmp(k_endpoint_types[i].type, type) == 0)
            return &k_endpoint_types[i];
    return NULL;
}

fp_status fp_endpoint_address_check(const char *type, const char *address, char *why,
                                    size_t why_len)
{
    const fp_endpoint_type *t = fp_endpoint_type_find(type);
    const char *sep = address ? strstr(address, "://") : NULL;
    char shown[QUOTE_MAX + 4], list[96] = "";
    size_t n = 0;

    if (!t)
        return FP_OK;
    if (sep && sep[3]) {
        size_t len = (size_t)(sep - address);
        for (const char *p = t->schemes; *p;) {
            size_t k = strcspn(p, " ");
            if (k == len && strncasecmp(p, address, len) == 0)
                return FP_OK;
            p += k;
            p += *p == ' ';
        }
    }
    /* "an opc.tcp://", "an http:// or https://": the schemes as the message lists them. */
    for (const char *p = t->schemes; *p && n < sizeof list;) {
        size_t k = strcspn(p, " ");
        int w = snprintf(list + n, sizeof list - n, "%s%.*s://", n ? (p[k] ? ", " : " or ") : "",
                         (int)k, p);
        n += w > 0 ? (size_t)w : 0;
        p += k;
        p += *p == ' ';
    }
    quote(address ? address : "", address ? strlen(address) : 0, shown);
    if (why && why_len)
        snprintf(why, why_len, "must be a URL starting %s for endpoint type %s, not \"%s\"", list,
                 t->type, shown);
    return FP_ERR_INVALID;
}
