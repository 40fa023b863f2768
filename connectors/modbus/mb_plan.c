/*
 * mb_plan.c - grouping a dataset's points into read requests (see mb_plan.h).
 *
 * Sort, then one greedy pass: a request grows by the next span (in address order) while
 * the span starts no further than `gap` past the request's end and the request, extended
 * to cover it, stays within the per-request limit. Greedy is optimal here: spans are
 * intervals on a line, and closing a request as late as possible never makes a later one
 * start earlier. Sorting is by index with a stable tie-break, so a plan depends only on
 * its input.
 */
#include <stdlib.h>
#include <string.h>

#include <fieldplane/fp_alloc.h>
#include "mb_plan.h"

typedef struct sort_ent {
    const mb_span *s;
    size_t idx;
} sort_ent;

static int cmp_span(const void *a, const void *b)
{
    const sort_ent *x = a, *y = b;
    if (x->s->unit != y->s->unit)
        return x->s->unit < y->s->unit ? -1 : 1;
    if (x->s->table != y->s->table)
        return x->s->table < y->s->table ? -1 : 1;
    if (x->s->address != y->s->address)
        return x->s->address < y->s->address ? -1 : 1;
    if (x->s->count != y->s->count)
        return x->s->count > y->s->count ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void mb_plan_clear(mb_plan *plan)
{
    fp_free(plan->reqs);
    fp_free(plan->members);
    memset(plan, 0, sizeof *plan);
}

int mb_plan_build(const mb_span *spans, size_t n, const mb_limits *lim, mb_plan *plan)
{
    sort_ent *ents;
    size_t r = 0;

    memset(plan, 0, sizeof *plan);
    if (n == 0)
        return 0;
    ents = fp_calloc(n, sizeof *ents);
    plan->reqs = fp_calloc(n, sizeof *plan->reqs);
    plan->members = fp_calloc(n, sizeof *plan->members);
    if (!ents || !plan->reqs || !plan->members) {
        fp_free(ents);
        mb_plan_clear(plan);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        ents[i].s = &spans[i];
        ents[i].idx = i;
    }
    qsort(ents, n, sizeof *ents, cmp_span);
    for (size_t i = 0; i < n; i++) {
        const mb_span *s = ents[i].s;
        bool bits = mb_table_is_bits(s->table);
        uint32_t max = bits ? lim->max_bits : lim->max_regs;
        uint32_t gap = bits ? lim->gap_bits : lim->gap_regs;
        uint32_t s_end = (uint32_t)s->address + s->count; /* exclusive */
        mb_request *cur = r ? &plan->reqs[r - 1] : NULL;
        if (cur && cur->unit == s->unit && cur->table == s->table) {
            uint32_t c_end = (uint32_t)cur->address + cur->count;
            uint32_t new_end = s_end > c_end ? s_end : c_end;
            if (s->address <= c_end + gap && new_end - cur->address <= max) {
                cur->count = (uint16_t)(new_end - cur->address);
                cur->n++;
                plan->members[plan->n_members++] = ents[i].idx;
                continue;
            }
        }
        cur = &plan->reqs[r++];
        cur->unit = s->unit;
        cur->table = s->table;
        cur->address = s->address;
        cur->count = s->count;
        cur->first = plan->n_members;
        cur->n = 1;
        plan->members[plan->n_members++] = ents[i].idx;
    }
    plan->n_reqs = r;
    fp_free(ents);
    return 0;
}
