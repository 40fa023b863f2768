/*
 * client_http.c - the HTTP side of the client commands: the config file that
 * `fieldplane login` writes, one libcurl handle per command run, requests with
 * JSON bodies and precondition headers, paged lists, streamed answers (watch),
 * and the mapping of answers to exit codes and error messages.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "fp_alloc.h"

#define FP_MAX_RESPONSE (256u << 20)

struct fp_client {
    CURL *curl;
    char *url; /* without a trailing slash */
    char *auth_header;
    bool progress;
};

/* ---------------------------------------------------------------------------
 * Configuration
 * ------------------------------------------------------------------------- */

bool fp_config_path(char *out, size_t out_len)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;

    if (xdg && *xdg)
        n = snprintf(out, out_len, "%s/fieldplane/config", xdg);
    else if (home && *home)
        n = snprintf(out, out_len, "%s/.config/fieldplane/config", home);
    else
        return false;
    return n > 0 && (size_t)n < out_len;
}

/* Copy the value of "key = value" lines into cfg. */
static void parse_config_line(fp_client_config *cfg, char *line)
{
    char *eq = strchr(line, '='), *key = line, *val, *end;

    if (!eq || line[0] == '#')
        return;
    *eq = '\0';
    val = eq + 1;
    while (*key == ' ' || *key == '\t')
        key++;
    for (end = eq; end > key && (end[-1] == ' ' || end[-1] == '\t'); end--)
        end[-1] = '\0';
    while (*val == ' ' || *val == '\t')
        val++;
    for (end = val + strlen(val); end > val && strchr(" \t\r\n", end[-1]); end--)
        end[-1] = '\0';
    if (!strcmp(key, "url"))
        snprintf(cfg->url, sizeof cfg->url, "%s", val);
    else if (!strcmp(key, "token"))
        snprintf(cfg->token, sizeof cfg->token, "%s", val);
}

void fp_config_load(fp_client_config *cfg)
{
    char path[4096], line[2048];
    const char *env;
    FILE *f;

    memset(cfg, 0, sizeof *cfg);
    if (fp_config_path(path, sizeof path) && (f = fopen(path, "r"))) {
        while (fgets(line, sizeof line, f))
            parse_config_line(cfg, line);
        fclose(f);
    }
    if ((env = getenv("FIELDPLANE_URL")) && *env)
        snprintf(cfg->url, sizeof cfg->url, "%s", env);
    if ((env = getenv("FIELDPLANE_TOKEN")) && *env)
        snprintf(cfg->token, sizeof cfg->token, "%s", env);
    if (!cfg->url[0])
        snprintf(cfg->url, sizeof cfg->url, "http://127.0.0.1:8080");
}

/* mkdir -p of the directories above path, mode 0700. */
static int make_parents(const char *path)
{
    char dir[4096];

    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

fp_status fp_config_save(const fp_client_config *cfg, char *err, size_t err_len)
{
    char path[4096], tmp[4200];
    FILE *f;
    int fd;

    if (!fp_config_path(path, sizeof path)) {
        snprintf(err, err_len, "neither XDG_CONFIG_HOME nor HOME is set");
        return FP_ERR_INVALID;
    }
    if (make_parents(path)) {
        snprintf(err, err_len, "cannot create the directory of %s: %s", path, strerror(errno));
        return FP_ERR_IO;
    }
    /* Write a new file with 0600 from the start, then rename it over the old. */
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return FP_ERR_IO;
    }
    fprintf(f, "# written by fieldplane login\nurl = %s\ntoken = %s\n", cfg->url, cfg->token);
    if (fclose(f) || chmod(tmp, 0600) || rename(tmp, path)) {
        snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return FP_ERR_IO;
    }
    return FP_OK;
}

/* ---------------------------------------------------------------------------
 * Client
 * ------------------------------------------------------------------------- */

