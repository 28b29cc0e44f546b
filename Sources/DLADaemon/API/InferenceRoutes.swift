import Crypto
import DLAAPI
import DLAEngine
import DLAFormat
import DLAStore

extension DaemonAPI {
    /// `POST /v1/models/{name}/infer`. Acknowledged means persisted: the answer goes out only
    /// after the history row (success or failure) has committed.
    ///
    /// Written with completions, not `async`: a request goes from the event loop to an engine
    /// core, which builds the answer and the history row and hands the row to the store's
    /// writer, whose commit answers. Awaiting each step instead resumed the request on Swift's
    /// global executor in between, twice the thread hand-offs (the kernel's scheduling was ~40 %
    /// of the daemon's CPU under load). `reply` is called once, on whichever thread finished.
    func infer(_ name: String, _ request: APIRequest, reply: @escaping RouteReply) {
        let started = monotonicNanoseconds()
        let wantsNPY: Bool
        let requested: Int?
        do throws(APIFailure) {
            wantsNPY = try Self.wantsNPY(request)
            requested = try request.queryValue("version").map { text throws(APIFailure) in
                guard let number = Int(text), number > 0 else { throw APIFailure(.badRequest, "version must be a positive integer, got '\(text)'") }
                return number
            }
        } catch {
            reply(.failure(error))
            return
        }
        if let loaded = catalog.built(requested, of: name) {
            run(loaded, request, started: started, wantsNPY: wantsNPY, reply: reply)
            return
        }
        // First use of this version since start or activation: read and build it off the loop.
        Task {
            do throws(APIFailure) {
                let loaded = if let requested { try await catalog.version(requested, of: name) } else { try await catalog.activeVersion(of: name) }
                run(loaded, request, started: started, wantsNPY: wantsNPY, reply: reply)
            } catch {
                reply(.failure(error))
            }
        }
    }

    private static func wantsNPY(_ request: APIRequest) throws(APIFailure) -> Bool {
        switch request.header("accept").map({ $0.lowercased() }) {
        case nil, "", "*/*", "application/json", "application/*": return false
        case let accept? where accept.contains("application/x-npy"): return true
        case let accept? where accept.contains("application/json") || accept.contains("*/*"): return false
        case let accept?: throw APIFailure(.notAcceptable, "answers are application/json or application/x-npy, not \(accept)")
        }
    }

    /// Binds the inputs and queues them on the engine pool; every failure from here on is a history row.
    private func run(_ loaded: LoadedVersion, _ request: APIRequest, started: UInt64, wantsNPY: Bool, reply: @escaping RouteReply) {
        let body: [UInt8]
        if case .bytes(let bytes) = request.body { body = bytes } else { body = [] }
        let policy = self.policy
        let fail: @Sendable (APIFailure) -> Void = { error in
            self.recordFailure(loaded, error: error, body: body, request: request, started: started, reply: reply)
        }
        let binding: InferenceInputBinding
        do throws(APIFailure) {
            if wantsNPY, loaded.outputSpecs.count != 1 {
                throw APIFailure(.notAcceptable, "the model has \(loaded.outputSpecs.count) outputs; an .npy answer holds one, ask for application/json")
            }
            switch request.contentType {
            case "application/json"?, nil:
                guard !body.isEmpty else { throw APIFailure(.badRequest, "the body is empty; send {\"inputs\": [[…]]} or an .npy file") }
                binding = try InferenceInputBinding(json: try Self.parseJSON(body), specs: loaded.inputSpecs)
            case "application/x-npy"?, "application/octet-stream"?:
                binding = try InferenceInputBinding(npy: body, specs: loaded.inputSpecs)
            case let other?:
                throw APIFailure(.unsupportedMediaType, "inputs are sent as application/json or application/x-npy, not \(other.isEmpty ? "an empty media type" : other)")
            }
            do {
                try loaded.executor.checkBatch(binding.rows)
            } catch {
                throw APIFailure(.payloadTooLarge, "the request is too large for this daemon: \(error)")
            }
        } catch {
            fail(error)
            return
        }
        let rows = binding.rows
        pool.submit(loaded, inputs: binding.values, rows: rows, timeoutNanoseconds: policy.requestTimeoutNanoseconds, mayRunHere: true) { outcome in
            switch outcome {
            case .success(let result):
                self.answer(loaded, rows: rows, result: result, body: body, request: request, started: started,
                            wantsNPY: wantsNPY, storeInputs: policy.storeInputs, fail: fail, reply: reply)
            case .failure(.overloaded(let capacity)):
                self.metrics.countRejected()
                fail(APIFailure(.overloaded, "all \(self.pool.cores) engine cores are busy and \(capacity) requests are waiting; retry shortly",
                                headers: [("Retry-After", "1")]))
            case .failure(.deadlineExceeded):
                fail(APIFailure(.timeout, "the request waited past its deadline of \(policy.requestTimeoutNanoseconds / 1_000_000) ms"))
            case .failure(.engine(let message)):
                fail(APIFailure(.badRequest, "the engine refused the inputs: \(message)"))
            case .failure(.stopped):
                fail(APIFailure(.overloaded, "the daemon is shutting down", headers: [("Retry-After", "1")]))
            }
        }
    }

