#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DLAAPI
@testable import DLADaemon
import DLAFormat
import DLAStore
import Testing

/// The API's routes called in process, as the HTTP layer calls them.
@Suite struct DaemonAPITests {
    @Test func pushActivateInferAndHistory() async throws {
        let bed = try await APITestBed()
        let model = try APITestBed.firmware("lenet-300-100-int8.dla")
        let pushed = await bed.push("digits", model)
        #expect(pushed.status == 201, "\(bed.errorMessage(pushed))")
        let push = try bed.decode(PushResponse.self, pushed)
        #expect(push.version == 1 && push.created && push.activated && push.selfTestsPassed > 0)
        let again = await bed.push("digits", model, activate: false)
        #expect(again.status == 200)
        #expect(try bed.decode(PushResponse.self, again).created == false)

        let (inputs, expected) = try APITestBed.samples()
        let rows = 5
        let rowWidth = inputs.count / inputs.shape[0]
        let floats = Array(inputs.asFloat32().prefix(rows * rowWidth))
        // JSON: numbers written as Swift prints them round-trip to the same float32 inputs.
        let json = "{\"inputs\": [" + (0..<rows).map { row in
            "[" + floats[(row * rowWidth)..<((row + 1) * rowWidth)].map(\.description).joined(separator: ",") + "]"
        }.joined(separator: ",") + "]}"
        let answer = await bed.send("POST", "/v1/models/digits/infer", body: Array(json.utf8), contentType: "application/json")
        #expect(answer.status == 200, "\(bed.errorMessage(answer))")
        let inference = try bed.decode(InferResponse.self, answer)
        let wanted = Array(expected.asFloat32().prefix(rows * 10))
        #expect(inference.outputs.flatMap { $0 }.map(\.bitPattern) == wanted.map(\.bitPattern))
        #expect(inference.top1.count == rows && inference.version == 1 && inference.emulated.cycles > 0)

        // .npy in and out: the same bits.
        let npy = NPY.write(try NPYArray(float32: floats, shape: [rows, rowWidth]))
        let binary = await bed.send("POST", "/v1/models/digits/infer", body: npy, contentType: "application/x-npy", accept: "application/x-npy")
        #expect(binary.status == 200 && binary.header("content-type") == "application/x-npy")
        #expect(try NPY.read(binary.body).asFloat32().map(\.bitPattern) == wanted.map(\.bitPattern))

        let page = try bed.decode(InferencePage.self, await bed.send("GET", "/v1/inferences?model=digits"))
        #expect(page.items.count == 2 && page.items[0].id > page.items[1].id && page.next == nil)
        #expect(page.items.allSatisfy { $0.status == "ok" && $0.batchSize == rows && $0.model == "digits" && $0.error == nil })
        #expect(page.items.map(\.requestId) == [binary.header("x-request-id"), answer.header("x-request-id")].compactMap { $0 })
        #expect(page.items[1].id == inference.id && answer.header("x-inference-id") == String(inference.id))
        let detail = try bed.decode(InferenceDetail.self, await bed.send("GET", "/v1/inferences/\(inference.id)"))
        #expect(detail.outputs.flatMap { $0 }.map(\.bitPattern) == wanted.map(\.bitPattern))
        #expect(detail.item.top1 == inference.top1)
        #expect(bed.uploadsLeft.isEmpty)
        await bed.close()
    }

    @Test func aRollbackToAVersionTheEngineCannotBuildChangesNothing() async throws {
        let bed = try await APITestBed()
        // A stored version the engine refuses (as one pushed by a dlad with other limits could be).
        _ = try await bed.store.registry.push(model: "m", bytes: [0x44, 0x4C, 0x41], sha256: [UInt8](repeating: 7, count: 32),
                                              precision: "int8", profile: "nv_full", pushedBy: 0)
        try await bed.store.registry.activate(model: "m", version: 1, by: 0)
        #expect(await bed.push("m", try APITestBed.firmware("lenet-300-100-int8.dla"), activate: true).status == 201)
        let refused = await bed.send("POST", "/v1/models/m/rollback")
        #expect(refused.status == 422 && bed.errorMessage(refused).contains("not a valid .dla model"), "\(bed.errorMessage(refused))")
        #expect(try await bed.store.registry.activeVersion(of: "m")?.version == 2)
        let one = try APITestBed.sampleNPY()
        let answer = await bed.send("POST", "/v1/models/m/infer", body: one, contentType: "application/x-npy")
        #expect(try bed.decode(InferResponse.self, answer).version == 2)
        await bed.close()
    }

