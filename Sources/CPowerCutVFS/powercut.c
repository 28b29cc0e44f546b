// The "powercut" VFS: see include/CPowerCutVFS.h for what it models.
#define _POSIX_C_SOURCE 200809L
#include "CPowerCutVFS.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/// One write or truncate not yet synced.
typedef struct {
    int isTruncate;
    sqlite3_int64 offset; // a truncate's new size
    sqlite3_int64 size;
    unsigned char *data;
} Operation;

/// What the simulated disk holds for one path, shared by every handle open on it.
typedef struct FileState {
    struct FileState *next;
    char *path;
    int openHandles;
    /// Whether the file survives a power cut at all (created files: after their first sync).
    int durable;
    unsigned char *image;
    sqlite3_int64 imageSize;
    sqlite3_int64 imageCapacity;
    Operation *unsynced;
    int unsyncedCount;
    int unsyncedCapacity;
} FileState;

typedef struct {
    sqlite3_file base;
    FileState *state; // NULL for files not tracked (temporary files)
    sqlite3_file *real;
} PowerCutFile;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static FileState *files;
static atomic_int powerIsCut;
/// Writes, truncates and syncs of tracked files still allowed before power fails; 0 is no limit.
static long long operationsLeft;
static sqlite3_vfs *realVfs;

static int resize(FileState *state, sqlite3_int64 size) {
    if (size > state->imageCapacity) {
        sqlite3_int64 capacity = state->imageCapacity ? state->imageCapacity : 65536;
        while (capacity < size) capacity *= 2;
        unsigned char *grown = realloc(state->image, (size_t)capacity);
        if (!grown) return SQLITE_NOMEM;
        state->image = grown;
        state->imageCapacity = capacity;
    }
    if (size > state->imageSize) memset(state->image + state->imageSize, 0, (size_t)(size - state->imageSize));
    state->imageSize = size;
    return SQLITE_OK;
}

/// Applies the first `length` bytes of `operation` (all of a truncate) to the image.
static int apply(FileState *state, const Operation *operation, sqlite3_int64 length) {
    if (operation->isTruncate) return resize(state, operation->offset);
    sqlite3_int64 end = operation->offset + length;
    if (end > state->imageSize) {
        int rc = resize(state, end);
        if (rc != SQLITE_OK) return rc;
    }
    memcpy(state->image + operation->offset, operation->data, (size_t)length);
    return SQLITE_OK;
}

static void dropUnsynced(FileState *state) {
    for (int i = 0; i < state->unsyncedCount; i++) free(state->unsynced[i].data);
    state->unsyncedCount = 0;
}

static int appendUnsynced(FileState *state, int isTruncate, const void *data, sqlite3_int64 size, sqlite3_int64 offset) {
    if (state->unsyncedCount == state->unsyncedCapacity) {
        int capacity = state->unsyncedCapacity ? state->unsyncedCapacity * 2 : 64;
        Operation *grown = realloc(state->unsynced, sizeof(Operation) * (size_t)capacity);
        if (!grown) return SQLITE_NOMEM;
        state->unsynced = grown;
        state->unsyncedCapacity = capacity;
    }
    Operation operation = {isTruncate, offset, size, NULL};
    if (!isTruncate) {
        operation.data = malloc((size_t)size);
        if (!operation.data) return SQLITE_NOMEM;
        memcpy(operation.data, data, (size_t)size);
    }
    state->unsynced[state->unsyncedCount++] = operation;
    return SQLITE_OK;
}

static void freeState(FileState *state) {
    dropUnsynced(state);
    free(state->unsynced);
    free(state->image);
    free(state->path);
    free(state);
}

/// The state of `path`, created on first use; a file already on disk then starts durable with
/// its current bytes. Called with `lock` held.
static FileState *stateFor(const char *path) {
    for (FileState *state = files; state; state = state->next) {
        if (strcmp(state->path, path) == 0) return state;
    }
    FileState *state = calloc(1, sizeof(FileState));
    if (!state) return NULL;
    state->path = strdup(path);
    if (!state->path) {
        free(state);
        return NULL;
    }
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        struct stat info;
        int ok = fstat(fd, &info) == 0 && resize(state, info.st_size) == SQLITE_OK;
        for (sqlite3_int64 done = 0; ok && done < state->imageSize;) {
            ssize_t got = pread(fd, state->image + done, (size_t)(state->imageSize - done), done);
            if (got <= 0) ok = 0;
            else done += got;
        }
        close(fd);
        if (!ok) {
            freeState(state);
            return NULL;
        }
        state->durable = 1;
    }
    state->next = files;
    files = state;
    return state;
}

