#include <sqlite3.h>

/// Turns off SQLite's global memory statistics, which take a process-wide mutex on every allocation
/// and free. Must run before the first connection opens; returns SQLITE_MISUSE after that.
static inline int switchboard_sqlite3_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
