import Testing
@testable import DLAFormat

/// Writer → reader round trips of every encoding for every data type.
@Suite struct EncodingRoundTripTests {
    /// A [4, 30] tensor, ~30 % dense, whose nonzeros take 3 distinct codes (so every codebook
    /// width fits even with the filler zero), with zero runs long enough to need fillers.
    static func tensor(_ dataType: DLADataType, quantization: DLAQuantization = .none, seed: UInt64 = 11) -> DLAWeightTensor {
        let shape = [4, 30]
        let zeroCodes = ZeroCodes(dataType: dataType, quantization: quantization, shape: shape)
        var random = ModelFixtures.Random(state: seed)
        let palette: [UInt32]
        switch dataType {
        case .int8, .uint8: palette = [0x05, 0x80, 0xFB]
        case .fp8e4m3, .fp8e5m2: palette = [0x38, 0xB8, 0x7F]
        case .float16: palette = [0x3C00, 0xBC00, 0x8000]
        case .int32: palette = [7, 0xFFFF_FF00, 123_456_789]
        case .float32: palette = [Float(1.5).bitPattern, (-0.0 as Float).bitPattern, 0x7FC0_1234]
        }
        var codes: [UInt32] = []
        for index in 0..<120 {
            let zeroRun = (40..<75).contains(index)
            codes.append(!zeroRun && random.chance(0.3) ? palette[random.below(3)] : zeroCodes.code(at: index))
        }
        return DLAWeightTensor(name: "w.\(dataType)", shape: shape, values: DLATensorValues(codes: codes, dataType: dataType),
                               quantization: quantization)
    }

    /// Every combination, with gap widths `gapWidths` (all of 1…8 by default).
    static func allEncodings(for dataType: DLADataType, gapWidths: [Int] = Array(1...8)) -> [DLATensorEncoding] {
        var result: [DLATensorEncoding] = []
        for gapBits in [nil] + gapWidths {
            for codebookBits in [nil] + Array(2...8) {
                for huffmanValues in [false, true] {
                    for huffmanGaps in [false, true] {
                        let encoding = DLATensorEncoding(gapBits: gapBits, codebookBits: codebookBits,
                                                         huffmanValues: huffmanValues, huffmanGaps: huffmanGaps)
                        if encoding.applies(to: dataType) { result.append(encoding) }
                    }
                }
            }
        }
        return result
    }

    static let cases: [(DLADataType, DLAQuantization)] = [
        (.int8, .perTensor(scale: 0.02, zeroPoint: 0)),
        (.int8, .perChannel(axis: 0, scales: [0.1, 0.2, 0.3, 0.4], zeroPoints: [0, 0, 0, 0])),
        (.uint8, .perTensor(scale: 0.05, zeroPoint: 128)),
        (.uint8, .perChannel(axis: 0, scales: [0.1, 0.2, 0.3, 0.4], zeroPoints: [128, 0, 3, 255])),
        (.uint8, .perChannel(axis: 1, scales: [Float](repeating: 0.5, count: 30), zeroPoints: (0..<30).map { Int32($0 * 8) })),
        (.fp8e4m3, .perTensor(scale: 0.5, zeroPoint: 0)),
        (.fp8e4m3, .perChannel(axis: 0, scales: [1, 2, 4, 8], zeroPoints: [0, 0, 0, 0])),
        (.fp8e5m2, .perTensor(scale: 0.25, zeroPoint: 0)),
        (.fp8e5m2, .perChannel(axis: 0, scales: [1, 2, 4, 8], zeroPoints: [0, 0, 0, 0])),
        (.float16, .none),
        (.float32, .none),
        (.int32, .perTensor(scale: 0.001, zeroPoint: 0)),
    ]

    @Test(arguments: 0..<cases.count)
    func everyEncodingRoundTrips(caseIndex: Int) throws {
        let (dataType, quantization) = Self.cases[caseIndex]
        let base = Self.tensor(dataType, quantization: quantization)
        // Gap widths 1, 2, 3 need filler entries in this tensor, 5 and 8 do not; the codec-level
        // test below covers every width.
        let encodings = Self.allEncodings(for: dataType, gapWidths: [1, 2, 3, 5, 8])
        let encoder = DLATensorEncoder(base)
        var written = 0
        for encoding in encodings {
            var tensor = base
            tensor.encoding = encoding
            if let reason = encoder.inapplicability(of: encoding) {
                #expect(encoding.codebookBits != nil && encoding.codebookBits! < 8, "\(reason)")
                #expect(throws: DLAFormatError.self) { try DLAFile.write(ModelFixtures.model(weights: [tensor])) }
                continue
            }
            written += 1
            let bytes = try DLAFile.write(ModelFixtures.model(weights: [tensor]), environment: ModelFixtures.noEnvironment)
            let loaded = try DLAFile.read(bytes, options: DLAReadOptions(sparseDensityThreshold: 1))
            let weight = loaded.weights[0]
            #expect(weight.encoding == encoding)
            #expect(weight.values == tensor.values, "\(dataType) \(encoding)")
            #expect(weight.quantization == quantization)
            let rows = try #require(weight.sparseRows)
            #expect(Self.dense(rows, zeroCodes: ZeroCodes(dataType: dataType, quantization: quantization, shape: tensor.shape)) == tensor.values)
            #expect(rows.nonzeroCount == weight.nonzeroCount)
        }
        #expect(written >= 50)
    }

