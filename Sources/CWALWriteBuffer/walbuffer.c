// The buffering VFS: see include/CWALWriteBuffer.h for what it does and why.
#define _POSIX_C_SOURCE 200809L
#include "CWALWriteBuffer.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/// Gathered bytes past this are written at once: the unix VFS writes at most 128 KiB - 1 bytes
/// per call (its seekAndWriteFd masks the length to 17 bits), and a history commit of a dozen
/// pages (about 50 KB) stays below it.
#define BUFFER_LIMIT (120 * 1024)
/// A WAL frame header; the WAL's own header is 32 bytes at offset 0.
#define FRAME_HEADER_SIZE 24
#define WAL_HEADER_SIZE 32

/// One registered buffering VFS and what its files did.
typedef struct {
    sqlite3_vfs vfs;
    char name[64];
    atomic_llong requestedWrites;
    atomic_llong issuedWrites;
} Registration;

typedef struct {
    sqlite3_file base;
    sqlite3_file *real;
    Registration *owner;
    int isWAL;
    /// BUFFER_LIMIT bytes, allocated at the file's first write.
    unsigned char *buffer;
    int bufferLength;
    sqlite3_int64 bufferOffset;
    /// The last write was a commit frame's header: its page ends the commit.
    int commitPageFollows;
} BufferedFile;

static int flush(BufferedFile *p) {
    if (p->bufferLength == 0) return SQLITE_OK;
    int length = p->bufferLength;
    p->bufferLength = 0;
    atomic_fetch_add_explicit(&p->owner->issuedWrites, 1, memory_order_relaxed);
    return p->real->pMethods->xWrite(p->real, p->buffer, length, p->bufferOffset);
}

/// Appends a write that fits: the caller has flushed whatever it would overflow.
static int append(BufferedFile *p, const void *data, int amount, sqlite3_int64 offset) {
    if (!p->buffer) {
        p->buffer = malloc(BUFFER_LIMIT);
        if (!p->buffer) return SQLITE_NOMEM;
    }
    if (p->bufferLength == 0) p->bufferOffset = offset;
    memcpy(p->buffer + p->bufferLength, data, (size_t)amount);
    p->bufferLength += amount;
    return SQLITE_OK;
}

/// A frame header whose "database size after commit" field is set.
static int isCommitFrameHeader(const unsigned char *data, int amount, sqlite3_int64 offset) {
    return amount == FRAME_HEADER_SIZE && offset >= WAL_HEADER_SIZE && (data[4] | data[5] | data[6] | data[7]) != 0;
}

// MARK: - File methods

static int wbClose(sqlite3_file *file) {
    BufferedFile *p = (BufferedFile *)file;
    int rc = flush(p);
    int closed = p->real->pMethods->xClose(p->real);
    free(p->buffer);
    p->buffer = NULL;
    return rc != SQLITE_OK ? rc : closed;
}

static int wbRead(sqlite3_file *file, void *buffer, int amount, sqlite3_int64 offset) {
    BufferedFile *p = (BufferedFile *)file;
    int rc = flush(p);
    if (rc != SQLITE_OK) return rc;
    return p->real->pMethods->xRead(p->real, buffer, amount, offset);
}

static int wbWrite(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset) {
    BufferedFile *p = (BufferedFile *)file;
    if (!p->isWAL) return p->real->pMethods->xWrite(p->real, data, amount, offset);
    atomic_fetch_add_explicit(&p->owner->requestedWrites, 1, memory_order_relaxed);
    int endsCommit = p->commitPageFollows;
    p->commitPageFollows = isCommitFrameHeader(data, amount, offset);
    int rc = SQLITE_OK;
    if (p->bufferLength > 0
        && (offset != p->bufferOffset + p->bufferLength || p->bufferLength + (sqlite3_int64)amount > BUFFER_LIMIT)) {
        rc = flush(p);
    }
    if (rc == SQLITE_OK && amount > BUFFER_LIMIT) {
        atomic_fetch_add_explicit(&p->owner->issuedWrites, 1, memory_order_relaxed);
        return p->real->pMethods->xWrite(p->real, data, amount, offset);
    }
    if (rc == SQLITE_OK) rc = append(p, data, amount, offset);
    if (rc == SQLITE_OK && endsCommit) rc = flush(p);
    if (rc != SQLITE_OK) {
        p->bufferLength = 0;
        p->commitPageFollows = 0;
    }
    return rc;
}

