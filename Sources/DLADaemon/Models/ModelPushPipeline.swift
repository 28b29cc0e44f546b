import DLAAPI
import DLAEngine
import DLAFormat
import DLAStore

/// A pushed `.dla` from upload to registry. The file is hostile until every check has passed:
/// checksums and digest (the reader), the signature policy, the engine building it on the
/// configured profile, and its own self-test vectors run and matched bit for bit. Only then is
/// it stored, in one transaction; a refused push leaves the registry and the disk as they were
/// (the upload file is the caller's to discard).
public struct ModelPushPipeline: Sendable {
    public struct Policy: Sendable {
        public var requireSignatures: Bool
        public var trustedKeys: [DLAPublicKey]

        public init(requireSignatures: Bool, trustedKeys: [DLAPublicKey]) {
            self.requireSignatures = requireSignatures
            self.trustedKeys = trustedKeys
        }
    }

    let store: DLAStore
    let catalog: ModelCatalog

    public init(store: DLAStore, catalog: ModelCatalog) {
        self.store = store
        self.catalog = catalog
    }

    public func push(name: String, file: UploadedFile, activate: Bool, policy: Policy, by uid: UInt32) async throws(APIFailure) -> (PushResponse, created: Bool) {
        let bytes: [UInt8]
        do {
            bytes = try file.readAll()
        } catch {
            throw APIFailure(.internal, error.description)
        }
        guard !bytes.isEmpty else { throw APIFailure(.badRequest, "the body is empty; send the .dla file's bytes") }
        if policy.requireSignatures && policy.trustedKeys.isEmpty {
            throw APIFailure(.invalidModel, "this daemon requires signed models but trusts no key yet (add *.pub files to trusted_keys_dir and reload)")
        }
        let (loaded, model) = try catalog.build(bytes: bytes, name: name, version: 0, requireSignature: policy.requireSignatures,
                                                trustedKeys: policy.trustedKeys.isEmpty ? nil : policy.trustedKeys)
        if policy.requireSignatures {
            guard case .valid = model.signature else {
                throw APIFailure(.invalidModel, "the model's signature is \(model.signature); this daemon requires a signature by a trusted key")
            }
        }
        let failures: [String]
        do {
            failures = try SelfTestVectors.verify(loaded.model, profile: loaded.profile, tests: model.selfTests, limits: catalog.limits)
        } catch {
            throw APIFailure(.invalidModel, "the model's self-test vectors could not run: \(error)")
        }
        guard failures.isEmpty else {
            throw APIFailure(.invalidModel, "the model's self-test vectors do not match on this daemon: " + failures.prefix(3).joined(separator: "; "))
        }
        let summary = DLAModelSummary(model)
        var signer: String?
        if case .valid(let keyID) = model.signature { signer = keyID }
        let pushed: PushResult
        do {
            pushed = try await store.registry.push(
                model: name, bytes: bytes, sha256: file.sha256, precision: summary.precision, profile: loaded.profile.name,
                metadataJSON: summary.jsonString(), pushedBy: uid, signerKeyID: signer)
        } catch {
            throw StoreFailure.map(error)
        }
        let version = pushed.version.version
        var activated = false
        if activate {
            do {
                _ = try await store.registry.activate(model: name, version: version, by: uid)
            } catch {
                throw StoreFailure.map(error)
            }
            catalog.setActive(LoadedVersion(name: name, version: version, executor: loaded.executor))
            activated = true
        }
        let response = PushResponse(name: name, version: version, sha256: hexString(file.sha256), bytes: Int64(bytes.count),
                                    created: pushed.created, activated: activated, selfTestsPassed: model.selfTests.count)
        return (response, pushed.created)
    }
}
