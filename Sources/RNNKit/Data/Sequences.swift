/// A batch of labelled sequences, ready for a model.
public struct SupervisedBatch {
    /// `(B, T, F)`, zero past each sample's length; T is the batch's longest length.
    public var inputs: Tensor<Float>
    /// Each sample's length, or nil when every sample has all T steps.
    public var lengths: [Int]?
    /// Class indices (classification): one per sample, or with `stepMask` one per step, row-major
    /// `(B, T)` (0 past a sample's end).
    public var labels: [Int]
    /// `(B, targets)` numbers (regression), or `(B, T, targets)` with `stepMask`.
    public var targets: Tensor<Float>?
    /// For labels per step (tagging): `(B, T)`, 1 at each sample's real steps and 0 past its end.
    public var stepMask: Tensor<Float>?

    public init(inputs: Tensor<Float>, lengths: [Int]?, labels: [Int], targets: Tensor<Float>?, stepMask: Tensor<Float>? = nil) {
        self.inputs = inputs
        self.lengths = lengths
        self.labels = labels
        self.targets = targets
        self.stepMask = stepMask
    }
}

/// Labelled sequences a supervised task trains on: images read row by row, or a user's own
/// sequences.
public protocol SupervisedSequences: Sendable {
    /// Examples in the set.
    var count: Int { get }
    /// The most steps an example has, and the features of each step (for memory estimates).
    var maxSteps: Int { get }
    var features: Int { get }
    /// The examples at `indices`, in that order.
    func examples<C: Collection<Int>>(_ indices: C) -> SupervisedBatch
}

extension ImageClassificationData: SupervisedSequences {
    public var maxSteps: Int { rows }
    public var features: Int { columns }

    public func examples<C: Collection<Int>>(_ indices: C) -> SupervisedBatch {
        let (images, labels) = batch(indices)
        return SupervisedBatch(inputs: images, lengths: nil, labels: labels, targets: nil)
    }
}

/// What a sequence set's labels are.
public enum SequenceLabels: Equatable, Sendable {
    /// A class per sequence (or per step), as indices into `names`.
    case classes([Int], names: [String])
    /// `width` numbers per sequence (or per step), row-major.
    case targets([Float], width: Int)
    /// No labels (data to predict on).
    case none
}

/// Sequences of `features` numbers per step, of equal or varying length, with their labels: what
/// the `.ts`, NumPy and CSV readers produce.
public struct SequenceDataset: SupervisedSequences, Equatable {
    /// Features per step, F.
    public var features: Int
    /// Every sequence's steps one after another, row-major `(length, F)` each; NaN marks a missing value.
    public var values: [Float]
    /// Where sequence i starts, in steps: `offsets[i] ..< offsets[i + 1]`; `count + 1` entries.
    public var offsets: [Int]
    public var labels: SequenceLabels
    /// Whether `labels` hold one label per step (tagging, in the order of `values`' steps) rather
    /// than one per sequence.
    public var labelsPerStep: Bool

    /// - Precondition: `offsets` starts at 0, never decreases and ends at `values.count / features`;
    ///   the labels hold one entry per sequence, or per step when `labelsPerStep`.
    public init(features: Int, values: [Float], offsets: [Int], labels: SequenceLabels, labelsPerStep: Bool = false) {
        precondition(features > 0 && offsets.first == 0 && offsets.last.map { $0 * features == values.count } == true,
                     "inconsistent sequence layout")
        let expected = labelsPerStep ? offsets.last! : offsets.count - 1
        switch labels {
        case let .classes(ids, _): precondition(ids.count == expected, "one class per \(labelsPerStep ? "step" : "sequence")")
        case let .targets(t, width): precondition(width > 0 && t.count == expected * width, "targets of every \(labelsPerStep ? "step" : "sequence")")
        case .none: break
        }
        self.features = features
        self.values = values
        self.offsets = offsets
        self.labels = labels
        self.labelsPerStep = labelsPerStep
    }

    public var count: Int { offsets.count - 1 }
    public func length(_ i: Int) -> Int { offsets[i + 1] - offsets[i] }
    public var maxSteps: Int { (0..<count).map(length).max() ?? 0 }
    public var minLength: Int { (0..<count).map(length).min() ?? 0 }

    /// The sequences at `indices`, in that order.
    public func subset<C: Collection<Int>>(_ indices: C) -> SequenceDataset {
        var values: [Float] = [], offsets = [0]
        for i in indices {
            values += self.values[(self.offsets[i] * features)..<(self.offsets[i + 1] * features)]
            offsets.append(offsets.last! + length(i))
        }
        // The label rows of each chosen sequence: its own, or its steps'.
        let rows = { (i: Int) in labelsPerStep ? self.offsets[i]..<self.offsets[i + 1] : i..<(i + 1) }
        let labels: SequenceLabels
        switch self.labels {
        case let .classes(ids, names): labels = .classes(indices.flatMap { ids[rows($0)] }, names: names)
        case let .targets(t, width):
            labels = .targets(indices.flatMap { i in t[(rows(i).lowerBound * width)..<(rows(i).upperBound * width)] }, width: width)
        case .none: labels = .none
        }
        return SequenceDataset(features: features, values: values, offsets: offsets, labels: labels, labelsPerStep: labelsPerStep)
    }

