/*
 * opc_trust.c - `fieldplane-connector-opcua trust list|add|accept|remove`: the connector's
 * trust list of OPC UA server certificates, managed from the command line.
 *
 * The connector keeps its OPC UA PKI in <data>/pki (ua_pki.h lays it out: trusted/certs,
 * issuers/certs, rejected, own). A server certificate the connector refused is copied to
 * rejected/ as <thumbprint>.der; `trust accept THUMBPRINT` moves it to trusted/certs, and
 * since the folders are read on every connection attempt the endpoint comes up at its next
 * reconnect without a restart. Certificates are named by their SHA-1 thumbprint (the one
 * OPC UA uses), given in full or as a unique prefix of at least 8 hex digits; files in
 * trusted/certs may have any name, so matching reads every certificate rather than
 * trusting file names.
 *
 * Exit codes follow the fieldplane command: 0 success, 1 other error (file system),
 * 2 usage (bad arguments, a file that is not a certificate, an ambiguous thumbprint),
 * 3 not found.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

#include <fieldplane/fp_alloc.h>
#include <fieldplane/fp_time.h>
#include "opc_internal.h"
#include "opcua/ua_pki.h"

#define EXIT_OK 0
#define EXIT_ERR 1
#define EXIT_USAGE 2
#define EXIT_NOT_FOUND 3

#define TP_HEX (2 * UA_THUMBPRINT_LEN)
#define PATH_LEN 4096

static const char *const k_usage =
    "usage: fieldplane-connector-opcua trust COMMAND [ARGS] [--data DIR | --pki DIR]\n"
    "\n"
    "Manage the OPC UA connector's trust list of server certificates.\n"
    "\n"
    "commands:\n"
    "  list [--output table|json]  trusted, issuer and rejected certificates: folder,\n"
    "                              SHA-1 thumbprint, expiry and subject\n"
    "  add FILE                    trust a certificate (PEM or DER) from FILE\n"
    "  accept THUMBPRINT           trust a certificate the connector rejected (moves it\n"
    "                              from rejected/ to trusted/certs)\n"
    "  remove THUMBPRINT           delete a certificate from the trust list (and from the\n"
    "                              issuers and rejected folders)\n"
    "  own                         the connector's own application instance certificate\n"
    "                              (created when missing): file, thumbprint and URI, to\n"
    "                              hand to the administrators of the servers\n"
    "\n"
    "options:\n"
    "  --data DIR    the connector's data directory (default ./fieldplane-opcua-data;\n"
    "                under `fieldplane up` it is DATA/connectors/opcua); the PKI is DIR/pki\n"
    "  --pki DIR     the PKI folder itself\n"
    "  --help, -h    this text\n"
    "\n"
    "A THUMBPRINT is 40 hex digits (colons allowed) or a unique prefix of at least 8.\n"
    "Changes apply at the connector's next connection attempt; no restart is needed.\n"
    "\n"
    "exit codes: 0 success, 1 error, 2 usage or bad input, 3 not found\n"
    "\n"
    "example:\n"
    "  fieldplane-connector-opcua trust list --data ./data/connectors/opcua\n"
    "  fieldplane-connector-opcua trust accept 3f2a9c01 --data ./data/connectors/opcua\n";

/* The folders listed, with the name `list` shows for each. */
static const struct {
    const char *sub;
    const char *label;
} k_folders[] = {
    {"trusted/certs", "trusted"},
    {"issuers/certs", "issuer"},
    {"rejected", "rejected"},
};
#define N_FOLDERS (sizeof k_folders / sizeof k_folders[0])

/* One certificate file found in a folder. */
typedef struct cert_entry {
    const char *folder; /* label */
    char path[PATH_LEN];
    char tp[TP_HEX + 1]; /* "" when the file is not a certificate */
    char subject[512];
    char not_after[FP_RFC3339_LEN];
    bool expired;
    char error[96];
} cert_entry;