    @Test func refusedPushesChangeNothing() async throws {
        let bed = try await APITestBed(maxUploadBytes: 200_000)
        let model = try APITestBed.firmware("lenet-300-100-int8.dla")
        var corrupt = model
        corrupt[corrupt.count / 2] ^= 0x5A
        let garbage = await bed.push("digits", corrupt)
        #expect(garbage.status == 422 && bed.errorCode(garbage) == "invalid_model")
        #expect(bed.errorMessage(garbage).contains("not a valid .dla model"))

        let failingSelfTest = Self.breakingSelfTest(model)
        let refused = await bed.push("digits", failingSelfTest)
        #expect(refused.status == 422, "\(bed.errorMessage(refused))")
        #expect(bed.errorMessage(refused).contains("self-test"))

        let forbidden = await bed.push("digits", model, peer: APITestBed.member)
        #expect(forbidden.status == 403 && bed.errorCode(forbidden) == "forbidden")
        let empty = await bed.push("digits", [])
        #expect(empty.status == 400)
        let wrongType = await bed.send("POST", "/v1/models/digits/versions", body: model, contentType: "application/json")
        #expect(wrongType.status == 415)

        let list = try bed.decode(ModelList.self, await bed.send("GET", "/v1/models"))
        #expect(list.models.isEmpty)
        #expect(bed.uploadsLeft.isEmpty)
        // A member of the admin group may push.
        #expect(await bed.push("digits", model, peer: APITestBed.adminGroupMember).status == 201)
        await bed.close()
    }

