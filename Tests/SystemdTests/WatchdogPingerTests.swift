import Foundation
import Synchronization
import Testing
@testable import Systemd

/// WATCHDOG_USEC=400000 (pings every 200 ms) keeps these short; `dlad.service` uses 30 s.
/// These check what is pinged and when not; they do not time the pings, because the rest of the
/// suite keeps this process's cooperative pool busy (ProbeTests times them in a child process).
/// Waits are generous and end as soon as what they wait for arrives.
@Suite struct WatchdogPingerTests {
    static let timeout = Duration.milliseconds(400)

    final class Events: Sendable {
        private let events = Mutex<[WatchdogPinger.Event]>([])
        func append(_ event: WatchdogPinger.Event) { events.withLock { $0.append(event) } }
        var all: [WatchdogPinger.Event] { events.withLock { $0 } }

        /// Waits for the nth event.
        func waitFor(count: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(60)
            while all.count < count, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    @Test func pingsAtHalfTheTimeoutWhileHealthy() async throws {
        let listener = try NotifyListener()
        let pinger = WatchdogPinger(notifier: SystemdNotifier(socketPath: listener.path), timeout: Self.timeout) { .healthy }
        #expect(pinger.pingInterval == .milliseconds(200))
        let events = Events()
        let running = Task { await pinger.run(onEvent: events.append) }
        var messages: [String] = []
        for _ in 0..<3 {
            messages.append(try await listener.receive(within: .seconds(60)) ?? "nothing")
        }
        running.cancel()
        await running.value
        #expect(messages == ["WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"])
        #expect(events.all == [.pinging])
    }

    @Test func pingsStopWhileUnhealthyAndResumeWhenHealthy() async throws {
        let listener = try NotifyListener()
        let healthy = Mutex(true)
        let pinger = WatchdogPinger(notifier: SystemdNotifier(socketPath: listener.path), timeout: Self.timeout) {
            healthy.withLock { $0 } ? .healthy : .unhealthy("engine 1 stuck for 31 s")
        }
        let events = Events()
        let running = Task { await pinger.run(onEvent: events.append) }
        #expect(try await listener.receive(within: .seconds(60)) == "WATCHDOG=1")

        healthy.withLock { $0 = false }
        // A check started before the switch may still ping once; every check after the first
        // withheld ping started after the switch.
        try await events.waitFor(count: 2)
        _ = try await listener.collect(for: .milliseconds(0))
        let whileUnhealthy = try await listener.collect(for: .milliseconds(800))
        #expect(whileUnhealthy.isEmpty, "pinged while unhealthy: \(whileUnhealthy)")

        healthy.withLock { $0 = true }
        #expect(try await listener.receive(within: .seconds(60)) == "WATCHDOG=1")
        running.cancel()
        await running.value
        #expect(events.all == [.pinging, .withheld(reason: "engine 1 stuck for 31 s"), .pinging])
    }

    @Test func aHealthCheckThatHangsStopsThePings() async throws {
        let listener = try NotifyListener()
        let frozen = Mutex(false)
        let pinger = WatchdogPinger(notifier: SystemdNotifier(socketPath: listener.path), timeout: Self.timeout) {
            if frozen.withLock({ $0 }) {
                try? await Task.sleep(for: .seconds(3600))
            }
            return .healthy
        }
        let events = Events()
        let running = Task { await pinger.run(onEvent: events.append) }
        #expect(try await listener.receive(within: .seconds(60)) == "WATCHDOG=1")
        frozen.withLock { $0 = true }
        try await events.waitFor(count: 2)
        _ = try await listener.collect(for: .milliseconds(0))
        let whileFrozen = try await listener.collect(for: .milliseconds(800))
        #expect(whileFrozen.isEmpty, "pinged while the check hung: \(whileFrozen)")
        // Cancelling the pinger cancels the hung check, so this returns.
        running.cancel()
        await running.value
        #expect(events.all == [.pinging, .withheld(reason: "the health check did not answer within 200 ms")])
    }

    @Test func aPingThatCannotBeSentIsReported() async throws {
        let path = "/tmp/dlad-notify-gone.sock"
        let pinger = WatchdogPinger(notifier: SystemdNotifier(socketPath: path), timeout: Self.timeout) { .healthy }
        let events = Events()
        let running = Task { await pinger.run(onEvent: events.append) }
        try await events.waitFor(count: 1)
        running.cancel()
        await running.value
        #expect(events.all == [.pingFailed(.notifyFailed(socketPath: path, errno: ENOENT))])
    }
}
