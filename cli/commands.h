/*
 * commands.h - the command table of the fieldplane binary.
 *
 * Each top-level command is one row: its name, a one-line summary, and its
 * entry point, which gets argv starting at the command's name and returns the
 * process exit code (see docs/cli.md for the exit codes). The same table drives
 * `fieldplane help` and the docs.
 */
#ifndef FP_CLI_COMMANDS_H
#define FP_CLI_COMMANDS_H

typedef int (*fp_cmd_fn)(int argc, char **argv);

typedef struct fp_cmd {
    const char *name;
    const char *summary;
    fp_cmd_fn run;
} fp_cmd;

/* Exit codes that scripts can rely on (docs/cli.md). */
enum {
    FP_EXIT_OK = 0,
    FP_EXIT_ERROR = 1,        /* anything not listed below */
    FP_EXIT_USAGE = 2,        /* bad flags or arguments */
    FP_EXIT_NOT_FOUND = 3,    /* the named resource does not exist */
    FP_EXIT_CONFLICT = 4,     /* conflict or precondition failed */
    FP_EXIT_UNAUTHORIZED = 5, /* 401 or 403 */
    FP_EXIT_UNREACHABLE = 6,  /* the server could not be reached */
    FP_EXIT_INVALID = 7,      /* the server rejected the input (400, 413) */
};

/* Server side (this binary runs them itself). */
int fp_cmd_registry(int argc, char **argv);
int fp_cmd_up(int argc, char **argv);
int fp_cmd_token(int argc, char **argv);
int fp_cmd_simulate(int argc, char **argv);
int fp_cmd_opcua(int argc, char **argv);

/* The table, ended by a row with name NULL. */
extern const fp_cmd fp_commands[];

/* Path of the running executable (for `up` to start its children). */
const char *fp_self_exe(void);

#endif
