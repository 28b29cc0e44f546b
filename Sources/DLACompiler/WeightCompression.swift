/// Deep Compression's first two stages on a layer's codes (Han et al.): magnitude pruning and
/// k-means weight sharing. Huffman coding, the third, is the `.dla` encoder's choice per tensor.
public struct CompressionOptions: Sendable, Hashable {
    public enum PruneScope: String, Sendable, Hashable, CaseIterable {
        /// Every layer to the same sparsity.
        case layer
        /// One magnitude threshold for the whole model: layers with many small weights lose more.
        case global
    }

    /// Target fraction of zero weights (0..<1); nil keeps the zeros the model has.
    public var sparsity: Double?
    public var scope: PruneScope
    /// Bits per shared value (1–8): at most 2^bits distinct nonzero codes per layer.
    public var shareBits: Int?

    public init(sparsity: Double? = nil, scope: PruneScope = .layer, shareBits: Int? = nil) {
        self.sparsity = sparsity
        self.scope = scope
        self.shareBits = shareBits
    }
}

/// What compression did to one layer, for the report.
public struct LayerCompression: Sendable, Hashable {
    public var prunedWeights: Int
    /// Distinct nonzero codes after sharing; nil if sharing was not asked for.
    public var sharedValues: Int?
    /// True when the layer already had at most 2^bits distinct values and was kept exactly.
    public var alreadyShared: Bool
}

enum WeightCompression {
    /// Zeros every weight whose real magnitude `|value(code)| × scale_c` is below `threshold`, or
    /// the smallest `sparsity` fraction when no threshold is given. Returns how many were zeroed.
    static func prune(_ weights: inout LayerWeights, sparsity: Double?, threshold: Double?) -> Int {
        let length = weights.channelLength
        let magnitudes = weights.codes.indices.map { Double(abs(weights.value(ofCode: weights.codes[$0]))) * Double(weights.scales[$0 / max(length, 1)]) }
        var cut: Double
        if let threshold {
            cut = threshold
        } else if let sparsity {
            let count = Int((sparsity * Double(magnitudes.count)).rounded())
            guard count > 0 else { return 0 }
            let sorted = magnitudes.sorted()
            cut = sorted[min(count, sorted.count) - 1]
            // Ties at the cut: prune in index order until the count is reached.
            var remaining = count - magnitudes.filter { $0 < cut }.count
            var pruned = 0
            for i in magnitudes.indices where magnitudes[i] <= cut {
                if magnitudes[i] == cut {
                    guard remaining > 0 else { continue }
                    remaining -= 1
                }
                if !weights.isZero(weights.codes[i]) { pruned += 1 }
                weights.codes[i] = weights.code(ofValue: 0)
            }
            return pruned
        } else {
            return 0
        }
        var pruned = 0
        for i in magnitudes.indices where magnitudes[i] < cut && !weights.isZero(weights.codes[i]) {
            weights.codes[i] = weights.code(ofValue: 0)
            pruned += 1
        }
        return pruned
    }

    /// The magnitude below which the `sparsity` fraction of all layers' weights lies.
    static func globalThreshold(_ layers: [[Double]], sparsity: Double) -> Double {
        let all = layers.flatMap { $0 }.sorted()
        let count = Int((sparsity * Double(all.count)).rounded())
        guard count > 0, !all.isEmpty else { return 0 }
        return count >= all.count ? .infinity : all[count]
    }

    /// k-means over the layer's nonzero code values (linear initialization between the smallest
    /// and largest, as Deep Compression recommends), each weight replaced by its centroid's
    /// nearest code. Zeros stay zero. A layer with at most 2^bits distinct nonzero codes is left
    /// as it is. Returns (distinct values after, already shared).
    static func share(_ weights: inout LayerWeights, bits: Int) -> (Int, Bool) {
        let clusters = 1 << bits
        var distinct = Set<Int32>()
        for code in weights.codes where !weights.isZero(code) { distinct.insert(code) }
        if distinct.count <= clusters { return (distinct.count, true) }
        let values = weights.codes.compactMap { weights.isZero($0) ? nil : Double(weights.value(ofCode: $0)) }
        guard let low = values.min(), let high = values.max() else { return (0, true) }
        var centroids = (0..<clusters).map { low + (high - low) * Double($0) / Double(clusters - 1) }
        // Lloyd's iterations on the distinct values weighted by their counts (at most 256 for
        // 8-bit codes, so each pass is cheap).
        var counts: [Double: Double] = [:]
        for value in values { counts[value, default: 0] += 1 }
        let points = counts.keys.sorted()
        func nearest(_ x: Double) -> Int {
            var best = 0
            for k in 1..<centroids.count where abs(centroids[k] - x) < abs(centroids[best] - x) { best = k }
            return best
        }
        for _ in 0..<50 {
            var sums = [Double](repeating: 0, count: clusters), weightsPerCluster = [Double](repeating: 0, count: clusters)
            for x in points {
                let k = nearest(x)
                sums[k] += x * counts[x]!
                weightsPerCluster[k] += counts[x]!
            }
            var moved = false
            for k in 0..<clusters where weightsPerCluster[k] > 0 {
                let updated = sums[k] / weightsPerCluster[k]
                if updated != centroids[k] { moved = true }
                centroids[k] = updated
            }
            if !moved { break }
        }
        var mapping: [Int32: Int32] = [:]
        for code in distinct {
            mapping[code] = weights.code(ofValue: Float(centroids[nearest(Double(weights.value(ofCode: code)))]))
        }
        for i in weights.codes.indices where !weights.isZero(weights.codes[i]) {
            weights.codes[i] = mapping[weights.codes[i]]!
        }
        var after = Set<Int32>()
        for code in weights.codes where !weights.isZero(code) { after.insert(code) }
        return (after.count, false)
    }
}
