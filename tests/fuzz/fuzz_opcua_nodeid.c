/*
 * fuzz_opcua_nodeid.c - libFuzzer harness for NodeId / ExpandedNodeId string parsing.
 * A string that parses must print to a string that parses to an equal NodeId.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fp_alloc.h"
#include "opcua/ua_nodeid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *z = malloc(size + 1);
    if (z == NULL)
        return 0;
    memcpy(z, data, size);
    z[size] = '\0';
    ua_string ns[3] = {ua_string_view("http://opcfoundation.org/UA/"), ua_string_view("urn:a"),
                       ua_string_view("urn:b;c")};
    ua_node_id n, m;
    if (ua_node_id_parse(&n, z, ns, 3) == UA_STATUS_GOOD) {
        char *p = ua_node_id_to_string(&n);
        if (p == NULL || ua_node_id_parse(&m, p, NULL, 0) != UA_STATUS_GOOD)
            abort();
        if (!ua_node_id_equal(&n, &m))
            abort();
        ua_node_id_clear(&m);
        fp_free(p);
        ua_node_id_clear(&n);
    }
    ua_expanded_node_id x, y;
    if (ua_expanded_node_id_parse(&x, z) == UA_STATUS_GOOD) {
        char buf[64];
        size_t len = ua_expanded_node_id_print(&x, buf, sizeof buf);
        char *p = malloc(len + 1);
        if (p == NULL)
            abort();
        ua_expanded_node_id_print(&x, p, len + 1);
        if (ua_expanded_node_id_parse(&y, p) != UA_STATUS_GOOD)
            abort();
        if (!ua_node_id_equal(&x.node_id, &y.node_id) || x.server_index != y.server_index ||
            !ua_string_equal(&x.namespace_uri, &y.namespace_uri))
            abort();
        ua_expanded_node_id_clear(&y);
        free(p);
        ua_expanded_node_id_clear(&x);
    }
    free(z);
    return 0;
}
