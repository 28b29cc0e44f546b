import Crypto
import DLAAPI
import DLAEngine
import DLAFormat
import DLAStore

extension DaemonAPI {
    /// `POST /v1/models/{name}/infer`. Acknowledged means persisted: the answer goes out only
    /// after the history row (success or failure) has committed.
    func infer(_ name: String, _ request: APIRequest) async throws(APIFailure) -> APIResponse {
        let started = monotonicNanoseconds()
        let wantsNPY: Bool
        switch request.header("accept").map({ $0.lowercased() }) {
        case nil, "", "*/*", "application/json", "application/*": wantsNPY = false
        case let accept? where accept.contains("application/x-npy"): wantsNPY = true
        case let accept? where accept.contains("application/json") || accept.contains("*/*"): wantsNPY = false
        case let accept?: throw APIFailure(.notAcceptable, "answers are application/json or application/x-npy, not \(accept)")
        }
        let loaded: LoadedVersion
        if let text = request.queryValue("version") {
            guard let number = Int(text), number > 0 else { throw APIFailure(.badRequest, "version must be a positive integer, got '\(text)'") }
            loaded = try await catalog.version(number, of: name)
        } else {
            loaded = try await catalog.activeVersion(of: name)
        }
        let body: [UInt8]
        if case .bytes(let bytes) = request.body { body = bytes } else { body = [] }
        let policy = self.policy
        do throws(APIFailure) {
            let binding: InferenceInputBinding
            switch request.contentType {
            case "application/json"?, nil:
                guard !body.isEmpty else { throw APIFailure(.badRequest, "the body is empty; send {\"inputs\": [[…]]} or an .npy file") }
                binding = try InferenceInputBinding(json: try Self.parseJSON(body), specs: loaded.inputSpecs)
            case "application/x-npy"?, "application/octet-stream"?:
                binding = try InferenceInputBinding(npy: body, specs: loaded.inputSpecs)
            case let other?:
                throw APIFailure(.unsupportedMediaType, "inputs are sent as application/json or application/x-npy, not \(other)")
            }
            do {
                try loaded.executor.checkBatch(binding.rows)
            } catch {
                throw APIFailure(.payloadTooLarge, "the request is too large for this daemon: \(error)")
            }
            let result: EngineJobResult
            do {
                result = try await pool.run(loaded, inputs: binding.values, rows: binding.rows, timeoutNanoseconds: policy.requestTimeoutNanoseconds)
            } catch {
                switch error {
                case .overloaded(let capacity):
                    metrics.countRejected()
                    throw APIFailure(.overloaded, "all \(pool.cores) engine cores are busy and \(capacity) requests are waiting; retry shortly",
                                     headers: [("Retry-After", "1")])
                case .deadlineExceeded:
                    throw APIFailure(.timeout, "the request waited past its deadline of \(policy.requestTimeoutNanoseconds / 1_000_000) ms")
                case .engine(let message):
                    throw APIFailure(.badRequest, "the engine refused the inputs: \(message)")
                case .stopped:
                    throw APIFailure(.overloaded, "the daemon is shutting down", headers: [("Retry-After", "1")])
                }
            }
            return try await answer(loaded, binding: binding, result: result, body: body, request: request,
                                    started: started, wantsNPY: wantsNPY, storeInputs: policy.storeInputs)
        } catch {
            if error.code != .storageFull {
                await recordFailure(loaded, error: error, body: body, request: request, started: started)
            }
            throw error
        }
    }

    private static func parseJSON(_ body: [UInt8]) throws(APIFailure) -> InferenceInputs {
        do {
            return try InferenceBodyParser.parse(body)
        } catch {
            throw APIFailure(.badRequest, "malformed JSON body: \(error)")
        }
    }

