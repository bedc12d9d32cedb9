import RealModule

/// Ways to draw initial weights. Layers start with PyTorch's defaults; apply one of these to a
/// parameter to match another framework (the seeds use truncated normal σ 0.1 for dense weights).
public enum Initializer: Codable, Equatable, Sendable {
    /// U(−1/√fanIn, 1/√fanIn) for a `(fanOut, fanIn)` weight, PyTorch's `nn.Linear` default
    /// (recurrent layers use 1/√H for every parameter, which their initializer already does).
    case pytorchDefault
    /// Glorot/Xavier uniform: U(−√(6/(fanIn+fanOut)), +), Keras's default kernel initializer.
    case glorotUniform
    /// A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one, times `gain`
    /// (Keras's default recurrent initializer).
    case orthogonal(gain: Double)
    /// N(mean, σ²).
    case normal(mean: Double, standardDeviation: Double)
    /// N(mean, σ²) redrawn outside two standard deviations (TF's `truncated_normal`).
    case truncatedNormal(mean: Double, standardDeviation: Double)
    /// Every entry equal to `value` (TF's `constant`, the seeds' bias 0.1).
    case constant(Double)

    /// Fills a tensor of the given shape; a weight's shape is `(fanOut, fanIn)`, a vector's fans are its length.
    public func make<S: TensorScalar>(shape: [Int], generator: inout SeededGenerator) throws(RNNKitError) -> Tensor<S> {
        try Tensor<S>.checkShape(shape, argument: "shape")
        let count = shape.reduce(1, *)
        let fanOut = shape.first ?? 1
        let fanIn = shape.count >= 2 ? shape.dropFirst().reduce(1, *) : fanOut
        var values = [Double]()
        values.reserveCapacity(count)
        switch self {
        case .pytorchDefault:
            let k = 1 / Double(max(fanIn, 1)).squareRoot()
            for _ in 0..<count { values.append(generator.uniform(-k, k)) }
        case .glorotUniform:
            let k = (6 / Double(max(fanIn + fanOut, 1))).squareRoot()
            for _ in 0..<count { values.append(generator.uniform(-k, k)) }
        case .normal(let mean, let sd):
            for _ in 0..<count { values.append(mean + sd * standardNormal(&generator)) }
        case .truncatedNormal(let mean, let sd):
            for _ in 0..<count {
                var z = standardNormal(&generator)
                while abs(z) > 2 { z = standardNormal(&generator) }
                values.append(mean + sd * z)
            }
        case .constant(let v):
            values = Array(repeating: v, count: count)
        case .orthogonal(let gain):
            values = orthogonalMatrix(rows: fanOut, columns: count / max(fanOut, 1), generator: &generator).map { $0 * gain }
        }
        return Tensor(validShape: shape, scalars: values.map { S($0) })
    }
}

/// A `(rows, columns)` matrix with orthonormal rows (rows ≤ columns) or columns (rows > columns):
/// Gram–Schmidt on a Gaussian matrix, the same distribution as QR with sign correction.
private func orthogonalMatrix(rows: Int, columns: Int, generator: inout SeededGenerator) -> [Double] {
    let transpose = rows > columns
    let (n, m) = transpose ? (columns, rows) : (rows, columns)  // orthonormalise n vectors of length m, n ≤ m
    var q = [[Double]]()
    for _ in 0..<n {
        var v = (0..<m).map { _ in standardNormal(&generator) }
        for _ in 0..<2 {  // twice, for numerical orthogonality
            for u in q {
                let dot = zip(u, v).reduce(0) { $0 + $1.0 * $1.1 }
                for j in 0..<m { v[j] -= dot * u[j] }
            }
        }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        q.append(v.map { $0 / norm })
    }
    var out = [Double](repeating: 0, count: rows * columns)
    for i in 0..<n {
        for j in 0..<m {
            if transpose { out[j * columns + i] = q[i][j] } else { out[i * columns + j] = q[i][j] }
        }
    }
    return out
}

extension ParameterContainer {
    /// Re-draws one parameter with an initializer.
    public func initialize(_ name: String, with initializer: Initializer, generator: inout SeededGenerator) throws(RNNKitError) {
        guard let p = parameter(named: name) else {
            throw .invalidValue(argument: "name", expected: "one of \(namedParameters.map(\.name))", found: "'\(name)'",
                                hint: "Parameter names follow PyTorch's state dict.")
        }
        p.value = try initializer.make(shape: p.shape, generator: &generator)
    }
}
