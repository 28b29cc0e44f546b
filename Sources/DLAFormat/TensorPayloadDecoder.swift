/// Decodes one weights-section payload straight into its execution buffer.
///
/// All headers, lengths and Huffman tables are validated before the buffer is allocated;
/// the per-symbol loop then only checks what cannot be known in advance (a stream ending
/// early, an invalid code, a gap past the end of the tensor, an index past the codebook).
struct TensorPayloadDecoder {
    let bytes: [UInt8]
    let payload: Range<Int>
    let dataType: DLADataType
    let elementCount: Int
    let zeroCodes: ZeroCodes
    let encoding: DLATensorEncoding
    let section: String
    let context: String

    func decode() throws(DLAFormatError) -> DLATensorValues {
        let plan = try makePlan()
        switch dataType {
        case .int8: return .int8(try fill(Int8.self, as: UInt8.self, plan))
        case .uint8: return .uint8(try fill(UInt8.self, as: UInt8.self, plan))
        case .fp8e4m3: return .fp8e4m3(try fill(UInt8.self, as: UInt8.self, plan))
        case .fp8e5m2: return .fp8e5m2(try fill(UInt8.self, as: UInt8.self, plan))
        case .float16: return .float16(try fill(UInt16.self, as: UInt16.self, plan))
        case .int32: return .int32(try fill(Int32.self, as: UInt32.self, plan))
        case .float32: return .float32(try fill(Float.self, as: UInt32.self, plan))
        }
    }

    private func error(_ kind: DLAFormatError.Kind, _ message: String, at offset: Int) -> DLAFormatError {
        DLAFormatError(kind, section: section, offset: offset, context: context, message)
    }

    // MARK: - Plan

    private enum StreamMode {
        case packed(bits: Int)
        case huffman(Huffman.DecodeTable)
        case littleEndian(width: Int)
    }

    private struct Stream {
        let name: String
        let mode: StreamMode
        let range: Range<Int>
    }

    private struct Plan {
        var entryCount = 0
        var centroids: [UInt32]? = nil
        var values: Stream? = nil
        var gaps: Stream? = nil
    }

    private func makePlan() throws(DLAFormatError) -> Plan {
        let width = dataType.byteWidth
        if encoding == .dense {
            guard payload.count == elementCount * width else {
                throw error(.malformed, "dense payload holds \(payload.count) bytes, expected \(elementCount) elements × \(width) bytes", at: payload.lowerBound)
            }
            return Plan()
        }
        var reader = ByteReader(bytes, section: section, range: payload)
        reader.context = context
        var plan = Plan()
        let entryStart = reader.position
        let entries = try reader.u64("entry count")
        if encoding.isSparse {
            guard entries <= UInt64(elementCount) else {
                throw error(.malformed, "sparse entry count \(entries) exceeds the \(elementCount) elements", at: entryStart)
            }
        } else {
            guard entries == UInt64(elementCount) else {
                throw error(.malformed, "entry count \(entries) differs from the \(elementCount) elements", at: entryStart)
            }
        }
        plan.entryCount = Int(entries)
        if let bits = encoding.codebookBits {
            let countStart = reader.position
            let count = Int(try reader.u16("codebook size"))
            guard count <= 1 << bits else {
                throw error(.malformed, "codebook holds \(count) entries, more than 2^\(bits)", at: countStart)
            }
            let range = try reader.span(count * width, "codebook")
            let centroids = DLATensorValues.fromLittleEndian(bytes, range: range, dataType: dataType).codes
            for index in centroids.indices.dropFirst() where centroids[index] <= centroids[index - 1] {
                throw error(.malformed, "codebook entries are not strictly ascending", at: range.lowerBound + index * width)
            }
            plan.centroids = centroids
        }
        let valueMode: StreamMode
        let valueName = encoding.codebookBits == nil ? "value stream" : "index stream"
        if let bits = encoding.codebookBits {
            valueMode = encoding.huffmanValues ? .huffman(Huffman.DecodeTable(maxLength: 0, entries: [])) : .packed(bits: bits)
        } else if width == 1 {
            valueMode = encoding.huffmanValues ? .huffman(Huffman.DecodeTable(maxLength: 0, entries: [])) : .packed(bits: 8)
        } else {
            valueMode = .littleEndian(width: width)
        }
        plan.values = try stream(valueName, mode: valueMode, alphabetBits: encoding.codebookBits ?? 8,
                                 symbols: plan.entryCount, reader: &reader)
        if let gapBits = encoding.gapBits {
            let mode: StreamMode = encoding.huffmanGaps ? .huffman(Huffman.DecodeTable(maxLength: 0, entries: [])) : .packed(bits: gapBits)
            plan.gaps = try stream("gap stream", mode: mode, alphabetBits: gapBits, symbols: plan.entryCount, reader: &reader)
        }
        guard reader.isAtEnd else {
            throw error(.malformed, "\(reader.remaining) unexpected bytes after the last stream", at: reader.position)
        }
        return plan
    }

