import ArgumentParser
import DLADaemon
import DLAStore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `dlad`: the inference daemon. Until the socket API lands (its own issue), it runs the offline
/// path: open the state, seed the firmware models, report, and stay up until told to stop.
struct DLAD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlad",
        abstract: "The dlad edge inference daemon (offline path: state, store and firmware models; the socket API is not served yet).",
        discussion: """
            Opens (creating it if needed) the state directory and its SQLite database, validates \
            and registers the firmware models, prints what the registry holds, then waits for \
            SIGINT or SIGTERM. A model that fails validation is refused and logged; the others \
            are still registered.
            """
    )

    @Option(help: "Directory for the database (and, later, the socket).")
    var stateDir: String = "/var/lib/dlad"

    @Option(help: "Directory of shipped models (manifest.json, or every *.dla in it).")
    var firmwareModels: String = "/usr/share/dlad/firmware-models"

    @Option(help: "full: an acknowledged result survives a power cut; normal: it survives a process crash only.")
    var durability: Durability = .full

    @Flag(help: "Exit after seeding instead of waiting for a signal.")
    var once = false

    enum Durability: String, ExpressibleByArgument, CaseIterable {
        case full, normal
    }

    func run() async throws {
        let shutdown = ShutdownSignal()
        let state: StateDirectory
        do {
            state = try StateDirectory.prepare(stateDir)
        } catch {
            throw RuntimeError(error.description)
        }
        var options = StoreOptions()
        options.durability = durability == .full ? .full : .normal
        let store: DLAStore
        do {
            store = try await DLAStore.open(path: state.databasePath, options: options)
        } catch {
            throw RuntimeError("cannot open the database: \(error)")
        }
        log("state \(state.path), database \(state.databasePath) (synchronous=\(durability.rawValue.uppercased()))")

        let report = await FirmwareSeeder(directory: firmwareModels, store: store, uid: getuid()).seed()
        for outcome in report.outcomes {
            let what = outcome.action == .added ? "added" : "present"
            log("firmware \(outcome.model) v\(outcome.version) \(what)\(outcome.activated ? ", activated" : "") (\(outcome.file))")
        }
        for failure in report.failures { log("firmware refused: \(failure)") }
        if report.outcomes.isEmpty && report.failures.isEmpty {
            log("no firmware models in \(firmwareModels)")
        }
        do {
            for model in try await store.registry.models() {
                let active = model.activeVersion.map { "v\($0)" } ?? "none"
                log("model \(model.name): \(model.versionCount) version(s), active \(active)")
            }
        } catch {
            throw RuntimeError("cannot list models: \(error)")
        }
        guard !once else { return }
        log("offline path: the socket API is not served yet; waiting for SIGINT/SIGTERM")
        let signal = await shutdown.wait()
        log("received \(signal), shutting down")
        await store.close()
    }

    /// One line per event, written straight to file descriptor 1: `print` buffers when stdout is
    /// a pipe (journald, a test), and a daemon's status must show up when it happens.
    private func log(_ message: String) {
        var bytes = Array("dlad: \(message)\n".utf8)
        _ = write(1, &bytes, bytes.count)
    }
}

/// Usage errors keep ArgumentParser's message and exit code (64); a runtime error is one
/// `error:` line on stderr and exit code 1, as with `dlactl`, so that journald shows one line.
@main
enum DLADMain {
    static func main() async {
        var command: ParsableCommand
        do {
            command = try DLAD.parseAsRoot()
        } catch {
            DLAD.exit(withError: error)
        }
        do {
            // `--help` parses to ArgumentParser's synchronous help command.
            if var daemon = command as? AsyncParsableCommand {
                try await daemon.run()
            } else {
                try command.run()
            }
        } catch {
            if DLAD.exitCode(for: error) == .success || error is ExitCode { DLAD.exit(withError: error) }
            let message = String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            var bytes = Array("error: \(message)\n".utf8)
            _ = write(2, &bytes, bytes.count)
            exit(1)
        }
    }
}

struct RuntimeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
