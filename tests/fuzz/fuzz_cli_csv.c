/*
 * fuzz_cli_csv.c - libFuzzer harness for the CSV reader of the client
 * (data point and dataset import files, written by people and spreadsheets).
 *
 * The bytes are parsed; a file that parses must give rows with increasing
 * line numbers and at least one field each, and writing its rows back with
 * the CSV writer and parsing that again must give the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp_csv csv, again;
    char err[256];
    fp_buf b;
    int last_line = 0;

    if (fp_csv_parse(&csv, (const char *)data, size, err, sizeof err) != FP_OK) {
        if (!err[0])
            abort(); /* an error always says what */
        return 0;
    }
    /* A BOM first, so that a first field that starts with one survives. */
    fp_buf_init(&b, 1u << 26);
    fp_buf_append_str(&b, "\xEF\xBB\xBF");
    for (int i = 0; i < csv.n_row; i++) {
        const fp_csv_row *row = &csv.rows[i];
        if (row->n_field < 1 || row->line <= last_line)
            abort();
        last_line = row->line;
        for (int j = 0; j < row->n_field; j++)
            fp_csv_field(&b, row->fields[j], j == row->n_field - 1);
    }
    if (b.err)
        abort();
    if (fp_csv_parse(&again, b.data, b.len, err, sizeof err) != FP_OK)
        abort();
    if (again.n_row != csv.n_row)
        abort();
    for (int i = 0; i < csv.n_row; i++) {
        if (again.rows[i].n_field != csv.rows[i].n_field)
            abort();
        for (int j = 0; j < csv.rows[i].n_field; j++)
            if (strcmp(again.rows[i].fields[j], csv.rows[i].fields[j]))
                abort();
    }
    fp_csv_clear(&again);
    fp_csv_clear(&csv);
    fp_buf_clear(&b);
    return 0;
}
