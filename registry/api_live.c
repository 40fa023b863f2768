/*
 * api_live.c - live data for the web UI (placeholder until the MQTT side lands).
 */
#include "api.h"

fp_status fp_live_start(fp_registry *reg)
{
    return FP_OK;
}

void fp_live_stop(fp_registry *reg) {}

void fp_api_live(fp_req *q, fp_resp *r)
{
    fp_resp_error(r, 503, "Unavailable", NULL, NULL,
                  "live data needs the registry to be started with --broker mqtt://HOST:PORT");
}