    private static func parseJSON(_ body: [UInt8]) throws(APIFailure) -> InferenceInputs {
        do {
            return try InferenceBodyParser.parse(body)
        } catch {
            throw APIFailure(.badRequest, "malformed JSON body: \(error)")
        }
    }

    /// On the engine core that ran the request: the answer is written here, the history row
    /// handed to the writer, and the answer sent once the row commits (only its id waits for that).
    private func answer(_ loaded: LoadedVersion, rows: Int, result: EngineJobResult, body: [UInt8], request: APIRequest,
                        started: UInt64, wantsNPY: Bool, storeInputs: Bool,
                        fail: @escaping @Sendable (APIFailure) -> Void, reply: @escaping RouteReply) {
        let outputSpecs = loaded.outputSpecs
        let outputs = zip(result.outputs, outputSpecs).map { $0.realValues(as: $1) }
        let top1 = Self.top1(outputs[0], rows: rows)
        let latency = Int64((monotonicNanoseconds() &- started) / 1000)
        let stored: [UInt8]
        do {
            stored = NPY.write(try NPYArray(float32: outputs[0], shape: [rows] + outputSpecs[0].sampleShape))
        } catch {
            fail(APIFailure(.internal, "cannot encode the outputs: \(error)"))
            return
        }
        let record = InferenceRecord(
            model: loaded.name, version: loaded.version, batchSize: rows, status: .ok, latencyMicroseconds: latency,
            emulatedCycles: result.cycles, energyPicojoules: result.energyPicojoules, inputSHA256: Array(SHA256.hash(data: body)),
            input: storeInputs ? body : nil, outputs: stored,
            top1: top1.map { StoredTopClass(classIndex: UInt32($0.index), score: $0.score) }, clientUID: request.peer.uid,
            requestID: request.requestID)
        let json: InferenceJSON? = wantsNPY ? nil : Self.answerJSON(loaded, outputs: outputs, rows: rows, top1: top1, latency: latency, result: result)
        store.history.record(record) { outcome in
            switch outcome {
            case .failure(let error):
                fail(StoreFailure.map(error))
            case .success(let id):
                let count = self.inferenceCount.add(1, ordering: .relaxed).newValue
                self.metrics.countInference(model: loaded.name, ok: true, nanoseconds: monotonicNanoseconds() &- started, count: count)
                let headers: [(String, String)] = [("X-Inference-Id", String(id)), ("X-Model-Version", String(loaded.version))]
                if let json {
                    reply(.success(APIResponse(status: 200, headers: [("Content-Type", "application/json")] + headers, body: json.bytes(leadingID: id))))
                } else {
                    reply(.success(APIResponse(status: 200, headers: [("Content-Type", "application/x-npy")] + headers, body: stored)))
                }
            }
        }
    }

    /// The answer's JSON but its `id`, which `InferenceJSON.bytes(leadingID:)` puts first.
    private static func answerJSON(_ loaded: LoadedVersion, outputs: [[Float]], rows: Int, top1: [DLAAPI.TopClass], latency: Int64,
                                   result: EngineJobResult) -> InferenceJSON {
        var json = InferenceJSON()
        json.open()
        json.key("model"); json.string(loaded.name)
        json.key("version"); json.integer(Int64(loaded.version))
        json.key("outputs"); json.rows(outputs[0], rows: rows)
        if outputs.count > 1 {
            json.key("outputsByName")
            json.open()
            for (values, spec) in zip(outputs, loaded.outputSpecs) {
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
        return json
    }

    /// A failed request is history too (status = its HTTP error status, batch size 1 as its
    /// rows may be unknown); a failure to store it is logged, and the client still gets the
    /// original error. A full disk is not recorded: there is no room for the row.
    private func recordFailure(_ loaded: LoadedVersion, error: APIFailure, body: [UInt8], request: APIRequest, started: UInt64,
                               reply: @escaping RouteReply) {
        guard error.code != .storageFull else {
            reply(.failure(error))
            return
        }
        let latency = Int64((monotonicNanoseconds() &- started) / 1000)
        let record = InferenceRecord(
            model: loaded.name, version: loaded.version, batchSize: 1, status: .failed(code: Int32(error.code.httpStatus)),
            latencyMicroseconds: latency, emulatedCycles: 0, energyPicojoules: 0, inputSHA256: Array(SHA256.hash(data: body)),
            input: nil, outputs: [], top1: [], clientUID: request.peer.uid, requestID: request.requestID,
            error: Self.storable(error.message))
        store.history.record(record) { outcome in
            if case .failure(let storeError) = outcome {
                self.logger.error("cannot record a failed inference of \(loaded.name): \(storeError)",
                                  metadata: ["MODEL": "\(loaded.name)", "REQUEST_ID": "\(request.requestID)"])
            }
            self.metrics.countInference(model: loaded.name, ok: false, nanoseconds: monotonicNanoseconds() &- started, count: nil)
            reply(.failure(error))
        }
    }

    /// `message` cut to the store's limit on whole characters.
    static func storable(_ message: String) -> String {
        var kept = message.unicodeScalars.startIndex
        var bytes = 0
        for index in message.unicodeScalars.indices {
            bytes += UTF8.width(message.unicodeScalars[index])
            if bytes > InferenceRecord.maxErrorBytes { break }
            kept = message.unicodeScalars.index(after: index)
        }
        return String(message.unicodeScalars[..<kept])
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
