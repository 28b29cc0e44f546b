import DLAFormat
import FuzzDriver

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

runFuzzer { data, size in fuzzNPYReader(data, size) }