static void thumbprint_hex(const ua_cert *cert, char out[TP_HEX + 1])
{
    uint8_t tp[UA_THUMBPRINT_LEN];
    ua_cert_thumbprint(cert, tp);
    for (size_t i = 0; i < UA_THUMBPRINT_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", tp[i]);
}

/* Subject and expiry of cert, through OpenSSL (the PKI keeps only DER). */
static void describe(const ua_cert *cert, cert_entry *e)
{
    size_t len;
    const uint8_t *der = ua_cert_der(cert, &len);
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    struct tm tm;

    snprintf(e->subject, sizeof e->subject, "?");
    snprintf(e->not_after, sizeof e->not_after, "?");
    if (!x)
        return;
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio && X509_NAME_print_ex(bio, X509_get_subject_name(x), 0,
                                  XN_FLAG_RFC2253 & ~XN_FLAG_DN_REV) >= 0) {
        int n = BIO_read(bio, e->subject, (int)sizeof e->subject - 1);
        e->subject[n > 0 ? n : 0] = '\0';
    }
    BIO_free(bio);
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
        /* The tree's one RFC 3339 form (a certificate's time has whole seconds: ".000"). */
        fp_time_rfc3339(e->not_after, (int64_t)timegm(&tm) * 1000);
        e->expired = X509_cmp_current_time(X509_get0_notAfter(x)) < 0;
    }
    X509_free(x);
}

/* Read one file into e; false when it is not a readable certificate (e->error says why). */
static bool load_entry(const char *path, const char *folder, cert_entry *e)
{
    ua_cert *cert = NULL;
    uint32_t st;

    memset(e, 0, sizeof *e);
    e->folder = folder;
    snprintf(e->path, sizeof e->path, "%s", path);
    st = ua_cert_load(path, &cert);
    if (st != UA_STATUS_GOOD) {
        snprintf(e->error, sizeof e->error, "%s", ua_status_name(st));
        return false;
    }
    thumbprint_hex(cert, e->tp);
    describe(cert, e);
    ua_cert_free(cert);
    return true;
}

/* Every file of the listed folders; *out is the caller's (fp_free). -1 on no memory. */
static int scan(const char *pki, cert_entry **out, size_t *n_out)
{
    cert_entry *v = NULL;
    size_t n = 0, cap = 0;

    for (size_t f = 0; f < N_FOLDERS; f++) {
        char dir[PATH_LEN];
        DIR *dp;
        struct dirent *de;

        snprintf(dir, sizeof dir, "%s/%s", pki, k_folders[f].sub);
        dp = opendir(dir);
        if (!dp)
            continue;
        while ((de = readdir(dp)) != NULL) {
            char path[PATH_LEN];
            struct stat sb;
            if (de->d_name[0] == '.')
                continue;
            if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
                continue;
            if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                cert_entry *t = fp_realloc(v, cap * sizeof *t);
                if (!t) {
                    closedir(dp);
                    fp_free(v);
                    return -1;
                }
                v = t;
            }
            load_entry(path, k_folders[f].label, &v[n++]);
        }
        closedir(dp);
    }
    *out = v;
    *n_out = n;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const cert_entry *x = a, *y = b;
    int c = strcmp(x->folder, y->folder);
    return c ? c : strcmp(x->path, y->path);
}

/* A thumbprint as typed: hex digits, colons and spaces ignored, lowercased. */
static bool normalize_tp(const char *in, char out[TP_HEX + 1])
{
    size_t n = 0;
    for (; *in; in++) {
        char c = *in;
        if (c == ':' || c == ' ')
            continue;
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) || n >= TP_HEX)
            return false;
        out[n++] = c;
    }
    out[n] = '\0';
    return n >= 8;
}

static int cmd_list(const char *pki, bool json)
{
    cert_entry *v;
    size_t n;

    if (scan(pki, &v, &n)) {
        fprintf(stderr, "error: out of memory\n");
        return EXIT_ERR;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_entry);
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++) {
            json_t *o = json_pack("{s:s,s:s}", "folder", v[i].folder, "file", v[i].path);
            if (!o)
                continue;
            if (v[i].tp[0]) {
                json_object_set_new(o, "thumbprint", json_string(v[i].tp));
                json_object_set_new(o, "subject", json_string(v[i].subject));
                json_object_set_new(o, "notAfter", json_string(v[i].not_after));
                json_object_set_new(o, "expired", json_boolean(v[i].expired));
            } else {
                json_object_set_new(o, "error", json_string(v[i].error));
            }
            json_array_append_new(arr, o);
        }
        char *text = arr ? json_dumps(arr, JSON_INDENT(2)) : NULL;
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(arr);
    } else {
        printf("%-9s %-40s %-24s %s\n", "FOLDER", "THUMBPRINT", "NOT-AFTER", "SUBJECT");
        for (size_t i = 0; i < n; i++) {
            if (v[i].tp[0])
                printf("%-9s %-40s %-24s %s%s\n", v[i].folder, v[i].tp, v[i].not_after,
                       v[i].subject, v[i].expired ? " (expired)" : "");
            else
                printf("%-9s %-40s %-24s (not a certificate: %s) %s\n", v[i].folder, "-", "-",
                       v[i].error, v[i].path);
        }
        if (n == 0)
            printf("(no certificates in %s)\n", pki);
    }
    fp_free(v);
    return EXIT_OK;
}

