/* The echo-c example plugin exports only the two entry points of switchboard_plugin.h. */
#include "switchboard_plugin.h"
