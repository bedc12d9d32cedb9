/// A fully connected layer: `y = x · Wᵀ + b`, PyTorch's `nn.Linear`.
///
/// Shapes: input `(..., inputSize)`, output `(..., outputSize)`; every leading dimension is
/// treated as a batch, so a `(B, T, F)` sequence is projected at every step in one product.
///
/// Parameters (PyTorch names): `weight (outputSize, inputSize)`, `bias (outputSize)`.
/// Initialisation is PyTorch's: both U(−1/√inputSize, 1/√inputSize).
public final class Dense<Scalar: TensorScalar>: ParameterContainer {
    public let inputSize: Int
    public let outputSize: Int
    public let weight: Variable<Scalar>  // (out, in)
    public let bias: Variable<Scalar>?   // (out)

    /// - Parameters:
    ///   - inputSize: features per input row, at least 1.
    ///   - outputSize: features per output row, at least 1.
    ///   - useBias: whether to add a learned bias.
    ///   - generator: the seeded source of the initial weights.
    public init(inputSize: Int, outputSize: Int, useBias: Bool = true,
                generator: inout SeededGenerator) throws(RNNKitError) {
        try requirePositive(inputSize, "inputSize")
        try requirePositive(outputSize, "outputSize")
        try requireParameterMemory((Double(inputSize) + 1) * Double(outputSize), "a dense layer")
        self.inputSize = inputSize
        self.outputSize = outputSize
        let k = 1 / Scalar(inputSize).squareRoot()
        weight = Variable(try Tensor.uniform(shape: [outputSize, inputSize], low: -k, high: k, generator: &generator),
                          requiresGrad: true)
        bias = useBias
            ? Variable(try Tensor.uniform(shape: [outputSize], low: -k, high: k, generator: &generator), requiresGrad: true)
            : nil
    }

