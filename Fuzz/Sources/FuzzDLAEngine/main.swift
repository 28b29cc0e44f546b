import DLAEngine
import DLAFormat
import FuzzDriver

/// libFuzzer entry for the whole load-and-run path of a pushed model: the input, its checksums
/// resealed so that mutations reach the parsers and the engine behind them, is read, built into
/// an engine model, its self-test vectors verified, and run on a batch of the declared input
/// shapes filled from the input bytes. Every stage may refuse with an error; a crash, a trap or
/// a sanitizer report is a bug. The limits are lowered so that the fuzzer explores structure
/// instead of allocating what a real box would refuse anyway.
let limits = DLAResourceLimits(maxWeightBytes: 16 << 20, maxOperations: 256, maxActivationBytes: 64 << 20, maxBatchInputElements: 1 << 20)

func fuzzDLAEngine(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = DLAFile.resealingChecksums(Array(UnsafeBufferPointer(start: data, count: size)))
    guard let loaded = try? DLAFile.read(bytes, options: DLAReadOptions(limits: limits)),
          let model = try? ModelAdapter.compile(loaded) else { return 0 }
    let profile = HardwareProfile.all.first { $0.name == loaded.metadata.targetProfile } ?? .nvFull
    guard let executor = try? Executor(model: model, profile: profile, limits: limits) else { return 0 }
    _ = try? SelfTestVectors.verify(model, profile: profile, tests: loaded.selfTests, limits: limits)
    let batch = 1 + size % 3
    guard (try? executor.checkBatch(batch)) != nil else { return 0 }
    var position = 0
    func next() -> UInt8 {
        defer { position += 1 }
        return bytes[position % bytes.count]
    }
    var inputs: [EngineValue] = []
    for id in model.inputs {
        let spec = model.tensors[id]
        let shape = [batch] + spec.sampleShape
        let count = shape.reduce(1, *)
        let value: EngineValue?
        switch spec.elementType {
        case .int8: value = try? .int8(Tensor(shape: shape, scalars: (0..<count).map { _ in Int8(bitPattern: next()) }))
        case .int32: value = try? .int32(Tensor(shape: shape, scalars: (0..<count).map { _ in Int32(Int8(bitPattern: next())) << 12 }))
        case .float32, .float16, .fp8e4m3, .fp8e5m2:
            value = try? .float32(Tensor(shape: shape, scalars: (0..<count).map { _ in Float(Int8(bitPattern: next())) / 16 }))
        }
        guard let value else { return 0 }
        inputs.append(value)
    }
    _ = try? executor.run(inputs)
    return 0
}

runFuzzer { data, size in fuzzDLAEngine(data, size) }
