import DLAAPI
import DLAEngine
import DLAFormat
import DLAStore
import Synchronization

/// The model versions the engine can run now: every model's active version, and a few others
/// recently asked for by `?version=`.
///
/// Activation swaps one reference: requests already holding the old version finish on it, new
/// ones get the new one. Nothing here blocks the event loop: building a version runs in the
/// caller's task.
public final class ModelCatalog: Sendable {
    private let store: DLAStore
    /// Profile every model runs on; nil runs each on its own target.
    private let profileOverride: String?
    let limits: DLAResourceLimits
    private let active = Mutex<[String: LoadedVersion]>([:])
    private let recent = Mutex<[LoadedVersion]>([])
    private static let recentCapacity = 4

    public init(store: DLAStore, profileOverride: String?, limits: DLAResourceLimits = DLAResourceLimits()) {
        self.store = store
        self.profileOverride = profileOverride
        self.limits = limits
    }

    /// Reads, checks and builds a `.dla` for the engine on the configured profile.
    public func build(bytes: [UInt8], name: String, version: Int, requireSignature: Bool = false,
                      trustedKeys: [DLAPublicKey]? = nil) throws(APIFailure) -> (LoadedVersion, DLALoadedModel) {
        let options = DLAReadOptions(requireSignature: requireSignature, trustedKeys: trustedKeys, limits: limits)
        let file: DLALoadedModel
        do {
            file = try DLAFile.read(bytes, options: options)
        } catch {
            throw APIFailure(.invalidModel, "not a valid .dla model: \(error)")
        }
        let compiled: CompiledModel
        do {
            compiled = try ModelAdapter.compile(file)
        } catch {
            throw APIFailure(.invalidModel, "the engine cannot build the model: \(error)")
        }
        let profileName = profileOverride ?? compiled.targetProfile
        guard let profile = HardwareProfile.all.first(where: { $0.name == profileName }) else {
            let known = HardwareProfile.all.map(\.name).joined(separator: ", ")
            throw APIFailure(.invalidModel, "the model targets hardware profile '\(profileName)', which this daemon does not know (known: \(known))")
        }
        do {
            let executor = try Executor(model: compiled, profile: profile, threads: 1, limits: limits)
            return (LoadedVersion(name: name, version: version, executor: executor), file)
        } catch {
            throw APIFailure(.invalidModel, "the model cannot run on profile \(profile.name): \(error)")
        }
    }

    /// The version already built for `number` (nil: the active one), if any: the inference path
    /// takes it without suspending.
    func built(_ number: Int?, of name: String) -> LoadedVersion? {
        if let loaded = active.withLock({ $0[name] }), number == nil || loaded.version == number { return loaded }
        guard let number else { return nil }
        return recent.withLock { $0.first { $0.name == name && $0.version == number } }
    }

    /// The active version of `name`, built on first use.
    public func activeVersion(of name: String) async throws(APIFailure) -> LoadedVersion {
        if let loaded = built(nil, of: name) { return loaded }
        let version: ModelVersion?
        do {
            version = try await store.registry.activeVersion(of: name)
        } catch {
            throw StoreFailure.map(error)
        }
        guard let version else {
            throw APIFailure(.conflict, "model '\(name)' has no active version; activate one with POST /v1/models/\(name)/activate")
        }
        let loaded = try await load(name: name, version: version.version)
        return active.withLock { map in
            if let current = map[name] { return current }
            map[name] = loaded
            return loaded
        }
    }

    /// A specific version: the active one, a recently used one, or built from the registry.
    public func version(_ number: Int, of name: String) async throws(APIFailure) -> LoadedVersion {
        if let loaded = built(number, of: name) { return loaded }
        let loaded = try await load(name: name, version: number)
        recent.withLock { list in
            list.removeAll { $0.name == name && $0.version == number }
            list.insert(loaded, at: 0)
            if list.count > Self.recentCapacity { list.removeLast() }
        }
        return loaded
    }

    private func load(name: String, version: Int) async throws(APIFailure) -> LoadedVersion {
        let bytes: [UInt8]
        do {
            bytes = try await store.registry.bytes(model: name, version: version)
        } catch {
            throw StoreFailure.map(error)
        }
        return try build(bytes: bytes, name: name, version: version).0
    }

    /// Makes `loaded` the version new requests of its model get.
    public func setActive(_ loaded: LoadedVersion) {
        active.withLock { $0[loaded.name] = loaded }
        recent.withLock { $0.removeAll { $0.name == loaded.name && $0.version == loaded.version } }
    }

    /// Drops a deleted version from the caches.
    public func forget(name: String, version: Int) {
        active.withLock { map in
            if map[name]?.version == version { map[name] = nil }
        }
        recent.withLock { $0.removeAll { $0.name == name && $0.version == version } }
    }

    /// Versions currently built (active and recent).
    public var loadedCount: Int {
        active.withLock { $0.count } + recent.withLock { $0.count }
    }
}

/// The store's errors as API answers.
enum StoreFailure {
    static func map(_ error: DLAStoreError) -> APIFailure {
        switch error {
        case .diskFull(let detail): APIFailure(.storageFull, "the database has no space left: \(detail)")
        case .busy: APIFailure(.overloaded, "the database is busy: \(error)", headers: [("Retry-After", "1")])
        case .modelNotFound(let model): APIFailure(.notFound, "no model named '\(model)'")
        case .versionNotFound(let model, let version): APIFailure(.notFound, "model '\(model)' has no version \(version)")
        case .versionIsActive(let model, let version):
            APIFailure(.conflict, "version \(version) of '\(model)' is active; activate another version before deleting it")
        case .nothingToRollBack(let model): APIFailure(.conflict, "model '\(model)' has no earlier active version to roll back to")
        case .rollbackTargetChanged: APIFailure(.conflict, "\(error); retry")
        case .invalidArgument(let message): APIFailure(.badRequest, message)
        case .closed: APIFailure(.overloaded, "the daemon is shutting down", headers: [("Retry-After", "1")])
        case .queueFull(let limit):
            APIFailure(.overloaded, "\(limit) database writes are already waiting; retry shortly", headers: [("Retry-After", "1")])
        default: APIFailure(.internal, "database error: \(error)")
        }
    }
}
