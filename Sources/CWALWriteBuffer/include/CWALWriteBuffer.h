// CWALWriteBuffer: an SQLite VFS that hands a WAL commit to the kernel in one write.
//
// SQLite writes a commit into the write-ahead log frame by frame, each frame as two calls (its
// 24-byte header, then the page): a history commit of ten pages costs twenty pwrite system calls,
// which on a virtual machine took 81 µs against 5.5 µs for one pwrite of the same bytes. This VFS
// wraps another one (the default "unix", or a test VFS) and, for WAL files only, gathers
// contiguous writes in memory and writes them as one:
//
// - at the end of each commit frame (the frame whose header carries a database size), so the
//   frames are in the file before SQLite publishes the commit in the WAL index, whatever the
//   `synchronous` setting: another connection never reads a frame that is still in the buffer;
// - before a sync, read, truncate, size query, file control or close of that file, and before a
//   write that does not continue the buffer.
//
// A failed gathered write is reported by the call that triggered it (the commit frame's write or
// the sync), so the commit fails and SQLite never acknowledges it; the buffer is dropped, as
// SQLite rewrites those frames. Main database files, journals and the WAL index pass through.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

/// Registers, as `name` (not the default), the buffering VFS over the VFS called `base` (NULL:
/// the default VFS). Safe to call again with the same pair; at most 8 distinct names. An SQLite
/// result code: SQLITE_ERROR if `base` is unknown or `name` is taken by another base.
int walbuffer_register(const char *base, const char *name);

/// What the files of one buffering VFS did since it was registered.
typedef struct {
    /// WAL writes SQLite asked for.
    long long requestedWrites;
    /// Writes that reached the wrapped VFS for them.
    long long issuedWrites;
} walbuffer_statistics;

/// The counts of the buffering VFS registered as `name` (zeros for an unknown name).
walbuffer_statistics walbuffer_read_statistics(const char *name);

#ifdef __cplusplus
}
#endif