fp_client *fp_client_new(const fp_client_config *cfg)
{
    static bool inited;
    fp_client *c;
    size_t n;

    if (!inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = true;
    }
    c = fp_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->url = fp_strdup(cfg->url);
    n = strlen(cfg->token) + 32;
    c->auth_header = fp_malloc(n);
    c->curl = curl_easy_init();
    if (!c->url || !c->auth_header || !c->curl) {
        fp_client_free(c);
        return NULL;
    }
    for (size_t len = strlen(c->url); len && c->url[len - 1] == '/'; len--)
        c->url[len - 1] = '\0';
    snprintf(c->auth_header, n, "Authorization: Bearer %s", cfg->token);
    return c;
}

void fp_client_free(fp_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    fp_free(c->url);
    fp_free(c->auth_header);
    fp_free(c);
}

const char *fp_client_url(const fp_client *c)
{
    return c->url;
}

void fp_client_set_progress(fp_client *c, bool on)
{
    c->progress = on;
}

void fp_resp_clear(fp_resp *r)
{
    json_decref(r->body);
    fp_buf_clear(&r->raw);
    memset(r, 0, sizeof *r);
}

int fp_exit_for_http(long status)
{
    if (status >= 200 && status < 300)
        return FP_EXIT_OK;
    switch (status) {
    case 0:
        return FP_EXIT_UNREACHABLE;
    case 400:
    case 413:
    case 422:
        return FP_EXIT_INVALID;
    case 401:
    case 403:
        return FP_EXIT_UNAUTHORIZED;
    case 404:
        return FP_EXIT_NOT_FOUND;
    case 409:
    case 412:
        return FP_EXIT_CONFLICT;
    default:
        return FP_EXIT_ERROR;
    }
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    fp_buf *b = arg;
    return fp_buf_append(b, p, size * n) ? 0 : size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    fp_resp *r = arg;
    size_t len = size * n;

    if (len > 5 && !strncasecmp(p, "ETag:", 5)) {
        const char *v = p + 5;
        size_t vlen = len - 5;
        while (vlen && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
            vlen--;
        if (vlen < sizeof r->etag) {
            memcpy(r->etag, v, vlen);
            r->etag[vlen] = '\0';
        }
    }
    return len;
}

static int on_progress(void *arg, curl_off_t dl_total, curl_off_t dl_now, curl_off_t ul_total,
                       curl_off_t ul_now)
{
    int width = 30, fill;

    (void)arg;
    if (ul_total <= 0)
        return 0;
    fill = (int)(ul_now * width / ul_total);
    fprintf(stderr, "\rupload [%.*s%*s] %3d%%", fill, "##############################",
            width - fill, "", (int)(ul_now * 100 / ul_total));
    if (ul_now >= ul_total)
        fputs("\n", stderr);
    return 0;
}

/* Set up the common parts of a request on c->curl. */
static struct curl_slist *prepare(fp_client *c, const char *method, const char *path,
                                  const char *body, const char *if_match, const char *if_none_match,
                                  fp_resp *r, fp_buf *url)
{
    struct curl_slist *h = NULL;
    char line[512];

    curl_easy_reset(c->curl);
    fp_buf_init(url, 1 << 16);
    fp_buf_append_str(url, c->url);
    fp_buf_append_str(url, path);
    if (url->err)
        return NULL;
    curl_easy_setopt(c->curl, CURLOPT_URL, url->data);
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, r);
    h = curl_slist_append(h, c->auth_header);
    h = curl_slist_append(h, "Accept: application/json");
    if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        if (c->progress) {
            curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
            curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        }
    } else if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
    }
    if (if_match) {
        snprintf(line, sizeof line, "If-Match: %s", if_match);
        h = curl_slist_append(h, line);
    }
    if (if_none_match) {
        snprintf(line, sizeof line, "If-None-Match: %s", if_none_match);
        h = curl_slist_append(h, line);
    }
    /* No "Expect: 100-continue" round trip for large bodies. */
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
    return h;
}

