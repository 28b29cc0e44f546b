#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import DLAStore
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The running service: state, store, engine pool, API and socket, started in that order and
/// stopped in the reverse one.
public final class Daemon: Sendable {
    public let configuration: DaemonConfiguration
    public let api: DaemonAPI
    public let store: DLAStore
    public let pool: EnginePool
    public let server: HTTPServer
    public let seedReport: FirmwareSeeder.Report
    private let group: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let retentionTask: Mutex<Task<Void, Never>?>
    var eventLoop: any EventLoop { group.next() }

    private init(configuration: DaemonConfiguration, api: DaemonAPI, store: DLAStore, pool: EnginePool, server: HTTPServer,
                 seedReport: FirmwareSeeder.Report, group: MultiThreadedEventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.api = api
        self.store = store
        self.pool = pool
        self.server = server
        self.seedReport = seedReport
        self.group = group
        self.logger = logger
        self.retentionTask = Mutex(nil)
    }

    /// Opens everything and starts serving. `inheritedSocket` is a listening socket passed by
    /// systemd; without it dlad binds `configuration.socketPath`.
    public static func start(_ configuration: DaemonConfiguration, inheritedSocket: Int32? = nil, logger: Logger) async throws -> Daemon {
        let state = try StateDirectory.prepare(configuration.stateDirectory)
        let uploads = state.path + "/uploads"
        try StateDirectory.prepareUploads(uploads)
        var options = StoreOptions()
        options.durability = configuration.durability == .full ? .full : .normal
        options.storeInputs = configuration.storeInputs
        options.maxGroupWaitMicroseconds = UInt32(configuration.groupCommitWaitMicroseconds)
        options.retention = RetentionPolicy(
            maxRows: configuration.retentionMaxRows,
            maxAge: configuration.retentionMaxAgeSeconds.map { .seconds($0) },
            maxBytes: configuration.retentionMaxBytes.map(Int64.init))
        let store: DLAStore
        do {
            store = try await DLAStore.open(path: state.databasePath, options: options)
        } catch {
            throw DaemonError("cannot open the database \(state.databasePath): \(error)")
        }
        logger.info("state \(state.path), database \(state.databasePath) (synchronous=\(configuration.durability.rawValue.uppercased()))")

        let report = await FirmwareSeeder(directory: configuration.firmwareModels, store: store, uid: getuid()).seed()
        for outcome in report.outcomes where outcome.action == .added {
            logger.info("firmware \(outcome.model) v\(outcome.version) added\(outcome.activated ? " and activated" : "") (\(outcome.file))",
                        metadata: ["MODEL": "\(outcome.model)", "MODEL_VERSION": "\(outcome.version)"])
        }
        for failure in report.failures { logger.error("firmware model refused: \(failure)") }

        let adminGroup = try Self.groupID(configuration.adminGroup, setting: "admin_group",
                                          isDefault: configuration.adminGroup == DaemonConfiguration().adminGroup, logger: logger)
        let socketGroup = try configuration.socketGroup.flatMap {
            try Self.groupID($0, setting: "socket_group", isDefault: $0 == DaemonConfiguration().socketGroup, logger: logger)
        }
        let keys = TrustedKeys.load(directory: configuration.trustedKeysDirectory)
        for problem in keys.problems { logger.error("trusted key refused: \(problem)") }

        let pool = EnginePool(cores: configuration.engines, queueCapacity: configuration.queueCapacity,
                              maxBatchRows: configuration.maxBatchRows, batchWaitMicroseconds: configuration.batchWaitMicroseconds,
                              inlineMicroseconds: configuration.inlineMicroseconds)
        let catalog = ModelCatalog(store: store, profileOverride: configuration.profile, limits: configuration.limits)
        let api = DaemonAPI(
            store: store, catalog: catalog, pool: pool,
            limits: .init(maxUploadBytes: configuration.maxUploadBytes, maxRequestBytes: configuration.maxRequestBytes, uploadDirectory: uploads),
            policy: Self.policy(configuration, adminGroup: adminGroup, keys: keys),
            metrics: DaemonMetrics(), logger: logger, ownerUID: getuid())
        // One event loop per core: with one, the loop was half of the daemon's CPU under load and
        // the first thing to saturate (HTTP parsing and body binding happen on it).
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let source: ListenSource = inheritedSocket.map { .inheritedDescriptor($0) }
            ?? .path(configuration.socketPath, mode: configuration.socketMode, group: socketGroup)
        let server: HTTPServer
        do {
            server = try await HTTPServer.start(api: api, source: source, group: group)
        } catch {
            pool.shutdown()
            await store.close()
            try? await group.shutdownGracefully()
            throw error
        }
        let daemon = Daemon(configuration: configuration, api: api, store: store, pool: pool, server: server,
                            seedReport: report, group: group, logger: logger)
        daemon.startRetention()
        Task { await api.warmUp() }
        return daemon
    }

