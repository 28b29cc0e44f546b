import DLAFormat
#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer entry: any byte string must either parse as `.npy` or throw an `NPYError`.
/// A parsed array is also converted, so the element accessors are exercised on it.
func fuzzNPYReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let array = try? NPY.read(bytes) {
        _ = array.asFloat32()
        _ = try? array.asInt64()
        _ = NPY.write(array)
    }
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
exit(LLVMFuzzerRunDriver(&argumentCount, &arguments) { data, size in fuzzNPYReader(data, size) })
