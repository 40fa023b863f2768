/*
 * replay_main.c - runs a libFuzzer harness over files without libFuzzer.
 *
 * Built into every harness in the non-fuzz presets, so `make test` replays each
 * seed corpus (and every crash reproducer kept there) under ASan and UBSan with
 * gcc. Arguments are files or folders; a folder is read one level deep.
 *
 * A replay that cannot read its inputs fails: a missing or empty corpus, a folder that cannot
 * be listed or a file that cannot be read would otherwise leave the test passing over fewer
 * inputs than were committed, or none.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int main(int argc, char **argv);

/* Feed one file to the harness; returns 0 on success, -1 if unreadable. */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n;
    uint8_t *p;

    if (!f) {
        perror(path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc(n > 0 ? (size_t)n : 1);
    if (!p || (n > 0 && fread(p, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "%s: read failed\n", path);
        free(p);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(p, (size_t)n);
    free(p);
    return 0;
}

int main(int argc, char **argv)
{
    int n_run = 0;
    int n_bad = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            if (!d) {
                perror(argv[i]);
                return 1;
            }
            while ((e = readdir(d))) {
                char path[4096];
                if (e->d_name[0] == '.')
                    continue;
                int n = snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                if (n < 0 || (size_t)n >= sizeof path) {
                    fprintf(stderr, "%s/%s: path too long\n", argv[i], e->d_name);
                    n_bad++;
                } else if (run_file(path) == 0) {
                    n_run++;
                } else {
                    n_bad++;
                }
            }
            closedir(d);
        } else if (run_file(argv[i]) == 0) {
            n_run++;
        } else {
            n_bad++;
        }
    }
    /* An empty input also has to be handled. */
    LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
    printf("replayed %d inputs\n", n_run);
    if (n_bad) {
        fprintf(stderr, "FAIL: %d inputs could not be read\n", n_bad);
        return 1;
    }
    if (n_run == 0) {
        fprintf(stderr, "FAIL: no inputs to replay (an empty or missing seed corpus)\n");
        return 1;
    }
    return 0;
}
