#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DLAAPI
@testable import DLADaemon
import DLAFormat
import DLAStore
import Logging

/// A DaemonAPI on a temporary state directory, answering requests in process (no socket).
final class APITestBed: Sendable {
    let root: String
    let store: DLAStore
    let pool: EnginePool
    let api: DaemonAPI
    let uploads: String

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static func firmware(_ name: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: repository + "/firmware-models/" + name) else {
            throw DaemonError("missing firmware-models/\(name)")
        }
        return [UInt8](data)
    }

    /// The LeNet-300-100 sample images and what `dlactl run` answers for them (manifest).
    static func samples() throws -> (inputs: NPYArray, expected: NPYArray) {
        let folder = repository + "/firmware-models/samples/lenet-300-100/"
        return (try NPY.read(path: folder + "inputs.npy"), try NPY.read(path: folder + "int8.expected.npy"))
    }

    /// The first `rows` sample images as an `.npy` inference body.
    static func sampleNPY(rows: Int = 1) throws -> [UInt8] {
        let (inputs, _) = try samples()
        return NPY.write(try NPYArray(float32: Array(inputs.asFloat32().prefix(rows * 784)), shape: [rows, 784]))
    }

    init(cores: Int = 2, queueCapacity: Int = 64, timeout: Duration = .seconds(30), maxUploadBytes: Int = 1 << 20,
         limits: DLAResourceLimits = DLAResourceLimits(), policy adjust: (inout DaemonAPI.Policy) -> Void = { _ in }) async throws {
        root = FileManager.default.temporaryDirectory.path + "/dlad-api-\(UInt64.random(in: 0...UInt64.max))"
        uploads = root + "/uploads"
        try FileManager.default.createDirectory(atPath: uploads, withIntermediateDirectories: true)
        store = try await DLAStore.open(path: root + "/dlad.sqlite")
        // Cheap requests run on the caller as in the daemon, so that the routes are tested on its path.
        pool = EnginePool(cores: cores, queueCapacity: queueCapacity, maxBatchRows: 64, batchWaitMicroseconds: 0,
                          inlineMicroseconds: DaemonConfiguration().inlineMicroseconds)
        var policy = DaemonAPI.Policy(adminGroupID: 4242, push: .init(requireSignatures: false, trustedKeys: []),
                                      requestTimeoutNanoseconds: UInt64(timeout.components.seconds) * 1_000_000_000 + UInt64(timeout.components.attoseconds / 1_000_000_000),
                                      storeInputs: false, faultInjection: true)
        adjust(&policy)
        api = DaemonAPI(store: store, catalog: ModelCatalog(store: store, profileOverride: nil, limits: limits), pool: pool,
                        limits: .init(maxUploadBytes: maxUploadBytes, maxRequestBytes: 1 << 20, uploadDirectory: uploads),
                        policy: policy, metrics: DaemonMetrics(), logger: Logger(label: "test"), ownerUID: 0)
    }

    func close() async {
        pool.shutdown()
        await store.close()
        try? FileManager.default.removeItem(atPath: root)
    }

    static let admin = PeerIdentity(pid: 1, uid: 0, gid: 0, groups: [])
    static let member = PeerIdentity(pid: 1, uid: 5001, gid: 5001, groups: [100])
    static let adminGroupMember = PeerIdentity(pid: 1, uid: 5002, gid: 5002, groups: [4242])

    func send(_ method: String, _ uri: String, body: [UInt8] = [], contentType: String? = nil, accept: String? = nil,
              peer: PeerIdentity = APITestBed.admin) async -> APIResponse {
        var headers: [(String, String)] = []
        if let contentType { headers.append(("content-type", contentType)) }
        if let accept { headers.append(("accept", accept)) }
        return await api.handle(APIRequest(method: method, uri: uri, headers: headers, body: body.isEmpty ? .none : .bytes(body), peer: peer))
    }

    func push(_ name: String, _ bytes: [UInt8], activate: Bool = true, peer: PeerIdentity = APITestBed.admin) async -> APIResponse {
        await send("POST", "/v1/models/\(name)/versions" + (activate ? "?activate=true" : ""), body: bytes,
                   contentType: "application/octet-stream", peer: peer)
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: APIResponse) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(response.body))
    }

    func errorCode(_ response: APIResponse) -> String? {
        (try? JSONDecoder().decode(APIErrorBody.self, from: Data(response.body)))?.error.code
    }

    func errorMessage(_ response: APIResponse) -> String {
        (try? JSONDecoder().decode(APIErrorBody.self, from: Data(response.body)))?.error.message ?? String(decoding: response.body, as: UTF8.self)
    }

    var uploadsLeft: [String] { (try? FileManager.default.contentsOfDirectory(atPath: uploads)) ?? ["?"] }
}
