import Testing
@testable import DLAFormat

/// Damaged and hostile files must always end in a `DLAFormatError` that names the section
/// and the byte offset — never a crash, a trap or a runaway allocation.
@Suite struct RobustnessTests {
    /// A model exercising every stream kind: packed and Huffman values, codebook, gaps.
    static let file: [UInt8] = {
        var model = ModelFixtures.defaultModel()
        let sparse = ModelFixtures.sparseInt8(count: 8 * 24, density: 0.2, distinct: 6, seed: 4)
        model.weights[0] = DLAWeightTensor(name: "fc1.weight", shape: [8, 24], values: .int8(sparse),
                                           quantization: .perTensor(scale: 0.1, zeroPoint: 0),
                                           encoding: DLATensorEncoding(gapBits: 3, codebookBits: 3, huffmanValues: true, huffmanGaps: true))
        model.weights.append(DLAWeightTensor(name: "fc1.packed", shape: [8, 24], values: .int8(sparse),
                                             encoding: DLATensorEncoding(gapBits: 2, codebookBits: 4)))
        model.weights.append(DLAWeightTensor(name: "fc1.huffman", shape: [192], values: .int8(sparse),
                                             encoding: DLATensorEncoding(huffmanValues: true)))
        model.weights.append(DLAWeightTensor(name: "fc1.raw16", shape: [4, 30], values: .float16((0..<120).map { $0 % 7 == 0 ? 0x3C00 : 0 }),
                                             encoding: DLATensorEncoding(gapBits: 5, huffmanGaps: true)))
        model.graph.operations[0].attributes += (2..<5).map { DLAAttribute("extra\($0)", .weight($0)) }
        return try! DLAFile.write(model, environment: [:])
    }()

