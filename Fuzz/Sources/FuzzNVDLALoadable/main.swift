import FuzzDriver
import NVDLALoadable

/// libFuzzer entry: any byte string must read as an NVDLA loadable or a `.dimg` image, or throw
/// an `NVDLALoadableError`; a crash, a trap or a sanitizer report is a bug. What reads is used as
/// an executor would use it (every memory's initial contents, every task's address list, the
/// `.dimg` of every bound tensor), and a `.dimg` that reads must write back as the same bytes.
/// Sizes are capped at 1 MiB so that the fuzzer explores structure instead of allocating.
func fuzzNVDLALoadable(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let cap = 1 << 20
    var limits = NVDLALoadableFile.Limits()
    limits.maximumMemoryBytes = UInt64(cap)
    if let loadable = try? NVDLALoadableFile(bytes: bytes, limits: limits) {
        for memory in loadable.memories { _ = loadable.initialContents(ofMemory: memory.id) }
        for task in loadable.tasks { _ = loadable.addresses(ofTask: task) }
        for bound in loadable.inputs + loadable.outputs {
            for numbering in NVDLAImage.FormatNumbering.allCases {
                guard let metadata = try? NVDLAImage.Metadata(outputTensor: bound.tensor, numbering: numbering),
                      Int(metadata.size) <= cap else { continue }
                let surface = [UInt8](repeating: 0x7E, count: Int(metadata.size))
                _ = try? NVDLAImage(metadata: metadata, surface: surface, numbering: numbering).serialized()
            }
        }
    }
    for numbering in NVDLAImage.FormatNumbering.allCases {
        if let image = try? NVDLAImage(bytes: bytes, numbering: numbering, maximumSurfaceBytes: cap) {
            precondition(image.serialized() == bytes, "a .dimg that reads must write back as the same bytes")
            _ = image.surface()
        }
    }
    return 0
}

runFuzzer { data, size in fuzzNVDLALoadable(data, size) }
