// CPowerCutVFS: a test-only SQLite VFS that simulates losing power.
//
// The "powercut" VFS wraps the default "unix" VFS. Every write and truncate reaches the real file
// (the page cache: what the running process reads back) and is also kept, in order, as "unsynced"
// for its file. xSync of a file moves its unsynced operations into the file's durable image (what a
// disk would still hold after a power cut); the real fsync is skipped. A file the VFS created is
// durable only once it has been synced (the unix VFS syncs the directory with a new WAL's first
// sync); a file that existed before the VFS first opened it starts durable, with its bytes then.
//
// powercut_cut(), or a cut armed with powercut_cut_before_operation(), loses power: from then on
// every read, write, sync, truncate, size query and delete through the VFS fails with an
// SQLITE_IOERR code, so nothing written after the cut can be acknowledged.
// powercut_write_durable_images() then writes what the disk holds to a directory: each durable
// file's image plus, chosen with a seeded generator, either a prefix (in issue order) of its
// unsynced operations and the operation after it torn, or (half of the files: a disk reordering
// its writes) each unsynced operation independently whole, torn or lost. A torn write has a random
// number of its leading bytes written and the rest of its range left as it was, never touching
// bytes outside it (what SQLITE_IOCAP_POWERSAFE_OVERWRITE promises SQLite).
//
// One simulated disk per process: the tests that use it must not run concurrently with each other.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

/// The name to give sqlite3_open_v2 (StoreOptions.vfsName).
#define POWERCUT_VFS_NAME "powercut"

/// What powercut_write_durable_images() wrote.
typedef struct {
    /// Files written (files never synced do not exist on the simulated disk).
    int files;
    /// Unsynced writes and truncates pending at the cut, in all files.
    long long unsyncedOperations;
    /// Of those, how many reached the disk whole.
    long long operationsKept;
    /// Writes torn: part of their bytes reached the disk.
    long long tornWrites;
    /// Files whose unsynced operations reached the disk out of order.
    int filesReordered;
} powercut_report;

/// Registers the VFS (not as the default); safe to call more than once. An SQLite result code.
int powercut_register(void);

/// Restores power: I/O works again, and files no connection holds open are forgotten, so that the
/// next round starts from an empty simulated disk (use a fresh directory per round).
void powercut_restore(void);

/// Loses power at this instant: every later I/O through the VFS fails.
void powercut_cut(void);

/// Arms a cut just before the `count`-th write, truncate or sync from now on (counted over all
/// tracked files; that operation and every later one fail), so that a cut can land inside a commit
/// or a checkpoint. 0 disarms it.
void powercut_cut_before_operation(long long count);

/// Whether power is cut (by powercut_cut() or an armed count).
int powercut_is_cut(void);

/// Writes the durable image of every file the VFS knows to `directory` (which must exist), under
/// the file's base name, with what a seeded generator lets reach the disk of its unsynced operations.
/// Returns 0, or an errno value when a file cannot be written. Call after powercut_cut().
int powercut_write_durable_images(const char *directory, unsigned long long seed, powercut_report *report);

#ifdef __cplusplus
}
#endif
