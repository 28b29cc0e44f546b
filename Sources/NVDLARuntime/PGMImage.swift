/// A binary (P5) 8-bit grayscale PGM image, the format of NVIDIA's regression digits: `P5`,
/// width, height and maximum value (each after whitespace, `#` comments allowed), one
/// whitespace byte, then width × height pixels.
public struct PGMImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]

    /// Largest width or height accepted (an image this size is far beyond any DLA input).
    public static let maximumDimension = 16384

    public init(bytes: [UInt8]) throws(NVDLARuntimeError) {
        var position = 0
        func fail(_ detail: String) -> NVDLARuntimeError { .invalid(what: "PGM image", detail: detail) }
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") else {
            throw fail("does not start with P5 (binary grayscale)")
        }
        position = 2
        func number(_ name: String) throws(NVDLARuntimeError) -> Int {
            while position < bytes.count {
                if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count, bytes[position] != UInt8(ascii: "\n") { position += 1 }
                } else if [9, 10, 13, 32].contains(bytes[position]) {
                    position += 1
                } else {
                    break
                }
            }
            var value = 0, digits = 0
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
                value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
                digits += 1
                position += 1
                guard value <= Self.maximumDimension else { throw fail("\(name) above \(Self.maximumDimension)") }
            }
            guard digits > 0 else { throw fail("missing \(name) at byte \(position)") }
            return value
        }
        let width = try number("width"), height = try number("height"), maximum = try number("maximum value")
        guard width > 0, height > 0 else { throw fail("empty image \(width)×\(height)") }
        guard maximum > 0, maximum < 256 else { throw fail("maximum value \(maximum) (only 8-bit images, 1...255)") }
        guard position < bytes.count, [9, 10, 13, 32].contains(bytes[position]) else { throw fail("no whitespace after the header") }
        position += 1
        let count = width * height
        guard bytes.count - position == count else {
            throw fail("\(width)×\(height) needs \(count) pixel bytes, the file has \(bytes.count - position)")
        }
        self.width = width
        self.height = height
        pixels = Array(bytes[position...])
    }
}
