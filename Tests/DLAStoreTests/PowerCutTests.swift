import CPowerCutVFS
@testable import DLAStore
import Foundation
import Synchronization
import Testing

/// The store runs on the "powercut" VFS (Sources/CPowerCutVFS), which keeps every file's unsynced
/// writes apart from what a disk would keep; power is cut at a random write, sync or moment under a
/// concurrent history load, and the disk's contents (synced bytes, and of the unsynced writes a
/// random prefix or a random subset, some torn) are opened as a fresh database. Under `synchronous=FULL` every acknowledged row
/// must be there; under `NORMAL` some must be missing in some round, or the simulation proves
/// nothing. Serialized: the simulated disk is one per process.
///
/// Each run draws a base seed (or takes `POWERCUT_SEED`); every failure names it. The seed fixes
/// the moments of the cuts and the disk's choices, not the threads' interleaving.
@Suite(.serialized) struct PowerCutTests {
    static let rounds = 30
    static let writers = 8

    struct Round {
        var acknowledged = 0
        var cutInsideAnOperation = false
        var lost = 0
        var unacknowledgedPresent = 0
        var report = powercut_report()
    }

    /// What the writers of a round saw fail before power was cut (nothing, or the store is wrong).
    final class Load: Sendable {
        let failedBeforeCut = Mutex<[String]>([])
    }

    static let baseSeed: UInt64 = ProcessInfo.processInfo.environment["POWERCUT_SEED"].flatMap { UInt64($0) }
        ?? UInt64.random(in: 1...UInt64.max)

    @Test func fullKeepsEveryAcknowledgedRowAcrossPowerCuts() async throws {
        let rounds = try await Self.run(.full)
        let acknowledged = rounds.reduce(0) { $0 + $1.acknowledged }
        for (index, round) in rounds.enumerated() {
            #expect(round.lost == 0, "seed \(Self.baseSeed), round \(index): \(round.lost) of \(round.acknowledged) acknowledged rows lost under FULL")
        }
        #expect(acknowledged >= Self.rounds * 20, "seed \(Self.baseSeed): only \(acknowledged) rows acknowledged, too few to test anything")
        Self.summarize("FULL", rounds)
    }

    @Test func normalLosesAcknowledgedRowsAcrossPowerCuts() async throws {
        let rounds = try await Self.run(.normal)
        let lost = rounds.reduce(0) { $0 + $1.lost }
        #expect(lost > 0, "seed \(Self.baseSeed): no acknowledged row lost under NORMAL in \(Self.rounds) power cuts: the simulation drops nothing")
        Self.summarize("NORMAL", rounds)
    }

    static func summarize(_ mode: String, _ rounds: [Round]) {
        let acknowledged = rounds.reduce(0) { $0 + $1.acknowledged }
        let lost = rounds.reduce(0) { $0 + $1.lost }
        let roundsLosing = rounds.count { $0.lost > 0 }
        let extra = rounds.reduce(0) { $0 + $1.unacknowledgedPresent }
        let unsynced = rounds.reduce(0) { $0 + $1.report.unsyncedOperations }
        let kept = rounds.reduce(0) { $0 + $1.report.operationsKept }
        let torn = rounds.reduce(0) { $0 + $1.report.tornWrites }
        let reordered = rounds.reduce(0) { $0 + Int($1.report.filesReordered) }
        let insideAnOperation = rounds.count { $0.cutInsideAnOperation }
        print("""
            power cuts under \(mode) (seed \(baseSeed)): \(rounds.count) rounds (\(insideAnOperation) cut at a write or sync, \
            the others at a moment), \(acknowledged) acknowledged rows, \
            \(lost) lost in \(roundsLosing) rounds, \(extra) unacknowledged rows present; at the cuts \(unsynced) \
            unsynced writes, \(kept) kept whole, \(torn) torn, \(reordered) files written out of order
            """)
    }

    static func run(_ durability: StoreOptions.Durability) async throws -> [Round] {
        let registered = powercut_register()
        try #require(registered == 0, "registering the powercut VFS: SQLite result code \(registered)")
        var rounds: [Round] = []
        for index in 0..<Self.rounds {
            var seed = baseSeed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15 &+ (durability == .full ? 0 : 1)
            rounds.append(try await round(durability, seed: &seed, index: index))
        }
        return rounds
    }

    /// One store on the simulated disk, a load of `writers` tasks, a cut, and a look at the disk.
    static func round(_ durability: StoreOptions.Durability, seed: inout UInt64, index: Int) async throws -> Round {
        let context = "seed \(baseSeed), \(durability), round \(index)"
        powercut_restore()
        let live = try TestDirectory()
        var options = StoreOptions()
        options.durability = durability
        options.vfsName = POWERCUT_VFS_NAME
        let store = try await Fixture.storeWithModel(live, options: options)

        let load = Load()
        // Power fails at the earlier of a random write, truncate or sync (inside a commit or a
        // checkpoint) and a random moment (wherever the threads are).
        let loadMilliseconds = Int(splitMix(&seed) % 90) + 10
        powercut_cut_before_operation(Int64(splitMix(&seed) % 6000) + 1)
        let (acknowledged, cutInsideAnOperation) = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var ids: [Int64] = []
                    while true {
                        do {
                            ids.append(try await store.history.record(Fixture.record(latency: Int64(ids.count), client: UInt32(writer))))
                        } catch {
                            if powercut_is_cut() == 0 { load.failedBeforeCut.withLock { $0.append("\(error)") } }
                            return ids
                        }
                    }
                }
            }
            let deadline = ContinuousClock.now + .milliseconds(loadMilliseconds)
            while powercut_is_cut() == 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(1))
            }
            let cutInsideAnOperation = powercut_is_cut() != 0
            powercut_cut()
            return (try await group.reduce(into: Set<Int64>()) { $0.formUnion($1) }, cutInsideAnOperation)
        }
        await store.close()
        let failedBeforeCut = load.failedBeforeCut.withLock { $0 }
        #expect(failedBeforeCut.isEmpty, "\(context): writes failed before the cut: \(failedBeforeCut.prefix(3))")

        let disk = try TestDirectory()
        var result = Round(acknowledged: acknowledged.count, cutInsideAnOperation: cutInsideAnOperation)
        let written = powercut_write_durable_images(disk.path, splitMix(&seed), &result.report)
        try #require(written == 0, "\(context): writing the durable images failed with errno \(written)")
        let path = disk.file("dlad.sqlite")
        do {
            let recovered = try await DLAStore.open(path: path)
            let check = try await recovered.integrityCheck()
            await recovered.close()
            #expect(check == ["ok"], "\(context): integrity check after the power cut: \(check)")
            let stored = try CrashTests.storedIDs(path)
            result.lost = acknowledged.subtracting(stored).count
            result.unacknowledgedPresent = stored.subtracting(acknowledged).count
        } catch {
            Issue.record("\(context): the database on the disk after the power cut does not open: \(error)")
        }
        return result
    }

    static func splitMix(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