    /// Codebooks of every width filled to capacity (2^b distinct codes), dense and sparse.
    @Test(arguments: 2...8)
    func fullCodebooks(bits: Int) throws {
        let distinct = 1 << bits
        var random = ModelFixtures.Random(state: UInt64(bits))
        let codes: [Int8] = (0..<600).map { index in
            index < distinct ? Int8(truncatingIfNeeded: index) : (random.chance(0.5) ? 0 : Int8(truncatingIfNeeded: random.below(distinct)))
        }
        for encoding in [DLATensorEncoding(codebookBits: bits), DLATensorEncoding(codebookBits: bits, huffmanValues: true),
                         DLATensorEncoding(gapBits: 8, codebookBits: bits, huffmanValues: true, huffmanGaps: true)] {
            let tensor = DLAWeightTensor(name: "w", shape: [20, 30], values: .int8(codes),
                                         quantization: .perTensor(scale: 1, zeroPoint: 0), encoding: encoding)
            let loaded = try DLAFile.read(try DLAFile.write(ModelFixtures.model(weights: [tensor]), environment: ModelFixtures.noEnvironment))
            #expect(loaded.weights[0].values == tensor.values)
        }
        var tooMany = DLAWeightTensor(name: "w", shape: [20, 30], values: .int8(codes), encoding: DLATensorEncoding(codebookBits: bits - 1 < 2 ? 2 : bits - 1))
        if bits > 2 {
            tooMany.encoding = DLATensorEncoding(codebookBits: bits - 1)
            #expect(throws: DLAFormatError.self) { try DLAFile.write(ModelFixtures.model(weights: [tooMany])) }
        }
    }

    /// Encoder sizes are exact, and every candidate decodes to the input.
    @Test func candidateSizesMatchEncodedPayloads() throws {
        for (dataType, quantization) in Self.cases {
            let tensor = Self.tensor(dataType, quantization: quantization, seed: 5)
            let encoder = DLATensorEncoder(tensor)
            for candidate in encoder.candidates() {
                let payload = try encoder.encode(candidate.encoding)
                #expect(payload.count == candidate.storedBytes, "\(dataType) \(candidate.encoding)")
                let decoded = try TensorPayloadDecoder(
                    bytes: payload, payload: 0..<payload.count, dataType: dataType, elementCount: tensor.values.count,
                    zeroCodes: encoder.zeroCodes, encoding: candidate.encoding, section: "test", context: "tensor").decode()
                #expect(decoded == tensor.values, "\(dataType) \(candidate.encoding)")
            }
        }
    }

    @Test func allZeroAndAllNonzeroTensors() throws {
        for values in [DLATensorValues.int8([Int8](repeating: 0, count: 64)), .int8((0..<64).map { Int8($0 % 100 + 1) })] {
            for encoding in Self.allEncodings(for: .int8) {
                let tensor = DLAWeightTensor(name: "w", shape: [8, 8], values: values, encoding: encoding)
                guard DLATensorEncoder(tensor).inapplicability(of: encoding) == nil else { continue }
                let loaded = try DLAFile.read(try DLAFile.write(ModelFixtures.model(weights: [tensor]), environment: ModelFixtures.noEnvironment))
                #expect(loaded.weights[0].values == values, "\(encoding)")
            }
        }
    }

    /// Rebuilds dense values from the row-compressed form (the engine's view).
    static func dense(_ rows: DLASparseRows, zeroCodes: ZeroCodes) -> DLATensorValues {
        var codes = (0..<rows.rows * rows.rowLength).map { zeroCodes.code(at: $0) }
        for row in 0..<rows.rows {
            for position in Int(rows.rowStarts[row])..<Int(rows.rowStarts[row + 1]) {
                codes[row * rows.rowLength + Int(rows.columns[position])] = rows.values.code(at: position)
            }
        }
        return DLATensorValues(codes: codes, dataType: rows.values.dataType)
    }
}