    private func answer(_ loaded: LoadedVersion, binding: InferenceInputBinding, result: EngineJobResult, body: [UInt8],
                        request: APIRequest, started: UInt64, wantsNPY: Bool, storeInputs: Bool) async throws(APIFailure) -> APIResponse {
        let outputSpecs = loaded.outputSpecs
        let outputs = zip(result.outputs, outputSpecs).map { $0.realValues(as: $1) }
        let rows = binding.rows
        let top1 = Self.top1(outputs[0], rows: rows)
        let latency = Int64((monotonicNanoseconds() &- started) / 1000)
        let firstShape = [rows] + outputSpecs[0].sampleShape
        let stored: [UInt8]
        do {
            stored = NPY.write(try NPYArray(float32: outputs[0], shape: firstShape))
        } catch {
            throw APIFailure(.internal, "cannot encode the outputs: \(error)")
        }
        let record = InferenceRecord(
            model: loaded.name, version: loaded.version, batchSize: rows, status: .ok, latencyMicroseconds: latency,
            emulatedCycles: result.cycles, energyPicojoules: result.energyPicojoules, inputSHA256: Array(SHA256.hash(data: body)),
            input: storeInputs ? body : nil, outputs: stored,
            top1: top1.map { StoredTopClass(classIndex: UInt32($0.index), score: $0.score) }, clientUID: request.peer.uid)
        let id: Int64
        do {
            id = try await store.history.record(record)
        } catch {
            throw StoreFailure.map(error)
        }
        let count = inferenceCount.add(1, ordering: .relaxed).newValue
        metrics.countInference(model: loaded.name, ok: true, nanoseconds: monotonicNanoseconds() &- started, count: count)
        let headers: [(String, String)] = [("X-Inference-Id", String(id)), ("X-Model-Version", String(loaded.version))]
        if wantsNPY {
            guard outputs.count == 1 else {
                throw APIFailure(.notAcceptable, "the model has \(outputs.count) outputs; an .npy answer holds one, ask for application/json")
            }
            return APIResponse(status: 200, headers: [("Content-Type", "application/x-npy")] + headers, body: stored)
        }
        var json = InferenceJSON()
        json.open()
        json.key("id"); json.integer(id)
        json.key("model"); json.string(loaded.name)
        json.key("version"); json.integer(Int64(loaded.version))
        json.key("outputs"); json.rows(outputs[0], rows: rows)
        if outputs.count > 1 {
            json.key("outputsByName")
            json.open()
            for (values, spec) in zip(outputs, outputSpecs) {
                json.key(spec.name)
                json.rows(values, rows: rows)
            }
            json.close()
        }
        json.key("top1")
        json.array(top1) { json, entry in
            json.open()
            json.key("index"); json.integer(Int64(entry.index))
            json.key("score"); json.float(entry.score)
            json.close()
        }
        json.key("latencyMicros"); json.integer(latency)
        json.key("emulated")
        json.open()
        json.key("cycles"); json.integer(result.cycles)
        json.key("energyMicrojoules"); json.double(result.energyPicojoules / 1_000_000)
        json.key("profile"); json.string(loaded.profile.name)
        json.close()
        json.key("batchRows"); json.integer(Int64(result.batchRows))
        json.close()
        return APIResponse(status: 200, headers: [("Content-Type", "application/json")] + headers, body: json.bytes)
    }

    /// A failed request is history too (status = its HTTP error status, batch size 1 as its
    /// rows may be unknown); a failure to store it is logged, and the client still gets the
    /// original error.
    private func recordFailure(_ loaded: LoadedVersion, error: APIFailure, body: [UInt8], request: APIRequest, started: UInt64) async {
        let latency = Int64((monotonicNanoseconds() &- started) / 1000)
        let record = InferenceRecord(
            model: loaded.name, version: loaded.version, batchSize: 1, status: .failed(code: Int32(error.code.httpStatus)),
            latencyMicroseconds: latency, emulatedCycles: 0, energyPicojoules: 0, inputSHA256: Array(SHA256.hash(data: body)),
            input: nil, outputs: [], top1: [], clientUID: request.peer.uid)
        do {
            _ = try await store.history.record(record)
        } catch {
            logger.error("cannot record a failed inference of \(loaded.name): \(error)",
                         metadata: ["MODEL": "\(loaded.name)", "REQUEST_ID": "\(request.requestID)"])
        }
        metrics.countInference(model: loaded.name, ok: false, nanoseconds: monotonicNanoseconds() &- started, count: nil)
    }

    /// Per row: the index and value of the largest element (the first of equals; NaN never wins).
    static func top1(_ values: [Float], rows: Int) -> [DLAAPI.TopClass] {
        guard rows > 0 else { return [] }
        let width = values.count / rows
        guard width > 0 else { return [] }
        return (0..<rows).map { row in
            var best = row * width
            for index in (row * width)..<((row + 1) * width) where values[index] > values[best] || values[best].isNaN {
                best = index
            }
            return DLAAPI.TopClass(index: best - row * width, score: values[best])
        }
    }
}
