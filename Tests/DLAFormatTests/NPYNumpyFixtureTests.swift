import Testing
@testable import DLAFormat

/// Files written by numpy 2.4 (Fixtures/npy/generate.py): dlad must read them and write the same bytes.
struct NPYNumpyFixtureTests {
    @Test(arguments: [
        ("float32_2x3_v1.npy", NPYVersion.v1_0),
        ("float16_4_v1.npy", .v1_0),
        ("int8_2x2_v1.npy", .v1_0),
        ("uint8_scalar_v1.npy", .v1_0),
        ("int64_3_v2.npy", .v2_0),
        ("int32_2x1x2_v2.npy", .v2_0),
        ("float64_empty_v3.npy", .v3_0),
    ])
    func writesNumpysExactBytes(name: String, version: NPYVersion) throws {
        let numpyBytes = try npyFixture(name)
        let array = try NPY.read(numpyBytes)
        #expect(NPY.write(array, version: version) == numpyBytes)
    }

    @Test func readsNumpyValues() throws {
        let float32 = try NPY.read(npyFixture("float32_2x3_v1.npy"))
        #expect(float32.dtype == .float32 && float32.shape == [2, 3])
        #expect(float32.asFloat32() == [-1.25, -0.75, -0.25, 0.25, 0.75, 1.25])

        let float16 = try NPY.read(npyFixture("float16_4_v1.npy"))
        #expect(float16.dtype == .float16 && float16.asFloat32() == [1, -0.5, 65504, 0x1p-24])

        let int8 = try NPY.read(npyFixture("int8_2x2_v1.npy"))
        #expect(int8.dtype == .int8 && int8.shape == [2, 2])
        #expect(try int8.asInt64() == [-128, -1, 0, 127])

        let scalar = try NPY.read(npyFixture("uint8_scalar_v1.npy"))
        #expect(scalar.dtype == .uint8 && scalar.shape == [])
        #expect(try scalar.asInt64() == [200])

        let int64 = try NPY.read(npyFixture("int64_3_v2.npy"))
        #expect(try int64.asInt64() == [-(1 << 62), 0, (1 << 40) + 7])

        let int32 = try NPY.read(npyFixture("int32_2x1x2_v2.npy"))
        #expect(int32.shape == [2, 1, 2])
        #expect(try int32.asInt64() == [1, -2, Int64(Int32.max), Int64(Int32.min)])

        let empty = try NPY.read(path: npyFixturePath("float64_empty_v3.npy"))
        #expect(empty.dtype == .float64 && empty.shape == [0, 5] && empty.count == 0)
    }

    @Test func rejectsWhatNumpyCanWriteButDladCannotHold() throws {
        #expect(throws: NPYError.fortranOrder) { try NPY.read(npyFixture("float32_fortran_v1.npy")) }
        #expect(throws: NPYError.bigEndian(">f4")) { try NPY.read(npyFixture("float32_bigendian_v1.npy")) }
        #expect(throws: NPYError.objectArray("|O")) { try NPY.read(npyFixture("object_v1.npy")) }
        #expect(throws: NPYError.unsupportedDType("|b1")) { try NPY.read(npyFixture("bool_v1.npy")) }
    }
}
