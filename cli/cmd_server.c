/* Temporary: replaced by cmd_registry.c, cmd_up.c and cmd_token.c. */
#include <stdio.h>
#include "commands.h"
int fp_cmd_registry(int argc, char **argv) { fprintf(stderr, "registry: under construction\n"); return 1; }
int fp_cmd_up(int argc, char **argv) { fprintf(stderr, "up: under construction\n"); return 1; }
int fp_cmd_token(int argc, char **argv) { fprintf(stderr, "token: under construction\n"); return 1; }
