import Testing
import DLANumerics
@testable import DLAFormat

struct NPYRoundTripTests {
    static let samples: [NPYArray] = {
        do {
            return [
                try NPYArray(float32: [-1.5, 0, .infinity, 3.25e-8, -0.0, .greatestFiniteMagnitude], shape: [2, 3]),
                try NPYArray(float64: [Double.pi, -1e300, .leastNonzeroMagnitude], shape: [3]),
                try NPYArray(float16Bits: [1.0, -2.5, 65504, 0x1p-24].map(FP16.encode), shape: [2, 2]),
                try NPYArray(int8: [-128, -1, 0, 127], shape: [4, 1]),
                try NPYArray(uint8: [200], shape: []),
                try NPYArray(int32: [.min, -7, .max], shape: [1, 3, 1]),
                try NPYArray(int64: [.min, 0, .max, 1 << 40], shape: [2, 2]),
                try NPYArray(float32: [], shape: [0, 7]),
            ]
        } catch {
            preconditionFailure("bad sample: \(error)")
        }
    }()

    @Test(arguments: samples, [NPYVersion.v1_0, .v2_0, .v3_0])
    func roundTripsEveryDTypeAndVersion(array: NPYArray, version: NPYVersion) throws {
        let bytes = NPY.write(array, version: version)
        #expect(bytes[6] == version.major && bytes[7] == 0)
        let headerEnd = 8 + version.lengthFieldSize + Int(bytes[8]) + Int(bytes[9]) << 8
        #expect(headerEnd % NPYHeader.alignment == 0, "data must start 64-byte aligned")
        #expect(try NPY.read(bytes) == array)
    }

    @Test func writesVersion1ByDefaultEvenForTheLongestHeader() throws {
        #expect(NPY.write(Self.samples[0])[6] == 1)
        let widest = try NPYArray(uint8: [], shape: [0] + Array(repeating: Int.max, count: 63))
        let bytes = NPY.write(widest)
        #expect(bytes[6] == 1)
        #expect(try NPY.read(bytes) == widest)
    }

    @Test func decodesValues() throws {
        #expect(Self.samples[0].asFloat32()[0...1] == [-1.5, 0])
        #expect(Self.samples[1].asFloat64() == [Double.pi, -1e300, .leastNonzeroMagnitude])
        #expect(Self.samples[1].asFloat32()[0] == Float(Double.pi))
        #expect(Self.samples[2].asFloat32() == [1.0, -2.5, 65504, 0x1p-24])
        #expect(try Self.samples[3].asInt64() == [-128, -1, 0, 127])
        #expect(Self.samples[3].asFloat32() == [-128, -1, 0, 127])
        #expect(try Self.samples[4].asInt64() == [200])
        #expect(Self.samples[4].count == 1)
        #expect(try Self.samples[5].asInt64() == [Int64(Int32.min), -7, Int64(Int32.max)])
        #expect(try Self.samples[6].asInt64() == [.min, 0, .max, 1 << 40])
        #expect(Self.samples[6].asFloat64()[3] == 0x1p40)
        #expect(Self.samples[7].asFloat32().isEmpty)
        // Little-endian bytes regardless of the host.
        #expect(try NPYArray(int32: [0x0102_0304], shape: [1]).data == [4, 3, 2, 1])
    }

    @Test func integerViewOfFloatsThrows() {
        #expect(throws: NPYError.notAnIntegerArray(.float32)) { try Self.samples[0].asInt64() }
        #expect(throws: NPYError.notAnIntegerArray(.float16)) { try Self.samples[2].asInt64() }
    }

    @Test func constructorsCheckCountAgainstShape() {
        #expect(throws: NPYError.countMismatch(shape: [2, 2], expectedCount: 4, count: 3)) {
            try NPYArray(float32: [1, 2, 3], shape: [2, 2])
        }
        #expect(throws: NPYError.countMismatch(shape: [], expectedCount: 1, count: 0)) {
            try NPYArray(int8: [], shape: [])
        }
        #expect(throws: NPYError.countMismatch(shape: [3], expectedCount: 3, count: 1)) {
            try NPYArray(dtype: .int32, shape: [3], data: [1, 2, 3, 4, 5])
        }
        #expect(throws: NPYError.invalidShape(reason: "negative dimension -1 in [-1]")) {
            try NPYArray(uint8: [], shape: [-1])
        }
        #expect(throws: NPYError.invalidShape(reason: "65 dimensions (numpy allows at most 64)")) {
            try NPYArray(float32: [1], shape: Array(repeating: 1, count: 65))
        }
        #expect(throws: NPYError.shapeOverflow(shape: [1 << 62, 4])) {
            try NPYArray(int64: [], shape: [1 << 62, 4])
        }
    }

    /// Header spellings numpy (old and new) and hand-written tools produce.
    @Test(arguments: [
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }                                                          \n", [3]),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", [3]),
        ("{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}\n", [3]),
        ("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3, )}\n", [3]),
        ("{'descr':'<f4','fortran_order':False,'shape':(3L,)}  \n", [3]),
        ("  {\n 'descr' : '<f4' ,\n 'fortran_order' : False ,\n 'shape' : ( 1 , 3 , ) ,\n }\t\r\n", [1, 3]),
    ])
    func acceptsHeaderVariants(header: String, shape: [Int]) throws {
        let data = [UInt8](repeating: 0, count: 12)
        let array = try NPY.read(npyBytes(header: header, data: data))
        #expect(array.dtype == .float32)
        #expect(array.shape == shape)
        #expect(array.data == data)
    }

    @Test func scalarAndEmptyShapes() throws {
        let scalar = try NPY.read(npyBytes(header: "{'descr': '<i8', 'fortran_order': False, 'shape': (), }\n", data: [9, 0, 0, 0, 0, 0, 0, 0]))
        #expect(scalar.shape == [])
        #expect(try scalar.asInt64() == [9])
        let empty = try NPY.read(npyBytes(header: "{'descr': '|u1', 'fortran_order': False, 'shape': (0,), }\n"))
        #expect(empty.shape == [0] && empty.data.isEmpty)
        let sixtyFour = try NPY.read(npyBytes(header: "{'descr': '|u1', 'fortran_order': False, 'shape': (\(Array(repeating: "1", count: 64).joined(separator: ","))), }\n", data: [5]))
        #expect(sixtyFour.shape.count == 64)
    }

    @Test func readsVersion3Utf8Header() throws {
        let array = try NPY.read(npyBytes(header: "{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }\n", major: 3, data: [0x00, 0x3C]))
        #expect(array.asFloat32() == [1])
    }

    @Test func fileRoundTrip() throws {
        let path = "/tmp/dlad-npy-test-\(UInt64.random(in: 0...UInt64.max)).npy"
        try NPY.write(Self.samples[5], path: path)
        #expect(try NPY.read(path: path) == Self.samples[5])
        try NPY.write(Self.samples[6], path: path, version: .v2_0)
        #expect(try NPY.read(path: path) == Self.samples[6])
    }
}

extension NPYArray: CustomTestStringConvertible {
    public var testDescription: String { "\(dtype.rawValue) \(shape)" }
}
