#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import DLANumerics
import NVDLALoadable

/// A task for NVIDIA's CPU emulator (interface EMU1: nvdla/sw `umd/core/src/runtime/Emulator.cpp`),
/// the power and softmax operations NVIDIA's compiler leaves to the host around DLA tasks.
///
/// Layouts are those of the emulator interface NVIDIA's regression loadables were written for
/// (blob version 0.0.1), read off their bytes and `emu_interface.h`: a network descriptor
/// (`operation_desc_index`, `operation_buffer_desc_index`: task address-list indices;
/// `num_operations`), 16-byte operation descriptors (`op_type`, then for power the FP32
/// `power`, `scale`, `shift`, for softmax the `axis` byte; the current header's scale factors
/// came later), and 256-byte-aligned buffer descriptors without `addressIndexOffset`
/// (`addressIndex`, `size`, `format`, width, height, channel, line and surface stride). Buffer
/// format 2 is FP16 there (the current header, which inserted `INT8_8`, numbers it 3). Only FP16
/// buffers are modelled, as for NVIDIA's MNIST network.
struct NVDLAEmulatorTask {
    enum Operation {
        case power(power: Float, scale: Float, shift: Float, source: Buffer, destination: Buffer)
        case softmax(source: Buffer, destination: Buffer)
    }

    struct Buffer {
        let addressIndex: Int
        let size: Int
        let width: Int, height: Int, channel: Int
        let lineStride: Int, surfaceStride: Int

        /// `Emulator::getAddrOffset` for FP16: 32-byte atoms of 16 elements.
        func offset(_ c: Int, _ y: Int, _ x: Int) -> Int {
            (c / 16) * surfaceStride + y * lineStride + x * 32 + (c % 16) * 2
        }
    }

    static let operationSize = 16
    static let bufferSize = 256

    let operations: [Operation]

    init(memory: NVDLAMemory, taskID: Int) throws(NVDLARuntimeError) {
        let what = "EMU task \(taskID)"
        let network = try memory.region(atTaskIndex: 0)
        guard network.count >= 6 else { throw .invalid(what: what, detail: "network descriptor of \(network.count) bytes (6 needed)") }
        func i16(_ b: [UInt8], _ o: Int) -> Int { Int(Int16(bitPattern: UInt16(b[o]) | UInt16(b[o + 1]) << 8)) }
        func u32(_ b: [UInt8], _ o: Int) -> Int { Int(UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24) }
        let ops = try memory.region(atTaskIndex: i16(network, 0))
        let buffers = try memory.region(atTaskIndex: i16(network, 2))
        let count = Int(UInt16(network[4]) | UInt16(network[5]) << 8)
        guard ops.count >= count * Self.operationSize, buffers.count >= count * 2 * Self.bufferSize else {
            throw .invalid(what: what, detail: "\(count) operations need \(count * Self.operationSize) descriptor and \(count * 2 * Self.bufferSize) buffer bytes, found \(ops.count) and \(buffers.count)")
        }
        func buffer(_ o: Int, _ name: String) throws(NVDLARuntimeError) -> Buffer {
            let format = i16(buffers, o + 6)
            guard format == 2 else { throw .unsupported(what: "\(what) \(name) buffer format \(format) (FP16, format 2, is modelled)") }
            let b = Buffer(addressIndex: i16(buffers, o), size: u32(buffers, o + 2), width: i16(buffers, o + 8), height: i16(buffers, o + 10),
                           channel: i16(buffers, o + 12), lineStride: u32(buffers, o + 14), surfaceStride: u32(buffers, o + 18))
            guard b.width > 0, b.height > 0, b.channel > 0 else {
                throw .invalid(what: "\(what) \(name) buffer", detail: "empty cube \(b.channel)×\(b.height)×\(b.width)")
            }
            let extent = NVDLAFeatureCube.extent(channels: b.channel, height: b.height, width: b.width, lineStride: b.lineStride,
                                                 surfaceStride: b.surfaceStride, atomBytes: 32, bytesPerElement: 2)
            _ = try memory.locate(taskIndex: b.addressIndex, offset: 0, length: max(extent, b.channel * 2), what: "\(what) \(name) buffer")
            return b
        }
        var operations: [Operation] = []
        for i in 0..<count {
            let o = i * Self.operationSize
            let source = try buffer(2 * i * Self.bufferSize, "operation \(i) source")
            let destination = try buffer((2 * i + 1) * Self.bufferSize, "operation \(i) destination")
            guard (source.width, source.height, source.channel) == (destination.width, destination.height, destination.channel) else {
                throw .invalid(what: "\(what) operation \(i)", detail: "source and destination cubes differ")
            }
            switch ops[o] {
            case 0:
                func f32(_ at: Int) -> Float { Float(bitPattern: UInt32(u32(ops, at))) }
                operations.append(.power(power: f32(o + 1), scale: f32(o + 5), shift: f32(o + 9), source: source, destination: destination))
            case 1:
                guard source.width == 1, source.height == 1 else {
                    throw .unsupported(what: "\(what) operation \(i): softmax over a \(source.width)×\(source.height) map (NVIDIA's emulator reads channels contiguously)")
                }
                operations.append(.softmax(source: source, destination: destination))
            default:
                throw .invalid(what: "\(what) operation \(i)", detail: "op_type \(ops[o]) (0 power, 1 softmax)")
            }
        }
        self.operations = operations
    }

