/*
 * ua_nodeid.c - parsing and printing NodeIds and ExpandedNodeIds in their string forms
 * (OPC 10000-6 5.3.1.10/11), with base64 for the b= form and percent-decoding of nsu URIs.
 * Input is untrusted (it comes from users and configuration): every number is range
 * checked and every error names BadNodeIdInvalid.
 */
#include <stdio.h>
#include <string.h>

#include "fp_alloc.h"
#include "opcua/ua_nodeid.h"

/* ========================================================================= base64 */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

ua_status ua_base64_decode(const char *z, size_t len, ua_bytestring *out)
{
    out->data = NULL;
    out->length = 0;
    while (len > 0 && z[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return UA_STATUS_BAD_DECODING_ERROR;
    size_t n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (n == 0) {
        out->data = UA_EMPTY_ARRAY;
        return UA_STATUS_GOOD;
    }
    uint8_t *p = fp_malloc(n);
    if (p == NULL)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    uint32_t acc = 0;
    size_t bits = 0, k = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_val(z[i]);
        if (v < 0) {
            fp_free(p);
            return UA_STATUS_BAD_DECODING_ERROR;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            p[k++] = (uint8_t)(acc >> bits);
        }
    }
    out->data = p;
    out->length = k;
    return UA_STATUS_GOOD;
}

size_t ua_base64_encode(const uint8_t *p, size_t len, char *buf, size_t cap)
{
    size_t need = (len + 2) / 3 * 4;
    size_t k = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63],
                     i + 1 < len ? b64[(v >> 6) & 63] : '=', i + 2 < len ? b64[v & 63] : '='};
        for (int j = 0; j < 4; j++, k++)
            if (k + 1 < cap)
                buf[k] = q[j];
    }
    if (cap > 0)
        buf[k < cap ? k : cap - 1] = '\0';
    return need;
}

/* ========================================================================== parse */

