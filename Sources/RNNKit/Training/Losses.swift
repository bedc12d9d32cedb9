import RealModule

/// Losses computed from logits. Every one uses log-sum-exp, never a softmax followed by a log,
/// so large logits cannot overflow (and no model should apply a softmax before them).
public enum Loss {
    /// Mean softmax cross-entropy of rows of logits against class indices.
    ///
    /// `loss = (1/N) Σ_n [logsumexp(z_n) − z_n[y_n]]`
    /// - Parameters:
    ///   - logits: `(N, C)`, or `(..., C)` with every leading dimension a row.
    ///   - labels: `N` class indices in `0..<C`.
    public static func softmaxCrossEntropy<S: TensorScalar>(
        logits: Variable<S>, labels: [Int]
    ) throws(RNNKitError) -> Variable<S> {
        let (rows, classes) = try checkLogits(logits.shape)
        try checkLabels(labels, rows: rows, classes: classes)
        return weightedCrossEntropy(logits, target: .indices(labels), weights: nil)
    }

    /// Mean softmax cross-entropy against target distributions (one-hot or soft).
    ///
    /// `loss = (1/N) Σ_n Σ_c −p_n[c] · log softmax(z_n)[c]`
    /// - Parameters:
    ///   - logits: `(N, C)` (or `(..., C)`).
    ///   - targets: the same shape; each row is a probability distribution.
    public static func softmaxCrossEntropy<S: TensorScalar>(
        logits: Variable<S>, targets: Tensor<S>
    ) throws(RNNKitError) -> Variable<S> {
        _ = try checkLogits(logits.shape)
        guard targets.shape == logits.shape else {
            throw .shapeMismatch(argument: "targets", expected: shapeString(logits.shape), found: targets.shape,
                                 hint: "Targets are one distribution per row of logits (one-hot for hard labels).")
        }
        return weightedCrossEntropy(logits, target: .distributions(targets), weights: nil)
    }

    /// TensorFlow's `sequence_loss`: per-step cross-entropy, weighted, averaged over the weighted steps.
    ///
    /// `loss = Σ_{b,t} w[b,t] · ce(z[b,t], y[b,t]) / Σ_{b,t} w[b,t]`
    /// (TF's defaults `average_across_timesteps` and `average_across_batch`).
    /// - Parameters:
    ///   - logits: `(B, T, V)`.
    ///   - targets: `B·T` ids in `0..<V`, row-major `(B, T)`.
    ///   - weights: `(B, T)`, non-negative with a positive sum; all ones when nil.
    ///   - labelSmoothing: ε in [0, 1): each step's target becomes `(1 − ε)·onehot + ε/V` (PyTorch
    ///     `CrossEntropyLoss(label_smoothing=ε)`, Szegedy et al. 2016).
    public static func sequenceLoss<S: TensorScalar>(
        logits: Variable<S>, targets: [Int], weights: Tensor<S>? = nil, labelSmoothing: Double = 0
    ) throws(RNNKitError) -> Variable<S> {
        guard logits.shape.count == 3 else {
            throw .shapeMismatch(argument: "logits", expected: "(B, T, V)", found: logits.shape,
                                 hint: "sequence_loss takes one row of logits per step of every sequence.")
        }
        let (rows, classes) = (logits.shape[0] * logits.shape[1], logits.shape[2])
        try checkLabels(targets, rows: rows, classes: classes)
        if let weights {
            guard weights.shape == [logits.shape[0], logits.shape[1]] else {
                throw .shapeMismatch(argument: "weights", expected: shapeString(Array(logits.shape.prefix(2))),
                                     found: weights.shape, hint: "One weight per step of every sequence.")
            }
            guard weights.scalars.allSatisfy({ $0 >= 0 }), weights.sum() > 0 else {
                throw .invalidValue(argument: "weights", expected: "non-negative weights with a positive sum",
                                    found: "sum \(weights.sum())", hint: "Use weight 1 for steps that count, 0 for padding.")
            }
        }
        guard labelSmoothing >= 0 && labelSmoothing < 1 else {
            throw .invalidValue(argument: "label-smoothing", expected: "ε in [0, 1)", found: "\(labelSmoothing)", hint: "0.1 is usual.")
        }
        guard labelSmoothing > 0 else { return weightedCrossEntropy(logits, target: .indices(targets), weights: weights?.scalars) }
        let spread = S(labelSmoothing) / S(classes), keep = 1 - S(labelSmoothing)
        var q = [S](repeating: spread, count: rows * classes)
        for (r, y) in targets.enumerated() { q[r * classes + y] += keep }
        return weightedCrossEntropy(logits, target: .distributions(Tensor(validShape: [rows, classes], scalars: q)), weights: weights?.scalars)
    }