    /// Runs the operations as `Emulator.cpp` does: in FP32 from FP16 inputs, each result stored as
    /// `half_float::half` converts (round to nearest, ties away from zero: nvdla/sw
    /// `umd/external/include/half.h`, `HALF_ROUND_STYLE` 1, `HALF_ROUND_TIES_TO_EVEN` 0).
    func run(memory: inout NVDLAMemory) throws(NVDLARuntimeError) {
        for operation in operations {
            switch operation {
            case let .power(power, scale, shift, source, destination):
                let src = try memory.locate(taskIndex: source.addressIndex, offset: 0, length: 0, what: "EMU source")
                let dst = try memory.locate(taskIndex: destination.addressIndex, offset: 0, length: 0, what: "EMU destination")
                for c in 0..<source.channel {
                    for y in 0..<source.height {
                        for x in 0..<source.width {
                            let value = read(memory, src, source.offset(c, y, x))
                            write(&memory, dst, destination.offset(c, y, x), Self.halfTiesAway(powf(shift + scale * value, power)))
                        }
                    }
                }
            case let .softmax(source, destination):
                let src = try memory.locate(taskIndex: source.addressIndex, offset: 0, length: 0, what: "EMU source")
                let dst = try memory.locate(taskIndex: destination.addressIndex, offset: 0, length: 0, what: "EMU destination")
                let values = (0..<source.channel).map { read(memory, src, 2 * $0) }
                let maximum = values.reduce(-Float.infinity) { $1 > $0 ? $1 : $0 }
                var sum: Float = 0
                for v in values { sum += expf(v - maximum) }
                for (i, v) in values.enumerated() {
                    write(&memory, dst, 2 * i, Self.halfTiesAway(expf(v - maximum) / sum))
                }
            }
        }
    }

    private func read(_ memory: NVDLAMemory, _ base: (memory: Int, offset: Int), _ offset: Int) -> Float {
        let bytes = memory.read(memory: base.memory, offset: base.offset + offset, count: 2)
        return FP16.decode(UInt16(bytes[bytes.startIndex]) | UInt16(bytes[bytes.startIndex + 1]) << 8)
    }

    private func write(_ memory: inout NVDLAMemory, _ base: (memory: Int, offset: Int), _ offset: Int, _ bits: UInt16) {
        memory.write(memory: base.memory, offset: base.offset + offset, bytes: [UInt8(truncatingIfNeeded: bits), UInt8(bits >> 8)])
    }

    /// FP32 to FP16, round to nearest with ties away from zero (half.h's setting in nvdla/sw).
    static func halfTiesAway(_ x: Float) -> UInt16 {
        let nearestEven = FP16.encode(x)
        guard x.isFinite, nearestEven & 0x7FFF < 0x7C00 else { return nearestEven }
        let value = FP16.decode(nearestEven)
        guard value != x else { return nearestEven }
        // The other neighbour on x's side of the chosen value (one step in magnitude).
        let towardX: UInt16 = abs(x) > abs(value) ? nearestEven &+ 1 : nearestEven &- 1
        let other = FP16.decode(towardX)
        guard Double(x) - Double(value) == -(Double(x) - Double(other)) else { return nearestEven }
        return abs(other) > abs(value) ? towardX : nearestEven
    }
}
