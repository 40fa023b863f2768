/*
 * web_assets.h - the web UI's files, embedded into the binary at build time.
 *
 * web/CMakeLists.txt generates the table from the files under web/ (target
 * fpweb). The registry serves fp_web_assets at "/" and "/ui/..."; when the
 * environment variable FIELDPLANE_WEB_DIR names a folder, files are served from
 * it instead (for UI development without rebuilding).
 */
#ifndef FP_REGISTRY_WEB_ASSETS_H
#define FP_REGISTRY_WEB_ASSETS_H

#include <stddef.h>

typedef struct fp_web_asset {
    const char *path;         /* URL path, e.g. "/index.html", "/ui/app.js" */
    const char *content_type; /* e.g. "text/html; charset=utf-8" */
    const unsigned char *data;
    size_t len;
} fp_web_asset;

/* Ended by a row whose path is NULL. */
extern const fp_web_asset fp_web_assets[];

#endif