static int wbTruncate(sqlite3_file *file, sqlite3_int64 size) {
    BufferedFile *p = (BufferedFile *)file;
    int rc = flush(p);
    if (rc != SQLITE_OK) return rc;
    return p->real->pMethods->xTruncate(p->real, size);
}

static int wbSync(sqlite3_file *file, int flags) {
    BufferedFile *p = (BufferedFile *)file;
    int rc = flush(p);
    if (rc != SQLITE_OK) return rc;
    return p->real->pMethods->xSync(p->real, flags);
}

static int wbFileSize(sqlite3_file *file, sqlite3_int64 *size) {
    BufferedFile *p = (BufferedFile *)file;
    int rc = flush(p);
    if (rc != SQLITE_OK) return rc;
    return p->real->pMethods->xFileSize(p->real, size);
}

static int wbLock(sqlite3_file *file, int level) {
    BufferedFile *p = (BufferedFile *)file;
    return p->real->pMethods->xLock(p->real, level);
}

static int wbUnlock(sqlite3_file *file, int level) {
    BufferedFile *p = (BufferedFile *)file;
    return p->real->pMethods->xUnlock(p->real, level);
}

static int wbCheckReservedLock(sqlite3_file *file, int *result) {
    BufferedFile *p = (BufferedFile *)file;
    return p->real->pMethods->xCheckReservedLock(p->real, result);
}

static int wbFileControl(sqlite3_file *file, int op, void *argument) {
    BufferedFile *p = (BufferedFile *)file;
    int rc = flush(p);
    if (rc != SQLITE_OK) return rc;
    return p->real->pMethods->xFileControl(p->real, op, argument);
}

static int wbSectorSize(sqlite3_file *file) {
    BufferedFile *p = (BufferedFile *)file;
    return p->real->pMethods->xSectorSize(p->real);
}

static int wbDeviceCharacteristics(sqlite3_file *file) {
    BufferedFile *p = (BufferedFile *)file;
    return p->real->pMethods->xDeviceCharacteristics(p->real);
}

static int wbShmMap(sqlite3_file *file, int region, int size, int extend, void volatile **address) {
    BufferedFile *p = (BufferedFile *)file;
    return p->real->pMethods->xShmMap(p->real, region, size, extend, address);
}

static int wbShmLock(sqlite3_file *file, int offset, int count, int flags) {
    BufferedFile *p = (BufferedFile *)file;
    return p->real->pMethods->xShmLock(p->real, offset, count, flags);
}

static void wbShmBarrier(sqlite3_file *file) {
    BufferedFile *p = (BufferedFile *)file;
    p->real->pMethods->xShmBarrier(p->real);
}

static int wbShmUnmap(sqlite3_file *file, int deleteFlag) {
    BufferedFile *p = (BufferedFile *)file;
    return p->real->pMethods->xShmUnmap(p->real, deleteFlag);
}

// Version 2: no xFetch, so SQLite never reads a file through a memory map behind the buffer.
static const sqlite3_io_methods methods = {
    2, wbClose, wbRead, wbWrite, wbTruncate, wbSync, wbFileSize, wbLock, wbUnlock,
    wbCheckReservedLock, wbFileControl, wbSectorSize, wbDeviceCharacteristics,
    wbShmMap, wbShmLock, wbShmBarrier, wbShmUnmap, NULL, NULL,
};

// MARK: - VFS methods

static sqlite3_vfs *wrapped(sqlite3_vfs *vfs) { return (sqlite3_vfs *)vfs->pAppData; }

static int wbOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *outFlags) {
    BufferedFile *p = (BufferedFile *)file;
    memset(p, 0, sizeof(*p));
    p->real = (sqlite3_file *)(p + 1);
    p->owner = (Registration *)vfs;
    p->isWAL = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = wrapped(vfs)->xOpen(wrapped(vfs), name, p->real, flags, outFlags);
    // A failed open may still have set methods that SQLite then closes through ours.
    file->pMethods = p->real->pMethods ? &methods : NULL;
    return rc;
}

