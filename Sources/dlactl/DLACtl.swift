import ArgumentParser
import DLAAPI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `dlactl`: compile ONNX into `.dla` models, inspect, sign and run them offline, and drive dlad
/// over its socket.
struct DLACtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlactl",
        abstract: "Compile ONNX into compressed .dla models, inspect, sign and run them on the emulated DLA, and drive dlad.",
        discussion: "Commands that talk to dlad take --socket (default $DLAD_SOCKET, else /run/dlad/dlad.sock). Shell completion: dlactl --generate-completion-script bash|zsh|fish.",
        version: DaemonVersion.current,
        groupedSubcommands: [
            CommandGroup(name: "Models offline", subcommands: [Compile.self, Inspect.self, Run.self, NVDLARun.self, Perf.self, Keygen.self]),
            CommandGroup(name: "The daemon", subcommands: [
                Health.self, Models.self, Model.self, Push.self, Activate.self, Rollback.self, Remove.self,
                Infer.self, History.self, Stats.self, Bench.self,
            ]),
        ]
    )
}

/// Usage errors keep ArgumentParser's own message and exit code (64); every runtime error is
/// one `error:` line on stderr and exit code 1, so scripts can tell the two apart.
@main
enum DLACtlMain {
    static func main() {
        var command: ParsableCommand
        do {
            command = try DLACtl.parseAsRoot()
        } catch {
            DLACtl.exit(withError: error)
        }
        do {
            try command.run()
        } catch let error as ExitCode {
            DLACtl.exit(withError: error)
        } catch let error as CleanExit {
            DLACtl.exit(withError: error)
        } catch let error as ValidationError {
            DLACtl.exit(withError: error)
        } catch {
            // `--help` parses to ArgumentParser's help command, whose run() throws a help request
            // (exit code 0): only ArgumentParser can print it.
            if DLACtl.exitCode(for: error) == .success { DLACtl.exit(withError: error) }
            printError(String(describing: error))
            exit(1)
        }
    }
}
