// A child process for the store's crash test: writes history rows from 16 concurrent tasks
// until it is killed, and prints the id of every row the store acknowledged, one per line,
// each line in a single write(2) so that a SIGKILL never leaves half a line.
//
// Usage: dlad-store-torture <database path>
import DLAStore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

func writeLine(_ text: String) {
    var line = Array((text + "\n").utf8)
    line.withUnsafeMutableBytes { buffer in
        _ = write(STDOUT_FILENO, buffer.baseAddress, buffer.count)
    }
}

func fail(_ message: String) -> Never {
    let line = Array("dlad-store-torture: \(message)\n".utf8)
    line.withUnsafeBytes { buffer in _ = write(STDERR_FILENO, buffer.baseAddress, buffer.count) }
    exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count == 2 else { fail("usage: dlad-store-torture <database path>") }

do {
    let store = try await DLAStore.open(path: arguments[1])
    let model = try await store.registry.push(
        model: "torture", bytes: [1, 2, 3, 4], sha256: [UInt8](repeating: 7, count: 32),
        precision: "int8", profile: "nv_small", pushedBy: 0)
    writeLine("ready")
    try await withThrowingTaskGroup(of: Void.self) { group in
        for writer in 0..<16 {
            group.addTask {
                var sequence: UInt32 = 0
                while true {
                    sequence &+= 1
                    let record = InferenceRecord(
                        model: "torture", version: model.version.version, batchSize: 1, status: .ok,
                        latencyMicroseconds: Int64(sequence % 1000), emulatedCycles: Int64(sequence),
                        energyPicojoules: 1.5, inputSHA256: [UInt8](repeating: UInt8(writer), count: 32),
                        outputs: [UInt8](repeating: 0xAB, count: 40),
                        top1: [TopClass(classIndex: sequence % 10, score: 0.5)], clientUID: UInt32(writer))
                    let id = try await store.history.record(record)
                    writeLine(String(id))
                }
            }
        }
        try await group.waitForAll()
    }
} catch {
    fail("\(error)")
}