    public var namedParameters: [(name: String, variable: Variable<Scalar>)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// Applies the layer to a tensor (no gradient recorded).
    public func callAsFunction(_ input: Tensor<Scalar>) throws(RNNKitError) -> Tensor<Scalar> {
        try checkInput(input.shape)
        return Self.forward(input, weight: weight.value, bias: bias?.value)
    }

    /// Applies the layer and records it for `backward()`.
    public func callAsFunction(_ input: Variable<Scalar>) throws(RNNKitError) -> Variable<Scalar> {
        try checkInput(input.shape)
        let x = input.value, w = weight.value
        let y = Self.forward(x, weight: w, bias: bias?.value)
        let inputs = [input, weight] + (bias.map { [$0] } ?? [])
        let hasBias = bias != nil
        return TapeNode.record(inputs: inputs, outputs: [y]) { grads in
            guard let dy = grads[0] else { return Array(repeating: nil, count: inputs.count) }
            let (dx, dw, db) = Self.backward(dy, input: x, weight: w)
            return [dx, dw] + (hasBias ? [db] : [])
        }[0]
    }

    private func checkInput(_ shape: [Int]) throws(RNNKitError) {
        guard shape.count >= 1, shape.last == inputSize else {
            throw .shapeMismatch(argument: "input", expected: "(..., \(inputSize))", found: shape,
                                 hint: "The last dimension must equal the layer's inputSize (\(inputSize)).")
        }
    }

    // y (N, out) = x (N, in) · Wᵀ + b
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func forward(_ x: Tensor<Scalar>, weight: Tensor<Scalar>, bias: Tensor<Scalar>?) -> Tensor<Scalar> {
        let (outSize, inSize) = (weight.shape[0], weight.shape[1])
        let rows = x.count / inSize
        var y = Tensor<Scalar>(zeros: Array(x.shape.dropLast()) + [outSize])
        guard rows > 0 else { return y }
        y.withUnsafeMutableBufferPointer { y in
            if let bias {
                bias.withUnsafeBufferPointer { b in
                    for r in 0..<rows { (y.baseAddress! + r * outSize).update(from: b.baseAddress!, count: outSize) }
                }
            }
            x.withUnsafeBufferPointer { x in
                weight.withUnsafeBufferPointer { w in
                    Scalar.parallelGemm(transposeA: false, transposeB: true, m: rows, n: outSize, k: inSize,
                                alpha: 1, a: x.baseAddress!, lda: inSize, b: w.baseAddress!, ldb: inSize,
                                beta: bias == nil ? 0 : 1, c: y.baseAddress!, ldc: outSize)
                }
            }
        }
        return y
    }

    // dx (N, in) = dy · W;  dW (out, in) = dyᵀ · x;  db (out) = Σ_rows dy
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func backward(_ dy: Tensor<Scalar>, input x: Tensor<Scalar>, weight: Tensor<Scalar>)
        -> (dx: Tensor<Scalar>, dw: Tensor<Scalar>, db: Tensor<Scalar>) {
        let (outSize, inSize) = (weight.shape[0], weight.shape[1])
        let rows = x.count / inSize
        var dx = Tensor<Scalar>(zeros: x.shape)
        var dw = Tensor<Scalar>(zeros: weight.shape)
        var db = Tensor<Scalar>(zeros: [outSize])
        guard rows > 0 else { return (dx, dw, db) }
        dy.withUnsafeBufferPointer { dy in
            x.withUnsafeBufferPointer { x in
                weight.withUnsafeBufferPointer { w in
                    dx.withUnsafeMutableBufferPointer { dx in
                        Scalar.parallelGemm(transposeA: false, transposeB: false, m: rows, n: inSize, k: outSize,
                                    alpha: 1, a: dy.baseAddress!, lda: outSize, b: w.baseAddress!, ldb: inSize,
                                    beta: 0, c: dx.baseAddress!, ldc: inSize)
                    }
                }
                dw.withUnsafeMutableBufferPointer { dw in
                    Scalar.parallelGemm(transposeA: true, transposeB: false, m: outSize, n: inSize, k: rows,
                                alpha: 1, a: dy.baseAddress!, lda: outSize, b: x.baseAddress!, ldb: inSize,
                                beta: 0, c: dw.baseAddress!, ldc: inSize)
                }
            }
            db.withUnsafeMutableBufferPointer { db in addColumnSums(dy.baseAddress!, rows: rows, columns: outSize, into: db.baseAddress!) }
        }
        return (dx, dw, db)
    }
}

/// `sums[j] += Σ_r m[r, j]` for a row-major `(rows, columns)` matrix.
@inline(__always)
func addColumnSums<Scalar: TensorScalar>(_ m: UnsafePointer<Scalar>, rows: Int, columns: Int, into sums: UnsafeMutablePointer<Scalar>,
                                         threads: Int = parallelChunkLimit) {
    // Columns split across the cores; each column still sums its rows in order (in Float with vector
    // kernels, 64 columns at a time: the same sums, bit for bit).
    parallelRows(columns, minimumRows: max(8, 262_144 / max(rows, 1)), threads: threads) { range, _ in
        if Scalar.self == Float.self, let kernels = vectorKernels {
            let block = UnsafeRawPointer(m + range.lowerBound).assumingMemoryBound(to: Float.self)
            let out = UnsafeMutableRawPointer(sums + range.lowerBound).assumingMemoryBound(to: Float.self)
            return kernels.columnSums(rows, range.count, block, columns, out)
        }
        for r in 0..<rows {
            let row = m + r * columns
            for j in range { sums[j] += row[j] }
        }
    }
}

/// Checks that a model of `count` Float parameters fits the memory budget.
func requireParameterMemory(_ count: Double, _ what: String) throws(RNNKitError) {
    try MemoryBudget.require(4 * count, for: "\(what) of \(count < 1e15 ? "\(Int(count))" : "\(count)") parameters",
                             hint: "Lower the hidden size, the number of layers or the embedding size.")
}

func requirePositive(_ value: Int, _ name: String) throws(RNNKitError) {
    guard value > 0 else {
        throw .invalidValue(argument: name, expected: "a positive size", found: "\(value)",
                            hint: "Sizes count units or features; use 1 or more.")
    }
}