/* After a transfer: record the transport error or the status, parse the body. */
static int finish(fp_client *c, CURLcode cc, fp_resp *r)
{
    if (cc != CURLE_OK) {
        r->status = 0;
        snprintf(r->transport_error, sizeof r->transport_error, "%s", curl_easy_strerror(cc));
        return FP_EXIT_UNREACHABLE;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->raw.len && r->raw.data)
        r->body = json_loadb(r->raw.data, r->raw.len, JSON_DECODE_ANY, NULL);
    return fp_exit_for_http(r->status);
}

int fp_client_send(fp_client *c, const char *method, const char *path, const json_t *body,
                   const char *if_match, const char *if_none_match, fp_resp *r)
{
    struct curl_slist *h;
    char *text = NULL;
    fp_buf url;
    CURLcode cc;
    int rc;

    memset(r, 0, sizeof *r);
    fp_buf_init(&r->raw, FP_MAX_RESPONSE);
    if (body && !(text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY))) {
        snprintf(r->transport_error, sizeof r->transport_error, "out of memory");
        return FP_EXIT_ERROR;
    }
    h = prepare(c, method, path, text, if_match, if_none_match, r, &url);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &r->raw);
    cc = curl_easy_perform(c->curl);
    rc = finish(c, cc, r);
    curl_slist_free_all(h);
    fp_buf_clear(&url);
    free(text);
    return rc;
}

/* State of a streamed answer: the bytes of an unfinished line. */
typedef struct stream_state {
    fp_resp *r;
    fp_buf line;
    fp_line_fn fn;
    void *arg;
    CURL *curl;
    bool stopped;
} stream_state;

static size_t on_stream(char *p, size_t size, size_t n, void *arg)
{
    stream_state *s = arg;
    size_t len = size * n;
    long status = 0;

    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) /* an error answer: keep it whole for the report */
        return fp_buf_append(&s->r->raw, p, len) ? 0 : len;
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '\n') {
            if (fp_buf_append(&s->line, p + i, 1))
                return 0;
            continue;
        }
        if (s->line.len && s->fn(s->line.data, s->line.len, s->arg)) {
            s->stopped = true;
            return 0;
        }
        fp_buf_reset(&s->line);
    }
    return len;
}

int fp_client_stream(fp_client *c, const char *path, fp_line_fn on_line, void *arg, fp_resp *r)
{
    struct curl_slist *h;
    stream_state s;
    fp_buf url;
    CURLcode cc;
    int rc;

    memset(r, 0, sizeof *r);
    fp_buf_init(&r->raw, FP_MAX_RESPONSE);
    memset(&s, 0, sizeof s);
    s.r = r;
    s.fn = on_line;
    s.arg = arg;
    s.curl = c->curl;
    fp_buf_init(&s.line, 64u << 20);
    h = prepare(c, "GET", path, NULL, NULL, NULL, r, &url);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
    cc = curl_easy_perform(c->curl);
    if (s.stopped)
        cc = CURLE_OK;
    rc = finish(c, cc, r);
    curl_slist_free_all(h);
    fp_buf_clear(&url);
    fp_buf_clear(&s.line);
    return rc;
}