/* Entries whose thumbprint starts with tp, in folder (NULL: any). Returns how many distinct
 * thumbprints matched; *first is the first match. */
static size_t match(const cert_entry *v, size_t n, const char *tp, const char *folder,
                    const cert_entry **first)
{
    size_t distinct = 0;
    *first = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].tp[0] || strncmp(v[i].tp, tp, strlen(tp)))
            continue;
        if (folder && strcmp(v[i].folder, folder))
            continue;
        if (!*first) {
            *first = &v[i];
            distinct = 1;
        } else if (strcmp((*first)->tp, v[i].tp)) {
            distinct++;
        }
    }
    return distinct;
}

static int ambiguous(const cert_entry *v, size_t n, const char *tp)
{
    fprintf(stderr, "error: thumbprint %s is ambiguous; it matches:\n", tp);
    for (size_t i = 0; i < n; i++)
        if (v[i].tp[0] && !strncmp(v[i].tp, tp, strlen(tp)))
            fprintf(stderr, "  %s %s %s\n", v[i].folder, v[i].tp, v[i].subject);
    return EXIT_USAGE;
}

static int open_pki(const char *dir, ua_pki **pki)
{
    uint32_t st = ua_pki_open(dir, NULL, pki);
    if (st != UA_STATUS_GOOD) {
        fprintf(stderr, "error: cannot open the PKI folder %s: %s\n", dir, ua_status_name(st));
        return EXIT_ERR;
    }
    return EXIT_OK;
}

/* Store cert in trusted/certs and drop rejected copies of it. */
static int trust_cert(const char *dir, const ua_cert *cert)
{
    ua_pki *pki = NULL;
    char tp[TP_HEX + 1];
    int rc = open_pki(dir, &pki);
    uint32_t st;

    if (rc)
        return rc;
    st = ua_pki_trust(pki, cert);
    ua_pki_free(pki);
    if (st != UA_STATUS_GOOD) {
        fprintf(stderr, "error: cannot write to %s/trusted/certs: %s\n", dir, ua_status_name(st));
        return EXIT_ERR;
    }
    thumbprint_hex(cert, tp);
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/rejected/%s.der", dir, tp);
    if (unlink(path) != 0 && errno != ENOENT)
        fprintf(stderr, "warning: cannot remove %s: %s\n", path, strerror(errno));
    return EXIT_OK;
}

static int cmd_add(const char *dir, const char *file)
{
    ua_cert *cert = NULL;
    cert_entry e;
    uint32_t st = ua_cert_load(file, &cert);
    int rc;

    if (st == UA_STATUS_BAD_NOT_FOUND) {
        fprintf(stderr, "error: %s: no such file\n", file);
        return EXIT_USAGE;
    }
    if (st != UA_STATUS_GOOD) {
        fprintf(stderr, "error: %s is not an X.509 certificate in PEM or DER (%s)\n", file,
                ua_status_name(st));
        return EXIT_USAGE;
    }
    memset(&e, 0, sizeof e);
    thumbprint_hex(cert, e.tp);
    describe(cert, &e);
    rc = trust_cert(dir, cert);
    ua_cert_free(cert);
    if (rc == EXIT_OK)
        printf("trusted %s %s (not after %s)%s\n", e.tp, e.subject, e.not_after,
               e.expired ? " -- note: it has expired" : "");
    return rc;
}