static int wbDelete(sqlite3_vfs *vfs, const char *path, int syncDirectory) {
    return wrapped(vfs)->xDelete(wrapped(vfs), path, syncDirectory);
}

static int wbAccess(sqlite3_vfs *vfs, const char *path, int flags, int *result) {
    return wrapped(vfs)->xAccess(wrapped(vfs), path, flags, result);
}

static int wbFullPathname(sqlite3_vfs *vfs, const char *path, int size, char *out) {
    return wrapped(vfs)->xFullPathname(wrapped(vfs), path, size, out);
}

static void *wbDlOpen(sqlite3_vfs *vfs, const char *path) { return wrapped(vfs)->xDlOpen(wrapped(vfs), path); }

static void wbDlError(sqlite3_vfs *vfs, int size, char *message) { wrapped(vfs)->xDlError(wrapped(vfs), size, message); }

static void (*wbDlSym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void) {
    return wrapped(vfs)->xDlSym(wrapped(vfs), handle, symbol);
}

static void wbDlClose(sqlite3_vfs *vfs, void *handle) { wrapped(vfs)->xDlClose(wrapped(vfs), handle); }

static int wbRandomness(sqlite3_vfs *vfs, int size, char *out) { return wrapped(vfs)->xRandomness(wrapped(vfs), size, out); }

static int wbSleep(sqlite3_vfs *vfs, int microseconds) { return wrapped(vfs)->xSleep(wrapped(vfs), microseconds); }

static int wbCurrentTime(sqlite3_vfs *vfs, double *now) { return wrapped(vfs)->xCurrentTime(wrapped(vfs), now); }

static int wbGetLastError(sqlite3_vfs *vfs, int size, char *message) {
    return wrapped(vfs)->xGetLastError(wrapped(vfs), size, message);
}

static int wbCurrentTimeInt64(sqlite3_vfs *vfs, sqlite3_int64 *now) {
    return wrapped(vfs)->xCurrentTimeInt64(wrapped(vfs), now);
}

// MARK: - Registration

#define MAX_REGISTERED 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static Registration registered[MAX_REGISTERED];
static int registeredCount;

static Registration *find(const char *name) {
    for (int i = 0; i < registeredCount; i++) {
        if (strcmp(registered[i].name, name) == 0) return &registered[i];
    }
    return NULL;
}

int walbuffer_register(const char *base, const char *name) {
    if (!name || strlen(name) >= sizeof(registered[0].name)) return SQLITE_MISUSE;
    pthread_mutex_lock(&lock);
    int rc = SQLITE_OK;
    sqlite3_vfs *wrappedVfs = sqlite3_vfs_find(base);
    Registration *existing = find(name);
    if (!wrappedVfs || wrappedVfs->iVersion < 2) {
        rc = SQLITE_ERROR;
    } else if (existing) {
        if (existing->vfs.pAppData != wrappedVfs) rc = SQLITE_ERROR;
    } else if (registeredCount == MAX_REGISTERED || sqlite3_vfs_find(name)) {
        rc = SQLITE_ERROR;
    } else {
        Registration *slot = &registered[registeredCount];
        strcpy(slot->name, name);
        slot->vfs = (sqlite3_vfs){
            2, (int)sizeof(BufferedFile) + wrappedVfs->szOsFile, wrappedVfs->mxPathname, NULL, slot->name, wrappedVfs,
            wbOpen, wbDelete, wbAccess, wbFullPathname, wbDlOpen, wbDlError, wbDlSym, wbDlClose,
            wbRandomness, wbSleep, wbCurrentTime, wbGetLastError, wbCurrentTimeInt64, NULL, NULL, NULL,
        };
        rc = sqlite3_vfs_register(&slot->vfs, 0);
        if (rc == SQLITE_OK) registeredCount++;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

walbuffer_statistics walbuffer_read_statistics(const char *name) {
    walbuffer_statistics statistics = {0, 0};
    pthread_mutex_lock(&lock);
    Registration *registration = find(name);
    if (registration) {
        statistics.requestedWrites = atomic_load_explicit(&registration->requestedWrites, memory_order_relaxed);
        statistics.issuedWrites = atomic_load_explicit(&registration->issuedWrites, memory_order_relaxed);
    }
    pthread_mutex_unlock(&lock);
    return statistics;
}