/// Whether power is on for one more write, truncate or sync; counts it down. Called with `lock` held.
static int powerHoldsForOperation(void) {
    if (atomic_load(&powerIsCut)) return 0;
    if (operationsLeft > 0 && --operationsLeft == 0) {
        atomic_store(&powerIsCut, 1);
        return 0;
    }
    return 1;
}

// MARK: - File methods

static int pcClose(sqlite3_file *file) {
    PowerCutFile *p = (PowerCutFile *)file;
    int rc = p->real->pMethods->xClose(p->real);
    if (p->state) {
        pthread_mutex_lock(&lock);
        p->state->openHandles--;
        pthread_mutex_unlock(&lock);
    }
    return rc;
}

static int pcRead(sqlite3_file *file, void *buffer, int amount, sqlite3_int64 offset) {
    PowerCutFile *p = (PowerCutFile *)file;
    if (p->state && atomic_load(&powerIsCut)) return SQLITE_IOERR_READ;
    return p->real->pMethods->xRead(p->real, buffer, amount, offset);
}

/// Writes reach the real file and the unsynced log under one lock, so that a cut falls wholly
/// before or after each of them.
static int pcWrite(sqlite3_file *file, const void *buffer, int amount, sqlite3_int64 offset) {
    PowerCutFile *p = (PowerCutFile *)file;
    if (!p->state) return p->real->pMethods->xWrite(p->real, buffer, amount, offset);
    pthread_mutex_lock(&lock);
    int rc = SQLITE_IOERR_WRITE;
    if (powerHoldsForOperation()) {
        rc = p->real->pMethods->xWrite(p->real, buffer, amount, offset);
        if (rc == SQLITE_OK) rc = appendUnsynced(p->state, 0, buffer, amount, offset);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

static int pcTruncate(sqlite3_file *file, sqlite3_int64 size) {
    PowerCutFile *p = (PowerCutFile *)file;
    if (!p->state) return p->real->pMethods->xTruncate(p->real, size);
    pthread_mutex_lock(&lock);
    int rc = SQLITE_IOERR_TRUNCATE;
    if (powerHoldsForOperation()) {
        rc = p->real->pMethods->xTruncate(p->real, size);
        if (rc == SQLITE_OK) rc = appendUnsynced(p->state, 1, NULL, 0, size);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

/// What fsync guarantees, without the real fsync: the file's unsynced operations become durable.
static int pcSync(sqlite3_file *file, int flags) {
    PowerCutFile *p = (PowerCutFile *)file;
    (void)flags;
    if (!p->state) return SQLITE_OK;
    pthread_mutex_lock(&lock);
    int rc = SQLITE_IOERR_FSYNC;
    if (powerHoldsForOperation()) {
        rc = SQLITE_OK;
        for (int i = 0; rc == SQLITE_OK && i < p->state->unsyncedCount; i++) {
            rc = apply(p->state, &p->state->unsynced[i], p->state->unsynced[i].size);
        }
        dropUnsynced(p->state);
        p->state->durable = 1;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

static int pcFileSize(sqlite3_file *file, sqlite3_int64 *size) {
    PowerCutFile *p = (PowerCutFile *)file;
    if (p->state && atomic_load(&powerIsCut)) return SQLITE_IOERR_FSTAT;
    return p->real->pMethods->xFileSize(p->real, size);
}

static int pcLock(sqlite3_file *file, int level) {
    PowerCutFile *p = (PowerCutFile *)file;
    return p->real->pMethods->xLock(p->real, level);
}

static int pcUnlock(sqlite3_file *file, int level) {
    PowerCutFile *p = (PowerCutFile *)file;
    return p->real->pMethods->xUnlock(p->real, level);
}

static int pcCheckReservedLock(sqlite3_file *file, int *result) {
    PowerCutFile *p = (PowerCutFile *)file;
    return p->real->pMethods->xCheckReservedLock(p->real, result);
}

static int pcFileControl(sqlite3_file *file, int op, void *argument) {
    PowerCutFile *p = (PowerCutFile *)file;
    return p->real->pMethods->xFileControl(p->real, op, argument);
}

static int pcSectorSize(sqlite3_file *file) {
    PowerCutFile *p = (PowerCutFile *)file;
    return p->real->pMethods->xSectorSize(p->real);
}

static int pcDeviceCharacteristics(sqlite3_file *file) {
    PowerCutFile *p = (PowerCutFile *)file;
    return p->real->pMethods->xDeviceCharacteristics(p->real);
}

// The WAL index (-shm) is rebuilt from the WAL after a crash, so it passes through untracked.
static int pcShmMap(sqlite3_file *file, int region, int size, int extend, void volatile **address) {
    PowerCutFile *p = (PowerCutFile *)file;
    return p->real->pMethods->xShmMap(p->real, region, size, extend, address);
}

static int pcShmLock(sqlite3_file *file, int offset, int count, int flags) {
    PowerCutFile *p = (PowerCutFile *)file;
    return p->real->pMethods->xShmLock(p->real, offset, count, flags);
}

static void pcShmBarrier(sqlite3_file *file) {
    PowerCutFile *p = (PowerCutFile *)file;
    p->real->pMethods->xShmBarrier(p->real);
}

static int pcShmUnmap(sqlite3_file *file, int deleteFlag) {
    PowerCutFile *p = (PowerCutFile *)file;
    return p->real->pMethods->xShmUnmap(p->real, deleteFlag);
}

// Version 2: no xFetch, so SQLite never reads through a memory map of the real file.
static const sqlite3_io_methods methods = {
    2, pcClose, pcRead, pcWrite, pcTruncate, pcSync, pcFileSize, pcLock, pcUnlock,
    pcCheckReservedLock, pcFileControl, pcSectorSize, pcDeviceCharacteristics,
    pcShmMap, pcShmLock, pcShmBarrier, pcShmUnmap, NULL, NULL,
};

// MARK: - VFS methods

static int pcOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *outFlags) {
    PowerCutFile *p = (PowerCutFile *)file;
    (void)vfs;
    p->real = (sqlite3_file *)(p + 1);
    p->state = NULL;
    int tracked = name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL));
    if (tracked) {
        pthread_mutex_lock(&lock);
        p->state = stateFor(name);
        if (p->state) p->state->openHandles++;
        pthread_mutex_unlock(&lock);
        if (!p->state) {
            file->pMethods = NULL;
            return SQLITE_NOMEM;
        }
    }
    int rc = realVfs->xOpen(realVfs, name, p->real, flags, outFlags);
    if (rc != SQLITE_OK) {
        if (p->state) {
            pthread_mutex_lock(&lock);
            p->state->openHandles--;
            pthread_mutex_unlock(&lock);
        }
        file->pMethods = NULL;
        return rc;
    }
    file->pMethods = &methods;
    return SQLITE_OK;
}

/// A delete is taken as durable at once (the unix VFS syncs the directory only when asked to).
static int pcDelete(sqlite3_vfs *vfs, const char *path, int syncDirectory) {
    (void)vfs;
    pthread_mutex_lock(&lock);
    int rc = SQLITE_IOERR_DELETE;
    if (!atomic_load(&powerIsCut)) {
        rc = realVfs->xDelete(realVfs, path, syncDirectory);
        for (FileState *state = files; state; state = state->next) {
            if (strcmp(state->path, path) != 0) continue;
            dropUnsynced(state);
            state->imageSize = 0;
            state->durable = 0;
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

static int pcAccess(sqlite3_vfs *vfs, const char *path, int flags, int *result) {
    (void)vfs;
    return realVfs->xAccess(realVfs, path, flags, result);
}

static int pcFullPathname(sqlite3_vfs *vfs, const char *path, int size, char *out) {
    (void)vfs;
    return realVfs->xFullPathname(realVfs, path, size, out);
}

static void *pcDlOpen(sqlite3_vfs *vfs, const char *path) {
    (void)vfs;
    return realVfs->xDlOpen(realVfs, path);
}

static void pcDlError(sqlite3_vfs *vfs, int size, char *message) {
    (void)vfs;
    realVfs->xDlError(realVfs, size, message);
}

static void (*pcDlSym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void) {
    (void)vfs;
    return realVfs->xDlSym(realVfs, handle, symbol);
}

static void pcDlClose(sqlite3_vfs *vfs, void *handle) {
    (void)vfs;
    realVfs->xDlClose(realVfs, handle);
}

static int pcRandomness(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    return realVfs->xRandomness(realVfs, size, out);
}

static int pcSleep(sqlite3_vfs *vfs, int microseconds) {
    (void)vfs;
    return realVfs->xSleep(realVfs, microseconds);
}

static int pcCurrentTime(sqlite3_vfs *vfs, double *now) {
    (void)vfs;
    return realVfs->xCurrentTime(realVfs, now);
}

static int pcGetLastError(sqlite3_vfs *vfs, int size, char *message) {
    (void)vfs;
    return realVfs->xGetLastError(realVfs, size, message);
}

static int pcCurrentTimeInt64(sqlite3_vfs *vfs, sqlite3_int64 *now) {
    (void)vfs;
    return realVfs->xCurrentTimeInt64(realVfs, now);
}

static sqlite3_vfs powercutVfs = {
    2, 0, 0, NULL, POWERCUT_VFS_NAME, NULL,
    pcOpen, pcDelete, pcAccess, pcFullPathname, pcDlOpen, pcDlError, pcDlSym, pcDlClose,
    pcRandomness, pcSleep, pcCurrentTime, pcGetLastError, pcCurrentTimeInt64, NULL, NULL, NULL,
};

// MARK: - Control

int powercut_register(void) {
    pthread_mutex_lock(&lock);
    int rc = SQLITE_OK;
    if (!realVfs) {
        sqlite3_vfs *unixVfs = sqlite3_vfs_find("unix");
        if (!unixVfs || unixVfs->iVersion < 2) {
            rc = SQLITE_ERROR;
        } else {
            powercutVfs.szOsFile = (int)sizeof(PowerCutFile) + unixVfs->szOsFile;
            powercutVfs.mxPathname = unixVfs->mxPathname;
            realVfs = unixVfs;
            rc = sqlite3_vfs_register(&powercutVfs, 0);
            if (rc != SQLITE_OK) realVfs = NULL;
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void powercut_restore(void) {
    pthread_mutex_lock(&lock);
    FileState **link = &files;
    while (*link) {
        FileState *state = *link;
        if (state->openHandles == 0) {
            *link = state->next;
            freeState(state);
        } else {
            link = &state->next;
        }
    }
    atomic_store(&powerIsCut, 0);
    operationsLeft = 0;
    pthread_mutex_unlock(&lock);
}

void powercut_cut_before_operation(long long count) {
    pthread_mutex_lock(&lock);
    operationsLeft = count > 0 ? count : 0;
    pthread_mutex_unlock(&lock);
}

int powercut_is_cut(void) {
    return atomic_load(&powerIsCut);
}

void powercut_cut(void) {
    pthread_mutex_lock(&lock);
    atomic_store(&powerIsCut, 1);
    pthread_mutex_unlock(&lock);
}

/// splitmix64: small, seedable, good enough to choose prefixes and tears.
static uint64_t nextRandom(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int writeWhole(const char *path, const unsigned char *bytes, sqlite3_int64 size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return errno;
    int error = 0;
    for (sqlite3_int64 done = 0; !error && done < size;) {
        ssize_t written = write(fd, bytes + done, (size_t)(size - done));
        if (written < 0) error = errno;
        else done += written;
    }
    if (close(fd) != 0 && !error) error = errno;
    return error;
}

/// Applies to `disk` (a copy of the file's durable image) what reached the disk of the file's
/// unsynced operations: either a prefix in issue order and the next one torn, or, as a disk free to
/// reorder writes may leave them, each one independently whole, torn or lost.
static int settle(const FileState *state, FileState *disk, uint64_t *random, powercut_report *report) {
    int reordered = (int)(nextRandom(random) & 1);
    int prefix = (int)(nextRandom(random) % (uint64_t)(state->unsyncedCount + 1));
    report->filesReordered += reordered;
    for (int i = 0; i < state->unsyncedCount; i++) {
        const Operation *operation = &state->unsynced[i];
        enum { lost, torn, whole } fate;
        if (reordered) fate = (int)(nextRandom(random) % 3);
        else fate = i < prefix ? whole : i == prefix ? torn : lost;
        sqlite3_int64 length = operation->size;
        if (fate == torn) {
            if (operation->isTruncate || operation->size == 0) continue;
            length = (sqlite3_int64)(nextRandom(random) % (uint64_t)operation->size);
            if (length == 0) continue;
            report->tornWrites++;
        } else if (fate == whole) {
            report->operationsKept++;
        } else {
            continue;
        }
        int rc = apply(disk, operation, length);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

int powercut_write_durable_images(const char *directory, unsigned long long seed, powercut_report *report) {
    memset(report, 0, sizeof(*report));
    uint64_t random = seed;
    int error = 0;
    pthread_mutex_lock(&lock);
    for (FileState *state = files; state && !error; state = state->next) {
        if (!state->durable) continue;
        report->unsyncedOperations += state->unsyncedCount;
        FileState disk = {0};
        error = resize(&disk, state->imageSize) == SQLITE_OK ? 0 : ENOMEM;
        if (!error && state->imageSize) memcpy(disk.image, state->image, (size_t)state->imageSize);
        if (!error) error = settle(state, &disk, &random, report) == SQLITE_OK ? 0 : ENOMEM;
        const char *base = strrchr(state->path, '/');
        base = base ? base + 1 : state->path;
        size_t pathLength = strlen(directory) + 1 + strlen(base) + 1;
        char *destination = error ? NULL : malloc(pathLength);
        if (destination) {
            memcpy(destination, directory, strlen(directory));
            destination[strlen(directory)] = '/';
            memcpy(destination + strlen(directory) + 1, base, strlen(base) + 1);
            error = writeWhole(destination, disk.image, disk.imageSize);
            free(destination);
            if (!error) report->files++;
        } else if (!error) {
            error = ENOMEM;
        }
        free(disk.image);
    }
    pthread_mutex_unlock(&lock);
    return error;
}