    /// `(B, T, F)` inputs zero-padded to the longest, lengths when they differ, and the labels.
    public func examples<C: Collection<Int>>(_ indices: C) -> SupervisedBatch {
        let lengths = indices.map(length)
        let T = max(lengths.max() ?? 0, 1), F = features
        var x = [Float](repeating: 0, count: indices.count * T * F)
        for (b, i) in indices.enumerated() {
            let source = values[(offsets[i] * F)..<(offsets[i + 1] * F)]
            x.replaceSubrange((b * T * F)..<(b * T * F + source.count), with: source)
        }
        var labels: [Int] = [], targets: Tensor<Float>? = nil, mask: Tensor<Float>? = nil
        if labelsPerStep {
            // (B, T) labels and (B, T, width) targets, zero past each end, and the mask saying where.
            var m = [Float](repeating: 0, count: indices.count * T)
            for (b, n) in lengths.enumerated() { for t in 0..<n { m[b * T + t] = 1 } }
            mask = Tensor(validShape: [indices.count, T], scalars: m)
            switch self.labels {
            case let .classes(ids, _):
                labels = [Int](repeating: 0, count: indices.count * T)
                for (b, i) in indices.enumerated() { labels.replaceSubrange((b * T)..<(b * T + length(i)), with: ids[offsets[i]..<offsets[i + 1]]) }
            case let .targets(t, width):
                var y = [Float](repeating: 0, count: indices.count * T * width)
                for (b, i) in indices.enumerated() {
                    y.replaceSubrange((b * T * width)..<((b * T + length(i)) * width), with: t[(offsets[i] * width)..<(offsets[i + 1] * width)])
                }
                targets = Tensor(validShape: [indices.count, T, width], scalars: y)
            case .none: break
            }
        } else {
            switch self.labels {
            case let .classes(ids, _): labels = indices.map { ids[$0] }
            case let .targets(t, width):
                targets = Tensor(validShape: [indices.count, width], scalars: indices.flatMap { t[($0 * width)..<(($0 + 1) * width)] })
            case .none: break
            }
        }
        return SupervisedBatch(inputs: Tensor(validShape: [indices.count, T, F], scalars: x),
                               lengths: lengths.allSatisfy { $0 == T } ? nil : lengths, labels: labels, targets: targets, stepMask: mask)
    }
}

extension SequenceDataset {
    /// Which sequences to hold out for validation: `count` of them, spread evenly over the file
    /// and, for class labels, over each class in proportion (a stratified split, as scikit-learn's
    /// `train_test_split(stratify=y)` makes, but with no random draw). Archive files are often
    /// sorted by class, so the file's last sequences would all be of one class.
    ///
    /// The rule, for a Python mirror: sort the indices stably by class (classification) or keep
    /// them in order; with n of them, position `⌊(k + ½)·n / count⌋` is held out for k = 0 ..< count.
    /// - Returns: the training and validation indices, each in file order.
    public func validationSplit(count: Int) -> (train: [Int], validation: [Int]) {
        let n = self.count
        guard count > 0, n > 0 else { return (Array(0..<n), []) }
        var order = Array(0..<n)
        if case let .classes(ids, _) = labels, !labelsPerStep {
            order = order.enumerated().sorted { ids[$0.element] != ids[$1.element] ? ids[$0.element] < ids[$1.element] : $0.offset < $1.offset }
                .map(\.element)
        }
        var held = Set<Int>()
        for k in 0..<min(count, n) { held.insert(order[min((2 * k + 1) * n / (2 * count), n - 1)]) }
        return ((0..<n).filter { !held.contains($0) }, (0..<n).filter { held.contains($0) })
    }
}

/// Per-feature standardisation `(x − mean) / std` (scikit-learn's `StandardScaler`), fitted on the
/// training split and stored in the checkpoint so evaluation and prediction scale the same way.
public struct FeatureScaling: Codable, Equatable, Sendable {
    public var mean: [Double]
    public var standardDeviation: [Double]

    public init(mean: [Double], standardDeviation: [Double]) {
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    /// The mean and population standard deviation of each of `width` columns of row-major `values`,
    /// skipping NaN; a constant or empty column gets deviation 1, so it scales to 0.
    public static func fit(_ values: [Float], width: Int) -> FeatureScaling {
        var sum = [Double](repeating: 0, count: width), square = sum, n = sum
        for (k, v) in values.enumerated() where !v.isNaN {
            let f = k % width, x = Double(v)
            sum[f] += x
            square[f] += x * x
            n[f] += 1
        }
        let mean = (0..<width).map { n[$0] > 0 ? sum[$0] / n[$0] : 0 }
        let deviation = (0..<width).map { f -> Double in
            let variance = n[f] > 0 ? max(square[f] / n[f] - mean[f] * mean[f], 0) : 0
            return variance > 1e-24 ? variance.squareRoot() : 1
        }
        return FeatureScaling(mean: mean, standardDeviation: deviation)
    }

    /// `values` scaled column by column; a missing value (NaN) becomes 0, the training mean.
    public func apply(_ values: [Float]) -> [Float] {
        let width = mean.count
        return values.enumerated().map { k, v in
            v.isNaN ? 0 : Float((Double(v) - mean[k % width]) / standardDeviation[k % width])
        }
    }

    /// Scaled values back in the original units.
    public func invert(_ values: [Float]) -> [Float] {
        let width = mean.count
        return values.enumerated().map { k, v in Float(Double(v) * standardDeviation[k % width] + mean[k % width]) }
    }
}

extension SequenceDataset {
    /// The features scaled by `scaling` (missing values become the training mean) and, when
    /// `targets` is given, the regression targets too.
    public func scaled(_ scaling: FeatureScaling, targets: FeatureScaling? = nil) -> SequenceDataset {
        var out = self
        out.values = scaling.apply(values)
        if let targets, case let .targets(t, width) = labels { out.labels = .targets(targets.apply(t), width: width) }
        return out
    }
}