    /// Reads a stream's length and, for Huffman streams, its code-length table.
    private func stream(_ name: String, mode: StreamMode, alphabetBits: Int, symbols: Int,
                        reader: inout ByteReader) throws(DLAFormatError) -> Stream {
        let lengthStart = reader.position
        let length = Int(try reader.u32("\(name) length"))
        guard length <= reader.remaining else {
            throw error(.truncated, "\(name) length \(length) exceeds the \(reader.remaining) bytes left in the payload", at: lengthStart)
        }
        let range = try reader.span(length, name)
        switch mode {
        case .packed(let bits):
            let expected = (symbols * bits + 7) / 8
            guard length == expected else {
                throw error(.malformed, "\(name) holds \(length) bytes, expected \(expected) for \(symbols) \(bits)-bit symbols", at: lengthStart)
            }
            return Stream(name: name, mode: mode, range: range)
        case .littleEndian(let width):
            guard length == symbols * width else {
                throw error(.malformed, "\(name) holds \(length) bytes, expected \(symbols) values × \(width) bytes", at: lengthStart)
            }
            return Stream(name: name, mode: mode, range: range)
        case .huffman:
            let alphabet = 1 << alphabetBits
            let tableBytes = Huffman.tableBytes(alphabetSize: alphabet)
            guard length >= tableBytes else {
                throw error(.truncated, "\(name) Huffman table truncated (needs \(tableBytes) bytes, stream has \(length))", at: range.lowerBound)
            }
            var lengths = [UInt8](repeating: 0, count: alphabet)
            for symbol in 0..<alphabet {
                let byte = bytes[range.lowerBound + symbol / 2]
                lengths[symbol] = symbol % 2 == 0 ? byte & 0x0F : byte >> 4
            }
            switch Huffman.decodeTable(lengths: lengths) {
            case .failure(let failure):
                throw error(.malformed, "\(name): \(failure.message)", at: range.lowerBound)
            case .success(let table):
                if table.maxLength == 0 && symbols > 0 {
                    throw error(.malformed, "\(name) Huffman table has no codes but \(symbols) symbols follow", at: range.lowerBound)
                }
                return Stream(name: name, mode: .huffman(table), range: range.lowerBound + tableBytes..<range.upperBound)
            }
        }
    }

    // MARK: - Decoding

    /// Allocates the typed execution buffer and decodes into it through a same-width
    /// unsigned view (Float and Int32 as UInt32, Int8 as UInt8).
    private func fill<T, U: FixedWidthInteger & UnsignedInteger>(_: T.Type, as _: U.Type, _ plan: Plan) throws(DLAFormatError) -> [T] {
        var failure: DLAFormatError?
        let result = [T](unsafeUninitializedCapacity: elementCount) { buffer, initialized in
            buffer.withMemoryRebound(to: U.self) { codes in
                if encoding == .dense {
                    copyLittleEndian(into: codes)
                } else {
                    zeroCodes.fill(codes)
                    do throws(DLAFormatError) { try decodeEntries(plan, into: codes) } catch { failure = error }
                }
            }
            initialized = elementCount
        }
        if let failure { throw failure }
        return result
    }

    private func copyLittleEndian<U: FixedWidthInteger>(into codes: UnsafeMutableBufferPointer<U>) {
        let width = MemoryLayout<U>.size
        bytes.withUnsafeBytes { raw in
            let source = UnsafeRawBufferPointer(rebasing: raw[payload])
            for index in 0..<codes.count {
                codes.initializeElement(at: index, to: U(littleEndian: source.loadUnaligned(fromByteOffset: index * width, as: U.self)))
            }
        }
    }

