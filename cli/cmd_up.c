/* Placeholder until the supervisor lands. */
#include <stdio.h>
#include "commands.h"
int fp_cmd_up(int argc, char **argv)
{
    fprintf(stderr, "fieldplane up: under construction\n");
    return 1;
}