    @Test func activateRollbackAndDelete() async throws {
        let bed = try await APITestBed()
        #expect(await bed.push("m", try APITestBed.firmware("lenet-300-100-int8.dla")).status == 201)
        #expect(await bed.push("m", try APITestBed.firmware("lenet-300-100-fp8e4m3.dla"), activate: false).status == 201)
        let activated = await bed.send("POST", "/v1/models/m/activate", body: Array(#"{"version": 2}"#.utf8), contentType: "application/json")
        #expect(activated.status == 200)
        #expect(try bed.decode(ActivationResponse.self, activated) == ActivationResponse(name: "m", activeVersion: 2, previousVersion: 1))
        let one = try APITestBed.sampleNPY()
        let onV2 = try bed.decode(InferResponse.self, await bed.send("POST", "/v1/models/m/infer", body: one, contentType: "application/x-npy"))
        #expect(onV2.version == 2)
        let onV1 = try bed.decode(InferResponse.self, await bed.send("POST", "/v1/models/m/infer?version=1", body: one, contentType: "application/x-npy"))
        #expect(onV1.version == 1)

        #expect(await bed.send("DELETE", "/v1/models/m/versions/2").status == 409)
        let back = await bed.send("POST", "/v1/models/m/rollback")
        #expect(try bed.decode(ActivationResponse.self, back).activeVersion == 1)
        #expect(try bed.decode(InferResponse.self, await bed.send("POST", "/v1/models/m/infer", body: one, contentType: "application/x-npy")).version == 1)
        #expect(await bed.send("DELETE", "/v1/models/m/versions/2").status == 204)
        #expect(await bed.send("DELETE", "/v1/models/m/versions/2").status == 404)
        #expect(await bed.send("POST", "/v1/models/m/rollback").status == 409)
        let badBody = await bed.send("POST", "/v1/models/m/activate", body: Array("{}".utf8), contentType: "application/json")
        #expect(badBody.status == 400)
        #expect(await bed.send("POST", "/v1/models/m/activate", body: Array(#"{"version": 7}"#.utf8)).status == 404)
        #expect(await bed.send("POST", "/v1/models/m/rollback", peer: APITestBed.member).status == 403)
        let detail = try bed.decode(ModelInfo.self, await bed.send("GET", "/v1/models/m"))
        #expect(detail.activeVersion == 1 && detail.versions.map(\.version) == [1])
        #expect(detail.versions[0].inputs.first?.shape == [-1, 784])
        await bed.close()
    }

    @Test func inferenceErrorsNameWhatWasExpected() async throws {
        let bed = try await APITestBed()
        #expect(await bed.push("digits", try APITestBed.firmware("lenet-300-100-int8.dla")).status == 201)
        let wrongShape = await bed.send("POST", "/v1/models/digits/infer", body: Array(#"{"inputs": [[1, 2, 3]]}"#.utf8), contentType: "application/json")
        #expect(wrongShape.status == 400)
        #expect(bed.errorMessage(wrongShape).contains("expected shape [N, 784]") && bed.errorMessage(wrongShape).contains("got [1, 3]"))
        #expect(!bed.errorMessage(wrongShape).contains("(or [N, 784])"), "a flat sample has no flattened alternative to name")
        let nan = NPY.write(try NPYArray(float32: [Float](repeating: .nan, count: 784), shape: [1, 784]))
        #expect(await bed.send("POST", "/v1/models/digits/infer", body: nan, contentType: "application/x-npy").status == 400)
        #expect(await bed.send("POST", "/v1/models/digits/infer", body: Array("{".utf8), contentType: "application/json").status == 400)
        #expect(await bed.send("POST", "/v1/models/digits/infer", body: [1, 2, 3], contentType: "text/plain").status == 415)
        #expect(await bed.send("POST", "/v1/models/digits/infer", body: [1], contentType: "application/json", accept: "text/html").status == 406)
        #expect(await bed.send("POST", "/v1/models/nope/infer", body: Array("{}".utf8), contentType: "application/json").status == 404)
        #expect(await bed.send("POST", "/v1/models/digits/infer?version=9", body: nan, contentType: "application/x-npy").status == 404)
        // Requests that reached the model are history, failures included; 406 and 404 never did.
        let failed = try bed.decode(InferencePage.self, await bed.send("GET", "/v1/inferences?status=error"))
        #expect(failed.items.count == 4 && failed.items.allSatisfy { $0.status != "ok" })
        #expect(Set(failed.items.map(\.status)) == ["bad_request", "unsupported_media_type"])
        let badRequests = try bed.decode(InferencePage.self, await bed.send("GET", "/v1/inferences?status=bad_request"))
        #expect(badRequests.items.count == 3)
        // Each row keeps what its client was told and the request id it was answered with.
        let shapeRow = try #require(failed.items.last)
        #expect(shapeRow.error == bed.errorMessage(wrongShape) && shapeRow.requestId == wrongShape.header("x-request-id"))
        let byID = try bed.decode(InferencePage.self, await bed.send("GET", "/v1/inferences?requestId=\(shapeRow.requestId)"))
        #expect(byID.items.map(\.id) == [shapeRow.id])
        #expect(await bed.send("GET", "/v1/inferences?requestId=").status == 400)
        let stats = try bed.decode(StatsResponse.self, await bed.send("GET", "/v1/stats"))
        #expect(stats.models.first { $0.name == "digits" }.map { $0.count == 4 && $0.errors == 4 } == true)
        // An empty media type, or parameters without one, is refused, not a crash.
        for empty in ["", ";", "; charset=utf-8"] {
            let refused = await bed.send("POST", "/v1/models/digits/infer", body: [1, 2, 3], contentType: empty)
            #expect(refused.status == 415 && bed.errorMessage(refused).contains("an empty media type"), "\(empty)")
        }
        await bed.close()
    }

    @Test func routesMethodsAndQueries() async throws {
        let bed = try await APITestBed()
        let wrongMethod = await bed.send("DELETE", "/v1/models")
        #expect(wrongMethod.status == 405 && wrongMethod.header("allow") == "GET")
        #expect(await bed.send("GET", "/v2/models").status == 404)
        #expect(await bed.send("GET", "/v1/models/.hidden").status == 400)
        #expect(await bed.send("GET", "/v1/models/unknown").status == 404)
        #expect(await bed.send("GET", "/v1/inferences/0").status == 400)
        #expect(await bed.send("GET", "/v1/inferences/99").status == 404)
        #expect(await bed.send("GET", "/v1/inferences?limit=0").status == 400)
        #expect(await bed.send("GET", "/v1/inferences?since=yesterday").status == 400)
        #expect(await bed.send("GET", "/v1/inferences?since=1099511627775d").status == 400)
        #expect(await bed.send("GET", "/v1/inferences?until=1099511627775h").status == 400)
        #expect(await bed.send("GET", "/v1/inferences?colour=red").status == 400)
        #expect(await bed.send("GET", "/v1/inferences?since=1h&until=2099-01-01T00:00:00Z&status=ok").status == 200)
        #expect(await bed.send("GET", "/v1/stats?window=0").status == 400)
        let healthAnswer = await bed.send("GET", "/v1/health")
        let health = try bed.decode(HealthResponse.self, healthAnswer)
        #expect(health.status == "ok" && health.engines.cores == 2 && health.database.writable)
        let models = await bed.send("GET", "/v1/models")
        let first = healthAnswer.header("x-request-id")
        #expect(first != nil && first != models.header("x-request-id"))
        let metrics = String(decoding: await bed.send("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics.contains("dlad_http_requests_total{route=\"health\",code=\"200\"} 1"))
        #expect(metrics.contains("dlad_engine_queue_depth_requests 0"))
        await bed.close()
    }

    /// The group commit's yield is visible to Prometheus: rows and transactions, each counted once
    /// however often /metrics is scraped.
    @Test func metricsCountHistoryRowsAndCommits() async throws {
        let bed = try await APITestBed()
        #expect(await bed.push("digits", try APITestBed.firmware("lenet-300-100-int8.dla")).status == 201)
        let one = try APITestBed.sampleNPY()
        func value(_ name: String, _ text: String) -> Int? {
            text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Int($0.split(separator: " ")[1]) }
        }
        for _ in 0..<3 { #expect(await bed.send("POST", "/v1/models/digits/infer", body: one, contentType: "application/x-npy").status == 200) }
        _ = await bed.send("GET", "/metrics")
        let text = String(decoding: await bed.send("GET", "/metrics").body, as: UTF8.self)
        #expect(value("dlad_history_rows_total", text) == 3, "\(text)")
        let commits = value("dlad_history_commits_total", text) ?? 0
        #expect((1...3).contains(commits))
        await bed.close()
    }

    @Test func historyPagesWithTheCursor() async throws {
        let bed = try await APITestBed()
        #expect(await bed.push("digits", try APITestBed.firmware("lenet-300-100-int8.dla")).status == 201)
        let one = try APITestBed.sampleNPY()
        for _ in 0..<5 { #expect(await bed.send("POST", "/v1/models/digits/infer", body: one, contentType: "application/x-npy").status == 200) }
        var seen: [Int64] = []
        var cursor: Int64?
        repeat {
            let page = try bed.decode(InferencePage.self, await bed.send("GET", "/v1/inferences?limit=2" + (cursor.map { "&after=\($0)" } ?? "")))
            seen += page.items.map(\.id)
            cursor = page.next
        } while cursor != nil
        #expect(seen == [5, 4, 3, 2, 1])
        await bed.close()
    }

    @Test func overloadAnswers503AndDeadlines504() async throws {
        let bed = try await APITestBed(cores: 1, queueCapacity: 1, timeout: .milliseconds(300))
        #expect(await bed.push("digits", try APITestBed.firmware("lenet-300-100-int8.dla")).status == 201)
        let one = try APITestBed.sampleNPY()
        bed.pool.freeze(core: 0)
        // The frozen core takes the first request and holds it; the second waits in the queue
        // (capacity 1); the third is refused at once.
        async let held = bed.send("POST", "/v1/models/digits/infer", body: one, contentType: "application/x-npy")
        while bed.pool.snapshot.busy == 0 { try await Task.sleep(for: .milliseconds(5)) }
        async let queued = bed.send("POST", "/v1/models/digits/infer", body: one, contentType: "application/x-npy")
        while bed.pool.snapshot.queued == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let refused = await bed.send("POST", "/v1/models/digits/infer", body: one, contentType: "application/x-npy")
        #expect(refused.status == 503 && refused.header("retry-after") == "1")
        try await Task.sleep(for: .milliseconds(400))
        #expect(bed.pool.snapshot.stuck == 1)
        let health = try bed.decode(HealthResponse.self, await bed.send("GET", "/v1/health"))
        #expect(health.status == "degraded" && health.reasons.first?.contains("stuck") == true)
        bed.pool.thaw(core: 0)
        let (first, second) = await (held, queued)
        #expect(first.status == 504 && second.status == 504, "\(bed.errorMessage(first))")
        #expect(bed.pool.snapshot.stuck == 0)
        #expect(await bed.send("POST", "/v1/models/digits/infer", body: one, contentType: "application/x-npy").status == 200)
        await bed.close()
    }

    @Test func signaturesRequiredRefuseUnsignedAndUntrustedModels() async throws {
        let key = DLASigningKey.generate()
        let other = DLASigningKey.generate()
        let bed = try await APITestBed { $0.push = .init(requireSignatures: true, trustedKeys: [key.publicKey]) }
        let model = try APITestBed.firmware("lenet-300-100-int8.dla")
        let unsigned = await bed.push("digits", model)
        #expect(unsigned.status == 422 && bed.errorMessage(unsigned).contains("signature"))
        let untrusted = await bed.push("digits", try DLAFile.sign(model, with: other))
        #expect(untrusted.status == 422)
        let signed = await bed.push("digits", try DLAFile.sign(model, with: key))
        #expect(signed.status == 201, "\(bed.errorMessage(signed))")
        let detail = try bed.decode(ModelInfo.self, await bed.send("GET", "/v1/models/digits"))
        #expect(detail.versions.first?.signature == key.publicKey.keyIDHex)
        await bed.close()
    }

    @Test func resourceLimitsRefuseModelsAndRequestsBeforeAllocating() async throws {
        let small = try await APITestBed(limits: DLAResourceLimits(maxWeightBytes: 1000))
        let refused = await small.push("digits", try APITestBed.firmware("lenet-300-100-int8.dla"))
        #expect(refused.status == 422 && small.errorMessage(refused).contains("maxWeightBytes"), "\(small.errorMessage(refused))")
        await small.close()

        let bed = try await APITestBed(limits: DLAResourceLimits(maxBatchInputElements: 784 * 8))
        let pushed = await bed.push("digits", try APITestBed.firmware("lenet-300-100-int8.dla"))
        #expect(pushed.status == 201, "\(bed.errorMessage(pushed))")
        let nine = try APITestBed.sampleNPY(rows: 9)
        let tooMany = await bed.send("POST", "/v1/models/digits/infer", body: nine, contentType: "application/x-npy")
        #expect(tooMany.status == 413 && bed.errorCode(tooMany) == "payload_too_large", "\(bed.errorMessage(tooMany))")
        let eight = try APITestBed.sampleNPY(rows: 8)
        #expect(await bed.send("POST", "/v1/models/digits/infer", body: eight, contentType: "application/x-npy").status == 200)
        await bed.close()
    }

    /// The model with the last byte of its self-test section flipped (an expected output code)
    /// and its checksums resealed: valid as a file, wrong about what it computes.
    static func breakingSelfTest(_ bytes: [UInt8]) -> [UInt8] {
        var bytes = bytes
        func u64(_ offset: Int) -> Int { (0..<8).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) } }
        let sections = Int(bytes[12]) | Int(bytes[13]) << 8
        for index in 0..<sections {
            let entry = 32 + index * 32
            if bytes[entry] == 4 {
                bytes[u64(entry + 8) + u64(entry + 16) - 1] ^= 0x01
            }
        }
        return DLAFile.resealingChecksums(bytes)
    }
}