    static func policy(_ configuration: DaemonConfiguration, adminGroup: UInt32?, keys: TrustedKeys) -> DaemonAPI.Policy {
        DaemonAPI.Policy(
            adminGroupID: adminGroup,
            push: .init(requireSignatures: configuration.requireSignatures, trustedKeys: keys.keys),
            requestTimeoutNanoseconds: UInt64(configuration.requestTimeoutMilliseconds) * 1_000_000,
            storeInputs: configuration.storeInputs, faultInjection: configuration.faultInjection)
    }

    /// The group's id; a missing group is an error when configured, a warning for the default.
    static func groupID(_ name: String, setting: String, isDefault: Bool, logger: Logger) throws -> UInt32? {
        if let number = UInt32(name) { return number }
        if let entry = getgrnam(name) { return entry.pointee.gr_gid }
        if isDefault {
            logger.warning("group '\(name)' does not exist: \(setting) not applied")
            return nil
        }
        throw DaemonError("\(setting): no group named '\(name)'")
    }

    /// Applies what SIGHUP reloads: trusted keys, signature policy, admin group, timeouts,
    /// fault switch. Settings that need a restart are named in the log.
    public func reload(_ fresh: DaemonConfiguration) throws {
        let adminGroup = try Self.groupID(fresh.adminGroup, setting: "admin_group",
                                          isDefault: fresh.adminGroup == DaemonConfiguration().adminGroup, logger: logger)
        let keys = TrustedKeys.load(directory: fresh.trustedKeysDirectory)
        for problem in keys.problems { logger.error("trusted key refused: \(problem)") }
        api.policy = Self.policy(fresh, adminGroup: adminGroup, keys: keys)
        var needsRestart: [String] = []
        if fresh.stateDirectory != configuration.stateDirectory { needsRestart.append("state_dir") }
        if fresh.socketPath != configuration.socketPath { needsRestart.append("socket") }
        if fresh.engines != configuration.engines { needsRestart.append("engines") }
        if fresh.durability != configuration.durability { needsRestart.append("durability") }
        if fresh.profile != configuration.profile { needsRestart.append("profile") }
        let restart = needsRestart.isEmpty ? "" : "; takes a restart: \(needsRestart.joined(separator: ", "))"
        logger.notice("configuration reloaded: \(keys.keys.count) trusted key(s), signatures \(fresh.requireSignatures ? "required" : "optional")\(restart)")
    }

    private func startRetention() {
        let policy = store.options.retention
        guard policy.maxRows != nil || policy.maxAge != nil || policy.maxBytes != nil else { return }
        let store = self.store
        let logger = self.logger
        retentionTask.withLock {
            $0 = Task {
                while !Task.isCancelled {
                    do {
                        let report = try await store.retention.enforce()
                        if report.deletedRows > 0 { logger.info("retention removed \(report.deletedRows) history rows") }
                    } catch {
                        logger.error("retention failed: \(error)")
                    }
                    try? await Task.sleep(for: .seconds(60))
                }
            }
        }
    }

    /// Stops accepting, lets requests in flight finish (at most `grace`), stops the engines and
    /// closes the database so that every acknowledged row is on disk.
    public func shutdown(grace: Duration = .seconds(10)) async {
        await server.stopAccepting()
        retentionTask.withLock { $0?.cancel() }
        let deadline = ContinuousClock.now + grace
        while api.inFlight > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        pool.shutdown()
        await store.close()
        try? await group.shutdownGracefully()
    }
}

public struct DaemonError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
