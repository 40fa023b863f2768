/* Temporary until the model lands. */
#include "model.h"