    private func decodeEntries<U: FixedWidthInteger>(_ plan: Plan, into codes: UnsafeMutableBufferPointer<U>) throws(DLAFormatError) {
        guard let valueStream = plan.values else { return }
        var values = SymbolReader(bytes: bytes, stream: valueStream)
        let centroids = plan.centroids ?? []
        let useCodebook = plan.centroids != nil
        if let gapStream = plan.gaps {
            var gaps = SymbolReader(bytes: bytes, stream: gapStream)
            var position = -1
            for entry in 0..<plan.entryCount {
                let gapOffset = gaps.byteOffset
                let gap = try next(&gaps)
                position += Int(gap) + 1
                guard position < elementCount else {
                    throw error(.malformed, "sparse entry \(entry) lands on element \(position), past the \(elementCount) elements", at: gapOffset)
                }
                codes[position] = U(truncatingIfNeeded: try value(&values, centroids: centroids, useCodebook: useCodebook))
            }
            try finish(gaps)
        } else {
            for index in 0..<plan.entryCount {
                codes[index] = U(truncatingIfNeeded: try value(&values, centroids: centroids, useCodebook: useCodebook))
            }
        }
        try finish(values)
    }

    @inline(__always)
    private func value(_ reader: inout SymbolReader, centroids: [UInt32], useCodebook: Bool) throws(DLAFormatError) -> UInt32 {
        let offset = reader.byteOffset
        let symbol = try next(&reader)
        guard useCodebook else { return symbol }
        guard Int(symbol) < centroids.count else {
            throw error(.malformed, "codebook index \(symbol) exceeds the \(centroids.count)-entry codebook", at: offset)
        }
        return centroids[Int(symbol)]
    }

    @inline(__always)
    private func next(_ reader: inout SymbolReader) throws(DLAFormatError) -> UInt32 {
        switch reader.next() {
        case .symbol(let symbol): return symbol
        case .truncated: throw error(.truncated, "\(reader.name) truncated", at: reader.byteOffset)
        case .invalidCode: throw error(.malformed, "\(reader.name) holds an invalid Huffman code", at: reader.byteOffset)
        }
    }

    private func finish(_ reader: SymbolReader) throws(DLAFormatError) {
        guard reader.isExhausted else {
            throw error(.malformed, "\(reader.name) has unused bits after the last symbol", at: reader.byteOffset)
        }
    }

    /// Reads symbols of one stream; errors are reported by the caller with the offset.
    /// The mode is unpacked into plain fields so the per-symbol path copies nothing.
    private struct SymbolReader {
        enum Outcome { case symbol(UInt32), truncated, invalidCode }
        private enum Kind { case packed, huffman, littleEndian }

        let name: String
        private let kind: Kind
        /// Bits per packed symbol, longest Huffman code, or bytes per little-endian value.
        private let width: Int
        private let table: [UInt16]
        private var bits: BitReader
        private let bytes: [UInt8]
        private var rawPosition: Int
        private let rawEnd: Int

        init(bytes: [UInt8], stream: Stream) {
            name = stream.name
            switch stream.mode {
            case .packed(let bits):
                kind = .packed; width = bits; table = []
            case .huffman(let decodeTable):
                kind = .huffman; width = decodeTable.maxLength; table = decodeTable.entries
            case .littleEndian(let bytes):
                kind = .littleEndian; width = bytes; table = []
            }
            bits = BitReader(bytes, range: stream.range)
            self.bytes = bytes
            rawPosition = stream.range.lowerBound
            rawEnd = stream.range.upperBound
        }

        var byteOffset: Int { kind == .littleEndian ? rawPosition : bits.byteOffset }

        var isExhausted: Bool { kind == .littleEndian ? rawPosition == rawEnd : bits.isExhaustedWithZeroPadding }

        @inline(__always)
        mutating func next() -> Outcome {
            switch kind {
            case .packed:
                if bits.bufferedBits < width { bits.refill() }
                guard bits.bufferedBits >= width else { return .truncated }
                let symbol = bits.peek(width)
                bits.consume(width)
                return .symbol(symbol)
            case .huffman:
                if bits.bufferedBits < width { bits.refill() }
                let entry = table[Int(bits.peek(width))]
                let length = Int(entry & 0x0F)
                guard entry != 0 else { return .invalidCode }
                guard length <= bits.bufferedBits else { return .truncated }
                bits.consume(length)
                return .symbol(UInt32(entry >> 4))
            case .littleEndian:
                guard rawEnd - rawPosition >= width else { return .truncated }
                var value: UInt32 = 0
                for index in 0..<width { value |= UInt32(bytes[rawPosition + index]) << (8 * UInt32(index)) }
                rawPosition += width
                return .symbol(value)
            }
        }
    }
}
