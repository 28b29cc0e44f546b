import DLAFormat
import FuzzDriver

/// libFuzzer entry: any byte string must either decode or throw a `DLAFormatError`; a crash,
/// a trap or a sanitizer report is a bug. Each input is read twice: as it is, and with its
/// checksums resealed, so that mutations inside a section get past its CRC and the digest to
/// the parsers behind them. The weight-bytes limit is lowered so that the fuzzer explores
/// structure instead of allocating gigabytes for a legal but huge sparse tensor.
func fuzzDLAReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let options = DLAReadOptions(limits: DLAResourceLimits(maxWeightBytes: 64 << 20))
    _ = try? DLAFile.read(bytes, options: options)
    _ = try? DLAFile.read(DLAFile.resealingChecksums(bytes), options: options)
    return 0
}

runFuzzer { data, size in fuzzDLAReader(data, size) }
