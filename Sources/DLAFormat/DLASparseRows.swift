/// Execution form of a sparse tensor for zero-skipping: compressed sparse rows over
/// dimension 0 (the output channel). Row `r` covers the `rowLength` elements of
/// `shape[1...]` flattened row-major (for a convolution weight [K, C, R, S] the column of
/// element (c, r, s) is (c·R + r)·S + s); its nonzeros are
/// `columns[rowStarts[r] ..< rowStarts[r+1]]` with `values` at the same positions,
/// columns ascending. "Zero" means the element's zero code (its channel's zero point for
/// INT8/UINT8, the all-zero bit pattern otherwise, so −0.0 counts as nonzero).
public struct DLASparseRows: Sendable, Equatable {
    public let rows: Int
    public let rowLength: Int
    public let rowStarts: [Int32]
    public let columns: [Int32]
    public let values: DLATensorValues

    public var nonzeroCount: Int { columns.count }

    /// Row-compressed form of `values` of `shape`, or nil if indices do not fit Int32.
    static func build(_ values: DLATensorValues, shape: [Int], zeroCodes: ZeroCodes) -> DLASparseRows? {
        let rows = shape.first ?? 1
        let rowLength = rows == 0 ? 0 : values.count / rows
        guard rowLength <= Int(Int32.max), values.count <= Int(Int32.max) else { return nil }
        switch values {
        case .int8(let array): return compress(array, rows, rowLength, zeroCodes, { UInt32(UInt8(bitPattern: $0)) }, DLATensorValues.int8)
        case .uint8(let array): return compress(array, rows, rowLength, zeroCodes, { UInt32($0) }, DLATensorValues.uint8)
        case .fp8e4m3(let array): return compress(array, rows, rowLength, zeroCodes, { UInt32($0) }, DLATensorValues.fp8e4m3)
        case .fp8e5m2(let array): return compress(array, rows, rowLength, zeroCodes, { UInt32($0) }, DLATensorValues.fp8e5m2)
        case .float16(let array): return compress(array, rows, rowLength, zeroCodes, { UInt32($0) }, DLATensorValues.float16)
        case .int32(let array): return compress(array, rows, rowLength, zeroCodes, { UInt32(bitPattern: $0) }, DLATensorValues.int32)
        case .float32(let array): return compress(array, rows, rowLength, zeroCodes, { $0.bitPattern }, DLATensorValues.float32)
        }
    }

    private static func compress<T>(
        _ array: [T], _ rows: Int, _ rowLength: Int, _ zeroCodes: ZeroCodes,
        _ code: (T) -> UInt32, _ wrap: ([T]) -> DLATensorValues
    ) -> DLASparseRows {
        var rowStarts: [Int32] = [0]
        rowStarts.reserveCapacity(rows + 1)
        var columns: [Int32] = []
        var kept: [T] = []
        for row in 0..<rows {
            let base = row * rowLength
            for column in 0..<rowLength where code(array[base + column]) != zeroCodes.code(at: base + column) {
                columns.append(Int32(column))
                kept.append(array[base + column])
            }
            rowStarts.append(Int32(columns.count))
        }
        return DLASparseRows(rows: rows, rowLength: rowLength, rowStarts: rowStarts, columns: columns, values: wrap(kept))
    }

    /// Number of elements of `values` that differ from their zero code.
    static func nonzeroCount(_ values: DLATensorValues, zeroCodes: ZeroCodes) -> Int {
        func count<T>(_ array: [T], _ code: (T) -> UInt32) -> Int {
            var total = 0
            if zeroCodes.isUniform {
                let zero = zeroCodes.channelCodes[0]
                for element in array where code(element) != zero { total += 1 }
            } else {
                for index in array.indices where code(array[index]) != zeroCodes.code(at: index) { total += 1 }
            }
            return total
        }
        switch values {
        case .int8(let array): return count(array) { UInt32(UInt8(bitPattern: $0)) }
        case .uint8(let array), .fp8e4m3(let array), .fp8e5m2(let array): return count(array) { UInt32($0) }
        case .float16(let array): return count(array) { UInt32($0) }
        case .int32(let array): return count(array) { UInt32(bitPattern: $0) }
        case .float32(let array): return count(array) { $0.bitPattern }
        }
    }
}