/* A decimal number up to max from [z, z+len); false on anything else. */
static bool parse_uint(const char *z, size_t len, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 10)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (z[i] < '0' || z[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(z[i] - '0');
    }
    if (v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool ua_guid_parse(const char *z, size_t len, ua_guid *g)
{
    /* 8-4-4-4-12 */
    static const int dash[] = {8, 13, 18, 23};
    uint8_t b[16];
    size_t k = 0;
    if (len != 36)
        return false;
    for (size_t i = 0; i < 36;) {
        if (i == (size_t)dash[0] || i == (size_t)dash[1] || i == (size_t)dash[2] ||
            i == (size_t)dash[3]) {
            if (z[i] != '-')
                return false;
            i++;
            continue;
        }
        int hi = hexval(z[i]), lo = hexval(z[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        b[k++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    g->data1 = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    g->data2 = (uint16_t)(b[4] << 8 | b[5]);
    g->data3 = (uint16_t)(b[6] << 8 | b[7]);
    memcpy(g->data4, b + 8, 8);
    return true;
}

/* The identifier part `i=..`, `s=..`, `g=..` or `b=..` (the rest of the string). */
static ua_status parse_identifier(const char *z, size_t len, ua_node_id *n)
{
    if (len < 2 || z[1] != '=')
        return UA_STATUS_BAD_NODE_ID_INVALID;
    const char *v = z + 2;
    size_t vlen = len - 2;
    switch (z[0]) {
    case 'i':
        n->id_type = UA_NODEID_NUMERIC;
        return parse_uint(v, vlen, UINT32_MAX, &n->id.numeric) ? UA_STATUS_GOOD
                                                               : UA_STATUS_BAD_NODE_ID_INVALID;
    case 's': {
        n->id_type = UA_NODEID_STRING;
        if (vlen == 0) {
            n->id.string.data = UA_EMPTY_ARRAY;
            return UA_STATUS_GOOD;
        }
        n->id.string.data = fp_malloc(vlen);
        if (n->id.string.data == NULL)
            return UA_STATUS_BAD_OUT_OF_MEMORY;
        memcpy(n->id.string.data, v, vlen);
        n->id.string.length = vlen;
        return UA_STATUS_GOOD;
    }
    case 'g':
        n->id_type = UA_NODEID_GUID;
        return ua_guid_parse(v, vlen, &n->id.guid) ? UA_STATUS_GOOD : UA_STATUS_BAD_NODE_ID_INVALID;
    case 'b': {
        n->id_type = UA_NODEID_BYTESTRING;
        ua_status rc = ua_base64_decode(v, vlen, &n->id.string);
        return rc == UA_STATUS_BAD_DECODING_ERROR ? UA_STATUS_BAD_NODE_ID_INVALID : rc;
    }
    default:
        return UA_STATUS_BAD_NODE_ID_INVALID;
    }
}

/* Percent-decode [z, z+len) into a new string. */
static ua_status percent_decode(const char *z, size_t len, ua_string *out)
{
    out->data = NULL;
    out->length = 0;
    uint8_t *p = fp_malloc(len ? len : 1);
    if (p == NULL)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (z[i] == '%') {
            int hi = i + 2 < len ? hexval(z[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(z[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                fp_free(p);
                return UA_STATUS_BAD_NODE_ID_INVALID;
            }
            p[k++] = (uint8_t)(hi << 4 | lo);
            i += 2;
            continue;
        }
        p[k++] = (uint8_t)z[i];
    }
    if (k == 0) {
        fp_free(p);
        out->data = UA_EMPTY_ARRAY;
        return UA_STATUS_GOOD;
    }
    out->data = p;
    out->length = k;
    return UA_STATUS_GOOD;
}

/* Parse `[svr=<n>;][ns=<n>;|nsu=<uri>;]<identifier>`; svr_ok allows the svr prefix and
 * uri receives the nsu URI (NULL: nsu not allowed). */
static ua_status parse_common(const char *z, ua_node_id *n, ua_string *uri, uint32_t *svr)
{
    size_t len = strlen(z);
    memset(n, 0, sizeof *n);
    if (svr && len > 4 && memcmp(z, "svr=", 4) == 0) {
        const char *semi = memchr(z, ';', len);
        if (semi == NULL || !parse_uint(z + 4, (size_t)(semi - z - 4), UINT32_MAX, svr))
            return UA_STATUS_BAD_NODE_ID_INVALID;
        len -= (size_t)(semi + 1 - z);
        z = semi + 1;
    }
    if (len > 3 && memcmp(z, "ns=", 3) == 0) {
        const char *semi = memchr(z, ';', len);
        uint32_t ns;
        if (semi == NULL || !parse_uint(z + 3, (size_t)(semi - z - 3), UINT16_MAX, &ns))
            return UA_STATUS_BAD_NODE_ID_INVALID;
        n->ns = (uint16_t)ns;
        len -= (size_t)(semi + 1 - z);
        z = semi + 1;
    } else if (len > 4 && memcmp(z, "nsu=", 4) == 0) {
        const char *semi = memchr(z, ';', len);
        if (semi == NULL || semi == z + 4)
            return UA_STATUS_BAD_NODE_ID_INVALID;
        ua_status rc = percent_decode(z + 4, (size_t)(semi - z - 4), uri);
        if (rc != UA_STATUS_GOOD)
            return rc;
        len -= (size_t)(semi + 1 - z);
        z = semi + 1;
    }
    return parse_identifier(z, len, n);
}

ua_status ua_expanded_node_id_resolve(const ua_expanded_node_id *x, const ua_string *ns_array,
                                      size_t ns_count, ua_node_id *out)
{
    memset(out, 0, sizeof *out);
    ua_node_id n = x->node_id;
    if (x->namespace_uri.data != NULL) {
        size_t i;
        for (i = 0; i < ns_count && i <= UINT16_MAX; i++)
            if (ua_string_equal(&ns_array[i], &x->namespace_uri))
                break;
        if (i >= ns_count || i > UINT16_MAX)
            return UA_STATUS_BAD_NODE_ID_UNKNOWN;
        n.ns = (uint16_t)i;
    }
    return ua_copy(&n, out, UA_TYPE(NODE_ID));
}

ua_status ua_node_id_parse(ua_node_id *out, const char *z, const ua_string *ns_array,
                           size_t ns_count)
{
    ua_expanded_node_id x;
    memset(&x, 0, sizeof x);
    ua_status rc = parse_common(z, &x.node_id, &x.namespace_uri, NULL);
    if (rc == UA_STATUS_GOOD && x.namespace_uri.data == NULL) {
        *out = x.node_id; /* take it over */
        return UA_STATUS_GOOD;
    }
    if (rc == UA_STATUS_GOOD)
        rc = ua_expanded_node_id_resolve(&x, ns_array, ns_count, out);
    else
        memset(out, 0, sizeof *out);
    ua_clear(&x, UA_TYPE(EXPANDED_NODE_ID));
    return rc;
}

ua_status ua_expanded_node_id_parse(ua_expanded_node_id *out, const char *z)
{
    memset(out, 0, sizeof *out);
    ua_status rc = parse_common(z, &out->node_id, &out->namespace_uri, &out->server_index);
    if (rc != UA_STATUS_GOOD)
        ua_clear(out, UA_TYPE(EXPANDED_NODE_ID));
    return rc;
}

/* ========================================================================== print */

typedef struct sbuf {
    char *buf;
    size_t cap;
    size_t len; /* full length, may exceed cap */
} sbuf;

static void sb_putc(sbuf *s, char c)
{
    if (s->len + 1 < s->cap)
        s->buf[s->len] = c;
    s->len++;
}

static void sb_puts(sbuf *s, const char *z, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sb_putc(s, z[i]);
}

static void sb_printf_u(sbuf *s, const char *prefix, uint32_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%s%lu", prefix, (unsigned long)v);
    if (n > 0)
        sb_puts(s, tmp, (size_t)n);
}

static void sb_end(sbuf *s)
{
    if (s->cap > 0)
        s->buf[s->len < s->cap ? s->len : s->cap - 1] = '\0';
}

static void print_identifier(sbuf *s, const ua_node_id *n)
{
    switch (n->id_type) {
    case UA_NODEID_NUMERIC:
        sb_printf_u(s, "i=", n->id.numeric);
        break;
    case UA_NODEID_STRING:
        sb_puts(s, "s=", 2);
        sb_puts(s, (const char *)n->id.string.data, n->id.string.length);
        break;
    case UA_NODEID_GUID: {
        char tmp[40];
        const ua_guid *g = &n->id.guid;
        int k =
            snprintf(tmp, sizeof tmp, "g=%08lx-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                     (unsigned long)g->data1, g->data2, g->data3, g->data4[0], g->data4[1],
                     g->data4[2], g->data4[3], g->data4[4], g->data4[5], g->data4[6], g->data4[7]);
        if (k > 0)
            sb_puts(s, tmp, (size_t)k);
        break;
    }
    case UA_NODEID_BYTESTRING: {
        sb_puts(s, "b=", 2);
        const ua_string *b = &n->id.string;
        for (size_t i = 0; i < b->length; i += 3) {
            char q[5];
            size_t m = b->length - i < 3 ? b->length - i : 3;
            ua_base64_encode(b->data + i, m, q, sizeof q);
            sb_puts(s, q, 4);
        }
        break;
    }
    default:
        sb_puts(s, "?", 1);
    }
}

size_t ua_node_id_print(const ua_node_id *n, char *buf, size_t cap)
{
    sbuf s = {buf, cap, 0};
    if (n->ns != 0) {
        sb_printf_u(&s, "ns=", n->ns);
        sb_putc(&s, ';');
    }
    print_identifier(&s, n);
    sb_end(&s);
    return s.len;
}

size_t ua_expanded_node_id_print(const ua_expanded_node_id *x, char *buf, size_t cap)
{
    sbuf s = {buf, cap, 0};
    if (x->server_index != 0) {
        sb_printf_u(&s, "svr=", x->server_index);
        sb_putc(&s, ';');
    }
    if (x->namespace_uri.data != NULL) {
        static const char hex[] = "0123456789ABCDEF";
        sb_puts(&s, "nsu=", 4);
        for (size_t i = 0; i < x->namespace_uri.length; i++) {
            uint8_t c = x->namespace_uri.data[i];
            /* reserved characters, and control characters so that the string is
             * printable and has no NUL */
            if (c == ';' || c == '%' || c < 0x20 || c == 0x7F) {
                sb_putc(&s, '%');
                sb_putc(&s, hex[c >> 4]);
                sb_putc(&s, hex[c & 15]);
            } else {
                sb_putc(&s, (char)c);
            }
        }
        sb_putc(&s, ';');
    } else if (x->node_id.ns != 0) {
        sb_printf_u(&s, "ns=", x->node_id.ns);
        sb_putc(&s, ';');
    }
    print_identifier(&s, &x->node_id);
    sb_end(&s);
    return s.len;
}

char *ua_node_id_to_string(const ua_node_id *n)
{
    size_t len = ua_node_id_print(n, NULL, 0);
    char *z = fp_malloc(len + 1);
    if (z != NULL)
        ua_node_id_print(n, z, len + 1);
    return z;
}
