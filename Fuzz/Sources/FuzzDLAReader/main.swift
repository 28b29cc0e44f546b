import DLAFormat
#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer entry: any byte string must either decode or throw a `DLAFormatError`; a crash,
/// a trap or a sanitizer report is a bug. The decoded-size cap is lowered so that the fuzzer
/// explores structure instead of allocating gigabytes for a legal but huge sparse tensor.
func fuzzDLAReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? DLAFile.read(bytes, options: DLAReadOptions(maxDecodedBytes: 64 << 20))
    return 0
}

/// libFuzzer's driver from `libclang_rt.fuzzer_no_main`: SwiftPM gives every executable its own
/// entry point, so the fuzzer is started from top-level code instead of libFuzzer's `main`.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

var argumentCount = CommandLine.argc
var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argumentCount, &arguments) { data, size in fuzzDLAReader(data, size) })
