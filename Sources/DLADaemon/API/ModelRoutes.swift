#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DLAAPI
import DLAFormat
import DLAStore

extension DaemonAPI {
    /// Builds every active version for the engine, so that first requests do not pay for it.
    /// Runs after the daemon serves: readiness never waits for a large registry.
    public func warmUp() async {
        guard let summaries = try? await store.registry.models() else { return }
        for summary in summaries where summary.activeVersion != nil {
            do {
                _ = try await catalog.activeVersion(of: summary.name)
            } catch {
                logger.error("model \(summary.name) cannot be built: \(error.message)", metadata: ["MODEL": "\(summary.name)"])
            }
        }
    }

    func listModels() async throws(APIFailure) -> APIResponse {
        let summaries: [ModelSummary]
        do {
            summaries = try await store.registry.models()
        } catch {
            throw StoreFailure.map(error)
        }
        var models: [ModelInfo] = []
        for summary in summaries {
            models.append(try await info(summary.name, active: summary.activeVersion))
        }
        return .json(ModelList(models: models))
    }

    func modelDetail(_ name: String) async throws(APIFailure) -> APIResponse {
        let active: ModelVersion?
        do {
            active = try await store.registry.activeVersion(of: name)
        } catch {
            throw StoreFailure.map(error)
        }
        return .json(try await info(name, active: active?.version))
    }

    private func info(_ name: String, active: Int?) async throws(APIFailure) -> ModelInfo {
        let versions: [ModelVersion]
        do {
            versions = try await store.registry.versions(of: name)
        } catch {
            throw StoreFailure.map(error)
        }
        return ModelInfo(name: name, activeVersion: active, versions: versions.map { Self.versionInfo($0, active: active) })
    }

    static func versionInfo(_ version: ModelVersion, active: Int?) -> ModelVersionInfo {
        let summary = try? JSONDecoder().decode(DLAModelSummary.self, from: Data(version.metadataJSON.utf8))
        func interface(_ tensors: [DLAModelSummary.Interface]?) -> [TensorInterface] {
            (tensors ?? []).map { TensorInterface(name: $0.name, shape: $0.shape, dtype: $0.dtype) }
        }
        return ModelVersionInfo(
            version: version.version, sha256: hexString(version.sha256), bytes: version.size, precision: version.precision,
            profile: version.profile, createdAt: RFC3339.format(version.createdAt), compressionRatio: summary?.compressionRatio,
            signature: version.signerKeyID, pushedBy: version.pushedBy, active: version.version == active,
            inputs: interface(summary?.inputs), outputs: interface(summary?.outputs))
    }

    func push(_ name: String, _ request: APIRequest) async throws(APIFailure) -> APIResponse {
        let activate: Bool
        switch request.queryValue("activate") {
        case nil, "false", "0": activate = false
        case "true", "1", "": activate = true
        case let other?: throw APIFailure(.badRequest, "activate must be true or false, got '\(other)'")
        }
        let file: UploadedFile
        switch request.body {
        case .file(let uploaded): file = uploaded
        case .bytes(let bytes):
            do {
                file = try UploadedFile(directory: limits.uploadDirectory, bytes: bytes)
            } catch {
                throw error.isStorageFull ? APIFailure(.storageFull, error.description) : APIFailure(.internal, error.description)
            }
        case .none:
            throw APIFailure(.badRequest, "the body is empty; send the .dla file's bytes as application/octet-stream")
        }
        defer { file.discard() }
        do {
            let (response, created) = try await pipeline.push(name: name, file: file, activate: activate, policy: policy.push, by: request.peer.uid)
            metrics.countPush(result: created ? "created" : "existing")
            logger.notice("model \(name) v\(response.version) \(created ? "pushed" : "already present")\(response.activated ? ", activated" : "")",
                          metadata: ["MODEL": "\(name)", "MODEL_VERSION": "\(response.version)", "CLIENT_UID": "\(request.peer.uid)", "REQUEST_ID": "\(request.requestID)"])
            return .json(response, status: created ? 201 : 200)
        } catch {
            metrics.countPush(result: "refused")
            logger.warning("push of \(name) refused: \(error.message)", metadata: ["MODEL": "\(name)", "CLIENT_UID": "\(request.peer.uid)", "REQUEST_ID": "\(request.requestID)"])
            throw error
        }
    }

    func activate(_ name: String, _ request: APIRequest) async throws(APIFailure) -> APIResponse {
        guard case .bytes(let body) = request.body,
              let wanted = try? JSONDecoder().decode(ActivateRequest.self, from: Data(body)) else {
            throw APIFailure(.badRequest, "expected a JSON body {\"version\": N}")
        }
        let loaded = try await catalog.version(wanted.version, of: name)
        let activation: Activation
        do {
            activation = try await store.registry.activate(model: name, version: wanted.version, by: request.peer.uid)
        } catch {
            throw StoreFailure.map(error)
        }
        catalog.setActive(loaded)
        logger.notice("model \(name) v\(wanted.version) activated", metadata: ["MODEL": "\(name)", "MODEL_VERSION": "\(wanted.version)", "CLIENT_UID": "\(request.peer.uid)", "REQUEST_ID": "\(request.requestID)"])
        return .json(ActivationResponse(name: name, activeVersion: activation.toVersion, previousVersion: activation.fromVersion))
    }

    /// The target is built before it becomes active: a stored version the engine cannot build
    /// (pushed under other limits or another profile) is refused and the active one stays.
    func rollback(_ name: String, _ request: APIRequest) async throws(APIFailure) -> APIResponse {
        let target: Int
        do {
            target = try await store.registry.rollbackTarget(model: name)
        } catch {
            throw StoreFailure.map(error)
        }
        let loaded = try await catalog.version(target, of: name)
        let activation: Activation
        do {
            activation = try await store.registry.rollback(model: name, by: request.peer.uid, expected: target)
        } catch {
            throw StoreFailure.map(error)
        }
        catalog.setActive(loaded)
        logger.notice("model \(name) rolled back to v\(activation.toVersion)",
                      metadata: ["MODEL": "\(name)", "MODEL_VERSION": "\(activation.toVersion)", "CLIENT_UID": "\(request.peer.uid)", "REQUEST_ID": "\(request.requestID)"])
        return .json(ActivationResponse(name: name, activeVersion: activation.toVersion, previousVersion: activation.fromVersion))
    }

    func deleteVersion(_ name: String, _ version: Int, _ request: APIRequest) async throws(APIFailure) -> APIResponse {
        do {
            try await store.registry.delete(model: name, version: version)
        } catch {
            throw StoreFailure.map(error)
        }
        catalog.forget(name: name, version: version)
        logger.notice("model \(name) v\(version) deleted", metadata: [
            "MODEL": "\(name)", "MODEL_VERSION": "\(version)", "CLIENT_UID": "\(request.peer.uid)", "REQUEST_ID": "\(request.requestID)",
        ])
        return APIResponse(status: 204)
    }
}