    /// Mean squared error (PyTorch `MSELoss`, Keras `mean_squared_error`), optionally over the
    /// weighted rows only (padding steps of a tagging batch weigh 0).
    ///
    /// `loss = Σ_r w_r Σ_k (ŷ_rk − y_rk)² / (K · Σ_r w_r)` over rows r of K values (w = 1 when nil:
    /// the plain mean over all elements); gradient `2 w_r / (K Σw) · (ŷ − y)`.
    /// - Parameters:
    ///   - predictions: any shape; its last dimension holds a row's K values.
    ///   - targets: the same shape.
    ///   - weights: one per row, the shape of `predictions` without its last dimension; non-negative
    ///     with a positive sum.
    public static func meanSquaredError<S: TensorScalar>(predictions: Variable<S>, targets: Tensor<S>, weights: Tensor<S>? = nil)
        throws(RNNKitError) -> Variable<S> {
        guard targets.shape == predictions.shape, targets.count > 0 else {
            throw .shapeMismatch(argument: "targets", expected: shapeString(predictions.shape) + ", not empty", found: targets.shape,
                                 hint: "Give one target per prediction.")
        }
        let K = predictions.shape.last!
        if let weights {
            guard weights.shape == Array(predictions.shape.dropLast()) else {
                throw .shapeMismatch(argument: "weights", expected: shapeString(Array(predictions.shape.dropLast())), found: weights.shape,
                                     hint: "One weight per row of predictions.")
            }
            guard weights.scalars.allSatisfy({ $0 >= 0 }), weights.sum() > 0 else {
                throw .invalidValue(argument: "weights", expected: "non-negative weights with a positive sum",
                                    found: "sum \(weights.sum())", hint: "Use weight 1 for rows that count, 0 for padding.")
            }
        }
        let w = weights?.scalars
        let difference = zip(predictions.value.scalars, targets.scalars).enumerated().map { k, pair in
            (pair.0 - pair.1) * (w.map { $0[k / K] != 0 ? 1 : 0 } ?? 1)  // ŷ − y, zero where the row weighs nothing
        }
        let n = (w.map { $0.reduce(S(0), +) } ?? S(difference.count / K)) * S(K), shape = targets.shape
        var loss = S(0)
        for (k, d) in difference.enumerated() { loss += (w?[k / K] ?? 1) * d * d }
        loss /= n
        return TapeNode.record(inputs: [predictions], outputs: [Tensor(validShape: [1], scalars: [loss])]) { grads in
            guard let g = grads[0]?.scalars[0] else { return [nil] }
            let scale = 2 * g / n
            return [Tensor(validShape: shape, scalars: difference.enumerated().map { k, d in scale * (w?[k / K] ?? 1) * d })]
        }[0]
    }

    private enum Target<S: TensorScalar> {
        case indices([Int])
        case distributions(Tensor<S>)
    }

