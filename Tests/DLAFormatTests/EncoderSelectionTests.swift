import Testing
@testable import DLAFormat

@Suite struct EncoderSelectionTests {
    @Test func writerPicksTheSmallestCandidate() throws {
        for (density, distinct) in [(1.0, 255), (0.5, 255), (0.1, 255), (0.1, 16), (0.02, 4), (0.9, 8)] {
            let values = ModelFixtures.sparseInt8(count: 2000, density: density, distinct: distinct)
            let tensor = DLAWeightTensor(name: "w", shape: [40, 50], values: .int8(values),
                                         quantization: .perTensor(scale: 0.01, zeroPoint: 0))
            let candidates = DLATensorEncoder(tensor).candidates()
            let minimum = try #require(candidates.map(\.storedBytes).min())
            let loaded = try DLAFile.read(try DLAFile.write(ModelFixtures.model(weights: [tensor]), environment: [:]))
            #expect(loaded.weights[0].storedBytes == minimum, "density \(density), \(distinct) values")
            #expect(loaded.weights[0].values == tensor.values)
            #expect(candidates.contains { $0.encoding == loaded.weights[0].encoding && $0.storedBytes == minimum })
        }
    }

    @Test func reportDescribesTheChoice() {
        let values = ModelFixtures.sparseInt8(count: 1000, density: 0.25, distinct: 8)
        let tensor = DLAWeightTensor(name: "w", shape: [10, 100], values: .int8(values))
        let encoder = DLATensorEncoder(tensor)
        let report = encoder.report()
        #expect(report.encoding == encoder.smallest().encoding)
        #expect(report.storedBytes == encoder.smallest().storedBytes)
        #expect(report.nonzeroCount == values.filter { $0 != 0 }.count)
        #expect(report.density == Double(report.nonzeroCount) / 1000)
        #expect(report.bitsPerWeight == Double(report.storedBytes * 8) / 1000)
        #expect(report.candidates == encoder.candidates())
    }

    @Test func denseFloat32OnlyHasDenseAndSparseForms() {
        let tensor = DLAWeightTensor(name: "b", shape: [300], values: .float32((0..<300).map { Float($0) * 0.37 }))
        let candidates = DLATensorEncoder(tensor).candidates()
        #expect(!candidates.contains { $0.encoding.huffmanValues && $0.encoding.codebookBits == nil })
        #expect(DLATensorEncoder(tensor).smallest().encoding == .dense)
        #expect(!candidates.contains { $0.encoding.codebookBits != nil })
    }

    /// The costs quoted in the documentation: a 784×300 INT8 layer with 90 % of its weights
    /// pruned, under each encoding (LeNet-300-100's first layer, as in Deep Compression).
    @Test func ninetyPercentSparseLayerCosts() throws {
        let elements = 784 * 300
        // Nonzeros either spread over all 255 INT8 codes, or clustered to 16 shared values
        // with a bell-shaped histogram (what k-means weight sharing leaves).
        var random = ModelFixtures.Random(state: 2024)
        let shared: [Int8] = [-90, -64, -45, -32, -22, -15, -9, -4, 4, 9, 15, 22, 32, 45, 64, 90]
        let sharedWeights: [Int] = [1, 2, 4, 7, 11, 15, 19, 21, 21, 19, 15, 11, 7, 4, 2, 1]
        let cumulative = sharedWeights.reduce(into: [Int]()) { $0.append(($0.last ?? 0) + $1) }
        let clustered: [Int8] = (0..<elements).map { _ in
            guard random.chance(0.1) else { return 0 }
            let pick = random.below(cumulative.last!)
            return shared[cumulative.firstIndex { pick < $0 }!]
        }
        let uniform = ModelFixtures.sparseInt8(count: elements, density: 0.1, distinct: 255, seed: 99)
        var table = "90 %-sparse 784×300 INT8 layer (\(elements) weights; FP32 = \(4 * elements) bytes)\n"
        table += "encoding                                    | bytes (255 values) | bits/w | bytes (16 shared) | bits/w\n"
        var sizes: [String: (Int, Int)] = [:]
        var order: [String] = []
        for (column, values) in [uniform, clustered].enumerated() {
            let tensor = DLAWeightTensor(name: "fc1.weight", shape: [300, 784], values: .int8(values),
                                         quantization: .perTensor(scale: 0.01, zeroPoint: 0))
            let candidates = DLATensorEncoder(tensor).candidates()
            func add(_ label: String, _ bytes: Int) {
                if sizes[label] == nil { order.append(label); sizes[label] = (-1, -1) }
                if column == 0 { sizes[label]!.0 = bytes } else { sizes[label]!.1 = bytes }
            }
            func size(_ encoding: DLATensorEncoding) -> Int? { candidates.first { $0.encoding == encoding }?.storedBytes }
            func best(_ filter: (DLATensorEncoding) -> Bool) -> DLATensorEncoder.Candidate {
                candidates.filter { filter($0.encoding) }.min { $0.storedBytes < $1.storedBytes }!
            }
            add("dense int8", size(.dense)!)
            add("dense + Huffman", size(DLATensorEncoding(huffmanValues: true))!)
            add("sparse, 4-bit gaps (EIE)", size(DLATensorEncoding(gapBits: 4))!)
            let sparse = best { $0.isSparse && $0.codebookBits == nil && !$0.huffmanValues && !$0.huffmanGaps }
            add("sparse, best gap width (\(sparse.encoding.gapBits!) bits)", sparse.storedBytes)
            let codebook = best { $0.isSparse && $0.codebookBits != nil && !$0.huffmanValues && !$0.huffmanGaps }
            add("sparse + codebook", codebook.storedBytes)
            let huffman = best { $0.isSparse && $0.codebookBits == nil && $0.huffmanValues && $0.huffmanGaps }
            add("sparse + Huffman (values, gaps)", huffman.storedBytes)
            let all = best { $0.isSparse && $0.codebookBits != nil && $0.huffmanValues && $0.huffmanGaps }
            add("sparse + codebook + Huffman (indices, gaps)", all.storedBytes)
            let smallest = try #require(candidates.min { $0.storedBytes < $1.storedBytes })
            add("smallest: \(smallest.encoding)", smallest.storedBytes)

            #expect(sparse.storedBytes < size(.dense)!)
            #expect(huffman.storedBytes < sparse.storedBytes)
            #expect(smallest.storedBytes <= all.storedBytes)
            // The writer verifies by reading back that the chosen encoding reproduces the values.
            var chosen = tensor
            chosen.encoding = smallest.encoding
            let bytes = try DLAFile.write(ModelFixtures.model(weights: [chosen]), environment: [:])
            #expect(bytes.count < smallest.storedBytes + 1024)
        }
        for label in order {
            let (a, b) = sizes[label]!
            func cell(_ bytes: Int) -> String {
                bytes < 0 ? "—" : pad("\(bytes)", 8)
                    + " | " + String(format2(Double(bytes * 8) / Double(elements)))
            }
            table += pad(label, 43) + " | " + cell(a) + " | " + cell(b) + "\n"
        }
        print(table)
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }

    private func format2(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }
}