int fp_client_list(fp_client *c, const char *path, json_t **items_out, long long *revision_out,
                   fp_resp *r)
{
    json_t *items = json_array();
    char *next = fp_strdup(path);
    int rc = FP_EXIT_OK;

    *items_out = NULL;
    if (!items || !next) {
        json_decref(items);
        fp_free(next);
        return FP_EXIT_ERROR;
    }
    memset(r, 0, sizeof *r);
    while (next) {
        const char *link;
        json_t *value;

        fp_resp_clear(r);
        rc = fp_client_send(c, "GET", next, NULL, NULL, NULL, r);
        fp_free(next);
        next = NULL;
        if (rc)
            break;
        value = json_object_get(r->body, "value");
        if (!json_is_array(value)) {
            snprintf(r->transport_error, sizeof r->transport_error,
                     "the answer to GET %s has no \"value\" list", path);
            rc = FP_EXIT_ERROR;
            break;
        }
        json_array_extend(items, value);
        if (revision_out && json_is_integer(json_object_get(r->body, "revision")))
            *revision_out = json_integer_value(json_object_get(r->body, "revision"));
        link = json_string_value(json_object_get(r->body, "nextLink"));
        if (link && *link) {
            /* nextLink may be absolute or a path; keep only the path. */
            const char *p = strstr(link, "/api/");
            next = fp_strdup(p ? p : link);
        }
    }
    fp_free(next);
    if (rc)
        json_decref(items);
    else
        *items_out = items;
    return rc;
}

char *fp_api_path(const char *ns, const char *coll, const char *name, const char *suffix)
{
    fp_buf b;

    fp_buf_init(&b, 1 << 16);
    fp_buf_append_str(&b, "/api/v1/namespaces");
    if (ns) {
        fp_buf_append_str(&b, "/");
        fp_buf_append_pct(&b, ns);
    }
    if (coll) {
        fp_buf_append_str(&b, "/");
        fp_buf_append_str(&b, coll);
    }
    if (name) {
        fp_buf_append_str(&b, "/");
        fp_buf_append_pct(&b, name);
    }
    if (suffix)
        fp_buf_append_str(&b, suffix);
    return fp_buf_take(&b, NULL);
}

fp_client *fp_ctx_client(fp_ctx *ctx)
{
    fp_client_config cfg;
    const char *server;

    if (ctx->client)
        return ctx->client;
    fp_config_load(&cfg);
    if ((server = fp_arg_str(ctx, "server")))
        snprintf(cfg.url, sizeof cfg.url, "%s", server);
    ctx->client = fp_client_new(&cfg);
    if (!ctx->client)
        fp_errorf(ctx, "out of memory");
    return ctx->client;
}

int fp_report(fp_ctx *ctx, int rc, const fp_resp *r, const char *what)
{
    const json_t *e = json_object_get(r->body, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *target = json_string_value(json_object_get(e, "target"));
    const json_t *details = json_object_get(e, "details");

    if (rc == FP_EXIT_OK)
        return rc;
    if (r->status == 0) {
        fp_errorf(ctx, "cannot reach the registry at %s: %s",
                  ctx->client ? fp_client_url(ctx->client) : "?",
                  r->transport_error[0] ? r->transport_error : "no answer");
        return rc;
    }
    if (msg) {
        fprintf(ctx->err, "fieldplane: error: %s%s%s (HTTP %ld%s%s)\n", what ? what : "",
                what ? ": " : "", msg, r->status, code ? ", " : "", code ? code : "");
        if (target && *target)
            fprintf(ctx->err, "  field: %s\n", target);
    } else if (r->transport_error[0]) {
        fp_errorf(ctx, "error: %s%s%s", what ? what : "", what ? ": " : "", r->transport_error);
    } else {
        fp_errorf(ctx, "error: %s%sHTTP %ld", what ? what : "", what ? ": " : "", r->status);
    }
    if (json_is_array(details)) {
        size_t i;
        const json_t *d;
        json_array_foreach(details, i, d)
        {
            const char *dm = json_string_value(json_object_get(d, "message"));
            const char *dt = json_string_value(json_object_get(d, "target"));
            if (json_is_string(d))
                fprintf(ctx->err, "  - %s\n", json_string_value(d));
            else if (dm)
                fprintf(ctx->err, "  - %s%s%s\n", dt ? dt : "", dt ? ": " : "", dm);
        }
    }
    if (rc == FP_EXIT_UNAUTHORIZED && r->status == 401)
        fprintf(ctx->err, "  hint: run 'fieldplane login' or set FIELDPLANE_TOKEN\n");
    return rc;
}
