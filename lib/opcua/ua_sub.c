/*
 * ua_sub.c - subscriptions, monitored items and the publish loop of a client.
 */
#include "fp_alloc.h"
#include "ua_client_internal.h"

void ua_sub_on_disconnect(ua_client *c)
{
    (void)c;
}

void ua_sub_free_all(ua_client *c)
{
    (void)c;
}
