import Benchmark
import DLAStore
import Foundation
import Synchronization

/// The stores that the benchmarks share: opened in setup hooks, used by the measured closures.
let openStores = Mutex<[String: DLAStore]>([:])

func store(_ name: String) throws -> DLAStore {
    guard let store = openStores.withLock({ $0[name] }) else {
        throw DLAStoreError.invalidArgument("benchmark store \(name): expected opened by setup, found none")
    }
    return store
}

/// How many rows one group commit (one fsync under FULL) made durable, times 100.
let rowsPerGroup = BenchmarkMetric.custom("rows per group commit (x100)", polarity: .prefersLarger, useScalingFactor: false)

/// Rows in the database that the page, aggregate, backup and open benchmarks read.
let historyRows = 1_000_000

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration.metrics = [.wallClock, .throughput]

    // Group commit: 16 tasks, each awaiting its row's durability before writing the next, as 16
    // concurrent API requests do. One sample writes 1,000 rows, so throughput reads in rows/s.
    for (name, durability) in [("FULL", StoreOptions.Durability.full), ("NORMAL", .normal)] {
        let key = "insert-\(name)"
        Benchmark(
            "history.record: 16 concurrent writers, synchronous=\(name)",
            configuration: .init(
                metrics: [.wallClock, .throughput, rowsPerGroup], scalingFactor: .kilo, maxDuration: .seconds(10), maxIterations: 100,
                setup: {
                    let directory = try StoreWorkload.scratchDirectory(key)
                    let opened = try await StoreWorkload.openStore(at: directory + "/dlad.sqlite", durability: durability)
                    openStores.withLock { $0[key] = opened }
                },
                teardown: {
                    await StoreWorkload.close(key)
                    try FileManager.default.removeItem(atPath: StoreWorkload.scratchPath(key))
                })
        ) { benchmark in
            let target = try store(key)
            let before = (target.writerStatistics.rows, target.writerStatistics.groups)
            try await StoreWorkload.write(target, rows: benchmark.scaledIterations.count, writers: 16)
            let groups = target.writerStatistics.groups - before.1
            let rows = target.writerStatistics.rows - before.0
            benchmark.measurement(rowsPerGroup, groups > 0 ? rows * 100 / groups : 0)
        }
    }

    // The disk's floor under synchronous=FULL: one group commit costs at least one fdatasync.
    Benchmark(
        "fdatasync of a 4 KiB append in the benchmark's directory",
        configuration: .init(metrics: [.wallClock], maxDuration: .seconds(3), maxIterations: 1000)
    ) { benchmark in
        try StoreWorkload.appendAndSync(benchmark)
    }

    // Filtered pages of 100 on a 1,000,000-row history (4 models × 3 versions, 1 % failures).
    let pageQueries: [(String, @Sendable (Int64) -> HistoryQuery)] = [
        ("newest 100, no filter", { _ in HistoryQuery() }),
        ("model, at a random cursor", { cursor in HistoryQuery(model: "lenet-5", after: cursor) }),
        ("model + version, at a random cursor", { cursor in HistoryQuery(model: "alexnet", version: 2, after: cursor) }),
        ("model + failed only (1 % of rows), at a random cursor", {
            cursor in HistoryQuery(model: "vgg-16", status: .failed, after: cursor)
        }),
        ("failed only, all models, newest", { _ in HistoryQuery(status: .failed) }),
        ("model + time range (middle half), oldest first", { _ in
            let range = HistoryDatabase.timeRange.withLock { $0 }
            return HistoryQuery(model: "lenet-300-100", since: range.lowerBound, until: range.upperBound, order: .oldestFirst)
        }),
    ]
    for (name, makeQuery) in pageQueries {
        Benchmark(
            "history.query on \(historyRows) rows: \(name)",
            configuration: .init(
                metrics: [.wallClock], maxDuration: .seconds(5), maxIterations: 2000,
                setup: { try await HistoryDatabase.open() },
                teardown: { await HistoryDatabase.close() })
        ) { benchmark in
            var generator = SystemRandomNumberGenerator()
            let cursor = Int64.random(in: 1...Int64(historyRows), using: &generator)
            let page = try await store(HistoryDatabase.key).history.query(makeQuery(cursor))
            blackHole(page)
        }
    }

    Benchmark(
        "history.aggregate on \(historyRows) rows: one model, whole window (250,000 rows)",
        configuration: .init(
            metrics: [.wallClock], maxDuration: .seconds(10), maxIterations: 20,
            setup: { try await HistoryDatabase.open() },
            teardown: { await HistoryDatabase.close() })
    ) { benchmark in
        blackHole(try await store(HistoryDatabase.key).history.aggregate(model: "alexnet", window: .seconds(86_400)))
    }

    // Online backup while 16 writers keep inserting (synchronous=FULL).
    Benchmark(
        "backup(to:) of a live \(historyRows)-row database under 16 writers",
        configuration: .init(
            metrics: [.wallClock], maxDuration: .seconds(30), maxIterations: 3,
            setup: { try await HistoryDatabase.open() },
            teardown: { await HistoryDatabase.close() })
    ) { benchmark in
        let live = try store(HistoryDatabase.key)
        let writers = Task { try await StoreWorkload.write(live, rows: 1_000_000, writers: 16, until: { Task.isCancelled }) }
        let destination = HistoryDatabase.directory + "/backup-\(UUID().uuidString).sqlite"
        benchmark.startMeasurement()
        try await live.backup(to: destination)
        benchmark.stopMeasurement()
        writers.cancel()
        _ = try await writers.value
        try FileManager.default.removeItem(atPath: destination)
    }

    // Startup: open runs the full integrity_check before trusting the file.
    Benchmark(
        "DLAStore.open of a \(historyRows)-row database (integrity_check)",
        configuration: .init(
            metrics: [.wallClock], maxDuration: .seconds(30), maxIterations: 3,
            setup: { try await HistoryDatabase.build() })
    ) { benchmark in
        let opened = try await DLAStore.open(path: HistoryDatabase.path)
        await opened.close()
    }
}
