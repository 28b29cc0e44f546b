import Testing
@testable import DLAFormat

@Suite struct HuffmanTests {
    /// Code lengths of an unlimited Huffman code, by repeated merging (the textbook reference).
    private func unlimitedLengths(_ frequencies: [Int]) -> [Int] {
        var nodes: [(weight: Int, symbols: [Int])] = frequencies.indices.filter { frequencies[$0] > 0 }
            .map { (frequencies[$0], [$0]) }
        var lengths = [Int](repeating: 0, count: frequencies.count)
        if nodes.count == 1 { lengths[nodes[0].symbols[0]] = 1 }
        while nodes.count > 1 {
            nodes.sort { $0.weight < $1.weight }
            let a = nodes.removeFirst(), b = nodes.removeFirst()
            for symbol in a.symbols + b.symbols { lengths[symbol] += 1 }
            nodes.append((a.weight + b.weight, a.symbols + b.symbols))
        }
        return lengths
    }

    private func kraftSum(_ lengths: [UInt8]) -> Int {
        lengths.filter { $0 > 0 }.reduce(0) { $0 + (1 << (Huffman.maxCodeLength - Int($1))) }
    }

    @Test func optimalWhenTheLimitDoesNotBind() {
        var random = ModelFixtures.Random(state: 3)
        for _ in 0..<20 {
            let frequencies = (0..<64).map { _ in random.below(4) == 0 ? 0 : random.below(1000) + 1 }
            let lengths = Huffman.codeLengths(frequencies: frequencies)
            let reference = unlimitedLengths(frequencies)
            guard reference.max() ?? 0 <= Huffman.maxCodeLength else { continue }
            #expect(Huffman.payloadBits(frequencies: frequencies, lengths: lengths)
                == zip(frequencies, reference).reduce(0) { $0 + $1.0 * $1.1 })
            #expect(kraftSum(lengths) == 1 << Huffman.maxCodeLength)
        }
    }

    /// Fibonacci frequencies make an unlimited Huffman code as deep as the alphabet; the
    /// package-merge lengths must stop at 15 and still form a complete prefix code.
    @Test func lengthsAreLimitedAndComplete() {
        var fibonacci = [1, 1]
        while fibonacci.count < 30 { fibonacci.append(fibonacci[fibonacci.count - 1] + fibonacci[fibonacci.count - 2]) }
        #expect(unlimitedLengths(fibonacci).max()! > Huffman.maxCodeLength)
        let lengths = Huffman.codeLengths(frequencies: fibonacci)
        #expect(lengths.max()! == UInt8(Huffman.maxCodeLength))
        #expect(kraftSum(lengths) == 1 << Huffman.maxCodeLength)
        guard case .success = Huffman.decodeTable(lengths: lengths) else {
            Issue.record("limited lengths were rejected")
            return
        }
    }

    @Test func canonicalCodesArePrefixFree() {
        let lengths: [UInt8] = [3, 3, 3, 3, 3, 2, 4, 4]
        let codes = Huffman.canonicalCodes(lengths: lengths)
        #expect(codes == [2, 3, 4, 5, 6, 0, 14, 15])
        for a in lengths.indices {
            for b in lengths.indices where a != b && lengths[a] <= lengths[b] {
                #expect(codes[b] >> UInt32(lengths[b] - lengths[a]) != codes[a])
            }
        }
    }

    @Test func rejectsOversubscribedAndIncompleteTables() {
        guard case .failure = Huffman.decodeTable(lengths: [1, 1, 1]) else {
            Issue.record("oversubscribed lengths accepted")
            return
        }
        guard case .failure = Huffman.decodeTable(lengths: [2, 2, 2, 0]) else {
            Issue.record("incomplete lengths accepted")
            return
        }
        guard case .success = Huffman.decodeTable(lengths: [0, 1, 0]) else {
            Issue.record("a single one-bit code was rejected")
            return
        }
    }
}