    /// `Σ_r w_r · ce_r / Σ_r w_r` (w = 1 when nil); gradient `w_r / Σw · (softmax(z_r) − p_r)`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    private static func weightedCrossEntropy<S: TensorScalar>(
        _ logits: Variable<S>, target: Target<S>, weights: [S]?
    ) -> Variable<S> {
        let classes = logits.shape.last!
        let rows = logits.value.count / classes
        let total = weights.map { $0.reduce(0, +) } ?? S(rows)
        var probabilities = Tensor<S>(zeros: [rows, classes])  // softmax, kept for the backward pass
        var loss: S = 0
        logits.value.withUnsafeBufferPointer { z in
            probabilities.withUnsafeMutableBufferPointer { p in
                for r in 0..<rows {
                    let w = weights?[r] ?? 1
                    let zr = z.baseAddress! + r * classes, pr = p.baseAddress! + r * classes
                    var m = zr[0]
                    for c in 1..<max(classes, 1) { m = max(m, zr[c]) }
                    var sum: S = 0
                    for c in 0..<classes { pr[c] = S.exp(zr[c] - m); sum += pr[c] }
                    let logSumExp = m + S.log(sum)
                    for c in 0..<classes { pr[c] /= sum }
                    guard w != 0 else { continue }
                    switch target {
                    case .indices(let labels):
                        loss += w * (logSumExp - zr[labels[r]])
                    case .distributions(let t):
                        t.withUnsafeBufferPointer { t in
                            for c in 0..<classes where t[r * classes + c] != 0 {
                                loss += w * t[r * classes + c] * (logSumExp - zr[c])
                            }
                        }
                    }
                }
            }
        }
        let out = Tensor<S>(validShape: [1], scalars: [loss / total])
        let shape = logits.shape
        return TapeNode.record(inputs: [logits], outputs: [out]) { grads in
            guard let g = grads[0]?.scalars[0] else { return [nil] }
            var d = probabilities
            d.withUnsafeMutableBufferPointer { d in
                for r in 0..<rows {
                    let scale = g * (weights?[r] ?? 1) / total
                    let dr = d.baseAddress! + r * classes
                    switch target {
                    case .indices(let labels): dr[labels[r]] -= 1
                    case .distributions(let t):
                        t.withUnsafeBufferPointer { t in for c in 0..<classes { dr[c] -= t[r * classes + c] } }
                    }
                    for c in 0..<classes { dr[c] *= scale }
                }
            }
            return [Tensor(validShape: shape, scalars: d.scalars)]
        }[0]
    }

    private static func checkLogits(_ shape: [Int]) throws(RNNKitError) -> (rows: Int, classes: Int) {
        guard shape.count >= 2, let classes = shape.last, classes > 0, shape.reduce(1, *) > 0 else {
            throw .shapeMismatch(argument: "logits", expected: "(N, C) with N, C ≥ 1", found: shape,
                                 hint: "Pass one row of class scores per example.")
        }
        return (shape.reduce(1, *) / classes, classes)
    }

    private static func checkLabels(_ labels: [Int], rows: Int, classes: Int) throws(RNNKitError) {
        guard labels.count == rows else {
            throw .shapeMismatch(argument: "labels", expected: "(\(rows)), one per row of logits", found: [labels.count],
                                 hint: "Give one class index per example.")
        }
        if let (i, y) = labels.enumerated().first(where: { $0.element < 0 || $0.element >= classes }) {
            throw .invalidValue(argument: "labels[\(i)]", expected: "a class in 0..<\(classes)", found: "\(y)",
                                hint: "Labels index the logits' last dimension.")
        }
    }
}

extension Tensor {
    /// The index of the largest element of each row of the last dimension: `(..., C) → [N]`.
    public func argmaxRows() -> [Int] {
        guard let classes = shape.last, classes > 0 else { return [] }
        return withUnsafeBufferPointer { p in
            (0..<(count / classes)).map { r in
                var best = 0
                for c in 1..<classes where p[r * classes + c] > p[r * classes + best] { best = c }
                return best
            }
        }
    }

    /// Softmax of each row of the last dimension, computed stably.
    public func softmaxRows() -> Tensor {
        guard let classes = shape.last, classes > 0 else { return self }
        var out = self
        out.withUnsafeMutableBufferPointer { p in
            for r in 0..<(count / classes) {
                let row = p.baseAddress! + r * classes
                var m = row[0]
                for c in 1..<classes { m = Swift.max(m, row[c]) }
                var sum: Scalar = 0
                for c in 0..<classes { row[c] = Scalar.exp(row[c] - m); sum += row[c] }
                for c in 0..<classes { row[c] /= sum }
            }
        }
        return out
    }
}