static int cmd_accept(const char *dir, const char *tp)
{
    cert_entry *v;
    const cert_entry *hit;
    size_t n, found;
    ua_cert *cert = NULL;
    int rc;

    if (scan(dir, &v, &n)) {
        fprintf(stderr, "error: out of memory\n");
        return EXIT_ERR;
    }
    found = match(v, n, tp, "rejected", &hit);
    if (found > 1) {
        rc = ambiguous(v, n, tp);
        goto out;
    }
    if (found == 0) {
        if (match(v, n, tp, "trusted", &hit) == 1) {
            printf("%s is trusted already\n", hit->tp);
            rc = EXIT_OK;
        } else {
            fprintf(stderr,
                    "error: no rejected certificate with thumbprint %s in %s/rejected "
                    "(see `trust list`)\n",
                    tp, dir);
            rc = EXIT_NOT_FOUND;
        }
        goto out;
    }
    uint32_t st = ua_cert_load(hit->path, &cert);
    if (st != UA_STATUS_GOOD) {
        fprintf(stderr, "error: %s: %s\n", hit->path, ua_status_name(st));
        rc = EXIT_ERR;
        goto out;
    }
    rc = trust_cert(dir, cert);
    ua_cert_free(cert);
    if (rc == EXIT_OK) {
        if (unlink(hit->path) != 0 && errno != ENOENT)
            fprintf(stderr, "warning: cannot remove %s: %s\n", hit->path, strerror(errno));
        printf("accepted %s %s: moved from rejected to trusted\n", hit->tp, hit->subject);
    }
out:
    fp_free(v);
    return rc;
}

static int cmd_remove(const char *dir, const char *tp)
{
    cert_entry *v;
    const cert_entry *hit;
    size_t n, found;
    int rc = EXIT_OK;

    if (scan(dir, &v, &n)) {
        fprintf(stderr, "error: out of memory\n");
        return EXIT_ERR;
    }
    found = match(v, n, tp, NULL, &hit);
    if (found > 1) {
        rc = ambiguous(v, n, tp);
    } else if (found == 0) {
        fprintf(stderr, "error: no certificate with thumbprint %s in %s (see `trust list`)\n", tp,
                dir);
        rc = EXIT_NOT_FOUND;
    } else {
        char full[TP_HEX + 1];
        size_t removed = 0, from_device = 0;
        snprintf(full, sizeof full, "%s", hit->tp);
        for (size_t i = 0; i < n; i++) {
            const char *base = strrchr(v[i].path, '/');
            if (strcmp(v[i].tp, full))
                continue;
            base = base ? base + 1 : v[i].path;
            /* opc_ep.c rewrites these from the device's trustSettings.trustList. */
            if (!strcmp(v[i].folder, "trusted") && !strncmp(base, "device-", 7)) {
                fprintf(stderr,
                        "error: %s comes from a device's trustSettings.trustList and is written "
                        "again from it; change that secret instead\n",
                        v[i].path);
                from_device++;
                continue;
            }
            removed++;
            if (unlink(v[i].path) != 0) {
                fprintf(stderr, "error: cannot remove %s: %s\n", v[i].path, strerror(errno));
                rc = EXIT_ERR;
            } else {
                printf("removed %s %s from %s\n", full, v[i].subject, v[i].folder);
            }
        }
        if (removed == 0 && from_device > 0)
            rc = EXIT_USAGE;
    }
    fp_free(v);
    return rc;
}

uint32_t opc_own_certificate(const char *pki_dir, ua_cert **cert, ua_key **key)
{
    ua_pki *pki = NULL;
    ua_cert_params params;
    char host[256] = "localhost";

    *cert = NULL;
    *key = NULL;
    uint32_t st = ua_pki_open(pki_dir, NULL, &pki);
    if (st)
        return st;
    gethostname(host, sizeof host - 1);
    memset(&params, 0, sizeof params);
    params.application_uri = "urn:fieldplane:opcua-client"; /* the client's default */
    params.common_name = "Fieldplane OPC UA connector";
    params.organization = "Fieldplane";
    params.dns_name = host;
    st = ua_pki_own_certificate(pki, &params, cert, key);
    ua_pki_free(pki);
    return st;
}

/* `trust own`: the application instance certificate, made when missing. */
static int cmd_own(const char *dir)
{
    ua_cert *cert;
    ua_key *key;
    char tp[TP_HEX + 1], uri[1024] = "";

    uint32_t st = opc_own_certificate(dir, &cert, &key);
    if (st) {
        fprintf(stderr, "error: the application instance certificate in %s/own: %s\n", dir,
                ua_status_name(st));
        return EXIT_ERR;
    }
    thumbprint_hex(cert, tp);
    ua_cert_application_uri(cert, uri, sizeof uri);
    printf("certificate: %s/own/certs/cert.der\nthumbprint: %s\napplicationUri: %s\n", dir, tp,
           uri);
    ua_cert_free(cert);
    ua_key_free(key);
    return EXIT_OK;
}

