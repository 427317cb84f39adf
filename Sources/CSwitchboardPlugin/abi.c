/* The ABI is header-only; this file gives SwiftPM a C target to compile. */
#include "switchboard_plugin.h"
