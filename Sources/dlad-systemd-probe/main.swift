// Runs one piece of the Systemd module under environment variables and file descriptors that a
// test sets up for this child process only (a test must not change its own process's
// environment, and sd_listen_fds takes fd 3). Prints what it found on stdout.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import Synchronization
import Systemd

func fail(_ message: String) -> Never {
    let bytes = Array("dlad-systemd-probe: \(message)\n".utf8)
    _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    exit(1)
}

let usage = """
    usage: dlad-systemd-probe listen-fds NAME    passed fds, and the listening socket named NAME
           dlad-systemd-probe watchdog           the watchdog timeout in microseconds, or "disabled"
           dlad-systemd-probe lifecycle MS       READY, pings while healthy for MS ms, then STOPPING
           dlad-systemd-probe log MESSAGE        one log line through JournalLogHandler
    """

let arguments = Array(CommandLine.arguments.dropFirst())
guard let mode = arguments.first else { fail(usage) }

switch (mode, arguments.count) {
case ("listen-fds", 2):
    // systemd sets LISTEN_PID to the pid it forks; a test cannot know ours before spawning us.
    if getenv("PROBE_LISTEN_PID_SELF") != nil { setenv("LISTEN_PID", String(getpid()), 1) }
    do {
        let passed = try SocketActivation.passedFileDescriptors()
        for descriptor in passed { print("fd \(descriptor.fileDescriptor) \(descriptor.name)") }
        let listening = SocketActivation.listeningUNIXSocket(named: arguments[1], in: passed)
        print("listening \(listening.map(String.init) ?? "none")")
        print("LISTEN_FDS \(getenv("LISTEN_FDS").map { String(cString: $0) } ?? "unset")")
    } catch {
        fail("\(error)")
    }

case ("watchdog", 1):
    do {
        let timeout = try Watchdog.timeout()
        print(timeout.map { "\($0.components.seconds * 1_000_000 + $0.components.attoseconds / 1_000_000_000_000)" } ?? "disabled")
    } catch {
        fail("\(error)")
    }

case ("lifecycle", 2):
    guard let healthyMilliseconds = Int(arguments[1]) else { fail(usage) }
    let notifier = SystemdNotifier.fromEnvironment()
    let timeout: Duration
    do {
        guard let armed = try Watchdog.timeout() else { fail("WATCHDOG_USEC is not set") }
        timeout = armed
        // Under a socket unit, says which passed socket it would serve on.
        let passed = try SocketActivation.passedFileDescriptors()
        let adopted = SocketActivation.listeningUNIXSocket(named: "dlad.sock", in: passed)
        try notifier.notify(.ready, .status(adopted.map { "serving on passed fd \($0)" } ?? "serving"))
    } catch {
        fail("\(error)")
    }
    let healthyUntil = ContinuousClock.now + .milliseconds(healthyMilliseconds)
    let stopReason = Mutex<String?>(nil)
    let pinger = WatchdogPinger(notifier: notifier, timeout: timeout) {
        ContinuousClock.now < healthyUntil ? .healthy : .unhealthy("engine 0 stuck")
    }
    let pinging = Task {
        await pinger.run { event in
            if case .withheld(let reason) = event { stopReason.withLock { $0 = reason } }
        }
    }
    while stopReason.withLock({ $0 }) == nil {
        try? await Task.sleep(for: .milliseconds(20))
    }
    pinging.cancel()
    await pinging.value
    let reason = stopReason.withLock { $0 } ?? ""
    print("withheld \(reason)")
    do {
        try notifier.notify(.stopping, .status("stopping: \(reason)"))
    } catch {
        fail("\(error)")
    }

case ("log", 2):
    LoggingSystem.bootstrap { JournalLogHandler(label: $0, identifier: "dlad-systemd-probe") }
    let logger = Logger(label: "probe")
    print(JournalLogHandler(label: "probe", identifier: "dlad-systemd-probe").destination == .journal ? "journal" : "stderr")
    logger.warning("\(arguments[1])", metadata: ["model": "lenet5", "requestID": "42"])

default:
    fail(usage)
}