int opc_trust_main(int argc, char **argv)
{
    const char *data = NULL, *pki_opt = NULL, *output = "table";
    const char *pos[3] = {NULL, NULL, NULL};
    size_t n_pos = 0;
    int i = 1;
    char dir[PATH_LEN];

    if (i < argc && !strcmp(argv[i], "trust"))
        i++;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(k_usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(a, "--data") || !strcmp(a, "--pki") || !strcmp(a, "--output") ||
                   !strcmp(a, "-o")) {
            if (i + 1 >= argc || !*argv[i + 1]) {
                fprintf(stderr, "error: %s needs a value\n", a);
                return EXIT_USAGE;
            }
            if (!strcmp(a, "--data"))
                data = argv[++i];
            else if (!strcmp(a, "--pki"))
                pki_opt = argv[++i];
            else
                output = argv[++i];
        } else if (!strncmp(a, "--data=", 7)) {
            data = a + 7;
        } else if (!strncmp(a, "--pki=", 6)) {
            pki_opt = a + 6;
        } else if (!strncmp(a, "--output=", 9)) {
            output = a + 9;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "error: unknown option %s (see trust --help)\n", a);
            return EXIT_USAGE;
        } else if (n_pos < 3) {
            pos[n_pos++] = a;
        } else {
            fprintf(stderr, "error: too many arguments (see trust --help)\n");
            return EXIT_USAGE;
        }
    }
    if (data && pki_opt) {
        fprintf(stderr, "error: give --data or --pki, not both\n");
        return EXIT_USAGE;
    }
    if (strcmp(output, "table") && strcmp(output, "json")) {
        fprintf(stderr, "error: --output must be table or json, not '%s'\n", output);
        return EXIT_USAGE;
    }
    if (pki_opt)
        snprintf(dir, sizeof dir, "%s", pki_opt);
    else if (snprintf(dir, sizeof dir, "%s/pki", data ? data : "./fieldplane-opcua-data") >=
             (int)sizeof dir) {
        fprintf(stderr, "error: --data: path too long\n");
        return EXIT_USAGE;
    }
    if (n_pos == 0) {
        fputs(k_usage, stderr);
        return EXIT_USAGE;
    }

    const char *cmd = pos[0];
    size_t want = !strcmp(cmd, "list") || !strcmp(cmd, "own") ? 1 : 2;
    if (strcmp(cmd, "list") && strcmp(cmd, "add") && strcmp(cmd, "accept") &&
        strcmp(cmd, "remove") && strcmp(cmd, "own")) {
        fprintf(stderr, "error: unknown trust command '%s': list, add, accept, remove or own\n",
                cmd);
        return EXIT_USAGE;
    }
    if (n_pos != want) {
        fprintf(stderr, "error: trust %s takes %s\n", cmd,
                want == 1             ? "no arguments"
                : !strcmp(cmd, "add") ? "one FILE"
                                      : "one THUMBPRINT");
        return EXIT_USAGE;
    }
    if (!strcmp(cmd, "list")) {
        struct stat sb;
        if (stat(dir, &sb) != 0) {
            fprintf(stderr, "error: no PKI folder at %s (%s); give the connector's --data\n", dir,
                    strerror(errno));
            return EXIT_NOT_FOUND;
        }
        return cmd_list(dir, !strcmp(output, "json"));
    }
    if (!strcmp(cmd, "add"))
        return cmd_add(dir, pos[1]);
    if (!strcmp(cmd, "own"))
        return cmd_own(dir);

    char tp[TP_HEX + 1];
    if (!normalize_tp(pos[1], tp)) {
        fprintf(stderr,
                "error: '%s' is not a thumbprint: 8 to 40 hex digits (SHA-1, as `trust list` "
                "shows)\n",
                pos[1]);
        return EXIT_USAGE;
    }
    return !strcmp(cmd, "accept") ? cmd_accept(dir, tp) : cmd_remove(dir, tp);
}
