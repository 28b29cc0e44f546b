import Dispatch
import Synchronization

/// Read connections, each on its own serial queue (off the cooperative pool, as reads block on
/// I/O too). In WAL mode readers see the last committed state and never wait for the writer, so
/// reads keep working while writes fail, for instance when the disk is full.
final class ReaderPool: @unchecked Sendable {
    /// A connection and the queue it is used on, and only on.
    private final class Reader: @unchecked Sendable {
        let queue: DispatchQueue
        let connection: SQLiteConnection
        /// Set on `queue` by `close`; reads queued after it fail with `.closed`.
        var isClosed = false

        init(queue: DispatchQueue, connection: SQLiteConnection) {
            self.queue = queue
            self.connection = connection
        }
    }

    private let readers: [Reader]
    private let next = Atomic<Int>(0)

    init(connections: [SQLiteConnection]) {
        readers = connections.enumerated().map { index, connection in
            Reader(queue: DispatchQueue(label: "dlad.store.reader.\(index)"), connection: connection)
        }
    }

    /// Runs `body` in one read transaction: everything it reads comes from the same snapshot.
    func read<T: Sendable>(
        _ body: @escaping @Sendable (SQLiteConnection) throws(DLAStoreError) -> T
    ) async throws(DLAStoreError) -> T {
        let reader = readers[next.add(1, ordering: .relaxed).oldValue % readers.count]
        let result: Result<T, DLAStoreError> = await withCheckedContinuation { continuation in
            reader.queue.async {
                let connection = reader.connection
                continuation.resume(returning: Result { () throws(DLAStoreError) -> T in
                    if reader.isClosed { throw .closed }
                    try connection.execute("BEGIN")
                    defer { connection.rollbackIfNeeded() }
                    return try body(connection)
                })
            }
        }
        return try result.get()
    }

    /// Closes every connection once the reads already queued on it have run.
    func close() async {
        for reader in readers {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                reader.queue.async {
                    reader.isClosed = true
                    reader.connection.close()
                    continuation.resume()
                }
            }
        }
    }
}
