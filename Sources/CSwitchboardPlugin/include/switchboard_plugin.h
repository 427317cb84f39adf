/*
 * switchboard_plugin.h — the Switchboard plugin ABI.
 *
 * Plain C99, fixed-width types only. This is the whole contract between the Switchboard host
 * and a plugin shared library; nothing else is shared. Minor versions only append.
 *
 * This first revision fixes the version numbers and status codes; the plugin platform issue
 * defines the manifest, instance and host-service tables on top of them.
 */
#ifndef SWITCHBOARD_PLUGIN_H
#define SWITCHBOARD_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** ABI major version: part of every entry symbol's name (`sb_plugin_init_v1`). */
#define SB_ABI_VERSION_MAJOR 1
/** ABI minor version: a host accepts plugins built against any minor up to its own. */
#define SB_ABI_VERSION_MINOR 0

/** Status of every ABI call. Unknown values are treated as SB_INTERNAL. */
typedef enum sb_status {
    SB_OK = 0,          /**< Success; out-values are set. */
    SB_PENDING = 1,     /**< Accepted; the result arrives later through the completion callback. */
    SB_INVALID = 2,     /**< The arguments are malformed; retrying the same call fails again. */
    SB_NOT_FOUND = 3,   /**< The addressed object does not exist. */
    SB_DENIED = 4,      /**< The caller may not do this. */
    SB_TIMEOUT = 5,     /**< A deadline passed before the work finished. */
    SB_UNAVAILABLE = 6, /**< A dependency is down; retrying later may succeed. */
    SB_UNSUPPORTED = 7, /**< The operation is not implemented by this side. */
    SB_INTERNAL = 8     /**< A bug or unexpected failure. */
} sb_status;

#ifdef __cplusplus
}
#endif

#endif /* SWITCHBOARD_PLUGIN_H */
