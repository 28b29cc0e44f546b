/// Canonical, length-limited Huffman codes over alphabets of at most 256 symbols.
///
/// Code lengths come from the package-merge algorithm (Larmore & Hirschberg), which gives
/// the optimal code under the length limit; only the lengths are stored, and both sides
/// rebuild the same canonical codes from them (shorter codes first, then by symbol).
enum Huffman {
    /// Longest code; lengths fit in a nibble and a decode table has at most 2^15 entries.
    static let maxCodeLength = 15

    /// Optimal code lengths (0 for absent symbols) with no length above `maxCodeLength`.
    static func codeLengths(frequencies: [Int]) -> [UInt8] {
        var lengths = [UInt8](repeating: 0, count: frequencies.count)
        let symbols = frequencies.indices.filter { frequencies[$0] > 0 }
            .sorted { (frequencies[$0], $0) < (frequencies[$1], $1) }
        if symbols.isEmpty { return lengths }
        if symbols.count == 1 {
            lengths[symbols[0]] = 1
            return lengths
        }
        // Nodes are leaves (symbol ≥ 0) or packages of two nodes (symbol = -1).
        var weight: [Int] = [], left: [Int] = [], right: [Int] = [], symbol: [Int] = []
        for leaf in symbols {
            weight.append(frequencies[leaf]); left.append(-1); right.append(-1); symbol.append(leaf)
        }
        let leaves = Array(0..<symbols.count)
        var list = leaves
        for _ in 1..<maxCodeLength {
            var packages: [Int] = []
            var index = 0
            while index + 1 < list.count {
                weight.append(weight[list[index]] + weight[list[index + 1]])
                left.append(list[index]); right.append(list[index + 1]); symbol.append(-1)
                packages.append(weight.count - 1)
                index += 2
            }
            var merged: [Int] = []
            merged.reserveCapacity(leaves.count + packages.count)
            var leafIndex = 0, packageIndex = 0
            while leafIndex < leaves.count || packageIndex < packages.count {
                if packageIndex == packages.count
                    || (leafIndex < leaves.count && weight[leaves[leafIndex]] <= weight[packages[packageIndex]]) {
                    merged.append(leaves[leafIndex]); leafIndex += 1
                } else {
                    merged.append(packages[packageIndex]); packageIndex += 1
                }
            }
            list = merged
        }
        var stack = Array(list.prefix(2 * symbols.count - 2))
        while let node = stack.popLast() {
            if symbol[node] >= 0 {
                lengths[symbol[node]] += 1
            } else {
                stack.append(left[node]); stack.append(right[node])
            }
        }
        return lengths
    }

    /// Canonical codes for `lengths` (MSB-first code values).
    static func canonicalCodes(lengths: [UInt8]) -> [UInt32] {
        var countPerLength = [UInt32](repeating: 0, count: maxCodeLength + 1)
        for length in lengths where length > 0 { countPerLength[Int(length)] += 1 }
        var nextCode = [UInt32](repeating: 0, count: maxCodeLength + 2)
        var code: UInt32 = 0
        for length in 1...maxCodeLength {
            code = (code + countPerLength[length - 1]) << 1
            nextCode[length] = code
        }
        var codes = [UInt32](repeating: 0, count: lengths.count)
        for symbol in lengths.indices where lengths[symbol] > 0 {
            codes[symbol] = nextCode[Int(lengths[symbol])]
            nextCode[Int(lengths[symbol])] += 1
        }
        return codes
    }

    /// Bits needed to code a stream with these frequencies and lengths.
    static func payloadBits(frequencies: [Int], lengths: [UInt8]) -> Int {
        zip(frequencies, lengths).reduce(0) { $0 + $1.0 * Int($1.1) }
    }

    /// Bytes of the stored length table for an alphabet of `alphabetSize` symbols (a nibble each).
    static func tableBytes(alphabetSize: Int) -> Int { (alphabetSize + 1) / 2 }

    static func packLengths(_ lengths: [UInt8]) -> [UInt8] {
        var table = [UInt8](repeating: 0, count: tableBytes(alphabetSize: lengths.count))
        for (symbol, length) in lengths.enumerated() {
            table[symbol / 2] |= symbol % 2 == 0 ? length : length << 4
        }
        return table
    }

    /// Lookup table for decoding: indexed by the next `maxLength` bits, each entry holds
    /// `symbol << 4 | length`, or 0 where no code starts with those bits.
    struct DecodeTable {
        let maxLength: Int
        let entries: [UInt16]
    }

    /// Validates stored lengths (a prefix code that is complete, or a single 1-bit code)
    /// and builds the table. Returns a message on failure.
    static func decodeTable(lengths: [UInt8]) -> Result<DecodeTable, HuffmanTableError> {
        var kraft = 0
        var maxLength = 0
        var used = 0
        for length in lengths where length > 0 {
            kraft += 1 << (maxCodeLength - Int(length))
            maxLength = max(maxLength, Int(length))
            used += 1
        }
        if used == 0 { return .success(DecodeTable(maxLength: 0, entries: [])) }
        let complete = kraft == 1 << maxCodeLength
        let singleCode = used == 1 && maxLength == 1
        guard complete || singleCode else {
            return .failure(HuffmanTableError(message: kraft > 1 << maxCodeLength
                ? "Huffman code lengths are oversubscribed" : "Huffman code lengths are incomplete"))
        }
        let codes = canonicalCodes(lengths: lengths)
        var entries = [UInt16](repeating: 0, count: 1 << maxLength)
        for symbol in lengths.indices where lengths[symbol] > 0 {
            let length = Int(lengths[symbol])
            let first = Int(codes[symbol]) << (maxLength - length)
            let entry = UInt16(symbol) << 4 | UInt16(length)
            for index in first..<first + (1 << (maxLength - length)) { entries[index] = entry }
        }
        return .success(DecodeTable(maxLength: maxLength, entries: entries))
    }

    struct HuffmanTableError: Error {
        let message: String
    }
}
