/// The firmware interface version a loadable's descriptor blobs target (each blob's `version`).
///
/// Layouts are those of nvdla/sw `kmd/firmware/include/dla_interface.h`. Interface 0.12
/// (nvdla/sw 16befcb, April 2019) added `offset` to `dla_data_cube` (the address field became an
/// index into the address list plus an offset); blobs for earlier interfaces, such as NVIDIA's
/// regression loadables (0.10.0), have 28-byte data cubes without it.
public struct FirmwareInterfaceVersion: Sendable, Hashable, CustomStringConvertible {
    public let major: UInt8
    public let minor: UInt8
    public let subMinor: UInt8

    public init(major: UInt8, minor: UInt8, subMinor: UInt8) {
        self.major = major
        self.minor = minor
        self.subMinor = subMinor
    }

    /// Interface 0.10.0, that of NVIDIA's regression loadables.
    public static let regression = FirmwareInterfaceVersion(major: 0, minor: 10, subMinor: 0)

    /// Whether data cubes carry the `offset` field (interface 0.12 and later).
    public var dataCubesHaveOffset: Bool { minor >= 12 }

    /// Bytes of one `dla_data_cube`.
    public var dataCubeSize: Int { dataCubesHaveOffset ? 32 : 28 }

    public var description: String { "\(major).\(minor).\(subMinor)" }

    /// Fails for interface majors other than 0 and minors before 10, whose layouts are unknown here.
    func validate() throws(FirmwareDescriptorError) {
        guard major == 0, minor >= 10 else {
            throw .unsupported(what: "firmware interface version \(self) (known: 0.10 to 0.12)")
        }
    }
}