    private func expectLocated(_ error: DLAFormatError, _ note: @autoclosure () -> String) {
        #expect(!error.section.isEmpty, "\(note())")
        #expect(error.offset != nil, "\(note()): \(error)")
        if let offset = error.offset { #expect(offset >= 0 && offset <= Self.file.count, "\(note()): \(error)") }
        #expect(error.description.hasPrefix(error.section), "\(note())")
    }

    @Test func validFileReads() throws {
        let loaded = try DLAFile.read(Self.file)
        #expect(loaded.weights.count == 5)
    }

    @Test func truncationAnywhereIsRejected() {
        for length in 0..<Self.file.count {
            do {
                _ = try DLAFile.read(Array(Self.file.prefix(length)))
                Issue.record("truncation to \(length) bytes accepted")
            } catch {
                expectLocated(error, "truncated to \(length)")
            }
        }
    }

    /// Truncation with the header and checksums patched to match, so that the cut reaches
    /// the section parsers (at every section boundary and every 7th byte).
    @Test func consistentTruncationIsRejected() {
        var cuts = Set(stride(from: 0, to: Self.file.count, by: 7))
        for section in FileSurgery.sections(Self.file) {
            cuts.formUnion([section.offset, section.offset + 1, section.offset + section.length - 1, section.offset + section.length])
        }
        for cut in cuts.sorted() where cut >= DLAFileLayout.headerSize && cut < Self.file.count {
            var bytes = Array(Self.file.prefix(cut))
            FileSurgery.setU64(&bytes, at: 16, UInt64(cut))
            FileSurgery.reseal(&bytes)
            do {
                _ = try DLAFile.read(bytes)
                Issue.record("consistent truncation to \(cut) accepted")
            } catch {
                expectLocated(error, "cut at \(cut)")
            }
        }
    }

    @Test func everyFlippedByteIsRejected() {
        for index in Self.file.indices {
            var bytes = Self.file
            bytes[index] ^= 0xFF
            do {
                _ = try DLAFile.read(bytes)
                Issue.record("flipped byte \(index) accepted")
            } catch {
                expectLocated(error, "flip at \(index)")
            }
        }
    }

    /// Flips behind re-sealed checksums: the parsers themselves must cope. Some flips give a
    /// different valid file (a changed weight value); the rest must be located errors.
    @Test func flippedBytesBehindValidChecksums() {
        var rejected = 0
        let body = DLAFileLayout.headerSize..<(Self.file.count - DLAFileLayout.trailerSize)
        for index in body {
            for pattern: UInt8 in index % 4 == 0 ? [0xFF, 0x01] : [0xFF] {
                var bytes = Self.file
                bytes[index] ^= pattern
                FileSurgery.reseal(&bytes)
                do {
                    _ = try DLAFile.read(bytes)
                } catch {
                    rejected += 1
                    expectLocated(error, "flip \(pattern) at \(index)")
                }
            }
        }
        #expect(rejected > body.count / 2)
    }

    /// Writes lying values into every count, length and offset field of the header, table
    /// and sections, re-sealed so only the lie is wrong. Such fields are the positions whose
    /// little-endian u32 is at most the file size (zero runs are tried at their start only).
    @Test func lyingFieldsAreRejected() {
        let file = Self.file
        var tried = 0
        for index in 8..<(file.count - DLAFileLayout.trailerSize - 8) {
            let original = FileSurgery.u32(file, at: index)
            guard original <= UInt32(file.count), original != 0 || file[index - 1] != 0 else { continue }
            var variants: [[UInt8]] = []
            for lie: UInt32 in [0xFFFF_FFFF, 0x7FFF_FFFF, original &+ 1] {
                var bytes = file
                FileSurgery.setU32(&bytes, at: index, lie)
                variants.append(bytes)
            }
            var wide = file
            FileSurgery.setU64(&wide, at: index, 1 << 40)
            variants.append(wide)
            for var bytes in variants {
                tried += 1
                FileSurgery.reseal(&bytes)
                do {
                    _ = try DLAFile.read(bytes)
                } catch {
                    expectLocated(error, "lie at \(index)")
                }
            }
        }
        #expect(tried > 400)
    }

    /// Several random bytes changed at once, re-sealed: a cheap fuzzer with a fixed seed.
    @Test func randomMultiByteDamage() {
        var random = ModelFixtures.Random(state: 77)
        let body = DLAFileLayout.headerSize..<(Self.file.count - DLAFileLayout.trailerSize)
        for round in 0..<400 {
            var bytes = Self.file
            for _ in 0...random.below(4) {
                bytes[body.lowerBound + random.below(body.count)] = UInt8(truncatingIfNeeded: random.next())
            }
            FileSurgery.reseal(&bytes)
            do {
                _ = try DLAFile.read(bytes)
            } catch {
                expectLocated(error, "round \(round)")
            }
        }
    }

    @Test func errorNamesSectionTensorAndOffset() throws {
        var bytes = Self.file
        let weights = try #require(FileSurgery.section(bytes, kind: .weights))
        let loaded = try DLAFile.read(bytes)
        // Payloads are laid out in order after the directory; find tensor 0's payload by its
        // encoded size, then claim one more sparse entry than the streams hold.
        let payloadStart = try #require((weights.offset..<weights.offset + weights.length).first { offset in
            offset % 64 == 0 && offset > weights.offset && FileSurgery.u64(bytes, at: offset) == UInt64(loaded.weights[0].nonzeroCount)
                || offset % 64 == 0 && offset > weights.offset && FileSurgery.u64(bytes, at: offset) > 0
                    && FileSurgery.u64(bytes, at: offset) < 192
        })
        let entries = FileSurgery.u64(bytes, at: payloadStart)
        FileSurgery.setU64(&bytes, at: payloadStart, entries + 40)
        FileSurgery.reseal(&bytes)
        let error = #expect(throws: DLAFormatError.self) { try DLAFile.read(bytes) }
        let text = error?.description ?? ""
        print("example error: \(text)")
        #expect(text.hasPrefix("weights section: tensor 0 'fc1.weight': "))
        #expect(text.contains("stream"))
        #expect(text.contains(" at byte "))
        #expect(error.map { $0.offset! > payloadStart } == true)
    }

    @Test func unknownMajorVersionIsAClearError() {
        var bytes = Self.file
        FileSurgery.setU32(&bytes, at: 8, 2 | 0 << 16)
        bytes[8] = 2
        bytes[9] = 0
        FileSurgery.reseal(&bytes)
        let error = #expect(throws: DLAFormatError.self) { try DLAFile.read(bytes) }
        #expect(error?.kind == .unsupportedVersion)
        #expect(error?.description == "header: format version 2.0 is not supported (this reader understands 1.x) at byte 8")
    }

    @Test func newerMinorVersionIsReadable() throws {
        var bytes = Self.file
        bytes[10] = 7
        FileSurgery.reseal(&bytes)
        let loaded = try DLAFile.read(bytes)
        #expect(loaded.formatVersion == DLAFormatVersion(major: 1, minor: 7))
        #expect(try DLAFile.formatVersion(of: bytes) == DLAFormatVersion(major: 1, minor: 7))
    }

    @Test func notADLAFile() {
        let error = #expect(throws: DLAFormatError.self) { try DLAFile.read(Array("hello, world".utf8)) }
        #expect(error?.kind == .badMagic)
    }

    /// A tiny file declaring a huge all-zero sparse tensor must hit the decoded-size cap
    /// before any allocation.
    @Test func decodedSizeIsCapped() throws {
        let tensor = DLAWeightTensor(name: "huge", shape: [4, 4], values: .int8([Int8](repeating: 0, count: 16)),
                                     encoding: DLATensorEncoding(gapBits: 8))
        let file = try DLAFile.write(ModelFixtures.model(weights: [tensor]), environment: [:])
        let weights = try #require(FileSurgery.section(file, kind: .weights))
        let dimensions = weights.offset + 4 + 4 + 4 + 1 + 3 + 1
        // 4 Gi elements (over the absolute cap), 128 Mi (over 4096 × file size + 64 MiB), 64 Mi (over 1 MiB).
        for (rows, columns, limit) in [(1 << 20, 1 << 12, 2 << 30), (1 << 16, 1 << 11, 2 << 30), (1 << 16, 1 << 10, 1 << 20)] {
            var bytes = file
            FileSurgery.setU64(&bytes, at: dimensions, UInt64(rows))
            FileSurgery.setU64(&bytes, at: dimensions + 8, UInt64(columns))
            FileSurgery.reseal(&bytes)
            let options = DLAReadOptions(limits: DLAResourceLimits(maxWeightBytes: limit))
            let error = #expect(throws: DLAFormatError.self) { try DLAFile.read(bytes, options: options) }
            #expect(error?.kind == .limitExceeded)
            #expect(error?.section == "weights section")
            #expect(error?.context == "tensor 0 'huge'")
            if limit == 1 << 20 {
                #expect(error?.message == "decoded weights would reach 67108864 bytes, past DLAResourceLimits.maxWeightBytes = 1048576")
            }
        }
    }

    /// A graph with more operations than `DLAResourceLimits.maxOperations` is refused before
    /// any operation is parsed, the error naming the limit and the count.
    @Test func operationCountIsCapped() throws {
        let file = try DLAFile.write(ModelFixtures.defaultModel(), environment: [:])
        let operations = try DLAFile.read(file).graph.operations.count
        #expect(try DLAFile.read(file, options: DLAReadOptions(limits: DLAResourceLimits(maxOperations: operations))).graph.operations.count == operations)
        let error = #expect(throws: DLAFormatError.self) {
            try DLAFile.read(file, options: DLAReadOptions(limits: DLAResourceLimits(maxOperations: operations - 1)))
        }
        #expect(error?.kind == .limitExceeded)
        #expect(error?.message == "\(operations) operations exceed DLAResourceLimits.maxOperations = \(operations - 1)")
    }
}
