#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
@testable import DLAFormat

/// Builds a `.npy` byte stream around arbitrary header text, for header-parsing and error tests.
func npyBytes(header: String, major: UInt8 = 1, minor: UInt8 = 0, data: [UInt8] = []) -> [UInt8] {
    let text = Array(header.utf8)
    var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, major, minor]
    let lengthFieldSize = major == 1 ? 2 : 4
    for byte in 0..<lengthFieldSize {
        bytes.append(UInt8(truncatingIfNeeded: text.count >> (8 * byte)))
    }
    return bytes + text + data
}

/// The numpy-generated fixtures next to this file (see Fixtures/npy/generate.py).
func npyFixturePath(_ name: String) -> String {
    let thisFile = #filePath
    let directory = thisFile[..<(thisFile.lastIndex(of: "/") ?? thisFile.startIndex)]
    return "\(directory)/Fixtures/npy/\(name)"
}

func npyFixture(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: npyFixturePath(name))))
}
